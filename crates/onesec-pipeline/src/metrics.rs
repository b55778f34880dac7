//! Counters every stage bumps, rendered in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

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
        out
    }
}
