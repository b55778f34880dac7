//! Audit of personal-data lookups (docs/privacy.md, "Access to personal data"): each API read
//! that shows a person's events records a `privacy.lookup` entry with who, whom (the person, or
//! the incident and the persons it names), the kind of lookup and the reason given; the kinds
//! `[privacy.access] reason_required` lists are refused (400) without a reason.

use crate::api::{ApiError, bad_request};
use axum::http::HeaderMap;
use onesec_pipeline::Pipeline;
use onesec_privacy::access::AUDIT_LOOKUP;
use serde_json::json;

/// The header that carries the operator's reason (or `?reason=`).
pub(crate) const REASON_HEADER: &str = "x-onesec-reason";

/// The reason given by `?reason=` or the header (empty: none).
pub(crate) fn reason(headers: &HeaderMap, query: Option<&str>) -> String {
    let header = headers.get(REASON_HEADER).and_then(|v| v.to_str().ok());
    query
        .filter(|r| !r.trim().is_empty())
        .or(header)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Refuses a lookup of `kind` without a reason when the configuration asks for one.
pub(crate) fn require(pipeline: &Pipeline, kind: &str, reason: &str) -> Result<(), ApiError> {
    if reason.is_empty() && pipeline.config().privacy.access.needs_reason(kind) {
        return Err(bad_request(format!(
            "a {kind} lookup needs a reason: ?reason= or the X-Onesec-Reason header ([privacy.access] reason_required)"
        )));
    }
    Ok(())
}

/// What one lookup showed and why.
pub(crate) struct Lookup<'a> {
    /// `person_timeline`, `incident_context`, `incident_export`.
    pub kind: &'a str,
    /// The person, or the incident.
    pub target: &'a str,
    /// The persons whose data it showed.
    pub persons: Vec<String>,
    /// The reason given (empty: none).
    pub reason: &'a str,
    /// `api` or `console`.
    pub via: &'a str,
    /// Events shown.
    pub events: usize,
}

/// Records a lookup in the audit log (nothing when the audit log is off).
pub(crate) fn record(pipeline: &Pipeline, actor: &str, lookup: Lookup<'_>) {
    let Some(audit) = pipeline.audit() else {
        return;
    };
    let detail = json!({
        "kind": lookup.kind,
        "persons": lookup.persons,
        "reason": lookup.reason,
        "via": lookup.via,
        "events": lookup.events,
    });
    audit.record(actor, AUDIT_LOOKUP, lookup.target, detail);
}
