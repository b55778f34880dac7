//! What a run leaves behind: tasks for the teams and the log of every transition.

use crate::team::{Assignment, Team};

/// Milliseconds on the caller's clock. The engine never reads a clock: every call that may
/// let time pass takes `now`, so tests run a day of timeouts in microseconds.
pub type Millis = u64;

/// Identifies a task within its run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TaskId(pub usize);

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TaskState {
    Open,
    Approved {
        by: String,
        comment: String,
        at: Millis,
    },
    Rejected {
        by: String,
        comment: String,
        at: Millis,
    },
    TimedOut {
        at: Millis,
    },
    /// The run ended (or its branch was abandoned) while the task was open.
    Cancelled {
        at: Millis,
        reason: String,
    },
}

/// A manual command waiting for a team's decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub team: Team,
    pub assignment: Assignment,
    pub playbook: String,
    pub step: String,
    pub step_name: Option<String>,
    /// The instruction, variables substituted.
    pub instruction: String,
    pub created_at: Millis,
    /// When the task times out into the step's failure path, if it has a timeout.
    pub deadline: Option<Millis>,
    pub state: TaskState,
}

impl Task {
    pub fn is_open(&self) -> bool {
        self.state == TaskState::Open
    }
}

/// What happened in one log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogKind {
    RunStarted,
    StepStarted,
    Delayed,
    CommandExecuted,
    TaskCreated,
    TaskApproved,
    TaskRejected,
    TaskTimedOut,
    TaskCancelled,
    BranchChosen,
    ParallelStarted,
    BranchEnded,
    PlaybookCalled,
    PlaybookReturned,
    StepCompleted,
    StepFailed,
    ExceptionHandler,
    RunCompleted,
    RunFailed,
    BudgetExhausted,
    /// The run was stopped from outside ([`crate::Run::cancel`]).
    RunCancelled,
}

/// The result of what the entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    Info,
    Ok,
    Failed,
}

/// One transition: who, what, when, with what result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    /// Position in the log (0-based).
    pub seq: usize,
    pub at: Millis,
    /// A team key, a person who decided a task, an agent, or `engine`.
    pub who: String,
    pub kind: LogKind,
    pub playbook: String,
    pub step: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}
