//! The network edges of onesec: the HTTP API and the syslog listeners.
//!
//! Both only turn bytes from the network into calls on the pipeline's
//! [`Ingestor`](onesec_pipeline::Ingestor) and answers from its store; they hold no state of
//! their own. [`start`] binds every listener (port 0 picks a free port, which tests use) and
//! reports the bound addresses.

mod api;
mod audit_api;
pub mod mqtt;
mod syslog;

use onesec_pipeline::{Config, Pipeline};
use std::net::SocketAddr;
use std::sync::Arc;

/// A listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding a socket failed.
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// Address asked for.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The running listeners and their bound addresses.
pub struct Server {
    /// HTTP API address.
    pub http: SocketAddr,
    /// Syslog UDP address, when enabled.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog TCP address, when enabled.
    pub syslog_tcp: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Stops every listener.
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds and starts the HTTP API and the syslog listeners.
pub async fn start(pipeline: Arc<Pipeline>, config: &Config) -> Result<Server, ServerError> {
    let bind = |what: &'static str, addr: &str| {
        let addr = addr.to_string();
        move |source| ServerError::Bind { what, addr, source }
    };
    let http_listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(bind("HTTP", &config.http.listen))?;
    let http = http_listener
        .local_addr()
        .map_err(bind("HTTP", &config.http.listen))?;
    let router = api::router(pipeline.clone(), config);
    let mut tasks = vec![tokio::spawn(async move {
        if let Err(error) = axum::serve(http_listener, router).await {
            tracing::error!(%error, "HTTP server stopped");
        }
    })];
    let mut syslog_udp = None;
    if !config.syslog.udp.is_empty() {
        let socket = tokio::net::UdpSocket::bind(&config.syslog.udp)
            .await
            .map_err(bind("syslog UDP", &config.syslog.udp))?;
        syslog_udp = Some(
            socket
                .local_addr()
                .map_err(bind("syslog UDP", &config.syslog.udp))?,
        );
        tasks.push(tokio::spawn(syslog::serve_udp(
            socket,
            pipeline.clone(),
            config.syslog.max_message_bytes,
        )));
    }
    let mut syslog_tcp = None;
    if !config.syslog.tcp.is_empty() {
        let listener = tokio::net::TcpListener::bind(&config.syslog.tcp)
            .await
            .map_err(bind("syslog TCP", &config.syslog.tcp))?;
        syslog_tcp = Some(
            listener
                .local_addr()
                .map_err(bind("syslog TCP", &config.syslog.tcp))?,
        );
        tasks.push(tokio::spawn(syslog::serve_tcp(
            listener,
            pipeline.clone(),
            config.syslog.max_message_bytes,
        )));
    }
    if !config.mqtt.url.is_empty() {
        tasks.push(tokio::spawn(mqtt::serve(
            config.mqtt.clone(),
            pipeline.clone(),
        )));
    }
    Ok(Server {
        http,
        syslog_udp,
        syslog_tcp,
        tasks,
    })
}
