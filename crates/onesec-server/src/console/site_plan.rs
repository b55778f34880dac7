//! The site view: a floor plan drawn from `sites.yaml` (buildings, zones, doors with their
//! readers, cameras) with each device's live state from the site's recent events (door forced
//! or held open, camera offline or tampered, alarm in a zone), each linking to its events.
//!
//! The plan is schematic: `sites.yaml` has no coordinates, so zones are laid out in a grid per
//! building, doors on their zone's lower edge, cameras on its upper edge.

use super::charts::escape;
use super::{Chrome, ConsoleState, page, problem};
use crate::api::with_store;
use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use onesec_auth::Principal;
use onesec_directory::{Directory, Site};
use onesec_event::{Activity, Event, Status};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The site view reads at most the last this-many journal ids for live state.
const RECENT_EVENTS: u64 = 5000;

/// Events listed under each device.
const EVENTS_PER_DEVICE: usize = 10;

/// What a door, camera or zone is doing now, from its latest telling event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LiveState {
    #[default]
    Normal,
    Forced,
    HeldOpen,
    Tamper,
    Offline,
    Alarm,
}

impl LiveState {
    /// The CSS class and the words a screen reader hears.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LiveState::Normal => "normal",
            LiveState::Forced => "forced",
            LiveState::HeldOpen => "held-open",
            LiveState::Tamper => "tamper",
            LiveState::Offline => "offline",
            LiveState::Alarm => "alarm",
        }
    }

    /// The state an event puts its device in, if it says anything about the state.
    fn after(event: &Event) -> Option<LiveState> {
        Some(match event.activity {
            Activity::PortalForced => LiveState::Forced,
            Activity::PortalHeldOpen => LiveState::HeldOpen,
            Activity::Tamper | Activity::VideoTamper => LiveState::Tamper,
            Activity::SignalLoss | Activity::HardwareFailure => LiveState::Offline,
            Activity::Connectivity if event.status == Status::Failure => LiveState::Offline,
            Activity::Intrusion | Activity::Perimeter | Activity::Panic | Activity::Duress => {
                LiveState::Alarm
            }
            Activity::PortalNormal | Activity::Cleared | Activity::Connectivity => {
                LiveState::Normal
            }
            _ => return None,
        })
    }
}

/// The live state and recent events of each door, camera and zone of a site.
#[derive(Default)]
pub(crate) struct SiteState {
    pub states: BTreeMap<String, LiveState>,
    pub events: BTreeMap<String, Vec<Event>>,
}

impl SiteState {
    /// Folds events (in event-time order) into the latest state of what each one names.
    pub(crate) fn from_events(events: &[Event]) -> SiteState {
        let mut state = SiteState::default();
        for event in events {
            let portal = event
                .physical
                .portal
                .as_ref()
                .or(event.resolved.portal.as_ref());
            let camera = event.physical.camera.as_ref();
            let zone = event.resolved.zone.as_ref();
            let subject = portal.or(camera).or(zone);
            let Some(subject) = subject else { continue };
            if let Some(now) = LiveState::after(event) {
                state.states.insert(subject.clone(), now);
            }
            let list = state.events.entry(subject.clone()).or_default();
            list.push(event.clone());
            if list.len() > EVENTS_PER_DEVICE {
                list.remove(0);
            }
        }
        state
    }

    fn of(&self, id: &str) -> LiveState {
        self.states.get(id).copied().unwrap_or_default()
    }
}

const ZONE_W: f64 = 220.0;
const ZONE_H: f64 = 130.0;
const GAP: f64 = 30.0;
const PER_ROW: usize = 3;

/// The plan of `site` as SVG: one box per building holding its zones, doors on the lower edge
/// of the zone they lead into, cameras on the upper edge of the first zone they watch.
pub(crate) fn plan(directory: &Directory, site: &Site, state: &SiteState) -> String {
    let mut buildings: Vec<(String, Vec<&onesec_directory::Zone>)> = Vec::new();
    for zone_id in &site.zones {
        let Some(zone) = directory.zone(zone_id) else {
            continue;
        };
        let name = zone
            .building
            .as_ref()
            .and_then(|b| {
                site.buildings
                    .iter()
                    .find(|x| &x.id == b)
                    .map(|x| x.name.clone())
            })
            .or_else(|| zone.building.clone())
            .unwrap_or_else(|| site.name.clone());
        match buildings.iter_mut().find(|(n, _)| *n == name) {
            Some((_, zones)) => zones.push(zone),
            None => buildings.push((name, vec![zone])),
        }
    }
    let mut body = String::new();
    let mut y = 10.0;
    let mut width: f64 = 0.0;
    for (name, zones) in &buildings {
        let rows = zones.len().div_ceil(PER_ROW);
        let cols = zones.len().min(PER_ROW);
        let w = cols as f64 * (ZONE_W + GAP) + GAP;
        let h = rows as f64 * (ZONE_H + GAP + 20.0) + 40.0;
        width = width.max(w + 20.0);
        let _ = write!(
            body,
            "<g class=\"building\"><rect x=\"10\" y=\"{y}\" width=\"{w}\" height=\"{h}\" \
             class=\"building-outline\"/><text x=\"20\" y=\"{ty}\" class=\"building-name\">{n}</text>",
            ty = y + 22.0,
            n = escape(name)
        );
        for (i, zone) in zones.iter().enumerate() {
            let zx = 10.0 + GAP + (i % PER_ROW) as f64 * (ZONE_W + GAP);
            let zy = y + 40.0 + (i / PER_ROW) as f64 * (ZONE_H + GAP + 20.0);
            zone_svg(&mut body, directory, site, zone, state, zx, zy);
        }
        body.push_str("</g>");
        y += h + 20.0;
    }
    format!(
        "<svg class=\"plan\" role=\"group\" viewBox=\"0 0 {width} {y}\" \
         aria-label=\"Floor plan of {n}\"><title>Floor plan of {n}</title>{body}</svg>",
        n = escape(&site.name)
    )
}

fn zone_svg(
    out: &mut String,
    directory: &Directory,
    site: &Site,
    zone: &onesec_directory::Zone,
    state: &SiteState,
    x: f64,
    y: f64,
) {
    let zone_state = state.of(&zone.id);
    let inside = zone
        .parent
        .as_ref()
        .map(|p| format!(" (inside {})", escape(p)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<a href=\"#dev-{id}\" aria-label=\"Zone {n}: {s}\"><rect x=\"{x}\" y=\"{y}\" \
         width=\"{ZONE_W}\" height=\"{ZONE_H}\" class=\"zone state-{s}\"/>\
         <text x=\"{tx}\" y=\"{ty}\" class=\"zone-name\">{n}{inside}</text>\
         <text x=\"{tx}\" y=\"{ty2}\" class=\"zone-id\">{id}</text></a>",
        id = escape(&zone.id),
        n = escape(&zone.name),
        s = zone_state.as_str(),
        tx = x + 8.0,
        ty = y + 50.0,
        ty2 = y + 68.0,
    );
    let doors: Vec<_> = directory
        .portals()
        .iter()
        .filter(|p| p.site == site.id && p.zone == zone.id)
        .collect();
    for (i, door) in doors.iter().enumerate() {
        let dx = x + 20.0 + i as f64 * 70.0;
        let dy = y + ZONE_H - 6.0;
        let s = state.of(&door.id).as_str();
        let readers = door
            .readers
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            out,
            "<a href=\"#dev-{id}\" class=\"door state-{s}\" data-device=\"{id}\" \
             aria-label=\"Door {n}: {s}\"><rect x=\"{dx}\" y=\"{dy}\" width=\"44\" height=\"12\"/>\
             <title>{n} ({id}) — {s}; readers {r}</title>\
             <text x=\"{dx}\" y=\"{ty}\" class=\"device-label\">{id}</text></a>",
            id = escape(&door.id),
            n = escape(&door.name),
            r = escape(&readers),
            ty = dy + 26.0,
        );
        for (j, _) in door.readers.iter().enumerate() {
            let _ = write!(
                out,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" class=\"reader\"/>",
                cx = dx + 6.0 + j as f64 * 10.0,
                cy = dy - 6.0
            );
        }
    }
    let cameras: Vec<_> = directory
        .cameras()
        .iter()
        .filter(|c| c.site == site.id && c.watches.first() == Some(&zone.id))
        .collect();
    for (i, camera) in cameras.iter().enumerate() {
        let cx = x + ZONE_W - 20.0 - i as f64 * 40.0;
        let cy = y + 18.0;
        let s = state.of(&camera.id).as_str();
        let _ = write!(
            out,
            "<a href=\"#dev-{id}\" class=\"camera state-{s}\" data-device=\"{id}\" \
             aria-label=\"Camera {n}: {s}\"><circle cx=\"{cx}\" cy=\"{cy}\" r=\"10\"/>\
             <title>{n} ({id}) — {s}</title></a>",
            id = escape(&camera.id),
            n = escape(&camera.name),
        );
    }
}

/// One device (door, camera, zone) under the plan, with its recent events.
struct DeviceEvents {
    id: String,
    name: String,
    kind: &'static str,
    state: &'static str,
    events: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/site.html")]
struct SitePage {
    chrome: Chrome,
    site_name: String,
    site_id: String,
    plan: String,
    devices: Vec<DeviceEvents>,
    alarms: usize,
}

#[derive(Template)]
#[template(path = "console/sites.html")]
struct SitesPage {
    chrome: Chrome,
    sites: Vec<(String, String, usize, usize, usize)>,
}

/// The directory's sites a caller may see.
pub(crate) fn visible_sites<'a>(
    directory: &'a Directory,
    principal: &'a Principal,
) -> impl Iterator<Item = &'a Site> {
    directory
        .sites()
        .iter()
        .filter(|s| principal.sees_site(Some(&s.id)))
}

/// `GET /console/sites`: the sites the caller sees.
pub(crate) async fn sites(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let directory = console.pipeline.directory();
    let sites = visible_sites(&directory, &principal)
        .map(|s| {
            (
                s.id.clone(),
                s.name.clone(),
                s.zones.len(),
                s.portals.len(),
                s.cameras.len(),
            )
        })
        .collect();
    page(&SitesPage {
        chrome: Chrome::new(&principal, "/console/sites"),
        sites,
    })
}

fn event_line(event: &Event) -> (String, String, String) {
    (
        event.time_rfc3339(),
        format!("{} {}", event.class.as_str(), event.activity.as_str()),
        event.message.clone(),
    )
}

/// `GET /console/sites/{site}`: the plan with live state and each device's recent events.
pub(crate) async fn site(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
    Path(site_id): Path<String>,
) -> Response {
    let directory = console.pipeline.directory();
    let Some(site) = directory
        .site(&site_id)
        .filter(|s| principal.sees_site(Some(&s.id)))
    else {
        return problem(
            &principal,
            StatusCode::NOT_FOUND,
            format!("no site {site_id}"),
        );
    };
    let last = console.pipeline.status().journal_seq;
    let filter = onesec_store::EventFilter {
        site: Some(site.id.clone()),
        after_id: Some(last.saturating_sub(RECENT_EVENTS)),
        limit: Some(RECENT_EVENTS as usize),
        ..Default::default()
    };
    let events = match with_store(&console.pipeline, move |s| s.events(&filter)).await {
        Ok(e) => e,
        Err(error) => return problem(&principal, error.0, error.1),
    };
    let state = SiteState::from_events(&events);
    let mut devices = Vec::new();
    let mut add = |id: &str, name: &str, kind: &'static str| {
        devices.push(DeviceEvents {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            state: state.of(id).as_str(),
            events: state
                .events
                .get(id)
                .map(|e| e.iter().rev().map(event_line).collect())
                .unwrap_or_default(),
        });
    };
    for id in &site.portals {
        if let Some(p) = directory.portal(id) {
            add(&p.id, &p.name, "door");
        }
    }
    for id in &site.cameras {
        if let Some(c) = directory.camera(id) {
            add(&c.id, &c.name, "camera");
        }
    }
    for id in &site.zones {
        if let Some(z) = directory.zone(id) {
            add(&z.id, &z.name, "zone");
        }
    }
    let alarms = devices.iter().filter(|d| d.state != "normal").count();
    page(&SitePage {
        chrome: Chrome::new(&principal, "/console/sites"),
        plan: plan(&directory, site, &state),
        site_name: site.name.clone(),
        site_id: site.id.clone(),
        devices,
        alarms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::EventClass;

    fn northwind() -> Directory {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind");
        Directory::load_dir(root).expect("the example directory loads")
    }

    fn door_event(time_ms: i64, portal: &str, activity: Activity) -> Event {
        let mut e = Event::new(time_ms, EventClass::PhysicalAccess, activity);
        e.physical.portal = Some(portal.into());
        e
    }

    #[test]
    fn the_latest_telling_event_sets_a_doors_state() {
        let events = [
            door_event(1, "EDI-D-SRV", Activity::PortalForced),
            door_event(2, "EDI-D-SRV", Activity::AccessGranted),
            door_event(3, "EDI-D-OFF", Activity::PortalHeldOpen),
            door_event(4, "EDI-D-OFF", Activity::PortalNormal),
        ];
        let state = SiteState::from_events(&events);
        assert_eq!(state.of("EDI-D-SRV"), LiveState::Forced);
        assert_eq!(state.of("EDI-D-OFF"), LiveState::Normal);
        assert_eq!(state.of("EDI-D-MAIN"), LiveState::Normal);
        assert_eq!(state.events["EDI-D-SRV"].len(), 2);
    }

    #[test]
    fn the_plan_places_every_zone_door_and_camera_of_the_site() {
        let directory = northwind();
        let site = directory.site("MTL").expect("MTL is in the example");
        let events = [door_event(1, "MTL-D-LAB", Activity::PortalForced)];
        let svg = plan(&directory, site, &SiteState::from_events(&events));
        for id in site.zones.iter().chain(&site.portals).chain(&site.cameras) {
            assert!(svg.contains(&format!("href=\"#dev-{id}\"")), "{id} missing");
        }
        assert!(svg.contains("aria-label=\"Door Lab door: forced\""));
        assert!(svg.contains("Main building") && svg.contains("Lab annex"));
        assert!(svg.contains("(inside MTL-LAB)"));
    }
}
