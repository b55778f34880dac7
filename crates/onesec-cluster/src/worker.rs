//! The detection worker role: heartbeat, take the partitions of its fair share, renew their
//! leases, run one task per partition, give back what is no longer its share.
//!
//! Every renewal period (a third of the lease TTL) the worker writes its heartbeat, reads the
//! live nodes, computes the fair share ([`crate::lease::fair_share`]) and then:
//! * renews the lease of each partition it runs; a lost lease stops that partition at once;
//! * stops (checkpoint written) and releases partitions that are now another node's share, so
//!   a new worker gets its partitions without waiting for a TTL;
//! * takes free partitions of its share. A partition of a dead worker is free once its lease
//!   expired (one TTL after the last renewal).

use crate::cluster::Cluster;
use crate::detect::{PartitionContext, run_partition};
use crate::error::ClusterError;
use crate::lease::{self, Held, NodeRecord, partition_key};
use onesec_sigma::{EngineConfig, RuleSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A partition this worker runs.
struct Running {
    lease: Held,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ClusterError>>,
}

/// A detection worker.
pub struct Worker {
    ctx: Arc<PartitionContext>,
    running: BTreeMap<u16, Running>,
}

impl Worker {
    /// A worker named `node` running `rules`.
    pub fn new(cluster: Cluster, rules: RuleSet, engine: EngineConfig, node: String) -> Worker {
        Worker {
            ctx: Arc::new(PartitionContext {
                cluster,
                rules,
                engine,
                node,
            }),
            running: BTreeMap::new(),
        }
    }

    /// Runs until `shutdown` turns true, then stops every partition (checkpoints written) and
    /// releases its leases.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), ClusterError> {
        let period = self.ctx.cluster.settings.lease_ttl / 3;
        tracing::info!(node = %self.ctx.node, ?period, "worker started");
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "worker round failed; retrying");
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tokio::time::sleep(period) => {}
            }
        }
        let partitions: Vec<u16> = self.running.keys().copied().collect();
        for partition in partitions {
            self.give_back(partition).await;
        }
        let _ = self.ctx.cluster.nodes.delete(&self.ctx.node).await;
        Ok(())
    }

    /// One round: heartbeat, renew, rebalance, take.
    async fn tick(&mut self) -> Result<(), ClusterError> {
        let cluster = self.ctx.cluster.clone();
        self.heartbeat().await?;
        self.reap_finished().await;
        self.renew_all().await;
        let mut nodes: Vec<String> = lease::live_nodes(&cluster.nodes)
            .await?
            .into_iter()
            .map(|n| n.node)
            .collect();
        if !nodes.contains(&self.ctx.node) {
            nodes.push(self.ctx.node.clone());
            nodes.sort();
        }
        let share = lease::fair_share(cluster.settings.partitions, &nodes);
        let mine: Vec<u16> = share
            .iter()
            .filter(|(_, owner)| **owner == self.ctx.node)
            .map(|(p, _)| *p)
            .collect();
        let not_mine: Vec<u16> = self
            .running
            .keys()
            .copied()
            .filter(|p| !mine.contains(p))
            .collect();
        for partition in not_mine {
            tracing::info!(
                partition,
                "partition is another node's share now: giving it back"
            );
            self.give_back(partition).await;
        }
        for partition in mine {
            if self.running.contains_key(&partition) {
                continue;
            }
            if let Some(held) =
                lease::acquire(&cluster.leases, &partition_key(partition), &self.ctx.node).await?
            {
                self.start(partition, held);
            }
        }
        self.heartbeat().await
    }

    async fn heartbeat(&self) -> Result<(), ClusterError> {
        lease::heartbeat(
            &self.ctx.cluster.nodes,
            &NodeRecord {
                node: self.ctx.node.clone(),
                partitions: self.running.keys().copied().collect(),
                updated_ms: crate::now_ms(),
            },
        )
        .await
    }

    fn start(&mut self, partition: u16, lease: Held) {
        let (stop, stopped) = watch::channel(false);
        let ctx = self.ctx.clone();
        let task = tokio::spawn(async move { run_partition(&ctx, partition, stopped).await });
        self.running
            .insert(partition, Running { lease, stop, task });
    }

    /// Partitions whose task ended on its own (an error): leases released, taken again on a
    /// later round if they are still this worker's share.
    async fn reap_finished(&mut self) {
        let finished: Vec<u16> = self
            .running
            .iter()
            .filter(|(_, r)| r.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for partition in finished {
            if let Some(running) = self.running.remove(&partition) {
                match running.task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(partition, %error, "partition stopped"),
                    Err(error) => tracing::error!(partition, %error, "partition task panicked"),
                }
                lease::release(
                    &self.ctx.cluster.leases,
                    &partition_key(partition),
                    running.lease,
                )
                .await;
            }
        }
    }

    async fn renew_all(&mut self) {
        let partitions: Vec<u16> = self.running.keys().copied().collect();
        for partition in partitions {
            let Some(running) = self.running.get_mut(&partition) else {
                continue;
            };
            let renewed = lease::renew(
                &self.ctx.cluster.leases,
                &partition_key(partition),
                &self.ctx.node,
                running.lease,
                partition,
            )
            .await;
            match renewed {
                Ok(held) => running.lease = held,
                Err(ClusterError::LeaseLost { reason, .. }) => {
                    tracing::warn!(partition, %reason, "lease lost: partition stopped");
                    if let Some(lost) = self.running.remove(&partition) {
                        lost.task.abort();
                    }
                }
                Err(error) => tracing::warn!(partition, %error, "lease not renewed this round"),
            }
        }
    }

    /// Stops a partition (its checkpoint written) and releases its lease.
    async fn give_back(&mut self, partition: u16) {
        let Some(running) = self.running.remove(&partition) else {
            return;
        };
        let _ = running.stop.send(true);
        let mut task = running.task;
        match tokio::time::timeout(Duration::from_secs(10), &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::warn!(partition, %error, "partition stopped with an error")
            }
            Ok(Err(error)) => tracing::error!(partition, %error, "partition task panicked"),
            Err(_) => {
                tracing::warn!(partition, "partition did not stop in time; aborted");
                task.abort();
            }
        }
        lease::release(
            &self.ctx.cluster.leases,
            &partition_key(partition),
            running.lease,
        )
        .await;
    }
}
