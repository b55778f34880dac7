//! One small playbook per step type (tests/data), run with a recording connector.

mod common;

use common::{completed, inputs, load, step_id};
use onesec_playbook::{
    CommandRequest, Connector, Library, LogKind, Outputs, Party, RecordingConnector, Run, RunError,
    RunOptions, RunStatus, TaskState, Team, Vars,
};

fn start(name: &str, pairs: &[(&str, &str)]) -> (onesec_playbook::Playbook, Run) {
    let playbook = load(name);
    let run = Run::start(
        &playbook,
        &Library::new(),
        &inputs(pairs),
        RunOptions::default(),
        0,
    )
    .expect("starts");
    (playbook, run)
}

#[test]
fn if_condition_takes_the_true_branch_then_continues() {
    let (pb, mut run) = start("if.json", &[("__level__", "7")]);
    let mut c = RecordingConnector::new();
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(c.commands(), vec!["echo high 7", "echo after"]);
    assert_eq!(completed(&run, &pb), vec!["high", "after"]);
}

#[test]
fn if_condition_takes_the_false_branch() {
    for (level, mode) in [("3", "loud"), ("9", "quiet")] {
        let (_, mut run) = start("if.json", &[("__level__", level), ("__mode__", mode)]);
        let mut c = RecordingConnector::new();
        assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
        assert_eq!(
            c.commands(),
            vec![format!("echo low {level}"), "echo after".into()]
        );
    }
}

#[test]
fn if_condition_on_an_unknown_value_fails_the_step() {
    // __level__ is external and nobody passed it: deciding on null would pick a branch silently
    let (pb, mut run) = start("if.json", &[]);
    let status = run.advance(0, &mut RecordingConnector::new());
    let RunStatus::Failed { step, reason, .. } = status else {
        panic!("expected failure, got {status:?}");
    };
    assert_eq!(step, Some(step_id(&pb, "level high?")));
    assert!(reason.contains("__level__ has no value"), "{reason}");
}

/// Answers `increment N` with N + 1 for __count__.
struct Counter(Vec<String>);

impl Connector for Counter {
    fn execute(
        &mut self,
        command: &CommandRequest,
        _: Option<&Party>,
        _: &[Party],
        _: &Vars,
    ) -> Result<Outputs, String> {
        let text = command.command.clone().unwrap_or_default();
        self.0.push(text.clone());
        let mut out = Outputs::new();
        if let Some(n) = text.strip_prefix("increment ") {
            let n: u32 = n.parse().map_err(|_| format!("not a number: {n}"))?;
            out.insert("__count__".into(), (n + 1).to_string());
        }
        Ok(out)
    }
}

#[test]
fn while_condition_loops_until_false_then_continues() {
    let (_, mut run) = start("while.json", &[("__limit__", "3")]);
    let mut c = Counter(Vec::new());
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(
        c.0,
        vec![
            "increment 0",
            "increment 1",
            "increment 2",
            "echo done at 3"
        ]
    );
    assert_eq!(run.variables().get("__count__"), Some(Some("3")));
}

#[test]
fn endless_while_stops_at_the_step_budget() {
    let (_, mut run) = start("forever.json", &[]);
    let options_budget = RunOptions::default().step_budget;
    let status = run.advance(0, &mut RecordingConnector::new());
    assert_eq!(
        status,
        RunStatus::BudgetExhausted {
            budget: options_budget
        }
    );
    assert_eq!(run.steps_taken(), options_budget);
    let last = run.log().last().expect("log");
    assert_eq!(last.kind, LogKind::BudgetExhausted);
}

#[test]
fn switch_runs_the_matching_case_or_the_default() {
    for (route, expected) in [
        ("a", "echo case A"),
        ("b", "echo case B"),
        ("zzz", "echo case D"),
    ] {
        let (_, mut run) = start("switch.json", &[("__route__", route)]);
        let mut c = RecordingConnector::new();
        assert_eq!(run.advance(0, &mut c), RunStatus::Completed, "{route}");
        assert_eq!(c.commands(), vec![expected, "echo after"], "{route}");
    }
}

#[test]
fn parallel_branches_interleave_deterministically_and_join() {
    let (pb, mut run) = start("parallel.json", &[]);
    let mut c = RecordingConnector::new();
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(
        c.commands(),
        vec!["run a1", "run b1", "run a2", "run b2", "run joined"]
    );
    let ended = run
        .log()
        .iter()
        .filter(|e| e.kind == LogKind::BranchEnded)
        .count();
    assert_eq!(ended, 2);
    assert_eq!(
        completed(&run, &pb).last().map(String::as_str),
        Some("joined")
    );
}

#[test]
fn a_failed_branch_fails_the_parallel_step_after_the_others_finish() {
    let (_, mut run) = start("parallel.json", &[]);
    let mut c = RecordingConnector::new().fail_when("run b1", "device unreachable");
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    // branch a still completes; the parallel step then follows its on_failure
    assert_eq!(
        c.commands(),
        vec!["run a1", "run b1", "run a2", "run recover"]
    );
}

#[test]
fn on_failure_is_followed_not_aborted() {
    let (pb, mut run) = start("failure.json", &[]);
    let mut c = RecordingConnector::new().fail_when("risky thing", "refused");
    let status = run.advance(0, &mut c);
    // `try` fails → recover; `unguarded` (no on_failure) → workflow_exception → cleanup
    assert_eq!(
        c.commands(),
        vec![
            "risky thing",
            "run recover",
            "second risky thing",
            "run cleanup"
        ]
    );
    let RunStatus::Failed {
        exception_handled,
        step,
        ..
    } = status
    else {
        panic!("{status:?}");
    };
    assert!(exception_handled);
    assert_eq!(step, Some(step_id(&pb, "end of exception handler")));
    assert!(
        run.log()
            .iter()
            .any(|e| e.kind == LogKind::ExceptionHandler)
    );
}

#[test]
fn success_path_skips_recovery() {
    let (_, mut run) = start("failure.json", &[]);
    let mut c = RecordingConnector::new();
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(
        c.commands(),
        vec!["risky thing", "run ok", "second risky thing"]
    );
}

#[test]
fn delay_waits_on_the_virtual_clock() {
    let (_, mut run) = start("manual.json", &[]);
    let mut c = RecordingConnector::new();
    assert_eq!(run.advance(0, &mut c), RunStatus::Running);
    assert!(c.calls.is_empty(), "still delayed");
    assert_eq!(run.next_wakeup(), Some(5000));
    run.advance(4999, &mut c);
    assert!(c.calls.is_empty());
    run.advance(5000, &mut c);
    assert_eq!(c.commands(), vec!["echo after delay"]);
}

#[test]
fn manual_task_goes_to_the_agents_team_and_approval_continues_the_step() {
    let (_, mut run) = start("manual.json", &[]);
    let mut c = RecordingConnector::new();
    run.advance(0, &mut c); // the delay starts
    run.advance(5000, &mut c);
    let tasks = run.open_tasks(Team::PhysicalSecurity);
    assert_eq!(
        tasks.len(),
        1,
        "agent named Physical Security → physical_security"
    );
    assert_eq!(tasks[0].instruction, "Check door D-12");
    assert_eq!(tasks[0].deadline, Some(65_000));
    let id = tasks[0].id;
    let found = [("__finding__".to_string(), "guard-7".to_string())].into();
    run.approve_with(id, "guard-7", "door closed, zone empty", found, 6000)
        .expect("open");
    assert_eq!(run.advance(6000, &mut c), RunStatus::Completed);
    // the second command of the step runs after the approval, with the human's output
    assert_eq!(
        c.commands(),
        vec![
            "echo after delay",
            "log checked D-12 by guard-7",
            "echo approved"
        ]
    );
    assert!(matches!(&run.tasks()[0].state, TaskState::Approved { by, .. } if by == "guard-7"));
    assert_eq!(
        run.approve(id, "x", "again", 7000),
        Err(RunError::TaskClosed(id))
    );
}

#[test]
fn manual_task_rejection_follows_on_failure() {
    let (_, mut run) = start("manual.json", &[]);
    let mut c = RecordingConnector::new();
    run.advance(0, &mut c); // the delay starts
    run.advance(5000, &mut c);
    let id = run.tasks()[0].id;
    run.reject(id, "lead", "wrong door", 5500).expect("open");
    assert_eq!(run.advance(5500, &mut c), RunStatus::Completed);
    assert_eq!(c.commands(), vec!["echo after delay", "echo fallback"]);
    let failed = run
        .log()
        .iter()
        .find(|e| e.kind == LogKind::StepFailed)
        .expect("logged");
    assert!(failed.detail.contains("rejected by lead: wrong door"));
}

#[test]
fn manual_task_timeout_follows_on_failure() {
    let (_, mut run) = start("manual.json", &[]);
    let mut c = RecordingConnector::new();
    run.advance(0, &mut c); // the delay starts
    run.advance(5000, &mut c);
    assert_eq!(run.next_wakeup(), Some(65_000));
    run.advance(64_999, &mut c);
    assert!(run.tasks()[0].is_open());
    assert_eq!(run.advance(65_000, &mut c), RunStatus::Completed);
    assert_eq!(run.tasks()[0].state, TaskState::TimedOut { at: 65_000 });
    assert_eq!(c.commands(), vec!["echo after delay", "echo fallback"]);
}

#[test]
fn playbook_action_passes_arguments_both_ways() {
    let caller = load("caller.json");
    let mut library = Library::new();
    library.add(load("callee.json"));
    let mut run = Run::start(
        &caller,
        &library,
        &inputs(&[("__x__", "alice")]),
        RunOptions::default(),
        0,
    )
    .expect("starts");
    let mut c = RecordingConnector::new().respond_when("lookup alice", &[("__y__", "badge-42")]);
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(c.commands(), vec!["lookup alice", "use badge-42"]);
    let kinds: Vec<LogKind> = run.log().iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&LogKind::PlaybookCalled) && kinds.contains(&LogKind::PlaybookReturned));
}

#[test]
fn playbook_action_failure_follows_the_callers_on_failure() {
    let caller = load("caller.json");
    let mut library = Library::new();
    library.add(load("callee.json"));
    let mut run = Run::start(
        &caller,
        &library,
        &inputs(&[("__x__", "bob")]),
        RunOptions::default(),
        0,
    )
    .expect("starts");
    let mut c = RecordingConnector::new().fail_when("lookup", "directory down");
    assert_eq!(run.advance(0, &mut c), RunStatus::Completed);
    assert_eq!(c.commands(), vec!["lookup bob", "echo call failed"]);
}

#[test]
fn a_run_refuses_missing_playbooks_and_bad_inputs_up_front() {
    let caller = load("caller.json");
    let err = Run::start(
        &caller,
        &Library::new(),
        &inputs(&[]),
        RunOptions::default(),
        0,
    )
    .unwrap_err();
    assert!(matches!(err, RunError::UnknownPlaybook { .. }), "{err}");
    let mut library = Library::new();
    library.add(load("callee.json"));
    let err = Run::start(
        &caller,
        &library,
        &inputs(&[("__y__", "x")]),
        RunOptions::default(),
        0,
    )
    .unwrap_err();
    assert_eq!(err, RunError::NotExternal("__y__".into()));
    let err = Run::start(
        &caller,
        &library,
        &inputs(&[("__nope__", "x")]),
        RunOptions::default(),
        0,
    )
    .unwrap_err();
    assert_eq!(err, RunError::UnknownInput("__nope__".into()));
}

#[test]
fn the_log_is_the_same_on_every_run() {
    let run_once = || {
        let (_, mut run) = start("parallel.json", &[]);
        run.advance(0, &mut RecordingConnector::new().fail_when("run a2", "x"));
        run.log().to_vec()
    };
    assert_eq!(run_once(), run_once());
}
