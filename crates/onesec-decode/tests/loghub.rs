//! Real sshd and Linux syslog (LogHub OpenSSH_2k and Linux_2k), checked line by line against
//! the LogHub structured CSV (golden output) and against the counts in SOURCE.md.

mod common;

use common::{action, ctx, decode_clean, shared_bytes};
use onesec_decode::{DecodeContext, Format};
use onesec_event::{Activity, EventClass, LogonKind, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Dec 10 lines are from 2017 in LogHub's OpenSSH set; pin the year.
fn loghub_ctx() -> DecodeContext {
    let mut ctx = ctx(0);
    ctx.syslog.year = Some(2017);
    ctx
}

/// Rows of a LogHub `_structured.csv` as header-name → value maps.
fn structured(relative: &str) -> Option<Vec<BTreeMap<String, String>>> {
    let bytes = shared_bytes(relative)?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header = reader.headers().unwrap().clone();
    Some(
        reader
            .records()
            .map(|r| {
                header
                    .iter()
                    .map(String::from)
                    .zip(r.unwrap().iter().map(String::from))
                    .collect()
            })
            .collect(),
    )
}

fn openssh_expected_action(template: &str) -> &'static str {
    match template {
        "E1" => "ssh_accepted",
        "E2" => "ssh_connection_closed",
        "E3" => "ssh_no_identification",
        "E4" | "E5" => "ssh_too_many_failures",
        "E6" | "E7" | "E24" | "E25" | "E26" => "ssh_disconnect",
        "E8" => "ssh_failed_none",
        "E9" | "E10" | "E14" => "ssh_failed_password",
        "E12" => "ssh_userauth_invalid_user",
        "E13" => "ssh_invalid_user",
        "E15" | "E16" | "E17" => "pam_more_auth_failures",
        "E19" | "E20" => "pam_auth_failure",
        "E21" => "pam_user_unknown",
        "E22" => "session_closed",
        "E23" => "session_opened",
        "E27" => "ssh_reverse_mapping_failed",
        _ => "",
    }
}

/// Lines of `text` containing any of `needles`: a grep over the raw file, independent of the
/// decoder, for the counts the decoder must match exactly.
fn raw_count(text: &str, needles: &[&str]) -> usize {
    text.lines()
        .filter(|line| needles.iter().any(|n| line.contains(n)))
        .count()
}

#[test]
fn openssh_2k_matches_the_structured_golden_file() {
    let Some(log) = shared_bytes("data/loghub/OpenSSH/OpenSSH_2k.log") else {
        return;
    };
    let Some(rows) = structured("data/loghub/OpenSSH/OpenSSH_2k.log_structured.csv") else {
        return;
    };
    let events = decode_clean(&Format::Syslog, &log, &loghub_ctx());
    assert_eq!(events.len(), 2000);
    assert_eq!(rows.len(), 2000);
    for (event, row) in events.iter().zip(&rows) {
        let line = &row["LineId"];
        assert_eq!(
            event.host.as_deref(),
            Some(row["Component"].as_str()),
            "line {line}"
        );
        assert_eq!(&event.fields["syslog.pid"], row["Pid"], "line {line}");
        assert_eq!(&event.fields["syslog.program"], "sshd", "line {line}");
        let content = row["Content"].trim();
        if row["EventId"] == "E14" {
            assert!(
                content.contains(&event.message),
                "line {line}: {} vs {content}",
                event.message
            );
        } else {
            assert_eq!(event.message, content, "line {line}");
        }
        assert_eq!(
            action(event),
            openssh_expected_action(&row["EventId"]),
            "line {line}: {content}"
        );
        let stamp = format!("{} {:0>2} {}", row["Date"], row["Day"], row["Time"]);
        let decoded = chrono::DateTime::from_timestamp_millis(event.time_ms)
            .unwrap()
            .format("%b %d %H:%M:%S")
            .to_string();
        assert_eq!(decoded, stamp, "line {line}");
        assert_eq!(
            (&*event.source.product, &*event.source.service),
            ("linux", "sshd")
        );
    }
}

#[test]
fn openssh_2k_counts_match_source_md() {
    let Some(log) = shared_bytes("data/loghub/OpenSSH/OpenSSH_2k.log") else {
        return;
    };
    let text = String::from_utf8_lossy(&log);
    let events = decode_clean(&Format::Auto, &log, &loghub_ctx());
    assert_eq!(events.len(), text.lines().count());

    let failed: Vec<_> = events
        .iter()
        .filter(|e| action(e) == "ssh_failed_password")
        .collect();
    let lines_with_failed = raw_count(&text, &["Failed password"]);
    assert_eq!(failed.len(), lines_with_failed);
    assert_eq!(failed.len(), 520, "SOURCE.md: 520 Failed password lines");
    for e in &failed {
        assert_eq!(
            (e.class, e.activity, e.status),
            (EventClass::Authentication, Activity::Logon, Status::Failure)
        );
        assert_eq!(e.logon, Some(LogonKind::Network));
        assert!(e.actor.user.is_some() && e.src.port.is_some(), "{}", e.raw);
        assert_eq!(e.dst.hostname.as_deref(), Some("LabSZ"));
    }

    // Distinct source addresses: 23 (SOURCE.md), the same set as the golden Content column.
    let ips: BTreeMap<IpAddr, usize> = failed.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e.src.ip.unwrap()).or_default() += 1;
        m
    });
    assert_eq!(ips.len(), 23);
    if let Some(rows) = structured("data/loghub/OpenSSH/OpenSSH_2k.log_structured.csv") {
        let golden: BTreeSet<IpAddr> = rows
            .iter()
            .filter(|r| r["Content"].contains("Failed password"))
            .filter_map(|r| {
                r["Content"]
                    .split(" from ")
                    .last()?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        assert_eq!(ips.keys().copied().collect::<BTreeSet<_>>(), golden);
    }
    assert_eq!(ips[&"183.62.140.253".parse::<IpAddr>().unwrap()], 286);
    assert_eq!(ips[&"187.141.143.180".parse::<IpAddr>().unwrap()], 80);
    assert_eq!(ips[&"103.99.0.122".parse::<IpAddr>().unwrap()], 46);

    let accepted: Vec<_> = events
        .iter()
        .filter(|e| action(e) == "ssh_accepted")
        .collect();
    assert_eq!(accepted.len(), 1);
    let ok = accepted[0];
    assert_eq!(ok.status, Status::Success);
    assert_eq!(ok.actor.user.as_deref(), Some("fztu"));
    assert_eq!(ok.src.ip, "119.137.62.142".parse().ok());
    assert_eq!(ok.time_rfc3339(), "2017-12-10T09:32:20.000Z");
    assert!(
        !ips.contains_key(&ok.src.ip.unwrap()),
        "the accepted login comes from an IP with no failures"
    );

    assert_eq!(
        accepted.len(),
        raw_count(&text, &[": Accepted "]),
        "accepted logins, counted on the raw file"
    );

    let invalid = events
        .iter()
        .filter(|e| action(e) == "ssh_invalid_user")
        .count();
    assert_eq!(
        invalid,
        raw_count(&text, &[": Invalid user ", ": Illegal user "]),
        "invalid users, counted on the raw file"
    );
    assert_eq!(invalid, 113);
    assert_eq!(
        events
            .iter()
            .filter(|e| action(e) == "ssh_reverse_mapping_failed")
            .count(),
        85
    );
}

#[test]
fn linux_2k_decodes_and_counts_pam_failures() {
    let Some(log) = shared_bytes("data/loghub/Linux/Linux_2k.log") else {
        return;
    };
    let mut ctx = ctx(0);
    ctx.syslog.year = Some(2005);
    let events = decode_clean(&Format::Syslog, &log, &ctx);
    assert_eq!(events.len(), 2000);
    assert!(events.iter().all(|e| e.host.as_deref() == Some("combo")));
    let text = String::from_utf8_lossy(&log);
    assert_eq!(text.lines().count(), 2000);
    // Counted on the raw file, independently of the decoder.
    for (act, needles) in [
        ("pam_auth_failure", &[": authentication failure;"][..]),
        ("session_opened", &[": session opened for user "][..]),
        ("pam_user_unknown", &[": check pass; user unknown"][..]),
        ("ssh_failed_password", &[": Failed password for "][..]),
        ("ssh_accepted", &[": Accepted "][..]),
        (
            "ssh_invalid_user",
            &[": Invalid user ", ": Illegal user "][..],
        ),
    ] {
        let decoded = events.iter().filter(|e| action(e) == act).count();
        assert_eq!(decoded, raw_count(&text, needles), "{act}");
    }

    if let Some(rows) = structured("data/loghub/Linux/Linux_2k.log_structured.csv") {
        for (event, row) in events.iter().zip(&rows) {
            let component = row["Component"].as_str();
            if !component.contains(' ') {
                assert_eq!(
                    event.fields.get("syslog.program"),
                    Some(component),
                    "line {}",
                    row["LineId"]
                );
            }
            if !row["PID"].is_empty() {
                assert_eq!(
                    event.fields.get("syslog.pid"),
                    Some(row["PID"].as_str()),
                    "line {}",
                    row["LineId"]
                );
            }
        }
    }

    // SOURCE.md says "490 sshd(pam_unix) authentication failure lines": 490 is the number of
    // `authentication failure` lines, 489 from sshd(pam_unix) and 1 from gdm(pam_unix).
    let failures: Vec<_> = events
        .iter()
        .filter(|e| action(e) == "pam_auth_failure")
        .collect();
    assert_eq!(failures.len(), 490);
    assert_eq!(
        failures
            .iter()
            .filter(|e| e.source.service == "sshd")
            .count(),
        489
    );
    let gdm: Vec<_> = failures
        .iter()
        .filter(|e| e.source.service == "gdm")
        .collect();
    assert_eq!(gdm.len(), 1);
    assert_eq!(gdm[0].logon, Some(LogonKind::Console));
    assert!(
        failures
            .iter()
            .all(|e| e.status == Status::Failure && e.class == EventClass::Authentication)
    );
    let top = failures
        .iter()
        .filter(|e| e.src.ip == "150.183.249.110".parse().ok())
        .count();
    assert_eq!(top, 80, "SOURCE.md: top rhost 150.183.249.110 = 80");
    let with_host_name = failures.iter().filter(|e| e.src.hostname.is_some()).count();
    assert!(
        with_host_name > 0,
        "rhost given as a DNS name lands in src.hostname"
    );

    assert_eq!(
        events
            .iter()
            .filter(|e| action(e) == "pam_user_unknown")
            .count(),
        117
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| action(e) == "session_opened")
            .count(),
        123
    );
    let root: Vec<_> = events
        .iter()
        .filter(|e| action(e) == "console_login")
        .collect();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].actor.user.as_deref(), Some("root"));
    assert_eq!(&root[0].fields["tty"], "tty2");
}
