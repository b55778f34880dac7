//! Connection monitoring at ingest: every flow event (class `network_activity`) whose source is
//! a device of the directory is checked against the `[[connections]]` allow-lists of the
//! `[hygiene] policy` (`docs/hygiene.md`) and marked in its fields:
//! `hygiene.connection = allowed | forbidden` and `hygiene.device = <device id>`. The marks are
//! journaled with the event, so detection (the shipped rule `onesec_device_forbidden_connection`),
//! risk and incidents see them, and a replay of the journal gives the same answers after the
//! policy changed — as resolution does.

use std::sync::{Arc, Mutex};

use onesec_directory::Directory;
use onesec_event::{Event, EventClass};
use onesec_hygiene::{Flow, FlowMonitor, FlowVerdict, Inventory, Policy, policy::Proto};

/// The policy and the monitor built from it for the directory in use.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    /// None: no policy configured, nothing is marked.
    policy: Option<Policy>,
    /// The monitor of the directory it was built for (rebuilt after a directory reload).
    current: Mutex<Option<(Arc<Directory>, Arc<FlowMonitor>)>>,
}

impl ConnectionWatch {
    /// A watch over `policy` (None: a watch that marks nothing).
    pub fn new(policy: Option<Policy>) -> ConnectionWatch {
        ConnectionWatch {
            policy,
            current: Mutex::new(None),
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
        let Some(monitor) = self.monitor(directory) else {
            return;
        };
        for event in events.iter_mut() {
            mark_one(&monitor, event);
        }
    }

    fn monitor(&self, directory: &Arc<Directory>) -> Option<Arc<FlowMonitor>> {
        let policy = self.policy.as_ref()?;
        let mut current = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((built_for, monitor)) = current.as_ref()
            && Arc::ptr_eq(built_for, directory)
        {
            return Some(monitor.clone());
        }
        let inventory = Inventory::from_directory(directory);
        let monitor = Arc::new(FlowMonitor::new(&inventory.devices, policy));
        *current = Some((directory.clone(), monitor.clone()));
        Some(monitor)
    }
}

/// Marks one event if it is a flow from a device with an allow-list.
fn mark_one(monitor: &FlowMonitor, event: &mut Event) {
    if event.class != EventClass::NetworkActivity {
        return;
    }
    let (Some(src), Some(dst)) = (event.src.ip, event.dst.ip) else {
        return;
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
    let verdicts: Vec<FlowVerdict> = match protocol {
        Some(p) => vec![monitor.verdict(&flow(p))],
        None => vec![
            monitor.verdict(&flow(Proto::Tcp)),
            monitor.verdict(&flow(Proto::Udp)),
        ],
    };
    let (device, allowed) = match verdicts.as_slice() {
        [FlowVerdict::Allowed(d), ..] | [_, FlowVerdict::Allowed(d)] => (*d, true),
        [FlowVerdict::Alert(d), ..] => (*d, false),
        _ => return,
    };
    event.fields.insert(
        "hygiene.connection".into(),
        if allowed { "allowed" } else { "forbidden" }.into(),
    );
    event
        .fields
        .insert("hygiene.device".into(), monitor.device_id(device).into());
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
    fn without_a_policy_nothing_is_marked() {
        let got = marks(
            &ConnectionWatch::new(None),
            vec![flow("10.40.50.21", "198.51.100.7", 443, Some("tcp"))],
        );
        assert_eq!(got, [None]);
    }
}
