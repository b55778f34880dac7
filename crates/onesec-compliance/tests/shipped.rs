//! The shipped rule pack and hybrid playbook carry controls, and every control they name is
//! in the catalogue.

use onesec_compliance::mapping::{check_mappings, playbook_mappings, rule_mapping};
use onesec_compliance::{Catalogue, Mapping};

fn shipped_playbook() -> Vec<Mapping> {
    let playbook = onesec_playbook::builtin::hybrid_intrusion().expect("shipped playbook loads");
    let value = serde_json::to_value(&playbook).expect("playbook as JSON");
    playbook_mappings(&value)
}

/// Each rule document's mapping, and whether it is a building block.
fn shipped_rules() -> Vec<(Mapping, bool)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/converged");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("rules/converged") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("rule file");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).expect("yaml");
            let tags: Vec<String> = value["tags"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            let id = value["name"]
                .as_str()
                .or(value["title"].as_str())
                .unwrap_or_default();
            let building_block = tags.iter().any(|t| t == "onesec.building_block");
            out.push((
                rule_mapping(id, value["title"].as_str().unwrap_or_default(), &tags),
                building_block,
            ));
        }
    }
    out
}

#[test]
fn the_hybrid_playbook_steps_name_their_controls() {
    let steps = shipped_playbook();
    let badge = steps
        .iter()
        .find(|m| m.title.ends_with("Suspend badge"))
        .unwrap_or_else(|| panic!("{steps:?}"));
    assert!(badge.controls.contains(&"iso27001.7.2".to_string()));
    let authority = steps
        .iter()
        .find(|m| m.title.ends_with("Notify authority"))
        .expect("notify authority");
    assert!(authority.controls.contains(&"nis2.23".to_string()));
}

#[test]
fn every_alerting_rule_and_every_named_control_is_in_the_catalogue() {
    let catalogue = Catalogue::builtin();
    let rules = shipped_rules();
    // A rule file may hold helper documents without a title; building blocks serve controls
    // through the correlations that use them.
    let untagged: Vec<&str> = rules
        .iter()
        .filter(|(m, bb)| !bb && !m.title.is_empty() && m.controls.is_empty())
        .map(|(m, _)| m.id.as_str())
        .collect();
    assert!(
        untagged.is_empty(),
        "alerting rules without a control: {untagged:?}"
    );
    let mut all: Vec<Mapping> = rules.into_iter().map(|(m, _)| m).collect();
    all.extend(shipped_playbook());
    all.extend(check_mappings());
    for mapping in &all {
        assert!(mapping.unrecognised.is_empty(), "{mapping:?}");
        for id in &mapping.controls {
            assert!(
                catalogue.get(id).is_some(),
                "{} names {id}, not in compliance/controls.toml",
                mapping.id
            );
        }
    }
}
