//! Throughput of the cluster path on one machine (not a timed test; results in
//! `docs/benchmarks.md`, "Cluster").
//!
//! 1. Ingest: publishes N resolved events to a fresh cluster and waits for every JetStream
//!    acknowledgement; the same payloads are appended to an embedded journal (fsync per group
//!    commit, as `onesec up` does by default) for the per-event cost of each log.
//! 2. Detection: for 1, 2 and 3 detection workers (in this process, each with its own NATS
//!    connection and node id, the built-in rule pack), the time from their start until every
//!    partition has applied all N events (the low watermark reaches the stream's end).
//!
//! ```text
//! cargo run --release -p onesec-cluster --example cluster_bench -- [EVENTS] [PARTITIONS]
//! ```
//! Needs NATS JetStream at `ONESEC_NATS_URL` (default `nats://127.0.0.1:4222`).

use onesec_cluster::{Cluster, ClusterSettings, Publisher, Worker};
#[path = "shared/workload.rs"]
mod shared;

use onesec_event::Event;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let partitions: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let url = std::env::var("ONESEC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let run = std::process::id();
    let input = workload(events);
    println!("{events} events, {partitions} partitions, NATS {url}");

    println!("load {}", shared::loadavg());
    let cpu_before = shared::own_cpu();
    let journal_rate = journal_ingest(&input)?;
    println!(
        "embedded journal: {journal_rate:.0} events/s ({:.1} µs/event wall, {:.1} µs/event CPU of this process)",
        1e6 / journal_rate,
        (shared::own_cpu() - cpu_before) * 1e6 / events as f64
    );

    let mut detection = Vec::new();
    for workers in 1..=3u16 {
        let settings = ClusterSettings {
            url: url.clone(),
            prefix: format!("bench{run}w{workers}"),
            partitions,
            lease_ttl: Duration::from_secs(10),
            ..ClusterSettings::default()
        };
        let cluster = Cluster::connect(settings.clone()).await?;
        let publisher = Publisher::new(
            cluster.clone(),
            onesec_directory::SharedDirectory::new("", onesec_directory::Directory::empty()),
        );
        let (cpu_before, server_before) = (shared::own_cpu(), shared::nats_server_cpu());
        let started = Instant::now();
        for batch in input.chunks(1000) {
            publisher.publish_resolved(batch).await?;
        }
        let publish = started.elapsed();
        let server_us = match (server_before, shared::nats_server_cpu()) {
            (Some(a), Some(b)) => format!("{:.1}", (b - a) * 1e6 / events as f64),
            _ => "n/a".into(),
        };
        println!(
            "JetStream ingest ({workers}): {:.0} events/s ({:.1} µs/event wall), acknowledged; CPU µs/event: this process {:.1}, nats-server {server_us}; load {}",
            events as f64 / publish.as_secs_f64(),
            publish.as_secs_f64() * 1e6 / events as f64,
            (shared::own_cpu() - cpu_before) * 1e6 / events as f64,
            shared::loadavg()
        );
        let last = cluster.events.get_info().await?.state.last_sequence;
        let (rules, _) = onesec_pipeline::load_rules(&onesec_pipeline::RulesConfig::default())?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let cluster = Cluster::connect(settings.clone()).await?;
            let worker = Worker::new(
                cluster,
                rules.clone(),
                onesec_sigma::EngineConfig::default(),
                format!("bench-{w}"),
            );
            tasks.push(tokio::spawn(worker.run(stopped.clone())));
        }
        while onesec_cluster::sink::low_watermark(&cluster).await? < last {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();
        let rate = events as f64 / elapsed.as_secs_f64();
        println!(
            "detection, {workers} worker(s): {rate:.0} events/s ({elapsed:.2?} incl. taking the leases)"
        );
        detection.push(rate);
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        let _ = Cluster::delete(&cluster.settings).await;
    }
    println!("detection events/s by workers 1..3: {detection:.0?}");
    Ok(())
}

/// Logons and badge events of 2,000 people at 4 sites over a day, resolved.
fn workload(n: usize) -> Vec<Event> {
    shared::people_at_sites(n, 0)
}

/// Appends the same JSON payloads to an embedded journal in batches of 1,000.
fn journal_ingest(input: &[Event]) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (journal, _) =
        onesec_journal::Journal::open(onesec_journal::JournalConfig::new(dir.path()))?;
    let payloads: Vec<Vec<u8>> = input
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for batch in payloads.chunks(1000) {
        journal.append_batch(batch.to_vec())?;
    }
    Ok(input.len() as f64 / started.elapsed().as_secs_f64())
}
