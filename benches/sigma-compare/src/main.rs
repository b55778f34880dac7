//! Side-by-side benchmark of onesec-sigma and rsigma: same machine, same rules, same events,
//! one run. Prints a Markdown report. See README.md.

mod corpus;
mod corr;
mod flat;
mod matching;
mod mem;
mod profile;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use onesec_sigma::{Engine, EngineConfig, LoadOptions, Output, RuleSet, parse_json_stream};
use rsigma_eval::JsonEvent;
use serde_json::Value;

use matching::{Pass, WithSource};

struct Args {
    events: usize,
    rounds: usize,
    corr_keys: usize,
    corr_rules: Vec<usize>,
    skip_corr: bool,
    skip_match: bool,
    onesec_only: bool,
    rsigma_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        events: 1_000_000,
        rounds: 3,
        corr_keys: 1_000_000,
        corr_rules: vec![10, 100],
        skip_corr: false,
        skip_match: false,
        onesec_only: false,
        rsigma_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--events" => a.events = val()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--rounds" => a.rounds = val()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--corr-keys" => {
                a.corr_keys = val()?.parse().map_err(|e| format!("--corr-keys: {e}"))?
            }
            "--corr-rules" => {
                a.corr_rules = val()?
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--corr-rules: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--skip-corr" => a.skip_corr = true,
            "--skip-match" => a.skip_match = true,
            "--onesec-only" => a.onesec_only = true,
            "--rsigma-only" => a.rsigma_only = true,
            "--help" | "-h" => {
                return Err(
                    "usage: sigma-compare [--events N] [--rounds R] [--corr-keys K] \
                            [--corr-rules 10,100] [--skip-corr] [--skip-match] [--onesec-only] [--rsigma-only]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--child") {
        // --child ENGINE RULES KEYS: one correlation measurement, printed as one JSON line.
        let engine = args.next().unwrap_or_default();
        let rules: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
        let keys: usize = args
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        let r = match engine.as_str() {
            "onesec" => corr::run_onesec(rules, keys),
            "rsigma" => corr::run_rsigma(rules, keys, false),
            "rsigma-refs" => corr::run_rsigma(rules, keys, true),
            _ => panic!("unknown engine {engine}"),
        };
        println!("{}", serde_json::to_string(&r).unwrap_or_default());
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let Some(sigma) = onesec_testdata::shared("data/sigma") else {
        eprintln!("the SigmaHQ corpus (../shared/data/sigma) is missing; set ONESEC_SHARED_DIR");
        std::process::exit(1);
    };
    if args.onesec_only {
        profile::run(&sigma, args.events);
        return;
    }
    if args.rsigma_only {
        profile::run_rsigma(&sigma, args.events);
        return;
    }
    let mut r = Report;
    r.line(&format!("# Detection engine vs rsigma ({})", now()));
    r.line("");
    r.line(&format!(
        "Command: `{}`",
        std::env::args().collect::<Vec<_>>().join(" ")
    ));
    r.line(&format!(
        "Machine: {} × \"{}\", {} MiB RAM; load average at start: {}; {}; rsigma-eval / rsigma-parser 0.23.0",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        mem_total_mib(),
        loadavg(),
        rustc()
    ));
    r.line("");

    // ---- Rule loading -------------------------------------------------------------------
    let dirs: Vec<PathBuf> = corpus::FOLDERS.iter().map(|d| sigma.join(d)).collect();
    let mut ones_loads = Vec::new();
    let mut rs_loads = Vec::new();
    let mut ones = None;
    let mut rs = None;
    for _ in 0..args.rounds.max(1) {
        let o = corpus::load_onesec(&dirs);
        ones_loads.push(o.stats.clone());
        ones = Some(o);
        let s = corpus::load_rsigma(&dirs);
        rs_loads.push(s.stats.clone());
        rs = Some(s);
    }
    let (Some(ones), Some(rs)) = (ones, rs) else {
        return;
    };
    r.line("## Rule loading (SigmaHQ: rules, rules-emerging-threats, rules-threat-hunting)");
    r.line("");
    r.line(&format!(
        "{} rule files. Median of {} loads, ms. onesec: stage 1 = `RuleSet::load_paths` (read, parse, compile), stage 2 = `Engine::new` (log-source groups, prefilter automata). rsigma: stage 1 = read + `parse_sigma_yaml` per file, stage 2 = `Engine::add_rules` (lower, compile, candidate index).",
        ones.stats.files,
        args.rounds.max(1)
    ));
    r.line("");
    r.line("| engine | stage 1 ms | stage 2 ms | total ms | detection rules loaded | correlation rules | refused |");
    r.line("|---|---:|---:|---:|---:|---:|---:|");
    for (name, loads) in [("onesec", &ones_loads), ("rsigma", &rs_loads)] {
        let s1 = median(loads.iter().map(|l| l.stage1_ms).collect());
        let s2 = median(loads.iter().map(|l| l.stage2_ms).collect());
        let tot = median(loads.iter().map(|l| l.stage1_ms + l.stage2_ms).collect());
        let l = &loads[0];
        r.line(&format!(
            "| {name} | {s1:.0} | {s2:.0} | {tot:.0} | {} | {} | {} |",
            l.detection_rules, l.correlation_rules, l.refused
        ));
    }
    r.line("");
    for (name, l) in [("onesec", &ones.stats), ("rsigma", &rs.stats)] {
        for e in &l.refused_examples {
            r.line(&format!("* {name} refused: {e}"));
        }
    }

    // ---- The common rule set ------------------------------------------------------------------
    let ones_ids: BTreeSet<&str> = ones.ids.iter().map(|(i, _)| i.as_str()).collect();
    let common: BTreeSet<&str> = ones_ids
        .iter()
        .copied()
        .filter(|i| rs.ids.contains(*i))
        .collect();
    let only_ones: Vec<&str> = ones_ids
        .iter()
        .copied()
        .filter(|i| !common.contains(i))
        .collect();
    let only_rs: Vec<&str> = rs
        .ids
        .iter()
        .map(String::as_str)
        .filter(|i| !common.contains(i))
        .collect();
    let files: BTreeSet<&Path> = ones
        .ids
        .iter()
        .filter(|(i, _)| common.contains(i.as_str()))
        .map(|(_, p)| p.as_path())
        .collect();
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .map(|p| {
            (
                p.to_path_buf(),
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .collect();
    let sources: Vec<(Option<&Path>, &str)> = texts
        .iter()
        .map(|(p, t)| (Some(p.as_path()), t.as_str()))
        .collect();
    let (ones_common_set, _) = RuleSet::from_sources(&sources, &LoadOptions::default());
    let rs_common_rules: Vec<_> = rs
        .parsed
        .iter()
        .filter(|r| r.id.as_deref().is_some_and(|i| common.contains(i)))
        .collect();
    let (rs_common, _) = corpus::rsigma_engine(&rs_common_rules);
    let (rs_full, _) = corpus::rsigma_engine(&rs.parsed.iter().collect::<Vec<_>>());
    r.line("");
    r.line(&format!(
        "Common rule set (detection rules both load, by id): **{}** (onesec engine holds {}, rsigma {}). Only onesec: {} ({}). Only rsigma: {} ({}).",
        common.len(),
        ones_common_set.len(),
        rs_common.rule_count(),
        only_ones.len(),
        examples(&only_ones, &ones.set),
        only_rs.len(),
        only_rs.iter().take(5).map(|i| {
            let t = rs.parsed.iter().find(|r| r.id.as_deref() == Some(*i)).map(|r| r.title.clone()).unwrap_or_default();
            format!("`{i}` {t}")
        }).collect::<Vec<_>>().join("; ")
    ));
    r.line("");

    // ---- Regression data: agreement -----------------------------------------------------------
    let reg = regression_events(&sigma);
    let reg_values: Vec<Value> = reg.iter().map(|(_, v)| v.clone()).collect();
    let mut ones_common = Engine::new(ones_common_set.clone(), EngineConfig::default());
    agreement(
        &mut r,
        &sigma,
        &reg,
        &mut ones_common,
        &rs_common,
        &ones_common_set,
    );

    if !args.skip_match {
        // ---- Matching throughput ---------------------------------------------------------
        let mut ones_full = Engine::new(ones.set.clone(), EngineConfig::default());
        let reps = (20_000 / reg_values.len().max(1)).max(1);
        let reg_rep: Vec<Value> = (0..reps).flat_map(|_| reg_values.iter().cloned()).collect();
        eprintln!("generating {} events", args.events);
        let stream = stream::generate(args.events, 42);
        let lines: Vec<String> = stream.iter().map(|v| v.to_string()).collect();
        let avg_len = lines.iter().map(String::len).sum::<usize>() / lines.len().max(1);
        let sourced: Vec<WithSource> = stream.iter().map(WithSource::new).collect();
        let rs_sourced: Vec<(WithSource, rsigma_parser::LogSource)> = stream
            .iter()
            .map(|v| {
                let w = WithSource::new(v);
                let ls = w.rsigma();
                (w, ls)
            })
            .collect();
        r.line("## Matching: events/s on one core");
        r.line("");
        r.line(&format!(
            "One thread, each engine in turn, median of {} passes (alternating). Regression events: the {} SigmaHQ regression events (flattened to Sigma field names), repeated {}×. Generated stream: {} Windows/Sysmon events (85 % Sysmon 1/3/7/10/11/13/22, 15 % Security 4624/4625/4672; {} bytes of JSON each on average), built as `serde_json::Value` before timing; the JSON rows parse each line (serde_json) inside the timed loop. Without a log source every rule applies to every event (onesec: a bare `Value`; rsigma: `evaluate`); with a log source each event carries (product, service, category) from its channel and event id (onesec `Record::in_logsource`; rsigma `evaluate_with_logsource`).",
            args.rounds, reg_values.len(), reps, stream.len(), avg_len
        ));
        r.line("");
        r.line("| input | rules | onesec events/s | rsigma events/s | onesec ÷ rsigma | matches onesec / rsigma |");
        r.line("|---|---|---:|---:|---:|---:|");
        let rounds = args.rounds.max(1);
        let row = |r: &mut Report,
                   input: &str,
                   rules: &str,
                   f: &mut dyn FnMut() -> Pass,
                   g: &mut dyn FnMut() -> Pass| {
            let mut a = Vec::new();
            let mut b = Vec::new();
            for _ in 0..rounds {
                a.push(f());
                b.push(g());
            }
            let ra = median(a.iter().map(Pass::rate).collect());
            let rb = median(b.iter().map(Pass::rate).collect());
            r.line(&format!(
                "| {input} | {rules} | {} | {} | **{:.2}×** | {} / {} |",
                thousands(ra),
                thousands(rb),
                ra / rb,
                a[0].matches,
                b[0].matches
            ));
            eprintln!("{input} {rules}: {ra:.0} vs {rb:.0}");
        };
        let common_label = format!("common ({})", common.len());
        let full_label = format!(
            "each its own ({} / {})",
            ones.set.len(),
            rs_full.rule_count()
        );
        row(
            &mut r,
            "regression events, Value",
            &common_label,
            &mut || matching::onesec_values(&mut ones_common, &reg_rep),
            &mut || matching::rsigma_values(&rs_common, &reg_rep),
        );
        row(
            &mut r,
            "generated stream, Value",
            &common_label,
            &mut || matching::onesec_values(&mut ones_common, &stream),
            &mut || matching::rsigma_values(&rs_common, &stream),
        );
        row(
            &mut r,
            "generated stream, JSON text",
            &common_label,
            &mut || matching::onesec_json(&mut ones_common, &lines),
            &mut || matching::rsigma_json(&rs_common, &lines),
        );
        row(
            &mut r,
            "generated stream, Value + log source",
            &common_label,
            &mut || matching::onesec_sourced(&mut ones_common, &sourced),
            &mut || matching::rsigma_sourced(&rs_common, &rs_sourced),
        );
        row(
            &mut r,
            "generated stream, Value",
            &full_label,
            &mut || matching::onesec_values(&mut ones_full, &stream),
            &mut || matching::rsigma_values(&rs_full, &stream),
        );
        r.line("");
        stream_agreement(&mut r, &stream, &mut ones_common, &rs_common);
    }

    if !args.skip_corr {
        r.line("## Correlation");
        r.line("");
        r.line(&format!(
            "`N` detection rules (Security 4625 of one domain each), each counted by one `event_count` correlation (group-by `IpAddress`, 1 h, `gte 5`). Phase 1: one event for each of {} distinct addresses (each opens a group); phase 2: {} more events on random addresses (groups grow; ≈ 2 % reach 5). Event time +1 ms per event, so every group is live at the end. Each engine in its own child process; memory = growth of VmRSS. Caps raised in both so nothing is evicted (onesec `max_groups_per_rule`, rsigma `max_state_entries`); rsigma `emit_detections: false` (as onesec: rules only referenced by correlations do not alert). rsigma by default keeps no event references in a window; onesec always does (its alerts list their events), so rsigma is also run with `CorrelationEventMode::Refs`. An update = one event through detection and into one correlation group.",
            args.corr_keys, args.corr_keys
        ));
        r.line("");
        r.line("| rules | engine | updates/s phase 1 (new groups) | updates/s phase 2 (existing) | overall | live groups | bytes / live group | bytes / extra event in window | alert outputs | groups alerted |");
        r.line("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut notes = Vec::new();
        for &n in &args.corr_rules {
            let mut by_engine = BTreeMap::new();
            for engine in ["onesec", "rsigma", "rsigma-refs"] {
                eprintln!("correlation {engine} {n} rules");
                match child(engine, n, args.corr_keys) {
                    Ok(c) => {
                        r.line(&format!(
                            "| {n} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} |",
                            c.engine,
                            thousands(c.phase1_updates_per_s),
                            thousands(c.phase2_updates_per_s),
                            thousands(c.overall_updates_per_s),
                            c.groups,
                            c.bytes_per_group,
                            c.bytes_per_entry,
                            c.alerts,
                            c.alert_groups
                        ));
                        notes.push(format!("{} rules, {}: {}", n, c.engine, c.note));
                        by_engine.insert(engine, c.overall_updates_per_s);
                    }
                    Err(e) => r.line(&format!("| {n} | {engine} | failed: {e} | | | | | | | |")),
                }
            }
            if let (Some(a), Some(b)) = (by_engine.get("onesec"), by_engine.get("rsigma")) {
                notes.push(format!(
                    "{n} rules: onesec ÷ rsigma (overall) = **{:.2}×**; ÷ rsigma (Refs) = {:.2}×",
                    a / b,
                    a / by_engine.get("rsigma-refs").copied().unwrap_or(f64::NAN)
                ));
            }
        }
        r.line("");
        for n in notes {
            r.line(&format!("* {n}"));
        }
        r.line("");
    }
    r.line(&format!("Load average at the end: {}.", loadavg()));
}

/// The Markdown report, printed as it grows.
#[derive(Default)]
struct Report;

impl Report {
    fn line(&mut self, s: &str) {
        println!("{s}");
    }
}

fn examples(ids: &[&str], set: &RuleSet) -> String {
    ids.iter()
        .take(5)
        .map(|i| {
            let t = set.get(i).map(|r| r.meta.title.clone()).unwrap_or_default();
            format!("`{i}` {t}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every regression event (flattened), with its file.
fn regression_events(sigma: &Path) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    json_files(&sigma.join("regression_data"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for v in parse_json_stream(&text).unwrap_or_default() {
            out.push((f.clone(), flat::flatten_evtx(&v)));
        }
    }
    out
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Per regression event: the rules of the common set each engine fires; every difference is
/// reported. Then SigmaHQ's own check per case (`match_count` in `info.yml`) for both.
fn agreement(
    r: &mut Report,
    sigma: &Path,
    reg: &[(PathBuf, Value)],
    ones: &mut Engine,
    rs: &rsigma_eval::Engine,
    set: &RuleSet,
) {
    let mut same = 0;
    let mut total_ones = 0;
    let mut total_rs = 0;
    let mut diffs: Vec<(String, String, &'static str, PathBuf)> = Vec::new();
    let mut per_event: Vec<(BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    for (i, (file, v)) in reg.iter().enumerate() {
        let a: BTreeSet<String> = ones
            .process(i as u64, v)
            .into_iter()
            .filter_map(|o| match o {
                Output::Fired(a) => Some(a.rule_id),
                _ => None,
            })
            .collect();
        let b: BTreeSet<String> = rs
            .evaluate(&JsonEvent::borrow(v))
            .into_iter()
            .filter_map(|m| m.header.rule_id)
            .collect();
        total_ones += a.len();
        total_rs += b.len();
        for id in a.difference(&b) {
            diffs.push((id.clone(), title(set, id), "only onesec", file.clone()));
        }
        for id in b.difference(&a) {
            diffs.push((id.clone(), title(set, id), "only rsigma", file.clone()));
        }
        if a == b {
            same += 1;
        }
        per_event.push((a, b));
    }
    r.line("## Agreement on the SigmaHQ regression data (common rule set)");
    r.line("");
    r.line(&format!(
        "{} events; the two engines fire the same set of rules on **{} of them**; (rule, event) matches: onesec {}, rsigma {}; {} disagreements.",
        reg.len(),
        same,
        total_ones,
        total_rs,
        diffs.len()
    ));
    r.line("");
    let mut by_rule: BTreeMap<(String, String, &'static str), Vec<PathBuf>> = BTreeMap::new();
    for (id, t, side, f) in diffs {
        by_rule.entry((id, t, side)).or_default().push(f);
    }
    if !by_rule.is_empty() {
        r.line("| rule | fires | events | example event file |");
        r.line("|---|---|---:|---|");
        for ((id, t, side), files) in &by_rule {
            let f = files[0]
                .strip_prefix(sigma)
                .unwrap_or(&files[0])
                .display()
                .to_string();
            r.line(&format!(
                "| {t} (`{id}`) | {side} | {} | `{f}` |",
                files.len()
            ));
        }
        r.line("");
    }
    // SigmaHQ's check: for each case, the rule under test matches at least match_count events.
    let cases = read_cases(sigma);
    let mut ok = [0usize; 2];
    let mut failing: Vec<String> = Vec::new();
    let mut counted = 0;
    for (rule_id, json, expected) in &cases {
        let idx: Vec<usize> = reg
            .iter()
            .enumerate()
            .filter(|(_, (f, _))| f == json)
            .map(|(i, _)| i)
            .collect();
        if idx.is_empty() || set.get(rule_id).is_none() {
            continue;
        }
        counted += 1;
        let need = expected.unwrap_or(1);
        for (side, name) in [(0, "onesec"), (1, "rsigma")] {
            let n = idx
                .iter()
                .filter(|&&i| {
                    let (a, b) = &per_event[i];
                    if side == 0 {
                        a.contains(rule_id)
                    } else {
                        b.contains(rule_id)
                    }
                })
                .count();
            if n >= need {
                ok[side] += 1;
            } else {
                failing.push(format!(
                    "{name}: {} (`{rule_id}`) {n} of {need} expected matches in `{}`",
                    title(set, rule_id),
                    json.strip_prefix(sigma).unwrap_or(json).display()
                ));
            }
        }
    }
    r.line(&format!(
        "SigmaHQ's own regression check (the case's rule matches at least `match_count` of its events), on the {} cases whose rule is in the common set, with the whole common set loaded: onesec passes **{}**, rsigma **{}**.",
        counted, ok[0], ok[1]
    ));
    for f in failing.iter().take(10) {
        r.line(&format!("* {f}"));
    }
    r.line("");
}

/// Match counts on the generated stream: per rule, the two engines must agree.
fn stream_agreement(r: &mut Report, stream: &[Value], ones: &mut Engine, rs: &rsigma_eval::Engine) {
    let mut a: BTreeMap<String, u64> = BTreeMap::new();
    let mut b: BTreeMap<String, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, v) in stream.iter().enumerate() {
        out.clear();
        ones.process_into(i as u64, v, &mut out);
        for o in &out {
            if let Output::Fired(al) = o {
                *a.entry(al.rule_id.clone()).or_default() += 1;
            }
        }
        for m in rs.evaluate(&JsonEvent::borrow(v)) {
            *b.entry(m.header.rule_id.unwrap_or_default()).or_default() += 1;
        }
    }
    let rules: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differ: Vec<String> = rules
        .iter()
        .filter(|k| a.get(**k) != b.get(**k))
        .map(|k| {
            let t = ones
                .rules()
                .iter()
                .find(|r| r.meta.key() == k.as_str())
                .map(|r| r.meta.title.clone())
                .unwrap_or_default();
            format!(
                "{t} (`{k}`): onesec {}, rsigma {}",
                a.get(*k).copied().unwrap_or(0),
                b.get(*k).copied().unwrap_or(0)
            )
        })
        .collect();
    r.line(&format!(
        "Generated stream, common rule set: {} rules fire at least once; per-rule match counts differ for {} of them.",
        rules.len(),
        differ.len()
    ));
    for d in differ.iter().take(10) {
        r.line(&format!("* {d}"));
    }
    r.line("");
}

fn title(set: &RuleSet, id: &str) -> String {
    set.get(id)
        .map(|r| r.meta.title.clone())
        .unwrap_or_else(|| "?".into())
}

/// (rule id, JSON file, match_count) of every evtx regression case.
fn read_cases(sigma: &Path) -> Vec<(String, PathBuf, Option<usize>)> {
    let mut infos = Vec::new();
    find_info(&sigma.join("regression_data"), &mut infos);
    let mut out = Vec::new();
    for info in infos {
        let folder = info.parent().map(Path::to_path_buf).unwrap_or_default();
        let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(
            &std::fs::read_to_string(&info).unwrap_or_default(),
        ) else {
            continue;
        };
        let Some(id) = doc["rule_metadata"][0]["id"].as_str() else {
            continue;
        };
        let Some(tests) = doc["regression_tests_info"].as_sequence() else {
            continue;
        };
        for t in tests {
            if t["type"].as_str() != Some("evtx") {
                continue;
            }
            let json = t["path"]
                .as_str()
                .map(|p| sigma.join(p).with_extension("json"))
                .filter(|p| p.exists())
                .unwrap_or_else(|| folder.join(format!("{id}.json")));
            out.push((
                id.to_string(),
                json,
                t["match_count"].as_u64().map(|n| n as usize),
            ));
        }
    }
    out
}

fn find_info(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            find_info(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}

fn child(engine: &str, rules: usize, keys: usize) -> Result<corr::CorrResult, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", engine, &rules.to_string(), &keys.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_string());
    }
    serde_json::from_slice(out.stdout.trim_ascii()).map_err(|e| e.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn mem_total_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rustc() -> String {
    Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc ?".into())
}

fn now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
