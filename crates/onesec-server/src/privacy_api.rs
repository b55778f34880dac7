//! Privacy by design over HTTP (docs/privacy.md, docs/api.md "Privacy"): legal holds on
//! incidents and retention runs, each audited by the pipeline with the caller as actor.
//! Every route needs `manage_privacy`; holds are placed only on incidents the caller sees.

use crate::api::{ApiError, bad_request, internal};
use crate::playbook_api::visible_incident;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::Principal;
use onesec_pipeline::Pipeline;
use onesec_pipeline::privacy::PrivacyError;
use onesec_privacy::holds::HoldError;
use serde::Deserialize;
use std::sync::Arc;

type AppState = Arc<Pipeline>;

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call).await.map_err(internal)?
}

fn privacy_error(error: PrivacyError) -> ApiError {
    let status = match &error {
        PrivacyError::Hold(HoldError::NoIncident(_) | HoldError::NotHeld(_)) => {
            StatusCode::NOT_FOUND
        }
        PrivacyError::Hold(HoldError::NoReason) => StatusCode::BAD_REQUEST,
        _ => return internal(error),
    };
    ApiError(status, error.to_string())
}

/// The body of a hold or a release.
#[derive(Deserialize)]
pub(crate) struct HoldRequest {
    /// Why (a case number, a request from counsel).
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/incidents/{id}/hold` `{"reason"}`: nothing the incident cites is deleted
/// until the hold is lifted (201 with the hold).
pub(crate) async fn post_hold(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(request): Json<HoldRequest>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let p = pipeline.clone();
    let hold = blocking(move || {
        p.privacy()
            .place_hold(
                &principal.name,
                &incident.id,
                &request.reason,
                onesec_pipeline::now_ms(),
            )
            .map_err(privacy_error)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(hold)).into_response())
}

/// `DELETE /api/v1/incidents/{id}/hold` `{"reason"}`: lifts the hold.
pub(crate) async fn delete_hold(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(request): Json<HoldRequest>,
) -> Result<Response, ApiError> {
    if request.reason.trim().is_empty() {
        return Err(bad_request("lifting a legal hold needs a reason"));
    }
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let p = pipeline.clone();
    let id = incident.id.clone();
    blocking(move || {
        p.privacy()
            .lift_hold(&principal.name, &id, request.reason.trim())
            .map_err(privacy_error)
    })
    .await?;
    Ok(Json(serde_json::json!({ "incident_id": incident.id, "held": false })).into_response())
}

/// `GET /api/v1/privacy/holds`: every legal hold on an incident the caller sees.
pub(crate) async fn get_holds(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let p = pipeline.clone();
    let holds = blocking(move || p.privacy().holds().map_err(privacy_error)).await?;
    let mut visible = Vec::new();
    for hold in holds {
        if visible_incident(&pipeline, &principal, hold.incident_id.clone())
            .await
            .is_ok()
        {
            visible.push(hold);
        }
    }
    Ok(Json(visible).into_response())
}

/// The body of a retention run.
#[derive(Deserialize, Default)]
pub(crate) struct RetentionRequest {
    /// Remove what expired (default: a dry run that only reports).
    #[serde(default)]
    apply: bool,
    /// Count periods back from this moment (RFC 3339) instead of now.
    #[serde(default)]
    as_of: Option<String>,
}

/// `POST /api/v1/privacy/retention` `{"apply", "as_of"}`: a retention run now (the report;
/// audited as `retention.removed` when it removed anything).
pub(crate) async fn post_retention(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<RetentionRequest>,
) -> Result<Response, ApiError> {
    let now_ms = match &request.as_of {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| bad_request(format!("as_of {text:?}: {e}")))?
            .timestamp_millis(),
        None => onesec_pipeline::now_ms(),
    };
    let p = pipeline.clone();
    let report = blocking(move || {
        p.privacy()
            .run_retention(&principal.name, now_ms, !request.apply)
            .map_err(privacy_error)
    })
    .await?;
    Ok(Json(report).into_response())
}

/// A caller limited to sites would see a person's data from sites it does not see: data
/// subject requests are for callers who see every site.
fn every_site(principal: &Principal) -> Result<(), ApiError> {
    if principal.sites.is_empty() {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::FORBIDDEN,
            "data subject requests need a caller that sees every site".into(),
        ))
    }
}

#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    /// Why the person's data is looked up; required, recorded in the audit log.
    #[serde(default)]
    reason: String,
    /// `json` (default) or `text`.
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/privacy/subjects/{person}?reason=&format=json|text`: everything held about a
/// person (their directory id); audited as `privacy.export`.
pub(crate) async fn get_subject(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(person): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ExportQuery>,
) -> Result<Response, ApiError> {
    every_site(&principal)?;
    if query.reason.trim().is_empty() {
        return Err(bad_request(
            "say why this person's data is looked up: ?reason=",
        ));
    }
    let text = match query.format.as_deref() {
        None | Some("json") => false,
        Some("text") => true,
        Some(other) => return Err(bad_request(format!("format {other:?}: json or text"))),
    };
    let record = pipeline
        .directory()
        .person(&person)
        .and_then(|p| serde_json::to_value(p).ok());
    let p = pipeline.clone();
    let export = blocking(move || {
        p.privacy()
            .export_subject(&principal.name, &person, record, query.reason.trim())
            .map_err(privacy_error)
    })
    .await?;
    if text {
        let body = onesec_privacy::subject::render_text(&export, |ms| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| ms.to_string())
        });
        return Ok(body.into_response());
    }
    Ok(Json(export).into_response())
}

#[derive(Deserialize)]
pub(crate) struct EraseRequest {
    /// The erasure request's reference; required.
    #[serde(default)]
    reason: String,
    /// Erase (default: a dry run that only reports).
    #[serde(default)]
    apply: bool,
}

/// `POST /api/v1/privacy/subjects/{person}/erase` `{"reason", "apply"}`: erases the person's
/// events except what a legal hold keeps; audited as `privacy.erase`.
pub(crate) async fn post_erase(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(person): Path<String>,
    Json(request): Json<EraseRequest>,
) -> Result<Response, ApiError> {
    every_site(&principal)?;
    if request.reason.trim().is_empty() {
        return Err(bad_request("give the erasure request's reference: reason"));
    }
    let p = pipeline.clone();
    let report = blocking(move || {
        p.privacy()
            .erase_subject(
                &principal.name,
                &person,
                request.reason.trim(),
                !request.apply,
            )
            .map_err(privacy_error)
    })
    .await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AccessQuery {
    /// The person's directory id.
    person: String,
    /// From (RFC 3339 or UTC ms), inclusive.
    from: Option<String>,
    /// To (RFC 3339 or UTC ms), inclusive.
    to: Option<String>,
}

fn time_param(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    onesec_event::parse_time_rfc3339(text)
        .map(Some)
        .ok_or_else(|| bad_request(format!("{name}={text:?}: expected RFC 3339 or UTC ms")))
}

/// `GET /api/v1/privacy/access?person=&from=&to=`: who looked at the person's data in the
/// period, from the audit log (lookups, exports, bulk exports), oldest first.
pub(crate) async fn get_access(
    State(pipeline): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<AccessQuery>,
) -> Result<Response, ApiError> {
    let from = time_param("from", query.from.as_deref())?;
    let to = time_param("to", query.to.as_deref())?;
    let Some(audit) = pipeline.audit().cloned() else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "the audit log is disabled ([audit] enabled = false): no access is recorded".into(),
        ));
    };
    let accesses = blocking(move || {
        let contents = onesec_audit::read_contents(&audit.dir()).map_err(internal)?;
        // Entries written with pseudonymisation on name the person by their pseudonym.
        let key = pipeline.privacy().subject_key(&query.person);
        Ok(onesec_privacy::access::accesses_of_any(
            &contents.entries,
            &[query.person.as_str(), key.as_str()],
            from,
            to,
        ))
    })
    .await?;
    Ok(Json(accesses).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RecordsQuery {
    /// `markdown` (default) or `json`.
    format: Option<String>,
}

/// The roles with a permission.
fn roles_with(permission: onesec_auth::Permission) -> Vec<String> {
    onesec_auth::Role::ALL
        .iter()
        .filter(|r| r.may(permission))
        .map(|r| r.as_str().to_string())
        .collect()
}

/// `GET /api/v1/privacy/records?format=markdown|json`: the record of processing (GDPR Art.
/// 30) from the configuration and directory in use.
pub(crate) async fn get_records(
    State(pipeline): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<RecordsQuery>,
) -> Result<Response, ApiError> {
    let config = pipeline.config();
    let directory = pipeline.directory();
    let facts = onesec_pipeline::privacy::processing_facts(
        config,
        config.directory.is_some().then_some(&*directory),
        roles_with(onesec_auth::Permission::ReadEvents),
        roles_with(onesec_auth::Permission::ReadIncidents),
    );
    let records =
        onesec_privacy::records::build(&facts, &config.privacy.retention, &config.privacy.access);
    match query.format.as_deref() {
        None | Some("markdown") => Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            onesec_privacy::records::render_markdown(&records),
        )
            .into_response()),
        Some("json") => Ok(Json(records).into_response()),
        Some(other) => Err(bad_request(format!("format {other:?}: markdown or json"))),
    }
}
