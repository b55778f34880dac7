//! `GET /api/v1/devices` and `GET /api/v1/devices/{id}`: the directory's devices with their
//! hygiene findings and posture (docs/hygiene.md, docs/api.md).
//!
//! The knowledge files of `[hygiene]` are read at start and again, at the next request, when one
//! of them changed (`onesec devices kev-update` replaces the KEV catalogue). The assessment is
//! computed from the directory in use and the devices' sightings in the store, and cached until
//! the directory is reloaded, the day changes, a knowledge file changes, or a minute has passed. Liveness is judged against the event
//! stream: a device is silent when its last event is older than its heartbeat behind the newest
//! event of any device (so a replay of old logs is judged in its own time, and an idle pipeline
//! flags nobody).

use crate::api::{ApiError, internal};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::Principal;
use onesec_hygiene::{Assessment, Clock, DeviceFilter, Inventory, Knowledge, Sources};
use onesec_pipeline::{Config, Pipeline};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cached assessment: the directory it was made from, the day, when it was made.
type Cached = (
    Arc<onesec_directory::Directory>,
    chrono::NaiveDate,
    std::time::Instant,
    Arc<Assessment>,
);

/// How long an assessment is served before the sightings are read again.
const REASSESS_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Device id → (score, findings) as last written to the trend.
type RecordedScores = HashMap<String, (u32, usize)>;

/// What the device routes need.
pub struct Devices {
    pipeline: Arc<Pipeline>,
    sources: Sources,
    /// The knowledge files as loaded, and their modification times then: a file replaced
    /// since (e.g. by `onesec devices kev-update`) is loaded again at the next assessment.
    knowledge: Mutex<(Knowledge, Vec<Option<std::time::SystemTime>>)>,
    cache: Mutex<Option<Cached>>,
    /// The day and each device's (score, findings) as last recorded in the trend: within a
    /// day a device's row is written again only when they changed, not at every assessment.
    recorded: Mutex<(Option<chrono::NaiveDate>, RecordedScores)>,
}

/// The cached assessment if it still holds: same directory, same day, knowledge not reloaded,
/// younger than [`REASSESS_AFTER`].
fn fresh(
    cache: &Option<Cached>,
    directory: &Arc<onesec_directory::Directory>,
    today: chrono::NaiveDate,
    reloaded: bool,
) -> Option<Arc<Assessment>> {
    let (dir, day, made, assessment) = cache.as_ref()?;
    let valid = !reloaded
        && Arc::ptr_eq(dir, directory)
        && *day == today
        && made.elapsed() < REASSESS_AFTER;
    valid.then(|| assessment.clone())
}

/// Modification times of the knowledge files (None: not readable).
fn stamps(sources: &Sources) -> Vec<Option<std::time::SystemTime>> {
    sources
        .kev
        .iter()
        .chain(&sources.advisories)
        .chain(&sources.default_creds)
        .chain(&sources.policy)
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

impl Devices {
    /// Loads the `[hygiene]` files of the configuration.
    pub fn load(
        pipeline: Arc<Pipeline>,
        config: &Config,
    ) -> Result<Devices, onesec_hygiene::HygieneError> {
        let h = &config.hygiene;
        let sources = Sources {
            kev: h.kev.clone(),
            advisories: h.advisories.clone(),
            default_creds: h.default_creds.clone(),
            policy: h.policy.clone(),
        };
        let stamped = stamps(&sources);
        let knowledge = Knowledge::load(&sources)?;
        Ok(Devices {
            pipeline,
            sources,
            knowledge: Mutex::new((knowledge, stamped)),
            cache: Mutex::new(None),
            recorded: Mutex::default(),
        })
    }

    /// Loads the knowledge files again when one changed since they were loaded (true: the
    /// assessment must be made again). A file that no longer loads leaves the old knowledge.
    fn refresh_knowledge(&self) -> bool {
        let now = stamps(&self.sources);
        let mut held = match self.knowledge.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if held.1 == now {
            return false;
        }
        match Knowledge::load(&self.sources) {
            Ok(knowledge) => {
                tracing::info!("hygiene knowledge files changed: loaded again");
                *held = (knowledge, now);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "a changed hygiene file does not load; the previous knowledge stays");
                held.1 = now;
                false
            }
        }
    }

    /// The pipeline the devices come from.
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// One device's posture (`{"device", "score", "findings"}`), if the directory has it.
    /// Reads the store (device sightings): never call it inside `Pipeline::read_store`, whose
    /// lock is not reentrant.
    pub(crate) fn posture(&self, id: &str) -> Option<serde_json::Value> {
        let assessment = self.assessment();
        let report = assessment.device(id)?;
        serde_json::to_value(report).ok()
    }

    /// The assessment the API serves when it is still fresh, else one made now without
    /// caching it: the compliance checks' finding history reuses the API's work but never puts
    /// an assessment in the cache (made at start, before any event, it would be served for a
    /// minute).
    pub(crate) fn assessment_for_history(&self) -> Arc<Assessment> {
        let directory = self.pipeline.directory();
        let today = Clock::now().today;
        let reloaded = self.refresh_knowledge();
        let mut cache = match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if reloaded {
            // The API would not see the reload again: its cached assessment is stale now.
            *cache = None;
        }
        match fresh(&cache, &directory, today, reloaded) {
            Some(assessment) => assessment,
            None => {
                drop(cache);
                self.assess(&directory, today)
            }
        }
    }

    /// Runs the checks on the directory's devices, with what the stored events showed of them.
    fn assess(
        &self,
        directory: &onesec_directory::Directory,
        today: chrono::NaiveDate,
    ) -> Arc<Assessment> {
        let mut inventory = Inventory::from_directory(directory);
        for e in &inventory.errors {
            tracing::warn!(error = %e, "device row left out of the hygiene checks");
        }
        let newest_event_ms = self.apply_sightings(&mut inventory);
        let clock = Clock {
            now_ms: newest_event_ms,
            ..Clock::now()
        };
        let assessment = {
            let held = match self.knowledge.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            Arc::new(Assessment::new(&inventory, &held.0, clock, &[]))
        };
        self.record_posture(&assessment, today);
        assessment
    }

    pub(crate) fn assessment(&self) -> Arc<Assessment> {
        let directory = self.pipeline.directory();
        let today = Clock::now().today;
        let mut cache = match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A few stat calls: a replaced knowledge file counts at once.
        let reloaded = self.refresh_knowledge();
        if let Some(assessment) = fresh(&cache, &directory, today, reloaded) {
            return assessment;
        }
        let assessment = self.assess(&directory, today);
        *cache = Some((
            directory,
            today,
            std::time::Instant::now(),
            assessment.clone(),
        ));
        assessment
    }

    /// Keeps today's site and zone postures, and the devices' whose score or findings changed
    /// (the trend of `GET /api/v1/devices/trend`).
    fn record_posture(&self, assessment: &Assessment, today: chrono::NaiveDate) {
        let day = today.format("%Y-%m-%d").to_string();
        let mut rows: Vec<onesec_store::PostureDay> = [
            ("site", &assessment.posture.sites),
            ("zone", &assessment.posture.zones),
        ]
        .into_iter()
        .flat_map(|(scope, groups)| {
            let day = day.clone();
            groups.iter().map(move |g| onesec_store::PostureDay {
                day: day.clone(),
                scope: scope.into(),
                key: g.id.clone(),
                score: g.score,
                min: g.min,
                devices: g.devices as u64,
                findings: g.findings.values().map(|n| *n as u64).sum(),
            })
        })
        .collect();
        let mut recorded = match self.recorded.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if recorded.0 != Some(today) {
            *recorded = (Some(today), HashMap::new());
        }
        for device in &assessment.posture.devices {
            let now = (device.score, device.findings);
            if recorded.1.get(&device.device) == Some(&now) {
                continue;
            }
            rows.push(onesec_store::PostureDay {
                day: day.clone(),
                scope: "device".into(),
                key: device.device.clone(),
                score: f64::from(device.score),
                min: device.score,
                devices: 1,
                findings: device.findings as u64,
            });
            recorded.1.insert(device.device.clone(), now);
        }
        if let Err(error) = self.pipeline.read_store(|s| s.record_posture(&rows)) {
            tracing::warn!(%error, "posture of the day not recorded");
            // Written again at the next assessment.
            recorded.1.clear();
        }
    }

    /// Sets each inventory device's last-seen time from its events; returns the newest event
    /// time of any device (None: no device has sent anything, liveness is not judged).
    fn apply_sightings(&self, inventory: &mut Inventory) -> Option<i64> {
        let seen = match self.pipeline.read_store(|s| s.device_sightings()) {
            Ok(seen) => seen,
            Err(error) => {
                tracing::warn!(%error, "device sightings unreadable; liveness not judged");
                return None;
            }
        };
        let last: std::collections::HashMap<&str, i64> = seen
            .iter()
            .filter(|s| s.known)
            .map(|s| (s.device.as_str(), s.last_seen_ms))
            .collect();
        for device in &mut inventory.devices {
            if let Some(&t) = last.get(device.id.as_str()) {
                device.last_seen_ms = Some(device.last_seen_ms.map_or(t, |d| d.max(t)));
            }
        }
        seen.iter().map(|s| s.last_seen_ms).max()
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

#[derive(Deserialize)]
pub(crate) struct SeenQuery {
    site: Option<String>,
    /// `false`: only devices the directory does not know (discovered from events).
    known: Option<bool>,
}

/// `GET /api/v1/devices/seen?site=&known=`: every device the stored events came from or named,
/// with first and last seen, address and name; devices the directory does not know are
/// `known: false` (discovered). A caller limited to some sites sees those sites' devices.
pub(crate) async fn get_seen(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<SeenQuery>,
) -> Result<Response, ApiError> {
    let pipeline = devices.pipeline().clone();
    let mut seen = crate::api::with_store(&pipeline, |s| s.device_sightings()).await?;
    seen.retain(|d| {
        principal.sees_site(d.site.as_deref())
            && q.site
                .as_ref()
                .is_none_or(|site| d.site.as_ref() == Some(site))
            && q.known.is_none_or(|k| d.known == k)
    });
    Ok(Json(seen).into_response())
}

/// `GET /api/v1/devices/{id}/history`: one device's sighting (what its events showed; null
/// when none came) and every change, oldest first: of its address or name in its events, and
/// of its `devices.csv` row between starts and reloads (`inventory.firmware`...).
pub(crate) async fn get_history(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let pipeline = devices.pipeline().clone();
    let wanted = id.clone();
    let (sighting, changes) = crate::api::with_store(&pipeline, move |s| {
        Ok((s.device_sighting(&wanted)?, s.device_changes(&wanted)?))
    })
    .await?;
    let listed = devices
        .pipeline()
        .directory()
        .device(&id)
        .map(|d| d.site.clone());
    let site = match (&sighting, listed) {
        (Some(seen), _) => Some(seen.site.clone()),
        (None, Some(site)) => Some(site),
        (None, None) if !changes.is_empty() => Some(None),
        (None, None) => None,
    };
    match site {
        Some(site) if principal.sees_site(site.as_deref()) => Ok(Json(serde_json::json!({
            "device": id,
            "seen": sighting,
            "changes": changes,
        }))
        .into_response()),
        _ => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("device {id} is not in the inventory and no event came from it"),
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct TrendQuery {
    site: Option<String>,
    zone: Option<String>,
    device: Option<String>,
}

/// `GET /api/v1/devices/trend?site=`, `?zone=` or `?device=`: the site's or zone's device
/// posture per day (mean and lowest score, devices, findings), or a device's score per day,
/// oldest first. Today's value is brought up to date first.
pub(crate) async fn get_trend(
    State(devices): State<Arc<Devices>>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<TrendQuery>,
) -> Result<Response, ApiError> {
    let directory = devices.pipeline().directory();
    let (scope, key, site) = match (q.site, q.zone, q.device) {
        (Some(site), None, None) => ("site", site.clone(), Some(site)),
        (None, Some(zone), None) => {
            let site = directory.zone(&zone).map(|z| z.site.clone());
            ("zone", zone, site)
        }
        (None, None, Some(device)) => {
            let site = directory.device(&device).and_then(|d| d.site.clone());
            ("device", device, site)
        }
        _ => {
            return Err(crate::api::bad_request(
                "give one of site=, zone= or device=",
            ));
        }
    };
    if !principal.sees_site(site.as_deref()) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("you are not allowed to see {scope} {key}"),
        ));
    }
    // Today's point from the current assessment.
    current(&devices).await?;
    let pipeline = devices.pipeline().clone();
    let wanted = key.clone();
    let days = crate::api::with_store(&pipeline, move |s| s.posture_trend(scope, &wanted)).await?;
    Ok(Json(serde_json::json!({ "scope": scope, "id": key, "days": days })).into_response())
}

/// Refreshes the KEV catalogue from `[hygiene] kev_url` at start and every
/// `kev_refresh_hours`: fetched, checked (`KevCatalog::replace_file`), and only then written
/// over `[hygiene] kev`, which the next assessment loads. A failed refresh is logged and the
/// file stays as it was. None when the configuration asks for no refresh.
pub(crate) fn spawn_kev_refresh(config: &Config) -> Option<tokio::task::JoinHandle<()>> {
    let url = config.hygiene.kev_url.clone()?;
    let Some(out) = config.hygiene.kev.clone() else {
        tracing::warn!(
            url,
            "[hygiene] kev_url without kev: nowhere to write the catalogue"
        );
        return None;
    };
    let hours = config.hygiene.kev_refresh_hours.unwrap_or(24).max(1);
    let every = std::time::Duration::from_secs(hours * 3600);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match refresh_kev(&url, &out).await {
                Ok(count) => {
                    tracing::info!(url, file = %out.display(), count, "KEV catalogue refreshed")
                }
                Err(error) => {
                    tracing::error!(url, file = %out.display(), %error, "KEV catalogue not refreshed; the file stays as it was")
                }
            }
        }
    }))
}

/// Fetches the catalogue and replaces the file; the number of vulnerabilities it lists.
async fn refresh_kev(url: &str, out: &std::path::Path) -> Result<usize, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("fetching: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let (url, out) = (url.to_string(), out.to_path_buf());
    tokio::task::spawn_blocking(move || {
        onesec_hygiene::KevCatalog::replace_file(&url, &text, &out)
            .map(|catalog| catalog.entries.len())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}
