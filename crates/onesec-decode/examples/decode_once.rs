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
//!
//! Peers, for comparing on the same records (docs/benchmarks.md, "Decoders, session 9"): the
//! format names `peer-sonic-value` (sonic-rs parses each line into its `Value`, the DOM our
//! JSON decoders read), `peer-sonic-lazy` (sonic-rs walks each line's top-level object
//! lazily, `to_object_iter`, without building anything) and `peer-serde-value` (serde_json
//! parses each line into its `Value`; this workspace's serde_json has `preserve_order`, so its
//! objects are `IndexMap`s). Their measured functions are named `decode_and_drop_*` too, so the
//! same `--toggle-collect` catches them; they only parse and drop, they make no event.

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

/// Non-empty lines of `body` (the records of an NDJSON body), found with `memchr` as the
/// decoders' framing finds them (a byte-at-a-time split would charge the peers more).
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', body)
        .chain(std::iter::once(body.len()))
        .filter_map(move |end| {
            let line = body.get(start..end)?;
            start = end + 1;
            Some(line).filter(|line| !line.is_empty())
        })
}

/// Parses every line of `body` into a document and drops it: `(parsed, refused)`. Inlined
/// into each named peer, so `--toggle-collect` still tells them apart.
#[inline(always)]
fn parse_lines<T>(body: &[u8], parse: impl Fn(&[u8]) -> Option<T>) -> (usize, usize) {
    let (mut parsed, mut failed) = (0, 0);
    for line in lines(black_box(body)) {
        match parse(line) {
            Some(document) => {
                drop(black_box(document));
                parsed += 1;
            }
            None => failed += 1,
        }
    }
    (parsed, failed)
}

#[inline(never)]
fn decode_and_drop_sonic_value(body: &[u8]) -> (usize, usize) {
    parse_lines(body, |line| {
        sonic_rs::from_slice::<sonic_rs::Value>(line).ok()
    })
}

#[inline(never)]
fn decode_and_drop_sonic_lazy(body: &[u8]) -> (usize, usize) {
    let (mut parsed, mut failed) = (0, 0);
    for line in lines(black_box(body)) {
        let mut ok = true;
        for pair in sonic_rs::to_object_iter(line) {
            match pair {
                Ok(pair) => drop(black_box(pair)),
                Err(_) => ok = false,
            }
        }
        if ok {
            parsed += 1;
        } else {
            failed += 1;
        }
    }
    (parsed, failed)
}

#[inline(never)]
fn decode_and_drop_serde_value(body: &[u8]) -> (usize, usize) {
    parse_lines(body, |line| {
        serde_json::from_slice::<serde_json::Value>(line).ok()
    })
}

/// A measured run over a body: `(records parsed, records refused)`.
type Run = fn(&[u8]) -> (usize, usize);

/// A peer parser by name, or `None` for one of our formats.
fn peer(name: &str) -> Option<Run> {
    match name {
        "peer-sonic-value" => Some(decode_and_drop_sonic_value),
        "peer-sonic-lazy" => Some(decode_and_drop_sonic_lazy),
        "peer-serde-value" => Some(decode_and_drop_serde_value),
        _ => None,
    }
}

/// The file at `path` repeated `repeat` times, each copy ending with a line end.
fn read_body(path: &str, repeat: usize) -> Option<Vec<u8>> {
    let unit = match std::fs::read(path) {
        Ok(unit) => unit,
        Err(error) => {
            eprintln!("{path}: {error}");
            return None;
        }
    };
    let mut body = Vec::with_capacity((unit.len() + 1) * repeat);
    for _ in 0..repeat {
        body.extend_from_slice(&unit);
        if !unit.ends_with(b"\n") {
            body.push(b'\n');
        }
    }
    Some(body)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: decode_once FORMAT FILE [REPEAT]");
        return ExitCode::FAILURE;
    };
    let repeat: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(100);
    let Some(body) = read_body(path, repeat) else {
        return ExitCode::FAILURE;
    };
    if let Some(run) = peer(name) {
        let (parsed, failed) = run(&body);
        println!(
            "{} records ({parsed} parsed, {failed} errors), {} bytes",
            parsed + failed,
            body.len()
        );
        return ExitCode::SUCCESS;
    }
    let Ok(format) = name.parse::<Format>() else {
        eprintln!("unknown format {name}");
        return ExitCode::FAILURE;
    };
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
