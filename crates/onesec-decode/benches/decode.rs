//! Throughput of the decoders on real lines (run with `cargo bench -p onesec-decode`).
//!
//! Reports messages per second for raw `syslog_loose` parsing and for our full syslog decode
//! (header + sub-decoder + event), then for the JSON and CSV decoders, median of 5 runs.

use onesec_decode::{CsvMapping, DecodeContext, Format, decode_bytes, decode_syslog};
use std::hint::black_box;
use std::time::Instant;

fn shared(relative: &str) -> Option<Vec<u8>> {
    let path = onesec_testdata::shared(relative)?;
    std::fs::read(path).ok()
}

/// Median messages per second of `runs` passes of `work` over `count` messages.
fn rate(count: usize, runs: usize, mut work: impl FnMut()) -> f64 {
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            count as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[runs / 2]
}

fn report(name: &str, per_second: f64) {
    println!("{name:<40} {:>8.3} M msgs/s", per_second / 1e6);
}

/// Whether the benchmark `name` was selected (`cargo bench -p onesec-decode -- <filter>`).
fn selected(name: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    filter.is_none_or(|f| name.contains(&f))
}

/// Runs and reports `name` when selected.
fn bench(name: &str, count: usize, work: impl FnMut()) {
    if selected(name) {
        report(name, rate(count, 5, work));
    }
}

fn main() {
    let mut ctx = DecodeContext::new("bench", 1_773_183_600_000);
    ctx.syslog.year = Some(2017);
    if let Some(log) = shared("data/loghub/OpenSSH/OpenSSH_2k.log") {
        let text = String::from_utf8(log.clone()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let reps = 50;
        let total = lines.len() * reps;
        let year = |_: syslog_loose::IncompleteDate| 2017;
        bench("syslog_loose parse (OpenSSH_2k)", total, || {
            for _ in 0..reps {
                for line in &lines {
                    black_box(syslog_loose::parse_message_with_year_exact_tz(
                        line,
                        year,
                        Some(chrono_tz::Tz::UTC),
                        syslog_loose::Variant::Either,
                    ))
                    .ok();
                }
            }
        });
        bench("decode_syslog (OpenSSH_2k)", total, || {
            for _ in 0..reps {
                for line in &lines {
                    black_box(decode_syslog(line, &ctx)).ok();
                }
            }
        });
        // Bodies of 2,000 lines (one file), as an HTTP batch or a file chunk would be.
        for (name, format) in [
            ("decode_bytes Syslog (OpenSSH_2k)", Format::Syslog),
            ("decode_bytes Auto (OpenSSH_2k)", Format::Auto),
        ] {
            bench(name, total, || {
                for _ in 0..reps {
                    drop(black_box(decode_bytes(&format, &log, &ctx)));
                }
            });
        }
    }
    let reps = 2000;
    if let Some(windows) = shared("scenarios/acme/day-windows.jsonl") {
        let body = windows.repeat(reps);
        let count = 5 * reps;
        bench("decode_bytes WindowsJson (acme)", count, || {
            drop(black_box(decode_bytes(&Format::WindowsJson, &body, &ctx)))
        });
    }
    if let Some(onvif) = shared("scenarios/acme/day-onvif.jsonl") {
        let body = onvif.repeat(reps);
        let count = 9 * reps;
        bench("decode_bytes OnvifEj (acme)", count, || {
            drop(black_box(decode_bytes(&Format::OnvifEj, &body, &ctx)))
        });
    }
    if let Some(csv) = shared("scenarios/acme/day-access.csv") {
        let text = String::from_utf8(csv).unwrap_or_default();
        let (header, rows) = text.split_once('\n').unwrap_or_default();
        let body = format!("{header}\n{}", rows.repeat(reps));
        let format = Format::AccessCsv(CsvMapping::auto());
        bench("decode_bytes AccessCsv (acme)", 12 * reps, || {
            drop(black_box(decode_bytes(&format, body.as_bytes(), &ctx)))
        });
    }
}
