//! `/api/v1/audit/...`: inclusion proofs and the current signed checkpoint
//! (format: docs/audit-format.md).

use crate::api::{ApiError, internal};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_audit::AuditError;
use onesec_auth::Principal;
use onesec_pipeline::{Audit, Pipeline};
use serde_json::json;
use std::sync::Arc;

fn audit_of(pipeline: &Pipeline) -> Result<Arc<Audit>, ApiError> {
    pipeline.audit().cloned().ok_or_else(|| {
        let reason = "the audit log is disabled ([audit] enabled = false)";
        ApiError(StatusCode::NOT_FOUND, reason.into())
    })
}

fn audit_error(error: AuditError) -> ApiError {
    match error {
        AuditError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
        other => internal(other),
    }
}

/// `GET /api/v1/audit/proof/{event_id}`: the event's journal payload, its path to its batch's
/// `events_root`, and the batch entry's inclusion proof under a signed checkpoint.
pub(crate) async fn get_proof(
    State(pipeline): State<Arc<Pipeline>>,
    Extension(principal): Extension<Principal>,
    Path(event_id): Path<u64>,
) -> Result<Response, ApiError> {
    // A proof carries the event itself; callers limited to some sites do not get them.
    if !principal.sites.is_empty() {
        let reason = "proofs are for callers not limited to sites";
        return Err(ApiError(StatusCode::FORBIDDEN, reason.into()));
    }
    let audit = audit_of(&pipeline)?;
    let proof =
        tokio::task::spawn_blocking(move || audit.prove_event(pipeline.journal(), event_id))
            .await
            .map_err(internal)?
            .map_err(audit_error)?;
    Ok(Json(proof).into_response())
}

/// `GET /api/v1/audit/checkpoint`: signs a checkpoint if entries were added since the last one
/// and returns it with the public key.
pub(crate) async fn get_checkpoint(
    State(pipeline): State<Arc<Pipeline>>,
) -> Result<Response, ApiError> {
    let audit = audit_of(&pipeline)?;
    let (checkpoint, public_key) = tokio::task::spawn_blocking(move || {
        audit.checkpoint().map(|c| (c, audit.public_key_hex()))
    })
    .await
    .map_err(internal)?
    .map_err(audit_error)?;
    Ok(Json(json!({ "checkpoint": checkpoint, "public_key": public_key })).into_response())
}
