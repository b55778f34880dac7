//! Who looked at a person's data: the data protection officer's question, answered from the
//! audit log (docs/privacy.md, "Access to personal data").
//!
//! Every personal-data lookup leaves an entry: `privacy.lookup` (a person's timeline, an
//! incident's context, export or report, with the persons it showed), `privacy.export` (a data
//! subject export) and `export.ocsf` (every stored event, so everyone's). This module reads
//! entries as JSON and knows nothing of the log's framing or signatures.

use serde::Serialize;
use serde_json::Value;

/// The audit action of a personal-data lookup.
pub const AUDIT_LOOKUP: &str = "privacy.lookup";

/// One look at a person's data, as the audit log recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    /// When (UTC ms).
    pub time_ms: i64,
    /// Who (`token:NAME`, a user, `cli:LOGIN`).
    pub actor: String,
    /// The audit action.
    pub action: String,
    /// What was looked at (`person_timeline`, `incident_context`, `incident_export`,
    /// `subject_export`, `all_events_export`).
    pub kind: String,
    /// The entry's target (the person, or the incident that named them).
    pub target: String,
    /// The reason the operator gave (empty: none).
    pub reason: String,
}

/// The accesses to `person`'s data among `entries` (audit entries as JSON), oldest first,
/// within `from_ms..=to_ms` when given.
pub fn accesses_of(
    entries: &[Vec<u8>],
    person: &str,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> Vec<Access> {
    accesses_of_any(entries, &[person], from_ms, to_ms)
}

/// The accesses to the data of a person known under any of `names` (their directory id and,
/// with `[privacy.pseudonymisation]`, their pseudonym, which entries written in that mode
/// name), oldest first, within `from_ms..=to_ms` when given.
pub fn accesses_of_any(
    entries: &[Vec<u8>],
    names: &[&str],
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> Vec<Access> {
    entries
        .iter()
        .filter_map(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .filter(|entry| {
            let time = entry["time_ms"].as_i64().unwrap_or(0);
            from_ms.is_none_or(|f| time >= f) && to_ms.is_none_or(|t| time <= t)
        })
        .filter_map(|entry| names.iter().find_map(|name| access_to(&entry, name)))
        .collect()
}

fn access_to(entry: &Value, person: &str) -> Option<Access> {
    let action = entry["action"].as_str()?;
    let target = entry["target"].as_str().unwrap_or_default();
    let detail = &entry["detail"];
    let names = |key: &str| {
        detail[key]
            .as_array()
            .is_some_and(|list| list.iter().any(|p| p.as_str() == Some(person)))
    };
    let kind = match action {
        AUDIT_LOOKUP if target == person || names("persons") => {
            detail["kind"].as_str().unwrap_or("lookup").to_string()
        }
        crate::AUDIT_EXPORT if target == person => "subject_export".to_string(),
        "export.ocsf" => "all_events_export".to_string(),
        _ => return None,
    };
    Some(Access {
        time_ms: entry["time_ms"].as_i64().unwrap_or(0),
        actor: entry["actor"].as_str().unwrap_or_default().to_string(),
        action: action.to_string(),
        kind,
        target: target.to_string(),
        reason: detail["reason"].as_str().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: i64, action: &str, target: &str, detail: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "time_ms": time, "actor": "token:dpo", "action": action, "target": target,
            "detail": detail,
        }))
        .unwrap()
    }

    #[test]
    fn lookups_naming_the_person_in_the_period_are_found() {
        let entries = vec![
            entry(
                10,
                AUDIT_LOOKUP,
                "n002",
                serde_json::json!({"kind": "person_timeline", "reason": "case 4"}),
            ),
            entry(
                20,
                AUDIT_LOOKUP,
                "inc-1",
                serde_json::json!({"kind": "incident_context", "persons": ["n001", "n002"]}),
            ),
            entry(
                30,
                AUDIT_LOOKUP,
                "inc-2",
                serde_json::json!({"kind": "incident_context", "persons": ["n001"]}),
            ),
            entry(
                40,
                crate::AUDIT_EXPORT,
                "n002",
                serde_json::json!({"reason": "SAR"}),
            ),
            entry(50, "export.ocsf", "stdout", serde_json::json!({})),
            entry(60, "incident.state", "inc-1", serde_json::json!({})),
            entry(
                70,
                AUDIT_LOOKUP,
                "n002",
                serde_json::json!({"kind": "person_timeline"}),
            ),
        ];
        let found = accesses_of(&entries, "n002", Some(10), Some(60));
        let kinds: Vec<&str> = found.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "person_timeline",
                "incident_context",
                "subject_export",
                "all_events_export"
            ]
        );
        assert_eq!(found[0].reason, "case 4");
        assert_eq!(
            accesses_of(&entries, "n003", None, None).len(),
            1,
            "only the bulk export"
        );
    }
}
