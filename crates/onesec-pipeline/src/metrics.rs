//! Counters every stage bumps, rendered in the Prometheus text format.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Process-wide counters (monotonic unless noted).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events accepted into the journal.
    pub events_ingested: AtomicU64,
    /// Inputs refused and kept as dead letters.
    pub dead_letters: AtomicU64,
    /// Journal appends that failed (the sender was told).
    pub journal_errors: AtomicU64,
    /// Events that went through detection.
    pub events_detected: AtomicU64,
    /// Alert outputs (fired or updated).
    pub alerts: AtomicU64,
    /// Alerts withdrawn by late evidence.
    pub alerts_withdrawn: AtomicU64,
    /// Events too late for correlation.
    pub late_events: AtomicU64,
    /// Store commit failures (detection retries them).
    pub store_errors: AtomicU64,
    /// Journal records detection had to parse again (the ingestor's parsed event was not there).
    pub events_reparsed: AtomicU64,
    /// Sum of (detection time − receipt time) in microseconds, for the mean latency.
    pub latency_us_sum: AtomicU64,
    /// Per source (listener or client: `syslog-udp`, `mqtt`, `onvif-pull:CAM-1`, ...).
    pub sources: Sources,
}

/// Counters of one source, by its input name.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Records received (decoded or not).
    pub received: AtomicU64,
    /// Events decoded and journaled.
    pub decoded: AtomicU64,
    /// Records refused and kept as dead letters.
    pub dead_lettered: AtomicU64,
    /// Events later than the allowed lateness when detection saw them.
    pub late: AtomicU64,
    /// Records dropped before decoding because the source was overloaded (UDP only: the
    /// other sources slow their sender instead).
    pub dropped: AtomicU64,
    /// When the source last delivered anything (UTC ms, 0: never).
    pub last_seen_ms: AtomicI64,
}

/// One per-source metric: name, Prometheus type, help, and how to read it from a snapshot.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SourceSnapshot) -> i64,
);

/// The per-source counters, created on first use.
#[derive(Debug, Default)]
pub struct Sources {
    map: RwLock<BTreeMap<String, Arc<SourceCounters>>>,
}

/// One source's counters at one moment (for `onesec sources` and `/api/v1/sources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceSnapshot {
    /// Input name.
    pub source: String,
    /// Records received.
    pub received: u64,
    /// Events journaled.
    pub decoded: u64,
    /// Records kept as dead letters.
    pub dead_lettered: u64,
    /// Events beyond the allowed lateness.
    pub late: u64,
    /// Records dropped under overload (UDP).
    pub dropped: u64,
    /// Last delivery, UTC ms (0: never).
    pub last_seen_ms: i64,
}

impl Sources {
    /// The counters of `source`, created when new.
    pub fn get(&self, source: &str) -> Arc<SourceCounters> {
        if let Ok(map) = self.map.read()
            && let Some(counters) = map.get(source)
        {
            return counters.clone();
        }
        let mut map = match self.map.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(source.to_string()).or_default().clone()
    }

    /// Declares a configured source, so that it is listed before it delivers anything.
    pub fn declare(&self, source: &str) {
        self.get(source);
    }

    /// Every source's counters, by name.
    pub fn snapshot(&self) -> Vec<SourceSnapshot> {
        let map = match self.map.read() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.iter()
            .map(|(name, c)| SourceSnapshot {
                source: name.clone(),
                received: c.received.load(Ordering::Relaxed),
                decoded: c.decoded.load(Ordering::Relaxed),
                dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
                late: c.late.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                last_seen_ms: c.last_seen_ms.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn render(&self, out: &mut String) {
        let sources = self.snapshot();
        let series: [Series; 6] = [
            (
                "onesec_source_received_total",
                "counter",
                "Records received per source.",
                |s| s.received as i64,
            ),
            (
                "onesec_source_decoded_total",
                "counter",
                "Events decoded and journaled per source.",
                |s| s.decoded as i64,
            ),
            (
                "onesec_source_dead_lettered_total",
                "counter",
                "Records refused and kept as dead letters per source.",
                |s| s.dead_lettered as i64,
            ),
            (
                "onesec_source_late_total",
                "counter",
                "Events beyond the allowed lateness per source.",
                |s| s.late as i64,
            ),
            (
                "onesec_source_dropped_total",
                "counter",
                "Records dropped under overload per source (UDP; other sources slow the sender).",
                |s| s.dropped as i64,
            ),
            (
                "onesec_source_last_seen_ms",
                "gauge",
                "When the source last delivered, UTC ms (0: never).",
                |s| s.last_seen_ms,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for source in &sources {
                let label = source
                    .source
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = writeln!(out, "{name}{{source=\"{label}\"}} {}", value(source));
            }
        }
    }
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Renders every counter plus the gauges given.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let counters: [(&str, &str, &AtomicU64); 10] = [
            (
                "onesec_events_ingested_total",
                "Events accepted into the durable journal.",
                &self.events_ingested,
            ),
            (
                "onesec_dead_letters_total",
                "Inputs refused and kept in the dead-letter store.",
                &self.dead_letters,
            ),
            (
                "onesec_journal_errors_total",
                "Journal appends that failed.",
                &self.journal_errors,
            ),
            (
                "onesec_events_detected_total",
                "Events run through detection.",
                &self.events_detected,
            ),
            (
                "onesec_alert_outputs_total",
                "Alerts fired or updated.",
                &self.alerts,
            ),
            (
                "onesec_alerts_withdrawn_total",
                "Alerts withdrawn by late evidence.",
                &self.alerts_withdrawn,
            ),
            (
                "onesec_late_events_total",
                "Events beyond the allowed lateness for correlation.",
                &self.late_events,
            ),
            (
                "onesec_events_reparsed_total",
                "Journal records detection parsed again instead of taking the ingestor's parsed event.",
                &self.events_reparsed,
            ),
            (
                "onesec_store_errors_total",
                "Store commits that failed.",
                &self.store_errors,
            ),
            (
                "onesec_detection_latency_us_sum",
                "Sum of receipt-to-detection latency in microseconds.",
                &self.latency_us_sum,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        self.sources.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_rendered_with_a_label_each() {
        let metrics = Metrics::default();
        metrics.sources.declare("mqtt");
        let udp = metrics.sources.get("syslog-udp");
        Metrics::add(&udp.received, 3);
        Metrics::add(&udp.dropped, 2);
        udp.last_seen_ms.store(1_773_183_600_000, Ordering::Relaxed);
        metrics.sources.get("onvif-pull:CAM \"1\"");
        let text = metrics.render(&[]);
        assert!(
            text.contains("onesec_source_received_total{source=\"syslog-udp\"} 3"),
            "{text}"
        );
        assert!(text.contains("onesec_source_dropped_total{source=\"syslog-udp\"} 2"));
        assert!(text.contains("onesec_source_received_total{source=\"mqtt\"} 0"));
        assert!(text.contains("onesec_source_last_seen_ms{source=\"syslog-udp\"} 1773183600000"));
        assert!(
            text.contains("source=\"onvif-pull:CAM \\\"1\\\"\""),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE onesec_source_late_total counter")
                .count(),
            1
        );
        let snapshot = metrics.sources.snapshot();
        assert_eq!(snapshot.len(), 3);
        assert_eq!(snapshot[0].source, "mqtt");
    }
}
