//! `GET /api/v1/devices` and `GET /api/v1/devices/{id}`: the directory's devices with their
//! hygiene findings and posture (docs/hygiene.md, docs/api.md).
//!
//! The knowledge files of `[hygiene]` are read once at start; the assessment is computed from
//! the directory in use and cached until the directory is reloaded or the day changes.
//! Liveness is not judged here (the directory has no last-seen times).

use crate::api::{ApiError, internal};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::Principal;
use onesec_hygiene::{Assessment, Clock, DeviceFilter, Inventory, Knowledge, Sources};
use onesec_pipeline::{Config, Pipeline};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

/// Cached assessment: the directory it was made from and the day.
type Cached = (
    Arc<onesec_directory::Directory>,
    chrono::NaiveDate,
    Arc<Assessment>,
);

/// What the device routes need.
pub struct Devices {
    pipeline: Arc<Pipeline>,
    knowledge: Knowledge,
    cache: Mutex<Option<Cached>>,
}

impl Devices {
    /// Loads the `[hygiene]` files of the configuration.
    pub fn load(
        pipeline: Arc<Pipeline>,
        config: &Config,
    ) -> Result<Devices, onesec_hygiene::HygieneError> {
        let h = &config.hygiene;
        let knowledge = Knowledge::load(&Sources {
            kev: h.kev.clone(),
            advisories: h.advisories.clone(),
            default_creds: h.default_creds.clone(),
            policy: h.policy.clone(),
        })?;
        Ok(Devices {
            pipeline,
            knowledge,
            cache: Mutex::new(None),
        })
    }

    /// The pipeline the devices come from.
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// One device's posture (`{"device", "score", "findings"}`), if the directory has it.
    pub(crate) fn posture(&self, id: &str) -> Option<serde_json::Value> {
        let assessment = self.assessment();
        let report = assessment.device(id)?;
        serde_json::to_value(report).ok()
    }

    fn assessment(&self) -> Arc<Assessment> {
        let directory = self.pipeline.directory();
        let clock = Clock {
            now_ms: None,
            ..Clock::now()
        };
        let mut cache = match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((dir, day, assessment)) = cache.as_ref()
            && Arc::ptr_eq(dir, &directory)
            && *day == clock.today
        {
            return assessment.clone();
        }
        let inventory = Inventory::from_directory(&directory);
        for e in &inventory.errors {
            tracing::warn!(error = %e, "device row left out of the hygiene checks");
        }
        let assessment = Arc::new(Assessment::new(&inventory, &self.knowledge, clock, &[]));
        *cache = Some((directory, clock.today, assessment.clone()));
        assessment
    }
}

#[derive(Deserialize)]
pub(crate) struct DevicesQuery {
    site: Option<String>,
    kind: Option<String>,
    finding: Option<String>,
}

pub(crate) async fn current(devices: &Arc<Devices>) -> Result<Arc<Assessment>, ApiError> {
    let devices = devices.clone();
    tokio::task::spawn_blocking(move || devices.assessment())
        .await
        .map_err(internal)
}

/// `GET /api/v1/devices?site=&kind=&finding=`: devices with score and findings. A caller
/// limited to some sites sees the devices of those sites only.
pub(crate) async fn get_devices(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, ApiError> {
    if let Some(site) = &q.site
        && !principal.sees_site(Some(site))
    {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("you are not allowed to see site {site}"),
        ));
    }
    let assessment = current(&devices).await?;
    let filter = DeviceFilter {
        site: q.site,
        kind: q.kind,
        finding: q.finding,
    };
    let mut selected = assessment.select(&filter);
    selected.retain(|r| principal.sees_site(r.device.site.as_deref()));
    Ok(Json(selected).into_response())
}

/// `GET /api/v1/devices/{id}`: one device, its score and findings.
pub(crate) async fn get_device(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let assessment = current(&devices).await?;
    match assessment.device(&id) {
        Some(r) if principal.sees_site(r.device.site.as_deref()) => Ok(Json(r).into_response()),
        _ => Err(ApiError(StatusCode::NOT_FOUND, format!("no device {id}"))),
    }
}
