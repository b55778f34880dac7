//! The deterministic executor: an explicit state machine over threads of control.
//!
//! CACAO branches (the `on_true`/`on_false` of conditions, the `cases` of a switch, the
//! `next_steps` of a parallel step) run until an end step and then return to the step that
//! opened them, which continues with its own `on_completion`/`on_success`. A thread keeps a stack
//! of those return points (and of sub-playbook calls). A parallel step starts one thread per
//! branch and waits until all have ended; threads take turns one step at a time in id order, so
//! the interleaving is the same on every run. Nothing waits on a real clock: delays, manual task
//! deadlines and parallel timeouts are compared with the `now` each call is given.

use std::collections::BTreeMap;

use crate::condition::Condition;
use crate::connector::{CommandRequest, Connector, Party};
use crate::model::{Playbook, Step, StepType};
use crate::record::{LogEntry, LogKind, Millis, Outcome, Task, TaskId, TaskState};
use crate::team::{Team, TeamMap};
use crate::vars::{Outputs, Vars};

/// Playbooks a run may call through playbook-action steps, by id.
#[derive(Debug, Clone, Default)]
pub struct Library {
    playbooks: BTreeMap<String, Playbook>,
}

impl Library {
    pub fn new() -> Self {
        Library::default()
    }

    pub fn add(&mut self, playbook: Playbook) {
        self.playbooks.insert(playbook.id.clone(), playbook);
    }

    pub fn get(&self, id: &str) -> Option<&Playbook> {
        self.playbooks.get(id)
    }
}

/// Limits and mappings of a run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    /// Steps processed before the run stops (an endless while-loop stops here, reported).
    pub step_budget: usize,
    /// Deadline for manual tasks of steps that set no `timeout`; `None` waits forever.
    pub manual_timeout_ms: Option<Millis>,
    pub teams: TeamMap,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            step_budget: 1000,
            manual_timeout_ms: None,
            teams: TeamMap::onesec_default(),
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RunStatus {
    /// Waiting for tasks, timers or the next `advance`.
    Running,
    Completed,
    Failed {
        step: Option<String>,
        reason: String,
        /// The playbook's `workflow_exception` step ran before the run ended.
        exception_handled: bool,
    },
    BudgetExhausted {
        budget: usize,
    },
    /// Stopped from outside (its incident was closed or called a false alarm): nothing that
    /// was still to come ran, open tasks were cancelled.
    Cancelled {
        by: String,
        reason: String,
    },
}

/// Why a run could not start or a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("step {step} calls playbook {playbook_id}, which is not in the library")]
    UnknownPlaybook { step: String, playbook_id: String },
    #[error("input {0} is not a variable of the playbook")]
    UnknownInput(String),
    #[error("input {0} is not declared external, so it cannot be passed in")]
    NotExternal(String),
    #[error("no task {0:?}")]
    UnknownTask(TaskId),
    #[error("task {0:?} is no longer open")]
    TaskClosed(TaskId),
    #[error("variable error: {0}")]
    Variable(#[from] crate::vars::VarError),
}

/// One call of a playbook (the main one, or one per playbook-action): its variables.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Invocation {
    playbook: usize,
    vars: Vars,
    in_exception: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Wait {
    Ready,
    Sleep(Millis),
    Task(TaskId),
    Children {
        pending: usize,
        failed: bool,
        deadline: Option<Millis>,
    },
    Done,
}

/// A return point on a thread's stack.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Frame {
    /// A branch of a condition or switch step; `looping` for while (re-evaluate on return).
    Branch { step: String, looping: bool },
    /// A sub-playbook call made by `step` of invocation `caller`.
    Call { caller: usize, step: String },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Thread {
    inv: usize,
    cursor: String,
    stack: Vec<Frame>,
    parent: Option<usize>,
    wait: Wait,
    /// The current step was announced in the log (and its delay served).
    started: bool,
    delayed: bool,
    next_command: usize,
    locals: Vars,
}

impl Thread {
    fn new(inv: usize, cursor: &str, parent: Option<usize>) -> Self {
        Thread {
            inv,
            cursor: cursor.to_string(),
            stack: Vec::new(),
            parent,
            wait: Wait::Ready,
            started: false,
            delayed: false,
            next_command: 0,
            locals: Vars::new(),
        }
    }
}

/// A running playbook. Drive it with [`Run::advance`]; decide its tasks with [`Run::approve`]
/// and [`Run::reject`]. A run is plain data: [`Run::to_json`] and [`Run::from_json`] keep it
/// across restarts, and a restored run goes on exactly as the original would have.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Run {
    playbooks: Vec<Playbook>,
    invocations: Vec<Invocation>,
    threads: Vec<Thread>,
    tasks: Vec<Task>,
    log: Vec<LogEntry>,
    status: RunStatus,
    options: RunOptions,
    steps_taken: usize,
}

impl Run {
    /// Starts `playbook` with values for its external variables. Every playbook it calls must be
    /// in `library` (checked now, so a run never stops halfway for a missing playbook).
    pub fn start(
        playbook: &Playbook,
        library: &Library,
        inputs: &BTreeMap<String, String>,
        options: RunOptions,
        now: Millis,
    ) -> Result<Run, RunError> {
        let playbooks = collect_playbooks(playbook, library)?;
        let mut vars = declared(playbook);
        for (name, value) in inputs {
            match playbook.playbook_variables.get(name) {
                None => return Err(RunError::UnknownInput(name.clone())),
                Some(v) if !v.external => return Err(RunError::NotExternal(name.clone())),
                Some(v) => vars.declare(name, Some(value.clone()), v.constant),
            }
        }
        let mut run = Run {
            playbooks,
            invocations: vec![Invocation {
                playbook: 0,
                vars,
                in_exception: false,
            }],
            threads: vec![Thread::new(0, &playbook.workflow_start, None)],
            tasks: Vec::new(),
            log: Vec::new(),
            status: RunStatus::Running,
            options,
            steps_taken: 0,
        };
        let detail = format!("playbook {} ({})", playbook.name, playbook.id);
        run.record(
            now,
            "engine",
            None,
            LogKind::RunStarted,
            Outcome::Info,
            detail,
        );
        Ok(run)
    }

    pub fn status(&self) -> &RunStatus {
        &self.status
    }

    /// The whole run (playbooks, variables, threads, tasks, log) as JSON, to be kept.
    pub fn to_json(&self) -> String {
        // Plain data with string keys only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A run kept with [`Run::to_json`]; it goes on as the original would have.
    pub fn from_json(text: &str) -> Result<Run, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The main playbook the run started with.
    pub fn playbook(&self) -> &Playbook {
        &self.playbooks[0]
    }

    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Open tasks of one team.
    pub fn open_tasks(&self, team: Team) -> Vec<&Task> {
        self.tasks
            .iter()
            .filter(|t| t.team == team && t.is_open())
            .collect()
    }

    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// The main playbook's variables.
    pub fn variables(&self) -> &Vars {
        &self.invocations[0].vars
    }

    /// Steps processed so far (what the budget counts).
    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    /// The earliest time at which waiting threads have something to do (a delay ends, a task
    /// or a parallel step times out): when to call `advance` next if nobody decides anything.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let task_deadline = |id: &TaskId| self.tasks.get(id.0).and_then(|t| t.deadline);
        self.threads
            .iter()
            .filter_map(|t| match &t.wait {
                Wait::Sleep(until) => Some(*until),
                Wait::Task(id) => task_deadline(id),
                Wait::Children { deadline, .. } => *deadline,
                Wait::Ready | Wait::Done => None,
            })
            .min()
    }

    /// Stops a running run from outside (`by` and `reason` go into the log): open tasks are
    /// cancelled, delayed or pending steps never run. False when it was no longer running.
    pub fn cancel(&mut self, by: &str, reason: &str, now: Millis) -> bool {
        if self.status != RunStatus::Running {
            return false;
        }
        let status = RunStatus::Cancelled {
            by: by.to_string(),
            reason: reason.to_string(),
        };
        self.finish(now, status);
        true
    }

    /// Processes every step that can go ahead at `now`, until all threads wait (for a task, a
    /// timer, or their branches) or the run ends.
    pub fn advance(&mut self, now: Millis, connector: &mut dyn Connector) -> RunStatus {
        if self.status == RunStatus::Running {
            self.fire_timers(now);
        }
        while self.status == RunStatus::Running {
            let ready: Vec<usize> = (0..self.threads.len())
                .filter(|&t| self.threads[t].wait == Wait::Ready)
                .collect();
            if ready.is_empty() {
                break;
            }
            for tid in ready {
                if self.status != RunStatus::Running || self.threads[tid].wait != Wait::Ready {
                    continue;
                }
                if self.steps_taken >= self.options.step_budget {
                    self.exhaust_budget(now);
                    break;
                }
                self.steps_taken += 1;
                self.process(tid, now, connector);
            }
        }
        self.status.clone()
    }

    /// Approves an open manual task; its step goes on at the next `advance`.
    pub fn approve(
        &mut self,
        task: TaskId,
        by: &str,
        comment: &str,
        now: Millis,
    ) -> Result<(), RunError> {
        self.approve_with(task, by, comment, Outputs::new(), now)
    }

    /// Approves with values for the step's `out_args` (what the human found out).
    pub fn approve_with(
        &mut self,
        task: TaskId,
        by: &str,
        comment: &str,
        outputs: Outputs,
        now: Millis,
    ) -> Result<(), RunError> {
        let tid = self.settle(task, by, comment, now, true)?;
        if let Err(reason) = self.assign_outputs(tid, outputs) {
            self.fail(tid, now, reason);
            return Ok(());
        }
        let thread = &mut self.threads[tid];
        thread.next_command += 1;
        thread.wait = Wait::Ready;
        Ok(())
    }

    /// Rejects an open manual task: its step fails (and follows `on_failure`).
    pub fn reject(
        &mut self,
        task: TaskId,
        by: &str,
        comment: &str,
        now: Millis,
    ) -> Result<(), RunError> {
        let tid = self.settle(task, by, comment, now, false)?;
        self.threads[tid].wait = Wait::Ready;
        self.fail(tid, now, format!("rejected by {by}: {comment}"));
        Ok(())
    }

    /// Records a decision on an open task; returns the thread that waited on it.
    fn settle(
        &mut self,
        task: TaskId,
        by: &str,
        comment: &str,
        now: Millis,
        approved: bool,
    ) -> Result<usize, RunError> {
        let tid = self.decide(task)?;
        let (by, comment) = (by.to_string(), comment.to_string());
        let who = format!("{by} ({})", self.tasks[task.0].team);
        let (state, kind, outcome) = if approved {
            let state = TaskState::Approved {
                by,
                comment: comment.clone(),
                at: now,
            };
            (state, LogKind::TaskApproved, Outcome::Ok)
        } else {
            let state = TaskState::Rejected {
                by,
                comment: comment.clone(),
                at: now,
            };
            (state, LogKind::TaskRejected, Outcome::Failed)
        };
        self.tasks[task.0].state = state;
        self.record(now, &who, Some(tid), kind, outcome, comment);
        Ok(tid)
    }

    /// The thread waiting on an open task.
    fn decide(&self, task: TaskId) -> Result<usize, RunError> {
        let t = self.tasks.get(task.0).ok_or(RunError::UnknownTask(task))?;
        if !t.is_open() || self.status != RunStatus::Running {
            return Err(RunError::TaskClosed(task));
        }
        self.threads
            .iter()
            .position(|th| th.wait == Wait::Task(task))
            .ok_or(RunError::TaskClosed(task))
    }

    // ---- timers ---------------------------------------------------------------------------

    fn fire_timers(&mut self, now: Millis) {
        for tid in 0..self.threads.len() {
            if self.status != RunStatus::Running {
                return;
            }
            match self.threads[tid].wait.clone() {
                Wait::Sleep(until) if until <= now => self.threads[tid].wait = Wait::Ready,
                Wait::Task(id) if self.tasks[id.0].deadline.is_some_and(|d| d <= now) => {
                    self.time_out_task(tid, id, now)
                }
                Wait::Children {
                    pending,
                    deadline: Some(d),
                    ..
                } if d <= now => {
                    self.cancel_descendants(tid, now);
                    self.threads[tid].wait = Wait::Ready;
                    let reason = format!("timed out with {pending} branch(es) still running");
                    self.fail(tid, now, reason);
                }
                _ => {}
            }
        }
    }

    fn time_out_task(&mut self, tid: usize, id: TaskId, now: Millis) {
        self.tasks[id.0].state = TaskState::TimedOut { at: now };
        let team = self.tasks[id.0].team.key();
        let detail = format!("task {} got no decision before its deadline", id.0);
        self.record(
            now,
            team,
            Some(tid),
            LogKind::TaskTimedOut,
            Outcome::Failed,
            detail,
        );
        self.threads[tid].wait = Wait::Ready;
        self.fail(tid, now, "manual task timed out".to_string());
    }

    /// Ends every thread started (directly or not) by `parent`, and their open tasks.
    fn cancel_descendants(&mut self, parent: usize, now: Millis) {
        let children: Vec<usize> = (0..self.threads.len())
            .filter(|&t| {
                self.threads[t].parent == Some(parent) && self.threads[t].wait != Wait::Done
            })
            .collect();
        for child in children {
            self.cancel_descendants(child, now);
            if let Wait::Task(id) = self.threads[child].wait {
                self.cancel_task(id, now, "its parallel step timed out");
            }
            self.threads[child].wait = Wait::Done;
        }
    }

    fn cancel_task(&mut self, id: TaskId, now: Millis, reason: &str) {
        let task = &mut self.tasks[id.0];
        task.state = TaskState::Cancelled {
            at: now,
            reason: reason.to_string(),
        };
        let (team, playbook, step) = (task.team.key(), task.playbook.clone(), task.step.clone());
        self.push_log(
            now,
            team,
            playbook,
            Some(step),
            LogKind::TaskCancelled,
            Outcome::Info,
            reason.to_string(),
        );
    }

    // ---- stepping -------------------------------------------------------------------------

    fn process(&mut self, tid: usize, now: Millis, connector: &mut dyn Connector) {
        let Some(step) = self.current_step(tid) else {
            let missing = self.threads[tid].cursor.clone();
            self.propagate(tid, now, format!("step {missing} is not in the workflow"));
            return;
        };
        if !self.threads[tid].started {
            if let Some(delay) = step.delay.filter(|d| *d > 0 && !self.threads[tid].delayed) {
                self.threads[tid].delayed = true;
                self.threads[tid].wait = Wait::Sleep(now + delay);
                self.record(
                    now,
                    "engine",
                    Some(tid),
                    LogKind::Delayed,
                    Outcome::Info,
                    format!("{delay} ms"),
                );
                return;
            }
            self.enter(tid, &step, now);
        }
        match step.step_type {
            StepType::Start => self.succeed(tid, now),
            StepType::End => self.end_branch(tid, now),
            StepType::Action => self.run_action(tid, &step, now, connector),
            StepType::PlaybookAction => self.call_playbook(tid, &step, now),
            StepType::Parallel => self.start_parallel(tid, &step, now),
            StepType::IfCondition => self.if_condition(tid, &step, now),
            StepType::WhileCondition => self.while_condition(tid, &step, now),
            StepType::SwitchCondition => self.switch_condition(tid, &step, now),
        }
    }

    fn enter(&mut self, tid: usize, step: &Step, now: Millis) {
        let thread = &mut self.threads[tid];
        thread.started = true;
        thread.locals = Vars::new();
        for (name, var) in &step.step_variables {
            thread
                .locals
                .declare(name, var.initial_value(), var.constant);
        }
        let who = self.who(tid, step);
        let detail = format!(
            "{} {}",
            step.step_type.as_str(),
            step.name.clone().unwrap_or_default()
        );
        self.record(
            now,
            &who,
            Some(tid),
            LogKind::StepStarted,
            Outcome::Info,
            detail.trim_end().to_string(),
        );
    }

    fn run_action(&mut self, tid: usize, step: &Step, now: Millis, connector: &mut dyn Connector) {
        let (team, assignment) = self.options.teams.resolve(self.playbook_of(tid), step);
        while let Some(command) = step.commands.get(self.threads[tid].next_command) {
            let vars = self.visible(tid);
            let text = command.command.as_deref().map(|c| vars.substitute(c));
            if command.command_type == "manual" {
                let instruction = text
                    .or_else(|| command.description.clone())
                    .unwrap_or_default();
                self.open_task(tid, step, team, assignment, instruction, now);
                return;
            }
            let request = CommandRequest {
                playbook: self.playbook_of(tid).id.clone(),
                step: self.threads[tid].cursor.clone(),
                command_type: command.command_type.clone(),
                command: text.clone(),
                command_b64: command.command_b64.clone(),
                team,
            };
            let (agent, targets) = self.parties(tid, step);
            if connector.by_hand(&request, agent.as_ref()) {
                let by = agent
                    .as_ref()
                    .map_or_else(|| team.key().to_string(), party_name);
                let what = text.unwrap_or_else(|| command.command_type.clone());
                let instruction = format!("By hand, for {by}: {what}");
                self.open_task(tid, step, team, assignment, instruction, now);
                return;
            }
            let result = connector.execute(&request, agent.as_ref(), &targets, &vars);
            let who = agent
                .map(|a| party_name(&a))
                .unwrap_or_else(|| team.key().to_string());
            let shown = text.unwrap_or_else(|| command.command_type.clone());
            match result {
                Ok(outputs) => {
                    self.record(
                        now,
                        &who,
                        Some(tid),
                        LogKind::CommandExecuted,
                        Outcome::Ok,
                        shown,
                    );
                    if let Err(reason) = self.assign_outputs(tid, outputs) {
                        self.fail(tid, now, reason);
                        return;
                    }
                }
                Err(reason) => {
                    let detail = format!("{shown}: {reason}");
                    self.record(
                        now,
                        &who,
                        Some(tid),
                        LogKind::CommandExecuted,
                        Outcome::Failed,
                        detail,
                    );
                    self.fail(tid, now, reason);
                    return;
                }
            }
            self.threads[tid].next_command += 1;
        }
        self.succeed(tid, now);
    }

    fn open_task(
        &mut self,
        tid: usize,
        step: &Step,
        team: Team,
        assignment: crate::team::Assignment,
        instruction: String,
        now: Millis,
    ) {
        let id = TaskId(self.tasks.len());
        let deadline = step
            .timeout
            .or(self.options.manual_timeout_ms)
            .map(|t| now + t);
        self.tasks.push(Task {
            id,
            team,
            assignment,
            playbook: self.playbook_of(tid).id.clone(),
            step: self.threads[tid].cursor.clone(),
            step_name: step.name.clone(),
            instruction: instruction.clone(),
            created_at: now,
            deadline,
            state: TaskState::Open,
        });
        self.threads[tid].wait = Wait::Task(id);
        let detail = format!("task {} for {team}: {instruction}", id.0);
        self.record(
            now,
            team.key(),
            Some(tid),
            LogKind::TaskCreated,
            Outcome::Info,
            detail,
        );
    }

    /// Takes the values of the step's `out_args` from `outputs` (others are ignored: a step
    /// only changes the variables it declares it returns).
    fn assign_outputs(&mut self, tid: usize, outputs: Outputs) -> Result<(), String> {
        let Some(step) = self.current_step(tid) else {
            return Ok(());
        };
        let inv = self.threads[tid].inv;
        for (name, value) in outputs {
            if !step.out_args.contains(&name) {
                continue;
            }
            let result = if self.threads[tid].locals.contains(&name) {
                self.threads[tid].locals.set(&name, value)
            } else {
                self.invocations[inv].vars.set(&name, value)
            };
            result.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn call_playbook(&mut self, tid: usize, step: &Step, now: Millis) {
        let id = step.playbook_id.clone().unwrap_or_default();
        let Some(index) = self.playbooks.iter().position(|p| p.id == id) else {
            self.fail(tid, now, format!("playbook {id} is not available"));
            return;
        };
        let callee = &self.playbooks[index];
        let mut vars = declared(callee);
        let caller_vars = self.visible(tid);
        for name in &step.in_args {
            if let Some(value) = caller_vars.get(name) {
                let constant = callee
                    .playbook_variables
                    .get(name)
                    .is_some_and(|v| v.constant);
                vars.declare(name, value.map(str::to_string), constant);
            }
        }
        let start = callee.workflow_start.clone();
        let detail = format!("{} ({id})", callee.name);
        self.invocations.push(Invocation {
            playbook: index,
            vars,
            in_exception: false,
        });
        self.record(
            now,
            "engine",
            Some(tid),
            LogKind::PlaybookCalled,
            Outcome::Info,
            detail,
        );
        let thread = &mut self.threads[tid];
        thread.stack.push(Frame::Call {
            caller: thread.inv,
            step: thread.cursor.clone(),
        });
        thread.inv = self.invocations.len() - 1;
        self.goto(tid, &start);
    }

    fn start_parallel(&mut self, tid: usize, step: &Step, now: Millis) {
        let inv = self.threads[tid].inv;
        for next in &step.next_steps {
            self.threads.push(Thread::new(inv, next, Some(tid)));
        }
        self.threads[tid].wait = Wait::Children {
            pending: step.next_steps.len(),
            failed: false,
            deadline: step.timeout.map(|t| now + t),
        };
        let detail = format!("{} branches", step.next_steps.len());
        self.record(
            now,
            "engine",
            Some(tid),
            LogKind::ParallelStarted,
            Outcome::Info,
            detail,
        );
    }

    fn if_condition(&mut self, tid: usize, step: &Step, now: Millis) {
        let Some(holds) = self.evaluate(tid, step, now) else {
            return;
        };
        let next = if holds {
            step.on_true.clone()
        } else {
            step.on_false.clone()
        };
        let label = if holds {
            "true → on_true"
        } else {
            "false → on_false"
        };
        match next {
            Some(next) => self.branch(tid, &next, false, label, now),
            None => self.succeed(tid, now),
        }
    }

    fn while_condition(&mut self, tid: usize, step: &Step, now: Millis) {
        let Some(holds) = self.evaluate(tid, step, now) else {
            return;
        };
        match (holds, step.on_true.clone()) {
            (true, Some(next)) => self.branch(tid, &next, true, "true → on_true (loop)", now),
            _ => self.succeed(tid, now),
        }
    }

    fn switch_condition(&mut self, tid: usize, step: &Step, now: Millis) {
        let text = step.switch.clone().unwrap_or_default();
        let name = text.strip_suffix(":value").unwrap_or(&text);
        let value = match self.visible(tid).get(name) {
            Some(Some(v)) => v.to_string(),
            _ => {
                self.fail(tid, now, format!("switch variable {name} has no value"));
                return;
            }
        };
        let chosen = step
            .cases
            .get(&value)
            .map(|next| (next.clone(), format!("case `{value}`")))
            .or_else(|| {
                let fallback = step.cases.get("default")?;
                Some((fallback.clone(), format!("`{value}` → default")))
            });
        match chosen {
            Some((next, label)) => self.branch(tid, &next, false, &label, now),
            None => {
                let detail = format!("no case for `{value}` and no default");
                self.record(
                    now,
                    "engine",
                    Some(tid),
                    LogKind::BranchChosen,
                    Outcome::Info,
                    detail,
                );
                self.succeed(tid, now)
            }
        }
    }

    /// The step's condition, or `None` after failing the step when it cannot be evaluated.
    fn evaluate(&mut self, tid: usize, step: &Step, now: Millis) -> Option<bool> {
        let text = step.condition.clone().unwrap_or_default();
        let vars = self.visible(tid);
        let lookup = |name: &str| vars.get(name).map(|v| v.map(str::to_string));
        let result = Condition::parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|c| c.evaluate(&lookup));
        match result {
            Ok(holds) => Some(holds),
            Err(reason) => {
                self.fail(tid, now, format!("condition `{text}`: {reason}"));
                None
            }
        }
    }

    fn branch(&mut self, tid: usize, next: &str, looping: bool, label: &str, now: Millis) {
        self.record(
            now,
            "engine",
            Some(tid),
            LogKind::BranchChosen,
            Outcome::Info,
            label.to_string(),
        );
        let thread = &mut self.threads[tid];
        thread.stack.push(Frame::Branch {
            step: thread.cursor.clone(),
            looping,
        });
        self.goto(tid, next);
    }

    // ---- transitions ----------------------------------------------------------------------

    fn goto(&mut self, tid: usize, next: &str) {
        let thread = &mut self.threads[tid];
        thread.cursor = next.to_string();
        thread.started = false;
        thread.delayed = false;
        thread.next_command = 0;
        thread.locals = Vars::new();
        thread.wait = Wait::Ready;
    }

    /// Back at a step whose branch or call returned: it continues without starting again.
    fn resume_at(&mut self, tid: usize, step: &str) {
        self.goto(tid, step);
        self.threads[tid].started = true;
        self.threads[tid].delayed = true;
    }

    /// Who a step's outcome is logged under (the engine when the thread is at no step).
    fn actor(&self, tid: usize, step: Option<&Step>) -> String {
        step.map(|s| self.who(tid, s))
            .unwrap_or_else(|| "engine".into())
    }

    fn succeed(&mut self, tid: usize, now: Millis) {
        let step = self.current_step(tid);
        let who = self.actor(tid, step.as_ref());
        self.record(
            now,
            &who,
            Some(tid),
            LogKind::StepCompleted,
            Outcome::Ok,
            String::new(),
        );
        match step.and_then(|s| s.success_next().map(str::to_string)) {
            Some(next) => self.goto(tid, &next),
            None => self.end_branch(tid, now),
        }
    }

    fn fail(&mut self, tid: usize, now: Millis, reason: String) {
        let step = self.current_step(tid);
        let who = self.actor(tid, step.as_ref());
        self.record(
            now,
            &who,
            Some(tid),
            LogKind::StepFailed,
            Outcome::Failed,
            reason.clone(),
        );
        match step.and_then(|s| s.on_failure) {
            Some(next) => self.goto(tid, &next),
            None => self.propagate(tid, now, reason),
        }
    }

    /// A failure without `on_failure` fails the step that opened the branch, then the calling
    /// playbook-action, up to the playbook, whose `workflow_exception` runs if it has one.
    fn propagate(&mut self, tid: usize, now: Millis, reason: String) {
        match self.threads[tid].stack.pop() {
            Some(Frame::Branch { step, .. }) => {
                self.resume_at(tid, &step);
                self.fail(tid, now, format!("its branch failed: {reason}"));
            }
            Some(Frame::Call { caller, step }) => {
                let callee = self.threads[tid].inv;
                if let Some(handler) = self.exception_handler(callee) {
                    self.threads[tid].stack.push(Frame::Call { caller, step });
                    self.run_exception_handler(tid, callee, &handler, now);
                    return;
                }
                self.threads[tid].inv = caller;
                self.resume_at(tid, &step);
                self.fail(tid, now, format!("called playbook failed: {reason}"));
            }
            None => self.thread_failed(tid, now, reason),
        }
    }

    fn thread_failed(&mut self, tid: usize, now: Millis, reason: String) {
        if let Some(parent) = self.threads[tid].parent {
            self.threads[tid].wait = Wait::Done;
            self.record(
                now,
                "engine",
                Some(tid),
                LogKind::BranchEnded,
                Outcome::Failed,
                reason,
            );
            self.child_done(parent, false, now);
            return;
        }
        let inv = self.threads[tid].inv;
        if let Some(handler) = self.exception_handler(inv) {
            self.run_exception_handler(tid, inv, &handler, now);
            return;
        }
        let step = Some(self.threads[tid].cursor.clone());
        let handled = self.invocations[inv].in_exception;
        self.finish(
            now,
            RunStatus::Failed {
                step,
                reason,
                exception_handled: handled,
            },
        );
    }

    fn exception_handler(&self, inv: usize) -> Option<String> {
        let invocation = &self.invocations[inv];
        if invocation.in_exception {
            return None;
        }
        let playbook = &self.playbooks[invocation.playbook];
        playbook
            .workflow_exception
            .clone()
            .filter(|id| playbook.workflow.contains_key(id))
    }

    fn run_exception_handler(&mut self, tid: usize, inv: usize, handler: &str, now: Millis) {
        self.invocations[inv].in_exception = true;
        self.record(
            now,
            "engine",
            Some(tid),
            LogKind::ExceptionHandler,
            Outcome::Failed,
            handler.to_string(),
        );
        self.goto(tid, handler);
    }

    /// The thread reached an end step (or a step with nowhere to go on success).
    fn end_branch(&mut self, tid: usize, now: Millis) {
        match self.threads[tid].stack.pop() {
            Some(Frame::Branch {
                step,
                looping: true,
            }) => self.goto(tid, &step),
            Some(Frame::Branch {
                step,
                looping: false,
            }) => {
                self.resume_at(tid, &step);
                self.succeed(tid, now);
            }
            Some(Frame::Call { caller, step }) => self.return_from_call(tid, caller, &step, now),
            None => self.thread_ended(tid, now),
        }
    }

    fn return_from_call(&mut self, tid: usize, caller: usize, step_id: &str, now: Millis) {
        let callee = self.threads[tid].inv;
        let failed = self.invocations[callee].in_exception;
        self.threads[tid].inv = caller;
        self.resume_at(tid, step_id);
        let out_args = self
            .current_step(tid)
            .map(|s| s.out_args)
            .unwrap_or_default();
        for name in out_args {
            let value = self.invocations[callee]
                .vars
                .get(&name)
                .flatten()
                .map(str::to_string);
            if let Some(value) = value
                && let Err(e) = self.set_returned(caller, &name, value)
            {
                self.fail(tid, now, e.to_string());
                return;
            }
        }
        let outcome = if failed { Outcome::Failed } else { Outcome::Ok };
        self.record(
            now,
            "engine",
            Some(tid),
            LogKind::PlaybookReturned,
            outcome,
            String::new(),
        );
        if failed {
            self.fail(
                tid,
                now,
                "the called playbook ended through its exception handler".into(),
            );
        } else {
            self.succeed(tid, now);
        }
    }

    /// Out-args of a call land in the caller's variables (declared there if they were not).
    fn set_returned(
        &mut self,
        inv: usize,
        name: &str,
        value: String,
    ) -> Result<(), crate::vars::VarError> {
        let vars = &mut self.invocations[inv].vars;
        if vars.contains(name) {
            return vars.set(name, value);
        }
        vars.declare(name, Some(value), false);
        Ok(())
    }

    fn thread_ended(&mut self, tid: usize, now: Millis) {
        if let Some(parent) = self.threads[tid].parent {
            self.threads[tid].wait = Wait::Done;
            self.record(
                now,
                "engine",
                Some(tid),
                LogKind::BranchEnded,
                Outcome::Ok,
                String::new(),
            );
            self.child_done(parent, true, now);
            return;
        }
        let inv = self.threads[tid].inv;
        if self.invocations[inv].in_exception {
            let step = Some(self.threads[tid].cursor.clone());
            let reason = "a step failed; the workflow_exception handler ran".to_string();
            self.finish(
                now,
                RunStatus::Failed {
                    step,
                    reason,
                    exception_handled: true,
                },
            );
        } else {
            self.finish(now, RunStatus::Completed);
        }
    }

    fn child_done(&mut self, parent: usize, ok: bool, now: Millis) {
        let Wait::Children {
            pending,
            failed,
            deadline,
        } = self.threads[parent].wait.clone()
        else {
            return; // the parallel step already timed out
        };
        let (pending, failed) = (pending.saturating_sub(1), failed || !ok);
        if pending > 0 {
            self.threads[parent].wait = Wait::Children {
                pending,
                failed,
                deadline,
            };
            return;
        }
        self.threads[parent].wait = Wait::Ready;
        if failed {
            self.fail(parent, now, "a parallel branch failed".into());
        } else {
            self.succeed(parent, now);
        }
    }

    fn finish(&mut self, now: Millis, status: RunStatus) {
        let (kind, outcome, detail) = match &status {
            RunStatus::Completed => (LogKind::RunCompleted, Outcome::Ok, String::new()),
            RunStatus::Failed { reason, .. } => {
                (LogKind::RunFailed, Outcome::Failed, reason.clone())
            }
            RunStatus::BudgetExhausted { budget } => (
                LogKind::BudgetExhausted,
                Outcome::Failed,
                format!("stopped after {budget} steps"),
            ),
            RunStatus::Cancelled { reason, .. } => {
                (LogKind::RunCancelled, Outcome::Info, reason.clone())
            }
            RunStatus::Running => return,
        };
        let playbook = self.playbooks[0].id.clone();
        let who = match &status {
            RunStatus::Cancelled { by, .. } => by.clone(),
            _ => "engine".to_string(),
        };
        self.push_log(now, &who, playbook, None, kind, outcome, detail);
        self.status = status;
        let open: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|t| t.is_open())
            .map(|t| t.id)
            .collect();
        for id in open {
            self.cancel_task(id, now, "the run ended");
        }
        for thread in &mut self.threads {
            thread.wait = Wait::Done;
        }
    }

    fn exhaust_budget(&mut self, now: Millis) {
        let budget = self.options.step_budget;
        self.finish(now, RunStatus::BudgetExhausted { budget });
    }

    // ---- lookups --------------------------------------------------------------------------

    fn playbook_of(&self, tid: usize) -> &Playbook {
        &self.playbooks[self.invocations[self.threads[tid].inv].playbook]
    }

    fn current_step(&self, tid: usize) -> Option<Step> {
        self.playbook_of(tid)
            .workflow
            .get(&self.threads[tid].cursor)
            .cloned()
    }

    /// Playbook variables with the current step's variables over them.
    fn visible(&self, tid: usize) -> Vars {
        let thread = &self.threads[tid];
        self.invocations[thread.inv].vars.overlaid(&thread.locals)
    }

    fn parties(&self, tid: usize, step: &Step) -> (Option<Party>, Vec<Party>) {
        let playbook = self.playbook_of(tid);
        let agent = step.agent.as_ref().map(|id| Party {
            id: id.clone(),
            definition: playbook.agent_definitions.get(id).cloned(),
        });
        let targets = step
            .targets
            .iter()
            .map(|id| Party {
                id: id.clone(),
                definition: playbook.target_definitions.get(id).cloned(),
            })
            .collect();
        (agent, targets)
    }

    /// Who a step's log entries name: the owning team for actions, the engine otherwise.
    fn who(&self, tid: usize, step: &Step) -> String {
        match step.step_type {
            StepType::Action => self
                .options
                .teams
                .resolve(self.playbook_of(tid), step)
                .0
                .key()
                .to_string(),
            _ => "engine".to_string(),
        }
    }

    fn record(
        &mut self,
        at: Millis,
        who: &str,
        tid: Option<usize>,
        kind: LogKind,
        outcome: Outcome,
        detail: String,
    ) {
        let (playbook, step) = match tid {
            Some(t) => (
                self.playbook_of(t).id.clone(),
                Some(self.threads[t].cursor.clone()),
            ),
            None => (self.playbooks[0].id.clone(), None),
        };
        self.push_log(at, who, playbook, step, kind, outcome, detail);
    }

    #[allow(clippy::too_many_arguments)] // one flat log record; a builder would only hide it
    fn push_log(
        &mut self,
        at: Millis,
        who: &str,
        playbook: String,
        step: Option<String>,
        kind: LogKind,
        outcome: Outcome,
        detail: String,
    ) {
        self.log.push(LogEntry {
            seq: self.log.len(),
            at,
            who: who.to_string(),
            kind,
            playbook,
            step,
            outcome,
            detail,
        });
    }
}

fn party_name(party: &Party) -> String {
    party
        .definition
        .as_ref()
        .map(|d| d.name.clone())
        .unwrap_or_else(|| party.id.clone())
}

fn declared(playbook: &Playbook) -> Vars {
    let mut vars = Vars::new();
    for (name, var) in &playbook.playbook_variables {
        vars.declare(name, var.initial_value(), var.constant);
    }
    vars
}

/// The main playbook first, then every playbook reachable through playbook-action steps.
fn collect_playbooks(main: &Playbook, library: &Library) -> Result<Vec<Playbook>, RunError> {
    let mut out = vec![main.clone()];
    let mut i = 0;
    while i < out.len() {
        let calls: Vec<(String, String)> = out[i]
            .workflow
            .iter()
            .filter_map(|(id, s)| s.playbook_id.clone().map(|p| (id.clone(), p)))
            .collect();
        for (step, playbook_id) in calls {
            if out.iter().any(|p| p.id == playbook_id) {
                continue;
            }
            let found = library
                .get(&playbook_id)
                .ok_or_else(|| RunError::UnknownPlaybook {
                    step: step.clone(),
                    playbook_id: playbook_id.clone(),
                })?;
            out.push(found.clone());
        }
        i += 1;
    }
    Ok(out)
}
