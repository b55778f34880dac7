//! Event time, not arrival time: every record of the acme day (all four files) is shuffled with
//! a fixed seed and sent on its own, in that order. The conclusions must be the ones in
//! `expected.yaml` whatever the order.

mod common;

use common::{Acme, Onesec, Options, XorShift, check_acme};

fn acme_in_shuffled_order(seed: u64) {
    let Some(acme) = Acme::load() else { return };
    let mut records = acme.records();
    XorShift::new(seed).shuffle(&mut records);
    let order: Vec<String> = records
        .iter()
        .map(|r| format!("{}:{}", r.file, r.line_no))
        .collect();
    eprintln!("seed {seed}: arrival order {order:?}");

    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options::acme(&tmp.path().join("data"), &acme));
    let mut acknowledged = 0;
    for record in &records {
        let ids = onesec.post_record(record, &acme);
        assert_eq!(
            ids.len(),
            1,
            "{}:{} should be one event",
            record.file,
            record.line_no
        );
        acknowledged += 1;
    }
    let status = onesec.wait_for_detection(acknowledged);
    assert_eq!(
        status["journal_seq"].as_u64(),
        Some(acknowledged),
        "{status}"
    );
    check_acme(&onesec, &acme);
}

#[test]
fn acme_conclusions_do_not_depend_on_arrival_order_seed_1() {
    acme_in_shuffled_order(0x9E37_79B9_7F4A_7C15);
}

#[test]
fn acme_conclusions_do_not_depend_on_arrival_order_seed_2() {
    acme_in_shuffled_order(42);
}

#[test]
fn acme_conclusions_do_not_depend_on_arrival_order_seed_3() {
    acme_in_shuffled_order(20_260_310);
}
