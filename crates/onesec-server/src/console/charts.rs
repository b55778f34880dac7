//! Inline SVG charts for the dashboard: drawn here as text, so the page needs no chart library
//! and prints the same offline. Every chart carries a `<title>` and a text table beside it for
//! screen readers (the SVG itself is `role="img"`).

use onesec_event::Event;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The dashboard's event chart covers at most the last this-many journal ids.
pub(crate) const EVENT_WINDOW: u64 = 5000;

/// Buckets of the event chart.
const BUCKETS: usize = 24;

/// Text made safe inside SVG/HTML.
pub(crate) use onesec_pipeline::export::esc as escape;

/// A horizontal bar chart of `counts`, largest scale at the widest bar.
pub(crate) fn bars(title: &str, counts: &BTreeMap<String, u64>) -> String {
    const ROW: usize = 26;
    let width = 420.0;
    let label_width = 150.0;
    let max = counts.values().copied().max().unwrap_or(0).max(1) as f64;
    let height = (counts.len().max(1) * ROW) + 8;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {width} {height}\" \
         aria-label=\"{t}\"><title>{t}</title>",
        t = escape(title)
    );
    if counts.is_empty() {
        svg.push_str("<text x=\"4\" y=\"20\" class=\"chart-label\">nothing yet</text>");
    }
    for (i, (label, count)) in counts.iter().enumerate() {
        let y = i * ROW + 4;
        let bar = (width - label_width - 50.0) * (*count as f64) / max;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" class=\"chart-label\">{l}</text>\
             <rect x=\"{label_width}\" y=\"{y}\" width=\"{bar:.1}\" height=\"18\" \
             class=\"bar bar-{c}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" class=\"chart-value\">{count}</text>",
            ty = y + 14,
            l = escape(label),
            c = escape(label),
            tx = label_width + bar + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Events per domain in [`BUCKETS`] equal slices of event time (the window the events span),
/// as stacked columns with a legend.
pub(crate) fn events_per_domain(events: &[Event]) -> String {
    const DOMAINS: [&str; 3] = ["physical", "cyber", "hybrid"];
    let (Some(first), Some(last)) = (
        events.iter().map(|e| e.time_ms).min(),
        events.iter().map(|e| e.time_ms).max(),
    ) else {
        return "<p>No events stored yet.</p>".into();
    };
    let span = (last - first).max(1);
    let mut counts = [[0u64; 3]; BUCKETS];
    for event in events {
        let bucket = (((event.time_ms - first) as i128 * BUCKETS as i128) / (span as i128 + 1))
            .clamp(0, BUCKETS as i128 - 1) as usize;
        let domain = DOMAINS
            .iter()
            .position(|d| *d == event.domain().as_str())
            .unwrap_or(2);
        counts[bucket][domain] += 1;
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (width, height, column) = (480.0, 160.0, 480.0 / BUCKETS as f64);
    let title = format!(
        "Events per domain, {} events from {} to {}",
        events.len(),
        time_label(first),
        time_label(last)
    );
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {width} {h}\" aria-label=\"{t}\">\
         <title>{t}</title>",
        h = height + 40.0,
        t = escape(&title)
    );
    for (i, bucket) in counts.iter().enumerate() {
        let mut top = height;
        for (d, count) in bucket.iter().enumerate() {
            let h = height * (*count as f64) / max;
            top -= h;
            if *count > 0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" \
                     class=\"bar bar-{d}\"><title>{d}: {count}</title></rect>",
                    x = i as f64 * column + 1.0,
                    w = column - 2.0,
                    d = DOMAINS[d],
                );
            }
        }
    }
    for (i, domain) in DOMAINS.iter().enumerate() {
        let x = i as f64 * 110.0;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" class=\"bar bar-{domain}\"/>\
             <text x=\"{tx}\" y=\"{ty}\" class=\"chart-label\">{domain}</text>",
            y = height + 14.0,
            tx = x + 16.0,
            ty = height + 25.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn time_label(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass};

    #[test]
    fn labels_are_escaped_and_the_largest_bar_is_the_widest() {
        let counts = BTreeMap::from([("<b>".to_string(), 4), ("cyber".to_string(), 2)]);
        let svg = bars("By <domain>", &counts);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("<title>By &lt;domain&gt;</title>"));
        assert!(svg.contains("width=\"220.0\"") && svg.contains("width=\"110.0\""));
    }

    #[test]
    fn events_fall_in_columns_by_time_and_domain() {
        let mut events = Vec::new();
        for (i, class, activity) in [
            (0, EventClass::PhysicalAccess, Activity::PortalForced),
            (1, EventClass::PhysicalAccess, Activity::AccessGranted),
            (2, EventClass::Authentication, Activity::Logon),
        ] {
            let mut e = Event::new(i, class, activity);
            e.time_ms = 1_000 * i;
            events.push(e);
        }
        let svg = events_per_domain(&events);
        assert!(svg.contains("<title>physical: 1</title>"), "{svg}");
        assert!(svg.contains("<title>cyber: 1</title>"), "{svg}");
        assert!(svg.contains("3 events"));
        assert_eq!(events_per_domain(&[]), "<p>No events stored yet.</p>");
    }
}
