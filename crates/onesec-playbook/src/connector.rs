//! The one door to the outside: automated commands go through a [`Connector`]. The engine never
//! does I/O itself, so a run is a pure function of the playbook, the clock readings, the
//! connector's answers and the humans' decisions.

use crate::model::AgentTarget;
use crate::team::Team;
use crate::vars::{Outputs, Vars};

/// An agent or a target as the connector sees it: its id and, when the playbook defines it,
/// its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub id: String,
    pub definition: Option<AgentTarget>,
}

/// One automated command, variables already substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// Id of the playbook the step belongs to (a sub-playbook for playbook-action calls).
    pub playbook: String,
    pub step: String,
    /// The CACAO command type (`bash`, `http-api`, `openc2-http`, ...).
    pub command_type: String,
    pub command: Option<String>,
    /// Passed through undecoded: its meaning depends on the command type.
    pub command_b64: Option<String>,
    /// The team that owns the step (for the connector's own audit trail).
    pub team: Team,
}

/// Executes automated commands. Returns the step's output variables, or why it failed: a
/// failure sends the step to its `on_failure`.
pub trait Connector {
    fn execute(
        &mut self,
        command: &CommandRequest,
        agent: Option<&Party>,
        targets: &[Party],
        vars: &Vars,
    ) -> Result<Outputs, String>;

    /// Whether a person should carry this command out instead (a `manual` connector): the
    /// engine then opens a task for the step's team, as for a `manual` command, and the step
    /// goes on when the task is approved. By default every command is executed.
    fn by_hand(&self, _command: &CommandRequest, _agent: Option<&Party>) -> bool {
        false
    }
}

/// A call as a [`RecordingConnector`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    pub step: String,
    pub command_type: String,
    pub command: Option<String>,
    pub agent: Option<String>,
    pub targets: Vec<String>,
    pub team: Team,
}

/// Records every call and answers from a script: fail or return outputs when the command text
/// contains a given fragment, succeed with no outputs otherwise. For tests and dry runs.
#[derive(Debug, Default)]
pub struct RecordingConnector {
    pub calls: Vec<RecordedCall>,
    failures: Vec<(String, String)>,
    outputs: Vec<(String, Outputs)>,
}

impl RecordingConnector {
    pub fn new() -> Self {
        RecordingConnector::default()
    }

    /// Commands containing `fragment` fail with `reason`.
    pub fn fail_when(mut self, fragment: &str, reason: &str) -> Self {
        self.failures
            .push((fragment.to_string(), reason.to_string()));
        self
    }

    /// Commands containing `fragment` succeed with `outputs`.
    pub fn respond_when(mut self, fragment: &str, outputs: &[(&str, &str)]) -> Self {
        let map = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.outputs.push((fragment.to_string(), map));
        self
    }

    /// The command texts in call order.
    pub fn commands(&self) -> Vec<String> {
        self.calls
            .iter()
            .map(|c| c.command.clone().unwrap_or_default())
            .collect()
    }
}

impl Connector for RecordingConnector {
    fn execute(
        &mut self,
        command: &CommandRequest,
        agent: Option<&Party>,
        targets: &[Party],
        _vars: &Vars,
    ) -> Result<Outputs, String> {
        let text = command.command.clone().unwrap_or_default();
        self.calls.push(RecordedCall {
            step: command.step.clone(),
            command_type: command.command_type.clone(),
            command: command.command.clone(),
            agent: agent.map(|a| a.id.clone()),
            targets: targets.iter().map(|t| t.id.clone()).collect(),
            team: command.team,
        });
        if let Some((_, reason)) = self
            .failures
            .iter()
            .find(|(f, _)| text.contains(f.as_str()))
        {
            return Err(reason.clone());
        }
        let outputs = self
            .outputs
            .iter()
            .find(|(f, _)| text.contains(f.as_str()))
            .map(|(_, o)| o.clone())
            .unwrap_or_default();
        Ok(outputs)
    }
}
