//! Publishing on the real server (the local nats-server with JetStream): a batch published
//! again under the same batch id — what a retry after a lost acknowledgement does — stores
//! nothing twice and keeps its event ids. Skipped without a server, except under `CI=true`.

use onesec_cluster::{Cluster, Publisher};
use onesec_directory::{Directory, SharedDirectory};
use onesec_event::{Activity, Event, EventClass, PersonRef};

mod common;

use common::connect;

/// Events of several people, some at a site (so they have site copies besides their primary).
fn events() -> Vec<Event> {
    (0..12)
        .map(|i| {
            let mut event = Event::new(
                1_773_129_491_000 + i,
                EventClass::PhysicalAccess,
                Activity::AccessGranted,
            );
            event.resolved.person = Some(PersonRef {
                id: format!("p{}", i % 5),
                name: format!("Person {}", i % 5),
                status: "active".into(),
                department: String::new(),
                home_site: String::new(),
            });
            if i % 2 == 0 {
                event.resolved.site = Some(format!("S{}", i % 3));
            }
            event.raw = format!("event {i}");
            event
        })
        .collect()
}

async fn stored(cluster: &Cluster) -> u64 {
    let mut events = cluster.events.clone();
    events.info().await.expect("stream info").state.messages
}

#[tokio::test]
async fn a_batch_published_again_under_its_id_is_stored_once_with_the_same_ids() {
    let Some(cluster) = connect("tpub").await else {
        return;
    };
    let publisher = Publisher::new(
        cluster.clone(),
        SharedDirectory::new("", Directory::empty()),
    );
    let batch = events();
    let first = publisher
        .publish_resolved_as(&batch, "retry-test-1")
        .await
        .expect("first publish");
    assert_eq!(first.accepted, batch.len());
    assert!(
        first.messages > batch.len(),
        "some events have site copies: {} messages",
        first.messages
    );
    let after_first = stored(&cluster).await;
    assert_eq!(after_first, first.messages as u64);

    let again = publisher
        .publish_resolved_as(&batch, "retry-test-1")
        .await
        .expect("second publish");
    assert_eq!(again.sequences, first.sequences, "the same event ids");
    assert_eq!(again.highest_sequence, first.highest_sequence);
    assert_eq!(stored(&cluster).await, after_first, "nothing stored twice");

    // Another batch of the same events is new events (a sender that sends twice on purpose).
    let other = publisher.publish_resolved(&batch).await.expect("new batch");
    assert!(other.sequences.iter().all(|s| *s > first.highest_sequence));
    assert_eq!(stored(&cluster).await, after_first + other.messages as u64);
}
