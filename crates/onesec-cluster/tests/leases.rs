//! Lease semantics on the real server (the local nats-server 2.9.10 with JetStream): one
//! holder at a time, renewals at the holder's revision, expiry one TTL after the last renewal,
//! and a stale holder told it lost the lease. Skipped without a server, except under `CI=true`.

use onesec_cluster::lease::{self, partition_key};
use onesec_cluster::{Cluster, ClusterError, ClusterSettings};
use std::time::{Duration, Instant};

mod common;

use common::connect;

#[tokio::test]
async fn one_holder_renewals_expiry_and_a_stale_holder() {
    let Some(cluster) = connect("tlease").await else {
        return;
    };
    let key = partition_key(0);
    let held = lease::acquire(&cluster.leases, &key, "a")
        .await
        .unwrap()
        .expect("a free lease is taken");
    assert_eq!(
        lease::acquire(&cluster.leases, &key, "b").await.unwrap(),
        None,
        "a held lease is not taken"
    );
    let renewed = lease::renew(&cluster.leases, &key, "a", held, 0)
        .await
        .unwrap();
    assert_ne!(renewed, held, "a renewal moves the revision");
    assert!(
        matches!(
            lease::renew(&cluster.leases, &key, "a", held, 0).await,
            Err(ClusterError::LeaseLost { .. })
        ),
        "a renewal at an old revision is refused"
    );

    // "a" stops renewing (as a killed worker does): the lease frees itself after the TTL.
    let stopped = Instant::now();
    let taken = loop {
        if let Some(taken) = lease::acquire(&cluster.leases, &key, "b").await.unwrap() {
            break taken;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        stopped.elapsed() >= Duration::from_millis(500),
        "not taken long before the 1 s TTL ran out: {:?}",
        stopped.elapsed()
    );
    assert!(
        matches!(
            lease::renew(&cluster.leases, &key, "a", renewed, 0).await,
            Err(ClusterError::LeaseLost { .. })
        ),
        "the stale holder learns it lost the lease"
    );
    let owners = lease::owners(&cluster.leases).await.unwrap();
    assert_eq!(owners[&key].node, "b");

    // Released by its holder, it is free at once.
    lease::release(&cluster.leases, &key, taken).await;
    assert!(
        lease::acquire(&cluster.leases, &key, "c")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_partition_count_of_a_cluster_never_changes() {
    let Some(cluster) = connect("tcount").await else {
        return;
    };
    let again = Cluster::connect(ClusterSettings {
        partitions: 8,
        ..cluster.settings.clone()
    })
    .await;
    assert!(
        matches!(
            again,
            Err(ClusterError::PartitionCount {
                existing: 4,
                asked: 8,
                ..
            })
        ),
        "another count is refused"
    );
    let existing = Cluster::connect_existing(ClusterSettings {
        partitions: 8,
        ..cluster.settings.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        existing.settings.partitions, 4,
        "connect_existing takes the stored count"
    );
}

/// The lease book (what workers and the sink hold, renewed by their renewal thread): a batch
/// renewal keeps every lease and moves its local deadline; a lease someone else took is
/// reported lost and its clock says so; a released lease is free at once.
#[tokio::test]
async fn a_lease_book_renews_in_one_batch_and_reports_what_it_lost() {
    use onesec_cluster::renew::LeaseBook;
    let Some(cluster) = connect("tbook").await else {
        return;
    };
    let ttl = cluster.settings.lease_ttl;
    let sink = LeaseBook::for_sink("s1".into(), ttl);
    let sink_clock = sink.acquire(&cluster, 0).await.unwrap().expect("free");
    let workers = LeaseBook::new("w1".into(), ttl);
    let mut clocks = Vec::new();
    for partition in 0..4 {
        clocks.push(
            workers
                .acquire(&cluster, partition)
                .await
                .unwrap()
                .expect("free"),
        );
    }
    for _ in 0..3 {
        sink.renew_all(&cluster).await;
        workers.renew_all(&cluster).await;
    }
    assert!(sink_clock.is_valid() && clocks.iter().all(|c| c.is_valid()));
    assert!(sink.take_lost().is_empty() && workers.take_lost().is_empty());
    let owners = lease::owners(&cluster.leases).await.unwrap();
    assert_eq!(owners["sink"].node, "s1");
    assert_eq!(owners["p3"].node, "w1");

    // Someone else writes p2 (as after an expiry and a takeover): lost at the next batch.
    cluster
        .leases
        .put("p2", b"{\"node\":\"w2\",\"acquired_ms\":0}".to_vec().into())
        .await
        .unwrap();
    workers.renew_all(&cluster).await;
    assert_eq!(workers.take_lost(), vec![2]);
    assert!(clocks[2].is_lost() && !clocks[2].is_valid());
    assert!(clocks[1].is_valid());
    assert_eq!(workers.held(), vec![0, 1, 3]);

    workers.release(&cluster, 1).await;
    let other = LeaseBook::new("w2".into(), ttl);
    assert!(other.acquire(&cluster, 1).await.unwrap().is_some());
    Cluster::delete(&cluster.settings).await.unwrap();
}

#[tokio::test]
async fn processes_connecting_to_a_new_cluster_at_once_all_get_it() {
    // An ingest, a sink and workers started together all create the same streams and buckets;
    // a 2.9 server answers some of them "subjects overlap" (seen failing 2 runs in 3 before the
    // fix, 24 connections at once), which must not fail them.
    // Skipped without a server (failed under CI), as the other tests.
    if connect("tconcur").await.is_none() {
        return;
    }
    for round in 0..6 {
        let settings = common::settings(&format!("tconc{round}"));
        let connects: Vec<_> = (0..24)
            .map(|_| tokio::spawn(Cluster::connect(settings.clone())))
            .collect();
        for connect in connects {
            let cluster = connect.await.expect("task").expect("connect");
            assert_eq!(cluster.settings.prefix, settings.prefix);
        }
    }
}
