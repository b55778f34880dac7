//! Compliance routes (`docs/api.md`, "Compliance"; `docs/compliance.md`): the catalogue and
//! mappings, the coverage view, regulatory deadlines, marking an incident, its notification
//! drafts and their submission, exercise results and unified reports.

use crate::api::{ApiError, bad_request, internal, sees};
use crate::compliance::{Compliance, ComplianceError, stage_names};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use onesec_auth::Principal;
use onesec_compliance::{Draft, ExerciseResult, Facts, Mark, Period, Regime, Stage, Submission};
use onesec_incident::Incident;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

type Shared = Arc<Compliance>;

fn failed(error: ComplianceError) -> ApiError {
    match error {
        ComplianceError::Store(onesec_store::StoreError::NotFound(m)) => {
            ApiError(StatusCode::NOT_FOUND, m)
        }
        ComplianceError::Clock(e) => bad_request(e),
        other => internal(other),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(internal)?
}

/// The site a caller may ask about: a caller limited to sites must name one of them.
fn allowed_site(principal: &Principal, site: Option<String>) -> Result<Option<String>, ApiError> {
    match site {
        Some(s) if principal.sees_site(Some(&s)) => Ok(Some(s)),
        Some(s) => Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("you are not allowed to see site {s}"),
        )),
        None if principal.sites.is_empty() => Ok(None),
        None => Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "you are limited to sites ({}): name one with ?site=",
                principal.sites.join(", ")
            ),
        )),
    }
}

/// `?period=` or `?from=&to=`, and `?site=`.
#[derive(Deserialize)]
pub(crate) struct PeriodQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    site: Option<String>,
    /// Comma-separated control ids (coverage).
    control: Option<String>,
    /// `html`, `pdf`, `csv`, `json` (reports).
    format: Option<String>,
}

impl PeriodQuery {
    fn period(&self, compliance: &Compliance) -> Result<Period, ApiError> {
        onesec_compliance::period::resolve(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            compliance.now_ms(),
            compliance.timezone,
        )
        .map_err(bad_request)
    }
}

/// `GET /api/v1/compliance/controls`: the catalogue and what serves each control.
pub(crate) async fn get_controls(State(c): State<Shared>) -> Response {
    Json(json!({ "controls": c.catalogue.controls, "mappings": c.mappings })).into_response()
}

/// `GET /api/v1/compliance/coverage?period=|from=&to=&control=&site=`.
pub(crate) async fn get_coverage(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = q.period(&c)?;
    let site = allowed_site(&principal, q.site.clone())?;
    let only: Vec<String> = q
        .control
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(unknown) = only.iter().find(|id| c.catalogue.get(id).is_none()) {
        return Err(bad_request(format!(
            "control {unknown:?} is not in the catalogue (GET /api/v1/compliance/controls)"
        )));
    }
    let view = blocking(move || c.coverage(period, &only, site.as_deref()).map_err(failed)).await?;
    Ok(Json(view).into_response())
}

/// `?regime=&pending=&incident=`.
#[derive(Deserialize)]
pub(crate) struct DeadlineQuery {
    regime: Option<String>,
    #[serde(default)]
    pending: bool,
    incident: Option<String>,
}

/// `GET /api/v1/compliance/deadlines?regime=nis2&pending=true`: "which NIS2 deadlines are
/// open now?" Each with its escalation, if it was escalated.
pub(crate) async fn get_deadlines(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<DeadlineQuery>,
) -> Result<Response, ApiError> {
    let regime = match q.regime.as_deref() {
        None | Some("") => None,
        Some("nis2") => Some(Regime::Nis2),
        Some("gdpr") => Some(Regime::Gdpr),
        Some(other) => return Err(bad_request(format!("regime {other:?} is not nis2 or gdpr"))),
    };
    let body = blocking(move || {
        let now = c.now_ms();
        let escalations = c.db().escalations().map_err(|e| failed(e.into()))?;
        let mut out = Vec::new();
        for d in c.deadlines(now).map_err(failed)? {
            let wanted = regime.is_none_or(|r| r == d.regime)
                && (!q.pending || d.is_pending())
                && q.incident.as_ref().is_none_or(|i| *i == d.incident_id);
            if !wanted || !visible(&c, &principal, &d.incident_id) {
                continue;
            }
            let escalation = escalations
                .iter()
                .find(|e| e.incident_id == d.incident_id && e.stage == d.stage);
            let mut value = serde_json::to_value(&d).map_err(internal)?;
            value["label"] = d.stage.label().into();
            value["escalated"] = serde_json::to_value(escalation).map_err(internal)?;
            out.push(value);
        }
        Ok(json!({ "now_ms": now, "deadlines": out }))
    })
    .await?;
    Ok(Json(body).into_response())
}

fn incident_of(c: &Compliance, id: &str) -> Result<Incident, ApiError> {
    c.pipeline
        .read_store(|s| s.incident(id))
        .map_err(internal)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")))
}

fn visible(c: &Compliance, principal: &Principal, id: &str) -> bool {
    principal.sites.is_empty() || incident_of(c, id).is_ok_and(|i| sees(principal, &i.entities))
}

/// The incident, when the caller sees it (404 otherwise).
fn visible_incident(c: &Compliance, principal: &Principal, id: &str) -> Result<Incident, ApiError> {
    let incident = incident_of(c, id)?;
    if sees(principal, &incident.entities) {
        Ok(incident)
    } else {
        Err(ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")))
    }
}

fn mark_of(c: &Compliance, id: &str) -> Result<Mark, ApiError> {
    c.db().mark(id).map_err(|e| failed(e.into()))?.ok_or_else(|| {
        ApiError(
            StatusCode::CONFLICT,
            format!("incident {id} is not marked NIS2-significant or a GDPR breach: POST /api/v1/incidents/{id}/regulatory first"),
        )
    })
}

/// A marked incident the caller sees, with its mark.
fn marked_incident(
    c: &Compliance,
    principal: &Principal,
    id: &str,
) -> Result<(Incident, Mark), ApiError> {
    Ok((visible_incident(c, principal, id)?, mark_of(c, id)?))
}

fn parse_stage(name: &str) -> Result<Stage, ApiError> {
    Stage::parse(name).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no report stage {name:?} (stages: {})", stage_names()),
        )
    })
}

/// The draft of a stage: the saved one filled again from current incident data (edits kept),
/// or a new one.
fn current_draft(
    c: &Compliance,
    incident: &Incident,
    mark: &Mark,
    stage: Stage,
) -> Result<Draft, ApiError> {
    let id = incident.id.clone();
    let (case, alerts, history) = c
        .pipeline
        .read_store(move |s| Ok((s.case(&id)?, s.alerts(Some(&id), 10_000)?, s.history(&id)?)))
        .map_err(internal)?;
    let tz = c.timezone;
    let measures: Vec<String> = history
        .iter()
        .filter(|h| {
            !matches!(
                h.action.as_str(),
                "opened" | "comment" | "regulatory_escalate"
            )
        })
        .map(|h| {
            let change = match (&h.from, &h.to) {
                (Some(from), Some(to)) => format!(": {from} → {to}"),
                (None, Some(to)) => format!(": {to}"),
                _ => String::new(),
            };
            format!(
                "{} {} by {}{change}",
                onesec_compliance::clock::local_string(h.at_ms, tz),
                h.action,
                h.actor
            )
        })
        .collect();
    let facts = Facts {
        incident,
        case: case.as_ref(),
        alerts: &alerts,
        measures: &measures,
        dpo_contact: c.settings.dpo_contact.as_deref(),
    };
    let now = c.now_ms();
    let saved = c
        .db()
        .draft(&incident.id, stage)
        .map_err(|e| failed(e.into()))?;
    Ok(match saved {
        Some(draft) => draft.refill(mark, &facts, now),
        None => Draft::fill(stage, mark, &facts, now),
    })
}

/// `GET /api/v1/incidents/{id}/regulatory`: the mark, deadlines, submissions and drafts.
pub(crate) async fn get_regulatory(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let body = blocking(move || {
        let incident = visible_incident(&c, &principal, &id)?;
        let Some(mark) = c.db().mark(&id).map_err(|e| failed(e.into()))? else {
            return Ok(json!({ "incident_id": id, "mark": null, "deadlines": [], "submissions": [], "drafts": {} }));
        };
        let submissions = c.db().submissions(Some(&id)).map_err(|e| failed(e.into()))?;
        let now = c.now_ms();
        let deadlines: Vec<_> = c.deadlines(now).map_err(failed)?.into_iter().filter(|d| d.incident_id == id).collect();
        let mut drafts = BTreeMap::new();
        for d in &deadlines {
            drafts.insert(d.stage.as_str(), current_draft(&c, &incident, &mark, d.stage)?);
        }
        Ok(json!({ "incident_id": id, "mark": mark, "deadlines": deadlines, "submissions": submissions, "drafts": drafts }))
    })
    .await?;
    Ok(Json(body).into_response())
}

/// Body of `POST /api/v1/incidents/{id}/regulatory`.
#[derive(Deserialize)]
pub(crate) struct MarkRequest {
    #[serde(default)]
    nis2_significant: bool,
    #[serde(default)]
    gdpr_breach: bool,
    /// Time of awareness, RFC 3339 (default: now).
    aware: Option<String>,
    /// IANA time zone (default: `[compliance] timezone`).
    timezone: Option<String>,
    cross_border: Option<bool>,
}

/// `POST /api/v1/incidents/{id}/regulatory`: marks the incident; the clocks start at the
/// time of awareness. Audited (`compliance.mark`).
pub(crate) async fn post_regulatory(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<MarkRequest>,
) -> Result<Response, ApiError> {
    if !body.nis2_significant && !body.gdpr_breach {
        return Err(bad_request("mark nis2_significant, gdpr_breach or both"));
    }
    let mark = blocking(move || {
        visible_incident(&c, &principal, &id)?;
        let now = c.now_ms();
        let aware_ms = match &body.aware {
            Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| bad_request(format!("aware {text:?} is not an RFC 3339 time: {e}")))?
                .timestamp_millis(),
            None => now,
        };
        if aware_ms > now {
            return Err(bad_request("the time of awareness is in the future"));
        }
        let timezone = body
            .timezone
            .clone()
            .unwrap_or_else(|| c.settings.timezone.clone());
        onesec_compliance::clock::parse_timezone(&timezone).map_err(bad_request)?;
        let mark = Mark {
            incident_id: id.clone(),
            nis2_significant: body.nis2_significant,
            gdpr_breach: body.gdpr_breach,
            aware_ms,
            timezone,
            cross_border: body.cross_border,
            marked_by: principal.name.clone(),
            marked_ms: now,
        };
        c.db().put_mark(&mark).map_err(|e| failed(e.into()))?;
        c.audit(
            &principal.name,
            "compliance.mark",
            &id,
            serde_json::to_value(&mark).map_err(internal)?,
        );
        Ok(mark)
    })
    .await?;
    Ok(Json(mark).into_response())
}

/// `?format=json|text`.
#[derive(Deserialize)]
pub(crate) struct DraftQuery {
    format: Option<String>,
}

/// `GET /api/v1/incidents/{id}/regulatory/{stage}?format=json|text`: the draft, filled from
/// current incident data with people's edits kept; `text` is the export to send.
pub(crate) async fn get_draft(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path((id, stage)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Result<Response, ApiError> {
    let stage = parse_stage(&stage)?;
    let draft = blocking(move || {
        let (incident, mark) = marked_incident(&c, &principal, &id)?;
        current_draft(&c, &incident, &mark, stage)
    })
    .await?;
    match q.format.as_deref() {
        Some("text") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            draft.to_text(),
        )
            .into_response()),
        None | Some("json") => Ok(Json(draft).into_response()),
        Some(other) => Err(bad_request(format!("format {other:?} is not json or text"))),
    }
}

/// Body of `POST /api/v1/incidents/{id}/regulatory/{stage}`.
#[derive(Deserialize)]
pub(crate) struct EditRequest {
    fields: BTreeMap<String, String>,
}

/// `POST /api/v1/incidents/{id}/regulatory/{stage}`: sets fields of the draft. Audited
/// (`compliance.draft`, with the keys changed).
pub(crate) async fn post_draft(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path((id, stage)): Path<(String, String)>,
    Json(body): Json<EditRequest>,
) -> Result<Response, ApiError> {
    let stage = parse_stage(&stage)?;
    let draft = blocking(move || {
        let (incident, mark) = marked_incident(&c, &principal, &id)?;
        let mut draft = current_draft(&c, &incident, &mark, stage)?;
        let now = c.now_ms();
        for (key, value) in &body.fields {
            draft
                .edit(key, value, &principal.name, now)
                .map_err(bad_request)?;
        }
        c.db().put_draft(&draft).map_err(|e| failed(e.into()))?;
        let keys: Vec<&String> = body.fields.keys().collect();
        c.audit(
            &principal.name,
            "compliance.draft",
            &id,
            json!({"stage": stage.as_str(), "fields": keys}),
        );
        Ok(draft)
    })
    .await?;
    Ok(Json(draft).into_response())
}

/// Body of `POST /api/v1/incidents/{id}/regulatory/{stage}/submit`.
#[derive(Deserialize)]
pub(crate) struct SubmitRequest {
    /// The authority's reference.
    reference: Option<String>,
    /// Why it is late (required for a late GDPR notification).
    late_reasons: Option<String>,
}

/// `POST /api/v1/incidents/{id}/regulatory/{stage}/submit`: records that the draft was sent
/// (complete drafts only; a late GDPR notification needs its reasons). Audited
/// (`compliance.submit`, with the SHA-256 of the draft as sent).
pub(crate) async fn post_submit(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path((id, stage)): Path<(String, String)>,
    Json(body): Json<SubmitRequest>,
) -> Result<Response, ApiError> {
    let stage = parse_stage(&stage)?;
    let submission = blocking(move || {
        let (incident, mark) = marked_incident(&c, &principal, &id)?;
        let now = c.now_ms();
        let deadline = c
            .deadlines(now)
            .map_err(failed)?
            .into_iter()
            .find(|d| d.incident_id == id && d.stage == stage)
            .ok_or_else(|| {
                ApiError(
                    StatusCode::CONFLICT,
                    format!("incident {id} has no {} deadline", stage.as_str()),
                )
            })?;
        let draft = current_draft(&c, &incident, &mark, stage)?;
        let missing = draft.missing();
        if !missing.is_empty() {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!(
                    "the draft still lacks: {} (POST …/regulatory/{} to fill them)",
                    missing.join(", "),
                    stage.as_str()
                ),
            ));
        }
        let late = now > deadline.due_ms;
        let reasons = body.late_reasons.filter(|r| !r.trim().is_empty());
        if late && stage.regime() == Regime::Gdpr && reasons.is_none() {
            return Err(bad_request(format!(
                "the GDPR notification is late (due {}): give late_reasons (Art. 33(1))",
                deadline.due_local
            )));
        }
        let submission = Submission {
            incident_id: id.clone(),
            stage,
            submitted_ms: now,
            submitted_by: principal.name.clone(),
            reference: body.reference,
            late,
            late_reasons: reasons,
            draft_sha256: draft.sha256(),
        };
        let db = c.db();
        db.put_draft(&draft).map_err(|e| failed(e.into()))?;
        db.add_submission(&submission)
            .map_err(|e| failed(e.into()))?;
        drop(db);
        c.audit(
            &principal.name,
            "compliance.submit",
            &id,
            serde_json::to_value(&submission).map_err(internal)?,
        );
        Ok(submission)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(submission)).into_response())
}

/// `GET /api/v1/reports?period=|from=&to=&site=&format=html|pdf|csv|json`: the unified
/// report. Audited (`report.generate`).
pub(crate) async fn get_report(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = q.period(&c)?;
    let site = allowed_site(&principal, q.site.clone())?;
    let name = q.format.clone().unwrap_or_else(|| "html".to_string());
    let format = onesec_report::Format::parse(&name)
        .ok_or_else(|| bad_request(format!("format {name:?} is not html, pdf, csv or json")))?;
    let bytes = blocking(move || {
        let report = c.report(period, site.as_deref(), &principal.name).map_err(failed)?;
        let bytes = onesec_report::render(&report, format).map_err(internal)?;
        c.audit(
            &principal.name,
            "report.generate",
            site.as_deref().unwrap_or("all"),
            json!({"from_ms": period.from_ms, "to_ms": period.to_ms, "format": format.extension(), "checkpoint": report.checkpoint.as_ref().map(|k| k.size)}),
        );
        Ok(bytes)
    })
    .await?;
    let mut response = ([(header::CONTENT_TYPE, format.media_type())], bytes).into_response();
    if format == onesec_report::Format::Html {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
    }
    Ok(response)
}

/// `GET /api/v1/exercises?period=|from=&to=`: the drill results recorded for runs that
/// finished in the period, oldest first.
pub(crate) async fn get_exercises(
    State(c): State<Shared>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = q.period(&c)?;
    let results = blocking(move || {
        c.db()
            .exercises(period.from_ms, period.to_ms)
            .map_err(|e| failed(e.into()))
    })
    .await?;
    Ok(
        Json(json!({"from_ms": period.from_ms, "to_ms": period.to_ms, "exercises": results}))
            .into_response(),
    )
}

/// `POST /api/v1/exercises`: records a drill's result (`onesec drill run --record`,
/// `onesec drill record`); the same `run_id` again replaces it. Audited (`exercise.record`).
pub(crate) async fn post_exercise(
    State(c): State<Shared>,
    Extension(principal): Extension<Principal>,
    Json(mut result): Json<ExerciseResult>,
) -> Result<Response, ApiError> {
    result.validate().map_err(bad_request)?;
    let recorded = blocking(move || {
        result.recorded_by = principal.name.clone();
        result.recorded_ms = c.now_ms();
        c.db().put_exercise(&result).map_err(|e| failed(e.into()))?;
        c.audit(
            &principal.name,
            "exercise.record",
            &result.run_id,
            json!({"scenario": result.scenario, "passed": result.passed, "ran_ms": result.ran_ms,
                   "detections_on_time": result.detections_on_time,
                   "detections_expected": result.detections_expected}),
        );
        Ok(result)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(recorded)).into_response())
}
