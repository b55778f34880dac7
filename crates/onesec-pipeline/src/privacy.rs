//! Privacy by design in a running onesec (docs/privacy.md): the retention job on its timer,
//! runs asked for through the API, and legal holds, each audited.
//!
//! The job uses its own store connection (SQLite or PostgreSQL, as `[store]` says) and the
//! pipeline's journal handle (the only one that may delete segments while onesec runs). One run
//! at a time: the timer and the API share a lock.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onesec_journal::Journal;
use onesec_privacy::subject::{self, ErasureReport, SubjectExport};
use onesec_privacy::{RetentionReport, RetentionSettings, holds};
use onesec_store::{LegalHold, PrivacyStore, StoreSettings, open_privacy_store};

use crate::Config;
use crate::audit::Audit;

/// A privacy operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The retention run failed.
    #[error(transparent)]
    Retention(#[from] onesec_privacy::RetentionError),
    /// The hold could not be placed or lifted.
    #[error(transparent)]
    Hold(#[from] holds::HoldError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] onesec_store::StoreError),
}

/// The retention job and legal holds of one pipeline.
pub struct Privacy {
    /// The store in use and the data folder (whose journal its blocks refer to).
    store: StoreSettings,
    data_dir: PathBuf,
    journal: Journal,
    audit: Option<Arc<Audit>>,
    settings: RetentionSettings,
    /// How far detection has got in this process (below the store's `detected_upto` while it
    /// rebuilds its state from the journal after a start).
    detected: Arc<AtomicU64>,
    /// Held while a run is under way.
    running: Mutex<()>,
    /// Set with `[privacy.pseudonymisation]`: a person's events are indexed by their
    /// pseudonym, which the subject requests compute from the directory id.
    pseudonyms: Option<onesec_directory::Pseudonyms>,
}

impl Privacy {
    fn open_store(&self) -> Result<Box<dyn PrivacyStore>, PrivacyError> {
        Ok(open_privacy_store(&self.store, &self.data_dir)?)
    }

    pub(crate) fn new(
        (store, data_dir): (StoreSettings, PathBuf),
        journal: Journal,
        audit: Option<Arc<Audit>>,
        settings: RetentionSettings,
        detected: Arc<AtomicU64>,
    ) -> Privacy {
        Privacy {
            store,
            data_dir,
            journal,
            audit,
            settings,
            detected,
            running: Mutex::new(()),
            pseudonyms: None,
        }
    }

    /// The retention settings in use.
    pub fn settings(&self) -> &RetentionSettings {
        &self.settings
    }

    /// One retention run as of `now_ms`; a run that removed anything is audited
    /// (`retention.removed`, actor `actor`).
    pub fn run_retention(
        &self,
        actor: &str,
        now_ms: i64,
        dry_run: bool,
    ) -> Result<RetentionReport, PrivacyError> {
        let _one_at_a_time = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut store = self.open_store()?;
        // While detection rebuilds its state it reads journal segments below `detected_upto`:
        // none may go until it has caught up (the store part goes ahead).
        let caught_up = self.detected.load(Ordering::Acquire) >= store.detected_upto()?;
        if !caught_up {
            tracing::info!("detection is rebuilding: journal segments are kept this run");
        }
        let report = onesec_privacy::run(
            &mut *store,
            caught_up.then_some(&self.journal),
            &self.settings,
            now_ms,
            dry_run,
        )?;
        if !dry_run
            && report.changed_anything()
            && let Some(audit) = &self.audit
        {
            let detail = serde_json::to_value(&report).unwrap_or_default();
            audit.record(actor, onesec_privacy::AUDIT_RETENTION, "", detail);
        }
        Ok(report)
    }

    /// Places a legal hold on an incident (audited as `privacy.hold`).
    pub fn place_hold(
        &self,
        actor: &str,
        incident: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<LegalHold, PrivacyError> {
        let mut store = self.open_store()?;
        let hold = holds::place(&mut *store, incident, reason, actor, now_ms)?;
        if let Some(audit) = &self.audit {
            let detail = serde_json::json!({ "reason": hold.reason });
            audit.record(actor, onesec_privacy::AUDIT_HOLD, incident, detail);
        }
        Ok(hold)
    }

    /// Lifts the legal hold on an incident (audited as `privacy.release`, with the reason).
    pub fn lift_hold(&self, actor: &str, incident: &str, reason: &str) -> Result<(), PrivacyError> {
        let mut store = self.open_store()?;
        holds::lift(&mut *store, incident)?;
        if let Some(audit) = &self.audit {
            let detail = serde_json::json!({ "reason": reason });
            audit.record(actor, onesec_privacy::AUDIT_RELEASE, incident, detail);
        }
        Ok(())
    }

    /// Finds people's events by the pseudonyms of `pseudonyms` (the subject requests name the
    /// person by directory id and look up its pseudonym).
    pub(crate) fn with_pseudonyms(
        mut self,
        pseudonyms: Option<onesec_directory::Pseudonyms>,
    ) -> Privacy {
        self.pseudonyms = pseudonyms;
        self
    }

    /// What the store indexes a person's events under: the pseudonym of their directory id
    /// with `[privacy.pseudonymisation]`, else the id.
    pub fn subject_key(&self, person: &str) -> String {
        match &self.pseudonyms {
            Some(p) => p.pseudonymiser().person(person),
            None => person.to_string(),
        }
    }

    /// Everything held about a person (GDPR Art. 15), audited as `privacy.export` with who
    /// asked, the person (their pseudonym when pseudonymisation is on) and the reason.
    pub fn export_subject(
        &self,
        actor: &str,
        person: &str,
        directory: Option<serde_json::Value>,
        reason: &str,
    ) -> Result<SubjectExport, PrivacyError> {
        let store = self.open_store()?;
        let now = crate::ingest::now_ms();
        let key = self.subject_key(person);
        let mut export = subject::export(&*store, &key, directory, &self.settings, now)?;
        // The export goes to the person (or the DPO) who named them: it says whom it is about.
        export.person = person.to_string();
        if let Some(audit) = &self.audit {
            let detail = serde_json::json!({
                "events": export.events.len(),
                "incidents": export.incidents.len(),
                "reason": reason,
                "via": "api",
            });
            audit.record(actor, onesec_privacy::AUDIT_EXPORT, &key, detail);
        }
        Ok(export)
    }

    /// Erases a person's events except what a legal hold keeps (GDPR Art. 17), then the
    /// journal segments that held them; audited as `privacy.erase` (the person only as a hash).
    pub fn erase_subject(
        &self,
        actor: &str,
        person: &str,
        reason: &str,
        dry_run: bool,
    ) -> Result<ErasureReport, PrivacyError> {
        let _one_at_a_time = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut store = self.open_store()?;
        let caught_up = self.detected.load(Ordering::Acquire) >= store.detected_upto()?;
        let journal = caught_up.then_some(&self.journal);
        let now = crate::ingest::now_ms();
        let key = self.subject_key(person);
        let report = subject::erase(&mut *store, journal, &key, reason, now, dry_run)?;
        if !dry_run && let Some(audit) = &self.audit {
            let detail = serde_json::to_value(&report).unwrap_or_default();
            audit.record(actor, onesec_privacy::AUDIT_ERASE, "", detail);
        }
        Ok(report)
    }

    /// Every legal hold.
    pub fn holds(&self) -> Result<Vec<LegalHold>, PrivacyError> {
        Ok(self.open_store()?.legal_holds()?)
    }
}

/// What the configuration says about the processing, for the record of processing
/// (`onesec_privacy::records`): the directory's people and sites, inputs, recipients, the
/// measures in place; the caller names the roles that read events and incidents.
pub fn processing_facts(
    config: &Config,
    directory: Option<&onesec_directory::Directory>,
    roles_reading_events: Vec<String>,
    roles_reading_incidents: Vec<String>,
) -> onesec_privacy::records::Facts {
    let mut facts = onesec_privacy::records::Facts {
        dpo_contact: config.compliance.dpo_contact.clone(),
        ..Default::default()
    };
    if let Some(directory) = directory {
        let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
        for person in directory.people() {
            *by_status
                .entry(person.status.as_str().to_string())
                .or_default() += 1;
        }
        facts.people = by_status.into_iter().collect();
        facts.sites = directory.sites().iter().map(|s| s.id.clone()).collect();
    }
    facts.inputs = inputs(config);
    facts.roles_reading_events = roles_reading_events;
    facts.roles_reading_incidents = roles_reading_incidents;
    facts.recipients = recipients(config);
    let tls = !config.http.tls.is_empty();
    facts.measures = vec![
        (
            "tamper-evident audit log with signed checkpoints".into(),
            config.audit.enabled,
        ),
        (
            "audit checkpoints copied to a witness".into(),
            !config.audit.witness_file.is_empty() || !config.audit.witness_url.is_empty(),
        ),
        (
            "authentication, roles and per-site scopes on the API".into(),
            config.auth.enabled,
        ),
        ("HTTPS on the API".into(), tls),
        ("TLS on syslog".into(), !config.syslog.tls.is_empty()),
        (
            "retention job running".into(),
            config.privacy.retention.enabled,
        ),
        (
            "removed data zeroed in the store (secure delete)".into(),
            true,
        ),
        (
            "every personal-data lookup audited".into(),
            config.audit.enabled,
        ),
        (
            "person identifiers pseudonymised (keyed HMAC) before events are stored".into(),
            config.privacy.pseudonymisation.enabled,
        ),
        // The journal (XChaCha20-Poly1305), the SQLite databases (SQLCipher) and exports
        // written to files: docs/privacy.md, "Encryption at rest".
        (
            "encryption at rest".into(),
            config.privacy.encryption.is_on(),
        ),
    ];
    facts
}

fn inputs(config: &Config) -> Vec<String> {
    let mut out = vec![format!(
        "HTTP API {} (events, directory reload)",
        config.http.listen
    )];
    for (name, address) in [
        ("syslog UDP", &config.syslog.udp),
        ("syslog TCP", &config.syslog.tcp),
        ("syslog TLS", &config.syslog.tls),
        ("SIA DC-09 alarm receiver", &config.sia.listen),
        ("MQTT broker", &config.mqtt.url),
    ] {
        if !address.is_empty() {
            out.push(format!("{name} {address}"));
        }
    }
    for camera in &config.onvif.camera {
        out.push(format!(
            "ONVIF device {} ({})",
            camera.device, camera.address
        ));
    }
    if let Some(dir) = &config.directory {
        out.push(format!(
            "directory of people, sites and devices: {}",
            dir.display()
        ));
    }
    out
}

fn recipients(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for connector in &config.response.connectors {
        if !connector.url.is_empty() {
            out.push(format!(
                "response connector {} ({:?}, mode {:?}): {}",
                connector.name, connector.kind, config.response.mode, connector.url
            ));
        }
    }
    for schedule in &config.reports.schedule {
        if let Some(url) = &schedule.webhook {
            out.push(format!("scheduled report {}: {url}", schedule.name));
        }
        if let Some(folder) = &schedule.folder {
            out.push(format!(
                "scheduled report {}: folder {}",
                schedule.name,
                folder.display()
            ));
        }
    }
    if !config.audit.witness_url.is_empty() {
        out.push(format!(
            "audit checkpoint witness: {}",
            config.audit.witness_url
        ));
    }
    out
}

/// Runs retention every `every_minutes` until `stop`, when `[privacy.retention] enabled`.
pub(crate) fn spawn_job(
    privacy: Arc<Privacy>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    if !privacy.settings.enabled {
        return Ok(None);
    }
    let every = Duration::from_secs(privacy.settings.every_minutes.max(1) * 60);
    let handle = std::thread::Builder::new()
        .name("onesec-retention".into())
        .spawn(move || {
            // The first run waits one period, so a start is not slowed by it.
            while sleep_unless_stopped(&stop, every) {
                if let Err(error) = privacy.run_retention("onesec", crate::ingest::now_ms(), false)
                {
                    tracing::error!(%error, "retention run failed; trying again at the next");
                }
            }
        })?;
    Ok(Some(handle))
}

/// Sleeps `total` in short steps; false when asked to stop meanwhile.
fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) -> bool {
    let step = Duration::from_millis(200);
    let mut slept = Duration::ZERO;
    while slept < total {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(step);
        slept += step;
    }
    !stop.load(Ordering::Relaxed)
}
