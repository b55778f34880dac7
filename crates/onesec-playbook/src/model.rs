//! The typed CACAO v2 playbook: the properties the engine and the validator use, with every
//! other property kept (`other`) so that a playbook read and written again loses nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A CACAO v2 playbook (`"type": "playbook"`, `"spec_version": "cacao-2.0"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    #[serde(rename = "type")]
    pub object_type: String,
    pub spec_version: String,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_by: String,
    pub created: String,
    pub modified: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub playbook_variables: BTreeMap<String, Variable>,
    pub workflow_start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_exception: Option<String>,
    pub workflow: BTreeMap<String, Step>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_definitions: BTreeMap<String, AgentTarget>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_definitions: BTreeMap<String, AgentTarget>,
    /// Every other property (metadata, markings, signatures, extensions), kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The eight CACAO v2 workflow step types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepType {
    Start,
    End,
    Action,
    PlaybookAction,
    Parallel,
    IfCondition,
    WhileCondition,
    SwitchCondition,
}

impl StepType {
    /// The type name as written in JSON, which is also the prefix of the step's identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Start => "start",
            StepType::End => "end",
            StepType::Action => "action",
            StepType::PlaybookAction => "playbook-action",
            StepType::Parallel => "parallel",
            StepType::IfCondition => "if-condition",
            StepType::WhileCondition => "while-condition",
            StepType::SwitchCondition => "switch-condition",
        }
    }
}

/// One workflow step. CACAO defines one object per type; they share most properties, so one
/// struct holds them all and the validator checks which ones each type needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    #[serde(rename = "type")]
    pub step_type: StepType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Milliseconds to wait before the step starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    /// Milliseconds after which a step still waiting is considered failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step_variables: BTreeMap<String, Variable>,
    /// The identity responsible for this step (mapped to a team by the engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_completion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    // action
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Command>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_args: Vec<String>,
    // playbook-action
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_version: Option<String>,
    // parallel
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<String>,
    // if-condition, while-condition
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_true: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_false: Option<String>,
    // switch-condition
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cases: BTreeMap<String, String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Step {
    /// The step to go to when it succeeds (`on_success`, else `on_completion`).
    pub fn success_next(&self) -> Option<&str> {
        self.on_success.as_deref().or(self.on_completion.as_deref())
    }

    /// Every step this one may lead to, with the property (JSON pointer tail) naming it.
    pub fn references(&self) -> Vec<(String, &str)> {
        let mut refs: Vec<(String, &str)> = Vec::new();
        let single = [
            ("on_completion", &self.on_completion),
            ("on_success", &self.on_success),
            ("on_failure", &self.on_failure),
            ("on_true", &self.on_true),
            ("on_false", &self.on_false),
        ];
        for (key, value) in single {
            if let Some(id) = value {
                refs.push((key.to_string(), id));
            }
        }
        for (i, id) in self.next_steps.iter().enumerate() {
            refs.push((format!("next_steps/{i}"), id));
        }
        for (case, id) in &self.cases {
            refs.push((format!("cases/{}", crate::issue::escape_pointer(case)), id));
        }
        refs
    }
}

/// A command of an action step (`bash`, `http-api`, `manual`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    #[serde(rename = "type")]
    pub command_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A CACAO variable declaration (`playbook_variables` or `step_variables`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub var_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A string, JSON null (unknown), or an object for `dictionary` variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default)]
    pub constant: bool,
    #[serde(default)]
    pub external: bool,
}

impl Variable {
    /// The value as the engine holds it: a string, `None` when unknown (JSON null). A
    /// dictionary is held as its JSON text.
    pub fn initial_value(&self) -> Option<String> {
        match &self.value {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }
}

/// An agent or a target (`agent_definitions`, `target_definitions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentTarget {
    #[serde(rename = "type")]
    pub object_type: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}
