//! ONVIF SOAP/XML events (`onvif-xml`): the real Axis messages of shared/data/onvif against
//! their golden `index.csv`, our own Notify and PullMessagesResponse samples, identity with the
//! onvif-ej framing of the same messages, and broken input.

mod common;

use common::{ctx, decode_clean, local_bytes, shared_bytes};
use onesec_decode::{Format, decode_bytes};
use onesec_event::{Activity, Event, EventClass};
use std::collections::BTreeMap;

/// The Axis data set: `index.csv` row per file (topic, time, operation, Source/Key/Data items).
#[test]
fn every_axis_xml_file_decodes_to_its_index_row() {
    let Some(index) = shared_bytes("data/onvif/axis/index.csv") else {
        return;
    };
    let mut reader = csv::Reader::from_reader(index.as_slice());
    let mut files = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let file = &row[0];
        let bytes = shared_bytes(&format!("data/onvif/axis/{file}")).unwrap();
        let decoded = decode_bytes(&Format::OnvifXml, &bytes, &ctx(7));
        // Format::Auto recognises the body as XML and gives the same result.
        let auto = decode_bytes(&Format::Auto, &bytes, &ctx(7));
        assert_eq!(auto, decoded, "{file}");
        files += 1;
        if file.starts_with("event-instances/") {
            // GetEventInstancesResponse lists the topics a device can send: no event happened,
            // so it is refused with a reason rather than silently dropped.
            assert!(decoded.events.is_empty(), "{file}");
            assert_eq!(decoded.errors.len(), 1, "{file}");
            assert!(
                decoded.errors[0]
                    .reason
                    .contains("found <GetEventInstancesResponse> (the topic set"),
                "{file}: {}",
                decoded.errors[0].reason
            );
            continue;
        }
        assert!(decoded.errors.is_empty(), "{file}: {:?}", decoded.errors);
        if row[1].is_empty() {
            // FIRST_MESSAGE.xml: an empty tt:MetadataStream frame, no event and no error.
            assert!(decoded.events.is_empty(), "{file}");
            continue;
        }
        assert_eq!(decoded.events.len(), 1, "{file}");
        check_row(&decoded.events[0], &row, file);
    }
    assert_eq!(
        files, 41,
        "every XML file of the data set is listed in index.csv"
    );
}

fn check_row(e: &Event, row: &csv::StringRecord, file: &str) {
    let topic = row[1].split('/').map(|l| l.trim_start_matches("tns1:"));
    assert_eq!(
        &e.fields["onvif.topic"],
        topic.collect::<Vec<_>>().join("/"),
        "{file}"
    );
    assert_eq!(
        e.time_ms,
        onesec_event::parse_time_rfc3339(&row[2]).unwrap(),
        "{file}"
    );
    assert_eq!(&e.fields["onvif.property_operation"], &row[3], "{file}");
    for (column, prefix) in [(4, "onvif.source."), (5, "onvif.key."), (6, "onvif.data.")] {
        let expected: BTreeMap<String, String> = row[column]
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (format!("{prefix}{k}"), v.to_string())
            })
            .collect();
        let found: BTreeMap<String, String> = e
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(found, expected, "{file} {prefix}");
    }
    assert_eq!(e.source.format, "onvif-xml");
    assert_eq!(e.source.product, "onvif");
    assert!(e.raw.starts_with("<wsnt:NotificationMessage") && e.raw.ends_with('>'));
    assert!(e.fields["onvif.producer"].ends_with("/ProducerReference"));
}

/// What the Axis files map to: motion, tamper and objects as video analytics, I/O as alarm
/// signals, the `Initialized` state dump marked as such.
#[test]
fn axis_topics_map_to_classes() {
    let cases = [
        (
            "PIR_CHANGE.xml",
            EventClass::VideoAnalytics,
            Activity::Motion,
        ),
        (
            "PIR_INIT.xml",
            EventClass::VideoAnalytics,
            Activity::Cleared,
        ),
        (
            "VMD4_C1P1_CHANGE.xml",
            EventClass::VideoAnalytics,
            Activity::Motion,
        ),
        (
            "VMD3_INIT.xml",
            EventClass::VideoAnalytics,
            Activity::Cleared,
        ),
        (
            "RULE_ENGINE_REGION_DETECTOR_INIT.xml",
            EventClass::VideoAnalytics,
            Activity::Cleared,
        ),
        (
            "OBJECT_ANALYTICS_ANY_CHANGE.xml",
            EventClass::VideoAnalytics,
            Activity::ObjectDetected,
        ),
        (
            "GLOBAL_SCENE_CHANGE.xml",
            EventClass::VideoAnalytics,
            Activity::Cleared,
        ),
        ("PORT_0_INIT.xml", EventClass::AlarmSignal, Activity::Other),
        ("PTZ_MOVE_START.xml", EventClass::Base, Activity::Other),
    ];
    for (file, class, activity) in cases {
        let Some(bytes) = shared_bytes(&format!("data/onvif/axis/messages/{file}")) else {
            return;
        };
        let events = decode_clean(&Format::OnvifXml, &bytes, &ctx(0));
        assert_eq!(
            (events[0].class, events[0].activity),
            (class, activity),
            "{file}"
        );
    }
}

/// Our Notify sample holds every mapped access, door, video and I/O topic; its onvif-ej twin
/// (`onvif-notify.jsonl`, the same messages in the Core specification's JSON form) must give
/// the same events, apart from what the framing itself says.
#[test]
fn notify_and_onvif_ej_give_identical_events() {
    let xml = decode_clean(&Format::OnvifXml, &local_bytes("onvif-notify.xml"), &ctx(9));
    let json = decode_clean(
        &Format::OnvifEj,
        &local_bytes("onvif-notify.jsonl"),
        &ctx(9),
    );
    assert_eq!(xml.len(), 13);
    assert_eq!(xml.len(), json.len());
    for (x, j) in xml.iter().zip(&json) {
        let mut x = x.clone();
        // Framing only: the decoder name, the input text and the SOAP producer address.
        assert_eq!(
            x.fields.remove("onvif.producer").as_deref(),
            Some("http://192.0.2.10/onvif/event_service")
        );
        assert_eq!(x.source.format, "onvif-xml");
        x.source.format = j.source.format.clone();
        x.raw = j.raw.clone();
        assert_eq!(&x, j);
    }
    let got: Vec<(EventClass, Activity)> = xml.iter().map(|e| (e.class, e.activity)).collect();
    use Activity as A;
    use EventClass as C;
    assert_eq!(
        got,
        [
            (C::PhysicalAccess, A::AccessGranted),
            (C::PhysicalAccess, A::AccessDenied),
            (C::PhysicalAccess, A::AccessTaken),
            (C::PhysicalAccess, A::AccessNotTaken),
            (C::PhysicalAccess, A::Duress),
            (C::PhysicalAccess, A::Other),
            (C::PhysicalAccess, A::Other),
            (C::PhysicalAccess, A::PortalForced),
            (C::PhysicalAccess, A::PortalHeldOpen),
            (C::PhysicalAccess, A::Tamper),
            (C::VideoAnalytics, A::Motion),
            (C::VideoAnalytics, A::VideoTamper),
            (C::AlarmSignal, A::Other),
        ]
    );
    let denied = &xml[1];
    assert_eq!(
        denied.physical.reason.as_deref(),
        Some("CredentialNotActive")
    );
    assert_eq!(denied.physical.reader.as_deref(), Some("RDR-PAR-09"));
    assert_eq!(denied.actor.badge.as_deref(), Some("0x77B001"));
    assert_eq!(xml[5].physical.state.as_deref(), Some("Unlocked"));
    assert_eq!(xml[6].physical.state.as_deref(), Some("Open"));
    assert_eq!(xml[7].physical.portal.as_deref(), Some("PAR-D-SRV"));
    assert_eq!(xml[12].physical.state.as_deref(), Some("true"));
    assert_eq!(xml[0].time_rfc3339(), "2026-03-10T21:00:00.000Z");
}

/// A pull point answers a new subscription with the current state (`Initialized`): a door that
/// is in alarm right now is reported, marked, and is not a new alarm.
#[test]
fn pull_messages_response_marks_the_state_dump() {
    let events = decode_clean(&Format::Auto, &local_bytes("onvif-pull.xml"), &ctx(0));
    assert_eq!(events.len(), 6);
    let operations: Vec<&str> = events
        .iter()
        .map(|e| &e.fields["onvif.property_operation"])
        .collect();
    assert_eq!(
        operations,
        [
            "Initialized",
            "Initialized",
            "Initialized",
            "Initialized",
            "Initialized",
            "Changed"
        ]
    );
    assert_eq!(events[0].activity, Activity::PortalForced);
    assert_eq!(events[4].activity, Activity::AntipassbackViolation);
    // "A property that never happened is reported with time 1970-01-01T00:00:00Z."
    assert_eq!(events[4].time_ms, 0);
    assert_eq!(events[5].activity, Activity::PortalNormal);
    assert_eq!(events[5].source.format, "onvif-xml");
}

/// Broken notifications are refused one by one; a truncated document keeps what came before.
#[test]
fn bad_notifications_are_refused_with_reasons() {
    let decoded = decode_bytes(&Format::OnvifXml, &local_bytes("onvif-bad.xml"), &ctx(0));
    assert_eq!(decoded.events.len(), 1, "{:?}", decoded.errors);
    let e = &decoded.events[0];
    assert_eq!(e.activity, Activity::AccessDenied);
    assert_eq!(e.physical.reader.as_deref(), Some("R&D-1"));
    assert_eq!(
        e.physical.reason.as_deref(),
        Some("pt:InvalidIdentifierValue")
    );
    assert_eq!(
        &e.fields["onvif.data.Extra"],
        r#"<x:Blob xmlns:x="urn:x">kept as text</x:Blob>"#
    );
    let reasons: Vec<(usize, &str)> = decoded
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert_eq!(reasons[0].0, 3);
    assert!(
        reasons[0].1.contains("has no wsnt:Topic"),
        "{}",
        reasons[0].1
    );
    assert_eq!(reasons[1].0, 6);
    assert!(
        reasons[1].1.contains("tns1:Door/State/DoorAlarm") && reasons[1].1.contains("UtcTime"),
        "{}",
        reasons[1].1
    );
    assert!(decoded.errors[1].raw.contains("yesterday"));
    assert_eq!(reasons[2].0, 14);
    assert!(
        reasons[2].1.starts_with("invalid XML at byte 1"),
        "{}",
        reasons[2].1
    );
    assert!(reasons[2].1.contains("kept"), "{}", reasons[2].1);
}

#[test]
fn soap_fault_and_other_documents_are_not_events() {
    let fault = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Reason><s:Text>Not authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
    let decoded = decode_bytes(&Format::OnvifXml, fault, &ctx(0));
    assert!(decoded.events.is_empty());
    assert!(
        decoded.errors[0]
            .reason
            .contains("found <Fault> (a SOAP fault")
    );
    let broken = b"<wsnt:Notify><wsnt:NotificationMessage></wsnt:Topic></wsnt:Notify>";
    let decoded = decode_bytes(&Format::OnvifXml, broken, &ctx(0));
    assert!(
        decoded.errors[0].reason.starts_with("invalid XML at byte"),
        "{:?}",
        decoded.errors
    );
    let cut = b"<wsnt:Notify>\n<wsnt:NotificationMessage><wsnt:Topic>tns1:Door</wsnt:Topic>";
    let decoded = decode_bytes(&Format::OnvifXml, cut, &ctx(0));
    assert_eq!(decoded.errors.len(), 1);
    assert_eq!(decoded.errors[0].line, 2);
    assert!(
        decoded.errors[0]
            .reason
            .starts_with("the XML ends inside <NotificationMessage>"),
        "{:?}",
        decoded.errors
    );
    // An empty pull (no events before the timeout) is a normal answer.
    let empty = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tev:PullMessagesResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><tev:CurrentTime>2026-03-10T20:05:01Z</tev:CurrentTime></tev:PullMessagesResponse></s:Body></s:Envelope>"#;
    assert_eq!(
        decode_bytes(&Format::OnvifXml, empty, &ctx(0)),
        Default::default()
    );
    // Syslog's `<PRI>` is not mistaken for XML by auto-detection.
    let syslog = b"<38>Mar 10 16:40:15 gw sshd[7100]: Failed password for root from 203.0.113.77 port 40000 ssh2\n";
    let decoded = decode_clean(&Format::Auto, syslog, &ctx(1_773_100_000_000));
    assert_eq!(decoded[0].source.format, "syslog");
}
