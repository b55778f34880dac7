//! `onesec audit`: verify the audit log offline, prove an event, check a proof, export a bundle.

use crate::client::{ServerArgs, get_json};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use onesec_audit::{AuditLog, Entry, EventProof, VerifyReport, Witness};
use onesec_journal::{Journal, JournalConfig, JournalError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `onesec audit` subcommands.
#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every leaf, checkpoint and (offline) the journal against the audit log.
    Verify {
        /// Data folder (its `audit/` and `journal/`).
        #[arg(long, default_value_os_t = crate::default_data_dir())]
        data_dir: PathBuf,
        /// Verify an exported bundle (an audit folder) instead of a data folder.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Trust this public key (hex file) instead of the folder's own `signing.pub`.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Compare with the checkpoints a witness received (JSON lines).
        #[arg(long)]
        witness: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// onesec config whose `[store]` to compare with the journal (e.g. PostgreSQL);
        /// default: the SQLite file in the data folder.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the inclusion proof of an event (from a running onesec, or a stopped data folder).
    Prove {
        /// Event id (journal sequence).
        event_id: u64,
        #[command(flatten)]
        server: ServerArgs,
        /// Build it from this data folder instead of asking a server (onesec must be stopped).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Check a proof (JSON file from `prove` or the API) with a public key alone.
    CheckProof {
        /// The proof file.
        proof: PathBuf,
        /// The public key (hex file, e.g. `audit/signing.pub` or an exported copy).
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Copy the audit log without its secret key, for verification elsewhere.
    Export {
        /// Target folder (created).
        out: PathBuf,
        /// Data folder.
        #[arg(long, default_value_os_t = crate::default_data_dir())]
        data_dir: PathBuf,
    },
}

/// Runs the subcommand; exit code 1 when verification finds a problem.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify {
            data_dir,
            bundle,
            public_key,
            witness,
            json,
            config,
        } => verify(
            &data_dir,
            bundle,
            public_key,
            witness,
            json,
            config.as_deref(),
        ),
        AuditCommand::Prove {
            event_id,
            server,
            data_dir,
        } => prove(event_id, &server, data_dir),
        AuditCommand::CheckProof { proof, public_key } => check_proof(&proof, &public_key),
        AuditCommand::Export { out, data_dir } => export(&data_dir, &out),
    }
}

fn verify(
    data_dir: &Path,
    bundle: Option<PathBuf>,
    public_key: Option<PathBuf>,
    witness: Option<PathBuf>,
    json: bool,
    config: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let audit_dir = bundle.clone().unwrap_or_else(|| data_dir.join("audit"));
    let key = public_key
        .map(|p| onesec_audit::load_public_key(&p))
        .transpose()?;
    let mut report = onesec_audit::verify_dir(&audit_dir, key.as_ref(), witness.as_deref())
        .with_context(|| format!("verifying {}", audit_dir.display()))?;
    let mut journal_note = if bundle.is_some() {
        "journal not checked (a bundle holds the audit log only)".to_string()
    } else if onesec_keys::installed().is_none() && has_sealed_segments(&data_dir.join("journal")) {
        // The log itself verifies without the key (its leaves are the stored, sealed
        // entries); the journal's events and the store can only be compared with it.
        "journal and store not checked: they are encrypted and no key was given (set ONESEC_ENCRYPTION_KEY_FILE or --config to check them too)".to_string()
    } else {
        check_journal(data_dir, &audit_dir, config, &mut report)?
    };
    let spooled = spooled_entries(&audit_dir);
    if spooled > 0 {
        journal_note.push_str(&format!(
            "\n  {spooled} entries wait in spool/ to be appended (at the next checkpoint or start)"
        ));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&audit_dir, &report, &journal_note);
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Whether a journal folder holds a sealed segment (format version 2, docs/journal-format.md).
fn has_sealed_segments(journal: &Path) -> bool {
    let Ok(listing) = std::fs::read_dir(journal) else {
        return false;
    };
    listing.filter_map(Result::ok).any(|item| {
        let mut header = [0u8; 12];
        item.file_name().to_string_lossy().ends_with(".seg")
            && std::fs::File::open(item.path())
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
                .is_ok()
            && header[8..12] == onesec_journal::ENCRYPTED_FORMAT_VERSION.to_le_bytes()
    })
}

/// Entries other commands left in `<audit>/spool/` that the log has not taken yet.
fn spooled_entries(audit_dir: &Path) -> usize {
    std::fs::read_dir(audit_dir.join(onesec_audit::SPOOL_DIR))
        .map(|listing| {
            listing
                .filter_map(Result::ok)
                .filter(|item| {
                    let name = item.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".json") && !name.starts_with('.')
                })
                .count()
        })
        .unwrap_or(0)
}

fn print_report(dir: &Path, report: &VerifyReport, journal_note: &str) {
    println!("audit log {}", dir.display());
    println!(
        "  {} leaves, {} checkpoints ({} verified), {} witness checkpoints compared",
        report.leaves, report.checkpoints, report.checkpoints_ok, report.witnessed
    );
    println!("  {journal_note}");
    for problem in &report.problems {
        println!("  PROBLEM  {}: {}", problem.position, problem.what);
    }
    if report.is_ok() {
        println!("  OK: nothing was changed, removed, reordered or truncated");
    }
}

/// Recomputes each audited batch's `events_root` from the journal; a stored event that was
/// changed, removed or reordered shows as a mismatch at its batch.
fn check_journal(
    data: &Path,
    audit_dir: &Path,
    store_config: Option<&Path>,
    report: &mut VerifyReport,
) -> anyhow::Result<String> {
    let config = JournalConfig::new(data.join("journal"));
    let journal = match Journal::open(config) {
        Ok((journal, _)) => journal,
        Err(JournalError::Locked { .. }) => {
            return Ok("journal not checked: onesec is running on this data folder".into());
        }
        Err(error) => return Err(error).context("opening the journal"),
    };
    let contents = onesec_audit::read_contents(audit_dir)?;
    let batches: Vec<(usize, onesec_audit::IngestBatch)> = contents
        .entries
        .iter()
        .enumerate()
        .filter_map(|(leaf, bytes)| {
            let entry = serde_json::from_slice::<Entry>(bytes).ok()?;
            Some((leaf, entry.ingest_batch()?))
        })
        .collect();
    let removals = AuditedRemovals::of(&contents.entries);
    // Records below the journal's first one went with whole segments: that is a problem
    // unless an audited retention run says it deleted them.
    let first_kept = journal.first_sequence();
    let (gone, batches): (Vec<_>, Vec<_>) = batches
        .into_iter()
        .partition(|(_, b)| b.first_id < first_kept && removals.journal_cut >= first_kept);
    let ranges: Vec<(u64, u64)> = batches
        .iter()
        .map(|(_, b)| (b.first_id, b.last_id))
        .collect();
    let read = onesec_pipeline::read_payload_ranges(&journal, &ranges);
    for ((leaf, batch), payloads) in batches.iter().zip(read) {
        let what = match payloads {
            Ok(payloads) if hex::encode(onesec_audit::events_root(&payloads)) == batch.events_root => {
                continue;
            }
            Ok(_) => "the events no longer hash to the audited events_root: an event was changed, removed or reordered".to_string(),
            Err(reason) => format!("cannot be read: {reason}"),
        };
        let position = format!(
            "journal records {}..={} (batch in leaf {leaf})",
            batch.first_id, batch.last_id
        );
        report
            .problems
            .push(onesec_audit::Problem { position, what });
    }
    let checked = batches.len();
    let stored = check_store(data, store_config, &journal, &removals, report)?;
    let mut note = format!(
        "journal checked: {checked} batches against their audited events_root; store checked: {stored} events against the journal"
    );
    if !gone.is_empty() {
        note.push_str(&format!(
            "\n  {} batches below journal record {first_kept} were deleted by audited retention runs; {} events removed on purpose",
            gone.len(),
            removals.events()
        ));
    }
    Ok(note)
}

/// Compares the events the store gives (what the API, incidents and exports show; read from
/// the journal positions its blocks name, or from JSON in blocks written without a journal)
/// with the journal, which the check above ties to the audit log: a stored event that differs from its
/// journal record, or a journaled and detected event missing from the store, is a problem at
/// its id. Returns how many stored events were compared.
fn check_store(
    data: &Path,
    config: Option<&Path>,
    journal: &Journal,
    removals: &AuditedRemovals,
    report: &mut VerifyReport,
) -> anyhow::Result<u64> {
    use onesec_store::EventFilter;
    let Some(store) = crate::open_local_store(data, config)? else {
        return Ok(0);
    };
    let detected = store.detected_upto()?.min(journal.last_sequence());
    let mut problem = |position: String, what: String| {
        report
            .problems
            .push(onesec_audit::Problem { position, what });
    };
    let mut expected = journal.first_sequence().max(1);
    let mut compared = 0u64;
    loop {
        let page = store.events(&EventFilter {
            after_id: Some(expected.saturating_sub(1)),
            limit: Some(10_000),
            ..EventFilter::default()
        });
        // The store reads most bodies from the journal by the position its blocks name: a
        // block whose position or ids were changed cannot be read (the journal checks each
        // record's sequence and CRC), and nothing after it is compared.
        let events = match page {
            Ok(events) => events,
            Err(error) => {
                problem(
                    format!("store events from {expected}"),
                    format!("cannot be read: {error}"),
                );
                return Ok(compared);
            }
        };
        let Some(last) = events.last().map(|e| e.id) else {
            break;
        };
        let start = expected;
        let payloads = match onesec_pipeline::read_payloads(journal, start, last) {
            Ok(payloads) => payloads,
            Err(reason) => {
                problem(
                    format!("store events {start}..={last}"),
                    format!("their journal records cannot be read: {reason}"),
                );
                break;
            }
        };
        for event in &events {
            for (first, last) in removals.unexplained(expected, event.id.saturating_sub(1)) {
                problem(
                    format!("store events {first}..={last}"),
                    "journaled and detected, but missing from the store".into(),
                );
            }
            let journaled = usize::try_from(event.id - start)
                .ok()
                .and_then(|i| payloads.get(i))
                .and_then(|p| serde_json::from_slice::<onesec_event::Event>(p).ok())
                .map(|mut e| {
                    e.id = event.id;
                    e
                });
            if journaled.as_ref() != Some(event) {
                problem(
                    format!("store event {}", event.id),
                    "differs from its journal record: the stored event was changed".into(),
                );
            }
            expected = event.id + 1;
            compared += 1;
        }
    }
    for (first, last) in removals.unexplained(expected, detected) {
        problem(
            format!("store events {first}..={last}"),
            "journaled and detected, but missing from the store".into(),
        );
    }
    // The indexes the API's queries go through (block time ranges, person and site
    // timelines) against the events: a changed index hides events without changing one.
    for (position, what) in store.event_index_problems()? {
        problem(position, what);
    }
    Ok(compared)
}

/// What audited retention runs and erasures (`privacy.erase`) removed on purpose: the event ids, and the
/// journal's first record after the last run that deleted segments.
#[derive(Default)]
struct AuditedRemovals {
    ids: Vec<(u64, u64)>,
    journal_cut: u64,
}

impl AuditedRemovals {
    fn of(entries: &[Vec<u8>]) -> AuditedRemovals {
        let mut out = AuditedRemovals::default();
        for bytes in entries {
            let Ok(entry) = serde_json::from_slice::<Entry>(bytes) else {
                continue;
            };
            let removal = [onesec_privacy::AUDIT_RETENTION, onesec_privacy::AUDIT_ERASE];
            if !removal.contains(&entry.action.as_str()) {
                continue;
            }
            if let Ok(ids) =
                serde_json::from_value::<Vec<(u64, u64)>>(entry.detail["removed_ids"].clone())
            {
                out.ids.extend(ids);
            }
            if let Some(cut) = entry.detail["journal"]["first_retained"].as_u64() {
                out.journal_cut = out.journal_cut.max(cut);
            }
        }
        out.ids.sort_unstable();
        out
    }

    fn events(&self) -> u64 {
        self.ids.iter().map(|(f, l)| l - f + 1).sum()
    }

    /// The parts of `first..=last` no audited removal covers.
    fn unexplained(&self, first: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut next = first;
        for &(from, to) in &self.ids {
            if next > last {
                break;
            }
            if to < next {
                continue;
            }
            if from > next {
                out.push((next, (from - 1).min(last)));
            }
            next = next.max(to.saturating_add(1));
        }
        if next <= last {
            out.push((next, last));
        }
        out
    }
}

fn prove(
    event_id: u64,
    server: &ServerArgs,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let proof: EventProof = match data_dir {
        None => serde_json::from_value(get_json(
            server,
            &format!("/api/v1/audit/proof/{event_id}"),
        )?)
        .context("reading the proof")?,
        Some(dir) => prove_offline(&dir, event_id)?,
    };
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(ExitCode::SUCCESS)
}

fn prove_offline(data: &Path, event_id: u64) -> anyhow::Result<EventProof> {
    let (journal, _) = Journal::open(JournalConfig::new(data.join("journal")))
        .context("opening the journal (is onesec running? then leave out --data-dir)")?;
    let audit_dir = data.join("audit");
    let (mut log, _) = AuditLog::open(&audit_dir, Witness::default())?;
    log.checkpoint(onesec_pipeline::now_ms())?;
    let contents = onesec_audit::read_contents(&audit_dir)?;
    let Some((_, batch)) = contents.batch_of(event_id) else {
        bail!("no audited batch holds event {event_id}");
    };
    let payloads = onesec_pipeline::read_payloads(&journal, batch.first_id, batch.last_id)
        .map_err(anyhow::Error::msg)?;
    Ok(contents.prove_event(event_id, &payloads)?)
}

fn check_proof(path: &Path, public_key: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let proof: EventProof = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a proof", path.display()))?;
    let key = onesec_audit::load_public_key(public_key)?;
    match proof.verify(&key) {
        Ok(()) => {
            println!(
                "OK: event {} is in leaf {} of the log signed at size {}",
                proof.event_id, proof.batch.leaf_index, proof.batch.checkpoint.size
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("INVALID: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn export(data: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let from = data.join("audit");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for name in [
        onesec_audit::LEAVES_FILE,
        onesec_audit::CHECKPOINTS_FILE,
        onesec_audit::checkpoint::PUBLIC_KEY_FILE,
    ] {
        std::fs::copy(from.join(name), out.join(name))
            .with_context(|| format!("copying {name} from {}", from.display()))?;
    }
    println!(
        "exported {} to {} (without the signing key)",
        from.display(),
        out.display()
    );
    let detail = serde_json::json!({ "data_dir": data });
    record_offline(data, "export.audit", &out.display().to_string(), detail)?;
    Ok(ExitCode::SUCCESS)
}

/// Records an action of a command that works on the data folder on its own: the entry goes to
/// the audit spool (`<data>/audit/spool/`) and the log (a running or the next `onesec up`)
/// appends it. The actor is `cli:` and the login name of the user who ran the command. A data
/// folder without an audit log (`[audit] enabled = false`) records nothing.
pub(crate) fn record_offline(
    data: &Path,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    let dir = data.join("audit");
    if !dir.join(onesec_audit::LEAVES_FILE).exists() {
        return Ok(());
    }
    let entry = Entry {
        time_ms: onesec_pipeline::now_ms(),
        actor: cli_actor(),
        action: action.into(),
        target: target.into(),
        detail,
    };
    onesec_audit::spool_entry(&dir, &entry)
        .with_context(|| format!("{action} done but not recorded in the audit log"))?;
    Ok(())
}

/// Who a command run here acts as in the audit log: `cli:` and the login name.
pub(crate) fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
