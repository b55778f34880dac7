//! A deliberately broken playbook: every error is reported, each at its place.

mod common;

use onesec_playbook::{LoadError, Playbook, Severity, validate_json};

#[test]
fn every_error_is_reported_with_its_pointer() {
    let text = common::data("invalid.json");
    let issues = validate_json(&text).expect("json");
    let find = |pointer: &str, needle: &str, severity: Severity| {
        issues
            .iter()
            .any(|i| i.pointer == pointer && i.message.contains(needle) && i.severity == severity)
    };
    let if_step = "/workflow/if-condition--9531985d-5d9d-49f8-9818-e811892f902b";
    assert!(
        find("/workflow", "several start steps", Severity::Error),
        "{issues:#?}"
    );
    assert!(
        find(
            &format!("{if_step}/condition"),
            "STIX operator `LIKE`",
            Severity::Error
        ),
        "{issues:#?}"
    );
    assert!(
        find(
            &format!("{if_step}/on_false"),
            "not in the workflow",
            Severity::Error
        ),
        "{issues:#?}"
    );
    assert!(find(
        "/playbook_variables/level",
        "variable names are __name__",
        Severity::Error
    ));
    assert!(find(
        "/playbook_variables/level/value",
        "`five` is not a valid integer",
        Severity::Error
    ));
    assert!(find(
        "/workflow/action--22222222-2222-4222-8222-222222222222",
        "unreachable",
        Severity::Warning
    ));
    let Err(LoadError::Invalid(refused)) = Playbook::from_json(&text) else {
        panic!("must be refused");
    };
    assert_eq!(refused, issues, "from_json refuses with the same findings");
}

#[test]
fn not_json_is_a_json_error_with_its_position() {
    let err = Playbook::from_json("{\"type\": ").unwrap_err();
    assert!(matches!(err, LoadError::Json(_)));
    assert!(err.to_string().contains("line 1"), "{err}");
}
