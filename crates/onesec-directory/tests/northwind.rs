//! The Northwind Labs example in `examples/northwind` loads, resolves, and its demo attack
//! (ONVIF + syslog) names only hosts, readers, doors, badges and accounts the directory knows.

use onesec_directory::{Directory, PersonStatus};
use onesec_event::{Activity, Direction, Event, EventClass, parse_time_rfc3339};
use std::path::PathBuf;

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")
}

fn northwind() -> Directory {
    match Directory::load_dir(example_dir()) {
        Ok(d) => d,
        Err(e) => panic!("examples/northwind must load: {e}"),
    }
}

#[test]
fn northwind_loads_with_what_the_example_promises() {
    let dir = northwind();
    let s = dir.summary();
    assert!(dir.warnings().is_empty(), "{:?}", dir.warnings());
    assert!(s.people >= 8);
    assert_eq!((s.on_leave, s.terminated), (1, 1));
    assert_eq!(s.sites, 2);
    assert!(s.networks >= 1 && dir.networks().iter().any(|n| n.kind == "remote-access"));
    assert!(dir.zones().iter().any(|z| z.has_tag("server-room")));
    assert!(s.portals >= 3 && s.readers >= 3 && s.cameras >= 2);
    for kind in ["server", "camera", "reader", "controller"] {
        assert!(
            dir.devices().iter().any(|d| d.kind == kind),
            "a {kind} in devices.csv"
        );
    }
    let edi = dir.site("EDI").unwrap();
    let mtl = dir.site("MTL").unwrap();
    assert_eq!(edi.tz, chrono_tz::Europe::London);
    assert_eq!(mtl.tz, chrono_tz::America::Toronto);
    let km = edi.geo.unwrap().distance_km(&mtl.geo.unwrap());
    assert!(
        (4840.0..4880.0).contains(&km),
        "Edinburgh-Montréal ≈ 4,861 km, got {km}"
    );
    assert_eq!(mtl.buildings.len(), 2);
    assert_eq!(
        dir.zone("MTL-COLD").unwrap().parent.as_deref(),
        Some("MTL-LAB")
    );
    assert_eq!(dir.person("n004").unwrap().status, PersonStatus::Terminated);
    assert_eq!(dir.person("n006").unwrap().status, PersonStatus::Leave);
    assert_eq!(dir.person("n006").unwrap().name, "Marc-André Gagnon");
    assert_eq!(
        dir.person("n001")
            .unwrap()
            .extra
            .get("title")
            .map(String::as_str),
        Some("Infrastructure lead")
    );
    assert_eq!(
        dir.device("CTL-EDI-01")
            .unwrap()
            .extra
            .get("serial")
            .map(String::as_str),
        Some("ACCC8E400005")
    );
    assert_eq!(
        dir.person_by_badge("0x7a2002").map(|p| p.id.as_str()),
        Some("n005")
    );
    assert_eq!(dir.reader_direction("RDR-EDI-02"), Some(Direction::Out));
    let lab_cams: Vec<_> = dir
        .cameras_watching("MTL-COLD")
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(lab_cams, vec!["CAM-MTL-LAB"]);
}

/// An event as the ONVIF decoder would produce it from one demo line (enough for resolution).
fn onvif_event(line: &str) -> Event {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let topic = v["topic"].as_str().unwrap();
    let payload = &v["payload"];
    let time = parse_time_rfc3339(payload["UtcTime"].as_str().unwrap()).unwrap();
    let host = topic.split('/').nth(1).unwrap().to_string();
    let (class, activity) = if topic.contains("/AccessGranted/") {
        (EventClass::PhysicalAccess, Activity::AccessGranted)
    } else if topic.contains("/DoorAlarm/") {
        match payload["Data"]["State"].as_str() {
            Some("DoorForcedOpen") => (EventClass::PhysicalAccess, Activity::PortalForced),
            _ => (EventClass::PhysicalAccess, Activity::PortalNormal),
        }
    } else if topic.contains("/MotionAlarm/") {
        (EventClass::VideoAnalytics, Activity::Motion)
    } else {
        (EventClass::PhysicalAccess, Activity::Other)
    };
    let mut e = Event::new(time, class, activity);
    e.host = Some(host);
    let source = &payload["Source"];
    e.physical.reader = source["AccessPointToken"].as_str().map(str::to_string);
    e.physical.portal = source["DoorToken"].as_str().map(str::to_string);
    e.physical.camera = source["Source"].as_str().map(str::to_string);
    e.physical.state = payload["Data"]["State"].as_str().map(str::to_string);
    e.actor.badge = payload["Data"]["CredentialToken"]
        .as_str()
        .map(str::to_string);
    e.physical.direction = match payload["Data"]["Direction"].as_str() {
        Some("in") => Some(Direction::In),
        Some("out") => Some(Direction::Out),
        _ => None,
    };
    e
}

/// An event from one RFC 5424 demo line: time, host, app, user and source address.
fn syslog_event(line: &str) -> (Event, String, String) {
    let mut parts = line.splitn(8, ' ');
    let pri = parts.next().unwrap();
    assert!(
        pri.starts_with('<') && pri.ends_with(">1"),
        "RFC 5424 header: {line}"
    );
    let time = parse_time_rfc3339(parts.next().unwrap()).unwrap();
    let host = parts.next().unwrap().to_string();
    let app = parts.next().unwrap().to_string();
    let (_procid, _msgid, _sd) = (parts.next(), parts.next(), parts.next());
    let msg = parts.next().unwrap().to_string();
    let mut e = Event::new(time, EventClass::Base, Activity::Other);
    e.host = Some(host);
    let words: Vec<&str> = msg.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == "for") {
        e.actor.user = words.get(i + 1).map(|u| {
            u.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        });
    }
    if let Some(i) = words.iter().position(|w| *w == "from") {
        e.src.ip = words.get(i + 1).and_then(|ip| ip.parse().ok());
    }
    (e, app, msg)
}

#[test]
fn northwind_demo_onvif_events_resolve_and_tell_the_attack() {
    let dir = northwind();
    let text = std::fs::read_to_string(example_dir().join("demo-events.jsonl")).unwrap();
    let mut forced_at = None;
    let mut last_time = i64::MIN;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut e = onvif_event(line);
        assert!(e.time_rfc3339().starts_with("2026-"), "{line}");
        assert!(e.time_ms >= last_time, "lines are in time order: {line}");
        last_time = e.time_ms;
        dir.resolve(&mut e);
        let r = &e.resolved;
        assert!(r.device_id.is_some(), "device known: {line}");
        assert!(r.zone.is_some() && r.site.is_some(), "placed: {line}");
        if e.activity == Activity::AccessGranted {
            let person = r
                .person
                .as_ref()
                .unwrap_or_else(|| panic!("badge holder known: {line}"));
            assert_eq!(person.status, "active", "{line}");
            assert!(
                e.physical.direction.is_some(),
                "granted with a direction: {line}"
            );
            let reader = e.physical.reader.as_deref().unwrap();
            assert!(
                dir.reader_direction(reader)
                    .is_none_or(|d| Some(d) == e.physical.direction),
                "direction agrees with the reader: {line}"
            );
        }
        if e.activity == Activity::PortalForced {
            assert_eq!(r.zone.as_deref(), Some("EDI-SRV"));
            assert!(r.zone_tags.iter().any(|t| t == "server-room"));
            assert_eq!(r.device_id.as_deref(), Some("CTL-EDI-01"));
            forced_at = Some(e.time_ms);
        }
        if e.activity == Activity::Motion {
            assert_eq!(r.device_id.as_deref(), Some("CAM-EDI-SRV"));
            assert_eq!(r.zone.as_deref(), Some("EDI-SRV"));
        }
    }
    let forced_at = forced_at.expect("the demo forces a door");

    // Syslog: the USB mass storage and the root console login follow within minutes, on a
    // server in the same server room; background logins come from known office/VPN addresses.
    let text = std::fs::read_to_string(example_dir().join("demo-syslog.log")).unwrap();
    let (mut usb, mut root) = (None, None);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (mut e, app, msg) = syslog_event(line);
        assert!(e.time_rfc3339().starts_with("2026-"), "{line}");
        dir.resolve(&mut e);
        assert!(e.resolved.device_id.is_some(), "host known: {line}");
        if msg.contains("USB Mass Storage device detected") {
            assert_eq!(app, "kernel");
            assert_eq!(e.resolved.zone.as_deref(), Some("EDI-SRV"));
            usb = Some(e.time_ms);
        }
        if msg.contains("ROOT LOGIN ON tty1") {
            assert_eq!(app, "login");
            assert_eq!(e.resolved.zone.as_deref(), Some("EDI-SRV"));
            root = Some(e.time_ms);
        }
        if msg.starts_with("Accepted") {
            assert!(e.resolved.person.is_some(), "account known: {line}");
            let net = e.resolved.src_network.as_deref();
            assert!(
                matches!(net, Some("internal") | Some("remote-access")),
                "{line}"
            );
        }
    }
    let (usb, root) = (usb.expect("USB line"), root.expect("root login line"));
    assert!(
        usb > forced_at && usb - forced_at <= 10 * 60_000,
        "USB within minutes of the door"
    );
    assert!(
        root > usb && root - forced_at <= 10 * 60_000,
        "root login within minutes of the door"
    );
}
