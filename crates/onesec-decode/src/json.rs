//! onesec's own event JSON, and any other JSON object as a base event.

use crate::jv::{Json, JsonNumberTrait, JsonValueTrait, Value, view};
use crate::{DecodeContext, new_event, scan, time};
use onesec_event::{Activity, Batch, Event, EventClass, Fields};
use std::borrow::Cow;

/// JSON type name for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match view(value) {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::Str(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A scalar as text (`None` for null, arrays and objects).
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    scalar_str(value).map(Cow::into_owned)
}

/// A scalar as text, borrowed from the document when it is a string (`None` for null, arrays
/// and objects).
pub(crate) fn scalar_str(value: &Value) -> Option<Cow<'_, str>> {
    match view(value) {
        Json::Str(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        _ => None,
    }
}

/// Inserts every scalar inside `value` into `fields`, keyed by its dotted path below `prefix`
/// (array elements by index: `a.0`, `a.1`); nulls are skipped.
pub(crate) fn flatten_into(prefix: &str, value: &Value, fields: &mut Fields) {
    let mut path = String::with_capacity(prefix.len() + 64);
    path.push_str(prefix);
    // Document order is not key order: the fields are sorted in once at the end.
    flatten_at(&mut path, value, &mut fields.batch());
}

/// [`flatten_into`] of a whole document (no prefix); whether one of its top-level keys is where
/// a flow record keeps its source address ([`crate::flow::is_source_key`]), found on the way.
fn flatten_top_level(value: &Value, fields: &mut Fields) -> bool {
    let mut batch = fields.batch();
    let mut path = String::with_capacity(64);
    let Json::Object(map) = view(value) else {
        flatten_at(&mut path, value, &mut batch);
        return false;
    };
    let mut source_key = false;
    for (name, inner) in map.iter() {
        source_key |= crate::flow::is_source_key(name);
        path.clear();
        path.push_str(name);
        flatten_at(&mut path, inner, &mut batch);
    }
    source_key
}

/// [`flatten_into`] with the key of `value` in `path`, one buffer for the whole document: each
/// level appends its part and cuts it off again (no `format!`ed key per level).
pub(crate) fn flatten_at(path: &mut String, value: &Value, fields: &mut Batch<'_>) {
    match view(value) {
        Json::Object(map) => {
            for (name, inner) in map.iter() {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(name);
                flatten_at(path, inner, fields);
                path.truncate(len);
            }
        }
        Json::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                let len = path.len();
                path.push('.');
                path.push_str(scan::decimal(index as u64, &mut [0u8; 20]));
                flatten_at(path, inner, fields);
                path.truncate(len);
            }
        }
        Json::Null => {}
        Json::Str(text) => {
            fields.insert(path, text);
        }
        Json::Number(number) => {
            // Integers (nearly all numbers in events) without the `fmt` machinery, which
            // cost more than writing the digits; floats keep sonic-rs's `Display`.
            let mut digits = [0u8; 20];
            match (number.as_u64(), number.as_i64()) {
                (Some(n), _) => fields.insert(path, scan::decimal(n, &mut digits)),
                (None, Some(n)) => {
                    let text = scan::decimal(n.unsigned_abs(), &mut digits);
                    fields.insert_display(path, &format_args!("-{text}"))
                }
                (None, None) => fields.insert_display(path, &number),
            };
        }
        Json::Bool(flag) => {
            fields.insert(path, if flag { "true" } else { "false" });
        }
    }
}

/// Decodes onesec's own `Event` JSON. The event keeps its `raw` and `source.format` when it has
/// them (a re-ingested export stays evidence of its original input); `id` and `resolved` are
/// cleared (the journal and the resolver set them again); `received_ms` and `source.input` come
/// from the context.
///
/// The event is read from its text (`raw`, the JSON of exactly this object) into the typed
/// struct, which is both faster and stricter than going through the parsed document.
pub(crate) fn decode_event(raw: &str, ctx: &DecodeContext) -> Result<Event, String> {
    let mut event: Event = serde_json::from_str(raw).map_err(|e| {
        format!("expected an onesec event (time_ms, class, activity, ...), found: {e}")
    })?;
    event.id = 0;
    event.resolved.clear();
    event.received_ms = ctx.received_ms;
    event.source.input = ctx.input_name();
    if event.source.format.is_empty() {
        event.source.format = "event-json".into();
    }
    if event.raw.is_empty() {
        event.raw = raw.to_string();
    }
    Ok(event)
}

/// Decodes any JSON object as a base event: fields flattened with dots, time from
/// `@timestamp`/`timestamp`/`time`/`UtcTime`/`ts`, host from `host`/`host.name`/`hostname`,
/// message from `message`/`msg`; a flow record ([`crate::flow`]) is network activity.
pub(crate) fn decode_generic(value: &Value, raw: &str, ctx: &DecodeContext) -> Event {
    // `ts`: Zeek's and Suricata's epoch seconds, when nothing else dates the record.
    let time_ms = ["@timestamp", "timestamp", "time", "UtcTime", "ts"]
        .iter()
        .find_map(|k| value.get(*k))
        .and_then(time::parse_value);
    let mut event = new_event(ctx, "json", raw, time_ms, EventClass::Base, Activity::Other);
    // Keys and values together are about as long as the document: one allocation.
    event.fields.reserve(16, raw.len());
    let maybe_flow = flatten_top_level(value, &mut event.fields);
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| event.fields.get(k))
            .and_then(|t| scan::non_empty(t))
            .map(str::to_string)
    };
    event.host = text(&["host", "host.name", "hostname"]);
    event.message = text(&["message", "msg"]).unwrap_or_default();
    if maybe_flow
        && crate::flow::classify(&mut event)
        && time_ms.is_none()
        && let Some(time) = crate::flow::time_of(&event, &ctx.syslog.timezone)
    {
        event.time_ms = time;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_flattens_and_finds_time() {
        let v: Value = sonic_rs::from_str(r#"{"timestamp": 1773129491, "host": {"name": "h1"}, "a": {"b": [1, {"c": null, "d": true}]}, "msg": "hi"}"#).unwrap();
        let e = decode_generic(&v, "raw", &DecodeContext::new("http", 7));
        assert_eq!(e.time_ms, 1_773_129_491_000);
        assert_eq!(&e.fields["a.b.0"], "1");
        assert_eq!(&e.fields["a.b.1.d"], "true");
        assert!(!e.fields.contains_key("a.b.1.c"));
        assert_eq!(e.host.as_deref(), Some("h1"));
        assert_eq!(e.message, "hi");
        assert_eq!(e.source.format, "json");
        let e = decode_generic(
            &sonic_rs::json!({"x": 1}),
            "raw",
            &DecodeContext::new("http", 7),
        );
        assert_eq!(e.time_ms, 7);
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let mut digits = [0u8; 20];
        for n in [0, 1, 9, 10, 99, 100, 4624, 1_773_129_491_000, u64::MAX] {
            assert_eq!(scan::decimal(n, &mut digits), n.to_string());
        }
        let doc = r#"{"a": 0, "b": -7, "c": 18446744073709551615, "d": -9223372036854775808,
            "e": 1.0, "f": 2.5e-3, "g": 12345678901234567890123}"#;
        let v: Value = sonic_rs::from_str(doc).unwrap();
        let e = decode_generic(&v, "raw", &DecodeContext::new("http", 7));
        for (key, value) in [
            ("a", "0"),
            ("b", "-7"),
            ("c", "18446744073709551615"),
            ("d", "-9223372036854775808"),
        ] {
            assert_eq!(&e.fields[key], value, "{key}");
        }
        for key in ["e", "f", "g"] {
            let Some(Json::Number(n)) = v.get(key).map(view) else {
                panic!("{key} is a number");
            };
            assert_eq!(&e.fields[key], n.to_string(), "{key}");
        }
    }

    #[test]
    fn event_json_round_trip_clears_resolution() {
        let mut original = Event::new(42, EventClass::PhysicalAccess, Activity::AccessGranted);
        original.id = 9;
        original.resolved.site = Some("PAR".into());
        original.source.format = "access-csv".into();
        original.raw = "a,b,c".into();
        let text = serde_json::to_string(&original).unwrap();
        let e = decode_event(&text, &DecodeContext::new("replay", 100)).unwrap();
        assert_eq!((e.id, e.time_ms, e.received_ms), (0, 42, 100));
        assert!(e.resolved.site.is_none());
        assert_eq!(
            (&*e.source.format, e.raw.as_str(), &*e.source.input),
            ("access-csv", "a,b,c", "replay")
        );
        let err = decode_event(r#"{"class": "nope"}"#, &DecodeContext::new("r", 0)).unwrap_err();
        assert!(err.contains("expected an onesec event"), "{err}");
    }
}
