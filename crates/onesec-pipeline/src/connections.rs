//! Connection monitoring at ingest: every flow event (class `network_activity`) whose source is
//! a device of the directory is checked against the `[[connections]]` allow-lists of the
//! `[hygiene] policy` (`docs/hygiene.md`) and marked in its fields:
//! `hygiene.connection = allowed | forbidden` and `hygiene.device = <device id>`. A physical
//! device (camera, reader, controller...) also has a **peer baseline**: the destinations and
//! ports it used; once it has been watched for [`LEARN_MS`] of event time, a flow to a peer it
//! never used is marked `hygiene.new_peer = true`. The marks are journaled with the event, so
//! detection (the shipped rules `onesec_device_forbidden_connection` and
//! `onesec_device_new_peer`), risk and incidents see them, and a replay of the journal gives the
//! same answers after the policy changed — as resolution does. The baseline lives in memory: after
//! a restart each device learns again (a blind window, never a burst of false alarms).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use onesec_directory::Directory;
use onesec_event::{Event, EventClass};
use onesec_hygiene::{Flow, FlowMonitor, FlowVerdict, Inventory, Policy, policy::Proto};

/// Event time a device's peers are learnt before a new one is reported.
pub const LEARN_MS: i64 = 24 * 3_600_000;
/// Peers kept per device; a device that talks to more is not baselined (a server, not a
/// camera), and nothing is reported for it.
const MAX_PEERS: usize = 4096;

/// The monitor built for one directory version, and which of its devices are physical.
#[derive(Debug)]
struct Built {
    directory: Arc<Directory>,
    monitor: Arc<FlowMonitor>,
    physical: Arc<Vec<bool>>,
}

/// What one device was seen talking to.
#[derive(Debug, Default)]
struct Baseline {
    first_ms: i64,
    peers: HashSet<(IpAddr, u16)>,
    overflowed: bool,
}

/// The policy and the monitor built from it for the directory in use.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    /// None: no policy configured, nothing is marked.
    policy: Option<Policy>,
    /// The monitor of the directory it was built for (rebuilt after a directory reload).
    current: Mutex<Option<Built>>,
    /// Peer baselines by device id.
    baselines: Mutex<HashMap<String, Baseline>>,
}

impl ConnectionWatch {
    /// A watch over `policy` (None: a watch that marks nothing).
    pub fn new(policy: Option<Policy>) -> ConnectionWatch {
        ConnectionWatch {
            policy,
            ..ConnectionWatch::default()
        }
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
        let Some((monitor, physical)) = self.monitor(directory) else {
            return;
        };
        let mut baselines = match self.baselines.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for event in events.iter_mut() {
            if let Some(device) = mark_one(&monitor, event)
                && physical.get(device as usize) == Some(&true)
            {
                let id = monitor.device_id(device);
                // The id is copied only the first time a device is baselined.
                if !baselines.contains_key(id) {
                    baselines.insert(id.to_string(), Baseline::default());
                }
                if let Some(baseline) = baselines.get_mut(id) {
                    note_peer(baseline, event);
                }
            }
        }
    }

    fn monitor(&self, directory: &Arc<Directory>) -> Option<(Arc<FlowMonitor>, Arc<Vec<bool>>)> {
        let policy = self.policy.as_ref()?;
        let mut current = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
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

/// Adds the flow's peer to the device's baseline; marks the flow when the peer is new and the
/// device has been learnt long enough.
fn note_peer(baseline: &mut Baseline, event: &mut Event) {
    let Some(dst) = event.dst.ip else { return };
    if baseline.peers.is_empty() && !baseline.overflowed {
        baseline.first_ms = event.time_ms;
    }
    baseline.first_ms = baseline.first_ms.min(event.time_ms);
    if baseline.overflowed {
        return;
    }
    let peer = (dst, event.dst.port.unwrap_or(0));
    if baseline.peers.contains(&peer) {
        return;
    }
    if baseline.peers.len() >= MAX_PEERS {
        baseline.overflowed = true;
        baseline.peers = HashSet::new();
        return;
    }
    baseline.peers.insert(peer);
    if event.time_ms >= baseline.first_ms.saturating_add(LEARN_MS) {
        event
            .fields
            .insert("hygiene.new_peer".into(), "true".into());
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
    let protocol = event
        .fields
        .get("network.protocol")
        .and_then(|p| Proto::parse(p));
    // Without the protocol, a flow is allowed when TCP or UDP would be.
    let first = monitor.verdict(&flow(protocol.unwrap_or(Proto::Tcp)));
    let second = protocol
        .is_none()
        .then(|| monitor.verdict(&flow(Proto::Udp)));
    let (device, allowed) = match (first, second) {
        (FlowVerdict::Allowed(d), _) | (_, Some(FlowVerdict::Allowed(d))) => (d, true),
        (FlowVerdict::Alert(d), _) => (d, false),
        (FlowVerdict::Unmonitored(d), _) => {
            event
                .fields
                .insert("hygiene.device".into(), monitor.device_id(d).into());
            return Some(d);
        }
        (FlowVerdict::NotADevice, _) => return None,
    };
    event.fields.insert(
        "hygiene.connection".into(),
        if allowed { "allowed" } else { "forbidden" }.into(),
    );
    event
        .fields
        .insert("hygiene.device".into(), monitor.device_id(device).into());
    Some(device)
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
            e.fields.insert("network.protocol".into(), p.into());
        }
        e
    }

    fn marks(watch: &ConnectionWatch, mut events: Vec<Event>) -> Vec<Option<String>> {
        watch.mark(&directory(), &mut events);
        events
            .iter()
            .map(|e| e.fields.get("hygiene.connection").cloned())
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
            events[5].fields.get("hygiene.device").map(String::as_str),
            Some("SRV-1"),
            "unmonitored devices are still named"
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
