//! Detection state survives a restart through the detection snapshot: a stream with chained
//! correlations (event_count feeding temporal_ordered, value_count) cut by a restart at several
//! points, cleanly or as after a crash (the snapshot older than the last stored event), ends
//! with exactly the alerts and incidents of one uninterrupted run; only the journal after the
//! snapshot is replayed. A damaged or stale snapshot (other settings) is refused and the state
//! is rebuilt from the whole journal, with the same results.

use onesec_decode::Format;
use onesec_incident::{Alert, Incident};
use onesec_pipeline::{Config, Pipeline};
use onesec_store::IncidentFilter;
use std::path::Path;
use std::time::Duration;

const RULES: &str = r#"
title: Three failed network logins from one address
name: t_three_failures
level: high
correlation:
  type: event_count
  rules:
    - onesec_network_auth_failure
  group-by:
    - src.ip
  timespan: 10m
  condition:
    gte: 3
---
title: Successful login
name: t_login
level: informational
tags:
  - onesec.building_block
logsource:
  category: authentication
  product: onesec
detection:
  selection:
    status: success
  condition: selection
---
title: Failures then a login from the same address
name: t_fail_then_login
level: critical
correlation:
  type: temporal_ordered
  rules:
    - t_three_failures
    - t_login
  group-by:
    - src.ip
  timespan: 30m
---
title: Two accounts tried from one address
name: t_two_accounts
level: medium
correlation:
  type: value_count
  rules:
    - onesec_network_auth_failure
  group-by:
    - src.ip
  field: actor.user
  timespan: 15m
  condition:
    gte: 2
"#;

const EVENTS: usize = 1500;

/// Deterministic sshd lines, in time order (7 s apart), over 12 addresses and 4 users.
fn lines() -> Vec<String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-10T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    (0..EVENTS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every 150 events, two quiet hours: incidents of their own.
            let at = start + i as i64 * 7_000 + (i / 150) as i64 * 7_200_000;
            let t = chrono::DateTime::from_timestamp_millis(at).unwrap();
            let ts = t.format("%Y-%m-%dT%H:%M:%SZ");
            let ip = format!("203.0.113.{}", x % 12 + 1);
            let user = ["alice", "bob", "carol", "dave"][(x >> 8) as usize % 4];
            let host = ["srv1", "srv2"][(x >> 12) as usize % 2];
            if (x >> 16) % 10 < 7 {
                format!(
                    "<86>1 {ts} {host} sshd 41 - - Failed password for {user} from {ip} port 5 ssh2"
                )
            } else {
                format!(
                    "<86>1 {ts} {host} sshd 41 - - Accepted password for {user} from {ip} port 5 ssh2"
                )
            }
        })
        .collect()
}

fn config(data: &Path, rules: &Path) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    config.rules.dirs = vec![rules.to_path_buf()];
    config.detection.snapshot_every_events = 200;
    config.detection.snapshot_every = "0".into();
    config
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends `lines` in batches of 50, waiting for detection after each.
fn send(pipeline: &Pipeline, lines: &[String]) {
    let rt = runtime();
    for batch in lines.chunks(50) {
        let body = batch.join("\n") + "\n";
        rt.block_on(
            pipeline
                .ingestor()
                .ingest_body(&Format::Syslog, body.as_bytes(), "test"),
        );
        assert!(pipeline.wait_detected(Duration::from_secs(30)));
    }
}

/// Every alert and incident (merged and withdrawn included), sorted by id.
fn results(pipeline: &Pipeline) -> (Vec<Alert>, Vec<Incident>) {
    assert!(pipeline.wait_detected(Duration::from_secs(30)));
    let mut alerts = pipeline
        .read_store(|s| s.alerts(None, usize::MAX >> 2))
        .unwrap();
    alerts.sort_by(|a, b| a.id.cmp(&b.id));
    let filter = IncidentFilter {
        all: true,
        limit: Some(usize::MAX >> 2),
        ..IncidentFilter::default()
    };
    let mut incidents = pipeline.read_store(|s| s.incidents(&filter)).unwrap();
    incidents.sort_by(|a, b| a.id.cmp(&b.id));
    (alerts, incidents)
}

/// Events the detector has run through the engine since this start.
fn detected_since_start(pipeline: &Pipeline) -> u64 {
    let text = pipeline.metrics_text();
    text.lines()
        .find_map(|l| l.strip_prefix("onesec_events_detected_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no onesec_events_detected_total in {text}"))
}

fn rules_dir(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("t.yml"), RULES).unwrap();
    rules
}

fn uninterrupted(dir: &Path, rules: &Path) -> (Vec<Alert>, Vec<Incident>) {
    let pipeline = Pipeline::start(config(&dir.join("whole"), rules)).unwrap();
    send(&pipeline, &lines());
    let out = results(&pipeline);
    pipeline.shutdown();
    out
}

fn assert_same(got: &(Vec<Alert>, Vec<Incident>), want: &(Vec<Alert>, Vec<Incident>), what: &str) {
    let ids = |r: &(Vec<Alert>, Vec<Incident>)| {
        (
            r.0.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
            r.1.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(ids(got), ids(want), "{what}: alert and incident ids");
    assert!(got.0 == want.0, "{what}: alerts differ");
    assert!(got.1 == want.1, "{what}: incidents differ");
}

/// How the first run ends before the restart.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// A clean stop (which writes a snapshot of everything handled).
    Clean,
    /// As after a crash: the snapshot on disk is one taken well before the last stored event.
    Crash,
}

fn restart_at(cut: usize, how: Cut, dir: &Path, rules: &Path) -> (Vec<Alert>, Vec<Incident>) {
    let data = dir.join(format!("cut-{cut}-{how:?}"));
    let lines = lines();
    let snapshot = data.join("detection.snapshot");
    let older = data.join("older.snapshot");
    let pipeline = Pipeline::start(config(&data, rules)).unwrap();
    send(&pipeline, &lines[..cut / 2]);
    // Snapshots are written at least every 200 events: one exists by now.
    std::fs::copy(&snapshot, &older).unwrap();
    send(&pipeline, &lines[cut / 2..cut]);
    pipeline.shutdown();
    drop(pipeline);
    if let Cut::Crash = how {
        std::fs::rename(&older, &snapshot).unwrap();
    }
    let pipeline = Pipeline::start(config(&data, rules)).unwrap();
    assert!(pipeline.wait_detected(Duration::from_secs(30)));
    let replayed = detected_since_start(&pipeline);
    match how {
        // Nothing after the snapshot: nothing replayed.
        Cut::Clean => assert_eq!(replayed, 0, "cut {cut}: a clean restart replays nothing"),
        // The journal after the older snapshot only, not all of it.
        Cut::Crash => assert!(
            replayed > 0 && replayed < cut as u64,
            "cut {cut}: replayed {replayed} of {cut} after a crash"
        ),
    }
    send(&pipeline, &lines[cut..]);
    let out = results(&pipeline);
    pipeline.shutdown();
    out
}

#[test]
fn restarts_with_a_snapshot_give_the_uninterrupted_results() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(dir.path());
    let want = uninterrupted(dir.path(), &rules);
    let correlated = want
        .0
        .iter()
        .filter(|a| a.rule_id.starts_with("t_fail_then") || a.rule_id.starts_with("t_two"))
        .count();
    assert!(
        correlated >= 5 && want.1.len() >= 3,
        "the stream must make chained correlations and incidents: {correlated} alerts, {} incidents",
        want.1.len()
    );
    for cut in [430, 777, 1201] {
        for how in [Cut::Clean, Cut::Crash] {
            let got = restart_at(cut, how, dir.path(), &rules);
            assert_same(&got, &want, &format!("restart at {cut} ({how:?})"));
        }
    }
}

#[test]
fn a_damaged_or_stale_snapshot_falls_back_to_the_whole_journal() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(dir.path());
    let want = uninterrupted(dir.path(), &rules);
    let lines = lines();
    let cut = 900;
    type Spoil = fn(&Path, &mut Config);
    let spoilers: [(&str, Spoil); 4] = [
        ("damaged", |file, _| {
            let mut bytes = std::fs::read(file).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x5a;
            std::fs::write(file, bytes).unwrap();
        }),
        ("cut short", |file, _| {
            let bytes = std::fs::read(file).unwrap();
            std::fs::write(file, &bytes[..bytes.len() - 9]).unwrap();
        }),
        ("other engine settings", |_, config| {
            config.detection.allowed_lateness = "23h".into();
        }),
        ("other incident settings", |_, config| {
            config.incidents.window = "31m".into();
        }),
    ];
    for (what, spoil) in spoilers {
        let data = dir.path().join(what.replace(' ', "-"));
        let pipeline = Pipeline::start(config(&data, &rules)).unwrap();
        send(&pipeline, &lines[..cut]);
        pipeline.shutdown();
        drop(pipeline);
        let mut config = config(&data, &rules);
        spoil(&data.join("detection.snapshot"), &mut config);
        let window_changed = config.incidents.window != Config::default().incidents.window;
        let pipeline = Pipeline::start(config).unwrap();
        assert!(pipeline.wait_detected(Duration::from_secs(30)));
        assert_eq!(
            detected_since_start(&pipeline),
            cut as u64,
            "{what}: the whole journal is replayed"
        );
        send(&pipeline, &lines[cut..]);
        let got = results(&pipeline);
        pipeline.shutdown();
        if window_changed {
            // Other grouping: the alerts are the same, incidents may differ.
            assert_eq!(got.0.len(), want.0.len(), "{what}: alerts");
        } else {
            assert_same(&got, &want, what);
        }
    }
}
