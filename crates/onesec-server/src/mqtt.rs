//! MQTT source: subscribes to ONVIF event-broker topics (`.../onvif-ej/...`) and JSON topics.
//!
//! Messages are acknowledged to the broker (QoS 1, manual acks) only after the journal holds
//! their events, so a crash between receipt and journal makes the broker deliver them again.
//! A topic matched by a `[[mqtt.route]]` is decoded as the route says (any input format,
//! `json-map` with its field mapping). Otherwise a message on an `onvif-ej` topic is decoded
//! with the topic (which names device and event); a message on a `frigate/...` topic goes to the
//! Frigate decoder with its topic; any other topic's payload is decoded per line in `auto`
//! format.

use onesec_decode::{
    CsvMapping, DecodeError, Decoded, Format, JsonMapping, decode_bytes, decode_frigate_mqtt,
    decode_onvif_mqtt,
};
use onesec_pipeline::{MqttConfig, MqttRoute, Pipeline};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most messages journaled together.
const BATCH: usize = 1024;

/// The largest MQTT packet (remaining length 268,435,455 and a 5-byte fixed header). The
/// client library's own limit (10 KiB by default) drops the connection on a larger message,
/// which the broker then delivers again at every reconnection: one large message would wedge
/// the source for good. So every packet is read, and `[mqtt] max_message_bytes` decides.
const MAX_PACKET: usize = 268_435_455 + 5;

/// A received message; a payload over `max_message_bytes` is replaced by its size and first
/// bytes (for its dead letter), so the queue never holds more than the limit per message.
struct Received {
    publish: Publish,
    oversized: Option<(usize, Vec<u8>)>,
}

/// First bytes of an oversized payload kept in its dead letter.
const OVERSIZED_HEAD: usize = 256;

/// Where the broker is, from `mqtt://host:port` (port 1883 by default); one parser for the
/// source and the response side's MQTT connector.
pub use onesec_pipeline::response::connectors::broker_address;

/// Runs the source until the task is aborted.
pub async fn serve(config: MqttConfig, routes: Routes, pipeline: Arc<Pipeline>) {
    let Some((host, port)) = broker_address(&config.url) else {
        tracing::error!(url = %config.url, "mqtt.url is not mqtt://host[:port]; MQTT source off");
        return;
    };
    let mut options = MqttOptions::new(config.client_id.clone(), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(false);
    options.set_manual_acks(true);
    options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let max_bytes = config.max_message_bytes;
    let (client, mut eventloop) = AsyncClient::new(options, BATCH);
    let (tx, rx) = mpsc::channel::<Received>(BATCH * 4);
    tokio::spawn(journal_messages(
        rx,
        client.clone(),
        routes,
        pipeline,
        max_bytes,
    ));
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(url = %config.url, "MQTT connected");
                let routed = config.routes.iter().map(|r| &r.topic);
                for topic in config.topics.iter().chain(routed) {
                    if let Err(error) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::error!(%topic, %error, "MQTT subscribe failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(mut publish))) => {
                let size = publish.payload.len();
                let oversized = (size > max_bytes).then(|| {
                    let head = publish.payload[..OVERSIZED_HEAD.min(size)].to_vec();
                    // A fresh empty payload, so the large buffer is freed now.
                    publish.payload = Default::default();
                    (size, head)
                });
                if tx.send(Received { publish, oversized }).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, url = %config.url, "MQTT connection lost; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Drains received messages in batches: decode, journal, then acknowledge to the broker.
async fn journal_messages(
    mut rx: mpsc::Receiver<Received>,
    client: AsyncClient,
    routes: Routes,
    pipeline: Arc<Pipeline>,
    max_bytes: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let ingestor = pipeline.ingestor();
        let ctx = ingestor.decode_context("mqtt");
        let mut events = Vec::with_capacity(batch.len());
        let mut errors = Vec::new();
        for received in &batch {
            let publish = &received.publish;
            if let Some((size, head)) = &received.oversized {
                let mut error = DecodeError::new(
                    1,
                    format!(
                        "topic {}: message of {size} bytes exceeds mqtt.max_message_bytes = {max_bytes}; acknowledged and dropped (its first bytes kept)",
                        publish.topic
                    ),
                    String::from_utf8_lossy(head),
                );
                error.offset = Some(0);
                errors.push(error);
                continue;
            }
            decode_message(publish, &routes, &ctx, &mut events, &mut errors);
        }
        let report = ingestor
            .ingest_decoded(events, errors, "mqtt", "mqtt")
            .await;
        if report.journal_error.is_some() {
            // Not acknowledged: the broker redelivers after reconnecting.
            continue;
        }
        for received in &batch {
            if let Err(error) = client.ack(&received.publish).await {
                tracing::warn!(%error, "MQTT ack failed");
            }
        }
    }
}

/// The `[[mqtt.route]]`s, their decoders ready (mapping files read once, at start).
#[derive(Debug, Default)]
pub struct Routes(Vec<(String, Decoder)>);

/// How a routed topic's messages are decoded.
#[derive(Debug)]
enum Decoder {
    /// With the topic, as the built-in onvif-ej choice does.
    OnvifEj,
    /// With the topic, as the built-in frigate choice does.
    Frigate,
    /// The payload alone, in this format.
    Payload(Format),
}

impl Routes {
    /// Reads the routes of `[mqtt]`: each format name known, each mapping file read and valid.
    pub fn from_config(config: &MqttConfig) -> Result<Routes, String> {
        config
            .routes
            .iter()
            .map(|r| Ok((r.topic.clone(), decoder(r)?)))
            .collect::<Result<Vec<_>, String>>()
            .map(Routes)
    }

    fn find(&self, topic: &str) -> Option<&Decoder> {
        self.0
            .iter()
            .find(|(filter, _)| topic_matches(filter, topic))
            .map(|(_, d)| d)
    }
}

fn decoder(route: &MqttRoute) -> Result<Decoder, String> {
    let topic = &route.topic;
    if topic.trim().is_empty() {
        return Err("a route has an empty topic".into());
    }
    let read_mapping = || -> Result<String, String> {
        let path = route.mapping.as_ref().ok_or_else(|| {
            format!(
                "topic {topic}: format {} needs mapping = \"FILE\"",
                route.format
            )
        })?;
        std::fs::read_to_string(path)
            .map_err(|e| format!("topic {topic}: reading mapping {}: {e}", path.display()))
    };
    let name = route.format.trim().to_ascii_lowercase();
    Ok(match name.as_str() {
        "json-map" => Decoder::Payload(Format::JsonMap(
            JsonMapping::from_toml(&read_mapping()?).map_err(|e| format!("topic {topic}: {e}"))?,
        )),
        "access-csv" if route.mapping.is_some() => Decoder::Payload(Format::AccessCsv(
            CsvMapping::from_toml(&read_mapping()?).map_err(|e| format!("topic {topic}: {e}"))?,
        )),
        "onvif-ej" => Decoder::OnvifEj,
        "frigate" => Decoder::Frigate,
        other => {
            if route.mapping.is_some() {
                return Err(format!(
                    "topic {topic}: format {other} takes no mapping (json-map and access-csv do)"
                ));
            }
            Decoder::Payload(other.parse().map_err(|e| format!("topic {topic}: {e}"))?)
        }
    })
}

/// Whether an MQTT topic filter (`+`: one level, `#`: this level and all below) matches a
/// topic name.
fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut levels = topic.split('/');
    for part in filter.split('/') {
        match (part, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (want, Some(got)) if want == got => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

fn decode_message(
    publish: &Publish,
    routes: &Routes,
    ctx: &onesec_decode::DecodeContext,
    events: &mut Vec<onesec_event::Event>,
    errors: &mut Vec<DecodeError>,
) {
    let topic = publish.topic.as_str();
    let decoded = match routes.find(topic) {
        Some(Decoder::Payload(format)) => decode_payload(format, publish, ctx),
        Some(Decoder::Frigate) => one(decode_frigate_mqtt(topic, &publish.payload, ctx)),
        Some(Decoder::OnvifEj) => one(decode_onvif(publish, ctx)),
        None if topic.contains("/onvif-ej/") || topic.starts_with("onvif-ej/") => {
            one(decode_onvif(publish, ctx))
        }
        // Frigate's topic says what the payload is (status topics carry bare words like `ON`).
        None if topic.starts_with("frigate/") => {
            one(decode_frigate_mqtt(topic, &publish.payload, ctx))
        }
        None => decode_payload(&Format::Auto, publish, ctx),
    };
    events.extend(decoded.events);
    // Line and byte offset stay the payload's (where in the message); the topic says which.
    errors.extend(decoded.errors.into_iter().map(|mut error| {
        error.reason = format!("topic {topic}: {}", error.reason);
        error
    }));
}

fn one(result: Result<onesec_event::Event, DecodeError>) -> Decoded {
    match result {
        Ok(event) => Decoded {
            events: vec![event],
            errors: Vec::new(),
        },
        // The payload is the one record: it starts at byte 0.
        Err(mut error) => Decoded {
            events: Vec::new(),
            errors: vec![{
                error.offset = Some(0);
                error
            }],
        },
    }
}

fn decode_onvif(
    publish: &Publish,
    ctx: &onesec_decode::DecodeContext,
) -> Result<onesec_event::Event, DecodeError> {
    let mut event = decode_onvif_mqtt(&publish.topic, &publish.payload, ctx)?;
    if publish.retain {
        event.fields.insert("mqtt.retained", "true");
        // onvif-ej publishes properties retained and without PropertyOperation; a retained
        // copy arrives on subscribing: the device's current state, which the rules must not
        // take for a new alarm.
        event
            .fields
            .insert_if_absent("onvif.property_operation", "Initialized");
    }
    Ok(event)
}

/// The payload alone in `format`, each event marked with its topic.
fn decode_payload(
    format: &Format,
    publish: &Publish,
    ctx: &onesec_decode::DecodeContext,
) -> Decoded {
    let mut decoded = decode_bytes(format, &publish.payload, ctx);
    for e in &mut decoded.events {
        e.fields.insert("mqtt.topic", &publish.topic);
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters_follow_mqtt_wildcards() {
        assert!(topic_matches("sensors/+/state", "sensors/door-1/state"));
        assert!(!topic_matches("sensors/+/state", "sensors/door-1/battery"));
        assert!(!topic_matches("sensors/+/state", "sensors/a/b/state"));
        assert!(topic_matches("sensors/#", "sensors"));
        assert!(topic_matches("sensors/#", "sensors/a/b"));
        assert!(topic_matches("#", "anything/at/all"));
        assert!(!topic_matches("sensors/state", "sensors/state/x"));
        assert!(topic_matches("a/b", "a/b"));
    }

    fn route(topic: &str, format: &str, mapping: Option<&str>) -> MqttRoute {
        MqttRoute {
            topic: topic.into(),
            format: format.into(),
            mapping: mapping.map(Into::into),
        }
    }

    fn routes(list: Vec<MqttRoute>) -> Result<Routes, String> {
        Routes::from_config(&MqttConfig {
            routes: list,
            ..MqttConfig::default()
        })
    }

    #[test]
    fn bad_routes_are_refused_with_the_topic_and_reason() {
        let e = routes(vec![route("s/#", "jsonmap", None)]).unwrap_err();
        assert!(
            e.contains("topic s/#") && e.contains("unknown input format 'jsonmap'"),
            "{e}"
        );
        let e = routes(vec![route("s/#", "json-map", None)]).unwrap_err();
        assert!(e.contains("needs mapping"), "{e}");
        let e = routes(vec![route("s/#", "json-map", Some("/no/such/file.toml"))]).unwrap_err();
        assert!(e.contains("reading mapping /no/such/file.toml"), "{e}");
        let e = routes(vec![route("s/#", "syslog", Some("x.toml"))]).unwrap_err();
        assert!(e.contains("takes no mapping"), "{e}");
        assert!(routes(vec![route("s/#", "cef", None)]).is_ok());
    }

    #[test]
    fn the_first_matching_route_decides() {
        let dir = std::env::temp_dir().join(format!("onesec-mqtt-route-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mapping = dir.join("map.toml");
        std::fs::write(
            &mapping,
            "[event]\nclass = \"device_health\"\n[fields]\nhost = \"id\"\n",
        )
        .expect("mapping file");
        let r = routes(vec![
            route("hub/+/health", "json-map", mapping.to_str()),
            route("hub/#", "syslog", None),
        ])
        .expect("routes");
        let ctx = onesec_decode::DecodeContext::new("mqtt", 5);
        let publish = |topic: &str, payload: &str| {
            Publish::new(topic, QoS::AtLeastOnce, payload.as_bytes().to_vec())
        };
        let (mut events, mut errors) = (Vec::new(), Vec::new());
        decode_message(
            &publish("hub/gw1/health", r#"{"id": "gw1"}"#),
            &r,
            &ctx,
            &mut events,
            &mut errors,
        );
        decode_message(
            &publish("hub/gw1/log", "<13>Mar  2 10:00:00 gw1 app: started"),
            &r,
            &ctx,
            &mut events,
            &mut errors,
        );
        decode_message(
            &publish("hub/gw1/health", "not json"),
            &r,
            &ctx,
            &mut events,
            &mut errors,
        );
        assert_eq!(events.len(), 2, "{errors:?}");
        assert_eq!(events[0].class, onesec_event::EventClass::DeviceHealth);
        assert_eq!(events[0].host.as_deref(), Some("gw1"));
        assert_eq!(events[0].fields.get("mqtt.topic"), Some("hub/gw1/health"));
        assert_eq!(events[1].source.format, "syslog");
        assert_eq!(errors.len(), 1);
        // Where in its payload: the whole payload is the one JSON record (line 1, byte 0).
        assert_eq!((errors[0].line, errors[0].offset), (1, Some(0)));
        assert!(
            errors[0]
                .reason
                .starts_with("topic hub/gw1/health: expected a JSON object"),
            "{}",
            errors[0].reason
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
