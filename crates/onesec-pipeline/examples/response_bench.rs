//! Response benchmark (`docs/benchmarks.md`, "Response"): not a test, numbers.
//!
//! 1. **Alert → first automatic action**: an incident is stored as detection stores it and
//!    handed to the response worker through the same channel detection uses; the worker opens
//!    the case, starts the hybrid-intrusion playbook and its first step (pull camera footage)
//!    goes out through a live `http-api` connector to a local HTTP server, which notes when the
//!    request arrived. One incident at a time, so this is latency, not queueing.
//! 2. **Grouping**: alerts about distinct people (each opens an incident) and repeats (each
//!    joins one) through the `Grouper`, incidents and alerts per second.
//!
//! ```sh
//! cargo run --release -p onesec-pipeline --example response_bench -- [incidents] [alerts] [rounds] [repeats]
//! ```

use axum::Router;
use axum::routing::any;
use onesec_event::{Domain, Severity};
use onesec_incident::{Alert, AlertStatus, Entities, Grouper, GrouperConfig, Incident};
use onesec_pipeline::response::config::{ConnectorConfig, ConnectorKind, Mode, ResponseConfig};
use onesec_pipeline::response::{Responses, SystemClock, spawn_worker};
use onesec_store::{DetectionBatch, SqliteStore, Store};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let incidents = args.first().copied().unwrap_or(300);
    let alerts = args.get(1).copied().unwrap_or(20_000);
    // Alerts of one person that are not repeats (a different rule each) all land in one
    // incident, which the grouper recomputes from all its alerts each time: quadratic, so
    // fewer of them. Repeats (same rule, same entities) are counted in constant time.
    let repeats = args.get(3).copied().unwrap_or(2_000);
    let floods = args.get(4).copied().unwrap_or(200_000);
    let rounds = args.get(2).copied().unwrap_or(3);
    println!("alert → first automatic action, {incidents} incidents, {rounds} rounds");
    let mut p99s = Vec::new();
    for round in 1..=rounds {
        let mut lat = first_action_latencies(incidents);
        lat.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
        println!(
            "  round {round}: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            lat[lat.len() - 1]
        );
        p99s.push(pct(0.99));
    }
    p99s.sort_by(|a, b| a.total_cmp(b));
    println!("  median p99 over rounds: {:.2} ms", p99s[p99s.len() / 2]);

    println!("grouping, {alerts} alerts, {rounds} rounds");
    let mut opened_rates = Vec::new();
    let mut joined_rates = Vec::new();
    let mut flood_rates = Vec::new();
    for round in 1..=rounds {
        let (opened, opened_s) = group(alerts, Alerts::Distinct);
        let (_, joined_s) = group(repeats, Alerts::SamePerson);
        let (flood_incidents, flood_s) = group(floods, Alerts::Flood);
        assert_eq!(flood_incidents, 1, "a flood is one incident");
        let o = opened as f64 / opened_s;
        let j = repeats as f64 / joined_s;
        let f = floods as f64 / flood_s;
        println!(
            "  round {round}: {opened} incidents opened at {o:.0} incidents/s; {repeats} other alerts joining one incident at {j:.0} alerts/s; {floods} repeats of one alarm counted at {f:.0} alerts/s"
        );
        opened_rates.push(o);
        joined_rates.push(j);
        flood_rates.push(f);
    }
    for rates in [&mut opened_rates, &mut joined_rates, &mut flood_rates] {
        rates.sort_by(|a, b| a.total_cmp(b));
    }
    println!(
        "  median: {:.0} incidents/s opened, {:.0} alerts/s joined, {:.0} repeats/s counted",
        opened_rates[rounds / 2],
        joined_rates[rounds / 2],
        flood_rates[rounds / 2]
    );
}

fn incident(n: usize) -> Incident {
    let mut e = Entities::default();
    e.sites.insert("EDI".into());
    e.persons.insert(format!("p-{n}"));
    e.badges.insert(format!("B-{n}"));
    e.zones.insert("EDI-SRV".into());
    Incident {
        id: format!("inc-bench-{n}"),
        title: "door forced then console login".into(),
        domain: Domain::Hybrid,
        priority: Severity::High,
        state: onesec_incident::IncidentState::New,
        alert_ids: vec![format!("a-{n}")],
        active_alerts: 1,
        entities: e,
        first_ms: 0,
        last_ms: 0,
        merged_into: None,
        repeats: 0,
    }
}

/// Milliseconds from storing each incident to its first action arriving at the target.
fn first_action_latencies(count: usize) -> Vec<f64> {
    let (arrived_tx, arrived) = mpsc::channel::<Instant>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let app = Router::new().fallback(any(move || {
            let tx = arrived_tx.clone();
            async move {
                let _ = tx.send(Instant::now());
                "{}"
            }
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onesec.db");
    let config = ResponseConfig {
        mode: Mode::Live,
        connectors: vec![ConnectorConfig {
            name: "vms".into(),
            kind: ConnectorKind::HttpApi,
            agents: vec!["Video management system".into()],
            url: format!("http://{addr}"),
            token: Some("bench".into()),
            token_env: None,
            username: None,
            timeout: Some("2s".into()),
            body: None,
            topic: None,
            dry_run: false,
        }],
        ..ResponseConfig::default()
    };
    let responses = Arc::new(
        Responses::new(
            &config,
            Box::new(SqliteStore::open(&path).expect("store")),
            Arc::new(SystemClock),
            None,
        )
        .expect("responses"),
    );
    let mut detection = SqliteStore::open(&path).expect("store");
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_worker(
        responses,
        rx,
        Default::default(),
        stop.clone(),
        Duration::from_millis(250),
    )
    .expect("worker");
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let incident = incident(n);
        let start = Instant::now();
        detection
            .commit(&DetectionBatch {
                incidents: vec![incident.clone()],
                ..Default::default()
            })
            .expect("commit");
        tx.send(vec![incident]).expect("worker listens");
        let at = arrived
            .recv_timeout(Duration::from_secs(10))
            .expect("the action arrives");
        out.push(at.duration_since(start).as_secs_f64() * 1000.0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(tx);
    let _ = worker.join();
    out
}

/// What the alerts of a grouping run are.
#[derive(Clone, Copy, PartialEq)]
enum Alerts {
    /// A different person each: each opens an incident.
    Distinct,
    /// The same person, a different rule each: each joins the one incident.
    SamePerson,
    /// The same alarm again and again (same rule, same entities): counted as repeats.
    Flood,
}

/// Alerts through the grouper. (incidents, seconds).
fn group(count: usize, mode: Alerts) -> (usize, f64) {
    let mut grouper = Grouper::new(GrouperConfig {
        window_ms: 30 * 60 * 1000,
        open_min: Severity::Medium,
    });
    let alerts: Vec<Alert> = (0..count)
        .map(|n| {
            let person = if mode == Alerts::Distinct { n } else { 0 };
            let mut e = Entities::default();
            e.persons.insert(format!("p-{person}"));
            let site = if mode == Alerts::Flood { 0 } else { n % 16 };
            e.sites.insert(format!("S{site}"));
            // A flood arrives faster than the window closes: 100 alarms a second.
            let t = i64::try_from(n).unwrap_or(0) * if mode == Alerts::Flood { 10 } else { 1000 };
            let rule = match mode {
                Alerts::SamePerson => format!("r-{n}"),
                _ => "r".to_string(),
            };
            Alert {
                id: format!("a-{n}"),
                rule_id: rule,
                title: "badge of a terminated person used".into(),
                description: String::new(),
                author: String::new(),
                tags: vec![],
                severity: Severity::High,
                domain: Domain::Physical,
                status: AlertStatus::Active,
                group: vec![],
                event_ids: vec![n as u64],
                first_ms: t,
                last_ms: t,
                entities: e,
                incident_id: None,
                repeat_of: None,
                repeats: 0,
                last_repeat_ms: None,
            }
        })
        .collect();
    let start = Instant::now();
    for alert in alerts {
        let _ = grouper.apply(alert);
    }
    (grouper.incident_count(), start.elapsed().as_secs_f64())
}
