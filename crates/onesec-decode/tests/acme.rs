//! The acme scenario (shared/scenarios/acme): every input file decodes with zero errors and the
//! exact classes the scenario's expected incidents rely on.

mod common;

use common::{ACME_RECEIVED_MS, action, ctx, decode_clean, shared_bytes};
use onesec_decode::{CsvMapping, Format};
use onesec_event::{Activity, Direction, Event, EventClass, LogonKind, Status};

fn acme(name: &str) -> Option<Vec<u8>> {
    shared_bytes(&format!("scenarios/acme/{name}"))
}

fn count(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

#[test]
fn syslog_day() {
    let Some(bytes) = acme("day-syslog.log") else {
        return;
    };
    for format in [Format::Syslog, Format::Auto] {
        let events = decode_clean(&format, &bytes, &ctx(ACME_RECEIVED_MS));
        assert_eq!(events.len(), 22);
        assert!(
            events
                .iter()
                .all(|e| e.source.format == "syslog" && e.source.input == "replay")
        );
        assert!(
            events
                .iter()
                .all(|e| e.received_ms == ACME_RECEIVED_MS && !e.raw.is_empty())
        );

        // S6: 12 failed passwords for root on lyo-scada-gw from 203.0.113.77, 16:40-16:43.
        let brute: Vec<&Event> = events
            .iter()
            .filter(|e| action(e) == "ssh_failed_password")
            .collect();
        assert_eq!(brute.len(), 12);
        for e in &brute {
            assert_eq!(
                (e.class, e.activity, e.status),
                (EventClass::Authentication, Activity::Logon, Status::Failure)
            );
            assert_eq!(e.host.as_deref(), Some("lyo-scada-gw"));
            assert_eq!(e.dst.hostname.as_deref(), Some("lyo-scada-gw"));
            assert_eq!(e.actor.user.as_deref(), Some("root"));
            assert_eq!(e.src.ip, "203.0.113.77".parse().ok());
            assert_eq!(e.logon, Some(LogonKind::Network));
            assert!(
                e.time_rfc3339().starts_with("2026-03-10T16:4"),
                "{}",
                e.time_rfc3339()
            );
        }
        assert_eq!(brute[0].time_rfc3339(), "2026-03-10T16:40:15.000Z");
        assert_eq!(brute[11].time_rfc3339(), "2026-03-10T16:43:22.000Z");

        // Alice: SSH from her PC, session, sudo.
        let ssh = events.iter().find(|e| action(e) == "ssh_accepted").unwrap();
        assert_eq!(
            (ssh.actor.user.as_deref(), ssh.host.as_deref()),
            (Some("alice"), Some("srv-par-db1"))
        );
        assert_eq!(ssh.src.ip, "10.10.20.44".parse().ok());
        assert_eq!(ssh.time_rfc3339(), "2026-03-10T10:12:05.000Z");
        assert_eq!(count(&events, |e| action(e) == "session_opened"), 1);
        let sudo = events.iter().find(|e| action(e) == "sudo_command").unwrap();
        assert_eq!(
            (sudo.class, sudo.status),
            (EventClass::ProcessActivity, Status::Success)
        );
        assert_eq!(&sudo.fields["sudo.target_user"], "root");
        assert_eq!(sudo.time_rfc3339(), "2026-03-10T10:14:31.000Z");

        // S2 and the must-not-alert VPN: two OpenVPN logons with their pool addresses.
        let vpn: Vec<&Event> = events
            .iter()
            .filter(|e| action(e) == "vpn_connected")
            .collect();
        assert_eq!(vpn.len(), 2);
        assert_eq!(vpn[0].actor.user.as_deref(), Some("bkeller"));
        assert_eq!(vpn[0].src.ip, "198.51.100.23".parse().ok());
        assert_eq!(vpn[0].time_rfc3339(), "2026-03-10T13:12:30.000Z");
        assert_eq!(vpn[1].actor.user.as_deref(), Some("alice"));
        assert_eq!(vpn[1].src.ip, "192.0.2.50".parse().ok());
        assert!(
            vpn.iter()
                .all(|e| e.logon == Some(LogonKind::Vpn) && e.status == Status::Success)
        );
        assert!(
            vpn.iter()
                .all(|e| e.source.product == "openvpn"
                    && e.dst.hostname.as_deref() == Some("vpn-par"))
        );
        let pool: Vec<&Event> = events
            .iter()
            .filter(|e| action(e) == "vpn_address_assigned")
            .collect();
        assert_eq!(pool.len(), 2);
        assert_eq!(&pool[0].fields["vpn.assigned_ip"], "10.8.0.6");
        assert_eq!(&pool[1].fields["vpn.assigned_ip"], "10.8.0.5");
        assert!(
            pool.iter().all(|e| e.class == EventClass::NetworkActivity
                && e.activity == Activity::AddressAssigned)
        );

        // S1: USB mass storage then root console login on srv-par-db1.
        let usb: Vec<&Event> = events
            .iter()
            .filter(|e| e.class == EventClass::PeripheralActivity)
            .collect();
        assert_eq!(usb.len(), 2);
        assert_eq!(
            (action(usb[0]), action(usb[1])),
            ("usb_connected", "usb_mass_storage")
        );
        assert!(
            usb.iter()
                .all(|e| e.activity == Activity::Connected
                    && e.host.as_deref() == Some("srv-par-db1"))
        );
        assert_eq!(usb[0].time_rfc3339(), "2026-03-10T21:51:58.000Z");
        assert_eq!(&usb[1].fields["usb.class"], "mass_storage");
        let root = events
            .iter()
            .find(|e| action(e) == "console_login")
            .unwrap();
        assert_eq!(root.actor.user.as_deref(), Some("root"));
        assert_eq!(root.logon, Some(LogonKind::Console));
        assert_eq!(&root.fields["tty"], "tty1");
        assert_eq!(root.time_rfc3339(), "2026-03-10T21:53:40.000Z");

        assert_eq!(
            count(&events, |e| e.class == EventClass::Base),
            0,
            "every acme syslog line is recognised"
        );
    }
}

#[test]
fn windows_day() {
    let Some(bytes) = acme("day-windows.jsonl") else {
        return;
    };
    for format in [Format::WindowsJson, Format::Auto] {
        let events = decode_clean(&format, &bytes, &ctx(ACME_RECEIVED_MS));
        assert_eq!(events.len(), 5);
        assert!(
            events
                .iter()
                .all(|e| e.class == EventClass::Authentication
                    && e.logon == Some(LogonKind::Console))
        );
        assert!(
            events
                .iter()
                .all(|e| e.source.product == "windows" && e.source.service == "security")
        );
        let users: Vec<_> = events
            .iter()
            .map(|e| e.actor.user.as_deref().unwrap())
            .collect();
        assert_eq!(users, ["cdubois", "bkeller", "alice", "dokafor", "fhaddad"]);
        let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Success,
                Status::Success,
                Status::Success,
                Status::Failure,
                Status::Success
            ]
        );
        // S3: the terminated person's failed logon; S4: fhaddad's console logon at Lyon.
        let s3 = &events[3];
        assert_eq!(
            (&s3.fields["EventID"], s3.host.as_deref()),
            ("4625", Some("PC-PAR-051"))
        );
        assert_eq!(s3.time_rfc3339(), "2026-03-10T09:21:40.000Z");
        assert_eq!(&s3.fields["Status"], "0xc0000072");
        let s4 = &events[4];
        assert_eq!(
            (&s4.fields["LogonType"], s4.host.as_deref()),
            ("2", Some("PC-LYO-012"))
        );
        assert!(
            events
                .iter()
                .all(|e| e.actor.domain.as_deref() == Some("ACME") && e.src.ip.is_none())
        );
    }
}

#[test]
fn access_day_with_the_mapping_file() {
    let (Some(bytes), Some(mapping)) = (acme("day-access.csv"), acme("access-mapping.toml")) else {
        return;
    };
    let mapping = CsvMapping::from_toml(&String::from_utf8(mapping).unwrap()).unwrap();
    for format in [
        Format::AccessCsv(mapping.clone()),
        Format::AccessCsv(CsvMapping::auto()),
    ] {
        let events = decode_clean(&format, &bytes, &ctx(ACME_RECEIVED_MS));
        assert_eq!(events.len(), 12);
        assert!(
            events
                .iter()
                .all(|e| e.class == EventClass::PhysicalAccess
                    && e.source.product == "access_control")
        );
        let denied: Vec<&Event> = events
            .iter()
            .filter(|e| e.activity == Activity::AccessDenied)
            .collect();
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].actor.badge.as_deref(), Some("0x4F21D0"));
        assert_eq!(
            denied[0].physical.reason.as_deref(),
            Some("CredentialNotActive")
        );
        assert_eq!(denied[0].status, Status::Failure);
        assert_eq!(denied[0].time_rfc3339(), "2026-03-10T09:15:02.000Z");
        assert_eq!(
            count(&events, |e| e.activity == Activity::AccessGranted
                && e.status == Status::Success),
            11
        );
        assert_eq!(
            count(&events, |e| e.physical.direction == Some(Direction::In)),
            8
        );
        assert_eq!(
            count(&events, |e| e.physical.direction == Some(Direction::Out)),
            4
        );
        assert_eq!(count(&events, |e| e.physical.reason.is_some()), 1);
        // S2: Bruno badged in at Paris at 07:58:11 and out at 18:30:12.
        let bruno: Vec<&Event> = events
            .iter()
            .filter(|e| e.actor.badge.as_deref() == Some("0x4F21B3"))
            .collect();
        assert_eq!(bruno.len(), 3);
        assert_eq!(bruno[0].physical.reader.as_deref(), Some("RDR-PAR-01"));
        assert_eq!(bruno[0].time_rfc3339(), "2026-03-10T07:58:11.000Z");
        assert_eq!(bruno[2].physical.direction, Some(Direction::Out));
        assert_eq!(bruno[2].time_rfc3339(), "2026-03-10T18:30:12.000Z");
        assert_eq!(
            events[0].raw,
            "2026-03-10T07:45:03Z,RDR-LYO-01,0x4F21C9,granted,,in"
        );
    }
}

#[test]
fn onvif_day() {
    let Some(bytes) = acme("day-onvif.jsonl") else {
        return;
    };
    for format in [Format::OnvifEj, Format::Auto] {
        let events = decode_clean(&format, &bytes, &ctx(ACME_RECEIVED_MS));
        let kinds: Vec<(EventClass, Activity)> =
            events.iter().map(|e| (e.class, e.activity)).collect();
        use Activity as A;
        use EventClass as C;
        assert_eq!(
            kinds,
            [
                (C::PhysicalAccess, A::PortalHeldOpen),
                (C::PhysicalAccess, A::PortalNormal),
                (C::PhysicalAccess, A::AccessDenied),
                (C::PhysicalAccess, A::AccessDenied),
                (C::PhysicalAccess, A::AccessDenied),
                (C::PhysicalAccess, A::AccessGranted),
                (C::PhysicalAccess, A::PortalForced),
                (C::VideoAnalytics, A::VideoTamper),
                (C::PhysicalAccess, A::PortalForced),
            ]
        );
        assert!(
            events
                .iter()
                .all(|e| e.source.format == "onvif-ej" && e.source.product == "onvif")
        );
        // S5: three denials of the unknown card 0x99AA01 at RDR-LYO-07, then Eva's grant.
        for e in &events[2..5] {
            assert_eq!(e.actor.badge.as_deref(), Some("0x99AA01"));
            assert_eq!(e.physical.reader.as_deref(), Some("RDR-LYO-07"));
            assert_eq!(e.physical.reason.as_deref(), Some("CredentialNotFound"));
            assert_eq!(e.host.as_deref(), Some("ctl-lyo-01"));
            assert_eq!(e.status, Status::Failure);
        }
        let grant = &events[5];
        assert_eq!(
            (
                grant.actor.badge.as_deref(),
                grant.actor.holder_name.as_deref()
            ),
            (Some("0x4F21E3"), Some("Eva Rossi"))
        );
        assert_eq!(grant.time_rfc3339(), "2026-03-10T15:20:41.000Z");
        // S1: camera blinded, then the server-room door forced.
        let dark = &events[7];
        assert_eq!(
            (dark.host.as_deref(), dark.physical.camera.as_deref()),
            (Some("cam-par-srv"), Some("VideoSource_1"))
        );
        assert_eq!(
            &dark.fields["onvif.topic"],
            "VideoSource/ImageTooDark/ImagingService"
        );
        assert_eq!(dark.source.service, "videosource");
        assert_eq!(dark.time_rfc3339(), "2026-03-10T21:46:50.000Z");
        let forced = &events[8];
        assert_eq!(
            (
                forced.physical.portal.as_deref(),
                forced.physical.state.as_deref()
            ),
            (Some("PAR-D-SRV"), Some("DoorForcedOpen"))
        );
        assert_eq!(forced.host.as_deref(), Some("ctl-par-01"));
        assert_eq!(forced.source.service, "door");
        assert_eq!(forced.time_rfc3339(), "2026-03-10T21:47:12.000Z");
        // S6: the gate forced at Lyon.
        assert_eq!(events[6].physical.portal.as_deref(), Some("LYO-D-GATE"));
        assert_eq!(&events[0].fields["onvif.property_operation"], "Changed");
        assert_eq!(&events[0].fields["onvif.source.DoorToken"], "PAR-D-MAIN");
        assert_eq!(&events[0].fields["onvif.data.State"], "DoorOpenTooLong");
    }
}

#[test]
fn all_acme_inputs_concatenated_decode_under_auto() {
    let names = ["day-syslog.log", "day-windows.jsonl", "day-onvif.jsonl"];
    let mut body = Vec::new();
    for name in names {
        let Some(bytes) = acme(name) else { return };
        body.extend_from_slice(&bytes);
        if !body.ends_with(b"\n") {
            body.push(b'\n');
        }
    }
    let events = decode_clean(&Format::Auto, &body, &ctx(ACME_RECEIVED_MS));
    assert_eq!(events.len(), 22 + 5 + 9);
}
