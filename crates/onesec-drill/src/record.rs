//! What a drill run produced — each inject's events, the alerts with the scenario time they were
//! first seen, the incidents with their cases, team tasks and actions — from which it is scored
//! and reported. Plain data, serialised into `report.json`.

use onesec_incident::{Alert, Case, HistoryEntry, Incident};
use serde::Serialize;
use std::collections::BTreeMap;

/// What an inject put into the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct InjectRun {
    /// Inject id.
    pub id: String,
    /// Scenario time it happened (UTC milliseconds).
    pub at_ms: i64,
    /// Journal ids of its events.
    pub event_ids: Vec<u64>,
    /// Records the decoders refused (a defect of the scenario): line and reason.
    pub refused: Vec<String>,
}

/// An alert, and when scenario time stood when the run first saw it stored.
#[derive(Debug, Clone, Serialize)]
pub struct SeenAlert {
    /// The alert.
    pub alert: Alert,
    /// Scenario time it was first seen.
    pub seen_ms: i64,
}

/// A team task of a playbook run, with when it was decided.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRun {
    /// Team.
    pub team: String,
    /// Step name.
    pub step: String,
    /// Created (scenario time).
    pub created_ms: i64,
    /// Deadline, if the step has one.
    pub deadline_ms: Option<i64>,
    /// `open`, `approved`, `rejected`, `timed_out`, `cancelled`.
    pub state: String,
    /// When it was approved or rejected.
    pub decided_ms: Option<i64>,
}

/// An automated action of a playbook run.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRun {
    /// When (scenario time).
    pub at_ms: i64,
    /// Step.
    pub step: String,
    /// The command.
    pub command: String,
    /// `exercise` in a drill.
    pub mode: String,
    /// `simulated` in a drill.
    pub outcome: String,
}

/// An incident at the end of the run, with its case, history and playbook run.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRun {
    /// The incident.
    pub incident: Incident,
    /// Its case (category `exercise`).
    pub case: Option<Case>,
    /// Its history.
    pub history: Vec<HistoryEntry>,
    /// Team tasks.
    pub tasks: Vec<TaskRun>,
    /// Automated actions.
    pub actions: Vec<ActionRun>,
    /// When the playbook first called a sub-playbook (the notification drafts to management,
    /// the DPO or the authority, in the shipped playbook).
    pub notified_ms: Option<i64>,
}

/// Everything a run produced, from which it is scored.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Scenario name.
    pub scenario: String,
    /// Scenario start and end (UTC milliseconds).
    pub start_ms: i64,
    /// End of the scenario.
    pub end_ms: i64,
    /// `as fast as possible` or `N x real time`.
    pub pace: String,
    /// Each inject's events.
    pub injects: Vec<InjectRun>,
    /// Background events journaled.
    pub background_events: u64,
    /// Background records refused (a defect of the generator).
    pub background_refused: Vec<String>,
    /// Alerts in the order they were seen.
    pub alerts: Vec<SeenAlert>,
    /// Incidents at the end.
    pub incidents: Vec<IncidentRun>,
    /// Events journaled that were not marked as exercise (must be zero).
    pub unmarked_events: u64,
    /// Rule key alerts carry (`id`) → rule `name`, for the rules that have one.
    pub rule_names: BTreeMap<String, String>,
    /// Wall-clock time the run took.
    pub wall_ms: u64,
}

impl RunRecord {
    /// The name of the rule that raised an alert (its key when the rule has no name).
    pub fn rule_name<'a>(&'a self, alert: &'a Alert) -> &'a str {
        self.rule_names
            .get(&alert.rule_id)
            .map_or(alert.rule_id.as_str(), String::as_str)
    }
}
