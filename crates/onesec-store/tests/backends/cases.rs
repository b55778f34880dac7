//! The response side: cases and history, state changes, escalations, runs, tasks, actions.

use crate::Kind;
use crate::detection::incident;
use onesec_incident::{Case, Category, HistoryEntry, IncidentState, SlaPolicy};
use onesec_store::{DetectionBatch, Store, StoreError, StoredAction, StoredRun, StoredTask};

crate::on_both_backends!(
    a_case_and_its_history_are_kept_and_detection_keeps_the_human_state,
    a_refused_state_change_writes_nothing,
    escalations_due_are_found_by_time,
    runs_tasks_and_actions_round_trip,
);

fn entry(id: &str, action: &str, to: &str) -> HistoryEntry {
    HistoryEntry {
        seq: 0,
        incident_id: id.into(),
        at_ms: 5,
        actor: "mia".into(),
        action: action.into(),
        from: None,
        to: Some(to.into()),
        comment: "why".into(),
    }
}

fn with_incident(kind: Kind) -> (Box<dyn Store>, crate::Backend) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let batch = DetectionBatch {
        incidents: vec![incident("i1", IncidentState::New)],
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    (store, backend)
}

fn a_case_and_its_history_are_kept_and_detection_keeps_the_human_state(kind: Kind) {
    let (mut store, _backend) = with_incident(kind);
    let sla = SlaPolicy::default();
    let mut case = Case::open(&incident("i1", IncidentState::New), &[], &sla, 0);
    store
        .put_case(&case, &[entry("i1", "opened", "it_soc")])
        .unwrap();
    case.category = Category::FalseAlarm;
    store
        .put_case(&case, &[entry("i1", "category", "false_alarm")])
        .unwrap();
    assert_eq!(store.case("i1").unwrap(), Some(case.clone()));
    case.state_changed(IncidentState::OnHold, "mia", 5);
    let held = store
        .change_state(
            "i1",
            IncidentState::OnHold,
            &case,
            &entry("i1", "state", "on_hold"),
        )
        .unwrap();
    assert_eq!(held.state, IncidentState::OnHold);
    // detection sends the incident again (a new alert joined): the state stays on hold
    let batch = DetectionBatch {
        incidents: vec![incident("i1", IncidentState::New)],
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    assert_eq!(
        store.incident("i1").unwrap().unwrap().state,
        IncidentState::OnHold
    );
    let history = store.history("i1").unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["opened", "category", "state"]);
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(history[2].actor, "mia");
    assert_eq!(history[2].to.as_deref(), Some("on_hold"));
    assert_eq!(history[2].from, None);
}

fn a_refused_state_change_writes_nothing(kind: Kind) {
    let (mut store, _backend) = with_incident(kind);
    let case = Case::open(
        &incident("i1", IncidentState::New),
        &[],
        &SlaPolicy::default(),
        0,
    );
    let closed = entry("i1", "state", "closed");
    store
        .change_state("i1", IncidentState::Closed, &case, &closed)
        .unwrap();
    let again = store.change_state("i1", IncidentState::InProgress, &case, &closed);
    assert!(matches!(again, Err(StoreError::State(_))), "{again:?}");
    assert_eq!(store.history("i1").unwrap().len(), 1);
    let missing = store.change_state("nope", IncidentState::Closed, &case, &closed);
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

fn escalations_due_are_found_by_time(kind: Kind) {
    let (mut store, _backend) = with_incident(kind);
    let case = Case::open(
        &incident("i1", IncidentState::New),
        &[],
        &SlaPolicy::default(),
        0,
    );
    store.put_case(&case, &[]).unwrap();
    let due = case.next_escalation_ms.unwrap();
    assert!(store.escalations_due(due - 1).unwrap().is_empty());
    assert_eq!(store.escalations_due(due).unwrap(), vec![case]);
}

fn runs_tasks_and_actions_round_trip(kind: Kind) {
    let (mut store, _backend) = with_incident(kind);
    let run = StoredRun {
        incident_id: "i1".into(),
        playbook_id: "playbook--1".into(),
        status: "running".into(),
        next_wakeup_ms: Some(100),
        updated_ms: 1,
        json: "{\"run\":1}".into(),
    };
    let task = |n: usize, team: &str, state: &str| StoredTask {
        id: format!("i1:{n}"),
        incident_id: "i1".into(),
        team: team.into(),
        state: state.into(),
        json: format!("{{\"n\":{n}}}"),
    };
    let action = StoredAction {
        incident_id: "i1".into(),
        at_ms: 1,
        json: "{\"a\":1}".into(),
    };
    let tasks: Vec<StoredTask> = (0..11).map(|n| task(n, "it_soc", "open")).collect();
    store
        .save_run(&run, &tasks, std::slice::from_ref(&action))
        .unwrap();
    store
        .save_run(
            &run,
            &[
                task(0, "it_soc", "approved"),
                task(11, "management", "open"),
            ],
            std::slice::from_ref(&action),
        )
        .unwrap();
    assert_eq!(store.run("i1").unwrap(), Some(run));
    assert_eq!(store.run("i2").unwrap(), None);
    let open = store.tasks(Some("it_soc"), true).unwrap();
    let ids: Vec<&str> = open.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 10);
    assert_eq!((ids[0], ids[9]), ("i1:1", "i1:10"), "numeric order");
    assert_eq!(store.tasks(None, false).unwrap().len(), 12);
    assert_eq!(store.tasks(Some("management"), true).unwrap().len(), 1);
    assert_eq!(store.actions("i1").unwrap().len(), 2);
    assert_eq!(store.runs_due(99).unwrap(), Vec::<String>::new());
    assert_eq!(store.runs_due(100).unwrap(), vec!["i1".to_string()]);
}
