//! `onesec cluster status`: nodes, partitions, owners and lag, read from the cluster's
//! buckets and streams (no worker is asked anything).

use crate::cluster::Cluster;
use crate::detect::{Checkpoint, read_checkpoint};
use crate::error::ClusterError;
use crate::lease::{self, SINK_KEY, partition_key};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// Cluster prefix.
    pub prefix: String,
    /// Virtual partition count.
    pub partitions: u16,
    /// Messages in the event stream (events and watermarks).
    pub stream_messages: u64,
    /// Last sequence of the event stream.
    pub stream_last_seq: u64,
    /// Messages in the alert stream.
    pub alert_messages: u64,
    /// Node holding the sink lease.
    pub sink: Option<String>,
    /// Live workers.
    pub nodes: Vec<NodeStatus>,
    /// Every partition.
    pub partition_status: Vec<PartitionStatus>,
    /// Sum of the partitions' lag.
    pub total_lag: u64,
    /// Partitions nobody holds.
    pub unowned: usize,
}

/// One live worker.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// Node id.
    pub node: String,
    /// Partitions it says it runs.
    pub partitions: Vec<u16>,
    /// Its last heartbeat (UTC ms).
    pub updated_ms: i64,
    /// Partitions it started from a snapshot checkpoint.
    pub snapshot_restores: u64,
    /// Partitions it started from the start of the stream (no usable snapshot).
    pub replays: u64,
    /// Snapshots it refused (other rules or settings, damaged), replayed instead.
    pub snapshots_refused: u64,
}

/// One partition.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    /// Partition number.
    pub partition: u16,
    /// Lease holder.
    pub owner: Option<String>,
    /// Messages in its subject.
    pub messages: u64,
    /// Checkpoint: last applied stream sequence.
    pub applied_seq: u64,
    /// Messages not yet applied (messages − applied count).
    pub lag: u64,
    /// The checkpoint writer started from the snapshot at this sequence (`None`: from the
    /// start of the stream).
    pub resumed_from_snapshot: Option<u64>,
}

/// Messages per partition subject of the event stream.
pub async fn subject_counts(cluster: &Cluster) -> Result<BTreeMap<String, u64>, ClusterError> {
    let mut counts = BTreeMap::new();
    let mut subjects = cluster
        .events
        .info_with_subjects(format!("{}.events.*", cluster.settings.prefix))
        .await
        .map_err(|e| ClusterError::js("reading the event stream", e))?;
    while let Some(entry) = subjects.next().await {
        let (subject, count) = entry.map_err(|e| ClusterError::js("reading subject counts", e))?;
        counts.insert(subject, count as u64);
    }
    Ok(counts)
}

/// Every partition's checkpoint, in partition order: read 32 at a time (one round trip each;
/// one after the other they take long with hundreds of partitions on a loaded machine).
pub async fn read_checkpoints(cluster: &Cluster) -> Result<Vec<Checkpoint>, ClusterError> {
    futures_util::stream::iter(0..cluster.settings.partitions)
        .map(|partition| async move {
            read_checkpoint(&cluster.checkpoints, partition)
                .await
                .map(|(checkpoint, _)| checkpoint)
        })
        .buffered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Reads the status of `cluster`.
pub async fn read(cluster: &Cluster) -> Result<ClusterStatus, ClusterError> {
    let settings = &cluster.settings;
    let owners = lease::owners(&cluster.leases).await?;
    let nodes = lease::live_nodes(&cluster.nodes).await?;
    let counts = subject_counts(cluster).await?;
    let events = cluster
        .events
        .get_info()
        .await
        .map_err(|e| ClusterError::js("reading the event stream", e))?;
    let alerts = cluster
        .alerts
        .get_info()
        .await
        .map_err(|e| ClusterError::js("reading the alert stream", e))?;
    let mut partition_status = Vec::with_capacity(usize::from(settings.partitions));
    let checkpoints = read_checkpoints(cluster).await?;
    for (partition, checkpoint) in (0..settings.partitions).zip(checkpoints) {
        let messages = counts
            .get(&settings.events_subject(partition))
            .copied()
            .unwrap_or(0);
        partition_status.push(PartitionStatus {
            partition,
            owner: owners
                .get(&partition_key(partition))
                .map(|l| l.node.clone()),
            messages,
            applied_seq: checkpoint.applied_seq,
            lag: messages.saturating_sub(checkpoint.applied_count),
            resumed_from_snapshot: checkpoint.resumed_from_snapshot,
        });
    }
    Ok(ClusterStatus {
        prefix: settings.prefix.clone(),
        partitions: settings.partitions,
        stream_messages: events.state.messages,
        stream_last_seq: events.state.last_sequence,
        alert_messages: alerts.state.messages,
        sink: owners.get(SINK_KEY).map(|l| l.node.clone()),
        nodes: nodes
            .into_iter()
            .map(|n| NodeStatus {
                node: n.node,
                partitions: n.partitions,
                updated_ms: n.updated_ms,
                snapshot_restores: n.snapshot_restores,
                replays: n.replays,
                snapshots_refused: n.snapshots_refused,
            })
            .collect(),
        total_lag: partition_status.iter().map(|p| p.lag).sum(),
        unowned: partition_status
            .iter()
            .filter(|p| p.owner.is_none())
            .count(),
        partition_status,
    })
}

impl ClusterStatus {
    /// The human-readable table `onesec cluster status` prints.
    pub fn render(&self) -> String {
        let mut out = format!(
            "cluster {}: {} partitions, {} event messages (last seq {}), {} alert messages, sink {}\n",
            self.prefix,
            self.partitions,
            self.stream_messages,
            self.stream_last_seq,
            self.alert_messages,
            self.sink.as_deref().unwrap_or("(none)")
        );
        out.push_str(&format!("nodes ({}):\n", self.nodes.len()));
        for node in &self.nodes {
            out.push_str(&format!(
                "  {:<24} {:>4} partitions  started {} from snapshots, {} by replay ({} snapshots refused)\n",
                node.node,
                node.partitions.len(),
                node.snapshot_restores,
                node.replays,
                node.snapshots_refused
            ));
        }
        out.push_str(&format!(
            "partitions: total lag {}, unowned {}\n  {:>4}  {:<24} {:>10} {:>12} {:>8}  {}\n",
            self.total_lag,
            self.unowned,
            "part",
            "owner",
            "messages",
            "applied seq",
            "lag",
            "resumed from"
        ));
        for p in &self.partition_status {
            out.push_str(&format!(
                "  {:>4}  {:<24} {:>10} {:>12} {:>8}  {}\n",
                p.partition,
                p.owner.as_deref().unwrap_or("-"),
                p.messages,
                p.applied_seq,
                p.lag,
                match p.resumed_from_snapshot {
                    Some(sequence) => format!("snapshot @{sequence}"),
                    None => "stream start".into(),
                }
            ));
        }
        out
    }
}
