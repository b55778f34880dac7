//! Late events are stored, not lost: an event more than `allowed_lateness` (24 h by default)
//! behind the watermark is stored like the others and listed by `GET /api/v1/events/late` with
//! the watermark it was behind and its source; an event within the lateness is not listed.

mod common;

use common::{Onesec, Options};

#[test]
fn events_beyond_the_allowed_lateness_are_stored_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let line = |t: &str, user: &str| {
        format!(
            "<86>1 {t} srv sshd 41 - - Accepted publickey for {user} from 10.0.0.1 port 5 ssh2\n"
        )
    };
    let body = [
        line("2026-03-10T12:00:00Z", "alice"),
        // Two days behind: late.
        line("2026-03-08T12:00:00Z", "bob"),
        // Two hours behind: within the lateness.
        line("2026-03-10T10:00:00Z", "carol"),
    ]
    .concat();
    let answer = onesec.post_events("syslog", body, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    onesec.wait_for_detection(3);

    let late = onesec.get_json("/api/v1/events/late");
    let late = late.as_array().expect("an array");
    assert_eq!(late.len(), 1, "{late:?}");
    let entry = &late[0];
    assert_eq!(entry["event"]["actor"]["user"], "bob", "{entry}");
    assert_eq!(entry["id"], entry["event"]["id"]);
    assert_eq!(
        entry["watermark_ms"].as_i64().unwrap() - entry["time_ms"].as_i64().unwrap(),
        2 * 86_400_000
    );
    assert!(
        entry["source"].as_str().unwrap().starts_with("http/"),
        "{entry}"
    );
    // Stored like every event.
    let events = onesec.events();
    assert_eq!(events.len(), 3);
    // Paging: nothing after the last one.
    let after = format!("/api/v1/events/late?after_id={}", entry["id"]);
    assert_eq!(onesec.get_json(&after).as_array().map(Vec::len), Some(0));
}
