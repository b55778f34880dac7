//! `onesec drill run`: a scenario replayed through the real pipeline — decode, resolve, journal,
//! detection, incidents, playbooks — in its own data folder, in exercise mode.
//!
//! Every event carries `exercise = true` (and the scenario and inject it came from) in its
//! fields; every incident's case is opened with the category `exercise`; `[response] exercise`
//! is set, so connectors withhold every action and record it as simulated. Scenario time is the
//! [`FacilitatorClock`], which the response side reads as well, so deadlines, SLA and the
//! teams' acknowledgements are in the same time as the injects.

use crate::clock::{FacilitatorClock, Pace, PauseControl};
use crate::inject::{Delivery, expand};
use crate::record::{ActionRun, IncidentRun, InjectRun, RunRecord, SeenAlert, TaskRun};
use crate::scenario::{Checked, Trainee, parse_duration};
use onesec_decode::Format;
use onesec_incident::{Alert, Incident};
use onesec_pipeline::response::Clock as _;
use onesec_pipeline::{Config, Pipeline};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The run could not be carried out (not a low score: something that stopped it).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline did not start in the data folder.
    #[error("pipeline in {path}: {reason}")]
    Start {
        /// Data folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The scenario's directory could not be prepared.
    #[error("directory of the scenario: {0}")]
    Directory(String),
    /// The async runtime for ingest could not be built.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The journal refused a delivery (nothing was acknowledged).
    #[error("journal refused the records of {what} at {at}: {reason}")]
    Journal {
        /// Inject id or `background`.
        what: String,
        /// Scenario time.
        at: String,
        /// Why.
        reason: String,
    },
    /// Detection did not keep up.
    #[error("detection did not catch up within {0:?}")]
    Detection(Duration),
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The pipeline's data folder (a fresh one per run; the caller picks a temporary folder).
    pub data_dir: PathBuf,
    /// How fast scenario time runs.
    pub pace: Pace,
    /// The facilitator's pause control.
    pub pause: PauseControl,
    /// Scenario time between two looks at incidents, tasks and timers (default one minute).
    pub step_ms: i64,
    /// Play the scenario's scripted trainees (off: the teams work the incidents themselves).
    pub trainees: bool,
    /// The configuration the pipeline starts from (rules, response connectors...): the data
    /// folder, the directory and exercise mode are set by the run.
    pub base_config: Config,
}

impl RunOptions {
    /// As fast as possible, scripted trainees, the default configuration.
    pub fn new(data_dir: PathBuf) -> RunOptions {
        RunOptions {
            data_dir,
            pace: Pace::AsFastAsPossible,
            pause: PauseControl::default(),
            step_ms: 60_000,
            trainees: true,
            base_config: Config::default(),
        }
    }
}

/// Rule key (what alerts carry) → rule name, of the rules the configuration loads.
fn rule_names(config: &Config) -> BTreeMap<String, String> {
    let Ok((rules, _)) = onesec_pipeline::load_rules(&config.rules) else {
        return BTreeMap::new();
    };
    rules
        .rules()
        .iter()
        .filter_map(|r| Some((r.meta.key().to_string(), r.meta.name.clone()?)))
        .collect()
}

const SOURCE: &str = "drill";

/// Runs a validated scenario and returns what happened.
pub fn run(checked: &Checked, options: &RunOptions) -> Result<RunRecord, RunError> {
    run_observed(checked, options, |_| {})
}

/// [`run`], calling `started` with the pipeline before the first record goes in (the CLI
/// serves the drill's API and console from it, so trainees can work the incidents live).
pub fn run_observed(
    checked: &Checked,
    options: &RunOptions,
    started: impl FnOnce(&Arc<Pipeline>),
) -> Result<RunRecord, RunError> {
    let began = Instant::now();
    let scenario = &checked.scenario;
    let directory = scenario
        .directory_for_pipeline(&options.data_dir.join("drill-directory"))
        .map_err(|e| RunError::Directory(e.to_string()))?;
    let mut config = options.base_config.clone();
    config.data_dir = options.data_dir.clone();
    config.directory = Some(directory);
    config.response.exercise = true;
    let names = rule_names(&config);
    let clock = Arc::new(FacilitatorClock::new(checked.start_ms, options.pace));
    let pipeline =
        Pipeline::start_with_clock(config, clock.clone()).map_err(|e| RunError::Start {
            path: options.data_dir.clone(),
            reason: e.to_string(),
        })?;
    let pipeline = Arc::new(pipeline);
    started(&pipeline);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deliveries = timeline(checked, options.step_ms).map_err(RunError::Directory)?;
    let mut session = Session {
        checked,
        options,
        pipeline: &pipeline,
        clock: &clock,
        runtime: &runtime,
        injects: BTreeMap::new(),
        background_events: 0,
        background_refused: Vec::new(),
        seen: BTreeMap::new(),
        order: Vec::new(),
    };
    let result = session.play(&deliveries);
    let record = result.and_then(|()| session.finish(began, names));
    pipeline.shutdown();
    record
}

/// Background records (grouped by step and format) and inject records, in time order.
fn timeline(checked: &Checked, step_ms: i64) -> Result<Vec<Delivery>, String> {
    let scenario = &checked.scenario;
    let end = checked.start_ms + checked.duration_ms;
    let mut deliveries = Vec::new();
    if let Some(profile) = &scenario.background {
        let directory = scenario.load_directory().map_err(|e| e.to_string())?;
        let population = crate::generator::Population::from_directory(&directory);
        let step = step_ms.max(1);
        let mut buckets: BTreeMap<(i64, &str), Vec<String>> = BTreeMap::new();
        for record in population.background(profile, checked.start_ms, end) {
            // A record is sent at the end of its step, never before it happened.
            let offset = record.at_ms - checked.start_ms;
            let due = (checked.start_ms + (offset / step + 1) * step).min(end);
            buckets
                .entry((due, record.format))
                .or_default()
                .push(record.line);
        }
        for ((at_ms, format), lines) in buckets {
            deliveries.push(Delivery {
                at_ms,
                inject: None,
                format: format.to_string(),
                header: None,
                lines,
            });
        }
    }
    for inject in &scenario.injects {
        deliveries.extend(expand(checked, inject));
    }
    deliveries.sort_by_key(|d| (d.at_ms, d.inject.is_some()));
    Ok(deliveries)
}

struct Session<'a> {
    checked: &'a Checked,
    options: &'a RunOptions,
    pipeline: &'a Pipeline,
    clock: &'a FacilitatorClock,
    runtime: &'a tokio::runtime::Runtime,
    injects: BTreeMap<String, InjectRun>,
    background_events: u64,
    background_refused: Vec<String>,
    seen: BTreeMap<String, i64>,
    order: Vec<String>,
}

impl Session<'_> {
    /// Walks scenario time from start to end: delivers what is due, then lets the teams
    /// (scripted or real) and the timers act, at every step.
    fn play(&mut self, deliveries: &[Delivery]) -> Result<(), RunError> {
        let start = self.checked.start_ms;
        let end = start + self.checked.duration_ms;
        let step = self.options.step_ms.max(1);
        let mut stops: BTreeSet<i64> = (0..=self.checked.duration_ms / step)
            .map(|k| start + k * step)
            .collect();
        stops.insert(end);
        stops.extend(deliveries.iter().map(|d| d.at_ms).filter(|t| *t <= end));
        let mut next = 0;
        for stop in stops {
            self.wait_until(stop);
            let mut delivered = false;
            while next < deliveries.len() && deliveries[next].at_ms <= stop {
                self.deliver(&deliveries[next])?;
                next += 1;
                delivered = true;
            }
            if delivered {
                self.wait_detected()?;
            }
            // A running clock is already past `stop`: the teams act at the time it shows.
            self.look(self.clock.now_ms());
        }
        Ok(())
    }

    /// Waits until scenario time reaches `at` (at once when as fast as possible), honouring
    /// the facilitator's pause.
    fn wait_until(&self, at: i64) {
        loop {
            let paused = self.options.pause.apply(self.clock);
            if !paused {
                match self.clock.pace() {
                    Pace::AsFastAsPossible => {
                        self.clock.advance_to(at);
                        return;
                    }
                    Pace::Factor(factor) => {
                        let left = at - self.clock.now_ms();
                        if left <= 0 {
                            return;
                        }
                        let wall = (left as f64 / factor).clamp(1.0, 200.0);
                        std::thread::sleep(Duration::from_millis(wall as u64));
                        continue;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn deliver(&mut self, delivery: &Delivery) -> Result<(), RunError> {
        let format: Format = delivery.format.parse().unwrap_or(Format::Auto);
        let mut body = String::new();
        if let Some(header) = &delivery.header {
            body.push_str(header);
            body.push('\n');
        }
        for line in &delivery.lines {
            body.push_str(line);
            body.push('\n');
        }
        let ingestor = self.pipeline.ingestor();
        let ctx = ingestor.decode_context(SOURCE);
        let mut decoded = onesec_decode::decode_bytes(&format, body.as_bytes(), &ctx);
        let what = delivery.inject.as_deref().unwrap_or("background");
        for event in &mut decoded.events {
            mark_exercise(event, &self.checked.scenario.name, what);
        }
        let refused: Vec<String> = decoded
            .errors
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason))
            .collect();
        let report = self.runtime.block_on(ingestor.ingest_decoded(
            decoded.events,
            decoded.errors,
            format.name(),
            SOURCE,
        ));
        if let Some(reason) = report.journal_error {
            return Err(RunError::Journal {
                what: what.to_string(),
                at: onesec_event::format_time_ms(delivery.at_ms),
                reason,
            });
        }
        let ids: Vec<u64> = match (report.first_id, report.last_id) {
            (Some(first), Some(last)) => (first..=last).collect(),
            _ => Vec::new(),
        };
        match &delivery.inject {
            Some(id) => {
                let entry = self.injects.entry(id.clone()).or_insert_with(|| InjectRun {
                    id: id.clone(),
                    at_ms: delivery.at_ms,
                    event_ids: Vec::new(),
                    refused: Vec::new(),
                });
                entry.event_ids.extend(ids);
                entry.refused.extend(refused);
            }
            None => {
                self.background_events += ids.len() as u64;
                self.background_refused.extend(refused);
            }
        }
        Ok(())
    }

    fn wait_detected(&self) -> Result<(), RunError> {
        let limit = Duration::from_secs(60);
        if self.pipeline.wait_detected(limit) {
            Ok(())
        } else {
            Err(RunError::Detection(limit))
        }
    }

    /// Notes new alerts, lets the scripted trainees act and fires the response timers.
    fn look(&mut self, now: i64) {
        let alerts = self
            .pipeline
            .read_store(|s| s.alerts(None, usize::MAX >> 2))
            .unwrap_or_default();
        for alert in alerts {
            if !self.seen.contains_key(&alert.id) {
                self.seen.insert(alert.id.clone(), now);
                self.order.push(alert.id);
            }
        }
        if self.options.trainees {
            for trainee in &self.checked.scenario.trainees {
                self.play_trainee(trainee, now);
            }
        }
        self.pipeline.responses().tick();
    }

    fn play_trainee(&self, trainee: &Trainee, now: i64) {
        let who = format!("drill:{}", trainee.team);
        let responses = self.pipeline.responses();
        if let Some(after) = trainee
            .acknowledge_after
            .as_deref()
            .and_then(parse_duration)
        {
            for incident in self.open_incidents() {
                let Ok((view, _)) = responses.case(&incident.id) else {
                    continue;
                };
                let case = &view.case;
                if case.owner_team == trainee.team
                    && case.acknowledged.is_none()
                    && case.opened_ms + after <= now
                    && let Err(error) =
                        responses.acknowledge(&incident.id, &who, "scripted trainee")
                {
                    tracing::warn!(incident = %incident.id, %error, "scripted acknowledgement refused");
                }
            }
        }
        if let Some(after) = trainee
            .complete_tasks_after
            .as_deref()
            .and_then(parse_duration)
        {
            let tasks = responses.tasks(None, false).unwrap_or_default();
            for task in tasks
                .iter()
                .filter(|t| t.team == trainee.team && t.state == "open")
            {
                let created = i64::try_from(task.created_at).unwrap_or(i64::MAX);
                if created.saturating_add(after) <= now
                    && let Err(error) = responses.decide(&task.id, true, &who, "scripted trainee")
                {
                    tracing::warn!(task = %task.id, %error, "scripted task decision refused");
                }
            }
        }
    }

    fn open_incidents(&self) -> Vec<Incident> {
        let filter = onesec_store::IncidentFilter {
            state: Some("new".into()),
            limit: Some(usize::MAX >> 2),
            ..onesec_store::IncidentFilter::default()
        };
        self.pipeline
            .read_store(|s| s.incidents(&filter))
            .unwrap_or_default()
    }

    fn finish(
        &mut self,
        began: Instant,
        rule_names: BTreeMap<String, String>,
    ) -> Result<RunRecord, RunError> {
        self.wait_detected()?;
        let alerts = self
            .pipeline
            .read_store(|s| s.alerts(None, usize::MAX >> 2))
            .unwrap_or_default();
        let mut by_id: BTreeMap<String, Alert> =
            alerts.into_iter().map(|a| (a.id.clone(), a)).collect();
        let alerts: Vec<SeenAlert> = self
            .order
            .iter()
            .filter_map(|id| {
                by_id.remove(id).map(|alert| SeenAlert {
                    seen_ms: self.seen[id],
                    alert,
                })
            })
            .collect();
        let filter = onesec_store::IncidentFilter {
            all: true,
            limit: Some(usize::MAX >> 2),
            ..onesec_store::IncidentFilter::default()
        };
        let incidents = self
            .pipeline
            .read_store(|s| s.incidents(&filter))
            .unwrap_or_default();
        let incidents = incidents
            .into_iter()
            .map(|i| self.incident_run(i))
            .collect();
        let unmarked_events = self.unmarked_events();
        let end_ms = self.checked.start_ms + self.checked.duration_ms;
        Ok(RunRecord {
            scenario: self.checked.scenario.name.clone(),
            start_ms: self.checked.start_ms,
            end_ms,
            pace: match self.options.pace {
                Pace::AsFastAsPossible => "as fast as possible".into(),
                Pace::Factor(f) => format!("{f} x real time"),
            },
            injects: std::mem::take(&mut self.injects).into_values().collect(),
            background_events: self.background_events,
            background_refused: std::mem::take(&mut self.background_refused),
            alerts,
            incidents,
            unmarked_events,
            rule_names,
            wall_ms: began.elapsed().as_millis() as u64,
        })
    }

    fn incident_run(&self, incident: Incident) -> IncidentRun {
        let responses = self.pipeline.responses();
        let (case, history) = match responses.case(&incident.id) {
            Ok((view, history)) => (Some(view.case), history),
            Err(_) => (None, Vec::new()),
        };
        let (tasks, actions, notified_ms) = match responses.run_view(&incident.id) {
            Ok(run) => {
                let decided = |step: &str, from: u64| {
                    run.log
                        .iter()
                        .find(|l| {
                            l.step.as_deref() == Some(step)
                                && l.at >= from
                                && (l.kind == "task_approved" || l.kind == "task_rejected")
                        })
                        .map(|l| i64::try_from(l.at).unwrap_or(i64::MAX))
                };
                let tasks = run
                    .tasks
                    .iter()
                    .map(|t| TaskRun {
                        team: t.team.clone(),
                        step: t.step_name.clone().unwrap_or_else(|| t.step.clone()),
                        created_ms: i64::try_from(t.created_at).unwrap_or(i64::MAX),
                        deadline_ms: t.deadline.and_then(|d| i64::try_from(d).ok()),
                        state: t.state.clone(),
                        decided_ms: decided(&t.step, t.created_at),
                    })
                    .collect();
                let actions = run
                    .actions
                    .iter()
                    .map(|a| ActionRun {
                        at_ms: a.at_ms,
                        step: a.step.clone(),
                        command: a.command.clone(),
                        mode: a.mode.clone(),
                        outcome: a.outcome.clone(),
                    })
                    .collect();
                let notified = run
                    .log
                    .iter()
                    .find(|l| l.kind == "playbook_called")
                    .and_then(|l| i64::try_from(l.at).ok());
                (tasks, actions, notified)
            }
            Err(_) => (Vec::new(), Vec::new(), None),
        };
        IncidentRun {
            incident,
            case,
            history,
            tasks,
            actions,
            notified_ms,
        }
    }

    /// Events in the store that do not carry the exercise mark (read in pages).
    fn unmarked_events(&self) -> u64 {
        const PAGE: usize = 10_000;
        let mut unmarked = 0u64;
        let mut after = 0;
        loop {
            let filter = onesec_store::EventFilter {
                after_id: Some(after),
                limit: Some(PAGE),
                ..onesec_store::EventFilter::default()
            };
            let Ok(events) = self.pipeline.read_store(|s| s.events(&filter)) else {
                return u64::MAX;
            };
            unmarked += events
                .iter()
                .filter(|e| e.fields.get("exercise") != Some("true"))
                .count() as u64;
            match events.iter().map(|e| e.id).max() {
                Some(last) if events.len() == PAGE => after = last,
                _ => return unmarked,
            }
        }
    }
}

/// Marks an event as part of an exercise: `exercise = true`, the scenario and the inject (or
/// `background`) in its fields, journaled with it.
pub fn mark_exercise(event: &mut onesec_event::Event, scenario: &str, inject: &str) {
    event.fields.insert("exercise", "true");
    event.fields.insert("drill.scenario", scenario);
    event.fields.insert("drill.inject", inject);
}
