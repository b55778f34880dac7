//! Restart time with and without the detection snapshot.
//!
//! ```sh
//! cargo run --release -p onesec-pipeline --example restart_bench -- --events 1000000 --runs 3
//! ```
//!
//! Fills a data folder with `--events` sshd syslog lines (the built-in rules; failures, logins,
//! brute force from a few addresses, so correlations hold state and alerts and incidents
//! exist), stops cleanly (which writes `detection.snapshot`), then alternates restarts with the
//! snapshot and without it (the file moved aside: the whole journal is replayed) and reports,
//! for each, the time from `Pipeline::start` until detection has caught up with the journal.

use clap::Parser;
use onesec_decode::Format;
use onesec_pipeline::{Config, Pipeline};
use std::path::Path;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Events in the journal.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Restarts of each kind (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Data folder (default: a temporary one).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
}

fn lines(n: usize) -> impl Iterator<Item = String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let start = 1_773_100_800_000i64; // 2026-03-10T00:00:00Z
    (0..n).map(move |i| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = chrono::DateTime::from_timestamp_millis(start + i as i64 * 50).unwrap_or_default();
        let ts = t.format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let ip = if x.is_multiple_of(50) {
            format!("198.51.100.{}", x % 7)
        } else {
            format!(
                "10.{}.{}.{}",
                (x >> 8) % 200,
                (x >> 16) % 250,
                (x >> 24) % 250
            )
        };
        let user = format!("user{}", (x >> 32) % 5000);
        let host = format!("srv{}", (x >> 40) % 300);
        if (x >> 48) % 10 < 6 {
            format!(
                "<86>1 {ts} {host} sshd 41 - - Failed password for {user} from {ip} port 5 ssh2"
            )
        } else {
            format!(
                "<86>1 {ts} {host} sshd 41 - - Accepted password for {user} from {ip} port 5 ssh2"
            )
        }
    })
}

fn config(data: &Path) -> Config {
    Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    }
}

/// Starts on `data` and waits until detection has caught up; the time it took.
fn restart(data: &Path) -> Duration {
    let started = Instant::now();
    let pipeline = Pipeline::start(config(data)).expect("start");
    assert!(pipeline.wait_detected(Duration::from_secs(3600)));
    let took = started.elapsed();
    pipeline.shutdown();
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args = Args::parse();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = args.data.clone().unwrap_or_else(|| tmp.path().join("data"));
    let snapshot = data.join("detection.snapshot");
    let aside = data.join("aside.snapshot");
    {
        let pipeline = Pipeline::start(config(&data)).expect("start");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut batch = String::new();
        let mut sent: usize = 0;
        let fill = Instant::now();
        for line in lines(args.events) {
            batch.push_str(&line);
            batch.push('\n');
            sent += 1;
            if sent.is_multiple_of(2000) || sent == args.events {
                rt.block_on(pipeline.ingestor().ingest_body(
                    &Format::Syslog,
                    batch.as_bytes(),
                    "bench",
                ));
                batch.clear();
            }
        }
        assert!(pipeline.wait_detected(Duration::from_secs(3600)));
        let status = pipeline.status();
        let alerts = pipeline
            .read_store(|s| s.alerts(None, usize::MAX >> 2))
            .map(|a| a.len())
            .unwrap_or(0);
        println!(
            "filled: {} events in {:.1}s, journal_seq {}, {alerts} alerts",
            args.events,
            fill.elapsed().as_secs_f64(),
            status.journal_seq
        );
        pipeline.shutdown();
    }
    let size = std::fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0);
    println!("detection.snapshot: {size} bytes");
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let w = restart(&data);
        std::fs::rename(&snapshot, &aside).expect("move the snapshot aside");
        let wo = restart(&data);
        std::fs::rename(&aside, &snapshot).expect("put the snapshot back");
        println!(
            "run {run}: with snapshot {:.3}s, without {:.3}s",
            w.as_secs_f64(),
            wo.as_secs_f64()
        );
        with.push(w);
        without.push(wo);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "median restart until caught up: with snapshot {:.3}s, without {:.3}s (load average {})",
        median(with).as_secs_f64(),
        median(without).as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
