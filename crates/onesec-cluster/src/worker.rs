//! The detection worker role: take the partitions of its fair share, run one task per
//! partition, give back what is no longer its share. Leases are renewed, and the heartbeat
//! written, by a thread of their own ([`crate::renew`]), so detection work cannot hold them up.
//!
//! Every round (a quarter of the lease TTL) the worker reads the live nodes, computes the fair
//! share ([`crate::lease::fair_share`]) and then:
//! * stops the partitions whose lease the renewer found lost (another node took them);
//! * stops (checkpoint and snapshot written) and releases partitions that are now another
//!   node's share, so a new worker gets its partitions without waiting for a TTL;
//! * takes free partitions of its share. A partition of a dead worker is free once its lease
//!   expired (one TTL after the last renewal).

use crate::cluster::Cluster;
use crate::detect::{PartitionContext, run_partition};
use crate::error::ClusterError;
use crate::lease;
use crate::renew::{LeaseBook, LeaseClock, spawn_renewer};
use onesec_sigma::{EngineConfig, RuleSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A partition this worker runs.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ClusterError>>,
}

/// A detection worker.
pub struct Worker {
    ctx: Arc<PartitionContext>,
    running: BTreeMap<u16, Running>,
    book: Arc<LeaseBook>,
}

impl Worker {
    /// A worker named `node` running `rules`.
    pub fn new(cluster: Cluster, rules: RuleSet, engine: EngineConfig, node: String) -> Worker {
        let book = Arc::new(LeaseBook::new(node.clone(), cluster.settings.lease_ttl));
        Worker {
            ctx: Arc::new(PartitionContext {
                cluster,
                rules,
                engine,
                node,
                book: book.clone(),
                snapshot_every: crate::detect::SNAPSHOT_EVERY,
            }),
            running: BTreeMap::new(),
            book,
        }
    }

    /// Runs until `shutdown` turns true, then stops every partition (checkpoints written) and
    /// releases its leases.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), ClusterError> {
        let period = self.ctx.cluster.settings.lease_ttl / 4;
        tracing::info!(node = %self.ctx.node, ?period, "worker started");
        let stop_renewer = Arc::new(AtomicBool::new(false));
        let renewer = spawn_renewer(
            self.book.clone(),
            self.ctx.cluster.clone(),
            stop_renewer.clone(),
        )
        .map_err(|e| ClusterError::js("starting the lease renewal thread", e))?;
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
        stop_renewer.store(true, Ordering::Release);
        let _ = tokio::task::spawn_blocking(move || renewer.join()).await;
        let _ = self.ctx.cluster.nodes.delete(&self.ctx.node).await;
        Ok(())
    }

    /// One round: stop what was lost, rebalance, take.
    async fn tick(&mut self) -> Result<(), ClusterError> {
        let cluster = self.ctx.cluster.clone();
        self.reap_lost();
        self.reap_finished().await;
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
            if let Some(clock) = self.book.acquire(&cluster, partition).await? {
                self.start(partition, clock);
            }
        }
        Ok(())
    }

    fn start(&mut self, partition: u16, lease: LeaseClock) {
        let (stop, stopped) = watch::channel(false);
        let ctx = self.ctx.clone();
        let task =
            tokio::spawn(async move { run_partition(&ctx, partition, lease, stopped).await });
        self.running.insert(partition, Running { stop, task });
    }

    /// Partitions whose renewal was refused: someone else owns them now; stopped at once
    /// (their tasks also stop by themselves at their next alert or checkpoint).
    fn reap_lost(&mut self) {
        for partition in self.book.take_lost() {
            if let Some(lost) = self.running.remove(&partition) {
                tracing::warn!(partition, "lease lost: partition stopped");
                lost.task.abort();
            }
        }
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
                self.book.release(&self.ctx.cluster, partition).await;
            }
        }
    }

    /// Stops a partition (its checkpoint and snapshot written) and releases its lease.
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
        self.book.release(&self.ctx.cluster, partition).await;
    }
}
