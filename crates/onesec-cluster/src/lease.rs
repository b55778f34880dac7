//! Who owns what: partition leases in a JetStream KV bucket, node heartbeats, and the fair
//! share of partitions among the live nodes.
//!
//! A lease is a KV entry `p<N>` holding its owner. It is taken with `create` (fails if the key
//! exists), renewed with `update` at the revision the owner last wrote (fails if anyone else
//! wrote since), and released with a revision-checked delete. The bucket's `max_age` is the
//! lease TTL: a worker that dies stops renewing, the server drops its entries after the TTL,
//! and the next `create` by a live worker succeeds. So at most one worker holds a partition at
//! a time, and a dead worker's partitions are free again one TTL after its last renewal.

use crate::error::ClusterError;
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a lease entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Node id of the owner.
    pub node: String,
    /// When it was taken (UTC ms).
    pub acquired_ms: i64,
}

/// What a node heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node id.
    pub node: String,
    /// Partitions it owns.
    pub partitions: Vec<u16>,
    /// When it last wrote this (UTC ms).
    pub updated_ms: i64,
    /// Partitions it started from a snapshot checkpoint.
    #[serde(default)]
    pub snapshot_restores: u64,
    /// Partitions it started by replaying the stream from the start.
    #[serde(default)]
    pub replays: u64,
    /// Snapshots it refused (other rules or settings, damaged) and replayed instead.
    #[serde(default)]
    pub snapshots_refused: u64,
}

/// Lease key of a partition.
pub fn partition_key(partition: u16) -> String {
    format!("p{partition}")
}

/// Lease key of the alert sink.
pub const SINK_KEY: &str = "sink";

/// A lease held, with the revision of our last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// KV revision to renew or release at.
    pub revision: u64,
}

/// Takes `key` for `node` if nobody holds it.
pub async fn acquire(
    leases: &kv::Store,
    key: &str,
    node: &str,
) -> Result<Option<Held>, ClusterError> {
    let record = LeaseRecord {
        node: node.to_string(),
        acquired_ms: crate::now_ms(),
    };
    let value = serde_json::to_vec(&record).map_err(|e| ClusterError::js("encoding a lease", e))?;
    match leases.create(key, value.into()).await {
        Ok(revision) => Ok(Some(Held { revision })),
        Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
        Err(error) => Err(ClusterError::js(format!("taking lease {key}"), error)),
    }
}

/// Renews a held lease; fails with [`ClusterError::LeaseLost`] when someone else wrote it
/// (it expired and was taken) since our last write.
pub async fn renew(
    leases: &kv::Store,
    key: &str,
    node: &str,
    held: Held,
    partition: u16,
) -> Result<Held, ClusterError> {
    let record = LeaseRecord {
        node: node.to_string(),
        acquired_ms: crate::now_ms(),
    };
    let value = serde_json::to_vec(&record).map_err(|e| ClusterError::js("encoding a lease", e))?;
    match leases.update(key, value.into(), held.revision).await {
        Ok(revision) => Ok(Held { revision }),
        Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
            Err(ClusterError::LeaseLost {
                partition,
                reason: format!("lease {key} expired or was taken by another node"),
            })
        }
        Err(error) => Err(ClusterError::js(format!("renewing lease {key}"), error)),
    }
}

/// Gives a lease back (only if it is still ours), so the next owner need not wait for the TTL.
pub async fn release(leases: &kv::Store, key: &str, held: Held) {
    if let Err(error) = leases
        .delete_expect_revision(key, Some(held.revision))
        .await
    {
        tracing::debug!(key, %error, "lease not released (already taken or expired)");
    }
}

/// Reads every current lease: key → owner.
pub async fn owners(leases: &kv::Store) -> Result<BTreeMap<String, LeaseRecord>, ClusterError> {
    // 32 reads in flight: hundreds of partitions one round trip after the other are slow on
    // a loaded machine.
    let values: Vec<Result<(String, Option<_>), ClusterError>> =
        futures_util::stream::iter(keys(leases).await?)
            .map(|key| async move {
                let value = leases
                    .get(&key)
                    .await
                    .map_err(|e| ClusterError::js(format!("reading lease {key}"), e))?;
                Ok((key, value))
            })
            .buffered(32)
            .collect()
            .await;
    let mut out = BTreeMap::new();
    for entry in values {
        if let (key, Some(value)) = entry?
            && let Ok(record) = serde_json::from_slice::<LeaseRecord>(&value)
        {
            out.insert(key, record);
        }
    }
    Ok(out)
}

/// Writes this node's heartbeat.
pub async fn heartbeat(nodes: &kv::Store, record: &NodeRecord) -> Result<(), ClusterError> {
    let value =
        serde_json::to_vec(record).map_err(|e| ClusterError::js("encoding a heartbeat", e))?;
    nodes
        .put(&record.node, value.into())
        .await
        .map_err(|e| ClusterError::js("writing a heartbeat", e))?;
    Ok(())
}

/// The live nodes (heartbeat within the TTL) and what they said.
pub async fn live_nodes(nodes: &kv::Store) -> Result<Vec<NodeRecord>, ClusterError> {
    let mut out = Vec::new();
    for key in keys(nodes).await? {
        if let Some(value) = nodes
            .get(&key)
            .await
            .map_err(|e| ClusterError::js(format!("reading node {key}"), e))?
            && let Ok(record) = serde_json::from_slice::<NodeRecord>(&value)
        {
            out.push(record);
        }
    }
    out.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}

/// The keys that hold a value, from the subject counts of the bucket's stream: one request and
/// no consumer. (The client's `keys()` runs a watcher that can wait forever when entries expire
/// while it lists them, which TTL buckets do all the time.) Deleted keys keep a delete marker,
/// so callers still read each key and skip those without a value.
async fn keys(store: &kv::Store) -> Result<Vec<String>, ClusterError> {
    let mut subjects = store
        .stream
        .info_with_subjects(format!("{}>", store.prefix))
        .await
        .map_err(|e| ClusterError::js("listing keys", e))?;
    let mut out = Vec::new();
    while let Some(entry) = subjects.next().await {
        let (subject, _) = entry.map_err(|e| ClusterError::js("listing keys", e))?;
        if let Some(key) = subject.strip_prefix(store.prefix.as_str()) {
            out.push(key.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// The fair share: which node should own each partition, given the live nodes.
///
/// Each partition ranks the nodes by a hash of (node, partition) — rendezvous hashing, so a
/// node joining or leaving moves few partitions — and goes to its best-ranked node that still
/// has room under ⌈partitions / nodes⌉, so no node owns more than its share. Every node
/// computes the same answer from the same node list.
pub fn fair_share(partitions: u16, nodes: &[String]) -> BTreeMap<u16, String> {
    let mut out = BTreeMap::new();
    if nodes.is_empty() {
        return out;
    }
    let cap = (usize::from(partitions)).div_ceil(nodes.len());
    let mut load: BTreeMap<&str, usize> = nodes.iter().map(|n| (n.as_str(), 0)).collect();
    for partition in 0..partitions {
        let mut ranked: Vec<&String> = nodes.iter().collect();
        ranked.sort_by_key(|node| std::cmp::Reverse(rank(node, partition)));
        if let Some(node) = ranked.into_iter().find(|n| load[n.as_str()] < cap) {
            *load.entry(node.as_str()).or_default() += 1;
            out.insert(partition, node.clone());
        }
    }
    out
}

fn rank(node: &str, partition: u16) -> u64 {
    crate::partition::stable_hash(&format!("{node}/{partition}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("worker-{i}")).collect()
    }

    #[test]
    fn every_partition_has_one_owner_and_shares_are_fair() {
        for nodes in 1..=5 {
            let share = fair_share(64, &names(nodes));
            assert_eq!(share.len(), 64);
            let mut load: BTreeMap<&String, usize> = BTreeMap::new();
            for owner in share.values() {
                *load.entry(owner).or_default() += 1;
            }
            assert_eq!(load.len(), nodes, "every node gets partitions");
            assert!(load.values().all(|l| *l <= 64usize.div_ceil(nodes)));
        }
    }

    #[test]
    fn all_nodes_agree_whatever_order_they_list_each_other() {
        let mut reversed = names(3);
        reversed.reverse();
        let mut sorted = reversed.clone();
        sorted.sort();
        // Callers pass the list sorted; the answer is a function of the set.
        assert_eq!(fair_share(128, &sorted), fair_share(128, &names(3)));
    }

    #[test]
    fn a_node_leaving_moves_only_its_partitions_and_few_others() {
        let before = fair_share(128, &names(3));
        let after = fair_share(128, &names(2));
        let moved_from_survivors = before
            .iter()
            .filter(|(p, owner)| owner.as_str() != "worker-3" && after[*p] != **owner)
            .count();
        // Capacity limits can shift a few, rendezvous keeps most where they were.
        assert!(
            moved_from_survivors <= 16,
            "{moved_from_survivors} moved needlessly"
        );
        assert!(after.values().all(|o| o != "worker-3"));
    }
}
