//! # onesec-cluster — onesec on several machines, over NATS JetStream
//!
//! One binary, roles chosen on the command line (`onesec cluster ingest | worker | sink |
//! status`). The event log is a JetStream stream instead of the embedded journal:
//!
//! ```text
//!  ingest ──► <prefix>.events.<partition> ──► detection workers ──► <prefix>.alerts ──► sink ──► Store
//!  decode,     one subject per virtual         one owner per           Nats-Msg-Id =        grouper,
//!  resolve,    partition; an event goes to     partition (KV lease),   alert version        SQLite or
//!  publish     its person's and its site's     an engine per route,    (duplicates dropped) PostgreSQL
//!              partition (stable hashes)       checkpoint in KV
//! ```
//!
//! * [`partition`]: an event's keys, the partitions its copies go to, and which copy each
//!   rule runs on (routing by rule key).
//! * [`cluster`]: the names (streams, subjects, buckets) and how they are created.
//! * [`publish`]: the ingest role; answers only after JetStream acknowledged every event.
//! * [`live`]: `onesec up` as an ingest node: its inputs publish instead of journaling.
//! * [`lease`]: ownership of partitions in a KV bucket, and the fair share of partitions.
//! * [`detect`]: one partition through the Sigma engine, from its checkpoint.
//! * [`renew`]: lease renewal and heartbeats on a thread of their own, local lease deadlines.
//! * [`snapshot`]: a partition's engine state at a stream sequence, so takeover skips replay.
//! * [`worker`]: the detection worker role: leases, one task per partition.
//! * [`sink`]: the one writer of alerts and incidents into the store.
//! * [`status`]: nodes, partitions, owners and lag for `onesec cluster status`.
//!
//! Why this shape (and not stream-side partition transforms or pinned consumers): the server
//! this is tested on is nats-server 2.9.10, which ignores both; see `docs/cluster.md`.

pub mod alerts;
pub mod cluster;
pub mod detect;
pub mod error;
pub mod lease;
pub mod live;
pub mod partition;
pub mod publish;
pub mod renew;
pub mod sink;
pub mod snapshot;
pub mod status;
pub mod worker;

pub use cluster::{Cluster, ClusterSettings};
pub use error::ClusterError;
pub use live::LiveIngest;
pub use publish::{PublishReport, Publisher};
pub use sink::Sink;
pub use status::{ClusterStatus, NodeStatus, PartitionStatus};
pub use worker::Worker;

/// Wall-clock time in UTC milliseconds (heartbeats and lease records only; detection runs on
/// event time).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
