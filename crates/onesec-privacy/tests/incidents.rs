//! Incidents expire too (docs/privacy.md, "Incidents"): a retention run removes exactly the
//! finished, unheld incidents inactive for longer than `incident_days`, with everything the
//! store keeps for them (alerts, case and history, playbook run, tasks and actions, evidence
//! with attached files, merges by hand), and keeps open, held and recently active ones; on
//! SQLite and on PostgreSQL.

mod fixture;

use fixture::{alert, closed, contains, event, folder_bytes, incident};
use onesec_event::EventId;
use onesec_incident::{Case, HistoryEntry, Incident, IncidentState, ManualOp, SlaPolicy};
use onesec_privacy::policy::DAY_MS as DAY;
use onesec_privacy::{RetentionSettings, holds, run};
use onesec_store::{
    DetectionBatch, EvidenceItem, ManualRecord, Retention, SqliteStore, Store, StoredAction,
    StoredRun, StoredTask,
};

/// Periods are counted back from day 60.
const NOW_MS: i64 = 60 * DAY;

fn settings() -> RetentionSettings {
    let settings: RetentionSettings =
        toml::from_str("incident_days = 20\ndefault_days = 10").unwrap();
    settings.validate().unwrap();
    settings
}

fn state(mut incident: Incident, state: IncidentState) -> Incident {
    incident.state = state;
    incident
}

fn merged(id: &str, into: &str) -> Incident {
    let mut incident = state(incident(id, "none", 2), IncidentState::Merged);
    incident.alert_ids.clear();
    incident.merged_into = Some(into.into());
    incident
}

fn merge_op(from: &str, into: &str) -> ManualRecord {
    ManualRecord {
        seq: 0,
        at_ms: 2 * DAY,
        actor: "analyst".into(),
        comment: String::new(),
        op: ManualOp::Merge {
            from: from.into(),
            into: into.into(),
        },
    }
}

fn history(incident: &str, day: i64) -> HistoryEntry {
    HistoryEntry {
        seq: 0,
        incident_id: incident.into(),
        at_ms: day * DAY,
        actor: "analyst".into(),
        action: "comment".into(),
        from: None,
        to: None,
        comment: "called the guard".into(),
    }
}

/// Events 1..=30 (days 0 to 3, all past `default_days`) and the incidents of the scenario:
///
/// | incident | state | last activity | cites | fate |
/// |---|---|---|---|---|
/// | `old` | closed | day 3 (case, run, evidence) | 1, 2; evidence 4 | removed |
/// | `merged-gone` | merged into `old` | day 2 | | removed with `old` |
/// | `old-open` | new | day 2 | 5 | kept: open |
/// | `held` | closed, legal hold | day 2 | 6 | kept: held |
/// | `revived` | closed | day 45 (a comment) | 7 | kept: recent activity |
/// | `merged-kept` | merged into `revived` | day 2 | | kept with `revived` |
/// | `recent` | resolved | day 50 | 8 | kept: recent |
///
/// and two alerts of no incident, one of day 1 (removed) and one of day 55 (kept).
fn scenario<S: Store + Retention>(store: &mut S) {
    let mut loose_old = alert("a-loose-old", "", vec![9]);
    loose_old.incident_id = None;
    loose_old.last_ms = DAY;
    let mut loose_new = alert("a-loose-new", "", vec![10]);
    loose_new.incident_id = None;
    loose_new.last_ms = 55 * DAY;
    let old = closed(incident("old", "a-old", 2));
    store
        .commit(&DetectionBatch {
            events: (1..=30).map(event).collect(),
            alerts: vec![
                alert("a-old", "old", vec![1, 2]),
                alert("a-old-open", "old-open", vec![5]),
                alert("a-held", "held", vec![6]),
                alert("a-revived", "revived", vec![7]),
                alert("a-recent", "recent", vec![8]),
                loose_old,
                loose_new,
            ],
            incidents: vec![
                old.clone(),
                merged("merged-gone", "old"),
                incident("old-open", "a-old-open", 2),
                closed(incident("held", "a-held", 2)),
                closed(incident("revived", "a-revived", 2)),
                merged("merged-kept", "revived"),
                state(incident("recent", "a-recent", 50), IncidentState::Resolved),
            ],
            manual_ops: vec![
                merge_op("merged-gone", "old"),
                merge_op("merged-kept", "revived"),
            ],
            detected_upto: 30,
            ..DetectionBatch::default()
        })
        .unwrap();
    let case = Case::open(&old, &[], &SlaPolicy::default(), 2 * DAY);
    store.put_case(&case, &[history("old", 3)]).unwrap();
    let revived = store.incident("revived").unwrap().unwrap();
    let case = Case::open(&revived, &[], &SlaPolicy::default(), 2 * DAY);
    store.put_case(&case, &[history("revived", 45)]).unwrap();
    store
        .save_run(
            &StoredRun {
                incident_id: "old".into(),
                playbook_id: "pb".into(),
                status: "completed".into(),
                next_wakeup_ms: None,
                updated_ms: 3 * DAY,
                json: "{}".into(),
            },
            &[StoredTask {
                id: "old:1".into(),
                incident_id: "old".into(),
                team: "guards".into(),
                state: "approved".into(),
                json: "{}".into(),
            }],
            &[StoredAction {
                incident_id: "old".into(),
                at_ms: 3 * DAY,
                json: "{}".into(),
            }],
        )
        .unwrap();
    let mut item = EvidenceItem {
        seq: 0,
        incident_id: "old".into(),
        kind: "file".into(),
        name: "statement.txt".into(),
        media_type: None,
        size: 22,
        sha256: None,
        event_id: None,
        note: String::new(),
        added_by: "analyst".into(),
        added_ms: 3 * DAY,
    };
    store
        .add_evidence(&item, Some(b"AttachedStatementMarker"))
        .unwrap();
    item.kind = "event".into();
    item.event_id = Some(4);
    store.add_evidence(&item, None).unwrap();
    holds::place(store, "held", "litigation", "dpo", DAY).unwrap();
}

fn stored_ids<S: Store>(store: &S, ids: &[EventId]) -> Vec<EventId> {
    let mut found: Vec<EventId> = store
        .events_by_ids(ids)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    found.sort_unstable();
    found
}

const KEPT: [&str; 5] = ["old-open", "held", "revived", "merged-kept", "recent"];

/// The behaviour, on any store that implements retention.
fn expired_closed_unheld_incidents_go_with_everything_kept_for_them<S: Store + Retention>(
    store: &mut S,
) {
    scenario(store);
    let settings = settings();
    let dry = run(store, None, &settings, NOW_MS, true).unwrap();
    assert_eq!(dry.incidents_removed, vec!["merged-gone", "old"]);
    assert!(
        store.incident("old").unwrap().is_some(),
        "a dry run removes nothing"
    );

    let report = run(store, None, &settings, NOW_MS, false).unwrap();
    assert_eq!(report.incidents_removed, vec!["merged-gone", "old"]);
    let rows = &report.incident_rows_removed;
    assert_eq!(
        (rows.incidents, rows.alerts, rows.cases, rows.history),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (rows.playbook_runs, rows.tasks, rows.actions, rows.evidence),
        (1, 1, 1, 2)
    );
    assert_eq!(
        rows.manual_ops, 1,
        "the merge into `old` named only removed incidents"
    );
    assert_eq!(report.unattached_alerts_removed, 1);
    assert_eq!(report.incidents_kept_open, 1);
    assert_eq!(report.incidents_kept_for_legal_hold, 1);
    assert!(report.changed_anything());

    for gone in ["old", "merged-gone"] {
        assert!(store.incident(gone).unwrap().is_none(), "{gone}");
        assert!(store.alerts(Some(gone), 100).unwrap().is_empty());
        assert!(store.case(gone).unwrap().is_none());
        assert!(store.history(gone).unwrap().is_empty());
        assert!(store.run(gone).unwrap().is_none());
        assert!(store.actions(gone).unwrap().is_empty());
        assert!(store.evidence(gone).unwrap().is_empty());
    }
    assert!(store.tasks(None, false).unwrap().is_empty());
    for kept in KEPT {
        assert!(store.incident(kept).unwrap().is_some(), "{kept} stays");
    }
    assert_eq!(store.history("revived").unwrap().len(), 1);
    let ops = store.manual_ops().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(
        ops[0].op,
        ManualOp::Merge {
            from: "merged-kept".into(),
            into: "revived".into()
        }
    );
    let alerts: Vec<String> = store
        .alerts(None, 100)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(
        alerts.contains(&"a-loose-new".to_string()) && !alerts.contains(&"a-loose-old".to_string())
    );
    // The removed incident's events went with it; what kept incidents cite stays.
    assert_eq!(stored_ids(store, &[1, 2, 4, 5, 6, 7, 8]), vec![5, 6, 7, 8]);

    let again = run(store, None, &settings, NOW_MS, false).unwrap();
    assert!(again.incidents_removed.is_empty());
    assert!(!again.changed_anything(), "{again:?}");

    // Lifting the hold lets the closed incident go at the next run; the open one stays.
    holds::lift(store, "held").unwrap();
    let freed = run(store, None, &settings, NOW_MS, false).unwrap();
    assert_eq!(freed.incidents_removed, vec!["held"]);
    assert!(store.incident("old-open").unwrap().is_some());
    assert_eq!(stored_ids(store, &[5, 6]), vec![5]);
}

#[test]
fn on_sqlite_expired_incidents_go_and_leave_no_byte_of_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    expired_closed_unheld_incidents_go_with_everything_kept_for_them(&mut store);
    drop(store);
    let bytes = folder_bytes(dir.path());
    assert!(
        !contains(&bytes, "AttachedStatementMarker"),
        "secure delete and checkpoint"
    );
}

#[test]
fn without_incident_days_no_incident_expires() {
    let mut store = SqliteStore::in_memory().unwrap();
    scenario(&mut store);
    let settings: RetentionSettings = toml::from_str("default_days = 10").unwrap();
    let report = run(&mut store, None, &settings, NOW_MS, false).unwrap();
    assert!(report.incidents_removed.is_empty());
    assert_eq!(report.unattached_alerts_removed, 0);
    assert!(store.incident("old").unwrap().is_some());
    assert_eq!(
        stored_ids(&store, &[1, 2, 4]),
        vec![1, 2, 4],
        "cited by kept incidents"
    );
}

#[test]
fn on_postgres_expired_closed_unheld_incidents_go_with_everything_kept_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_schema, mut store)) = fixture::postgres("privacy_incidents", dir.path()) else {
        return;
    };
    expired_closed_unheld_incidents_go_with_everything_kept_for_them(&mut store);
}
