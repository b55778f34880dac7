//! Every alerting rule of the converged pack has positive and negative cases in
//! `rules/tests/*.yml`: raw input lines, decoded, resolved against the example directory and run
//! through the built-in rules. A case states how many active alerts its rule must end with.

use onesec_decode::{DecodeContext, Format, decode_bytes};
use onesec_directory::Directory;
use onesec_pipeline::{BUILTIN_RULES, ConnectionWatch, EventRecord, RulesConfig, load_rules};
use onesec_sigma::{Engine, EngineConfig, Output};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
struct RuleTests {
    rule: String,
    directory: PathBuf,
    /// A `[hygiene] policy` file: flows are checked against its allow-lists, as ingest does.
    #[serde(default)]
    policy: Option<PathBuf>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    expect_alerts: usize,
    events: Vec<String>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("rules/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// Runs one case; returns the active alerts per rule name at the end.
fn run_case(
    directory: &Arc<Directory>,
    connections: &ConnectionWatch,
    case: &Case,
) -> BTreeMap<String, usize> {
    let (rules, report) = load_rules(&RulesConfig {
        builtin: true,
        dirs: vec![],
    })
    .unwrap();
    assert!(
        report.rejected.is_empty(),
        "built-in rules refused: {:?}",
        report.rejected
    );
    let mut engine = Engine::new(rules, EngineConfig::default());
    let ctx = DecodeContext::new("test", 0);
    let mut active: BTreeMap<String, String> = BTreeMap::new();
    for (index, line) in case.events.iter().enumerate() {
        let decoded = decode_bytes(&Format::Auto, line.as_bytes(), &ctx);
        assert!(
            decoded.errors.is_empty(),
            "{}: line {} refused: {:?}",
            case.name,
            index + 1,
            decoded.errors
        );
        let mut events = decoded.events;
        for event in &mut events {
            event.id = index as u64 + 1;
            directory.resolve(event);
        }
        connections.mark(directory, &mut events);
        for event in events {
            for output in engine.process(event.id, &EventRecord(&event)) {
                match output {
                    Output::Fired(a) | Output::Updated(a) => {
                        active.insert(
                            a.id.clone(),
                            a.rule_name.clone().unwrap_or(a.rule_id.clone()),
                        );
                    }
                    Output::Withdrawn { alert_id } => {
                        active.remove(&alert_id);
                    }
                }
            }
        }
    }
    let mut counts = BTreeMap::new();
    for rule in active.values() {
        *counts.entry(rule.clone()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn every_case_of_every_rule_holds() {
    let mut failures = Vec::new();
    for file in test_files() {
        let tests: RuleTests = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let directory = Arc::new(Directory::load_dir(workspace().join(&tests.directory)).unwrap());
        let policy = tests
            .policy
            .as_ref()
            .map(|p| onesec_hygiene::Policy::load(&workspace().join(p)).unwrap());
        for case in &tests.cases {
            // Each case starts with no peer baseline.
            let connections = ConnectionWatch::new(policy.clone());
            let counts = run_case(&directory, &connections, case);
            let got = counts.get(&tests.rule).copied().unwrap_or(0);
            if got != case.expect_alerts {
                failures.push(format!(
                    "{} / {}: expected {} alert(s) of {}, got {got} (all alerts: {counts:?})",
                    file.display(),
                    case.name,
                    case.expect_alerts,
                    tests.rule
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "rule pack cases failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_alerting_rule_has_a_positive_and_a_negative_case() {
    let mut covered: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for file in test_files() {
        let tests: RuleTests =
            serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let entry = covered.entry(tests.rule.clone()).or_default();
        for case in &tests.cases {
            if case.expect_alerts > 0 {
                entry.0 = true;
            } else {
                entry.1 = true;
            }
        }
    }
    let mut missing = BTreeSet::new();
    for (name, text) in BUILTIN_RULES {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        let rule = doc["name"].as_str().unwrap_or(name).to_string();
        let building_block = doc["tags"].as_sequence().is_some_and(|tags| {
            tags.iter()
                .any(|t| t.as_str() == Some("onesec.building_block"))
        });
        if building_block {
            continue;
        }
        if covered.get(&rule) != Some(&(true, true)) {
            missing.insert(rule);
        }
    }
    assert!(
        missing.is_empty(),
        "rules without both a positive and a negative case: {missing:?}"
    );
}
