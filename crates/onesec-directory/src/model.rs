//! The directory's entities as loaded from the files: people, sites, zones, portals, cameras,
//! networks and devices.

use ipnet::IpNet;
use onesec_event::{Direction, PersonRef};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Employment state of a person, from the `status` column of `people.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// Working normally: badge and accounts expected in use.
    Active,
    /// On leave: any use of their badge or accounts is suspicious.
    Leave,
    /// No longer employed: any use of their badge or accounts is an incident.
    Terminated,
}

impl PersonStatus {
    /// The allowed values, as written in the file.
    pub const EXPECTED: &'static str = "one of active, leave, terminated";

    /// Lower-case name as written in `people.csv` and in resolved events.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonStatus::Active => "active",
            PersonStatus::Leave => "leave",
            PersonStatus::Terminated => "terminated",
        }
    }

    /// Parses a `status` cell (case-insensitive); `None` for anything else.
    pub fn parse(text: &str) -> Option<PersonStatus> {
        let text = text.trim();
        [
            PersonStatus::Active,
            PersonStatus::Leave,
            PersonStatus::Terminated,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for PersonStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `people.csv`: a person with the accounts and credentials that belong to them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    /// Directory id (`person_id`), unique.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Department (free text).
    pub department: String,
    /// Employment state.
    pub status: PersonStatus,
    /// Account names as listed (`user` or `DOMAIN\user`).
    pub accounts: Vec<String>,
    /// Badge / card numbers as listed.
    pub badges: Vec<String>,
    /// E-mail addresses (the `email` column), also matched as account names.
    pub emails: Vec<String>,
    /// Home site id (may be empty).
    pub home_site: String,
    /// Any other column of the row, by header name (e.g. `title`, `manager`).
    pub extra: BTreeMap<String, String>,
    /// Line of the row in `people.csv` (for messages).
    pub line: u64,
}

impl Person {
    /// The snapshot of this person that goes into a resolved event.
    pub fn to_ref(&self) -> PersonRef {
        PersonRef {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status.as_str().to_string(),
            department: self.department.clone(),
            home_site: self.home_site.clone(),
        }
    }
}

/// Geographic position of a site (WGS 84 degrees), for impossible-travel checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Geo {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl Geo {
    /// Great-circle distance to `other` in kilometres (haversine, mean Earth radius).
    pub fn distance_km(&self, other: &Geo) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * 6371.0088 * a.sqrt().clamp(0.0, 1.0).asin()
    }
}

/// A site (campus, office, plant) from `sites.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    /// Site id, unique.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone name as written (e.g. `Europe/Paris`); `UTC` when the file gives none.
    pub timezone: String,
    /// The parsed time zone, for local-time rules (after hours, working day).
    #[serde(skip)]
    pub tz: crate::Tz,
    /// Position, when given.
    pub geo: Option<Geo>,
    /// Buildings declared on the site.
    pub buildings: Vec<Building>,
    /// Ids of the site's zones, in file order.
    pub zones: Vec<String>,
    /// Ids of the site's portals, in file order.
    pub portals: Vec<String>,
    /// Ids of the site's cameras, in file order.
    pub cameras: Vec<String>,
}

/// A building of a site (optional level between site and zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Building {
    /// Building id, unique within its site.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// An area of a site with its own access rules and network segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    /// Zone id, unique across all sites.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Site the zone belongs to.
    pub site: String,
    /// Building the zone is in, when declared.
    pub building: Option<String>,
    /// Enclosing zone, when declared (e.g. a cage inside a server room).
    pub parent: Option<String>,
    /// Tags that rules match on (e.g. `restricted`, `server-room`).
    pub tags: Vec<String>,
    /// Network segments (CIDR) of the zone.
    pub segments: Vec<IpNet>,
}

impl Zone {
    /// Whether the zone carries `tag` (case-insensitive).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// A reader mounted on a portal, with the passage direction it controls when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reader {
    /// Reader / access point token.
    pub id: String,
    /// `in` (enters the portal's zone) or `out`, when the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// A door, gate or turnstile leading into a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Portal {
    /// Portal (door) id, unique across all sites.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Site of the portal.
    pub site: String,
    /// Zone the portal leads into.
    pub zone: String,
    /// Zone on the other side; `None` for `outside`.
    pub from: Option<String>,
    /// Readers of the portal.
    pub readers: Vec<Reader>,
}

/// A camera from `sites.yaml` and the zones it watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Camera {
    /// Camera id, unique across all sites.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Site of the camera.
    pub site: String,
    /// Zones in view; the first is the one its events are placed in.
    pub watches: Vec<String>,
}

/// A network range that is not a zone segment (VPN pool, guest Wi-Fi, partner link...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    /// The range.
    pub cidr: IpNet,
    /// Display name.
    pub name: String,
    /// Kind: `remote-access` for VPN pools; `external` for ranges to treat as outside; anything
    /// else (e.g. `guest`, `dmz`, `internal`) counts as internal.
    pub kind: String,
    /// Site the range belongs to, when given.
    pub site: Option<String>,
}

/// Where an address lies, as far as the directory knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkClass {
    /// A zone segment, a non-remote network entry, or any private/loopback range.
    Internal,
    /// A `remote-access` network (VPN pool).
    RemoteAccess,
    /// Anything else.
    External,
}

impl NetworkClass {
    /// Name used in `resolved.src_network`: `internal`, `remote-access` or `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkClass::Internal => "internal",
            NetworkClass::RemoteAccess => "remote-access",
            NetworkClass::External => "external",
        }
    }
}

/// What the directory knows about an IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpLocation<'a> {
    /// Internal, remote access or external.
    pub class: NetworkClass,
    /// Site of the zone segment or network entry it lies in.
    pub site: Option<&'a str>,
    /// Zone whose segment holds it.
    pub zone: Option<&'a str>,
    /// Name of the `networks` entry it lies in, if any.
    pub network: Option<&'a str>,
}

/// One row of `devices.csv`: a connected device of the estate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Inventory id, unique (may equal a camera or reader id of `sites.yaml`).
    pub id: String,
    /// Kind, lower case (camera, reader, controller, panel, sensor, nvr, server, workstation...).
    pub kind: String,
    /// Host name as it appears in logs (unique when given).
    pub hostname: Option<String>,
    /// Management address.
    pub ip: Option<IpAddr>,
    /// MAC address as written.
    pub mac: Option<String>,
    /// Site (taken from the zone when only the zone is given).
    pub site: Option<String>,
    /// Zone where the device is installed.
    pub zone: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// Any other column of the row, by header name (e.g. `serial`).
    pub extra: BTreeMap<String, String>,
    /// Line of the row in `devices.csv`.
    pub line: u64,
}

/// Counts of what a directory holds, for logs, the console and reload answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirectorySummary {
    /// People in `people.csv`.
    pub people: usize,
    /// Of which active.
    pub active: usize,
    /// Of which on leave.
    pub on_leave: usize,
    /// Of which terminated.
    pub terminated: usize,
    /// Distinct account names and e-mails that resolve to a person.
    pub accounts: usize,
    /// Distinct badge numbers.
    pub badges: usize,
    /// Sites.
    pub sites: usize,
    /// Zones.
    pub zones: usize,
    /// Portals.
    pub portals: usize,
    /// Readers on portals.
    pub readers: usize,
    /// Cameras in `sites.yaml`.
    pub cameras: usize,
    /// Entries of the top-level `networks` list.
    pub networks: usize,
    /// Devices in `devices.csv`.
    pub devices: usize,
    /// Non-fatal findings made while loading (see `Directory::warnings`).
    pub warnings: usize,
}

impl fmt::Display for DirectorySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} people ({} active, {} on leave, {} terminated), {} accounts, {} badges, \
             {} sites, {} zones, {} portals, {} readers, {} cameras, {} networks, {} devices, \
             {} warnings",
            self.people,
            self.active,
            self.on_leave,
            self.terminated,
            self.accounts,
            self.badges,
            self.sites,
            self.zones,
            self.portals,
            self.readers,
            self.cameras,
            self.networks,
            self.devices,
            self.warnings
        )
    }
}
