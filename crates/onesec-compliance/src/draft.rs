//! Notification drafts: each stage's required contents, filled from the incident, edited by
//! people, exported as JSON or text. A field a person edited keeps its value when the draft
//! is filled again from newer incident data.

use crate::clock::{Mark, Stage, local_string, parse_timezone};
use onesec_incident::{Alert, AlertStatus, Case, Category, Incident};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// What the draft is filled from besides the mark: the incident and what people did.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// Its case (category, acknowledgement, resolution).
    pub case: Option<&'a Case>,
    /// Its alerts.
    pub alerts: &'a [Alert],
    /// Measures taken, one line each (response actions, state changes), oldest first.
    pub measures: &'a [String],
    /// The data protection officer's contact (`[compliance] dpo_contact`).
    pub dpo_contact: Option<&'a str>,
}

/// Where a field's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldSource {
    /// Derived from the incident data: check it before sending.
    Incident,
    /// Written by a person.
    Edited,
    /// Nothing to fill it from: a person must write it.
    Missing,
}

/// One field of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftField {
    /// Key (`suspected_malicious`).
    pub key: String,
    /// What the authority asks, in our words.
    pub label: String,
    /// The text (empty when missing).
    pub value: String,
    /// Where it came from.
    pub source: FieldSource,
    /// Who edited it last, when a person did.
    #[serde(default)]
    pub edited_by: Option<String>,
}

/// A draft of one report of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The incident.
    pub incident_id: String,
    /// Which report.
    pub stage: Stage,
    /// The fields, in the order the report asks for them.
    pub fields: Vec<DraftField>,
    /// Last change (UTC ms).
    pub updated_ms: i64,
    /// Who changed it last (`onesec` when filled from the incident).
    pub updated_by: String,
}

/// A refused edit.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The stage's report has no such field.
    #[error("draft {stage} of incident {incident} has no field {key:?} (fields: {known})")]
    UnknownField {
        /// Stage name.
        stage: &'static str,
        /// Incident id.
        incident: String,
        /// The key given.
        key: String,
        /// The keys it has.
        known: String,
    },
}

/// The fields each stage requires, as (key, label).
fn required_fields(stage: Stage) -> &'static [(&'static str, &'static str)] {
    const SUMMARY: (&str, &str) = (
        "summary",
        "What happened, where and when (first and last event)",
    );
    const AWARE: (&str, &str) = ("aware_at", "When the organisation became aware");
    const MALICIOUS: (&str, &str) = (
        "suspected_malicious",
        "Suspected to be caused by unlawful or malicious acts?",
    );
    const CROSS: (&str, &str) = ("cross_border", "Could it have a cross-border impact?");
    match stage {
        Stage::Nis2EarlyWarning => &[SUMMARY, AWARE, MALICIOUS, CROSS],
        Stage::Nis2Notification => &[
            SUMMARY,
            AWARE,
            MALICIOUS,
            CROSS,
            ("severity_impact", "Initial assessment: severity and impact"),
            ("indicators", "Indicators of compromise, where available"),
        ],
        Stage::Nis2ProgressReport => &[
            SUMMARY,
            ("status", "Where the handling stands"),
            ("measures", "Measures taken so far"),
        ],
        Stage::Nis2FinalReport => &[
            (
                "description",
                "Detailed description, including severity and impact",
            ),
            (
                "root_cause",
                "Type of threat or root cause that likely triggered it",
            ),
            ("measures", "Mitigation measures applied and ongoing"),
            CROSS,
        ],
        Stage::GdprNotification => &[
            ("nature", "Nature of the breach"),
            (
                "subject_categories",
                "Categories and approximate number of people concerned",
            ),
            (
                "record_categories",
                "Categories and approximate number of personal data records concerned",
            ),
            (
                "dpo_contact",
                "Name and contact of the data protection officer or other contact point",
            ),
            ("consequences", "Likely consequences of the breach"),
            (
                "measures",
                "Measures taken or proposed, including to mitigate adverse effects",
            ),
        ],
    }
}

impl Draft {
    /// A draft of `stage` filled from the incident.
    pub fn fill(stage: Stage, mark: &Mark, facts: &Facts<'_>, now_ms: i64) -> Draft {
        let fields = required_fields(stage)
            .iter()
            .map(|(key, label)| {
                let value = derive(key, mark, facts);
                DraftField {
                    key: key.to_string(),
                    label: label.to_string(),
                    source: if value.is_empty() {
                        FieldSource::Missing
                    } else {
                        FieldSource::Incident
                    },
                    value,
                    edited_by: None,
                }
            })
            .collect();
        Draft {
            incident_id: facts.incident.id.clone(),
            stage,
            fields,
            updated_ms: now_ms,
            updated_by: "onesec".to_string(),
        }
    }

    /// The draft filled again from newer incident data, keeping what people wrote.
    pub fn refill(&self, mark: &Mark, facts: &Facts<'_>, now_ms: i64) -> Draft {
        let mut fresh = Draft::fill(self.stage, mark, facts, now_ms);
        for field in &mut fresh.fields {
            if let Some(mine) = self
                .fields
                .iter()
                .find(|f| f.key == field.key && f.source == FieldSource::Edited)
            {
                *field = mine.clone();
            }
        }
        fresh.updated_ms = self.updated_ms;
        fresh.updated_by = self.updated_by.clone();
        fresh
    }

    /// A person sets a field.
    pub fn edit(
        &mut self,
        key: &str,
        value: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), DraftError> {
        let Some(field) = self.fields.iter_mut().find(|f| f.key == key) else {
            return Err(DraftError::UnknownField {
                stage: self.stage.as_str(),
                incident: self.incident_id.clone(),
                key: key.to_string(),
                known: self
                    .fields
                    .iter()
                    .map(|f| f.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        field.value = value.to_string();
        field.source = if value.trim().is_empty() {
            FieldSource::Missing
        } else {
            FieldSource::Edited
        };
        field.edited_by = Some(by.to_string());
        self.updated_ms = now_ms;
        self.updated_by = by.to_string();
        Ok(())
    }

    /// Keys of the fields still empty.
    pub fn missing(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.source == FieldSource::Missing)
            .map(|f| f.key.as_str())
            .collect()
    }

    /// The value of a field.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    /// The draft as plain text, to paste into an authority's form or mail.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\nIncident: {}\n\n", self.stage.label(), self.incident_id);
        for field in &self.fields {
            let value = if field.value.is_empty() {
                "(to be completed)"
            } else {
                &field.value
            };
            out.push_str(&format!("{}\n{}\n\n", field.label, value));
        }
        out
    }

    /// SHA-256 (hex) of the draft's JSON: names exactly what was submitted.
    pub fn sha256(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// The value of one field from the mark and the incident; empty when nothing says it.
fn derive(key: &str, mark: &Mark, facts: &Facts<'_>) -> String {
    let incident = facts.incident;
    let active: Vec<&Alert> = facts
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Active)
        .collect();
    match key {
        "summary" | "nature" | "description" => summary(mark, facts, key == "description"),
        "aware_at" => parse_timezone(&mark.timezone)
            .map(|tz| local_string(mark.aware_ms, tz))
            .unwrap_or_default(),
        "suspected_malicious" => suspected_malicious(facts, &active),
        "cross_border" => match mark.cross_border {
            Some(true) => "Yes".to_string(),
            Some(false) => "No cross-border impact identified".to_string(),
            None => String::new(),
        },
        "severity_impact" => severity_impact(incident, facts.case),
        "indicators" => indicators(incident),
        "status" => format!(
            "Incident {} is {}",
            incident.id,
            incident.state.as_str().replace('_', " ")
        ),
        "measures" => facts.measures.join("\n"),
        "root_cause" => root_cause(&active),
        "subject_categories" => {
            let people = incident.entities.persons.len();
            if people == 0 {
                String::new()
            } else {
                format!(
                    "At least {people} person(s) named in the incident (employees or visitors in the directory): {}",
                    join(&incident.entities.persons)
                )
            }
        }
        "dpo_contact" => facts.dpo_contact.unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(mark: &Mark, facts: &Facts<'_>, detailed: bool) -> String {
    let incident = facts.incident;
    let tz = parse_timezone(&mark.timezone).ok();
    let when = |ms: i64| {
        tz.map(|tz| local_string(ms, tz))
            .unwrap_or_else(|| ms.to_string())
    };
    let mut text = format!(
        "{} ({} incident, {}), first event {}, last event {}",
        incident.title,
        incident.domain.as_str(),
        incident.id,
        when(incident.first_ms),
        when(incident.last_ms)
    );
    if !incident.entities.sites.is_empty() {
        text.push_str(&format!("; sites: {}", join(&incident.entities.sites)));
    }
    if !incident.entities.zones.is_empty() {
        text.push_str(&format!("; zones: {}", join(&incident.entities.zones)));
    }
    if detailed {
        for alert in facts
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Active)
        {
            text.push_str(&format!(
                "\n- {} (severity {})",
                alert.title,
                severity_name(alert.severity)
            ));
        }
        text.push_str(&format!("\n{}", severity_impact(incident, facts.case)));
    }
    text
}

fn suspected_malicious(facts: &Facts<'_>, active: &[&Alert]) -> String {
    use onesec_event::Severity;
    let category = facts.case.map(|c| c.category).unwrap_or_default();
    let hostile = matches!(
        category,
        Category::Intrusion
            | Category::UnauthorizedAccess
            | Category::AccountCompromise
            | Category::Malware
            | Category::DeviceTampering
    );
    let severe: Vec<&str> = active
        .iter()
        .filter(|a| a.severity >= Severity::High)
        .map(|a| a.title.as_str())
        .collect();
    match (category, hostile, severe.is_empty()) {
        (Category::FalseAlarm, _, _) => "No: classified as a false alarm".to_string(),
        (_, true, _) => format!("Yes: classified as {}", category.as_str().replace('_', " ")),
        (_, false, false) => format!(
            "Suspected: high-severity detections ({})",
            severe.join("; ")
        ),
        _ => String::new(),
    }
}

fn severity_impact(incident: &Incident, case: Option<&Case>) -> String {
    let e = &incident.entities;
    let priority = case
        .map(|c| format!("priority {}", c.priority.get()))
        .unwrap_or_else(|| "priority not set".to_string());
    format!(
        "Severity {}, {priority}; {} alert(s); affected: {} person(s), {} device(s), {} host(s), {} site(s), {} zone(s)",
        severity_name(incident.priority),
        incident.active_alerts,
        e.persons.len(),
        e.devices.len(),
        e.hosts.len(),
        e.sites.len(),
        e.zones.len()
    )
}

fn severity_name(severity: onesec_event::Severity) -> String {
    format!("{severity:?}").to_lowercase()
}

fn indicators(incident: &Incident) -> String {
    let e = &incident.entities;
    let lists = [
        ("source addresses", &e.src_ips),
        ("hosts", &e.hosts),
        ("devices", &e.devices),
        ("accounts", &e.accounts),
        ("badges", &e.badges),
        ("doors", &e.portals),
    ];
    lists
        .iter()
        .filter(|(_, set)| !set.is_empty())
        .map(|(name, set)| format!("{name}: {}", join(set)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn root_cause(active: &[&Alert]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for alert in active {
        let line = if alert.description.trim().is_empty() {
            format!("Detected: {}", alert.title)
        } else {
            format!("Detected: {} — {}", alert.title, alert.description.trim())
        };
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.push("(from the detections; confirm the root cause before sending)".to_string());
    lines.join("\n")
}
