//! SigmaHQ rules run on onesec's own events: each regression case's recorded Windows events are
//! decoded by `onesec-decode` (as any Windows JSON export would be), turned into `Event`s and
//! matched through the same `EventRecord` view the pipeline uses. The rule must match at least
//! the `match_count` its `info.yml` states (the semantics of SigmaHQ's own regression runner).

use onesec_decode::{DecodeContext, Format, decode_bytes};
use onesec_pipeline::EventRecord;
use onesec_sigma::{Engine, EngineConfig, LoadOptions, Output, RuleSet};
use std::path::Path;

struct Case {
    folder: String,
    rule_id: String,
    rule_file: String,
}

fn cases(sigma: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(sigma.join("regression_cases.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| Case {
            folder: r[0].to_string(),
            rule_id: r[1].to_string(),
            rule_file: r[3].to_string(),
        })
        .collect()
}

fn expected_matches(info: &Path) -> Option<usize> {
    let doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(info).ok()?).ok()?;
    let tests = doc["regression_tests_info"].as_sequence()?;
    tests.iter().find(|t| t["type"].as_str() == Some("evtx"))?["match_count"]
        .as_u64()
        .map(|n| n as usize)
}

#[test]
fn sigmahq_regression_cases_match_decoded_onesec_events() {
    let Some(sigma) = onesec_testdata::shared("data/sigma") else {
        return;
    };
    let ctx = DecodeContext::new("test", 0);
    let (mut checked, mut failures) = (0, Vec::new());
    for case in cases(&sigma) {
        let folder = sigma.join(&case.folder);
        let json = folder.join(format!("{}.json", case.rule_id));
        let (Some(expected), Ok(bytes)) = (
            expected_matches(&folder.join("info.yml")),
            std::fs::read(&json),
        ) else {
            continue;
        };
        let rule_text = std::fs::read_to_string(sigma.join(&case.rule_file)).unwrap();
        let (rules, report) = RuleSet::from_yaml_str(&rule_text, &LoadOptions::default());
        assert!(
            report.rejected.is_empty(),
            "{}: {:?}",
            case.rule_file,
            report.rejected
        );
        let decoded = decode_bytes(&Format::WindowsJson, &bytes, &ctx);
        assert!(
            decoded.errors.is_empty(),
            "{}: {:?}",
            json.display(),
            decoded.errors
        );
        let mut engine = Engine::new(rules, EngineConfig::default());
        let mut matches = 0;
        for (i, event) in decoded.events.iter().enumerate() {
            let outputs = engine.process(i as u64 + 1, &EventRecord(event));
            matches += outputs
                .iter()
                .filter(|o| matches!(o, Output::Fired(_)))
                .count();
        }
        checked += 1;
        if matches < expected {
            failures.push(format!(
                "{}: {matches} match(es), expected at least {expected}",
                case.rule_file
            ));
        }
    }
    println!(
        "{checked} regression cases checked on decoded events, {} short",
        failures.len()
    );
    assert!(checked > 100, "only {checked} cases found");
    assert!(
        failures.is_empty(),
        "rules that miss on decoded events:\n{}",
        failures.join("\n")
    );
}
