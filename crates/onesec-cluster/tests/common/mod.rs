//! What the cluster tests share: settings for a cluster of their own on the local NATS server
//! (`ONESEC_NATS_URL`, default `nats://127.0.0.1:4222`) and a connection that skips without a
//! server, except under `CI=true` where it fails.

use onesec_cluster::{Cluster, ClusterError, ClusterSettings};
use std::time::Duration;

/// Settings for a cluster no other test uses: 4 partitions, 1 s leases.
pub fn settings(name: &str) -> ClusterSettings {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    ClusterSettings {
        url: std::env::var("ONESEC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        prefix: format!("{name}{}x{}", std::process::id(), nanos % 1_000_000_000),
        partitions: 4,
        lease_ttl: Duration::from_secs(1),
        ..ClusterSettings::default()
    }
}

/// A connection to a new cluster, or `None` (skipped) when no server answers outside CI.
pub async fn connect(name: &str) -> Option<Cluster> {
    match Cluster::connect(settings(name)).await {
        Ok(cluster) => Some(cluster),
        Err(error @ ClusterError::Connect { .. }) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("NATS JetStream is not reachable under CI: {error}");
            }
            eprintln!("SKIPPED: {error}");
            None
        }
        Err(error) => panic!("{error}"),
    }
}
