//! A compliance officer's questions against a running onesec (the demo: a forced server-room
//! door at night, then a USB stick and a root login on a server in that room, in April 2026):
//! "show evidence for ISO 7.2 and 8.15 last quarter" (CLI), "which NIS2 deadlines are open
//! now?" (API), the GDPR draft filled, edited and submitted late with reasons, "who entered
//! the server room after hours?" (the report), the PDF report through `onesec report`, and a
//! scheduled report written to a folder.

mod common;

use common::{Onesec, Options, cli_as};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The demo's quarter: its events are on 16–17 April 2026.
const FROM: &str = "2026-04-01";
const TO: &str = "2026-06-30";

fn start(tmp: &std::path::Path) -> Onesec {
    let reports = tmp.join("reports");
    let config = tmp.join("onesec.toml");
    std::fs::write(
        &config,
        format!(
            "[compliance]\ntimezone = \"Europe/London\"\ndpo_contact = \"dpo@northwind.example\"\ncheck_secs = 1\n\n[[reports.schedule]]\nname = \"daily\"\nevery = \"daily\"\nformats = [\"html\", \"json\"]\nfolder = \"{}\"\n",
            reports.display()
        ),
    )
    .unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.join("data"),
        config: Some(config),
        demo: true,
        ..Options::default()
    });
    onesec.wait_for_stdout("demo: attack replayed");
    onesec.wait_for_detection(1);
    onesec
}

fn hybrid_incident(onesec: &Onesec) -> String {
    let incidents = onesec.get_json("/api/v1/incidents");
    let hybrid = incidents
        .as_array()
        .and_then(|all| all.iter().find(|i| i["domain"] == "hybrid"))
        .unwrap_or_else(|| panic!("the demo opens a hybrid incident: {incidents}"));
    hybrid["id"].as_str().unwrap().to_string()
}

fn send(onesec: &Onesec, method: Method, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", onesec.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .expect("server answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn line<'a>(coverage: &'a Value, id: &str) -> &'a Value {
    coverage["controls"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["control"]["id"] == id))
        .unwrap_or_else(|| panic!("{id} not in {coverage}"))
}

/// `onesec compliance --server ... coverage ARGS --json` as `token`: the answer.
fn coverage_cli(onesec: &Onesec, token: &str, args: &[&str]) -> Value {
    let mut all = vec!["compliance", "--server", &onesec.base, "coverage", "--json"];
    all.extend_from_slice(args);
    let output = cli_as(&all, Some(token));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_compliance_officer_gets_evidence_deadlines_drafts_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(tmp.path());
    let officer = onesec.issue_token("carol", "compliance_officer", &[]);
    let id = hybrid_incident(&onesec);

    // "Show evidence for ISO 7.2 and 8.15 last quarter" (the demo's quarter, by date).
    let coverage = coverage_cli(
        &onesec,
        &officer,
        &[
            "--from",
            FROM,
            "--to",
            TO,
            "--control",
            "iso27001.7.2",
            "--control",
            "iso27001.8.15",
        ],
    );
    assert_eq!(coverage["controls"].as_array().unwrap().len(), 2);
    let physical_entry = line(&coverage, "iso27001.7.2");
    assert_eq!(physical_entry["status"], "evidenced", "{physical_entry}");
    assert!(physical_entry["evidence_counts"]["alert"].as_u64().unwrap() >= 1);
    assert!(
        physical_entry["rules"].as_array().unwrap().len() >= 5,
        "door, badge and tailgate rules"
    );
    let suspend_badge = "action--20858dd3-2328-41d9-861a-3bc5e275d442";
    assert!(
        physical_entry["steps"].to_string().contains(suspend_badge),
        "{physical_entry}"
    );
    let logging = line(&coverage, "iso27001.8.15");
    assert_eq!(logging["status"], "evidenced", "{logging}");
    assert!(logging["evidence_counts"]["log"].as_u64().unwrap() >= 1);
    assert_eq!(logging["platform"], json!(["audit-log"]));

    // Device findings are evidence for the periods they were open in: the finding history
    // noted the demo's open findings when the service started.
    let coverage = coverage_cli(
        &onesec,
        &officer,
        &["--period", "last-7-days", "--control", "iso27001.5.17"],
    );
    // (The demo's devices have unknown credential states: authentication secrets, 5.17.)
    let credentials = line(&coverage, "iso27001.5.17");
    assert!(
        credentials["evidence_counts"]["finding"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{credentials}"
    );
    assert!(
        credentials["evidence"].to_string().contains("open since"),
        "{credentials}"
    );

    // Marked significant (NIS2) and a personal data breach (GDPR), aware the night of the attack.
    let mark = json!({"nis2_significant": true, "gdpr_breach": true,
                      "aware": "2026-04-17T07:30:00+01:00", "timezone": "Europe/London"});
    let (status, body) = send(
        &onesec,
        Method::POST,
        &format!("/api/v1/incidents/{id}/regulatory"),
        &officer,
        &mark,
    );
    assert_eq!(status, 200, "{body}");
    let manager = onesec.issue_token("dave", "manager", &[]);
    let (status, _) = send(
        &onesec,
        Method::POST,
        &format!("/api/v1/incidents/{id}/regulatory"),
        &manager,
        &mark,
    );
    assert_eq!(status, 403, "a manager reads deadlines but does not mark");

    // "Which NIS2 deadlines are open now?" Months later, every one is overdue and escalated.
    let deadline = Instant::now() + Duration::from_secs(60);
    let open = loop {
        let answer = onesec.request_as(
            Method::GET,
            "/api/v1/compliance/deadlines?regime=nis2&pending=true",
            Some(&manager),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let all = answer.body["deadlines"].as_array().unwrap().clone();
        if all.iter().all(|d| !d["escalated"].is_null()) || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stages: Vec<&str> = open.iter().map(|d| d["stage"].as_str().unwrap()).collect();
    assert_eq!(
        stages,
        [
            "nis2_early_warning",
            "nis2_notification",
            "nis2_progress_report"
        ]
    );
    assert_eq!(open[0]["due_local"], "2026-04-18T07:30:00+01:00");
    assert!(open.iter().all(|d| d["status"] == "overdue"));
    assert!(
        open.iter()
            .all(|d| d["escalated"]["recipients"] == json!(["management"])),
        "{open:?}"
    );
    // Escalated on the incident's history too, where the people working it see it.
    let detail = onesec.get_json(&format!("/api/v1/incidents/{id}"));
    let history = detail["history"].to_string();
    assert!(
        history.contains("regulatory_escalate") && history.contains("NIS2 early warning"),
        "{detail}"
    );

    // The GDPR draft: filled from the incident, completed by hand, submitted late with reasons.
    let path = format!("/api/v1/incidents/{id}/regulatory/gdpr_notification");
    let draft = onesec.request_as(Method::GET, &path, Some(&officer)).body;
    let field = |draft: &Value, key: &str| -> Value {
        draft["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        field(&draft, "dpo_contact")["value"],
        "dpo@northwind.example"
    );
    assert_eq!(field(&draft, "consequences")["source"], "missing");
    let (status, _) = send(
        &onesec,
        Method::POST,
        &format!("{path}/submit"),
        &officer,
        &json!({}),
    );
    assert_eq!(status, 409, "an incomplete draft is not submitted");
    let fill = json!({"fields": {
        "record_categories": "Badge and login records of one employee; HR files on srv-edi-fs1 (about 300 records)",
        "consequences": "Possible copy of HR files",
        "subject_categories": "Employees (about 120)",
        "measures": "Badge suspended, server isolated, files under review"}});
    let (status, edited) = send(&onesec, Method::POST, &path, &officer, &fill);
    assert_eq!(status, 200, "{edited}");
    assert_eq!(field(&edited, "consequences")["source"], "edited");
    let (status, body) = send(
        &onesec,
        Method::POST,
        &format!("{path}/submit"),
        &officer,
        &json!({}),
    );
    assert_eq!(status, 400, "late without reasons: {body}");
    let reasons = json!({"reference": "ICO-2026-0042", "late_reasons": "Scope of the copied files was only known after forensics"});
    let (status, submitted) = send(
        &onesec,
        Method::POST,
        &format!("{path}/submit"),
        &officer,
        &reasons,
    );
    assert_eq!(status, 201, "{submitted}");
    assert_eq!(submitted["late"], true);
    assert_eq!(submitted["draft_sha256"].as_str().unwrap().len(), 64);
    let text = onesec.request_as(Method::GET, &format!("{path}?format=text"), Some(&officer));
    assert!(
        text.body
            .as_str()
            .unwrap()
            .contains("Possible copy of HR files")
    );

    // "Who entered the server room after hours?" — the report of the quarter.
    let answer = onesec.request_as(
        Method::GET,
        &format!("/api/v1/reports?from={FROM}&to={TO}&format=json"),
        Some(&officer),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let report = answer.body;
    assert!(
        report["checkpoint"]["size"].as_u64().unwrap() > 0,
        "the report names its checkpoint"
    );
    let night: Vec<&Value> = report["access"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["anomaly"]
                .as_str()
                .is_some_and(|a| a.contains("after hours"))
        })
        .collect();
    assert!(!night.is_empty(), "{}", report["access"]);
    assert!(
        night.iter().any(|r| r["activity"] == "portal_forced"),
        "{night:?}"
    );
    assert_eq!(
        report["register"].as_array().unwrap().len(),
        2,
        "GDPR and NIS2 lines"
    );
    assert!(report["incidents"]["by_domain"]["hybrid"].as_u64().unwrap() >= 1);

    // A caller limited to a site names it, and sees only it.
    let edinburgh = onesec.issue_token("erin", "auditor", &["EDI"]);
    let all_sites = onesec.request_as(Method::GET, "/api/v1/reports?format=json", Some(&edinburgh));
    assert_eq!(all_sites.status, 403, "{}", all_sites.body);
    let other = onesec.request_as(
        Method::GET,
        "/api/v1/reports?format=json&site=LON",
        Some(&edinburgh),
    );
    assert_eq!(other.status, 403);
    let own = onesec.request_as(
        Method::GET,
        &format!("/api/v1/reports?format=json&site=EDI&from={FROM}&to={TO}"),
        Some(&edinburgh),
    );
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["site"], "EDI");

    // The same as PDF through the CLI; the scheduled daily report in its folder.
    let pdf = tmp.path().join("q2.pdf");
    let output = cli_as(
        &[
            "report",
            "--server",
            &onesec.base,
            "--from",
            FROM,
            "--to",
            TO,
            "--out",
            pdf.to_str().unwrap(),
        ],
        Some(&officer),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let reports = tmp.path().join("reports");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&reports).map(|d| d.count()).unwrap_or(0) < 2
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut names: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("daily-") && names[0].ends_with(".html"),
        "{names:?}"
    );
}
