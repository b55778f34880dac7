//! Helpers shared by the behaviour tests: playbooks from `tests/data`, steps by name.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeMap;
use std::path::PathBuf;

use onesec_playbook::{LogKind, Playbook, Run};

pub fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn load(name: &str) -> Playbook {
    Playbook::from_json(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The id of the step called `name` (test playbooks name every step uniquely).
pub fn step_id(playbook: &Playbook, name: &str) -> String {
    let found: Vec<&String> = playbook
        .workflow
        .iter()
        .filter(|(_, s)| s.name.as_deref() == Some(name))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(found.len(), 1, "exactly one step named {name}");
    found[0].clone()
}

pub fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Names of the steps that completed, in log order (one playbook).
pub fn completed(run: &Run, playbook: &Playbook) -> Vec<String> {
    run.log()
        .iter()
        .filter(|e| e.kind == LogKind::StepCompleted && e.playbook == playbook.id)
        .filter_map(|e| e.step.as_ref())
        .filter_map(|id| playbook.workflow.get(id))
        .filter(|s| s.step_type == onesec_playbook::StepType::Action)
        .filter_map(|s| s.name.clone())
        .collect()
}
