//! Throughput benchmark for the journal (not a timed test).
//!
//! Appends batches of 1,000 payloads of ~400 bytes with `FsyncPolicy::Always`
//! and `FsyncPolicy::Never`, from one appender thread and from several, plain
//! and encrypted (each pair run back to back, plain first), and prints records/s.
//!
//! ```text
//! cargo run --release -p onesec-journal --example journal_bench -- [DIR] [SECONDS_PER_CASE]
//! ```
//!
//! `DIR` defaults to a temporary directory under the system temp dir; pass a
//! directory on the disk you care about, since fsync cost is the point.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use onesec_journal::{FsyncPolicy, Journal, JournalConfig, KeyRing};

const BATCH: usize = 1_000;
const PAYLOAD: usize = 400;

struct Outcome {
    records: u64,
    elapsed: Duration,
}

fn run_case(
    base: &std::path::Path,
    policy: FsyncPolicy,
    appenders: usize,
    secs: f64,
    keys: Option<Arc<KeyRing>>,
) -> Outcome {
    let dir = base.join(format!("{policy:?}-{appenders}").replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&dir);
    let (journal, _) = match Journal::open(JournalConfig::new(&dir).fsync(policy).keys(keys)) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("cannot open journal in {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 31 % 251) as u8).collect();
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let handles: Vec<_> = (0..appenders)
        .map(|_| {
            let journal = journal.clone();
            let payload = payload.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < budget {
                    let batch = vec![payload.clone(); BATCH];
                    match journal.append_batch(batch) {
                        Ok(r) => n += r.end() - r.start() + 1,
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            break;
                        }
                    }
                }
                n
            })
        })
        .collect();
    let records = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    let elapsed = start.elapsed();
    drop(journal);
    let _ = std::fs::remove_dir_all(&dir);
    Outcome { records, elapsed }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (base, _guard) = match args.next().filter(|d| !d.is_empty()) {
        Some(d) => (PathBuf::from(d), None),
        None => {
            let d =
                std::env::temp_dir().join(format!("onesec-journal-bench-{}", std::process::id()));
            (d.clone(), Some(RemoveOnDrop(d)))
        }
    };
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    println!(
        "journal_bench: batches of {BATCH} x {PAYLOAD}-byte payloads, {secs} s per case, dir {}",
        base.display()
    );
    let key = onesec_keys::generate_key_hex().expect("random key");
    let ring = Arc::new(KeyRing::parse(&key, "bench key").expect("bench key"));
    println!(
        "{:<10} {:>9} {:>10} {:>14} {:>10}",
        "policy", "appenders", "encrypted", "records/s", "MiB/s"
    );
    for policy in [FsyncPolicy::Always, FsyncPolicy::Never] {
        for appenders in [1, 4] {
            for keys in [None, Some(ring.clone())] {
                let encrypted = keys.is_some();
                let o = run_case(&base, policy, appenders, secs, keys);
                let rps = o.records as f64 / o.elapsed.as_secs_f64();
                let mibps = rps * (PAYLOAD + 16) as f64 / (1024.0 * 1024.0);
                println!(
                    "{:<10} {:>9} {:>10} {:>14.0} {:>10.1}",
                    format!("{policy:?}"),
                    appenders,
                    if encrypted { "yes" } else { "no" },
                    rps,
                    mibps
                );
            }
        }
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
