//! What serves each control: rules (by their Sigma tags), device checks (by the controls the
//! hygiene crate gives each), playbook steps (by a `controls` list in their `step_extensions`)
//! and onesec's own mechanisms (the audit log, cases, regulatory clocks).

use crate::catalogue::{canonical_id, hygiene_control_id};
use serde::Serialize;
use serde_json::Value;

/// Which kind of thing serves a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A detection or correlation rule.
    Rule,
    /// A device hygiene check.
    Check,
    /// A playbook step.
    Step,
    /// A mechanism of onesec itself (the audit log, case handling, regulatory clocks).
    Platform,
}

/// One rule, check, step or mechanism and the controls it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// What it is.
    pub kind: SourceKind,
    /// Its id (rule id, check id, `playbook/step`, mechanism name).
    pub id: String,
    /// One line for people.
    pub title: String,
    /// Canonical ids of the catalogue's frameworks it serves.
    pub controls: Vec<String>,
    /// Names it gave that are not controls of the catalogue's frameworks but look like they
    /// meant to be (`iso27001.x`), so a typo in a tag shows up instead of vanishing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrecognised: Vec<String>,
}

/// The controls named by Sigma tags (other tags are ignored), in tag order, without repeats.
pub fn controls_of_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut controls = Vec::new();
    let mut unrecognised = Vec::new();
    for tag in tags {
        let lower = tag.to_ascii_lowercase();
        let ours = ["iso27001", "nis2", "gdpr"]
            .iter()
            .any(|p| lower.starts_with(p));
        match canonical_id(tag) {
            Some(id) if !controls.contains(&id) => controls.push(id),
            Some(_) => {}
            None if ours => unrecognised.push(tag.clone()),
            None => {}
        }
    }
    (controls, unrecognised)
}

/// The mapping of one rule from its id, title and tags.
pub fn rule_mapping(id: &str, title: &str, tags: &[String]) -> Mapping {
    let (controls, unrecognised) = controls_of_tags(tags);
    Mapping {
        kind: SourceKind::Rule,
        id: id.to_string(),
        title: title.to_string(),
        controls,
        unrecognised,
    }
}

/// The mappings of every rule of a loaded set (id as alerts carry it: `id`, else `name`,
/// else title).
pub fn rule_mappings(rules: &onesec_sigma::RuleSet) -> Vec<Mapping> {
    rules
        .rules()
        .iter()
        .map(|rule| {
            let meta = &rule.meta;
            let id = meta
                .id
                .clone()
                .or_else(|| meta.name.clone())
                .unwrap_or_else(|| meta.title.clone());
            rule_mapping(&id, &meta.title, &meta.tags)
        })
        .collect()
}

/// The mappings of every hygiene check (ISO/IEC 27001 controls; IEC 62443 ones are outside
/// the catalogue).
pub fn check_mappings() -> Vec<Mapping> {
    onesec_hygiene::checks::ALL
        .iter()
        .map(|check| {
            let mut controls: Vec<String> = Vec::new();
            for id in check.controls.iter().filter_map(hygiene_control_id) {
                if !controls.contains(&id) {
                    controls.push(id);
                }
            }
            Mapping {
                kind: SourceKind::Check,
                id: check.id.to_string(),
                title: check.title.to_string(),
                controls,
                unrecognised: Vec::new(),
            }
        })
        .collect()
}

/// The mappings of a CACAO playbook's steps: each step whose `step_extensions` hold an
/// object with a `controls` array of control names. Steps without one are left out.
pub fn playbook_mappings(playbook: &Value) -> Vec<Mapping> {
    let name = playbook
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("playbook");
    let Some(workflow) = playbook.get("workflow").and_then(Value::as_object) else {
        return Vec::new();
    };
    workflow
        .iter()
        .filter_map(|(step_id, step)| {
            let tags: Vec<String> = step
                .get("step_extensions")
                .and_then(Value::as_object)?
                .values()
                .filter_map(|ext| ext.get("controls").and_then(Value::as_array))
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect();
            if tags.is_empty() {
                return None;
            }
            let (controls, unrecognised) = controls_of_tags(&tags);
            let step_name = step.get("name").and_then(Value::as_str).unwrap_or(step_id);
            Some(Mapping {
                kind: SourceKind::Step,
                id: format!("{name}/{step_id}"),
                title: format!("{name}: {step_name}"),
                controls,
                unrecognised,
            })
        })
        .collect()
}

/// onesec's own mechanisms and the controls they serve: what they produce (checkpoints,
/// cases, submissions) is the evidence.
pub fn platform_mappings() -> Vec<Mapping> {
    let platform = |id: &str, title: &str, controls: &[&str]| Mapping {
        kind: SourceKind::Platform,
        id: id.to_string(),
        title: title.to_string(),
        controls: controls.iter().map(|c| c.to_string()).collect(),
        unrecognised: Vec::new(),
    };
    vec![
        platform(
            "audit-log",
            "Tamper-evident audit log with signed checkpoints",
            &["iso27001.8.15", "iso27001.5.28"],
        ),
        platform(
            "incident-cases",
            "Incidents assessed, acknowledged and resolved by people, with history",
            &["iso27001.5.25", "iso27001.5.26", "nis2.21.2.b"],
        ),
        platform(
            "regulatory-clocks",
            "NIS2 and GDPR notification clocks, drafts and audited submissions",
            &["nis2.23", "gdpr.33", "iso27001.5.5", "iso27001.6.8"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_give_controls_and_typos_are_kept_apart() {
        let tags = [
            "onesec.physical",
            "attack.t1078",
            "iso27001.7.2",
            "ISO27001.A.7.2",
            "nis2.21.2.b",
            "iso27001..x",
        ]
        .map(String::from);
        let (controls, unrecognised) = controls_of_tags(&tags);
        assert_eq!(controls, ["iso27001.7.2", "nis2.21.2.b"]);
        assert_eq!(unrecognised, ["iso27001..x"]);
    }

    #[test]
    fn hygiene_checks_carry_their_iso_controls() {
        let checks = check_mappings();
        let kev = checks
            .iter()
            .find(|m| m.id == "VULN-KEV")
            .expect("VULN-KEV");
        assert_eq!(kev.controls, ["iso27001.8.8"]);
        let seg = checks
            .iter()
            .find(|m| m.id == "SEG-OUTSIDE")
            .expect("SEG-OUTSIDE");
        assert_eq!(seg.controls, ["iso27001.8.22"]);
    }

    #[test]
    fn playbook_steps_with_controls_are_mapped() {
        let playbook = serde_json::json!({
            "name": "pb",
            "workflow": {
                "action--1": {"type": "action", "name": "Suspend badge",
                    "step_extensions": {"extension-definition--x": {"controls": ["iso27001.5.18", "iso27001.7.2"]}}},
                "end--1": {"type": "end"}
            }
        });
        let steps = playbook_mappings(&playbook);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].id, "pb/action--1");
        assert_eq!(steps[0].controls, ["iso27001.5.18", "iso27001.7.2"]);
    }
}
