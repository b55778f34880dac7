//! Per-source watermarks: a source whose clock runs ahead does not make another source's events
//! late, an idle source stops holding the watermark back, and both survive a snapshot.

use onesec_sigma::{Alert, Engine, EngineConfig, LoadOptions, Output, RuleSet, SnapshotError};
use serde_json::{Value, json};

const MIN: i64 = 60_000;
const T0: i64 = 1_772_000_000_000;

fn ev(t_min: i64, user: &str) -> Value {
    json!({"outcome": "failure", "user": user, "time_ms": T0 + t_min * MIN})
}

const RULES: &str = r"
title: Failed login
name: failed
logsource: {category: authentication}
detection:
    sel: {outcome: failure}
    condition: sel
level: low
---
title: Two failures
name: two_failures
correlation: {type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {gte: 2}}
level: high
---
title: Fewer than two failures in an hour
name: quiet
correlation: {type: event_count, rules: [failed], group-by: [user], timespan: 1h, condition: {lt: 2}}
level: medium
";

fn engine(cfg: EngineConfig) -> Engine {
    let (rules, report) = RuleSet::from_yaml_str(RULES, &LoadOptions::default());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    Engine::new(rules, cfg)
}

fn cfg() -> EngineConfig {
    EngineConfig {
        allowed_lateness_ms: 60 * MIN,
        source_idle_ms: 5 * MIN,
        ..EngineConfig::default()
    }
}

fn fired<'a>(out: &'a [Output], rule: &str) -> Vec<&'a Alert> {
    out.iter()
        .filter_map(|o| match o {
            Output::Fired(a) if a.rule_id == rule => Some(a),
            _ => None,
        })
        .collect()
}

/// Arrival times: the wall clock of the receiver, a second per event.
const ARRIVAL: i64 = 1_800_000_000_000;

#[test]
fn a_source_with_a_clock_a_day_ahead_does_not_make_the_others_late() {
    let mut e = engine(cfg());
    let mut out = Vec::new();
    out.extend(e.process_from("syslog/linux", ARRIVAL, 1, &ev(0, "alice")));
    // A camera whose clock is a day ahead.
    out.extend(e.process_from("onvif/onvif", ARRIVAL + 1000, 2, &ev(24 * 60, "cam")));
    assert_eq!(e.watermark(), Some(T0), "held by the syslog source");
    assert!(!e.is_late(T0 + 5 * MIN));
    out.extend(e.process_from("syslog/linux", ARRIVAL + 2000, 3, &ev(5, "alice")));
    assert_eq!(fired(&out, "two_failures").len(), 1, "{out:?}");
    assert_eq!(e.stats().late_dropped, 0);
    assert_eq!(e.stats().sources, 2);
    assert_eq!(e.stats().newest_time_ms, Some(T0 + 24 * 60 * MIN));

    // One watermark for everything (what `process` does): the camera's day makes Alice's
    // second failure late and the correlation never sees it.
    let mut single = engine(cfg());
    let mut out = Vec::new();
    out.extend(single.process(1, &ev(0, "alice")));
    out.extend(single.process(2, &ev(24 * 60, "cam")));
    assert!(single.is_late(T0 + 5 * MIN));
    out.extend(single.process(3, &ev(5, "alice")));
    assert!(fired(&out, "two_failures").is_empty(), "{out:?}");
    // Dropped by both correlations it feeds.
    assert_eq!(single.stats().late_dropped, 2);
}

#[test]
fn an_idle_source_stops_holding_the_watermark_back() {
    let mut e = engine(cfg());
    let mut out = Vec::new();
    // The door system sends one event and falls silent.
    out.extend(e.process_from("access", ARRIVAL, 1, &ev(0, "bob")));
    // The other source goes on for three hours of event time, within four minutes of arrival.
    for i in 0..4 {
        out.extend(e.process_from(
            "syslog",
            ARRIVAL + i * MIN,
            2 + i as u64,
            &ev(60 * i, "carol"),
        ));
    }
    assert_eq!(
        e.watermark(),
        Some(T0),
        "the door system still holds it back"
    );
    assert!(
        fired(&out, "quiet").is_empty(),
        "no window closed yet: {out:?}"
    );
    // Six minutes after the door system's last arrival it is idle: the watermark moves to
    // the syslog source's time and Bob's quiet hour (and Carol's first ones) are decided.
    out.extend(e.process_from("syslog", ARRIVAL + 6 * MIN, 9, &ev(181, "carol")));
    assert_eq!(e.watermark(), Some(T0 + 181 * MIN));
    let quiet: Vec<&str> = fired(&out, "quiet")
        .iter()
        .flat_map(|a| a.group.iter().map(|(_, v)| v.as_str()))
        .collect();
    assert!(quiet.contains(&"bob"), "{out:?}");
    // When it sends again it counts again, from its new event time (never moving the
    // watermark back).
    e.process_from("access", ARRIVAL + 7 * MIN, 10, &ev(185, "bob"));
    assert_eq!(e.watermark(), Some(T0 + 181 * MIN));
    e.process_from("syslog", ARRIVAL + 8 * MIN, 11, &ev(200, "carol"));
    assert_eq!(
        e.watermark(),
        Some(T0 + 185 * MIN),
        "held by the door system again"
    );
}

#[test]
fn source_clocks_survive_a_snapshot() {
    let events: Vec<(&str, i64, Value)> = vec![
        ("a", ARRIVAL, ev(0, "alice")),
        ("b", ARRIVAL + 1000, ev(24 * 60, "cam")),
        ("a", ARRIVAL + 2000, ev(5, "alice")),
        ("a", ARRIVAL + 3000, ev(7, "dave")),
        ("b", ARRIVAL + 4000, ev(24 * 60 + 1, "cam")),
        ("a", ARRIVAL + 5000, ev(9, "dave")),
    ];
    let run = |e: &mut Engine, from: usize| {
        let mut out = Vec::new();
        for (i, (source, arrival, event)) in events.iter().enumerate().skip(from) {
            out.extend(e.process_from(source, *arrival, i as u64 + 1, event));
        }
        out
    };
    let mut whole = engine(cfg());
    let want = run(&mut whole, 0);
    for cut in 1..events.len() {
        let mut first = engine(cfg());
        let mut got = Vec::new();
        for (i, (source, arrival, event)) in events.iter().enumerate().take(cut) {
            got.extend(first.process_from(source, *arrival, i as u64 + 1, event));
        }
        let bytes = first.snapshot();
        let mut second = engine(cfg());
        second.restore(&bytes).unwrap();
        assert_eq!(second.watermark(), first.watermark());
        got.extend(run(&mut second, cut));
        assert_eq!(got, want, "cut at {cut}");
        assert_eq!(second.stats(), whole.stats(), "cut at {cut}");
    }
    // Another idle timeout: other settings, refused.
    let mut other = engine(EngineConfig {
        source_idle_ms: MIN,
        ..cfg()
    });
    assert!(matches!(
        other.restore(&whole.snapshot()),
        Err(SnapshotError::Settings(_))
    ));
    // A version 1 snapshot (one watermark, no sources) is refused by its version.
    let mut v1 = whole.snapshot();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        engine(cfg()).restore(&v1),
        Err(SnapshotError::Version { found: 1 })
    ));
}
