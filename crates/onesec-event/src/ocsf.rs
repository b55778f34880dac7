//! OCSF JSON rendering of an [`Event`](crate::Event).
//!
//! Core attributes (`class_uid`, `category_uid`, `activity_id`, `type_uid = class_uid * 100 +
//! activity_id`, `time`, `severity_id`, `status_id`, `metadata.product`, `actor.user`,
//! `src_endpoint`, `dst_endpoint`, `device`, `raw_data`, `unmapped`) follow OCSF 1.x; physical
//! classes carry the physec objects `portal`, `credential` and `zone`; onesec's resolution lands
//! in `enrichments`-style attributes under `unmapped.onesec`.

use crate::{Endpoint, Event, EventClass};
use serde_json::{Map, Value, json};

/// Renders an event as one OCSF JSON object.
pub fn to_ocsf(event: &Event) -> Value {
    let class_uid = u64::from(event.class.uid());
    let activity_id = u64::from(event.activity.id());
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(class_uid));
    out.insert("class_name".into(), json!(event.class.caption()));
    out.insert("category_uid".into(), json!(event.class.category_uid()));
    out.insert("activity_id".into(), json!(activity_id));
    out.insert("activity_name".into(), json!(event.activity.as_str()));
    out.insert("type_uid".into(), json!(class_uid * 100 + activity_id));
    out.insert("time".into(), json!(event.time_ms));
    out.insert("severity_id".into(), json!(event.severity.id()));
    out.insert("status_id".into(), json!(event.status.id()));
    out.insert("message".into(), json!(event.message));
    out.insert(
        "metadata".into(),
        json!({
            "uid": event.id.to_string(),
            "product": { "name": event.source.product, "feature": { "name": event.source.service } },
            "log_name": event.source.format,
            "logged_time": event.received_ms,
            "version": "1.3.0",
            "extensions": extensions(event.class),
        }),
    );
    if let Some(user) = &event.actor.user {
        out.insert(
            "actor".into(),
            json!({ "user": { "name": user, "domain": event.actor.domain } }),
        );
        if event.class == EventClass::Authentication {
            out.insert(
                "user".into(),
                json!({ "name": user, "domain": event.actor.domain }),
            );
        }
    }
    insert_endpoint(&mut out, "src_endpoint", &event.src);
    insert_endpoint(&mut out, "dst_endpoint", &event.dst);
    if let Some(host) = &event.host {
        out.insert(
            "device".into(),
            json!({ "hostname": host, "uid": event.resolved.device_id, "type": event.resolved.device_kind }),
        );
    }
    insert_physical(&mut out, event);
    if let Some(site) = &event.resolved.site {
        out.insert("site_uid".into(), json!(site));
    }
    out.insert("raw_data".into(), json!(event.raw));
    let mut unmapped = Map::new();
    for (k, v) in &event.fields {
        unmapped.insert(k.to_string(), json!(v));
    }
    unmapped.insert(
        "onesec".into(),
        serde_json::to_value(&event.resolved).unwrap_or(Value::Null),
    );
    out.insert("unmapped".into(), Value::Object(unmapped));
    Value::Object(out)
}

fn extensions(class: EventClass) -> Value {
    match class.category_uid() {
        4230 => json!([{ "name": "physec", "uid": "42", "version": "0.1.0" }]),
        4330 => json!([{ "name": "onesec", "uid": "43", "version": "0.1.0" }]),
        _ => json!([]),
    }
}

fn insert_endpoint(out: &mut Map<String, Value>, key: &str, endpoint: &Endpoint) {
    if endpoint.ip.is_none() && endpoint.hostname.is_none() {
        return;
    }
    out.insert(
        key.into(),
        json!({ "ip": endpoint.ip.map(|ip| ip.to_string()), "port": endpoint.port, "hostname": endpoint.hostname }),
    );
}

fn insert_physical(out: &mut Map<String, Value>, event: &Event) {
    let physical = &event.physical;
    let portal = physical.portal.as_ref().or(event.resolved.portal.as_ref());
    if portal.is_some() || physical.reader.is_some() {
        out.insert(
            "portal".into(),
            json!({ "uid": portal, "reader_uid": physical.reader, "direction": physical.direction.map(|d| d.as_str()) }),
        );
    }
    if let Some(badge) = &event.actor.badge {
        out.insert(
            "credential".into(),
            json!({ "uid": badge, "holder_name": event.actor.holder_name, "type": "card" }),
        );
    }
    if let Some(zone) = &event.resolved.zone {
        out.insert(
            "zone".into(),
            json!({ "uid": zone, "tags": event.resolved.zone_tags }),
        );
    }
    if physical.reason.is_some() || physical.state.is_some() {
        out.insert(
            "status_detail".into(),
            json!(physical.reason.as_ref().or(physical.state.as_ref())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Activity;

    #[test]
    fn physical_access_gets_physec_ids() {
        let mut e = Event::new(5, EventClass::PhysicalAccess, Activity::PortalForced);
        e.physical.portal = Some("PAR-D-SRV".into());
        let json = to_ocsf(&e);
        assert_eq!(json["class_uid"], 4_230_001);
        assert_eq!(json["type_uid"], 423_000_105u64);
        assert_eq!(json["portal"]["uid"], "PAR-D-SRV");
        assert_eq!(json["metadata"]["extensions"][0]["name"], "physec");
    }
}
