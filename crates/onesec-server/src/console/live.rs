//! The live queue: open incidents with their cases, pushed to every console over server-sent
//! events (`GET /console/live`).
//!
//! One poller per server reads the open incidents and their cases, and only while at least one
//! console is connected: when detection moved on, when a request changed something through the
//! API ([`QueueFeed::nudge`]), once more a second after either (the response side opens cases
//! just after detection stores incidents), and every [`FULL_READ_EVERY`] in any case (deadline
//! escalations change cases with no request). It compares each reading with the previous one
//! and broadcasts what changed. Each connection first gets the whole queue (`snapshot`), then the changes
//! (`change`), both cut to the caller's site scope. A connection that falls behind the broadcast
//! gets a fresh snapshot instead of the changes it missed.

use super::ConsoleState;
use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use onesec_auth::Principal;
use onesec_incident::{Case, Incident, IncidentState};
use onesec_pipeline::Pipeline;
use onesec_store::{IncidentFilter, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the poller checks whether it should read the queue.
const TICK: Duration = Duration::from_millis(250);

/// A second reading this long after one that detection or a request caused.
const SETTLE: Duration = Duration::from_secs(1);

/// The queue is read at least this often while someone watches.
const FULL_READ_EVERY: Duration = Duration::from_secs(10);

/// At most this many open incidents are in the queue (the most recent by first event).
const QUEUE_LIMIT: usize = 20_000;

/// One line of the queue: an open incident and what people work it by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct QueueRow {
    pub id: String,
    pub title: String,
    /// `physical`, `cyber` or `hybrid`.
    pub domain: &'static str,
    /// The highest alert severity.
    pub severity: &'static str,
    pub state: &'static str,
    /// The case's priority, 1 most urgent … 5; from the severity while no case is open yet.
    pub priority: u8,
    /// Owner team key (`it_soc`, `physical_security`, …); empty while no case is open.
    pub team: String,
    pub assignee: Option<String>,
    pub category: &'static str,
    pub sites: Vec<String>,
    pub zones: Vec<String>,
    pub persons: Vec<String>,
    pub alerts: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Acknowledge by then (UTC ms), while not acknowledged.
    pub ack_due_ms: Option<i64>,
}

impl QueueRow {
    /// The row of an incident and its case.
    pub(crate) fn of(incident: &Incident, case: Option<&Case>) -> QueueRow {
        let e = &incident.entities;
        QueueRow {
            id: incident.id.clone(),
            title: incident.title.clone(),
            domain: incident.domain.as_str(),
            severity: incident.priority.as_str(),
            state: incident.state.as_str(),
            priority: case.map_or_else(
                || 5 - (incident.priority.id().clamp(1, 5) as u8 - 1),
                |c| c.priority.get(),
            ),
            team: case.map(|c| c.owner_team.clone()).unwrap_or_default(),
            assignee: case.and_then(|c| c.assignee.clone()),
            category: case.map_or("unclassified", |c| c.category.as_str()),
            sites: e.sites.iter().cloned().collect(),
            zones: e.zones.iter().cloned().collect(),
            persons: e.persons.iter().cloned().collect(),
            alerts: incident.active_alerts,
            first_ms: incident.first_ms,
            last_ms: incident.last_ms,
            ack_due_ms: case
                .filter(|c| c.acknowledged.is_none())
                .map(|c| c.ack_due_ms),
        }
    }

    /// Its last event's time, for people.
    pub(crate) fn last_seen(&self) -> String {
        super::utc(self.last_ms)
    }

    /// Whether `principal` sees this incident (the API's site-scope rule).
    pub(crate) fn visible_to(&self, principal: &Principal) -> bool {
        principal.sees_any_site(self.sites.iter().map(String::as_str))
    }

    /// The queue's order: most urgent priority, then highest severity, then latest activity.
    /// `console.js` sorts by the same key.
    pub(crate) fn rank(&self) -> (u8, std::cmp::Reverse<u8>, std::cmp::Reverse<i64>) {
        let severity = match self.severity {
            "critical" => 5,
            "high" => 4,
            "medium" => 3,
            "low" => 2,
            _ => 1,
        };
        (
            self.priority,
            std::cmp::Reverse(severity),
            std::cmp::Reverse(self.last_ms),
        )
    }
}

/// Whether an incident still waits for people (not resolved, closed, merged or withdrawn).
pub(crate) fn is_open(state: IncidentState) -> bool {
    OPEN_STATES.contains(&state)
}

/// The states of the queue; asked for one by one so resolved and closed incidents, which
/// pile up, are never read.
const OPEN_STATES: [IncidentState; 4] = [
    IncidentState::New,
    IncidentState::Acknowledged,
    IncidentState::InProgress,
    IncidentState::OnHold,
];

/// The open incidents and their cases, in queue order.
pub(crate) fn load_queue(store: &mut dyn Store) -> Result<Vec<QueueRow>, StoreError> {
    let mut rows = Vec::new();
    for state in OPEN_STATES {
        let filter = IncidentFilter {
            state: Some(state.as_str().to_string()),
            limit: Some(QUEUE_LIMIT),
            ..IncidentFilter::default()
        };
        for incident in store.incidents(&filter)? {
            let case = store.case(&incident.id)?;
            rows.push(QueueRow::of(&incident, case.as_ref()));
        }
    }
    rows.sort_by_key(QueueRow::rank);
    rows.truncate(QUEUE_LIMIT);
    Ok(rows)
}

/// What changed between two readings of the queue.
#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct Change {
    /// New or changed rows.
    pub upsert: Vec<QueueRow>,
    /// Ids that left the queue (resolved, closed, merged, withdrawn).
    pub remove: Vec<String>,
}

/// The change from `before` to `after`.
pub(crate) fn diff(before: &[QueueRow], after: &[QueueRow]) -> Change {
    let old: HashMap<&str, &QueueRow> = before.iter().map(|r| (r.id.as_str(), r)).collect();
    let new: HashMap<&str, &QueueRow> = after.iter().map(|r| (r.id.as_str(), r)).collect();
    Change {
        upsert: after
            .iter()
            .filter(|r| old.get(r.id.as_str()) != Some(r))
            .cloned()
            .collect(),
        remove: before
            .iter()
            .filter(|r| !new.contains_key(r.id.as_str()))
            .map(|r| r.id.clone())
            .collect(),
    }
}

/// The shared poller and its latest reading.
pub(crate) struct QueueFeed {
    pipeline: Arc<Pipeline>,
    latest: Mutex<Option<Arc<Vec<QueueRow>>>>,
    changes: broadcast::Sender<Arc<Change>>,
    polling: AtomicBool,
    nudged: AtomicBool,
}

impl QueueFeed {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Arc<QueueFeed> {
        let (changes, _) = broadcast::channel(256);
        Arc::new(QueueFeed {
            pipeline,
            latest: Mutex::new(None),
            changes,
            polling: AtomicBool::new(false),
            nudged: AtomicBool::new(false),
        })
    }

    /// A request may have changed an incident or case: read the queue at the next tick.
    pub(crate) fn nudge(&self) {
        self.nudged.store(true, Ordering::Release);
    }

    fn latest(&self) -> Option<Arc<Vec<QueueRow>>> {
        match self.latest.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_latest(&self, rows: Arc<Vec<QueueRow>>) {
        match self.latest.lock() {
            Ok(mut g) => *g = Some(rows),
            Err(poisoned) => *poisoned.into_inner() = Some(rows),
        }
    }

    /// Reads the queue now.
    async fn read(&self) -> Result<Arc<Vec<QueueRow>>, crate::api::ApiError> {
        let rows = crate::api::with_store(&self.pipeline, load_queue).await?;
        Ok(Arc::new(rows))
    }

    /// The queue as last read while someone watched, or read now.
    pub(crate) async fn snapshot(
        self: &Arc<Self>,
    ) -> Result<Arc<Vec<QueueRow>>, crate::api::ApiError> {
        if self.polling.load(Ordering::Acquire)
            && let Some(rows) = self.latest()
        {
            return Ok(rows);
        }
        let rows = self.read().await?;
        self.set_latest(rows.clone());
        Ok(rows)
    }

    /// A receiver of the changes and the queue to start from; starts the poller if it is idle.
    async fn subscribe(
        self: &Arc<Self>,
    ) -> Result<(broadcast::Receiver<Arc<Change>>, Arc<Vec<QueueRow>>), crate::api::ApiError> {
        let receiver = self.changes.subscribe();
        let rows = self.snapshot().await?;
        if !self.polling.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().poll());
        }
        Ok((receiver, rows))
    }

    /// Reads the queue when something may have changed (see the module doc) while anyone
    /// listens, and broadcasts the changes. Readings are at least twice their own duration
    /// apart, so a large queue cannot keep a core busy.
    async fn poll(self: Arc<Self>) {
        let mut seen_seq = self.pipeline.status().detected_seq;
        let mut last_read = tokio::time::Instant::now();
        let mut settle: Option<tokio::time::Instant> = None;
        let mut spacing = Duration::ZERO;
        loop {
            tokio::time::sleep(TICK.max(spacing)).await;
            if self.changes.receiver_count() == 0 {
                self.polling.store(false, Ordering::Release);
                // A console that subscribed between the check and the store started no
                // poller (it saw `polling` true): go on for it.
                if self.changes.receiver_count() == 0 || self.polling.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
            let seq = self.pipeline.status().detected_seq;
            let now = tokio::time::Instant::now();
            let moved = seq != seen_seq || self.nudged.swap(false, Ordering::AcqRel);
            let settling = settle.is_some_and(|at| now >= at);
            if !(moved || settling || now - last_read >= FULL_READ_EVERY) {
                continue;
            }
            seen_seq = seq;
            settle = moved.then(|| now + SETTLE);
            let started = std::time::Instant::now();
            self.read_and_broadcast().await;
            spacing = started.elapsed() * 2;
            last_read = tokio::time::Instant::now();
        }
    }

    async fn read_and_broadcast(&self) {
        match self.read().await {
            Ok(rows) => {
                let before = self.latest().unwrap_or_default();
                let change = diff(&before, &rows);
                self.set_latest(rows);
                if !(change.upsert.is_empty() && change.remove.is_empty()) {
                    let _ = self.changes.send(Arc::new(change));
                }
            }
            Err(error) => tracing::warn!(error = %error.1, "console queue could not be read"),
        }
    }
}

fn snapshot_event(rows: &[QueueRow], principal: &Principal) -> Event {
    let visible: Vec<&QueueRow> = rows.iter().filter(|r| r.visible_to(principal)).collect();
    Event::default()
        .event("snapshot")
        .json_data(&visible)
        .unwrap_or_else(|_| Event::default().event("snapshot").data("[]"))
}

/// The next SSE event for one connection: its share of the next change, or a new snapshot when
/// it fell behind; `None` when the server stops.
async fn next_event(
    feed: &Arc<QueueFeed>,
    receiver: &mut broadcast::Receiver<Arc<Change>>,
    principal: &Principal,
) -> Option<Event> {
    loop {
        match receiver.recv().await {
            Ok(change) => {
                let mine = Change {
                    upsert: change
                        .upsert
                        .iter()
                        .filter(|r| r.visible_to(principal))
                        .cloned()
                        .collect(),
                    remove: change.remove.clone(),
                };
                if mine.upsert.is_empty() && mine.remove.is_empty() {
                    continue;
                }
                return Event::default().event("change").json_data(&mine).ok();
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let rows = feed.latest().unwrap_or_default();
                return Some(snapshot_event(&rows, principal));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

fn events(
    feed: Arc<QueueFeed>,
    receiver: broadcast::Receiver<Arc<Change>>,
    principal: Principal,
    first: Event,
) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    let rest = stream::unfold(
        (feed, receiver, principal),
        |(feed, mut receiver, principal)| async move {
            let event = next_event(&feed, &mut receiver, &principal).await?;
            Some((Ok(event), (feed, receiver, principal)))
        },
    );
    stream::once(async move { Ok(first) }).chain(rest)
}

/// Whether the client asked for an event stream (`EventSource` always does).
fn wants_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// `GET /console/live`: the queue as server-sent events (`snapshot`, then `change`s). A client
/// that does not accept `text/event-stream` (a script, a test walking every route) gets the
/// snapshot alone and the answer ends, instead of a stream that never does.
pub(crate) async fn stream(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !wants_stream(&headers) {
        let rows = match console.feed.snapshot().await {
            Ok(rows) => rows,
            Err(error) => return error.into_response(),
        };
        let first = snapshot_event(&rows, &principal);
        return Sse::new(stream::once(async move {
            Ok::<_, std::convert::Infallible>(first)
        }))
        .into_response();
    }
    let (receiver, rows) = match console.feed.subscribe().await {
        Ok(subscribed) => subscribed,
        Err(error) => return error.into_response(),
    };
    let first = snapshot_event(&rows, &principal);
    let body = events(console.feed.clone(), receiver, principal, first);
    Sse::new(body)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_auth::Role;

    fn row(id: &str, priority: u8, severity: &'static str, last_ms: i64) -> QueueRow {
        QueueRow {
            id: id.into(),
            title: format!("incident {id}"),
            domain: "hybrid",
            severity,
            state: "new",
            priority,
            team: "it_soc".into(),
            assignee: None,
            category: "intrusion",
            sites: vec!["EDI".into()],
            zones: vec![],
            persons: vec![],
            alerts: 1,
            first_ms: 0,
            last_ms,
            ack_due_ms: None,
        }
    }

    #[test]
    fn the_queue_puts_the_most_urgent_first_then_severity_then_latest() {
        let mut rows = [
            row("a", 3, "critical", 10),
            row("b", 1, "low", 5),
            row("c", 3, "critical", 20),
            row("d", 3, "high", 99),
        ];
        rows.sort_by_key(QueueRow::rank);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a", "d"]);
    }

    #[test]
    fn a_change_names_new_and_changed_rows_and_the_ones_that_left() {
        let before = vec![row("a", 1, "high", 1), row("b", 2, "high", 1)];
        let mut acked = row("a", 1, "high", 1);
        acked.state = "acknowledged";
        let after = vec![acked.clone(), row("c", 2, "low", 3)];
        let change = diff(&before, &after);
        assert_eq!(change.upsert, vec![acked, row("c", 2, "low", 3)]);
        assert_eq!(change.remove, vec!["b".to_string()]);
        assert_eq!(diff(&after, &after), Change::default());
    }

    #[test]
    fn a_site_scoped_caller_sees_only_rows_of_its_sites() {
        let mtl = Principal {
            name: "guard".into(),
            role: Role::PhysicalOperator,
            sites: vec!["MTL".into()],
        };
        assert!(!row("a", 1, "high", 1).visible_to(&mtl));
        let mut at_mtl = row("b", 1, "high", 1);
        at_mtl.sites.push("MTL".into());
        assert!(at_mtl.visible_to(&mtl));
    }
}
