//! The ingest role: resolved events onto their partition subjects, acknowledged only once
//! JetStream has stored them.
//!
//! Decoding stays where it is (`onesec-decode`); this module takes decoded events, resolves
//! them against the directory (once, at ingest, as in the embedded pipeline), publishes each
//! to `<prefix>.events.<partition>` and waits for every publish acknowledgement before it
//! reports the batch as accepted. An event whose acknowledgement did not come is not
//! reported: the sender must send it again.

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::partition::partition_of_event;
use async_nats::HeaderMap;
use onesec_directory::SharedDirectory;
use onesec_event::Event;
use serde::Serialize;

/// Header of a watermark message: the event time (UTC ms) the input as a whole reached.
pub const WATERMARK_HEADER: &str = "Onesec-Watermark";

/// What a publish achieved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// Events JetStream acknowledged.
    pub accepted: usize,
    /// Stream sequence of each accepted event, in the order given (the event ids).
    pub sequences: Vec<u64>,
    /// Newest event time among them (UTC ms), 0 when none.
    pub max_time_ms: i64,
}

/// Publishes resolved events to their partitions.
#[derive(Clone)]
pub struct Publisher {
    cluster: Cluster,
    directory: SharedDirectory,
    /// Person identifiers replaced by keyed pseudonyms after resolution (docs/privacy.md).
    pseudonyms: Option<onesec_directory::Pseudonyms>,
}

impl Publisher {
    /// A publisher resolving against `directory`.
    pub fn new(cluster: Cluster, directory: SharedDirectory) -> Publisher {
        Publisher {
            cluster,
            directory,
            pseudonyms: None,
        }
    }

    /// Publishes events with person identifiers replaced by this key's pseudonyms, as the
    /// embedded ingestor does with `[privacy.pseudonymisation]`.
    pub fn with_pseudonyms(mut self, pseudonyms: Option<onesec_directory::Pseudonyms>) -> Self {
        self.pseudonyms = pseudonyms;
        self
    }

    /// Resolves `events` (received at `received_ms`), publishes them and waits for every
    /// acknowledgement. On an error nothing after the failing event counts as accepted.
    pub async fn publish(
        &self,
        mut events: Vec<Event>,
        received_ms: i64,
    ) -> Result<PublishReport, ClusterError> {
        let directory = self.directory.current();
        for event in &mut events {
            if event.received_ms == 0 {
                event.received_ms = received_ms;
            }
            directory.resolve(event);
        }
        if let Some(pseudonyms) = &self.pseudonyms {
            let table = pseudonyms.table(&directory);
            events
                .iter_mut()
                .for_each(|event| table.pseudonymise(event));
        }
        self.publish_resolved(&events).await
    }

    /// Publishes events resolved elsewhere (benchmarks, a future ingest that resolved them
    /// already) and waits for every acknowledgement.
    pub async fn publish_resolved(&self, events: &[Event]) -> Result<PublishReport, ClusterError> {
        let partitions = self.cluster.settings.partitions;
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
            let subject = self
                .cluster
                .settings
                .events_subject(partition_of_event(event, partitions));
            let payload =
                serde_json::to_vec(event).map_err(|e| ClusterError::js("encoding an event", e))?;
            let ack = self
                .cluster
                .js
                .publish(subject, payload.into())
                .await
                .map_err(|e| ClusterError::js("publishing an event", e))?;
            pending.push(ack);
        }
        let mut report = PublishReport::default();
        // Publishes are pipelined; the acknowledgements are awaited in order.
        for (ack, event) in pending.into_iter().zip(events) {
            let ack = ack
                .await
                .map_err(|e| ClusterError::js("waiting for an event's acknowledgement", e))?;
            report.accepted += 1;
            report.sequences.push(ack.sequence);
            report.max_time_ms = report.max_time_ms.max(event.time_ms);
        }
        Ok(report)
    }

    /// Tells every partition that the input reached event time `time_ms`, so partitions with
    /// few events still close their fixed windows (see `docs/cluster.md`, "Watermarks").
    pub async fn publish_watermark(&self, time_ms: i64) -> Result<(), ClusterError> {
        let mut pending = Vec::new();
        for partition in 0..self.cluster.settings.partitions {
            let mut headers = HeaderMap::new();
            headers.insert(WATERMARK_HEADER, time_ms.to_string().as_str());
            let ack = self
                .cluster
                .js
                .publish_with_headers(
                    self.cluster.settings.events_subject(partition),
                    headers,
                    Vec::new().into(),
                )
                .await
                .map_err(|e| ClusterError::js("publishing a watermark", e))?;
            pending.push(ack);
        }
        for ack in pending {
            ack.await
                .map_err(|e| ClusterError::js("waiting for a watermark's acknowledgement", e))?;
        }
        Ok(())
    }
}
