//! [`Record`] implementations for JSON: plain objects and Windows event logs rendered as JSON.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::record::{FieldValue, Record};

/// Converts a JSON value into a [`FieldValue`] (objects become their JSON text).
fn to_field(v: &Value) -> FieldValue<'_> {
    match v {
        Value::String(s) => FieldValue::Str(Cow::Borrowed(s.as_str())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                FieldValue::Int(i)
            } else if let Some(f) = n.as_f64() {
                FieldValue::Float(f)
            } else {
                FieldValue::Str(Cow::Owned(n.to_string()))
            }
        }
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Null => FieldValue::Null,
        Value::Array(items) => FieldValue::List(items.iter().map(to_field).collect()),
        Value::Object(_) => FieldValue::Str(Cow::Owned(v.to_string())),
    }
}

/// Looks up `name` in `v`: the literal key first, then the dotted path through nested objects
/// (trying every split, so `a.b.c` finds `{"a": {"b.c": 1}}` too).
fn lookup<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(name) {
        return Some(x);
    }
    let mut start = 0;
    while let Some(off) = name[start..].find('.') {
        let dot = start + off;
        if let Some(child) = obj.get(&name[..dot])
            && let Some(found) = lookup(child, &name[dot + 1..])
        {
            return Some(found);
        }
        start = dot + 1;
    }
    None
}

/// Calls `f` on every string inside `v` (recursively); stops when it returns true.
fn walk_strings(v: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().any(|x| walk_strings(x, f)),
        Value::Object(map) => map.values().any(|x| walk_strings(x, f)),
        _ => false,
    }
}

/// Parses a JSON time: integer milliseconds, or an RFC 3339 string.
fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => parse_rfc3339_ms(s),
        _ => None,
    }
}

/// Parses an RFC 3339 / ISO 8601 timestamp (a missing offset means UTC) into epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// A plain JSON object as a record.
///
/// * `field`: the literal key first (so `"person.status"` may be a key with a dot), then the
///   dotted path through nested objects.
/// * `any_value`: every string anywhere in the value.
/// * `in_logsource`: **always true** — a bare JSON object carries no log-source information,
///   so every rule applies (this is meant for tests and for replaying recorded cases).
/// * `time_ms`: the first of `time_ms`, `@timestamp`, `timestamp`, `time` that parses
///   (integer milliseconds or an RFC 3339 string); 0 when none does.
impl Record for Value {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        lookup(self, name).map(to_field)
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        walk_strings(self, f)
    }

    fn in_logsource(&self, _key: &str, _value: &str) -> bool {
        true
    }

    /// Every key of the object (nothing for other values), with its value as `field` gives it:
    /// the literal key wins, and a dotted name reaches only into the value of a key that is a
    /// dot-separated prefix of it.
    fn for_each_field<'a>(
        &'a self,
        f: &mut dyn FnMut(&'a str, &dyn Fn() -> FieldValue<'a>),
    ) -> bool {
        if let Some(map) = self.as_object() {
            for (k, v) in map {
                f(k, &|| to_field(v));
            }
        }
        true
    }

    fn time_ms(&self) -> i64 {
        for key in ["time_ms", "@timestamp", "timestamp", "time"] {
            if let Some(t) = self.get(key).and_then(parse_time) {
                return t;
            }
        }
        0
    }
}

/// A Windows event log record rendered as JSON by evtx dumpers
/// (`{"Event": {"System": {..}, "EventData": {..}}}`, XML attributes under `"#attributes"`,
/// element text under `"#text"`), as found in the SigmaHQ regression data.
///
/// Field names are the Sigma Windows names: an `EventData` (or `UserData/*`) item by its name
/// (names with spaces, such as Defender's `Threat Name`, also without the spaces), a `System`
/// element by its name (`EventID`, `Channel`, `Computer`, `Level`, ...), and `Provider_Name`,
/// `Provider_Guid`, `ProcessID`, `ThreadID`, `UserID`, `SystemTime`, `ActivityID` from the
/// `System` attributes. Other dotted names are looked up as paths under `Event`.
/// `in_logsource` is always true (no log-source inference); `time_ms` is
/// `System/TimeCreated/@SystemTime`.
#[derive(Clone, Debug)]
pub struct EvtxJson<'a> {
    event: &'a Value,
    /// EventData / UserData items by name (and by name without spaces).
    data: HashMap<Cow<'a, str>, &'a Value>,
}

impl<'a> EvtxJson<'a> {
    /// Indexes one rendered event (the `{"Event": ..}` object, or the inner object itself).
    pub fn new(v: &'a Value) -> EvtxJson<'a> {
        let event = v.get("Event").unwrap_or(v);
        let mut data = HashMap::new();
        let mut add = |k: &'a str, v: &'a Value| {
            if k.contains(' ') {
                data.entry(Cow::Owned(k.replace(' ', ""))).or_insert(v);
            }
            data.entry(Cow::Borrowed(k)).or_insert(v);
        };
        if let Some(ed) = event.get("EventData") {
            if let Some(map) = ed.as_object() {
                for (k, v) in map {
                    add(k, v);
                }
            }
            // Unnamed rendering: "Data": [{"#attributes": {"Name": ..}, "#text": ..}, ..]
            if let Some(Value::Array(items)) = ed.get("Data") {
                for item in items {
                    if let Some(name) = item
                        .get("#attributes")
                        .and_then(|a| a.get("Name"))
                        .and_then(Value::as_str)
                    {
                        add(name, item.get("#text").unwrap_or(&Value::Null));
                    }
                }
            }
        }
        if let Some(Value::Object(ud)) = event.get("UserData") {
            for child in ud.values() {
                if let Some(map) = child.as_object() {
                    for (k, v) in map {
                        add(k, v);
                    }
                }
            }
        }
        EvtxJson { event, data }
    }

    fn system(&self) -> Option<&'a Value> {
        self.event.get("System")
    }

    fn system_attr(&self, element: &str, attr: &str) -> Option<&'a Value> {
        self.system()?.get(element)?.get("#attributes")?.get(attr)
    }
}

/// An element that may carry its text under `#text` (when it also has attributes).
fn element_text(v: &Value) -> &Value {
    match v.get("#text") {
        Some(t) => t,
        None => v,
    }
}

impl Record for EvtxJson<'_> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        if let Some(v) = self.data.get(name) {
            return Some(to_field(element_text(v)));
        }
        let attr = match name {
            "Provider_Name" => self.system_attr("Provider", "Name"),
            "Provider_Guid" => self.system_attr("Provider", "Guid"),
            "ProcessID" => self.system_attr("Execution", "ProcessID"),
            "ThreadID" => self.system_attr("Execution", "ThreadID"),
            "UserID" => self.system_attr("Security", "UserID"),
            "SystemTime" => self.system_attr("TimeCreated", "SystemTime"),
            "ActivityID" => self.system_attr("Correlation", "ActivityID"),
            _ => None,
        };
        if let Some(v) = attr {
            return Some(to_field(v));
        }
        if let Some(v) = self.system().and_then(|s| s.get(name)) {
            return Some(to_field(element_text(v)));
        }
        if name.contains('.') {
            return lookup(self.event, name).map(|v| to_field(element_text(v)));
        }
        None
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        walk_strings(self.event, f)
    }

    fn in_logsource(&self, _key: &str, _value: &str) -> bool {
        true
    }

    fn time_ms(&self) -> i64 {
        self.system_attr("TimeCreated", "SystemTime")
            .and_then(parse_time)
            .unwrap_or(0)
    }
}

/// Reads a file of JSON values: an array, one value, or several concatenated values
/// (the evtx dumpers' multi-event form).
pub fn parse_json_stream(text: &str) -> Result<Vec<Value>, serde_json::Error> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v? {
            Value::Array(items) if out.is_empty() => out.extend(items),
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_lookup() {
        let v = json!({"person": {"status": "active"}, "a.b": 1, "x": {"y.z": true}});
        assert_eq!(
            v.field("person.status"),
            Some(FieldValue::Str(Cow::Borrowed("active")))
        );
        assert_eq!(v.field("a.b"), Some(FieldValue::Int(1)));
        assert_eq!(v.field("x.y.z"), Some(FieldValue::Bool(true)));
        assert_eq!(v.field("person.missing"), None);
    }

    #[test]
    fn evtx_fields() {
        let v = json!({"Event": {"System": {"EventID": 1, "Provider": {"#attributes": {"Name": "Sysmon"}},
            "TimeCreated": {"#attributes": {"SystemTime": "2025-11-28T07:59:01.340553Z"}}},
            "EventData": {"Image": "C:\\x.exe"}}});
        let r = EvtxJson::new(&v);
        assert_eq!(r.field("EventID"), Some(FieldValue::Int(1)));
        assert_eq!(
            r.field("Provider_Name"),
            Some(FieldValue::Str(Cow::Borrowed("Sysmon")))
        );
        assert_eq!(
            r.field("Image"),
            Some(FieldValue::Str(Cow::Borrowed("C:\\x.exe")))
        );
        assert_eq!(r.time_ms(), 1_764_316_741_340);
    }

    #[test]
    fn evtx_shapes() {
        let defender = json!({"Event": {"System": {"EventID": {"#text": 1119, "#attributes": {"Qualifiers": 0}}},
            "EventData": {"Threat Name": "Tool:Win32/EICAR_Test_File"}}});
        let r = EvtxJson::new(&defender);
        assert_eq!(
            r.field("ThreatName"),
            Some(FieldValue::Str(Cow::Borrowed("Tool:Win32/EICAR_Test_File")))
        );
        assert!(r.field("Threat Name").is_some());
        assert_eq!(r.field("EventID"), Some(FieldValue::Int(1119)));
        let unnamed = json!({"Event": {"EventData": {"Data": [
            {"#attributes": {"Name": "TargetUserName"}, "#text": "bob"}]}}});
        assert_eq!(
            EvtxJson::new(&unnamed).field("TargetUserName"),
            Some(FieldValue::Str(Cow::Borrowed("bob")))
        );
        let wmi = json!({"Event": {"UserData": {"Operation_ClientFailure": {
            "#attributes": {"xmlns": "x"}, "Operation": "Start IWbemServices::ExecMethod"}}}});
        assert!(EvtxJson::new(&wmi).field("Operation").is_some());
        assert!(EvtxJson::new(&wmi).field("Missing").is_none());
    }

    #[test]
    fn json_stream() {
        let vals = parse_json_stream("{\"a\":1}\n{\"a\":2}").unwrap_or_default();
        assert_eq!(vals.len(), 2);
        let vals = parse_json_stream("[{\"a\":1},{\"a\":2},{\"a\":3}]").unwrap_or_default();
        assert_eq!(vals.len(), 3);
    }
}
