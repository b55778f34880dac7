//! `onesec privacy`: retention runs and legal holds on a data folder (docs/privacy.md).
//!
//! Works whether or not onesec runs on the folder: the store is SQLite and takes a second
//! writer. While onesec runs, its journal is locked, so a run here removes events from the
//! store and leaves the journal segments to the running service's next retention run, and the
//! audit entries wait in the audit spool like those of `onesec export`. When onesec is
//! stopped, the journal is compacted here and the entries are appended to the audit log at once.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use onesec_audit::{AuditLog, Entry, Witness};
use onesec_journal::{Journal, JournalConfig, JournalError};
use onesec_pipeline::Config;
use onesec_privacy::{RetentionReport, holds, subject};
use onesec_store::{PrivacyStore, StoreSettings, open_privacy_store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `onesec privacy` flags.
#[derive(Args)]
pub struct PrivacyArgs {
    #[command(subcommand)]
    command: PrivacyCommand,
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// What the retention policy removes now (dry run), or remove it with --apply.
    Retention(RetentionArgs),
    /// Place a legal hold on an incident: nothing it cites is deleted until it is released.
    Hold(HoldArgs),
    /// Lift the legal hold on an incident.
    Release(HoldArgs),
    /// List the legal holds.
    Holds(FolderArgs),
    /// Everything onesec holds about a person (their directory id), as JSON or text.
    Export(ExportArgs),
    /// Erase a person's events, except what an incident under legal hold cites (dry run
    /// unless --apply).
    Erase(EraseArgs),
    /// Who looked at a person's data in a period (from the audit log).
    Access(AccessArgs),
    /// The record of processing activities (GDPR Art. 30) from the configuration in use.
    Records(RecordsArgs),
    /// A new random encryption key (a key file for [privacy.encryption]), or a new current
    /// key put first in an existing key file (--rotate).
    Keygen(crate::keys_cmd::KeygenArgs),
    /// Move a stopped onesec's databases and sealed journal segments to the current key
    /// (encrypting plain databases).
    Rekey(crate::keys_cmd::RekeyArgs),
    /// The plaintext of an export written while encryption was on.
    Decrypt(crate::keys_cmd::DecryptArgs),
    /// Create a pseudonymisation key ([privacy.pseudonymisation] key_file): 32 random bytes
    /// as hex, in a new file readable by its owner only. Keep it outside the data folder.
    PseudonymKey(PseudonymKeyArgs),
}

#[derive(Args)]
struct PseudonymKeyArgs {
    /// The key file to create (refused when it exists: replacing a key changes every
    /// pseudonym, so events before and after would no longer match).
    #[arg(long, short)]
    out: PathBuf,
}

#[derive(Args)]
struct RecordsArgs {
    /// `markdown` or `json`.
    #[arg(long, default_value = "markdown")]
    format: String,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
    #[command(flatten)]
    folder: FolderArgs,
}

#[derive(Args)]
struct AccessArgs {
    /// The person's directory id.
    person: String,
    /// From (RFC 3339, or a date YYYY-MM-DD meaning its start, UTC).
    #[arg(long)]
    from: Option<String>,
    /// To (RFC 3339, or a date YYYY-MM-DD meaning its end, UTC).
    #[arg(long)]
    to: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    folder: FolderArgs,
}

#[derive(Args)]
struct ExportArgs {
    /// The person's directory id (`person_id` in people.csv).
    person: String,
    /// Why the data is looked up (the request's reference); recorded in the audit log.
    #[arg(long)]
    reason: String,
    /// `json` (machine-readable, every event whole) or `text` (for the person).
    #[arg(long, default_value = "json")]
    format: String,
    /// Output file (default: standard output). Encrypted when encryption at rest is on
    /// (`onesec privacy decrypt` reads it), unless --plaintext.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Write the --out file in the clear even when encryption is on (a copy for the data
    /// subject, who has no key).
    #[arg(long, requires = "out")]
    plaintext: bool,
    #[command(flatten)]
    folder: FolderArgs,
}

#[derive(Args)]
struct EraseArgs {
    /// The person's directory id.
    person: String,
    /// The erasure request's reference; recorded in the audit log.
    #[arg(long)]
    reason: String,
    /// Erase (without it, only say what would go).
    #[arg(long)]
    apply: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    folder: FolderArgs,
}

#[derive(Args)]
struct FolderArgs {
    /// The configuration file onesec runs with (its data folder and `[privacy]` are used).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data folder (overrides the config file's).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct RetentionArgs {
    #[command(flatten)]
    folder: FolderArgs,
    /// Remove what expired (without it, only say what would go).
    #[arg(long)]
    apply: bool,
    /// Count periods back from this moment (RFC 3339) instead of now: what will expire then.
    #[arg(long)]
    as_of: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct HoldArgs {
    /// The incident.
    incident: String,
    /// Why (a case number, a request from counsel); required.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    folder: FolderArgs,
}

/// Runs `onesec privacy`.
pub fn run(args: PrivacyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PrivacyCommand::Retention(args) => retention(args),
        PrivacyCommand::Hold(args) => hold(args),
        PrivacyCommand::Release(args) => release(args),
        PrivacyCommand::Holds(args) => list_holds(args),
        PrivacyCommand::Export(args) => export_subject(args),
        PrivacyCommand::Erase(args) => erase_subject(args),
        PrivacyCommand::Access(args) => access(args),
        PrivacyCommand::Records(args) => records(args),
        PrivacyCommand::PseudonymKey(args) => pseudonym_key(args),
        PrivacyCommand::Keygen(args) => crate::keys_cmd::keygen(args),
        PrivacyCommand::Rekey(args) => crate::keys_cmd::rekey(args),
        PrivacyCommand::Decrypt(args) => crate::keys_cmd::decrypt(args),
    }
}

fn pseudonym_key(args: PseudonymKeyArgs) -> anyhow::Result<ExitCode> {
    // A key from the thread's CSPRNG (seeded by the OS), checked as any loaded key is.
    let key = onesec_directory::PseudonymKey::from_bytes(rand::random(), "the generator")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.out).with_context(|| {
        format!(
            "creating {} (an existing key is never replaced)",
            args.out.display()
        )
    })?;
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_hex()).as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "pseudonymisation key written to {} (mode 0600); set [privacy.pseudonymisation] key_file to it and keep a copy apart from the data folder's backups",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The store key of a person's events: their pseudonym when the configuration turns
/// pseudonymisation on (the key is loaded and checked as `onesec up` does), else the id.
fn subject_key(config: &Config, person: &str) -> anyhow::Result<String> {
    let pseudonyms =
        onesec_pipeline::pseudonyms::load(&config.privacy.pseudonymisation, &config.data_dir)?;
    Ok(match pseudonyms {
        Some(p) => p.pseudonymiser().person(person),
        None => person.to_string(),
    })
}

impl FolderArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => crate::keys_cmd::load_config(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        } else if self.config.is_none() {
            config.data_dir = crate::default_data_dir();
        }
        config.privacy.validate()?;
        Ok(config)
    }
}

/// The store `[store]` names (the data folder's SQLite file, or PostgreSQL), with the data
/// folder's journal for the event bodies it refers to.
fn open_store(config: &Config) -> anyhow::Result<Box<dyn PrivacyStore>> {
    let settings = config.store_settings()?;
    let db = config.data_dir.join("onesec.db");
    if settings == StoreSettings::Sqlite && !db.exists() {
        bail!(
            "no store at {} (run `onesec up` first or pass --data-dir)",
            db.display()
        );
    }
    open_privacy_store(&settings, &config.data_dir).context("opening the store")
}

/// The journal, unless onesec holds it.
fn open_journal(data: &Path) -> anyhow::Result<Option<Journal>> {
    match Journal::open(JournalConfig::new(data.join("journal"))) {
        Ok((journal, _)) => Ok(Some(journal)),
        Err(JournalError::Locked { .. }) => Ok(None),
        Err(error) => Err(error).context("opening the journal"),
    }
}

fn retention(args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let config = args.folder.config()?;
    let data = &config.data_dir;
    let now_ms = match &args.as_of {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| {
                format!("--as-of {text:?}: expected RFC 3339, e.g. 2026-05-01T00:00:00Z")
            })?
            .timestamp_millis(),
        None => onesec_pipeline::now_ms(),
    };
    let mut store = open_store(&config)?;
    let journal = if args.apply {
        open_journal(data)?
    } else {
        None
    };
    let report = onesec_privacy::run(
        &mut *store,
        journal.as_ref(),
        &config.privacy.retention,
        now_ms,
        !args.apply,
    )?;
    if args.apply && report.changed_anything() {
        let detail = serde_json::to_value(&report)?;
        record(
            data,
            journal.is_some(),
            onesec_privacy::AUDIT_RETENTION,
            "",
            detail,
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, args.apply && journal.is_none());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &RetentionReport, journal_locked: bool) {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    println!(
        "retention as of {}: {} events old enough to check, {} expired",
        format_ms(report.as_of_ms),
        report.examined,
        report.expired
    );
    println!("  {verb} {} events", report.removed);
    for (setting, count) in &report.removed_by_setting {
        println!("    {count:>8}  by {setting}");
    }
    for (category, count) in &report.removed_by_category {
        println!("    {count:>8}  {category}");
    }
    println!(
        "  kept: {} under legal hold, {} as evidence of incidents",
        report.kept_for_legal_hold, report.kept_as_incident_evidence
    );
    if !report.incidents_removed.is_empty() {
        println!(
            "  {verb} {} incidents (finished, not held, inactive past incident_days) with {} rows kept for them",
            report.incidents_removed.len(),
            report.incident_rows_removed.total()
        );
    }
    if report.incidents_kept_open + report.incidents_kept_for_legal_hold > 0 {
        println!(
            "  incidents kept past incident_days: {} still open, {} under legal hold",
            report.incidents_kept_open, report.incidents_kept_for_legal_hold
        );
    }
    if report.unattached_alerts_removed > 0 {
        println!(
            "  removed {} alerts of no incident",
            report.unattached_alerts_removed
        );
    }
    if report.device_changes_removed > 0 {
        println!(
            "  removed {} device address and name changes",
            report.device_changes_removed
        );
    }
    if let Some(journal) = &report.journal {
        println!(
            "  journal: {} segments deleted, first record now {}, {} kept events moved into the store",
            journal.segments_removed, journal.first_retained, journal.bodies_moved
        );
    } else if journal_locked {
        println!(
            "  journal: onesec is running and holds it; its own retention job deletes the segments"
        );
    }
}

fn hold(args: HoldArgs) -> anyhow::Result<ExitCode> {
    let config = args.folder.config()?;
    let data = &config.data_dir;
    let mut store = open_store(&config)?;
    let by = crate::audit_cmd::cli_actor();
    let placed = holds::place(
        &mut *store,
        &args.incident,
        &args.reason,
        &by,
        onesec_pipeline::now_ms(),
    )?;
    let running = open_journal(data)?.is_none();
    let detail = serde_json::json!({ "reason": placed.reason });
    record(
        data,
        !running,
        onesec_privacy::AUDIT_HOLD,
        &args.incident,
        detail,
    )?;
    println!(
        "incident {} is under legal hold: {}",
        args.incident, placed.reason
    );
    Ok(ExitCode::SUCCESS)
}

fn release(args: HoldArgs) -> anyhow::Result<ExitCode> {
    let config = args.folder.config()?;
    let data = &config.data_dir;
    let mut store = open_store(&config)?;
    holds::lift(&mut *store, &args.incident)?;
    let running = open_journal(data)?.is_none();
    let detail = serde_json::json!({ "reason": args.reason });
    record(
        data,
        !running,
        onesec_privacy::AUDIT_RELEASE,
        &args.incident,
        detail,
    )?;
    println!("legal hold on incident {} lifted", args.incident);
    Ok(ExitCode::SUCCESS)
}

fn list_holds(args: FolderArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let store = open_store(&config)?;
    let holds = store.legal_holds()?;
    if holds.is_empty() {
        println!("no incident is under legal hold");
    }
    for hold in holds {
        println!(
            "{}  since {} by {}: {}",
            hold.incident_id,
            format_ms(hold.placed_ms),
            hold.placed_by,
            hold.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn export_subject(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.reason.trim().is_empty() {
        bail!("--reason: say why this person's data is looked up");
    }
    let config = args.folder.config()?;
    let data = &config.data_dir;
    let store = open_store(&config)?;
    let row = directory_record(&config, &args.person)?;
    let key = subject_key(&config, &args.person)?;
    let mut export = subject::export(
        &*store,
        &key,
        row,
        &config.privacy.retention,
        onesec_pipeline::now_ms(),
    )?;
    export.person = args.person.clone();
    let bytes = match args.format.as_str() {
        "json" => serde_json::to_vec_pretty(&export)?,
        "text" => subject::render_text(&export, format_ms).into_bytes(),
        other => bail!("--format {other:?}: expected json or text"),
    };
    let encrypted = match &args.out {
        Some(path) => crate::keys_cmd::write_export(path, &bytes, args.plaintext)?,
        None => {
            std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?;
            false
        }
    };
    let running = open_journal(data)?.is_none();
    let detail = serde_json::json!({
        "events": export.events.len(),
        "incidents": export.incidents.len(),
        "format": args.format,
        "encrypted": encrypted,
        "sha256": sha256_hex(&bytes),
        "reason": args.reason.trim(),
        "via": "cli",
    });
    record(data, !running, onesec_privacy::AUDIT_EXPORT, &key, detail)?;
    Ok(ExitCode::SUCCESS)
}

/// The directory's row of the person, when the configuration names a directory.
fn directory_record(config: &Config, person: &str) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(dir) = &config.directory else {
        return Ok(None);
    };
    let directory = onesec_directory::Directory::load_dir(dir)
        .with_context(|| format!("reading the directory {}", dir.display()))?;
    Ok(directory
        .person(person)
        .map(serde_json::to_value)
        .transpose()?)
}

fn erase_subject(args: EraseArgs) -> anyhow::Result<ExitCode> {
    if args.reason.trim().is_empty() {
        bail!("--reason: give the erasure request's reference");
    }
    let config = args.folder.config()?;
    let data = &config.data_dir;
    let mut store = open_store(&config)?;
    let journal = if args.apply {
        open_journal(data)?
    } else {
        None
    };
    let key = subject_key(&config, &args.person)?;
    let report = subject::erase(
        &mut *store,
        journal.as_ref(),
        &key,
        args.reason.trim(),
        onesec_pipeline::now_ms(),
        !args.apply,
    )?;
    if args.apply {
        let detail = serde_json::to_value(&report)?;
        record(
            data,
            journal.is_some(),
            onesec_privacy::AUDIT_ERASE,
            "",
            detail,
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if report.dry_run {
        "would erase"
    } else {
        "erased"
    };
    println!(
        "{}: {} events found, {verb} {}, {} kept under legal hold",
        args.person, report.found, report.removed, report.kept_for_legal_hold
    );
    if !report.incidents_naming.is_empty() {
        println!(
            "  incidents naming the person are kept: {}",
            report.incidents_naming.join(", ")
        );
    }
    match &report.journal {
        Some(j) => println!(
            "  journal: {} segments deleted, first record now {}",
            j.segments_removed, j.first_retained
        ),
        None if args.apply && journal.is_none() => println!(
            "  journal: onesec is running and holds it; its retention job deletes the segments"
        ),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn access(args: AccessArgs) -> anyhow::Result<ExitCode> {
    let config = args.folder.config()?;
    let from = args
        .from
        .as_deref()
        .map(|t| parse_moment(t, false))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_moment(t, true))
        .transpose()?;
    let dir = config.data_dir.join("audit");
    let contents = onesec_audit::read_contents(&dir)
        .with_context(|| format!("reading the audit log in {}", dir.display()))?;
    let key = subject_key(&config, &args.person)?;
    let accesses = onesec_privacy::access::accesses_of_any(
        &contents.entries,
        &[args.person.as_str(), key.as_str()],
        from,
        to,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&accesses)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} looks at the data of {}", accesses.len(), args.person);
    for a in &accesses {
        let reason = if a.reason.is_empty() {
            "no reason given"
        } else {
            &a.reason
        };
        println!(
            "  {}  {}  {} ({})  {}",
            format_ms(a.time_ms),
            a.actor,
            a.kind,
            a.target,
            reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn records(args: RecordsArgs) -> anyhow::Result<ExitCode> {
    let config = args.folder.config()?;
    let facts = processing_facts(&config)?;
    let records =
        onesec_privacy::records::build(&facts, &config.privacy.retention, &config.privacy.access);
    let text = match args.format.as_str() {
        "markdown" => onesec_privacy::records::render_markdown(&records),
        "json" => serde_json::to_string_pretty(&records)?,
        other => bail!("--format {other:?}: expected markdown or json"),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// What the configuration (and the directory it names) says about the processing.
fn processing_facts(config: &Config) -> anyhow::Result<onesec_privacy::records::Facts> {
    let directory = match &config.directory {
        Some(dir) => Some(
            onesec_directory::Directory::load_dir(dir)
                .with_context(|| format!("reading the directory {}", dir.display()))?,
        ),
        None => None,
    };
    Ok(onesec_pipeline::privacy::processing_facts(
        config,
        directory.as_ref(),
        roles_reading(onesec_auth::Permission::ReadEvents),
        roles_reading(onesec_auth::Permission::ReadIncidents),
    ))
}

/// The roles with a permission.
fn roles_reading(permission: onesec_auth::Permission) -> Vec<String> {
    onesec_auth::Role::ALL
        .iter()
        .filter(|r| r.may(permission))
        .map(|r| r.as_str().to_string())
        .collect()
}

/// RFC 3339, or a date (its start, or with `end` its last millisecond), UTC.
fn parse_moment(text: &str, end: bool) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{text:?}: expected RFC 3339 or YYYY-MM-DD"))?;
    let start = date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0);
    Ok(if end { start + 86_400_000 - 1 } else { start })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Audits an action done here: appended to the log when onesec is stopped (`append_now`),
/// else left in the spool for the running log. Nothing when the folder has no audit log.
fn record(
    data: &Path,
    append_now: bool,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    if !append_now {
        return crate::audit_cmd::record_offline(data, action, target, detail);
    }
    let dir = data.join("audit");
    if !dir.join(onesec_audit::LEAVES_FILE).exists() {
        return Ok(());
    }
    let (mut log, _) = AuditLog::open(&dir, Witness::default())?;
    log.absorb_spool()?;
    let entry = Entry {
        time_ms: onesec_pipeline::now_ms(),
        actor: crate::audit_cmd::cli_actor(),
        action: action.into(),
        target: target.into(),
        detail,
    };
    log.append(&entry)
        .with_context(|| format!("{action} done but not recorded in the audit log"))?;
    log.checkpoint(onesec_pipeline::now_ms())?;
    Ok(())
}

/// UTC ms as RFC 3339 (seconds).
fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}
