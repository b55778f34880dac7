//! Connection monitoring at ingest: every flow event (class `network_activity`) whose source is
//! a device of the directory is checked against the `[[connections]]` allow-lists of the
//! `[hygiene] policy` (`docs/hygiene.md`) and marked in its fields:
//! `hygiene.connection = allowed | forbidden` and `hygiene.device = <device id>`. A physical
//! device (camera, reader, controller...) also has two **baselines**: the peers (destination and
//! port) it used, and the ports it served (flows to it that were not refused). Once a baseline
//! has been learnt for [`LEARN_MS`] of event time, a flow to a peer the device never used is
//! marked `hygiene.new_peer = true`, and a flow reaching a port it never served is marked
//! `hygiene.new_listener = true` with `hygiene.target_device = <device id>`. The marks are
//! journaled with the event, so detection (the shipped rules `onesec_device_forbidden_connection`,
//! `onesec_device_new_peer`, `onesec_device_new_listener`), risk and incidents see them, and a
//! replay of the journal gives the same answers after the policy changed — as resolution does.
//! The baselines are saved to a file (`<data>/hygiene/baselines.json`, at most every
//! [`SAVE_EVERY`] and when the watch is dropped) and read back at start, so a restart does not
//! open a new learning window.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use onesec_directory::Directory;
use onesec_event::{Event, EventClass, Status};
use onesec_hygiene::{Flow, FlowMonitor, FlowVerdict, Inventory, Policy, policy::Proto};

/// Event time a device's peers are learnt before a new one is reported.
pub const LEARN_MS: i64 = 24 * 3_600_000;
/// Peers (or served ports) kept per device; a device that talks to more is not baselined (a
/// server, not a camera), and nothing is reported for it.
const MAX_PEERS: usize = 4096;
/// How often, at most, changed baselines are written to their file.
pub const SAVE_EVERY: Duration = Duration::from_secs(10);

/// The monitor built for one directory version, and which of its devices are physical.
#[derive(Debug)]
struct Built {
    directory: Arc<Directory>,
    monitor: Arc<FlowMonitor>,
    physical: Arc<Vec<bool>>,
}

/// What a device was seen doing, learnt from its first sighting on.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize + Eq + Hash",
    deserialize = "T: Deserialize<'de> + Eq + Hash"
))]
struct Learnt<T> {
    first_ms: i64,
    seen: HashSet<T>,
    /// More than [`MAX_PEERS`] things seen: not baselined any more.
    overflowed: bool,
}

impl<T> Default for Learnt<T> {
    fn default() -> Self {
        Learnt {
            first_ms: i64::MAX,
            seen: HashSet::new(),
            overflowed: false,
        }
    }
}

impl<T: Eq + Hash> Learnt<T> {
    /// Notes `item` seen at `time_ms`; true when it is new and learning is over. `changed` is
    /// set when the baseline changed.
    fn note(&mut self, item: T, time_ms: i64, changed: &mut bool) -> bool {
        if time_ms < self.first_ms {
            self.first_ms = time_ms;
            *changed = true;
        }
        if self.overflowed || self.seen.contains(&item) {
            return false;
        }
        *changed = true;
        if self.seen.len() >= MAX_PEERS {
            self.overflowed = true;
            self.seen = HashSet::new();
            return false;
        }
        self.seen.insert(item);
        time_ms >= self.first_ms.saturating_add(LEARN_MS)
    }
}

/// A physical device's baselines.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Baseline {
    /// Destinations and ports it connected to.
    peers: Learnt<(IpAddr, u16)>,
    /// Ports it served (flows to it that were not refused).
    #[serde(default)]
    listens: Learnt<u16>,
}

/// The baselines and where they are saved.
#[derive(Debug, Default)]
struct Baselines {
    by_device: HashMap<String, Baseline>,
    /// Changed since the last save.
    dirty: bool,
    saved: Option<Instant>,
}

impl Baselines {
    /// The device's baselines, created on its first flow (the id is copied only then).
    fn of(&mut self, id: &str) -> Option<&mut Baseline> {
        if !self.by_device.contains_key(id) {
            self.by_device.insert(id.to_string(), Baseline::default());
        }
        self.by_device.get_mut(id)
    }

    /// The text to save when the baselines changed and the last save is old enough (`force`:
    /// whenever they changed).
    fn due_for_save(&mut self, force: bool) -> Option<String> {
        let due = self.dirty && (force || self.saved.is_none_or(|at| at.elapsed() >= SAVE_EVERY));
        if !due {
            return None;
        }
        match serde_json::to_string(&self.by_device) {
            Ok(text) => {
                self.dirty = false;
                self.saved = Some(Instant::now());
                Some(text)
            }
            Err(error) => {
                tracing::error!(%error, "connection baselines cannot be rendered");
                None
            }
        }
    }
}

/// The policy and the monitor built from it for the directory in use.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    /// None: no policy configured, nothing is marked.
    policy: Option<Policy>,
    /// The monitor of the directory it was built for (rebuilt after a directory reload).
    current: Mutex<Option<Built>>,
    /// Peer and listener baselines by device id.
    baselines: Mutex<Baselines>,
    /// Where the baselines are saved (None: kept in memory only).
    file: Option<PathBuf>,
}

impl ConnectionWatch {
    /// A watch over `policy` (None: a watch that marks nothing).
    pub fn new(policy: Option<Policy>) -> ConnectionWatch {
        ConnectionWatch {
            policy,
            current: Mutex::default(),
            baselines: Mutex::default(),
            file: None,
        }
    }

    /// Keeps the baselines in `file`: reads what an earlier run saved there (a file that
    /// cannot be read is reported and set aside, the baselines start empty).
    pub fn with_baseline_file(mut self, file: PathBuf) -> ConnectionWatch {
        match read_baselines(&file) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(by_device) => {
                    self.baselines = Mutex::new(Baselines {
                        by_device,
                        ..Baselines::default()
                    })
                }
                Err(error) => {
                    let aside = file.with_extension("json.unreadable");
                    tracing::error!(%error, file = %file.display(), aside = %aside.display(),
                        "connection baselines unreadable: set aside, learning again");
                    let _ = std::fs::rename(&file, aside);
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::error!(%error, file = %file.display(), "connection baselines not read")
            }
        }
        self.file = Some(file);
        self
    }

    /// Marks the flow events among `events` (resolved against `directory`).
    pub fn mark(&self, directory: &Arc<Directory>, events: &mut [Event]) {
        if self.policy.is_none()
            || !events
                .iter()
                .any(|e| e.class == EventClass::NetworkActivity)
        {
            return;
        }
        let (Some(policy), Some((monitor, physical))) = (&self.policy, self.monitor(directory))
        else {
            return;
        };
        let is_physical = |device: u32| physical.get(device as usize) == Some(&true);
        let save = {
            let mut baselines = lock(&self.baselines);
            let mut changed = false;
            for event in events.iter_mut() {
                mark_segment_flow(policy, event);
                if let Some(device) = mark_one(&monitor, event)
                    && is_physical(device)
                    && let Some(baseline) = baselines.of(monitor.device_id(device))
                {
                    note_peer(baseline, event, &mut changed);
                }
                if let Some(target) = served_by(&monitor, event).filter(|&d| is_physical(d)) {
                    let id = monitor.device_id(target);
                    if let Some(baseline) = baselines.of(id) {
                        note_listener(baseline, id, event, &mut changed);
                    }
                }
            }
            baselines.dirty |= changed;
            baselines.due_for_save(false)
        };
        if let Some(text) = save {
            self.write(&text);
        }
    }

    /// Writes the baselines now if they changed since the last save.
    pub fn save(&self) {
        let text = lock(&self.baselines).due_for_save(true);
        if let Some(text) = text {
            self.write(&text);
        }
    }

    /// Replaces the file whole (a crash leaves the old or the new one, never half).
    fn write(&self, text: &str) {
        let Some(file) = &self.file else { return };
        let tmp = file.with_extension("json.tmp");
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, seal_baselines(text)?))
            .and_then(|()| std::fs::rename(&tmp, file));
        if let Err(error) = written {
            tracing::error!(%error, file = %file.display(), "connection baselines not saved");
        }
    }

    fn monitor(&self, directory: &Arc<Directory>) -> Option<(Arc<FlowMonitor>, Arc<Vec<bool>>)> {
        let policy = self.policy.as_ref()?;
        let mut current = lock(&self.current);
        if let Some(built) = current.as_ref()
            && Arc::ptr_eq(&built.directory, directory)
        {
            return Some((built.monitor.clone(), built.physical.clone()));
        }
        let inventory = Inventory::from_directory(directory);
        let built = Built {
            directory: directory.clone(),
            monitor: Arc::new(FlowMonitor::new(&inventory.devices, policy)),
            physical: Arc::new(
                inventory
                    .devices
                    .iter()
                    .map(|d| onesec_hygiene::is_physical(&d.kind))
                    .collect(),
            ),
        };
        let out = (built.monitor.clone(), built.physical.clone());
        *current = Some(built);
        Some(out)
    }
}

impl Drop for ConnectionWatch {
    fn drop(&mut self) {
        self.save();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Adds the flow's peer to the device's baseline; marks the flow when the peer is new and the
/// device has been learnt long enough.
fn note_peer(baseline: &mut Baseline, event: &mut Event, changed: &mut bool) {
    let Some(dst) = event.dst.ip else { return };
    let peer = (dst, event.dst.port.unwrap_or(0));
    if baseline.peers.note(peer, event.time_ms, changed) {
        event.fields.insert("hygiene.new_peer", "true");
    }
}

/// Marks a flow that goes from one segment to another the policy forbids
/// (`[[segment_flows]]`), whoever sends it: `hygiene.segment_flow = forbidden` and
/// `hygiene.segment_rule = <name>`.
fn mark_segment_flow(policy: &Policy, event: &mut Event) {
    if event.class != EventClass::NetworkActivity {
        return;
    }
    let (Some(src), Some(dst)) = (event.src.ip, event.dst.ip) else {
        return;
    };
    if let Some(rule) = policy.forbidden_segment_flow(src, dst) {
        event.fields.insert("hygiene.segment_flow", "forbidden");
        event.fields.insert("hygiene.segment_rule", &rule.name);
    }
}

/// The device a flow reached, when it is one and the flow was not refused (a refused flow
/// shows nothing listening).
fn served_by(monitor: &FlowMonitor, event: &Event) -> Option<u32> {
    if event.class != EventClass::NetworkActivity || event.status == Status::Failure {
        return None;
    }
    event.dst.port?;
    monitor.device_at(event.dst.ip?)
}

/// Adds the flow's destination port to the device's served ports; marks the flow when the
/// port is new and the device has been learnt long enough.
fn note_listener(baseline: &mut Baseline, id: &str, event: &mut Event, changed: &mut bool) {
    let Some(port) = event.dst.port else { return };
    if baseline.listens.note(port, event.time_ms, changed) {
        event.fields.insert("hygiene.new_listener", "true");
        event.fields.insert("hygiene.target_device", id);
    }
}

/// Marks one event if it is a flow from a device with an allow-list; returns the device the
/// flow comes from (with or without an allow-list).
fn mark_one(monitor: &FlowMonitor, event: &mut Event) -> Option<u32> {
    if event.class != EventClass::NetworkActivity {
        return None;
    }
    let (Some(src), Some(dst)) = (event.src.ip, event.dst.ip) else {
        return None;
    };
    let flow = |proto| Flow {
        time_ms: event.time_ms,
        src,
        src_port: event.src.port.unwrap_or(0),
        dst,
        dst_port: event.dst.port.unwrap_or(0),
        proto,
    };
    let protocol = event.fields.get("network.protocol").and_then(Proto::parse);
    // Without the protocol, a flow is allowed when TCP or UDP would be.
    let first = monitor.verdict(&flow(protocol.unwrap_or(Proto::Tcp)));
    let second = protocol
        .is_none()
        .then(|| monitor.verdict(&flow(Proto::Udp)));
    let (device, allowed) = match (first, second) {
        (FlowVerdict::Allowed(d), _) | (_, Some(FlowVerdict::Allowed(d))) => (d, true),
        (FlowVerdict::Alert(d), _) => (d, false),
        (FlowVerdict::Unmonitored(d), _) => {
            event.fields.insert("hygiene.device", monitor.device_id(d));
            return Some(d);
        }
        (FlowVerdict::NotADevice, _) => return None,
    };
    event.fields.insert(
        "hygiene.connection",
        if allowed { "allowed" } else { "forbidden" },
    );
    event
        .fields
        .insert("hygiene.device", monitor.device_id(device));
    Some(device)
}

/// The baselines' file content: sealed with the process's key ring when encryption at rest is
/// on (device ids and peer addresses can point to a person's workstation), plain otherwise.
fn seal_baselines(text: &str) -> std::io::Result<Vec<u8>> {
    match onesec_keys::installed() {
        Some(ring) => onesec_keys::seal_file(&ring, text.as_bytes()).map_err(std::io::Error::other),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// Reads the baselines' file, opening it when sealed (an error when no key opens it, so the
/// caller sets it aside as unreadable rather than learning over it silently).
fn read_baselines(file: &std::path::Path) -> std::io::Result<String> {
    let bytes = std::fs::read(file)?;
    let plain = if onesec_keys::is_sealed_file(&bytes) {
        let ring = onesec_keys::installed().ok_or_else(|| {
            std::io::Error::other("the baselines are encrypted and no encryption key is given")
        })?;
        onesec_keys::open_file(&ring, &bytes, &file.display().to_string())
            .map_err(std::io::Error::other)?
    } else {
        bytes
    };
    String::from_utf8(plain).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::Activity;

    const POLICY: &str = r#"
[[connections]]
kinds = ["camera"]
allow = [{ to = "10.40.50.30", ports = [554, 443], proto = "tcp" }]
"#;

    fn directory() -> Arc<Directory> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("devices.csv"),
            "device_id,kind,hostname,ip,mac,site,zone,vendor,model,firmware\n\
             CAM-1,camera,cam-1,10.40.50.21,,EDI,,Axis,M3086-V,10.12.153\n\
             SRV-1,server,srv-1,10.40.90.21,,EDI,,HPE,DL380,\n",
        )
        .unwrap();
        Arc::new(Directory::load_dir(dir.path()).unwrap())
    }

    fn flow(src: &str, dst: &str, port: u16, proto: Option<&str>) -> Event {
        let mut e = Event::new(1_000, EventClass::NetworkActivity, Activity::Other);
        e.src.ip = src.parse().ok();
        e.dst.ip = dst.parse().ok();
        e.dst.port = Some(port);
        if let Some(p) = proto {
            e.fields.insert("network.protocol", p);
        }
        e
    }

    fn marks(watch: &ConnectionWatch, mut events: Vec<Event>) -> Vec<Option<String>> {
        watch.mark(&directory(), &mut events);
        events
            .iter()
            .map(|e| e.fields.get("hygiene.connection").map(str::to_string))
            .collect()
    }

    #[test]
    fn flows_from_devices_are_marked_by_their_allow_list() {
        let watch = ConnectionWatch::new(Some(Policy::from_toml("policy", POLICY).unwrap()));
        let got = marks(
            &watch,
            vec![
                flow("10.40.50.21", "10.40.50.30", 554, Some("tcp")),
                flow("10.40.50.21", "198.51.100.7", 443, Some("tcp")),
                flow("10.40.50.21", "10.40.50.30", 554, None),
                flow("10.40.90.21", "198.51.100.7", 443, Some("tcp")),
                flow("10.1.1.1", "198.51.100.7", 443, Some("tcp")),
            ],
        );
        assert_eq!(
            got,
            [
                Some("allowed".into()),
                Some("forbidden".into()),
                Some("allowed".into()),
                None, // a server: no allow-list for its kind
                None, // not a device
            ]
        );
    }

    #[test]
    fn a_camera_talking_to_a_new_peer_after_its_learning_day_is_marked() {
        let watch = ConnectionWatch::new(Some(Policy::from_toml("policy", POLICY).unwrap()));
        let at = |hours: i64, dst: &str, port: u16| {
            let mut e = flow("10.40.50.21", dst, port, Some("tcp"));
            e.time_ms = 1_000 + hours * 3_600_000;
            e
        };
        let mut events = vec![
            at(0, "10.40.50.30", 554),
            at(2, "198.51.100.7", 443),  // new, but still learning
            at(25, "10.40.50.30", 554),  // known
            at(26, "203.0.113.9", 8080), // new after a day: marked
            at(27, "203.0.113.9", 8080), // known now
            flow("10.40.90.21", "203.0.113.50", 22, Some("tcp")), // a server: no baseline
        ];
        events[5].time_ms = 1_000 + 30 * 3_600_000;
        watch.mark(&directory(), &mut events);
        let marks: Vec<bool> = events
            .iter()
            .map(|e| e.fields.contains_key("hygiene.new_peer"))
            .collect();
        assert_eq!(marks, [false, false, false, true, false, false]);
        assert_eq!(
            events[5].fields.get("hygiene.device"),
            Some("SRV-1"),
            "unmonitored devices are still named"
        );
    }

    /// A flow from `src` to `dst:port` at `hours` after the start, refused or not.
    fn flow_at(hours: i64, src: &str, dst: &str, port: u16, refused: bool) -> Event {
        let mut e = flow(src, dst, port, Some("tcp"));
        e.time_ms = 1_000 + hours * 3_600_000;
        if refused {
            e.status = Status::Failure;
        }
        e
    }

    fn marked(events: &[Event], field: &str) -> Vec<bool> {
        events
            .iter()
            .map(|e| e.fields.contains_key(field))
            .collect()
    }

    #[test]
    fn a_camera_serving_a_new_port_after_its_learning_day_is_marked() {
        let watch = ConnectionWatch::new(Some(Policy::from_toml("policy", POLICY).unwrap()));
        let camera = "10.40.50.21";
        let mut events = vec![
            flow_at(0, "10.40.50.30", camera, 554, false), // the recorder pulls RTSP
            flow_at(1, "10.1.1.9", camera, 443, false),    // admin page, while learning
            flow_at(25, "10.40.50.30", camera, 554, false), // known
            flow_at(26, "10.1.1.66", camera, 23, true),    // telnet refused: nothing listens
            flow_at(27, "10.1.1.66", camera, 4444, false), // a new service answers: marked
            flow_at(28, "10.1.1.67", camera, 4444, false), // known now
            flow_at(29, "10.1.1.66", "10.40.90.21", 8443, false), // a server: no baseline
        ];
        watch.mark(&directory(), &mut events);
        assert_eq!(
            marked(&events, "hygiene.new_listener"),
            [false, false, false, false, true, false, false]
        );
        assert_eq!(events[4].fields.get("hygiene.target_device"), Some("CAM-1"));
        assert!(
            !events[4].fields.contains_key("hygiene.new_peer"),
            "the source is not a device"
        );
    }

    #[test]
    fn baselines_survive_a_restart_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hygiene/baselines.json");
        let policy = || Some(Policy::from_toml("policy", POLICY).unwrap());
        let camera = "10.40.50.21";
        {
            let watch = ConnectionWatch::new(policy()).with_baseline_file(file.clone());
            let mut day_one = vec![
                flow_at(0, camera, "10.40.50.30", 554, false),
                flow_at(0, "10.40.50.30", camera, 554, false),
            ];
            watch.mark(&directory(), &mut day_one);
            // Dropped: the baselines are written.
        }
        assert!(file.exists());
        let watch = ConnectionWatch::new(policy()).with_baseline_file(file.clone());
        let mut day_two = vec![
            flow_at(30, camera, "10.40.50.30", 554, false), // known from before the restart
            flow_at(31, camera, "203.0.113.9", 8080, false), // new: reported at once
            flow_at(32, "10.1.1.66", camera, 4444, false),  // new service: reported at once
        ];
        watch.mark(&directory(), &mut day_two);
        assert_eq!(marked(&day_two, "hygiene.new_peer"), [false, true, false]);
        assert_eq!(
            marked(&day_two, "hygiene.new_listener"),
            [false, false, true]
        );
        watch.save();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("203.0.113.9") && text.contains("4444"),
            "{text}"
        );
    }

    #[test]
    fn an_unreadable_baseline_file_is_set_aside_and_learning_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("baselines.json");
        std::fs::write(&file, "{not json").unwrap();
        let watch = ConnectionWatch::new(Some(Policy::from_toml("policy", POLICY).unwrap()))
            .with_baseline_file(file.clone());
        assert!(dir.path().join("baselines.json.unreadable").exists());
        let mut events = vec![flow_at(30, "10.40.50.21", "203.0.113.9", 8080, false)];
        watch.mark(&directory(), &mut events);
        assert_eq!(
            marked(&events, "hygiene.new_peer"),
            [false],
            "learning again"
        );
    }

    #[test]
    fn flows_between_forbidden_segments_are_marked_whoever_sends_them() {
        let policy = format!(
            "{POLICY}\n[[segment_flows]]\nname = \"camera-vlan-out\"\nfrom = \"10.40.50.0/24\"\ndeny = [\"10.40.20.0/24\", \"internet\"]\n"
        );
        let watch = ConnectionWatch::new(Some(Policy::from_toml("policy", &policy).unwrap()));
        let mut events = vec![
            // From an address of the camera VLAN that no inventory device has.
            flow("10.40.50.99", "10.40.20.12", 445, Some("tcp")),
            // A public address (documentation ranges do not count as the internet).
            flow("10.40.50.99", "185.199.108.153", 443, Some("tcp")),
            flow("10.40.50.99", "10.40.50.30", 554, Some("tcp")),
            // From the office to the camera VLAN: not this rule's direction.
            flow("10.40.20.12", "10.40.50.99", 443, Some("tcp")),
        ];
        watch.mark(&directory(), &mut events);
        let rules: Vec<Option<&str>> = events
            .iter()
            .map(|e| e.fields.get("hygiene.segment_rule"))
            .collect();
        assert_eq!(
            rules,
            [Some("camera-vlan-out"), Some("camera-vlan-out"), None, None]
        );
        assert_eq!(
            events[0].fields.get("hygiene.segment_flow"),
            Some("forbidden")
        );
    }

    #[test]
    fn without_a_policy_nothing_is_marked() {
        let got = marks(
            &ConnectionWatch::new(None),
            vec![flow("10.40.50.21", "198.51.100.7", 443, Some("tcp"))],
        );
        assert_eq!(got, [None]);
    }
}
