//! Working incidents (`docs/api.md`, "Working an incident" and "Playbooks"): the life cycle,
//! assignment, classification and comments, playbook runs and team tasks. Everything is done
//! by [`onesec_pipeline::response::Responses`] (which keeps it in the store and audits it);
//! these handlers check who asks and what they may see.

use crate::api::{ApiError, internal, sees, with_store};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::{Principal, Role};
use onesec_incident::{Incident, IncidentState};
use onesec_pipeline::Pipeline;
use onesec_pipeline::response::{ResponseError, Responses};
use onesec_playbook::Team;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type AppState = Arc<Pipeline>;

pub(crate) fn response_error(error: ResponseError) -> ApiError {
    let status = match &error {
        ResponseError::UnknownIncident(_)
        | ResponseError::UnknownTask(_)
        | ResponseError::UnknownEvidence(_)
        | ResponseError::NoRun(_) => StatusCode::NOT_FOUND,
        ResponseError::TaskClosed(_) | ResponseError::State(_) => StatusCode::CONFLICT,
        ResponseError::UnknownPlaybook(..) | ResponseError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => return internal(error),
    };
    ApiError(status, error.to_string())
}

/// Runs a response call off the async threads (it reads the store and may call connectors).
async fn respond<T: Send + 'static>(
    pipeline: &AppState,
    call: impl FnOnce(&Responses) -> Result<T, ResponseError> + Send + 'static,
) -> Result<T, ApiError> {
    let pipeline = pipeline.clone();
    tokio::task::spawn_blocking(move || call(pipeline.responses()))
        .await
        .map_err(internal)?
        .map_err(response_error)
}

/// The incident, if it exists and the caller sees it; 404 otherwise.
pub(crate) async fn visible_incident(
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

/// `GET /api/v1/incidents/{id}/playbook`: the run, its steps, tasks, actions and log (404 when
/// the incident has none: a GET never starts one).
pub(crate) async fn get_playbook(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let view = respond(&pipeline, move |r| r.run_view(&incident.id)).await?;
    Ok(Json(view).into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct StartRequest {
    /// A playbook id or name; the selected one when absent.
    #[serde(default)]
    playbook: Option<String>,
}

/// `POST /api/v1/incidents/{id}/playbook` `{"playbook": ...}`: starts the run if the incident
/// has none (201), else answers with the run it has (200).
pub(crate) async fn post_playbook(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<Json<StartRequest>>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let playbook = body.map(|Json(b)| b).unwrap_or_default().playbook;
    let by = principal.name.clone();
    let (view, started) = respond(&pipeline, move |r| {
        r.start(&incident.id, playbook.as_deref(), &by)
    })
    .await?;
    let status = if started {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TasksQuery {
    team: Option<String>,
    /// Decided, timed-out and cancelled tasks too.
    #[serde(default)]
    all: bool,
}

fn parse_team(name: &str) -> Result<Team, ApiError> {
    Team::from_name(name).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("unknown team {name:?} (it_soc, physical_security, compliance, management)"),
        )
    })
}

/// `GET /api/v1/tasks?team=&all=`: tasks of the runs of incidents the caller sees.
pub(crate) async fn get_tasks(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<TasksQuery>,
) -> Result<Response, ApiError> {
    let team = match q.team.as_deref() {
        None | Some("") => None,
        Some(name) => Some(parse_team(name)?),
    };
    let mut tasks = respond(&pipeline, move |r| r.tasks(team, q.all)).await?;
    tasks.retain(|t| principal.sees_any_site(t.sites.iter().map(String::as_str)));
    Ok(Json(tasks).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Decision {
    #[serde(default)]
    comment: String,
}

/// The teams whose tasks a role decides.
pub(crate) fn decides_for(role: Role, team: Team) -> bool {
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
async fn decide(
    pipeline: AppState,
    principal: Principal,
    task_id: String,
    approve: bool,
    comment: String,
) -> Result<Response, ApiError> {
    let view = respond(&pipeline, move |r| {
        let (team, sites) = r.task_owner(&task_id)?;
        if !principal.sees_any_site(sites.iter().map(String::as_str)) {
            return Err(ResponseError::UnknownTask(task_id));
        }
        if !decides_for(principal.role, team) {
            return Ok(Err(format!(
                "role {} does not decide tasks of team {team}",
                principal.role.as_str()
            )));
        }
        r.decide(&task_id, approve, &principal.name, &comment)
            .map(Ok)
    })
    .await?
    .map_err(|reason| ApiError(StatusCode::FORBIDDEN, reason))?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/tasks/{task_id}/approve` with `{"comment": ...}`.
pub(crate) async fn post_approve(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(task_id): Path<String>,
    Json(decision): Json<Decision>,
) -> Result<Response, ApiError> {
    decide(pipeline, principal, task_id, true, decision.comment).await
}

/// `POST /api/v1/tasks/{task_id}/reject` with `{"comment": ...}`.
pub(crate) async fn post_reject(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(task_id): Path<String>,
    Json(decision): Json<Decision>,
) -> Result<Response, ApiError> {
    decide(pipeline, principal, task_id, false, decision.comment).await
}

#[derive(Deserialize)]
pub(crate) struct StateChange {
    state: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/state` with `{"state": "on_hold", "comment": ...}`.
pub(crate) async fn post_state(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(change): Json<StateChange>,
) -> Result<Response, ApiError> {
    let state = IncidentState::parse(&change.state)
        .filter(|s| IncidentState::HUMAN.contains(s))
        .ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown state {:?} (new, acknowledged, in_progress, on_hold, resolved, closed)",
                    change.state
                ),
            )
        })?;
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let by = principal.name.clone();
    let (incident, case) = respond(&pipeline, move |r| {
        r.change_state(&incident.id, state, &by, &change.comment)
    })
    .await?;
    pipeline.incident_state_changed(&incident.id, incident.state);
    let mut body = serde_json::to_value(&incident).map_err(internal)?;
    body["case"] = serde_json::to_value(&case).map_err(internal)?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct Note {
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/ack` `{"comment": ...}`: acknowledges; the caller becomes the
/// assignee if there is none.
pub(crate) async fn post_ack(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<Json<Note>>,
) -> Result<Response, ApiError> {
    let comment = body.map(|Json(n)| n.comment).unwrap_or_default();
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let by = principal.name.clone();
    let (incident, case) = respond(&pipeline, move |r| {
        r.acknowledge(&incident.id, &by, &comment)
    })
    .await?;
    pipeline.incident_state_changed(&incident.id, incident.state);
    let mut body = serde_json::to_value(&incident).map_err(internal)?;
    body["case"] = serde_json::to_value(&case).map_err(internal)?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Assignment {
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/assign` `{"team", "assignee", "comment"}`.
pub(crate) async fn post_assign(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(a): Json<Assignment>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let by = principal.name.clone();
    let case = respond(&pipeline, move |r| {
        r.assign(
            &incident.id,
            a.team.as_deref(),
            a.assignee.as_deref(),
            &by,
            &a.comment,
        )
    })
    .await?;
    Ok(Json(case).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Classification {
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/classify` `{"priority": 1-5, "category", "comment"}`.
pub(crate) async fn post_classify(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(c): Json<Classification>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let by = principal.name.clone();
    let case = respond(&pipeline, move |r| {
        r.classify(
            &incident.id,
            c.priority,
            c.category.as_deref(),
            &by,
            &c.comment,
        )
    })
    .await?;
    Ok(Json(case).into_response())
}

/// `POST /api/v1/incidents/{id}/comment` `{"comment"}`: a note in the incident's history.
pub(crate) async fn post_comment(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(note): Json<Note>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let by = principal.name.clone();
    let entry = respond(&pipeline, move |r| {
        r.comment(&incident.id, &by, &note.comment)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

/// The case and history of an incident for `GET /api/v1/incidents/{id}` (`null`s when the
/// case cannot be read, so the incident itself still shows).
pub(crate) async fn case_of(pipeline: &AppState, id: String) -> serde_json::Value {
    match respond(pipeline, move |r| r.case(&id)).await {
        Ok((case, history)) => json!({ "case": case, "history": history }),
        Err(error) => {
            tracing::warn!(error = %error.1, "case not available");
            json!({ "case": null, "history": null })
        }
    }
}
