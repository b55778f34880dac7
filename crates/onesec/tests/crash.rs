//! Nothing acknowledged is lost: the acme day is sent one record per request, onesec is killed
//! with SIGKILL part way through, restarted on the same data folder, and sent the rest. Every
//! acknowledged event must be stored exactly once and the expected incidents must exist exactly
//! once.

mod common;

use common::{Acme, Onesec, Options, XorShift, check_acme};
use std::collections::BTreeSet;

/// Fixed arrival order, so that every kill point cuts across all four files.
const SEED: u64 = 7;

fn crash_after(percent: usize) {
    let Some(acme) = Acme::load() else { return };
    let mut records = acme.records();
    XorShift::new(SEED).shuffle(&mut records);
    let cut = records.len() * percent / 100;
    let tmp = tempfile::tempdir().unwrap();
    let options = Options::acme(&tmp.path().join("data"), &acme);

    let mut acknowledged: Vec<u64> = Vec::new();
    let mut onesec = Onesec::start(&options);
    for record in &records[..cut] {
        acknowledged.extend(onesec.post_record(record, &acme));
    }
    // No clean shutdown: detection may be anywhere behind the journal.
    onesec.kill();
    drop(onesec);

    let onesec = Onesec::start(&options);
    let status = onesec.wait_for_detection(acknowledged.len() as u64);
    assert_eq!(
        status["journal_seq"].as_u64(),
        acknowledged.iter().max().copied(),
        "after the restart the journal ends at the last acknowledged event: {status}"
    );
    for record in &records[cut..] {
        acknowledged.extend(onesec.post_record(record, &acme));
    }
    onesec.wait_for_detection(acknowledged.len() as u64);

    let acknowledged_set: BTreeSet<u64> = acknowledged.iter().copied().collect();
    assert_eq!(
        acknowledged_set.len(),
        acknowledged.len(),
        "an event id was acknowledged twice: {acknowledged:?}"
    );
    let stored: Vec<u64> = onesec
        .events()
        .iter()
        .map(|e| {
            e["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("stored event without an id: {e}"))
        })
        .collect();
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(
        stored.len(),
        stored_set.len(),
        "an event is stored twice: {stored:?}"
    );
    let lost: Vec<&u64> = acknowledged_set.difference(&stored_set).collect();
    let unknown: Vec<&u64> = stored_set.difference(&acknowledged_set).collect();
    assert!(
        lost.is_empty() && unknown.is_empty(),
        "acknowledged but not stored: {lost:?}; stored but never acknowledged: {unknown:?}"
    );
    assert_eq!(
        stored.len(),
        records.len(),
        "one stored event per record sent"
    );

    check_acme(&onesec, &acme);
}

#[test]
fn kill_after_20_percent_loses_nothing_and_duplicates_nothing() {
    crash_after(20);
}

#[test]
fn kill_after_50_percent_loses_nothing_and_duplicates_nothing() {
    crash_after(50);
}

#[test]
fn kill_after_80_percent_loses_nothing_and_duplicates_nothing() {
    crash_after(80);
}
