//! `onesec rules test RULE... EVENTS.jsonl`: the real binary runs rule files over onesec event
//! JSON lines and says, per line, which rule matched and why, then the correlation alerts
//! (including the fixed windows it closes at the end of the input); a broken rule is reported
//! with its file, line and column, a bad event line with its line number.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_onesec");

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rules_test")
        .join(name)
}

fn rules_test(args: &[PathBuf]) -> (Output, String, String) {
    let out = Command::new(BIN)
        .args(["rules", "test"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn explains_matches_and_correlations_and_says_where_things_are_wrong() {
    let (out, stdout, stderr) =
        rules_test(&[data("denied.yml"), data("broken.yml"), data("events.jsonl")]);
    // The broken rule: file, line and column of the unknown modifier.
    assert!(
        stdout.contains("broken.yml:7:14: Broken modifier: unknown modifier 'sounds_like'"),
        "{stdout}"
    );
    // Each denial matches, with the searches (and their fields) that were true.
    for line in [1, 2, 4, 5] {
        assert!(
            stdout.contains(&format!(
                "line {line}: MATCH 5d1c1e0a-0000-4000-8000-000000000901 \"Badge denied\" because selection (activity), known_badge (badge)"
            )),
            "line {line}: {stdout}"
        );
    }
    // The granted badge at line 3 matches nothing.
    assert!(!stdout.contains("line 3: MATCH"), "{stdout}");
    // Three denials at R1 within five minutes (lines 1, 2, 4), reported when the third arrives.
    assert!(
        stdout.contains("line 4: CORRELATION 5d1c1e0a-0000-4000-8000-000000000902 \"Repeated badge denials at one reader\" (event_count) group [reader=R1] events at lines 1, 2, 4"),
        "{stdout}"
    );
    // "Fewer than 3 in an hour" can only be decided when the hour closes: at the end of input,
    // for R2 only (R1 had three).
    assert!(
        stdout.contains("end of input: CORRELATION 5d1c1e0a-0000-4000-8000-000000000903 \"Reader with one or two denials in an hour\" (event_count) group [reader=R2] events at lines 5"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("[reader=R1] events at lines 1, 2, 4\nend"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5 event(s), 4 rule match(es), 2 correlation output(s)"),
        "{stdout}"
    );
    // The last line is not JSON: reported with its line number, and the exit code says so.
    assert!(
        stderr.contains("events.jsonl:6: not an onesec event"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn clean_rules_and_events_exit_zero() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let text = std::fs::read_to_string(data("events.jsonl")).unwrap_or_default();
    let good: Vec<&str> = text.lines().filter(|l| l.starts_with("{\"")).collect();
    assert_eq!(good.len(), 5);
    let events = tmp.path().join("good.jsonl");
    std::fs::write(&events, good.join("\n")).unwrap_or_else(|e| panic!("write: {e}"));
    let (out, stdout, stderr) = rules_test(&[data("denied.yml"), events]);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("REFUSED"), "{stdout}");
    assert!(stdout.contains("2 correlation output(s)"), "{stdout}");
}

#[test]
fn missing_events_file_is_an_error_not_a_panic() {
    let (out, _, stderr) = rules_test(&[data("denied.yml"), data("nope.jsonl")]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nope.jsonl"), "{stderr}");
}
