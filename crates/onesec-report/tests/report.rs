//! A unified report built from a small set of files, rendered in every format; the PDF's text
//! is read back with lopdf.

use chrono_tz::Tz;
use onesec_compliance::mapping::{platform_mappings, rule_mapping};
use onesec_compliance::{Catalogue, Mark, Period, coverage, deadlines};
use onesec_event::Event;
use onesec_incident::{Case, Category, Incident, SlaPolicy};
use onesec_report::{
    CheckpointRef, Format, Inputs, PeopleInReports, Report, SitePosture, WorkHours, build, render,
};

const FROM: i64 = 1_774_652_400_000; // 2026-03-28T00:00:00+01:00
const TO: i64 = 1_774_821_599_999; // 2026-03-29T23:59:59.999+02:00

fn incident() -> Incident {
    serde_json::from_value(serde_json::json!({
        "id": "inc-7f3a", "title": "Restricted door forced, then USB storage on a server in the zone",
        "domain": "hybrid", "priority": "high", "state": "resolved", "alert_ids": ["al-door"],
        "active_alerts": 1,
        "entities": {"persons": ["p-1042"], "sites": ["hq"], "zones": ["hq-server-room"], "devices": [],
                     "hosts": [], "portals": [], "accounts": [], "badges": [], "src_ips": []},
        "first_ms": 1_774_738_800_000_i64, "last_ms": 1_774_739_400_000_i64
    }))
    .expect("incident")
}

fn events() -> Vec<Event> {
    include_str!("data/access.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("tests/data/access.jsonl"))
        .collect()
}

fn report_with(results: &[onesec_compliance::ExerciseResult]) -> Report {
    report_speaking_of_people(results, PeopleInReports::Named)
}

fn report_speaking_of_people(
    results: &[onesec_compliance::ExerciseResult],
    people: PeopleInReports,
) -> Report {
    let tz: Tz = "Europe/Brussels".parse().expect("tz");
    let incident = incident();
    let mut case = Case::open(
        &incident,
        &[],
        &SlaPolicy::default(),
        incident.first_ms + 30_000,
    );
    case.category = Category::Intrusion;
    case.state_changed(
        onesec_incident::IncidentState::Acknowledged,
        "bob",
        incident.first_ms + 330_000,
    );
    case.state_changed(
        onesec_incident::IncidentState::Resolved,
        "bob",
        incident.first_ms + 7_230_000,
    );
    let incidents = vec![(incident, Some(case))];
    let mut mappings = vec![rule_mapping(
        "door",
        "Door forced",
        &["iso27001.7.2".to_string()],
    )];
    mappings.extend(platform_mappings());
    let period = Period {
        from_ms: FROM,
        to_ms: TO,
    };
    let view = coverage(&Catalogue::builtin(), &mappings, &[], period, &[], None);
    let mark = Mark {
        incident_id: "inc-7f3a".into(),
        nis2_significant: false,
        gdpr_breach: true,
        aware_ms: 1_774_739_700_000,
        timezone: "Europe/Brussels".into(),
        cross_border: None,
        marked_by: "carol".into(),
        marked_ms: 1_774_739_800_000,
    };
    let clocks = deadlines(&mark, &[], None, TO).expect("deadlines");
    let events = events();
    let inputs = Inputs {
        people,
        title: "Quarterly security report".into(),
        site: Some("hq".into()),
        period,
        timezone: tz,
        work_hours: WorkHours::default(),
        generated_ms: TO,
        generated_by: "carol".into(),
        checkpoint: Some(CheckpointRef {
            size: 4711,
            root: "ab".repeat(32),
            time_ms: TO - 5,
            signature: "cd".repeat(64),
        }),
        incidents: &incidents,
        access_events: &events,
        findings: &[],
        postures: vec![SitePosture {
            site: "hq".into(),
            score: 72.5,
            devices: 14,
        }],
        coverage: &view,
        marks: std::slice::from_ref(&mark),
        submissions: &[],
        deadlines: &clocks,
        exercise_results: results,
    };
    build(&inputs)
}

fn report() -> Report {
    report_with(&[])
}

/// A drill recorded on Friday 27 March 2026, 15:00 Brussels time.
fn drill_result() -> onesec_compliance::ExerciseResult {
    serde_json::from_value(serde_json::json!({
        "run_id": "usb-drop-1774620000",
        "scenario": "USB drop after tailgating",
        "ran_ms": 1_774_620_000_000_i64,
        "scenario_from_ms": 1_746_403_200_000_i64,
        "scenario_to_ms": 1_746_410_400_000_i64,
        "passed": false,
        "injects_scored": 2,
        "detections_expected": 3,
        "detections_on_time": 2,
        "detections_missed": 1,
        "false_positives": 1,
        "mean_detect_ms": 95_000,
        "slowest_detect_ms": 150_000,
        "tasks_on_time": 4,
        "tasks_expected": 5,
        "teams": ["it_soc", "guards"],
        "improvements": ["onesec_usb_after_badge never fired"],
        "problems": []
    }))
    .expect("an exercise result")
}

#[test]
fn the_report_answers_who_entered_the_server_room_after_hours() {
    let report = report();
    // The lobby is not restricted; the three server-room events are.
    assert_eq!(report.access.rows.len(), 3);
    let after_hours: Vec<&str> = report
        .access
        .rows
        .iter()
        .filter(|r| r.after_hours && r.activity == "access_granted")
        .map(|r| r.who.as_str())
        .collect();
    // Saturday 28 March 08:30 is a weekend; Sunday 00:03 is night.
    assert_eq!(after_hours, ["Ada Admin (p-2001)", "Mallory Moe (p-1042)"]);
    let mallory = &report.access.rows[2];
    assert_eq!(
        mallory.anomaly.as_deref(),
        Some("person terminated, after hours")
    );
    assert_eq!(
        report.access.rows[1].anomaly.as_deref(),
        Some("door forced, after hours")
    );
    assert_eq!(report.incidents.rows[0].detect_ms, Some(30_000));
    assert_eq!(report.incidents.rows[0].acknowledge_ms, Some(300_000));
    assert_eq!(report.incidents.median_resolve_ms, Some(7_200_000));
    assert_eq!(report.register.len(), 1);
    assert!(report.register[0].reports[0].starts_with("gdpr_notification: due 2026-04-01"));
    assert!(report.exercises.note.starts_with("No exercise results"));
}

#[test]
fn with_pseudonymisation_the_report_counts_people_per_door_and_names_no_one() {
    let report = report_speaking_of_people(&[], PeopleInReports::Aggregated);
    assert!(report.access.rows.is_empty(), "no line per access");
    assert_eq!(report.access.after_hours_entries, 2);
    let doors = &report.access.by_door;
    assert_eq!(doors.len(), 1, "{doors:?}");
    let door = &doors[0];
    assert_eq!(
        (door.zone.as_str(), door.door.as_str()),
        ("hq-server-room", "door-sr-1")
    );
    // Ada and Mallory badged in; the forced door names no one.
    assert_eq!((door.events, door.people), (3, 2));
    assert_eq!((door.after_hours_entries, door.anomalies), (2, 3));
    for format in [Format::Html, Format::Csv, Format::Json] {
        let bytes = render(&report, format).expect("render");
        let text = String::from_utf8_lossy(&bytes);
        for name in ["Ada", "Mallory", "p-2001", "p-1042 (", "0x11AA"] {
            assert!(!text.contains(name), "{format:?} names {name}");
        }
        assert!(text.contains("door-sr-1"), "{format:?} counts per door");
    }
}

#[test]
fn the_pdf_has_the_expected_text() {
    let bytes = render(&report(), Format::Pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    let doc = lopdf::Document::load_mem(&bytes).expect("lopdf reads it");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).expect("text");
    // Long lines wrap at spaces: read the text as one line.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Quarterly security report",
        "Built from audit-log checkpoint 4711",
        "Access to restricted zones",
        "Mallory Moe (p-1042)",
        "person terminated, after hours",
        "Breach register (GDPR Art. 33(5))",
        "No exercise results in this period",
        "Control coverage",
        "Incidents by domain",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not in the PDF text:\n{text}"
        );
    }
}

#[test]
fn html_csv_and_json_say_the_same_and_name_the_checkpoint() {
    let report = report();
    let html = String::from_utf8(render(&report, Format::Html).expect("html")).expect("utf-8");
    assert!(html.contains("<svg") && html.contains("Incidents per day"));
    assert!(!html.contains("<script"));
    assert!(html.contains("Built from audit-log checkpoint 4711"));
    let csv = String::from_utf8(render(&report, Format::Csv).expect("csv")).expect("utf-8");
    assert!(csv.contains("Access to restricted zones,row,"), "{csv}");
    assert!(csv.contains("Mallory Moe (p-1042)"));
    let json: serde_json::Value =
        serde_json::from_slice(&render(&report, Format::Json).expect("json")).expect("json");
    assert_eq!(json["checkpoint"]["size"], 4711);
    assert_eq!(json["access"]["after_hours_entries"], 2);
}

#[test]
fn recorded_drills_are_the_exercise_results_in_every_format() {
    let report = report_with(&[drill_result()]);
    let row = &report.exercises.results[0];
    assert_eq!(row.scenario, "USB drop after tailgating");
    assert_eq!(row.verdict, "failed");
    assert_eq!(row.detections, "2 of 3");
    assert_eq!(row.tasks, "4 of 5");
    assert_eq!(row.ran, "2026-03-27 15:00:00 +01:00");
    assert!(
        report
            .exercises
            .note
            .starts_with("1 drill run(s) recorded, 1 failed"),
        "{}",
        report.exercises.note
    );
    let bytes = render(&report, Format::Pdf).expect("pdf");
    let doc = lopdf::Document::load_mem(&bytes).expect("lopdf reads it");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).expect("text");
    let compact: String = text.split_whitespace().collect();
    for expected in [
        "USB drop after tailgating",
        "detected on time",
        "1 min 35 s",
        "onesec_usb_after_badge never fired",
    ] {
        let expected: String = expected.split_whitespace().collect();
        assert!(compact.contains(&expected), "{expected:?} not in:\n{text}");
    }
    let csv = String::from_utf8(render(&report, Format::Csv).expect("csv")).expect("utf-8");
    assert!(
        csv.contains("Exercises,row,USB drop after tailgating,2026-03-27 15:00:00 +01:00,failed,2 of 3,1,1,1 min 35 s,4 of 5"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&render(&report, Format::Json).expect("json")).expect("json");
    assert_eq!(json["exercises"]["results"][0]["missed"], 1);
}
