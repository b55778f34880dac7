//! CACAO v2 security playbooks: one incident, one playbook, and who does what.
//!
//! * **Load and validate** ([`Playbook::from_json`], [`validate_json`], [`Playbook::validate`]):
//!   OASIS CACAO v2 JSON into typed structs. Every finding carries a JSON pointer and a reason;
//!   errors refuse the playbook, warnings do not.
//! * **Run** ([`Run::start`], [`Run::advance`]): a deterministic state machine for all eight step
//!   types — start, end, action, playbook-action, parallel, if-, while- and switch-condition —
//!   with variables (`__name__:value`), conditions ([`Condition`]), `on_failure` paths,
//!   `workflow_exception`, delays and timeouts on a clock the caller passes in, and a step budget
//!   that stops endless loops.
//! * **Teams**: a manual command becomes a [`Task`] for the team owning the step ([`TeamMap`]:
//!   `owner` identity, else agent) that waits for [`Run::approve`] / [`Run::reject`] or times out
//!   into the step's failure path. [`Run::log`] records every transition: who, what, when,
//!   with what result.
//! * **Shipped playbooks** ([`builtin`]): the default hybrid-intrusion response and its
//!   notification sub-playbooks (`playbooks/` at the workspace root).
//!
//! **Architecture invariant:** no I/O and no clock. Automated commands go through a
//! [`Connector`]; time is the `now` each call receives. The same playbook, inputs, clock
//! readings, connector answers and decisions give the same run and the same log.

pub mod builtin;
mod condition;
mod connector;
mod issue;
mod load;
mod model;
mod record;
mod run;
mod team;
mod validate;
mod vars;

pub use condition::{Condition, ConditionError};
pub use connector::{CommandRequest, Connector, Party, RecordedCall, RecordingConnector};
pub use issue::{Issue, Severity};
pub use load::{LoadError, validate_json};
pub use model::{AgentTarget, Command, Playbook, Step, StepType, Variable};
pub use record::{LogEntry, LogKind, Millis, Outcome, Task, TaskId, TaskState};
pub use run::{Library, Run, RunError, RunOptions, RunStatus};
pub use team::{Assignment, Team, TeamMap};
pub use vars::{Outputs, Slot, VarError, Vars, is_variable_name};
