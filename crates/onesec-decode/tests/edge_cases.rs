//! Hand-made edge cases (tests/data) and hostile input: bad records become errors with their
//! line, the good records beside them are kept, nothing panics.

mod common;

use common::{ACME_RECEIVED_MS, action, ctx, local_bytes, shared_bytes};
use onesec_decode::{
    CsvMapping, Decoded, Format, MAX_RECORD_BYTES, decode_bytes, decode_onvif_mqtt, decode_syslog,
};
use onesec_event::{Activity, Direction, EventClass, LogonKind, Status};

fn lines_of(errors: &Decoded) -> Vec<usize> {
    errors.errors.iter().map(|e| e.line).collect()
}

#[test]
fn syslog_edge_file() {
    let out = decode_bytes(
        &Format::Syslog,
        &local_bytes("syslog-edge.log"),
        &ctx(ACME_RECEIVED_MS),
    );
    assert_eq!(lines_of(&out), [9, 12], "{:#?}", out.errors);
    assert!(
        out.errors[0].reason.contains("expected a syslog message"),
        "{}",
        out.errors[0].reason
    );
    assert_eq!(out.errors[0].raw, "just some words that are not syslog");
    assert_eq!(out.events.len(), 9);
    let e = &out.events[1];
    assert_eq!(e.message, "An application event");
    assert_eq!(
        &e.fields["syslog.sd.exampleSDID@32473.eventSource"],
        "Application"
    );
    assert_eq!(e.time_rfc3339(), "2026-03-10T10:12:05.123Z");
    let e = &out.events[2];
    assert_eq!(action(e), "ssh_accepted");
    assert_eq!(e.src.ip, "2001:db8::7".parse().ok());
    assert_eq!(&e.fields["ssh.method"], "keyboard-interactive/pam");
    // A truncated header with a valid PRI is kept whole as a base event.
    assert_eq!(
        (out.events[3].class, out.events[3].message.as_str()),
        (EventClass::Base, "Mar 10 16:4")
    );
    assert_eq!(out.events[3].time_ms, ACME_RECEIVED_MS);
    assert_eq!(out.events[4].message, "");
    assert_eq!(out.events[5].time_ms, ACME_RECEIVED_MS);
    assert_eq!(
        &out.events[6].fields["sudo.command"],
        "/bin/cat /etc/shadow"
    );
    assert_eq!(
        (out.events[7].status, out.events[7].logon),
        (Status::Failure, Some(LogonKind::Vpn))
    );
    let e = &out.events[8];
    assert_eq!(
        (action(e), e.actor.user.as_deref()),
        ("console_login_failed", Some("UNKNOWN"))
    );
    assert_eq!(&e.fields["tty"], "/dev/tty1");
    assert!(out.events.iter().all(|e| !e.raw.ends_with('\r')));
}

#[test]
fn invalid_utf8_in_the_middle_keeps_the_good_lines() {
    for format in [Format::Syslog, Format::Auto] {
        let out = decode_bytes(
            &format,
            &local_bytes("invalid-utf8.log"),
            &ctx(ACME_RECEIVED_MS),
        );
        assert_eq!(out.events.len(), 2);
        assert_eq!(lines_of(&out), [2]);
        assert!(
            out.errors[0].reason.contains("UTF-8"),
            "{}",
            out.errors[0].reason
        );
        assert!(
            out.errors[0].raw.contains("r\u{FFFD}\u{FFFD}ot"),
            "{}",
            out.errors[0].raw
        );
    }
}

#[test]
fn windows_edge_file() {
    let bytes = local_bytes("windows-edge.jsonl");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let out = decode_bytes(&Format::WindowsJson, &bytes, &ctx(0));
    let kinds: Vec<&str> = out.events.iter().map(action).collect();
    assert_eq!(
        kinds,
        [
            "account_locked",
            "explicit_credentials",
            "external_device_recognized",
            "kerberos_preauth_failed",
            "account_locked"
        ]
    );
    let line_of = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    assert_eq!(
        lines_of(&out),
        [
            2,
            line_of("{\"winlog\": {\"channel\": \"Security\"}}"),
            line_of("42"),
            line_of("not json")
        ]
    );
    assert!(
        out.errors[0].reason.contains("expected a JSON document"),
        "{}",
        out.errors[0].reason
    );
    assert_eq!(
        out.errors[0].raw,
        r#"{"winlog": {"channel": "Security", "event_id": 46"#
    );
    assert!(
        out.errors[1].reason.contains("EventID"),
        "{}",
        out.errors[1].reason
    );
    assert!(
        out.errors[2]
            .reason
            .contains("found text starting with '42'"),
        "{}",
        out.errors[2].reason
    );
    assert!(
        out.errors[3].reason.contains("expected a JSON object"),
        "{}",
        out.errors[3].reason
    );
    let explicit = &out.events[1];
    assert_eq!(
        (explicit.actor.user.as_deref(), explicit.status),
        (Some("admin"), Status::Unknown)
    );
    assert_eq!(explicit.dst.hostname.as_deref(), Some("srv"));
    let usb = &out.events[2];
    assert_eq!(
        (usb.class, usb.activity),
        (EventClass::PeripheralActivity, Activity::Connected)
    );
    let kerberos = &out.events[3];
    assert_eq!(
        (kerberos.status, kerberos.logon),
        (Status::Failure, Some(LogonKind::Network))
    );
    assert_eq!(kerberos.src.ip, "10.20.20.12".parse().ok());
    assert_eq!(kerberos.time_rfc3339(), "2026-03-10T08:03:00.500Z");
    assert!(
        kerberos.raw.contains('\n'),
        "a pretty-printed document keeps its lines in raw"
    );
}

#[test]
fn onvif_edge_file() {
    let out = decode_bytes(
        &Format::OnvifEj,
        &local_bytes("onvif-edge.jsonl"),
        &ctx(ACME_RECEIVED_MS),
    );
    assert_eq!(lines_of(&out), [3, 4], "{:#?}", out.errors);
    assert!(
        out.errors[0].reason.contains("'topic'"),
        "{}",
        out.errors[0].reason
    );
    assert!(
        out.errors[1].reason.contains("found an array"),
        "{}",
        out.errors[1].reason
    );
    let kinds: Vec<(EventClass, Activity)> =
        out.events.iter().map(|e| (e.class, e.activity)).collect();
    assert_eq!(
        kinds,
        [
            (EventClass::PhysicalAccess, Activity::AccessTaken),
            (EventClass::PhysicalAccess, Activity::Other),
            (EventClass::VideoAnalytics, Activity::Cleared),
            (EventClass::DeviceHealth, Activity::ConfigChanged),
            (EventClass::PhysicalAccess, Activity::Tamper),
            (EventClass::PhysicalAccess, Activity::AccessDenied),
            (EventClass::DeviceHealth, Activity::HardwareFailure),
        ]
    );
    assert_eq!(
        out.events[0].actor.holder_name.as_deref(),
        Some("Alice Martin")
    );
    assert_eq!(&out.events[1].fields["onvif.property_operation"], "Deleted");
    assert_eq!(
        &out.events[2].fields["onvif.property_operation"],
        "Initialized"
    );
    assert_eq!(
        &out.events[2].fields["onvif.topic"],
        "RuleEngine/CellMotionDetector/Motion"
    );
    assert_eq!(out.events[2].physical.camera.as_deref(), Some("VS1"));
    assert_eq!(
        out.events[5].physical.reason.as_deref(),
        Some("CredentialExpired")
    );
}

#[test]
fn access_edge_file_with_its_mapping() {
    let mapping =
        CsvMapping::from_toml(&String::from_utf8(local_bytes("access-edge.toml")).unwrap())
            .unwrap();
    let out = decode_bytes(
        &Format::AccessCsv(mapping),
        &local_bytes("access-edge.csv"),
        &ctx(0),
    );
    assert_eq!(lines_of(&out), [5, 7, 9], "{:#?}", out.errors);
    assert!(
        out.errors[0].reason.contains("'Date/Heure'")
            && out.errors[0].reason.contains("31/02/2026")
    );
    assert!(
        out.errors[1].reason.contains("'Résultat'") && out.errors[1].reason.contains("peut-être")
    );
    assert!(out.errors[2].reason.contains("row of 2 cells"));
    assert_eq!(out.events.len(), 3);
    let first = &out.events[0];
    assert_eq!(
        first.time_rfc3339(),
        "2026-03-10T07:58:11.000Z",
        "Paris local time"
    );
    assert_eq!(first.physical.direction, Some(Direction::In));
    assert_eq!(first.actor.holder_name.as_deref(), Some("Bruno Keller"));
    let quoted = &out.events[1];
    assert_eq!(quoted.actor.holder_name.as_deref(), Some("Keller, Bruno"));
    assert_eq!(&quoted.fields["csv.Commentaire"], "two\nlines");
    assert!(quoted.raw.contains("two\nlines"));
    let denied = &out.events[2];
    assert_eq!(
        (denied.activity, denied.physical.direction),
        (Activity::AccessDenied, Some(Direction::Out))
    );
}

#[test]
fn auto_detection_of_mixed_lines() {
    let out = decode_bytes(
        &Format::Auto,
        &local_bytes("mixed-auto.txt"),
        &ctx(ACME_RECEIVED_MS),
    );
    let formats: Vec<&str> = out.events.iter().map(|e| &*e.source.format).collect();
    assert_eq!(
        formats,
        [
            "syslog",
            "onvif-ej",
            "windows-json",
            "access-csv",
            "json",
            "syslog"
        ]
    );
    assert_eq!(lines_of(&out), [7, 8]);
    assert!(
        out.errors[1].reason.contains("format not recognised"),
        "{}",
        out.errors[1].reason
    );
    let net = &out.events[2];
    assert_eq!(
        (net.class, net.activity),
        (EventClass::NetworkActivity, Activity::Open)
    );
    assert_eq!((net.src.port, net.dst.port), (Some(50000), Some(443)));
    assert_eq!(net.dst.hostname.as_deref(), Some("evil.example"));
    let replayed = &out.events[3];
    assert_eq!(
        (replayed.raw.as_str(), &*replayed.source.input),
        ("orig", "replay")
    );
    let generic = &out.events[4];
    assert_eq!(
        (generic.host.as_deref(), generic.message.as_str()),
        (Some("fw1"), "hello")
    );
    assert_eq!(&generic.fields["nested.a.1"], "2");
}

#[test]
fn huge_lines_and_deep_nesting_are_errors_not_crashes() {
    let mut body = b"<13>Mar 10 16:40:15 h app: ".to_vec();
    body.extend(std::iter::repeat_n(b'a', MAX_RECORD_BYTES + 10));
    body.extend_from_slice(b"\n<13>Mar 10 16:40:15 h app: fine\n");
    let out = decode_bytes(&Format::Auto, &body, &ctx(0));
    assert_eq!((out.events.len(), lines_of(&out)), (1, vec![1]));
    assert!(
        out.errors[0].reason.contains("at most"),
        "{}",
        out.errors[0].reason
    );
    assert!(out.errors[0].raw.len() <= MAX_RECORD_BYTES);

    let mut big = b"<13>Mar 10 16:40:15 h app: ".to_vec();
    big.extend(std::iter::repeat_n(b'b', 500_000));
    assert_eq!(decode_bytes(&Format::Syslog, &big, &ctx(0)).events.len(), 1);

    let deep = format!(
        "{}{}\n{{\"ok\": 1}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for format in [Format::Json, Format::Auto, Format::WindowsJson] {
        let out = decode_bytes(&format, deep.as_bytes(), &ctx(0));
        assert!(
            out.errors[0].reason.contains("recursion limit"),
            "{format}: {}",
            out.errors[0].reason
        );
        assert_eq!(out.events.len() + out.errors.len(), 2, "{format}");
    }
    let deep_object = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    assert_eq!(
        decode_bytes(&Format::Json, deep_object.as_bytes(), &ctx(0))
            .errors
            .len(),
        1
    );
}

/// Every prefix of every real line: decoded or rejected, never a panic.
#[test]
fn truncated_lines_never_panic() {
    let mut lines = Vec::new();
    for name in [
        "day-syslog.log",
        "day-windows.jsonl",
        "day-onvif.jsonl",
        "day-access.csv",
    ] {
        let Some(bytes) = shared_bytes(&format!("scenarios/acme/{name}")) else {
            return;
        };
        lines.extend(String::from_utf8(bytes).unwrap().lines().map(String::from));
    }
    let formats = [
        Format::Auto,
        Format::Syslog,
        Format::WindowsJson,
        Format::OnvifEj,
        Format::Json,
        Format::EventJson,
    ];
    let csv = Format::AccessCsv(CsvMapping::auto());
    for line in &lines {
        for cut in (0..=line.len()).filter(|c| line.is_char_boundary(*c)) {
            let prefix = &line[..cut];
            let _ = decode_syslog(prefix, &ctx(0));
            let _ = decode_onvif_mqtt(
                "a/b/onvif-ej/Door/State/DoorAlarm",
                prefix.as_bytes(),
                &ctx(0),
            );
            for format in &formats {
                let out = decode_bytes(format, prefix.as_bytes(), &ctx(0));
                assert!(out.events.len() + out.errors.len() <= 1 || prefix.contains('\n'));
            }
            let body = format!("timestamp,reader,card,result\n{prefix}\n");
            let _ = decode_bytes(&csv, body.as_bytes(), &ctx(0));
        }
    }
}

/// Deterministic random bytes, biased towards the bytes parsers care about.
#[test]
fn random_bytes_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALPHABET: &[u8] = b"<>{}[]\":,0123456789 \n\r\t-.:/&=;abcMarDecTZ\\\xff\xc3\xa9\x00";
    let formats = [
        Format::Auto,
        Format::Syslog,
        Format::WindowsJson,
        Format::OnvifEj,
        Format::Json,
        Format::EventJson,
        Format::AccessCsv(CsvMapping::auto()),
    ];
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                }
            })
            .collect();
        let format = &formats[round % formats.len()];
        let out = decode_bytes(format, &bytes, &ctx(0));
        for error in &out.errors {
            assert!(error.line >= 1 && !error.reason.is_empty());
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = decode_syslog(&text, &ctx(0));
        let _ = decode_onvif_mqtt(&text, &bytes, &ctx(0));
    }
}

/// "Billion laughs" and an external entity in an ONVIF notification: nothing is expanded or
/// fetched; the document is refused or yields no event carrying the entities' text.
#[test]
fn xml_entities_are_never_expanded_or_fetched() {
    let bomb = include_str!("data/onvif-entity-bomb.xml");
    let out = decode_bytes(&Format::OnvifXml, bomb.as_bytes(), &ctx(ACME_RECEIVED_MS));
    for event in &out.events {
        let text = serde_json::to_string(event).unwrap();
        assert!(
            !text.contains("lollol") && !text.contains("root:"),
            "{text}"
        );
        assert!(
            text.len() < 8 * bomb.len(),
            "no expansion: {} bytes",
            text.len()
        );
    }
    assert!(
        !out.errors.is_empty() || !out.events.is_empty(),
        "the document is either refused with a reason or read without its entities"
    );
    // Stricter: SOAP forbids a DTD, so the document is refused for it, and nothing is read.
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(
        out.errors[0].reason.contains("<!DOCTYPE>"),
        "{}",
        out.errors[0].reason
    );
    let external = r#"<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><wsnt:Notify xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"/>"#;
    let out = decode_bytes(&Format::OnvifXml, external.as_bytes(), &ctx(0));
    assert!(out.events.is_empty() && out.errors[0].reason.contains("<!DOCTYPE>"));
}

/// Elements nested 100 000 deep: refused at the depth limit with the position, in bounded
/// memory, and the body's earlier documents are kept.
#[test]
fn deeply_nested_xml_is_refused_at_the_depth_limit() {
    let deep = format!(
        "<wsnt:Notify xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\">{}{}</wsnt:Notify>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let out = decode_bytes(&Format::OnvifXml, deep.as_bytes(), &ctx(0));
    assert!(out.events.is_empty());
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors.len());
    assert!(
        out.errors[0].reason.contains("nested deeper than 256"),
        "{}",
        out.errors[0].reason
    );
}
