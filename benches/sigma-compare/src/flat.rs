//! Windows event logs rendered as JSON by evtx dumpers (`{"Event": {"System": .., "EventData": ..}}`)
//! → one flat JSON object with Sigma's Windows field names, the shape both engines read
//! natively (`serde_json::Value` is an onesec `Record`; rsigma wraps it in `JsonEvent`).
//!
//! The names are the ones `onesec_sigma::EvtxJson` serves: `EventData` / `UserData` items by
//! name (names with spaces also without them), `System` elements by name, and `Provider_Name`,
//! `Provider_Guid`, `ProcessID`, `ThreadID`, `UserID`, `SystemTime`, `ActivityID` from the
//! `System` attributes. An `EventData` item wins over a `System` element of the same name.

use serde_json::{Map, Value};

/// Flattens one rendered event.
pub fn flatten_evtx(v: &Value) -> Value {
    let event = v.get("Event").unwrap_or(v);
    let mut out = Map::new();
    let add = |out: &mut Map<String, Value>, k: &str, v: &Value| {
        let v = element_text(v).clone();
        if k.contains(' ') {
            out.entry(k.replace(' ', "")).or_insert_with(|| v.clone());
        }
        out.entry(k.to_string()).or_insert(v);
    };
    if let Some(ed) = event.get("EventData") {
        if let Some(map) = ed.as_object() {
            for (k, v) in map {
                if k != "Data" || !v.is_array() {
                    add(&mut out, k, v);
                }
            }
        }
        if let Some(Value::Array(items)) = ed.get("Data") {
            for item in items {
                if let Some(name) = item
                    .get("#attributes")
                    .and_then(|a| a.get("Name"))
                    .and_then(Value::as_str)
                {
                    add(&mut out, name, item.get("#text").unwrap_or(&Value::Null));
                }
            }
        }
    }
    if let Some(Value::Object(ud)) = event.get("UserData") {
        for child in ud.values() {
            if let Some(map) = child.as_object() {
                for (k, v) in map {
                    if k != "#attributes" {
                        add(&mut out, k, v);
                    }
                }
            }
        }
    }
    if let Some(Value::Object(system)) = event.get("System") {
        for (name, element, attr) in [
            ("Provider_Name", "Provider", "Name"),
            ("Provider_Guid", "Provider", "Guid"),
            ("ProcessID", "Execution", "ProcessID"),
            ("ThreadID", "Execution", "ThreadID"),
            ("UserID", "Security", "UserID"),
            ("SystemTime", "TimeCreated", "SystemTime"),
            ("ActivityID", "Correlation", "ActivityID"),
        ] {
            if let Some(v) = system
                .get(element)
                .and_then(|e| e.get("#attributes"))
                .and_then(|a| a.get(attr))
            {
                out.entry(name.to_string()).or_insert_with(|| v.clone());
            }
        }
        for (k, v) in system {
            let v = element_text(v);
            // Elements that only carry attributes were mapped above.
            if !v.is_object() {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Value::Object(out)
}

/// An element that may carry its text under `#text` (when it also has attributes).
fn element_text(v: &Value) -> &Value {
    v.get("#text").unwrap_or(v)
}
