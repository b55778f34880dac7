//! The REST API (`/api/v1/...`), metrics and health. Documented in `docs/api.md`.

use crate::auth_api;
use crate::gate::{self, Gate};
use crate::incident_api;
use crate::playbook_api;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Extension;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use base64::Engine as _;
use onesec_auth::Principal;
use onesec_decode::Format;
use onesec_event::Event;
use onesec_pipeline::{Config, Pipeline};
use onesec_store::{EventFilter, IncidentFilter, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

type AppState = Arc<Pipeline>;

/// One route: method, path pattern and handler. The handler is mounted for exactly the method
/// named, so the list is what the router serves.
pub(crate) struct Route<S> {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    handler: MethodRouter<S>,
}

/// A route for `method` only.
pub(crate) fn at<S, H, T>(method: Method, path: &'static str, handler: H) -> Route<S>
where
    S: Clone + Send + Sync + 'static,
    H: Handler<T, S>,
    T: 'static,
{
    // The methods named below are all standard ones, which always have a filter.
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// The routes of the authentication state (`auth_api`).
fn auth_routes() -> Vec<Route<Arc<Gate>>> {
    vec![
        at(Method::POST, "/api/v1/auth/setup", auth_api::post_setup),
        at(Method::POST, "/api/v1/auth/login", auth_api::post_login),
        at(Method::POST, "/api/v1/auth/logout", auth_api::post_logout),
        at(Method::GET, "/api/v1/auth/whoami", auth_api::get_whoami),
        at(Method::GET, "/api/v1/users", auth_api::get_users),
        at(Method::POST, "/api/v1/users", auth_api::post_user),
        at(Method::POST, "/api/v1/tokens", auth_api::post_token),
        at(
            Method::DELETE,
            "/api/v1/tokens/{name}",
            auth_api::delete_token,
        ),
    ]
}

/// The device hygiene routes (`devices_api`).
fn device_routes() -> Vec<Route<Arc<crate::devices_api::Devices>>> {
    vec![
        at(
            Method::GET,
            "/api/v1/devices",
            crate::devices_api::get_devices,
        ),
        at(
            Method::GET,
            "/api/v1/devices/seen",
            crate::devices_api::get_seen,
        ),
        at(
            Method::GET,
            "/api/v1/devices/trend",
            crate::devices_api::get_trend,
        ),
        at(
            Method::GET,
            "/api/v1/devices/{id}",
            crate::devices_api::get_device,
        ),
        at(
            Method::GET,
            "/api/v1/devices/{id}/history",
            crate::devices_api::get_history,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/context",
            incident_api::get_context,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/export",
            incident_api::get_export,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/report",
            incident_api::get_report,
        ),
    ]
}

/// The compliance routes (`compliance_api`).
fn compliance_routes() -> Vec<Route<Arc<crate::compliance::Compliance>>> {
    use crate::compliance_api as c;
    vec![
        at(Method::GET, "/api/v1/compliance/controls", c::get_controls),
        at(Method::GET, "/api/v1/compliance/coverage", c::get_coverage),
        at(
            Method::GET,
            "/api/v1/compliance/deadlines",
            c::get_deadlines,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/regulatory",
            c::get_regulatory,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/regulatory",
            c::post_regulatory,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/regulatory/{stage}",
            c::get_draft,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/regulatory/{stage}",
            c::post_draft,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/regulatory/{stage}/submit",
            c::post_submit,
        ),
        at(Method::GET, "/api/v1/reports", c::get_report),
        at(Method::GET, "/api/v1/exercises", c::get_exercises),
        at(Method::POST, "/api/v1/exercises", c::post_exercise),
    ]
}

/// The routes on the pipeline: ingest, queries, working incidents, audit, metrics, health.
/// The pipeline's routes; `POST /api/v1/events` takes one of `ingest_slots` or is answered 503.
fn pipeline_routes(ingest_slots: Arc<tokio::sync::Semaphore>) -> Vec<Route<AppState>> {
    let mut ingest = at(Method::POST, "/api/v1/events", post_events);
    ingest.handler = ingest
        .handler
        .layer(axum::middleware::from_fn(move |request, next| {
            shed_ingest(ingest_slots.clone(), request, next)
        }));
    vec![
        ingest,
        at(Method::GET, "/api/v1/events", get_events),
        at(Method::GET, "/api/v1/events/late", get_late_events),
        at(Method::GET, "/api/v1/incidents", get_incidents),
        at(Method::GET, "/api/v1/incidents/{id}", get_incident),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/state",
            playbook_api::post_state,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/ack",
            playbook_api::post_ack,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/assign",
            playbook_api::post_assign,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/classify",
            playbook_api::post_classify,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/comment",
            playbook_api::post_comment,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/playbook",
            playbook_api::get_playbook,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/playbook",
            playbook_api::post_playbook,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/merge",
            incident_api::post_merge,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/split",
            incident_api::post_split,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/evidence",
            incident_api::get_evidence,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/evidence",
            incident_api::post_evidence,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/evidence/{seq}",
            incident_api::get_evidence_file,
        ),
        at(
            Method::GET,
            "/api/v1/incidents/{id}/identities",
            crate::reveal_api::get_identities,
        ),
        at(
            Method::POST,
            "/api/v1/incidents/{id}/hold",
            crate::privacy_api::post_hold,
        ),
        at(
            Method::DELETE,
            "/api/v1/incidents/{id}/hold",
            crate::privacy_api::delete_hold,
        ),
        at(
            Method::GET,
            "/api/v1/privacy/holds",
            crate::privacy_api::get_holds,
        ),
        at(
            Method::POST,
            "/api/v1/privacy/retention",
            crate::privacy_api::post_retention,
        ),
        at(
            Method::GET,
            "/api/v1/privacy/access",
            crate::privacy_api::get_access,
        ),
        at(
            Method::GET,
            "/api/v1/privacy/records",
            crate::privacy_api::get_records,
        ),
        at(
            Method::GET,
            "/api/v1/privacy/subjects/{person}",
            crate::privacy_api::get_subject,
        ),
        at(
            Method::POST,
            "/api/v1/privacy/subjects/{person}/erase",
            crate::privacy_api::post_erase,
        ),
        at(Method::GET, "/api/v1/tasks", playbook_api::get_tasks),
        at(
            Method::POST,
            "/api/v1/tasks/{task_id}/approve",
            playbook_api::post_approve,
        ),
        at(
            Method::POST,
            "/api/v1/tasks/{task_id}/reject",
            playbook_api::post_reject,
        ),
        at(Method::GET, "/api/v1/alerts", get_alerts),
        at(Method::GET, "/api/v1/dead-letters", get_dead_letters),
        at(Method::GET, "/api/v1/status", get_status),
        at(Method::GET, "/api/v1/sources", get_sources),
        at(Method::GET, "/api/v1/rules", get_rules),
        at(
            Method::POST,
            "/api/v1/directory/reload",
            post_directory_reload,
        ),
        at(
            Method::GET,
            "/api/v1/audit/proof/{event_id}",
            crate::audit_api::get_proof,
        ),
        at(
            Method::GET,
            "/api/v1/audit/checkpoint",
            crate::audit_api::get_checkpoint,
        ),
        at(Method::GET, "/metrics", get_metrics),
        at(Method::GET, "/healthz", || async { "ok" }),
    ]
}

/// A router serving `routes`.
fn mount<S: Clone + Send + Sync + 'static>(routes: Vec<Route<S>>) -> Router<S> {
    routes.into_iter().fold(Router::new(), |router, route| {
        router.route(route.path, route.handler)
    })
}

/// Every (method, path pattern) the router serves: the lists [`router`] mounts, so a route
/// cannot be served without appearing here. The security tests walk this list, check that each
/// entry is in the gate's table (and the table has nothing else), and try each one without a
/// token and with every role.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    fn names<S>(routes: Vec<Route<S>>) -> impl Iterator<Item = (Method, &'static str)> {
        routes.into_iter().map(|r| (r.method, r.path))
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(1));
    names(pipeline_routes(slots))
        .chain(names(auth_routes()))
        .chain(names(crate::console::routes()))
        .chain(names(device_routes()))
        .chain(names(compliance_routes()))
        .collect()
}

/// Builds the router: every route, behind the gate of `crate::gate` (the route table there
/// must list each one).
pub fn router(
    pipeline: Arc<Pipeline>,
    config: &Config,
    gate: Arc<Gate>,
    devices: Arc<crate::devices_api::Devices>,
    compliance: Arc<crate::compliance::Compliance>,
) -> Router {
    let auth = mount(auth_routes()).with_state(gate.clone());
    let console =
        crate::console::Console::start(pipeline.clone(), config, gate.clone(), devices.clone());
    let notice =
        axum::middleware::from_fn_with_state(console.clone(), crate::console::notice_changes);
    let console = mount(crate::console::routes()).with_state(console);
    let devices = mount(device_routes()).with_state(devices);
    let compliance = mount(compliance_routes()).with_state(compliance);
    let ingest_slots = Arc::new(tokio::sync::Semaphore::new(
        config.http.max_ingest_requests.max(1),
    ));
    let router = mount(pipeline_routes(ingest_slots))
        .with_state(pipeline)
        .merge(auth)
        .merge(console)
        .merge(devices)
        .merge(compliance)
        .route_layer(axum::middleware::from_fn_with_state(gate, gate::authorize))
        .route_layer(notice)
        .layer(DefaultBodyLimit::max(config.http.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.http.request_timeout_secs.max(1)),
        ))
        .layer(ConcurrencyLimitLayer::new(
            config.http.max_concurrent_requests.max(1),
        ));
    with_security_headers(router)
}

/// Headers every answer carries: the API serves JSON and text only, never to be sniffed,
/// framed, cached or sent along as a referrer.
fn with_security_headers(router: Router) -> Router {
    const HEADERS: [(header::HeaderName, &str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    HEADERS.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// An error answer: status and a JSON body `{ "error": ... }`.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

pub(crate) fn bad_request(error: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, error.to_string())
}

/// Runs a store query off the async threads.
pub(crate) async fn with_store<T: Send + 'static>(
    pipeline: &AppState,
    query: impl FnOnce(&mut dyn Store) -> Result<T, onesec_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let pipeline = pipeline.clone();
    tokio::task::spawn_blocking(move || pipeline.read_store(query))
        .await
        .map_err(internal)?
        .map_err(|e| match e {
            onesec_store::StoreError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            onesec_store::StoreError::State(s) => ApiError(StatusCode::CONFLICT, s.to_string()),
            other => internal(other),
        })
}

#[derive(Deserialize)]
struct IngestQuery {
    format: Option<String>,
}

/// `POST /api/v1/events`: one JSON event, a JSON array, NDJSON, or raw lines of `?format=`.
async fn post_events(
    State(pipeline): State<AppState>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = parse_format(query.format.as_deref(), &headers)?;
    let ingestor = pipeline.ingestor();
    let shed_above = pipeline.config().http.shed_backlog_events;
    if let Err(backlog) = ingestor.room_for_submission(shed_above).await {
        tracing::debug!(
            backlog,
            "ingest busy: detection behind, request answered 503"
        );
        return Ok(busy(&format!(
            "ingest busy: detection is {backlog} events behind; nothing taken, retry after 1 s"
        )));
    }
    let lines = onesec_decode::json_body_as_lines(&body);
    let report = if lines[..] == body[..] {
        ingestor.ingest_body(&format, &body, "http").await
    } else {
        ingestor
            .ingest_rewritten_body(&format, &lines, "http")
            .await
    };
    let status = if report.journal_error.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else if report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        Json(serde_json::to_value(&report).map_err(internal)?),
    )
        .into_response())
}

/// Ingest beyond `[http] max_ingest_requests` in progress: 503 with `Retry-After` at once,
/// so a sender that outruns the pipeline backs off instead of piling up waiting requests.
async fn shed_ingest(
    slots: Arc<tokio::sync::Semaphore>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(_slot) = slots.try_acquire_owned() else {
        tracing::debug!("ingest busy: request answered 503");
        return busy("ingest busy: too many requests in progress; retry after 1 s");
    };
    next.run(request).await
}

/// 503 with `Retry-After: 1`: nothing of the request was taken; the sender retries.
fn busy(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        Json(json!({ "error": reason })),
    )
        .into_response()
}

fn parse_format(name: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    let name = name.unwrap_or("auto");
    if let Some(text) = mapping_header(headers, "X-Onesec-Json-Mapping")? {
        let mapping = onesec_decode::JsonMapping::from_toml(&text)
            .map_err(|e| bad_request(format!("X-Onesec-Json-Mapping: {e}")))?;
        return Ok(Format::JsonMap(mapping));
    }
    if let Some(text) = mapping_header(headers, "X-Onesec-Csv-Mapping")? {
        let mapping = onesec_decode::CsvMapping::from_toml(&text)
            .map_err(|e| bad_request(format!("X-Onesec-Csv-Mapping: {e}")))?;
        return Ok(Format::AccessCsv(mapping));
    }
    if name.trim().eq_ignore_ascii_case("json-map") {
        return Err(bad_request(
            "format json-map needs its field mapping (TOML, base64) in X-Onesec-Json-Mapping",
        ));
    }
    name.parse::<Format>()
        .map_err(|e| bad_request(format!("format {name:?}: {e}")))
}

/// A mapping file sent base64-encoded in a header (None: no such header).
fn mapping_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let encoded = value
        .to_str()
        .map_err(|_| bad_request(format!("{name} is not ASCII base64")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| bad_request(format!("{name} is not valid base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| bad_request(format!("{name} is not UTF-8 TOML")))
}

#[derive(Deserialize)]
struct EventsQuery {
    person: Option<String>,
    /// Why a person's events are looked up (`[privacy.access]`).
    reason: Option<String>,
    site: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

fn parse_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    onesec_event::parse_time_rfc3339(text)
        .map(Some)
        .ok_or_else(|| {
            bad_request(format!(
                "{name}={text:?}: expected RFC 3339 time or epoch milliseconds"
            ))
        })
}

/// `GET /api/v1/events?person=&site=&from=&to=&limit=`.
/// A caller limited to some sites gets the events of those sites only.
async fn get_events(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<EventsQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let reason = crate::access::reason(&headers, q.reason.as_deref());
    if q.person.is_some() {
        crate::access::require(&pipeline, "person_timeline", &reason)?;
    }
    let person = q.person.clone();
    let filter = EventFilter {
        person: q.person,
        site: q.site,
        from_ms: parse_time("from", q.from.as_deref())?,
        to_ms: parse_time("to", q.to.as_deref())?,
        after_id: None,
        limit: q.limit,
    };
    if let Some(site) = &filter.site
        && !principal.sees_site(Some(site))
    {
        return Err(forbidden_site(site));
    }
    let sites = match (&filter.site, principal.sites.is_empty()) {
        (None, false) => principal.sites.clone(),
        _ => vec![],
    };
    let events = with_store(&pipeline, move |s| events_in_sites(s, filter, &sites)).await?;
    if let Some(person) = &person {
        let lookup = crate::access::Lookup {
            kind: "person_timeline",
            target: person,
            persons: vec![person.clone()],
            reason: &reason,
            via: "api",
            events: events.len(),
        };
        crate::access::record(&pipeline, &principal.name, lookup);
    }
    Ok(Json(events).into_response())
}

#[derive(Deserialize)]
struct LateQuery {
    after_id: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/v1/events/late?after_id=&limit=`: the events that arrived beyond the allowed
/// lateness behind detection's watermark (stored like the others), by id, each with its time,
/// the watermark it was behind, its source and the stored event. Events of sites the caller
/// does not see, and events erased since, are left out.
async fn get_late_events(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<LateQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let (late, events) = with_store(&pipeline, move |s| {
        let late = s.late_events(q.after_id, limit)?;
        let ids: Vec<u64> = late.iter().map(|l| l.id).collect();
        let events = s.events_by_ids(&ids)?;
        Ok((late, events))
    })
    .await?;
    let mut by_id: std::collections::HashMap<u64, Event> =
        events.into_iter().map(|e| (e.id, e)).collect();
    let listed: Vec<serde_json::Value> = late
        .into_iter()
        .filter_map(|l| {
            let event = by_id.remove(&l.id)?;
            principal
                .sees_site(event.resolved.site.as_deref())
                .then(|| {
                    serde_json::json!({
                        "id": l.id,
                        "time_ms": l.time_ms,
                        "watermark_ms": l.watermark_ms,
                        "source": l.source,
                        "event": event,
                    })
                })
        })
        .collect();
    Ok(Json(listed).into_response())
}

fn forbidden_site(site: &str) -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        format!("you are not allowed to see site {site}"),
    )
}

/// The events of `filter`, or, when `sites` is not empty, of each of those sites merged in
/// event-time order (a scoped caller asking without a site).
pub(crate) fn events_in_sites(
    store: &mut dyn Store,
    filter: EventFilter,
    sites: &[String],
) -> Result<Vec<Event>, onesec_store::StoreError> {
    if sites.is_empty() {
        return store.events(&filter);
    }
    let mut merged = Vec::new();
    for site in sites {
        let one = EventFilter {
            site: Some(site.clone()),
            ..filter.clone()
        };
        merged.extend(store.events(&one)?);
    }
    merged.sort_by_key(|e| (e.time_ms, e.id));
    merged.truncate(filter.limit.unwrap_or(1000));
    Ok(merged)
}

/// Whether a scoped caller sees an incident or alert with these entities.
pub(crate) fn sees(principal: &Principal, entities: &onesec_incident::Entities) -> bool {
    principal.sees_any_site(entities.sites.iter().map(String::as_str))
}

/// `GET /api/v1/incidents?state=&domain=&all=&limit=`.
async fn get_incidents(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(filter): Query<IncidentFilter>,
) -> Result<Response, ApiError> {
    let mut incidents = with_store(&pipeline, move |s| s.incidents(&filter)).await?;
    incidents.retain(|i| sees(&principal, &i.entities));
    Ok(Json(incidents).into_response())
}

/// A timeline entry: one event, in a shape meant for reading.
pub(crate) fn timeline_entry(event: &Event) -> Value {
    json!({
        "id": event.id,
        "time": event.time_rfc3339(),
        "domain": event.domain().as_str(),
        "class": event.class.as_str(),
        "activity": event.activity.as_str(),
        "status": event.status.as_str(),
        "message": event.message,
        "person": event.resolved.person.as_ref().map(|p| &p.id),
        "user": event.actor.user,
        "badge": event.actor.badge,
        "host": event.host,
        "site": event.resolved.site,
        "zone": event.resolved.zone,
        "portal": event.physical.portal.as_ref().or(event.resolved.portal.as_ref()),
        "src_ip": event.src.ip.map(|ip| ip.to_string()),
        "source": event.source.format,
        "raw": event.raw,
    })
}

/// The incident (if the caller sees it), its alerts and the timeline of their active events,
/// as `GET /api/v1/incidents/{id}` shows them (and an export carries them).
pub(crate) fn incident_detail(
    s: &mut dyn Store,
    id: &str,
    principal: &Principal,
) -> Result<Value, onesec_store::StoreError> {
    let incident = s
        .incident(id)?
        .filter(|i| sees(principal, &i.entities))
        .ok_or_else(|| onesec_store::StoreError::NotFound(format!("no incident {id}")))?;
    let alerts = s.alerts(Some(id), 10_000)?;
    let active = alerts
        .iter()
        .filter(|a| a.status == onesec_incident::AlertStatus::Active);
    let mut ids: Vec<u64> = active.flat_map(|a| a.event_ids.iter().copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    let events = s.events_by_ids(&ids)?;
    let timeline: Vec<Value> = events.iter().map(timeline_entry).collect();
    let evidence = s.evidence(id)?;
    Ok(
        json!({ "incident": incident, "alerts": alerts, "timeline": timeline, "evidence": evidence }),
    )
}

/// `GET /api/v1/incidents/{id}`: the incident, its alerts, the timeline of their events, its
/// evidence, case and history.
async fn get_incident(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut body = with_store(&pipeline, move |s| incident_detail(s, &id, &principal)).await?;
    let id = body["incident"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let case = playbook_api::case_of(&pipeline, id).await;
    body["case"] = case["case"].clone();
    body["history"] = case["history"].clone();
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// `GET /api/v1/alerts?limit=`.
async fn get_alerts(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(500);
    let mut alerts = with_store(&pipeline, move |s| s.alerts(None, limit)).await?;
    alerts.retain(|a| sees(&principal, &a.entities));
    Ok(Json(alerts).into_response())
}

/// `GET /api/v1/dead-letters?limit=`.
async fn get_dead_letters(
    State(pipeline): State<AppState>,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100);
    let letters = with_store(&pipeline, move |s| s.dead_letters(limit)).await?;
    Ok(Json(letters).into_response())
}

/// `GET /api/v1/status`: journal and detection positions, counts.
async fn get_status(State(pipeline): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(pipeline.status()).into_response())
}

/// `GET /api/v1/sources`: every configured or delivering source with its counters.
async fn get_sources(State(pipeline): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(serde_json::json!({ "sources": pipeline.sources() })).into_response())
}

/// `GET /api/v1/rules`: loaded rules and the ones refused, with reasons.
async fn get_rules(State(pipeline): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(pipeline.rules_report()).into_response())
}

/// `POST /api/v1/directory/reload`: re-reads the directory files without a restart.
async fn post_directory_reload(
    State(pipeline): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let p = pipeline.clone();
    let summary = tokio::task::spawn_blocking(move || p.reload_directory())
        .await
        .map_err(internal)?
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if let Some(audit) = pipeline.audit() {
        let detail = serde_json::to_value(summary).unwrap_or_default();
        audit.record(&principal.name, "directory.reload", "", detail);
    }
    Ok(Json(summary).into_response())
}

/// `GET /metrics`: Prometheus text format.
async fn get_metrics(State(pipeline): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        pipeline.metrics_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router serves exactly the gate's table: each served route once, each listed there,
    /// and nothing listed there that is not served.
    #[test]
    fn the_router_serves_exactly_the_gates_table() {
        let served = served_routes();
        for (i, (method, path)) in served.iter().enumerate() {
            assert!(
                gate::access(method, path).is_some(),
                "{method} {path} is served but not in gate::ROUTES"
            );
            assert!(
                !served[..i].contains(&(method.clone(), path)),
                "{method} {path} is mounted twice"
            );
        }
        for (method, path, _) in gate::ROUTES {
            assert!(
                served.contains(&(method.clone(), path)),
                "{method} {path} is in gate::ROUTES but not served"
            );
        }
        assert_eq!(served.len(), gate::ROUTES.len());
    }
}
