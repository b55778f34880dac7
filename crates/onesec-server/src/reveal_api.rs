//! Who an incident's pseudonyms stand for (docs/privacy.md, "Pseudonymisation"): with
//! `[privacy.pseudonymisation]` on, stored events, alerts and incidents name people only by
//! pseudonyms; a caller with `reveal_identities` may turn those of one incident it sees back
//! into people, giving a reason, and each reveal is an `identity_reveal` lookup in the audit
//! log. The reverse map is the pipeline's, in memory, from the directory in use.

use crate::api::{ApiError, bad_request};
use crate::playbook_api::visible_incident;
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use onesec_auth::Principal;
use onesec_directory::{Directory, PseudonymTable};
use onesec_incident::Entities;
use onesec_pipeline::Pipeline;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The lookup kind of a reveal in the audit log.
pub(crate) const REVEAL_LOOKUP: &str = "identity_reveal";

/// `?reason=`.
#[derive(Deserialize)]
pub(crate) struct RevealQuery {
    reason: Option<String>,
}

/// `GET /api/v1/incidents/{id}/identities?reason=`: every pseudonym the incident names
/// (persons, accounts, badges) with the person behind it; pseudonyms of identifiers the
/// directory does not list are returned as `unresolved`.
pub(crate) async fn get_identities(
    State(pipeline): State<Arc<Pipeline>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<RevealQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reason = crate::access::reason(&headers, query.reason.as_deref());
    if reason.is_empty() {
        return Err(bad_request(
            "revealing identities needs a reason: ?reason= or the X-Onesec-Reason header",
        ));
    }
    let Some(table) = pipeline.pseudonym_table() else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "pseudonymisation is off ([privacy.pseudonymisation]): incidents already name people by their directory ids".into(),
        ));
    };
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let (identities, unresolved) = reveal(&table, &pipeline.directory(), &incident.entities);
    let lookup = crate::access::Lookup {
        kind: REVEAL_LOOKUP,
        target: &incident.id,
        // Pseudonyms, as the incident names them: the audit log stays free of clear ids, and
        // the DPO's "who looked at this person" finds the entry through the person's pseudonym.
        persons: incident.entities.persons.iter().cloned().collect(),
        reason: &reason,
        via: "api",
        events: 0,
    };
    crate::access::record(&pipeline, &principal.name, lookup);
    Ok(Json(json!({
        "incident": incident.id,
        "identities": identities,
        "unresolved": unresolved,
    }))
    .into_response())
}

/// The identities behind the incident's pseudonyms, and the pseudonyms the table cannot
/// resolve (identifiers the directory does not list).
fn reveal(
    table: &PseudonymTable,
    directory: &Directory,
    entities: &Entities,
) -> (Vec<Value>, Vec<String>) {
    let mut identities = Vec::new();
    let mut unresolved = Vec::new();
    let named = entities
        .persons
        .iter()
        .chain(&entities.accounts)
        .chain(&entities.badges);
    for pseudonym in named {
        match table.reveal(pseudonym) {
            Some(identity) => {
                let person = directory.person(&identity.person_id);
                identities.push(json!({
                    "pseudonym": pseudonym,
                    "kind": identity.kind,
                    "value": identity.value,
                    "person": identity.person_id,
                    "name": identity.person_name,
                    "status": person.map(|p| p.status.as_str()),
                    "department": person.map(|p| p.department.as_str()),
                }));
            }
            None => unresolved.push(pseudonym.clone()),
        }
    }
    (identities, unresolved)
}
