//! The live ingest role: `onesec up` with `[cluster] ingest = true` publishes what its network
//! inputs take (HTTP API, syslog UDP/TCP/TLS, MQTT, SIA DC-09, ONVIF) to the cluster's stream.
//!
//! The inputs, decoders, dead letters, authentication and answers are those of the embedded
//! service; only the last step differs: the ingestor hands its resolved events to
//! [`LiveIngest`] (an [`EventLog`]) instead of the journal, and answers the sender once
//! JetStream acknowledged every copy ([`Publisher::publish_resolved`]).
//!
//! A file ingest publishes one watermark at its end; a live node never ends, so it publishes
//! one every `[cluster] watermark_every` when its inputs' event time moved. As on one machine
//! (`[detection] source_idle`), the watermark is the newest event time of the *slowest* input
//! heard from within `source_idle`, so a source whose clock runs ahead does not make the
//! others' events late, and an input that went quiet stops holding windows open.

use crate::publish::Publisher;
use onesec_event::Event;
use onesec_pipeline::{AppendFuture, EventLog};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How far one input's event time got, and when it was last heard from (wall clock).
#[derive(Debug, Clone, Copy)]
struct InputClock {
    newest_ms: i64,
    seen_ms: i64,
}

/// Publishes an ingest node's events and keeps its inputs' clocks for the watermark.
pub struct LiveIngest {
    publisher: Publisher,
    inputs: Mutex<HashMap<String, InputClock>>,
    source_idle_ms: i64,
    description: String,
}

impl LiveIngest {
    /// Publishes through `publisher`; an input silent for `source_idle_ms` (wall clock) no
    /// longer holds the watermark back.
    pub fn new(publisher: Publisher, source_idle_ms: i64) -> LiveIngest {
        let settings = &publisher.cluster().settings;
        let description = format!("JetStream cluster {} at {}", settings.prefix, settings.url);
        LiveIngest {
            publisher,
            inputs: Mutex::new(HashMap::new()),
            source_idle_ms,
            description,
        }
    }

    /// Notes the newest event time of each input among `events`, heard from at `now_ms`.
    fn note(&self, events: &[Event], now_ms: i64) {
        let mut inputs = match self.inputs.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        for event in events {
            let clock = inputs
                .entry(event.source.input.to_string())
                .or_insert(InputClock {
                    newest_ms: i64::MIN,
                    seen_ms: now_ms,
                });
            clock.newest_ms = clock.newest_ms.max(event.time_ms);
            clock.seen_ms = now_ms;
        }
    }

    /// The event time every input heard from within `source_idle` has reached (the slowest
    /// one's newest), or, when all are idle, the newest of all; `None` before any event.
    pub fn watermark(&self, now_ms: i64) -> Option<i64> {
        let inputs = match self.inputs.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        watermark_of(&inputs, self.source_idle_ms, now_ms)
    }

    /// Publishes the watermark every `every` when it moved, until the task is aborted. A
    /// failed publish is logged and tried again at the next tick.
    pub fn spawn_watermarks(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut published = i64::MIN;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(watermark) = self.watermark(crate::now_ms()) else {
                    continue;
                };
                if watermark <= published {
                    continue;
                }
                match self.publisher.publish_watermark(watermark).await {
                    Ok(()) => published = watermark,
                    Err(error) => tracing::warn!(%error, "watermark not published; next tick"),
                }
            }
        })
    }
}

/// The slowest newest event time among the inputs heard from within `idle_ms` of `now_ms`;
/// when none was, the newest of all.
fn watermark_of(inputs: &HashMap<String, InputClock>, idle_ms: i64, now_ms: i64) -> Option<i64> {
    let active = inputs
        .values()
        .filter(|c| now_ms - c.seen_ms <= idle_ms)
        .map(|c| c.newest_ms)
        .min();
    active.or_else(|| inputs.values().map(|c| c.newest_ms).max())
}

impl EventLog for LiveIngest {
    fn append<'a>(&'a self, events: &'a [Event]) -> AppendFuture<'a> {
        Box::pin(async move {
            let report = self
                .publisher
                .publish_resolved(events)
                .await
                .map_err(|e| e.to_string())?;
            self.note(events, crate::now_ms());
            Ok(report.sequences)
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clocks(entries: &[(&str, i64, i64)]) -> HashMap<String, InputClock> {
        entries
            .iter()
            .map(|(input, newest_ms, seen_ms)| {
                (
                    input.to_string(),
                    InputClock {
                        newest_ms: *newest_ms,
                        seen_ms: *seen_ms,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_slowest_active_input_holds_the_watermark() {
        let inputs = clocks(&[("syslog-tcp", 5_000, 100), ("http", 9_000, 100)]);
        assert_eq!(watermark_of(&inputs, 60_000, 200), Some(5_000));
    }

    #[test]
    fn an_idle_input_stops_holding_it_back() {
        let inputs = clocks(&[("syslog-tcp", 5_000, 0), ("http", 9_000, 100_000)]);
        assert_eq!(watermark_of(&inputs, 60_000, 100_500), Some(9_000));
    }

    #[test]
    fn all_idle_gives_the_newest() {
        let inputs = clocks(&[("syslog-tcp", 5_000, 0), ("http", 9_000, 0)]);
        assert_eq!(watermark_of(&inputs, 60_000, 100_000), Some(9_000));
        assert_eq!(watermark_of(&HashMap::new(), 60_000, 0), None);
    }
}
