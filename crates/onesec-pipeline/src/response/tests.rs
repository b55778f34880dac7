//! The response side on a hand-set clock: cases, life cycle, runs kept across a restart,
//! deadlines, escalation, exercise mode, selection.

use super::*;
use onesec_event::{Domain, Severity};
use onesec_incident::ManualOp;
use onesec_store::{DetectionBatch, SqliteStore};
use std::path::Path;

const MIN: i64 = 60_000;

fn incident(id: &str, domain: Domain) -> Incident {
    let mut entities = Entities::default();
    entities.sites.insert("EDI".into());
    entities.persons.insert("p-1".into());
    entities.badges.insert("B-1".into());
    entities.zones.insert("rnd".into());
    entities.src_ips.insert("fe80::1".into());
    entities.src_ips.insert("10.0.0.9".into());
    Incident {
        id: id.into(),
        title: "door forced then USB".into(),
        domain,
        priority: Severity::High,
        state: IncidentState::New,
        alert_ids: vec!["a1".into()],
        active_alerts: 1,
        entities,
        first_ms: 0,
        last_ms: 0,
        merged_into: None,
        repeats: 0,
    }
}

/// A store file holding the incidents, as detection would have written them.
fn store_with(path: &Path, incidents: &[Incident]) -> SqliteStore {
    let mut store = SqliteStore::open(path).unwrap();
    store
        .commit(&DetectionBatch {
            incidents: incidents.to_vec(),
            ..Default::default()
        })
        .unwrap();
    store
}

fn responses(path: &Path, config: &ResponseConfig, clock: Arc<ManualClock>) -> Responses {
    Responses::new(
        config,
        Box::new(SqliteStore::open(path).unwrap()),
        clock,
        None,
    )
    .unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: Arc<ManualClock>,
    responses: Responses,
    incident: Incident,
}

fn setup(config: ResponseConfig, domain: Domain) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onesec.db");
    let incident = incident("inc-1", domain);
    store_with(&path, std::slice::from_ref(&incident));
    let clock = Arc::new(ManualClock::new(1_000_000));
    let responses = responses(&path, &config, clock.clone());
    Setup {
        _dir: dir,
        path,
        clock,
        responses,
        incident,
    }
}

fn open_tasks(r: &Responses, team: Team) -> Vec<TaskView> {
    r.tasks(Some(team), false)
        .unwrap()
        .into_iter()
        .filter(|t| t.state == "open")
        .collect()
}

#[test]
fn detection_opens_a_case_and_starts_the_selected_run_and_a_restart_keeps_it() {
    let s = setup(ResponseConfig::default(), Domain::Hybrid);
    assert!(matches!(
        s.responses.run_view("inc-1"),
        Err(ResponseError::NoRun(_))
    ));
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    let run = s.responses.run_view("inc-1").expect("started by detection");
    assert_eq!(run.status, "running");
    assert_eq!(run.connector, "dry-run");
    assert_eq!(run.actions.len(), 1, "the footage pull");
    assert_eq!(run.actions[0].outcome, "simulated");
    assert_eq!(run.actions[0].by, SYSTEM);
    let (case, history) = s.responses.case("inc-1").unwrap();
    assert_eq!(case.case.owner_team, "it_soc", "hybrid → the duty desk");
    assert_eq!(case.case.priority.get(), 1, "high + hybrid");
    assert_eq!(history[0].action, "opened");
    // Detection reports it again: nothing starts twice.
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    assert_eq!(s.responses.run_view("inc-1").unwrap().actions.len(), 1);

    // A restart: a new Responses on the same file decides the task the old one created.
    let approval = open_tasks(&s.responses, Team::Management);
    assert_eq!(approval.len(), 1);
    drop(s.responses);
    let again = responses(&s.path, &ResponseConfig::default(), s.clock.clone());
    let after = again
        .decide(&approval[0].id, true, "mia", "contain")
        .expect("decided after restart");
    assert!(after.tasks.len() > 1, "containment tasks follow");
    assert!(
        after
            .actions
            .iter()
            .any(|a| a.command.contains("suspend") && a.by == "mia"),
        "approved containment runs on mia's decision: {:?}",
        after.actions
    );
    assert!(matches!(
        again.decide(&approval[0].id, true, "mia", "twice"),
        Err(ResponseError::TaskClosed(_))
    ));
    for bad in ["nope", "inc-1:x", "inc-1:99", "inc-2:0"] {
        assert!(
            matches!(
                again.decide(bad, false, "mia", ""),
                Err(ResponseError::UnknownTask(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn the_life_cycle_keeps_who_and_when_and_refuses_bad_moves() {
    let s = setup(ResponseConfig::default(), Domain::Physical);
    let r = &s.responses;
    let (incident, case) = r.acknowledge("inc-1", "gus", "on it").unwrap();
    assert_eq!(incident.state, IncidentState::Acknowledged);
    assert_eq!(case.case.assignee.as_deref(), Some("gus"));
    assert_eq!(
        case.case.acknowledged.as_ref().map(|a| a.1.as_str()),
        Some("gus")
    );
    s.clock.advance(MIN);
    for (state, who) in [
        (IncidentState::InProgress, "gus"),
        (IncidentState::OnHold, "gus"),
        (IncidentState::InProgress, "ann"),
        (IncidentState::Resolved, "ann"),
    ] {
        r.change_state("inc-1", state, who, "step").unwrap();
    }
    let refused = r.change_state("inc-1", IncidentState::Acknowledged, "ann", "back");
    assert!(
        matches!(refused, Err(ResponseError::State(_))),
        "{refused:?}"
    );
    r.change_state("inc-1", IncidentState::Closed, "ann", "done")
        .unwrap();
    let (_, history) = r.case("inc-1").unwrap();
    let states: Vec<(&str, &str)> = history
        .iter()
        .filter(|h| h.action == "state")
        .map(|h| (h.to.as_deref().unwrap_or(""), h.actor.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("acknowledged", "gus"),
            ("in_progress", "gus"),
            ("on_hold", "gus"),
            ("in_progress", "ann"),
            ("resolved", "ann"),
            ("closed", "ann")
        ]
    );
    assert!(history.iter().all(|h| h.at_ms >= 1_000_000));
    assert!(matches!(
        r.change_state("inc-nope", IncidentState::Closed, "ann", ""),
        Err(ResponseError::UnknownIncident(_))
    ));
}

#[test]
fn priority_category_assignment_and_comments_are_validated_and_kept() {
    let s = setup(ResponseConfig::default(), Domain::Cyber);
    let r = &s.responses;
    let (before, _) = r.case("inc-1").unwrap();
    let view = r
        .classify("inc-1", Some(4), Some("false alarm"), "sam", "test badge")
        .unwrap();
    assert_eq!(view.case.priority.get(), 4);
    assert_eq!(view.case.category, Category::FalseAlarm);
    assert!(
        view.case.ack_due_ms > before.case.ack_due_ms,
        "lower priority, later due date"
    );
    for (p, c) in [
        (Some(0), None),
        (Some(6), None),
        (None, Some("drill")),
        (None, None),
    ] {
        let e = r.classify("inc-1", p, c, "sam", "").unwrap_err();
        assert!(matches!(e, ResponseError::Invalid(_)), "{e}");
    }
    let view = r
        .assign(
            "inc-1",
            Some("Physical Security"),
            Some("gus"),
            "sam",
            "door issue",
        )
        .unwrap();
    assert_eq!(view.case.owner_team, "physical_security");
    assert_eq!(view.case.routed_by, "assigned by sam");
    let e = r
        .assign("inc-1", Some("facilities"), None, "sam", "")
        .unwrap_err();
    assert!(e.to_string().contains("unknown team \"facilities\""), "{e}");
    assert!(matches!(
        r.comment("inc-1", "sam", "  "),
        Err(ResponseError::Invalid(_))
    ));
    r.comment("inc-1", "sam", "called the guard").unwrap();
    let (_, history) = r.case("inc-1").unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "opened",
            "priority",
            "category",
            "assign_team",
            "assign",
            "comment"
        ]
    );
    assert_eq!(history[2].from.as_deref(), Some("unclassified"));
}

#[test]
fn nobody_acknowledging_escalates_along_the_chain_and_an_ack_stops_it() {
    let config = ResponseConfig {
        route: vec![RouteRule {
            domain: Some("physical".into()),
            team: "physical_security".into(),
            escalation: vec!["it_soc".into(), "management".into()],
            ..RouteRule::default()
        }],
        ..ResponseConfig::default()
    };
    let s = setup(config, Domain::Physical);
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    let (case, _) = s.responses.case("inc-1").unwrap();
    assert_eq!(case.case.owner_team, "physical_security");
    assert_eq!(case.case.routed_by, "rule 0");
    let ack_sla = case.case.ack_due_ms - case.case.opened_ms;
    s.clock.advance(ack_sla - 1);
    s.responses.tick();
    assert_eq!(
        s.responses.case("inc-1").unwrap().0.case.escalation_level,
        0
    );
    s.clock.advance(1);
    s.responses.tick();
    let (case, history) = s.responses.case("inc-1").unwrap();
    assert_eq!(case.case.escalated_to, ["it_soc"]);
    assert_eq!(case.sla_breached, Vec::<&str>::new(), "due, not yet past");
    let escalation = history.iter().find(|h| h.action == "escalate").unwrap();
    assert_eq!(escalation.from.as_deref(), Some("physical_security"));
    assert_eq!(escalation.to.as_deref(), Some("it_soc"));
    s.clock.advance(1);
    assert_eq!(s.responses.case("inc-1").unwrap().0.sla_breached, ["ack"]);
    s.responses.acknowledge("inc-1", "gus", "").unwrap();
    s.clock.advance(10 * ack_sla);
    s.responses.tick();
    let (case, _) = s.responses.case("inc-1").unwrap();
    assert_eq!(
        case.case.escalated_to,
        ["it_soc"],
        "no escalation after the ack"
    );
}

#[test]
fn a_task_deadline_follows_on_failure_when_the_clock_passes_it() {
    let s = setup(ResponseConfig::default(), Domain::Hybrid);
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    let approval = &open_tasks(&s.responses, Team::Management)[0];
    let deadline = approval.deadline.unwrap();
    s.clock
        .advance(i64::try_from(deadline).unwrap() - s.clock.now_ms());
    s.responses.tick();
    let run = s.responses.run_view("inc-1").unwrap();
    let task = run.tasks.iter().find(|t| t.id == approval.id).unwrap();
    assert_eq!(task.state, "timed_out");
    assert!(
        run.actions
            .iter()
            .any(|a| a.command.contains("monitor-only")),
        "the approval's on_failure records a monitor-only decision: {:?}",
        run.actions
    );
    assert!(
        !run.actions.iter().any(|a| a.command.contains("suspend")),
        "nothing disruptive without approval"
    );
}

#[test]
fn exercise_incidents_and_the_global_flag_perform_nothing() {
    // Live mode with a connector to a port nothing listens on: a performed action would fail.
    let live = ResponseConfig {
        mode: Mode::Live,
        connectors: vec![config::ConnectorConfig {
            name: "vms".into(),
            kind: config::ConnectorKind::HttpApi,
            agents: vec!["Video management system".into()],
            url: "http://127.0.0.1:9".into(),
            token: None,
            token_env: None,
            username: None,
            timeout: Some("500ms".into()),
            body: None,
            topic: None,
            dry_run: false,
        }],
        ..ResponseConfig::default()
    };
    let s = setup(
        ResponseConfig {
            auto_start: false,
            ..live.clone()
        },
        Domain::Hybrid,
    );
    s.responses
        .classify("inc-1", None, Some("exercise"), "trainer", "drill")
        .unwrap();
    let (run, started) = s.responses.start("inc-1", None, "trainer").unwrap();
    assert!(started);
    assert_eq!(run.connector, "exercise");
    assert_eq!(run.actions[0].mode, "exercise");
    assert_eq!(run.actions[0].outcome, "simulated");
    assert_eq!(run.actions[0].target, "POST http://127.0.0.1:9/exports");

    let flagged = setup(
        ResponseConfig {
            exercise: true,
            ..live.clone()
        },
        Domain::Hybrid,
    );
    flagged
        .responses
        .incidents_changed(std::slice::from_ref(&flagged.incident));
    let run = flagged.responses.run_view("inc-1").unwrap();
    assert!(
        run.actions
            .iter()
            .all(|a| a.mode == "exercise" && a.outcome == "simulated")
    );
    // The global flag (a drill) also opens every case as an exercise.
    let (case, _) = flagged.responses.case("inc-1").unwrap();
    assert_eq!(case.case.category, Category::Exercise);

    // The same live setup without exercise: the action is attempted and fails into on_failure.
    let real = setup(live, Domain::Hybrid);
    real.responses
        .incidents_changed(std::slice::from_ref(&real.incident));
    let run = real.responses.run_view("inc-1").unwrap();
    assert_eq!(run.actions[0].outcome, "failed");
    assert!(
        run.actions[0]
            .detail
            .contains("cannot reach http://127.0.0.1:9"),
        "{}",
        run.actions[0].detail
    );
    assert_eq!(
        open_tasks(&real.responses, Team::Management).len(),
        1,
        "on_failure goes on to the approval"
    );
}

#[test]
fn selection_by_category_and_domain_and_bad_rules_are_refused() {
    let config = ResponseConfig {
        select: vec![
            config::SelectRule {
                category: Some("false_alarm".into()),
                playbook: "none".into(),
                ..Default::default()
            },
            config::SelectRule {
                domain: Some("hybrid".into()),
                playbook: "onesec: hybrid intrusion response".into(),
                ..Default::default()
            },
        ],
        ..ResponseConfig::default()
    };
    let s = setup(config.clone(), Domain::Cyber);
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    assert!(
        matches!(s.responses.run_view("inc-1"), Err(ResponseError::NoRun(_))),
        "cyber: no rule"
    );
    let h = setup(config.clone(), Domain::Hybrid);
    h.responses
        .classify("inc-1", None, Some("false_alarm"), "sam", "")
        .unwrap();
    h.responses
        .incidents_changed(std::slice::from_ref(&h.incident));
    assert!(
        matches!(h.responses.run_view("inc-1"), Err(ResponseError::NoRun(_))),
        "false alarm: none"
    );
    let h = setup(config, Domain::Hybrid);
    h.responses
        .incidents_changed(std::slice::from_ref(&h.incident));
    assert!(h.responses.run_view("inc-1").is_ok());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let bad = |config: ResponseConfig| {
        Responses::new(
            &config,
            Box::new(SqliteStore::open(&path).unwrap()),
            Arc::new(SystemClock),
            None,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let unknown = ResponseConfig {
        select: vec![config::SelectRule {
            playbook: "nope".into(),
            ..Default::default()
        }],
        ..ResponseConfig::default()
    };
    assert!(bad(unknown).contains("select[0]: playbook \"nope\" is not loaded"));
    let team = ResponseConfig {
        route: vec![RouteRule {
            team: "facilities".into(),
            ..RouteRule::default()
        }],
        ..ResponseConfig::default()
    };
    assert!(bad(team).contains("route[0]: team \"facilities\""));
    let sla = ResponseConfig {
        sla: config::SlaConfig {
            ack: vec!["5m".into()],
            ..Default::default()
        },
        ..ResponseConfig::default()
    };
    assert!(bad(sla).contains("sla.ack needs five durations"));
    let notify = ResponseConfig {
        notify: Some("pager".into()),
        ..ResponseConfig::default()
    };
    assert!(bad(notify).contains("names no webhook connector"));
    let file = ResponseConfig {
        playbooks: vec![dir.path().join("missing.json")],
        ..ResponseConfig::default()
    };
    assert!(bad(file).contains("cannot read"));
    std::fs::write(dir.path().join("broken.json"), "{\"type\": \"playbook\"}").unwrap();
    let broken = ResponseConfig {
        playbooks: vec![dir.path().join("broken.json")],
        ..ResponseConfig::default()
    };
    let reason = bad(broken);
    assert!(
        reason.contains("broken.json")
            && reason.contains("missing required property `spec_version`"),
        "{reason}"
    );
}

#[test]
fn an_explicit_start_names_its_playbook() {
    let s = setup(
        ResponseConfig {
            auto_start: false,
            ..ResponseConfig::default()
        },
        Domain::Cyber,
    );
    s.responses
        .incidents_changed(std::slice::from_ref(&s.incident));
    assert!(matches!(
        s.responses.run_view("inc-1"),
        Err(ResponseError::NoRun(_))
    ));
    let e = s.responses.start("inc-1", Some("nope"), "sam").unwrap_err();
    assert!(e.to_string().contains("no playbook \"nope\""), "{e}");
    let (run, started) = s
        .responses
        .start("inc-1", Some("onesec: hybrid intrusion response"), "sam")
        .unwrap();
    assert!(started && run.status == "running");
    let (_, again) = s.responses.start("inc-1", None, "sam").unwrap();
    assert!(!again);
    assert!(matches!(
        s.responses.start("inc-9", None, "sam"),
        Err(ResponseError::UnknownIncident(_))
    ));
}

#[test]
fn inputs_carry_the_incident_facts() {
    let inputs = playbook_inputs(&incident("inc-1", Domain::Hybrid));
    assert_eq!(inputs["__incident_id__"], "inc-1");
    assert_eq!(inputs["__src_ip__"], "10.0.0.9");
    assert!(inputs["__summary__"].contains("sites: EDI"));
}

#[test]
fn snake_case_names() {
    assert_eq!(snake("TaskCreated"), "task_created");
    assert_eq!(snake("Ok"), "ok");
}

#[test]
fn closing_or_calling_it_a_false_alarm_cancels_the_run_and_nothing_more_is_done() {
    for (how, category) in [("closed", None), ("false alarm", Some("false_alarm"))] {
        let s = setup(ResponseConfig::default(), Domain::Hybrid);
        let r = &s.responses;
        r.incidents_changed(std::slice::from_ref(&s.incident));
        let before = r.run_view("inc-1").unwrap();
        assert_eq!(before.status, "running");
        let actions = before.actions.len();
        assert_eq!(open_tasks(r, Team::Management).len(), 1, "{how}");
        match category {
            None => {
                r.change_state("inc-1", IncidentState::Closed, "ann", "handled on site")
                    .unwrap();
            }
            Some(c) => {
                r.classify("inc-1", None, Some(c), "ann", "test badge")
                    .unwrap();
            }
        }
        let after = r.run_view("inc-1").unwrap();
        assert_eq!(after.status, "cancelled", "{how}");
        assert!(
            after
                .status_detail
                .as_deref()
                .unwrap_or("")
                .starts_with("ann: "),
            "{how}: {:?}",
            after.status_detail
        );
        assert!(open_tasks(r, Team::Management).is_empty(), "{how}");
        assert!(after.tasks.iter().all(|t| t.state == "cancelled"), "{how}");
        // Hours later the worker ticks: the approval deadline passed, yet nothing runs.
        s.clock.advance(24 * 60 * MIN);
        r.tick();
        let later = r.run_view("inc-1").unwrap();
        assert_eq!(
            later.actions.len(),
            actions,
            "{how}: no action after cancel"
        );
        assert_eq!(later.status, "cancelled");
        assert!(matches!(
            r.decide(&before.tasks[0].id, true, "mia", "too late"),
            Err(ResponseError::TaskClosed(_))
        ));
        let (_, history) = r.case("inc-1").unwrap();
        let cancel = history.iter().find(|h| h.action == "playbook").unwrap();
        assert_eq!(cancel.actor, "ann");
        assert_eq!(cancel.to.as_deref(), Some("cancelled"));
        // Detection reporting it again starts nothing new.
        r.incidents_changed(std::slice::from_ref(&s.incident));
        assert_eq!(r.run_view("inc-1").unwrap().status, "cancelled");
    }
}

#[test]
fn a_false_alarm_without_a_run_gets_none() {
    let s = setup(ResponseConfig::default(), Domain::Hybrid);
    let r = &s.responses;
    r.classify("inc-1", None, Some("false_alarm"), "ann", "")
        .unwrap();
    r.incidents_changed(std::slice::from_ref(&s.incident));
    assert!(matches!(r.run_view("inc-1"), Err(ResponseError::NoRun(_))));
}

#[test]
fn evidence_is_attached_with_its_hash_and_recorded_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onesec.db");
    let incident = incident("inc-1", Domain::Physical);
    let mut store = store_with(&path, std::slice::from_ref(&incident));
    let mut event = onesec_event::Event::new(
        1_776_326_400_000,
        onesec_event::EventClass::PhysicalAccess,
        onesec_event::Activity::Logon,
    );
    event.id = 7;
    event.message = "door forced".into();
    store
        .commit(&DetectionBatch {
            events: vec![event],
            detected_upto: 7,
            ..Default::default()
        })
        .unwrap();
    let clock = Arc::new(ManualClock::new(5_000));
    let r = responses(&path, &ResponseConfig::default(), clock);
    let file = r
        .attach_file(
            "inc-1",
            "guard.txt",
            Some("text/plain"),
            b"door was open",
            "guard's note",
            "gus",
        )
        .unwrap();
    assert_eq!(file.kind, "file");
    assert_eq!(file.size, 13);
    assert_eq!(
        file.sha256.as_deref(),
        Some(crate::audit::sha256_hex(&[b"door was open"]).as_str())
    );
    let reference = r
        .attach_event("inc-1", 7, "the forced door", "gus")
        .unwrap();
    assert_eq!(reference.event_id, Some(7));
    assert!(reference.name.contains("door forced"), "{}", reference.name);
    for bad in ["", "../etc/passwd", "a\"b", "x\ny"] {
        assert!(
            matches!(
                r.attach_file("inc-1", bad, None, b"x", "", "gus"),
                Err(ResponseError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        r.attach_file("inc-1", "empty.bin", None, b"", "", "gus"),
        Err(ResponseError::Invalid(_))
    ));
    assert!(matches!(
        r.attach_event("inc-1", 99, "", "gus"),
        Err(ResponseError::Invalid(_))
    ));
    assert!(matches!(
        r.attach_event("inc-nope", 7, "", "gus"),
        Err(ResponseError::UnknownIncident(_))
    ));
    let listed = r.evidence("inc-1").unwrap();
    assert_eq!(listed, vec![file.clone(), reference]);
    let (_, bytes) = r.evidence_file("inc-1", file.seq).unwrap();
    assert_eq!(bytes, b"door was open");
    assert!(matches!(
        r.evidence_file("inc-1", 999),
        Err(ResponseError::UnknownEvidence(_))
    ));
    let (_, history) = r.case("inc-1").unwrap();
    let added: Vec<&str> = history
        .iter()
        .filter(|h| h.action == "evidence")
        .filter_map(|h| h.to.as_deref())
        .collect();
    assert_eq!(added, ["file guard.txt (13 bytes)", "event 7"]);
}

#[test]
fn a_merge_is_in_both_histories_and_cancels_the_merged_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onesec.db");
    let (a, b) = (
        incident("inc-a", Domain::Hybrid),
        incident("inc-b", Domain::Hybrid),
    );
    store_with(&path, &[a.clone(), b.clone()]);
    let r = responses(
        &path,
        &ResponseConfig::default(),
        Arc::new(ManualClock::new(0)),
    );
    r.incidents_changed(&[a, b]);
    let op = ManualOp::Merge {
        from: "inc-b".into(),
        into: "inc-a".into(),
    };
    r.regrouped(&op, &[], "ann", "same intruder").unwrap();
    for id in ["inc-a", "inc-b"] {
        let (_, history) = r.case(id).unwrap();
        let merge = history.iter().find(|h| h.action == "merge").unwrap();
        assert_eq!(
            (
                merge.from.as_deref(),
                merge.to.as_deref(),
                merge.actor.as_str()
            ),
            (Some("inc-b"), Some("inc-a"), "ann")
        );
    }
    assert_eq!(r.run_view("inc-b").unwrap().status, "cancelled");
    assert_eq!(r.run_view("inc-a").unwrap().status, "running");
}

#[test]
fn a_restricted_zone_and_a_terminated_person_make_the_case_more_urgent() {
    let directory = |status: &str, tags: &str| {
        let people = format!(
            "person_id,name,department,status,accounts,badges,home_site,email\n\
             p-1,Callum Reid,IT,{status},creid,B-1,EDI,c@example.org\n"
        );
        let sites = format!(
            "sites:\n  - id: EDI\n    name: Edinburgh\n    timezone: Europe/London\n    zones:\n      - {{ id: rnd, name: R&D, tags: [{tags}] }}\n"
        );
        let dir = onesec_directory::Directory::from_texts(Some(&people), Some(&sites), None)
            .expect("a valid directory");
        onesec_directory::SharedDirectory::new(std::path::PathBuf::new(), dir)
    };
    for (status, tags, expected, why) in [
        ("active", "office", 2, "high physical"),
        ("active", "restricted", 1, "restricted zone"),
        ("terminated", "office", 1, "terminated person"),
        ("leave", "office", 1, "person on leave"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onesec.db");
        let incident = incident("inc-1", Domain::Physical);
        store_with(&path, std::slice::from_ref(&incident));
        let clock = Arc::new(ManualClock::new(0));
        let r = responses(&path, &ResponseConfig::default(), clock)
            .with_directory(directory(status, tags));
        r.incidents_changed(std::slice::from_ref(&incident));
        let (case, history) = r.case("inc-1").unwrap();
        assert_eq!(case.case.priority.get(), expected, "{why}");
        if expected == 1 {
            assert!(
                history[0].comment.contains("at risk")
                    || history[0].comment.contains("critical asset"),
                "{why}: {}",
                history[0].comment
            );
        }
    }
}
