//! The one event model every stage of onesec speaks.
//!
//! A decoder turns a raw line, JSON object or CSV row into an [`Event`]; the resolver fills
//! [`Resolved`] (who, where, which device); the durable journal stores it; detection reads it
//! through [`Event::lookup`], whose field names are the Sigma taxonomy documented in
//! `docs/fields.md`; [`ocsf::to_ocsf`] writes it as OCSF JSON.
//!
//! The classes follow OCSF: cyber events use OCSF core classes (Authentication 3002, Process
//! Activity 1007, Network Activity 4001); physical events follow the OCSF *physec* extension
//! proposal (Physical Access Activity 4230001, Alarm Signal Activity 4230002); video analytics,
//! device health and peripheral (USB) events get classes of our own in the same extension style
//! (category 4330, see [`EventClass`]).
//!
//! This crate does no I/O and knows nothing of the stages around it.

mod class;
mod fields;
mod lookup;
pub mod ocsf;
mod rare;

pub use class::{Activity, Domain, EventClass, Severity, Status};
pub use fields::{Batch, Fields};
pub use lookup::Value;
pub use rare::{Empty, Rare};

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Identifier of a stored event: its sequence number in the durable journal (0 before it is
/// journaled).
pub type EventId = u64;

/// One normalised record, physical or cyber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Journal sequence; assigned when the event becomes durable.
    #[serde(default)]
    pub id: EventId,
    /// When it happened (UTC milliseconds since the Unix epoch): detection runs on this.
    pub time_ms: i64,
    /// When onesec received it (UTC milliseconds).
    #[serde(default)]
    pub received_ms: i64,
    /// OCSF class.
    pub class: EventClass,
    /// OCSF activity within the class.
    pub activity: Activity,
    /// Outcome.
    #[serde(default)]
    pub status: Status,
    /// Severity as the source saw it.
    #[serde(default)]
    pub severity: Severity,
    /// Human-readable summary.
    #[serde(default)]
    pub message: String,
    /// Which decoder and product produced it.
    #[serde(default)]
    pub source: SourceInfo,
    /// Who acted: account and/or credential.
    #[serde(default, skip_serializing_if = "Actor::is_empty")]
    pub actor: Actor,
    /// Where the action came from (network).
    #[serde(default, skip_serializing_if = "Endpoint::is_empty")]
    pub src: Endpoint,
    /// Where the action went to (network).
    #[serde(default, skip_serializing_if = "Endpoint::is_empty")]
    pub dst: Endpoint,
    /// The host or device that reported the event (hostname or device token as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Physical-world details: reader, portal, camera, direction, reason.
    #[serde(default, skip_serializing_if = "Rare::is_empty")]
    pub physical: Rare<Physical>,
    /// How a logon happened, for authentication events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon: Option<LogonKind>,
    /// Source-specific fields, visible to rules under their own names (e.g. `EventID`).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// What the directory said about the entities in this event when it was ingested.
    #[serde(default, skip_serializing_if = "Rare::is_empty")]
    pub resolved: Rare<Resolved>,
    /// The input exactly as received (for evidence and re-decoding).
    #[serde(default)]
    pub raw: String,
}

/// Which decoder read the event and which product emitted it.
///
/// The names are almost always one of a few fixed words, so they are [`Name`]s: a decoder sets
/// a `&'static str` without allocating (`"sshd".into()`), and an event read back from JSON
/// owns its text. Serialised exactly as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Decoder name, e.g. `syslog`, `windows-json`, `onvif-ej`, `access-csv`.
    pub format: Name,
    /// Emitting product (Sigma `logsource.product`), e.g. `linux`, `openvpn`, `windows`, `onvif`.
    pub product: Name,
    /// Emitting service (Sigma `logsource.service`), e.g. `sshd`, `sudo`, `security`.
    #[serde(default)]
    pub service: Name,
    /// Input it arrived by, e.g. `syslog-udp`, `http`, `replay`.
    #[serde(default)]
    pub input: Name,
}

/// A name that is usually a fixed word: borrowed when static, owned otherwise.
pub type Name = std::borrow::Cow<'static, str>;

/// The acting identity as the source named it (before resolution).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Account name (without domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Account domain, e.g. `ACME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Credential (badge / card number) as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge: Option<String>,
    /// Holder name as the access system reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
}

impl Actor {
    fn is_empty(&self) -> bool {
        self == &Actor::default()
    }
}

/// A network endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl Endpoint {
    fn is_empty(&self) -> bool {
        self == &Endpoint::default()
    }
}

/// Which way a person passed a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Entering the portal's zone.
    In,
    /// Leaving it.
    Out,
}

impl Direction {
    /// Lower-case name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Physical-world details of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Physical {
    /// Reader / access point token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// Portal (door) token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// Camera / video source token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// Passage direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Reason given by the device (e.g. `CredentialNotActive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// State value reported (e.g. `DoorForcedOpen`, `Normal`, `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Empty for Physical {
    fn empty() -> &'static Physical {
        static EMPTY: Physical = Physical {
            reader: None,
            portal: None,
            camera: None,
            direction: None,
            reason: None,
            state: None,
        };
        &EMPTY
    }
}

/// How an authentication happened: at the keyboard, remotely, over the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogonKind {
    /// At the machine's own keyboard and screen (Windows type 2, tty login).
    Console,
    /// Remote interactive (RDP, Windows type 10).
    RemoteInteractive,
    /// Network logon (SSH, SMB, Windows type 3).
    Network,
    /// Remote-access VPN session.
    Vpn,
    /// Anything else (service, batch, unlock...).
    Other,
}

impl LogonKind {
    /// Lower-case name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            LogonKind::Console => "console",
            LogonKind::RemoteInteractive => "remote_interactive",
            LogonKind::Network => "network",
            LogonKind::Vpn => "vpn",
            LogonKind::Other => "other",
        }
    }
}

/// What the directory said about an event's entities at ingest time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The person behind the account or badge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonRef>,
    /// Site where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Zone where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Tags of that zone (e.g. `restricted`, `server-room`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zone_tags: Vec<String>,
    /// Inventory id of the device involved (host, reader, camera, controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Kind of that device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_kind: Option<String>,
    /// Portal resolved from the reader, when the source named only the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// Site of the source address, when it lies in a known segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_site: Option<String>,
    /// Zone of the source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_zone: Option<String>,
    /// Where the source address is: `internal`, `remote-access` or `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_network: Option<String>,
}

impl Empty for Resolved {
    fn empty() -> &'static Resolved {
        static EMPTY: Resolved = Resolved {
            person: None,
            site: None,
            zone: None,
            zone_tags: Vec::new(),
            device_id: None,
            device_kind: None,
            portal: None,
            src_site: None,
            src_zone: None,
            src_network: None,
        };
        &EMPTY
    }
}

/// The person an event was attributed to, as the directory knew them then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// Directory id (`person_id`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `active`, `leave` or `terminated`.
    pub status: String,
    /// Department.
    #[serde(default)]
    pub department: String,
    /// Home site id.
    #[serde(default)]
    pub home_site: String,
}

impl Event {
    /// A new event of `class`/`activity` at `time_ms`, everything else empty.
    pub fn new(time_ms: i64, class: EventClass, activity: Activity) -> Event {
        Event {
            id: 0,
            time_ms,
            received_ms: 0,
            class,
            activity,
            status: Status::Unknown,
            severity: Severity::Informational,
            message: String::new(),
            source: SourceInfo::default(),
            actor: Actor::default(),
            src: Endpoint::default(),
            dst: Endpoint::default(),
            host: None,
            physical: Rare::default(),
            logon: None,
            fields: Fields::new(),
            resolved: Rare::default(),
            raw: String::new(),
        }
    }

    /// The world this event belongs to.
    pub fn domain(&self) -> Domain {
        self.class.domain()
    }

    /// Event time as RFC 3339 text (UTC, milliseconds).
    pub fn time_rfc3339(&self) -> String {
        format_time_ms(self.time_ms)
    }
}

/// Formats UTC milliseconds as RFC 3339 with millisecond precision.
pub fn format_time_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Parses RFC 3339 text into UTC milliseconds.
pub fn parse_time_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_through_json() {
        let mut event = Event::new(
            1_773_129_491_000,
            EventClass::PhysicalAccess,
            Activity::AccessGranted,
        );
        event.actor.badge = Some("0x4F21B3".into());
        event.physical.direction = Some(Direction::In);
        event.fields.insert("EventID", "4624");
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn fields_serialise_as_the_map_did() {
        let mut event = Event::new(1, EventClass::Base, Activity::Other);
        let json = serde_json::to_string(&event).unwrap();
        assert!(
            !json.contains("fields"),
            "empty fields are left out: {json}"
        );
        event.fields.insert("syslog.program", "sshd é");
        event.fields.insert("EventID", "4624");
        event.fields.insert("a\"b", "line\nbreak");
        let json = serde_json::to_string(&event).unwrap();
        // What `BTreeMap<String, String>` wrote: keys in byte order, the same escapes.
        assert!(
            json.contains(
                r#","fields":{"EventID":"4624","a\"b":"line\nbreak","syslog.program":"sshd é"},"raw":"#
            ),
            "{json}"
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn source_names_serialise_as_plain_strings_whether_borrowed_or_owned() {
        let mut borrowed = Event::new(1_773_129_491_000, EventClass::Base, Activity::Other);
        borrowed.source.format = "syslog".into();
        borrowed.source.product = "linux".into();
        borrowed.source.service = "sshd".into();
        borrowed.source.input = "syslog-tcp".into();
        let mut owned = borrowed.clone();
        owned.source.format = Name::Owned("syslog".to_string());
        owned.source.service = Name::Owned("sshd".to_string());
        let json = serde_json::to_string(&borrowed).unwrap();
        assert_eq!(json, serde_json::to_string(&owned).unwrap());
        assert!(
            json.contains(
                r#""source":{"format":"syslog","product":"linux","service":"sshd","input":"syslog-tcp"}"#
            ),
            "{json}"
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, borrowed);
    }

    #[test]
    fn an_event_stays_small() {
        // A decoded body holds one `Event` per record and every stage moves them: the
        // rarely written parts live out of line (`Rare`). Was 912 bytes with them inline.
        let size = std::mem::size_of::<Event>();
        eprintln!("size_of::<Event>() = {size}");
        assert!(size <= 480, "an Event is {size} bytes");
    }

    #[test]
    fn time_formats_and_parses() {
        let ms = parse_time_rfc3339("2026-03-10T07:58:11Z").unwrap();
        assert_eq!(format_time_ms(ms), "2026-03-10T07:58:11.000Z");
        assert!(parse_time_rfc3339("yesterday").is_none());
    }
}
