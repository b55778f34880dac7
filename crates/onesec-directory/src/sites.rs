//! `sites.yaml`: sites, buildings, zones, portals with their readers, cameras and networks.
//!
//! Unknown keys are ignored (forward compatible); scalars where text is expected may be numbers.
//! Everything that would make resolution wrong is rejected: duplicate ids, references to unknown
//! zones or buildings, bad CIDRs, bad coordinates, unknown time zones.

use crate::error::DirectoryError;
use crate::key::fold;
use crate::model::{Building, Camera, Geo, Network, Portal, Reader, Site, Zone};
use ipnet::IpNet;
use onesec_event::Direction;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// The validated content of `sites.yaml`.
#[derive(Debug, Default)]
pub(crate) struct Sites {
    pub(crate) sites: Vec<Site>,
    pub(crate) zones: Vec<Zone>,
    pub(crate) portals: Vec<Portal>,
    pub(crate) cameras: Vec<Camera>,
    pub(crate) networks: Vec<Network>,
    pub(crate) warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize, Default)]
struct SitesFile {
    #[serde(default, deserialize_with = "list")]
    sites: Vec<SiteYaml>,
    #[serde(default, deserialize_with = "list")]
    networks: Vec<NetworkYaml>,
}

#[derive(Deserialize)]
struct SiteYaml {
    id: Text,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default)]
    timezone: Option<Text>,
    #[serde(default)]
    geo: Option<GeoYaml>,
    #[serde(default, deserialize_with = "list")]
    buildings: Vec<BuildingYaml>,
    #[serde(default, deserialize_with = "list")]
    zones: Vec<ZoneYaml>,
    #[serde(default, deserialize_with = "list")]
    portals: Vec<PortalYaml>,
    #[serde(default, deserialize_with = "list")]
    cameras: Vec<CameraYaml>,
}

#[derive(Deserialize)]
struct GeoYaml {
    #[serde(alias = "latitude")]
    lat: f64,
    #[serde(alias = "lng", alias = "longitude")]
    lon: f64,
}

#[derive(Deserialize)]
struct BuildingYaml {
    id: Text,
    #[serde(default)]
    name: Option<Text>,
}

#[derive(Deserialize)]
struct ZoneYaml {
    id: Text,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default, deserialize_with = "list")]
    tags: Vec<Text>,
    #[serde(default, deserialize_with = "list")]
    segments: Vec<Cidr>,
    #[serde(default)]
    building: Option<Text>,
    #[serde(default)]
    parent: Option<Text>,
}

#[derive(Deserialize)]
struct PortalYaml {
    id: Text,
    #[serde(default)]
    name: Option<Text>,
    zone: Text,
    #[serde(default)]
    from: Option<Text>,
    #[serde(default, deserialize_with = "list")]
    readers: Vec<ReaderYaml>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReaderYaml {
    Id(Text),
    Full {
        id: Text,
        #[serde(default)]
        direction: Option<Text>,
    },
}

#[derive(Deserialize)]
struct CameraYaml {
    id: Text,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default, deserialize_with = "list")]
    watches: Vec<Text>,
}

#[derive(Deserialize)]
struct NetworkYaml {
    cidr: Cidr,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default)]
    kind: Option<Text>,
    #[serde(default)]
    site: Option<Text>,
}

/// A scalar read as text (YAML may write an id as a number).
struct Text(String);

impl Text {
    fn into_opt(text: Option<Text>) -> Option<String> {
        text.map(|t| t.0).filter(|t| !t.is_empty())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.trim().to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A network range; a bare address is a single-host range.
struct Cidr(IpNet);

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(deserializer)?;
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Cidr(net));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Cidr(IpNet::from(ip)));
        }
        Err(de::Error::custom(format_args!(
            "invalid CIDR `{text}`: expected an address and a prefix length such as \
             10.10.20.0/24 or fd00:10::/64"
        )))
    }
}

/// A list that may also be written as `~` / left empty.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation.

/// Parses and validates `sites.yaml`.
pub(crate) fn parse(file: &Path, text: &str) -> Result<Sites, DirectoryError> {
    let raw: SitesFile = if is_blank_yaml(text) {
        SitesFile::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e))?
    };
    Check {
        file,
        locate: Locator { text },
        out: Sites::default(),
        zone_index: HashMap::new(),
        ids: HashSet::new(),
        readers: HashMap::new(),
        segments: HashMap::new(),
    }
    .run(raw)
}

fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    })
}

fn yaml_error(file: &Path, error: &serde_yaml::Error) -> DirectoryError {
    let mut reason = error.to_string();
    if let Some(at) = reason.rfind(" at line ") {
        reason.truncate(at);
    }
    DirectoryError::Syntax {
        file: file.to_path_buf(),
        line: error.location().map_or(1, |l| l.line() as u64),
        reason,
    }
}

struct Check<'a> {
    file: &'a Path,
    locate: Locator<'a>,
    out: Sites,
    /// Folded zone id → index into `out.zones`.
    zone_index: HashMap<String, usize>,
    /// (kind, folded id) pairs seen, for duplicate detection per kind.
    ids: HashSet<(&'static str, String)>,
    /// Folded reader id → portal id.
    readers: HashMap<String, String>,
    /// Range → owner description.
    segments: HashMap<IpNet, String>,
}

impl Check<'_> {
    fn run(mut self, raw: SitesFile) -> Result<Sites, DirectoryError> {
        let mut portals = Vec::new();
        let mut cameras = Vec::new();
        for site in raw.sites {
            let site_id = self.site(&site)?;
            let buildings: Vec<String> = site.buildings.iter().map(|b| fold(&b.id.0)).collect();
            for zone in site.zones {
                self.zone(&site_id, &buildings, zone)?;
            }
            portals.extend(site.portals.into_iter().map(|p| (site_id.clone(), p)));
            cameras.extend(site.cameras.into_iter().map(|c| (site_id.clone(), c)));
        }
        // Zones may refer to zones declared later (parent), so references are checked after
        // every zone is known.
        for i in 0..self.out.zones.len() {
            self.zone_parent(i)?;
        }
        for (site_id, portal) in portals {
            self.portal(&site_id, portal)?;
        }
        for (site_id, camera) in cameras {
            self.camera(&site_id, camera)?;
        }
        for network in raw.networks {
            self.network(network)?;
        }
        Ok(self.out)
    }

    fn invalid(&self, line: Option<u64>, what: String, reason: String) -> DirectoryError {
        DirectoryError::Invalid {
            file: self.file.to_path_buf(),
            line,
            what,
            reason,
        }
    }

    /// Records an id of `kind`; a second one with the same folded id is an error.
    fn unique(&mut self, kind: &'static str, id: &str) -> Result<(), DirectoryError> {
        if id.is_empty() {
            let line = self.locate.empty_id_line();
            return Err(self.invalid(line, format!("a {kind}"), "has an empty `id`".into()));
        }
        if !self.ids.insert((kind, fold(id))) {
            let line = self.locate.id_line(id, 1);
            return Err(self.invalid(
                line,
                format!("{kind} `{id}`"),
                format!("duplicate id: another {kind} already has this id"),
            ));
        }
        Ok(())
    }

    fn site(&mut self, site: &SiteYaml) -> Result<String, DirectoryError> {
        let id = site.id.0.clone();
        self.unique("site", &id)?;
        let timezone = site
            .timezone
            .as_ref()
            .map(|t| t.0.clone())
            .filter(|t| !t.is_empty());
        let tz = match &timezone {
            Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
                self.invalid(
                    self.locate.after(&id, name),
                    format!("site `{id}`"),
                    format!(
                        "unknown time zone `{name}`: expected an IANA name such as Europe/Paris"
                    ),
                )
            })?,
            None => {
                self.out
                    .warnings
                    .push(format!("site `{id}` has no timezone: UTC is assumed"));
                chrono_tz::UTC
            }
        };
        let geo = match &site.geo {
            Some(g) => {
                let valid = (-90.0..=90.0).contains(&g.lat) && (-180.0..=180.0).contains(&g.lon);
                if !valid {
                    return Err(self.invalid(
                        self.locate.after(&id, "geo"),
                        format!("site `{id}`"),
                        format!(
                            "geo lat {} / lon {} out of range (lat -90..90, lon -180..180)",
                            g.lat, g.lon
                        ),
                    ));
                }
                Some(Geo {
                    lat: g.lat,
                    lon: g.lon,
                })
            }
            None => None,
        };
        let mut buildings = Vec::new();
        let mut seen = HashSet::new();
        for b in &site.buildings {
            if !seen.insert(fold(&b.id.0)) {
                return Err(self.invalid(
                    self.locate.id_line(&b.id.0, 1),
                    format!("building `{}` of site `{id}`", b.id.0),
                    "duplicate id: the site already has a building with this id".into(),
                ));
            }
            buildings.push(Building {
                id: b.id.0.clone(),
                name: b
                    .name
                    .as_ref()
                    .map(|n| n.0.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| b.id.0.clone()),
            });
        }
        self.out.sites.push(Site {
            name: site
                .name
                .as_ref()
                .map(|n| n.0.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| id.clone()),
            id: id.clone(),
            timezone: timezone.unwrap_or_else(|| "UTC".to_string()),
            tz,
            geo,
            buildings,
            zones: Vec::new(),
            portals: Vec::new(),
            cameras: Vec::new(),
        });
        Ok(id)
    }

    fn zone(
        &mut self,
        site_id: &str,
        buildings: &[String],
        zone: ZoneYaml,
    ) -> Result<(), DirectoryError> {
        let id = zone.id.0;
        self.unique("zone", &id)?;
        let building = Text::into_opt(zone.building);
        if let Some(b) = &building
            && !buildings.contains(&fold(b))
        {
            return Err(self.invalid(
                self.locate.after(&id, b),
                format!("zone `{id}`"),
                format!("unknown building `{b}`: site `{site_id}` declares no such building"),
            ));
        }
        let mut segments = Vec::new();
        for net in zone.segments {
            let net = self.segment(net.0, format!("zone `{id}`"), &id)?;
            segments.push(net);
        }
        self.zone_index.insert(fold(&id), self.out.zones.len());
        if let Some(site) = self.out.sites.last_mut() {
            site.zones.push(id.clone());
        }
        self.out.zones.push(Zone {
            name: Text::into_opt(zone.name).unwrap_or_else(|| id.clone()),
            id,
            site: site_id.to_string(),
            building,
            parent: Text::into_opt(zone.parent),
            tags: zone
                .tags
                .into_iter()
                .map(|t| t.0)
                .filter(|t| !t.is_empty())
                .collect(),
            segments,
        });
        Ok(())
    }

    /// Normalises a range and refuses one that another zone or network already has.
    fn segment(
        &mut self,
        net: IpNet,
        owner: String,
        anchor: &str,
    ) -> Result<IpNet, DirectoryError> {
        let trunc = net.trunc();
        if trunc != net {
            self.out.warnings.push(format!(
                "{owner}: range {net} has host bits set; using {trunc}"
            ));
        }
        if let Some(other) = self.segments.get(&trunc) {
            return Err(self.invalid(
                self.locate.after(anchor, &net.to_string()),
                owner,
                format!("range {trunc} is already used by {other}"),
            ));
        }
        self.segments.insert(trunc, owner);
        Ok(trunc)
    }

    /// Looks up a zone reference; `Err` names the referrer and why.
    fn zone_ref(
        &self,
        referrer: &str,
        anchor: &str,
        zone: &str,
        site_id: &str,
        role: &str,
    ) -> Result<String, DirectoryError> {
        match self
            .zone_index
            .get(&fold(zone))
            .and_then(|&i| self.out.zones.get(i))
        {
            None => Err(self.invalid(
                self.locate.after(anchor, zone),
                referrer.to_string(),
                format!("{role} `{zone}` is not a zone declared in this file"),
            )),
            Some(z) if z.site != site_id => Err(self.invalid(
                self.locate.after(anchor, zone),
                referrer.to_string(),
                format!(
                    "{role} `{zone}` belongs to site `{}`, not to site `{site_id}`",
                    z.site
                ),
            )),
            Some(z) => Ok(z.id.clone()),
        }
    }

    fn zone_parent(&mut self, i: usize) -> Result<(), DirectoryError> {
        let Some(zone) = self.out.zones.get(i) else {
            return Ok(());
        };
        let Some(parent) = zone.parent.clone() else {
            return Ok(());
        };
        let (id, site) = (zone.id.clone(), zone.site.clone());
        let canonical = self.zone_ref(&format!("zone `{id}`"), &id, &parent, &site, "parent")?;
        if fold(&canonical) == fold(&id) {
            return Err(self.invalid(
                self.locate.id_line(&id, 0),
                format!("zone `{id}`"),
                "a zone cannot be its own parent".into(),
            ));
        }
        if let Some(zone) = self.out.zones.get_mut(i) {
            zone.parent = Some(canonical);
        }
        Ok(())
    }

    fn portal(&mut self, site_id: &str, portal: PortalYaml) -> Result<(), DirectoryError> {
        let id = portal.id.0;
        self.unique("portal", &id)?;
        let what = format!("portal `{id}`");
        let zone = self.zone_ref(&what, &id, &portal.zone.0, site_id, "zone")?;
        let from = match Text::into_opt(portal.from) {
            None => None,
            Some(f) if f.eq_ignore_ascii_case("outside") => None,
            Some(f) => Some(self.zone_ref(&what, &id, &f, site_id, "from")?),
        };
        let mut readers = Vec::new();
        for reader in portal.readers {
            let (rid, direction) = match reader {
                ReaderYaml::Id(t) => (t.0, None),
                ReaderYaml::Full { id, direction } => (id.0, Text::into_opt(direction)),
            };
            if rid.is_empty() {
                return Err(self.invalid(
                    self.locate.id_line(&id, 0),
                    what,
                    "a reader has an empty id".into(),
                ));
            }
            let direction = match direction.as_deref() {
                None => None,
                Some(d) => Some(parse_direction(d).ok_or_else(|| {
                    self.invalid(
                        self.locate.after(&rid, d),
                        format!("reader `{rid}` of portal `{id}`"),
                        format!("direction `{d}` is not one of in, out"),
                    )
                })?),
            };
            if let Some(other) = self.readers.get(&fold(&rid)) {
                return Err(self.invalid(
                    self.locate.after(&id, &rid),
                    format!("reader `{rid}`"),
                    format!("listed on portal `{id}` but already on portal `{other}`"),
                ));
            }
            self.readers.insert(fold(&rid), id.clone());
            readers.push(Reader { id: rid, direction });
        }
        if let Some(site) = self.out.sites.iter_mut().find(|s| s.id == site_id) {
            site.portals.push(id.clone());
        }
        self.out.portals.push(Portal {
            name: Text::into_opt(portal.name).unwrap_or_else(|| id.clone()),
            id,
            site: site_id.to_string(),
            zone,
            from,
            readers,
        });
        Ok(())
    }

    fn camera(&mut self, site_id: &str, camera: CameraYaml) -> Result<(), DirectoryError> {
        let id = camera.id.0;
        self.unique("camera", &id)?;
        let what = format!("camera `{id}`");
        let mut watches = Vec::new();
        for zone in camera.watches {
            watches.push(self.zone_ref(&what, &id, &zone.0, site_id, "watched zone")?);
        }
        if watches.is_empty() {
            self.out.warnings.push(format!(
                "{what} watches no zone: its events are placed by its device row only"
            ));
        }
        if let Some(site) = self.out.sites.iter_mut().find(|s| s.id == site_id) {
            site.cameras.push(id.clone());
        }
        self.out.cameras.push(Camera {
            name: Text::into_opt(camera.name).unwrap_or_else(|| id.clone()),
            id,
            site: site_id.to_string(),
            watches,
        });
        Ok(())
    }

    fn network(&mut self, network: NetworkYaml) -> Result<(), DirectoryError> {
        let name = Text::into_opt(network.name).unwrap_or_else(|| network.cidr.0.to_string());
        let what = format!("network `{name}`");
        let kind = Text::into_opt(network.kind)
            .map(|k| k.to_lowercase())
            .unwrap_or_else(|| "internal".to_string());
        let site = match Text::into_opt(network.site) {
            None => None,
            Some(s) => match self.out.sites.iter().find(|x| fold(&x.id) == fold(&s)) {
                Some(found) => Some(found.id.clone()),
                None => {
                    return Err(self.invalid(
                        self.locate.after("networks", &s),
                        what,
                        format!("site `{s}` is not a site declared in this file"),
                    ));
                }
            },
        };
        let cidr = self.segment(network.cidr.0, what, "networks")?;
        self.out.networks.push(Network {
            cidr,
            name,
            kind,
            site,
        });
        Ok(())
    }
}

/// Parses a reader direction: `in`/`entry` or `out`/`exit`.
fn parse_direction(text: &str) -> Option<Direction> {
    match text.trim().to_ascii_lowercase().as_str() {
        "in" | "entry" | "enter" => Some(Direction::In),
        "out" | "exit" => Some(Direction::Out),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Best-effort line numbers for entries found wrong after parsing (the YAML parser's values carry
// no positions): tokens are searched in the text.

struct Locator<'a> {
    text: &'a str,
}

impl Locator<'_> {
    /// Line of the `nth` (0-based) `id: <value>` in the file.
    fn id_line(&self, value: &str, nth: usize) -> Option<u64> {
        self.tokens(value, 0)
            .filter(|&at| {
                let before = self.text.get(..at).unwrap_or("");
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let prefix = before.get(line_start..).unwrap_or("");
                prefix.trim_end_matches([' ', '"', '\'']).ends_with("id:")
            })
            .nth(nth)
            .map(|at| self.line_at(at))
    }

    /// Line of the first `id:` with an empty value.
    fn empty_id_line(&self) -> Option<u64> {
        self.text
            .lines()
            .position(|l| {
                let l = l
                    .trim()
                    .trim_start_matches("- ")
                    .trim_start_matches('{')
                    .trim();
                l == "id:" || l.starts_with("id: ,") || l.starts_with("id: }") || l == "id: \"\""
            })
            .map(|i| i as u64 + 1)
    }

    /// Line of the first `value` token after the first `anchor` token (or anywhere if the
    /// anchor is not found).
    fn after(&self, anchor: &str, value: &str) -> Option<u64> {
        let start = self.tokens(anchor, 0).next().unwrap_or(0);
        self.tokens(value, start)
            .next()
            .or_else(|| self.tokens(value, 0).next())
            .map(|at| self.line_at(at))
    }

    /// Byte offsets (from `from`) where `value` occurs as a whole token.
    fn tokens<'s>(&'s self, value: &'s str, from: usize) -> impl Iterator<Item = usize> + 's {
        let is_word = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':');
        let text = self.text;
        let tail = text.get(from..).unwrap_or("");
        tail.match_indices(value)
            .map(move |(i, _)| i + from)
            .filter(move |&at| {
                !value.is_empty()
                    && !text
                        .get(..at)
                        .and_then(|b| b.chars().next_back())
                        .is_some_and(is_word)
                    && !text
                        .get(at + value.len()..)
                        .and_then(|a| a.chars().next())
                        .is_some_and(|c| is_word(c) && c != ':')
            })
    }

    fn line_at(&self, offset: usize) -> u64 {
        let before = self.text.get(..offset).unwrap_or("");
        before.bytes().filter(|&b| b == b'\n').count() as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_finds_second_id_and_references() {
        let text = "sites:\n  - id: A\n    zones:\n      - { id: Z1 }\n      - { id: Z1 }\n    portals:\n      - { id: P, zone: Z9 }\n";
        let l = Locator { text };
        assert_eq!(l.id_line("Z1", 0), Some(4));
        assert_eq!(l.id_line("Z1", 1), Some(5));
        assert_eq!(l.after("P", "Z9"), Some(7));
    }

    #[test]
    fn directions_parse() {
        assert_eq!(parse_direction("IN"), Some(Direction::In));
        assert_eq!(parse_direction("exit"), Some(Direction::Out));
        assert_eq!(parse_direction("sideways"), None);
    }
}
