//! Any JSON object read through a field mapping (`json-map`): which dotted path of the object
//! holds the time, the user, the badge, the reader, the addresses, ... and what event class the
//! object is. For sources that have no decoder of their own (an IoT gateway, a home-grown access
//! system, a sensor hub on MQTT). The format of the mapping file is in `FORMATS.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::jv::{Json, Value, view};
use onesec_event::{Activity, Direction, Event, EventClass, Severity, Status};

use crate::json::{flatten_into, scalar_text};
use crate::{DecodeContext, new_event, time};

/// A field mapping file that cannot be used: which key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonMappingError {
    /// The text is not TOML.
    #[error("field mapping is not valid TOML: {0}")]
    Toml(String),
    /// A key has a value we cannot use.
    #[error("field mapping key '{key}': {reason}")]
    Invalid {
        /// The key, e.g. `fields.src_ip`.
        key: String,
        /// What was expected and what was found.
        reason: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> JsonMappingError {
    JsonMappingError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// The event fields a mapping can fill, by their key in `[fields]`.
const TARGETS: [&str; 22] = [
    "time",
    "message",
    "host",
    "severity",
    "status",
    "user",
    "domain",
    "badge",
    "holder_name",
    "src_ip",
    "src_port",
    "src_host",
    "dst_ip",
    "dst_port",
    "dst_host",
    "reader",
    "portal",
    "camera",
    "direction",
    "reason",
    "state",
    "product",
];

/// How to read one kind of JSON object as an event.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonMapping {
    class: EventClass,
    activity: Activity,
    product: String,
    /// `[fields]`: target → dotted path in the object.
    paths: BTreeMap<String, String>,
    /// `[status]`: values (lower case) that mean success / failure.
    success: Vec<String>,
    failure: Vec<String>,
    /// `[direction]`: values (lower case) that mean in / out.
    entry: Vec<String>,
    exit: Vec<String>,
}

impl JsonMapping {
    /// Reads a mapping file (`[event]`, `[fields]`, `[status]`, `[direction]`; unknown keys are
    /// errors, so a typo never silently drops a field).
    pub fn from_toml(text: &str) -> Result<JsonMapping, JsonMappingError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| JsonMappingError::Toml(e.to_string()))?;
        let mut mapping = JsonMapping {
            class: EventClass::Base,
            activity: Activity::Other,
            product: String::new(),
            paths: BTreeMap::new(),
            success: words(&["ok", "success", "succeeded", "granted", "allowed", "true"]),
            failure: words(&["fail", "failed", "failure", "denied", "refused", "error"]),
            entry: words(&["in", "entry", "enter", "ingress"]),
            exit: words(&["out", "exit", "leave", "egress"]),
        };
        for (section, value) in &table {
            let entries = value
                .as_table()
                .ok_or_else(|| invalid(section, "expected a table"))?;
            match section.as_str() {
                "event" => mapping.read_event(entries)?,
                "fields" => mapping.read_fields(entries)?,
                "status" => {
                    read_pair(entries, "status", ("success", "failure"))?
                        .apply(&mut mapping.success, &mut mapping.failure);
                }
                "direction" => {
                    read_pair(entries, "direction", ("entry", "exit"))?
                        .apply(&mut mapping.entry, &mut mapping.exit);
                }
                other => {
                    return Err(invalid(
                        other,
                        "unknown section: expected [event], [fields], [status] or [direction]",
                    ));
                }
            }
        }
        Ok(mapping)
    }

    fn read_event(&mut self, entries: &toml::Table) -> Result<(), JsonMappingError> {
        for (key, value) in entries {
            let full = format!("event.{key}");
            let text = value
                .as_str()
                .ok_or_else(|| invalid(&full, "expected a string"))?;
            match key.as_str() {
                "class" => {
                    self.class = by_name(text).ok_or_else(|| {
                        invalid(
                            &full,
                            format!("'{text}' is not an event class (docs/fields.md)"),
                        )
                    })?
                }
                "activity" => {
                    self.activity = by_name(text).ok_or_else(|| {
                        invalid(
                            &full,
                            format!("'{text}' is not an activity (docs/fields.md)"),
                        )
                    })?
                }
                "product" => self.product = text.to_string(),
                _ => {
                    return Err(invalid(
                        &full,
                        "unknown key: expected class, activity or product",
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_fields(&mut self, entries: &toml::Table) -> Result<(), JsonMappingError> {
        for (key, value) in entries {
            let full = format!("fields.{key}");
            if !TARGETS.contains(&key.as_str()) {
                return Err(invalid(
                    &full,
                    format!("unknown field: expected one of {}", TARGETS.join(", ")),
                ));
            }
            let path = value
                .as_str()
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| invalid(&full, "expected the dotted path of a JSON value"))?;
            self.paths.insert(key.clone(), path.trim().to_string());
        }
        Ok(())
    }

    /// Decodes one JSON object. A mapped time that is missing or unreadable is an error (the
    /// mapping said where the time is); any other mapped value that is missing is left empty.
    pub(crate) fn decode(
        &self,
        value: &Value,
        raw: &str,
        ctx: &DecodeContext,
    ) -> Result<Event, String> {
        let mut fields = onesec_event::Fields::new();
        flatten_into("", value, &mut fields);
        let time_ms = match self.paths.get("time") {
            None => None,
            Some(path) => Some(self.time_at(value, &fields, path)?),
        };
        let mut event = new_event(ctx, "json-map", raw, time_ms, self.class, self.activity);
        let get = |target: &str| {
            self.paths
                .get(target)
                .and_then(|path| fields.get(path))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        event.source.product = get("product")
            .unwrap_or_else(|| self.product.clone())
            .into();
        event.message = get("message").unwrap_or_default();
        event.host = get("host");
        if let Some(level) = get("severity") {
            event.severity = Severity::parse(&level).unwrap_or(event.severity);
        }
        if let Some(status) = get("status") {
            event.status =
                pick(&status, &self.success, &self.failure).map_or(Status::Unknown, |ok| {
                    if ok { Status::Success } else { Status::Failure }
                });
        }
        event.actor.user = get("user");
        event.actor.domain = get("domain");
        event.actor.badge = get("badge");
        event.actor.holder_name = get("holder_name");
        event.src.ip = ip_at(&get("src_ip"), "src_ip")?;
        event.src.port = port_at(&get("src_port"), "src_port")?;
        event.src.hostname = get("src_host");
        event.dst.ip = ip_at(&get("dst_ip"), "dst_ip")?;
        event.dst.port = port_at(&get("dst_port"), "dst_port")?;
        event.dst.hostname = get("dst_host");
        event.physical.reader = get("reader");
        event.physical.portal = get("portal");
        event.physical.camera = get("camera");
        event.physical.reason = get("reason");
        event.physical.state = get("state");
        event.physical.direction = get("direction")
            .and_then(|d| pick(&d, &self.entry, &self.exit))
            .map(|entry| if entry { Direction::In } else { Direction::Out });
        event.fields = fields;
        Ok(event)
    }

    /// The time at `path`: the JSON value itself (a number is epoch seconds or milliseconds, a
    /// string RFC 3339 or one of the usual layouts).
    fn time_at(
        &self,
        value: &Value,
        fields: &onesec_event::Fields,
        path: &str,
    ) -> Result<i64, String> {
        let found = lookup(value, path);
        match found {
            Some(v) => time::parse_value(v).ok_or_else(|| {
                format!(
                    "field mapping: time at '{path}' is not a time: {}",
                    scalar_text(v).unwrap_or_else(|| v.to_string())
                )
            }),
            None if fields.contains_key(path) => {
                Err(format!("field mapping: time at '{path}' could not be read"))
            }
            None => Err(format!("field mapping: no time at '{path}'")),
        }
    }
}

/// The value at a dotted path (`a.b.0.c`: array items by index).
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, part| match view(v) {
        Json::Object(map) => map.get(&part),
        Json::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn ip_at(text: &Option<String>, target: &str) -> Result<Option<IpAddr>, String> {
    text.as_deref()
        .map(|t| {
            t.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| format!("field mapping: {target} '{t}' is not an IP address"))
        })
        .transpose()
}

fn port_at(text: &Option<String>, target: &str) -> Result<Option<u16>, String> {
    text.as_deref()
        .map(|t| {
            t.parse::<u16>()
                .map_err(|_| format!("field mapping: {target} '{t}' is not a port number"))
        })
        .transpose()
}

/// `Some(true)` if `value` is one of `yes`, `Some(false)` if one of `no` (case-insensitive).
fn pick(value: &str, yes: &[String], no: &[String]) -> Option<bool> {
    let v = value.trim().to_lowercase();
    if yes.contains(&v) {
        Some(true)
    } else if no.contains(&v) {
        Some(false)
    } else {
        None
    }
}

/// An enum of the event model by its snake_case name (as rules and docs/fields.md write it).
fn by_name<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_string())).ok()
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

/// Two replacement word lists read from a section.
struct Pair {
    first: Option<Vec<String>>,
    second: Option<Vec<String>>,
}

impl Pair {
    fn apply(self, first: &mut Vec<String>, second: &mut Vec<String>) {
        if let Some(list) = self.first {
            *first = list;
        }
        if let Some(list) = self.second {
            *second = list;
        }
    }
}

fn read_pair(
    entries: &toml::Table,
    section: &str,
    (first, second): (&str, &str),
) -> Result<Pair, JsonMappingError> {
    let mut pair = Pair {
        first: None,
        second: None,
    };
    for (key, value) in entries {
        let full = format!("{section}.{key}");
        let list = value
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().map(|s| s.trim().to_lowercase()))
                    .collect::<Option<Vec<String>>>()
            })
            .ok_or_else(|| invalid(&full, "expected a list of strings"))?;
        if key == first {
            pair.first = Some(list);
        } else if key == second {
            pair.second = Some(list);
        } else {
            return Err(invalid(
                &full,
                format!("unknown key: expected {first} or {second}"),
            ));
        }
    }
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    const SENSOR: &str = r#"
[event]
class = "physical_access"
activity = "open"
product = "acme-gateway"

[fields]
time = "ts"
badge = "card.number"
reader = "device.id"
status = "result"
direction = "dir"
src_ip = "net.peer"
message = "text"

[status]
success = ["OK"]
failure = ["NOK", "blocked"]
"#;

    fn ctx() -> DecodeContext {
        DecodeContext::new("mqtt", 1_000)
    }

    #[test]
    fn maps_paths_to_the_event_model() {
        let m = JsonMapping::from_toml(SENSOR).expect("mapping");
        let v = json!({"ts": "2026-03-02T08:00:00Z", "card": {"number": "0042"},
            "device": {"id": "R-7"}, "result": "nok", "dir": "IN", "net": {"peer": "10.1.2.3"},
            "text": "card refused", "extra": [1, 2]});
        let e = m.decode(&v, "raw", &ctx()).expect("decodes");
        assert_eq!(e.time_ms, 1_772_438_400_000);
        assert_eq!(e.class, EventClass::PhysicalAccess);
        assert_eq!(e.actor.badge.as_deref(), Some("0042"));
        assert_eq!(e.physical.reader.as_deref(), Some("R-7"));
        assert_eq!(e.status, Status::Failure);
        assert_eq!(e.physical.direction, Some(Direction::In));
        assert_eq!(e.src.ip, "10.1.2.3".parse().ok());
        assert_eq!(e.source.product, "acme-gateway");
        assert_eq!(e.source.format, "json-map");
        assert_eq!(e.message, "card refused");
        assert_eq!(e.fields.get("extra.1"), Some("2"));
    }

    #[test]
    fn bad_records_say_which_field() {
        let m = JsonMapping::from_toml(SENSOR).expect("mapping");
        let no_time = m.decode(&json!({"card": {"number": "1"}}), "raw", &ctx());
        assert_eq!(no_time.unwrap_err(), "field mapping: no time at 'ts'");
        let bad_time = m.decode(&json!({"ts": "soon"}), "raw", &ctx());
        assert!(
            bad_time
                .unwrap_err()
                .contains("time at 'ts' is not a time: soon")
        );
        let bad_ip = m.decode(
            &json!({"ts": 1_772_438_400, "net": {"peer": "x"}}),
            "raw",
            &ctx(),
        );
        assert!(
            bad_ip
                .unwrap_err()
                .contains("src_ip 'x' is not an IP address")
        );
    }

    #[test]
    fn bad_mappings_name_the_key() {
        let err = |text: &str| JsonMapping::from_toml(text).unwrap_err().to_string();
        assert!(err("[fields]\nbadgee = \"b\"").contains("'fields.badgee': unknown field"));
        assert!(
            err("[event]\nclass = \"doors\"")
                .contains("'event.class': 'doors' is not an event class")
        );
        assert!(err("[colums]\n").contains("'colums': unknown section"));
        assert!(err("[status]\nok = [\"y\"]").contains("'status.ok': unknown key"));
        assert!(err("[fields]\ntime = 3").contains("'fields.time': expected the dotted path"));
        assert!(err("not toml [").contains("not valid TOML"));
    }

    #[test]
    fn without_a_time_path_the_receive_time_is_used() {
        let m = JsonMapping::from_toml("[fields]\nhost = \"h\"").expect("mapping");
        let e = m
            .decode(&json!({"h": "gw-1"}), "raw", &ctx())
            .expect("decodes");
        assert_eq!(e.time_ms, 1_000);
        assert_eq!(e.host.as_deref(), Some("gw-1"));
        assert_eq!(e.class, EventClass::Base);
    }
}
