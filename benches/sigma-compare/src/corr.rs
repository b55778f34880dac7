//! Correlation: `rules` detection rules (failed logons of one domain each), each counted by one
//! `event_count` correlation grouped by source address (`gte 5` within 1 h). Phase 1 sends one
//! event for each of `keys` distinct addresses (every event opens a group); phase 2 sends
//! `keys` more events for addresses drawn at random (existing groups grow; about 2 % reach 5
//! and alert). Event time advances 1 ms per event, so every group is still live at the end.
//! Each engine runs in its own process (a child of the harness), so the resident-memory
//! deltas are its own.

use std::time::Instant;

use serde_json::{Value, json};

use crate::mem::rss_bytes;
use crate::stream::Rng;

/// Base time of the stream (2026-04-12T00:00:00Z), ms.
const BASE_MS: i64 = 1_775_952_000_000;

/// The rules: `n` detections and `n` correlations, one YAML stream.
pub fn rules_yaml(n: usize) -> String {
    let mut y = String::new();
    for i in 0..n {
        y.push_str(&format!(
            "title: failed logon in domain {i}\nid: 00000000-0000-4000-8000-{i:012}\nname: failed_logon_{i}\n\
             logsource: {{product: windows, service: security}}\n\
             detection:\n  sel:\n    EventID: 4625\n    TargetDomainName: DOM{i}\n  condition: sel\nlevel: low\n---\n\
             title: many failed logons from one address in domain {i}\nid: 10000000-0000-4000-8000-{i:012}\n\
             correlation:\n  type: event_count\n  rules: [failed_logon_{i}]\n  group-by: [IpAddress]\n  timespan: 1h\n  condition: {{gte: 5}}\nlevel: medium\n"
        ));
        if i + 1 < n {
            y.push_str("---\n");
        }
    }
    y
}

fn address(k: u64) -> String {
    format!("10.{}.{}.{}", (k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF)
}

/// Key of the `i`-th event: phase 1 (`i < keys`) each key once, phase 2 random keys.
fn key_of(i: usize, keys: usize, rng: &mut Rng) -> u64 {
    if i < keys {
        i as u64
    } else {
        rng.below(keys as u64)
    }
}

/// The events: `2 * keys` small Windows 4625 records, pre-built.
pub fn events(keys: usize, rules: usize) -> Vec<Value> {
    let mut rng = Rng::new(7);
    (0..2 * keys)
        .map(|i| {
            let k = key_of(i, keys, &mut rng);
            json!({
                "EventID": 4625,
                "Channel": "Security",
                "TargetUserName": format!("user{}", k % 5000),
                "TargetDomainName": format!("DOM{}", k % rules as u64),
                "IpAddress": address(k),
                "LogonType": 3,
                "time_ms": BASE_MS + i as i64,
            })
        })
        .collect()
}

/// The harness's record of an alerted (rule, group) pair: a 64-bit hash, so that its own
/// bookkeeping (≈ 19 000 pairs per run) adds ≈ 0.2 bytes per event to the memory measured
/// for either engine instead of ≈ 2.6 (two `String`s and a set entry per pair).
fn pair_hash(rule: &impl std::hash::Hash, group: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    rule.hash(&mut h);
    group.hash(&mut h);
    h.finish()
}

/// One engine's correlation result.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CorrResult {
    pub engine: String,
    pub rules: usize,
    pub keys: usize,
    pub phase1_updates_per_s: f64,
    pub phase2_updates_per_s: f64,
    pub overall_updates_per_s: f64,
    /// Live groups after phase 1 (engine's own count).
    pub groups: u64,
    /// RSS growth during phase 1 per live group (bytes).
    pub bytes_per_group: f64,
    /// RSS growth during phase 2 per event added to a window (bytes).
    pub bytes_per_entry: f64,
    /// Correlation alert outputs over both phases (onesec: `Fired`, later events of the same
    /// alert are `Updated`; rsigma without suppression: one result per event while the
    /// condition holds).
    pub alerts: u64,
    /// Distinct (rule, group) pairs that alerted.
    pub alert_groups: u64,
    /// Extra note (engine's own counters).
    pub note: String,
}

/// Runs the onesec side (in the child process).
pub fn run_onesec(rules: usize, keys: usize) -> CorrResult {
    use onesec_sigma::{Engine, EngineConfig, LoadOptions, Output, RuleSet};
    let (set, report) = RuleSet::from_yaml_str(&rules_yaml(rules), &LoadOptions::default());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let cfg = EngineConfig {
        // No eviction in either engine: every group must stay live.
        max_groups_per_rule: 4 * keys,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(set, cfg);
    let evs = events(keys, rules);
    let mut out = Vec::new();
    let mut alerts = 0u64;
    let mut alerted = std::collections::HashSet::new();
    // SIGMA_COMPARE_DIGEST set: a digest of every output in order (to check that two builds
    // answer alike; off by default, it is not part of what is measured).
    let digest_on = std::env::var_os("SIGMA_COMPARE_DIGEST").is_some();
    let mut digest = 0u64;
    let mut feed = |engine: &mut Engine, range: std::ops::Range<usize>| {
        let t = Instant::now();
        for i in range.clone() {
            out.clear();
            engine.process_into(i as u64, &evs[i], &mut out);
            for o in &out {
                if let Output::Fired(a) = o {
                    alerts += 1;
                    alerted.insert(pair_hash(&a.rule_id, &a.group));
                }
                if digest_on {
                    digest = pair_hash(&digest, &format!("{o:?}"));
                }
            }
        }
        range.len() as f64 / t.elapsed().as_secs_f64()
    };
    let rss0 = rss_bytes();
    let p1 = feed(&mut engine, 0..keys);
    let rss1 = rss_bytes();
    let s1 = engine.stats();
    let p2 = feed(&mut engine, keys..2 * keys);
    let rss2 = rss_bytes();
    let s2 = engine.stats();
    CorrResult {
        engine: "onesec".into(),
        rules,
        keys,
        phase1_updates_per_s: p1,
        phase2_updates_per_s: p2,
        overall_updates_per_s: 2.0 / (1.0 / p1 + 1.0 / p2),
        groups: s1.open_groups,
        bytes_per_group: (rss1 - rss0) as f64 / s1.open_groups.max(1) as f64,
        bytes_per_entry: (rss2 - rss1) as f64
            / (s2.buffered_entries - s1.buffered_entries).max(1) as f64,
        alerts,
        alert_groups: alerted.len() as u64,
        note: format!(
            "open_groups {} → {}, buffered entries {} → {}, correlation inputs {}{}",
            s1.open_groups,
            s2.open_groups,
            s1.buffered_entries,
            s2.buffered_entries,
            s2.correlation_inputs,
            if digest_on {
                format!(", outputs digest {digest:016x}")
            } else {
                String::new()
            }
        ),
    }
}

/// Runs the rsigma side (in the child process). `refs`: keep event references in the window
/// (`CorrelationEventMode::Refs`, as onesec always does: its alerts list their events).
pub fn run_rsigma(rules: usize, keys: usize, refs: bool) -> CorrResult {
    use rsigma_eval::{CorrelationConfig, CorrelationEngine, CorrelationEventMode, JsonEvent};
    let collection = rsigma_parser::parse_sigma_yaml(&rules_yaml(rules)).expect("rules parse");
    assert!(collection.errors.is_empty(), "{:?}", collection.errors);
    let config = CorrelationConfig {
        max_state_entries: 4 * keys,
        // onesec does not alert on rules only referenced by correlations.
        emit_detections: false,
        correlation_event_mode: if refs {
            CorrelationEventMode::Refs
        } else {
            CorrelationEventMode::None
        },
        ..CorrelationConfig::default()
    };
    let mut engine = CorrelationEngine::new(config);
    engine.add_collection(&collection).expect("rules compile");
    let evs = events(keys, rules);
    let mut alerts = 0u64;
    let mut alerted = std::collections::HashSet::new();
    let mut feed = |engine: &mut CorrelationEngine, range: std::ops::Range<usize>| {
        let t = Instant::now();
        for i in range.clone() {
            let ts = (BASE_MS + i as i64) / 1000;
            let out = engine.process_event_at(&JsonEvent::borrow(&evs[i]), ts);
            for r in &out {
                if let Some(c) = r.as_correlation() {
                    alerts += 1;
                    alerted.insert(pair_hash(&r.header.rule_id, &c.group_key));
                }
            }
        }
        range.len() as f64 / t.elapsed().as_secs_f64()
    };
    let rss0 = rss_bytes();
    let p1 = feed(&mut engine, 0..keys);
    let rss1 = rss_bytes();
    let groups = engine.state_count() as u64;
    let refs1 = engine.event_ref_buffer_count();
    let p2 = feed(&mut engine, keys..2 * keys);
    let rss2 = rss_bytes();
    CorrResult {
        engine: if refs {
            "rsigma (Refs)".into()
        } else {
            "rsigma".into()
        },
        rules,
        keys,
        phase1_updates_per_s: p1,
        phase2_updates_per_s: p2,
        overall_updates_per_s: 2.0 / (1.0 / p1 + 1.0 / p2),
        groups,
        bytes_per_group: (rss1 - rss0) as f64 / groups.max(1) as f64,
        bytes_per_entry: (rss2 - rss1) as f64 / keys as f64,
        alerts,
        alert_groups: alerted.len() as u64,
        note: format!(
            "state_count {} → {}, event ref buffers {} → {}",
            groups,
            engine.state_count(),
            refs1,
            engine.event_ref_buffer_count()
        ),
    }
}
