//! The pipeline: every stage of onesec wired together on one machine.
//!
//! ```text
//! Ingestor (async, many callers)          Detector (one thread)
//!   decode ─► resolve ─► journal append ──► journal read ─► Sigma engine ─► grouper ─► store
//!   refused input ─► dead-letter store
//! ```
//!
//! [`Pipeline::start`] opens the journal and the store in the data folder, loads the directory
//! and the rules, and starts the detector thread. The network edges (HTTP, syslog) live in
//! `onesec-server` and only call [`Ingestor`] and [`Pipeline::read_store`].

mod audit;
mod builtin;
pub mod compliance_config;
mod config;
mod connections;
mod detect;
pub mod export;
mod handoff;
mod ingest;
mod inventory;
mod metrics;
pub mod privacy;
pub mod pseudonyms;
mod record;
pub mod response;
mod rules;
mod snapshot;

pub use audit::{Audit, IncidentProofs, read_payload_ranges, read_payloads};
pub use builtin::BUILTIN_RULES;
pub use config::{
    AuditConfig, AuthSettings, ClusterIngestConfig, Config, ConfigError, HygieneSettings,
    MqttConfig, MqttRoute, OnvifCamera, OnvifConfig, RulesConfig, SiaAccount, SiaConfig,
    parse_duration_ms,
};
pub use connections::ConnectionWatch;
pub use detect::{AlertFacts, logsource_domain, source_key};
pub use ingest::{AppendFuture, EventLog, IngestReport, Ingestor, LineError, now_ms};
pub use metrics::{Metrics, SourceCounters, SourceSnapshot, Sources};
pub use record::EventRecord;
pub use rules::{RejectedRule, RulesReport, load_rules};

use detect::Detector;
use detect::GrouperMsg;
use onesec_directory::{DirectorySummary, SharedDirectory};
use onesec_incident::{GroupError, Grouper, GrouperConfig, Incident, IncidentState, ManualOp};
use onesec_journal::{FsyncPolicy, Journal, JournalConfig};
use onesec_sigma::{Engine, EngineConfig};
use onesec_store::{Store, StoreError};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// The pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Encryption at rest is on without a usable key.
    #[error(transparent)]
    Encryption(#[from] onesec_privacy::EncryptionError),
    /// The data folder is not usable.
    #[error("data folder {path}: {source}")]
    DataDir {
        /// Folder.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be opened.
    #[error("journal: {0}")]
    Journal(#[from] onesec_journal::JournalError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The directory files are invalid.
    #[error("directory: {0}")]
    Directory(#[from] onesec_directory::DirectoryError),
    /// A rule folder could not be read.
    #[error("rules: {0}")]
    Rules(String),
    #[error(transparent)]
    Audit(#[from] onesec_audit::AuditError),
    /// `[response]` is invalid (a playbook, a rule, a connector).
    #[error(transparent)]
    Response(#[from] response::ResponseError),
    /// `[privacy.retention]` is invalid.
    #[error(transparent)]
    Retention(#[from] onesec_privacy::policy::PolicyError),
    /// `[privacy.pseudonymisation]` is on without a usable key.
    #[error(transparent)]
    Pseudonymisation(#[from] onesec_directory::PseudonymKeyError),
    /// The `[hygiene] policy` file cannot be used (connection monitoring reads it at ingest).
    #[error("hygiene policy: {0}")]
    Policy(#[from] onesec_hygiene::HygieneError),
}

/// The `[hygiene] policy`, if configured.
fn load_policy(config: &Config) -> Result<Option<onesec_hygiene::Policy>, StartError> {
    Ok(match &config.hygiene.policy {
        Some(path) => Some(onesec_hygiene::Policy::load(path)?),
        None => None,
    })
}

/// A merge or split by hand that was not done.
#[derive(Debug, thiserror::Error)]
pub enum RegroupError {
    /// The grouper refused it (unknown or closed incident, an alert not in it...).
    #[error(transparent)]
    Group(#[from] GroupError),
    /// Detection did not take it in time (a long backlog, or it stopped).
    #[error("detection did not take the change in time; try again")]
    Busy,
    /// It was applied but could not be stored.
    #[error("the change could not be stored: {0}")]
    Store(String),
    /// The response side failed to record it (history, audit, the merged incident's run).
    #[error(transparent)]
    Response(#[from] response::ResponseError),
}

/// Positions and counts, for `/api/v1/status` and for clients that wait for detection.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Last durable journal sequence.
    pub journal_seq: u64,
    /// Last sequence detection has finished (results stored).
    pub detected_seq: u64,
    /// Rules running.
    pub rules_loaded: usize,
    /// Rules refused.
    pub rules_rejected: usize,
    /// Directory counts.
    pub directory: DirectorySummary,
    /// On a cluster ingest node: where ingested events go instead of the journal, and how
    /// many went there since the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_log: Option<EventLogStatus>,
}

/// Where a cluster ingest node's events go ([`Pipeline::publish_to`]).
#[derive(Debug, Clone, Serialize)]
pub struct EventLogStatus {
    /// The log ([`EventLog::describe`]).
    pub log: String,
    /// Events it acknowledged since the start.
    pub events: u64,
}

/// The running pipeline.
pub struct Pipeline {
    config: Config,
    journal: Journal,
    ingestor: Ingestor,
    directory: SharedDirectory,
    reader: Mutex<Box<dyn Store>>,
    metrics: Arc<Metrics>,
    detected: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    detector: Mutex<Option<std::thread::JoinHandle<()>>>,
    rules: RulesReport,
    state_changes: Mutex<mpsc::Sender<GrouperMsg>>,
    audit: Option<Arc<Audit>>,
    responses: Arc<response::Responses>,
    responder: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Incident batches detection sent the responder that it has not handled yet.
    responses_pending: Arc<AtomicU64>,
    privacy: Arc<privacy::Privacy>,
    retention: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Set when `[privacy.pseudonymisation]` is on.
    pseudonyms: Option<onesec_directory::Pseudonyms>,
}

/// Makes the key ring of `[privacy.encryption]` (or of the environment) the process's, so
/// the journal, the store and the other databases opened after it are encrypted with it
/// (`onesec_keys::install`). Encryption off leaves the process's ring as it was. Returns
/// whether encryption is on.
pub fn install_encryption(config: &Config) -> Result<bool, onesec_privacy::EncryptionError> {
    match config.privacy.encryption.key_ring()? {
        Some(ring) => {
            tracing::info!(key = %ring.current_id(), keys = ring.len(), "encryption at rest is on");
            onesec_keys::install(Some(Arc::new(ring)));
            Ok(true)
        }
        None => Ok(onesec_keys::installed().is_some()),
    }
}

impl Pipeline {
    /// Opens everything in `config.data_dir` and starts detection.
    pub fn start(config: Config) -> Result<Pipeline, StartError> {
        Pipeline::start_with_clock(config, Arc::new(response::SystemClock))
    }

    /// [`Pipeline::start`] with the clock the response side reads (SLA, deadlines).
    pub fn start_with_clock(
        config: Config,
        clock: Arc<dyn response::Clock>,
    ) -> Result<Pipeline, StartError> {
        let data = config.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|source| StartError::DataDir {
            path: data.clone(),
            source,
        })?;
        install_encryption(&config)?;
        let journal_config = JournalConfig::new(data.join("journal"))
            .segment_bytes(config.journal.segment_mib.max(1) * 1024 * 1024)
            .fsync(fsync_policy(&config.journal.fsync)?);
        let (journal, recovery) = Journal::open(journal_config)?;
        tracing::info!(?recovery, "journal opened");
        // One connection each for detection (the only writer of detection results), the
        // readers, dead letters and the response side, as with SQLite's one writer and WAL.
        let store = config.store_settings()?;
        let open = || onesec_store::open_store(&store, &data);
        let writer = open()?;
        let reader = open()?;
        let dead_letters = Arc::new(Mutex::new(open()?));
        let response_store = open()?;
        tracing::info!(store = %config.store_description(), "store opened");
        let directory = match &config.directory {
            Some(dir) => SharedDirectory::load(dir)?,
            None => SharedDirectory::new(PathBuf::new(), onesec_directory::Directory::empty()),
        };
        config.privacy.validate()?;
        let pseudonyms = pseudonyms::load(&config.privacy.pseudonymisation, &config.data_dir)?;
        let (rule_set, rules) = load_rules(&config.rules).map_err(StartError::Rules)?;
        let audit = open_audit(&config, &journal, &rules)?;
        let mut engine = Engine::new(
            rule_set,
            EngineConfig {
                allowed_lateness_ms: config.allowed_lateness_ms()?,
                source_idle_ms: config.source_idle_ms()?,
                ..EngineConfig::default()
            },
        );
        let grouper_config = GrouperConfig {
            window_ms: config.incident_window_ms()?,
            open_min: onesec_event::Severity::parse(&config.incidents.open_min_severity).ok_or(
                ConfigError::Value {
                    key: "incidents.open_min_severity",
                    value: config.incidents.open_min_severity.clone(),
                    reason: "expected informational, low, medium, high or critical",
                },
            )?,
        };
        let snapshot_policy = detect::SnapshotPolicy {
            path: data.join(snapshot::FILE),
            every_events: config.detection.snapshot_every_events,
            every: config.snapshot_every()?,
            window_ms: grouper_config.window_ms,
            open_min: grouper_config.open_min.as_str().to_string(),
        };
        let resumed = restore_snapshot(
            &snapshot_policy,
            &mut engine,
            &grouper_config,
            writer.detected_upto()?,
            journal.last_sequence(),
        );
        let (mut grouper, manual_after, resumed) = match resumed {
            Some((grouper, manual_seq, resumed)) => (grouper, manual_seq, Some(resumed)),
            None => (Grouper::new(grouper_config), 0, None),
        };
        // What people did to incidents, applied again as the journal rebuilds them.
        for state in [
            IncidentState::Acknowledged,
            IncidentState::InProgress,
            IncidentState::OnHold,
            IncidentState::Resolved,
            IncidentState::Closed,
        ] {
            let filter = onesec_store::IncidentFilter {
                state: Some(state.as_str().into()),
                limit: Some(usize::MAX >> 2),
                ..onesec_store::IncidentFilter::default()
            };
            for incident in writer.incidents(&filter)? {
                grouper.set_state(&incident.id, state);
            }
        }
        for record in writer.manual_ops()? {
            // A restored grouper has applied (or holds) those up to the snapshot's.
            if record.seq > manual_after {
                grouper.replay_manual(record.op);
            }
        }
        let metrics = Arc::new(Metrics::default());
        let syslog = onesec_decode::SyslogSettings {
            year: config.syslog.year,
            timezone: config.syslog_timezone()?,
        };
        let parsed = Arc::new(handoff::ParsedEvents::default());
        let detected = Arc::new(AtomicU64::new(0));
        let ingestor = Ingestor::new(
            journal.clone(),
            directory.clone(),
            dead_letters,
            metrics.clone(),
            syslog,
            ingest::DetectionLink {
                parsed: parsed.clone(),
                detected: detected.clone(),
            },
            audit.clone(),
        )
        .with_connections(Arc::new(
            ConnectionWatch::new(load_policy(&config)?)
                .with_baseline_file(config.data_dir.join("hygiene/baselines.json")),
        ))
        .with_pseudonyms(pseudonyms.clone());
        let responses = Arc::new(
            response::Responses::new(&config.response, response_store, clock, audit.clone())?
                .with_directory(directory.clone())
                .with_pseudonyms(pseudonyms.clone()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (incidents_tx, incidents_rx) = mpsc::channel();
        let mut detector = Detector::new(
            engine,
            grouper,
            journal.clone(),
            writer,
            metrics.clone(),
            detected.clone(),
            stop.clone(),
            rx,
            parsed,
        );
        detector.incidents_out = Some(incidents_tx);
        let responses_pending = detector.responses_pending.clone();
        detector.snapshots = Some(snapshot_policy);
        if let Some(resumed) = resumed {
            detector.resume(resumed);
        }
        let responder = response::spawn_worker(
            responses.clone(),
            incidents_rx,
            responses_pending.clone(),
            stop.clone(),
            std::time::Duration::from_millis(250),
        )
        .map_err(|source| StartError::DataDir {
            path: data.clone(),
            source,
        })?;
        let privacy = Arc::new(
            privacy::Privacy::new(
                (store.clone(), data.clone()),
                journal.clone(),
                audit.clone(),
                config.privacy.retention.clone(),
                detected.clone(),
            )
            .with_pseudonyms(pseudonyms.clone()),
        );
        let retention = privacy::spawn_job(privacy.clone(), stop.clone()).map_err(|source| {
            StartError::DataDir {
                path: data.clone(),
                source,
            }
        })?;
        let handle = std::thread::Builder::new()
            .name("onesec-detect".into())
            .spawn(move || detector.run())
            .map_err(|source| StartError::DataDir { path: data, source })?;
        let pipeline = Pipeline {
            config,
            journal,
            ingestor,
            directory,
            reader: Mutex::new(reader),
            metrics,
            detected,
            stop,
            detector: Mutex::new(Some(handle)),
            rules,
            state_changes: Mutex::new(tx),
            audit,
            responses,
            responder: Mutex::new(Some(responder)),
            responses_pending,
            privacy,
            retention: Mutex::new(retention),
            pseudonyms,
        };
        pipeline.sync_inventory();
        Ok(pipeline)
    }

    /// Records what changed in `devices.csv` since the last start or reload (firmware,
    /// address, segment...) in the devices' change history.
    fn sync_inventory(&self) {
        let rows = inventory::rows(&self.directory());
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self.read_store(|s| s.sync_inventory(now_ms, &rows)) {
            Ok(0) => {}
            Ok(changes) => tracing::info!(changes, "device inventory changes recorded"),
            Err(error) => tracing::warn!(%error, "device inventory changes not recorded"),
        }
    }

    /// Retention and legal holds (docs/privacy.md).
    pub fn privacy(&self) -> &Arc<privacy::Privacy> {
        &self.privacy
    }

    /// The key's pseudonyms when `[privacy.pseudonymisation]` is on: stored events name
    /// people only by pseudonyms, which [`Pipeline::pseudonym_table`] reveals.
    pub fn pseudonyms(&self) -> Option<&onesec_directory::Pseudonyms> {
        self.pseudonyms.as_ref()
    }

    /// The reverse map of the directory in use (memory only), when pseudonymisation is on.
    pub fn pseudonym_table(&self) -> Option<Arc<onesec_directory::PseudonymTable>> {
        let pseudonyms = self.pseudonyms.as_ref()?;
        Some(pseudonyms.table(&self.directory.current()))
    }

    /// The key under which a person's events are indexed in the store: the pseudonym of
    /// `person_id` when pseudonymisation is on, else the id itself.
    pub fn person_key(&self, person_id: &str) -> String {
        match &self.pseudonyms {
            Some(p) => p.pseudonymiser().person(person_id),
            None => person_id.to_string(),
        }
    }

    /// The audit log, unless `[audit] enabled = false`.
    pub fn audit(&self) -> Option<&Arc<Audit>> {
        self.audit.as_ref()
    }

    /// Cases, playbook runs and tasks of the incidents (kept in the store).
    pub fn responses(&self) -> &Arc<response::Responses> {
        &self.responses
    }

    /// The journal (read access for proofs).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Makes this an ingest node of a cluster: everything ingested from now on goes to `log`
    /// (the cluster's JetStream stream) instead of the journal, so the local detection sees
    /// none of it. Call it before the pipeline is shared with the server.
    pub fn publish_to(&mut self, log: Arc<dyn EventLog>) {
        tracing::info!(log = %log.describe(), "ingested events go to the cluster's event log");
        self.ingestor = self.ingestor.clone().with_event_log(log);
    }

    /// The ingest entry point.
    pub fn ingestor(&self) -> &Ingestor {
        &self.ingestor
    }

    /// Runs a query on the shared read connection.
    pub fn read_store<T>(
        &self,
        query: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = match self.reader.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        query(&mut **guard)
    }

    /// Journal and detection positions and counts.
    pub fn status(&self) -> Status {
        Status {
            journal_seq: self.journal.last_sequence(),
            detected_seq: self.detected.load(Ordering::Acquire),
            rules_loaded: self.rules.loaded.len(),
            rules_rejected: self.rules.rejected.len(),
            directory: self.directory.current().summary(),
            event_log: self.ingestor.event_log().map(|log| EventLogStatus {
                log: log.describe(),
                events: self.metrics.events_ingested.load(Ordering::Relaxed),
            }),
        }
    }

    /// Loaded and refused rules.
    pub fn rules_report(&self) -> &RulesReport {
        &self.rules
    }

    /// The directory in use now (the device hygiene API reads its devices).
    pub fn directory(&self) -> std::sync::Arc<onesec_directory::Directory> {
        self.directory.current()
    }

    /// The directory handle itself, which follows reloads.
    pub fn shared_directory(&self) -> &SharedDirectory {
        &self.directory
    }

    /// Re-reads the directory files; the old directory stays in use if the new files are bad.
    pub fn reload_directory(&self) -> Result<DirectorySummary, onesec_directory::DirectoryError> {
        let summary = self.directory.reload()?;
        self.sync_inventory();
        Ok(summary)
    }

    /// Tells detection that a person changed an incident's state.
    pub fn incident_state_changed(&self, id: &str, state: IncidentState) {
        if let Ok(tx) = self.state_changes.lock() {
            let _ = tx.send(GrouperMsg::State(id.to_string(), state));
        }
    }

    /// A person merges incident `from` into `into`: detection regroups and stores it, then
    /// both incidents get a history entry, the audit log an `incident.merge` entry, and the
    /// run of the merged-away incident is cancelled. The incidents it changed.
    pub fn merge_incidents(
        &self,
        from: &str,
        into: &str,
        by: &str,
        comment: &str,
    ) -> Result<Vec<Incident>, RegroupError> {
        let op = ManualOp::Merge {
            from: from.to_string(),
            into: into.to_string(),
        };
        self.regroup(op, by, comment)
    }

    /// A person moves `alerts` out of `incident` into a new incident (kept apart from it from
    /// then on); recorded like a merge (`incident.split`). The incidents it changed, the new
    /// one last.
    pub fn split_incident(
        &self,
        incident: &str,
        alerts: &[String],
        by: &str,
        comment: &str,
    ) -> Result<Vec<Incident>, RegroupError> {
        self.regroup(ManualOp::split(incident, alerts), by, comment)
    }

    fn regroup(
        &self,
        op: ManualOp,
        by: &str,
        comment: &str,
    ) -> Result<Vec<Incident>, RegroupError> {
        let at_ms = self.responses.now_ms();
        let record = onesec_store::ManualRecord {
            seq: 0,
            at_ms,
            actor: by.to_string(),
            comment: comment.to_string(),
            op: op.clone(),
        };
        let (reply, answer) = mpsc::channel();
        {
            let tx = self.state_changes.lock().map_err(|_| RegroupError::Busy)?;
            tx.send(GrouperMsg::Manual { record, reply })
                .map_err(|_| RegroupError::Busy)?;
        }
        let mut incidents = answer
            .recv_timeout(std::time::Duration::from_secs(20))
            .map_err(|_| RegroupError::Busy)??;
        self.responses.regrouped(&op, &incidents, by, comment)?;
        let order = |i: &Incident| op.incidents().iter().position(|id| *id == i.id);
        incidents.sort_by_key(order);
        Ok(incidents)
    }

    /// The counters of every source that delivered or was declared, by name.
    pub fn sources(&self) -> Vec<SourceSnapshot> {
        self.metrics.sources.snapshot()
    }

    /// Declares a configured source (listener or client), listed before it delivers anything.
    pub fn declare_source(&self, source: &str) {
        self.metrics.sources.declare(source);
    }

    /// Prometheus metrics text.
    pub fn metrics_text(&self) -> String {
        let status = self.status();
        let dead = self.read_store(|s| s.dead_letter_count()).unwrap_or(0);
        self.metrics.render(&[
            (
                "onesec_journal_sequence",
                "Last durable journal sequence.",
                status.journal_seq,
            ),
            (
                "onesec_detected_sequence",
                "Last journal sequence detection finished.",
                status.detected_seq,
            ),
            (
                "onesec_rules_loaded",
                "Rules running.",
                status.rules_loaded as u64,
            ),
            (
                "onesec_rules_rejected",
                "Rules refused.",
                status.rules_rejected as u64,
            ),
            (
                "onesec_dead_letters_stored",
                "Dead letters in the store.",
                dead,
            ),
        ])
    }

    /// Waits until detection has processed everything journaled so far and the response
    /// worker has taken the incidents it produced (or the timeout): a drill that advances its
    /// clock right after must not outrun the playbooks' tasks.
    pub fn wait_detected(&self, timeout: std::time::Duration) -> bool {
        let target = self.journal.last_sequence();
        let deadline = std::time::Instant::now() + timeout;
        // Detection sends a chunk's incidents before it marks the chunk detected, so once
        // `detected` reaches the target every batch of it is counted in `responses_pending`.
        while self.detected.load(Ordering::Acquire) < target
            || self.responses_pending.load(Ordering::Acquire) > 0
        {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        true
    }

    /// Stops detection and waits for it.
    pub fn shutdown(&self) {
        if let Some(audit) = &self.audit {
            audit.stop();
        }
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.detector.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        let responder = self.responder.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = responder {
            let _ = handle.join();
        }
        let retention = self.retention.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = retention {
            let _ = handle.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Restores the detection snapshot when there is a usable one: the engine takes its state and
/// the grouper, the last operation by hand it applied and the rest are returned. A snapshot
/// that cannot be used is logged with why (detection then rebuilds from the whole journal).
fn restore_snapshot(
    policy: &detect::SnapshotPolicy,
    engine: &mut Engine,
    grouper_config: &GrouperConfig,
    stored_upto: u64,
    journal_last: u64,
) -> Option<(Grouper, i64, detect::Resumed)> {
    let refuse = |why: String| {
        tracing::warn!(
            file = %policy.path.display(),
            reason = %why,
            "detection snapshot not used; rebuilding detection state from the whole journal"
        );
        None
    };
    let snapshot = match snapshot::DetectionSnapshot::read(&policy.path) {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return None,
        Err(error) => return refuse(error.to_string()),
    };
    if snapshot.window_ms != policy.window_ms || snapshot.open_min != policy.open_min {
        return refuse(format!(
            "incident settings changed (window {} ms, open_min {} in the snapshot; now {} ms, {})",
            snapshot.window_ms, snapshot.open_min, policy.window_ms, policy.open_min
        ));
    }
    if snapshot.upto > stored_upto {
        return refuse(format!(
            "it covers the journal up to {}, beyond what the store holds ({stored_upto})",
            snapshot.upto
        ));
    }
    if snapshot.upto > journal_last {
        return refuse(format!(
            "it covers the journal up to {}, beyond its end ({journal_last})",
            snapshot.upto
        ));
    }
    let grouper = match Grouper::load_state(grouper_config.clone(), &snapshot.grouper) {
        Ok(grouper) => grouper,
        Err(error) => return refuse(format!("grouper state: {error}")),
    };
    let facts = match serde_json::from_slice(&snapshot.facts) {
        Ok(facts) => facts,
        Err(error) => return refuse(format!("alert entities: {error}")),
    };
    // Last, as it changes the engine (only when it succeeds).
    if let Err(error) = engine.restore(&snapshot.engine) {
        return refuse(format!("engine: {error}"));
    }
    tracing::info!(upto = snapshot.upto, "detection snapshot restored");
    Some((
        grouper,
        snapshot.manual_seq,
        detect::Resumed {
            upto: snapshot.upto,
            facts,
        },
    ))
}

/// Opens the audit log, covers journal records a crash left without an entry, and records the
/// start with what is running.
fn open_audit(
    config: &Config,
    journal: &Journal,
    rules: &RulesReport,
) -> Result<Option<Arc<Audit>>, StartError> {
    if !config.audit.enabled {
        return Ok(None);
    }
    let audit = Audit::open(&config.audit, &config.data_dir)?;
    audit.reconcile(journal).map_err(StartError::Rules)?;
    let detail = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "rules_loaded": rules.loaded.len(),
        "rules_rejected": rules.rejected.len(),
        "directory": config.directory,
        "journal_fsync": config.journal.fsync,
    });
    audit.record("onesec", "service.start", "", detail);
    audit.record(
        "onesec",
        "config.load",
        &config_target(config),
        config_detail(config),
    );
    audit.record("onesec", "rules.load", "", rules_detail(rules));
    audit.start_checkpoints(std::time::Duration::from_secs(
        config.audit.checkpoint_secs.max(1),
    ));
    Ok(Some(audit))
}

/// The configuration file, or empty for the defaults.
fn config_target(config: &Config) -> String {
    config
        .source
        .as_ref()
        .map(|(path, _)| path.display().to_string())
        .unwrap_or_default()
}

/// What the `config.load` entry says: the file's hash and the hash of the configuration in
/// effect (flags included), so a changed setting shows between two starts; never the values,
/// which may hold secrets (MQTT password, SIA keys, connector credentials).
fn config_detail(config: &Config) -> serde_json::Value {
    let effective = format!("{config:?}");
    serde_json::json!({
        "file_sha256": config.source.as_ref().map(|(_, sha)| sha.as_str()),
        "effective_sha256": audit::sha256_hex(&[effective.as_bytes()]),
        "data_dir": config.data_dir,
        "auth_enabled": config.auth.enabled,
        "http_tls": config.http.tls,
        "response_mode": format!("{:?}", config.response.mode),
    })
}

/// The largest list of rule files a `rules.load` entry holds (an entry is at most 1 MiB).
const RULE_FILES_IN_ENTRY: usize = 4000;

/// What the `rules.load` entry says: counts, a digest over every rule file and each file with
/// its SHA-256 (up to [`RULE_FILES_IN_ENTRY`]).
fn rules_detail(rules: &RulesReport) -> serde_json::Value {
    let digest_input: Vec<u8> = rules
        .files
        .iter()
        .flat_map(|(name, sha)| [name.as_bytes(), b"\0", sha.as_bytes(), b"\n"].concat())
        .collect();
    let files: serde_json::Map<String, serde_json::Value> = rules
        .files
        .iter()
        .take(RULE_FILES_IN_ENTRY)
        .map(|(name, sha)| (name.clone(), serde_json::Value::String(sha.clone())))
        .collect();
    serde_json::json!({
        "loaded": rules.loaded.len(),
        "rejected": rules.rejected.len(),
        "digest": audit::sha256_hex(&[&digest_input]),
        "files": files,
        "files_omitted": rules.files.len().saturating_sub(RULE_FILES_IN_ENTRY),
    })
}

fn fsync_policy(text: &str) -> Result<FsyncPolicy, ConfigError> {
    let bad = || ConfigError::Value {
        key: "journal.fsync",
        value: text.to_string(),
        reason: "expected always, never or interval:<milliseconds>",
    };
    match text {
        "always" => Ok(FsyncPolicy::Always),
        "never" => Ok(FsyncPolicy::Never),
        other => other
            .strip_prefix("interval:")
            .and_then(|ms| ms.parse().ok())
            .map(FsyncPolicy::IntervalMs)
            .ok_or_else(bad),
    }
}
