//! `onesec drill` end to end: the generator is deterministic for a seed and feeds the syslog and
//! HTTP listeners of a running onesec; `drill run` scores a shipped scenario and writes its
//! report; `drill validate` places every problem.

mod common;

use common::{BIN, Onesec, Options};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn onesec(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("ONESEC_LOG", "warn")
        .output()
        .expect("run onesec")
}

fn generate(dir: &Path, seed: &str, file: &str) -> Vec<u8> {
    let out = dir.join(file);
    let done = onesec(&[
        "drill",
        "generate",
        "--people",
        "30",
        "--devices",
        "9",
        "--sites",
        "2",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    std::fs::read(out).unwrap()
}

#[test]
fn the_generator_gives_the_same_records_for_a_seed_and_others_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let first = generate(dir.path(), "5", "a.log");
    let again = generate(dir.path(), "5", "b.log");
    let other = generate(dir.path(), "6", "c.log");
    assert!(first.len() > 10_000, "{} bytes", first.len());
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn the_generator_feeds_the_listeners_of_a_running_onesec() {
    let dir = tempfile::tempdir().unwrap();
    let company = dir.path().join("company");
    let file = dir.path().join("day.log");
    let done = onesec(&[
        "drill",
        "generate",
        "--people",
        "20",
        "--devices",
        "6",
        "--sites",
        "2",
        "--directory-out",
        company.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let records = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    let server = Onesec::start(&Options {
        data_dir: dir.path().join("data"),
        directory: Some(company),
        ..Options::default()
    });
    let syslog = server.syslog_tcp.expect("syslog TCP listener").to_string();
    let mut args = vec![
        "drill",
        "generate",
        "--people",
        "20",
        "--devices",
        "6",
        "--sites",
        "2",
        "--rate",
        "20000",
        "--syslog",
        &syslog,
        "--http",
        "--server",
        &server.base,
    ];
    let token = server.token().map(str::to_string);
    if let Some(token) = &token {
        args.extend(["--token", token]);
    }
    let done = onesec(&args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let status = server.wait_for_detection(records);
    assert_eq!(status["journal_seq"].as_u64(), Some(records), "{status}");
    let dead = server.get_json("/api/v1/dead-letters?limit=5");
    assert_eq!(dead.as_array().map_or(0, Vec::len), 0, "{dead}");
    let events = server.events();
    assert!(
        events
            .iter()
            .any(|e| e["resolved"]["person"]["id"].is_string()),
        "the generated people resolve against the generated directory"
    );
}

#[test]
fn drill_run_scores_a_shipped_scenario_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("run");
    let scenario = repo("scenarios/cloned-badge-rogue-device.yaml");
    let done = onesec(&[
        "drill",
        "run",
        scenario.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    assert!(stdout.contains("rogue-device"), "{stdout}");
    let html = std::fs::read_to_string(data.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("onesec_new_network_device"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["score"]["passed"], true);
    // A second run into the same folder is refused (it would replay the first run's journal).
    let again = onesec(&[
        "drill",
        "run",
        scenario.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
}

#[test]
fn drill_validate_places_every_problem() {
    let bad = repo("crates/onesec-drill/tests/data/bad-values.yaml");
    let done = onesec(&["drill", "validate", bad.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        stdout.contains("bad-values.yaml:13:9: injects[1].at:"),
        "{stdout}"
    );
    assert!(stdout.contains("injects[1].expect.team"), "{stdout}");
    let good = repo("scenarios/usb-drop-after-tailgating.yaml");
    let done = onesec(&["drill", "validate", good.to_str().unwrap()]);
    assert!(done.status.success());
    assert!(String::from_utf8_lossy(&done.stdout).contains(": ok (2 inject(s)"));
}
