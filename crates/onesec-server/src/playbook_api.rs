//! Incident playbooks and their tasks (`docs/api.md`, "Playbooks"). The runs live in the
//! pipeline ([`onesec_pipeline::response`]); these handlers check who asks and audit decisions.

use crate::api::{ApiError, internal, sees, with_store};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::{Principal, Role};
use onesec_incident::Incident;
use onesec_pipeline::Pipeline;
use onesec_pipeline::response::{ResponseError, RunView};
use onesec_playbook::{Millis, Team};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type AppState = Arc<Pipeline>;

fn now() -> Millis {
    Millis::try_from(onesec_pipeline::now_ms()).unwrap_or(0)
}

fn response_error(error: ResponseError) -> ApiError {
    match error {
        ResponseError::UnknownTask(_) => ApiError(StatusCode::NOT_FOUND, error.to_string()),
        ResponseError::TaskClosed(_) => ApiError(StatusCode::CONFLICT, error.to_string()),
        other => internal(other),
    }
}

/// The incident, if it exists and the caller sees it; 404 otherwise.
async fn visible_incident(
    pipeline: &AppState,
    principal: &Principal,
    id: String,
) -> Result<Incident, ApiError> {
    let who = principal.clone();
    with_store(pipeline, move |s| {
        s.incident(&id)?
            .filter(|i| sees(&who, &i.entities))
            .ok_or_else(|| onesec_store::StoreError::NotFound(format!("no incident {id}")))
    })
    .await
}

/// The incident's run (started now if it had none), advanced to the wall clock.
async fn run_of(
    pipeline: &AppState,
    principal: &Principal,
    id: String,
) -> Result<RunView, ApiError> {
    let incident = visible_incident(pipeline, principal, id).await?;
    let (view, started) = pipeline
        .responses()
        .ensure(&incident, now())
        .map_err(response_error)?;
    if started && let Some(audit) = pipeline.audit() {
        let detail = json!({ "playbook": view.playbook_id, "connector": view.connector });
        audit.record(&principal.name, "playbook.start", &incident.id, detail);
    }
    Ok(view)
}

/// `GET /api/v1/incidents/{id}/playbook`: the run, its steps, tasks and log.
pub(crate) async fn get_playbook(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(run_of(&pipeline, &principal, id).await?).into_response())
}

/// `POST /api/v1/incidents/{id}/playbook`: starts the run if the incident has none.
pub(crate) async fn post_playbook(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(run_of(&pipeline, &principal, id).await?).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TasksQuery {
    team: Option<String>,
}

/// `GET /api/v1/tasks?team=`: open tasks of the runs of incidents the caller sees.
pub(crate) async fn get_tasks(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<TasksQuery>,
) -> Result<Response, ApiError> {
    let team = match q.team.as_deref() {
        None | Some("") => None,
        Some(name) => Some(Team::from_name(name).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown team {name:?} (it_soc, physical_security, compliance, management)"
                ),
            )
        })?),
    };
    let visible = |sites: &std::collections::BTreeSet<String>| {
        principal.sees_any_site(sites.iter().map(String::as_str))
    };
    let tasks = pipeline.responses().open_tasks(team, visible, now());
    Ok(Json(tasks).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Decision {
    #[serde(default)]
    comment: String,
}

/// The teams whose tasks a role decides.
fn decides_for(role: Role, team: Team) -> bool {
    match role {
        Role::Admin => true,
        Role::SocAnalyst => team == Team::ItSoc,
        Role::PhysicalOperator => team == Team::PhysicalSecurity,
        Role::ComplianceOfficer => team == Team::Compliance,
        Role::Manager => team == Team::Management,
        Role::Auditor | Role::Ingest => false,
    }
}

/// Approves or rejects a task the caller sees and whose team the caller's role works for.
fn decide(
    pipeline: &Pipeline,
    principal: &Principal,
    task_id: &str,
    approve: bool,
    comment: &str,
) -> Result<RunView, ApiError> {
    let responses = pipeline.responses();
    let (team, sites) = responses.task_owner(task_id).map_err(response_error)?;
    if !principal.sees_any_site(sites.iter().map(String::as_str)) {
        return Err(response_error(ResponseError::UnknownTask(task_id.into())));
    }
    if !decides_for(principal.role, team) {
        let reason = format!(
            "role {} does not decide tasks of team {team}",
            principal.role.as_str()
        );
        return Err(ApiError(StatusCode::FORBIDDEN, reason));
    }
    let view = responses
        .decide(task_id, approve, &principal.name, comment, now())
        .map_err(response_error)?;
    if let Some(audit) = pipeline.audit() {
        let action = if approve {
            "task.approve"
        } else {
            "task.reject"
        };
        let detail =
            json!({ "incident": view.incident_id, "team": team.key(), "comment": comment });
        audit.record(&principal.name, action, task_id, detail);
    }
    Ok(view)
}

/// `POST /api/v1/tasks/{task_id}/approve` with `{"comment": ...}`.
pub(crate) async fn post_approve(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(task_id): Path<String>,
    Json(decision): Json<Decision>,
) -> Result<Response, ApiError> {
    let view = decide(&pipeline, &principal, &task_id, true, &decision.comment)?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/tasks/{task_id}/reject` with `{"comment": ...}`.
pub(crate) async fn post_reject(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(task_id): Path<String>,
    Json(decision): Json<Decision>,
) -> Result<Response, ApiError> {
    let view = decide(&pipeline, &principal, &task_id, false, &decision.comment)?;
    Ok(Json(view).into_response())
}
