//! One incident, one playbook: the response runs of the incidents, in memory.
//!
//! The first time an incident's playbook is asked for, the built-in hybrid-intrusion playbook
//! starts with the incident's facts as its variables. Automated steps go through
//! [`DryRun`], which performs nothing and only records what it would have done; manual steps
//! become tasks for the teams. Runs are kept in memory only: a restart forgets them.

use onesec_incident::{Entities, Incident};
use onesec_playbook::{
    CommandRequest, Connector, LogEntry, Millis, Outputs, Party, Playbook, Run, RunError,
    RunOptions, RunStatus, Task, TaskId, TaskState, Team, Vars, builtin,
};
use serde::Serialize;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// Why a response action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// No such task (or its incident has no run).
    #[error("no task {0}")]
    UnknownTask(String),
    /// The task was already decided, timed out or cancelled.
    #[error("task {0} is no longer open")]
    TaskClosed(String),
    /// The shipped playbook could not be loaded (a build defect).
    #[error("built-in playbook: {0}")]
    Playbook(#[from] onesec_playbook::LoadError),
    /// The run refused to start or to take a decision.
    #[error("playbook run: {0}")]
    Run(#[from] RunError),
}

/// A connector that performs nothing: every automated command succeeds with no outputs, and
/// what it would have done is kept so humans can do it or check it.
#[derive(Debug, Default, Clone)]
pub struct DryRun {
    /// One line per automated command, in call order.
    pub actions: Vec<String>,
}

impl Connector for DryRun {
    fn execute(
        &mut self,
        command: &CommandRequest,
        agent: Option<&Party>,
        targets: &[Party],
        _vars: &Vars,
    ) -> Result<Outputs, String> {
        let text = command.command.as_deref().unwrap_or("(base64 command)");
        let agent = agent.map_or("no agent", |a| a.id.as_str());
        let targets: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        self.actions.push(format!(
            "would run {} `{}` via {} on [{}] for {}",
            command.command_type,
            text,
            agent,
            targets.join(", "),
            command.team
        ));
        Ok(Outputs::new())
    }
}

/// One incident's run and what the API needs besides it.
struct IncidentRun {
    playbook: Playbook,
    run: Run,
    connector: DryRun,
    sites: BTreeSet<String>,
}

impl IncidentRun {
    fn advance(&mut self, now: Millis) {
        self.run.advance(now, &mut self.connector);
    }
}

/// The runs of every incident seen so far, by incident id.
#[derive(Default)]
pub struct Responses {
    runs: Mutex<BTreeMap<String, IncidentRun>>,
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// `<incident id>:<n>`, unique across runs.
    pub id: String,
    pub incident_id: String,
    pub team: String,
    pub step: String,
    pub step_name: Option<String>,
    pub instruction: String,
    pub created_at: Millis,
    pub deadline: Option<Millis>,
    pub state: String,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
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
    pub connector: &'static str,
    /// What the dry-run connector would have done.
    pub dry_run_actions: Vec<String>,
    pub steps: Vec<StepView>,
    pub tasks: Vec<TaskView>,
    pub log: Vec<LogView>,
}

impl Responses {
    /// The runs (poisoning is survivable: a run is only changed through its own methods).
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, IncidentRun>> {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts the incident's run unless it has one, advances it to `now` and shows it.
    /// `started` says whether this call started it.
    pub fn ensure(
        &self,
        incident: &Incident,
        now: Millis,
    ) -> Result<(RunView, bool), ResponseError> {
        let mut runs = self.lock();
        let (entry, started) = match runs.entry(incident.id.clone()) {
            Entry::Occupied(kept) => (kept.into_mut(), false),
            Entry::Vacant(slot) => (slot.insert(start_run(incident, now)?), true),
        };
        entry.advance(now);
        Ok((view(&incident.id, entry), started))
    }

    /// Open tasks of every run, of one team if given, of the runs whose sites `visible` accepts.
    pub fn open_tasks(
        &self,
        team: Option<Team>,
        visible: impl Fn(&BTreeSet<String>) -> bool,
        now: Millis,
    ) -> Vec<TaskView> {
        let mut runs = self.lock();
        let mut open = Vec::new();
        for (incident_id, entry) in runs.iter_mut() {
            if !visible(&entry.sites) {
                continue;
            }
            entry.advance(now);
            let tasks = entry.run.tasks().iter().filter(|t| t.is_open());
            let tasks = tasks.filter(|t| team.is_none_or(|want| t.team == want));
            open.extend(tasks.map(|t| task_view(incident_id, t)));
        }
        open
    }

    /// The team and sites of a task, to check the caller before deciding it.
    pub fn task_owner(&self, task_id: &str) -> Result<(Team, BTreeSet<String>), ResponseError> {
        let (incident_id, task) = parse_task_id(task_id)?;
        let runs = self.lock();
        let entry = runs
            .get(incident_id)
            .ok_or_else(|| ResponseError::UnknownTask(task_id.to_string()))?;
        let team = entry
            .run
            .tasks()
            .get(task.0)
            .map(|t| t.team)
            .ok_or_else(|| ResponseError::UnknownTask(task_id.to_string()))?;
        Ok((team, entry.sites.clone()))
    }

    /// Approves (`approve`) or rejects a task, then advances its run; the run after it.
    pub fn decide(
        &self,
        task_id: &str,
        approve: bool,
        by: &str,
        comment: &str,
        now: Millis,
    ) -> Result<RunView, ResponseError> {
        let (incident_id, task) = parse_task_id(task_id)?;
        let mut runs = self.lock();
        let entry = runs
            .get_mut(incident_id)
            .ok_or_else(|| ResponseError::UnknownTask(task_id.to_string()))?;
        entry.advance(now);
        let decided = if approve {
            entry.run.approve(task, by, comment, now)
        } else {
            entry.run.reject(task, by, comment, now)
        };
        decided.map_err(|e| match e {
            RunError::UnknownTask(_) => ResponseError::UnknownTask(task_id.to_string()),
            RunError::TaskClosed(_) => ResponseError::TaskClosed(task_id.to_string()),
            other => ResponseError::Run(other),
        })?;
        entry.advance(now);
        Ok(view(incident_id, entry))
    }
}

/// `<incident id>:<n>` → (incident id, task).
fn parse_task_id(task_id: &str) -> Result<(&str, TaskId), ResponseError> {
    let unknown = || ResponseError::UnknownTask(task_id.to_string());
    let (incident, n) = task_id.rsplit_once(':').ok_or_else(unknown)?;
    let n = n.parse::<usize>().map_err(|_| unknown())?;
    Ok((incident, TaskId(n)))
}

fn start_run(incident: &Incident, now: Millis) -> Result<IncidentRun, ResponseError> {
    let playbook = builtin::hybrid_intrusion()?;
    let library = builtin::library()?;
    let inputs = playbook_inputs(incident);
    let run = Run::start(&playbook, &library, &inputs, RunOptions::default(), now)?;
    Ok(IncidentRun {
        playbook,
        run,
        connector: DryRun::default(),
        sites: incident.entities.sites.clone(),
    })
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

fn view(incident_id: &str, entry: &IncidentRun) -> RunView {
    let (status, status_detail) = status_label(entry.run.status());
    RunView {
        incident_id: incident_id.to_string(),
        playbook: entry.playbook.name.clone(),
        playbook_id: entry.playbook.id.clone(),
        status: status.to_string(),
        status_detail,
        connector: "dry-run",
        dry_run_actions: entry.connector.actions.clone(),
        steps: step_views(entry),
        tasks: entry
            .run
            .tasks()
            .iter()
            .map(|t| task_view(incident_id, t))
            .collect(),
        log: entry.run.log().iter().map(log_view).collect(),
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
    }
}

fn step_views(entry: &IncidentRun) -> Vec<StepView> {
    let main = &entry.playbook.id;
    entry
        .playbook
        .workflow
        .iter()
        .map(|(id, step)| {
            let last = entry
                .run
                .log()
                .iter()
                .rev()
                .find(|l| &l.playbook == main && l.step.as_deref() == Some(id.as_str()));
            StepView {
                id: id.clone(),
                name: step.name.clone(),
                step_type: snake(&format!("{:?}", step.step_type)),
                state: last.map_or("pending".to_string(), |l| snake(&format!("{:?}", l.kind))),
            }
        })
        .collect()
}

fn task_view(incident_id: &str, task: &Task) -> TaskView {
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
        id: format!("{incident_id}:{}", task.id.0),
        incident_id: incident_id.to_string(),
        team: task.team.key().to_string(),
        step: task.step.clone(),
        step_name: task.step_name.clone(),
        instruction: task.instruction.clone(),
        created_at: task.created_at,
        deadline: task.deadline,
        state: state.to_string(),
        decided_by,
        comment,
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
mod tests {
    use super::*;
    use onesec_incident::IncidentState;

    fn incident() -> Incident {
        let mut entities = Entities::default();
        entities.sites.insert("EDI".into());
        entities.persons.insert("p-1".into());
        entities.src_ips.insert("fe80::1".into());
        entities.src_ips.insert("10.0.0.9".into());
        Incident {
            id: "inc-1".into(),
            title: "door forced then USB".into(),
            domain: onesec_event::Domain::Hybrid,
            priority: Default::default(),
            state: IncidentState::New,
            alert_ids: vec![],
            active_alerts: 1,
            entities,
            first_ms: 0,
            last_ms: 0,
            merged_into: None,
        }
    }

    #[test]
    fn a_run_starts_once_and_waits_for_management() {
        let responses = Responses::default();
        let (view, started) = responses.ensure(&incident(), 1_000).expect("starts");
        assert!(started);
        assert_eq!(view.status, "running");
        assert!(!view.dry_run_actions.is_empty(), "footage pull was dry-run");
        let open: Vec<_> = view.tasks.iter().filter(|t| t.state == "open").collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].team, "management");
        let (_, again) = responses.ensure(&incident(), 2_000).expect("kept");
        assert!(!again);
    }

    #[test]
    fn inputs_carry_the_incident_facts() {
        let inputs = playbook_inputs(&incident());
        assert_eq!(inputs["__incident_id__"], "inc-1");
        assert_eq!(inputs["__src_ip__"], "10.0.0.9");
        assert!(inputs["__summary__"].contains("sites: EDI"));
    }

    #[test]
    fn approving_advances_and_bad_ids_are_unknown() {
        let responses = Responses::default();
        let (view, _) = responses.ensure(&incident(), 1_000).expect("starts");
        let task = view.tasks[0].id.clone();
        let after = responses
            .decide(&task, true, "mia", "go", 2_000)
            .expect("approved");
        assert!(after.tasks.len() > 1, "containment tasks follow");
        assert!(matches!(
            responses.decide(&task, true, "mia", "again", 3_000),
            Err(ResponseError::TaskClosed(_))
        ));
        for bad in ["nope", "inc-1:x", "inc-1:99", "inc-2:0"] {
            assert!(matches!(
                responses.decide(bad, false, "mia", "", 3_000),
                Err(ResponseError::UnknownTask(_))
            ));
        }
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("TaskCreated"), "task_created");
        assert_eq!(snake("Ok"), "ok");
    }
}
