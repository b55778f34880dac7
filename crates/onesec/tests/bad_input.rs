//! Bad input is data, not a crash: refused records are reported with their line and kept as
//! dead letters while the good records beside them are stored; oversized bodies, unknown formats
//! and garbage on the syslog port leave the server answering.

mod common;

use common::{Onesec, Options, XorShift};

const GOOD_SYSLOG: &str = "<38>1 2026-03-10T16:40:15Z web-01 sshd 7100 - - Failed password for root from 203.0.113.77 port 40000 ssh2";
const GOOD_ONVIF: &str = r#"{"topic": "acme/ctl-par-01/onvif-ej/Door/State/DoorAlarm/&PAR-D-MAIN", "payload": {"UtcTime": "2026-03-10T12:30:05Z", "PropertyOperation": "Changed", "Source": {"DoorToken": "PAR-D-MAIN"}, "Data": {"State": "DoorOpenTooLong"}}}"#;

fn plain_onesec(tmp: &tempfile::TempDir) -> Onesec {
    Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    })
}

/// The value of a Prometheus counter.
fn metric(onesec: &Onesec, name: &str) -> u64 {
    let (status, text) = onesec.get_text("/metrics");
    assert_eq!(status, 200, "/metrics: {text}");
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

fn stored_raws(onesec: &Onesec) -> Vec<String> {
    onesec
        .events()
        .iter()
        .map(|e| e["raw"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_batch_with_bad_lines_keeps_the_good_ones_and_dead_letters_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = plain_onesec(&tmp);
    let dead_before = metric(&onesec, "onesec_dead_letters_total");

    let mut body = Vec::new();
    body.extend_from_slice(GOOD_SYSLOG.as_bytes()); // line 1: good
    body.extend_from_slice(b"\n{\"topic\": \"acme/ctl-par-01/onvif-ej/Door/State/DoorAlarm\", \"payload\": {\"UtcTime\": \n"); // 2: malformed JSON
    body.extend_from_slice(b"<38>Mar 10 16:40:15 host sshd[1]: \xff\xfe invalid \xc3\x28 bytes\n"); // 3: invalid UTF-8
    body.extend_from_slice(b"this is not a log line of any known shape\n"); // 4: unknown syslog shape
    body.extend_from_slice(GOOD_ONVIF.as_bytes()); // line 5: good
    body.push(b'\n');

    let body_copy = body.clone();
    let answer = onesec.post_events("auto", body, None);
    assert_eq!(answer.status, 400, "some lines were bad: {}", answer.body);
    assert_eq!(answer.body["accepted"].as_u64(), Some(2), "{}", answer.body);
    let errors = answer.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {}", answer.body));
    let lines: Vec<u64> = errors
        .iter()
        .map(|e| e["line"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(lines, [2, 3, 4], "refused lines: {}", answer.body);
    for error in errors {
        assert!(
            !error["reason"].as_str().unwrap_or("").trim().is_empty(),
            "an error without a reason: {error}"
        );
    }
    let acknowledged = common::acknowledged_ids(&answer.body);
    assert_eq!(acknowledged.len(), 2);

    onesec.wait_for_detection(2);
    let raws = stored_raws(&onesec);
    assert_eq!(raws.len(), 2, "only the good lines are stored: {raws:?}");
    assert!(
        raws.iter().any(|r| r == GOOD_SYSLOG),
        "the good syslog line is stored: {raws:?}"
    );
    assert!(
        raws.iter().any(|r| r == GOOD_ONVIF),
        "the good ONVIF line is stored: {raws:?}"
    );

    let dead = onesec.get_json("/api/v1/dead-letters");
    let dead = dead
        .as_array()
        .unwrap_or_else(|| panic!("dead letters are not an array: {dead}"));
    let mut dead_lines: Vec<u64> = dead
        .iter()
        .map(|d| d["line"].as_u64().unwrap_or(0))
        .collect();
    dead_lines.sort_unstable();
    assert_eq!(dead_lines, [2, 3, 4], "dead letters: {dead:#?}");
    // Each refused record also says where its line starts in the body sent.
    let line_starts: Vec<u64> = std::iter::once(0)
        .chain(
            body_copy
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i as u64 + 1),
        )
        .collect();
    for line in [2u64, 3, 4] {
        let expected = line_starts[line as usize - 1];
        let letter = dead.iter().find(|d| d["line"].as_u64() == Some(line));
        assert_eq!(
            letter.and_then(|d| d["byte_offset"].as_u64()),
            Some(expected),
            "dead letter of line {line}: {letter:?}"
        );
        let reported = errors.iter().find(|e| e["line"].as_u64() == Some(line));
        assert_eq!(
            reported.and_then(|e| e["byte_offset"].as_u64()),
            Some(expected),
            "{}",
            answer.body
        );
    }
    for letter in dead {
        assert!(
            !letter["reason"].as_str().unwrap_or("").trim().is_empty(),
            "a dead letter without a reason: {letter}"
        );
        assert_eq!(letter["input"].as_str(), Some("http"), "{letter}");
    }
    let raw_of = |line: u64| {
        dead.iter()
            .find(|d| d["line"].as_u64() == Some(line))
            .map(|d| d["raw"].as_str().unwrap_or(""))
    };
    assert!(
        raw_of(2).is_some_and(|r| r.contains("DoorAlarm")),
        "dead letter 2 keeps its input: {dead:#?}"
    );
    assert!(
        raw_of(3).is_some_and(|r| r.contains("invalid")),
        "dead letter 3 keeps its input: {dead:#?}"
    );
    assert!(
        raw_of(4).is_some_and(|r| r.contains("not a log line")),
        "dead letter 4 keeps its input: {dead:#?}"
    );

    let dead_after = metric(&onesec, "onesec_dead_letters_total");
    assert_eq!(
        dead_after,
        dead_before + 3,
        "onesec_dead_letters_total counts the three refused lines"
    );
}

#[test]
fn an_oversized_body_gets_413_and_the_server_keeps_answering() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    std::fs::write(&config, "[http]\nmax_body_bytes = 1024\n").unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    });

    let mut big = String::new();
    while big.len() <= 4096 {
        big.push_str(GOOD_SYSLOG);
        big.push('\n');
    }
    let answer = onesec.post_events("syslog", big, None);
    assert_eq!(
        answer.status, 413,
        "a body over http.max_body_bytes: {}",
        answer.body
    );
    assert_eq!(
        onesec.status()["journal_seq"].as_u64(),
        Some(0),
        "nothing of the oversized body was accepted"
    );

    let (status, health) = onesec.get_text("/healthz");
    assert_eq!((status, health.as_str()), (200, "ok"));
    let answer = onesec.post_events("syslog", GOOD_SYSLOG, None);
    assert_eq!(
        answer.status, 200,
        "a small body after the big one: {}",
        answer.body
    );
    assert_eq!(answer.body["accepted"].as_u64(), Some(1));
    onesec.wait_for_detection(1);
    assert_eq!(stored_raws(&onesec), [GOOD_SYSLOG]);
}

#[test]
fn an_unknown_format_is_refused_naming_the_valid_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = plain_onesec(&tmp);
    let answer = onesec.post_events("arcsight", GOOD_SYSLOG, None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    let message = answer.body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {}", answer.body));
    for format in [
        "auto",
        "syslog",
        "cef",
        "leef",
        "windows-json",
        "onvif-ej",
        "access-csv",
    ] {
        assert!(
            message.contains(format),
            "the error names the valid format {format}: {message}"
        );
    }
    assert_eq!(
        onesec.status()["journal_seq"].as_u64(),
        Some(0),
        "nothing was accepted"
    );
}

#[test]
fn garbage_on_the_syslog_tcp_port_does_not_stop_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = plain_onesec(&tmp);
    let tcp = onesec.syslog_tcp.expect("syslog TCP listener");

    // Random bytes, newlines and digits included (some frames look octet-counted).
    let mut rng = XorShift::new(0xBAD_5EED);
    let random: Vec<u8> = (0..100_000).map(|_| (rng.next_u64() >> 56) as u8).collect();
    common::send_tcp_bytes(tcp, &random);
    // One line of 200 KB, over syslog.max_message_bytes (64 KiB).
    let mut long = b"<13>Mar 10 10:00:00 host app: ".to_vec();
    long.resize(200_000, b'A');
    long.push(b'\n');
    common::send_tcp_bytes(tcp, &long);
    // An octet count far larger than anything that follows.
    common::send_tcp_bytes(tcp, b"99999999999 <13>short\n");

    assert!(
        onesec.is_running(),
        "onesec exited after garbage on syslog TCP:\n{}",
        onesec.log_tail()
    );
    let before = onesec.status()["journal_seq"]
        .as_u64()
        .expect("status still answers");

    let good = "<38>1 2026-03-10T16:40:15Z gw-01 sshd 7100 - - Failed password for root from 203.0.113.77 port 40000 ssh2";
    common::send_syslog_tcp_newline(tcp, &[good.to_string()]);
    onesec.wait_for_detection(before + 1);
    let raws = stored_raws(&onesec);
    assert!(
        raws.iter().any(|r| r == good),
        "the good line sent after the garbage is stored: {raws:?}"
    );

    let dead = onesec.get_json("/api/v1/dead-letters?limit=1000");
    let reasons: Vec<&str> = dead
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("max_message_bytes")),
        "the 200 KB line is a dead letter naming syslog.max_message_bytes: {reasons:?}"
    );
}

/// Senders that hold connections or never end a frame: connections beyond
/// `syslog.max_tcp_connections` are closed at once, a silent connection is closed after
/// `syslog.tcp_idle_secs`, and a digit run or a line without end is never buffered whole.
#[test]
fn syslog_tcp_senders_cannot_hold_the_listener() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("limits.toml");
    std::fs::write(
        &config,
        "[syslog]\nmax_tcp_connections = 2\ntcp_idle_secs = 1\nmax_message_bytes = 1024\n",
    )
    .unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    });
    let tcp = onesec.syslog_tcp.expect("syslog TCP listener");
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(tcp).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(tcp).unwrap();
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        third.read(&mut byte).unwrap_or(0),
        0,
        "the third connection is closed"
    );
    for mut stream in held {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert_eq!(
            stream.read(&mut byte).unwrap_or(0),
            0,
            "an idle connection is closed"
        );
    }

    // 5 MB of digits (looks octet-counted, never a space) and 5 MB of one endless line.
    let mut digits = std::net::TcpStream::connect(tcp).unwrap();
    let _ = digits.write_all(&vec![b'7'; 5_000_000]);
    drop(digits);
    let mut endless = std::net::TcpStream::connect(tcp).unwrap();
    let _ = endless.write_all(&vec![b'x'; 5_000_000]);
    drop(endless);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(onesec.is_running(), "{}", onesec.log_tail());
    let before = onesec.status()["journal_seq"].as_u64().unwrap();
    common::send_syslog_tcp_newline(tcp, &[GOOD_SYSLOG.to_string()]);
    onesec.wait_for_detection(before + 1);
    assert!(stored_raws(&onesec).iter().any(|r| r == GOOD_SYSLOG));
}
