//! Scenario files with mistakes: each problem is reported with the file, line, column, the
//! field and why.

use onesec_drill::{Scenario, ScenarioError};
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn every_wrong_value_is_reported_with_its_place_and_reason() {
    let error = Scenario::load(&data("bad-values.yaml")).unwrap_err();
    let ScenarioError::Invalid(problems) = &error else {
        panic!("expected value problems, got {error}");
    };
    let find = |field: &str| {
        problems
            .iter()
            .find(|p| p.field == field)
            .unwrap_or_else(|| panic!("no problem for {field}: {error}"))
    };
    let at = find("injects[1].at");
    assert_eq!((at.line, at.column), (Some(13), Some(9)));
    assert!(at.reason.contains("duration"));
    let attack = find("injects[1].attack");
    assert_eq!((attack.line, attack.column), (Some(14), Some(14)));
    assert!(attack.reason.contains("ATT&CK"));
    let format = find("injects[1].format");
    assert_eq!(format.line, Some(15));
    assert!(format.reason.contains("morse"), "{}", format.reason);
    let line = find("injects[1].lines[0]");
    assert_eq!(line.line, Some(17));
    assert!(line.reason.contains("{{when}}"));
    let team = find("injects[1].expect.team");
    assert_eq!(team.line, Some(21));
    assert!(team.reason.contains("unknown team"));
    let duplicate = find("injects[2].id");
    assert!(duplicate.reason.contains("earlier inject"));
    let late = find("injects[2].at");
    assert_eq!(late.line, Some(23));
    assert!(late.reason.contains("after the end"));
    let every = find("injects[3].every");
    assert_eq!((every.line, every.column), (Some(30), Some(12)));
    assert!(
        every.reason.contains("2h5m, after the end"),
        "{}",
        every.reason
    );
    let text = error.to_string();
    assert!(
        text.contains("bad-values.yaml:13:9: injects[1].at:"),
        "{text}"
    );
}

#[test]
fn a_shape_error_names_the_line_and_column() {
    let error = Scenario::load(&data("bad-syntax.yaml")).unwrap_err();
    let ScenarioError::Syntax {
        line,
        column,
        reason,
        ..
    } = &error
    else {
        panic!("expected a syntax error, got {error}");
    };
    assert_eq!(*line, Some(10), "the line of the unknown key");
    assert!(column.is_some());
    assert!(reason.contains("colour"), "{reason}");
    assert!(error.to_string().contains("bad-syntax.yaml:10:"), "{error}");
}

#[test]
fn a_missing_file_and_a_missing_directory_are_named() {
    let error = Scenario::load(&data("nowhere.yaml")).unwrap_err();
    assert!(error.to_string().contains("nowhere.yaml: cannot read"));
    let error = Scenario::parse(
        "name: x\ndirectory: no-such-folder\nstart: 2026-05-05T20:00:00Z\nduration: 1h\ninjects:\n  - {id: a, at: 1m, attack: [T1200], format: syslog, lines: [x]}\n",
        Path::new("inline.yaml"),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("inline.yaml:2:12: directory:"), "{text}");
    assert!(text.contains("no people.csv"), "{text}");
}
