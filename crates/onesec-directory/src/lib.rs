//! Who and where: the directory of people, sites and devices, and the resolver that attaches
//! them to every event.
//!
//! A directory is a folder with up to three plain files that a user exports from HR, the
//! identity provider and the access-control / inventory tools (formats in `DIRECTORY.md`):
//!
//! * `people.csv`: persons with their status, accounts (`user`, `DOMAIN\user`, e-mail) and
//!   badge numbers;
//! * `sites.yaml`: sites (time zone, position) → zones (tags, network segments) → portals
//!   (doors) → readers; cameras and the zones they watch; other networks such as VPN pools;
//! * `devices.csv`: the connected estate (hosts, cameras, readers, controllers) with site
//!   and zone.
//!
//! [`Directory::load_dir`] reads and validates them (an error names the file, the line and the
//! reason; loading never panics). [`Directory::resolve`] fills an event's
//! [`Resolved`](onesec_event::Resolved) part: the person behind its badge or account, the portal,
//! zone, zone tags and site where it happened, the device involved, and where its source address
//! lies (`internal`, `remote-access`, `external`). Every lookup goes through hash maps of
//! normalised keys built at load time, so resolving allocates only the output strings.
//!
//! ```no_run
//! use onesec_directory::{Directory, SharedDirectory};
//! # fn main() -> Result<(), onesec_directory::DirectoryError> {
//! let shared = SharedDirectory::load("examples/northwind")?;
//! let mut event = onesec_event::Event::new(
//!     0,
//!     onesec_event::EventClass::PhysicalAccess,
//!     onesec_event::Activity::AccessGranted,
//! );
//! event.actor.badge = Some("0x7A1002".into());
//! event.physical.reader = Some("RDR-EDI-01".into());
//! shared.current().resolve(&mut event);
//! // ... later, after the files were edited:
//! let summary = shared.reload()?;
//! println!("directory reloaded: {summary}");
//! # Ok(()) }
//! ```
//!
//! [`SharedDirectory`] lets a running pipeline swap in a reloaded directory without a restart;
//! a failed reload keeps the previous one.

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod assemble;
mod devices;
mod error;
mod key;
mod model;
mod people;
pub mod pseudonym;
mod resolve;
mod shared;
mod sites;
mod table;

pub use chrono_tz::Tz;
pub use error::DirectoryError;
pub use model::{
    Building, Camera, Device, DirectorySummary, Geo, IpLocation, Network, NetworkClass, Person,
    PersonStatus, Portal, Reader, Site, Zone,
};
pub use pseudonym::{
    IdKind, Identity, PseudonymKey, PseudonymKeyError, PseudonymTable, Pseudonymiser, Pseudonyms,
    is_pseudonym,
};
pub use shared::SharedDirectory;

use crate::key::{Folded, badge_core, split_account};
use assemble::{Account, Index, Source, Sources};
use onesec_event::Direction;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// File name of the people list inside a directory folder.
pub const PEOPLE_FILE: &str = "people.csv";
/// File name of the site description inside a directory folder (`sites.yml` is also read).
pub const SITES_FILE: &str = "sites.yaml";
/// File name of the device inventory inside a directory folder.
pub const DEVICES_FILE: &str = "devices.csv";

/// A loaded, validated and indexed directory; immutable (reload builds a new one).
#[derive(Debug, Default)]
pub struct Directory {
    pub(crate) root: Option<PathBuf>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) people: Vec<Person>,
    pub(crate) sites: Vec<Site>,
    pub(crate) zones: Vec<Zone>,
    pub(crate) portals: Vec<Portal>,
    pub(crate) cameras: Vec<Camera>,
    pub(crate) networks: Vec<Network>,
    pub(crate) devices: Vec<Device>,
    pub(crate) warnings: Vec<String>,
    pub(crate) index: Index,
}

impl Directory {
    /// An empty directory: resolves nothing but source networks (private → internal).
    pub fn empty() -> Directory {
        Directory::default()
    }

    /// Loads `people.csv`, `sites.yaml` (or `sites.yml`) and `devices.csv` from the folder
    /// `dir`; any of them may be missing, not all three.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Directory, DirectoryError> {
        let dir = dir.as_ref();
        let meta = std::fs::metadata(dir).map_err(|source| DirectoryError::Io {
            file: dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(DirectoryError::Io {
                file: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a folder (a directory is a folder holding people.csv, sites.yaml and/or devices.csv)",
                ),
            });
        }
        let pick = |names: &[&str]| -> Result<Option<Source>, DirectoryError> {
            for name in names {
                let path = dir.join(name);
                if path.is_file() {
                    let text = assemble::read_text(&path)?;
                    return Ok(Some(Source { path, text }));
                }
            }
            Ok(None)
        };
        let sources = Sources {
            people: pick(&[PEOPLE_FILE])?,
            sites: pick(&[SITES_FILE, "sites.yml"])?,
            devices: pick(&[DEVICES_FILE])?,
        };
        if sources.people.is_none() && sources.sites.is_none() && sources.devices.is_none() {
            return Err(DirectoryError::NoFiles {
                dir: dir.to_path_buf(),
            });
        }
        let directory = assemble::build(Some(dir.to_path_buf()), sources)?;
        tracing::info!(dir = %dir.display(), summary = %directory.summary(), "directory loaded");
        Ok(directory)
    }

    /// Builds a directory from file contents already in memory (errors name the files
    /// `people.csv`, `sites.yaml` and `devices.csv`).
    pub fn from_texts(
        people: Option<&str>,
        sites: Option<&str>,
        devices: Option<&str>,
    ) -> Result<Directory, DirectoryError> {
        let source = |name: &str, text: Option<&str>| {
            text.map(|text| Source {
                path: PathBuf::from(name),
                text: text.to_string(),
            })
        };
        assemble::build(
            None,
            Sources {
                people: source(PEOPLE_FILE, people),
                sites: source(SITES_FILE, sites),
                devices: source(DEVICES_FILE, devices),
            },
        )
    }

    /// The folder the directory was loaded from, if it came from one.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The files that were read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Non-fatal findings of the load (ambiguous account names, unknown home sites...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Counts of everything loaded.
    pub fn summary(&self) -> DirectorySummary {
        let count = |status| self.people.iter().filter(|p| p.status == status).count();
        DirectorySummary {
            people: self.people.len(),
            active: count(PersonStatus::Active),
            on_leave: count(PersonStatus::Leave),
            terminated: count(PersonStatus::Terminated),
            accounts: self
                .index
                .person_by_account
                .values()
                .filter(|a| matches!(a, Account::One { .. }))
                .count(),
            badges: self.index.person_by_badge.len(),
            sites: self.sites.len(),
            zones: self.zones.len(),
            portals: self.portals.len(),
            readers: self.index.reader.len(),
            cameras: self.cameras.len(),
            networks: self.networks.len(),
            devices: self.devices.len(),
            warnings: self.warnings.len(),
        }
    }

    /// All people, in file order.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// All sites, in file order.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// All zones of all sites, in file order.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// All portals of all sites, in file order.
    pub fn portals(&self) -> &[Portal] {
        &self.portals
    }

    /// All cameras of `sites.yaml`, in file order.
    pub fn cameras(&self) -> &[Camera] {
        &self.cameras
    }

    /// The top-level `networks` entries (VPN pools and other non-zone ranges).
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// All devices of `devices.csv`, in file order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The person with directory id `id` (case-insensitive).
    pub fn person(&self, id: &str) -> Option<&Person> {
        lookup(&self.index.person_by_id, id).and_then(|i| self.people.get(i))
    }

    /// The person holding badge `badge` (`0x` prefix, case and leading zeros ignored).
    pub fn person_by_badge(&self, badge: &str) -> Option<&Person> {
        let core = badge_core(badge);
        if core.is_empty() {
            return None;
        }
        lookup(&self.index.person_by_badge, core).and_then(|i| self.people.get(i))
    }

    /// The person owning account `user` (`user`, `DOMAIN\user` or an e-mail), with `domain` as
    /// the event gave it: the qualified name is tried first, then the bare name.
    pub fn person_by_account(&self, user: &str, domain: Option<&str>) -> Option<&Person> {
        let (inline_domain, user) = split_account(user);
        if user.is_empty() {
            return None;
        }
        let domain = inline_domain
            .or(domain)
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let accounts = &self.index.person_by_account;
        let found = |key: &Folded| match accounts.get(key.as_str()) {
            Some(Account::One { person, .. }) => Some(*person),
            _ => None,
        };
        domain
            .and_then(|d| found(&Folded::of(&[d, "\\", user])))
            .or_else(|| found(&Folded::of(&[user])))
            .and_then(|i| self.people.get(i))
    }

    /// The site with id `id` (case-insensitive), with its time zone and position.
    pub fn site(&self, id: &str) -> Option<&Site> {
        lookup(&self.index.site_by_id, id).and_then(|i| self.sites.get(i))
    }

    /// The zone with id `id` (case-insensitive).
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        lookup(&self.index.zone_by_id, id).and_then(|i| self.zones.get(i))
    }

    /// The portal (door) with id `id` (case-insensitive).
    pub fn portal(&self, id: &str) -> Option<&Portal> {
        lookup(&self.index.portal_by_id, id).and_then(|i| self.portals.get(i))
    }

    /// The camera named by `token`: a camera id of `sites.yaml`, or the hostname or id of a
    /// device whose id is such a camera.
    pub fn camera(&self, token: &str) -> Option<&Camera> {
        self.camera_index(token).and_then(|i| self.cameras.get(i))
    }

    /// The portal a reader (access point token) is mounted on.
    pub fn portal_for_reader(&self, reader: &str) -> Option<&Portal> {
        lookup(&self.index.reader, reader).and_then(|r| self.portals.get(r.portal))
    }

    /// The passage direction a reader controls, when `sites.yaml` says.
    pub fn reader_direction(&self, reader: &str) -> Option<Direction> {
        lookup(&self.index.reader, reader).and_then(|r| r.direction)
    }

    /// The zones a camera watches (first = where its events are placed); empty if unknown.
    pub fn zones_watched_by(&self, camera: &str) -> Vec<&Zone> {
        self.camera(camera)
            .map(|c| c.watches.iter().filter_map(|z| self.zone(z)).collect())
            .unwrap_or_default()
    }

    /// The cameras that watch zone `zone`; empty if none or unknown.
    pub fn cameras_watching(&self, zone: &str) -> Vec<&Camera> {
        lookup(&self.index.zone_by_id, zone)
            .and_then(|z| self.index.cameras_by_zone.get(z))
            .map(|cams| cams.iter().filter_map(|&c| self.cameras.get(c)).collect())
            .unwrap_or_default()
    }

    /// The device with inventory id `id` (case-insensitive).
    pub fn device(&self, id: &str) -> Option<&Device> {
        lookup(&self.index.device_by_id, id).and_then(|i| self.devices.get(i))
    }

    /// The device a log names as its host: hostname or device id (case-insensitive), an IP
    /// address, or the first label of a fully qualified name.
    pub fn device_by_host(&self, host: &str) -> Option<&Device> {
        self.device_index(host).and_then(|i| self.devices.get(i))
    }

    /// The device whose management address is `ip`.
    pub fn device_by_ip(&self, ip: IpAddr) -> Option<&Device> {
        self.index
            .device_by_ip
            .get(&ip.to_canonical())
            .and_then(|&i| self.devices.get(i))
    }

    /// Where an address lies: zone segment (with zone and site), `networks` entry, other
    /// private range (internal) or the outside world (external).
    pub fn locate_ip(&self, ip: IpAddr) -> IpLocation<'_> {
        resolve::locate_ip(self, ip)
    }

    pub(crate) fn camera_index(&self, token: &str) -> Option<usize> {
        lookup(&self.index.camera_by_id, token).or_else(|| {
            self.device_by_host(token)
                .and_then(|d| lookup(&self.index.camera_by_id, &d.id))
        })
    }

    pub(crate) fn device_index(&self, host: &str) -> Option<usize> {
        let host = host.trim();
        if host.is_empty() {
            return None;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.index.device_by_ip.get(&ip.to_canonical()).copied();
        }
        let by_name = |name: &str| {
            lookup(&self.index.device_by_hostname, name)
                .or_else(|| lookup(&self.index.device_by_id, name))
        };
        by_name(host).or_else(|| {
            host.split_once('.')
                .and_then(|(short, _)| (!short.is_empty()).then(|| by_name(short)))
                .flatten()
        })
    }
}

/// Looks `key` up in a map of folded keys without allocating for short ASCII keys.
pub(crate) fn lookup<V: Copy>(map: &std::collections::HashMap<String, V>, key: &str) -> Option<V> {
    map.get(Folded::of(&[key.trim()]).as_str()).copied()
}
