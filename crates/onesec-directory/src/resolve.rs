//! Resolution: an event's badge, account, reader, portal, camera, host and addresses turned into
//! person, portal, zone, site, device and source network.

use crate::assemble::NetTarget;
use crate::model::{IpLocation, NetworkClass};
use crate::{Directory, lookup};
use onesec_event::{Event, Resolved};
use std::net::IpAddr;

/// Where an event happened, as indexes into the directory's tables.
#[derive(Default)]
struct Place {
    zone: Option<usize>,
    site: Option<usize>,
    /// Portal found from a reader (reported as `resolved.portal`).
    portal: Option<usize>,
    direction: Option<onesec_event::Direction>,
}

impl Place {
    fn found(&self) -> bool {
        self.zone.is_some() || self.site.is_some()
    }
}

impl Directory {
    /// Fills `event.resolved` from scratch (idempotent: resolving again after a reload gives
    /// the new directory's view). Order and rules are documented in `DIRECTORY.md`. When the
    /// event has no direction and its reader's direction is known, `physical.direction` is set.
    pub fn resolve(&self, event: &mut Event) {
        let mut out = Resolved {
            person: self.person_of(event).map(|p| p.to_ref()),
            ..Resolved::default()
        };
        let (place, device) = self.place_of(event);
        if let Some(zone) = place.zone.and_then(|z| self.zones.get(z)) {
            out.zone = Some(zone.id.clone());
            out.zone_tags = zone.tags.clone();
        }
        let site = place
            .zone
            .and_then(|z| self.index.zone_site.get(z).copied().flatten())
            .or(place.site);
        out.site = site.and_then(|s| self.sites.get(s)).map(|s| s.id.clone());
        out.portal = place
            .portal
            .and_then(|p| self.portals.get(p))
            .map(|p| p.id.clone());
        if let Some(device) = device.and_then(|d| self.devices.get(d)) {
            out.device_id = Some(device.id.clone());
            out.device_kind = Some(device.kind.clone());
        }
        self.resolve_source(event, &mut out);
        // Only a direction to give touches the physical part (a write allocates it).
        if event.physical.direction.is_none() && place.direction.is_some() {
            event.physical.direction = place.direction;
        }
        event.resolved = out.into();
    }

    fn person_of(&self, event: &Event) -> Option<&crate::Person> {
        let actor = &event.actor;
        actor
            .badge
            .as_deref()
            .and_then(|b| self.person_by_badge(b))
            .or_else(|| {
                actor
                    .user
                    .as_deref()
                    .and_then(|u| self.person_by_account(u, actor.domain.as_deref()))
            })
    }

    /// The place and the device of an event: reader, portal, camera, host, destination, then
    /// addresses in zone segments. The device is the most specific one named: reader, camera,
    /// host, destination.
    fn place_of(&self, event: &Event) -> (Place, Option<usize>) {
        let physical = &event.physical;
        let mut place = Place::default();

        // 1. Reader → its portal → the portal's zone.
        let reader_device = physical.reader.as_deref().and_then(|reader| {
            if let Some(at) = lookup(&self.index.reader, reader) {
                self.place_at_portal(&mut place, at.portal);
                place.portal = Some(at.portal);
                place.direction = at.direction;
            }
            let device = self.device_index(reader);
            if !place.found() {
                self.place_at_device(&mut place, device);
            }
            device
        });

        // 2. Portal named by the source.
        if !place.found()
            && let Some(portal) = physical
                .portal
                .as_deref()
                .and_then(|p| lookup(&self.index.portal_by_id, p))
        {
            self.place_at_portal(&mut place, portal);
        }

        // 3. Camera → the first zone it watches.
        let mut camera_device = None;
        if let Some(token) = physical.camera.as_deref() {
            if let Some(camera) = self.camera_index(token) {
                if !place.found() {
                    self.place_at_camera(&mut place, camera);
                }
                camera_device = self
                    .cameras
                    .get(camera)
                    .and_then(|c| lookup(&self.index.device_by_id, &c.id));
            }
            camera_device = camera_device.or_else(|| self.device_index(token));
            if !place.found() {
                self.place_at_device(&mut place, camera_device);
            }
        }

        // 4. Reporting host → device (as camera or reader when it is one) → zone and site.
        let host = event
            .host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty());
        let host_device = host.and_then(|h| self.device_index(h));
        let mut host_known = host_device.is_some();
        if let Some(h) = host
            && host_device.is_none()
        {
            // A token of sites.yaml without a devices.csv row (camera or reader id as host).
            if let Some(camera) = lookup(&self.index.camera_by_id, h) {
                host_known = true;
                if !place.found() {
                    self.place_at_camera(&mut place, camera);
                }
            } else if let Some(at) = lookup(&self.index.reader, h) {
                host_known = true;
                if !place.found() {
                    self.place_at_portal(&mut place, at.portal);
                    place.portal = Some(at.portal);
                }
            }
        }
        if !place.found() {
            self.place_at_device(&mut place, host_device);
        }

        // 5. Destination device, when the host says nothing.
        let mut dst_device = None;
        if !host_known {
            dst_device = event
                .dst
                .hostname
                .as_deref()
                .and_then(|h| self.device_index(h))
                .or_else(|| {
                    event
                        .dst
                        .ip
                        .and_then(|ip| self.index.device_by_ip.get(&ip.to_canonical()).copied())
                });
            if !place.found() {
                self.place_at_device(&mut place, dst_device);
            }
        }

        // 6. The event's own address (host given as an IP, else destination) in a segment.
        if !place.found() {
            let own_ip = host
                .and_then(|h| h.parse::<IpAddr>().ok())
                .or(if host_known { None } else { event.dst.ip });
            if let Some(zone) = own_ip.and_then(|ip| self.zone_of_ip(ip)) {
                place.zone = Some(zone);
            }
        }

        let device = reader_device
            .or(camera_device)
            .or(host_device)
            .or(dst_device);
        (place, device)
    }

    fn place_at_portal(&self, place: &mut Place, portal: usize) {
        place.zone = self
            .portals
            .get(portal)
            .and_then(|p| lookup(&self.index.zone_by_id, &p.zone));
    }

    fn place_at_camera(&self, place: &mut Place, camera: usize) {
        place.zone = self
            .cameras
            .get(camera)
            .and_then(|c| c.watches.first())
            .and_then(|z| lookup(&self.index.zone_by_id, z));
    }

    /// Places at a device: a device that is a camera or reader of `sites.yaml` is placed as
    /// that; any other at its own zone and site.
    fn place_at_device(&self, place: &mut Place, device: Option<usize>) {
        let Some(device) = device.and_then(|d| self.devices.get(d)) else {
            return;
        };
        if let Some(camera) = lookup(&self.index.camera_by_id, &device.id) {
            self.place_at_camera(place, camera);
        } else if let Some(at) = lookup(&self.index.reader, &device.id) {
            self.place_at_portal(place, at.portal);
            place.portal = Some(at.portal);
            place.direction = place.direction.or(at.direction);
        }
        if !place.found() {
            place.zone = device
                .zone
                .as_deref()
                .and_then(|z| lookup(&self.index.zone_by_id, z));
            place.site = device
                .site
                .as_deref()
                .and_then(|s| lookup(&self.index.site_by_id, s));
        }
    }

    fn zone_of_ip(&self, ip: IpAddr) -> Option<usize> {
        let ip = ip.to_canonical();
        self.index
            .zone_nets
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|&(_, zone)| zone)
    }

    fn resolve_source(&self, event: &Event, out: &mut Resolved) {
        if let Some(ip) = event.src.ip {
            if ip.is_unspecified() {
                return;
            }
            let at = locate_ip(self, ip);
            out.src_network = Some(at.class.as_str().to_string());
            out.src_site = at.site.map(str::to_string);
            out.src_zone = at.zone.map(str::to_string);
        } else if let Some(device) = event
            .src
            .hostname
            .as_deref()
            .and_then(|h| self.device_by_host(h))
        {
            out.src_network = Some(NetworkClass::Internal.as_str().to_string());
            out.src_site = device.site.clone();
            out.src_zone = device.zone.clone();
        }
    }
}

/// Where `ip` lies: the longest matching zone segment or network, else private → internal,
/// else external.
pub(crate) fn locate_ip(dir: &Directory, ip: IpAddr) -> IpLocation<'_> {
    let ip = ip.to_canonical();
    let hit = dir
        .index
        .src_nets
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, target)| target);
    match hit {
        Some(NetTarget::Zone(z)) => {
            let zone = dir.zones.get(z);
            IpLocation {
                class: NetworkClass::Internal,
                site: zone.map(|z| z.site.as_str()),
                zone: zone.map(|z| z.id.as_str()),
                network: None,
            }
        }
        Some(NetTarget::Network(n)) => {
            let network = dir.networks.get(n);
            let class = match network.map(|n| n.kind.as_str()) {
                Some("remote-access") => NetworkClass::RemoteAccess,
                Some("external") => NetworkClass::External,
                _ => NetworkClass::Internal,
            };
            IpLocation {
                class,
                site: if class == NetworkClass::Internal {
                    network.and_then(|n| n.site.as_deref())
                } else {
                    None
                },
                zone: None,
                network: network.map(|n| n.name.as_str()),
            }
        }
        None => IpLocation {
            class: if is_private(ip) {
                NetworkClass::Internal
            } else {
                NetworkClass::External
            },
            site: None,
            zone: None,
            network: None,
        },
    }
}

/// RFC 1918, unique-local (fc00::/7), loopback and link-local addresses.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, Direction, EventClass};

    const SITES: &str = "\
sites:
  - id: HQ
    timezone: Europe/Oslo
    zones:
      - { id: HQ-LOBBY, tags: [public] }
      - { id: HQ-OFFICE, tags: [office], segments: [10.1.20.0/24, 'fd00:1:20::/64'] }
      - { id: HQ-SRV, tags: [restricted, server-room], segments: [10.1.90.0/24] }
      - { id: HQ-RACK, tags: [restricted], parent: HQ-SRV, segments: [10.1.90.128/25] }
    portals:
      - id: HQ-D-MAIN
        zone: HQ-LOBBY
        readers: [{ id: R-IN, direction: in }, { id: R-OUT, direction: exit }]
    cameras:
      - { id: CAM-1, watches: [HQ-SRV, HQ-OFFICE] }
networks:
  - { cidr: 10.9.0.0/16, name: VPN, kind: remote-access }
  - { cidr: 203.0.113.0/24, name: Partner, kind: partner, site: HQ }
  - { cidr: 10.1.0.0/16, name: Scanner range, kind: external }
";
    const DEVICES: &str = "\
device_id,kind,hostname,ip,zone
SRV-1,server,srv-1,10.1.90.10,HQ-SRV
CAM-1,camera,cam-1,10.1.50.21,HQ-LOBBY
CAM-X,camera,cam-x,10.1.50.22,HQ-OFFICE
R-IN,reader,,10.1.50.30,HQ-LOBBY
PRN-1,printer,prn-1,,
";

    fn dir() -> Directory {
        Directory::from_texts(None, Some(SITES), Some(DEVICES)).unwrap()
    }

    fn resolved(setup: impl FnOnce(&mut Event)) -> Event {
        let mut e = Event::new(0, EventClass::Base, Activity::Other);
        setup(&mut e);
        dir().resolve(&mut e);
        e
    }

    #[test]
    fn readers_fill_portal_zone_and_direction() {
        let e = resolved(|e| e.physical.reader = Some("r-out".into()));
        assert_eq!(e.resolved.portal.as_deref(), Some("HQ-D-MAIN"));
        assert_eq!(e.resolved.zone.as_deref(), Some("HQ-LOBBY"));
        assert_eq!(e.resolved.site.as_deref(), Some("HQ"));
        assert_eq!(e.physical.direction, Some(Direction::Out));
        assert_eq!(e.resolved.device_id, None, "R-OUT has no device row");
        let e = resolved(|e| {
            e.physical.reader = Some("R-IN".into());
            e.physical.direction = Some(Direction::Out);
        });
        assert_eq!(
            e.physical.direction,
            Some(Direction::Out),
            "the event's own direction stays"
        );
        assert_eq!(e.resolved.device_kind.as_deref(), Some("reader"));
    }

    #[test]
    fn cameras_are_placed_at_their_first_watched_zone() {
        let e = resolved(|e| e.host = Some("CAM-1".into()));
        assert_eq!(
            e.resolved.zone.as_deref(),
            Some("HQ-SRV"),
            "watches, not the mounting zone"
        );
        let e = resolved(|e| e.physical.camera = Some("cam-x".into()));
        assert_eq!(
            e.resolved.zone.as_deref(),
            Some("HQ-OFFICE"),
            "device row only"
        );
        assert_eq!(e.resolved.device_id.as_deref(), Some("CAM-X"));
    }

    #[test]
    fn destination_and_own_address_place_hostless_events() {
        let e = resolved(|e| e.dst.ip = Some("10.1.90.10".parse().unwrap()));
        assert_eq!(e.resolved.device_id.as_deref(), Some("SRV-1"));
        assert_eq!(e.resolved.zone.as_deref(), Some("HQ-SRV"));
        let e = resolved(|e| {
            e.host = Some("unknown-box".into());
            e.dst.hostname = Some("SRV-1.corp.example".into());
        });
        assert_eq!(e.resolved.device_id.as_deref(), Some("SRV-1"));
        let e = resolved(|e| e.host = Some("10.1.90.200".into()));
        assert_eq!(
            e.resolved.zone.as_deref(),
            Some("HQ-RACK"),
            "longest prefix"
        );
        assert_eq!(e.resolved.zone_tags, vec!["restricted"]);
        let e = resolved(|e| e.host = Some("prn-1".into()));
        assert_eq!(e.resolved.device_kind.as_deref(), Some("printer"));
        assert_eq!(
            (e.resolved.zone.as_deref(), e.resolved.site.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn source_networks_by_longest_prefix() {
        let d = dir();
        let at = |ip: &str| d.locate_ip(ip.parse().unwrap());
        assert_eq!(at("10.1.20.5").zone, Some("HQ-OFFICE"));
        assert_eq!(at("fd00:1:20::5").zone, Some("HQ-OFFICE"));
        assert_eq!(at("10.9.3.4").class, NetworkClass::RemoteAccess);
        assert_eq!(
            at("10.1.7.7").class,
            NetworkClass::External,
            "kind external"
        );
        assert_eq!(
            at("203.0.113.9").class,
            NetworkClass::Internal,
            "other kinds are internal"
        );
        assert_eq!(at("203.0.113.9").site, Some("HQ"));
        assert_eq!(at("fd12::1").class, NetworkClass::Internal);
        assert_eq!(at("2001:db8::1").class, NetworkClass::External);
        let e = resolved(|e| e.src.ip = Some("0.0.0.0".parse().unwrap()));
        assert_eq!(e.resolved.src_network, None);
        let e = resolved(|e| e.src.hostname = Some("srv-1".into()));
        assert_eq!(e.resolved.src_zone.as_deref(), Some("HQ-SRV"));
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "fd00::1",
            "::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["198.51.100.23", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
