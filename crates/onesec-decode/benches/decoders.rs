//! Records per second and MiB per second of every decoder on one core, through
//! `decode_bytes` (the path every source takes), on real samples where ../shared has them and
//! on this crate's vendor-shaped samples (`tests/data`) where it does not.
//!
//! `cargo bench -p onesec-decode --bench decoders [-- <filter>]`; the results and the machine
//! are in docs/benchmarks.md ("Decoders"). Each input is repeated until one pass holds about
//! 8 MiB (or at least 20 000 records); the figure is the median of 5 passes. Each row gives
//! two rates: the body decoded at once (one `decode_bytes` call, all its events alive at the
//! end, as an HTTP request of 8 MiB), and the same body in batches of at most 1 MiB cut at line
//! ends (a shipper's usual batch: the events of one batch are dropped before the next).
//!
//! The allocator is mimalloc, as in the `onesec` binary: decoders allocate and free a few
//! short strings per record, and the allocator is part of what a record costs in the product.

use onesec_decode::{CsvMapping, DecodeContext, Format, decode_bytes, sia_frame};
use std::hint::black_box;
use std::time::Instant;

// The `onesec` binary's allocator (crates/onesec/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Largest batch of the second rate of each row.
const BATCH_BYTES: usize = 1 << 20;

fn shared(relative: &str) -> Option<Vec<u8>> {
    let path = onesec_testdata::shared(relative)?;
    std::fs::read(path).ok()
}

fn local(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Whether the benchmark `name` was selected (`-- <filter>`).
fn selected(name: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    filter.is_none_or(|f| name.contains(&f))
}

/// Repeats `unit` (whole records, ending in a newline) into one body of about 8 MiB.
fn body_of(unit: &[u8], header: &[u8]) -> (Vec<u8>, usize) {
    let target = 8 << 20;
    let reps = (target / unit.len().max(1)).max(1);
    let mut body = header.to_vec();
    for _ in 0..reps {
        body.extend_from_slice(unit);
        if !unit.ends_with(b"\n") {
            body.push(b'\n');
        }
    }
    (body, reps)
}

/// Decodes `body` five times at once and five times in batches of [`BATCH_BYTES`]; prints
/// records/s and MiB/s of both (median pass) and checks that the decode gave `expected` records
/// (events + errors) so that a broken input shows.
fn run(name: &str, format: &Format, body: &[u8], ctx: &DecodeContext) {
    if !selected(name) {
        return;
    }
    let first = decode_bytes(format, body, ctx);
    let records = first.events.len() + first.errors.len();
    let events = first.events.len();
    drop(first);
    let whole = median_of_five(|| drop(black_box(decode_bytes(format, black_box(body), ctx))));
    // A body that is not one record a line (a CSV body's header, one XML document) cannot be
    // cut into batches as it is: the batches must give the same events, or no rate is shown.
    let batch_records: usize = batches(body, BATCH_BYTES)
        .map(|batch| {
            let out = decode_bytes(format, batch, ctx);
            out.events.len() + out.errors.len()
        })
        .sum();
    let cuttable = batch_records == records && !matches!(format, Format::AccessCsv(_));
    let batched = cuttable.then(|| {
        median_of_five(|| {
            for batch in batches(body, BATCH_BYTES) {
                drop(black_box(decode_bytes(format, black_box(batch), ctx)));
            }
        })
    });
    let rates = |seconds: f64| {
        format!(
            "{:>9.0} records/s {:>6.1} MiB/s",
            records as f64 / seconds,
            body.len() as f64 / seconds / (1 << 20) as f64
        )
    };
    println!(
        "{name:<44} {} | batches: {:<33} ({records} records, {events} events, {:.1} MiB)",
        rates(whole),
        batched.map_or_else(|| "-".to_string(), rates),
        body.len() as f64 / (1 << 20) as f64
    );
}

/// `body` cut into pieces of at most `limit` bytes at line ends (a longer line is a piece of
/// its own).
fn batches(body: &[u8], limit: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(limit)];
        let cut = if window.len() == rest.len() {
            rest.len()
        } else {
            memchr::memrchr(b'\n', window)
                .or_else(|| memchr::memchr(b'\n', rest))
                .map_or(rest.len(), |at| at + 1)
        };
        let (batch, next) = rest.split_at(cut);
        rest = next;
        Some(batch)
    })
}

/// The median of five timed runs of `pass`, in seconds.
fn median_of_five(mut pass: impl FnMut()) -> f64 {
    let mut seconds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    seconds[2]
}

/// A peer: a general JSON parser reading each line of `body` into its document and dropping
/// it, nothing else — what the anchor ("the best Rust parsers") measures, on the same
/// records as the decoder row above it.
fn run_peer(name: &str, body: &[u8], parse: impl Fn(&[u8]) -> bool) {
    if !selected(name) {
        return;
    }
    let lines = || body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let records = lines().filter(|l| parse(l)).count();
    let median = median_of_five(|| {
        for line in lines() {
            black_box(parse(black_box(line)));
        }
    });
    println!(
        "{name:<44} {:>9.0} records/s {:>8.1} MiB/s   ({records} records parsed, {:.1} MiB)",
        records as f64 / median,
        body.len() as f64 / median / (1 << 20) as f64,
        body.len() as f64 / (1 << 20) as f64
    );
}

/// The lines of `sample` that decode to an event without error.
fn decodable_lines(sample: &[u8], format: &Format, ctx: &DecodeContext) -> Vec<u8> {
    let mut kept = Vec::new();
    for line in sample.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let out = decode_bytes(format, line, ctx);
        if out.errors.is_empty() && !out.events.is_empty() {
            kept.extend_from_slice(line);
            kept.push(b'\n');
        }
    }
    kept
}

fn sonic_value(line: &[u8]) -> bool {
    sonic_rs::from_slice::<sonic_rs::Value>(line).is_ok()
}

fn serde_value(line: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(line).is_ok()
}

fn main() {
    let mut ctx = DecodeContext::new("bench", 1_773_183_600_000);
    ctx.syslog.year = Some(2017);
    println!("{:<44} {:>19} {:>14}", "decoder (input)", "", "");
    if let Some(log) = shared("data/loghub/OpenSSH/OpenSSH_2k.log") {
        let (body, _) = body_of(&log, b"");
        run(
            "syslog: sshd (loghub OpenSSH_2k)",
            &Format::Syslog,
            &body,
            &ctx,
        );
        run("auto: sshd (loghub OpenSSH_2k)", &Format::Auto, &body, &ctx);
    }
    if let Some(log) = shared("data/loghub/Linux/Linux_2k.log") {
        let (body, _) = body_of(&log, b"");
        run(
            "syslog: PAM, su, kernel (loghub Linux_2k)",
            &Format::Syslog,
            &body,
            &ctx,
        );
    }
    let (body, _) = body_of(&local("asa.log"), b"");
    run(
        "syslog: Cisco ASA (tests/data/asa.log)",
        &Format::Syslog,
        &body,
        &ctx,
    );
    let cef = local("cef.log");
    let (body, _) = body_of(&cef, b"");
    run("cef (tests/data/cef.log)", &Format::Cef, &body, &ctx);
    // The same sample without its deliberately broken records (whose error texts cost more
    // than an event): what a firewall's stream of valid records costs.
    let (body, _) = body_of(&decodable_lines(&cef, &Format::Cef, &ctx), b"");
    run(
        "cef (cef.log, valid records only)",
        &Format::Cef,
        &body,
        &ctx,
    );
    let (body, _) = body_of(&local("leef.log"), b"");
    run("leef (tests/data/leef.log)", &Format::Leef, &body, &ctx);
    if let Some(log) = shared("scenarios/acme/day-windows.jsonl") {
        let (body, _) = body_of(&log, b"");
        run(
            "windows-json (acme day-windows)",
            &Format::WindowsJson,
            &body,
            &ctx,
        );
        run_peer(
            "peer: sonic-rs Value (acme day-windows)",
            &body,
            sonic_value,
        );
        run_peer(
            "peer: serde_json Value (acme day-windows)",
            &body,
            serde_value,
        );
    }
    if let Some(evtx) = shared("data/evtx/password_spray_4648.evtx") {
        // An EVTX file is decoded whole; repeat the file's decode instead of its bytes.
        if selected("evtx") {
            let mut seconds = Vec::new();
            let mut records = 0;
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..20 {
                    let out = black_box(decode_bytes(&Format::Evtx, &evtx, &ctx));
                    records = out.events.len() + out.errors.len();
                }
                seconds.push(start.elapsed().as_secs_f64() / 20.0);
            }
            seconds.sort_by(f64::total_cmp);
            println!(
                "{:<44} {:>9.0} records/s {:>8.1} MiB/s   ({records} records per file, {:.2} MiB)",
                "evtx (password_spray_4648.evtx)",
                records as f64 / seconds[2],
                evtx.len() as f64 / seconds[2] / (1 << 20) as f64,
                evtx.len() as f64 / (1 << 20) as f64
            );
        }
    }
    if let Some(log) = shared("scenarios/acme/day-onvif.jsonl") {
        let (body, _) = body_of(&log, b"");
        run("onvif-ej (acme day-onvif)", &Format::OnvifEj, &body, &ctx);
        run_peer("peer: sonic-rs Value (acme day-onvif)", &body, sonic_value);
        run_peer(
            "peer: serde_json Value (acme day-onvif)",
            &body,
            serde_value,
        );
    }
    if let Some(index) = onesec_testdata::shared("data/onvif/axis/messages") {
        // The 36 Axis notifications as one PullMessagesResponse, as the PullPoint client gets.
        let mut notifications = String::new();
        for entry in
            onesec_testdata::files_under(&index, &|p| p.extension().is_some_and(|e| e == "xml"))
        {
            let xml = std::fs::read_to_string(&entry).unwrap_or_default();
            if let (Some(start), Some(end)) = (
                xml.find("<wsnt:NotificationMessage"),
                xml.find("</wsnt:NotificationMessage>"),
            ) {
                notifications.push_str(&xml[start..end + "</wsnt:NotificationMessage>".len()]);
                notifications.push('\n');
            }
        }
        let response = format!(
            "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\"><env:Body><tev:PullMessagesResponse>\n{notifications}</tev:PullMessagesResponse></env:Body></env:Envelope>\n"
        );
        let (body, _) = body_of(response.as_bytes(), b"");
        run(
            "onvif-xml (Axis, PullMessagesResponse)",
            &Format::OnvifXml,
            &body,
            &ctx,
        );
    }
    if let Some(dir) = onesec_testdata::shared("data/frigate") {
        let mut lines = String::new();
        for name in [
            "frigate__events.new.json",
            "frigate__events.update.json",
            "frigate__events.end.json",
            "frigate__reviews.new.json",
            "frigate__reviews.end.json",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                lines.push_str(&value.to_string());
                lines.push('\n');
            }
        }
        let (body, _) = body_of(lines.as_bytes(), b"");
        run(
            "frigate (events and reviews)",
            &Format::Frigate,
            &body,
            &ctx,
        );
    }
    {
        // One compact line per Command Centre event, as `/api/events/updates` pages give.
        let page: serde_json::Value =
            serde_json::from_slice(&local("gallagher-page.json")).unwrap_or_default();
        let mut lines = String::new();
        for event in page["events"].as_array().into_iter().flatten() {
            lines.push_str(&event.to_string());
            lines.push('\n');
        }
        let (body, _) = body_of(lines.as_bytes(), b"");
        run(
            "gallagher (tests/data, one event a line)",
            &Format::Gallagher,
            &body,
            &ctx,
        );
    }
    if let Some(csv) = shared("data/vast2016/proxOut-MC2.csv") {
        let mapping = std::fs::read_to_string(
            onesec_testdata::workspace_root().join("examples/vast2016/prox-mapping.toml"),
        )
        .ok()
        .and_then(|text| CsvMapping::from_toml(&text).ok());
        if let Some(mapping) = mapping {
            let text = String::from_utf8_lossy(&csv);
            let (header, rows) = text.split_once('\n').unwrap_or_default();
            let (body, _) = body_of(rows.as_bytes(), format!("{header}\n").as_bytes());
            run(
                "access-csv (vast2016 proxOut, mapping)",
                &Format::AccessCsv(mapping),
                &body,
                &ctx,
            );
        }
    }
    {
        let mut frames = Vec::new();
        for body in [
            "\"SIA-DCS\"0101R1L0#1234[#1234|Nri1/BA15^SERVER ROOM^]_10:00:00,03-10-2026",
            "\"ADM-CID\"0102L0#1234[#1234|1121 01 003]_10:00:05,03-10-2026",
            "\"SIA-DCS\"0103L0#AB12[Nri2/TA4/BR3/id7/OP7]",
        ] {
            frames.extend_from_slice(&sia_frame(body)[1..]);
            frames.push(b'\n');
        }
        let (body, _) = body_of(&frames, b"");
        run(
            "sia-dc09 (frames, one a line)",
            &Format::SiaDc09,
            &body,
            &ctx,
        );
    }
    if let Some(log) = shared("scenarios/acme/day-windows.jsonl") {
        let (body, _) = body_of(&log, b"");
        run(
            "json (generic, acme day-windows)",
            &Format::Json,
            &body,
            &ctx,
        );
    }
}
