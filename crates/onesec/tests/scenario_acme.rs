//! The acme day end to end, against `../shared/scenarios/acme/expected.yaml`: through the
//! network inputs a deployment uses (syslog over TCP and UDP, HTTP), and through
//! `onesec replay`. Both must open exactly the expected incidents.

mod common;

use common::{Acme, Onesec, Options, check_acme, cli_as, replay_acme_day};
use std::collections::BTreeSet;

/// Syslog over TCP (half newline-framed, half octet-counted) and UDP (the sudo line), Windows and
/// ONVIF NDJSON and the access CSV (with its column mapping) over HTTP.
#[test]
fn acme_day_over_syslog_and_http_opens_the_expected_incidents() {
    let Some(acme) = Acme::load() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options::acme(&tmp.path().join("data"), &acme));
    let tcp = onesec.syslog_tcp.expect("syslog TCP listener");
    let udp = onesec.syslog_udp.expect("syslog UDP listener");

    let syslog = acme.lines("day-syslog.log");
    let (over_udp, over_tcp): (Vec<String>, Vec<String>) = syslog
        .iter()
        .cloned()
        .partition(|line| line.contains(" sudo:") || line.contains(" sudo "));
    assert!(
        !over_udp.is_empty(),
        "day-syslog.log has a sudo line to send over UDP"
    );
    let (newline_framed, octet_counted) = over_tcp.split_at(over_tcp.len() / 2);
    common::send_syslog_tcp_newline(tcp, newline_framed);
    common::send_syslog_tcp_octet_counted(tcp, octet_counted);
    common::send_syslog_udp(udp, &over_udp);

    let mut sent = syslog.len() as u64;
    for (file, format) in [
        ("day-windows.jsonl", "windows-json"),
        ("day-onvif.jsonl", "onvif-ej"),
    ] {
        let body = std::fs::read(acme.path(file)).unwrap();
        let answer = onesec.post_events(format, body, None);
        let lines = acme.lines(file).len() as u64;
        assert_eq!(answer.status, 200, "{file}: {}", answer.body);
        assert_eq!(
            answer.body["accepted"].as_u64(),
            Some(lines),
            "{file}: {}",
            answer.body
        );
        sent += lines;
    }
    let csv = std::fs::read(acme.path("day-access.csv")).unwrap();
    let answer = onesec.post_events("access-csv", csv, Some(&acme.mapping));
    let rows = acme.lines("day-access.csv").len() as u64;
    assert_eq!(answer.status, 200, "day-access.csv: {}", answer.body);
    assert_eq!(
        answer.body["accepted"].as_u64(),
        Some(rows),
        "day-access.csv: {}",
        answer.body
    );
    sent += rows;

    let status = onesec.wait_for_detection(sent);
    assert_eq!(
        status["journal_seq"].as_u64(),
        Some(sent),
        "every line is one event: {status}"
    );
    let events = onesec.events();
    assert_eq!(events.len() as u64, sent, "every event is stored");
    // Each syslog line arrived whole (framing stripped) and by the input it was sent on.
    for line in &syslog {
        let inputs: Vec<&str> = events
            .iter()
            .filter(|e| e["raw"].as_str() == Some(line.as_str()))
            .map(|e| e["source"]["input"].as_str().unwrap_or(""))
            .collect();
        let want = if over_udp.contains(line) {
            "syslog-udp"
        } else {
            "syslog-tcp"
        };
        assert_eq!(inputs, [want], "stored copies of {line:?} (by input)");
    }

    // The CLI, asking the same server, lists the same incidents as the API.
    let ids: BTreeSet<String> = onesec.incidents().into_iter().map(|i| i.id).collect();
    let output = cli_as(
        &["incidents", "--server", &onesec.base, "--json"],
        onesec.token(),
    );
    assert!(
        output.status.success(),
        "onesec incidents failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "onesec incidents --json is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        listed, ids,
        "onesec incidents --json lists other incidents than GET /api/v1/incidents"
    );

    check_acme(&onesec, &acme);
}

/// `onesec replay --server URL files...` and `onesec replay ... day-access.csv --mapping ...`.
#[test]
fn acme_day_through_replay_opens_the_expected_incidents() {
    let Some(acme) = Acme::load() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options::acme(&tmp.path().join("data"), &acme));

    replay_acme_day(&onesec, &acme);

    let sent = acme.records().len() as u64;
    let status = onesec.wait_for_detection(sent);
    assert_eq!(
        status["journal_seq"].as_u64(),
        Some(sent),
        "every line is one event: {status}"
    );
    check_acme(&onesec, &acme);
}

#[test]
fn checking_helpers_read_expected_times_and_shuffle_reproducibly() {
    assert_eq!(common::base64(b"Man"), "TWFu");
    assert_eq!(common::base64(b"Ma"), "TWE=");
    assert_eq!(common::base64(b"M"), "TQ==");
    assert_eq!(
        common::time_tokens("3 x denied at RDR-LYO-07 15:20:01-15:20:18"),
        ["15:20:01", "15:20:18"]
    );
    assert!(common::time_tokens("12 x sshd for root 16:40-16:43").is_empty());
    let l = common::parse_listening_line(
        "onesec listening http=127.0.0.1:1 syslog_udp=127.0.0.1:2 syslog_tcp=off data=/x rules=3 directory=6",
    );
    assert_eq!(l.http, Some("127.0.0.1:1".parse().unwrap()));
    assert_eq!(l.syslog_udp, Some("127.0.0.1:2".parse().unwrap()));
    assert_eq!(l.syslog_tcp, None);
    let shuffled = |seed| {
        let mut items: Vec<u32> = (0..20).collect();
        common::XorShift::new(seed).shuffle(&mut items);
        items
    };
    assert_eq!(shuffled(7), shuffled(7));
    assert_ne!(shuffled(7), shuffled(8));
    assert_ne!(shuffled(7), (0..20).collect::<Vec<_>>());
}
