//! Every playbook of the SOARCA corpus (`../shared/data/cacao/soarca`) is either loaded or
//! refused for the reason the corpus was written to show (see its SOURCE.md).

use onesec_playbook::{
    Issue, LoadError, Playbook, RecordingConnector, Run, RunOptions, RunStatus, Severity,
};

fn read(rel: &str) -> Option<String> {
    let path = onesec_testdata::shared(&format!("data/cacao/soarca/{rel}"))?;
    Some(std::fs::read_to_string(path).expect("readable"))
}

fn refused(rel: &str) -> Option<Vec<Issue>> {
    let text = read(rel)?;
    match Playbook::from_json(&text) {
        Err(LoadError::Invalid(issues)) => Some(issues),
        other => panic!("{rel} should be refused, got {other:?}"),
    }
}

fn has_error(issues: &[Issue], pointer: &str, needle: &str) -> bool {
    issues.iter().any(|i| {
        i.severity == Severity::Error && i.pointer == pointer && i.message.contains(needle)
    })
}

#[test]
fn valid_playbooks_load() {
    for rel in [
        "examples/http-playbook.json",
        "examples/manual-playbook.json",
        "examples/openc2-playbook.json",
        "examples/powershell-playbook.json",
        "examples/ssh-playbook.json",
        "test-playbooks/playbook.json",
        "test-playbooks/parallels_playbook.json",
        "test-playbooks/integration-api-routes-playbook.json",
    ] {
        let Some(text) = read(rel) else { return };
        let playbook = Playbook::from_json(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        // writing it back and reading it again gives the same playbook
        let again = Playbook::from_json(&playbook.to_json().expect("serialises")).expect("reloads");
        assert_eq!(again, playbook, "{rel} round trip");
    }
}

#[test]
fn soarca_test_playbooks_start_at_an_action_with_a_warning() {
    // CACAO says workflow_start MUST name a start step; SOARCA's test corpus starts at an
    // action and names an exception step that does not exist. Both run unambiguously, so we
    // warn, precisely, instead of refusing.
    let Some(text) = read("test-playbooks/playbook.json") else {
        return;
    };
    let issues = onesec_playbook::validate_json(&text).expect("json");
    assert!(
        issues.iter().all(|i| i.severity == Severity::Warning),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.pointer == "/workflow_start" && i.message.contains("not a start step"))
    );
    assert!(
        issues
            .iter()
            .any(|i| i.pointer == "/workflow_exception" && i.message.contains("no step"))
    );
}

#[test]
fn missing_step_is_refused_at_the_dangling_reference() {
    // deliberately unsafe: the last action goes on to an end step that does not exist
    let Some(issues) = refused("test-playbooks/missing_step_playbook.json") else {
        return;
    };
    assert!(has_error(
        &issues,
        "/workflow/action--2190f685-1857-44ac-ad0e-0ded6c6ef3ce/on_completion",
        "end--6b23c237-ade8-4d00-9aa1-75999738d558"
    ));
}

#[test]
fn infinite_loop_is_refused() {
    // deliberately unsafe: the last action is its own on_completion and there is no end step
    let Some(issues) = refused("test-playbooks/infinite_playbook.json") else {
        return;
    };
    assert!(has_error(&issues, "/workflow", "no end step"));
    assert!(has_error(
        &issues,
        "/workflow/action--6b23c237-ade8-4d00-9aa1-75999738d557",
        "loop forever"
    ));
}

#[test]
fn agent_of_the_wrong_type_is_refused() {
    // deliberately invalid: an http-api--… agent whose type is `invalid`
    let Some(issues) = refused("test-playbooks/invalid_playbook.json") else {
        return;
    };
    assert!(has_error(
        &issues,
        "/agent_definitions/http-api--7e9174ec-a293-43df-a72d-471c79e276bf/type",
        "must be `http-api`"
    ));
}

#[test]
fn email_with_a_shell_command_is_refused() {
    // deliberately unsafe: a backtick command hidden in an agent's e-mail address
    let Some(issues) = refused("test-playbooks/invalid_email_playbook.json") else {
        return;
    };
    assert!(has_error(
        &issues,
        "/agent_definitions/individual--6b23a237-ade8-4d00-9aa1-75999732d557/contact/email/work",
        "not an e-mail address"
    ));
}

#[test]
fn cacao_1_layout_is_refused() {
    // `workflow` is an array of steps, as in CACAO 1.x
    let Some(issues) = refused("test-playbooks/changed-playbook.json") else {
        return;
    };
    assert!(has_error(&issues, "/workflow", "CACAO 1.x"));
}

#[test]
fn fin_example_is_refused_for_its_agent_id() {
    // SOARCA's "fin" extension example keys its agent `soarca-fin-pong-<uuid>`, which is not an
    // identifier (`<type>--<uuid>`); it also says it was modified before it was created
    let Some(issues) = refused("examples/fin-playbook.json") else {
        return;
    };
    let agent = "soarca-fin-pong-f896bb3b-bb37-429e-8ece-2d4286cf326d";
    assert!(has_error(
        &issues,
        &format!("/agent_definitions/{agent}"),
        "not an identifier"
    ));
    assert!(has_error(&issues, "/modified", "earlier than created"));
}

#[test]
fn parallels_playbook_runs_both_branches() {
    // SOARCA's parallels test only checks the workflow is safe; its engine does not run
    // parallel steps. Ours does: one branch is an action, the other an end step.
    let Some(text) = read("test-playbooks/parallels_playbook.json") else {
        return;
    };
    let playbook = Playbook::from_json(&text).expect("loads");
    let mut run = Run::start(
        &playbook,
        &Default::default(),
        &Default::default(),
        RunOptions::default(),
        0,
    )
    .expect("starts");
    let mut connector = RecordingConnector::new();
    assert_eq!(run.advance(0, &mut connector), RunStatus::Completed);
    assert_eq!(
        connector.commands(),
        vec!["GET http://__bia_address__/analysisreport/__cve__"]
    );
}
