//! Cost of sealing one journal-sized record (not a timed test; docs/benchmarks.md).
//!
//! Seals `RECORDS` payloads of 400 bytes with the journal's subkey and per-writer nonces,
//! exactly as the journal writer does (one `Sealer` per writer), and prints the time per record. Run it under
//! `valgrind --tool=callgrind` for an instruction count that the machine's load does not
//! change:
//!
//! ```text
//! cargo build --release -p onesec-keys --example seal_bench
//! target/release/examples/seal_bench [RECORDS]
//! valgrind --tool=callgrind target/release/examples/seal_bench 100000
//! ```

use std::time::Instant;

use onesec_keys::{KeyRing, NonceSource};

const PAYLOAD: usize = 400;

fn main() {
    let records: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let key = onesec_keys::generate_key_hex().expect("random key");
    let ring = KeyRing::parse(&key, "bench key").expect("bench key");
    let sealer = ring
        .journal_current()
        .sealer(NonceSource::new().expect("random nonce prefix"));
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| b'a' + (i % 26) as u8).collect();
    let mut out = Vec::with_capacity(1 << 20);
    let mut sealed_bytes = 0u64;
    let started = Instant::now();
    for seq in 1..=records {
        out.clear();
        let aad = seq.to_le_bytes();
        sealer.seal(seq, &aad, &payload, &mut out).expect("seal");
        sealed_bytes += out.len() as u64;
    }
    let elapsed = started.elapsed();
    let per = elapsed.as_secs_f64() * 1e9 / records as f64;
    println!(
        "seal_bench: {records} records of {PAYLOAD} bytes, {per:.0} ns per record, {:.0} MiB/s of plaintext ({sealed_bytes} bytes sealed)",
        (records as f64 * PAYLOAD as f64) / elapsed.as_secs_f64() / (1024.0 * 1024.0)
    );
}
