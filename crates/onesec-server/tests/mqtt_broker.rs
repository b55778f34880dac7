//! The MQTT source against the real Mosquitto broker on 127.0.0.1:1883 (override with
//! `ONESEC_TEST_MQTT`). Without a broker the test is skipped, except under CI where it fails.

mod common;

use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::time::{Duration, Instant};

fn broker() -> Option<(String, u16)> {
    let url = std::env::var("ONESEC_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let (host, port) = onesec_server::mqtt::broker_address(&url)?;
    match std::net::TcpStream::connect_timeout(
        &format!("{host}:{port}").parse().ok()?,
        Duration::from_secs(2),
    ) {
        Ok(_) => Some((host, port)),
        Err(error) => {
            assert!(
                !onesec_testdata::under_ci(),
                "MQTT broker {url} unreachable under CI: {error}"
            );
            eprintln!("SKIPPED: no MQTT broker at {url}: {error}");
            None
        }
    }
}

/// A name no other run of the tests uses (topics, client ids).
fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

/// A client that publishes to the broker (its event loop runs in the background).
fn publisher(host: &str, port: u16, unique: &str) -> AsyncClient {
    let mut options = MqttOptions::new(format!("publisher-{unique}"), host, port);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onvif_events_published_to_the_broker_are_journaled_and_stored() {
    let Some((host, port)) = broker() else { return };
    let data = tempfile::tempdir().unwrap();
    let unique = unique();
    let prefix = format!("onesec-test-{unique}");
    let mut config = common::config(data.path());
    config.mqtt.url = format!("mqtt://{host}:{port}");
    config.mqtt.topics = vec![format!("{prefix}/+/onvif-ej/#"), format!("{prefix}/json/#")];
    config.mqtt.client_id = format!("onesec-{unique}");
    let (pipeline, server) = common::start(&config).await;

    let client = publisher(&host, port, &unique);
    // Give the source time to connect and subscribe before publishing.
    let deadline = Instant::now() + Duration::from_secs(10);
    let door = format!("{prefix}/ctl-par-01/onvif-ej/Door/State/DoorAlarm/&PAR-D-SRV");
    let door_payload = r#"{"UtcTime": "2026-03-10T21:47:12Z", "Source": {"DoorToken": "PAR-D-SRV"}, "Data": {"State": "DoorForcedOpen"}}"#;
    let denied = format!(
        "{prefix}/ctl-lyo-01/onvif-ej/AccessControl/Denied/CredentialNotFound/Card/&RDR-LYO-07"
    );
    let denied_payload = r#"{"UtcTime": "2026-03-10T15:20:01Z", "Source": {"AccessPointToken": "RDR-LYO-07"}, "Data": {"Card": "0x99AA01"}}"#;
    let bad = format!("{prefix}/json/broken");
    let mut stored = Vec::new();
    let mut letters = Vec::new();
    let broken_kept = |letters: &Vec<onesec_store::DeadLetter>| {
        letters
            .iter()
            .any(|l| l.input == "mqtt" && l.reason.contains("json/broken"))
    };
    // Each message is its own delivery: wait for the events *and* the dead letter, since the
    // broken message may be handled after the two good ones are stored.
    while Instant::now() < deadline && (stored.len() < 2 || !broken_kept(&letters)) {
        client
            .publish(&door, QoS::AtLeastOnce, false, door_payload)
            .await
            .unwrap();
        client
            .publish(&denied, QoS::AtLeastOnce, false, denied_payload)
            .await
            .unwrap();
        client
            .publish(&bad, QoS::AtLeastOnce, false, "{not json")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stored = common::stored_events(&pipeline, 100).await;
        let p = pipeline.clone();
        letters =
            tokio::task::spawn_blocking(move || p.read_store(|s| s.dead_letters(10)).unwrap())
                .await
                .unwrap();
    }
    let activities: Vec<&str> = stored.iter().map(|e| e.activity.as_str()).collect();
    assert!(
        activities.contains(&"portal_forced"),
        "stored: {activities:?}"
    );
    assert!(
        activities.contains(&"access_denied"),
        "stored: {activities:?}"
    );
    let forced = stored
        .iter()
        .find(|e| e.activity.as_str() == "portal_forced")
        .unwrap();
    assert_eq!(forced.host.as_deref(), Some("ctl-par-01"));
    assert_eq!(forced.source.input, "mqtt");
    assert!(broken_kept(&letters), "dead letters: {letters:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_topic_is_read_through_its_field_mapping() {
    let Some((host, port)) = broker() else { return };
    let data = tempfile::tempdir().unwrap();
    let unique = unique();
    let prefix = format!("onesec-route-{unique}");
    let mapping = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/sources/door-gateway-mapping.toml");
    let mut config = common::config(data.path());
    config.mqtt.url = format!("mqtt://{host}:{port}");
    // No plain topics: the route's filter is subscribed to by itself.
    config.mqtt.topics = Vec::new();
    config.mqtt.routes = vec![onesec_pipeline::MqttRoute {
        topic: format!("{prefix}/+/access"),
        format: "json-map".into(),
        mapping: Some(mapping),
    }];
    config.mqtt.client_id = format!("onesec-{unique}");
    let (pipeline, server) = common::start(&config).await;

    let client = publisher(&host, port, &unique);
    let topic = format!("{prefix}/par/access");
    let payload = r#"{"ts": "2026-03-10T21:40:12Z", "card": {"no": "0042"}, "door": {"reader": "R-PAR-01"}, "result": "NOK", "dir": "in", "gw": {"ip": "10.20.0.7"}}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stored = Vec::new();
    while Instant::now() < deadline && stored.is_empty() {
        client
            .publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stored = common::stored_events(&pipeline, 10).await;
    }
    let event = stored
        .first()
        .expect("the routed message was journaled and stored");
    assert_eq!(event.source.format, "json-map");
    assert_eq!(event.source.product, "door-gateway");
    assert_eq!(event.class.as_str(), "physical_access");
    assert_eq!(event.actor.badge.as_deref(), Some("0042"));
    assert_eq!(event.physical.reader.as_deref(), Some("R-PAR-01"));
    assert_eq!(event.status.as_str(), "failure");
    assert_eq!(event.fields.get("mqtt.topic"), Some(topic.as_str()));
    server.abort();
}

/// A message over the client library's default packet limit (10 KiB) is read, and one over
/// `[mqtt] max_message_bytes` (default 1 MiB) is a dead letter naming the limit and its topic,
/// acknowledged so the broker does not send it again; the messages after it still arrive.
/// Either used to drop the connection at every delivery, forever: the source was wedged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_never_wedge_the_source() {
    let Some((host, port)) = broker() else { return };
    let data = tempfile::tempdir().unwrap();
    let unique = unique();
    let prefix = format!("onesec-large-{unique}");
    let mut config = common::config(data.path());
    config.mqtt.url = format!("mqtt://{host}:{port}");
    config.mqtt.topics = vec![format!("{prefix}/#")];
    config.mqtt.client_id = format!("onesec-{unique}");
    let (pipeline, server) = common::start(&config).await;

    let mut options = MqttOptions::new(format!("publisher-{unique}"), &host, port);
    options.set_keep_alive(Duration::from_secs(10));
    options.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let line = |n: usize, pad: usize| {
        format!(
            "<38>1 2026-03-10T16:40:{n:02}Z web-01 sshd 7100 - - Failed password for root from 203.0.113.{n} port 40000 ssh2 {}",
            "x".repeat(pad)
        )
    };
    // Until the source has subscribed, publications may go nowhere: repeat the first one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::stored_events(&pipeline, 10).await.is_empty() {
        assert!(Instant::now() < deadline, "the source never subscribed");
        let topic = format!("{prefix}/ready");
        client
            .publish(topic, QoS::AtLeastOnce, false, line(1, 0))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let before = common::stored_events(&pipeline, 100).await.len();
    for (topic, payload) in [
        ("medium", line(2, 64 << 10)),
        ("huge", line(3, 2 << 20)),
        ("after", line(4, 0)),
    ] {
        client
            .publish(
                format!("{prefix}/{topic}"),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let (stored, letters) = loop {
        let stored = common::stored_events(&pipeline, 100).await;
        let p = pipeline.clone();
        let letters =
            tokio::task::spawn_blocking(move || p.read_store(|s| s.dead_letters(10)).unwrap())
                .await
                .unwrap();
        if (stored.len() >= before + 2 && !letters.is_empty()) || Instant::now() > deadline {
            break (stored, letters);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let topics: Vec<&str> = stored
        .iter()
        .filter_map(|e| e.fields.get("mqtt.topic"))
        .collect();
    for topic in ["medium", "after"] {
        let topic = format!("{prefix}/{topic}");
        assert!(
            topics.contains(&topic.as_str()),
            "{topic} stored: {topics:?}"
        );
    }
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.input, "mqtt");
    assert!(
        letter.reason.contains("mqtt.max_message_bytes")
            && letter.reason.contains(&format!("{prefix}/huge")),
        "{letter:?}"
    );
    let counters = pipeline
        .sources()
        .into_iter()
        .find(|s| s.source == "mqtt")
        .unwrap_or_default();
    assert_eq!(
        (counters.dead_lettered, counters.received - counters.decoded),
        (1, 1),
        "{counters:?}"
    );
    server.abort();
}

/// A payload of several lines (format auto): a bad line's dead letter gives its line in the
/// payload and the byte offset where that line starts, the two pointing at the same place (the
/// line was the message's number in an internal batch, while the offset was the payload's). A
/// broken onvif-ej message (one record per payload) is line 1 at byte 0 (it had no offset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_of_a_payload_is_located_in_it() {
    let Some((host, port)) = broker() else { return };
    let data = tempfile::tempdir().unwrap();
    let unique = unique();
    let prefix = format!("onesec-lines-{unique}");
    let mut config = common::config(data.path());
    config.mqtt.url = format!("mqtt://{host}:{port}");
    config.mqtt.topics = vec![format!("{prefix}/#")];
    config.mqtt.client_id = format!("onesec-{unique}");
    let (pipeline, server) = common::start(&config).await;
    let client = publisher(&host, port, &unique);
    let first = "<38>1 2026-03-10T16:50:00Z web-m sshd 7100 - - Failed password for root from 203.0.113.9 port 40000 ssh2";
    let third = "<38>1 2026-03-10T16:50:01Z web-m sshd 7100 - - Failed password for root from 203.0.113.9 port 40001 ssh2";
    let payload = format!("{first}\nnot a log line\n{third}");
    // Until the source has subscribed, publications may go nowhere: repeat.
    let deadline = Instant::now() + Duration::from_secs(10);
    let letters = loop {
        client
            .publish(
                format!("{prefix}/lines"),
                QoS::AtLeastOnce,
                false,
                payload.clone(),
            )
            .await
            .unwrap();
        let door = format!("{prefix}/ctl-par-01/onvif-ej/Door/State/DoorAlarm/&PAR-D-SRV");
        client
            .publish(
                door,
                QoS::AtLeastOnce,
                false,
                r#"{"UtcTime": "2026-03-10T21:4"#,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let p = pipeline.clone();
        let letters =
            tokio::task::spawn_blocking(move || p.read_store(|s| s.dead_letters(10)).unwrap())
                .await
                .unwrap();
        if letters.len() >= 2 || Instant::now() > deadline {
            break letters;
        }
    };
    let onvif = letters
        .iter()
        .find(|l| l.reason.contains("onvif-ej"))
        .expect("the broken onvif-ej message is a dead letter");
    assert_eq!((onvif.line, onvif.byte_offset), (1, Some(0)), "{onvif:?}");
    let letter = letters
        .iter()
        .find(|l| l.raw == "not a log line")
        .expect("the bad line is a dead letter");
    assert_eq!(letter.raw, "not a log line");
    assert_eq!(
        (letter.line, letter.byte_offset),
        (2, Some(first.len() as u64 + 1)),
        "{letter:?}"
    );
    server.abort();
}
