//! Decodes one input once, for instruction counts under callgrind (docs/benchmarks.md,
//! "Decoders"): only `decode_and_drop` is measured.
//!
//! ```text
//! cargo build --release -p onesec-decode --example decode_once
//! valgrind --tool=callgrind --toggle-collect='*decode_and_drop*' \
//!     target/release/examples/decode_once cef crates/onesec-decode/tests/data/cef.log 200
//! ```
//!
//! Arguments: format name (as `?format=` takes it), input file (whole records, one a line), how
//! many times the file is repeated in the body (default 100). Prints the records decoded, so
//! the instruction count can be divided by them.

use onesec_decode::{DecodeContext, Format, decode_bytes};
use std::hint::black_box;
use std::process::ExitCode;

#[inline(never)]
fn decode_and_drop(format: &Format, body: &[u8], ctx: &DecodeContext) -> (usize, usize) {
    let decoded = decode_bytes(format, black_box(body), ctx);
    let counts = (decoded.events.len(), decoded.errors.len());
    drop(black_box(decoded));
    counts
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(format), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: decode_once FORMAT FILE [REPEAT]");
        return ExitCode::FAILURE;
    };
    let Ok(format) = format.parse::<Format>() else {
        eprintln!("unknown format {format}");
        return ExitCode::FAILURE;
    };
    let repeat: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(100);
    let unit = match std::fs::read(path) {
        Ok(unit) => unit,
        Err(error) => {
            eprintln!("{path}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut body = Vec::with_capacity((unit.len() + 1) * repeat);
    for _ in 0..repeat {
        body.extend_from_slice(&unit);
        if !unit.ends_with(b"\n") {
            body.push(b'\n');
        }
    }
    let mut ctx = DecodeContext::new("bench", 1_773_183_600_000);
    ctx.syslog.year = Some(2017);
    let (events, errors) = decode_and_drop(&format, &body, &ctx);
    // `DECODE_ONCE_JSON=1`: also print every event as JSON (outside the measured function),
    // to compare the output of two builds byte for byte.
    if std::env::var_os("DECODE_ONCE_JSON").is_some() {
        for event in decode_bytes(&format, &body, &ctx).events {
            match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(error) => eprintln!("{error}"),
            }
        }
    }
    println!(
        "{} records ({events} events, {errors} errors), {} bytes",
        events + errors,
        body.len()
    );
    ExitCode::SUCCESS
}
