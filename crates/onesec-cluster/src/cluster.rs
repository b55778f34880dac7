//! The names a cluster uses on the NATS server, and their creation.
//!
//! Everything of one cluster hangs off its prefix, so several clusters (and several test runs)
//! share one server without seeing each other:
//!
//! | what | name |
//! |---|---|
//! | event stream | `<prefix>_events`, subjects `<prefix>.events.<partition>` |
//! | alert stream | `<prefix>_alerts`, subject `<prefix>.alerts` |
//! | leases (KV, entries expire after the lease TTL) | `<prefix>_leases`: `p<N>` per partition, `sink` |
//! | live nodes (KV, same TTL) | `<prefix>_nodes`: one key per worker |
//! | checkpoints (KV, kept) | `<prefix>_checkpoints`: `p<N>`, and `partitions` (the fixed count) |
//! | snapshots (KV, kept) | `<prefix>_snapshots`: `p<N>`, the partition's engine state ([`crate::snapshot`]) |

use crate::error::ClusterError;
use async_nats::jetstream::{self, kv, stream};
use std::time::Duration;

/// How to reach and shape a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// NATS server URL (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Prefix of every stream, subject and bucket of this cluster.
    pub prefix: String,
    /// Virtual partitions; fixed when the cluster is first created.
    pub partitions: u16,
    /// How long a lease or a node heartbeat lives without renewal; set when the buckets are
    /// first created.
    pub lease_ttl: Duration,
    /// How long the alert stream remembers message ids to drop duplicates.
    pub alert_dedup_window: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            url: "nats://127.0.0.1:4222".into(),
            prefix: "onesec".into(),
            partitions: 64,
            lease_ttl: Duration::from_secs(10),
            alert_dedup_window: Duration::from_secs(3600),
        }
    }
}

impl ClusterSettings {
    /// Stream holding the partitioned events.
    pub fn events_stream(&self) -> String {
        format!("{}_events", self.prefix)
    }

    /// Subject of one partition.
    pub fn events_subject(&self, partition: u16) -> String {
        format!("{}.events.{partition}", self.prefix)
    }

    /// Stream holding the alerts workers publish.
    pub fn alerts_stream(&self) -> String {
        format!("{}_alerts", self.prefix)
    }

    /// Subject of the alerts.
    pub fn alerts_subject(&self) -> String {
        format!("{}.alerts", self.prefix)
    }

    fn check(&self) -> Result<(), ClusterError> {
        let valid = !self.prefix.is_empty()
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ClusterError::Setting {
                key: "prefix",
                reason: format!(
                    "{:?}: use letters, digits, '_' and '-' (it names streams, subjects and buckets)",
                    self.prefix
                ),
            });
        }
        if !(crate::partition::MIN_PARTITIONS..=crate::partition::MAX_PARTITIONS)
            .contains(&self.partitions)
        {
            return Err(ClusterError::Setting {
                key: "partitions",
                reason: format!(
                    "{} is outside {}..={}",
                    self.partitions,
                    crate::partition::MIN_PARTITIONS,
                    crate::partition::MAX_PARTITIONS
                ),
            });
        }
        if self.lease_ttl < Duration::from_millis(300) {
            return Err(ClusterError::Setting {
                key: "lease_ttl",
                reason: "under 300 ms a lease could expire between two renewals".into(),
            });
        }
        Ok(())
    }
}

/// A connection to one cluster: its streams and buckets, created on first use.
#[derive(Clone)]
pub struct Cluster {
    /// The settings, with `partitions` as stored in the cluster.
    pub settings: ClusterSettings,
    /// JetStream context.
    pub js: jetstream::Context,
    /// The partitioned event stream.
    pub events: stream::Stream,
    /// The alert stream.
    pub alerts: stream::Stream,
    /// Partition and sink leases.
    pub leases: kv::Store,
    /// Worker heartbeats.
    pub nodes: kv::Store,
    /// Per-partition checkpoints and the partition count.
    pub checkpoints: kv::Store,
    /// Per-partition engine snapshots.
    pub snapshots: kv::Store,
}

/// Key of the partition count in the checkpoint bucket.
const PARTITIONS_KEY: &str = "partitions";

impl Cluster {
    /// Connects and makes sure every stream and bucket exists. The first caller fixes the
    /// partition count; a later caller asking for another count is refused.
    pub async fn connect(settings: ClusterSettings) -> Result<Cluster, ClusterError> {
        settings.check()?;
        let client = async_nats::ConnectOptions::new()
            .name(format!("onesec-{}", settings.prefix))
            .connection_timeout(Duration::from_secs(5))
            .connect(&settings.url)
            .await
            .map_err(|e| ClusterError::Connect {
                url: settings.url.clone(),
                reason: e.to_string(),
            })?;
        let js = jetstream::new(client);
        let events = ensure_stream(
            &js,
            stream::Config {
                name: settings.events_stream(),
                subjects: vec![format!("{}.events.*", settings.prefix)],
                storage: stream::StorageType::File,
                ..Default::default()
            },
        )
        .await?;
        let alerts = ensure_stream(
            &js,
            stream::Config {
                name: settings.alerts_stream(),
                subjects: vec![settings.alerts_subject()],
                storage: stream::StorageType::File,
                duplicate_window: settings.alert_dedup_window,
                ..Default::default()
            },
        )
        .await?;
        let leases = ensure_bucket(&js, &settings, "leases", settings.lease_ttl).await?;
        let nodes = ensure_bucket(&js, &settings, "nodes", settings.lease_ttl).await?;
        let checkpoints = ensure_bucket(&js, &settings, "checkpoints", Duration::ZERO).await?;
        let snapshots = ensure_bucket(&js, &settings, "snapshots", Duration::ZERO).await?;
        let mut cluster = Cluster {
            settings,
            js,
            events,
            alerts,
            leases,
            nodes,
            checkpoints,
            snapshots,
        };
        cluster.settings.partitions = cluster.fix_partition_count().await?;
        // The lease TTL is the bucket's max_age, fixed when it was created: renew by that, not
        // by what this process was told.
        let ttl = cluster.leases.stream.cached_info().config.max_age;
        if !ttl.is_zero() && ttl != cluster.settings.lease_ttl {
            tracing::info!(?ttl, "using the lease TTL the cluster was created with");
            cluster.settings.lease_ttl = ttl;
        }
        Ok(cluster)
    }

    /// Stores the partition count if the cluster has none yet, else checks it.
    async fn fix_partition_count(&self) -> Result<u16, ClusterError> {
        let asked = self.settings.partitions;
        let stored = match self
            .checkpoints
            .create(PARTITIONS_KEY, asked.to_string().into())
            .await
        {
            Ok(_) => return Ok(asked),
            Err(_) => self
                .checkpoints
                .get(PARTITIONS_KEY)
                .await
                .map_err(|e| ClusterError::js("reading the partition count", e))?,
        };
        let existing = stored
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<u16>().ok())
            .ok_or_else(|| {
                ClusterError::js("reading the partition count", "missing or unreadable")
            })?;
        if existing != asked {
            return Err(ClusterError::PartitionCount {
                prefix: self.settings.prefix.clone(),
                existing,
                asked,
            });
        }
        Ok(existing)
    }

    /// Deletes every stream and bucket of the cluster named by `settings.prefix` (its events,
    /// alerts, leases, heartbeats and checkpoints): for tests and for retiring a cluster. The
    /// names deleted; a missing one is not an error.
    pub async fn delete(settings: &ClusterSettings) -> Result<Vec<String>, ClusterError> {
        settings.check()?;
        let client = async_nats::ConnectOptions::new()
            .name(format!("onesec-{}-delete", settings.prefix))
            .connection_timeout(Duration::from_secs(5))
            .connect(&settings.url)
            .await
            .map_err(|e| ClusterError::js(format!("connecting to {}", settings.url), e))?;
        let js = jetstream::new(client);
        let names = [
            settings.events_stream(),
            settings.alerts_stream(),
            format!("KV_{}_leases", settings.prefix),
            format!("KV_{}_nodes", settings.prefix),
            format!("KV_{}_checkpoints", settings.prefix),
            format!("KV_{}_snapshots", settings.prefix),
        ];
        let mut deleted = Vec::new();
        for name in names {
            if js.delete_stream(&name).await.is_ok() {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }

    /// Connects to an existing cluster whatever its partition count (status, ingest with the
    /// count the cluster already has).
    pub async fn connect_existing(mut settings: ClusterSettings) -> Result<Cluster, ClusterError> {
        settings.check()?;
        let probe = Cluster::connect(ClusterSettings {
            partitions: settings.partitions,
            ..settings.clone()
        })
        .await;
        match probe {
            Err(ClusterError::PartitionCount { existing, .. }) => {
                settings.partitions = existing;
                Cluster::connect(settings).await
            }
            other => other,
        }
    }
}

async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, ClusterError> {
    let name = config.name.clone();
    get_or_create_stream(js, config)
        .await
        .map_err(|e| ClusterError::js(format!("creating stream {name}"), e))
}

/// `get_or_create_stream`, safe when several processes connect at once: when the create fails
/// because another process created the stream between this one's look and its create (a 2.9
/// server then answers "subjects overlap with an existing stream" — the new one's own), the
/// stream now there is taken. Any other failure stands.
async fn get_or_create_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, async_nats::jetstream::context::CreateStreamError> {
    let name = config.name.clone();
    match js.get_or_create_stream(config).await {
        Ok(stream) => Ok(stream),
        Err(error) => match js.get_stream(&name).await {
            Ok(stream) => Ok(stream),
            Err(_) => Err(error),
        },
    }
}

async fn ensure_bucket(
    js: &jetstream::Context,
    settings: &ClusterSettings,
    what: &str,
    max_age: Duration,
) -> Result<kv::Store, ClusterError> {
    let bucket = format!("{}_{what}", settings.prefix);
    if let Ok(store) = js.get_key_value(&bucket).await {
        return Ok(store);
    }
    // The stream a KV bucket is, created directly: the client's `create_key_value` first asks
    // for the account info, whose answer from a 2.9 server it cannot parse.
    get_or_create_stream(
        js,
        stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| ClusterError::js(format!("creating bucket {bucket}"), e))?;
    js.get_key_value(&bucket)
        .await
        .map_err(|e| ClusterError::js(format!("opening bucket {bucket}"), e))
}
