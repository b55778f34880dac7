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
