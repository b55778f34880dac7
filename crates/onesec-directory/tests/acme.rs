//! The acme reference directory (shared test data) loads as it is and resolves as the scenario
//! expects.

use onesec_directory::{Directory, NetworkClass, PersonStatus};
use onesec_event::{Activity, Event, EventClass};

fn acme() -> Option<Directory> {
    let dir = onesec_testdata::shared("scenarios/acme")?;
    match Directory::load_dir(&dir) {
        Ok(directory) => Some(directory),
        Err(e) => panic!("acme directory must load as it is: {e}"),
    }
}

fn event(class: EventClass, activity: Activity) -> Event {
    Event::new(1_773_129_491_000, class, activity)
}

#[test]
fn acme_loads_as_it_is() {
    let Some(dir) = acme() else { return };
    let s = dir.summary();
    assert_eq!(s.people, 6);
    assert_eq!((s.active, s.on_leave, s.terminated), (4, 1, 1));
    assert_eq!(s.sites, 2);
    assert_eq!(s.zones, 7);
    assert_eq!(s.portals, 5);
    assert_eq!(s.readers, 6);
    assert_eq!(s.cameras, 3);
    assert_eq!(s.networks, 1);
    assert_eq!(s.devices, 18);
    assert_eq!(s.badges, 7);
    assert!(dir.warnings().is_empty(), "{:?}", dir.warnings());
    assert_eq!(dir.files().len(), 3);

    let par = dir.site("PAR").unwrap();
    assert_eq!(par.timezone, "Europe/Paris");
    assert_eq!(par.tz, chrono_tz::Europe::Paris);
    let geo = par.geo.unwrap();
    assert!((geo.lat - 48.8566).abs() < 1e-9 && (geo.lon - 2.3522).abs() < 1e-9);
    let lyo = dir.site("lyo").unwrap();
    let km = geo.distance_km(&lyo.geo.unwrap());
    assert!(
        (390.0..395.0).contains(&km),
        "Paris-Lyon is about 392 km, got {km}"
    );

    let p001 = dir.person("p001").unwrap();
    assert_eq!(
        p001.extra.get("email").map(String::as_str),
        None,
        "email is a known column"
    );
    assert_eq!(p001.emails, vec!["alice.martin@acme.example".to_string()]);
}

#[test]
fn acme_badge_resolves_to_bruno_at_the_server_room_reader() {
    let Some(dir) = acme() else { return };
    let mut e = event(EventClass::PhysicalAccess, Activity::AccessGranted);
    e.host = Some("ctl-par-01".into());
    e.actor.badge = Some("0x4F21B3".into());
    e.physical.reader = Some("RDR-PAR-09".into());
    dir.resolve(&mut e);
    let r = &e.resolved;
    let person = r.person.as_ref().unwrap();
    assert_eq!(person.id, "p002");
    assert_eq!(person.name, "Bruno Keller");
    assert_eq!(person.status, "active");
    assert_eq!(person.department, "Finance");
    assert_eq!(person.home_site, "PAR");
    assert_eq!(r.portal.as_deref(), Some("PAR-D-SRV"));
    assert_eq!(
        r.zone.as_deref(),
        Some("PAR-SRV"),
        "the reader wins over the controller's zone"
    );
    assert_eq!(r.zone_tags, vec!["restricted", "server-room"]);
    assert_eq!(r.site.as_deref(), Some("PAR"));
    assert_eq!(r.device_id.as_deref(), Some("RDR-PAR-09"));
    assert_eq!(r.device_kind.as_deref(), Some("reader"));
}

#[test]
fn acme_badge_numbers_compare_normalised() {
    let Some(dir) = acme() else { return };
    for badge in ["0x4F21B3", "4f21b3", "0x004F21B3", " 0X4f21B3 "] {
        assert_eq!(
            dir.person_by_badge(badge).map(|p| p.id.as_str()),
            Some("p002"),
            "{badge}"
        );
    }
    assert_eq!(dir.person_by_badge("0x99AA01"), None);
    assert_eq!(
        dir.person_by_badge("0x4F21E3").map(|p| p.id.as_str()),
        Some("p005")
    );
}

#[test]
fn acme_accounts_resolve_with_and_without_domain() {
    let Some(dir) = acme() else { return };
    let dan = |user: &str, domain: Option<&str>| {
        dir.person_by_account(user, domain).map(|p| p.id.clone())
    };
    assert_eq!(dan("ACME\\dokafor", None), Some("p004".into()));
    assert_eq!(dan("dokafor", None), Some("p004".into()));
    assert_eq!(dan("DOKAFOR", Some("acme")), Some("p004".into()));
    assert_eq!(dan("dan.okafor@acme.example", None), Some("p004".into()));
    assert_eq!(
        dan("cdubois", Some("ACME")),
        Some("p003".into()),
        "bare account, qualified event"
    );
    assert_eq!(dan("root", None), None);

    let mut e = event(EventClass::Authentication, Activity::Logon);
    e.host = Some("PC-PAR-051".into());
    e.actor.user = Some("dokafor".into());
    e.actor.domain = Some("ACME".into());
    dir.resolve(&mut e);
    let person = e.resolved.person.as_ref().unwrap();
    assert_eq!(
        (person.id.as_str(), person.status.as_str()),
        ("p004", "terminated")
    );
    assert_eq!(dir.person("p004").unwrap().status, PersonStatus::Terminated);
    assert_eq!(e.resolved.zone.as_deref(), Some("PAR-OFFICE"));
    assert_eq!(e.resolved.device_id.as_deref(), Some("PC-PAR-051"));
    assert_eq!(e.resolved.device_kind.as_deref(), Some("workstation"));
}

#[test]
fn acme_hosts_resolve_to_devices_and_cameras() {
    let Some(dir) = acme() else { return };
    let mut e = event(EventClass::PeripheralActivity, Activity::Connected);
    e.host = Some("srv-par-db1".into());
    dir.resolve(&mut e);
    assert_eq!(e.resolved.device_id.as_deref(), Some("SRV-PAR-DB1"));
    assert_eq!(e.resolved.device_kind.as_deref(), Some("server"));
    assert_eq!(e.resolved.zone.as_deref(), Some("PAR-SRV"));
    assert_eq!(e.resolved.site.as_deref(), Some("PAR"));
    assert_eq!(e.resolved.zone_tags, vec!["restricted", "server-room"]);

    // ONVIF camera event: host is the camera's hostname, the source a video source token.
    let mut e = event(EventClass::VideoAnalytics, Activity::VideoTamper);
    e.host = Some("cam-par-srv".into());
    e.physical.camera = Some("VideoSource_1".into());
    dir.resolve(&mut e);
    assert_eq!(e.resolved.device_id.as_deref(), Some("CAM-PAR-SRV"));
    assert_eq!(e.resolved.device_kind.as_deref(), Some("camera"));
    assert_eq!(e.resolved.zone.as_deref(), Some("PAR-SRV"));
    let watched: Vec<_> = dir
        .zones_watched_by("cam-par-srv")
        .iter()
        .map(|z| z.id.clone())
        .collect();
    assert_eq!(watched, vec!["PAR-SRV"]);
    let cams: Vec<_> = dir
        .cameras_watching("par-srv")
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(cams, vec!["CAM-PAR-SRV"]);

    // A door alarm reported by the controller is placed at the door, not at the controller.
    let mut e = event(EventClass::PhysicalAccess, Activity::PortalForced);
    e.host = Some("ctl-par-01".into());
    e.physical.portal = Some("PAR-D-SRV".into());
    dir.resolve(&mut e);
    assert_eq!(e.resolved.zone.as_deref(), Some("PAR-SRV"));
    assert_eq!(e.resolved.device_id.as_deref(), Some("CTL-PAR-01"));
    assert_eq!(
        e.resolved.portal, None,
        "the source named the portal itself"
    );

    assert_eq!(
        dir.portal_for_reader("rdr-par-09").map(|p| p.id.as_str()),
        Some("PAR-D-SRV")
    );
    assert_eq!(
        dir.device_by_host("SRV-PAR-DB1.acme.local")
            .map(|d| d.id.as_str()),
        Some("SRV-PAR-DB1")
    );
    assert_eq!(
        dir.device_by_host("10.10.90.15").map(|d| d.id.as_str()),
        Some("SRV-PAR-DB1")
    );
}

#[test]
fn acme_source_addresses_are_classified() {
    let Some(dir) = acme() else { return };
    let src = |ip: &str| {
        let mut e = event(EventClass::Authentication, Activity::Logon);
        e.src.ip = Some(ip.parse().unwrap());
        dir.resolve(&mut e);
        e.resolved
    };
    let r = src("198.51.100.23");
    assert_eq!(r.src_network.as_deref(), Some("external"));
    assert_eq!((r.src_site.as_deref(), r.src_zone.as_deref()), (None, None));
    let r = src("10.10.20.44");
    assert_eq!(r.src_network.as_deref(), Some("internal"));
    assert_eq!(r.src_site.as_deref(), Some("PAR"));
    assert_eq!(r.src_zone.as_deref(), Some("PAR-OFFICE"));
    let r = src("10.8.0.6");
    assert_eq!(r.src_network.as_deref(), Some("remote-access"));
    assert_eq!(r.src_site, None);
    assert_eq!(src("192.168.1.10").src_network.as_deref(), Some("internal"));
    assert_eq!(
        src("::ffff:10.10.20.44").src_zone.as_deref(),
        Some("PAR-OFFICE")
    );
    assert_eq!(
        dir.locate_ip("10.8.0.6".parse().unwrap()).class,
        NetworkClass::RemoteAccess
    );
    assert_eq!(
        dir.locate_ip("10.8.0.6".parse().unwrap()).network,
        Some("VPN pool")
    );
}

#[test]
fn acme_openvpn_login_of_bruno_is_remote_access_from_outside() {
    let Some(dir) = acme() else { return };
    let mut e = event(EventClass::Authentication, Activity::Logon);
    e.host = Some("vpn-par".into());
    e.actor.user = Some("bkeller".into());
    e.src.ip = Some("198.51.100.23".parse().unwrap());
    dir.resolve(&mut e);
    assert_eq!(
        e.resolved.person.as_ref().map(|p| p.id.as_str()),
        Some("p002")
    );
    assert_eq!(e.resolved.src_network.as_deref(), Some("external"));
    assert_eq!(e.resolved.device_kind.as_deref(), Some("vpn-gateway"));
}

#[test]
fn acme_resolution_is_idempotent() {
    let Some(dir) = acme() else { return };
    let mut e = event(EventClass::PhysicalAccess, Activity::AccessGranted);
    e.actor.badge = Some("0x4F21D0".into());
    e.physical.reader = Some("RDR-PAR-01".into());
    dir.resolve(&mut e);
    let first = e.resolved.clone();
    dir.resolve(&mut e);
    assert_eq!(e.resolved, first);
    assert_eq!(first.person.as_ref().unwrap().status, "terminated");
    assert_eq!(first.zone.as_deref(), Some("PAR-LOBBY"));
}
