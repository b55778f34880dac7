//! Correlation scenarios (rule files + JSON event lists under tests/data/correlation), each fed
//! in its written order and in many shuffled orders: the final set of live alerts must not
//! depend on the arrival order. Every run ends with [`Engine::flush`], which decides the fixed
//! windows (`lt`, ranges, `value_avg`, `value_percentile`) that the watermark has not closed.

/// xorshift64*, so shuffles are reproducible.
use onesec_testdata::XorShift64Star as Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use onesec_sigma::{
    Alert, AlertKind, CorrelationType, Engine, EngineConfig, LoadOptions, LogSource, Output,
    RuleSet,
};
use serde_json::Value;

/// A live alert reduced to what must not depend on arrival order.
type Key = (String, Vec<(String, String)>, Vec<u64>);

/// Group and event ids of an alert.
type GroupEvents = (Vec<(String, String)>, Vec<u64>);

fn data_dir(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/correlation")
        .join(scenario)
}

fn load(scenario: &str) -> (RuleSet, Vec<Value>) {
    let dir = data_dir(scenario);
    let (rules, report) = RuleSet::load_dir(&dir, &LoadOptions::default());
    assert!(
        report.rejected.is_empty(),
        "{scenario}: {:?}",
        report.rejected
    );
    let text = std::fs::read_to_string(dir.join("events.json")).unwrap_or_default();
    let events: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    assert!(!events.is_empty(), "{scenario}: no events");
    (rules, events)
}

/// Feeds `events` in `order` (event id = position in the file + 1) and returns the live
/// alerts at the end, checking the output protocol along the way.
fn run(
    rules: &RuleSet,
    events: &[Value],
    order: &[usize],
) -> (BTreeMap<String, Alert>, Vec<Output>) {
    run_with(rules, events, order, EngineConfig::default(), true)
}

/// [`run`] with a configuration, flushing at the end or not.
fn run_with(
    rules: &RuleSet,
    events: &[Value],
    order: &[usize],
    cfg: EngineConfig,
    flush: bool,
) -> (BTreeMap<String, Alert>, Vec<Output>) {
    let mut engine = Engine::new(rules.clone(), cfg);
    let mut live: BTreeMap<String, Alert> = BTreeMap::new();
    let mut all = Vec::new();
    let mut batches: Vec<Vec<Output>> = order
        .iter()
        .map(|&i| engine.process(i as u64 + 1, &events[i]))
        .collect();
    if flush {
        batches.push(engine.flush());
    }
    for batch in batches {
        for out in batch {
            match &out {
                Output::Fired(a) => {
                    assert!(
                        live.insert(a.id.clone(), a.clone()).is_none(),
                        "fired twice: {}",
                        a.id
                    );
                }
                Output::Updated(a) => {
                    assert!(
                        live.insert(a.id.clone(), a.clone()).is_some(),
                        "updated an unknown alert: {}",
                        a.id
                    );
                }
                Output::Withdrawn { alert_id } => {
                    assert!(
                        live.remove(alert_id).is_some(),
                        "withdrew an unknown alert: {alert_id}"
                    );
                }
            }
            all.push(out);
        }
    }
    (live, all)
}

/// Rule id → event ids of its live alerts.
fn by_rule(live: &BTreeMap<String, Alert>) -> BTreeSet<(String, Vec<u64>)> {
    live.values()
        .map(|a| (a.rule_id.clone(), a.event_ids.clone()))
        .collect()
}

fn rule_events(rule: &str, ids: &[u64]) -> (String, Vec<u64>) {
    (rule.to_string(), ids.to_vec())
}

fn keys(live: &BTreeMap<String, Alert>) -> BTreeSet<Key> {
    live.values()
        .map(|a| (a.rule_id.clone(), a.group.clone(), a.event_ids.clone()))
        .collect()
}

/// Runs the written order, its reverse and 300 shuffles; all must end with the same alerts.
fn order_independent(scenario: &str) -> BTreeMap<String, Alert> {
    let (rules, events) = load(scenario);
    let written: Vec<usize> = (0..events.len()).collect();
    let (live, _) = run(&rules, &events, &written);
    let expected = keys(&live);
    let mut reversed = written.clone();
    reversed.reverse();
    assert_eq!(
        keys(&run(&rules, &events, &reversed).0),
        expected,
        "{scenario}: reversed"
    );
    let mut rng = Rng::new(0x5eed_0000_0000_0001 ^ scenario.len() as u64);
    for round in 0..300 {
        let mut order = written.clone();
        rng.shuffle(&mut order);
        let got = keys(&run(&rules, &events, &order).0);
        assert_eq!(
            got, expected,
            "{scenario}: shuffle {round}: order {order:?}"
        );
    }
    live
}

fn ids_where(events: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<u64> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| pred(e))
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

fn only_alert(live: &BTreeMap<String, Alert>) -> &Alert {
    assert_eq!(live.len(), 1, "expected exactly one alert: {live:#?}");
    match live.values().next() {
        Some(a) => a,
        None => unreachable!(),
    }
}

fn group(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn brute_force_is_one_alert_with_all_events() {
    let live = order_independent("brute_force");
    let (_, events) = load("brute_force");
    let first_burst = ids_where(&events, |e| {
        e["src_ip"] == "203.0.113.7"
            && e["outcome"] == "failure"
            && e["time"].as_str().is_some_and(|t| t < "2026-03-02T11")
    });
    let second_burst = ids_where(&events, |e| {
        e["src_ip"] == "203.0.113.7" && e["time"].as_str().is_some_and(|t| t >= "2026-03-02T11")
    });
    assert_eq!(first_burst.len(), 12);
    assert_eq!(second_burst.len(), 10);
    let got: BTreeSet<Vec<u64>> = live.values().map(|a| a.event_ids.clone()).collect();
    assert_eq!(got, BTreeSet::from([first_burst, second_burst]));
    for a in live.values() {
        assert_eq!(a.group, group(&[("src_ip", "203.0.113.7")]));
        assert_eq!(a.kind, AlertKind::Correlation(CorrelationType::EventCount));
        assert_eq!(a.rule_id, "5d1c1e0a-0000-4000-8000-000000000102");
        assert_eq!(a.author.as_deref(), Some("onesec tests"));
        assert!(a.tags.contains(&"attack.t1110".to_string()));
    }
}

#[test]
fn brute_force_in_written_order_fires_once_then_updates() {
    let (rules, events) = load("brute_force");
    let order: Vec<usize> = (0..events.len()).collect();
    let (_, outputs) = run(&rules, &events, &order);
    let fired = outputs
        .iter()
        .filter(|o| matches!(o, Output::Fired(_)))
        .count();
    let updated = outputs
        .iter()
        .filter(|o| matches!(o, Output::Updated(_)))
        .count();
    let withdrawn = outputs
        .iter()
        .filter(|o| matches!(o, Output::Withdrawn { .. }))
        .count();
    // Two bursts: fired at the 10th failure of each, updated by the 11th and 12th of the first.
    assert_eq!((fired, updated, withdrawn), (2, 2, 0));
    // The base rule is referenced with generate: false, so no single-event alerts.
    assert!(outputs.iter().all(|o| match o {
        Output::Fired(a) | Output::Updated(a) => a.kind != AlertKind::Single,
        Output::Withdrawn { .. } => true,
    }));
}

#[test]
fn remote_login_while_badged_in() {
    let live = order_independent("presence");
    let a = only_alert(&live);
    assert_eq!(a.group, group(&[("user", "bruno")]));
    assert_eq!(a.event_ids, vec![1, 2]); // badge_in 07:58, remote_login 13:12
    assert_eq!(a.title, "Remote login while badged in on site");
    assert_eq!(
        a.kind,
        AlertKind::Correlation(CorrelationType::TemporalOrdered)
    );
    // Log sources of every base rule, the negated badge_out included (same as badge_in here).
    assert_eq!(
        a.logsources,
        vec![
            LogSource {
                category: Some("physical_access".into()),
                ..LogSource::default()
            },
            LogSource {
                category: Some("authentication".into()),
                product: Some("vpn".into()),
                ..LogSource::default()
            },
        ]
    );
}

#[test]
fn late_badge_out_withdraws_the_alert() {
    let (rules, events) = load("presence");
    // Alice: badge_in, remote_login (fires: no badge_out seen yet), then the badge_out of
    // 17:45 arrives late: the absence is contradicted.
    let (live, outputs) = run(&rules, &events, &[3, 5, 4]);
    assert!(live.is_empty());
    let fired: Vec<&Alert> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Fired(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].group, group(&[("user", "alice")]));
    assert_eq!(
        outputs.last(),
        Some(&Output::Withdrawn {
            alert_id: fired[0].id.clone()
        })
    );
    // A badge_out after the login (Bruno at 18:30) does not withdraw anything.
    let (live, outputs) = run(&rules, &events, &[0, 1, 2]);
    assert_eq!(live.len(), 1);
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, Output::Withdrawn { .. }))
    );
}

#[test]
fn console_login_without_badge_in() {
    let live = order_independent("leading_absence");
    let got: BTreeSet<GroupEvents> = live
        .values()
        .map(|a| (a.group.clone(), a.event_ids.clone()))
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            (group(&[("user", "carol")]), vec![1]),
            (group(&[("user", "erin")]), vec![5]), // badge-in 13 h before: outside 12 h
        ])
    );
    // Dave badged in 10 minutes before: nothing, even if the badge-in arrives late.
    let (rules, events) = load("leading_absence");
    let (live, outputs) = run(&rules, &events, &[2, 1]);
    assert!(live.is_empty());
    assert!(matches!(
        outputs.as_slice(),
        [Output::Fired(_), Output::Withdrawn { .. }]
    ));
}

#[test]
fn badged_in_and_never_out() {
    let live = order_independent("trailing_absence");
    let got: BTreeSet<GroupEvents> = live
        .values()
        .map(|a| (a.group.clone(), a.event_ids.clone()))
        .collect();
    // Bob never badged out; Carol 13 h 30 after badging in (past the 12 h); Erin's badge-in
    // is the newest event: the flush at the end of the input decides it too.
    assert_eq!(
        got,
        BTreeSet::from([
            (group(&[("user", "bob")]), vec![3]),
            (group(&[("user", "carol")]), vec![4]),
            (group(&[("user", "erin")]), vec![7]),
        ])
    );
    // Alice badged out after 9 h; Dave's badge-in was denied (not a badge-in).
    assert!(
        live.values()
            .all(|a| a.kind == AlertKind::Correlation(CorrelationType::TemporalOrdered))
    );
}

#[test]
fn trailing_absence_waits_for_the_watermark_and_a_late_out_withdraws() {
    let (rules, events) = load("trailing_absence");
    let cfg = EngineConfig {
        allowed_lateness_ms: 3_600_000,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(rules, cfg);
    // Bob badges in at 09:00: nothing yet, the absence can still be broken.
    assert!(e.process(3, &events[2]).is_empty());
    // Watermark 21:59 (deadline 21:00 + 1 h lateness not passed): still nothing.
    let at = |t: &str| chrono_free_ms(t);
    assert!(e.advance_watermark(at("2026-03-02T21:59:00Z")).is_empty());
    // 22:00:00.002 passes 21:00 + 1 h lateness: Bob's alert fires.
    let out = e.advance_watermark(at("2026-03-02T22:00:00Z") + 2);
    let fired: Vec<&Alert> = out
        .iter()
        .filter_map(|o| match o {
            Output::Fired(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(fired.len(), 1, "{out:?}");
    assert_eq!(fired[0].event_ids, vec![3]);
    // A badge-out at 20:00 arrives late, within the allowed lateness: the alert is withdrawn.
    let mut late_out = events[1].clone();
    late_out["user"] = Value::from("bob");
    late_out["time"] = Value::from("2026-03-02T20:00:00Z");
    let out = e.process(8, &late_out);
    assert!(
        matches!(out.as_slice(), [Output::Withdrawn { alert_id }] if *alert_id == fired[0].id),
        "{out:?}"
    );
}

#[test]
fn grant_after_repeated_denials_chained() {
    let live = order_independent("chained");
    let a = only_alert(&live);
    assert_eq!(a.group, group(&[("door", "D1")]));
    // Denials 10:00:00, :20, :40, the grant at 10:01:10 and the later denial at 10:01:30
    // (which extends the inner event_count alert).
    assert_eq!(a.event_ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(a.level, onesec_sigma::Level::Critical);
    assert_eq!(
        a.kind,
        AlertKind::Correlation(CorrelationType::TemporalOrdered)
    );
    // The inner event_count rule is referenced (generate: false): it never alerts on its own.
    let (rules, events) = load("chained");
    let order: Vec<usize> = (0..events.len()).collect();
    let (_, outputs) = run(&rules, &events, &order);
    for o in &outputs {
        if let Output::Fired(a) | Output::Updated(a) = o {
            assert_eq!(a.rule_id, "5d1c1e0a-0000-4000-8000-000000000404");
        }
    }
}

#[test]
fn withdrawn_inner_alert_withdraws_the_chained_alert() {
    let live = order_independent("chained_withdraw");
    let a = only_alert(&live);
    assert_eq!(a.group, group(&[("user", "gina")]));
    assert_eq!(a.event_ids, vec![1, 2, 3]);
    assert_eq!(a.logsources.len(), 3); // physical_access, vpn/authentication, fileshare
    // In written order Hugo's export fires the outer alert, then his late badge_out (11:30,
    // between badge-in and login) withdraws the inner alert and with it the outer one.
    let (rules, events) = load("chained_withdraw");
    let order: Vec<usize> = (0..events.len()).collect();
    let (_, outputs) = run(&rules, &events, &order);
    let hugo_fired: Vec<&Alert> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Fired(a) if a.group == group(&[("user", "hugo")]) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(hugo_fired.len(), 1);
    assert_eq!(
        outputs.last(),
        Some(&Output::Withdrawn {
            alert_id: hugo_fired[0].id.clone()
        })
    );
}

#[test]
fn temporal_boolean_expression() {
    let live = order_independent("temporal_expr");
    let got: BTreeSet<GroupEvents> = live
        .values()
        .map(|a| (a.group.clone(), a.event_ids.clone()))
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            (group(&[("site", "S1")]), vec![1, 2]),
            (group(&[("site", "S4")]), vec![7, 8, 9]),
        ])
    );
}

#[test]
fn same_sequence_same_ids() {
    for scenario in [
        "brute_force",
        "presence",
        "chained",
        "chained_withdraw",
        "temporal_expr",
    ] {
        let (rules, events) = load(scenario);
        let mut order: Vec<usize> = (0..events.len()).collect();
        Rng::new(42).shuffle(&mut order);
        let (_, a) = run(&rules, &events, &order);
        let (_, b) = run(&rules, &events, &order);
        assert_eq!(a, b, "{scenario}");
    }
}

/// Random event streams over the scenario rule sets: many users/doors, random times within a
/// few hours; every shuffle must end with the same alerts as the written order.
#[test]
fn random_streams_are_order_independent() {
    let mut rng = Rng::new(0x0dd5_eed5_1234_5678);
    // (scenario, spread of the random times in seconds, most events per stream)
    let setups = [
        ("presence", 6 * 3600, 30),
        ("leading_absence", 16 * 3600, 30),
        ("chained", 300, 30),
        ("chained_withdraw", 4 * 3600, 30),
        ("temporal_expr", 3600, 30),
        ("brute_force", 900, 60),
        ("exfil_sum", 3 * 3600, 30),
        ("avg_traffic", 3 * 3600, 30),
        ("rare_process", 20 * 3600, 40),
        ("quiet_reader", 3 * 3600, 40),
        ("trailing_absence", 17 * 3600, 30),
    ];
    for (scenario, spread, most) in setups {
        let (rules, templates) = load(scenario);
        let mut alerts = 0;
        for stream in 0..6 {
            // Take random template events, re-key them onto 3 groups and random times.
            let n = 12 + (rng.next_u64() % (most - 11)) as usize;
            let mut events = Vec::with_capacity(n);
            for _ in 0..n {
                let mut e = templates[(rng.next_u64() % templates.len() as u64) as usize].clone();
                let at = rng.next_u64() % spread;
                e["time"] = Value::from(format!(
                    "2026-03-02T{:02}:{:02}:{:02}Z",
                    6 + at / 3600,
                    at / 60 % 60,
                    at % 60
                ));
                let g = ["g1", "g2", "g3"][(rng.next_u64() % 3) as usize];
                for key in [
                    "user",
                    "door",
                    "site",
                    "src_ip",
                    "host",
                    "reader",
                    "ComputerName",
                ] {
                    if e.get(key).is_some() {
                        e[key] = Value::from(g);
                    }
                }
                events.push(e);
            }
            let written: Vec<usize> = (0..events.len()).collect();
            let expected = keys(&run(&rules, &events, &written).0);
            alerts += expected.len();
            for round in 0..40 {
                let mut order = written.clone();
                rng.shuffle(&mut order);
                assert_eq!(
                    keys(&run(&rules, &events, &order).0),
                    expected,
                    "{scenario} stream {stream} round {round}: events {events:?} order {order:?}"
                );
            }
        }
        println!("{scenario}: {alerts} alerts over the random streams");
        assert!(
            alerts > 0,
            "{scenario}: the random streams never fire, the test proves little"
        );
    }
}

#[test]
fn value_sum_over_a_sliding_hour() {
    let live = order_independent("exfil_sum");
    // Ivan: 400 000 + "350 000" + 300 000 within 09:00–10:00 (the text "lots" is skipped, the
    // GET is not an upload). Judy: 600 000 twice, but one second more than an hour apart; later
    // 999 999.5 + 0.5 is not more than 1 MB, + 0.25 is.
    assert_eq!(
        live.values()
            .map(|a| (a.group.clone(), a.event_ids.clone()))
            .collect::<BTreeSet<GroupEvents>>(),
        BTreeSet::from([
            (group(&[("user", "ivan")]), vec![1, 2, 4]),
            (group(&[("user", "judy")]), vec![9, 10, 11]),
        ])
    );
    for a in live.values() {
        assert_eq!(a.kind, AlertKind::Correlation(CorrelationType::ValueSum));
    }
    // A lower bound on a sum is decided as soon as it passes: no flush needed.
    let (rules, events) = load("exfil_sum");
    let order: Vec<usize> = (0..events.len()).collect();
    let (unflushed, _) = run_with(&rules, &events, &order, EngineConfig::default(), false);
    assert_eq!(keys(&unflushed), keys(&live));
    let mut engine = Engine::new(rules, EngineConfig::default());
    for (i, e) in events.iter().enumerate() {
        engine.process(i as u64 + 1, e);
    }
    assert_eq!(engine.stats().non_numeric_skipped, 1);
}

#[test]
fn value_avg_over_closed_hours() {
    let live = order_independent("avg_traffic");
    // ws1 08:00–09:00: (900 + 300 + 450) / 3 = 550 (the null is skipped); 09:00–10:00: 150.
    // ws2: exactly 500 (the inbound connection is not counted). ws3: "7000" (the list is skipped).
    assert_eq!(
        live.values()
            .map(|a| (a.group.clone(), a.event_ids.clone()))
            .collect::<BTreeSet<GroupEvents>>(),
        BTreeSet::from([
            (group(&[("host", "ws1")]), vec![1, 2, 3]),
            (group(&[("host", "ws3")]), vec![10]),
        ])
    );
    // Without the flush (and with a day of allowed lateness) no hour is closed yet.
    let (rules, events) = load("avg_traffic");
    let order: Vec<usize> = (0..events.len()).collect();
    let (unflushed, _) = run_with(&rules, &events, &order, EngineConfig::default(), false);
    assert!(unflushed.is_empty());
}

#[test]
fn value_percentile_finds_the_rare_process() {
    let live = order_independent("rare_process");
    let a = only_alert(&live);
    // rare.exe is 1 of PC1's 10 processes that day (10 %); PC2's two images are 50 % each;
    // rare.exe alone the next day is 100 %; event id 3 is not a process creation.
    assert_eq!(a.group, group(&[("ComputerName", "PC1")]));
    assert_eq!(a.event_ids, vec![4]);
    assert_eq!(
        a.kind,
        AlertKind::Correlation(CorrelationType::ValuePercentile)
    );
}

#[test]
fn fewer_than_and_ranges_on_closed_hours() {
    let live = order_independent("quiet_reader");
    assert_eq!(
        by_rule(&live),
        BTreeSet::from([
            // R2 sent 2 heartbeats between 09:00 and 10:00 (R1 4 each hour, R3 4).
            rule_events("5d1c1e0a-0000-4000-8000-000000000732", &[13, 14]),
            // R2 named 2 zones in that hour (R1 one, R3 four: outside 1 < n <= 3).
            rule_events("5d1c1e0a-0000-4000-8000-000000000733", &[13, 14]),
        ])
    );
}

/// Without a flush, a fixed window is decided when the watermark (newest event time minus the
/// allowed lateness) passes its end, whichever group the event belongs to; an event that
/// arrives later than that into the closed window revises the decision.
#[test]
fn the_watermark_closes_windows() {
    let (rules, mut events) = load("quiet_reader");
    let quiet = "5d1c1e0a-0000-4000-8000-000000000732";
    let cfg = EngineConfig {
        allowed_lateness_ms: 0,
        ..EngineConfig::default()
    };
    let heartbeat = |time: &str, reader: &str| serde_json::json!({"time": time, "event": "heartbeat", "reader": reader, "zone": "lobby"});
    // R2's two heartbeats of 09:xx, then another reader at 09:59:59 (not yet closed) and at
    // 10:00 (closes 09:00–10:00), then a third R2 heartbeat of 09:30 arriving late.
    events.push(heartbeat("2026-03-02T09:59:59Z", "R9"));
    events.push(heartbeat("2026-03-02T10:00:00Z", "R9"));
    events.push(heartbeat("2026-03-02T09:30:00Z", "R2"));
    let n = events.len();
    let mut engine = Engine::new(rules, cfg);
    let mut fired_at = Vec::new();
    let mut withdrawn_at = Vec::new();
    for (step, i) in [12, 13, n - 3, n - 2, n - 1].into_iter().enumerate() {
        for o in engine.process(i as u64 + 1, &events[i]) {
            match o {
                Output::Fired(a) if a.rule_id == quiet => fired_at.push((step, a.event_ids)),
                Output::Withdrawn { .. } => withdrawn_at.push(step),
                _ => {}
            }
        }
    }
    // R9's lone 09:59:59 heartbeat is a quiet hour too; its 10:00 one opens the next hour.
    assert_eq!(fired_at, vec![(3, vec![13, 14]), (3, vec![20])]);
    assert_eq!(withdrawn_at, vec![4]); // now 3 heartbeats in that hour: no longer fewer than 3
}

/// A watermark moved without an event (what a partition of a cluster receives) closes the same
/// windows as the event that carried that time would have.
#[test]
fn an_advanced_watermark_closes_windows_like_an_event() {
    let (rules, events) = load("quiet_reader");
    let quiet = "5d1c1e0a-0000-4000-8000-000000000732";
    let cfg = EngineConfig {
        allowed_lateness_ms: 0,
        ..EngineConfig::default()
    };
    let ten = chrono_free_ms("2026-03-02T10:00:00Z");
    let mut engine = Engine::new(rules, cfg);
    let mut before = Vec::new();
    for i in [12, 13] {
        before.extend(engine.process(i as u64 + 1, &events[i]));
    }
    assert!(
        !before
            .iter()
            .any(|o| matches!(o, Output::Fired(a) if a.rule_id == quiet)),
        "the 09:00 hour is still open"
    );
    assert!(
        engine.advance_watermark(ten - 1).is_empty(),
        "09:59:59.999 closes nothing"
    );
    let fired: Vec<Vec<u64>> = engine
        .advance_watermark(ten)
        .into_iter()
        .filter_map(|o| match o {
            Output::Fired(a) if a.rule_id == quiet => Some(a.event_ids),
            _ => None,
        })
        .collect();
    assert_eq!(fired, vec![vec![13, 14]]);
    assert!(
        engine.advance_watermark(ten - 60_000).is_empty(),
        "never moves back"
    );
}

/// UTC milliseconds of an RFC 3339 time without a date library.
fn chrono_free_ms(text: &str) -> i64 {
    let value = serde_json::json!({ "time": text });
    onesec_sigma::Record::time_ms(&value)
}

#[test]
fn new_types_same_sequence_same_ids() {
    for scenario in ["exfil_sum", "avg_traffic", "rare_process", "quiet_reader"] {
        let (rules, events) = load(scenario);
        let mut order: Vec<usize> = (0..events.len()).collect();
        Rng::new(7).shuffle(&mut order);
        let (_, a) = run(&rules, &events, &order);
        let (_, b) = run(&rules, &events, &order);
        assert_eq!(a, b, "{scenario}");
    }
}
