//! Drafts filled from a hybrid incident (forced server-room door, then USB storage on a
//! server there): every stage holds the contents the regulation asks for.

use onesec_compliance::{Draft, Facts, FieldSource, Mark, Stage};
use onesec_incident::{Alert, Case, Category, Incident, SlaPolicy};
use serde::Deserialize;

#[derive(Deserialize)]
struct Data {
    incident: Incident,
    alerts: Vec<Alert>,
    measures: Vec<String>,
}

fn data() -> Data {
    let text = include_str!("data/hybrid_incident.json");
    serde_json::from_str(text).expect("tests/data/hybrid_incident.json")
}

fn mark() -> Mark {
    Mark {
        incident_id: "inc-7f3a".into(),
        nis2_significant: true,
        gdpr_breach: true,
        aware_ms: 1_774_739_700_000,
        timezone: "Europe/Brussels".into(),
        cross_border: None,
        marked_by: "carol".into(),
        marked_ms: 1_774_739_800_000,
    }
}

fn case_for(incident: &Incident) -> Case {
    let mut case = Case::open(incident, &[], &SlaPolicy::default(), incident.first_ms);
    case.category = Category::Intrusion;
    case
}

#[test]
fn the_nis2_notification_holds_malice_impact_and_indicators() {
    let data = data();
    let case = case_for(&data.incident);
    let facts = Facts {
        incident: &data.incident,
        case: Some(&case),
        alerts: &data.alerts,
        measures: &data.measures,
        dpo_contact: Some("dpo@northwind.example, +32 2 555 0100"),
    };
    let draft = Draft::fill(Stage::Nis2Notification, &mark(), &facts, 1);
    let value = |key: &str| draft.value(key).expect(key).to_string();
    assert!(
        value("summary").contains("hybrid incident"),
        "{}",
        value("summary")
    );
    assert!(value("summary").contains("hq-server-room"));
    assert_eq!(value("aware_at"), "2026-03-29T00:15:00+01:00");
    assert_eq!(value("suspected_malicious"), "Yes: classified as intrusion");
    assert!(value("severity_impact").starts_with("Severity high"));
    assert!(value("severity_impact").contains("1 person(s), 1 device(s)"));
    let iocs = value("indicators");
    for ioc in [
        "10.20.30.41",
        "srv-edi-fs1",
        "root",
        "0x4F21A9",
        "door-sr-1",
    ] {
        assert!(iocs.contains(ioc), "{ioc} missing from {iocs}");
    }
    // Nobody has judged the cross-border impact yet: the draft says so instead of guessing.
    assert_eq!(draft.missing(), ["cross_border"]);
}

#[test]
fn the_gdpr_notification_names_people_dpo_and_measures_and_leaves_judgement_to_people() {
    let data = data();
    let case = case_for(&data.incident);
    let facts = Facts {
        incident: &data.incident,
        case: Some(&case),
        alerts: &data.alerts,
        measures: &data.measures,
        dpo_contact: Some("dpo@northwind.example"),
    };
    let mut draft = Draft::fill(Stage::GdprNotification, &mark(), &facts, 1);
    assert!(
        draft
            .value("subject_categories")
            .unwrap_or_default()
            .contains("At least 1 person")
    );
    assert_eq!(draft.value("dpo_contact"), Some("dpo@northwind.example"));
    assert!(
        draft
            .value("measures")
            .unwrap_or_default()
            .contains("badge 0x4F21A9 suspended")
    );
    assert_eq!(draft.missing(), ["record_categories", "consequences"]);

    draft
        .edit(
            "consequences",
            "Possible copy of HR files from the file server",
            "carol",
            2,
        )
        .expect("edit");
    assert!(draft.edit("colour", "x", "carol", 3).is_err());
    // Filled again from newer incident data, the edited field stays as carol wrote it.
    let again = draft.refill(&mark(), &facts, 4);
    let consequences = again
        .fields
        .iter()
        .find(|f| f.key == "consequences")
        .expect("field");
    assert_eq!(consequences.source, FieldSource::Edited);
    assert_eq!(consequences.edited_by.as_deref(), Some("carol"));
    assert!(again.to_text().contains("Possible copy of HR files"));
    assert!(
        again.to_text().contains("(to be completed)"),
        "record categories still empty"
    );
}

#[test]
fn the_final_report_gives_the_detections_as_root_cause_to_confirm() {
    let data = data();
    let facts = Facts {
        incident: &data.incident,
        case: None,
        alerts: &data.alerts,
        measures: &data.measures,
        dpo_contact: None,
    };
    let draft = Draft::fill(Stage::Nis2FinalReport, &mark(), &facts, 1);
    let cause = draft.value("root_cause").unwrap_or_default();
    assert!(cause.contains("Restricted door forced, then host access in the zone"));
    assert!(cause.contains("confirm the root cause"));
    let description = draft.value("description").unwrap_or_default();
    assert!(
        description.contains("USB mass storage on a server (severity low)"),
        "{description}"
    );
    // Without a case the malice question falls back on the detections' severity.
    let early = Draft::fill(Stage::Nis2EarlyWarning, &mark(), &facts, 1);
    assert!(
        early
            .value("suspected_malicious")
            .unwrap_or_default()
            .starts_with("Suspected")
    );
}
