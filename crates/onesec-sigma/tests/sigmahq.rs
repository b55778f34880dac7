//! The SigmaHQ rule set, regression cases and specification examples (shared test data).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use onesec_sigma::{
    Engine, EngineConfig, EvtxJson, LoadOptions, LoadReport, Output, RuleKind, RuleSet,
    parse_json_stream,
};

/// The three SigmaHQ rule folders, loaded once for all tests of this file.
fn sigmahq() -> Option<&'static (PathBuf, RuleSet, LoadReport)> {
    static ALL: OnceLock<Option<(PathBuf, RuleSet, LoadReport)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let root = onesec_testdata::shared("data/sigma")?;
        let dirs =
            ["rules", "rules-emerging-threats", "rules-threat-hunting"].map(|d| root.join(d));
        let dir_refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        let (set, report) = RuleSet::load_paths(&dir_refs, &LoadOptions::default());
        Some((root, set, report))
    })
    .as_ref()
}

/// Checks the load report of one rule folder.
fn load_and_report(folder: &str, min_ratio: f64) {
    let Some(_) = onesec_testdata::shared(&format!("data/sigma/{folder}")) else {
        return;
    };
    let Some((root, set, full)) = sigmahq() else {
        return;
    };
    let dir = root.join(folder);
    let in_dir = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| p.starts_with(&dir));
    let loaded = full.loaded.iter().filter(|l| in_dir(&l.path)).count();
    let rejected: Vec<_> = full.rejected.iter().filter(|r| in_dir(&r.path)).collect();
    let total = loaded + rejected.len();
    let ratio = loaded as f64 / total.max(1) as f64;
    println!(
        "{folder}: loaded {loaded} of {total} rule documents ({:.2}%), rejected {}",
        ratio * 100.0,
        rejected.len()
    );
    for r in &rejected {
        println!(
            "  rejected {} [{}]: {}",
            r.path
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            r.title.as_deref().unwrap_or("?"),
            r.reason
        );
    }
    assert!(total > 0, "no rules found under {}", dir.display());
    assert!(
        ratio >= min_ratio,
        "only {:.2}% of {folder} loaded",
        ratio * 100.0
    );
    assert_eq!(set.len(), full.loaded.len());
}

#[test]
fn sigmahq_rules_load() {
    load_and_report("rules", 0.99);
}

#[test]
fn sigmahq_emerging_threats_load() {
    load_and_report("rules-emerging-threats", 0.99);
}

#[test]
fn sigmahq_threat_hunting_load() {
    load_and_report("rules-threat-hunting", 0.99);
}

#[test]
fn whole_set_runs_on_an_empty_record() {
    let Some((_, set, _)) = sigmahq() else {
        return;
    };
    let mut engine = Engine::new(set.clone(), EngineConfig::default());
    let out = engine.process(1, &serde_json::json!({}));
    assert!(
        out.len() < 50,
        "an empty record matched {} rules",
        out.len()
    );
}

#[test]
fn spec_examples_parse() {
    let Some(dir) = onesec_testdata::shared("data/sigma/spec-examples/schema") else {
        return;
    };
    let mut files = Vec::new();
    collect(&dir, &mut files);
    assert!(files.len() >= 12, "expected the 12 spec examples");
    // The correlation examples reference rules that are not part of the examples; give them
    // stand-ins so that reference resolution is exercised as well.
    let stand_ins = [
        "5638f7c0-ac70-491d-8465-2a65075e0d86",
        "recon_cmd_a",
        "recon_cmd_b",
        "recon_cmd_c",
        "rule_a_id",
        "process_creation",
        "website_access",
    ]
    .iter()
    .map(|r| {
        let key = if r.contains('-') && r.len() == 36 { "id" } else { "name" };
        format!(
            "title: stand-in {r}\n{key}: {r}\nlogsource: {{product: windows}}\ndetection:\n    sel: {{x: 1}}\n    condition: sel\n"
        )
    })
    .collect::<Vec<_>>()
    .join("---\n");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let (_, report) = RuleSet::from_sources(
            &[
                (None, stand_ins.as_str()),
                (Some(f.as_path()), text.as_str()),
            ],
            &LoadOptions::default(),
        );
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Every example (value_sum, value_avg and value_percentile included) loads.
        let mine: Vec<_> = report
            .rejected
            .iter()
            .filter(|r| r.path.as_deref() == Some(f.as_path()))
            .collect();
        assert!(mine.is_empty(), "{name}: {mine:?}");
        assert!(
            report
                .loaded
                .iter()
                .any(|l| l.path.as_deref() == Some(f.as_path())),
            "{name} not loaded"
        );
        println!("{name}: ok");
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    out.extend(onesec_testdata::files_under(dir, &|p: &Path| {
        p.extension().is_some_and(|e| e == "yml")
    }));
}

fn find_info_files(dir: &Path, out: &mut Vec<PathBuf>) {
    out.extend(onesec_testdata::files_under(dir, &|p: &Path| {
        p.file_name().is_some_and(|n| n == "info.yml")
    }));
}

/// One regression case: the rule under test, the JSON events, the expected count.
struct Case {
    folder: PathBuf,
    rule_id: String,
    json: PathBuf,
    expected: Option<usize>,
}

fn read_cases(root: &Path) -> Vec<Case> {
    let mut infos = Vec::new();
    find_info_files(&root.join("regression_data"), &mut infos);
    let mut cases = Vec::new();
    for info in infos {
        let folder = info.parent().map(Path::to_path_buf).unwrap_or_default();
        let text = std::fs::read_to_string(&info).unwrap_or_default();
        let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
            panic!("bad info.yml {}", info.display());
        };
        let Some(rule_id) = doc["rule_metadata"][0]["id"].as_str().map(str::to_string) else {
            continue;
        };
        let Some(tests) = doc["regression_tests_info"].as_sequence() else {
            continue; // no active test (e.g. commented out)
        };
        for t in tests {
            if t["type"].as_str() != Some("evtx") {
                continue;
            }
            let expected = t["match_count"].as_u64().map(|n| n as usize);
            // The JSON rendering sits next to the .evtx, same stem.
            let json = t["path"]
                .as_str()
                .map(|p| root.join(p).with_extension("json"))
                .filter(|p| p.exists())
                .unwrap_or_else(|| folder.join(format!("{rule_id}.json")));
            cases.push(Case {
                folder: folder.clone(),
                rule_id: rule_id.clone(),
                json,
                expected,
            });
        }
    }
    cases
}

#[test]
fn sigmahq_regression_cases() {
    let Some((root, all, _)) = sigmahq() else {
        return;
    };
    let by_id: BTreeMap<&str, &onesec_sigma::Rule> = all
        .rules()
        .iter()
        .filter_map(|r| r.meta.id.as_deref().map(|id| (id, r)))
        .collect();
    let cases = read_cases(root);
    assert!(!cases.is_empty(), "no regression cases found");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .folder
            .strip_prefix(root)
            .unwrap_or(&case.folder)
            .display()
            .to_string();
        let Some(rule) = by_id.get(case.rule_id.as_str()) else {
            failures.push(format!("{name}: rule {} not loaded", case.rule_id));
            continue;
        };
        let Some(rule_path) = rule.meta.path.clone() else {
            failures.push(format!("{name}: rule without path"));
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&case.json) else {
            failures.push(format!("{name}: missing {}", case.json.display()));
            continue;
        };
        let events = match parse_json_stream(&text) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{name}: bad JSON: {e}"));
                continue;
            }
        };
        // Run the rule alone through the engine, as it would run in production.
        let rule_text = std::fs::read_to_string(&rule_path).unwrap_or_default();
        let (set, report) = RuleSet::from_sources(
            &[(Some(rule_path.as_path()), rule_text.as_str())],
            &LoadOptions::default(),
        );
        assert!(report.rejected.is_empty(), "{name}: {:?}", report.rejected);
        assert!(set.rules().iter().all(|r| r.kind() == RuleKind::Detection));
        let mut engine = Engine::new(set, EngineConfig::default());
        let mut matches = 0;
        for (i, ev) in events.iter().enumerate() {
            let out = engine.process(i as u64 + 1, &EvtxJson::new(ev));
            matches += out.iter().filter(|o| matches!(o, Output::Fired(_))).count();
        }
        // As in SigmaHQ's own runner (tests/regression_tests_runner.py): `match_count` is the
        // minimum (more matches only warn: "consider updating match_count"); no
        // `match_count` means at least one match.
        let ok = match case.expected {
            Some(n) => matches >= n,
            None => matches >= 1,
        };
        if let Some(n) = case.expected
            && matches > n
        {
            println!("  note {name}: {matches} matches, info.yml states {n}");
        }
        if !ok {
            failures.push(format!(
                "{name}: {matches} matches of {} events, expected {}",
                events.len(),
                case.expected
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "at least 1".into())
            ));
        }
    }
    println!(
        "SigmaHQ regression: {} of {} cases pass",
        cases.len() - failures.len(),
        cases.len()
    );
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} regression cases fail",
        failures.len()
    );
}

/// The engine's literal prefilter must never hide a match: over every regression event and
/// every SigmaHQ rule, the engine fires exactly for the rules that match when evaluated
/// directly.
#[test]
fn prefilter_agrees_with_direct_matching() {
    let Some((root, all, _)) = sigmahq() else {
        return;
    };
    let mut events = Vec::new();
    for case in read_cases(root) {
        if let Ok(text) = std::fs::read_to_string(&case.json) {
            events.extend(parse_json_stream(&text).unwrap_or_default());
        }
    }
    let mut engine = Engine::new(all.clone(), EngineConfig::default());
    let mut total = 0;
    for (i, e) in events.iter().enumerate() {
        let rec = EvtxJson::new(e);
        let mut by_engine: Vec<String> = engine
            .process(i as u64, &rec)
            .into_iter()
            .filter_map(|o| match o {
                Output::Fired(a) => Some(a.rule_id),
                _ => None,
            })
            .collect();
        let mut direct: Vec<String> = all
            .rules()
            .iter()
            .filter(|r| r.is_match(&rec) == Some(true))
            .map(|r| r.meta.key().to_string())
            .collect();
        by_engine.sort();
        direct.sort();
        assert_eq!(by_engine, direct, "event {i}");
        total += direct.len();
    }
    println!(
        "{} events, {total} rule matches, engine and direct evaluation agree",
        events.len()
    );
    assert!(total > events.len());
}

/// A rendered Windows event as one flat JSON object with Sigma's field names (`EventData`
/// items, then `System` elements), the shape of JSON records that list their fields.
fn flat_object(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let event = v.get("Event").unwrap_or(v);
    let text = |v: &Value| v.get("#text").unwrap_or(v).clone();
    let mut out = serde_json::Map::new();
    if let Some(Value::Object(data)) = event.get("EventData") {
        for (k, v) in data {
            out.entry(k.clone()).or_insert_with(|| text(v));
        }
    }
    if let Some(Value::Object(system)) = event.get("System") {
        for (k, v) in system {
            out.entry(k.clone()).or_insert_with(|| text(v));
        }
    }
    // A nested copy too, so that dotted names and objects are exercised.
    out.insert("Event".into(), event.clone());
    Value::Object(out)
}

/// The same over JSON objects, whose fields the engine indexes in one pass
/// (`Record::for_each_field`) instead of asking for them one by one.
#[test]
fn field_table_agrees_with_direct_matching() {
    let Some((root, all, _)) = sigmahq() else {
        return;
    };
    let mut events = Vec::new();
    for case in read_cases(root) {
        if let Ok(text) = std::fs::read_to_string(&case.json) {
            events.extend(
                parse_json_stream(&text)
                    .unwrap_or_default()
                    .iter()
                    .map(flat_object),
            );
        }
    }
    let mut engine = Engine::new(all.clone(), EngineConfig::default());
    let mut total = 0;
    for (i, rec) in events.iter().enumerate() {
        let mut by_engine: Vec<String> = engine
            .process(i as u64, rec)
            .into_iter()
            .filter_map(|o| match o {
                Output::Fired(a) => Some(a.rule_id),
                _ => None,
            })
            .collect();
        let mut direct: Vec<String> = all
            .rules()
            .iter()
            .filter(|r| r.is_match(rec) == Some(true))
            .map(|r| r.meta.key().to_string())
            .collect();
        by_engine.sort();
        direct.sort();
        assert_eq!(by_engine, direct, "event {i}");
        total += direct.len();
    }
    println!(
        "{} flat events, {total} rule matches, both agree",
        events.len()
    );
    assert!(total > events.len());
}

/// A flat event with a log source: `pairs` are the (key, value) pairs it belongs to (several
/// values of one key may hold, as `registry_set` and `registry_event` do for one event).
struct Sourced<'a> {
    value: &'a serde_json::Value,
    pairs: &'a [(&'static str, String)],
    /// Its log-source token (`Record::logsource_token`), if it tells one.
    token: Option<u64>,
}

impl onesec_sigma::Record for Sourced<'_> {
    fn field(&self, name: &str) -> Option<onesec_sigma::FieldValue<'_>> {
        self.value.field(name)
    }
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.value.any_value(f)
    }
    fn in_logsource(&self, key: &str, value: &str) -> bool {
        self.pairs
            .iter()
            .any(|(k, v)| *k == key && v.eq_ignore_ascii_case(value))
    }
    fn time_ms(&self) -> i64 {
        0
    }
    fn logsource_token(&self) -> Option<u64> {
        // Every other record tells its token: the engine takes both ways.
        self.token
    }
    fn for_each_field<'a>(
        &'a self,
        f: &mut dyn FnMut(&'a str, &dyn Fn() -> onesec_sigma::FieldValue<'a>),
    ) -> bool {
        self.value.for_each_field(f)
    }
}

/// With log sources, the engine (its per-log-source plans, built on first use) fires exactly
/// the rules whose log source the event belongs to and that direct evaluation matches: each
/// regression event under its own rule's log source and under a set of others (one source
/// seen again after others, to reuse a built plan; two categories at once; a source no rule
/// uses), every other event telling a log-source token.
#[test]
fn log_source_plans_agree_with_direct_matching() {
    use onesec_sigma::Record;
    let Some((root, all, _)) = sigmahq() else {
        return;
    };
    let mut events: Vec<(serde_json::Value, Vec<(&'static str, String)>)> = Vec::new();
    for case in read_cases(root) {
        let Some(rule) = all
            .rules()
            .iter()
            .find(|r| r.meta.id.as_deref() == Some(case.rule_id.as_str()))
        else {
            continue;
        };
        let own: Vec<(&'static str, String)> = rule
            .meta
            .logsource
            .pairs()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        if let Ok(text) = std::fs::read_to_string(&case.json) {
            for v in parse_json_stream(&text).unwrap_or_default().iter() {
                events.push((flat_object(v), own.clone()));
            }
        }
    }
    let p = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let others = [
        p(&[("product", "windows"), ("category", "process_creation")]),
        p(&[("product", "windows"), ("service", "security")]),
        p(&[
            ("product", "windows"),
            ("service", "sysmon"),
            ("category", "registry_set"),
            ("category", "registry_event"),
        ]),
        p(&[("product", "linux"), ("category", "process_creation")]),
        p(&[("product", "nothing-uses-this")]),
        p(&[("product", "windows"), ("category", "process_creation")]),
    ];
    let n = events.len();
    for other in &others {
        for i in 0..n {
            let v = events[i].0.clone();
            events.push((v, other.clone()));
        }
    }
    let mut engine = Engine::new(all.clone(), EngineConfig::default());
    let mut total = 0;
    for (i, (value, pairs)) in events.iter().enumerate() {
        let token = (i % 2 == 0).then(|| {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            pairs.hash(&mut h);
            h.finish()
        });
        let rec = Sourced {
            value,
            pairs,
            token,
        };
        let mut by_engine: Vec<String> = engine
            .process(i as u64, &rec)
            .into_iter()
            .filter_map(|o| match o {
                Output::Fired(a) => Some(a.rule_id),
                _ => None,
            })
            .collect();
        let mut direct: Vec<String> = all
            .rules()
            .iter()
            .filter(|r| {
                r.meta
                    .logsource
                    .pairs()
                    .all(|(k, v)| rec.in_logsource(k, &v.to_ascii_lowercase()))
                    && r.is_match(&rec) == Some(true)
            })
            .map(|r| r.meta.key().to_string())
            .collect();
        by_engine.sort();
        direct.sort();
        assert_eq!(by_engine, direct, "event {i} with {pairs:?}");
        total += direct.len();
    }
    println!(
        "{} sourced events, {total} rule matches, both agree",
        events.len()
    );
    // Every regression event matches at least its own rule under its own log source.
    assert!(total >= n);
}

/// The only SigmaHQ rules rejected by default use an `expand` placeholder; with a value for it
/// they load.
#[test]
fn placeholder_rules_load_with_values() {
    let Some((_, _, report)) = sigmahq() else {
        return;
    };
    let paths: Vec<PathBuf> = report
        .rejected
        .iter()
        .filter_map(|r| r.path.clone())
        .collect();
    assert!(
        report
            .rejected
            .iter()
            .all(|r| r.reason.starts_with("unresolved placeholder")),
        "{:?}",
        report.rejected
    );
    let mut opts = LoadOptions::default();
    opts.placeholders.insert(
        "known_cdcs".to_string(),
        vec!["dc01.corp.example".to_string(), "10.0.0.10".to_string()],
    );
    let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (set, report) = RuleSet::load_paths(&path_refs, &opts);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(set.len(), paths.len());
}
