//! `onesec drill` end to end: the generator is deterministic for a seed and feeds the syslog and
//! HTTP listeners of a running onesec; `drill run` scores a shipped scenario and writes its
//! report; `drill validate` places every problem.

mod common;

use common::{BIN, Onesec, Options};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn onesec(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("ONESEC_LOG", "warn")
        .output()
        .expect("run onesec")
}

/// `onesec drill generate` for a small company (20 people, 6 devices, 2 sites) with more flags;
/// it must succeed.
fn generate_small(extra: &[&str]) {
    let mut args = vec![
        "drill",
        "generate",
        "--people",
        "20",
        "--devices",
        "6",
        "--sites",
        "2",
    ];
    args.extend_from_slice(extra);
    let done = onesec(&args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

fn generate(dir: &Path, seed: &str, file: &str) -> Vec<u8> {
    let out = dir.join(file);
    generate_small(&["--seed", seed, "--out", out.to_str().unwrap()]);
    std::fs::read(out).unwrap()
}

#[test]
fn the_generator_gives_the_same_records_for_a_seed_and_others_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let first = generate(dir.path(), "5", "a.log");
    let again = generate(dir.path(), "5", "b.log");
    let other = generate(dir.path(), "6", "c.log");
    assert!(first.len() > 10_000, "{} bytes", first.len());
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn the_generator_feeds_the_listeners_of_a_running_onesec() {
    let dir = tempfile::tempdir().unwrap();
    let company = dir.path().join("company");
    let file = dir.path().join("day.log");
    generate_small(&[
        "--directory-out",
        company.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    let records = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    let server = Onesec::start(&Options {
        data_dir: dir.path().join("data"),
        directory: Some(company),
        ..Options::default()
    });
    let syslog = server.syslog_tcp.expect("syslog TCP listener").to_string();
    let mut args = vec![
        "--rate",
        "20000",
        "--syslog",
        &syslog,
        "--http",
        "--server",
        &server.base,
    ];
    let token = server.token().map(str::to_string);
    if let Some(token) = &token {
        args.extend(["--token", token]);
    }
    generate_small(&args);
    let status = server.wait_for_detection(records);
    assert_eq!(status["journal_seq"].as_u64(), Some(records), "{status}");
    let dead = server.get_json("/api/v1/dead-letters?limit=5");
    assert_eq!(dead.as_array().map_or(0, Vec::len), 0, "{dead}");
    let events = server.events();
    assert!(
        events
            .iter()
            .any(|e| e["resolved"]["person"]["id"].is_string()),
        "the generated people resolve against the generated directory"
    );
}

/// `onesec drill run SCENARIO --data-dir DATA`.
fn drill_run(scenario: &Path, data: &Path) -> std::process::Output {
    let (scenario, data) = (scenario.to_str().unwrap(), data.to_str().unwrap());
    onesec(&["drill", "run", scenario, "--data-dir", data])
}

#[test]
fn drill_run_scores_a_shipped_scenario_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("run");
    let scenario = repo("scenarios/cloned-badge-rogue-device.yaml");
    let done = drill_run(&scenario, &data);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    assert!(stdout.contains("rogue-device"), "{stdout}");
    let html = std::fs::read_to_string(data.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("onesec_new_network_device"));
    let pdf = std::fs::read(data.join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["score"]["passed"], true);
    // A second run into the same folder is refused (it would replay the first run's journal).
    let again = drill_run(&scenario, &data);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
}

#[test]
fn drill_validate_places_every_problem() {
    let bad = repo("crates/onesec-drill/tests/data/bad-values.yaml");
    let done = onesec(&["drill", "validate", bad.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        stdout.contains("bad-values.yaml:13:9: injects[1].at:"),
        "{stdout}"
    );
    assert!(stdout.contains("injects[1].expect.team"), "{stdout}");
    let good = repo("scenarios/usb-drop-after-tailgating.yaml");
    let done = onesec(&["drill", "validate", good.to_str().unwrap()]);
    assert!(done.status.success());
    assert!(String::from_utf8_lossy(&done.stdout).contains(": ok (2 inject(s)"));
}

/// A live drill: served on an HTTP port with no scripted trainees, a person acknowledges the
/// incident through the API while the scenario runs, and the score counts that
/// acknowledgement (in scenario time).
#[test]
fn a_served_drill_is_worked_live_through_the_api() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("run");
    let scenario = repo("crates/onesec-drill/tests/data/accelerated.yaml");
    let mut child = Command::new(BIN)
        .args([
            "drill",
            "run",
            scenario.to_str().unwrap(),
            "--speed",
            "240x",
        ])
        .args(["--no-trainees", "--serve", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("ONESEC_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut served = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("drill served on ") {
            served = Some(rest.to_string());
            break;
        }
    }
    let served = served.expect("the drill says where it is served");
    let (base, token) = served
        .split_once("; first start: create the administrator with setup token ")
        .expect("a first start prints the setup token");
    let http = reqwest::blocking::Client::new();
    let setup = serde_json::json!({"setup_token": token, "user": "trainer", "password": "a-long-drill-password-1"});
    assert!(
        http.post(format!("{base}/api/v1/auth/setup"))
            .json(&setup)
            .send()
            .unwrap()
            .status()
            .is_success()
    );
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"user": "trainer", "password": "a-long-drill-password-1"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let bearer = login["token"].as_str().unwrap().to_string();
    // Wait for the incident of the VPN login (five scenario minutes in: about a second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let incident = loop {
        let list: serde_json::Value = http
            .get(format!("{base}/api/v1/incidents"))
            .bearer_auth(&bearer)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if let Some(id) = list
            .as_array()
            .and_then(|l| l.first())
            .and_then(|i| i["id"].as_str())
        {
            break id.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no incident: {list}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let ack = http
        .post(format!("{base}/api/v1/incidents/{incident}/ack"))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({"comment": "on it"}))
        .send()
        .unwrap();
    assert!(
        ack.status().is_success(),
        "{}",
        ack.text().unwrap_or_default()
    );
    let done = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("report.json")).unwrap()).unwrap();
    let vpn = &json["score"]["injects"][1];
    assert_eq!(vpn["id"], "vpn-from-abroad");
    assert!(vpn["acknowledge_ms"].as_i64().is_some(), "{vpn}");
    let case = &json["run"]["incidents"][0]["case"];
    assert_eq!(case["acknowledged"][1], "trainer");
    assert_eq!(case["category"], "exercise");
}

/// `onesec drill record RUN --server ... --token TOKEN`.
fn drill_record(server: &Onesec, run: &str, token: &str) -> std::process::Output {
    onesec(&[
        "drill",
        "record",
        run,
        "--server",
        &server.base,
        "--token",
        token,
    ])
}

#[test]
fn a_recorded_drill_is_in_the_compliance_report_of_its_period() {
    let dir = tempfile::tempdir().unwrap();
    let server = Onesec::start(&Options {
        data_dir: dir.path().join("data"),
        ..Options::default()
    });
    let officer = server.issue_token("carol", "compliance_officer", &[]);
    let data = dir.path().join("usb-run");
    let scenario = repo("scenarios/usb-drop-after-tailgating.yaml");
    let done = onesec(&[
        "drill",
        "run",
        scenario.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--record",
        "--server",
        &server.base,
        "--token",
        &officer,
    ]);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("recorded usb-run"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("result.json")).unwrap()).unwrap();
    assert_eq!(summary["run_id"], "usb-run");
    assert_eq!(summary["passed"], true);

    // The service lists it, with who recorded it, and the report of today shows it.
    let listed = server.request_as(reqwest::Method::GET, "/api/v1/exercises", Some(&officer));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let recorded = &listed.body["exercises"][0];
    assert_eq!(recorded["run_id"], "usb-run");
    assert_eq!(recorded["recorded_by"], "token:carol");
    assert_eq!(
        recorded["detections_on_time"],
        summary["detections_on_time"]
    );
    let report = server.request_as(
        reqwest::Method::GET,
        "/api/v1/reports?format=json",
        Some(&officer),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    let row = &report.body["exercises"]["results"][0];
    assert_eq!(row["scenario"], summary["scenario"]);
    assert_eq!(row["verdict"], "passed");

    // Recording the folder again replaces the run; a result whose counts do not add up is
    // refused with the reason.
    let again = drill_record(&server, data.to_str().unwrap(), &officer);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let listed = server.request_as(reqwest::Method::GET, "/api/v1/exercises", Some(&officer));
    assert_eq!(listed.body["exercises"].as_array().unwrap().len(), 1);
    let mut wrong = summary.clone();
    wrong["detections_on_time"] = serde_json::json!(99);
    let wrong_file = dir.path().join("wrong.json");
    std::fs::write(&wrong_file, wrong.to_string()).unwrap();
    let refused = drill_record(&server, wrong_file.to_str().unwrap(), &officer);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("more than the"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A role without work_compliance may not record.
    let guard = server.issue_token("gus", "physical_operator", &[]);
    let forbidden = drill_record(&server, data.to_str().unwrap(), &guard);
    assert!(!forbidden.status.success());
    assert!(String::from_utf8_lossy(&forbidden.stderr).contains("403"));
}
