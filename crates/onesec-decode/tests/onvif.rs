//! The ONVIF Core specification's onvif-ej examples (shared/data/onvif/onvif-ej) decode through
//! both entry points, with the topic grammar of the manifest.

mod common;

use common::{ctx, decode_clean, shared_bytes};
use onesec_decode::{Format, decode_onvif_mqtt};
use onesec_event::{Activity, EventClass};
use serde_json::Value;

#[test]
fn specification_examples_decode() {
    let Some(manifest) = shared_bytes("data/onvif/onvif-ej/manifest.json") else {
        return;
    };
    let manifest: Vec<Value> = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest.len(), 3);
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let topic = entry["mqtt_topic"].as_str().unwrap();
        let Some(payload) = shared_bytes(&format!("data/onvif/onvif-ej/{file}")) else {
            return;
        };

        let event =
            decode_onvif_mqtt(topic, &payload, &ctx(0)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(event.host.as_deref(), entry["topic_prefix"].as_str());
        let onvif_topic = entry["onvif_topic"]
            .as_str()
            .unwrap()
            .trim_start_matches("tns1:");
        assert_eq!(&event.fields["onvif.topic"], onvif_topic);
        let values: Vec<&str> = entry["source_values_in_topic"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            event.fields.get("onvif.topic_source"),
            (!values.is_empty()).then(|| values.join("/")).as_deref()
        );
        assert_eq!(event.source.product, "onvif");
        assert!(event.time_ms > 0, "{file}: UtcTime read");
        // None of these topics has a mapping of its own: they stay base events with their items.
        assert_eq!(
            (event.class, event.activity),
            (EventClass::Base, Activity::Other),
            "{file}"
        );
        assert!(
            event.fields.keys().any(|k| k.starts_with("onvif.data.")),
            "{file}"
        );

        // The same message as an onvif-ej line (the pretty-printed payload embedded as is).
        let line = format!(
            "{{\"topic\": {}, \"payload\": {}}}",
            Value::String(topic.into()),
            String::from_utf8_lossy(&payload)
        );
        let events = decode_clean(&Format::OnvifEj, line.as_bytes(), &ctx(0));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].fields, event.fields);
        let events = decode_clean(&Format::Auto, line.as_bytes(), &ctx(0));
        assert_eq!(events[0].source.format, "onvif-ej");
    }
    let Some(fence) = shared_bytes(
        "data/onvif/onvif-ej/RuleEngine_LineDetector_Crossed__1_2_MyImportantFence1.json",
    ) else {
        return;
    };
    let e = decode_onvif_mqtt(
        "MyDevice/onvif-ej/RuleEngine/LineDetector/Crossed/&1/2/MyImportantFence1",
        &fence,
        &ctx(0),
    )
    .unwrap();
    assert_eq!(e.time_rfc3339(), "2008-10-10T12:24:57.321Z");
    assert_eq!(&e.fields["onvif.source.Rule"], "MyImportantFence1");
    assert_eq!(&e.fields["onvif.data.ObjectId"], "15");
    assert_eq!(e.physical.camera.as_deref(), Some("1"));
    assert_eq!(e.source.service, "ruleengine");
    let Some(temp) = shared_bytes("data/onvif/onvif-ej/Device_Sensor_Temperature_High.json") else {
        return;
    };
    let e = decode_onvif_mqtt(
        "MyDevice/onvif-ej/Device/Sensor/Temperature/High",
        &temp,
        &ctx(0),
    )
    .unwrap();
    assert_eq!(&e.fields["onvif.data.Value"], "28.65");
    assert_eq!(&e.fields["onvif.source.SensorID"], "temp_001");
}
