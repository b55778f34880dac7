//! `onesec`: one binary, one subcommand per job. Each subcommand lives in its own module and
//! only wires library crates together; errors get their context here, at the edge.

mod audit_cmd;
mod auth_cmd;
mod casework_cmd;
mod client;
mod cluster_cmd;
mod compliance_cmd;
mod demo;
mod devices_cmd;
mod drill_cmd;
mod export;
mod keys_cmd;
mod privacy_cmd;
mod replay;
mod rules_cmd;
mod up;
mod work_cmd;

use clap::{Parser, Subcommand};

// The pipeline allocates and frees many small strings per event; glibc malloc's free-list work
// was about a tenth of the ingest workers' samples (docs/benchmarks.md), mimalloc avoids most.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

/// One security platform for the physical and the digital world.
#[derive(Parser)]
#[command(name = "onesec", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start onesec: HTTP API, syslog listeners, detection, embedded store.
    Up(up::UpArgs),
    /// Send a file of events to a running onesec (with a progress bar).
    Replay(replay::ReplayArgs),
    /// List incidents (from a running onesec, or straight from a data folder).
    Incidents(client::IncidentsArgs),
    /// Show one incident (alerts, timeline, case, history), or work it: ack, state, assign,
    /// classify, comment, playbook.
    Incident(client::IncidentArgs),
    /// Team tasks of the playbook runs: list, approve, reject.
    Tasks(work_cmd::TasksArgs),
    /// Journal and detection positions of a running onesec.
    Status(client::ServerArgs),
    /// Sources of a running onesec (syslog listeners, MQTT, SIA, ONVIF cameras, HTTP) with
    /// their counters: received, decoded, dead-lettered, late, dropped, last seen.
    Sources(client::SourcesArgs),
    /// Check Sigma rules (which load, which are refused and why) or test them on events.
    Rules(rules_cmd::RulesArgs),
    /// Export stored events (OCSF JSON lines).
    Export(export::ExportArgs),
    /// The tamper-evident audit log: verify, prove an event, check a proof, export a bundle.
    Audit(audit_cmd::AuditArgs),
    /// Compliance: control coverage, NIS2 / GDPR deadlines, marks, drafts, submissions.
    Compliance(compliance_cmd::ComplianceArgs),
    /// A unified report (HTML, PDF, CSV, JSON) for a period and site, with a progress bar.
    Report(compliance_cmd::ReportArgs),
    /// Users and tokens: create the first administrator, log in, issue API tokens.
    Auth(auth_cmd::AuthArgs),
    /// Device inventory and hygiene: list devices, check them (KEV, advisories, default
    /// logins, exposure, segments, connections, liveness), offline.
    Devices(devices_cmd::DevicesArgs),
    /// Privacy by design: retention runs (dry run or --apply) and legal holds on incidents.
    Privacy(privacy_cmd::PrivacyArgs),
    /// Exercises: run and score a hybrid attack scenario in exercise mode (after-action
    /// report), validate scenario files, generate background traffic (the benchmark workload).
    Drill(drill_cmd::DrillArgs),
    /// Several processes over NATS JetStream: ingest, detection worker, alert sink, status.
    Cluster(cluster_cmd::ClusterArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    if let Err(error) = keys_cmd::install_from_env() {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Incidents(args) => client::incidents(args),
        Command::Incident(args) => client::incident(args),
        Command::Tasks(args) => work_cmd::tasks(args),
        Command::Status(args) => client::status(args),
        Command::Sources(args) => client::sources(args),
        Command::Rules(args) => rules_cmd::run(args),
        Command::Export(args) => export::run(args),
        Command::Audit(args) => audit_cmd::run(args),
        Command::Compliance(args) => compliance_cmd::run(args),
        Command::Report(args) => compliance_cmd::report(args),
        Command::Auth(args) => auth_cmd::run(args),
        Command::Devices(args) => devices_cmd::run(args),
        Command::Drill(args) => drill_cmd::run(args),
        Command::Privacy(args) => privacy_cmd::run(args),
        Command::Cluster(args) => cluster_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONESEC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Opens the store for a command that reads it itself (onesec need not run): the `[store]` of
/// `config` when given (PostgreSQL or SQLite), else the SQLite file in `data_dir`; `None` when
/// that SQLite file does not exist. Event blocks are read from `data_dir`'s journal.
fn open_local_store(
    data_dir: &std::path::Path,
    config: Option<&std::path::Path>,
) -> anyhow::Result<Option<Box<dyn onesec_store::Store>>> {
    use anyhow::Context;
    let settings = match config {
        Some(path) => keys_cmd::load_config(path)?.store_settings()?,
        None => onesec_store::StoreSettings::Sqlite,
    };
    if settings == onesec_store::StoreSettings::Sqlite && !data_dir.join("onesec.db").exists() {
        return Ok(None);
    }
    let store = onesec_store::open_store(&settings, data_dir).context("opening the store")?;
    Ok(Some(store))
}

/// The default data folder, shared by every subcommand.
fn default_data_dir() -> PathBuf {
    PathBuf::from("onesec-data")
}
