//! `onesec export --ocsf`: stored events as OCSF JSON lines.

use anyhow::{Context, bail};
use clap::Args;
use onesec_store::EventFilter;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `onesec export` flags.
#[derive(Args)]
pub struct ExportArgs {
    /// Write OCSF JSON (one event per line).
    #[arg(long)]
    ocsf: bool,
    /// Data folder to read.
    #[arg(long, default_value = "onesec-data")]
    data_dir: PathBuf,
    /// onesec config whose `[store]` to read (e.g. PostgreSQL); default: the SQLite file in
    /// the data folder.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output file (default: standard output). Encrypted when encryption at rest is on
    /// (`onesec privacy decrypt` reads it), unless --plaintext.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Write the --out file in the clear even when encryption is on.
    #[arg(long, requires = "out")]
    plaintext: bool,
}

/// Streams every stored event, in journal order.
pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if !args.ocsf {
        bail!("choose an export format: --ocsf");
    }
    let Some(store) = crate::open_local_store(&args.data_dir, args.config.as_deref())? else {
        bail!(
            "no store at {} (run `onesec up` first, pass --data-dir, or --config for PostgreSQL)",
            args.data_dir.join("onesec.db").display()
        );
    };
    // A file to be sealed is gathered in memory and sealed whole (keys_cmd::write_export).
    let sealing = args.out.is_some() && onesec_keys::installed().is_some() && !args.plaintext;
    let sink = match &args.out {
        Some(_) if sealing => Sink::Memory(Vec::new()),
        Some(path) => Sink::Stream(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ))),
        None => Sink::Stream(Box::new(std::io::BufWriter::new(std::io::stdout().lock()))),
    };
    let mut out = Hashing {
        inner: sink,
        hasher: Sha256::new(),
    };
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let events = store.events(&EventFilter {
            after_id: Some(after),
            limit: Some(10_000),
            ..EventFilter::default()
        })?;
        let Some(last) = events.last() else { break };
        after = last.id;
        for event in &events {
            serde_json::to_writer(&mut out, &onesec_event::ocsf::to_ocsf(event))?;
            out.write_all(b"\n")?;
            count += 1;
        }
    }
    out.flush()?;
    let Hashing { inner, hasher } = out;
    let sha256 = hex::encode(hasher.finalize());
    if let (Sink::Memory(gathered), Some(path)) = (inner, &args.out) {
        crate::keys_cmd::write_export(path, &gathered, false)?;
    }
    eprintln!(
        "exported {count} event(s) as OCSF{}",
        if sealing { " (encrypted)" } else { "" }
    );
    let target = args
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let detail = serde_json::json!({
        "events": count,
        "last_id": after,
        "sha256": sha256,
        "encrypted": sealing,
        "data_dir": args.data_dir,
    });
    crate::audit_cmd::record_offline(&args.data_dir, "export.ocsf", &target, detail)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the export goes: a stream (file or standard output), or memory for a file sealed whole.
enum Sink {
    Stream(Box<dyn Write>),
    Memory(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stream(w) => w.write(buf),
            Sink::Memory(v) => v.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stream(w) => w.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

/// A writer that hashes what it writes (the export's SHA-256 goes into the audit log).
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
