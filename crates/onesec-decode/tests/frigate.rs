//! Frigate MQTT payloads (shared/data/frigate): every file decodes, through the MQTT entry point
//! with its manifest topic and as a `frigate` body.

mod common;

use common::{ctx, decode_clean, shared_bytes};
use onesec_decode::{Format, decode_frigate_mqtt};
use onesec_event::{Activity, EventClass, Status};
use serde_json::Value;

#[test]
fn every_frigate_file_decodes() {
    let Some(manifest) = shared_bytes("data/frigate/manifest.json") else {
        return;
    };
    let manifest: Vec<Value> = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest.len(), 13);
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let bytes = shared_bytes(&format!("data/frigate/{file}")).unwrap();
        // As a body: a bare payload, or (camera status) an array of {topic, payload} lines.
        let events = decode_clean(&Format::Frigate, &bytes, &ctx(5));
        assert!(!events.is_empty(), "{file}");
        for e in &events {
            assert_eq!(
                (&*e.source.format, &*e.source.product),
                ("frigate", "frigate")
            );
            assert_ne!(e.class, EventClass::Base, "{file}: {}", e.raw);
        }
        let topic = entry["mqtt_topic"].as_str().unwrap();
        if topic.starts_with("frigate/") && !topic.contains(',') {
            let e = decode_frigate_mqtt(topic, &bytes, &ctx(5)).unwrap();
            let mut body = events[0].clone();
            body.raw = e.raw.clone();
            body.fields.insert("frigate.topic", topic);
            assert_eq!(e, body, "{file}: the topic and the shape agree");
        }
    }
}

#[test]
fn tracked_object_lifecycle() {
    let Some(new) = shared_bytes("data/frigate/frigate__events.new.json") else {
        return;
    };
    let e = &decode_clean(&Format::Frigate, &new, &ctx(0))[0];
    assert_eq!(
        (e.class, e.activity),
        (EventClass::VideoAnalytics, Activity::ObjectDetected)
    );
    assert_eq!(e.physical.camera.as_deref(), Some("front_door"));
    assert_eq!(&e.fields["frigate.type"], "new");
    assert_eq!(&e.fields["frigate.label"], "person");
    assert_eq!(&e.fields["frigate.entered_zones"], "yard,driveway");
    assert_eq!(&e.fields["frigate.has_snapshot"], "false");
    assert_eq!(e.time_ms, 1_607_123_955_475);
    let end = shared_bytes("data/frigate/frigate__events.end.json").unwrap();
    let e = &decode_clean(&Format::Frigate, &end, &ctx(0))[0];
    assert_eq!(&e.fields["frigate.type"], "end");
    assert_eq!(&e.fields["frigate.has_snapshot"], "true");
    assert_eq!(&e.fields["frigate.sub_label"], "John Smith");
    assert_eq!(e.time_ms, 1_607_123_972_511);
    assert_eq!(&e.fields["frigate.end_time"], "2020-12-04T23:19:32.511Z");
    let review = shared_bytes("data/frigate/frigate__reviews.update.json").unwrap();
    let e = &decode_clean(&Format::Frigate, &review, &ctx(0))[0];
    assert_eq!(&e.fields["frigate.review.severity"], "alert");
    assert_eq!(&e.fields["frigate.review.objects"], "person,car");
}

#[test]
fn camera_status_topics() {
    let Some(bytes) = shared_bytes("data/frigate/frigate__camera-status.plain-payloads.json")
    else {
        return;
    };
    let events = decode_clean(&Format::Auto, &bytes, &ctx(0));
    let got: Vec<(EventClass, Activity, Status)> = events
        .iter()
        .map(|e| (e.class, e.activity, e.status))
        .collect();
    use Activity as A;
    use EventClass as C;
    assert_eq!(
        got,
        [
            (C::DeviceHealth, A::Connectivity, Status::Success),
            (C::DeviceHealth, A::Connectivity, Status::Failure),
            (C::DeviceHealth, A::Connectivity, Status::Failure),
            (C::DeviceHealth, A::Connectivity, Status::Success),
            (C::DeviceHealth, A::Connectivity, Status::Failure),
            (C::DeviceHealth, A::Connectivity, Status::Failure),
            (C::VideoAnalytics, A::ObjectDetected, Status::Unknown),
            (C::VideoAnalytics, A::Motion, Status::Unknown),
            (C::VideoAnalytics, A::ObjectDetected, Status::Unknown),
        ]
    );
    assert_eq!(events[4].physical.camera.as_deref(), Some("front_door"));
    assert_eq!(&events[4].fields["frigate.role"], "record");
    assert_eq!(&events[6].fields["frigate.count"], "1");
    let e = decode_frigate_mqtt("frigate/front_door/motion", b"OFF", &ctx(0)).unwrap();
    assert_eq!(e.activity, Activity::Cleared);
    let err = decode_frigate_mqtt("frigate/events", b"{\"type\":\"new\"}", &ctx(0)).unwrap_err();
    assert!(err.reason.contains("'after' object"), "{}", err.reason);
}
