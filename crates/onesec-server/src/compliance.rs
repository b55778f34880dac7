//! The compliance side of the server: the catalogue and mappings loaded at start, the
//! compliance database, the evidence of a period gathered from the store, the hygiene checks
//! and the audit log, regulatory deadlines with their escalation, and unified reports (on
//! demand and on the `[[reports.schedule]]`). The routes are in `compliance_api`.

use crate::devices_api::Devices;
use chrono_tz::Tz;
use onesec_compliance::coverage::{alert_evidence, finding_evidence, incident_evidence};
use onesec_compliance::mapping::{
    check_mappings, platform_mappings, playbook_mappings, rule_mappings,
};
use onesec_compliance::{
    Catalogue, ComplianceDb, Coverage, Deadline, Escalation, EvidenceItem, EvidenceKind, Mapping,
    Period, Regime, Stage, Submission, due_escalations,
};
use onesec_compliance::{FindingRecord, span_evidence};
use onesec_event::{Event, EventClass};
use onesec_incident::{Alert, Case, Incident};
use onesec_pipeline::compliance_config::{ComplianceSettings, ReportSchedule};
use onesec_pipeline::{Config, Pipeline};
use onesec_report::schedule::Every;
use onesec_report::{CheckpointRef, Format, SitePosture, WorkHours};
use onesec_store::{EventFilter, IncidentFilter, StoreError};
use serde_json::json;
use std::sync::{Arc, Mutex, MutexGuard};

/// At most this many events are read for the access part of one report.
const MAX_REPORT_EVENTS: usize = 500_000;

/// Compliance could not start.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// A setting is unusable.
    #[error("invalid [compliance] / [reports] configuration: {0}")]
    Config(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] onesec_compliance::DbError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A clock could not be computed.
    #[error(transparent)]
    Clock(#[from] onesec_compliance::ClockError),
    /// A report could not be rendered.
    #[error(transparent)]
    Render(#[from] onesec_report::RenderError),
}

/// A scheduled report, checked at start.
pub(crate) struct Scheduled {
    pub(crate) entry: ReportSchedule,
    pub(crate) every: Every,
    pub(crate) formats: Vec<Format>,
}

/// What the compliance routes and the background checks share.
pub struct Compliance {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) devices: Arc<Devices>,
    db: Mutex<ComplianceDb>,
    pub(crate) catalogue: Catalogue,
    pub(crate) mappings: Vec<Mapping>,
    pub(crate) settings: ComplianceSettings,
    pub(crate) timezone: Tz,
    pub(crate) work_hours: WorkHours,
    pub(crate) schedule: Vec<Scheduled>,
}

/// Mappings of the rules, checks, playbook steps and mechanisms in use.
fn load_mappings(config: &Config) -> Vec<Mapping> {
    let mut mappings = match onesec_pipeline::load_rules(&config.rules) {
        Ok((rules, _)) => rule_mappings(&rules),
        Err(error) => {
            tracing::warn!(%error, "rules not read for the coverage view");
            Vec::new()
        }
    };
    mappings.extend(check_mappings());
    match onesec_playbook::builtin::hybrid_intrusion().map(serde_json::to_value) {
        Ok(Ok(value)) => mappings.extend(playbook_mappings(&value)),
        _ => tracing::warn!("built-in playbook not read for the coverage view"),
    }
    for path in &config.response.playbooks {
        let value = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        match value {
            Some(value) => mappings.extend(playbook_mappings(&value)),
            None => {
                tracing::warn!(path = %path.display(), "playbook not read for the coverage view")
            }
        }
    }
    mappings.extend(platform_mappings());
    mappings
}

fn check_schedule(entry: &ReportSchedule) -> Result<Scheduled, ComplianceError> {
    let bad = |what: String| {
        ComplianceError::Config(format!("[[reports.schedule]] {:?}: {what}", entry.name))
    };
    let every = Every::parse(&entry.every).ok_or_else(|| {
        bad(format!(
            "every = {:?} is not daily, weekly or monthly",
            entry.every
        ))
    })?;
    let formats = entry
        .formats
        .iter()
        .map(|f| {
            Format::parse(f)
                .ok_or_else(|| bad(format!("format {f:?} is not html, pdf, csv or json")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if entry.folder.is_none() && entry.webhook.is_none() {
        return Err(bad("needs a folder or a webhook".into()));
    }
    Ok(Scheduled {
        entry: entry.clone(),
        every,
        formats,
    })
}

impl Compliance {
    /// Opens `<data>/compliance.db` and reads the mappings of the configured rules.
    pub fn load(
        pipeline: Arc<Pipeline>,
        devices: Arc<Devices>,
        config: &Config,
    ) -> Result<Compliance, ComplianceError> {
        let timezone = onesec_compliance::clock::parse_timezone(&config.compliance.timezone)
            .map_err(|e| ComplianceError::Config(e.to_string()))?;
        let work_hours = WorkHours::parse(&config.reports.work_hours, config.reports.weekdays_only)
            .ok_or_else(|| {
                ComplianceError::Config(format!(
                    "[reports] work_hours = {:?} is not HH:MM-HH:MM",
                    config.reports.work_hours
                ))
            })?;
        let schedule = config
            .reports
            .schedule
            .iter()
            .map(check_schedule)
            .collect::<Result<Vec<_>, _>>()?;
        let db = ComplianceDb::open(&config.data_dir.join("compliance.db"))?;
        Ok(Compliance {
            pipeline,
            devices,
            db: Mutex::new(db),
            catalogue: Catalogue::builtin(),
            mappings: load_mappings(config),
            settings: config.compliance.clone(),
            timezone,
            work_hours,
            schedule,
        })
    }

    /// The database (a poisoned lock is taken over: every write is one statement).
    pub(crate) fn db(&self) -> MutexGuard<'_, ComplianceDb> {
        match self.db.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Now, on the response side's clock (injectable in tests).
    pub(crate) fn now_ms(&self) -> i64 {
        self.pipeline.responses().now_ms()
    }

    /// Records an audit entry, when the audit log is on.
    pub(crate) fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        if let Some(audit) = self.pipeline.audit() {
            audit.record(actor, action, target, detail);
        }
    }

    /// When the incident was resolved (its case), `None` while it is being handled.
    fn handled_ms(&self, incident_id: &str) -> Option<i64> {
        self.pipeline
            .read_store(|s| s.case(incident_id))
            .ok()
            .flatten()
            .and_then(|c| c.resolved_ms)
    }

    /// Every deadline of every marked incident at `now_ms`.
    pub(crate) fn deadlines(&self, now_ms: i64) -> Result<Vec<Deadline>, ComplianceError> {
        let (marks, submissions) = {
            let db = self.db();
            (db.marks()?, db.submissions(None)?)
        };
        let mut out = Vec::new();
        for mark in &marks {
            let mine: Vec<Submission> = submissions
                .iter()
                .filter(|s| s.incident_id == mark.incident_id)
                .cloned()
                .collect();
            let handled = self.handled_ms(&mark.incident_id);
            out.extend(onesec_compliance::deadlines(mark, &mine, handled, now_ms)?);
        }
        out.sort_by_key(|d| d.due_ms);
        Ok(out)
    }

    /// Escalates each overdue deadline once to `[compliance] escalate_to`: recorded in the
    /// database, audited (`compliance.escalate`) and logged. Returns the new escalations.
    pub fn escalate_due(&self, now_ms: i64) -> Result<Vec<Escalation>, ComplianceError> {
        let deadlines = self.deadlines(now_ms)?;
        let db = self.db();
        let due = due_escalations(
            &deadlines,
            &db.escalations()?,
            &self.settings.escalate_to,
            now_ms,
        );
        let mut added = Vec::new();
        for escalation in due {
            if db.add_escalation(&escalation)? {
                tracing::warn!(
                    incident = %escalation.incident_id,
                    stage = escalation.stage.as_str(),
                    to = ?escalation.recipients,
                    "regulatory deadline overdue: escalated"
                );
                let notice = json!({
                    "event": "regulatory.overdue",
                    "incident_id": escalation.incident_id,
                    "stage": escalation.stage.as_str(),
                    "label": escalation.stage.label(),
                    "due_ms": escalation.due_ms,
                    "escalated_to": escalation.recipients,
                });
                let comment = format!(
                    "{} overdue since {}",
                    escalation.stage.label(),
                    onesec_compliance::clock::local_string(escalation.due_ms, self.timezone)
                );
                let responses = self.pipeline.responses();
                let to = escalation.recipients.join(", ");
                if let Err(error) = responses.notify_and_record(
                    &escalation.incident_id,
                    &notice,
                    "regulatory_escalate",
                    &to,
                    &comment,
                ) {
                    tracing::error!(%error, incident = %escalation.incident_id, "regulatory escalation not on the incident's history");
                }
                self.audit(
                    "onesec",
                    "compliance.escalate",
                    &escalation.incident_id,
                    json!({"stage": escalation.stage.as_str(), "due_ms": escalation.due_ms, "to": escalation.recipients}),
                );
                added.push(escalation);
            }
        }
        Ok(added)
    }

    /// Incidents overlapping the period (and naming the site), with their cases.
    pub(crate) fn incidents(
        &self,
        period: Period,
        site: Option<&str>,
    ) -> Result<Vec<(Incident, Option<Case>)>, ComplianceError> {
        let site = site.map(str::to_string);
        Ok(self.pipeline.read_store(move |s| {
            let filter = IncidentFilter {
                limit: Some(usize::MAX >> 1),
                ..Default::default()
            };
            let mut out = Vec::new();
            for incident in s.incidents(&filter)? {
                let overlaps =
                    incident.first_ms <= period.to_ms && incident.last_ms >= period.from_ms;
                let at_site = site
                    .as_ref()
                    .is_none_or(|x| incident.entities.sites.contains(x));
                if overlaps && at_site {
                    let case = s.case(&incident.id)?;
                    out.push((incident, case));
                }
            }
            Ok(out)
        })?)
    }

    fn alerts(&self, period: Period) -> Result<Vec<Alert>, ComplianceError> {
        let mut alerts = self
            .pipeline
            .read_store(|s| s.alerts(None, usize::MAX >> 1))?;
        alerts.retain(|a| period.contains(a.first_ms));
        Ok(alerts)
    }

    /// Signed checkpoints of the audit log in the period, as evidence for logging (8.15) and
    /// evidence keeping (5.28).
    fn checkpoint_evidence(&self, period: Period) -> Vec<EvidenceItem> {
        let Some(audit) = self.pipeline.audit() else {
            return Vec::new();
        };
        let text =
            std::fs::read_to_string(audit.dir().join("checkpoints.jsonl")).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (Some(size), Some(time_ms)) = (value["size"].as_u64(), value["time_ms"].as_i64())
            else {
                continue;
            };
            if !period.contains(time_ms) {
                continue;
            }
            for control in ["iso27001.8.15", "iso27001.5.28"] {
                out.push(EvidenceItem {
                    control: control.to_string(),
                    kind: EvidenceKind::Checkpoint,
                    id: format!("checkpoint {size}"),
                    at_ms: time_ms,
                    summary: format!("audit log checkpoint over {size} entries, signed"),
                    sites: Vec::new(),
                });
            }
        }
        out
    }

    /// One evidence item for logging (8.15) per local day of the period on which events were
    /// recorded (at most 400 days, one indexed probe per day).
    fn log_evidence(
        &self,
        period: Period,
        site: Option<&str>,
    ) -> Result<Vec<EvidenceItem>, ComplianceError> {
        let mut out = Vec::new();
        let mut day_start = period.from_ms;
        for _ in 0..400 {
            if day_start > period.to_ms {
                break;
            }
            let next = onesec_report::schedule::next_local_midnight(day_start, self.timezone);
            let filter = EventFilter {
                site: site.map(str::to_string),
                from_ms: Some(day_start),
                to_ms: Some((next - 1).min(period.to_ms)),
                limit: Some(1),
                ..Default::default()
            };
            let first = self.pipeline.read_store(move |s| s.events(&filter))?;
            if let Some(event) = first.first() {
                let day = onesec_compliance::clock::local_string(day_start, self.timezone);
                out.push(EvidenceItem {
                    control: "iso27001.8.15".to_string(),
                    kind: EvidenceKind::Log,
                    id: format!("events {}", day.get(..10).unwrap_or_default()),
                    at_ms: event.time_ms,
                    summary: format!("events recorded that day, first event id {}", event.id),
                    sites: event.resolved.site.iter().cloned().collect(),
                });
            }
            day_start = next;
        }
        Ok(out)
    }

    fn submission_evidence(
        &self,
        incidents: &[(Incident, Option<Case>)],
    ) -> Result<Vec<EvidenceItem>, ComplianceError> {
        let submissions = self.db().submissions(None)?;
        let mut out = Vec::new();
        for s in submissions {
            let sites: Vec<String> = incidents
                .iter()
                .find(|(i, _)| i.id == s.incident_id)
                .map(|(i, _)| i.entities.sites.iter().cloned().collect())
                .unwrap_or_default();
            let article = if s.stage.regime() == Regime::Gdpr {
                "gdpr.33"
            } else {
                "nis2.23"
            };
            for control in [article, "iso27001.5.5"] {
                out.push(EvidenceItem {
                    control: control.to_string(),
                    kind: EvidenceKind::Submission,
                    id: format!("{}/{}", s.incident_id, s.stage.as_str()),
                    at_ms: s.submitted_ms,
                    summary: format!(
                        "{} submitted by {}{}",
                        s.stage.label(),
                        s.submitted_by,
                        if s.late { " (late)" } else { "" }
                    ),
                    sites: sites.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Notes the hygiene findings open now in the finding history (every compliance check).
    pub fn observe_findings(&self, now_ms: i64) -> Result<(usize, usize), ComplianceError> {
        let current: Vec<FindingRecord> = self
            .devices
            .assessment_for_history()
            .findings
            .iter()
            .map(FindingRecord::of)
            .collect();
        Ok(self.db().observe_findings(&current, now_ms)?)
    }

    /// Findings as evidence of a period: those the history shows open in it, and the ones
    /// open now when the period reaches now (the history may not have seen them yet).
    fn finding_evidence(&self, period: Period) -> Result<Vec<EvidenceItem>, ComplianceError> {
        let spans = self.db().finding_spans(period.from_ms, period.to_ms)?;
        let mut evidence = span_evidence(&spans, period);
        let seen: std::collections::HashSet<(String, String)> = evidence
            .iter()
            .map(|e| (e.control.clone(), e.id.clone()))
            .collect();
        let now = finding_evidence(&self.devices.assessment().findings, self.now_ms());
        evidence.extend(
            now.into_iter()
                .filter(|e| !seen.contains(&(e.control.clone(), e.id.clone()))),
        );
        Ok(evidence)
    }

    /// The coverage view of a period (limited to `only` controls and a site when given).
    pub(crate) fn coverage(
        &self,
        period: Period,
        only: &[String],
        site: Option<&str>,
    ) -> Result<Coverage, ComplianceError> {
        let incidents = self.incidents(period, None)?;
        let alerts = self.alerts(period)?;
        let mut evidence = alert_evidence(&alerts, &self.mappings);
        evidence.extend(incident_evidence(&incidents, &evidence.clone(), &alerts));
        evidence.extend(self.finding_evidence(period)?);
        evidence.extend(self.submission_evidence(&incidents)?);
        evidence.extend(self.checkpoint_evidence(period));
        evidence.extend(self.log_evidence(period, site)?);
        Ok(onesec_compliance::coverage(
            &self.catalogue,
            &self.mappings,
            &evidence,
            period,
            only,
            site,
        ))
    }

    /// Physical access events of the period at the site.
    fn access_events(
        &self,
        period: Period,
        site: Option<&str>,
    ) -> Result<Vec<Event>, ComplianceError> {
        let mut out = Vec::new();
        let mut after_id = None;
        let mut read = 0usize;
        loop {
            let filter = EventFilter {
                site: site.map(str::to_string),
                from_ms: Some(period.from_ms),
                to_ms: Some(period.to_ms),
                after_id,
                limit: Some(5000),
                ..Default::default()
            };
            let page = self.pipeline.read_store(move |s| s.events(&filter))?;
            let Some(last) = page.last() else { break };
            after_id = Some(last.id);
            read += page.len();
            out.extend(
                page.into_iter()
                    .filter(|e| e.class == EventClass::PhysicalAccess),
            );
            if read >= MAX_REPORT_EVENTS {
                tracing::warn!(read, "report: access part cut at the event limit");
                break;
            }
        }
        Ok(out)
    }

    /// A signed checkpoint of the audit log now: the report states it was built from it.
    fn checkpoint_now(&self) -> Option<CheckpointRef> {
        let audit = self.pipeline.audit()?;
        match audit.checkpoint() {
            Ok(c) => Some(CheckpointRef {
                size: c.size,
                root: c.root,
                time_ms: c.time_ms,
                signature: c.signature,
            }),
            Err(error) => {
                tracing::error!(%error, "report: no audit checkpoint");
                None
            }
        }
    }

    /// Builds the unified report of a period and site.
    pub(crate) fn report(
        &self,
        period: Period,
        site: Option<&str>,
        by: &str,
    ) -> Result<onesec_report::Report, ComplianceError> {
        let now_ms = self.now_ms();
        let checkpoint = self.checkpoint_now();
        let incidents = self.incidents(period, site)?;
        let events = self.access_events(period, site)?;
        let coverage = self.coverage(period, &[], site)?;
        let assessment = self.devices.assessment();
        let postures = assessment
            .posture
            .sites
            .iter()
            .filter(|p| site.is_none_or(|s| s == p.id))
            .map(|p| SitePosture {
                site: p.id.clone(),
                score: p.score,
                devices: p.devices,
            })
            .collect();
        let (marks, submissions, exercise_results) = {
            let db = self.db();
            (
                db.marks()?,
                db.submissions(None)?,
                db.exercises(period.from_ms, period.to_ms)?,
            )
        };
        let deadlines = self.deadlines(now_ms)?;
        let inputs = onesec_report::Inputs {
            // With pseudonymisation on, events name people by pseudonyms: a report (often
            // for management) counts them instead of listing pseudonyms or revealing names.
            people: match self.pipeline.pseudonyms() {
                Some(_) => onesec_report::PeopleInReports::Aggregated,
                None => onesec_report::PeopleInReports::Named,
            },
            title: format!(
                "onesec security and compliance report{}",
                site.map(|s| format!(" — {s}")).unwrap_or_default()
            ),
            site: site.map(str::to_string),
            period,
            timezone: self.timezone,
            work_hours: self.work_hours,
            generated_ms: now_ms,
            generated_by: by.to_string(),
            checkpoint,
            incidents: &incidents,
            access_events: &events,
            findings: &assessment.findings,
            postures,
            coverage: &coverage,
            marks: &marks,
            submissions: &submissions,
            deadlines: &deadlines,
            exercise_results: &exercise_results,
        };
        Ok(onesec_report::build(&inputs))
    }

    /// Runs the scheduled reports that are due at `now_ms`: writes each format to the folder
    /// and/or POSTs it to the webhook, records the run and audits it (`report.scheduled`).
    /// Returns the names run.
    pub fn run_schedule(&self, now_ms: i64) -> Result<Vec<String>, ComplianceError> {
        let mut ran = Vec::new();
        for job in &self.schedule {
            let last = self.db().last_report_run(&job.entry.name)?;
            if !onesec_report::schedule::is_due(job.every, last, now_ms, self.timezone) {
                continue;
            }
            let (from_ms, to_ms) =
                onesec_report::schedule::period_before(job.every, now_ms, self.timezone);
            let period = Period { from_ms, to_ms };
            let by = format!("schedule {}", job.entry.name);
            let report = self.report(period, job.entry.site.as_deref(), &by)?;
            let day = onesec_compliance::clock::local_string(from_ms, self.timezone);
            let stem = format!("{}-{}", job.entry.name, day.get(..10).unwrap_or("report"));
            let mut delivered = Vec::new();
            for format in &job.formats {
                let bytes = onesec_report::render(&report, *format)?;
                let name = format!("{stem}.{}", format.extension());
                delivered.extend(deliver(&job.entry, &name, *format, bytes));
            }
            self.db().set_report_run(&job.entry.name, now_ms)?;
            self.audit(
                "onesec",
                "report.scheduled",
                &job.entry.name,
                json!({"from_ms": from_ms, "to_ms": to_ms, "delivered": delivered}),
            );
            ran.push(job.entry.name.clone());
        }
        Ok(ran)
    }
}

/// Writes a scheduled report's file to the folder and/or POSTs it to the webhook; returns
/// where it went (a failure is logged and left out: the next period still runs).
fn deliver(entry: &ReportSchedule, name: &str, format: Format, bytes: Vec<u8>) -> Vec<String> {
    let mut done = Vec::new();
    if let Some(folder) = &entry.folder {
        let path = folder.join(name);
        match std::fs::create_dir_all(folder).and_then(|_| std::fs::write(&path, &bytes)) {
            Ok(()) => done.push(path.display().to_string()),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "scheduled report not written")
            }
        }
    }
    if let Some(url) = &entry.webhook {
        let sent = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .and_then(|c| {
                c.post(url)
                    .header("content-type", format.media_type())
                    .header("x-onesec-report", name)
                    .body(bytes)
                    .send()
            })
            .and_then(|r| r.error_for_status());
        match sent {
            Ok(_) => done.push(url.clone()),
            Err(error) => tracing::error!(%error, url, "scheduled report not sent"),
        }
    }
    done
}

/// Checks deadlines and the schedule every `[compliance] check_secs`.
pub(crate) fn spawn_checks(compliance: Arc<Compliance>) -> tokio::task::JoinHandle<()> {
    let every = std::time::Duration::from_secs(compliance.settings.check_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let c = compliance.clone();
            let result = tokio::task::spawn_blocking(move || {
                let now = c.now_ms();
                c.observe_findings(now)?;
                c.escalate_due(now)?;
                c.run_schedule(now)
            })
            .await;
            match result {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(%error, "compliance checks"),
                Err(error) => tracing::error!(%error, "compliance checks task"),
            }
        }
    })
}

/// The stage names, for error messages.
pub(crate) fn stage_names() -> String {
    Stage::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
