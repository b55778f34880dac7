//! Snapshot and restore of the correlation state: a run cut at many points, snapshotted, restored
//! into a fresh engine and continued must give exactly the outputs (alert ids included) and
//! counters of the uninterrupted run. Scenarios from tests/data/correlation, in their written
//! order, shuffled, and re-keyed onto random groups (short keys stored inline, long ones in the
//! key arena), with the default lateness and with a short one (late inputs, evictions, sweeps).

use std::path::PathBuf;

use onesec_sigma::{Engine, EngineConfig, LoadOptions, Output, RuleSet, SnapshotError};
use onesec_testdata::XorShift64Star as Rng;
use serde_json::Value;

const SCENARIOS: [&str; 11] = [
    "avg_traffic",
    "brute_force",
    "chained",
    "chained_withdraw",
    "exfil_sum",
    "leading_absence",
    "presence",
    "quiet_reader",
    "rare_process",
    "temporal_expr",
    "trailing_absence",
];

/// Fields the scenarios group by: re-keyed in the random streams.
const GROUP_FIELDS: [&str; 7] = [
    "user",
    "door",
    "site",
    "src_ip",
    "host",
    "reader",
    "ComputerName",
];

fn load(scenario: &str) -> (RuleSet, Vec<Value>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/correlation")
        .join(scenario);
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

/// Feeds `order` (event id = position + 1) into `engine`, appending every output.
fn feed(engine: &mut Engine, events: &[Value], order: &[usize], out: &mut Vec<Output>) {
    for &i in order {
        engine.process_into(i as u64 + 1, &events[i], out);
    }
}

/// Uninterrupted: every output, then the flush, and the final counters.
fn whole(
    rules: &RuleSet,
    cfg: EngineConfig,
    events: &[Value],
    order: &[usize],
) -> (Vec<Output>, String) {
    let mut e = Engine::new(rules.clone(), cfg);
    let mut out = Vec::new();
    feed(&mut e, events, order, &mut out);
    out.extend(e.flush());
    (out, format!("{:?}", e.stats()))
}

/// Cut after `cut` events: snapshot, restore into a fresh engine, continue there.
fn cut_at(
    rules: &RuleSet,
    cfg: EngineConfig,
    events: &[Value],
    order: &[usize],
    cut: usize,
) -> (Vec<Output>, String) {
    let mut first = Engine::new(rules.clone(), cfg);
    let mut out = Vec::new();
    feed(&mut first, events, &order[..cut], &mut out);
    let bytes = first.snapshot();
    let mut second = Engine::new(rules.clone(), cfg);
    if let Err(e) = second.restore(&bytes) {
        panic!("restore after {cut} events: {e}");
    }
    assert_eq!(
        second.snapshot(),
        bytes,
        "a restored engine snapshots to the same bytes"
    );
    drop(first);
    feed(&mut second, events, &order[cut..], &mut out);
    out.extend(second.flush());
    (out, format!("{:?}", second.stats()))
}

/// Cutting `order` after 0, 1, every `step`-th event and before the last gives the
/// uninterrupted run's outputs and counters.
fn cuts_match(
    what: &str,
    rules: &RuleSet,
    cfg: EngineConfig,
    events: &[Value],
    order: &[usize],
    step: usize,
) -> usize {
    let expected = whole(rules, cfg, events, order);
    let n = order.len();
    let cuts = (0..=n).filter(|&c| c < 2 || c % step.max(1) == 0 || c + 1 >= n);
    for cut in cuts {
        let got = cut_at(rules, cfg, events, order, cut);
        assert_eq!(got, expected, "{what}: cut after {cut} of {order:?}");
    }
    expected.0.len()
}

fn configs() -> [EngineConfig; 2] {
    [
        EngineConfig::default(),
        EngineConfig {
            allowed_lateness_ms: 10 * 60_000,
            max_group_entries: 64,
            max_groups_per_rule: 2,
            source_idle_ms: 60_000,
        },
    ]
}

#[test]
fn scenarios_continue_identically_after_a_restore() {
    let mut rng = Rng::new(0x5a5a_0000_1111_2222);
    let mut outputs = [0; 2];
    for scenario in SCENARIOS {
        let (rules, events) = load(scenario);
        let written: Vec<usize> = (0..events.len()).collect();
        for (c, cfg) in configs().into_iter().enumerate() {
            let before = outputs[c];
            outputs[c] += cuts_match(scenario, &rules, cfg, &events, &written, 1);
            for _ in 0..2 {
                let mut order = written.clone();
                rng.shuffle(&mut order);
                outputs[c] += cuts_match(scenario, &rules, cfg, &events, &order, 3);
            }
            if c == 0 {
                assert!(
                    outputs[c] > before,
                    "{scenario}: nothing fired, the test proves little"
                );
            }
        }
    }
    assert!(
        outputs[1] > 0,
        "the short lateness never fires, the test proves little"
    );
}

/// Template events re-keyed onto a few groups (some with keys longer than 15 bytes) at random
/// times within `spread` seconds.
fn random_stream(rng: &mut Rng, templates: &[Value], spread: u64, n: usize) -> Vec<Value> {
    let groups = [
        "g1",
        "a-group-key-longer-than-fifteen-bytes",
        "another quite long key",
    ];
    (0..n)
        .map(|_| {
            let mut e = templates[rng.below(templates.len() as u64) as usize].clone();
            let at = rng.below(spread);
            e["time"] = Value::from(format!(
                "2026-03-02T{:02}:{:02}:{:02}Z",
                6 + at / 3600,
                at / 60 % 60,
                at % 60
            ));
            let g = groups[rng.below(groups.len() as u64) as usize];
            for key in GROUP_FIELDS {
                if e.get(key).is_some() {
                    e[key] = Value::from(g);
                }
            }
            e
        })
        .collect()
}

#[test]
fn random_streams_continue_identically_after_a_restore() {
    let mut rng = Rng::new(0x0bad_cafe_0000_0006);
    // (scenario, spread of the random times in seconds), as in tests/correlation.rs.
    let setups = [
        ("presence", 6 * 3600),
        ("leading_absence", 16 * 3600),
        ("chained", 300),
        ("chained_withdraw", 4 * 3600),
        ("temporal_expr", 3600),
        ("brute_force", 300),
        ("exfil_sum", 3 * 3600),
        ("avg_traffic", 3 * 3600),
        ("rare_process", 20 * 3600),
        ("quiet_reader", 3 * 3600),
        ("trailing_absence", 17 * 3600),
    ];
    for (scenario, spread) in setups {
        let (rules, templates) = load(scenario);
        let mut outputs = 0;
        for _ in 0..3 {
            let events = random_stream(&mut rng, &templates, spread, 60);
            let order: Vec<usize> = (0..events.len()).collect();
            outputs += cuts_match(scenario, &rules, configs()[0], &events, &order, 7);
            cuts_match(scenario, &rules, configs()[1], &events, &order, 7);
        }
        assert!(outputs > 0, "{scenario}: the random streams never fire");
    }
}

fn engine_mid_stream(cfg: EngineConfig) -> (RuleSet, Engine) {
    let (rules, events) = load("brute_force");
    let mut e = Engine::new(rules.clone(), cfg);
    let half: Vec<usize> = (0..events.len() / 2).collect();
    feed(&mut e, &events, &half, &mut Vec::new());
    (rules, e)
}

#[test]
fn a_snapshot_for_other_rules_or_settings_is_refused() {
    let (_, e) = engine_mid_stream(EngineConfig::default());
    let bytes = e.snapshot();
    let (other_rules, _) = load("presence");
    let mut other = Engine::new(other_rules, EngineConfig::default());
    assert!(matches!(
        other.restore(&bytes),
        Err(SnapshotError::RuleSet { .. })
    ));
    let (rules, _) = load("brute_force");
    let stricter = EngineConfig {
        allowed_lateness_ms: 1,
        ..EngineConfig::default()
    };
    let mut e2 = Engine::new(rules.clone(), stricter);
    let err = e2.restore(&bytes);
    assert!(
        matches!(&err, Err(SnapshotError::Settings(m)) if m.contains("allowed_lateness_ms")),
        "{err:?}"
    );
    // The same rules loaded again: accepted.
    let mut same = Engine::new(rules, EngineConfig::default());
    assert_eq!(same.restore(&bytes), Ok(()));
}

#[test]
fn damaged_snapshots_are_refused_and_leave_the_engine_as_it_was() {
    let (rules, e) = engine_mid_stream(EngineConfig::default());
    let bytes = e.snapshot();
    let (_, mut target) = engine_mid_stream(EngineConfig::default());
    let (events_len, before) = (target.stats().events, target.snapshot());
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(matches!(
        target.restore(&flipped),
        Err(SnapshotError::Checksum { .. })
    ));
    for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
        let err = target.restore(&bytes[..cut]);
        assert!(
            matches!(
                err,
                Err(SnapshotError::Truncated { .. } | SnapshotError::BadMagic)
            ),
            "cut at {cut}: {err:?}"
        );
    }
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(target.restore(&magic), Err(SnapshotError::BadMagic));
    let mut version = bytes.clone();
    version[8] = 9;
    assert_eq!(
        target.restore(&version),
        Err(SnapshotError::Version { found: 9 })
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        target.restore(&longer),
        Err(SnapshotError::Invalid { .. })
    ));
    assert_eq!(
        target.snapshot(),
        before,
        "refused restores changed nothing"
    );
    assert_eq!(target.stats().events, events_len);
    drop(rules);
}

#[test]
fn real_rules_loaded_twice_have_one_fingerprint() {
    // The fingerprint hashes the compiled rules (regexes, automata): two separate loads of the
    // same files, in two engines, must agree, or a restart could never restore.
    let Some(dir) = onesec_testdata::shared("data/sigma/rules-threat-hunting") else {
        return;
    };
    let load = || RuleSet::load_dir(&dir, &LoadOptions::default()).0;
    let (first, second) = (load(), load());
    assert!(first.len() > 100, "{} rules", first.len());
    let engine = Engine::new(first, EngineConfig::default());
    let started = std::time::Instant::now();
    let bytes = engine.snapshot();
    let first_time = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(engine.snapshot(), bytes);
    eprintln!(
        "snapshot of an empty engine over {} rules: {} bytes in {first_time:?}, again in {:?}",
        engine.rules().len(),
        bytes.len(),
        started.elapsed()
    );
    let mut other = Engine::new(second, EngineConfig::default());
    assert_eq!(other.restore(&bytes), Ok(()));
}
