//! `onesec cluster`: the roles of a deployment over NATS JetStream (`docs/cluster.md`):
//! `ingest` publishes files, `worker` runs detection on its share of the partitions, `sink`
//! stores alerts and incidents, `status` shows nodes, partitions, owners and lag.

use anyhow::Context;
use clap::{Args, Subcommand};
use onesec_cluster::{Cluster, ClusterSettings, Publisher, Sink, Worker};
use onesec_decode::{CsvMapping, DecodeContext, Format, JsonMapping, decode_bytes};
use onesec_pipeline::{Config, load_rules};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

/// `onesec cluster` flags.
#[derive(Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    nats: NatsArgs,
    #[command(subcommand)]
    command: ClusterCommand,
}

/// Where the cluster lives.
#[derive(Args)]
struct NatsArgs {
    /// NATS server URL.
    #[arg(
        long,
        env = "ONESEC_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    nats: String,
    /// Prefix of the cluster's streams, subjects and buckets.
    #[arg(
        long,
        env = "ONESEC_CLUSTER_PREFIX",
        default_value = "onesec",
        global = true
    )]
    prefix: String,
    /// Virtual partitions (64–256 recommended); fixed when the cluster is created.
    #[arg(long, default_value_t = 64, global = true)]
    partitions: u16,
    /// Lease and heartbeat lifetime; fixed when the cluster is created.
    #[arg(long, default_value = "10s", global = true)]
    lease_ttl: String,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Decode and resolve files, publish their events to the partitions, print what JetStream
    /// acknowledged (one JSON line per batch).
    Ingest(IngestArgs),
    /// Run detection on this node's fair share of the partitions until stopped.
    Worker(WorkerArgs),
    /// Group alerts into incidents and store them (one sink at a time holds the lease).
    Sink(SinkArgs),
    /// Nodes, partitions, owners, lag.
    Status(StatusArgs),
    /// Delete the cluster's streams and buckets (events, alerts, leases, heartbeats,
    /// checkpoints): retire a cluster, or clean up after a test. Stop its processes first.
    Delete,
}

#[derive(Args)]
struct IngestArgs {
    /// Directory folder: people.csv, sites.yaml, devices.csv.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// Input format of the files (auto, syslog, windows-json, onvif-ej, access-csv...).
    #[arg(long, default_value = "auto")]
    format: String,
    /// Column mapping (TOML) for access-csv, field mapping for json-map.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Year for RFC 3164 syslog lines, which carry none.
    #[arg(long)]
    syslog_year: Option<i32>,
    /// Events per publish batch (each batch is acknowledged before the next).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Pause between batches, in milliseconds (to stream a file at a steady pace).
    #[arg(long, default_value_t = 0)]
    pace_ms: u64,
    /// Do not tell the partitions the input's newest event time at the end.
    #[arg(long)]
    no_watermark: bool,
    /// Pseudonymisation key file (`onesec privacy pseudonym-key`): person identifiers are
    /// published as pseudonyms, as `[privacy.pseudonymisation]` does for `onesec up`.
    #[arg(long)]
    pseudonym_key: Option<PathBuf>,
    /// Files to publish.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct WorkerArgs {
    /// Node id (unique per worker); default: host name and process id.
    #[arg(long)]
    node: Option<String>,
    /// onesec config file (rules, detection.allowed_lateness).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Extra Sigma rule folders (repeatable).
    #[arg(long)]
    rules: Vec<PathBuf>,
}

#[derive(Args)]
struct SinkArgs {
    /// SQLite database the incidents go to (unless the config's `[store]` is PostgreSQL).
    #[arg(long)]
    db: Option<PathBuf>,
    /// onesec config file (incidents.window, incidents.open_min_severity, and `[store]`:
    /// with `backend = "postgres"` the sink writes there, and a standby sink or readers on
    /// other machines share it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Node id; default: host name and process id.
    #[arg(long)]
    node: Option<String>,
}

#[derive(Args)]
struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `onesec cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let settings = ClusterSettings {
        url: args.nats.nats.clone(),
        prefix: args.nats.prefix.clone(),
        partitions: args.nats.partitions,
        lease_ttl: parse_duration(&args.nats.lease_ttl)?,
        ..ClusterSettings::default()
    };
    runtime.block_on(async move {
        match args.command {
            ClusterCommand::Ingest(ingest) => run_ingest(settings, ingest).await,
            ClusterCommand::Worker(worker) => run_worker(settings, worker).await,
            ClusterCommand::Sink(sink) => run_sink(settings, sink).await,
            ClusterCommand::Status(status) => run_status(settings, status).await,
            ClusterCommand::Delete => {
                let deleted = onesec_cluster::Cluster::delete(&settings).await?;
                if deleted.is_empty() {
                    println!("cluster {}: nothing to delete", settings.prefix);
                } else {
                    println!("deleted {}", deleted.join(", "));
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    onesec_pipeline::parse_duration_ms(text)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .with_context(|| format!("--lease-ttl {text:?}: expected a duration like 10s or 500ms"))
}

fn default_node() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    format!("{host}-{}", std::process::id())
}

async fn run_ingest(settings: ClusterSettings, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let cluster = Cluster::connect_existing(settings).await?;
    let directory = match &args.directory {
        Some(dir) => onesec_directory::SharedDirectory::load(dir)
            .with_context(|| format!("loading the directory {}", dir.display()))?,
        None => onesec_directory::SharedDirectory::new(
            PathBuf::new(),
            onesec_directory::Directory::empty(),
        ),
    };
    let format = input_format(&args)?;
    let pseudonyms = match &args.pseudonym_key {
        Some(file) => Some(onesec_directory::Pseudonyms::new(
            &onesec_directory::PseudonymKey::load_file(file, None)?,
        )),
        None => None,
    };
    let publisher = Publisher::new(cluster, directory).with_pseudonyms(pseudonyms);
    let mut newest = i64::MIN;
    let mut refused = 0usize;
    for file in &args.files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let mut ctx = DecodeContext::new("cluster-ingest", onesec_pipeline::now_ms());
        ctx.syslog.year = args.syslog_year;
        let decoded = decode_bytes(&format, &bytes, &ctx);
        for error in &decoded.errors {
            eprintln!(
                "{}:{}: refused: {}",
                file.display(),
                error.line,
                error.reason
            );
        }
        refused += decoded.errors.len();
        for batch in decoded.events.chunks(args.batch.max(1)) {
            let report = publisher
                .publish(batch.to_vec(), ctx.received_ms)
                .await
                .with_context(|| format!("publishing events of {}", file.display()))?;
            newest = newest.max(report.max_time_ms);
            println!("{}", serde_json::to_string(&report)?);
            if args.pace_ms > 0 {
                tokio::time::sleep(Duration::from_millis(args.pace_ms)).await;
            }
        }
    }
    if !args.no_watermark && newest > i64::MIN {
        publisher.publish_watermark(newest).await?;
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn input_format(args: &IngestArgs) -> anyhow::Result<Format> {
    let mapping = match &args.mapping {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading mapping {}", path.display()))?,
        ),
        None => None,
    };
    Ok(match (args.format.as_str(), mapping) {
        ("access-csv", Some(text)) => Format::AccessCsv(CsvMapping::from_toml(&text)?),
        ("json-map", Some(text)) => Format::JsonMap(JsonMapping::from_toml(&text)?),
        ("json-map", None) => anyhow::bail!("--format json-map needs --mapping"),
        (name, _) => name.parse()?,
    })
}

/// A watch channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    });
    rx
}

async fn run_worker(settings: ClusterSettings, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.rules.dirs.extend(args.rules);
    let (rules, report) = load_rules(&config.rules).map_err(anyhow::Error::msg)?;
    for rejected in &report.rejected {
        eprintln!("rule refused: {}: {}", rejected.source, rejected.reason);
    }
    let engine = onesec_sigma::EngineConfig {
        allowed_lateness_ms: config.allowed_lateness_ms()?,
        ..onesec_sigma::EngineConfig::default()
    };
    let cluster = Cluster::connect(settings).await?;
    let node = args.node.unwrap_or_else(default_node);
    println!("worker {node} running {} rules", report.loaded.len());
    Worker::new(cluster, rules, engine, node)
        .run(shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_sink(settings: ClusterSettings, args: SinkArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let grouping = onesec_incident::GrouperConfig {
        window_ms: config.incident_window_ms()?,
        open_min: onesec_event::Severity::parse(&config.incidents.open_min_severity)
            .context("incidents.open_min_severity")?,
    };
    let settings_of_store = match &args.config {
        Some(path) => Config::load(path)?.store_settings()?,
        None => onesec_store::StoreSettings::Sqlite,
    };
    let (store, place) = open_sink_store(&settings_of_store, args.db.as_deref())?;
    let cluster = Cluster::connect(settings).await?;
    let node = args.node.unwrap_or_else(default_node);
    println!("sink {node} storing into {place}");
    let counters = Sink::new(cluster, store, grouping, node)?
        .run(shutdown_signal())
        .await?;
    eprintln!(
        "sink stopped: {} alert versions applied, {} duplicates dropped",
        counters.applied, counters.duplicates
    );
    Ok(ExitCode::SUCCESS)
}

/// The sink's store: PostgreSQL when the config's `[store]` says so, else the SQLite file
/// `--db`. Returns the store and where it is, for the log.
fn open_sink_store(
    settings: &onesec_store::StoreSettings,
    db: Option<&std::path::Path>,
) -> anyhow::Result<(Box<dyn onesec_store::Store>, String)> {
    match (settings, db) {
        (onesec_store::StoreSettings::Postgres(pg), None) => {
            let store = onesec_store::PgStore::connect(pg.clone())
                .with_context(|| format!("opening PostgreSQL {}", pg.describe()))?;
            Ok((Box::new(store), pg.describe()))
        }
        (onesec_store::StoreSettings::Postgres(_), Some(db)) => anyhow::bail!(
            "--db {} and a PostgreSQL [store] in the config: choose one",
            db.display()
        ),
        (onesec_store::StoreSettings::Sqlite, None) => {
            anyhow::bail!("the sink needs --db FILE, or a config whose [store] is PostgreSQL")
        }
        (onesec_store::StoreSettings::Sqlite, Some(db)) => {
            if let Some(parent) = db.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let store = onesec_store::SqliteStore::open(db)
                .with_context(|| format!("opening {}", db.display()))?;
            Ok((Box::new(store), db.display().to_string()))
        }
    }
}

async fn run_status(settings: ClusterSettings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let cluster = Cluster::connect_existing(settings).await?;
    // Status is for people and scripts waiting on it: it never waits on a stuck server.
    let status = tokio::time::timeout(
        Duration::from_secs(30),
        onesec_cluster::status::read(&cluster),
    )
    .await
    .context("the NATS server did not answer the status reads within 30 s")??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.render());
    }
    Ok(ExitCode::SUCCESS)
}
