//! Any bytes as a rule file: loading must never panic; every rejected document must say where
//! (line and column) and why; whatever loads must run on a few records without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use onesec_sigma::{Engine, EngineConfig, LoadOptions, RuleSet};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yml");
    let (rules, report) = RuleSet::from_sources(&[(Some(path), text)], &LoadOptions::default());
    assert_eq!(rules.len(), report.loaded.len());
    for r in &report.rejected {
        assert!(!r.reason.is_empty(), "a rejection without a reason");
        assert!(
            r.line.is_some() && r.column.is_some(),
            "rejection not located: {r:?}"
        );
    }
    if rules.is_empty() {
        return;
    }
    let mut engine = Engine::new(rules, EngineConfig::default());
    let records = [
        serde_json::json!({}),
        serde_json::json!({"EventID": 1, "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami", "time_ms": 1_000}),
        serde_json::json!({"EventID": "4625", "IpAddress": "10.0.0.1", "time_ms": 2_000}),
    ];
    for (i, r) in records.iter().enumerate() {
        let _ = engine.process(i as u64, r);
    }
    let _ = engine.flush();
});
