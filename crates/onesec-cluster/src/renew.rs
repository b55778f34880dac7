//! Lease renewal that a busy or CPU-starved worker cannot hold up.
//!
//! Detection is CPU work on the worker's async runtime; a renewal that waits behind it on a
//! loaded machine arrives after the TTL and the worker loses its partitions (seen at 128
//! partitions on a 2-core machine at load 14–18). So renewals do not run there:
//!
//! * a **dedicated thread** with a runtime and a NATS connection of its own renews every held
//!   lease and writes the node's heartbeat, and does nothing else;
//! * it renews **in one batch**: every partition's revision-checked `update` is sent at once
//!   and the answers awaited together, one round trip for all of them;
//! * every **TTL / 5** ([`RENEW_DIVISOR`]), so four renewals in a row can miss before the
//!   server drops a lease;
//! * each lease carries a **local deadline** ([`LeaseClock`]): the time its last successful
//!   renewal was *sent* plus ¾ of the TTL. The server counts the TTL from when it stored the
//!   renewal, which is later, so the local deadline always passes first. A partition task
//!   checks it before publishing an alert and before writing its checkpoint and pauses while it
//!   has passed: a starved worker stops emitting before anyone else can have taken the
//!   partition. A renewal refused because someone else wrote the key marks the lease lost and
//!   the task ends.
//!
//! Fencing does not rest on clocks alone: the checkpoint is written with a KV revision check
//! (a worker that lost the partition cannot move it) and alert message ids are deterministic,
//! so an alert a fenced-out worker still managed to publish is the same message the new owner
//! publishes, dropped by the alert stream and the sink.

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::lease::{self, Held, NodeRecord, partition_key};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Renewals per lease TTL.
pub const RENEW_DIVISOR: u32 = 5;

/// Milliseconds on the monotonic clock since this process first asked (never 0).
fn mono_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// A lease's local validity, shared by the renewer and the partition's task.
#[derive(Debug, Clone)]
pub struct LeaseClock {
    deadline: Arc<AtomicU64>,
    lost: Arc<AtomicBool>,
}

impl LeaseClock {
    /// A lease whose write was sent at `sent` (monotonic ms) and lives `ttl`.
    fn new(sent: u64, ttl: Duration) -> LeaseClock {
        let clock = LeaseClock {
            deadline: Arc::new(AtomicU64::new(0)),
            lost: Arc::new(AtomicBool::new(false)),
        };
        clock.extend(sent, ttl);
        clock
    }

    /// A clock that never expires (tests and single-owner tools).
    pub fn unbounded() -> LeaseClock {
        LeaseClock {
            deadline: Arc::new(AtomicU64::new(u64::MAX)),
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    fn extend(&self, sent: u64, ttl: Duration) {
        let valid = (ttl.as_millis() as u64).saturating_mul(3) / 4;
        self.deadline.fetch_max(sent + valid, Ordering::AcqRel);
    }

    fn lose(&self) {
        self.lost.store(true, Ordering::Release);
    }

    /// Someone else holds the lease now.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Still ours for sure (renewed recently enough).
    pub fn is_valid(&self) -> bool {
        !self.is_lost() && mono_ms() < self.deadline.load(Ordering::Acquire)
    }

    /// Waits while the deadline has passed and the lease is not known lost (a renewal may
    /// still get through); [`ClusterError::LeaseLost`] once it is lost.
    pub async fn wait_valid(&self, partition: u16) -> Result<(), ClusterError> {
        let mut paused = false;
        loop {
            if self.is_lost() {
                return Err(ClusterError::LeaseLost {
                    partition,
                    reason: "the lease renewal was refused (another node holds it)".into(),
                });
            }
            if self.is_valid() {
                if paused {
                    tracing::info!(partition, "lease renewed again: partition resumes");
                }
                return Ok(());
            }
            if !paused {
                tracing::warn!(
                    partition,
                    "lease not renewed in time: partition paused until it is (or is lost)"
                );
                paused = true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Entry {
    held: Held,
    clock: LeaseClock,
}

/// Counters a worker reports in its heartbeat.
#[derive(Debug, Default)]
pub struct TakeoverCounters {
    /// Partitions started from a snapshot checkpoint.
    pub snapshot_restores: AtomicU64,
    /// Partitions started by replaying their stream from the start (no usable snapshot).
    pub replays: AtomicU64,
    /// Snapshots refused at restore (other rules or settings, damaged), replayed instead.
    pub snapshots_refused: AtomicU64,
}

/// The leases a worker holds, shared by its main loop (takes and gives back) and the renewal
/// thread (renews).
pub struct LeaseBook {
    node: String,
    ttl: Duration,
    /// Lease key of a slot (a partition, or the sink's one lease).
    key: fn(u16) -> String,
    /// Whether the renewer writes a worker heartbeat.
    heartbeat: bool,
    entries: Mutex<BTreeMap<u16, Entry>>,
    /// Partitions whose renewal was refused, for the main loop to stop.
    lost: Mutex<Vec<u16>>,
    /// Counters for the heartbeat.
    pub counters: TakeoverCounters,
}

impl LeaseBook {
    /// An empty book of partition leases for worker `node`, leases living `ttl`; the renewer
    /// writes its heartbeat.
    pub fn new(node: String, ttl: Duration) -> LeaseBook {
        LeaseBook {
            node,
            ttl,
            key: partition_key,
            heartbeat: true,
            entries: Mutex::new(BTreeMap::new()),
            lost: Mutex::new(Vec::new()),
            counters: TakeoverCounters::default(),
        }
    }

    /// A book for the alert sink's lease (slot 0, key `sink`), no heartbeat.
    pub fn for_sink(node: String, ttl: Duration) -> LeaseBook {
        LeaseBook {
            key: |_| lease::SINK_KEY.to_string(),
            heartbeat: false,
            ..LeaseBook::new(node, ttl)
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<u16, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `partition` if nobody holds it; its clock when taken.
    pub async fn acquire(
        &self,
        cluster: &Cluster,
        partition: u16,
    ) -> Result<Option<LeaseClock>, ClusterError> {
        let sent = mono_ms();
        let Some(held) =
            lease::acquire(&cluster.leases, &(self.key)(partition), &self.node).await?
        else {
            return Ok(None);
        };
        let clock = LeaseClock::new(sent, self.ttl);
        self.entries().insert(
            partition,
            Entry {
                held,
                clock: clock.clone(),
            },
        );
        Ok(Some(clock))
    }

    /// Gives `partition`'s lease back (its task already stopped). A renewal in flight at the
    /// same time releases it at its new revision instead (see [`LeaseBook::renew_all`]).
    pub async fn release(&self, cluster: &Cluster, partition: u16) {
        let removed = self.entries().remove(&partition);
        if let Some(entry) = removed {
            entry.clock.lose();
            lease::release(&cluster.leases, &(self.key)(partition), entry.held).await;
        }
    }

    /// Partitions lost since the last call.
    pub fn take_lost(&self) -> Vec<u16> {
        std::mem::take(&mut *self.lost.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Partitions held.
    pub fn held(&self) -> Vec<u16> {
        self.entries().keys().copied().collect()
    }

    /// One batch: every held lease renewed at once, and the heartbeat.
    pub async fn renew_all(&self, cluster: &Cluster) {
        let sent = mono_ms();
        let batch: Vec<(u16, Held)> = self.entries().iter().map(|(p, e)| (*p, e.held)).collect();
        let renewals = batch.iter().map(|(partition, held)| async move {
            lease::renew(
                &cluster.leases,
                &(self.key)(*partition),
                &self.node,
                *held,
                *partition,
            )
            .await
        });
        let record = NodeRecord {
            node: self.node.clone(),
            partitions: batch.iter().map(|(p, _)| *p).collect(),
            updated_ms: crate::now_ms(),
            snapshot_restores: self.counters.snapshot_restores.load(Ordering::Relaxed),
            replays: self.counters.replays.load(Ordering::Relaxed),
            snapshots_refused: self.counters.snapshots_refused.load(Ordering::Relaxed),
        };
        let heartbeat = async {
            match self.heartbeat {
                true => lease::heartbeat(&cluster.nodes, &record).await,
                false => Ok(()),
            }
        };
        let (results, heartbeat) =
            futures_util::future::join(futures_util::future::join_all(renewals), heartbeat).await;
        if let Err(error) = heartbeat {
            tracing::warn!(%error, "heartbeat not written this round");
        }
        let mut released_meanwhile = Vec::new();
        {
            let mut entries = self.entries();
            let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
            for ((partition, old), result) in batch.into_iter().zip(results) {
                match result {
                    Ok(new) => match entries.get_mut(&partition) {
                        Some(entry) if entry.held == old => {
                            entry.held = new;
                            entry.clock.extend(sent, self.ttl);
                        }
                        // Given back while this renewal was in flight: the main loop's
                        // release at the old revision failed, so release at this one.
                        _ => released_meanwhile.push((partition, new)),
                    },
                    Err(ClusterError::LeaseLost { reason, .. }) => {
                        if let Some(entry) = entries.get(&partition)
                            && entry.held == old
                        {
                            tracing::warn!(partition, %reason, "lease lost: partition stops");
                            entry.clock.lose();
                            entries.remove(&partition);
                            lost.push(partition);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(partition, %error, "lease not renewed this round")
                    }
                }
            }
        }
        for (partition, held) in released_meanwhile {
            lease::release(&cluster.leases, &(self.key)(partition), held).await;
        }
    }
}

/// Starts the renewal thread for `book`: its own runtime and its own connection to the
/// cluster, a batch every TTL / [`RENEW_DIVISOR`], until `stop` is set.
pub fn spawn_renewer(
    book: Arc<LeaseBook>,
    cluster: Cluster,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lease-renewer".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "lease renewer: no runtime; leases will expire");
                    return;
                }
            };
            runtime.block_on(async move {
                // A connection of its own: the main connection's reader runs on the busy
                // runtime.
                let own = loop {
                    match Cluster::connect(cluster.settings.clone()).await {
                        Ok(own) => break own,
                        Err(error) => {
                            tracing::warn!(%error, "lease renewer: connecting; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                };
                let period = own.settings.lease_ttl / RENEW_DIVISOR;
                let mut ticks = tokio::time::interval(period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !stop.load(Ordering::Acquire) {
                    ticks.tick().await;
                    book.renew_all(&own).await;
                }
            });
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_deadline_is_three_quarters_of_the_ttl_from_the_send_time() {
        let now = mono_ms();
        let clock = LeaseClock::new(now, Duration::from_millis(4000));
        assert!(clock.is_valid());
        assert_eq!(clock.deadline.load(Ordering::Acquire), now + 3000);
        // An older renewal answered late never moves the deadline back.
        clock.extend(now.saturating_sub(2000), Duration::from_millis(4000));
        assert_eq!(clock.deadline.load(Ordering::Acquire), now + 3000);
        let expired = LeaseClock::new(0, Duration::ZERO);
        assert!(!expired.is_valid());
        clock.lose();
        assert!(!clock.is_valid() && clock.is_lost());
    }

    #[tokio::test]
    async fn a_task_waits_on_an_expired_lease_and_stops_on_a_lost_one() {
        let clock = LeaseClock::new(0, Duration::ZERO);
        let waiting = tokio::spawn({
            let clock = clock.clone();
            async move { clock.wait_valid(7).await }
        });
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            !waiting.is_finished(),
            "paused while the deadline has passed"
        );
        clock.extend(mono_ms(), Duration::from_secs(10));
        assert!(waiting.await.unwrap().is_ok(), "resumes once renewed");
        clock.lose();
        assert!(matches!(
            clock.wait_valid(7).await,
            Err(ClusterError::LeaseLost { partition: 7, .. })
        ));
    }
}
