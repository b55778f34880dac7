//! Throughput of the engine over the whole SigmaHQ rule set and the regression events.
//!
//! `cargo run --release -p onesec-sigma --example sigmahq_throughput -- [ROUNDS]`
//! (reads `../shared/data/sigma` through `onesec-testdata`; `ONESEC_SHARED_DIR` overrides).

use onesec_sigma::{Engine, EngineConfig, EvtxJson, LoadOptions, RuleSet, parse_json_stream};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let Some(sigma) = onesec_testdata::shared("data/sigma") else {
        return;
    };
    let started = Instant::now();
    let dirs = ["rules", "rules-emerging-threats", "rules-threat-hunting"].map(|d| sigma.join(d));
    let paths: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (rules, report) = RuleSet::load_paths(&paths, &LoadOptions::default());
    println!(
        "loaded {} rules ({} refused) in {:?}",
        rules.len(),
        report.rejected.len(),
        started.elapsed()
    );
    let mut files = Vec::new();
    json_files(&sigma.join("regression_data"), &mut files);
    let events: Vec<serde_json::Value> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| parse_json_stream(&text).unwrap_or_default())
        .collect();
    let mut engine = Engine::new(rules, EngineConfig::default());
    let mut out = Vec::new();
    let mut alerts = 0usize;
    let started = Instant::now();
    for round in 0..rounds {
        for (i, event) in events.iter().enumerate() {
            out.clear();
            engine.process_into(
                (round * events.len() + i) as u64,
                &EvtxJson::new(event),
                &mut out,
            );
            alerts += out.len();
        }
    }
    let n = rounds * events.len();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} events x all rules: {:.0} events/s, {alerts} alert outputs",
        n as f64 / secs
    );
}
