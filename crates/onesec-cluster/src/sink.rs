//! The alert sink: the one process that groups alerts into incidents and writes them through
//! the [`Store`] trait.
//!
//! Workers publish alerts as their partitions go, so the alert stream's order depends on
//! timing. The grouper's result depends on the order it sees alerts in, so the sink restores
//! the one order that does not depend on timing: the event stream's. Each alert carries the
//! sequence of the event (or watermark) message that produced it and its index among that
//! message's outputs (`Onesec-Trigger`). The sink holds alerts back until every partition has
//! applied the event stream up to a sequence (the *low watermark*: the smallest unapplied
//! sequence of any partition, minus one), then groups the alerts up to it in trigger order —
//! exactly the order one detector reading the whole stream would have produced them in.
//!
//! It holds the `sink` lease (a second sink waits until the first is gone), reads the alert
//! stream from its first message on start (rebuilding the grouper, which is small), and stores
//! what lies beyond the low watermark already stored (`detected_upto`, an event stream
//! sequence) in one transaction per round. Alert versions are told apart by their message id;
//! one seen before (a replay the stream's duplicate window no longer caught) is dropped, so
//! every alert and incident is stored once.

use crate::cluster::Cluster;
use crate::detect::TRIGGER_HEADER;
use crate::error::ClusterError;
use crate::renew::{LeaseBook, LeaseClock, spawn_renewer};
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use onesec_incident::{Alert, Changes, Grouper, GrouperConfig, IncidentState};
use onesec_store::{DetectionBatch, IncidentFilter, Store};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How often the sink looks at the partitions' progress when nothing else happens.
const ROUND: Duration = Duration::from_millis(250);

/// What the sink did, for its log line and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Alert versions grouped.
    pub applied: u64,
    /// Versions dropped because their message id was seen before.
    pub duplicates: u64,
}

/// The sink over any store: SQLite for one sink on one machine, PostgreSQL when a standby
/// sink on another machine must take over the same store, or readers elsewhere read it.
pub struct Sink {
    cluster: Cluster,
    store: Box<dyn Store>,
    grouper: Grouper,
    node: String,
    seen: HashSet<String>,
    /// Alerts read but not yet grouped, by (trigger sequence, output index).
    held: BTreeMap<(u64, u32), Alert>,
    /// Last alert stream sequence read.
    read_upto: u64,
    /// Event stream sequence up to which alerts were grouped.
    grouped_upto: u64,
    counters: SinkCounters,
}

impl Sink {
    /// A sink writing into `store`, grouping with `config`; applies the incident states
    /// people set and their merges and splits, as the embedded pipeline does on start.
    pub fn new(
        cluster: Cluster,
        store: Box<dyn Store>,
        config: GrouperConfig,
        node: String,
    ) -> Result<Sink, ClusterError> {
        let mut grouper = Grouper::new(config);
        for state in [
            IncidentState::Acknowledged,
            IncidentState::InProgress,
            IncidentState::OnHold,
            IncidentState::Resolved,
            IncidentState::Closed,
        ] {
            let filter = IncidentFilter {
                state: Some(state.as_str().into()),
                limit: Some(usize::MAX >> 2),
                ..IncidentFilter::default()
            };
            let incidents = store
                .incidents(&filter)
                .map_err(|e| ClusterError::Store(e.to_string()))?;
            for incident in incidents {
                grouper.set_state(&incident.id, state);
            }
        }
        for record in store
            .manual_ops()
            .map_err(|e| ClusterError::Store(e.to_string()))?
        {
            grouper.replay_manual(record.op);
        }
        Ok(Sink {
            cluster,
            store,
            grouper,
            node,
            seen: HashSet::new(),
            held: BTreeMap::new(),
            read_upto: 0,
            grouped_upto: 0,
            counters: SinkCounters::default(),
        })
    }

    /// Waits for the sink lease, then stores alerts until `shutdown` turns true.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<SinkCounters, ClusterError> {
        let period = self.cluster.settings.lease_ttl / 3;
        // The lease is renewed by a thread of its own (`crate::renew`): a round over many
        // partitions on a loaded machine must not hold the renewal up.
        let book = Arc::new(LeaseBook::for_sink(
            self.node.clone(),
            self.cluster.settings.lease_ttl,
        ));
        let lease = loop {
            if let Some(clock) = book.acquire(&self.cluster, 0).await? {
                break clock;
            }
            tokio::select! {
                _ = shutdown.changed() => return Ok(self.counters),
                _ = tokio::time::sleep(period) => {}
            }
        };
        let stored = self
            .store
            .detected_upto()
            .map_err(|e| ClusterError::Store(e.to_string()))?;
        tracing::info!(
            stored,
            "sink lease taken: rebuilding incidents from the alert stream"
        );
        let consumer = self
            .cluster
            .alerts
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::js("consuming alerts", e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| ClusterError::js("consuming alerts", e))?;
        let stop_renewer = Arc::new(AtomicBool::new(false));
        let renewer = spawn_renewer(book.clone(), self.cluster.clone(), stop_renewer.clone())
            .map_err(|e| ClusterError::js("starting the lease renewal thread", e))?;
        let result = loop {
            if let Err(error) = self.round(&mut messages, stored, &lease).await {
                break Err(error);
            }
            tokio::select! {
                _ = shutdown.changed() => break Ok(()),
                _ = tokio::time::sleep(ROUND) => {}
            }
        };
        book.release(&self.cluster, 0).await;
        stop_renewer.store(true, Ordering::Release);
        let _ = tokio::task::spawn_blocking(move || renewer.join()).await;
        result.map(|()| self.counters)
    }

    /// One round: find the low watermark, read every alert published so far, group and store
    /// those up to the watermark.
    async fn round(
        &mut self,
        messages: &mut pull::Ordered,
        stored: u64,
        lease: &LeaseClock,
    ) -> Result<(), ClusterError> {
        // The watermark first: every alert it covers was acknowledged before the checkpoints
        // it was computed from were written, so the alert stream's end read after it holds them.
        let low = low_watermark(&self.cluster).await?;
        let last = self
            .cluster
            .alerts
            .get_info()
            .await
            .map_err(|e| ClusterError::js("reading the alert stream", e))?
            .state
            .last_sequence;
        while self.read_upto < last {
            let next = tokio::time::timeout(Duration::from_secs(10), messages.next()).await;
            let message = match next {
                Err(_) => {
                    return Err(ClusterError::js(
                        "consuming alerts",
                        "no message within 10 s",
                    ));
                }
                Ok(None) => {
                    return Err(ClusterError::js(
                        "consuming alerts",
                        "the message stream ended",
                    ));
                }
                Ok(Some(Err(error))) => return Err(ClusterError::js("consuming alerts", error)),
                Ok(Some(Ok(message))) => message,
            };
            let sequence = message
                .info()
                .map_err(|e| ClusterError::js("reading message info", e))?
                .stream_sequence;
            self.hold(sequence, &message)?;
            self.read_upto = sequence;
        }
        if low > self.grouped_upto {
            // Fencing: store only while the sink lease is surely ours.
            lease.wait_valid(0).await?;
            self.group_upto(low, stored)?;
        }
        Ok(())
    }

    /// Keeps an alert version until the watermark passes its trigger; drops one seen before.
    fn hold(
        &mut self,
        sequence: u64,
        message: &async_nats::jetstream::Message,
    ) -> Result<(), ClusterError> {
        let header = |name: &str| crate::publish::header(message, name);
        let bad = |reason: String| ClusterError::BadMessage {
            sequence,
            what: "alert",
            reason,
        };
        let id = header(async_nats::header::NATS_MESSAGE_ID.as_ref())
            .ok_or_else(|| bad("no Nats-Msg-Id".into()))?;
        let trigger = header(TRIGGER_HEADER)
            .and_then(|t| parse_trigger(&t))
            .ok_or_else(|| bad(format!("no valid {TRIGGER_HEADER} header")))?;
        if !self.seen.insert(id) {
            self.counters.duplicates += 1;
            return Ok(());
        }
        let alert: Alert =
            serde_json::from_slice(&message.payload).map_err(|e| bad(e.to_string()))?;
        self.held.insert(trigger, alert);
        Ok(())
    }

    /// Groups the held alerts triggered up to `low`, in trigger order, and stores what lies
    /// beyond `stored` with `low` as the new position, in one transaction.
    fn group_upto(&mut self, low: u64, stored: u64) -> Result<(), ClusterError> {
        let later = self.held.split_off(&(low + 1, 0));
        let ready = std::mem::replace(&mut self.held, later);
        let mut changes = Changes::default();
        for ((trigger, _), alert) in ready {
            let change = self.grouper.apply(alert);
            self.counters.applied += 1;
            if trigger > stored {
                changes.take(change);
            }
        }
        self.grouped_upto = low;
        if low <= stored {
            return Ok(());
        }
        let (alerts, incidents) = changes.into_lists();
        let batch = DetectionBatch {
            detected_upto: low,
            alerts,
            incidents,
            ..DetectionBatch::default()
        };
        self.store
            .commit(&batch)
            .map_err(|e| ClusterError::Store(e.to_string()))?;
        tracing::debug!(upto = low, alerts = batch.alerts.len(), "alerts stored");
        Ok(())
    }
}

fn parse_trigger(text: &str) -> Option<(u64, u32)> {
    let (sequence, index) = text.split_once('.')?;
    Some((sequence.parse().ok()?, index.parse().ok()?))
}

/// The highest event stream sequence every partition has applied: the smallest sequence any
/// partition still has to apply, minus one (the stream's last sequence when none lags).
pub async fn low_watermark(cluster: &Cluster) -> Result<u64, ClusterError> {
    let settings = &cluster.settings;
    // Read the stream's end before the counts and checkpoints: whatever arrives later lies
    // beyond it and cannot lower the answer.
    let mut low = cluster
        .events
        .get_info()
        .await
        .map_err(|e| ClusterError::js("reading the event stream", e))?
        .state
        .last_sequence;
    let counts = crate::status::subject_counts(cluster).await?;
    let checkpoints = crate::status::read_checkpoints(cluster).await?;
    for (partition, checkpoint) in (0..settings.partitions).zip(checkpoints) {
        let subject = settings.events_subject(partition);
        let messages = counts.get(&subject).copied().unwrap_or(0);
        if messages <= checkpoint.applied_count {
            continue;
        }
        let next = cluster
            .events
            .raw_message_builder()
            .sequence(checkpoint.applied_seq + 1)
            .next_by_subject(subject)
            .send()
            .await
            .map_err(|e| {
                ClusterError::js(format!("finding partition {partition}'s next message"), e)
            })?;
        low = low.min(next.sequence.saturating_sub(1));
    }
    Ok(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_order_by_sequence_then_output_index() {
        assert_eq!(parse_trigger("42.0"), Some((42, 0)));
        assert_eq!(parse_trigger("42.3"), Some((42, 3)));
        assert_eq!(parse_trigger("42"), None);
        assert_eq!(parse_trigger("x.1"), None);
        let mut held = BTreeMap::new();
        for trigger in ["10.1", "9.0", "10.0", "100.0"] {
            held.insert(parse_trigger(trigger), trigger);
        }
        let order: Vec<&str> = held.into_values().collect();
        assert_eq!(order, ["9.0", "10.0", "10.1", "100.0"]);
    }
}
