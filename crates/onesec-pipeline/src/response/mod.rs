//! One incident, one playbook, who does what: the response side of onesec.
//!
//! [`Responses`] works incidents as a control room does. Each incident gets a
//! [`Case`](onesec_incident::Case) (priority 1–5, category, owner team routed by rules, SLA due
//! dates, escalation) the first time detection reports it, and every change a person makes
//! (state, assignment, priority, category, comment) is a history entry and an audit entry.
//! When detection opens or updates an incident that a selection rule matches, its playbook run
//! starts; runs, their team tasks and the actions they took are kept in the store, so they
//! survive a restart. A GET never starts anything.
//!
//! Automated commands go through [`connectors`]: performed (`live`), recorded only (`dry-run`,
//! the default) or withheld (exercise: the global flag or the incident's category). A worker
//! thread ([`spawn_worker`]) takes detection's incidents and fires the timers: task deadlines,
//! delays and escalations, on the [`Clock`] it is given (tests pass a [`ManualClock`]).

mod casework;
pub mod config;
pub mod connectors;

use crate::Audit;
use config::{Mode, ResponseConfig, SelectRule};
use connectors::{ActionRecord, ConnectorError, Connectors, Dispatch, Effective};
use onesec_incident::{
    Case, Category, Entities, HistoryEntry, Incident, IncidentState, Priority, Risk, RouteRule,
    SlaPolicy,
};
use onesec_playbook::{
    Library, LogEntry, Millis, Playbook, Run, RunError, RunOptions, RunStatus, Task, TaskId,
    TaskState, Team, builtin,
};
use onesec_store::{Store, StoreError, StoredAction, StoredRun, StoredTask};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

/// Why a response request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// No such incident.
    #[error("no incident {0}")]
    UnknownIncident(String),
    /// No such task (or its incident has no run).
    #[error("no task {0}")]
    UnknownTask(String),
    /// The task was already decided, timed out or cancelled.
    #[error("task {0} is no longer open")]
    TaskClosed(String),
    /// The incident has no playbook run (none was selected or started).
    #[error(
        "incident {0} has no playbook run (none was selected for it; POST .../playbook starts one)"
    )]
    NoRun(String),
    /// No such piece of evidence on the incident.
    #[error("no evidence {0}")]
    UnknownEvidence(String),
    /// A playbook id or name that is not loaded.
    #[error("no playbook {0:?} (loaded: {1})")]
    UnknownPlaybook(String, String),
    /// A request with a bad value: what, and why.
    #[error("{0}")]
    Invalid(String),
    /// A state change the life cycle does not allow.
    #[error(transparent)]
    State(#[from] onesec_incident::StateError),
    /// A playbook could not be loaded (a shipped one: a build defect; a configured one: its
    /// file, pointer and reason).
    #[error("playbook {0}: {1}")]
    Playbook(String, onesec_playbook::LoadError),
    /// The run refused to start or to take a decision.
    #[error("playbook run: {0}")]
    Run(#[from] RunError),
    /// A connector is misconfigured.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// `[response]` is misconfigured.
    #[error("[response] {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A kept run could not be read back.
    #[error("stored run of incident {0} is unreadable: {1}")]
    Corrupt(String, serde_json::Error),
}

impl From<StoreError> for ResponseError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::State(s) => ResponseError::State(s),
            other => ResponseError::Store(other),
        }
    }
}

type Result<T, E = ResponseError> = std::result::Result<T, E>;

/// Where the response side reads the time: the wall clock in service, a hand-set one in tests.
pub trait Clock: Send + Sync {
    /// UTC milliseconds.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// A clock that moves only when told (tests of timeouts and escalation, without waiting).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(ms))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TaskView {
    /// `<incident id>:<n>`, unique across runs.
    pub id: String,
    pub incident_id: String,
    pub team: String,
    pub step: String,
    pub step_name: Option<String>,
    pub instruction: String,
    pub created_at: Millis,
    /// When it times out into the step's failure path.
    pub deadline: Option<Millis>,
    /// `open`, `approved`, `rejected`, `timed_out`, `cancelled`.
    pub state: String,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    /// The incident's sites (what site-scoped callers are checked against).
    pub sites: BTreeSet<String>,
}

/// A step of the main playbook and how far it got.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub id: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub step_type: String,
    /// `pending`, or the last thing the log says about it (`step_started`, `step_completed`…).
    pub state: String,
}

/// One log entry as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LogView {
    pub seq: usize,
    pub at: Millis,
    pub who: String,
    pub kind: String,
    pub playbook: String,
    pub step: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// An incident's run as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub incident_id: String,
    pub playbook: String,
    pub playbook_id: String,
    /// `running`, `completed`, `failed` or `budget_exhausted`.
    pub status: String,
    pub status_detail: Option<String>,
    /// How actions are carried out now: `live`, `dry-run` or `exercise`.
    pub connector: &'static str,
    /// The actions that were simulated (dry run, exercise), one line each.
    pub dry_run_actions: Vec<String>,
    /// Every automated action: who, what, when, how, result.
    pub actions: Vec<ActionRecord>,
    pub steps: Vec<StepView>,
    pub tasks: Vec<TaskView>,
    pub log: Vec<LogView>,
    /// When the run next has something to do by itself (a deadline, a delay).
    pub next_wakeup: Option<Millis>,
}

/// An incident's case as the API shows it: the case and which deadlines have passed.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    /// `ack` and/or `resolve` when that deadline passed without it.
    pub sla_breached: Vec<&'static str>,
}

/// What [`Responses`] runs with, checked at start.
struct Settings {
    library: Library,
    playbooks: Vec<Playbook>,
    select: Vec<SelectRule>,
    routes: Vec<RouteRule>,
    sla: SlaPolicy,
    connectors: Connectors,
    mode: Mode,
    exercise: bool,
    auto_start: bool,
    notify: Option<String>,
}

/// Cases, playbook runs, tasks and escalations of every incident.
pub struct Responses {
    store: Mutex<Box<dyn Store>>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<Audit>>,
    /// One lock per incident, so a run is advanced by one caller at a time while connector
    /// I/O of other incidents goes on.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Where zone tags and people's status are looked up (the priority's risks).
    directory: Option<onesec_directory::SharedDirectory>,
    /// Set when incidents name people by pseudonyms: their status is read through the key's
    /// table.
    pseudonyms: Option<onesec_directory::Pseudonyms>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ms(now: i64) -> Millis {
    Millis::try_from(now).unwrap_or(0)
}

/// Who acts when no person does: detection, timers, escalation.
pub const SYSTEM: &str = "onesec";

impl Responses {
    /// Checks `[response]` (playbooks, selection, routing, SLA, connectors) and keeps its
    /// own store connection.
    pub fn new(
        config: &ResponseConfig,
        store: Box<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: Option<Arc<Audit>>,
    ) -> Result<Responses> {
        let shipped = |e| ResponseError::Playbook("(shipped)".into(), e);
        let mut library = builtin::library().map_err(shipped)?;
        let mut playbooks = vec![builtin::hybrid_intrusion().map_err(shipped)?];
        for path in &config.playbooks {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ResponseError::Config(format!("playbooks: cannot read {}: {e}", path.display()))
            })?;
            let playbook = Playbook::from_json(&text)
                .map_err(|e| ResponseError::Playbook(path.display().to_string(), e))?;
            playbooks.push(playbook);
        }
        for playbook in &playbooks {
            library.add(playbook.clone());
        }
        let connectors = Connectors::new(&config.connectors)?;
        let settings = Settings {
            library,
            playbooks,
            select: config.select.clone(),
            routes: config.route.clone(),
            sla: sla_policy(&config.sla)?,
            connectors,
            mode: config.mode,
            exercise: config.exercise,
            auto_start: config.auto_start,
            notify: config.notify.clone(),
        };
        check_rules(&settings)?;
        Ok(Responses {
            store: Mutex::new(store),
            settings,
            clock,
            audit,
            locks: Mutex::new(HashMap::new()),
            directory: None,
            pseudonyms: None,
        })
    }

    /// Reads the risks that make an incident more urgent (a zone tagged `restricted` or
    /// `critical`, a person terminated or on leave) from this directory.
    pub fn with_directory(mut self, directory: onesec_directory::SharedDirectory) -> Responses {
        self.directory = Some(directory);
        self
    }

    /// Reads people's status through this key's pseudonyms (incidents name people by them
    /// when `[privacy.pseudonymisation]` is on).
    pub fn with_pseudonyms(
        mut self,
        pseudonyms: Option<onesec_directory::Pseudonyms>,
    ) -> Responses {
        self.pseudonyms = pseudonyms;
        self
    }

    /// The risks the incident carries, as the directory in use says.
    fn risk(&self, incident: &Incident) -> Risk {
        let Some(shared) = &self.directory else {
            return Risk::default();
        };
        let directory = shared.current();
        let table = self.pseudonyms.as_ref().map(|p| p.table(&directory));
        let person_id = |entity: &str| -> String {
            table
                .as_ref()
                .and_then(|t| t.reveal(entity))
                .filter(|i| i.kind == onesec_directory::IdKind::Person)
                .map(|i| i.person_id.clone())
                .unwrap_or_else(|| entity.to_string())
        };
        let entities = &incident.entities;
        Risk {
            critical_asset: entities.zones.iter().any(|z| {
                directory
                    .zone(z)
                    .is_some_and(|z| z.has_tag("restricted") || z.has_tag("critical"))
            }),
            person_at_risk: entities.persons.iter().any(|p| {
                directory.person(&person_id(p)).is_some_and(|p| {
                    matches!(
                        p.status,
                        onesec_directory::PersonStatus::Terminated
                            | onesec_directory::PersonStatus::Leave
                    )
                })
            }),
        }
    }

    /// The current time on the response clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn incident_lock(&self, id: &str) -> Arc<Mutex<()>> {
        lock(&self.locks).entry(id.to_string()).or_default().clone()
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>) -> Result<T> {
        f(&mut **lock(&self.store)).map_err(ResponseError::from)
    }

    fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        if let Some(audit) = &self.audit {
            audit.record(actor, action, target, detail);
        }
    }

    fn incident(&self, id: &str) -> Result<Incident> {
        self.with_store(|s| s.incident(id))?
            .ok_or_else(|| ResponseError::UnknownIncident(id.to_string()))
    }

    /// The incident's case, opened now (routed, due dates from now) if it has none.
    fn ensure_case(&self, incident: &Incident, now: i64) -> Result<Case> {
        if let Some(case) = self.with_store(|s| s.case(&incident.id))? {
            return Ok(case);
        }
        let risk = self.risk(incident);
        let mut case = Case::open_with(
            incident,
            risk,
            &self.settings.routes,
            &self.settings.sla,
            now,
        );
        // In an exercise installation (a drill) every case is an exercise from the start.
        if self.settings.exercise {
            case.category = Category::Exercise;
        }
        let risks = match risk.describe() {
            r if r.is_empty() => String::new(),
            r => format!(" ({r})"),
        };
        let entry = HistoryEntry {
            seq: 0,
            incident_id: incident.id.clone(),
            at_ms: now,
            actor: SYSTEM.into(),
            action: "opened".into(),
            from: None,
            to: Some(case.owner_team.clone()),
            comment: format!(
                "priority {}{risks}, routed by {}; acknowledge by {}, resolve by {}",
                case.priority.get(),
                case.routed_by,
                onesec_event::format_time_ms(case.ack_due_ms),
                onesec_event::format_time_ms(case.resolve_due_ms)
            ),
        };
        self.with_store(|s| s.put_case(&case, std::slice::from_ref(&entry)))?;
        let detail = serde_json::json!({
            "team": case.owner_team, "priority": case.priority.get(), "routed_by": case.routed_by,
            "ack_due_ms": case.ack_due_ms, "resolve_due_ms": case.resolve_due_ms,
        });
        self.audit(SYSTEM, "incident.route", &incident.id, detail);
        Ok(case)
    }

    // ---- detection and timers -------------------------------------------------------------

    /// Detection opened or changed these incidents: each gets its case, and a playbook run
    /// when a selection rule matches and it has none yet.
    pub fn incidents_changed(&self, incidents: &[Incident]) {
        for incident in incidents {
            if matches!(
                incident.state,
                IncidentState::Merged | IncidentState::Withdrawn
            ) {
                continue;
            }
            if let Err(error) = self.on_incident(incident) {
                tracing::error!(incident = %incident.id, %error, "response to incident failed");
            }
        }
    }

    fn on_incident(&self, incident: &Incident) -> Result<()> {
        let guard = self.incident_lock(&incident.id);
        let _held = lock(&guard);
        let now = self.now_ms();
        // The stored incident carries a human-set state the detection copy may not.
        let incident = self
            .incident(&incident.id)
            .unwrap_or_else(|_| incident.clone());
        let mut case = self.ensure_case(&incident, now)?;
        let risk = self.risk(&incident);
        let changed = case.follow_with(&incident, risk, &self.settings.routes, &self.settings.sla);
        if !changed.is_empty() {
            let entries: Vec<HistoryEntry> = changed
                .iter()
                .map(|(field, from, to)| {
                    let why = format!(
                        "{} {} incident",
                        incident.priority.as_str(),
                        incident.domain.as_str()
                    );
                    entry(
                        &incident.id,
                        now,
                        SYSTEM,
                        field,
                        Some(from.clone()),
                        Some(to.clone()),
                        &why,
                    )
                })
                .collect();
            self.with_store(|s| s.put_case(&case, &entries))?;
            self.audit(SYSTEM, "incident.route", &incident.id, serde_json::json!({
                "team": case.owner_team, "priority": case.priority.get(), "routed_by": case.routed_by,
                "changed": changed,
            }));
        }
        if self.settings.auto_start && incident.state.is_open() {
            self.start_selected(&incident, &case, SYSTEM, now)?;
        }
        Ok(())
    }

    /// Starts the selected playbook unless the incident has a run.
    fn start_selected(&self, incident: &Incident, case: &Case, by: &str, now: i64) -> Result<()> {
        if Self::stops_response(case.category)
            || self.with_store(|s| s.run(&incident.id))?.is_some()
        {
            return Ok(());
        }
        if let Some(playbook) = self.select(incident, case) {
            let playbook = playbook.clone();
            self.start_run(incident, case, &playbook, by, now)?;
        }
        Ok(())
    }

    /// Fires what is due at the clock's time: escalations of unacknowledged cases, then runs
    /// whose timers (task deadlines, delays, parallel timeouts) have come.
    pub fn tick(&self) {
        let now = self.now_ms();
        match self.with_store(|s| s.escalations_due(now)) {
            Ok(due) => {
                for case in due {
                    if let Err(error) = self.escalate(&case.incident_id, now) {
                        tracing::error!(incident = %case.incident_id, %error, "escalation failed");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot read due escalations"),
        }
        match self.with_store(|s| s.runs_due(now)) {
            Ok(due) => {
                for id in due {
                    if let Err(error) = self.wake(&id, now) {
                        tracing::error!(incident = %id, %error, "playbook timers failed");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot read due runs"),
        }
    }

    fn escalate(&self, incident_id: &str, now: i64) -> Result<()> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let Some(mut case) = self.with_store(|s| s.case(incident_id))? else {
            return Ok(());
        };
        let incident = self.incident(incident_id)?;
        if incident.state != IncidentState::New {
            // Acknowledged by a path that did not update the case, merged or withdrawn.
            case.next_escalation_ms = None;
            return self.with_store(|s| s.put_case(&case, &[]));
        }
        let from = case
            .escalated_to
            .last()
            .cloned()
            .unwrap_or_else(|| case.owner_team.clone());
        let Some(recipient) = case.escalate(&self.settings.sla, now) else {
            return self.with_store(|s| s.put_case(&case, &[]));
        };
        let notice = serde_json::json!({
            "event": "incident.escalated",
            "incident_id": incident.id,
            "title": incident.title,
            "priority": case.priority.get(),
            "owner_team": case.owner_team,
            "escalated_to": recipient,
            "level": case.escalation_level,
            "ack_due_ms": case.ack_due_ms,
        });
        let sent = match &self.settings.notify {
            Some(name) => {
                let mode = Effective::of(self.settings.mode, self.is_exercise(&case));
                match self.settings.connectors.notify(name, &notice, mode) {
                    Ok(done) => format!("; notified: {done}"),
                    Err(error) => format!("; notification failed: {error}"),
                }
            }
            None => String::new(),
        };
        let entry = HistoryEntry {
            seq: 0,
            incident_id: incident.id.clone(),
            at_ms: now,
            actor: SYSTEM.into(),
            action: "escalate".into(),
            from: Some(from),
            to: Some(recipient.clone()),
            comment: format!(
                "not acknowledged by {} (level {}){sent}",
                onesec_event::format_time_ms(case.ack_due_ms),
                case.escalation_level
            ),
        };
        self.with_store(|s| s.put_case(&case, std::slice::from_ref(&entry)))?;
        self.audit(
            SYSTEM,
            "incident.escalate",
            &incident.id,
            serde_json::json!({
                "to": recipient, "level": case.escalation_level, "detail": entry.comment,
            }),
        );
        Ok(())
    }

    /// Tells people about something the SLA clock does not track (an overdue regulatory
    /// deadline, `docs/compliance.md`): sends `notice` to the `[response] notify` connector (as
    /// the mode and exercise flag allow) and appends a history entry `action` → `to` to the
    /// incident's case. Returns what the notification did (empty without a notify connector).
    pub fn notify_and_record(
        &self,
        incident_id: &str,
        notice: &serde_json::Value,
        action: &str,
        to: &str,
        comment: &str,
    ) -> Result<String> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let case = self.with_store(|s| s.case(incident_id))?;
        let exercise = case.as_ref().is_some_and(|c| self.is_exercise(c));
        let sent = match &self.settings.notify {
            Some(name) => {
                let mode = Effective::of(self.settings.mode, exercise);
                match self.settings.connectors.notify(name, notice, mode) {
                    Ok(done) => format!("notified: {done}"),
                    Err(error) => format!("notification failed: {error}"),
                }
            }
            None => String::new(),
        };
        if let Some(case) = case {
            let entry = HistoryEntry {
                seq: 0,
                incident_id: incident_id.to_string(),
                at_ms: self.now_ms(),
                actor: SYSTEM.into(),
                action: action.into(),
                from: None,
                to: Some(to.to_string()),
                comment: if sent.is_empty() {
                    comment.to_string()
                } else {
                    format!("{comment}; {sent}")
                },
            };
            self.with_store(|s| s.put_case(&case, std::slice::from_ref(&entry)))?;
        }
        Ok(sent)
    }

    fn wake(&self, incident_id: &str, now: i64) -> Result<()> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let (mut run, incident, case) = self.load_run(incident_id)?;
        let audited = run.log().len();
        self.advance_and_save(&mut run, &incident, &case, SYSTEM, now, audited)?;
        Ok(())
    }

    fn is_exercise(&self, case: &Case) -> bool {
        self.settings.exercise || case.category == Category::Exercise
    }

    // ---- runs -----------------------------------------------------------------------------

    /// The playbook the selection rules give the incident, if any.
    fn select(&self, incident: &Incident, case: &Case) -> Option<&Playbook> {
        if self.settings.select.is_empty() {
            return self.settings.playbooks.first();
        }
        let rule = self.settings.select.iter().find(|r| {
            r.domain
                .as_deref()
                .is_none_or(|d| d == incident.domain.as_str())
                && r.category
                    .as_deref()
                    .is_none_or(|c| Category::parse(c) == Some(case.category))
                && r.max_priority.is_none_or(|p| case.priority.get() <= p)
        })?;
        self.playbook(&rule.playbook)
    }

    /// A loaded playbook by CACAO id or name.
    fn playbook(&self, key: &str) -> Option<&Playbook> {
        self.settings
            .playbooks
            .iter()
            .find(|p| p.id == key || p.name == key)
    }

    fn start_run(
        &self,
        incident: &Incident,
        case: &Case,
        playbook: &Playbook,
        by: &str,
        now: i64,
    ) -> Result<RunView> {
        let inputs = playbook_inputs(incident)
            .into_iter()
            .filter(|(name, _)| {
                playbook
                    .playbook_variables
                    .get(name)
                    .is_some_and(|v| v.external)
            })
            .collect();
        let mut run = Run::start(
            playbook,
            &self.settings.library,
            &inputs,
            RunOptions::default(),
            ms(now),
        )?;
        let mode = Effective::of(self.settings.mode, self.is_exercise(case));
        self.audit(
            by,
            "playbook.start",
            &incident.id,
            serde_json::json!({
                "playbook": playbook.id, "name": playbook.name, "connector": mode.as_str(),
            }),
        );
        self.advance_and_save(&mut run, incident, case, by, now, 0)
    }

    /// The kept run of an incident, with the incident and its case.
    fn load_run(&self, incident_id: &str) -> Result<(Run, Incident, Case)> {
        let stored = self
            .with_store(|s| s.run(incident_id))?
            .ok_or_else(|| ResponseError::NoRun(incident_id.to_string()))?;
        let run = Run::from_json(&stored.json)
            .map_err(|e| ResponseError::Corrupt(incident_id.to_string(), e))?;
        let incident = self.incident(incident_id)?;
        let case = self.ensure_case(&incident, self.now_ms())?;
        Ok((run, incident, case))
    }

    /// Advances a run to `now` with the connectors (no store lock is held meanwhile), then
    /// keeps it with its tasks and the actions it took, and audits each action and each step
    /// of its log from `audited` on.
    fn advance_and_save(
        &self,
        run: &mut Run,
        incident: &Incident,
        case: &Case,
        by: &str,
        now: i64,
        audited: usize,
    ) -> Result<RunView> {
        let mode = Effective::of(self.settings.mode, self.is_exercise(case));
        let mut dispatch = Dispatch::new(&self.settings.connectors, mode, &incident.id, by, now);
        run.advance(ms(now), &mut dispatch);
        let records = dispatch.records;
        self.save(run, incident, &records, now, audited)?;
        for record in &records {
            let detail = serde_json::to_value(record).unwrap_or_default();
            self.audit(&record.by, "response.action", &incident.id, detail);
        }
        let actions = self.with_store(|s| s.actions(&incident.id))?;
        Ok(view(incident, run, mode, &actions))
    }

    /// Keeps the run, its tasks and `records`, then audits the entries of the run's log from
    /// `audited` on (each step transition, task and decision: `playbook.step`). Every run is
    /// kept through here, and each caller passes the log length of the run as it was loaded
    /// (0 for a new run), so each log entry is audited once.
    fn save(
        &self,
        run: &Run,
        incident: &Incident,
        records: &[ActionRecord],
        now: i64,
        audited: usize,
    ) -> Result<()> {
        let (status, _) = status_label(run.status());
        let stored = StoredRun {
            incident_id: incident.id.clone(),
            playbook_id: run.playbook().id.clone(),
            status: status.to_string(),
            next_wakeup_ms: run
                .next_wakeup()
                .filter(|_| *run.status() == RunStatus::Running)
                .and_then(|w| i64::try_from(w).ok()),
            updated_ms: now,
            json: run.to_json(),
        };
        let tasks: Vec<StoredTask> = run
            .tasks()
            .iter()
            .map(|t| {
                let view = task_view(incident, t);
                StoredTask {
                    id: view.id.clone(),
                    incident_id: incident.id.clone(),
                    team: view.team.clone(),
                    state: view.state.clone(),
                    json: serde_json::to_string(&view).unwrap_or_default(),
                }
            })
            .collect();
        let actions: Vec<StoredAction> = records
            .iter()
            .map(|r| StoredAction {
                incident_id: incident.id.clone(),
                at_ms: r.at_ms,
                json: serde_json::to_string(r).unwrap_or_default(),
            })
            .collect();
        self.with_store(|s| s.save_run(&stored, &tasks, &actions))?;
        for step in run.log().iter().skip(audited) {
            let detail = serde_json::to_value(step).unwrap_or_default();
            self.audit(&step.who, "playbook.step", &incident.id, detail);
        }
        Ok(())
    }

    /// The incident's run as it stands (a read: nothing starts or advances).
    pub fn run_view(&self, incident_id: &str) -> Result<RunView> {
        let (run, incident, case) = self.load_run(incident_id)?;
        let actions = self.with_store(|s| s.actions(incident_id))?;
        let mode = Effective::of(self.settings.mode, self.is_exercise(&case));
        Ok(view(&incident, &run, mode, &actions))
    }

    /// Starts a run for the incident unless it has one: the named playbook (id or name), or
    /// the selected one, or the shipped hybrid-intrusion playbook. `started` says whether
    /// this call started it.
    pub fn start(
        &self,
        incident_id: &str,
        playbook: Option<&str>,
        by: &str,
    ) -> Result<(RunView, bool)> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let now = self.now_ms();
        let incident = self.incident(incident_id)?;
        let case = self.ensure_case(&incident, now)?;
        if self.with_store(|s| s.run(incident_id))?.is_some() {
            return Ok((self.run_view(incident_id)?, false));
        }
        let chosen = match playbook {
            Some(key) => self.playbook(key).ok_or_else(|| {
                let loaded: Vec<&str> = self
                    .settings
                    .playbooks
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                ResponseError::UnknownPlaybook(key.to_string(), loaded.join(", "))
            })?,
            None => self
                .select(&incident, &case)
                .or_else(|| self.settings.playbooks.first())
                .ok_or_else(|| ResponseError::Config("no playbook loaded".into()))?,
        }
        .clone();
        Ok((self.start_run(&incident, &case, &chosen, by, now)?, true))
    }

    /// Tasks of every run, of one team if given, open ones only unless `all`.
    pub fn tasks(&self, team: Option<Team>, all: bool) -> Result<Vec<TaskView>> {
        let stored = self.with_store(|s| s.tasks(team.map(Team::key), !all))?;
        stored
            .into_iter()
            .map(|t| {
                serde_json::from_str(&t.json).map_err(|e| ResponseError::Corrupt(t.incident_id, e))
            })
            .collect()
    }

    /// The team and sites of a task, to check the caller before deciding it.
    pub fn task_owner(&self, task_id: &str) -> Result<(Team, BTreeSet<String>)> {
        let (incident_id, task) = parse_task_id(task_id)?;
        let unknown = || ResponseError::UnknownTask(task_id.to_string());
        let stored = self
            .with_store(|s| s.run(incident_id))?
            .ok_or_else(unknown)?;
        let run = Run::from_json(&stored.json)
            .map_err(|e| ResponseError::Corrupt(incident_id.to_string(), e))?;
        let team = run
            .tasks()
            .get(task.0)
            .map(|t| t.team)
            .ok_or_else(unknown)?;
        let sites = self.incident(incident_id)?.entities.sites;
        Ok((team, sites))
    }

    /// Approves (`approve`) or rejects a task, then advances its run; the run after it.
    pub fn decide(&self, task_id: &str, approve: bool, by: &str, comment: &str) -> Result<RunView> {
        let (incident_id, task) = parse_task_id(task_id)?;
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let now = self.now_ms();
        let (mut run, incident, case) = self.load_run(incident_id).map_err(|e| match e {
            ResponseError::NoRun(_) | ResponseError::UnknownIncident(_) => {
                ResponseError::UnknownTask(task_id.to_string())
            }
            other => other,
        })?;
        let audited = run.log().len();
        // Timers first: a task past its deadline has timed out, whatever arrives now.
        let mode = Effective::of(self.settings.mode, self.is_exercise(&case));
        let mut dispatch = Dispatch::new(&self.settings.connectors, mode, incident_id, SYSTEM, now);
        run.advance(ms(now), &mut dispatch);
        let decided = if approve {
            run.approve(task, by, comment, ms(now))
        } else {
            run.reject(task, by, comment, ms(now))
        };
        if let Err(e) = decided {
            self.save(&run, &incident, &dispatch.records, now, audited)?;
            return Err(match e {
                RunError::UnknownTask(_) => ResponseError::UnknownTask(task_id.to_string()),
                RunError::TaskClosed(_) => ResponseError::TaskClosed(task_id.to_string()),
                other => ResponseError::Run(other),
            });
        }
        let action = if approve {
            "task.approve"
        } else {
            "task.reject"
        };
        let team = run.tasks().get(task.0).map(|t| t.team.key()).unwrap_or("");
        self.audit(
            by,
            action,
            task_id,
            serde_json::json!({
                "incident": incident_id, "team": team, "comment": comment,
            }),
        );
        let earlier = dispatch.records;
        self.save(&run, &incident, &earlier, now, audited)?;
        for record in &earlier {
            let detail = serde_json::to_value(record).unwrap_or_default();
            self.audit(&record.by, "response.action", incident_id, detail);
        }
        let audited = run.log().len();
        self.advance_and_save(&mut run, &incident, &case, by, now, audited)
    }

    // ---- the case: people's changes -------------------------------------------------------

    /// The incident's case (opened now if it has none yet) and its history.
    pub fn case(&self, incident_id: &str) -> Result<(CaseView, Vec<HistoryEntry>)> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let now = self.now_ms();
        let incident = self.incident(incident_id)?;
        let case = self.ensure_case(&incident, now)?;
        let history = self.with_store(|s| s.history(incident_id))?;
        Ok((case_view(case, now), history))
    }

    /// A person moves the incident along its life cycle (`comment` says why).
    pub fn change_state(
        &self,
        incident_id: &str,
        state: IncidentState,
        by: &str,
        comment: &str,
    ) -> Result<(Incident, CaseView)> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        self.change_state_locked(incident_id, state, by, comment)
    }

    fn change_state_locked(
        &self,
        incident_id: &str,
        state: IncidentState,
        by: &str,
        comment: &str,
    ) -> Result<(Incident, CaseView)> {
        let now = self.now_ms();
        let incident = self.incident(incident_id)?;
        let mut case = self.ensure_case(&incident, now)?;
        case.state_changed(state, by, now);
        let entry = HistoryEntry {
            seq: 0,
            incident_id: incident_id.to_string(),
            at_ms: now,
            actor: by.to_string(),
            action: "state".into(),
            from: Some(incident.state.as_str().to_string()),
            to: Some(state.as_str().to_string()),
            comment: comment.to_string(),
        };
        let changed = self.with_store(|s| s.change_state(incident_id, state, &case, &entry))?;
        self.audit(
            by,
            "incident.state",
            incident_id,
            serde_json::json!({
                "from": incident.state.as_str(), "to": state.as_str(), "comment": comment,
            }),
        );
        if state == IncidentState::Closed {
            self.cancel_run(incident_id, by, "the incident was closed", now)?;
        }
        let case = self.with_store(|s| s.case(incident_id))?.unwrap_or(case);
        Ok((changed, case_view(case, now)))
    }

    /// Acknowledges the incident; the person becomes its assignee if it has none.
    pub fn acknowledge(
        &self,
        incident_id: &str,
        by: &str,
        comment: &str,
    ) -> Result<(Incident, CaseView)> {
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let (incident, view) =
            self.change_state_locked(incident_id, IncidentState::Acknowledged, by, comment)?;
        if view.case.assignee.is_some() {
            return Ok((incident, view));
        }
        let view = self.update_case(incident_id, by, |case, entries, now| {
            case.assignee = Some(by.to_string());
            entries.push(entry(
                incident_id,
                now,
                by,
                "assign",
                None,
                Some(by.to_string()),
                "took it on acknowledging",
            ));
            Ok(())
        })?;
        Ok((incident, view))
    }

    /// Changes the owner team and/or the assignee.
    pub fn assign(
        &self,
        incident_id: &str,
        team: Option<&str>,
        assignee: Option<&str>,
        by: &str,
        comment: &str,
    ) -> Result<CaseView> {
        if team.is_none() && assignee.is_none() {
            return Err(ResponseError::Invalid(
                "give a team, an assignee or both".into(),
            ));
        }
        let team = team
            .map(|name| {
                Team::from_name(name).ok_or_else(|| {
                    ResponseError::Invalid(format!(
                        "unknown team {name:?} (it_soc, physical_security, compliance, management)"
                    ))
                })
            })
            .transpose()?;
        let assignee = assignee
            .map(str::trim)
            .map(|a| {
                if a.is_empty() {
                    Err(ResponseError::Invalid("assignee is empty".into()))
                } else {
                    Ok(a.to_string())
                }
            })
            .transpose()?;
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let view = self.update_case(incident_id, by, |case, entries, now| {
            if let Some(team) = team {
                let before = std::mem::replace(&mut case.owner_team, team.key().to_string());
                case.routed_by = format!("assigned by {by}");
                entries.push(entry(
                    incident_id,
                    now,
                    by,
                    "assign_team",
                    Some(before),
                    Some(team.key().into()),
                    comment,
                ));
            }
            if let Some(person) = assignee {
                let before = case.assignee.replace(person.clone());
                entries.push(entry(
                    incident_id,
                    now,
                    by,
                    "assign",
                    before,
                    Some(person),
                    comment,
                ));
            }
            Ok(())
        })?;
        self.audit(
            by,
            "incident.assign",
            incident_id,
            serde_json::json!({
                "team": view.case.owner_team, "assignee": view.case.assignee, "comment": comment,
            }),
        );
        Ok(view)
    }

    /// Sets the priority (1–5; due dates follow) and/or the category. Setting a category
    /// starts the selected playbook when the incident has no run yet.
    pub fn classify(
        &self,
        incident_id: &str,
        priority: Option<i64>,
        category: Option<&str>,
        by: &str,
        comment: &str,
    ) -> Result<CaseView> {
        if priority.is_none() && category.is_none() {
            return Err(ResponseError::Invalid(
                "give a priority, a category or both".into(),
            ));
        }
        let priority = priority
            .map(|p| Priority::new(p).map_err(|e| ResponseError::Invalid(e.to_string())))
            .transpose()?;
        let category = category
            .map(|c| {
                Category::parse(c).ok_or_else(|| {
                    ResponseError::Invalid(format!(
                        "unknown category {c:?} ({})",
                        Category::names()
                    ))
                })
            })
            .transpose()?;
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let sla = self.settings.sla.clone();
        let view = self.update_case(incident_id, by, |case, entries, now| {
            if let Some(p) = priority {
                let before = case.priority.get().to_string();
                case.priority = p;
                case.priority_set_by = Some(by.to_string());
                case.reschedule(&sla);
                entries.push(entry(
                    incident_id,
                    now,
                    by,
                    "priority",
                    Some(before),
                    Some(p.get().to_string()),
                    comment,
                ));
            }
            if let Some(c) = category {
                let before = case.category.as_str().to_string();
                case.category = c;
                entries.push(entry(
                    incident_id,
                    now,
                    by,
                    "category",
                    Some(before),
                    Some(c.as_str().into()),
                    comment,
                ));
            }
            Ok(())
        })?;
        self.audit(by, "incident.classify", incident_id, serde_json::json!({
            "priority": view.case.priority.get(), "category": view.case.category.as_str(), "comment": comment,
        }));
        if let Some(c) = category.filter(|c| Self::stops_response(*c)) {
            let reason = format!("the incident was classified {}", c.as_str());
            self.cancel_run(incident_id, by, &reason, self.now_ms())?;
        }
        if category.is_some() && self.settings.auto_start {
            let incident = self.incident(incident_id)?;
            if incident.state.is_open() {
                self.start_selected(&incident, &view.case, by, self.now_ms())?;
            }
        }
        Ok(view)
    }

    /// Adds a comment to the incident's history.
    pub fn comment(&self, incident_id: &str, by: &str, text: &str) -> Result<HistoryEntry> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ResponseError::Invalid("comment is empty".into()));
        }
        let guard = self.incident_lock(incident_id);
        let _held = lock(&guard);
        let now = self.now_ms();
        let incident = self.incident(incident_id)?;
        let case = self.ensure_case(&incident, now)?;
        let note = entry(incident_id, now, by, "comment", None, None, text);
        self.with_store(|s| s.put_case(&case, std::slice::from_ref(&note)))?;
        self.audit(
            by,
            "incident.comment",
            incident_id,
            serde_json::json!({ "comment": text }),
        );
        Ok(note)
    }

    /// Loads the case, lets `change` edit it and add history entries, keeps both.
    fn update_case(
        &self,
        incident_id: &str,
        _by: &str,
        change: impl FnOnce(&mut Case, &mut Vec<HistoryEntry>, i64) -> Result<()>,
    ) -> Result<CaseView> {
        let now = self.now_ms();
        let incident = self.incident(incident_id)?;
        let mut case = self.ensure_case(&incident, now)?;
        let mut entries = Vec::new();
        change(&mut case, &mut entries, now)?;
        self.with_store(|s| s.put_case(&case, &entries))?;
        Ok(case_view(case, now))
    }
}

fn entry(
    incident_id: &str,
    now: i64,
    by: &str,
    action: &str,
    from: Option<String>,
    to: Option<String>,
    comment: &str,
) -> HistoryEntry {
    HistoryEntry {
        seq: 0,
        incident_id: incident_id.to_string(),
        at_ms: now,
        actor: by.to_string(),
        action: action.to_string(),
        from,
        to,
        comment: comment.to_string(),
    }
}

fn case_view(case: Case, now: i64) -> CaseView {
    let sla_breached = case.breaches(now);
    CaseView { case, sla_breached }
}

fn sla_policy(config: &config::SlaConfig) -> Result<SlaPolicy> {
    let five = |key: &str, list: &[String]| -> Result<[u64; 5]> {
        if list.len() != 5 {
            return Err(ResponseError::Config(format!(
                "sla.{key} needs five durations, priority 1 to 5; it has {}",
                list.len()
            )));
        }
        let mut out = [0u64; 5];
        for (i, text) in list.iter().enumerate() {
            out[i] = crate::parse_duration_ms(text)
                .and_then(|v| u64::try_from(v).ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    ResponseError::Config(format!(
                        "sla.{key}[{i}] = {text:?} is not a duration like 15m, 4h or 3d"
                    ))
                })?;
        }
        Ok(out)
    };
    Ok(SlaPolicy {
        ack_ms: five("ack", &config.ack)?,
        resolve_ms: five("resolve", &config.resolve)?,
    })
}

/// Why a rule's `domain` or `category` filter names nothing that exists, if it does.
fn check_domain_and_category(domain: &Option<String>, category: &Option<String>) -> Option<String> {
    const DOMAINS: [&str; 3] = ["physical", "cyber", "hybrid"];
    if domain.as_deref().is_some_and(|d| !DOMAINS.contains(&d)) {
        return Some(format!(
            "domain {domain:?} is not physical, cyber or hybrid"
        ));
    }
    if category
        .as_deref()
        .is_some_and(|c| Category::parse(c).is_none())
    {
        return Some(format!(
            "category {category:?} is not one of {}",
            Category::names()
        ));
    }
    None
}

fn check_rules(settings: &Settings) -> Result<()> {
    for (i, rule) in settings.select.iter().enumerate() {
        let bad = |why: String| ResponseError::Config(format!("select[{i}]: {why}"));
        if let Some(why) = check_domain_and_category(&rule.domain, &rule.category) {
            return Err(bad(why));
        }
        if rule.max_priority.is_some_and(|p| !(1..=5).contains(&p)) {
            return Err(bad("max_priority must be 1 to 5".into()));
        }
        let known = settings
            .playbooks
            .iter()
            .any(|p| p.id == rule.playbook || p.name == rule.playbook);
        if rule.playbook != "none" && !known {
            return Err(bad(format!(
                "playbook {:?} is not loaded (shipped or in playbooks)",
                rule.playbook
            )));
        }
    }
    for (i, rule) in settings.routes.iter().enumerate() {
        let bad = |why: String| ResponseError::Config(format!("route[{i}]: {why}"));
        if let Some(why) = check_domain_and_category(&rule.domain, &rule.category) {
            return Err(bad(why));
        }
        if Team::from_name(&rule.team).is_none() {
            return Err(bad(format!(
                "team {:?} is not it_soc, physical_security, compliance or management",
                rule.team
            )));
        }
    }
    if let Some(name) = &settings.notify
        && !settings.connectors.has_webhook(name)
    {
        return Err(ResponseError::Config(format!(
            "notify = {name:?} names no webhook connector"
        )));
    }
    Ok(())
}

/// Takes detection's incidents and fires timers every `tick` until `stop`. `pending` counts
/// the batches sent and not yet taken (the sender adds one per batch, the worker takes one off
/// once it has handled it), so that a caller can wait until the playbooks have seen every
/// incident detection produced ([`crate::Pipeline::wait_detected`]).
pub fn spawn_worker(
    responses: Arc<Responses>,
    incidents: mpsc::Receiver<Vec<Incident>>,
    pending: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    tick: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("onesec-respond".into())
        .spawn(move || {
            let mut last_tick = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                match incidents.recv_timeout(tick) {
                    Ok(batch) => {
                        responses.incidents_changed(&batch);
                        // Saturating: a sender that does not count (a benchmark) must
                        // not make the count wrap.
                        let _ = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                            n.checked_sub(1)
                        });
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(tick);
                    }
                }
                if last_tick.elapsed() >= tick {
                    responses.tick();
                    last_tick = std::time::Instant::now();
                }
            }
        })
}

/// `<incident id>:<n>` → (incident id, task).
fn parse_task_id(task_id: &str) -> Result<(&str, TaskId)> {
    let unknown = || ResponseError::UnknownTask(task_id.to_string());
    let (incident, n) = task_id.rsplit_once(':').ok_or_else(unknown)?;
    let n = n.parse::<usize>().map_err(|_| unknown())?;
    Ok((incident, TaskId(n)))
}

/// The incident's facts as values of the hybrid-intrusion playbook's external variables.
/// Facts the playbook has no variable for (domain, priority, sites, hosts) go into the summary.
pub fn playbook_inputs(incident: &Incident) -> BTreeMap<String, String> {
    let e = &incident.entities;
    let mut inputs = BTreeMap::new();
    inputs.insert("__incident_id__".to_string(), incident.id.clone());
    inputs.insert("__summary__".to_string(), summary(incident));
    let first = |set: &BTreeSet<String>| set.iter().next().cloned();
    let facts = [
        ("__person__", first(&e.persons)),
        ("__badge_id__", first(&e.badges)),
        ("__account__", first(&e.accounts)),
        ("__zone__", first(&e.zones)),
        ("__src_ip__", first_ipv4(&e.src_ips)),
    ];
    for (name, value) in facts {
        if let Some(value) = value {
            inputs.insert(name.to_string(), value);
        }
    }
    inputs
}

fn first_ipv4(ips: &BTreeSet<String>) -> Option<String> {
    ips.iter()
        .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
        .cloned()
}

fn summary(incident: &Incident) -> String {
    let e: &Entities = &incident.entities;
    let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    format!(
        "{} ({} incident, priority {}); sites: {}; persons: {}; hosts: {}",
        incident.title,
        incident.domain.as_str(),
        incident.priority.as_str(),
        list(&e.sites),
        list(&e.persons),
        list(&e.hosts),
    )
}

fn view(incident: &Incident, run: &Run, mode: Effective, actions: &[StoredAction]) -> RunView {
    let (status, status_detail) = status_label(run.status());
    let actions: Vec<ActionRecord> = actions
        .iter()
        .filter_map(|a| serde_json::from_str(&a.json).ok())
        .collect();
    let dry_run_actions = actions
        .iter()
        .filter(|a| a.outcome == "simulated")
        .map(|a| {
            format!(
                "{}: would run {} `{}` via {} ({})",
                a.mode,
                a.command_type,
                a.command,
                a.connector
                    .as_deref()
                    .or(a.agent.as_deref())
                    .unwrap_or("no agent"),
                a.target
            )
        })
        .collect();
    RunView {
        incident_id: incident.id.clone(),
        playbook: run.playbook().name.clone(),
        playbook_id: run.playbook().id.clone(),
        status: status.to_string(),
        status_detail,
        connector: mode.as_str(),
        dry_run_actions,
        actions,
        steps: step_views(run),
        tasks: run.tasks().iter().map(|t| task_view(incident, t)).collect(),
        log: run.log().iter().map(log_view).collect(),
        next_wakeup: run
            .next_wakeup()
            .filter(|_| *run.status() == RunStatus::Running),
    }
}

fn status_label(status: &RunStatus) -> (&'static str, Option<String>) {
    match status {
        RunStatus::Running => ("running", None),
        RunStatus::Completed => ("completed", None),
        RunStatus::Failed { step, reason, .. } => (
            "failed",
            Some(format!("{}: {reason}", step.as_deref().unwrap_or("run"))),
        ),
        RunStatus::BudgetExhausted { budget } => {
            ("budget_exhausted", Some(format!("{budget} steps")))
        }
        RunStatus::Cancelled { by, reason } => ("cancelled", Some(format!("{by}: {reason}"))),
    }
}

fn step_views(run: &Run) -> Vec<StepView> {
    let main = run.playbook();
    main.workflow
        .iter()
        .map(|(id, step)| {
            let last = run
                .log()
                .iter()
                .rev()
                .find(|l| l.playbook == main.id && l.step.as_deref() == Some(id.as_str()));
            StepView {
                id: id.clone(),
                name: step.name.clone(),
                step_type: snake(&format!("{:?}", step.step_type)),
                state: last.map_or("pending".to_string(), |l| snake(&format!("{:?}", l.kind))),
            }
        })
        .collect()
}

fn task_view(incident: &Incident, task: &Task) -> TaskView {
    let (state, decided_by, comment) = match &task.state {
        TaskState::Open => ("open", None, None),
        TaskState::Approved { by, comment, .. } => {
            ("approved", Some(by.clone()), Some(comment.clone()))
        }
        TaskState::Rejected { by, comment, .. } => {
            ("rejected", Some(by.clone()), Some(comment.clone()))
        }
        TaskState::TimedOut { .. } => ("timed_out", None, None),
        TaskState::Cancelled { reason, .. } => ("cancelled", None, Some(reason.clone())),
    };
    TaskView {
        id: format!("{}:{}", incident.id, task.id.0),
        incident_id: incident.id.clone(),
        team: task.team.key().to_string(),
        step: task.step.clone(),
        step_name: task.step_name.clone(),
        instruction: task.instruction.clone(),
        created_at: task.created_at,
        deadline: task.deadline,
        state: state.to_string(),
        decided_by,
        comment,
        sites: incident.entities.sites.clone(),
    }
}

fn log_view(entry: &LogEntry) -> LogView {
    LogView {
        seq: entry.seq,
        at: entry.at,
        who: entry.who.clone(),
        kind: snake(&format!("{:?}", entry.kind)),
        playbook: entry.playbook.clone(),
        step: entry.step.clone(),
        outcome: snake(&format!("{:?}", entry.outcome)),
        detail: entry.detail.clone(),
    }
}

/// `TaskCreated` → `task_created`, `IfCondition` → `if_condition`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
