//! The alert sink: the one process that groups alerts into incidents and writes them through
//! the [`Store`] trait.
//!
//! It holds the `sink` lease (a second sink waits until the first is gone), reads the alert
//! stream in order from its first message — rebuilding the grouper's state, which is small —
//! and stores what follows the stream position kept in the store (`detected_upto`, here the
//! alert stream's sequence) in one transaction per batch. Alert versions are told apart by
//! their message id; one seen before (a replay the stream's duplicate window no longer
//! caught) is dropped, so every alert and incident is stored once.

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::lease::{self, SINK_KEY};
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use onesec_incident::{Alert, Grouper, GrouperConfig, IncidentState};
use onesec_store::{DetectionBatch, IncidentFilter, Store};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::watch;

/// Most alerts stored per transaction.
const BATCH: usize = 256;

/// What the sink did, for its log line and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Alert versions applied.
    pub applied: u64,
    /// Versions dropped because their message id was seen before.
    pub duplicates: u64,
}

/// The sink over any store.
pub struct Sink<S: Store> {
    cluster: Cluster,
    store: S,
    grouper: Grouper,
    node: String,
    seen: HashSet<String>,
    counters: SinkCounters,
}

impl<S: Store> Sink<S> {
    /// A sink writing into `store`, grouping with `config`; applies the incident states
    /// people set and their merges and splits, as the embedded pipeline does on start.
    pub fn new(
        cluster: Cluster,
        store: S,
        config: GrouperConfig,
        node: String,
    ) -> Result<Sink<S>, ClusterError> {
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
            counters: SinkCounters::default(),
        })
    }

    /// Waits for the sink lease, then stores alerts until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<SinkCounters, ClusterError> {
        let period = self.cluster.settings.lease_ttl / 3;
        let mut held = loop {
            if let Some(held) = lease::acquire(&self.cluster.leases, SINK_KEY, &self.node).await? {
                break held;
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
        tracing::info!(stored, "sink lease taken: rebuilding incidents from the alert stream");
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
        let mut batch = DetectionBatch::default();
        let mut renew_at = tokio::time::Instant::now() + period;
        loop {
            if tokio::time::Instant::now() >= renew_at {
                held = lease::renew(&self.cluster.leases, SINK_KEY, &self.node, held, 0).await?;
                renew_at = tokio::time::Instant::now() + period;
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    self.commit(&mut batch)?;
                    lease::release(&self.cluster.leases, SINK_KEY, held).await;
                    return Ok(self.counters);
                }
                next = tokio::time::timeout(Duration::from_millis(250), messages.next()) => match next {
                    Err(_) => self.commit(&mut batch)?,
                    Ok(None) => return Err(ClusterError::js("consuming alerts", "the message stream ended")),
                    Ok(Some(Err(error))) => return Err(ClusterError::js("consuming alerts", error)),
                    Ok(Some(Ok(message))) => {
                        let (sequence, pending) = match message.info() {
                            Ok(info) => (info.stream_sequence, info.pending),
                            Err(error) => return Err(ClusterError::js("reading message info", error)),
                        };
                        self.apply(sequence, &message, stored, &mut batch)?;
                        if pending == 0 || batch.alerts.len() >= BATCH {
                            self.commit(&mut batch)?;
                        }
                    }
                }
            }
        }
    }

    /// Groups one alert version; keeps what changed for the store when it is past `stored`.
    fn apply(
        &mut self,
        sequence: u64,
        message: &async_nats::jetstream::Message,
        stored: u64,
        batch: &mut DetectionBatch,
    ) -> Result<(), ClusterError> {
        let id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_string());
        if let Some(id) = id
            && !self.seen.insert(id)
        {
            self.counters.duplicates += 1;
            return Ok(());
        }
        let alert: Alert = serde_json::from_slice(&message.payload).map_err(|e| ClusterError::BadMessage {
            sequence,
            what: "alert",
            reason: e.to_string(),
        })?;
        let change = self.grouper.apply(alert);
        self.counters.applied += 1;
        if sequence > stored {
            batch.alerts.extend(change.alert);
            batch.alerts.extend(change.also);
            batch.incidents.extend(change.incidents);
            batch.detected_upto = sequence;
        }
        Ok(())
    }

    fn commit(&mut self, batch: &mut DetectionBatch) -> Result<(), ClusterError> {
        if batch.detected_upto == 0 {
            return Ok(());
        }
        dedup_last(&mut batch.alerts, |a| a.id.clone());
        dedup_last(&mut batch.incidents, |i| i.id.clone());
        self.store
            .commit(batch)
            .map_err(|e| ClusterError::Store(e.to_string()))?;
        tracing::debug!(upto = batch.detected_upto, alerts = batch.alerts.len(), "alerts stored");
        *batch = DetectionBatch::default();
        Ok(())
    }
}

/// Keeps only the last occurrence of each key, in the order of those last occurrences.
fn dedup_last<T>(items: &mut Vec<T>, key: impl Fn(&T) -> String) {
    let mut seen = HashSet::new();
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..).rev() {
        if seen.insert(key(&item)) {
            kept.push(item);
        }
    }
    kept.reverse();
    *items = kept;
}
