//! Exercise mode performs no connector call: a run in `live` mode whose connectors point at a
//! local server that records every request leaves that server untouched, while the same
//! connectors outside exercise mode reach it. Also: an accelerated run and the report.

use onesec_drill::{Pace, RunOptions, Scenario, run, score};
use onesec_pipeline::Config;
use onesec_pipeline::response::config::{ConnectorConfig, ConnectorKind, Mode};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

/// A local HTTP server that counts the requests it gets and answers 200 to each.
fn recording_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    (url, calls)
}

/// Live mode with every agent of the shipped playbook bound to the recording server.
fn live_config(url: &str) -> Config {
    let mut config = Config::default();
    config.response.mode = Mode::Live;
    config.response.connectors = vec![ConnectorConfig {
        name: "recorder".into(),
        kind: ConnectorKind::HttpApi,
        agents: [
            "Access control system",
            "Video management system",
            "Identity provider",
            "Network access control",
            "Perimeter firewall",
            "Incident ticketing",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect(),
        url: url.to_string(),
        token: None,
        token_env: None,
        username: None,
        timeout: Some("2s".into()),
        body: None,
        topic: None,
        dry_run: false,
    }];
    config
}

#[test]
fn exercise_mode_makes_no_connector_call_although_the_connectors_are_live() {
    let (url, calls) = recording_server();
    let checked = Scenario::load(&scenario("duress-and-lockout-spree.yaml")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(data.path().join("drill"));
    options.base_config = live_config(&url);
    let record = run(&checked, &options).unwrap();
    let actions: Vec<_> = record.incidents.iter().flat_map(|i| &i.actions).collect();
    assert!(
        actions.len() >= 3,
        "the playbook ran its automated steps: {actions:?}"
    );
    assert!(
        actions
            .iter()
            .all(|a| a.mode == "exercise" && a.outcome == "simulated")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "a connector was called");
    assert!(score(&checked, &record).passed);

    // The same connectors outside exercise mode do reach the server: the recorder works.
    let mut config = live_config(&url);
    config.data_dir = data.path().join("live");
    config.directory = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind"));
    let pipeline = onesec_pipeline::Pipeline::start(config).unwrap();
    let line = br#"{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/Duress/&RDR-EDI-01", "payload": {"UtcTime": "2026-05-05T18:40:00Z", "PropertyOperation": "Changed", "Source": {"AccessPointToken": "RDR-EDI-01"}, "Data": {"CredentialToken": "0x7A1007"}}}"#;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(pipeline.ingestor().ingest_body(
        &onesec_decode::Format::OnvifEj,
        line,
        "test",
    ));
    assert_eq!(report.accepted, 1);
    assert!(pipeline.wait_detected(std::time::Duration::from_secs(20)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pipeline.shutdown();
    assert!(
        calls.load(Ordering::SeqCst) > 0,
        "outside exercise mode the live connector is called"
    );
}

#[test]
fn an_accelerated_run_meets_the_same_expectations_and_the_report_shows_them() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/accelerated.yaml");
    let checked = Scenario::load(&file).unwrap();
    let data = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut options = RunOptions::new(data.path().join("drill"));
    // Twenty minutes of scenario time in four seconds of wall time: slow enough that the
    // scripted teams keep their deadlines on a loaded machine.
    options.pace = Pace::Factor(300.0);
    let record = run(&checked, &options).unwrap();
    assert_eq!(record.pace, "300 x real time");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(3_800),
        "the clock ran at the pace asked for, not as fast as possible"
    );
    let score = score(&checked, &record);
    assert!(score.passed, "{:#?}", score);
    let html = onesec_drill::report::html(&score, &record);
    assert!(html.contains("<svg"));
    assert!(html.contains("vpn-from-abroad"));
    assert!(html.contains("onesec_remote_login_while_on_site"));
    assert!(html.contains("EXERCISE"));
    let json: serde_json::Value =
        serde_json::from_str(&onesec_drill::report::json(&score, &record)).unwrap();
    assert_eq!(json["score"]["passed"], true);
    assert_eq!(json["score"]["injects"][1]["team_routed"], "it_soc");
    assert!(json["run"]["background_events"].as_u64().unwrap() > 0);
    // The same report as PDF, read back.
    let pdf = onesec_drill::report::pdf(&score, &record);
    let doc = lopdf::Document::load_mem(&pdf).expect("a PDF lopdf reads");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).expect("its text");
    // Narrow table cells break long words: compare without white space.
    let compact: String = text.split_whitespace().collect();
    for expected in [
        "After-action report",
        "EXERCISE",
        "vpn-from-abroad",
        "onesec_remote_login_while_on_site",
        "Time to detect per inject",
        "Improvements",
    ] {
        let expected: String = expected.split_whitespace().collect();
        assert!(
            compact.contains(&expected),
            "{expected} not in the PDF: {text}"
        );
    }
}

#[test]
fn a_missed_detection_and_a_late_team_fail_the_run_with_improvements() {
    let checked =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/missed.yaml"))
            .unwrap();
    let data = tempfile::tempdir().unwrap();
    let record = run(&checked, &RunOptions::new(data.path().join("drill"))).unwrap();
    let score = score(&checked, &record);
    assert!(!score.passed);
    assert_eq!(score.missed, ["quiet-login: onesec_network_brute_force"]);
    let door = score
        .injects
        .iter()
        .find(|i| i.id == "forced-door")
        .unwrap();
    assert!(door.detections[0].on_time);
    assert!(!door.passed, "acknowledged after 20 minutes, expected 5");
    assert_eq!(door.acknowledge_ms, Some(20 * 60_000));
    assert!(
        score.improvements.iter().any(|i| i.contains("never fired")),
        "{:?}",
        score.improvements
    );
    assert!(
        score
            .improvements
            .iter()
            .any(|i| i.contains("acknowledged after 20m")),
        "{:?}",
        score.improvements
    );
    // The summary the service records says the same in figures.
    let result = onesec_drill::exercise_result(&score, &record, "missed-1", 1_000);
    assert_eq!(result.validate(), Ok(()));
    assert!(!result.passed);
    assert_eq!(result.detections_missed, 1);
    let detected: Vec<i64> = score
        .injects
        .iter()
        .flat_map(|i| &i.detections)
        .filter_map(|d| d.detect_ms)
        .collect();
    assert_eq!(result.detections_expected as usize, detected.len() + 1);
    assert_eq!(result.slowest_detect_ms, detected.iter().copied().max());
    assert_eq!(result.improvements, score.improvements);
    assert_eq!(
        (result.scenario_from_ms, result.scenario_to_ms),
        (record.start_ms, record.end_ms)
    );
}

#[test]
fn a_scenario_with_its_directory_inline_runs_on_that_directory() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inline.yaml");
    let checked = Scenario::load(&file).unwrap();
    let data = tempfile::tempdir().unwrap();
    let options = RunOptions::new(data.path().join("drill"));
    let record = run(&checked, &options).unwrap();
    let score = score(&checked, &record);
    assert!(score.passed, "{score:#?}");
    // Ada's working day is the background (Ben is terminated: no background for him).
    assert!(
        record.background_events >= 3,
        "{}",
        record.background_events
    );
    assert!(
        options
            .data_dir
            .join("drill-directory/people.csv")
            .is_file()
    );
}
