//! The stores are synchronous and are called from plain threads (detection) and from tokio
//! threads (HTTP handlers, `spawn_blocking`). The PostgreSQL client blocks on a runtime of its
//! own, which would panic on a tokio thread: these tests call every kind of operation from
//! inside both kinds of runtime.

use crate::Kind;
use crate::detection::incident;
use onesec_incident::IncidentState;
use onesec_store::{DetectionBatch, IncidentFilter, Store};

crate::on_both_backends!(
    a_store_works_on_a_current_thread_runtime,
    a_store_works_on_a_multi_thread_runtime_and_in_spawn_blocking,
);

fn write_and_read(store: &mut dyn Store) {
    let batch = DetectionBatch {
        incidents: vec![incident("i1", IncidentState::New)],
        detected_upto: 3,
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    assert_eq!(store.detected_upto().unwrap(), 3);
    assert_eq!(
        store.incidents(&IncidentFilter::default()).unwrap().len(),
        1
    );
}

fn a_store_works_on_a_current_thread_runtime(kind: Kind) {
    let backend = kind.fresh();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Opened, written and read inside the runtime, on its only thread.
        let mut store = backend.open();
        write_and_read(&mut *store);
    });
}

fn a_store_works_on_a_multi_thread_runtime_and_in_spawn_blocking(kind: Kind) {
    let backend = kind.fresh();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut store = backend.open();
    write_and_read(&mut *store);
    let store = runtime.block_on(async move {
        let store = tokio::spawn(async move {
            // On a worker thread, as an async handler would.
            assert_eq!(store.detected_upto().unwrap(), 3);
            store
        })
        .await
        .unwrap();
        tokio::task::spawn_blocking(move || {
            // As the server's `with_store` does.
            let mut store = store;
            store
                .set_incident_state("i1", IncidentState::Acknowledged)
                .unwrap();
            store
        })
        .await
        .unwrap()
    });
    assert_eq!(
        store.incident("i1").unwrap().unwrap().state,
        IncidentState::Acknowledged
    );
}
