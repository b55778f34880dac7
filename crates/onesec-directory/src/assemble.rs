//! Putting the three files together: cross-file checks and the lookup indexes.

use crate::error::DirectoryError;
use crate::key::{badge_key, fold, split_account};
use crate::model::{Device, Person};
use crate::sites::Sites;
use crate::{Directory, devices, people, sites};
use ipnet::IpNet;
use onesec_event::Direction;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One directory file: where it came from and its text.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// The files of a directory; any may be absent.
pub(crate) struct Sources {
    pub(crate) people: Option<Source>,
    pub(crate) sites: Option<Source>,
    pub(crate) devices: Option<Source>,
}

/// Who an account name points to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Account {
    /// One person; `explicit` when the name is listed as such (not derived from `DOMAIN\user`).
    One { person: usize, explicit: bool },
    /// Several people share the bare name: only their qualified names resolve.
    Ambiguous,
}

/// The portal a reader belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReaderAt {
    pub(crate) portal: usize,
    pub(crate) direction: Option<Direction>,
}

/// What an address range belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NetTarget {
    Zone(usize),
    Network(usize),
}

/// Lookup tables, keyed by folded strings (see [`crate::key`]).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) person_by_id: HashMap<String, usize>,
    pub(crate) person_by_badge: HashMap<String, usize>,
    pub(crate) person_by_account: HashMap<String, Account>,
    pub(crate) site_by_id: HashMap<String, usize>,
    pub(crate) zone_by_id: HashMap<String, usize>,
    pub(crate) portal_by_id: HashMap<String, usize>,
    pub(crate) camera_by_id: HashMap<String, usize>,
    pub(crate) reader: HashMap<String, ReaderAt>,
    pub(crate) device_by_id: HashMap<String, usize>,
    pub(crate) device_by_hostname: HashMap<String, usize>,
    pub(crate) device_by_ip: HashMap<IpAddr, usize>,
    /// Zone index → site index.
    pub(crate) zone_site: Vec<Option<usize>>,
    /// Zone index → indexes of the cameras watching it.
    pub(crate) cameras_by_zone: Vec<Vec<usize>>,
    /// Zone segments, longest prefix first.
    pub(crate) zone_nets: Vec<(IpNet, usize)>,
    /// Zone segments and networks, longest prefix first.
    pub(crate) src_nets: Vec<(IpNet, NetTarget)>,
}

/// Reads a file as UTF-8; invalid bytes are reported with their line.
pub(crate) fn read_text(path: &Path) -> Result<String, DirectoryError> {
    let bytes = std::fs::read(path).map_err(|source| DirectoryError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e
            .as_bytes()
            .get(..valid)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) as u64
            + 1;
        DirectoryError::Syntax {
            file: path.to_path_buf(),
            line,
            reason: "not valid UTF-8 (save the file as UTF-8)".into(),
        }
    })
}

/// Parses, checks and indexes the files.
pub(crate) fn build(root: Option<PathBuf>, sources: Sources) -> Result<Directory, DirectoryError> {
    let mut files = Vec::new();
    let sites_loaded = sources.sites.is_some();
    let sites = match &sources.sites {
        Some(s) => {
            files.push(s.path.clone());
            sites::parse(&s.path, &s.text)?
        }
        None => Sites::default(),
    };
    let people = match &sources.people {
        Some(s) => {
            files.push(s.path.clone());
            people::parse(&s.path, &s.text)?
        }
        None => Vec::new(),
    };
    let devices = match &sources.devices {
        Some(s) => {
            files.push(s.path.clone());
            devices::parse(&s.path, &s.text)?
        }
        None => Vec::new(),
    };
    let Sites {
        sites,
        zones,
        portals,
        cameras,
        networks,
        warnings,
    } = sites;
    let mut dir = Directory {
        root,
        files,
        people,
        sites,
        zones,
        portals,
        cameras,
        networks,
        devices: Vec::new(),
        warnings,
        index: Index::default(),
    };
    index_places(&mut dir);
    let people_file = sources.people.as_ref().map(|s| s.path.as_path());
    index_people(
        &mut dir,
        people_file.unwrap_or(Path::new(crate::PEOPLE_FILE)),
        sites_loaded,
    )?;
    let devices_file = sources.devices.as_ref().map(|s| s.path.as_path());
    index_devices(
        &mut dir,
        devices,
        devices_file.unwrap_or(Path::new(crate::DEVICES_FILE)),
        sites_loaded,
    )?;
    for warning in &dir.warnings {
        tracing::warn!(target: "onesec_directory", "{warning}");
    }
    Ok(dir)
}

fn index_places(dir: &mut Directory) {
    let index = &mut dir.index;
    for (i, site) in dir.sites.iter().enumerate() {
        index.site_by_id.insert(fold(&site.id), i);
    }
    index.zone_site = Vec::with_capacity(dir.zones.len());
    for (i, zone) in dir.zones.iter().enumerate() {
        index.zone_by_id.insert(fold(&zone.id), i);
        index
            .zone_site
            .push(index.site_by_id.get(&fold(&zone.site)).copied());
        for net in &zone.segments {
            index.zone_nets.push((*net, i));
            index.src_nets.push((*net, NetTarget::Zone(i)));
        }
    }
    for (i, network) in dir.networks.iter().enumerate() {
        index.src_nets.push((network.cidr, NetTarget::Network(i)));
    }
    index
        .zone_nets
        .sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    index
        .src_nets
        .sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    for (i, portal) in dir.portals.iter().enumerate() {
        index.portal_by_id.insert(fold(&portal.id), i);
        for reader in &portal.readers {
            index.reader.insert(
                fold(&reader.id),
                ReaderAt {
                    portal: i,
                    direction: reader.direction,
                },
            );
        }
    }
    index.cameras_by_zone = vec![Vec::new(); dir.zones.len()];
    for (i, camera) in dir.cameras.iter().enumerate() {
        index.camera_by_id.insert(fold(&camera.id), i);
        for zone in &camera.watches {
            if let Some(list) = index
                .zone_by_id
                .get(&fold(zone))
                .and_then(|&z| index.cameras_by_zone.get_mut(z))
            {
                list.push(i);
            }
        }
    }
}

fn invalid(file: &Path, line: u64, what: String, reason: String) -> DirectoryError {
    DirectoryError::Invalid {
        file: file.to_path_buf(),
        line: Some(line),
        what,
        reason,
    }
}

fn index_people(
    dir: &mut Directory,
    file: &Path,
    sites_loaded: bool,
) -> Result<(), DirectoryError> {
    let Directory {
        people,
        index,
        warnings,
        ..
    } = dir;
    for (i, person) in people.iter().enumerate() {
        if let Some(&first) = index.person_by_id.get(&fold(&person.id)) {
            let first_line = people.get(first).map_or(0, |p| p.line);
            return Err(invalid(
                file,
                person.line,
                format!("person `{}`", person.id),
                format!("duplicate person_id: already used on line {first_line}"),
            ));
        }
        index.person_by_id.insert(fold(&person.id), i);
        for badge in &person.badges {
            let key = badge_key(badge);
            if key.is_empty() {
                continue;
            }
            match index.person_by_badge.get(&key) {
                Some(&owner) if owner != i => {
                    let other = people.get(owner);
                    return Err(invalid(
                        file,
                        person.line,
                        format!("badge `{badge}` of person `{}`", person.id),
                        format!(
                            "already belongs to person `{}` (line {}): a badge has one holder",
                            other.map_or("", |p| p.id.as_str()),
                            other.map_or(0, |p| p.line)
                        ),
                    ));
                }
                _ => {
                    index.person_by_badge.insert(key, i);
                }
            }
        }
        let mut names: Vec<(String, bool)> = Vec::new();
        for account in &person.accounts {
            match split_account(account) {
                (Some(domain), user) if !user.is_empty() => {
                    names.push((fold(&format!("{domain}\\{user}")), true));
                    names.push((fold(user), false));
                }
                (_, user) if !user.is_empty() => names.push((fold(user), true)),
                _ => {}
            }
        }
        names.extend(person.emails.iter().map(|e| (fold(e), true)));
        for (name, explicit) in names {
            add_account(index, people, warnings, file, i, name, explicit)?;
        }
        if sites_loaded
            && !person.home_site.is_empty()
            && !index.site_by_id.contains_key(&fold(&person.home_site))
        {
            warnings.push(format!(
                "{}:{}: person `{}` has home_site `{}`, which sites.yaml does not declare",
                file.display(),
                person.line,
                person.id,
                person.home_site
            ));
        }
    }
    Ok(())
}

fn add_account(
    index: &mut Index,
    people: &[Person],
    warnings: &mut Vec<String>,
    file: &Path,
    person: usize,
    name: String,
    explicit: bool,
) -> Result<(), DirectoryError> {
    let entry = index.person_by_account.get_mut(&name);
    match entry {
        None => {
            index
                .person_by_account
                .insert(name, Account::One { person, explicit });
        }
        Some(Account::One {
            person: owner,
            explicit: was_explicit,
        }) if *owner == person => *was_explicit |= explicit,
        Some(Account::One {
            person: owner,
            explicit: was_explicit,
        }) => {
            let (this, other) = (people.get(person), people.get(*owner));
            let id = |p: Option<&Person>| p.map_or(String::new(), |p| p.id.clone());
            if explicit && *was_explicit {
                return Err(invalid(
                    file,
                    this.map_or(0, |p| p.line),
                    format!("account `{name}` of person `{}`", id(this)),
                    format!(
                        "already listed for person `{}` (line {}): an account has one owner",
                        id(other),
                        other.map_or(0, |p| p.line)
                    ),
                ));
            }
            warnings.push(format!(
                "{}: account name `{name}` fits both `{}` and `{}`: it resolves only with its domain",
                file.display(),
                id(other),
                id(this)
            ));
            index.person_by_account.insert(name, Account::Ambiguous);
        }
        Some(Account::Ambiguous) => {}
    }
    Ok(())
}

fn index_devices(
    dir: &mut Directory,
    devices: Vec<Device>,
    file: &Path,
    sites_loaded: bool,
) -> Result<(), DirectoryError> {
    for mut device in devices {
        let i = dir.devices.len();
        let what = || format!("device `{}`", device.id);
        if let Some(&first) = dir.index.device_by_id.get(&fold(&device.id)) {
            let first_line = dir.devices.get(first).map_or(0, |d| d.line);
            return Err(invalid(
                file,
                device.line,
                what(),
                format!("duplicate device_id: already used on line {first_line}"),
            ));
        }
        if let Some(host) = &device.hostname
            && let Some(&first) = dir.index.device_by_hostname.get(&fold(host))
        {
            let other = dir.devices.get(first);
            return Err(invalid(
                file,
                device.line,
                what(),
                format!(
                    "hostname `{host}` is already the hostname of device `{}` (line {})",
                    other.map_or("", |d| d.id.as_str()),
                    other.map_or(0, |d| d.line)
                ),
            ));
        }
        if sites_loaded {
            place_device(dir, &mut device, file)?;
        }
        dir.index.device_by_id.insert(fold(&device.id), i);
        if let Some(host) = &device.hostname {
            dir.index.device_by_hostname.insert(fold(host), i);
        }
        if let Some(ip) = device.ip {
            let ip = ip.to_canonical();
            if let Some(&first) = dir.index.device_by_ip.get(&ip) {
                dir.warnings.push(format!(
                    "{}:{}: device `{}` has address {ip}, like device `{}`: the address resolves to the first",
                    file.display(),
                    device.line,
                    device.id,
                    dir.devices.get(first).map_or("", |d| d.id.as_str())
                ));
            } else {
                dir.index.device_by_ip.insert(ip, i);
            }
        }
        dir.devices.push(device);
    }
    Ok(())
}

/// Checks a device's site and zone against `sites.yaml` and writes them in canonical case.
fn place_device(dir: &Directory, device: &mut Device, file: &Path) -> Result<(), DirectoryError> {
    let what = format!("device `{}`", device.id);
    let zone_site = match &device.zone {
        None => None,
        Some(zone) => match dir.zone(zone) {
            Some(z) => {
                device.zone = Some(z.id.clone());
                Some(z.site.clone())
            }
            None => {
                return Err(DirectoryError::InvalidValue {
                    file: file.to_path_buf(),
                    line: device.line,
                    column: "zone".into(),
                    value: zone.clone(),
                    expected: "a zone id declared in sites.yaml, or nothing".into(),
                });
            }
        },
    };
    match (&device.site, zone_site) {
        (None, zone_site) => device.site = zone_site,
        (Some(site), zone_site) => {
            let Some(s) = dir.site(site) else {
                return Err(DirectoryError::InvalidValue {
                    file: file.to_path_buf(),
                    line: device.line,
                    column: "site".into(),
                    value: site.clone(),
                    expected: "a site id declared in sites.yaml, or nothing".into(),
                });
            };
            if let Some(zs) = zone_site
                && zs != s.id
            {
                return Err(invalid(
                    file,
                    device.line,
                    what,
                    format!(
                        "zone `{}` belongs to site `{zs}`, not to site `{}`",
                        device.zone.as_deref().unwrap_or(""),
                        s.id
                    ),
                ));
            }
            device.site = Some(s.id.clone());
        }
    }
    Ok(())
}
