//! The shipped hybrid-intrusion playbook end to end, with a recording connector.

use std::collections::BTreeMap;

use onesec_playbook::{
    LogKind, Playbook, RecordingConnector, Run, RunOptions, RunStatus, TaskState, Team, builtin,
};

const APPROVAL_TIMEOUT: u64 = 15 * 60 * 1000;

fn inputs(notification: &str) -> BTreeMap<String, String> {
    [
        ("__incident_id__", "INC-7"),
        (
            "__summary__",
            "badge B-1 at R&D door, then VPN login from 203.0.113.9",
        ),
        ("__person__", "Alice"),
        ("__badge_id__", "B-1"),
        ("__account__", "alice"),
        ("__zone__", "rnd"),
        ("__camera__", "cam-rnd-1"),
        ("__switch_port__", "sw3/12"),
        ("__src_ip__", "203.0.113.9"),
        ("__notification__", notification),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn start(notification: &str) -> (Playbook, Run, RecordingConnector) {
    let playbook = builtin::hybrid_intrusion().expect("ships valid");
    let library = builtin::library().expect("ships valid");
    let run = Run::start(
        &playbook,
        &library,
        &inputs(notification),
        RunOptions::default(),
        0,
    )
    .expect("starts");
    let connector =
        RecordingConnector::new().respond_when("POST /exports", &[("__footage_ref__", "EXP-99")]);
    (playbook, run, connector)
}

const DISRUPTIVE: [&str; 5] = ["disable", "quarantine", "blocklist", "suspend", "lockdown"];

fn disruptive_calls(c: &RecordingConnector) -> Vec<String> {
    c.commands()
        .into_iter()
        .filter(|cmd| DISRUPTIVE.iter().any(|d| cmd.contains(d)))
        .collect()
}

fn approve_only_task(run: &mut Run, team: Team, by: &str, now: u64) {
    let open = run.open_tasks(team);
    assert_eq!(open.len(), 1, "one open task for {team}: {:?}", run.tasks());
    let id = open[0].id;
    run.approve(id, by, "done", now).expect("open");
}

#[test]
fn approval_then_both_teams_contain_in_parallel_then_the_dpo_is_told() {
    let (_, mut run, mut c) = start("dpo");
    assert_eq!(run.advance(0, &mut c), RunStatus::Running);
    // evidence first, nothing disruptive before the approval
    assert_eq!(
        c.commands(),
        vec!["POST /exports camera=cam-rnd-1 incident=INC-7 window=-30m,+30m"]
    );
    let approval = run.open_tasks(Team::Management);
    assert_eq!(approval.len(), 1);
    assert!(approval[0].instruction.contains("suspend badge B-1"));
    assert!(
        approval[0].instruction.contains("Footage: EXP-99"),
        "output of the footage step"
    );
    assert_eq!(approval[0].deadline, Some(APPROVAL_TIMEOUT));
    let id = approval[0].id;
    run.approve(id, "cfo", "go", 60_000).expect("open");

    assert_eq!(run.advance(60_000, &mut c), RunStatus::Running);
    // SOC and physical branches interleave: one step each in turn
    assert_eq!(
        disruptive_calls(&c),
        vec![
            "POST /users/alice/disable reason=incident-INC-7",
            "POST /badges/B-1/suspend",
            "POST /ports/sw3/12/quarantine",
            "POST /zones/rnd/lockdown",
            "POST /blocklist ip=203.0.113.9 ttl=24h",
        ]
    );
    // both teams now hold a task at the same time
    assert_eq!(run.open_tasks(Team::ItSoc).len(), 1);
    assert_eq!(run.open_tasks(Team::PhysicalSecurity).len(), 1);
    approve_only_task(&mut run, Team::PhysicalSecurity, "guard-3", 120_000);
    assert_eq!(
        run.advance(120_000, &mut c),
        RunStatus::Running,
        "SOC still confirming"
    );
    approve_only_task(&mut run, Team::ItSoc, "analyst-1", 130_000);
    assert_eq!(run.advance(130_000, &mut c), RunStatus::Running);

    // switch → notify-dpo sub-playbook → a compliance task with the incident id
    let dpo = run.open_tasks(Team::Compliance);
    assert_eq!(dpo.len(), 1);
    assert!(dpo[0].instruction.contains("INC-7") && dpo[0].instruction.contains("GDPR"));
    approve_only_task(&mut run, Team::Compliance, "dpo", 200_000);
    assert_eq!(run.advance(200_000, &mut c), RunStatus::Completed);
    assert_eq!(
        c.commands().last().map(String::as_str),
        Some("POST /incidents/INC-7/notes text=response-playbook-finished")
    );
    assert!(
        run.tasks()
            .iter()
            .all(|t| matches!(t.state, TaskState::Approved { .. }))
    );
}

#[test]
fn rejection_skips_every_disruptive_action_and_still_notifies() {
    let (_, mut run, mut c) = start("management");
    run.advance(0, &mut c);
    let id = run.open_tasks(Team::Management)[0].id;
    run.reject(
        id,
        "cfo",
        "false positive: Alice is on site with a visitor",
        10_000,
    )
    .expect("open");
    assert_eq!(run.advance(10_000, &mut c), RunStatus::Running);
    assert!(disruptive_calls(&c).is_empty(), "{:?}", c.commands());
    assert!(
        c.commands()
            .iter()
            .any(|cmd| cmd.contains("containment-not-approved"))
    );
    // management is still briefed (switch → notify-management)
    let brief = run.open_tasks(Team::Management);
    assert_eq!(brief.len(), 1);
    assert!(
        brief[0]
            .instruction
            .starts_with("Brief management on incident INC-7")
    );
    let id = brief[0].id;
    run.approve(id, "cfo", "noted", 20_000).expect("open");
    assert_eq!(run.advance(20_000, &mut c), RunStatus::Completed);
    let rejected = run
        .log()
        .iter()
        .find(|e| e.kind == LogKind::TaskRejected)
        .expect("logged");
    assert_eq!(rejected.who, "cfo (management)");
    assert!(rejected.detail.contains("false positive"));
}

#[test]
fn approval_timeout_takes_the_failure_path() {
    let (_, mut run, mut c) = start("authority");
    run.advance(0, &mut c);
    assert_eq!(run.next_wakeup(), Some(APPROVAL_TIMEOUT));
    run.advance(APPROVAL_TIMEOUT - 1, &mut c);
    assert!(run.tasks()[0].is_open(), "not yet");
    run.advance(APPROVAL_TIMEOUT, &mut c);
    assert_eq!(
        run.tasks()[0].state,
        TaskState::TimedOut {
            at: APPROVAL_TIMEOUT
        }
    );
    assert!(disruptive_calls(&c).is_empty());
    // switch → notify-authority: a compliance task
    let authority = run.open_tasks(Team::Compliance);
    assert_eq!(authority.len(), 1);
    assert!(
        authority[0]
            .instruction
            .starts_with("Notify the competent authority of incident INC-7")
    );
}

#[test]
fn nac_failure_becomes_a_manual_task_for_the_soc() {
    let (_, mut run, _) = start("management");
    let mut c = RecordingConnector::new().fail_when("quarantine", "NAC API returned 503");
    run.advance(0, &mut c);
    let id = run.open_tasks(Team::Management)[0].id;
    run.approve(id, "cfo", "go", 1).expect("open");
    run.advance(1, &mut c);
    let soc = run.open_tasks(Team::ItSoc);
    assert_eq!(soc.len(), 1);
    assert!(
        soc[0]
            .instruction
            .contains("shut switch port sw3/12 by hand")
    );
    // the SOC branch waits for the human; the firewall block comes after the manual isolation
    assert!(!c.commands().iter().any(|cmd| cmd.contains("blocklist")));
}

#[test]
fn every_transition_is_logged_with_who_what_when() {
    let (playbook, mut run, mut c) = start("dpo");
    run.advance(0, &mut c);
    let id = run.open_tasks(Team::Management)[0].id;
    run.approve(id, "cfo", "go", 5).expect("open");
    run.advance(5, &mut c);
    let log = run.log();
    assert!(
        log.windows(2)
            .all(|w| w[0].seq + 1 == w[1].seq && w[0].at <= w[1].at)
    );
    let footage = log
        .iter()
        .find(|e| e.kind == LogKind::CommandExecuted)
        .expect("a command ran");
    assert_eq!(footage.who, "Video management system");
    assert_eq!(footage.playbook, playbook.id);
    let badge_step = playbook
        .workflow
        .iter()
        .find(|(_, s)| s.name.as_deref() == Some("Suspend badge"))
        .map(|(id, _)| id.clone());
    let suspended = log
        .iter()
        .find(|e| e.kind == LogKind::StepCompleted && e.step == badge_step)
        .expect("badge suspended");
    assert_eq!(
        (suspended.who.as_str(), suspended.at),
        ("physical_security", 5)
    );
}

/// A run kept as JSON mid-way (a restart) goes on exactly as the original: same calls, tasks
/// and log.
#[test]
fn a_run_restored_from_json_goes_on_as_the_original() {
    let (_, mut run, mut c) = start("management");
    run.advance(0, &mut c);
    let approval = run.open_tasks(Team::Management)[0].id;
    run.approve(approval, "mia", "go", 1_000).expect("open");
    let kept = run.to_json();
    let mut restored = Run::from_json(&kept).expect("restores");
    assert_eq!(restored.to_json(), kept, "restoring loses nothing");

    let mut c_restored = RecordingConnector::new();
    let mut c_original = RecordingConnector::new();
    run.advance(2_000, &mut c_original);
    restored.advance(2_000, &mut c_restored);
    assert_eq!(c_restored.commands(), c_original.commands());
    assert!(!c_restored.commands().is_empty(), "containment ran");
    // the guard's task times out on both at the same time
    run.advance(10 * 3_600_000, &mut c_original);
    restored.advance(10 * 3_600_000, &mut c_restored);
    assert_eq!(restored.tasks(), run.tasks());
    assert_eq!(restored.log(), run.log());
    assert_eq!(restored.status(), run.status());
    assert!(Run::from_json("{\"playbooks\": 3}").is_err());
}

/// A connector that hands everything to people: each automated command becomes a task for
/// the step's team, and approving it goes on as a successful command would.
struct ByHand;

impl onesec_playbook::Connector for ByHand {
    fn execute(
        &mut self,
        command: &onesec_playbook::CommandRequest,
        _: Option<&onesec_playbook::Party>,
        _: &[onesec_playbook::Party],
        _: &onesec_playbook::Vars,
    ) -> Result<onesec_playbook::Outputs, String> {
        Err(format!("{} must not be executed", command.step))
    }

    fn by_hand(
        &self,
        _: &onesec_playbook::CommandRequest,
        _: Option<&onesec_playbook::Party>,
    ) -> bool {
        true
    }
}

#[test]
fn a_manual_connector_turns_automated_commands_into_tasks() {
    let (_, mut run, _) = start("management");
    run.advance(0, &mut ByHand);
    let footage = run.open_tasks(Team::PhysicalSecurity);
    assert_eq!(footage.len(), 1, "{:?}", run.tasks());
    assert!(
        footage[0]
            .instruction
            .starts_with("By hand, for Video management system: POST /exports camera=cam-rnd-1"),
        "{}",
        footage[0].instruction
    );
    let id = footage[0].id;
    run.approve(id, "gus", "exported", 10).expect("open");
    run.advance(10, &mut ByHand);
    assert_eq!(
        run.open_tasks(Team::Management).len(),
        1,
        "on to the approval"
    );
    assert!(
        run.log().iter().all(|l| !(l.kind == LogKind::StepFailed
            && l.step
                .as_deref()
                .is_some_and(|s| s.starts_with("action--f32d")))),
        "the footage step did not fail"
    );
    assert!(matches!(run.tasks()[0].state, TaskState::Approved { .. }));
}

#[test]
fn a_cancelled_run_performs_nothing_more_and_cancels_its_tasks() {
    let (_, mut run, mut c) = start("management");
    run.advance(0, &mut c);
    let before = c.commands().len();
    let approval = run.open_tasks(Team::Management)[0].id;
    assert!(run.cancel("alice", "incident closed as false_alarm", 5_000));
    assert!(
        !run.cancel("bob", "again", 6_000),
        "a run is cancelled once"
    );
    assert_eq!(
        run.status(),
        &RunStatus::Cancelled {
            by: "alice".into(),
            reason: "incident closed as false_alarm".into()
        }
    );
    assert!(matches!(
        run.tasks()[approval.0].state,
        TaskState::Cancelled { .. }
    ));
    assert!(run.approve(approval, "cfo", "too late", 7_000).is_err());
    // Far past every timer: nothing more runs, no command goes out.
    assert_eq!(
        run.advance(APPROVAL_TIMEOUT * 10, &mut c),
        run.status().clone()
    );
    assert_eq!(c.commands().len(), before);
    assert!(disruptive_calls(&c).is_empty());
    assert_eq!(run.next_wakeup(), None);
    let cancelled = run
        .log()
        .iter()
        .find(|e| e.kind == LogKind::RunCancelled)
        .expect("logged");
    assert_eq!(cancelled.who, "alice");
    assert_eq!(cancelled.detail, "incident closed as false_alarm");
    assert_eq!(
        run.log().last().map(|e| e.kind),
        Some(LogKind::TaskCancelled),
        "then its open task"
    );
    let kept = Run::from_json(&run.to_json()).expect("round trip");
    assert_eq!(kept.status(), run.status());
}
