//! `onesec replay FILE`: sends a file to a running onesec in chunks, with a progress bar, and
//! waits until detection has seen it.

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use onesec_decode::{EVTX_MAGIC, read_evtx};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `onesec replay` flags.
#[derive(Args)]
pub struct ReplayArgs {
    /// Files to send (each line one record; CSV files start with their header).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Input format: auto, syslog, cef, leef, windows-json, evtx, onvif-ej, onvif-xml, frigate,
    /// gallagher, sia-dc09, access-csv, event-json, json, json-map (with --mapping: JSON lines
    /// through a field mapping). `.csv` files default to access-csv; EVTX files (by their
    /// magic) are read here and sent as windows-json lines.
    #[arg(long)]
    format: Option<String>,
    /// Column mapping (TOML) for access-control CSV exports, or field mapping for json-map.
    #[arg(long)]
    mapping: Option<PathBuf>,
    #[command(flatten)]
    server: crate::client::ServerArgs,
    /// Lines per HTTP request.
    #[arg(long, default_value_t = 5000)]
    batch_lines: usize,
    /// Do not wait for detection to catch up before exiting.
    #[arg(long)]
    no_wait: bool,
}

/// What happened to one file.
#[derive(Default)]
struct Totals {
    accepted: u64,
    refused: Vec<(usize, String)>,
    last_id: u64,
}

/// Sends every file.
pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let client = args
        .server
        .client_builder()?
        .timeout(Duration::from_secs(300))
        .build()?;
    let mapping = match &args.mapping {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading mapping {}", path.display()))?,
        ),
        None => None,
    };
    let mut failed = false;
    let mut last_id = 0;
    for file in &args.files {
        let totals = send_file(&client, &args, file, mapping.as_deref())?;
        println!(
            "{}: {} event(s) accepted, {} refused",
            file.display(),
            totals.accepted,
            totals.refused.len()
        );
        for (line, reason) in totals.refused.iter().take(20) {
            println!("  line {line}: {reason}");
        }
        failed |= !totals.refused.is_empty();
        last_id = last_id.max(totals.last_id);
    }
    if !args.no_wait && last_id > 0 {
        wait_for_detection(&args.server, last_id)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn format_for(args: &ReplayArgs, file: &std::path::Path) -> String {
    if let Some(f) = &args.format {
        return f.clone();
    }
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv || args.mapping.is_some() {
        "access-csv".into()
    } else {
        "auto".into()
    }
}

fn send_file(
    client: &reqwest::blocking::Client,
    args: &ReplayArgs,
    file: &std::path::Path,
    mapping: Option<&str>,
) -> anyhow::Result<Totals> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut format = format_for(args, file);
    let mut totals = Totals::default();
    // EVTX is binary and cannot be cut into lines: render its records to EVTX-JSON here and
    // send those lines as windows-json, the decoder the server would use for them anyway.
    let bytes = if format == "evtx" || (format == "auto" && bytes.starts_with(EVTX_MAGIC)) {
        format = "windows-json".into();
        evtx_to_lines(bytes, file, &mut totals)?
    } else {
        bytes
    };
    let csv = format == "access-csv";
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let (header, body_lines, first_line) = if csv && !lines.is_empty() {
        (Some(lines[0]), &lines[1..], 2)
    } else {
        (None, &lines[..], 1)
    };
    let bar = ProgressBar::new(bytes.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(file.display().to_string());
    let url = format!(
        "{}/api/v1/events?format={format}",
        args.server.server.trim_end_matches('/')
    );
    // An XML document cannot be split at lines: it goes in one request.
    let xml = format == "onvif-xml"
        || (format == "auto"
            && file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xml")));
    let batch_lines = if xml {
        body_lines.len().max(1)
    } else {
        args.batch_lines.max(1)
    };
    for (index, chunk) in body_lines.chunks(batch_lines).enumerate() {
        let chunk_first_line = first_line + index * batch_lines;
        let mut body = Vec::new();
        if let Some(h) = header {
            body.extend_from_slice(h);
            body.push(b'\n');
        }
        for line in chunk {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        let mut request = args.server.authorize(client.post(&url).body(body.clone()));
        if let Some(m) = mapping {
            let header = if format == "json-map" {
                "X-Onesec-Json-Mapping"
            } else {
                "X-Onesec-Csv-Mapping"
            };
            request = request.header(header, base64::engine::general_purpose::STANDARD.encode(m));
        }
        let response = request
            .send()
            .with_context(|| format!("cannot reach onesec at {}", args.server.server))?;
        let status = response.status();
        let report: Value = response
            .json()
            .context("onesec answered with something that is not JSON")?;
        if status.is_server_error() || report.get("error").is_some() {
            bail!("onesec refused the batch ({status}): {report}");
        }
        totals.accepted += report["accepted"].as_u64().unwrap_or(0);
        totals.last_id = totals.last_id.max(report["last_id"].as_u64().unwrap_or(0));
        for error in report["errors"].as_array().into_iter().flatten() {
            let line = error["line"].as_u64().unwrap_or(0) as usize;
            let offset = if csv {
                line.saturating_sub(2)
            } else {
                line.saturating_sub(1)
            };
            totals.refused.push((
                chunk_first_line + offset,
                error["reason"].as_str().unwrap_or("").to_string(),
            ));
        }
        bar.inc((body.len() - header.map_or(0, |h| h.len() + 1)) as u64);
    }
    bar.finish();
    Ok(totals)
}

/// The records of an EVTX file as JSON lines; unreadable chunks and records become refusals
/// numbered by their position in the file's record order.
fn evtx_to_lines(
    bytes: Vec<u8>,
    file: &std::path::Path,
    totals: &mut Totals,
) -> anyhow::Result<Vec<u8>> {
    let records = read_evtx(bytes).with_context(|| format!("reading {}", file.display()))?;
    let mut lines = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        match record {
            Ok(record) => {
                lines.extend_from_slice(record.json.as_bytes());
                lines.push(b'\n');
            }
            Err(error) => totals.refused.push((index + 1, error.to_string())),
        }
    }
    Ok(lines)
}

/// Polls `/api/v1/status` until detection has passed `last_id`.
fn wait_for_detection(server: &crate::client::ServerArgs, last_id: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = crate::client::get_json(server, "/api/v1/status")?;
        if status["detected_seq"].as_u64().unwrap_or(0) >= last_id {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("detection has not caught up with event {last_id} after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut-off EVTX file: the records before the cut become lines, the cut chunk one refusal.
    #[test]
    fn evtx_records_become_lines_and_a_cut_chunk_a_refusal() {
        let Some(path) = onesec_testdata::shared("data/evtx/password_spray_4648.evtx") else {
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let mut totals = Totals::default();
        let lines = evtx_to_lines(bytes.clone(), &path, &mut totals).unwrap();
        assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 295);
        assert!(totals.refused.is_empty());
        let cut = &bytes[..4096 + 2 * 65536 + 100];
        let mut totals = Totals::default();
        let lines = evtx_to_lines(cut.to_vec(), &path, &mut totals).unwrap();
        let kept = lines.iter().filter(|b| **b == b'\n').count();
        assert!(kept > 0 && kept < 295, "{kept}");
        assert_eq!(totals.refused.len(), 1);
        assert_eq!(totals.refused[0].0, kept + 1);
        assert!(totals.refused[0].1.contains("EVTX chunk 2"));
    }
}
