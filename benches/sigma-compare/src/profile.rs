//! `--onesec-only` / `--rsigma-only`: one engine alone, for profiling and instruction counts
//! (`valgrind --tool=callgrind`): load the corpus once, then one pass over the regression
//! events and the generated stream (bare `Value`, then with log sources). Each engine loads
//! its own full set (onesec 3 752 rules, rsigma 3 754). The passes are the functions of
//! `matching` (`onesec_values`, `onesec_sourced`, `rsigma_values`, `rsigma_sourced`), whose
//! inclusive counts compare the engines.

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
        ones.stats.stage1_ms, ones.stats.stage2_ms, ones.stats.detection_rules, ones.stats.refused
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
        "generated stream, Value + log source (first pass)",
        sourced_first(&mut engine, &sourced),
    );
    show(
        "generated stream, Value + log source (second pass)",
        sourced_second(&mut engine, &sourced),
    );
}

/// The log-source pass, first time over the stream (onesec builds its per-log-source plans
/// in it). Separate functions so that callgrind counts each pass on its own.
#[inline(never)]
fn sourced_first(engine: &mut Engine, events: &[WithSource]) -> Pass {
    matching::onesec_sourced(engine, events)
}

/// The same pass again (steady state).
#[inline(never)]
fn sourced_second(engine: &mut Engine, events: &[WithSource]) -> Pass {
    matching::onesec_sourced(engine, events)
}

/// Runs the rsigma-only passes (same events, same order) and prints one line per measurement.
pub fn run_rsigma(sigma: &Path, events: usize) {
    let dirs: Vec<PathBuf> = corpus::FOLDERS.iter().map(|d| sigma.join(d)).collect();
    let rs = corpus::load_rsigma(&dirs);
    println!(
        "load: stage 1 {:.0} ms, stage 2 {:.0} ms, {} detection rules, {} refused",
        rs.stats.stage1_ms, rs.stats.stage2_ms, rs.stats.detection_rules, rs.stats.refused
    );
    let all: Vec<&rsigma_parser::SigmaRule> = rs.parsed.iter().collect();
    let (engine, _) = corpus::rsigma_engine(&all);
    let reg: Vec<Value> = regression_events(sigma)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let stream = stream::generate(events, 42);
    let sourced: Vec<(WithSource, rsigma_parser::LogSource)> = stream
        .iter()
        .map(|v| {
            let w = WithSource::new(v);
            let ls = w.rsigma();
            (w, ls)
        })
        .collect();
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
        matching::rsigma_values(&engine, &reg),
    );
    show(
        "generated stream, Value",
        matching::rsigma_values(&engine, &stream),
    );
    show(
        "generated stream, Value + log source (first pass)",
        rsigma_sourced_first(&engine, &sourced),
    );
    show(
        "generated stream, Value + log source (second pass)",
        rsigma_sourced_second(&engine, &sourced),
    );
}

/// As [`sourced_first`], for rsigma.
#[inline(never)]
fn rsigma_sourced_first(
    engine: &rsigma_eval::Engine,
    events: &[(WithSource, rsigma_parser::LogSource)],
) -> Pass {
    matching::rsigma_sourced(engine, events)
}

/// As [`sourced_second`], for rsigma.
#[inline(never)]
fn rsigma_sourced_second(
    engine: &rsigma_eval::Engine,
    events: &[(WithSource, rsigma_parser::LogSource)],
) -> Pass {
    matching::rsigma_sourced(engine, events)
}
