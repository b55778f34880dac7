//! Scaling of detection from 1 to 3 worker *processes* on one machine (not a timed test;
//! results in `docs/benchmarks.md`, "Cluster scaling (session 7)").
//!
//! For each worker count (1, 2, 3, then 3, 2, 1 again, so a change in the machine's load does
//! not favour one count):
//!
//! 1. **Throughput**: EVENTS events are published to a fresh cluster (their primary and site
//!    copies, acknowledged), then K worker processes start; the time runs until the low
//!    watermark (every partition's checkpoint) reaches the stream's end. Each worker's CPU
//!    time (user + system, from `/proc`) is read at that moment, and the NATS server's CPU
//!    time over the same span, so the cost per event can be reasoned about where wall time on
//!    a shared 2-core machine cannot.
//! 2. **Latency**: with the same workers running, RATE events/s are published for SECS
//!    seconds in batches of 100; a batch's detection latency is the time from its publish
//!    acknowledgement until the low watermark covers its last message (what the sink waits
//!    for before it groups the batch's alerts). p50, p99 and max over the batches.
//!
//! ```text
//! cargo run --release -p onesec-cluster --example cluster_scale -- [EVENTS] [PARTITIONS] [RATE] [SECS]
//! ```
//! Needs NATS JetStream at `ONESEC_NATS_URL` (default `nats://127.0.0.1:4222`). The example
//! runs its own workers by starting itself again with `worker PREFIX PARTITIONS NODE`.

use onesec_cluster::{Cluster, ClusterSettings, Publisher, Worker};
#[path = "shared/workload.rs"]
mod shared;

use onesec_event::{Activity, Event, EventClass};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        return run_worker(&args[1..]).await;
    }
    let number = |i: usize, default: u64| -> Result<u64, Error> {
        Ok(args
            .get(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let events = number(0, 100_000)? as usize;
    let partitions = number(1, 64)? as u16;
    let rate = number(2, 5_000)?;
    let secs = number(3, 10)?;
    println!(
        "{events} events, {partitions} partitions; latency at {rate} events/s for {secs} s; NATS {}; load {}",
        nats_url(),
        shared::loadavg()
    );
    println!(
        "| workers | messages/event | publish µs/event | detection events/s | worker CPU µs/event (each) | server CPU µs/event | p50 / p99 / max ms | load |"
    );
    for workers in [1usize, 2, 3, 3, 2, 1] {
        let row = measure(workers, events, partitions, rate, secs).await?;
        println!("{row}");
    }
    Ok(())
}

fn nats_url() -> String {
    std::env::var("ONESEC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn settings(prefix: &str, partitions: u16) -> ClusterSettings {
    ClusterSettings {
        url: nats_url(),
        prefix: prefix.to_string(),
        partitions,
        lease_ttl: Duration::from_secs(10),
        ..ClusterSettings::default()
    }
}

/// One worker process: runs until its standard input closes (the parent exits or kills it).
async fn run_worker(args: &[String]) -> Result<(), Error> {
    let [prefix, partitions, node] = args else {
        return Err("usage: worker PREFIX PARTITIONS NODE".into());
    };
    let cluster = Cluster::connect(settings(prefix, partitions.parse()?)).await?;
    let (rules, _) = onesec_pipeline::load_rules(&onesec_pipeline::RulesConfig::default())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::task::spawn_blocking(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = stop.send(true);
    });
    Worker::new(
        cluster,
        rules,
        onesec_sigma::EngineConfig::default(),
        node.clone(),
    )
    .run(stopped)
    .await?;
    Ok(())
}

/// One row of the table: K workers, throughput then latency.
async fn measure(
    workers: usize,
    events: usize,
    partitions: u16,
    rate: u64,
    secs: u64,
) -> Result<String, Error> {
    let prefix = format!(
        "scale{}w{workers}x{}",
        std::process::id(),
        now_ms() % 100_000
    );
    let cluster = Cluster::connect(settings(&prefix, partitions)).await?;
    let publisher = Publisher::new(
        cluster.clone(),
        onesec_directory::SharedDirectory::new("", onesec_directory::Directory::empty()),
    );
    let input = workload(events, 0);
    let started = Instant::now();
    let mut messages = 0;
    for batch in input.chunks(1000) {
        messages += publisher.publish_resolved(batch).await?.messages;
    }
    let publish_us = started.elapsed().as_secs_f64() * 1e6 / events as f64;
    let last = cluster.events.get_info().await?.state.last_sequence;

    let server_before = shared::nats_server_cpu();
    let started = Instant::now();
    let mut children = Vec::new();
    for w in 0..workers {
        children.push(spawn_worker(&prefix, partitions, &format!("w{w}"))?);
    }
    while onesec_cluster::sink::low_watermark(&cluster).await? < last {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu: Vec<f64> = children
        .iter()
        .map(|c| shared::process_cpu(c.id()) * 1e6 / events as f64)
        .collect();
    let server_us = match (server_before, shared::nats_server_cpu()) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a) * 1e6 / events as f64),
        _ => "n/a".into(),
    };

    let latencies = latency(&publisher, &cluster, rate, secs).await?;
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = Cluster::delete(&cluster.settings).await;
    let cpu_text: Vec<String> = cpu.iter().map(|c| format!("{c:.1}")).collect();
    Ok(format!(
        "| {workers} | {:.2} | {publish_us:.1} | {:.0} | {} (sum {:.1}) | {server_us} | {} | {} |",
        messages as f64 / events as f64,
        events as f64 / elapsed,
        cpu_text.join(", "),
        cpu.iter().sum::<f64>(),
        latencies,
        shared::loadavg()
    ))
}

/// Publishes `rate` events/s for `secs` s in batches of 100 and returns "p50 / p99 / max" of
/// the batches' detection latency in ms.
async fn latency(
    publisher: &Publisher,
    cluster: &Cluster,
    rate: u64,
    secs: u64,
) -> Result<String, Error> {
    let batch = 100usize;
    let total = (rate * secs) as usize;
    // Event times after the throughput phase's day, so no event is late.
    let input = workload(total, 86_400_000);
    let period = Duration::from_secs_f64(batch as f64 / rate as f64);
    let (sent, mut acked) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let publishing = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let mut next = Instant::now();
            for chunk in input.chunks(batch) {
                tokio::time::sleep_until(next.into()).await;
                next += period;
                let report = publisher.publish_resolved(chunk).await?;
                let _ = sent.send((report.highest_sequence, Instant::now()));
            }
            Ok::<_, onesec_cluster::ClusterError>(())
        })
    };
    let mut waiting: Vec<(u64, Instant)> = Vec::new();
    let mut done = Vec::new();
    let expected = total.div_ceil(batch);
    while done.len() < expected {
        while let Ok(batch) = acked.try_recv() {
            waiting.push(batch);
        }
        let low = onesec_cluster::sink::low_watermark(cluster).await?;
        let now = Instant::now();
        waiting.retain(|(highest, at)| {
            let covered = *highest <= low;
            if covered {
                done.push(now.duration_since(*at).as_secs_f64() * 1e3);
            }
            !covered
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    publishing.await??;
    done.sort_by(f64::total_cmp);
    let at = |q: f64| done[((done.len() - 1) as f64 * q).round() as usize];
    Ok(format!("{:.0} / {:.0} / {:.0}", at(0.5), at(0.99), at(1.0)))
}

fn spawn_worker(prefix: &str, partitions: u16, node: &str) -> Result<Child, Error> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["worker", prefix, &partitions.to_string(), node])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?)
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// The workload of `cluster_bench` (logons and badge grants of 2,000 people at 4 sites over
/// a day starting `offset_ms` after 2026-03-10), with every 50th event a door forced open
/// (no person: one message, both routes), so detection fires alerts.
fn workload(n: usize, offset_ms: i64) -> Vec<Event> {
    let mut events = shared::people_at_sites(n, offset_ms);
    for event in events.iter_mut().skip(49).step_by(50) {
        let mut forced = Event::new(
            event.time_ms,
            EventClass::PhysicalAccess,
            Activity::PortalForced,
        );
        forced.resolved.site = event.resolved.site.clone();
        forced.raw = format!("bench door forced at {}", event.time_ms);
        *event = forced;
    }
    events
}
