//! Field access by name: the Sigma taxonomy of onesec events (documented in `docs/fields.md`).

use crate::{Activity, Event, EventClass};
use std::borrow::Cow;

/// A field value as detection sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// Whole number.
    Int(i64),
    /// Flag.
    Bool(bool),
    /// Several texts (e.g. zone tags): a rule matches when any element does.
    List(Vec<&'a str>),
}

fn text(value: &str) -> Option<Value<'_>> {
    Some(Value::Str(Cow::Borrowed(value)))
}

fn opt(value: &Option<String>) -> Option<Value<'_>> {
    value.as_deref().and_then(text)
}

impl Event {
    /// Looks a field up by its taxonomy name, falling back to source-specific `fields`.
    pub fn lookup(&self, name: &str) -> Option<Value<'_>> {
        if let Some(value) = self.lookup_model(name) {
            return Some(value);
        }
        self.fields.get(name).and_then(text)
    }

    fn lookup_model(&self, name: &str) -> Option<Value<'_>> {
        let resolved = &self.resolved;
        let person = resolved.person.as_ref();
        match name {
            "class" => text(self.class.as_str()),
            "class_uid" => Some(Value::Int(i64::from(self.class.uid()))),
            "activity" => text(self.activity.as_str()),
            "activity_id" => Some(Value::Int(i64::from(self.activity.id()))),
            "status" => text(self.status.as_str()),
            "severity" => text(self.severity.as_str()),
            "domain" => text(self.domain().as_str()),
            "message" => text(&self.message),
            "product" => text(&self.source.product),
            "service" => text(&self.source.service),
            "format" => text(&self.source.format),
            "host" => opt(&self.host),
            "user" => opt(&self.actor.user),
            "user.domain" => opt(&self.actor.domain),
            "badge" => opt(&self.actor.badge),
            "holder_name" => opt(&self.actor.holder_name),
            "src.ip" => self.src.ip.map(|ip| Value::Str(Cow::Owned(ip.to_string()))),
            "src.port" => self.src.port.map(|p| Value::Int(i64::from(p))),
            "src.hostname" => opt(&self.src.hostname),
            "dst.ip" => self.dst.ip.map(|ip| Value::Str(Cow::Owned(ip.to_string()))),
            "dst.port" => self.dst.port.map(|p| Value::Int(i64::from(p))),
            "dst.hostname" => opt(&self.dst.hostname),
            "reader" => opt(&self.physical.reader),
            "portal" => opt(&self.physical.portal).or_else(|| opt(&resolved.portal)),
            "camera" => opt(&self.physical.camera),
            "direction" => self.physical.direction.and_then(|d| text(d.as_str())),
            "reason" => opt(&self.physical.reason),
            "state" => opt(&self.physical.state),
            "logon.kind" => self.logon.and_then(|k| text(k.as_str())),
            "person.id" => person.and_then(|p| text(&p.id)),
            "person.name" => person.and_then(|p| text(&p.name)),
            "person.status" => person.and_then(|p| text(&p.status)),
            "person.department" => person.and_then(|p| text(&p.department)),
            "person.home_site" => person.and_then(|p| text(&p.home_site)),
            "site" => opt(&resolved.site),
            "zone" => opt(&resolved.zone),
            "zone.tags" => Some(Value::List(
                resolved.zone_tags.iter().map(String::as_str).collect(),
            )),
            "device.id" => opt(&resolved.device_id),
            "device.kind" => opt(&resolved.device_kind),
            "src.site" => opt(&resolved.src_site),
            "src.zone" => opt(&resolved.src_zone),
            "src.network" => opt(&resolved.src_network),
            _ => None,
        }
    }

    /// Calls `visit` on every text value of the event (for keyword rules); stops at the first
    /// `true` and returns whether there was one.
    pub fn any_text(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        if visit(&self.message) || visit(&self.raw) {
            return true;
        }
        self.fields.values().any(visit)
    }

    /// Whether the event belongs to a Sigma logsource key/value (`category`, `product`,
    /// `service`). The physical taxonomy is documented in `docs/fields.md`.
    pub fn in_logsource(&self, key: &str, value: &str) -> bool {
        let eq = |a: &str| a.eq_ignore_ascii_case(value);
        match key {
            "product" => eq("onesec") || eq(&self.source.product),
            "service" => eq(&self.source.service),
            "category" => self.in_category(&value.to_ascii_lowercase()),
            _ => false,
        }
    }

    /// A token of everything [`Event::in_logsource`] depends on: the product and service
    /// (ASCII-lowercased, as it compares them), the class, whether the activity is one of a
    /// door's, and the Windows categories of the channel and event id. Two events with the
    /// same token answer `in_logsource` alike for every key and value (the contract of the
    /// detection engine's `Record::logsource_token`, which then asks only the first event of
    /// each token). A hash: different tokens may (rarely) answer alike, never the reverse.
    pub fn logsource_token(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        // Fixed keys: the same token for the same event in every process.
        let mut h = std::hash::DefaultHasher::new();
        for name in [&self.source.product, &self.source.service] {
            for b in name.bytes() {
                h.write_u8(b.to_ascii_lowercase());
            }
            h.write_u8(0xff);
        }
        self.class.hash(&mut h);
        self.is_door_activity().hash(&mut h);
        self.windows_categories().hash(&mut h);
        h.finish()
    }

    /// Whether the activity is one of a door's (the `door` category).
    fn is_door_activity(&self) -> bool {
        use Activity::*;
        matches!(
            self.activity,
            PortalForced | PortalHeldOpen | PortalNormal | Tamper
        )
    }

    fn in_category(&self, category: &str) -> bool {
        match category {
            "physical_access" => self.class == EventClass::PhysicalAccess,
            "door" => self.class == EventClass::PhysicalAccess && self.is_door_activity(),
            "intrusion_alarm" => self.class == EventClass::AlarmSignal,
            "video_analytics" => self.class == EventClass::VideoAnalytics,
            "device_health" => self.class == EventClass::DeviceHealth,
            "authentication" => self.class == EventClass::Authentication,
            "process_creation" => self.class == EventClass::ProcessActivity,
            "usb" | "peripheral" => self.class == EventClass::PeripheralActivity,
            "network_connection" | "vpn" => self.class == EventClass::NetworkActivity,
            "any" => true,
            other => self.windows_categories().contains(&other),
        }
    }

    /// SigmaHQ's Windows categories, derived from the channel and event id (Sysmon, Security,
    /// PowerShell), so that community rules written for them apply to decoded Windows events.
    fn windows_categories(&self) -> &'static [&'static str] {
        let (Some(channel), Some(id)) = (self.fields.get("Channel"), self.fields.get("EventID"))
        else {
            return &[];
        };
        let id: u32 = id.trim().parse().unwrap_or(0);
        let channel = channel.to_ascii_lowercase();
        if channel.contains("sysmon") {
            return match id {
                1 => &["process_creation"],
                2 => &["file_change"],
                3 => &["network_connection"],
                5 => &["process_termination"],
                6 => &["driver_load"],
                7 => &["image_load"],
                8 => &["create_remote_thread"],
                9 => &["raw_access_thread"],
                10 => &["process_access"],
                11 => &["file_event"],
                12 => &["registry_event", "registry_add", "registry_delete"],
                13 => &["registry_event", "registry_set"],
                14 => &["registry_event", "registry_rename"],
                15 => &["create_stream_hash"],
                17 | 18 => &["pipe_created"],
                19..=21 => &["wmi_event"],
                22 => &["dns_query"],
                23 | 26 => &["file_delete"],
                24 => &["clipboard_change"],
                25 => &["process_tampering"],
                29 => &["file_executable_detected"],
                _ => &[],
            };
        }
        match (channel.as_str(), id) {
            ("security", 4688) => &["process_creation"],
            ("microsoft-windows-powershell/operational", 4104) => &["ps_script"],
            ("microsoft-windows-powershell/operational", 4103) => &["ps_module"],
            ("windows powershell", 400) => &["ps_classic_start"],
            ("windows powershell", 800) => &["ps_classic_script"],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, PersonRef};

    fn badge_in() -> Event {
        let mut e = Event::new(0, EventClass::PhysicalAccess, Activity::AccessGranted);
        e.actor.badge = Some("0x1".into());
        e.physical.direction = Some(Direction::In);
        e.resolved.zone_tags = vec!["restricted".into()];
        e.resolved.person = Some(PersonRef {
            id: "p1".into(),
            name: "A".into(),
            status: "active".into(),
            department: String::new(),
            home_site: "PAR".into(),
        });
        e.fields.insert("EventID", "4624");
        e
    }

    #[test]
    fn model_fields_and_source_fields_are_found() {
        let e = badge_in();
        assert_eq!(e.lookup("activity"), text("access_granted"));
        assert_eq!(e.lookup("direction"), text("in"));
        assert_eq!(e.lookup("person.status"), text("active"));
        assert_eq!(e.lookup("EventID"), text("4624"));
        assert_eq!(e.lookup("zone.tags"), Some(Value::List(vec!["restricted"])));
        assert_eq!(e.lookup("user"), None);
    }

    #[test]
    fn windows_events_get_sigmahq_categories_from_channel_and_id() {
        let mut e = Event::new(0, EventClass::Base, Activity::Other);
        e.fields
            .insert("Channel", "Microsoft-Windows-Sysmon/Operational");
        e.fields.insert("EventID", "13");
        assert!(e.in_logsource("category", "registry_set"));
        assert!(e.in_logsource("category", "registry_event"));
        assert!(!e.in_logsource("category", "file_event"));
        e.fields
            .insert("Channel", "Microsoft-Windows-PowerShell/Operational");
        e.fields.insert("EventID", "4104");
        assert!(e.in_logsource("category", "ps_script"));
        e.fields.remove("Channel");
        assert!(!e.in_logsource("category", "ps_script"));
    }

    #[test]
    fn categories_follow_the_physical_taxonomy() {
        let e = badge_in();
        assert!(e.in_logsource("category", "physical_access"));
        assert!(!e.in_logsource("category", "door"));
        assert!(e.in_logsource("product", "onesec"));
    }
}
