//! Records of processing (GDPR Art. 30): what onesec stores, for what purpose, how long, who
//! can see it and where it goes, generated from the live configuration so it cannot drift from
//! what the installation does (`onesec privacy records`, docs/privacy.md).
//!
//! The caller gathers the [`Facts`] of its configuration (inputs, recipients, roles,
//! measures); this module states them per data category, with the periods
//! [`RetentionSettings`] gives, and renders Markdown and JSON.

use serde::Serialize;

use crate::policy::{AccessSettings, CATEGORIES, RetentionSettings};

/// What the configuration says, gathered by the caller.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The data protection officer's contact (`[compliance] dpo_contact`).
    pub dpo_contact: Option<String>,
    /// People in the directory in use, by employment state (`active`: 120...).
    pub people: Vec<(String, usize)>,
    /// Sites of the directory.
    pub sites: Vec<String>,
    /// Inputs that receive events (`syslog udp 0.0.0.0:514`, `mqtt mqtt://broker`...).
    pub inputs: Vec<String>,
    /// Roles that read events, and those that read incidents.
    pub roles_reading_events: Vec<String>,
    /// Roles that read incidents.
    pub roles_reading_incidents: Vec<String>,
    /// Where data leaves onesec (`connector soc-webhook: https://...`, `report monthly: folder`).
    pub recipients: Vec<String>,
    /// Technical and organisational measures, each with whether it is in place.
    pub measures: Vec<(String, bool)>,
}

/// One category of personal data as the record states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryRecord {
    /// Category name.
    pub category: String,
    /// What it says about a person.
    pub content: String,
    /// The event classes in it.
    pub classes: Vec<String>,
    /// How long it is kept: each rule that can apply, then the default.
    pub retention: Vec<String>,
}

/// The record of processing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Records {
    /// Name of the processing.
    pub processing: String,
    /// Its purposes.
    pub purposes: Vec<String>,
    /// Contact of the data protection officer.
    pub dpo_contact: String,
    /// Categories of data subjects.
    pub data_subjects: Vec<String>,
    /// Categories of personal data, with retention.
    pub categories: Vec<CategoryRecord>,
    /// What else is kept, and how long.
    pub other_data: Vec<String>,
    /// Where the data comes from.
    pub sources: Vec<String>,
    /// Who inside can see it.
    pub access: Vec<String>,
    /// Recipients outside onesec.
    pub recipients: Vec<String>,
    /// Transfers to third countries.
    pub transfers: String,
    /// Technical and organisational measures.
    pub measures: Vec<String>,
}

/// The record from the configuration's facts and its privacy settings.
pub fn build(facts: &Facts, retention: &RetentionSettings, access: &AccessSettings) -> Records {
    let people: Vec<String> = facts
        .people
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    let subjects = if people.is_empty() {
        "people whose badges, accounts or devices appear in the events (no directory configured)"
            .to_string()
    } else {
        format!(
            "employees and contractors in the directory ({}), across sites {}",
            people.join(", "),
            facts.sites.join(", ")
        )
    };
    let mut access_lines = vec![
        format!("events: roles {}", facts.roles_reading_events.join(", ")),
        format!(
            "incidents: roles {}",
            facts.roles_reading_incidents.join(", ")
        ),
    ];
    access_lines.push(if access.reason_required.is_empty() {
        "every lookup of a person's data is audited; a reason is required for data subject exports".into()
    } else {
        format!(
            "every lookup of a person's data is audited; a reason is required for {} and data subject exports",
            access.reason_required.join(", ")
        )
    });
    Records {
        processing: "onesec: converged physical and cyber security monitoring".into(),
        purposes: vec![
            "detect and investigate security incidents across buildings and IT (unauthorised access, intrusion, misuse of accounts)".into(),
            "respond to incidents and keep the evidence (playbooks, cases, signed exports)".into(),
            "meet notification duties (NIS2 Art. 23, GDPR Art. 33-34) and show controls to auditors".into(),
        ],
        dpo_contact: facts
            .dpo_contact
            .clone()
            .unwrap_or_else(|| "not configured ([compliance] dpo_contact)".into()),
        data_subjects: vec![subjects, "visitors and unknown persons seen by cameras or readers".into()],
        categories: CATEGORIES
            .iter()
            .map(|(name, classes, content)| CategoryRecord {
                category: name.to_string(),
                content: content.to_string(),
                classes: classes.iter().map(|c| c.as_str().to_string()).collect(),
                retention: retention_of(retention, name, classes),
            })
            .collect(),
        other_data: vec![
            format!(
                "incidents with their alerts, cases and history, evidence files, playbook runs and the events they cite: {}",
                match retention.incident_days {
                    Some(days) => format!(
                        "removed {days} days after their last activity once resolved or closed; open incidents are kept"
                    ),
                    None => "kept until removed by hand".into(),
                }
            ),
            format!(
                "device address and name history: {}",
                days_text(retention.device_history_days)
            ),
            "audit log (who did what, hashes of ingested data, no event content): kept for good, tamper-evident".into(),
            "legal holds suspend every deletion of what a held incident cites".into(),
        ],
        sources: facts.inputs.clone(),
        access: access_lines,
        recipients: if facts.recipients.is_empty() {
            vec!["none configured".into()]
        } else {
            facts.recipients.clone()
        },
        transfers: "none by onesec itself; check the recipients above".into(),
        measures: facts
            .measures
            .iter()
            .map(|(what, on)| format!("{what}: {}", if *on { "yes" } else { "no" }))
            .collect(),
    }
}

fn days_text(days: Option<u32>) -> String {
    match days {
        Some(d) => format!("{d} days"),
        None => "kept (no period set)".into(),
    }
}

/// The periods that can apply to a category: each rule naming it or its classes (with its
/// site), then rules naming neither, then the default.
fn retention_of(
    retention: &RetentionSettings,
    category: &str,
    classes: &[onesec_event::EventClass],
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, rule) in retention.rules.iter().enumerate() {
        let category_ok = rule.category.as_deref().is_none_or(|c| c == category);
        let class_ok = rule
            .class
            .as_deref()
            .is_none_or(|c| classes.iter().any(|k| k.as_str() == c));
        if !(category_ok && class_ok) {
            continue;
        }
        let scope = match (&rule.site, &rule.class) {
            (Some(site), Some(class)) => format!(" ({class} at site {site})"),
            (Some(site), None) => format!(" (site {site})"),
            (None, Some(class)) => format!(" ({class})"),
            (None, None) => String::new(),
        };
        out.push(format!("{} by rule {}{scope}", days_text(rule.days), i + 1));
        if rule.site.is_none() && rule.class.is_none() {
            // A rule for the whole category: nothing after it applies.
            return out;
        }
    }
    out.push(format!(
        "{} otherwise (default_days)",
        days_text(retention.default_days)
    ));
    out
}

/// The record as Markdown.
pub fn render_markdown(records: &Records) -> String {
    let list = |items: &[String]| -> String { items.iter().map(|i| format!("- {i}\n")).collect() };
    let mut out = format!(
        "# Record of processing activities (GDPR Art. 30)\n\n**Processing:** {}\n\n**Data protection officer:** {}\n\n## Purposes\n\n{}\n## Data subjects\n\n{}\n## Personal data and retention\n\n| category | content | event classes | kept |\n|---|---|---|---|\n",
        records.processing,
        records.dpo_contact,
        list(&records.purposes),
        list(&records.data_subjects),
    );
    for c in &records.categories {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.category,
            c.content,
            c.classes.join(", "),
            c.retention.join("; ")
        ));
    }
    out.push_str(&format!(
        "\n## Other data kept\n\n{}\n## Sources\n\n{}\n## Who can see it\n\n{}\n## Recipients\n\n{}\n## Transfers to third countries\n\n{}\n\n## Technical and organisational measures\n\n{}",
        list(&records.other_data),
        list(&records.sources),
        list(&records.access),
        list(&records.recipients),
        records.transfers,
        list(&records.measures),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_state_the_rules_that_can_apply_and_the_default() {
        let retention: RetentionSettings = toml::from_str(
            r#"
            default_days = 365
            device_history_days = 30
            [[rule]]
            category = "movements"
            site = "PAR"
            days = 30
            [[rule]]
            category = "movements"
            days = 90
            [[rule]]
            class = "video_analytics"
            days = 14
            "#,
        )
        .unwrap();
        let facts = Facts {
            dpo_contact: Some("dpo@example.org".into()),
            people: vec![("active".into(), 3), ("terminated".into(), 1)],
            sites: vec!["EDI".into()],
            recipients: vec!["connector soc: https://soc.example/hook".into()],
            ..Facts::default()
        };
        let records = build(&facts, &retention, &AccessSettings::default());
        let of = |name: &str| {
            records
                .categories
                .iter()
                .find(|c| c.category == name)
                .unwrap()
                .retention
                .clone()
        };
        assert_eq!(
            of("movements"),
            vec!["30 days by rule 1 (site PAR)", "90 days by rule 2"]
        );
        assert_eq!(
            of("video"),
            vec![
                "14 days by rule 3 (video_analytics)",
                "365 days otherwise (default_days)"
            ]
        );
        assert_eq!(of("logins"), vec!["365 days otherwise (default_days)"]);
        assert!(records.data_subjects[0].contains("3 active, 1 terminated"));
        let markdown = render_markdown(&records);
        assert!(markdown.contains("dpo@example.org"));
        assert!(markdown.contains("| movements |"));
        assert!(markdown.contains("https://soc.example/hook"));
        assert!(markdown.contains("device address and name history: 30 days"));
    }
}
