//! ONVIF events over MQTT ("onvif-ej"): topic `<prefix>/onvif-ej/<ONVIF topic>[/&<source
//! values>]`, payload `{"UtcTime": .., "PropertyOperation": .., "Source": {..}, "Key": {..},
//! "Data": {..}}`.
//!
//! Axis devices publish their events to MQTT in a shape of their own (VAPIX "MQTT event
//! bridge"): the payload names the ONVIF topic itself, `{"topic": "onvif:Device/axis:IO/Port",
//! "timestamp": <epoch ms>, "serial": "ACCC8E...", "message": {"source": {..}, "key": {..},
//! "data": {..}}}`, whatever MQTT topic it came on. It is read as the same ONVIF message.

use crate::jv::{self, Json, JsonContainerTrait, JsonValueTrait, Value, view};
use crate::{DecodeContext, DecodeError, json, new_event, scan, time};
use onesec_event::{Activity, Event, EventClass, Status};
use std::borrow::Cow;
use std::ops::Range;

/// Decodes one ONVIF event received over MQTT (`topic` and its JSON `payload`; an empty
/// payload is a deleted property). The event's `raw` is the line `{"topic": .., "payload": ..}`
/// that format `onvif-ej` reads back.
pub fn decode_onvif_mqtt(
    topic: &str,
    payload: &[u8],
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let text = String::from_utf8_lossy(payload);
    let body = if text.trim().is_empty() {
        "null"
    } else {
        text.trim()
    };
    let raw = format!("{{\"topic\": {}, \"payload\": {body}}}", jv::quote(topic));
    if text.trim().is_empty() {
        return decode(topic, None, &raw, ctx)
            .map_err(|reason| DecodeError::new(1, reason, raw.as_str()));
    }
    let value: Value = jv::parse(payload).map_err(|e| {
        DecodeError::new(
            1,
            format!("expected a JSON payload {{\"UtcTime\", \"Source\", \"Data\"}} for topic '{topic}', found invalid JSON ({e})"),
            raw.as_str(),
        )
    })?;
    let decoded = if is_axis_event(&value) {
        // The payload is the whole event, topic included: it is its own raw line.
        decode_axis(&value, body, ctx)
    } else {
        decode(topic, Some(&value), &raw, ctx)
    };
    decoded.map_err(|reason| DecodeError::new(1, reason, raw.as_str()))
}

/// Whether `value` is an Axis MQTT event: an ONVIF or Axis topic expression (`onvif:...`,
/// `axis:...`) and a `message` object.
pub(crate) fn is_axis_event(value: &Value) -> bool {
    let [topic, message] = jv::pick(value, ["topic", "message"]);
    let onvif_topic = topic.and_then(|t| t.as_str()).is_some_and(|t| {
        ["onvif:", "axis:", "tns1:", "tnsaxis:"]
            .iter()
            .any(|prefix| t.trim_start().starts_with(prefix))
    });
    onvif_topic && message.is_some_and(|m| m.is_object())
}

/// An Axis MQTT event (see the module's text) as the ONVIF message it carries: the device is
/// its serial number, the topic's `onvif:` levels are ONVIF's own (`tns1:`), its `axis:`
/// levels Axis's (`tnsaxis:`, as in the device's SOAP notifications), and `source`, `key` and
/// `data` are the message's items.
pub(crate) fn decode_axis(value: &Value, raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    let [topic, timestamp, serial, message] =
        jv::pick(value, ["topic", "timestamp", "serial", "message"]);
    let expression = topic.and_then(|t| t.as_str()).unwrap_or_default();
    let path: String = trim_slashes(expression.trim())
        .split('/')
        .map(|level| match level.split_once(':') {
            Some(("onvif" | "tns1", name)) => name.to_string(),
            Some(("axis", name)) => format!("tnsaxis:{name}"),
            _ => level.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    if path.is_empty() {
        return Err(format!(
            "expected an Axis event topic such as 'onvif:Device/axis:IO/Port', found '{expression}'"
        ));
    }
    let [source, key, data] = message
        .map(|m| jv::pick(m, ["source", "key", "data"]))
        .unwrap_or_default();
    // The onvif-ej payload the mapping reads, written as text and parsed (see `jv`).
    let item = |v: Option<&Value>| v.filter(|v| v.is_object()).map_or("{}".into(), jv::text_of);
    let time = timestamp.map_or("null".into(), jv::text_of);
    let payload = jv::parse_str(&format!(
        "{{\"UtcTime\": {time}, \"Source\": {}, \"Key\": {}, \"Data\": {}}}",
        item(source),
        item(key),
        item(data)
    ))?;
    let parsed = Topic {
        device: serial.and_then(|s| s.as_str()).and_then(scan::non_empty),
        path: Cow::Owned(path),
        source_values: None,
    };
    decode_message(&parsed, Some(&payload), raw, ctx, "onvif-ej")
}

/// Decodes a line `{"topic": "...", "payload": {...}}` (the payload may also be a JSON string),
/// or an Axis MQTT event line.
pub(crate) fn decode_line(value: &Value, raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    let [topic_value, payload_value] = jv::pick(value, ["topic", "payload"]);
    // Axis's shape has no `payload` (its message is in `message`).
    if payload_value.is_none() && is_axis_event(value) {
        return decode_axis(value, raw, ctx);
    }
    let Some(topic) = topic_value.and_then(|t| t.as_str()) else {
        return Err(format!(
            "expected an onvif-ej line with a string 'topic' and a 'payload', found 'topic' = {}",
            topic_value.map_or("nothing".into(), |t| scan::preview(&t.to_string(), 40))
        ));
    };
    let parsed;
    let payload = match payload_value.map(|p| (p, view(p))) {
        None | Some((_, Json::Null)) => None,
        Some((_, Json::Str(text))) if text.trim().is_empty() => None,
        Some((_, Json::Str(text))) => {
            parsed = jv::parse_str(text).map_err(|e| {
                format!("expected the payload string to hold ONVIF JSON, found invalid JSON ({e})")
            })?;
            Some(&parsed)
        }
        Some((other, _)) => Some(other),
    };
    decode(topic, payload, raw, ctx)
}

/// The parts of an ONVIF topic, as both framings (onvif-ej MQTT, SOAP XML) give them.
pub(crate) struct Topic<'a> {
    /// Last level of the prefix before `/onvif-ej/`: the device.
    pub(crate) device: Option<&'a str>,
    /// The ONVIF topic without `tns1:` (vendor aliases kept), e.g. `Door/State/DoorAlarm`.
    pub(crate) path: Cow<'a, str>,
    /// The `/`-separated source values, e.g. `1/2/MyImportantFence1`.
    pub(crate) source_values: Option<Cow<'a, str>>,
}

/// An XML topic expression (`tns1:Door/State/DoorAlarm`) in the onvif-ej path form the
/// mapping reads: `tns1:` dropped per level, vendor aliases kept (Core, "event broker").
pub(crate) fn topic_path(expression: &str) -> Cow<'_, str> {
    let trimmed = trim_slashes(expression.trim());
    // onvif-ej topics have no `tns1:`: the path is the topic itself.
    if scan::find_str(trimmed, "tns1:").is_none() {
        return Cow::Borrowed(trimmed);
    }
    trimmed
        .split('/')
        .map(|level| level.strip_prefix("tns1:").unwrap_or(level))
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

fn parse_topic(topic: &str) -> Topic<'_> {
    let topic = trim_slashes(topic.trim());
    let (prefix, rest) = match scan::find_str(topic, "/onvif-ej/") {
        Some(i) => (Some(&topic[..i]), &topic[i + "/onvif-ej/".len()..]),
        None => (None, topic.strip_prefix("onvif-ej/").unwrap_or(topic)),
    };
    let device = prefix
        .map(|p| scan::after_last(p, b'/'))
        .and_then(scan::non_empty);
    let (path, source_values) = match scan::find_str(rest, "/&") {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    Topic {
        device,
        path: topic_path(path),
        source_values: source_values.map(Cow::Borrowed),
    }
}

fn decode(
    topic: &str,
    payload: Option<&Value>,
    raw: &str,
    ctx: &DecodeContext,
) -> Result<Event, String> {
    let parsed = parse_topic(topic);
    if parsed.path.is_empty() {
        return Err(format!(
            "expected an MQTT topic '<prefix>/onvif-ej/<ONVIF topic>', found '{topic}'"
        ));
    }
    decode_message(&parsed, payload, raw, ctx, "onvif-ej")
}

/// The mapping both framings share: one ONVIF message (topic, and the payload in onvif-ej JSON
/// form, `None` for a deleted property) to an event. The SOAP XML decoder builds the same JSON
/// payload from the `SimpleItem`s, so the same message gives the same event either way.
pub(crate) fn decode_message(
    parsed: &Topic<'_>,
    payload: Option<&Value>,
    raw: &str,
    ctx: &DecodeContext,
    format: &'static str,
) -> Result<Event, String> {
    if let Some(payload) = payload
        && !payload.is_object()
    {
        return Err(format!(
            "expected the payload to be a JSON object with UtcTime, Source and Data, found {}",
            json::type_name(payload)
        ));
    }
    // The payload's keys, read in one pass (likewise the items of Source and Data below).
    let [
        utc_time,
        operation,
        operation_attribute,
        source,
        key_section,
        data,
    ] = payload
        .map(|p| {
            jv::pick(
                p,
                [
                    "UtcTime",
                    "PropertyOperation",
                    "@PropertyOperation",
                    "Source",
                    "Key",
                    "Data",
                ],
            )
        })
        .unwrap_or_default();
    let time_ms = match utc_time {
        None => None,
        Some(value) => Some(time::parse_value(value).ok_or_else(|| {
            format!(
                "expected UtcTime as an RFC 3339 time, found {}",
                scan::preview(&value.to_string(), 40)
            )
        })?),
    };
    let mut event = new_event(ctx, format, raw, time_ms, EventClass::Base, Activity::Other);
    event.source.product = "onvif".into();
    // The levels the mapping matches on (it looks at no more than the first few).
    let mut level_buf = [""; MAX_LEVELS];
    let mut depth = 0;
    // What `split('/')` gives, cut at bytes `memchr` finds (the `char` searcher's set-up cost
    // more than these few short levels).
    let mut rest: &str = &parsed.path;
    for slot in level_buf.iter_mut() {
        let (level, next) = match memchr::memchr(b'/', rest.as_bytes()) {
            // `/` is ASCII: both sides start at a `char` boundary.
            Some(at) => (rest.get(..at).unwrap_or_default(), rest.get(at + 1..)),
            None => (rest, None),
        };
        *slot = bare(level);
        depth += 1;
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    let levels = &level_buf[..depth];
    event.source.service = levels
        .first()
        .map(|l| crate::name_lowercase(l))
        .unwrap_or_default();
    event.host = parsed.device.map(str::to_string);

    let fields = &mut event.fields;
    // Keys and values are shorter than the line: one allocation.
    fields.reserve(8, raw.len());
    fields.insert("onvif.topic", &parsed.path);
    if let Some(values) = &parsed.source_values {
        fields.insert("onvif.topic_source", values);
    }
    let operation = operation.or(operation_attribute);
    match (payload, operation.and_then(|o| o.as_str())) {
        (None, _) => {
            fields.insert("onvif.property_operation", "Deleted");
        }
        (Some(_), Some(operation)) => {
            fields.insert("onvif.property_operation", operation);
        }
        _ => {}
    }
    // One key buffer for every item of every section; the items sorted in once at the end.
    let mut key = String::with_capacity(64);
    let mut batch = fields.batch();
    for (section, prefix) in [
        (source, "onvif.source."),
        (key_section, "onvif.key."),
        (data, "onvif.data."),
    ] {
        if let Some(items) = section.and_then(|s| s.as_object()) {
            for (name, value) in items.iter() {
                key.clear();
                key.push_str(prefix);
                // `trim_start_matches('@')`, a byte at a time (`@` is ASCII).
                let at_signs = name.bytes().take_while(|&b| b == b'@').count();
                key.push_str(name.get(at_signs..).unwrap_or_default());
                json::flatten_at(&mut key, value, &mut batch);
            }
        }
    }
    drop(batch);

    let source_items = source
        .map(|s| jv::pick(s, SOURCE_ITEMS))
        .unwrap_or_default();
    let data_items = data.map(|d| jv::pick(d, DATA_ITEMS)).unwrap_or_default();
    event.physical.reader = first_text(&source_items[SOURCE_READER]);
    event.physical.portal = first_text(&source_items[SOURCE_PORTAL]);
    event.physical.camera = first_text(&source_items[SOURCE_CAMERA]);
    event.actor.badge =
        first_text(&data_items[DATA_BADGE]).or_else(|| first_text(&source_items[SOURCE_BADGE]));
    event.actor.holder_name = first_text(&data_items[DATA_HOLDER]);
    event.physical.reason = first_text(&data_items[DATA_REASON]);
    let state = first_text(&data_items[DATA_STATE]);
    let flag = state.as_deref().and_then(parse_flag);
    classify(&mut event, levels, state.as_deref(), flag);
    event.physical.state = state;
    if event.activity == Activity::DeviceAuthFailed
        && let Some(ip) = first_text(&data_items[DATA_IP])
            .or_else(|| first_text(&source_items[SOURCE_IP]))
            .and_then(|t| scan::ip(&t))
    {
        event.src.ip = Some(ip);
    }
    event.message = summary(&parsed.path, [source, data]);
    Ok(event)
}

/// The `Source` items the mapping reads, each role's names in order of preference (the
/// ranges below index this list).
const SOURCE_ITEMS: [&str; 9] = [
    "AccessPointToken",
    "DoorToken",
    "VideoSourceToken",
    "VideoSource",
    "Source",
    "VideoSourceConfigurationToken",
    "CredentialToken",
    "SourceIPv4",
    "SourceIPv6",
];
const SOURCE_READER: Range<usize> = 0..1;
const SOURCE_PORTAL: Range<usize> = 1..2;
const SOURCE_CAMERA: Range<usize> = 2..6;
const SOURCE_BADGE: Range<usize> = 6..7;
const SOURCE_IP: Range<usize> = 7..9;

/// The `Data` items the mapping reads, as [`SOURCE_ITEMS`].
const DATA_ITEMS: [&str; 15] = [
    "CredentialToken",
    "IdentifierValue",
    "Card",
    "CredentialHolderName",
    "Reason",
    "State",
    "IsMotion",
    "IsTamper",
    "ApbViolation",
    "LogicalState",
    // `RuleEngine/FieldDetector/ObjectsInside`.
    "IsInside",
    // Axis application and I/O topics name their state items in lower case.
    "active",
    "state",
    "SourceIPv4",
    "SourceIPv6",
];
const DATA_BADGE: Range<usize> = 0..3;
const DATA_HOLDER: Range<usize> = 3..4;
const DATA_REASON: Range<usize> = 4..5;
const DATA_STATE: Range<usize> = 5..13;
const DATA_IP: Range<usize> = 13..15;

/// The first of `candidates` (items in order of preference) that is a scalar, as text, unless
/// that text is blank.
fn first_text(candidates: &[Option<&Value>]) -> Option<String> {
    candidates
        .iter()
        .find_map(|item| json::scalar_text((*item)?))
        .filter(|t| !t.trim().is_empty())
}

/// Topic levels the mapping reads; deeper levels are not looked at.
const MAX_LEVELS: usize = 8;

/// A topic level without its namespace alias (`tns1:Door` and `tnsaxis:Door` give `Door`).
/// `text` without the `/`s at either end: `trim_matches('/')` a byte at a time (the `char`
/// pattern's set-up cost 2 % of decoding an onvif-ej line, called twice per topic).
fn trim_slashes(text: &str) -> &str {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(start, |at| at + 1);
    // `/` is ASCII: both ends are `char` boundaries.
    text.get(start..end).unwrap_or_default()
}

fn bare(level: &str) -> &str {
    scan::after_last(level, b':')
}

fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "active" => Some(true),
        "false" | "0" | "inactive" => Some(false),
        _ => None,
    }
}

/// Class, activity and status from the topic and the state value.
fn classify(event: &mut Event, levels: &[&str], state: Option<&str>, flag: Option<bool>) {
    use Activity as A;
    use EventClass as C;
    let (class, activity, status) = match levels {
        ["AccessControl", "AccessGranted", ..] => {
            (C::PhysicalAccess, A::AccessGranted, Status::Success)
        }
        ["AccessControl", "AccessTaken", ..] => {
            (C::PhysicalAccess, A::AccessTaken, Status::Success)
        }
        ["AccessControl", "AccessNotTaken", ..] => {
            (C::PhysicalAccess, A::AccessNotTaken, Status::Unknown)
        }
        ["AccessControl", "Denied", rest @ ..] => {
            if rest.first() == Some(&"CredentialNotFound") && event.physical.reason.is_none() {
                event.physical.reason = Some("CredentialNotFound".into());
            }
            (C::PhysicalAccess, A::AccessDenied, Status::Failure)
        }
        ["AccessControl", "Duress", ..] => (C::PhysicalAccess, A::Duress, Status::Unknown),
        ["Door", "State", "DoorAlarm", ..] => match state {
            Some("DoorForcedOpen") => (C::PhysicalAccess, A::PortalForced, Status::Unknown),
            Some("DoorOpenTooLong") => (C::PhysicalAccess, A::PortalHeldOpen, Status::Unknown),
            Some("Normal") => (C::PhysicalAccess, A::PortalNormal, Status::Unknown),
            _ => (C::PhysicalAccess, A::Other, Status::Unknown),
        },
        ["Door", "State", "DoorTamper", ..] => match state {
            Some("TamperDetected") => (C::PhysicalAccess, A::Tamper, Status::Unknown),
            Some("NotInTamper") => (C::PhysicalAccess, A::PortalNormal, Status::Unknown),
            _ => (C::PhysicalAccess, A::Other, Status::Unknown),
        },
        // Door and lock states are reported in `state`; only a fault needs attention.
        [
            "Door",
            "State",
            "DoorMode" | "DoorPhysicalState" | "LockPhysicalState" | "DoubleLockPhysicalState",
            ..,
        ] => match state {
            Some("Fault") => (C::DeviceHealth, A::HardwareFailure, Status::Failure),
            _ => (C::PhysicalAccess, A::Other, Status::Unknown),
        },
        ["Door", "State", "DoorFault", ..] => match state {
            Some("FaultDetected") => (C::DeviceHealth, A::HardwareFailure, Status::Failure),
            Some("NotInFault") => (C::DeviceHealth, A::Cleared, Status::Unknown),
            _ => (C::Base, A::Other, Status::Unknown),
        },
        ["Credential", "State", "ApbViolation", ..] => match flag {
            Some(false) => (C::PhysicalAccess, A::Other, Status::Unknown),
            _ => (C::PhysicalAccess, A::AntipassbackViolation, Status::Failure),
        },
        [
            "VideoSource",
            "ImageTooDark" | "ImageTooBlurry" | "ImageTooBright" | "GlobalSceneChange"
            | "ImpairedVisibility",
            ..,
        ]
        | ["RuleEngine", "TamperDetector", "Tamper", ..] => match flag {
            Some(false) => (C::VideoAnalytics, A::Cleared, Status::Unknown),
            _ => (C::VideoAnalytics, A::VideoTamper, Status::Unknown),
        },
        ["VideoSource", "SignalLoss", ..] => match flag {
            Some(false) => (C::VideoAnalytics, A::Cleared, Status::Unknown),
            _ => (C::VideoAnalytics, A::SignalLoss, Status::Unknown),
        },
        ["VideoSource", "MotionAlarm", ..]
        | ["Device", "Sensor", "PIR", ..]
        | ["RuleEngine", "VMD3", ..]
        | ["CameraApplicationPlatform", "VMD" | "MotionGuard", ..] => motion(flag),
        ["RuleEngine", detector, ..] if detector.contains("Motion") => motion(flag),
        [
            "CameraApplicationPlatform",
            "ObjectAnalytics" | "FenceGuard" | "LoiteringGuard",
            ..,
        ] => match flag {
            Some(false) => (C::VideoAnalytics, A::Cleared, Status::Unknown),
            _ => (C::VideoAnalytics, A::ObjectDetected, Status::Unknown),
        },
        // The ONVIF field rule: objects inside a field, or none any more. (`LineDetector`
        // stays a base event: the ONVIF examples test holds it there.)
        ["RuleEngine", "FieldDetector", "ObjectsInside", ..] => match flag {
            Some(false) => (C::VideoAnalytics, A::Cleared, Status::Unknown),
            _ => (C::VideoAnalytics, A::ObjectDetected, Status::Unknown),
        },
        // What a contact input means (door contact, alarm panel zone) is wiring the device does
        // not know: an alarm signal whose state rules can read.
        ["Device", "Trigger", "DigitalInput", ..]
        | ["Device", "IO", "Port" | "VirtualInput", ..]
        // Hanwha (`tns1:Device/tnssamsung:DigitalInput`) leaves out `Trigger`.
        | ["Device", "DigitalInput", ..] => {
            (C::AlarmSignal, A::Other, Status::Unknown)
        }
        ["Device", "SecurityPolicy", "AuthFailed", ..] => {
            (C::DeviceHealth, A::DeviceAuthFailed, Status::Failure)
        }
        ["Device", "HardwareFailure", ..] => (C::DeviceHealth, A::HardwareFailure, Status::Failure),
        ["Media", "ConfigurationChanged" | "ProfileChanged", ..] | ["Configuration", ..] => {
            (C::DeviceHealth, A::ConfigChanged, Status::Success)
        }
        _ => (C::Base, A::Other, Status::Unknown),
    };
    event.class = class;
    event.activity = activity;
    event.status = status;
}

fn motion(flag: Option<bool>) -> (EventClass, Activity, Status) {
    match flag {
        Some(false) => (
            EventClass::VideoAnalytics,
            Activity::Cleared,
            Status::Unknown,
        ),
        _ => (
            EventClass::VideoAnalytics,
            Activity::Motion,
            Status::Unknown,
        ),
    }
}

/// `Door/State/DoorAlarm DoorToken=PAR-D-SRV State=DoorForcedOpen`.
fn summary(path: &str, sections: [Option<&Value>; 2]) -> String {
    let mut text = String::with_capacity(path.len() + 64);
    text.push_str(path);
    for section in sections {
        if let Some(items) = section.and_then(|s| s.as_object()) {
            for (name, value) in items.iter() {
                let value = json::scalar_str(value).unwrap_or_else(|| value.to_string().into());
                text.push(' ');
                text.push_str(name);
                text.push('=');
                text.push_str(&value);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DecodeContext {
        DecodeContext::new("mqtt", 5)
    }

    #[test]
    fn slashes_are_trimmed_as_trim_matches_does() {
        for text in ["", "/", "//", "a", "/a/", "//a/b//", "é/", "/é", "a/b"] {
            assert_eq!(trim_slashes(text), text.trim_matches('/'), "{text:?}");
        }
    }

    #[test]
    fn an_axis_payload_on_any_mqtt_topic_is_its_own_onvif_message() {
        let payload = br#"{"topic":"onvif:Device/axis:Sensor/PIR","timestamp":1795749601000,"serial":"ACCC8E5A1B2C","message":{"source":{"sensor":"0"},"key":{},"data":{"state":"1"}}}"#;
        let event = decode_onvif_mqtt(
            "axis/ACCC8E5A1B2C/event/tns:onvif/Device/tns:axis/Sensor/PIR",
            payload,
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            (event.class, event.activity),
            (EventClass::VideoAnalytics, Activity::Motion)
        );
        assert_eq!(event.host.as_deref(), Some("ACCC8E5A1B2C"));
        assert_eq!(event.time_ms, 1_795_749_601_000);
        assert_eq!(
            event.raw.as_bytes(),
            payload,
            "the payload is its own raw line"
        );
        // Not Axis's shape: a payload with a `message` text, or a topic of no ONVIF namespace.
        for other in [
            r#"{"topic":"onvif:Device/axis:Sensor/PIR","message":"hello"}"#,
            r#"{"topic":"shop/orders","message":{"data":{}}}"#,
        ] {
            let value = jv::parse_str(other).unwrap();
            assert!(!is_axis_event(&value), "{other}");
        }
    }

    #[test]
    fn field_rule_and_hanwha_inputs() {
        let decode = |topic: &str, data: &str| {
            let line = format!(
                r#"{{"topic": "cam/onvif-ej/{topic}", "payload": {{"UtcTime": "2026-11-27T03:27:05Z", "Data": {data}}}}}"#
            );
            let value = crate::jv::parse_str(&line).unwrap();
            let e = decode_line(&value, &line, &ctx()).unwrap();
            (e.class, e.activity)
        };
        assert_eq!(
            decode(
                "RuleEngine/FieldDetector/ObjectsInside",
                r#"{"IsInside": "false"}"#
            ),
            (EventClass::VideoAnalytics, Activity::Cleared)
        );
        assert_eq!(
            decode(
                "Device/tnssamsung:DigitalInput",
                r#"{"LogicalState": "true"}"#
            )
            .0,
            EventClass::AlarmSignal
        );
    }

    #[test]
    fn topic_grammar() {
        let t = parse_topic("acme/ctl-par-01/onvif-ej/Door/State/DoorAlarm/&PAR-D-MAIN");
        assert_eq!(
            (t.device, &*t.path, t.source_values.as_deref()),
            (
                Some("ctl-par-01"),
                "Door/State/DoorAlarm",
                Some("PAR-D-MAIN")
            )
        );
        let t =
            parse_topic("MyDevice/onvif-ej/RuleEngine/LineDetector/Crossed/&1/2/MyImportantFence1");
        assert_eq!(
            (t.device, &*t.path, t.source_values.as_deref()),
            (
                Some("MyDevice"),
                "RuleEngine/LineDetector/Crossed",
                Some("1/2/MyImportantFence1")
            )
        );
        let t = parse_topic("tns1:VideoSource/tnsaxis:DayNightVision");
        assert_eq!(
            (t.device, &*t.path),
            (None, "VideoSource/tnsaxis:DayNightVision")
        );
    }

    #[test]
    fn mqtt_payload_and_deleted_property() {
        let e = decode_onvif_mqtt(
            "site/cam1/onvif-ej/VideoSource/SignalLoss/&VideoSource_1",
            br#"{"UtcTime":"2026-03-10T21:46:50Z","PropertyOperation":"Changed","Source":{"Source":"VideoSource_1"},"Data":{"State":true}}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            (e.class, e.activity),
            (EventClass::VideoAnalytics, Activity::SignalLoss)
        );
        assert_eq!(e.physical.camera.as_deref(), Some("VideoSource_1"));
        assert_eq!(e.host.as_deref(), Some("cam1"));
        assert_eq!(&e.fields["onvif.data.State"], "true");
        let back = crate::decode_bytes(&crate::Format::OnvifEj, e.raw.as_bytes(), &ctx());
        assert_eq!(back.events.len(), 1, "{:?}", back.errors);
        let e =
            decode_onvif_mqtt("site/ctl/onvif-ej/Door/State/DoorAlarm/&D1", b"", &ctx()).unwrap();
        assert_eq!(&e.fields["onvif.property_operation"], "Deleted");
        assert_eq!(e.time_ms, 5);
        let err = decode_onvif_mqtt(
            "site/ctl/onvif-ej/Door/State/DoorAlarm",
            b"{\"UtcTime\": ",
            &ctx(),
        )
        .unwrap_err();
        assert!(err.reason.contains("invalid JSON"), "{}", err.reason);
        let err = decode_onvif_mqtt("site/ctl/onvif-ej/Door", b"{\"UtcTime\": \"noon\"}", &ctx())
            .unwrap_err();
        assert!(err.reason.contains("UtcTime"), "{}", err.reason);
    }

    #[test]
    fn device_auth_failed_and_apb() {
        let e = decode_onvif_mqtt(
            "x/cam/onvif-ej/Device/SecurityPolicy/AuthFailed/&eth0",
            br#"{"UtcTime":"2026-03-10T01:00:00Z","Source":{"NetworkInterface":"eth0"},"Data":{"SourceIPv4":"192.0.2.9"}}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            (e.class, e.activity, e.status),
            (
                EventClass::DeviceHealth,
                Activity::DeviceAuthFailed,
                Status::Failure
            )
        );
        assert_eq!(e.src.ip, "192.0.2.9".parse().ok());
        let e = decode_onvif_mqtt(
            "x/ctl/onvif-ej/Credential/State/ApbViolation/&C1",
            br#"{"UtcTime":"2026-03-10T01:00:00Z","Source":{"CredentialToken":"C1"},"Data":{"ApbViolation":"true"}}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(e.activity, Activity::AntipassbackViolation);
        assert_eq!(e.actor.badge.as_deref(), Some("C1"));
    }
}
