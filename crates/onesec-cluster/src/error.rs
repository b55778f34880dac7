//! What can go wrong in a cluster role, with where it happened.

/// A cluster operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// Server URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A JetStream call (stream, consumer, KV, publish) failed.
    #[error("JetStream {what} failed: {reason}")]
    JetStream {
        /// What was being done (e.g. `creating stream ONESEC_EVENTS`).
        what: String,
        /// What the server or client said.
        reason: String,
    },
    /// The cluster already exists with other settings.
    #[error(
        "cluster '{prefix}' has {existing} partitions, not {asked}: the partition count of a cluster never changes (keys would move)"
    )]
    PartitionCount {
        /// Cluster prefix.
        prefix: String,
        /// Count stored in the cluster.
        existing: u16,
        /// Count asked for.
        asked: u16,
    },
    /// A setting that cannot work.
    #[error("invalid cluster setting {key}: {reason}")]
    Setting {
        /// Setting name.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// Another worker took the partition over (our lease was lost or the checkpoint moved).
    #[error("partition {partition} is no longer ours: {reason}")]
    LeaseLost {
        /// Partition number.
        partition: u16,
        /// What showed it.
        reason: String,
    },
    /// A message in the stream is not what onesec writes there.
    #[error("stream message {sequence} is not a valid {what}: {reason}")]
    BadMessage {
        /// Stream sequence.
        sequence: u64,
        /// What was expected.
        what: &'static str,
        /// Parser's reason.
        reason: String,
    },
    /// The store refused a write.
    #[error("store: {0}")]
    Store(String),
}

impl ClusterError {
    /// A JetStream failure while doing `what`.
    pub(crate) fn js(what: impl Into<String>, reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::JetStream {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
