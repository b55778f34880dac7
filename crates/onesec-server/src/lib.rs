//! The network edges of onesec: the HTTP API, the syslog listeners, the MQTT source, the
//! SIA DC-09 alarm receiver and the ONVIF PullPoint client.
//!
//! Both only turn bytes from the network into calls on the pipeline's
//! [`Ingestor`](onesec_pipeline::Ingestor) and answers from its store; they hold no state of
//! their own. [`start`] binds every listener (port 0 picks a free port, which tests use) and
//! reports the bound addresses.

mod access;
mod api;
pub use api::served_routes;
mod audit_api;
mod auth_api;
pub mod compliance;
mod compliance_api;
mod devices_api;
// The web console; placed after `devices_api` only to keep merges apart.
mod console;
pub mod gate;
mod incident_api;
pub mod mqtt;
pub mod onvif_pull;
mod playbook_api;
mod privacy_api;
mod reveal_api;
pub mod sia;
mod syslog;
#[doc(hidden)]
pub use syslog::frames_of as syslog_frames_of;
pub mod tls;

use onesec_pipeline::{Config, Pipeline};
use std::net::SocketAddr;
use std::sync::Arc;

/// A listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Auth(#[from] onesec_auth::AuthError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The `[sia]` section cannot be used.
    #[error("invalid [sia] configuration: {0}")]
    Sia(String),
    /// An `[[onvif.camera]]` entry cannot be used.
    #[error("invalid [[onvif.camera]] configuration: {0}")]
    Onvif(String),
    /// An `[[mqtt.route]]` entry cannot be used.
    #[error("invalid [[mqtt.route]] configuration: {0}")]
    MqttRoute(String),
    /// A `[hygiene]` file could not be loaded.
    #[error("hygiene: {0}")]
    Hygiene(#[from] onesec_hygiene::HygieneError),
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
    /// `[compliance]` / `[reports]` cannot be used, or the compliance database not opened.
    #[error("compliance: {0}")]
    Compliance(#[from] compliance::ComplianceError),
}

/// The running listeners and their bound addresses.
pub struct Server {
    /// HTTP API address.
    pub http: SocketAddr,
    /// Whether the API speaks HTTPS (`[http] tls`).
    pub https: bool,
    /// The one-time setup token of a first start (no user yet), to print for the operator.
    pub setup_token: Option<String>,
    /// Syslog UDP address, when enabled.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog TCP address, when enabled.
    pub syslog_tcp: Option<SocketAddr>,
    /// Syslog TLS address, when enabled.
    pub syslog_tls: Option<SocketAddr>,
    /// SIA DC-09 receiver address, when enabled.
    pub sia: Option<SocketAddr>,
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
    let (gate, setup_token) = open_gate(pipeline.clone(), config)?;
    let devices = Arc::new(devices_api::Devices::load(pipeline.clone(), config)?);
    let compliance = Arc::new(compliance::Compliance::load(
        pipeline.clone(),
        devices.clone(),
        config,
    )?);
    let router = api::router(
        pipeline.clone(),
        config,
        Arc::new(gate),
        devices,
        compliance.clone(),
    );
    let tls = tls::server_config(config)?;
    let https = tls.is_some();
    let limits = HttpLimits {
        max_connections: config.http.max_connections,
        header_timeout: std::time::Duration::from_secs(config.http.header_timeout_secs.max(1)),
    };
    let mut tasks = vec![
        serve_http(http_listener, router, tls, limits),
        compliance::spawn_checks(compliance),
    ];
    tasks.extend(devices_api::spawn_kev_refresh(config));
    pipeline.declare_source("http");
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
            config.syslog.udp_queue,
        )));
        pipeline.declare_source(syslog::UDP_INPUT);
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
            syslog_limits(config),
        )));
        pipeline.declare_source("syslog-tcp");
    }
    let mut syslog_tls = None;
    if !config.syslog.tls.is_empty() {
        let tls = tls::syslog_config(config)?;
        let listener = tokio::net::TcpListener::bind(&config.syslog.tls)
            .await
            .map_err(bind("syslog TLS", &config.syslog.tls))?;
        syslog_tls = Some(
            listener
                .local_addr()
                .map_err(bind("syslog TLS", &config.syslog.tls))?,
        );
        tasks.push(tokio::spawn(syslog::serve_tls(
            listener,
            tls,
            pipeline.clone(),
            syslog_limits(config),
        )));
        pipeline.declare_source("syslog-tls");
    }
    let mut sia = None;
    if !config.sia.listen.is_empty() {
        let panels = sia::Panels::from_config(&config.sia).map_err(ServerError::Sia)?;
        let listener = tokio::net::TcpListener::bind(&config.sia.listen)
            .await
            .map_err(bind("SIA DC-09", &config.sia.listen))?;
        sia = Some(
            listener
                .local_addr()
                .map_err(bind("SIA DC-09", &config.sia.listen))?,
        );
        tasks.push(tokio::spawn(sia::serve(
            listener,
            pipeline.clone(),
            config.sia.clone(),
            panels,
        )));
        pipeline.declare_source(sia::INPUT);
    }
    for camera in &config.onvif.camera {
        camera.device_service_url().map_err(ServerError::Onvif)?;
        camera.password().map_err(ServerError::Onvif)?;
        pipeline.declare_source(&onvif_pull::input_name(camera));
        tasks.push(tokio::spawn(onvif_pull::serve(
            camera.clone(),
            pipeline.clone(),
        )));
    }
    if !config.mqtt.url.is_empty() {
        let routes = mqtt::Routes::from_config(&config.mqtt).map_err(ServerError::MqttRoute)?;
        pipeline.declare_source("mqtt");
        tasks.push(tokio::spawn(mqtt::serve(
            config.mqtt.clone(),
            routes,
            pipeline.clone(),
        )));
    }
    Ok(Server {
        http,
        https,
        setup_token,
        syslog_udp,
        syslog_tcp,
        syslog_tls,
        sia,
        tasks,
    })
}

/// Bounds on syslog TCP and TLS senders, from `[syslog]`.
fn syslog_limits(config: &Config) -> syslog::TcpLimits {
    syslog::TcpLimits {
        max_bytes: config.syslog.max_message_bytes,
        max_connections: config.syslog.max_tcp_connections,
        idle: std::time::Duration::from_secs(config.syslog.tcp_idle_secs.max(1)),
    }
}

/// The auth store in `<data>/auth` (unless `[auth] enabled = false`) and, on a first start, the
/// one-time setup token.
fn open_gate(
    pipeline: Arc<Pipeline>,
    config: &Config,
) -> Result<(gate::Gate, Option<String>), ServerError> {
    if !config.auth.enabled {
        tracing::warn!("authentication is off: every API caller is an administrator");
        return Ok((gate::Gate::new(None, pipeline), None));
    }
    let settings = onesec_auth::AuthConfig {
        session_ms: i64::try_from(config.auth.session_hours.saturating_mul(3_600_000))
            .unwrap_or(i64::MAX),
        max_failures: config.auth.max_failed_logins.max(1),
        lockout_ms: i64::try_from(config.auth.lockout_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX),
    };
    let dir = config.data_dir.join("auth");
    let (store, setup) = onesec_auth::AuthStore::open(&dir, settings, onesec_pipeline::now_ms())?;
    Ok((gate::Gate::new(Some(store), pipeline), setup))
}

/// Bounds on HTTP connections, from `[http]`.
#[derive(Debug, Clone, Copy)]
struct HttpLimits {
    /// Open connections at most; one more is closed at once.
    max_connections: usize,
    /// The TLS handshake and each request header must arrive within this.
    header_timeout: std::time::Duration,
}

/// Serves the API on the bound listener, over TLS when configured: at most
/// `max_connections` connections, each closed when its TLS handshake or a request header takes
/// longer than `header_timeout` (a slow sender cannot hold a connection open by trickling
/// bytes; the request timeout of the router bounds the body after that).
fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: HttpLimits,
) -> tokio::task::JoinHandle<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "HTTP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "HTTP connection closed: http.max_connections reached");
                drop(stream);
                continue;
            };
            let router = router.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let Some(acceptor) = acceptor else {
                    return serve_connection(stream, peer, router, limits).await;
                };
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, peer, router, limits).await,
                    Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    })
}

/// One HTTP/1.1 connection, with the peer address for the handlers (`ConnectInfo`).
async fn serve_connection<S>(stream: S, peer: SocketAddr, router: axum::Router, limits: HttpLimits)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt as _;
    let service = router.map_request(
        move |request: axum::extract::Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            request
        },
    );
    let service = hyper_util::service::TowerToHyperService::new(service);
    // HTTP/1.1 only (no ALPN is offered over TLS either): hyper's header timeout runs from the
    // moment the connection waits for a request, so a connection that sends nothing, or sits
    // idle between requests, is closed like a slow one. (Version detection for HTTP/2 would
    // wait for the first bytes without a limit.)
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let io = hyper_util::rt::TokioIo::new(stream);
    let connection = builder.serve_connection(io, service).with_upgrades();
    if let Err(error) = connection.await {
        tracing::debug!(%error, %peer, "HTTP connection ended");
    }
}
