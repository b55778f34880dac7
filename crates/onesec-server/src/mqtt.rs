//! MQTT source: subscribes to ONVIF event-broker topics (`.../onvif-ej/...`) and JSON topics.
//!
//! Messages are acknowledged to the broker (QoS 1, manual acks) only after the journal holds
//! their events, so a crash between receipt and journal makes the broker deliver them again.
//! A message on an `onvif-ej` topic is decoded with the topic (which names device and event);
//! a message on a `frigate/...` topic goes to the Frigate decoder with its topic; any other
//! topic's payload is decoded per line in `auto` format.

use onesec_decode::{DecodeError, Format, decode_bytes, decode_frigate_mqtt, decode_onvif_mqtt};
use onesec_pipeline::{MqttConfig, Pipeline};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most messages journaled together.
const BATCH: usize = 1024;

/// Where the broker is, from `mqtt://host:port` (port 1883 by default); one parser for the
/// source and the response side's MQTT connector.
pub use onesec_pipeline::response::connectors::broker_address;

/// Runs the source until the task is aborted.
pub async fn serve(config: MqttConfig, pipeline: Arc<Pipeline>) {
    let Some((host, port)) = broker_address(&config.url) else {
        tracing::error!(url = %config.url, "mqtt.url is not mqtt://host[:port]; MQTT source off");
        return;
    };
    let mut options = MqttOptions::new(config.client_id.clone(), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(false);
    options.set_manual_acks(true);
    let (client, mut eventloop) = AsyncClient::new(options, BATCH);
    let (tx, rx) = mpsc::channel::<Publish>(BATCH * 4);
    tokio::spawn(journal_messages(rx, client.clone(), pipeline));
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(url = %config.url, "MQTT connected");
                for topic in &config.topics {
                    if let Err(error) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::error!(%topic, %error, "MQTT subscribe failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if tx.send(publish).await.is_err() {
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
    mut rx: mpsc::Receiver<Publish>,
    client: AsyncClient,
    pipeline: Arc<Pipeline>,
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
        for (index, publish) in batch.iter().enumerate() {
            decode_message(publish, &ctx, index + 1, &mut events, &mut errors);
        }
        let report = ingestor
            .ingest_decoded(events, errors, "mqtt", "mqtt")
            .await;
        if report.journal_error.is_some() {
            // Not acknowledged: the broker redelivers after reconnecting.
            continue;
        }
        for publish in &batch {
            if let Err(error) = client.ack(publish).await {
                tracing::warn!(%error, "MQTT ack failed");
            }
        }
    }
}

fn decode_message(
    publish: &Publish,
    ctx: &onesec_decode::DecodeContext,
    number: usize,
    events: &mut Vec<onesec_event::Event>,
    errors: &mut Vec<DecodeError>,
) {
    let topic = publish.topic.as_str();
    if topic.contains("/onvif-ej/") || topic.starts_with("onvif-ej/") {
        match decode_onvif_mqtt(topic, &publish.payload, ctx) {
            Ok(mut event) => {
                if publish.retain {
                    event.fields.insert("mqtt.retained".into(), "true".into());
                    // onvif-ej publishes properties retained and without PropertyOperation;
                    // a retained copy arrives on subscribing: the device's current state,
                    // which the rules must not take for a new alarm.
                    event
                        .fields
                        .entry("onvif.property_operation".into())
                        .or_insert_with(|| "Initialized".into());
                }
                events.push(event);
            }
            Err(mut error) => {
                error.line = number;
                error.reason = format!("topic {topic}: {}", error.reason);
                errors.push(error);
            }
        }
        return;
    }
    // Frigate's topic says what the payload is (status topics carry bare words like `ON`).
    if topic.starts_with("frigate/") {
        match decode_frigate_mqtt(topic, &publish.payload, ctx) {
            Ok(event) => events.push(event),
            Err(mut error) => {
                error.line = number;
                error.reason = format!("topic {topic}: {}", error.reason);
                errors.push(error);
            }
        }
        return;
    }
    let decoded = decode_bytes(&Format::Auto, &publish.payload, ctx);
    events.extend(decoded.events);
    errors.extend(decoded.errors.into_iter().map(|mut e| {
        e.line = number;
        e.reason = format!("topic {topic}: {}", e.reason);
        e
    }));
}
