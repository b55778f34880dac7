//! `--onesec-only`: onesec alone (no rsigma), for profiling and instruction counts
//! (`valgrind --tool=callgrind`): load the corpus once, then one pass over the regression
//! events and the generated stream (bare `Value`, then with log sources).

use std::path::{Path, PathBuf};

use onesec_sigma::{Engine, EngineConfig};
use serde_json::Value;

use crate::matching::{self, Pass, WithSource};
use crate::{corpus, regression_events, stream};

/// Runs the onesec-only passes and prints one line per measurement.
pub fn run(sigma: &Path, events: usize) {
    let dirs: Vec<PathBuf> = corpus::FOLDERS.iter().map(|d| sigma.join(d)).collect();
    let ones = corpus::load_onesec(&dirs);
    println!(
        "load: stage 1 {:.0} ms, stage 2 {:.0} ms, {} detection rules, {} refused",
        ones.stats.stage1_ms,
        ones.stats.stage2_ms,
        ones.stats.detection_rules,
        ones.stats.refused
    );
    let reg: Vec<Value> = regression_events(sigma)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let stream = stream::generate(events, 42);
    let sourced: Vec<WithSource> = stream.iter().map(WithSource::new).collect();
    let mut engine = Engine::new(ones.set, EngineConfig::default());
    let show = |what: &str, p: Pass| {
        println!(
            "{what}: {} events, {} matches, {:.0} events/s",
            p.events,
            p.matches,
            p.rate()
        )
    };
    show(
        "regression events, Value",
        matching::onesec_values(&mut engine, &reg),
    );
    show(
        "generated stream, Value",
        matching::onesec_values(&mut engine, &stream),
    );
    show(
        "generated stream, Value + log source",
        matching::onesec_sourced(&mut engine, &sourced),
    );
}
