//! Detection: the journal, in order, through the Sigma engine and the incident grouper into the
//! store.
//!
//! One thread owns the engine, the grouper and the store's writer connection. It reads durable
//! records from the journal in sequence order, so after a crash it rebuilds exactly the state it
//! had: on start it restores the last detection snapshot (`crate::snapshot`) when there is a
//! usable one and replays the journal from the record after it, else from its first retained
//! record, processing records up to the store's `detected_upto` only to rebuild state (their
//! results are already stored), and storing everything after. Alert and incident ids are
//! deterministic, so nothing is stored twice.

use crate::handoff::ParsedEvents;
use crate::metrics::Metrics;
use crate::record::EventRecord;
use crate::snapshot::DetectionSnapshot;
use onesec_event::{Domain, Event, EventId, Severity};
use onesec_incident::{Alert, AlertStatus, Entities, Grouper, Incident, IncidentState};
use onesec_journal::{Journal, JournalReader, Position};
use onesec_sigma::{Engine, LogSource, Output};
use onesec_store::{DetectionBatch, ManualRecord, Store};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most journal records handled per store transaction.
const CHUNK: usize = 4096;

/// Entities gathered so far for one alert (alerts grow as correlations absorb events): what
/// turns the engine's alert into the product's, for the embedded detector and for cluster
/// workers alike.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct AlertFacts {
    entities: Entities,
    event_domains: Option<Domain>,
    seen: HashSet<EventId>,
}

impl AlertFacts {
    /// Whether the alert's entities already include `id`'s.
    pub fn has_seen(&self, id: EventId) -> bool {
        self.seen.contains(&id)
    }

    /// Adds an event of the alert: its entities and its domain.
    pub fn add_event(&mut self, event: &Event) {
        self.entities.add_event(event);
        let domain = event.domain();
        self.event_domains = Some(self.event_domains.map_or(domain, |d| d.join(domain)));
        self.seen.insert(event.id);
    }

    /// The product alert of an engine alert with the entities gathered so far.
    pub fn alert(&self, sigma: onesec_sigma::Alert, status: AlertStatus) -> Alert {
        Alert {
            id: sigma.id,
            rule_id: sigma.rule_id,
            title: sigma.title,
            description: sigma.description.unwrap_or_default(),
            author: sigma.author.unwrap_or_default(),
            tags: sigma.tags,
            severity: Severity::parse(sigma.level.as_str()).unwrap_or(Severity::Medium),
            domain: rule_domain(&sigma.logsources, self.event_domains),
            status,
            group: sigma.group,
            event_ids: sigma.event_ids,
            first_ms: sigma.first_time_ms,
            last_ms: sigma.last_time_ms,
            entities: self.entities.clone(),
            incident_id: None,
            repeat_of: None,
            repeats: 0,
            last_repeat_ms: None,
        }
    }
}

/// What the rest of onesec asks of the grouper, which only the detection thread touches.
pub(crate) enum GrouperMsg {
    /// A person changed an incident's state (closed incidents stop taking alerts).
    State(String, IncidentState),
    /// A merge or split by hand: applied, stored with the incidents it changed in one
    /// transaction, and answered with those incidents (or why it was refused).
    Manual {
        record: ManualRecord,
        reply: std::sync::mpsc::Sender<Result<Vec<Incident>, crate::RegroupError>>,
    },
}

/// The detection stage, run on its own thread by [`Detector::run`].
pub struct Detector {
    pub(crate) engine: Engine,
    pub(crate) grouper: Grouper,
    pub(crate) journal: Journal,
    pub(crate) store: Box<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) detected: Arc<AtomicU64>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) grouper_inbox: std::sync::mpsc::Receiver<GrouperMsg>,
    /// Operations by hand kept from before are retried until the rebuild has passed the
    /// stored position; after that, whatever never applied is dropped.
    rebuilding: bool,
    facts: HashMap<String, AlertFacts>,
    /// Kept between chunks: opening a reader scans its segment from the start.
    reader: Option<JournalReader>,
    /// Parsed events the ingestor handed over, so most records need no JSON parse.
    parsed: Arc<ParsedEvents>,
    /// The handed-over events from the next sequence on.
    ready: std::collections::VecDeque<Event>,
    /// Incidents opened or changed by each stored batch go here (the response worker).
    pub(crate) incidents_out: Option<std::sync::mpsc::Sender<Vec<onesec_incident::Incident>>>,
    /// Batches sent to the response worker and not yet handled by it (see `spawn_worker`).
    pub(crate) responses_pending: Arc<AtomicU64>,
    /// The source key of the current event (reused buffer), see [`source_key`].
    source_buf: String,
    /// Where and how often the state is saved (none: never).
    pub(crate) snapshots: Option<SnapshotPolicy>,
    /// The state covers the journal up to this sequence (restored from a snapshot; 0: none).
    resume_after: EventId,
    /// Events handled since the last snapshot, and when it was written.
    since_snapshot: u64,
    last_snapshot: Instant,
    /// The sequence the last snapshot covers.
    snapshot_upto: EventId,
}

/// When the detection thread saves its state (`[detection] snapshot_every`,
/// `snapshot_every_events`; always at a clean stop).
#[derive(Debug, Clone)]
pub(crate) struct SnapshotPolicy {
    /// The snapshot file.
    pub path: PathBuf,
    /// After this many events (0: not by count).
    pub every_events: u64,
    /// After this much wall time with events handled (none: not by time).
    pub every: Option<Duration>,
    /// The grouper's settings, kept in the snapshot.
    pub window_ms: i64,
    pub open_min: String,
}

/// State restored from a detection snapshot.
pub(crate) struct Resumed {
    pub upto: EventId,
    pub facts: HashMap<String, AlertFacts>,
}

impl Detector {
    /// Counts an event that arrives later than the allowed lateness behind the engine's
    /// watermark, in total and for its input.
    fn count_if_late(&mut self, event: &Event) -> bool {
        let late = self.engine.is_late(event.time_ms);
        if late {
            Metrics::add(&self.metrics.late_events, 1);
            let source = self.metrics.sources.get(&event.source.input);
            Metrics::add(&source.late, 1);
        }
        late
    }

    /// A detector; call [`Detector::run`] on a dedicated thread.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        engine: Engine,
        grouper: Grouper,
        journal: Journal,
        store: Box<dyn Store>,
        metrics: Arc<Metrics>,
        detected: Arc<AtomicU64>,
        stop: Arc<AtomicBool>,
        grouper_inbox: std::sync::mpsc::Receiver<GrouperMsg>,
        parsed: Arc<ParsedEvents>,
    ) -> Detector {
        Detector {
            engine,
            grouper,
            journal,
            store,
            metrics,
            detected,
            stop,
            grouper_inbox,
            rebuilding: true,
            facts: HashMap::new(),
            reader: None,
            parsed,
            ready: std::collections::VecDeque::new(),
            incidents_out: None,
            responses_pending: Arc::default(),
            source_buf: String::new(),
            snapshots: None,
            resume_after: 0,
            since_snapshot: 0,
            last_snapshot: Instant::now(),
            snapshot_upto: 0,
        }
    }

    /// Continues from a restored snapshot: the engine and the grouper given to
    /// [`Detector::new`] hold its state, which covers the journal up to `resumed.upto`.
    pub(crate) fn resume(&mut self, resumed: Resumed) {
        self.resume_after = resumed.upto;
        self.snapshot_upto = resumed.upto;
        self.facts = resumed.facts;
    }

    /// Saves the state, which covers the journal up to `upto`, when the policy says it is
    /// time (`force`: at a clean stop).
    fn maybe_snapshot(&mut self, upto: EventId, force: bool) {
        let Some(policy) = &self.snapshots else {
            return;
        };
        if upto <= self.snapshot_upto {
            return;
        }
        let due = force
            || (policy.every_events > 0 && self.since_snapshot >= policy.every_events)
            || policy
                .every
                .is_some_and(|every| self.last_snapshot.elapsed() >= every);
        if !due {
            return;
        }
        let started = Instant::now();
        let written = self.write_snapshot(upto);
        self.since_snapshot = 0;
        self.last_snapshot = Instant::now();
        match written {
            Ok(bytes) => {
                self.snapshot_upto = upto;
                tracing::info!(
                    upto,
                    bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "detection snapshot written"
                );
            }
            Err(error) => tracing::warn!(%error, upto, "detection snapshot not written"),
        }
    }

    /// Writes the snapshot file; its size.
    fn write_snapshot(&mut self, upto: EventId) -> Result<usize, String> {
        let Some(policy) = &self.snapshots else {
            return Ok(0);
        };
        // Every operation by hand in the store is applied or waiting in the grouper (only
        // this thread stores them).
        let manual_seq = self
            .store
            .manual_ops()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.seq)
            .max()
            .unwrap_or(0);
        let snapshot = DetectionSnapshot {
            upto,
            manual_seq,
            window_ms: policy.window_ms,
            open_min: policy.open_min.clone(),
            engine: self.engine.snapshot(),
            grouper: self.grouper.save_state().map_err(|e| e.to_string())?,
            facts: serde_json::to_vec(&self.facts).map_err(|e| e.to_string())?,
        };
        snapshot.write(&policy.path).map_err(|e| e.to_string())?;
        Ok(snapshot.engine.len() + snapshot.grouper.len() + snapshot.facts.len())
    }

    /// Follows the journal until asked to stop.
    pub fn run(mut self) {
        let stored_upto = match self.store.detected_upto() {
            Ok(upto) => upto,
            Err(error) => {
                tracing::error!(%error, "cannot read detected_upto; detection stopped");
                return;
            }
        };
        let mut next = self
            .journal
            .first_sequence()
            .max(1)
            .max(self.resume_after + 1);
        if self.resume_after > 0 {
            tracing::info!(
                snapshot_upto = self.resume_after,
                stored_upto,
                "detection state restored from the snapshot; replaying the journal after it"
            );
        }
        if stored_upto >= next {
            tracing::info!(
                from = next,
                upto = stored_upto,
                "rebuilding detection state from the journal"
            );
        }
        let subscription = self.journal.subscribe();
        while !self.stop.load(Ordering::Relaxed) {
            self.apply_state_changes();
            if self.journal.last_sequence() < next {
                if self.rebuilding && next > stored_upto {
                    self.finish_rebuild();
                }
                self.detected.store(next - 1, Ordering::Release);
                subscription.wait_beyond(next - 1, Duration::from_millis(200));
                continue;
            }
            match self.process_chunk(next, stored_upto) {
                Ok(last) => {
                    self.since_snapshot += last + 1 - next;
                    next = last + 1;
                    self.maybe_snapshot(last, false);
                }
                Err(error) => {
                    Metrics::add(&self.metrics.store_errors, 1);
                    tracing::error!(%error, "detection step failed; retrying");
                    // The engine may have taken part of the chunk, which the retry feeds
                    // again: from now on the state is not one a snapshot may record.
                    if self.snapshots.take().is_some() {
                        tracing::warn!(
                            "detection snapshots stop until the next start (a failed step may have fed the engine twice)"
                        );
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        self.maybe_snapshot(next - 1, true);
    }

    /// Detection has caught up with what was stored before the start.
    fn finish_rebuild(&mut self) {
        self.rebuilding = false;
        let dropped = self.grouper.rebuilt();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "merges or splits by hand whose incidents the journal no longer holds were not applied again"
            );
        }
    }

    fn apply_state_changes(&mut self) {
        while let Ok(message) = self.grouper_inbox.try_recv() {
            match message {
                GrouperMsg::State(id, state) => self.grouper.set_state(&id, state),
                GrouperMsg::Manual { record, reply } => {
                    let _ = reply.send(self.apply_manual(record));
                }
            }
        }
    }

    /// Applies a merge or split by hand and stores what it changed with the operation.
    /// Hands incidents to the response worker, counted until it has handled them.
    fn send_incidents(&self, incidents: Vec<Incident>) {
        if let Some(out) = &self.incidents_out {
            self.responses_pending.fetch_add(1, Ordering::AcqRel);
            if out.send(incidents).is_err() {
                // No worker any more (shutting down): nothing will take this batch.
                self.responses_pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn apply_manual(&mut self, record: ManualRecord) -> Result<Vec<Incident>, crate::RegroupError> {
        let change = self.grouper.manual(&record.op)?;
        let mut changed = onesec_incident::Changes::default();
        changed.take(change);
        let (alerts, incidents) = changed.into_lists();
        let batch = DetectionBatch {
            alerts,
            incidents,
            manual_ops: vec![record],
            ..DetectionBatch::default()
        };
        if let Err(error) = self.store.commit(&batch) {
            Metrics::add(&self.metrics.store_errors, 1);
            tracing::error!(%error, "an operation by hand was applied but not stored");
            return Err(crate::RegroupError::Store(error.to_string()));
        }
        self.send_incidents(batch.incidents.clone());
        Ok(batch.incidents)
    }

    /// Processes up to [`CHUNK`] records from `from`; returns the last sequence handled.
    fn process_chunk(&mut self, from: EventId, stored_upto: EventId) -> Result<EventId, String> {
        // Reuse the reader of the previous chunk when it stands at `from` (after a failed
        // step it has moved on, so a fresh one is opened and the records are read again).
        let reader = match &mut self.reader {
            Some(reader) if reader.next_sequence() == from => reader,
            slot => slot.insert(self.journal.reader(from).map_err(|e| e.to_string())?),
        };
        let mut chunk: Vec<Event> = Vec::with_capacity(CHUNK);
        // Where each event's record lies: the store keeps these instead of a second copy.
        let mut positions: Vec<Position> = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            match reader.try_next_located() {
                Ok(Some((seq, payload, at))) => {
                    if let Some(event) = handed_over(&mut self.ready, &self.parsed, seq) {
                        chunk.push(event);
                        positions.push(at);
                        continue;
                    }
                    Metrics::add(&self.metrics.events_reparsed, 1);
                    match serde_json::from_slice::<Event>(&payload) {
                        Ok(mut event) => {
                            event.id = seq;
                            chunk.push(event);
                            positions.push(at);
                        }
                        Err(error) => {
                            tracing::error!(seq, %error, "journal record is not an event; skipped")
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    self.reader = None;
                    return Err(error.to_string());
                }
            }
        }
        let next_sequence = reader.next_sequence();
        let Some(last) = chunk.last().map(|e| e.id) else {
            return Ok(from.saturating_sub(1).max(next_sequence.saturating_sub(1)));
        };
        let index: HashMap<EventId, usize> =
            chunk.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        let mut batch = DetectionBatch {
            detected_upto: last,
            ..DetectionBatch::default()
        };
        let now = crate::ingest::now_ms();
        let mut changed = onesec_incident::Changes::default();
        for event in &chunk {
            if self.rebuilding && event.id > stored_upto {
                self.finish_rebuild();
            }
            let late = self.count_if_late(event);
            source_key(event, &mut self.source_buf);
            if late && event.id > stored_upto {
                batch.late.push(onesec_store::LateEvent {
                    id: event.id,
                    time_ms: event.time_ms,
                    watermark_ms: self.engine.watermark().unwrap_or(event.time_ms),
                    source: self.source_buf.clone(),
                });
            }
            let outputs = self.engine.process_from(
                &self.source_buf,
                event.received_ms,
                event.id,
                &EventRecord(event),
            );
            for output in outputs {
                if let Some(alert) = self.product_alert(output, &chunk, &index) {
                    changed.take(self.grouper.apply(alert));
                }
            }
            if event.received_ms > 0 {
                let latency_us = (now - event.received_ms).max(0) as u64 * 1000;
                Metrics::add(&self.metrics.latency_us_sum, latency_us);
            }
        }
        Metrics::add(&self.metrics.events_detected, chunk.len() as u64);
        if last > stored_upto {
            let keep = chunk.iter().position(|e| e.id > stored_upto).unwrap_or(0);
            batch.journal_positions = positions.split_off(keep);
            batch.events = chunk.split_off(keep);
            (batch.alerts, batch.incidents) = changed.into_lists();
            self.store.commit(&batch).map_err(|e| e.to_string())?;
            if !batch.incidents.is_empty() {
                self.send_incidents(batch.incidents);
            }
        }
        self.detected.store(last, Ordering::Release);
        Ok(last)
    }

    /// Turns an engine output into the stored alert, with entities and domain.
    fn product_alert(
        &mut self,
        output: Output,
        chunk: &[Event],
        index: &HashMap<EventId, usize>,
    ) -> Option<Alert> {
        let (sigma, status) = match output {
            Output::Fired(a) | Output::Updated(a) => {
                Metrics::add(&self.metrics.alerts, 1);
                (a, AlertStatus::Active)
            }
            Output::Withdrawn { alert_id } => {
                Metrics::add(&self.metrics.alerts_withdrawn, 1);
                let mut previous = self.grouper.alert(&alert_id)?.clone();
                previous.status = AlertStatus::Withdrawn;
                return Some(previous);
            }
        };
        let known = self.facts.get(&sigma.id);
        let missing: Vec<EventId> = sigma
            .event_ids
            .iter()
            .copied()
            .filter(|id| known.is_none_or(|f| !f.has_seen(*id)))
            .collect();
        let outside: Vec<EventId> = missing
            .iter()
            .copied()
            .filter(|id| !index.contains_key(id))
            .collect();
        let from_store = if outside.is_empty() {
            Vec::new()
        } else {
            self.store.events_by_ids(&outside).unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read events for alert entities");
                Vec::new()
            })
        };
        let in_chunk = missing
            .iter()
            .filter_map(|id| index.get(id).map(|&i| &chunk[i]));
        // A single-event alert is fired once and never updated or withdrawn, so its facts are
        // not kept: only correlation alerts, which grow, need theirs again (and the map and
        // the snapshot would otherwise grow by one entry per alert forever).
        if sigma.kind == onesec_sigma::AlertKind::Single {
            let mut facts = AlertFacts::default();
            in_chunk.for_each(|event| facts.add_event(event));
            from_store.iter().for_each(|event| facts.add_event(event));
            return Some(facts.alert(sigma, status));
        }
        let facts = self.facts.entry(sigma.id.clone()).or_default();
        for event in in_chunk.chain(from_store.iter()) {
            facts.add_event(event);
        }
        Some(facts.alert(sigma, status))
    }
}

/// The source an event's watermark is kept for: the input it arrived by and the product that
/// emitted it (`syslog-udp/linux`, `mqtt/onvif`), so that one product's clock running ahead
/// does not make another's events late. Not finer (device by device): the engine looks at every
/// active source for each event.
pub fn source_key(event: &Event, out: &mut String) {
    out.clear();
    out.push_str(&event.source.input);
    out.push('/');
    out.push_str(&event.source.product);
}

/// The parsed event the ingestor handed over for journal record `seq`, if it did.
fn handed_over(
    ready: &mut std::collections::VecDeque<Event>,
    parsed: &ParsedEvents,
    seq: EventId,
) -> Option<Event> {
    if ready.front().is_none_or(|e| e.id != seq) {
        *ready = parsed.take_from(seq);
    }
    ready.front().filter(|e| e.id == seq)?;
    ready.pop_front()
}

/// Physical or cyber from the rule's log sources, joined with the events' own domains. A rule
/// that looks at a physical source (even one whose events must be absent) and a cyber one is
/// hybrid.
fn rule_domain(logsources: &[LogSource], events: Option<Domain>) -> Domain {
    let from_rules = logsources
        .iter()
        .filter_map(logsource_domain)
        .reduce(Domain::join);
    match (from_rules, events) {
        (Some(a), Some(b)) => a.join(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => Domain::Cyber,
    }
}

/// The world a Sigma log source belongs to, when it says.
pub fn logsource_domain(logsource: &LogSource) -> Option<Domain> {
    const PHYSICAL_CATEGORIES: [&str; 6] = [
        "physical_access",
        "door",
        "video_analytics",
        "intrusion_alarm",
        "device_health",
        "alarm",
    ];
    const PHYSICAL_PRODUCTS: [&str; 3] = ["onvif", "access_control", "frigate"];
    if let Some(category) = logsource.category.as_deref() {
        let physical = PHYSICAL_CATEGORIES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(category));
        return Some(if physical {
            Domain::Physical
        } else {
            Domain::Cyber
        });
    }
    match logsource.product.as_deref() {
        Some(p) if PHYSICAL_PRODUCTS.iter().any(|c| c.eq_ignore_ascii_case(p)) => {
            Some(Domain::Physical)
        }
        Some(p) if !p.eq_ignore_ascii_case("onesec") => Some(Domain::Cyber),
        _ => None,
    }
}
