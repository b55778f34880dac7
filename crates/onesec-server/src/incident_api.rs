//! Casework on incidents (`docs/incidents.md`, `docs/api.md` "Casework"): merge and split by
//! hand, evidence (files and event references), the context attached to an incident (cameras
//! watching its zones, its doors' recent history, its people's badge and login events, its
//! devices' posture) and the export: the signed bundle with its audit proofs, and the report.

use crate::api::{ApiError, bad_request, incident_detail, internal, timeline_entry, with_store};
use crate::devices_api::Devices;
use crate::playbook_api::{response_error, visible_incident};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use onesec_auth::Principal;
use onesec_event::{Event, EventClass};
use onesec_incident::{GroupError, Incident};
use onesec_pipeline::response::ResponseError;
use onesec_pipeline::{Pipeline, RegroupError, export};
use onesec_store::{EventFilter, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type AppState = Arc<Pipeline>;

/// How far back the context looks before the incident's first event.
const CONTEXT_BEFORE_MS: i64 = 24 * 3600 * 1000;
/// And after its last one.
const CONTEXT_AFTER_MS: i64 = 3600 * 1000;
/// Events shown per door and per person and kind.
const CONTEXT_EVENTS: usize = 50;

fn regroup_error(error: RegroupError) -> ApiError {
    let status = match &error {
        RegroupError::Group(GroupError::UnknownIncident(_)) => StatusCode::NOT_FOUND,
        RegroupError::Group(GroupError::NotOpen { .. } | GroupError::Exists(_)) => {
            StatusCode::CONFLICT
        }
        RegroupError::Group(_) => StatusCode::BAD_REQUEST,
        RegroupError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        RegroupError::Store(_) | RegroupError::Response(_) => return internal(error),
    };
    ApiError(status, error.to_string())
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call).await.map_err(internal)?
}

#[derive(Deserialize)]
pub(crate) struct MergeRequest {
    into: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/merge` `{"into", "comment"}`: this incident joins `into`.
pub(crate) async fn post_merge(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(request): Json<MergeRequest>,
) -> Result<Response, ApiError> {
    let from = visible_incident(&pipeline, &principal, id).await?;
    let into = visible_incident(&pipeline, &principal, request.into).await?;
    let p = pipeline.clone();
    let incidents = blocking(move || {
        p.merge_incidents(&from.id, &into.id, &principal.name, &request.comment)
            .map_err(regroup_error)
    })
    .await?;
    Ok(Json(json!({ "incidents": incidents })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct SplitRequest {
    alerts: Vec<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/incidents/{id}/split` `{"alerts": [...], "comment"}`: those alerts leave
/// for a new incident (201, the new incident last).
pub(crate) async fn post_split(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(request): Json<SplitRequest>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let p = pipeline.clone();
    let incidents = blocking(move || {
        p.split_incident(
            &incident.id,
            &request.alerts,
            &principal.name,
            &request.comment,
        )
        .map_err(regroup_error)
    })
    .await?;
    let created = incidents.last().cloned();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "incident": created, "incidents": incidents })),
    )
        .into_response())
}

/// `GET /api/v1/incidents/{id}/evidence`: files and event references, oldest first.
pub(crate) async fn get_evidence(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let items = with_store(&pipeline, move |s| s.evidence(&incident.id)).await?;
    Ok(Json(items).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AttachQuery {
    /// The file's name (a file upload).
    name: Option<String>,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
struct EventReference {
    event_id: u64,
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/incidents/{id}/evidence`: a JSON body `{"event_id", "note"}` references a
/// stored event; any other body is a file, named by `?name=` (`&note=`), typed by its
/// `Content-Type`. 201 with the evidence item.
pub(crate) async fn post_evidence(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<AttachQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_json = media_type
        .as_deref()
        .is_some_and(|m| m.starts_with("application/json"));
    let p = pipeline.clone();
    let by = principal.name.clone();
    let item = if is_json {
        let reference: EventReference = serde_json::from_slice(&body)
            .map_err(|e| bad_request(format!("expected {{\"event_id\", \"note\"}}: {e}")))?;
        blocking(move || {
            p.responses()
                .attach_event(&incident.id, reference.event_id, &reference.note, &by)
                .map_err(response_error)
        })
        .await?
    } else {
        let name = query
            .name
            .ok_or_else(|| bad_request("name the file: ?name=<file name>"))?;
        blocking(move || {
            p.responses()
                .attach_file(
                    &incident.id,
                    &name,
                    media_type.as_deref(),
                    &body,
                    &query.note,
                    &by,
                )
                .map_err(response_error)
        })
        .await?
    };
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// `GET /api/v1/incidents/{id}/evidence/{seq}`: an attached file, as it was attached.
pub(crate) async fn get_evidence_file(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, seq)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let incident = visible_incident(&pipeline, &principal, id).await?;
    let p = pipeline.clone();
    let (item, data) = blocking(move || {
        p.responses()
            .evidence_file(&incident.id, seq)
            .map_err(response_error)
    })
    .await?;
    if item.kind != "file" {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "evidence {seq} is a reference to event {}, not a file",
                item.event_id.unwrap_or(0)
            ),
        ));
    }
    let disposition = format!("attachment; filename=\"{}\"", item.name);
    let mut response = data.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(Ok(value)) = item.sha256.as_deref().map(HeaderValue::from_str) {
        headers.insert("x-onesec-sha256", value);
    }
    Ok(response)
}

/// Events of `filter` the caller may see, newest `CONTEXT_EVENTS` of those `keep` selects.
fn recent(
    s: &mut dyn Store,
    filter: EventFilter,
    principal: &Principal,
    keep: impl Fn(&Event) -> bool,
) -> Result<Vec<Value>, StoreError> {
    let events = s.events(&filter)?;
    let mut chosen: Vec<Value> = events
        .iter()
        .filter(|e| principal.sees_site(e.resolved.site.as_deref()))
        .filter(|e| keep(e))
        .map(timeline_entry)
        .collect();
    let skip = chosen.len().saturating_sub(CONTEXT_EVENTS);
    chosen.drain(..skip);
    Ok(chosen)
}

/// What onesec knows around an incident: cameras that watch its zones, the recent history of
/// its doors, its people's recent badge and login events, its devices' posture.
pub(crate) fn context(
    devices: &Devices,
    incident: &Incident,
    principal: &Principal,
) -> Result<Value, StoreError> {
    let pipeline = devices.pipeline();
    let directory = pipeline.directory();
    let entities = &incident.entities;
    let from_ms = incident.first_ms - CONTEXT_BEFORE_MS;
    let to_ms = incident.last_ms + CONTEXT_AFTER_MS;
    let window = |person: Option<&str>, site: Option<&str>| EventFilter {
        person: person.map(str::to_string),
        site: site.map(str::to_string),
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        after_id: None,
        limit: Some(20_000),
    };
    let mut cameras: Vec<Value> = Vec::new();
    for zone in &entities.zones {
        for camera in directory.cameras_watching(zone) {
            if principal.sees_site(Some(&camera.site))
                && !cameras.iter().any(|c| c["id"] == camera.id.as_str())
            {
                cameras.push(json!({
                    "id": camera.id, "name": camera.name, "site": camera.site,
                    "watches": camera.watches,
                }));
            }
        }
    }
    pipeline
        .read_store(|s| {
            let mut doors = Vec::new();
            for portal in &entities.portals {
                let known = directory.portal(portal);
                let site = known.map(|p| p.site.as_str());
                if site.is_some_and(|s| !principal.sees_site(Some(s))) {
                    continue;
                }
                let events = recent(s, window(None, site), principal, |e| {
                    e.physical
                        .portal
                        .as_deref()
                        .or(e.resolved.portal.as_deref())
                        == Some(portal.as_str())
                })?;
                doors.push(json!({
                    "portal": portal,
                    "name": known.map(|p| p.name.as_str()),
                    "zone": known.map(|p| p.zone.as_str()),
                    "site": site,
                    "events": events,
                }));
            }
            let mut persons = Vec::new();
            for id in &entities.persons {
                let known = directory.person(id);
                let filter = window(Some(id), None);
                let badge = recent(s, filter.clone(), principal, |e| {
                    e.class == EventClass::PhysicalAccess
                })?;
                let login = recent(s, filter, principal, |e| {
                    e.class == EventClass::Authentication
                })?;
                persons.push(json!({
                    "person": id,
                    "name": known.map(|p| p.name.as_str()),
                    "status": known.map(|p| p.status.as_str()),
                    "department": known.map(|p| p.department.as_str()),
                    "badge_events": badge,
                    "login_events": login,
                }));
            }
            Ok(json!({
                "from_ms": from_ms,
                "to_ms": to_ms,
                "cameras": cameras,
                "doors": doors,
                "persons": persons,
            }))
        })
        .map(|mut context| {
            // Outside the store lock: the posture reads the device sightings from the store.
            let postures: Vec<Value> = entities
                .devices
                .iter()
                .map(|id| {
                    devices
                        .posture(id)
                        .unwrap_or_else(|| json!({ "device": id, "score": null, "findings": [] }))
                })
                .collect();
            context["devices"] = Value::Array(postures);
            context
        })
}

/// `?reason=` of the routes that show an incident's people's events.
#[derive(Deserialize, Default)]
pub(crate) struct ReasonQuery {
    reason: Option<String>,
}

/// Records that `incident`'s people's events were shown (`privacy.lookup`).
fn record_lookup(
    devices: &Devices,
    actor: &str,
    incident: &Incident,
    kind: &str,
    reason: &str,
    events: usize,
) {
    let lookup = crate::access::Lookup {
        kind,
        target: &incident.id,
        persons: incident.entities.persons.iter().cloned().collect(),
        reason,
        via: "api",
        events,
    };
    crate::access::record(devices.pipeline(), actor, lookup);
}

/// Events a context document lists (doors' and people's).
pub(crate) fn context_events(context: &Value) -> usize {
    ["doors", "persons"]
        .iter()
        .flat_map(|key| context[key].as_array().into_iter().flatten())
        .flat_map(|group| {
            group
                .as_object()
                .into_iter()
                .flat_map(|o| o.values())
                .filter_map(Value::as_array)
        })
        .map(Vec::len)
        .sum()
}

/// `GET /api/v1/incidents/{id}/context`.
pub(crate) async fn get_context(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<ReasonQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reason = crate::access::reason(&headers, query.reason.as_deref());
    crate::access::require(devices.pipeline(), "incident_context", &reason)?;
    let incident = visible_incident(devices.pipeline(), &principal, id).await?;
    let context = blocking(move || {
        let context = context(&devices, &incident, &principal).map_err(internal)?;
        let shown = context_events(&context);
        record_lookup(
            &devices,
            &principal.name,
            &incident,
            "incident_context",
            &reason,
            shown,
        );
        Ok(context)
    })
    .await?;
    Ok(Json(context).into_response())
}

/// The exported document: detail, case and history, context, evidence (files inline), the
/// run, and the audit proofs of its events and of the audit entries about it.
fn document(devices: &Devices, id: &str, principal: &Principal) -> Result<Value, ApiError> {
    let pipeline = devices.pipeline();
    let store_error = |e: StoreError| match e {
        StoreError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
        other => internal(other),
    };
    let mut doc = pipeline
        .read_store(|s| incident_detail(s, id, principal))
        .map_err(store_error)?;
    let incident: Incident = serde_json::from_value(doc["incident"].clone()).map_err(internal)?;
    let responses = pipeline.responses();
    let (case, history) = responses.case(id).map_err(response_error)?;
    doc["case"] = serde_json::to_value(case).map_err(internal)?;
    doc["history"] = serde_json::to_value(history).map_err(internal)?;
    doc["context"] = context(devices, &incident, principal).map_err(internal)?;
    doc["playbook"] = match responses.run_view(id) {
        Ok(view) => serde_json::to_value(view).map_err(internal)?,
        Err(ResponseError::NoRun(_)) => Value::Null,
        Err(other) => return Err(internal(other)),
    };
    let items = responses.evidence(id).map_err(response_error)?;
    let mut evidence = Vec::new();
    let mut referenced = Vec::new();
    for item in items {
        let mut value = serde_json::to_value(&item).map_err(internal)?;
        if item.kind == "file" {
            let (_, data) = responses
                .evidence_file(id, item.seq)
                .map_err(response_error)?;
            value["content_base64"] = base64::engine::general_purpose::STANDARD
                .encode(data)
                .into();
        }
        referenced.extend(item.event_id);
        evidence.push(value);
    }
    doc["evidence"] = evidence.into();
    let referenced = pipeline
        .read_store(|s| s.events_by_ids(&referenced))
        .map_err(store_error)?;
    doc["evidence_events"] = referenced.iter().map(timeline_entry).collect();
    let mut event_ids: Vec<u64> = doc["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(doc["evidence_events"].as_array().into_iter().flatten())
        .filter_map(|t| t["id"].as_u64())
        .collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    doc["proofs"] = match pipeline.audit() {
        Some(audit) => {
            let task_prefix = format!("{id}:");
            let proofs = audit
                .incident_proofs(pipeline.journal(), &event_ids, |entry| {
                    entry.target == id || entry.target.starts_with(&task_prefix)
                })
                .map_err(internal)?;
            serde_json::to_value(proofs).map_err(internal)?
        }
        None => Value::Null,
    };
    doc["format"] = export::BUNDLE_FORMAT.into();
    doc["exported_ms"] = responses.now_ms().into();
    doc["exported_by"] = principal.name.clone().into();
    Ok(doc)
}

/// `GET /api/v1/incidents/{id}/export`: the signed bundle (`docs/incidents.md`, "Export").
pub(crate) async fn get_export(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<ReasonQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reason = crate::access::reason(&headers, query.reason.as_deref());
    crate::access::require(devices.pipeline(), "incident_export", &reason)?;
    let incident = visible_incident(devices.pipeline(), &principal, id).await?;
    let Some(audit) = devices.pipeline().audit().cloned() else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "the audit log is disabled ([audit] enabled = false): nothing can sign the bundle; the report (…/report) is still available".into(),
        ));
    };
    let by = principal.name.clone();
    let bundle = blocking(move || {
        let doc = document(&devices, &incident.id, &principal)?;
        let shown = context_events(&doc["context"]);
        record_lookup(&devices, &by, &incident, "incident_export", &reason, shown);
        let key = audit.public_key_hex();
        let bundle = export::seal_bundle(doc, &key, |bytes| audit.sign_document(bytes));
        audit.record(
            &by,
            "incident.export",
            &incident.id,
            json!({ "signature": bundle["signature"] }),
        );
        Ok(bundle)
    })
    .await?;
    Ok(Json(bundle).into_response())
}

/// `GET /api/v1/incidents/{id}/report`: the HTML report (self-contained, no script).
pub(crate) async fn get_report(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<ReasonQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reason = crate::access::reason(&headers, query.reason.as_deref());
    crate::access::require(devices.pipeline(), "incident_export", &reason)?;
    let incident = visible_incident(devices.pipeline(), &principal, id).await?;
    let html = blocking(move || {
        let doc = document(&devices, &incident.id, &principal)?;
        let shown = context_events(&doc["context"]);
        record_lookup(
            &devices,
            &principal.name,
            &incident,
            "incident_export",
            &reason,
            shown,
        );
        if let Some(audit) = devices.pipeline().audit() {
            audit.record(&principal.name, "incident.report", &incident.id, json!({}));
        }
        Ok(export::render_report(&doc))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response())
}
