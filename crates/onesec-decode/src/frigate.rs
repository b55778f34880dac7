//! Frigate NVR over MQTT ("frigate"): `frigate/events` and `frigate/reviews` (`type` new /
//! update / end with `before` and `after`), `frigate/tracked_object_update`, `frigate/triggers`,
//! and the plain-text status topics (`frigate/available`, `frigate/<camera>/status/<role>`,
//! `frigate/<camera>/motion`, `frigate/<camera>/review_status`, `frigate/<camera>/<object>`).

use crate::jv::{self, Json, JsonContainerTrait, JsonValueTrait, Value, view};
use crate::{DecodeContext, DecodeError, json, new_event, time};
use onesec_event::{Activity, Event, EventClass, Status};

/// Decodes one Frigate MQTT message (topic and payload, JSON or plain text). The event's `raw`
/// is the line `{"topic": .., "payload": ..}` that format `frigate` reads back.
pub fn decode_frigate_mqtt(
    topic: &str,
    payload: &[u8],
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let text = String::from_utf8_lossy(payload);
    let value = jv::parse_str(text.trim()).unwrap_or_else(|_| jv::string(text.trim()));
    let raw = format!(
        "{{\"topic\":{},\"payload\":{}}}",
        jv::quote(topic),
        jv::text_of(&value)
    );
    decode(Some(topic), &value, &raw, ctx).map_err(|reason| DecodeError::new(1, reason, raw))
}

/// Decodes a line `{"topic": "frigate/...", "payload": ...}` or a bare `frigate/events`,
/// `frigate/reviews` or `tracked_object_update` payload (recognised by its keys).
pub(crate) fn decode_line(value: &Value, raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    match (
        value.get("topic").and_then(|t| t.as_str()),
        value.get("payload"),
    ) {
        (Some(topic), Some(payload)) => decode(Some(topic), payload, raw, ctx),
        _ => decode(None, value, raw, ctx),
    }
}

fn decode(
    topic: Option<&str>,
    payload: &Value,
    raw: &str,
    ctx: &DecodeContext,
) -> Result<Event, String> {
    let levels: Vec<&str> = topic
        .map(|t| t.trim_matches('/').split('/').skip(1).collect())
        .unwrap_or_default();
    let kind = match levels.as_slice() {
        [] => shape_of(payload),
        [name] => *name,
        [_, "status", _] => "status",
        // `frigate/<camera>/audio/<type>` (Frigate 0.13+ audio detection): ON / OFF; the
        // `dBFS` and `rms` levels are numbers.
        [_, "audio", _] => "audio",
        [_, name] => match *name {
            "motion" | "review_status" => name,
            _ => "object_count",
        },
        _ => "other",
    };
    let mut event = new_event(
        ctx,
        "frigate",
        raw,
        None,
        EventClass::VideoAnalytics,
        Activity::Other,
    );
    event.source.product = "frigate".into();
    event.source.service = crate::name(kind);
    if let Some(topic) = topic {
        event.fields.insert("frigate.topic", topic);
    }
    match kind {
        "events" => tracked_object(&mut event, payload)?,
        "reviews" => review(&mut event, payload)?,
        "tracked_object_update" => object_update(&mut event, payload),
        "triggers" => trigger(&mut event, payload),
        _ => plain(&mut event, kind, &levels, payload),
    }
    Ok(event)
}

/// Which topic a bare payload came from, by its keys.
fn shape_of(payload: &Value) -> &'static str {
    let after = payload.get("after");
    if after.and_then(|a| a.get("label")).is_some() {
        "events"
    } else if after.and_then(|a| a.get("severity")).is_some() {
        "reviews"
    } else if payload.get("event_id").is_some() {
        "triggers"
    } else if payload.get("id").is_some() && payload.get("type").is_some() {
        "tracked_object_update"
    } else {
        "other"
    }
}

/// `frigate/events`: the object as it is now (`after`), with the lifecycle step in
/// `frigate.type`. Time: start for `new`, end for `end`, the frame otherwise.
fn tracked_object(event: &mut Event, payload: &Value) -> Result<(), String> {
    let step = text(payload, "type").unwrap_or_default();
    let Some(after) = payload.get("after").filter(|a| a.is_object()) else {
        return Err("expected a frigate/events payload with an 'after' object".into());
    };
    let time_key = match step.as_str() {
        "new" => "start_time",
        "end" => "end_time",
        _ => "frame_time",
    };
    event.time_ms = epoch(after, time_key)
        .or_else(|| epoch(after, "frame_time"))
        .unwrap_or(event.time_ms);
    event.activity = Activity::ObjectDetected;
    event.physical.camera = text(after, "camera");
    let f = &mut event.fields;
    f.insert("frigate.type", &step);
    for key in [
        "id",
        "label",
        "sub_label",
        "score",
        "top_score",
        "false_positive",
        "has_snapshot",
        "has_clip",
        "stationary",
        "recognized_license_plate",
    ] {
        if let Some(value) = after.get(key).and_then(scalar_or_first) {
            f.insert(&format!("frigate.{key}"), &value);
        }
    }
    for key in ["start_time", "end_time"] {
        if let Some(ms) = epoch(after, key) {
            f.insert(&format!("frigate.{key}"), &onesec_event::format_time_ms(ms));
        }
    }
    for key in ["current_zones", "entered_zones"] {
        f.insert(&format!("frigate.{key}"), &list(after, key));
    }
    event.message = format!(
        "Frigate {step}: {} on {} (score {})",
        text(after, "label").unwrap_or_default(),
        event.physical.camera.as_deref().unwrap_or("?"),
        text(after, "top_score").unwrap_or_default()
    );
    Ok(())
}

/// `frigate/reviews`: a review item (alert or detection) grouping objects on a camera.
fn review(event: &mut Event, payload: &Value) -> Result<(), String> {
    let step = text(payload, "type").unwrap_or_default();
    let Some(after) = payload.get("after").filter(|a| a.is_object()) else {
        return Err("expected a frigate/reviews payload with an 'after' object".into());
    };
    let time_key = if step == "end" {
        "end_time"
    } else {
        "start_time"
    };
    event.time_ms = epoch(after, time_key).unwrap_or(event.time_ms);
    event.activity = Activity::ObjectDetected;
    event.physical.camera = text(after, "camera");
    let null = Value::new_null();
    let data = after.get("data").unwrap_or(&null);
    let f = &mut event.fields;
    f.insert("frigate.type", &step);
    for key in ["id", "severity"] {
        if let Some(value) = text(after, key) {
            f.insert(&format!("frigate.review.{key}"), &value);
        }
    }
    for key in ["objects", "sub_labels", "zones", "detections"] {
        f.insert(&format!("frigate.review.{key}"), &list(data, key));
    }
    event.message = format!(
        "Frigate review {step}: {} on {}",
        text(after, "severity").unwrap_or_default(),
        event.physical.camera.as_deref().unwrap_or("?")
    );
    Ok(())
}

/// `frigate/tracked_object_update`: face, plate, classification or description of an object.
fn object_update(event: &mut Event, payload: &Value) {
    event.time_ms = epoch(payload, "timestamp").unwrap_or(event.time_ms);
    event.physical.camera = text(payload, "camera");
    let step = text(payload, "type").unwrap_or_default();
    if let Some(items) = payload.as_object() {
        for (key, value) in items.iter() {
            json::flatten_into(&format!("frigate.update.{key}"), value, &mut event.fields);
        }
    }
    event.message = format!(
        "Frigate {step} update for object {}",
        text(payload, "id").unwrap_or_default()
    );
}

/// `frigate/triggers`: a semantic-search trigger matched an object.
fn trigger(event: &mut Event, payload: &Value) {
    event.activity = Activity::ObjectDetected;
    event.physical.camera = text(payload, "camera");
    if let Some(items) = payload.as_object() {
        for (key, value) in items.iter() {
            json::flatten_into(&format!("frigate.trigger.{key}"), value, &mut event.fields);
        }
    }
    event.message = format!(
        "Frigate trigger {}",
        text(payload, "name").unwrap_or_default()
    );
}

/// The plain-text topics: availability, camera role status, motion, review status, counts.
fn plain(event: &mut Event, kind: &str, levels: &[&str], payload: &Value) {
    let value = json::scalar_text(payload).unwrap_or_else(|| payload.to_string());
    let camera = levels
        .first()
        .filter(|_| levels.len() > 1)
        .map(|c| c.to_string());
    event.physical.camera.clone_from(&camera);
    event.physical.state = Some(value.clone());
    let up = matches!(value.as_str(), "online");
    let (class, activity, status) = match kind {
        "available" | "status" => (
            EventClass::DeviceHealth,
            Activity::Connectivity,
            if up { Status::Success } else { Status::Failure },
        ),
        "motion" if value.eq_ignore_ascii_case("ON") => (
            EventClass::VideoAnalytics,
            Activity::Motion,
            Status::Unknown,
        ),
        "motion" => (
            EventClass::VideoAnalytics,
            Activity::Cleared,
            Status::Unknown,
        ),
        "review_status" if value.eq_ignore_ascii_case("NONE") => (
            EventClass::VideoAnalytics,
            Activity::Cleared,
            Status::Unknown,
        ),
        "review_status" => (
            EventClass::VideoAnalytics,
            Activity::ObjectDetected,
            Status::Unknown,
        ),
        "audio" if value.eq_ignore_ascii_case("ON") => (
            EventClass::VideoAnalytics,
            Activity::ObjectDetected,
            Status::Unknown,
        ),
        "audio" if value.eq_ignore_ascii_case("OFF") => (
            EventClass::VideoAnalytics,
            Activity::Cleared,
            Status::Unknown,
        ),
        "object_count" if value.trim() == "0" => (
            EventClass::VideoAnalytics,
            Activity::Cleared,
            Status::Unknown,
        ),
        "object_count" if value.trim().parse::<u32>().is_ok() => (
            EventClass::VideoAnalytics,
            Activity::ObjectDetected,
            Status::Unknown,
        ),
        _ => (EventClass::Base, Activity::Other, Status::Unknown),
    };
    (event.class, event.activity, event.status) = (class, activity, status);
    if kind == "status"
        && let Some(role) = levels.get(2)
    {
        event.fields.insert("frigate.role", role);
    }
    if kind == "audio"
        && let Some(label) = levels.get(2)
    {
        event.fields.insert("frigate.audio", label);
    }
    if kind == "object_count"
        && let Some(label) = levels.get(1)
    {
        event.fields.insert("frigate.label", label);
        event.fields.insert("frigate.count", &value);
    }
    event.message = format!("Frigate {}: {value}", levels.join("/"));
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(json::scalar_text)
}

/// A scalar, or the first element of a `[name, score]` pair (Frigate's `sub_label`).
fn scalar_or_first(value: &Value) -> Option<String> {
    match view(value) {
        Json::Array(items) => items.first().and_then(json::scalar_text),
        _ => json::scalar_text(value),
    }
}

/// A list of strings as `a,b` (empty when absent).
fn list(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(|v| v.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(json::scalar_text)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Frigate times are Unix epoch seconds as floats.
fn epoch(value: &Value, key: &str) -> Option<i64> {
    value
        .get(key)
        .and_then(|v| v.as_f64())
        .and_then(time::epoch_to_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_detection_topics() {
        let ctx = DecodeContext::new("test", 0);
        let e = decode_frigate_mqtt("frigate/front_door/audio/speech", b"ON", &ctx).unwrap();
        assert_eq!(
            (e.class, e.activity),
            (EventClass::VideoAnalytics, Activity::ObjectDetected)
        );
        assert_eq!(e.physical.camera.as_deref(), Some("front_door"));
        assert_eq!(e.fields.get("frigate.audio"), Some("speech"));
        let e = decode_frigate_mqtt("frigate/front_door/audio/speech", b"OFF", &ctx).unwrap();
        assert_eq!(e.activity, Activity::Cleared);
        let e = decode_frigate_mqtt("frigate/front_door/audio/dBFS", b"-42.5", &ctx).unwrap();
        assert_eq!(e.class, EventClass::Base, "a level, not a detection");
    }
}
