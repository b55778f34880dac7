//! Sources from the real world: CEF, LEEF, Cisco ASA, su and PAM modules, from the sample
//! files in `tests/data` (written for these tests after the vendors' documentation; each
//! file's origin is in `tests/data/README.md`). Bad records become errors naming what, where
//! and why; the good records beside them are kept.

mod common;

use common::{ACME_RECEIVED_MS, action, ctx, local_bytes};
use onesec_decode::{Decoded, Format, decode_bytes};
use onesec_event::{Activity, Event, EventClass, LogonKind, Severity, Status};

fn decode(format: &Format, name: &str) -> Decoded {
    decode_bytes(format, &local_bytes(name), &ctx(ACME_RECEIVED_MS))
}

fn lines_of(out: &Decoded) -> Vec<usize> {
    out.errors.iter().map(|e| e.line).collect()
}

fn class(e: &Event) -> (EventClass, Activity, Status) {
    (e.class, e.activity, e.status)
}

fn field<'a>(e: &'a Event, name: &str) -> &'a str {
    e.fields.get(name).unwrap_or("")
}

#[test]
fn cef_samples() {
    let out = decode(&Format::Cef, "cef.log");
    assert_eq!(lines_of(&out), [11, 12, 13, 14], "{:#?}", out.errors);
    assert_eq!(out.events.len(), 10);
    let e = &out.events;

    // Palo Alto traffic log (end of session, allowed).
    let pa = &e[0];
    assert_eq!(pa.source.format, "cef");
    assert_eq!(
        (&*pa.source.product, &*pa.source.service),
        ("palo_alto_networks", "pan_os")
    );
    assert_eq!(
        class(pa),
        (
            EventClass::NetworkActivity,
            Activity::Close,
            Status::Success
        )
    );
    assert_eq!(pa.time_rfc3339(), "2026-03-10T13:12:30.000Z");
    assert_eq!(pa.host.as_deref(), Some("pa-fw-par-01"));
    assert_eq!(pa.src.ip, "10.20.4.17".parse().ok());
    assert_eq!((pa.src.port, pa.dst.port), (Some(51234), Some(443)));
    assert_eq!(pa.dst.ip, "198.51.100.80".parse().ok());
    assert_eq!(field(pa, "network.protocol"), "tcp");
    assert_eq!(field(pa, "network.bytes_in"), "4821");
    assert_eq!(field(pa, "network.bytes_out"), "18443");
    assert_eq!(field(pa, "network.action"), "allowed");
    assert_eq!(action(pa), "network_allowed");
    // `suser=acme\\bkeller`: split as Windows accounts are.
    assert_eq!(pa.actor.user.as_deref(), Some("bkeller"));
    assert_eq!(pa.actor.domain.as_deref(), Some("acme"));
    assert_eq!(field(pa, "cef.label.Rule"), "allow-web-out");
    assert_eq!(field(pa, "cef.label.Virtual System"), "vsys1");
    assert_eq!(field(pa, "cef.deviceExternalId"), "013201001234");
    assert_eq!(field(pa, "cef.signature_id"), "end");
    assert_eq!(field(pa, "syslog.facility"), "user");
    assert!(
        !pa.fields.contains_key("cef.duser"),
        "empty values are not kept"
    );

    // Denied and dropped flows.
    assert_eq!(
        class(&e[1]),
        (EventClass::NetworkActivity, Activity::Open, Status::Failure)
    );
    assert_eq!(field(&e[1], "network.action"), "denied");
    assert_eq!(e[1].severity, Severity::Low);
    let cp = &e[2];
    assert_eq!(field(cp, "network.action"), "denied");
    assert_eq!(field(cp, "network.protocol"), "tcp", "proto=6");
    assert_eq!(cp.severity, Severity::Informational, "Unknown");
    assert_eq!(cp.time_ms, 1_773_148_355_000);
    assert_eq!(cp.host, None);
    // RFC 5424 wrapper, UDP, accepted.
    let fg = &e[3];
    assert_eq!(fg.time_rfc3339(), "2026-03-10T12:13:05.000Z");
    assert_eq!(field(fg, "network.protocol"), "udp");
    assert_eq!(fg.status, Status::Success);

    // Authentications.
    let vpn = &e[4];
    assert_eq!(
        class(vpn),
        (EventClass::Authentication, Activity::Logon, Status::Failure)
    );
    assert_eq!(vpn.logon, Some(LogonKind::Vpn));
    assert_eq!(vpn.actor.user.as_deref(), Some("bkeller"));
    assert_eq!(vpn.message, "SSL user failed to logged in");
    assert_eq!(action(vpn), "logon_failed");
    let win = &e[5];
    assert_eq!(win.status, Status::Failure);
    assert_eq!(win.logon, Some(LogonKind::Network));
    assert_eq!(
        (win.actor.user.as_deref(), win.actor.domain.as_deref()),
        (Some("Administrator"), Some("ACME"))
    );
    assert_eq!(win.dst.hostname.as_deref(), Some("srv-par-db1"));
    assert_eq!(win.src.ip, "203.0.113.77".parse().ok());
    let okta_in = &e[6];
    assert_eq!(
        class(okta_in),
        (EventClass::Authentication, Activity::Logon, Status::Success)
    );
    assert_eq!(okta_in.actor.user.as_deref(), Some("alice@acme.example"));
    assert_eq!(
        field(okta_in, "cef.requestClientApplication"),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    );
    assert_eq!(action(&e[7]), "logoff");
    assert_eq!(e[7].activity, Activity::Logoff);

    // Base events keep everything, with escapes undone.
    let dsa = &e[8];
    assert_eq!(class(dsa).0, EventClass::Base);
    assert_eq!(dsa.severity, Severity::High);
    assert_eq!(
        field(dsa, "cef.filePath"),
        r"C:\Windows\System32\drivers\etc\hosts"
    );
    assert_eq!(field(dsa, "cef.label.Change"), "size=1024");
    assert_eq!(field(dsa, "cef.label.Host ID"), "123");
    assert_eq!(dsa.message, "File modified\nby an unknown process");
    let door = &e[9];
    assert_eq!(field(door, "cef.vendor"), "Acme|Labs");
    assert_eq!(door.host.as_deref(), Some("ctl-par-01"), "dvchost");
    assert_eq!(door.severity, Severity::Critical);
    assert_eq!(door.time_ms, 1_773_150_000_000);

    // Errors: what, where, why.
    let reasons: Vec<&str> = out.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(
        reasons[0].contains("CEF header truncated") && reasons[0].contains("found 4"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("'request'")
            && reasons[1].contains(r"'\q'")
            && reasons[1].contains("byte"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("Severity") && reasons[2].contains("'urgent'"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].contains("'rt'") && reasons[3].contains("yesterday noon"),
        "{}",
        reasons[3]
    );
    assert!(
        out.errors[1]
            .raw
            .starts_with("<14>Mar 10 13:20:00 proxy-par-01 CEF:0")
    );
}

#[test]
fn cef_is_recognised_by_auto_and_syslog_alike() {
    let cef = decode(&Format::Cef, "cef.log");
    for format in [Format::Auto, Format::Syslog] {
        let other = decode(&format, "cef.log");
        assert_eq!(other.events, cef.events, "{format}");
        assert_eq!(lines_of(&other), lines_of(&cef), "{format}");
        assert_eq!(other.errors[1].reason, cef.errors[1].reason, "{format}");
    }
}

#[test]
fn format_cef_refuses_other_records() {
    let body = b"Mar 10 13:12:30 gw sshd[1]: Failed password for root from 203.0.113.77 port 1 ssh2\nLEEF:1.0|V|P|1|ID|src=1.2.3.4\nnot even syslog\n";
    let out = decode_bytes(&Format::Cef, body, &ctx(ACME_RECEIVED_MS));
    assert!(out.events.is_empty());
    assert_eq!(lines_of(&out), [1, 2, 3]);
    for error in &out.errors {
        assert!(
            error.reason.starts_with("expected a CEF record"),
            "{}",
            error.reason
        );
    }
    let out = decode_bytes(&Format::Leef, b"CEF:0|a|b|c|d|e|1|\n", &ctx(0));
    assert!(out.errors[0].reason.starts_with("expected a LEEF record"));
}

#[test]
fn invalid_utf8_between_cef_records() {
    let good = local_bytes("cef.log");
    let first_two: Vec<&[u8]> = good.split(|b| *b == b'\n').take(2).collect();
    let mut body = first_two[0].to_vec();
    body.extend_from_slice(b"\nCEF:0|Acme|Proxy|2.0|100|Blocked|5|suser=r\xC3\x28ot\n");
    body.extend_from_slice(first_two[1]);
    for format in [Format::Cef, Format::Auto] {
        let out = decode_bytes(&format, &body, &ctx(ACME_RECEIVED_MS));
        assert_eq!(out.events.len(), 2, "{format}");
        assert_eq!(lines_of(&out), [2]);
        assert!(
            out.errors[0].reason.contains("UTF-8"),
            "{}",
            out.errors[0].reason
        );
        assert!(out.errors[0].raw.contains("r\u{FFFD}(ot"));
    }
}

#[test]
fn leef_samples() {
    let out = decode(&Format::Leef, "leef.log");
    assert_eq!(lines_of(&out), [6, 7, 8, 9], "{:#?}", out.errors);
    assert_eq!(out.events.len(), 5);
    let e = &out.events;

    // LEEF 1.0, tabs: a flow without a verdict.
    assert_eq!(e[0].source.format, "leef");
    assert_eq!(
        class(&e[0]),
        (EventClass::NetworkActivity, Activity::Open, Status::Unknown)
    );
    assert_eq!(action(&e[0]), "network_connection");
    assert_eq!((e[0].src.port, e[0].dst.port), (Some(81), Some(21)));
    assert_eq!(e[0].actor.user.as_deref(), Some("joe.black"));
    assert_eq!(e[0].severity, Severity::Medium, "sev=5");
    assert_eq!(field(&e[0], "leef.event_id"), "15345");
    assert_eq!(e[0].time_ms, ACME_RECEIVED_MS, "no devTime");

    // LEEF 2.0 with '^', then with its hex code x5E over syslog.
    assert_eq!(field(&e[1], "network.action"), "denied");
    assert_eq!(field(&e[1], "network.bytes_in"), "1024");
    assert_eq!(field(&e[1], "network.bytes_out"), "2048");
    let fg = &e[2];
    assert_eq!(fg.host.as_deref(), Some("fw-par-02"));
    assert_eq!(fg.time_rfc3339(), "2026-03-10T13:15:00.000Z");
    assert_eq!(fg.status, Status::Success);
    assert_eq!(fg.actor.user.as_deref(), Some("bkeller"));

    // LEEF 2.0 with 0x09 (tab), devTimeFormat, a failed login.
    let login = &e[3];
    assert_eq!(
        class(login),
        (EventClass::Authentication, Activity::Logon, Status::Failure)
    );
    assert_eq!(login.time_rfc3339(), "2026-03-10T13:16:00.000Z");
    assert_eq!(login.actor.user.as_deref(), Some("alice"));
    assert_eq!(login.logon, Some(LogonKind::Network));
    let logout = &e[4];
    assert_eq!(logout.activity, Activity::Logoff);
    assert_eq!(logout.logon, Some(LogonKind::Vpn), "cat=SSLVPN");
    assert_eq!(logout.time_ms, 1_773_162_000_000);

    let reasons: Vec<&str> = out.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(
        reasons[0].contains("LEEF header truncated"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("hex code") && reasons[1].contains("0xZZ"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("attribute 2") && reasons[2].contains("not-a-pair"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("devTimeFormat"), "{}", reasons[3]);

    let auto = decode(&Format::Auto, "leef.log");
    assert_eq!(auto.events, out.events);
    assert_eq!(lines_of(&auto), lines_of(&out));
}

#[test]
fn cisco_asa_samples() {
    let out = decode(&Format::Syslog, "asa.log");
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    let e = &out.events;
    assert_eq!(e.len(), 18);
    assert!(
        e.iter()
            .all(|e| e.source.product == "cisco" && e.source.service == "asa")
    );
    let ids: Vec<&str> = e.iter().map(|e| field(e, "asa.message_id")).collect();
    assert_eq!(
        ids,
        [
            "113004", "113039", "722051", "722022", "722022", "113005", "113015", "716001",
            "716002", "722023", "113019", "611101", "302013", "302013", "302014", "106023",
            "722051", "111008"
        ]
    );
    let vpn_logon = |e: &Event, activity, status| {
        assert_eq!(
            class(e),
            (EventClass::Authentication, activity, status),
            "{}",
            e.raw
        );
        assert_eq!(e.logon, Some(LogonKind::Vpn), "{}", e.raw);
    };

    vpn_logon(&e[0], Activity::Logon, Status::Success);
    assert_eq!(e[0].actor.user.as_deref(), Some("bkeller"));
    assert_eq!(field(&e[0], "asa.aaa_server"), "10.10.1.20");
    assert_eq!(e[0].host.as_deref(), Some("asa-vpn-par"));
    assert_eq!(e[0].time_rfc3339(), "2026-03-10T08:02:10.000Z");
    vpn_logon(&e[1], Activity::Logon, Status::Success);
    assert_eq!(action(&e[1]), "vpn_connected");
    assert_eq!(e[1].src.ip, "198.51.100.23".parse().ok());
    assert_eq!(field(&e[1], "asa.group"), "GP-Corp-Users");

    let assigned = &e[2];
    assert_eq!(
        class(assigned),
        (
            EventClass::NetworkActivity,
            Activity::AddressAssigned,
            Status::Success
        )
    );
    assert_eq!(field(assigned, "vpn.assigned_ip"), "10.250.8.37");
    assert!(
        !assigned.fields.contains_key("vpn.assigned_ipv6"),
        "'::' is none"
    );
    assert_eq!(action(assigned), "vpn_address_assigned");
    assert_eq!(assigned.actor.user.as_deref(), Some("bkeller"));
    assert_eq!(field(&e[16], "vpn.assigned_ipv6"), "2001:db8:250::38");
    assert_eq!(e[16].host, None, "no header");

    assert_eq!(class(&e[3]).1, Activity::Open);
    assert_eq!(field(&e[3], "network.protocol"), "tcp");
    assert_eq!(field(&e[4], "network.protocol"), "udp");
    assert_eq!(
        e[4].actor.user.as_deref(),
        Some("bkeller"),
        "bare variables"
    );

    vpn_logon(&e[5], Activity::Logon, Status::Failure);
    assert_eq!(e[5].actor.user, None, "masked user");
    assert_eq!(e[5].src.ip, "203.0.113.77".parse().ok());
    assert_eq!(field(&e[5], "asa.reason"), "AAA failure");
    assert_eq!(action(&e[5]), "vpn_auth_failed");
    assert_eq!(e[6].actor.user.as_deref(), Some("admin"));

    vpn_logon(&e[7], Activity::Logon, Status::Success);
    assert_eq!(e[7].host, None, "`Mmm dd yyyy hh:mm:ss:` without device id");
    assert_eq!(e[7].time_rfc3339(), "2026-03-10T11:20:05.000Z");
    vpn_logon(&e[8], Activity::Logoff, Status::Success);
    assert_eq!(field(&e[8], "asa.reason"), "Idle timeout");
    assert_eq!(e[8].host.as_deref(), Some("asa-vpn-par"));
    assert_eq!(class(&e[9]).1, Activity::Close);

    let ended = &e[10];
    vpn_logon(ended, Activity::Logoff, Status::Success);
    assert_eq!(action(ended), "vpn_disconnected");
    assert_eq!(ended.actor.user.as_deref(), Some("bkeller"));
    assert_eq!(field(ended, "asa.session_type"), "AnyConnect-Parent");
    assert_eq!(field(ended, "asa.duration"), "9h:42m:50s");
    assert_eq!(field(ended, "network.bytes_in"), "211874390");
    assert_eq!(field(ended, "network.bytes_out"), "1873301542");
    assert_eq!(field(ended, "asa.reason"), "User Requested");
    assert_eq!(ended.severity, Severity::Low);

    let admin = &e[11];
    assert_eq!(
        class(admin),
        (EventClass::Authentication, Activity::Logon, Status::Success)
    );
    assert_eq!(admin.logon, Some(LogonKind::Network));
    assert_eq!(admin.actor.user.as_deref(), Some("netadmin"));
    assert_eq!(admin.src.ip, "10.20.4.17".parse().ok());

    // Inbound: the outside host initiated; outbound: the inside host did.
    let inbound = &e[12];
    assert_eq!(inbound.src.ip, "203.0.113.77".parse().ok());
    assert_eq!(
        (inbound.src.port, inbound.dst.port),
        (Some(40111), Some(443))
    );
    assert_eq!(field(inbound, "asa.src_interface"), "outside");
    assert_eq!(field(inbound, "network.action"), "allowed");
    let outbound = &e[13];
    assert_eq!(outbound.src.ip, "10.20.4.17".parse().ok());
    assert_eq!(outbound.dst.ip, "192.0.2.80".parse().ok());
    assert_eq!(field(outbound, "asa.connection_id"), "184527");
    let teardown = &e[14];
    assert_eq!(class(teardown).1, Activity::Close);
    assert_eq!(field(teardown, "network.bytes"), "58211");
    assert_eq!(field(teardown, "asa.reason"), "TCP FINs");
    let denied = &e[15];
    assert_eq!(
        class(denied),
        (EventClass::NetworkActivity, Activity::Open, Status::Failure)
    );
    assert_eq!(field(denied, "asa.acl"), "outside_in");
    assert_eq!(denied.dst.port, Some(3389));

    let other = &e[17];
    assert_eq!(other.class, EventClass::Base);
    assert_eq!(
        other.message,
        "User 'netadmin' executed the 'write memory' command."
    );
    assert_eq!(
        other.severity,
        Severity::Informational,
        "level 5, notification"
    );

    let auto = decode(&Format::Auto, "asa.log");
    assert_eq!(auto.events, out.events);
}

#[test]
fn su_and_pam_modules() {
    let out = decode(&Format::Auto, "su-pam.log");
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    let e = &out.events;
    let actions: Vec<&str> = e.iter().map(action).collect();
    assert_eq!(
        actions,
        [
            "su_success",
            "su_failed",
            "pam_auth_failure",
            "su_success",
            "su_success",
            "su_failed",
            "pam_auth_failure",
            "pam_auth_failure",
            "pam_account_locked"
        ]
    );
    assert_eq!(e[1].actor.user.as_deref(), Some("mallory"));
    assert_eq!(field(&e[1], "su.target_user"), "root");
    assert_eq!(field(&e[1], "tty"), "pts/3");
    assert_eq!(e[2].source.service, "su-l");
    assert_eq!(field(&e[2], "pam.module"), "pam_unix");
    assert_eq!(
        e[2].actor.user.as_deref(),
        Some("root"),
        "PAM names the target"
    );
    assert_eq!(field(&e[5], "su.target_user"), "root");
    assert_eq!(e[5].actor.user.as_deref(), Some("www-data"));
    let sss = &e[6];
    assert_eq!(field(sss, "pam.module"), "pam_sss");
    assert_eq!(sss.logon, Some(LogonKind::Network));
    assert_eq!(sss.src.ip, "203.0.113.77".parse().ok());
    assert_eq!(e[7].actor.user.as_deref(), Some("bkeller"));
    let locked = &e[8];
    assert_eq!(
        class(locked),
        (EventClass::Authentication, Activity::Other, Status::Failure)
    );
    assert_eq!(locked.actor.user.as_deref(), Some("bkeller"));
}

/// Every prefix of every sample line (a record cut anywhere, as a torn datagram would be) is
/// one event or one error in every line format, and nothing panics. The fuzz target
/// (`fuzz/`) checks the same on arbitrary bytes.
#[test]
fn truncated_records_never_panic_and_are_never_lost() {
    let context = ctx(ACME_RECEIVED_MS);
    for name in ["cef.log", "leef.log", "asa.log", "su-pam.log"] {
        let bytes = local_bytes(name);
        let text = String::from_utf8(bytes).expect("sample files are UTF-8");
        for line in text.lines() {
            let cuts = line.char_indices().map(|(i, _)| i).skip(1);
            for cut in cuts {
                let record = &line[..cut];
                if record.trim().is_empty() {
                    continue;
                }
                for format in [Format::Auto, Format::Syslog, Format::Cef, Format::Leef] {
                    let out = decode_bytes(&format, record.as_bytes(), &context);
                    assert_eq!(out.events.len() + out.errors.len(), 1, "{format}: {record}");
                }
            }
        }
    }
}
