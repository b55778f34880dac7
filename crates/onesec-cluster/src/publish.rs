//! The ingest role: resolved events onto their partition subjects, acknowledged only once
//! JetStream has stored them.
//!
//! Decoding stays where it is (`onesec-decode`); this module takes decoded events, resolves
//! them against the directory (once, at ingest, as in the embedded pipeline), publishes each
//! to `<prefix>.events.<partition>` of every partition its routes need
//! ([`crate::partition::copies`]) and waits for every publish acknowledgement before it
//! reports the batch as accepted. An event whose acknowledgements did not all come is not
//! reported: the sender must send it again.
//!
//! Two steps per batch: the primary copies first, whose stream sequences become the event
//! ids, then the site copies, each naming its event id (`Onesec-Event-Id`), so every copy of
//! an event is known by the same id and alerts are the same whichever copy they came from.
//!
//! Every message carries a `Nats-Msg-Id` made of the batch's random id and its place in the
//! batch. A message whose acknowledgement did not come (a timeout, a dropped connection) is
//! published again with the same id, up to [`PUBLISH_ATTEMPTS`] times: when the first copy was
//! stored and only its acknowledgement was lost, the stream drops the second one as a duplicate
//! (within its duplicate window, two minutes by default) and acknowledges it with the first
//! one's sequence, so a retry never stores an event twice nor gives it two ids.

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::partition::{Roles, copies};
use async_nats::HeaderMap;
use onesec_directory::SharedDirectory;
use onesec_event::Event;
use serde::Serialize;

/// Header of a watermark message: the event time (UTC ms) the input as a whole reached.
pub const WATERMARK_HEADER: &str = "Onesec-Watermark";
/// Header of an event message: the routes it runs through ([`Roles::as_header`]). A message
/// without it is a primary copy.
pub const ROLES_HEADER: &str = "Onesec-Roles";
/// Header of a site copy: the event id (stream sequence of its primary copy).
pub const EVENT_ID_HEADER: &str = "Onesec-Event-Id";

/// How many times a message is published before its batch is refused (the first time and two
/// retries).
pub const PUBLISH_ATTEMPTS: usize = 3;

/// Pause before the first retry; doubled before each further one.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// What a publish achieved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// Events JetStream acknowledged.
    pub accepted: usize,
    /// Stream sequence of each accepted event's primary copy, in the order given (the event
    /// ids).
    pub sequences: Vec<u64>,
    /// Messages published for them (an event's primary and site copies).
    pub messages: usize,
    /// Highest stream sequence among those messages (0 when none): once the low watermark
    /// reaches it, every copy of the batch has been through detection.
    pub highest_sequence: u64,
    /// Newest event time among them (UTC ms), 0 when none.
    pub max_time_ms: i64,
}

/// A header of a stream message, as text.
pub(crate) fn header(message: &async_nats::jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
}

/// One message to publish: where, which routes, and (site copies) the event id.
struct Message {
    partition: u16,
    roles: Roles,
    event_id: Option<u64>,
    /// Index of its body among the batch's payloads.
    payload: usize,
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

    /// The cluster it publishes to.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
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

    /// Publishes events resolved elsewhere (benchmarks, an ingest that resolved them already)
    /// and waits for every acknowledgement: the primary copies, then the site copies
    /// naming the primary copies' sequences.
    pub async fn publish_resolved(&self, events: &[Event]) -> Result<PublishReport, ClusterError> {
        self.publish_resolved_as(events, &new_batch_id()).await
    }

    /// [`Publisher::publish_resolved`] under a batch id of the caller's: publishing the same
    /// events again under the same id within the stream's duplicate window stores nothing new
    /// and reports the same sequences (what a retry after a lost acknowledgement does).
    pub async fn publish_resolved_as(
        &self,
        events: &[Event],
        batch: &str,
    ) -> Result<PublishReport, ClusterError> {
        let partitions = self.cluster.settings.partitions;
        let routes: Vec<Vec<(u16, Roles)>> = events.iter().map(|e| copies(e, partitions)).collect();
        let payloads = events
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClusterError::js("encoding an event", e))?;
        let mut report = PublishReport::default();
        let primaries: Vec<Message> = routes
            .iter()
            .enumerate()
            .map(|(index, copies)| Message {
                partition: copies[0].0,
                roles: copies[0].1,
                event_id: None,
                payload: index,
            })
            .collect();
        report.sequences = self
            .publish_all(&primaries, &payloads, &format!("{batch}-p"))
            .await?;
        let mut site_copies = Vec::new();
        for (index, copies) in routes.iter().enumerate() {
            for (partition, roles) in &copies[1..] {
                site_copies.push(Message {
                    partition: *partition,
                    roles: *roles,
                    event_id: Some(report.sequences[index]),
                    payload: index,
                });
            }
        }
        let site = self
            .publish_all(&site_copies, &payloads, &format!("{batch}-s"))
            .await?;
        report.accepted = events.len();
        report.messages = report.sequences.len() + site.len();
        report.highest_sequence = report
            .sequences
            .iter()
            .chain(&site)
            .copied()
            .max()
            .unwrap_or(0);
        report.max_time_ms = events.iter().map(|e| e.time_ms).max().unwrap_or(0);
        Ok(report)
    }

    /// Publishes `messages` (bodies from `payloads`), pipelined, and returns their stream
    /// sequences once every acknowledgement came, in order. Message `i` has the id
    /// `{ids}-{i}`; those not acknowledged are published again (see the module's text).
    async fn publish_all(
        &self,
        messages: &[Message],
        payloads: &[Vec<u8>],
        ids: &str,
    ) -> Result<Vec<u64>, ClusterError> {
        let mut sequences: Vec<Option<u64>> = vec![None; messages.len()];
        let mut pause = RETRY_PAUSE;
        for attempt in 1..=PUBLISH_ATTEMPTS {
            let round = self
                .publish_round(messages, payloads, ids, &mut sequences)
                .await;
            match round {
                Ok(()) => break,
                Err(error) if attempt == PUBLISH_ATTEMPTS => return Err(error),
                Err(error) => {
                    let waiting = sequences.iter().filter(|s| s.is_none()).count();
                    tracing::warn!(%error, waiting, attempt, "publishing again the messages not acknowledged");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        Ok(sequences.into_iter().flatten().collect())
    }

    /// Publishes the messages that have no sequence yet and records the sequences that come;
    /// the first error once every acknowledgement it waited for came or failed.
    async fn publish_round(
        &self,
        messages: &[Message],
        payloads: &[Vec<u8>],
        ids: &str,
        sequences: &mut [Option<u64>],
    ) -> Result<(), ClusterError> {
        let mut pending = Vec::new();
        let mut first_error = None;
        for (index, message) in messages.iter().enumerate() {
            if sequences[index].is_some() {
                continue;
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("{ids}-{index}").as_str(),
            );
            headers.insert(ROLES_HEADER, message.roles.as_header());
            if let Some(id) = message.event_id {
                headers.insert(EVENT_ID_HEADER, id.to_string().as_str());
            }
            let sent = self
                .cluster
                .js
                .publish_with_headers(
                    self.cluster.settings.events_subject(message.partition),
                    headers,
                    payloads[message.payload].clone().into(),
                )
                .await;
            match sent {
                Ok(ack) => pending.push((index, ack)),
                Err(error) => {
                    first_error = Some(ClusterError::js("publishing an event", error));
                    break;
                }
            }
        }
        for (index, ack) in pending {
            match ack.await {
                Ok(ack) => sequences[index] = Some(ack.sequence),
                Err(error) => {
                    first_error.get_or_insert_with(|| {
                        ClusterError::js("waiting for an event's acknowledgement", error)
                    });
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
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

/// A batch id no other batch of any process uses within the stream's duplicate window: 128
/// random bits, as hex.
fn new_batch_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: the time and the process keep ids apart all the same.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    hex::encode(bytes)
}
