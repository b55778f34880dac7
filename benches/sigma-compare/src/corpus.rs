//! The SigmaHQ corpus loaded by both engines: timings, counts, and the rule set both can load.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use onesec_sigma::{EngineConfig, LoadOptions, RuleKind, RuleSet};
use rsigma_parser::SigmaRule;

/// The three SigmaHQ rule folders.
pub const FOLDERS: [&str; 3] = ["rules", "rules-emerging-threats", "rules-threat-hunting"];

/// Every `.yml` / `.yaml` file under `dir`, sorted.
pub fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

/// What loading the corpus cost one engine and what it kept.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Files read.
    pub files: usize,
    /// First stage (ms): onesec `RuleSet::load_paths` (read, parse, compile every rule);
    /// rsigma: read and `parse_sigma_yaml` every file.
    pub stage1_ms: f64,
    /// Second stage (ms): onesec `Engine::new` (log-source groups, prefilter automata);
    /// rsigma `Engine::add_rules` (lower, compile, candidate index).
    pub stage2_ms: f64,
    /// Detection rules ready to match.
    pub detection_rules: usize,
    /// Correlation rules parsed (rsigma's `Engine` does not run them; its `CorrelationEngine` does).
    pub correlation_rules: usize,
    /// Documents refused (parse or compile).
    pub refused: usize,
    /// A few refusals, for the report.
    pub refused_examples: Vec<String>,
}

/// The corpus as loaded by onesec.
pub struct Onesec {
    pub stats: LoadStats,
    pub set: RuleSet,
    /// Detection rule ids, with their file.
    pub ids: Vec<(String, PathBuf)>,
}

/// The corpus as loaded by rsigma.
pub struct Rsigma {
    pub stats: LoadStats,
    /// Every parsed detection rule (compiled or not).
    pub parsed: Vec<SigmaRule>,
    /// Ids of the rules that compiled.
    pub ids: BTreeSet<String>,
}

/// Loads the corpus with onesec: `RuleSet::load_paths` (read, parse, compile), then `Engine::new`.
pub fn load_onesec(dirs: &[PathBuf]) -> Onesec {
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let mut files = Vec::new();
    for d in dirs {
        rule_files(d, &mut files);
    }
    let t = Instant::now();
    let (set, report) = RuleSet::load_paths(&refs, &LoadOptions::default());
    let stage1_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let engine = onesec_sigma::Engine::new(set.clone(), EngineConfig::default());
    let stage2_ms = t.elapsed().as_secs_f64() * 1e3;
    drop(engine);
    let ids: Vec<(String, PathBuf)> = report
        .loaded
        .iter()
        .filter(|l| l.kind == RuleKind::Detection)
        .filter_map(|l| Some((l.id.clone()?, l.path.clone()?)))
        .collect();
    let stats = LoadStats {
        files: files.len(),
        stage1_ms,
        stage2_ms,
        detection_rules: report
            .loaded
            .iter()
            .filter(|l| l.kind == RuleKind::Detection)
            .count(),
        correlation_rules: report
            .loaded
            .iter()
            .filter(|l| matches!(l.kind, RuleKind::Correlation(_)))
            .count(),
        refused: report.rejected.len(),
        refused_examples: report
            .rejected
            .iter()
            .take(5)
            .map(|r| format!("{}: {}", r.location(), r.reason))
            .collect(),
    };
    Onesec { stats, set, ids }
}

/// Loads the corpus with rsigma: `parse_sigma_yaml` per file, then `Engine::add_rules` (which
/// lowers, compiles and builds its candidate index once).
pub fn load_rsigma(dirs: &[PathBuf]) -> Rsigma {
    let mut files = Vec::new();
    for d in dirs {
        rule_files(d, &mut files);
    }
    let mut stats = LoadStats {
        files: files.len(),
        ..LoadStats::default()
    };
    let t = Instant::now();
    let mut parsed = Vec::new();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                stats.refused += 1;
                stats.refused_examples.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        match rsigma_parser::parse_sigma_yaml(&text) {
            Ok(c) => {
                for e in &c.errors {
                    stats.refused += 1;
                    if stats.refused_examples.len() < 5 {
                        stats.refused_examples.push(format!("{}: {e}", f.display()));
                    }
                }
                stats.correlation_rules += c.correlations.len();
                parsed.extend(c.rules);
            }
            Err(e) => {
                stats.refused += 1;
                if stats.refused_examples.len() < 5 {
                    stats.refused_examples.push(format!("{}: {e}", f.display()));
                }
            }
        }
    }
    stats.stage1_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut engine = rsigma_eval::Engine::new();
    let errors = engine.add_rules(parsed.iter());
    stats.stage2_ms = t.elapsed().as_secs_f64() * 1e3;
    for (i, e) in &errors {
        stats.refused += 1;
        if stats.refused_examples.len() < 10 {
            stats.refused_examples.push(format!(
                "{} [{}]: {e}",
                parsed[*i].title,
                parsed[*i].id.as_deref().unwrap_or("?")
            ));
        }
    }
    stats.detection_rules = engine.rule_count();
    let ids = engine.rules().iter().filter_map(|r| r.id.clone()).collect();
    Rsigma { stats, parsed, ids }
}

/// An rsigma engine over some parsed rules, and how many failed to compile.
pub fn rsigma_engine(rules: &[&SigmaRule]) -> (rsigma_eval::Engine, usize) {
    let mut engine = rsigma_eval::Engine::new();
    let errors = engine.add_rules(rules.iter().copied());
    (engine, errors.len())
}
