//! Audit log costs: append per batch entry and per action, checkpoint, offline verification
//! speed, proof size and time, and the `events_root` hashing ingest does per batch.
//!
//! ```sh
//! cargo run --release -p onesec-audit --example audit_bench -- 10000000
//! ```
//!
//! The argument is the number of leaves (default 1 000 000). Prints a Markdown table.

use onesec_audit::{AuditLog, Entry, Witness, read_contents, verify_dir};
use std::time::Instant;

fn batch_entry(i: u64) -> Entry {
    Entry {
        time_ms: 1_776_326_400_000 + i as i64,
        actor: "onesec".into(),
        action: "ingest.batch".into(),
        target: "http".into(),
        detail: serde_json::json!({
            "input": "http", "format": "auto",
            "raw_sha256": format!("{:064x}", i),
            "first_id": i * 1000 + 1, "last_id": i * 1000 + 1000,
            "events_root": format!("{:064x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }),
    }
}

fn action_entry(i: u64) -> Entry {
    Entry {
        time_ms: 1_776_326_400_000 + i as i64,
        actor: "alice".into(),
        action: "incident.state".into(),
        target: format!("inc-{i:012x}"),
        detail: serde_json::json!({ "to": "acknowledged" }),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let leaves: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("audit");
    let (mut log, _) = AuditLog::open(&dir, Witness::default())?;

    // Appends: 9 batch entries for every action entry, a checkpoint every 100 000 leaves.
    let start = Instant::now();
    let mut checkpoint_secs = 0.0;
    for i in 0..leaves {
        let entry = if i % 10 == 9 {
            action_entry(i)
        } else {
            batch_entry(i)
        };
        log.append(&entry)?;
        if i % 100_000 == 99_999 {
            let t = Instant::now();
            log.checkpoint(i as i64)?;
            checkpoint_secs += t.elapsed().as_secs_f64();
        }
    }
    log.checkpoint(leaves as i64)?;
    let append_secs = start.elapsed().as_secs_f64() - checkpoint_secs;
    let file_bytes = std::fs::metadata(dir.join(onesec_audit::LEAVES_FILE))?.len();
    drop(log);

    // events_root over 1000 payloads of 1.1 KiB, as ingest computes per batch.
    let payloads: Vec<Vec<u8>> = (0..1000)
        .map(|i| vec![b'a' + (i % 26) as u8; 1126])
        .collect();
    let t = Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        std::hint::black_box(onesec_audit::events_root(&payloads));
    }
    let root_us_per_event = t.elapsed().as_secs_f64() * 1e6 / (rounds as f64 * 1000.0);

    let t = Instant::now();
    let report = verify_dir(&dir, None, None)?;
    let verify_secs = t.elapsed().as_secs_f64();
    assert!(report.is_ok(), "{:?}", report.problems);

    let t = Instant::now();
    let contents = read_contents(&dir)?;
    let read_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let proof = contents.prove_leaf((leaves / 2) as usize)?;
    let prove_ms = t.elapsed().as_secs_f64() * 1e3;
    let proof_bytes = serde_json::to_vec(&proof)?.len();

    println!("| measure | value |\n|---|---:|");
    println!("| leaves | {leaves} |");
    println!(
        "| leaves file | {:.1} MiB ({:.0} bytes per leaf) |",
        file_bytes as f64 / 1048576.0,
        file_bytes as f64 / leaves as f64
    );
    println!(
        "| append (entry serialised, framed, written, hashed into the tree) | {:.2} µs per leaf |",
        append_secs * 1e6 / leaves as f64
    );
    println!(
        "| checkpoint (fsync, sign, write) | {:.2} ms each |",
        checkpoint_secs * 1e3 / (leaves / 100_000).max(1) as f64
    );
    println!(
        "| events_root over a batch's journal payloads (1.1 KiB each) | {root_us_per_event:.2} µs per event |"
    );
    println!(
        "| verify (read, CRC, JSON, every checkpoint's root and signature) | {verify_secs:.2} s, {:.0} leaves/s |",
        leaves as f64 / verify_secs
    );
    println!("| read the log for proofs | {read_secs:.2} s |");
    println!(
        "| inclusion proof of the middle leaf | {prove_ms:.1} ms, {} path hashes, {proof_bytes} bytes as JSON |",
        proof.audit_path.len()
    );
    Ok(())
}
