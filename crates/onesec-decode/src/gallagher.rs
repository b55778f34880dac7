//! Gallagher Command Centre REST API events ("gallagher"): the `EventSummary` / `EventDetail`
//! objects that `GET /api/events` and `/api/events/updates` return (field names as in
//! Gallagher's published `eventsApi.yaml`), one per line, or a whole page
//! `{"events": [...], "next": {...}, "updates": {...}}`.
//!
//! What happened comes from the event type's name (`eventType.name`, or the deprecated `type`
//! block) and its group (`group.name`): granted / denied, forced door, door open too long,
//! duress, tamper, anti-passback, tailgating, alarms. The card number is the badge, the
//! cardholder's name the holder name, the door (or, for card events, the source, which is the
//! door) the portal; access zones, division, alarm state, priority and the Gallagher ids are
//! kept as `gallagher.*` fields.

use crate::jv::{self, JsonContainerTrait, JsonValueTrait, Value};
use crate::{DecodeContext, json, new_event, time};
use onesec_event::{Activity, Direction, Event, EventClass, Severity, Status};

/// Whether a JSON object looks like a Command Centre event (for auto-detection): an
/// `eventType` (or `type`) block with a name, and a `source` block.
pub(crate) fn looks_like(value: &Value) -> bool {
    let named = |key: &str| jv::at(value, &[key, "name"]).is_some();
    (named("eventType") || named("type")) && value.get("source").is_some_and(|s| s.is_object())
}

/// The events of a page (`{"events": [...]}`), if `value` is one.
pub(crate) fn page_events(value: &Value) -> Option<&[Value]> {
    value.get("events")?.as_array().map(|items| &items[..])
}

/// Decodes one `EventSummary` object.
pub(crate) fn decode(value: &Value, raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    if !value.is_object() {
        return Err(format!(
            "expected a Command Centre event object, found {}",
            json::type_name(value)
        ));
    }
    let text = |pointer: &str| jv::pointer(value, pointer).and_then(json::scalar_text);
    let type_name = text("/eventType/name")
        .or_else(|| text("/type/name"))
        .ok_or("a Command Centre event needs eventType.name (or type.name): what happened")?;
    let group = text("/group/name").unwrap_or_default();
    let time_ms = match value.get("time") {
        None => None,
        Some(t) if t.is_null() => None,
        Some(t) => Some(time::parse_value(t).ok_or_else(|| {
            format!(
                "time {} is not an ISO-8601 time (expected e.g. 2016-02-18T19:21:52Z)",
                t
            )
        })?),
    };
    let (class, activity, status) = classify(&type_name, &group);
    let mut event = new_event(ctx, "gallagher", raw, time_ms, class, activity);
    event.status = status;
    event.source.product = "gallagher_command_centre".into();
    event.source.service = "events".into();
    event.message = text("/message").unwrap_or_else(|| type_name.clone());
    if let Some(priority) = value.get("priority").and_then(|p| p.as_u64()) {
        event.severity = severity(priority);
        event.fields.insert_display("gallagher.priority", &priority);
    }
    event.actor.badge = text("/card/number");
    event.actor.holder_name = text("/cardholder/name").or_else(|| {
        match (text("/cardholder/firstName"), text("/cardholder/lastName")) {
            (Some(first), Some(last)) => Some(format!("{last}, {first}")),
            (first, last) => first.or(last),
        }
    });
    // Card events come from the door; other events may name a door besides their source.
    let source_name = text("/source/name");
    let door = text("/door/name").or_else(|| {
        (class == EventClass::PhysicalAccess && activity != Activity::Other)
            .then(|| source_name.clone())
            .flatten()
    });
    event.physical.portal = door;
    event.host = text("/serverDisplayName");
    let lower = type_name.to_ascii_lowercase();
    if lower.contains("exit") {
        event.physical.direction = Some(Direction::Out);
    } else if lower.contains("entry") {
        event.physical.direction = Some(Direction::In);
    }
    if activity == Activity::AccessDenied {
        // "Card access denied: No access" → the part after the colon is the reason.
        event.physical.reason = type_name
            .split_once(':')
            .map(|(_, reason)| reason.trim().to_string())
            .filter(|r| !r.is_empty());
    }
    let fields = [
        ("gallagher.event_id", "/id"),
        ("gallagher.event_type", "/eventType/name"),
        ("gallagher.event_type_id", "/eventType/id"),
        ("gallagher.group", "/group/name"),
        ("gallagher.group_id", "/group/id"),
        ("gallagher.source.id", "/source/id"),
        ("gallagher.source.name", "/source/name"),
        ("gallagher.cardholder.id", "/cardholder/id"),
        ("gallagher.cardholder.href", "/cardholder/href"),
        ("gallagher.door.href", "/door/href"),
        ("gallagher.entry_zone", "/entryAccessZone/name"),
        ("gallagher.exit_zone", "/exitAccessZone/name"),
        ("gallagher.alarm_state", "/alarm/state"),
        ("gallagher.division_id", "/division/id"),
        ("gallagher.card.facility_code", "/card/facilityCode"),
        ("gallagher.card.issue_level", "/card/issueLevel"),
        ("gallagher.operator", "/operator/name"),
        ("gallagher.occurrences", "/occurrences"),
        ("gallagher.details", "/details"),
    ];
    for (field, pointer) in fields {
        if let Some(value) = text(pointer) {
            event.fields.insert(field, &value);
        }
    }
    if !event.fields.contains_key("gallagher.event_type") {
        event.fields.insert("gallagher.event_type", &type_name);
    }
    Ok(event)
}

/// Class, activity and status from the event type's and group's names.
fn classify(type_name: &str, group: &str) -> (EventClass, Activity, Status) {
    use Activity as A;
    use EventClass as C;
    let name = format!("{} | {}", type_name, group).to_ascii_lowercase();
    let has = |word: &str| name.contains(word);
    if has("duress") {
        (C::PhysicalAccess, A::Duress, Status::Unknown)
    } else if has("forced") {
        (C::PhysicalAccess, A::PortalForced, Status::Unknown)
    } else if has("open too long") || has("held open") || has("left open") || has("door open alarm")
    {
        (C::PhysicalAccess, A::PortalHeldOpen, Status::Unknown)
    } else if has("passback") {
        (C::PhysicalAccess, A::AntipassbackViolation, Status::Failure)
    } else if has("tailgat") {
        (C::PhysicalAccess, A::Tailgate, Status::Unknown)
    } else if has("tamper") {
        (C::PhysicalAccess, A::Tamper, Status::Unknown)
    } else if type_name.to_ascii_lowercase().contains("logon failed") {
        (C::DeviceHealth, A::DeviceAuthFailed, Status::Failure)
    } else if has("denied")
        || has("not authorised")
        || has("unauthorised")
        || has("invalid card")
        || has("no access")
    {
        (C::PhysicalAccess, A::AccessDenied, Status::Failure)
    } else if has("granted") {
        (C::PhysicalAccess, A::AccessGranted, Status::Success)
    } else if has("door closed") || has("door secure") {
        (C::PhysicalAccess, A::PortalNormal, Status::Unknown)
    } else if has(" armed") || has("disarmed") || has("set by") || has("unset by") {
        // An alarm zone armed or disarmed by an operator or a user: no intrusion.
        (C::AlarmSignal, A::Other, Status::Success)
    } else if has("fence") {
        (C::AlarmSignal, A::Perimeter, Status::Unknown)
    } else if has("intrusion") || has("alarm zone") || has("zone alarm") {
        (C::AlarmSignal, A::Intrusion, Status::Unknown)
    } else if has("offline") || has("comms") || has("communication") {
        (C::DeviceHealth, A::Disconnected, Status::Failure)
    } else {
        (C::PhysicalAccess, A::Other, Status::Unknown)
    }
}

/// Command Centre priorities 0–9 (9 critical; 2 and up are alarms by default).
fn severity(priority: u64) -> Severity {
    match priority {
        0 | 1 => Severity::Informational,
        2..=3 => Severity::Low,
        4..=5 => Severity::Medium,
        6..=7 => Severity::High,
        _ => Severity::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_type_and_group_names() {
        use Activity as A;
        for (name, group, activity) in [
            ("Card entry granted", "Card Event", A::AccessGranted),
            ("Card exit granted", "Card Event", A::AccessGranted),
            (
                "Card access denied: No access",
                "Card Event",
                A::AccessDenied,
            ),
            ("Forced door", "Door Alarms", A::PortalForced),
            ("Door open too long", "Door Alarms", A::PortalHeldOpen),
            ("Duress", "Duress", A::Duress),
            ("Enclosure tamper", "Tamper", A::Tamper),
            (
                "Hard anti-passback violation",
                "Card Event",
                A::AntipassbackViolation,
            ),
            (
                "Operator logon failed",
                "Invalid Logon",
                A::DeviceAuthFailed,
            ),
            ("Something else", "Misc", A::Other),
            ("Alarm zone armed", "Alarm Zone Event", A::Other),
            ("Alarm zone disarmed", "Alarm Zone Event", A::Other),
            ("Alarm zone alarm", "Alarm Zone Event", A::Intrusion),
            ("Fence zone alarm", "Fence Zone Event", A::Perimeter),
        ] {
            assert_eq!(classify(name, group).1, activity, "{name}");
        }
        assert_eq!(severity(9), Severity::Critical);
        assert_eq!(severity(0), Severity::Informational);
    }
}
