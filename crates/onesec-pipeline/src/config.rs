//! The one configuration file (`onesec.toml`) and its defaults.
//!
//! Every key is optional; the defaults start everything on one machine with an embedded store
//! in `./onesec-data` and no external service. Command-line flags override the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Everything that can be configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the journal and the store live.
    pub data_dir: PathBuf,
    /// HTTP API.
    pub http: HttpConfig,
    /// Syslog listeners and parsing.
    pub syslog: SyslogConfig,
    /// Folder with `people.csv`, `sites.yaml`, `devices.csv` (optional).
    pub directory: Option<PathBuf>,
    /// Detection rules.
    pub rules: RulesConfig,
    /// Durable journal.
    pub journal: JournalSettings,
    /// `[store]`: the embedded SQLite file (default) or a PostgreSQL database.
    pub store: StoreConfig,
    /// Event-time policy.
    pub detection: DetectionConfig,
    /// Incident grouping.
    pub incidents: IncidentConfig,
    /// MQTT source (ONVIF onvif-ej and JSON topics); off unless `mqtt.url` is set.
    pub mqtt: MqttConfig,
    /// SIA DC-09 alarm receiver (intrusion panels); off unless `sia.listen` is set.
    pub sia: SiaConfig,
    /// ONVIF PullPoint client: `[[onvif.camera]]`, one subscription per device.
    pub onvif: OnvifConfig,
    /// Tamper-evident audit log (docs/audit-format.md).
    pub audit: AuditConfig,
    /// Users, roles and tokens for the HTTP API (docs/permissions.md).
    pub auth: AuthSettings,
    /// `[response]`: incident handling and playbooks (`response::config`).
    pub response: crate::response::config::ResponseConfig,
    /// Device hygiene (docs/hygiene.md): the files the checks compare the directory's
    /// `devices.csv` against.
    pub hygiene: HygieneSettings,
    /// `[compliance]`: regulatory clocks, drafts, escalation (docs/compliance.md).
    pub compliance: crate::compliance_config::ComplianceSettings,
    /// `[reports]`: unified reports, working hours, `[[reports.schedule]]` (docs/compliance.md).
    pub reports: crate::compliance_config::ReportsSettings,
    /// `[privacy]`: retention periods and the job that enforces them (docs/privacy.md).
    pub privacy: onesec_privacy::PrivacySettings,
    /// `[cluster]`: with `ingest = true`, this `onesec up` is an ingest node of a cluster
    /// (docs/cluster.md): what it ingests goes to the cluster's JetStream stream.
    pub cluster: ClusterIngestConfig,
    /// The file this was read from and the SHA-256 of its bytes (hex), for the audit log's
    /// `config.load` entry; `None` for the defaults.
    #[serde(skip)]
    pub source: Option<(PathBuf, String)>,
}

/// Device hygiene knowledge and policy files; every one is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HygieneSettings {
    /// CISA KEV catalogue (JSON).
    pub kev: Option<PathBuf>,
    /// Advisory files: the simple TOML/JSON format or CSAF 2.0 JSON.
    pub advisories: Vec<PathBuf>,
    /// Vendor default logins (`productvendor,username,password` CSV).
    pub default_creds: Option<PathBuf>,
    /// Segments, connection allow-lists, heartbeats, credential age (TOML).
    pub policy: Option<PathBuf>,
    /// Where the running service fetches the KEV catalogue from to refresh `kev` (e.g. CISA's
    /// `known_exploited_vulnerabilities.json`); none: the file is only refreshed by hand
    /// (`onesec devices kev-update`).
    pub kev_url: Option<String>,
    /// Hours between two refreshes from `kev_url` (the first at start); default 24.
    pub kev_refresh_hours: Option<u64>,
}

/// HTTP API authentication settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Require a token on every API route except login and setup. Turn off only on a machine
    /// nobody else can reach.
    pub enabled: bool,
    /// Hours a login session lasts.
    pub session_hours: u64,
    /// Failed logins allowed per user and per client address within `lockout_secs`.
    pub max_failed_logins: usize,
    /// Window and lockout for failed logins, seconds.
    pub lockout_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            enabled: true,
            session_hours: 8,
            max_failed_logins: 5,
            lockout_secs: 300,
        }
    }
}

/// Audit log settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Keep the audit log (`<data_dir>/audit`).
    pub enabled: bool,
    /// Seconds between signed checkpoints (entries after the last checkpoint are the ones an
    /// attacker could drop unnoticed, so keep it short).
    pub checkpoint_secs: u64,
    /// Also append each checkpoint to this file (put it outside the data folder); empty: no.
    pub witness_file: String,
    /// Also POST each checkpoint as JSON to this URL; empty: no.
    pub witness_url: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            checkpoint_secs: 60,
            witness_file: String::new(),
            witness_url: String::new(),
        }
    }
}

/// `[cluster]` of `onesec up`: an ingest node of a cluster over NATS JetStream.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterIngestConfig {
    /// Publish what the inputs (HTTP, syslog, MQTT, SIA, ONVIF) take to the cluster's stream
    /// instead of the embedded journal. Off by default.
    pub ingest: bool,
    /// NATS server URL.
    pub nats: String,
    /// Prefix of the cluster's streams, subjects and buckets (as `onesec cluster --prefix`).
    pub prefix: String,
    /// How often the node tells every partition how far its inputs' event time got
    /// (docs/cluster.md, "Watermarks"); only when it moved.
    pub watermark_every: String,
}

impl Default for ClusterIngestConfig {
    fn default() -> Self {
        ClusterIngestConfig {
            ingest: false,
            nats: "nats://127.0.0.1:4222".into(),
            prefix: "onesec".into(),
            watermark_every: "1s".into(),
        }
    }
}

/// MQTT source settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker, e.g. `mqtt://127.0.0.1:1883`; empty disables the source.
    pub url: String,
    /// Topic filters to subscribe to (QoS 1).
    pub topics: Vec<String>,
    /// Client id (a persistent session keeps messages queued while onesec is down).
    pub client_id: String,
    /// `[[mqtt.route]]`: topics with a decoder of their own (first match wins; also
    /// subscribed to). Topics no route matches follow the built-in choice (onvif-ej, frigate,
    /// else auto).
    #[serde(rename = "route")]
    pub routes: Vec<MqttRoute>,
    /// Largest message payload decoded; a larger one is a dead letter (acknowledged, so the
    /// broker does not send it again).
    pub max_message_bytes: usize,
}

/// One `[[mqtt.route]]`: which decoder reads the messages of the topics a filter matches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttRoute {
    /// Topic filter with MQTT wildcards (`+` one level, `#` the rest).
    pub topic: String,
    /// Decoder: any input format name (`json-map`, `frigate`, `onvif-ej`, `gallagher`,
    /// `windows-json`, `syslog`, `cef`, `json`, `auto`...).
    pub format: String,
    /// Field mapping file (TOML) for `json-map`, or column mapping for `access-csv`.
    pub mapping: Option<PathBuf>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: String::new(),
            topics: vec!["+/onvif-ej/#".into(), "+/+/onvif-ej/#".into()],
            client_id: "onesec".into(),
            routes: Vec::new(),
            max_message_bytes: 1024 * 1024,
        }
    }
}

/// SIA DC-09 receiver settings (docs/configuration.md, crates/onesec-decode/FORMATS.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiaConfig {
    /// TCP listen address, e.g. `0.0.0.0:5516` (the usual DC-09 port); empty disables.
    pub listen: String,
    /// Panels: account number, optional AES key, optional device id for resolution.
    pub accounts: Vec<SiaAccount>,
    /// Encrypted frames whose time stamp is further than this from the receiver's clock are
    /// answered NAK (replay protection), seconds.
    pub max_skew_secs: u64,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// A connection silent this long is closed, seconds.
    pub idle_secs: u64,
}

impl Default for SiaConfig {
    fn default() -> Self {
        SiaConfig {
            listen: String::new(),
            accounts: Vec::new(),
            max_skew_secs: 60,
            max_connections: 256,
            idle_secs: 600,
        }
    }
}

/// ONVIF devices polled through a PullPoint subscription (docs/configuration.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnvifConfig {
    /// One entry per camera or door controller.
    pub camera: Vec<OnvifCamera>,
}

/// One ONVIF device the PullPoint client subscribes to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnvifCamera {
    /// The device: `http://host[:port]` (its device service is then
    /// `/onvif/device_service`) or the full device service URL.
    pub address: String,
    /// User for the WS-UsernameToken (empty: no authentication).
    pub user: String,
    /// Password, in the file.
    pub password: String,
    /// Name of an environment variable holding the password instead.
    pub password_env: String,
    /// `devices.csv` id of the device: its events are reported by it (`host`), which places
    /// them at its site and zone.
    pub device: String,
    /// The event service URL, when the device's `GetCapabilities` does not give a usable one
    /// (empty: ask the device).
    pub events_url: String,
    /// Long-poll timeout of one `PullMessages`, seconds.
    pub pull_timeout_secs: u64,
    /// Most messages one `PullMessages` returns.
    pub message_limit: u32,
    /// Subscription lifetime asked for; renewed at half of it, seconds.
    pub subscription_secs: u64,
    /// Longest wait between two attempts to subscribe again after a failure, seconds (the
    /// wait doubles from one second up to this).
    pub retry_max_secs: u64,
}

impl Default for OnvifCamera {
    fn default() -> Self {
        OnvifCamera {
            address: String::new(),
            user: String::new(),
            password: String::new(),
            password_env: String::new(),
            device: String::new(),
            events_url: String::new(),
            pull_timeout_secs: 10,
            message_limit: 100,
            subscription_secs: 60,
            retry_max_secs: 60,
        }
    }
}

impl OnvifCamera {
    /// The device service URL: `address` as given when it has a path, else with
    /// `/onvif/device_service`; `http://` is added when no scheme is given.
    pub fn device_service_url(&self) -> Result<String, String> {
        let address = self.address.trim();
        if address.is_empty() {
            return Err("[[onvif.camera]]: address is empty".into());
        }
        let with_scheme = if address.contains("://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        let Some((scheme, rest)) = with_scheme.split_once("://") else {
            return Err(format!("[[onvif.camera]] {address}: not a URL"));
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "[[onvif.camera]] {address}: expected an http:// or https:// address"
            ));
        }
        let host_end = rest.find('/').unwrap_or(rest.len());
        if host_end == 0 {
            return Err(format!("[[onvif.camera]] {address}: no host"));
        }
        let path = &rest[host_end..];
        Ok(if path.is_empty() || path == "/" {
            format!("{scheme}://{}/onvif/device_service", &rest[..host_end])
        } else {
            with_scheme
        })
    }

    /// The password from `password` or `password_env`.
    pub fn password(&self) -> Result<String, String> {
        if self.password_env.is_empty() {
            return Ok(self.password.clone());
        }
        std::env::var(&self.password_env).map_err(|_| {
            format!(
                "[[onvif.camera]] {}: environment variable {} is not set",
                self.address, self.password_env
            )
        })
    }

    /// A name for logs and the source list: the device id, else the address.
    pub fn name(&self) -> &str {
        if self.device.is_empty() {
            &self.address
        } else {
            &self.device
        }
    }
}

/// One alarm panel known to the receiver.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiaAccount {
    /// Account number as the panel sends it after `#` (hex digits).
    pub account: String,
    /// AES key as text of 16, 24 or 32 characters (what most panels call the "AES password").
    pub key: String,
    /// AES key as 32, 48 or 64 hex digits (for panels that show the key in hex).
    pub key_hex: String,
    /// `devices.csv` id of the panel: its events are reported by this device (site, zone).
    pub device: String,
}

impl SiaAccount {
    /// The AES key bytes, if one is configured; an error names what is wrong with it.
    pub fn key_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        let key = match (self.key.is_empty(), self.key_hex.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => self.key.as_bytes().to_vec(),
            (true, false) => hex::decode(self.key_hex.trim())
                .map_err(|e| format!("sia account {}: key_hex is not hex: {e}", self.account))?,
            (false, false) => {
                return Err(format!(
                    "sia account {}: give key or key_hex, not both",
                    self.account
                ));
            }
        };
        if ![16, 24, 32].contains(&key.len()) {
            return Err(format!(
                "sia account {}: an AES key has 16, 24 or 32 bytes, this one has {}",
                self.account,
                key.len()
            ));
        }
        Ok(Some(key))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("onesec-data"),
            http: HttpConfig::default(),
            syslog: SyslogConfig::default(),
            directory: None,
            rules: RulesConfig::default(),
            journal: JournalSettings::default(),
            store: StoreConfig::default(),
            detection: DetectionConfig::default(),
            incidents: IncidentConfig::default(),
            mqtt: MqttConfig::default(),
            sia: SiaConfig::default(),
            onvif: OnvifConfig::default(),
            audit: AuditConfig::default(),
            auth: AuthSettings::default(),
            hygiene: HygieneSettings::default(),
            response: crate::response::config::ResponseConfig::default(),
            compliance: Default::default(),
            reports: Default::default(),
            privacy: Default::default(),
            cluster: ClusterIngestConfig::default(),
            source: None,
        }
    }
}

/// `[store]`: where events, alerts, incidents, cases and evidence are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (the default: `onesec.db` in the data folder) or `postgres`.
    pub backend: String,
    /// PostgreSQL connection URL (`postgres://user:password@host:5432/db`) or key=value string.
    pub url: String,
    /// An environment variable holding the URL instead of `url` (keeps a password out of the
    /// file).
    pub url_env: String,
    /// PostgreSQL schema for onesec's tables (created if missing); by default the
    /// connection's (`public`).
    pub schema: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: "sqlite".into(),
            url: String::new(),
            url_env: String::new(),
            schema: None,
        }
    }
}

/// HTTP API settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: String,
    /// Largest accepted request body, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// `off` (plain HTTP), `self-signed` (a certificate for localhost generated once into
    /// `<data_dir>/tls/`) or `files` (`tls_cert` and `tls_key`, PEM).
    pub tls: String,
    /// Certificate chain (PEM) for `tls = "files"`.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for `tls = "files"`.
    pub tls_key: Option<PathBuf>,
    /// A request (body included) taking longer than this gets 408, seconds.
    pub request_timeout_secs: u64,
    /// Requests handled at once; more wait their turn.
    pub max_concurrent_requests: usize,
    /// `POST /api/v1/events` requests in progress at most; one more is answered 503 with
    /// `Retry-After` at once (senders retry) instead of queueing without bound.
    pub max_ingest_requests: usize,
    /// An ingest request that finds detection more than this many events behind the journal,
    /// after waiting up to a second for it, is answered 503 with `Retry-After` (nothing of it
    /// taken), so a sender that outruns detection for long is told to back off instead of
    /// growing the backlog; 0 never refuses.
    pub shed_backlog_events: u64,
    /// Open connections at most (TLS or not); one more is closed at once.
    pub max_connections: usize,
    /// A connection must finish its TLS handshake, and each request its header, within this
    /// many seconds (slow senders, "slowloris", are closed).
    pub header_timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8686".into(),
            max_body_bytes: 16 * 1024 * 1024,
            tls: "off".into(),
            tls_cert: None,
            tls_key: None,
            request_timeout_secs: 60,
            max_concurrent_requests: 256,
            max_ingest_requests: 64,
            shed_backlog_events: 262_144,
            max_connections: 1024,
            header_timeout_secs: 10,
        }
    }
}

/// Syslog listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    /// UDP listen address (empty string disables).
    pub udp: String,
    /// TCP listen address (empty string disables); newline and octet-counting framing.
    pub tcp: String,
    /// TLS listen address (RFC 5425; the usual port is 6514; empty string disables): the TCP
    /// framings inside TLS.
    pub tls: String,
    /// Certificate chain (PEM) for `tls`; with `tls_key`. Neither: `<data_dir>/tls`
    /// self-signed.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for `tls`.
    pub tls_key: Option<PathBuf>,
    /// Year for RFC 3164 messages, which carry none (default: the year they are received).
    pub year: Option<i32>,
    /// Time zone for RFC 3164 messages, which carry none (IANA name, default `UTC`).
    pub timezone: String,
    /// Largest accepted syslog message, in bytes.
    pub max_message_bytes: usize,
    /// Open syslog TCP connections at most; more are closed at once.
    pub max_tcp_connections: usize,
    /// A syslog TCP connection silent this long is closed, seconds.
    pub tcp_idle_secs: u64,
    /// UDP datagrams received but not yet decoded, at most; beyond, datagrams are dropped and
    /// counted (`onesec_source_dropped_total{source="syslog-udp"}`), as are the kernel's own
    /// drops when its socket buffer overflows.
    pub udp_queue: usize,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            udp: "127.0.0.1:5514".into(),
            tcp: "127.0.0.1:5514".into(),
            tls: String::new(),
            tls_cert: None,
            tls_key: None,
            year: None,
            timezone: "UTC".into(),
            max_message_bytes: 64 * 1024,
            max_tcp_connections: 1024,
            tcp_idle_secs: 300,
            udp_queue: 8192,
        }
    }
}

/// Which rules are loaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Load the converged rule pack built into the binary.
    pub builtin: bool,
    /// Extra folders of Sigma rules.
    pub dirs: Vec<PathBuf>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            builtin: true,
            dirs: Vec::new(),
        }
    }
}

/// Journal settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSettings {
    /// `always` (fsync before acknowledging, the default), `interval:<ms>` or `never`.
    pub fsync: String,
    /// Segment size in MiB.
    pub segment_mib: u64,
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            fsync: "always".into(),
            segment_mib: 64,
        }
    }
}

/// Event-time policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionConfig {
    /// How far behind the newest event time an event may arrive and still take part in
    /// correlation (e.g. `24h`: a whole day of files may be replayed in any order).
    pub allowed_lateness: String,
    /// A source (input and product) that has sent nothing for this long (wall time) stops
    /// holding the event-time watermark back.
    pub source_idle: String,
    /// Wall time after which the detection state is saved to `detection.snapshot` again (when
    /// events were handled meanwhile); `0` saves by count only (and at a clean stop).
    pub snapshot_every: String,
    /// Events after which the detection state is saved again; `0` saves by time only.
    pub snapshot_every_events: u64,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            allowed_lateness: "24h".into(),
            source_idle: "5m".into(),
            snapshot_every: "60s".into(),
            snapshot_every_events: 100_000,
        }
    }
}

/// Incident grouping.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentConfig {
    /// Event-time distance within which alerts about the same entity join one incident.
    pub window: String,
    /// Lowest alert level that opens an incident on its own.
    pub open_min_severity: String,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            window: "30m".into(),
            open_min_severity: "medium".into(),
        }
    }
}

/// A configuration problem, with the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A value has the wrong shape.
    #[error("invalid config value {key} = {value:?}: {reason}")]
    Value {
        /// Key.
        key: &'static str,
        /// Value given.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
}

impl Config {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let sha256 = crate::audit::sha256_hex(&[text.as_bytes()]);
        config.source = Some((path.to_path_buf(), sha256));
        Ok(config)
    }

    /// Allowed lateness in milliseconds.
    pub fn allowed_lateness_ms(&self) -> Result<i64, ConfigError> {
        parse_duration_ms(&self.detection.allowed_lateness).ok_or_else(|| ConfigError::Value {
            key: "detection.allowed_lateness",
            value: self.detection.allowed_lateness.clone(),
            reason: "expected a duration such as 90s, 30m, 24h or 2d",
        })
    }

    /// Source idle timeout in milliseconds.
    pub fn source_idle_ms(&self) -> Result<i64, ConfigError> {
        parse_duration_ms(&self.detection.source_idle).ok_or_else(|| ConfigError::Value {
            key: "detection.source_idle",
            value: self.detection.source_idle.clone(),
            reason: "expected a duration such as 90s, 30m, 24h or 2d",
        })
    }

    /// How often a cluster ingest node publishes its watermark (`[cluster] watermark_every`).
    pub fn cluster_watermark_every(&self) -> Result<std::time::Duration, ConfigError> {
        match parse_duration_ms(&self.cluster.watermark_every) {
            Some(ms) if ms > 0 => Ok(std::time::Duration::from_millis(ms as u64)),
            _ => Err(ConfigError::Value {
                key: "cluster.watermark_every",
                value: self.cluster.watermark_every.clone(),
                reason: "expected a positive duration such as 500ms, 1s or 10s",
            }),
        }
    }

    /// How often detection saves its state by wall time (none: `0`).
    pub fn snapshot_every(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        let text = self.detection.snapshot_every.trim();
        if text == "0" {
            return Ok(None);
        }
        match parse_duration_ms(text) {
            Some(ms) if ms > 0 => Ok(Some(std::time::Duration::from_millis(ms as u64))),
            Some(_) => Ok(None),
            None => Err(ConfigError::Value {
                key: "detection.snapshot_every",
                value: self.detection.snapshot_every.clone(),
                reason: "expected a duration such as 90s, 30m, 24h or 2d, or 0",
            }),
        }
    }

    /// Incident window in milliseconds.
    pub fn incident_window_ms(&self) -> Result<i64, ConfigError> {
        parse_duration_ms(&self.incidents.window).ok_or_else(|| ConfigError::Value {
            key: "incidents.window",
            value: self.incidents.window.clone(),
            reason: "expected a duration such as 90s, 30m, 24h or 2d",
        })
    }

    /// The store `[store]` names.
    pub fn store_settings(&self) -> Result<onesec_store::StoreSettings, ConfigError> {
        let store = &self.store;
        match store.backend.as_str() {
            "sqlite" => Ok(onesec_store::StoreSettings::Sqlite),
            "postgres" | "postgresql" => {
                let url = if store.url_env.is_empty() {
                    store.url.clone()
                } else {
                    std::env::var(&store.url_env).map_err(|_| ConfigError::Value {
                        key: "store.url_env",
                        value: store.url_env.clone(),
                        reason: "this environment variable is not set",
                    })?
                };
                if url.trim().is_empty() {
                    return Err(ConfigError::Value {
                        key: "store.url",
                        value: url,
                        reason: "backend postgres needs a connection URL (url or url_env)",
                    });
                }
                Ok(onesec_store::StoreSettings::Postgres(
                    onesec_store::PgSettings {
                        url,
                        schema: store.schema.clone(),
                    },
                ))
            }
            _ => Err(ConfigError::Value {
                key: "store.backend",
                value: store.backend.clone(),
                reason: "expected sqlite or postgres",
            }),
        }
    }

    /// The store for logs, without a password: `sqlite <file>` or `postgres <host> schema <s>`.
    pub fn store_description(&self) -> String {
        match self.store_settings() {
            Ok(onesec_store::StoreSettings::Postgres(pg)) => pg.describe(),
            _ => format!("sqlite {}", self.data_dir.join("onesec.db").display()),
        }
    }

    /// Time zone for RFC 3164 syslog.
    pub fn syslog_timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.syslog
            .timezone
            .parse()
            .map_err(|_| ConfigError::Value {
                key: "syslog.timezone",
                value: self.syslog.timezone.clone(),
                reason: "expected an IANA time zone name such as UTC or Europe/Paris",
            })
    }
}

/// Parses `90s`, `30m`, `24h`, `2d`, `500ms` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("30m"), Some(1_800_000));
        assert_eq!(parse_duration_ms("24h"), Some(86_400_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms("10y"), None);
    }

    #[test]
    fn the_hygiene_section_names_files() {
        let c: Config = toml::from_str(
            "[hygiene]\nkev = \"kev.json\"\nadvisories = [\"a.toml\", \"csaf.json\"]\npolicy = \"p.toml\"\n",
        )
        .unwrap();
        assert_eq!(c.hygiene.advisories.len(), 2);
        assert!(c.hygiene.default_creds.is_none());
        assert!(toml::from_str::<Config>("[hygiene]\nkevv = 1\n").is_err());
    }

    #[test]
    fn onvif_cameras_have_a_device_service() {
        let c: Config = toml::from_str(
            "[[onvif.camera]]\naddress = \"192.0.2.7:8080\"\nuser = \"onesec\"\ndevice = \"CAM-1\"\n\
             [[onvif.camera]]\naddress = \"https://cam.example/onvif/services\"\npull_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.onvif.camera.len(), 2);
        assert_eq!(
            c.onvif.camera[0].device_service_url().unwrap(),
            "http://192.0.2.7:8080/onvif/device_service"
        );
        assert_eq!(c.onvif.camera[0].message_limit, 100);
        assert_eq!(
            c.onvif.camera[1].device_service_url().unwrap(),
            "https://cam.example/onvif/services"
        );
        assert_eq!(
            c.onvif.camera[1].name(),
            "https://cam.example/onvif/services"
        );
        let bad = OnvifCamera {
            address: "rtsp://cam".into(),
            ..OnvifCamera::default()
        };
        assert!(bad.device_service_url().unwrap_err().contains("http://"));
        assert!(toml::from_str::<Config>("[[onvif.camera]]\nadress = \"x\"\n").is_err());
    }

    #[test]
    fn the_sources_example_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sources/onesec.toml");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.onvif.camera.len(), 2);
        assert_eq!(config.onvif.camera[1].subscription_secs, 120);
        for camera in &config.onvif.camera {
            camera.device_service_url().unwrap();
        }
        assert_eq!(config.sia.accounts[0].device, "PANEL-PAR-01");
        let route = &config.mqtt.routes[0];
        assert_eq!(route.format, "json-map");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mapping = route
            .mapping
            .as_ref()
            .map(|m| root.join(m))
            .expect("mapping");
        let text = std::fs::read_to_string(&mapping).expect("mapping file");
        onesec_decode::JsonMapping::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn unknown_keys_are_refused_with_the_location() {
        let err = toml::from_str::<Config>("[http]\nlisten = \"x\"\nlistne = 1\n").unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }

    #[test]
    fn the_store_is_sqlite_unless_postgres_is_named_with_a_url() {
        use onesec_store::{PgSettings, StoreSettings};
        let parse = |text: &str| toml::from_str::<Config>(text).unwrap().store_settings();
        assert_eq!(parse("").unwrap(), StoreSettings::Sqlite);
        assert_eq!(
            parse("[store]\nbackend = \"sqlite\"\n").unwrap(),
            StoreSettings::Sqlite
        );
        let pg = parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://u:secret@db:5433/onesec\"\nschema = \"site_a\"\n",
        )
        .unwrap();
        assert_eq!(
            pg,
            StoreSettings::Postgres(PgSettings {
                url: "postgres://u:secret@db:5433/onesec".into(),
                schema: Some("site_a".into()),
            })
        );
        let described = toml::from_str::<Config>(
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://u:secret@db:5433/onesec\"\n",
        )
        .unwrap()
        .store_description();
        assert!(described.contains("db:5433"), "{described}");
        assert!(!described.contains("secret"), "{described}");
        for (text, key) in [
            ("[store]\nbackend = \"postgres\"\n", "store.url"),
            (
                "[store]\nbackend = \"postgres\"\nurl_env = \"ONESEC_TEST_UNSET_VARIABLE_1\"\n",
                "store.url_env",
            ),
            ("[store]\nbackend = \"mysql\"\n", "store.backend"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
        assert!(toml::from_str::<Config>("[store]\nurll = \"x\"\n").is_err());
    }
}
