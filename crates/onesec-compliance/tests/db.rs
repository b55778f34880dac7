//! The compliance database keeps marks, drafts, submissions and escalations across a
//! reopen, and escalates each overdue deadline once.

use onesec_compliance::{
    ComplianceDb, Escalation, Mark, Stage, Submission, deadlines, due_escalations,
};

fn mark() -> Mark {
    Mark {
        incident_id: "inc-1".into(),
        nis2_significant: true,
        gdpr_breach: false,
        aware_ms: 0,
        timezone: "UTC".into(),
        cross_border: Some(false),
        marked_by: "carol".into(),
        marked_ms: 10,
    }
}

#[test]
fn marks_submissions_and_escalations_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compliance.db");
    {
        let db = ComplianceDb::open(&path).expect("open");
        db.put_mark(&mark()).expect("mark");
        db.add_submission(&Submission {
            incident_id: "inc-1".into(),
            stage: Stage::Nis2EarlyWarning,
            submitted_ms: 3_600_000,
            submitted_by: "carol".into(),
            reference: Some("CSIRT-2026-17".into()),
            late: false,
            late_reasons: None,
            draft_sha256: "ab".into(),
        })
        .expect("submission");
    }
    let db = ComplianceDb::open(&path).expect("reopen");
    assert_eq!(db.mark("inc-1").expect("read"), Some(mark()));
    let submissions = db.submissions(Some("inc-1")).expect("submissions");
    assert_eq!(submissions.len(), 1);

    // Four days after awareness: the early warning went out, the notification is overdue.
    let now = 4 * 86_400_000;
    let list = deadlines(&mark(), &submissions, None, now).expect("deadlines");
    let managers = vec!["management".to_string()];
    let first = due_escalations(&list, &db.escalations().expect("list"), &managers, now);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].stage, Stage::Nis2Notification);
    assert!(db.add_escalation(&first[0]).expect("add"));
    // The next tick finds it escalated already.
    let again: Vec<Escalation> = due_escalations(
        &list,
        &db.escalations().expect("list"),
        &managers,
        now + 60_000,
    );
    assert!(again.is_empty());
    assert!(!db.add_escalation(&first[0]).expect("add twice"));
}

#[test]
fn an_older_data_folder_gains_the_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compliance.db");
    // A database that exists but has none of our tables (as left by an older version).
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch("CREATE TABLE other (x INTEGER);"))
        .expect("old db");
    let db = ComplianceDb::open(&path).expect("open");
    assert!(db.marks().expect("marks").is_empty());
    db.put_mark(&mark()).expect("mark");
    assert_eq!(db.marks().expect("marks").len(), 1);
}

fn exercise_result() -> onesec_compliance::ExerciseResult {
    let text = include_str!("data/exercise-result.json");
    serde_json::from_str(text).expect("the fixture is an exercise result")
}

#[test]
fn exercise_results_are_kept_by_run_and_listed_by_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compliance.db");
    let first = exercise_result();
    assert_eq!(first.validate(), Ok(()));
    let mut second = first.clone();
    second.run_id = "usb-drop-1764244800".into();
    second.ran_ms = first.ran_ms + 86_400_000;
    {
        let db = ComplianceDb::open(&path).expect("open");
        db.put_exercise(&first).expect("first");
        db.put_exercise(&second).expect("second");
        // Recording the same run again replaces it instead of adding a second row.
        let mut again = first.clone();
        again.passed = true;
        db.put_exercise(&again).expect("again");
    }
    let db = ComplianceDb::open(&path).expect("reopen");
    let all = db.exercises(0, i64::MAX).expect("all");
    assert_eq!(
        all.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["badge-cloning-1764158400", "usb-drop-1764244800"]
    );
    assert!(all[0].passed, "the second recording replaced the first");
    // The period is half-open and filters by when the run happened.
    let day_one = db
        .exercises(first.ran_ms, second.ran_ms)
        .expect("first day");
    assert_eq!(day_one.len(), 1);
    assert_eq!(day_one[0].run_id, first.run_id);
}

fn finding(device: &str, check: &str) -> onesec_compliance::FindingRecord {
    onesec_compliance::FindingRecord {
        device: device.into(),
        check: check.into(),
        severity: "high".into(),
        site: Some("HQ".into()),
        title: format!("{check} on {device}"),
        controls: vec!["iso27001.8.8".into()],
    }
}

#[test]
fn the_finding_history_keeps_when_each_finding_was_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compliance.db");
    let day = 86_400_000;
    {
        let mut db = ComplianceDb::open(&path).expect("open");
        let both = [
            finding("cam-1", "VULN-KEV"),
            finding("cam-2", "CRED-DEFAULT"),
        ];
        assert_eq!(db.observe_findings(&both, day).expect("day 1"), (2, 0));
        assert_eq!(db.observe_findings(&both, 2 * day).expect("day 2"), (0, 0));
        // cam-1 was patched: its span ends on day 3.
        let cam2 = [finding("cam-2", "CRED-DEFAULT")];
        assert_eq!(db.observe_findings(&cam2, 3 * day).expect("day 3"), (0, 1));
        // It comes back on day 10: a second span, the first one stays as it was.
        assert_eq!(
            db.observe_findings(&both, 10 * day).expect("day 10"),
            (1, 0)
        );
    }
    let db = ComplianceDb::open(&path).expect("reopen");
    let all = db.finding_spans(0, i64::MAX).expect("all");
    let cam1: Vec<_> = all.iter().filter(|s| s.finding.device == "cam-1").collect();
    assert_eq!(cam1.len(), 2);
    assert_eq!(
        (cam1[0].first_ms, cam1[0].resolved_ms),
        (day, Some(3 * day))
    );
    assert_eq!((cam1[1].first_ms, cam1[1].resolved_ms), (10 * day, None));
    let cam2: Vec<_> = all.iter().filter(|s| s.finding.device == "cam-2").collect();
    assert_eq!(
        (cam2.len(), cam2[0].first_ms, cam2[0].resolved_ms),
        (1, day, None),
        "open since day 1, one span"
    );
    // Days 4–9: only cam-2's finding was open.
    let middle = db.finding_spans(4 * day, 9 * day).expect("middle");
    assert_eq!(middle.len(), 1);
    assert_eq!(middle[0].finding.device, "cam-2");
    let evidence = onesec_compliance::span_evidence(
        &middle,
        onesec_compliance::Period {
            from_ms: 4 * day,
            to_ms: 9 * day,
        },
    );
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].control, "iso27001.8.8");
    assert_eq!(evidence[0].at_ms, 4 * day);
}
