//! One partition through the Sigma engine, from its checkpoint.
//!
//! A new owner rebuilds the partition's correlation state by reading the partition from the
//! start of the stream through a fresh engine (the engine is deterministic, so this is the
//! state the previous owner had), and publishes only what follows the checkpoint: the alerts
//! of messages at or before the checkpoint's sequence were published (and acknowledged) before
//! the checkpoint was written. Alerts of messages after the checkpoint that a dead owner had
//! already published come out again with the same message id and are dropped by the alert
//! stream and by the sink. Nothing is lost (the checkpoint only moves after the alerts are
//! acknowledged) and nothing is stored twice.
//!
//! The checkpoint is written with a revision check: if another worker wrote it since, this one
//! lost the partition and stops.
//!
//! A partition runs two engines, one per [`Route`]: primary copies of events go through the
//! primary engine, whose single-event and by-person alerts are kept; site copies through the
//! site engine, whose other correlation alerts are kept. A message carrying both routes goes
//! through both. Each engine's kept alerts are built by an alert builder of its own, so a
//! withdrawal reaches only the engine whose alert it withdraws.

use crate::alerts::{AlertBuilder, message_id};
use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::lease::partition_key;
use crate::partition::{Roles, Route};
use crate::publish::{EVENT_ID_HEADER, ROLES_HEADER, WATERMARK_HEADER};
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use onesec_event::{Event, EventId};
use onesec_pipeline::EventRecord;
use onesec_sigma::{Engine, EngineConfig, Output, RuleSet};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::watch;

/// Header of an alert message: `<event stream sequence>.<output index>` of the message whose
/// processing produced it, the order the sink groups alerts in.
pub const TRIGGER_HEADER: &str = "Onesec-Trigger";

/// Most messages applied between two checkpoints.
const CHECKPOINT_EVERY: u64 = 512;
/// Events of a partition kept in memory for alert entities (a worker may run hundreds of
/// partitions, so a few thousand each); older ones are read back from the stream when an alert
/// names them.
const KEPT_EVENTS: usize = 4_096;
/// How long the partition may sit idle with an unwritten checkpoint.
const IDLE_FLUSH: Duration = Duration::from_millis(250);

/// How far a partition has been applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Stream sequence of the last message applied (its alerts acknowledged).
    pub applied_seq: u64,
    /// Messages of the partition applied up to there (for the lag).
    pub applied_count: u64,
    /// Node that wrote it.
    pub node: String,
    /// When (UTC ms).
    pub updated_ms: i64,
}

/// What every partition task of a worker shares.
pub struct PartitionContext {
    /// The cluster.
    pub cluster: Cluster,
    /// Rules, cloned into each partition's engine.
    pub rules: RuleSet,
    /// Engine settings (allowed lateness).
    pub engine: EngineConfig,
    /// This worker's node id.
    pub node: String,
}

/// Reads a partition's checkpoint and the KV revision it is at (`None`: never written).
pub async fn read_checkpoint(
    checkpoints: &kv::Store,
    partition: u16,
) -> Result<(Checkpoint, Option<u64>), ClusterError> {
    let key = partition_key(partition);
    let entry = checkpoints
        .entry(&key)
        .await
        .map_err(|e| ClusterError::js(format!("reading checkpoint {key}"), e))?;
    match entry {
        Some(entry) if entry.operation == kv::Operation::Put => {
            let checkpoint =
                serde_json::from_slice(&entry.value).map_err(|e| ClusterError::BadMessage {
                    sequence: entry.revision,
                    what: "checkpoint",
                    reason: e.to_string(),
                })?;
            Ok((checkpoint, Some(entry.revision)))
        }
        _ => Ok((Checkpoint::default(), None)),
    }
}

/// The rules of one route in a partition: an engine and the alerts it keeps.
struct Lane {
    route: Route,
    engine: Engine,
    builder: AlertBuilder,
}

impl Lane {
    fn new(rules: RuleSet, engine: EngineConfig, route: Route) -> Lane {
        Lane {
            route,
            engine: Engine::new(rules, engine),
            builder: AlertBuilder::default(),
        }
    }

    /// Both lanes of a partition. Compiling a rule set is CPU work of milliseconds: done on
    /// the blocking pool, so a worker taking many partitions at once does not hold up its
    /// lease renewals (a renewal held up past the TTL loses every lease).
    async fn both(ctx: &PartitionContext) -> Result<[Lane; 2], ClusterError> {
        let (rules, engine) = (ctx.rules.clone(), ctx.engine);
        tokio::task::spawn_blocking(move || {
            [
                Lane::new(rules.clone(), engine, Route::Primary),
                Lane::new(rules, engine, Route::Site),
            ]
        })
        .await
        .map_err(|e| ClusterError::js("building the partition's engines", e))
    }

    /// Whether this lane publishes `output`: alerts of its route, and withdrawals (the
    /// builder only knows alerts this lane built).
    fn keeps(&self, output: &Output) -> bool {
        match output {
            Output::Fired(alert) | Output::Updated(alert) => Route::of(alert) == self.route,
            Output::Withdrawn { .. } => true,
        }
    }
}

/// State of one partition while it runs.
struct Partition<'a> {
    ctx: &'a PartitionContext,
    partition: u16,
    /// Primary route, then site route.
    lanes: [Lane; 2],
    /// Recent events by id, for alert entities.
    events: HashMap<EventId, Event>,
    order: VecDeque<EventId>,
    /// Alerts of messages up to here were published by an earlier owner.
    published_upto: u64,
    applied: Checkpoint,
    revision: Option<u64>,
    unacked: Vec<PublishAckFuture>,
    since_flush: u64,
}

/// Runs `partition` until `stop` turns true or the partition is lost.
pub async fn run_partition(
    ctx: &PartitionContext,
    partition: u16,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ClusterError> {
    let (checkpoint, revision) = read_checkpoint(&ctx.cluster.checkpoints, partition).await?;
    tracing::info!(
        partition,
        from = checkpoint.applied_seq,
        "partition taken: rebuilding state from the stream"
    );
    let mut state = Partition {
        ctx,
        partition,
        lanes: Lane::both(ctx).await?,
        events: HashMap::new(),
        order: VecDeque::new(),
        published_upto: checkpoint.applied_seq,
        applied: Checkpoint {
            applied_seq: 0,
            applied_count: 0,
            node: ctx.node.clone(),
            updated_ms: 0,
        },
        revision,
        unacked: Vec::new(),
        since_flush: 0,
    };
    let consumer = ctx
        .cluster
        .events
        .create_consumer(pull::OrderedConfig {
            filter_subject: ctx.cluster.settings.events_subject(partition),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| ClusterError::js(format!("consuming partition {partition}"), e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| ClusterError::js(format!("consuming partition {partition}"), e))?;
    loop {
        tokio::select! {
            _ = stop.changed() => {
                state.flush().await?;
                return Ok(());
            }
            next = tokio::time::timeout(IDLE_FLUSH, messages.next()) => match next {
                Err(_) => state.flush().await?,
                Ok(None) => return Err(ClusterError::js(format!("consuming partition {partition}"), "the message stream ended")),
                Ok(Some(Err(error))) => return Err(ClusterError::js(format!("consuming partition {partition}"), error)),
                Ok(Some(Ok(message))) => {
                    let (sequence, pending) = match message.info() {
                        Ok(info) => (info.stream_sequence, info.pending),
                        Err(error) => return Err(ClusterError::js("reading message info", error)),
                    };
                    state.apply(sequence, &message).await?;
                    // Matching is CPU work between awaits that are often ready at once: let the
                    // lease renewals and the connection's own task run between messages.
                    tokio::task::yield_now().await;
                    if pending == 0 || state.since_flush >= CHECKPOINT_EVERY {
                        state.flush().await?;
                    }
                }
            }
        }
    }
}

impl Partition<'_> {
    /// Runs one stream message through the engines of the routes it carries and publishes
    /// what they fire (unless an earlier owner already did).
    async fn apply(
        &mut self,
        sequence: u64,
        message: &async_nats::jetstream::Message,
    ) -> Result<(), ClusterError> {
        let header = |name: &str| crate::publish::header(message, name);
        let bad = |reason: String| ClusterError::BadMessage {
            sequence,
            what: "event",
            reason,
        };
        let watermark = header(WATERMARK_HEADER).and_then(|v| v.parse::<i64>().ok());
        let mut outputs = Vec::new();
        match watermark {
            Some(time_ms) => {
                for (lane, state) in self.lanes.iter_mut().enumerate() {
                    let fired = state.engine.advance_watermark(time_ms);
                    outputs.extend(fired.into_iter().map(|o| (lane, o)));
                }
            }
            None => {
                let roles = match header(ROLES_HEADER) {
                    None => Roles::PRIMARY,
                    Some(text) => Roles::parse(&text)
                        .ok_or_else(|| bad(format!("{ROLES_HEADER} {text:?} names no route")))?,
                };
                // A site copy is known by its primary copy's sequence, as is every alert of it.
                let id = match header(EVENT_ID_HEADER) {
                    None => sequence,
                    Some(text) => text
                        .parse::<u64>()
                        .map_err(|e| bad(format!("{EVENT_ID_HEADER} {text:?}: {e}")))?,
                };
                let mut event: Event =
                    serde_json::from_slice(&message.payload).map_err(|e| bad(e.to_string()))?;
                event.id = id;
                for (lane, state) in self.lanes.iter_mut().enumerate() {
                    if roles.carries(state.route) {
                        let fired = state.engine.process(id, &EventRecord(&event));
                        outputs.extend(fired.into_iter().map(|o| (lane, o)));
                    }
                }
                self.keep(event);
            }
        }
        let kept: Vec<(usize, Output)> = outputs
            .into_iter()
            .filter(|(lane, output)| self.lanes[*lane].keeps(output))
            .collect();
        for (index, (lane, output)) in kept.into_iter().enumerate() {
            self.emit(lane, output, sequence, index).await?;
        }
        self.applied.applied_seq = sequence;
        self.applied.applied_count += 1;
        if sequence > self.published_upto {
            self.since_flush += 1;
        }
        Ok(())
    }

    fn keep(&mut self, event: Event) {
        self.order.push_back(event.id);
        self.events.insert(event.id, event);
        while self.order.len() > KEPT_EVENTS {
            if let Some(old) = self.order.pop_front() {
                self.events.remove(&old);
            }
        }
    }

    /// Builds the product alert of one output and publishes it when it is new.
    async fn emit(
        &mut self,
        lane: usize,
        output: Output,
        sequence: u64,
        index: usize,
    ) -> Result<(), ClusterError> {
        for id in self.lanes[lane].builder.needed(&output) {
            if !self.events.contains_key(&id) {
                let event = self.read_back(id).await?;
                self.events.insert(id, event);
            }
        }
        let Some(alert) = self.lanes[lane].builder.build(output, &self.events) else {
            return Ok(());
        };
        if sequence <= self.published_upto {
            return Ok(());
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            message_id(&alert).as_str(),
        );
        headers.insert(TRIGGER_HEADER, format!("{sequence}.{index}").as_str());
        let payload =
            serde_json::to_vec(&alert).map_err(|e| ClusterError::js("encoding an alert", e))?;
        let ack = self
            .ctx
            .cluster
            .js
            .publish_with_headers(
                self.ctx.cluster.settings.alerts_subject(),
                headers,
                payload.into(),
            )
            .await
            .map_err(|e| ClusterError::js("publishing an alert", e))?;
        self.unacked.push(ack);
        Ok(())
    }

    /// An older event, read back from the stream (its primary copy, at the event id).
    async fn read_back(&self, id: EventId) -> Result<Event, ClusterError> {
        let message = self
            .ctx
            .cluster
            .events
            .get_raw_message(id)
            .await
            .map_err(|e| ClusterError::js(format!("reading event {id} back"), e))?;
        let mut event: Event =
            serde_json::from_slice(&message.payload).map_err(|e| ClusterError::BadMessage {
                sequence: id,
                what: "event",
                reason: e.to_string(),
            })?;
        event.id = id;
        Ok(event)
    }

    /// Waits for the published alerts' acknowledgements, then moves the checkpoint.
    async fn flush(&mut self) -> Result<(), ClusterError> {
        for ack in self.unacked.drain(..) {
            ack.await
                .map_err(|e| ClusterError::js("waiting for an alert's acknowledgement", e))?;
        }
        if self.applied.applied_seq <= self.published_upto {
            return Ok(());
        }
        self.applied.updated_ms = crate::now_ms();
        let key = partition_key(self.partition);
        let value = serde_json::to_vec(&self.applied)
            .map_err(|e| ClusterError::js("encoding a checkpoint", e))?;
        let checkpoints = &self.ctx.cluster.checkpoints;
        let written = match self.revision {
            Some(revision) => checkpoints
                .update(&key, value.into(), revision)
                .await
                .map_err(|e| {
                    (
                        e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                        e.to_string(),
                    )
                }),
            None => checkpoints.create(&key, value.into()).await.map_err(|e| {
                (
                    e.kind() == kv::CreateErrorKind::AlreadyExists,
                    e.to_string(),
                )
            }),
        };
        match written {
            Ok(revision) => {
                self.revision = Some(revision);
                self.published_upto = self.applied.applied_seq;
                self.since_flush = 0;
                Ok(())
            }
            Err((true, reason)) => Err(ClusterError::LeaseLost {
                partition: self.partition,
                reason: format!("checkpoint {key} moved under us: {reason}"),
            }),
            Err((false, reason)) => Err(ClusterError::js(
                format!("writing checkpoint {key}"),
                reason,
            )),
        }
    }
}
