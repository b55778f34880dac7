//! `onesec up`: the whole platform in one process.

use anyhow::Context;
use clap::Args;
use onesec_pipeline::{Config, Pipeline};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `onesec up`; each overrides the config file.
#[derive(Args)]
pub struct UpArgs {
    /// TOML config file (every key optional; see docs/configuration.md).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data folder (journal + store).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long)]
    http: Option<String>,
    /// Syslog listen address for both UDP and TCP ("" disables).
    #[arg(long)]
    syslog: Option<String>,
    /// Directory folder: people.csv, sites.yaml, devices.csv.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// Extra Sigma rule folders (repeatable).
    #[arg(long)]
    rules: Vec<PathBuf>,
    /// Year for RFC 3164 syslog lines, which carry none.
    #[arg(long)]
    syslog_year: Option<i32>,
    /// Load the example company and replay a short hybrid attack.
    #[arg(long)]
    demo: bool,
}

impl UpArgs {
    fn into_config(self) -> anyhow::Result<(Config, bool)> {
        let mut config = match &self.config {
            Some(path) => crate::keys_cmd::load_config(path)?,
            None => Config::default(),
        };
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        } else if self.config.is_none() {
            config.data_dir = crate::default_data_dir();
        }
        if let Some(http) = self.http {
            config.http.listen = http;
        }
        if let Some(syslog) = self.syslog {
            config.syslog.udp = syslog.clone();
            config.syslog.tcp = syslog;
        }
        if let Some(dir) = self.directory {
            config.directory = Some(dir);
        }
        config.rules.dirs.extend(self.rules);
        if self.syslog_year.is_some() {
            config.syslog.year = self.syslog_year;
        }
        Ok((config, self.demo))
    }
}

/// Starts everything and runs until Ctrl-C.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let (mut config, demo) = args.into_config()?;
    if demo {
        let dir =
            crate::demo::write_directory(&config.data_dir).context("writing the demo directory")?;
        config.directory = Some(dir);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(config, demo))
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<ExitCode> {
    let data_dir = config.data_dir.clone();
    let mut pipeline = tokio::task::spawn_blocking(move || Pipeline::start(config))
        .await?
        .with_context(|| format!("starting onesec in {}", data_dir.display()))?;
    let watermarks = match pipeline.config().cluster.ingest {
        true => Some(join_cluster(&mut pipeline).await?),
        false => None,
    };
    let pipeline = Arc::new(pipeline);
    let report = pipeline.rules_report();
    for rejected in &report.rejected {
        tracing::warn!(source = %rejected.source, title = %rejected.title, reason = %rejected.reason, "rule refused");
    }
    let server = onesec_server::start(pipeline.clone(), pipeline.config()).await?;
    let fmt =
        |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "off".into());
    println!(
        "onesec listening http={} tls={} syslog_udp={} syslog_tcp={} syslog_tls={} sia={} data={} rules={} directory={}",
        server.http,
        if server.https { "on" } else { "off" },
        fmt(server.syslog_udp),
        fmt(server.syslog_tcp),
        fmt(server.syslog_tls),
        fmt(server.sia),
        pipeline.config().data_dir.display(),
        report.loaded.len(),
        pipeline.status().directory.people,
    );
    if let Some(token) = &server.setup_token {
        println!(
            "first start: no user yet. Create the administrator with this one-time setup token \
             (also in {}/auth/setup-token): POST /api/v1/auth/setup \
             {{\"setup_token\": \"{token}\", \"user\": \"admin\", \"password\": \"...\"}}",
            pipeline.config().data_dir.display()
        );
    }
    if demo {
        crate::demo::replay(&pipeline).await;
        println!(
            "demo: attack replayed; see `onesec incidents --data-dir {}`",
            pipeline.config().data_dir.display()
        );
    }
    reload_directory_on_sighup(pipeline.clone());
    wait_for_shutdown_signal().await?;
    tracing::info!("shutting down");
    server.abort();
    if let Some(watermarks) = watermarks {
        watermarks.abort();
    }
    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.shutdown()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `[cluster] ingest = true`: the inputs publish to the cluster's stream instead of the
/// journal (docs/cluster.md, "An ingest node"). The cluster must exist (a worker or sink
/// created it), so that the partition count is the cluster's. Returns the watermark task.
async fn join_cluster(pipeline: &mut Pipeline) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let config = pipeline.config();
    let settings = onesec_cluster::ClusterSettings {
        url: config.cluster.nats.clone(),
        prefix: config.cluster.prefix.clone(),
        ..onesec_cluster::ClusterSettings::default()
    };
    let every = config.cluster_watermark_every()?;
    let source_idle_ms = config.source_idle_ms()?;
    let cluster = onesec_cluster::Cluster::connect_existing(settings.clone())
        .await
        .with_context(|| {
            format!(
                "joining cluster {} at {} as an ingest node",
                settings.prefix, settings.url
            )
        })?;
    // The ingestor resolves and pseudonymises before it hands the events over, so the
    // publisher takes them as they are (`publish_resolved`).
    let publisher = onesec_cluster::Publisher::new(cluster, pipeline.shared_directory().clone());
    let live = Arc::new(onesec_cluster::LiveIngest::new(publisher, source_idle_ms));
    pipeline.publish_to(live.clone());
    Ok(live.spawn_watermarks(every))
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}

/// `kill -HUP <pid>` re-reads the directory files (as `POST /api/v1/directory/reload` does).
fn reload_directory_on_sighup(pipeline: Arc<Pipeline>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot install the SIGHUP handler; reload the directory over HTTP");
            return;
        };
        while hup.recv().await.is_some() {
            let p = pipeline.clone();
            match tokio::task::spawn_blocking(move || p.reload_directory()).await {
                Ok(Ok(summary)) => tracing::info!(%summary, "directory reloaded"),
                Ok(Err(error)) => {
                    tracing::error!(%error, "directory reload refused; the previous one stays")
                }
                Err(error) => tracing::error!(%error, "directory reload failed"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = pipeline;
}
