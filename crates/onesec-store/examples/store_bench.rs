//! Events committed per second by each store backend for the same batches, as detection
//! commits them (journal references, timeline keys, device sightings), plus one alert and one
//! incident per batch.
//!
//! ```sh
//! cargo run --release -p onesec-store --example store_bench -- [events] [batch]
//! ```
//!
//! PostgreSQL is the test server of `onesec_store::testing` (`ONESEC_TEST_POSTGRES`, by default
//! 127.0.0.1:5432, database `test`), in a scratch schema dropped at the end.

use onesec_event::{Activity, Domain, Event, EventClass, PersonRef, Severity};
use onesec_incident::{Alert, AlertStatus, Entities, Incident, IncidentState};
use onesec_journal::Position;
use onesec_store::testing::ScratchSchema;
use onesec_store::{DetectionBatch, PgStore, SqliteStore, Store};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let batches = make_batches(events, batch);
    println!("{events} events in batches of {batch}");

    let dir = tempfile::tempdir().expect("temporary folder");
    let mut sqlite = SqliteStore::open(&dir.path().join("onesec.db")).expect("SQLite store");
    report("sqlite", run(&mut sqlite, &batches), events);

    let Some(schema) = ScratchSchema::create("store_bench") else {
        println!("postgres: skipped (server unreachable)");
        return;
    };
    let mut postgres = PgStore::connect(schema.settings()).expect("PostgreSQL store");
    report("postgres", run(&mut postgres, &batches), events);
}

/// Seconds per commit, in order.
fn run(store: &mut dyn Store, batches: &[DetectionBatch]) -> Vec<f64> {
    batches
        .iter()
        .map(|batch| {
            let start = Instant::now();
            store.commit(batch).expect("commit");
            start.elapsed().as_secs_f64()
        })
        .collect()
}

fn report(name: &str, mut commits: Vec<f64>, events: u64) {
    let total: f64 = commits.iter().sum();
    commits.sort_by(f64::total_cmp);
    let at = |q: f64| commits[((commits.len() - 1) as f64 * q) as usize] * 1e3;
    println!(
        "{name:8} {:>9.0} events/s  total {total:.2} s  commit p50 {:.2} ms  p99 {:.2} ms",
        events as f64 / total,
        at(0.5),
        at(0.99)
    );
}

/// Events like a site's day: every event at a site, half naming a person, one in ten from a
/// camera (a device sighting); positions as if read from 64 MiB journal segments.
fn make_batches(events: u64, batch: usize) -> Vec<DetectionBatch> {
    let all: Vec<(Event, Position)> = (1..=events).map(|id| (event(id), position(id))).collect();
    all.chunks(batch)
        .enumerate()
        .map(|(n, part)| DetectionBatch {
            events: part.iter().map(|(e, _)| e.clone()).collect(),
            journal_positions: part.iter().map(|(_, p)| *p).collect(),
            alerts: vec![alert(n, part[0].0.id)],
            incidents: vec![incident(n)],
            detected_upto: part.last().map_or(0, |(e, _)| e.id),
            manual_ops: Vec::new(),
            late: Vec::new(),
        })
        .collect()
}

fn event(id: u64) -> Event {
    let time = 1_764_000_000_000 + id as i64 * 10;
    let camera = id.is_multiple_of(10);
    let class = if camera {
        EventClass::VideoAnalytics
    } else {
        EventClass::PhysicalAccess
    };
    let mut e = Event::new(time, class, Activity::AccessGranted);
    e.id = id;
    e.resolved.site = Some(format!("SITE-{}", id % 20));
    if id.is_multiple_of(2) {
        e.resolved.person = Some(PersonRef {
            id: format!("P{:05}", id % 5_000),
            name: "N".into(),
            status: "active".into(),
            department: String::new(),
            home_site: String::new(),
        });
    }
    if camera {
        e.host = Some(format!("cam-{}", id % 300));
    }
    e
}

fn position(id: u64) -> Position {
    let bytes = id * 600;
    Position {
        segment: bytes / (64 << 20) + 1,
        offset: bytes % (64 << 20),
    }
}

fn alert(n: usize, first_event: u64) -> Alert {
    Alert {
        id: format!("a{n}"),
        rule_id: "bench".into(),
        title: "bench".into(),
        description: String::new(),
        author: String::new(),
        tags: vec![],
        severity: Severity::High,
        domain: Domain::Hybrid,
        status: AlertStatus::Active,
        group: vec![],
        event_ids: vec![first_event],
        first_ms: n as i64,
        last_ms: n as i64,
        entities: Entities::default(),
        incident_id: Some(format!("i{n}")),
        repeat_of: None,
        repeats: 0,
        last_repeat_ms: None,
    }
}

fn incident(n: usize) -> Incident {
    Incident {
        id: format!("i{n}"),
        title: "bench".into(),
        domain: Domain::Hybrid,
        priority: Severity::High,
        state: IncidentState::New,
        alert_ids: vec![format!("a{n}")],
        active_alerts: 1,
        entities: Entities::default(),
        first_ms: n as i64,
        last_ms: n as i64,
        merged_into: None,
        repeats: 0,
    }
}
