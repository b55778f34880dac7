//! The coverage view: for each control of the catalogue, what serves it (rules, checks,
//! steps, mechanisms) and what evidence a period holds (alerts, incidents, findings,
//! submissions, audit checkpoints), and which controls have none.

use crate::catalogue::{Catalogue, Control, canonical_id};
use crate::mapping::{Mapping, SourceKind, controls_of_tags};
use onesec_incident::{Alert, AlertStatus, Case, Incident};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// At most this many evidence items are listed per control (all are counted).
const LISTED_PER_CONTROL: usize = 50;

/// A time range, UTC milliseconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First millisecond.
    pub from_ms: i64,
    /// Last millisecond.
    pub to_ms: i64,
}

impl Period {
    /// Whether `at_ms` lies in it.
    pub fn contains(&self, at_ms: i64) -> bool {
        (self.from_ms..=self.to_ms).contains(&at_ms)
    }
}

/// What kind of record an evidence item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An alert of a rule mapped to the control.
    Alert,
    /// An incident holding such alerts, or assessed / resolved by people.
    Incident,
    /// A device hygiene finding of a check mapped to the control.
    Finding,
    /// A regulatory notification submitted.
    Submission,
    /// A signed checkpoint of the audit log.
    Checkpoint,
    /// Events recorded (journaled, audited, stored) on a day.
    Log,
}

/// One record that shows a control at work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceItem {
    /// Canonical control id.
    pub control: String,
    /// What it is.
    pub kind: EvidenceKind,
    /// Its id (alert id, incident id, `device/check`, checkpoint size).
    pub id: String,
    /// When (UTC ms): event time for alerts and incidents, check time for findings.
    pub at_ms: i64,
    /// One line for people.
    pub summary: String,
    /// Sites it concerns (empty: none known).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
}

/// Evidence from alerts: each active alert counts for the controls of its rule's current
/// mapping and of its own tags (the tags it fired with).
pub fn alert_evidence(alerts: &[Alert], rules: &[Mapping]) -> Vec<EvidenceItem> {
    let by_rule: BTreeMap<&str, &Mapping> = rules
        .iter()
        .filter(|m| m.kind == SourceKind::Rule)
        .map(|m| (m.id.as_str(), m))
        .collect();
    let mut out = Vec::new();
    for alert in alerts.iter().filter(|a| a.status == AlertStatus::Active) {
        let mut controls: BTreeSet<String> = controls_of_tags(&alert.tags).0.into_iter().collect();
        if let Some(mapping) = by_rule.get(alert.rule_id.as_str()) {
            controls.extend(mapping.controls.iter().cloned());
        }
        for control in controls {
            out.push(EvidenceItem {
                control,
                kind: EvidenceKind::Alert,
                id: alert.id.clone(),
                at_ms: alert.first_ms,
                summary: alert.title.clone(),
                sites: alert.entities.sites.iter().cloned().collect(),
            });
        }
    }
    out
}

/// Evidence from incidents: an incident counts for the controls its alerts' evidence names,
/// and, when people worked it, for assessing (acknowledged) and responding (resolved).
pub fn incident_evidence(
    incidents: &[(Incident, Option<Case>)],
    alert_items: &[EvidenceItem],
    alerts: &[Alert],
) -> Vec<EvidenceItem> {
    let incident_of: BTreeMap<&str, &str> = alerts
        .iter()
        .filter_map(|a| Some((a.id.as_str(), a.incident_id.as_deref()?)))
        .collect();
    let mut controls: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for item in alert_items {
        if let Some(incident) = incident_of.get(item.id.as_str()) {
            controls
                .entry(incident)
                .or_default()
                .insert(item.control.clone());
        }
    }
    let mut out = Vec::new();
    for (incident, case) in incidents {
        let mut mine = controls.remove(incident.id.as_str()).unwrap_or_default();
        if let Some(case) = case {
            if case.acknowledged.is_some() {
                mine.insert("iso27001.5.25".to_string());
                mine.insert("nis2.21.2.b".to_string());
            }
            if case.resolved_ms.is_some() {
                mine.insert("iso27001.5.26".to_string());
            }
        }
        for control in mine {
            out.push(EvidenceItem {
                control,
                kind: EvidenceKind::Incident,
                id: incident.id.clone(),
                at_ms: incident.first_ms,
                summary: format!("{} ({})", incident.title, incident.state.as_str()),
                sites: incident.entities.sites.iter().cloned().collect(),
            });
        }
    }
    out
}

/// Evidence from hygiene findings, dated `checked_ms` (when the checks ran).
pub fn finding_evidence(
    findings: &[onesec_hygiene::Finding],
    checked_ms: i64,
) -> Vec<EvidenceItem> {
    let mut out = Vec::new();
    for finding in findings {
        let controls: BTreeSet<String> = finding
            .controls
            .iter()
            .filter_map(crate::catalogue::hygiene_control_id)
            .collect();
        for control in controls {
            out.push(EvidenceItem {
                control,
                kind: EvidenceKind::Finding,
                id: format!("{}/{}", finding.device, finding.check),
                at_ms: checked_ms,
                summary: finding.title.clone(),
                sites: finding.site.iter().cloned().collect(),
            });
        }
    }
    out
}

/// Whether a control has evidence in the period, only mappings, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageStatus {
    /// Records in the period show it at work.
    Evidenced,
    /// Rules, checks or steps serve it, but the period holds no record of them.
    MappedNoEvidence,
    /// Nothing in onesec serves it.
    NotCovered,
}

/// One control's line of the coverage view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlCoverage {
    /// The control.
    pub control: Control,
    /// Where it stands.
    pub status: CoverageStatus,
    /// Rules that serve it.
    pub rules: Vec<String>,
    /// Device checks that serve it.
    pub checks: Vec<String>,
    /// Playbook steps that serve it.
    pub steps: Vec<String>,
    /// onesec mechanisms that serve it.
    pub platform: Vec<String>,
    /// Evidence items in the period, per kind.
    pub evidence_counts: BTreeMap<String, usize>,
    /// The first evidence items (by time), at most 50.
    pub evidence: Vec<EvidenceItem>,
}

/// The coverage view of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The period evidence was taken from.
    pub period: Period,
    /// One line per control asked for (every control of the catalogue by default).
    pub controls: Vec<ControlCoverage>,
    /// Controls with evidence / mapped without evidence / not covered.
    pub evidenced: usize,
    /// See `evidenced`.
    pub mapped_no_evidence: usize,
    /// See `evidenced`.
    pub not_covered: usize,
    /// Tags or names that look like controls but are not in the catalogue, with who gave
    /// them (`rule <id>: iso27001.9.9`).
    pub unrecognised: Vec<String>,
}

/// Builds the coverage view. `only` limits it to these controls (any spelling); `site`
/// keeps only evidence about that site.
pub fn coverage(
    catalogue: &Catalogue,
    mappings: &[Mapping],
    evidence: &[EvidenceItem],
    period: Period,
    only: &[String],
    site: Option<&str>,
) -> Coverage {
    let wanted: BTreeSet<String> = only.iter().filter_map(|c| canonical_id(c)).collect();
    let mut lines = Vec::new();
    for control in &catalogue.controls {
        if !wanted.is_empty() && !wanted.contains(&control.id) {
            continue;
        }
        lines.push(control_line(control, mappings, evidence, period, site));
    }
    let count = |s: CoverageStatus| lines.iter().filter(|l| l.status == s).count();
    let mut unrecognised = Vec::new();
    for mapping in mappings {
        for name in &mapping.unrecognised {
            unrecognised.push(format!("{:?} {}: {name}", mapping.kind, mapping.id).to_lowercase());
        }
        for id in &mapping.controls {
            if catalogue.get(id).is_none() {
                unrecognised
                    .push(format!("{:?} {}: {id}", mapping.kind, mapping.id).to_lowercase());
            }
        }
    }
    Coverage {
        period,
        evidenced: count(CoverageStatus::Evidenced),
        mapped_no_evidence: count(CoverageStatus::MappedNoEvidence),
        not_covered: count(CoverageStatus::NotCovered),
        controls: lines,
        unrecognised,
    }
}

fn control_line(
    control: &Control,
    mappings: &[Mapping],
    evidence: &[EvidenceItem],
    period: Period,
    site: Option<&str>,
) -> ControlCoverage {
    let serving = |kind: SourceKind| -> Vec<String> {
        mappings
            .iter()
            .filter(|m| m.kind == kind && m.controls.contains(&control.id))
            .map(|m| m.id.clone())
            .collect()
    };
    let mut items: Vec<EvidenceItem> = evidence
        .iter()
        .filter(|e| e.control == control.id && period.contains(e.at_ms))
        .filter(|e| site.is_none_or(|s| e.sites.iter().any(|x| x == s)))
        .cloned()
        .collect();
    items.sort_by(|a, b| (a.at_ms, &a.id).cmp(&(b.at_ms, &b.id)));
    let mut evidence_counts: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        let kind = serde_json::to_value(item.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *evidence_counts.entry(kind).or_default() += 1;
    }
    let (rules, checks, steps, platform) = (
        serving(SourceKind::Rule),
        serving(SourceKind::Check),
        serving(SourceKind::Step),
        serving(SourceKind::Platform),
    );
    let mapped =
        !(rules.is_empty() && checks.is_empty() && steps.is_empty() && platform.is_empty());
    let status = match (items.is_empty(), mapped) {
        (false, _) => CoverageStatus::Evidenced,
        (true, true) => CoverageStatus::MappedNoEvidence,
        (true, false) => CoverageStatus::NotCovered,
    };
    items.truncate(LISTED_PER_CONTROL);
    ControlCoverage {
        control: control.clone(),
        status,
        rules,
        checks,
        steps,
        platform,
        evidence_counts,
        evidence: items,
    }
}
