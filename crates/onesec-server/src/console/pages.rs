//! The console's pages other than the site view: the queue, one incident, the dashboard,
//! devices, rules, and the reports and exercises pages (which say whether this build has them).

use super::live::{QueueRow, is_open};
use super::{Chrome, ConsoleState, charts, page, problem};
use crate::api::{ApiError, with_store};
use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use onesec_auth::{Permission, Principal};
use onesec_incident::Incident;
use onesec_playbook::Team;
use serde_json::Value;
use std::collections::BTreeMap;

/// Rows the queue page carries in its HTML; the script adds the rest from the live feed.
const FIRST_ROWS: usize = 100;

#[derive(Template)]
#[template(path = "console/problem.html")]
pub(crate) struct Problem {
    pub chrome: Chrome,
    pub status: u16,
    pub message: String,
}

fn failed(principal: &Principal, error: ApiError) -> Response {
    problem(principal, error.0, error.1)
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<QueueRow>,
    total: usize,
    teams: Vec<String>,
    sites: Vec<String>,
    may_work: bool,
    me: String,
}

/// `GET /console`: the live alarm and incident queue.
pub(crate) async fn queue(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let rows = match console.feed.snapshot().await {
        Ok(rows) => rows,
        Err(error) => return failed(&principal, error),
    };
    let visible: Vec<&QueueRow> = rows.iter().filter(|r| r.visible_to(&principal)).collect();
    let mut teams: Vec<String> = Team::ALL.iter().map(|t| t.key().to_string()).collect();
    teams.sort();
    let directory = console.pipeline.directory();
    let sites: Vec<String> = super::site_plan::visible_sites(&directory, &principal)
        .map(|s| s.id.clone())
        .collect();
    page(&QueuePage {
        chrome: Chrome::new(&principal, "/console"),
        total: visible.len(),
        rows: visible.into_iter().take(FIRST_ROWS).cloned().collect(),
        teams,
        sites,
        may_work: principal.may(Permission::WorkIncidents),
        me: principal.name.clone(),
    })
}

/// One line of an incident's timeline.
struct TimelineLine {
    id: u64,
    /// `alert`: an event of one of its alerts; `context`: another event of its doors or people.
    source: &'static str,
    time: String,
    domain: String,
    what: String,
    message: String,
    who: String,
    place: String,
}

/// One task of the playbook run.
struct TaskLine {
    id: String,
    step: String,
    instruction: String,
    state: String,
    deadline_ms: Option<i64>,
    decided_by: String,
    comment: String,
    may_decide: bool,
}

impl TaskLine {
    fn due(&self) -> String {
        self.deadline_ms.map(super::utc).unwrap_or_default()
    }
}

/// A team's share of the playbook.
struct TeamTasks {
    team: String,
    tasks: Vec<TaskLine>,
}

/// A line of the case history (comments are the `comment` entries).
struct HistoryLine {
    at_ms: i64,
    actor: String,
    action: String,
    change: String,
    comment: String,
}

impl HistoryLine {
    fn at(&self) -> String {
        super::utc(self.at_ms)
    }
}

/// A person the incident names, as the directory knows them.
struct PersonLine {
    id: String,
    name: String,
    initials: String,
    department: String,
    status: String,
}

struct EvidenceLine {
    kind: String,
    name: String,
    sha256: String,
    note: String,
    added_by: String,
}

/// The case's fields the page shows.
struct CaseLine {
    priority: i64,
    category: String,
    owner_team: String,
    assignee: String,
    ack_due_ms: i64,
    resolve_due_ms: i64,
    acknowledged: bool,
    breached: String,
}

impl CaseLine {
    fn ack_due(&self) -> String {
        super::utc(self.ack_due_ms)
    }

    fn resolve_due(&self) -> String {
        super::utc(self.resolve_due_ms)
    }
}

#[derive(Template)]
#[template(path = "console/incident.html")]
struct IncidentPage {
    chrome: Chrome,
    incident: Incident,
    case: Option<CaseLine>,
    timeline: Vec<TimelineLine>,
    persons: Vec<PersonLine>,
    teams: Vec<TeamTasks>,
    playbook: String,
    playbook_status: String,
    evidence: Vec<EvidenceLine>,
    comments: Vec<HistoryLine>,
    history: Vec<HistoryLine>,
    team_names: Vec<&'static str>,
    may_work: bool,
    may_comment: bool,
    may_export: bool,
    me: String,
}

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn timeline_line(entry: &Value) -> TimelineLine {
    let who = ["person", "user", "badge"]
        .iter()
        .map(|k| text(entry, k))
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let place = ["portal", "zone", "host", "src_ip", "site"]
        .iter()
        .map(|k| text(entry, k))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    TimelineLine {
        id: entry["id"].as_u64().unwrap_or_default(),
        source: "alert",
        time: text(entry, "time"),
        domain: text(entry, "domain"),
        what: format!("{} {}", text(entry, "class"), text(entry, "activity")),
        message: text(entry, "message"),
        who,
        place,
    }
}

/// The other events of the incident's doors and people around it (the context API's), so the
/// timeline interleaves badge, door, camera, login and network events; alert events win the
/// dedup because they sort first at equal time and id.
async fn context_lines(
    console: &ConsoleState,
    incident: &Incident,
    principal: &Principal,
) -> Vec<TimelineLine> {
    let (devices, incident, principal) =
        (console.devices.clone(), incident.clone(), principal.clone());
    // The console has no field for a reason: where the configuration asks one for this
    // lookup, the page leaves the context out (the API gives it with a reason).
    if crate::access::require(devices.pipeline(), "incident_context", "").is_err() {
        return Vec::new();
    }
    let context = tokio::task::spawn_blocking(move || {
        let context = crate::incident_api::context(&devices, &incident, &principal)?;
        let lookup = crate::access::Lookup {
            kind: "incident_context",
            target: &incident.id,
            persons: incident.entities.persons.iter().cloned().collect(),
            reason: "",
            via: "console",
            events: crate::incident_api::context_events(&context),
        };
        crate::access::record(devices.pipeline(), &principal.name, lookup);
        Ok::<_, onesec_store::StoreError>(context)
    })
    .await;
    let Ok(Ok(context)) = context else {
        tracing::warn!("incident context not available for the console timeline");
        return Vec::new();
    };
    let mut lines = Vec::new();
    let lists = context["doors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| &d["events"])
        .chain(
            context["persons"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|p| [&p["badge_events"], &p["login_events"]]),
        );
    for list in lists {
        for entry in list.as_array().into_iter().flatten() {
            let mut line = timeline_line(entry);
            line.source = "context";
            lines.push(line);
        }
    }
    lines
}

fn history_line(entry: &Value) -> HistoryLine {
    let (from, to) = (text(entry, "from"), text(entry, "to"));
    let change = match (from.is_empty(), to.is_empty()) {
        (true, true) => String::new(),
        (true, false) => to,
        _ => format!("{from} → {to}"),
    };
    HistoryLine {
        at_ms: entry["at_ms"].as_i64().unwrap_or_default(),
        actor: text(entry, "actor"),
        action: text(entry, "action"),
        change,
        comment: text(entry, "comment"),
    }
}

fn case_line(case: &Value) -> Option<CaseLine> {
    case.is_object().then(|| CaseLine {
        priority: case["priority"].as_i64().unwrap_or(5),
        category: text(case, "category"),
        owner_team: text(case, "owner_team"),
        assignee: text(case, "assignee"),
        ack_due_ms: case["ack_due_ms"].as_i64().unwrap_or_default(),
        resolve_due_ms: case["resolve_due_ms"].as_i64().unwrap_or_default(),
        acknowledged: !case["acknowledged"].is_null(),
        breached: case["sla_breached"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
    })
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect()
}

fn person_lines(console: &ConsoleState, incident: &Incident) -> Vec<PersonLine> {
    let directory = console.pipeline.directory();
    incident
        .entities
        .persons
        .iter()
        .map(|id| match directory.person(id) {
            Some(p) => PersonLine {
                id: id.clone(),
                initials: initials(&p.name),
                name: p.name.clone(),
                department: p.department.clone(),
                status: p.status.as_str().to_string(),
            },
            // With pseudonymisation on, the console shows the pseudonym; names are revealed
            // only through the audited API (`GET /api/v1/incidents/{id}/identities`).
            None if onesec_directory::is_pseudonym(id) => PersonLine {
                id: id.clone(),
                initials: "?".into(),
                name: id.clone(),
                department: String::new(),
                status: "pseudonymised".into(),
            },
            None => PersonLine {
                id: id.clone(),
                initials: initials(id),
                name: id.clone(),
                department: String::new(),
                status: "not in the directory".into(),
            },
        })
        .collect()
}

/// The run's tasks grouped by team, each marked decidable when the caller's role works for
/// that team (the API's rule) and the task is open.
fn team_tasks(run: &onesec_pipeline::response::RunView, principal: &Principal) -> Vec<TeamTasks> {
    let mut by_team: BTreeMap<String, Vec<TaskLine>> = BTreeMap::new();
    for task in &run.tasks {
        let may_decide = task.state == "open"
            && principal.may(Permission::WorkTasks)
            && Team::from_name(&task.team)
                .is_some_and(|t| crate::playbook_api::decides_for(principal.role, t));
        by_team
            .entry(task.team.clone())
            .or_default()
            .push(TaskLine {
                id: task.id.clone(),
                step: task.step_name.clone().unwrap_or_else(|| task.step.clone()),
                instruction: task.instruction.clone(),
                state: task.state.clone(),
                deadline_ms: task.deadline.and_then(|d| i64::try_from(d).ok()),
                decided_by: task.decided_by.clone().unwrap_or_default(),
                comment: task.comment.clone().unwrap_or_default(),
                may_decide,
            });
    }
    by_team
        .into_iter()
        .map(|(team, tasks)| TeamTasks { team, tasks })
        .collect()
}

/// `GET /console/incidents/{id}`: timeline, entities, playbook, evidence, comments, history.
pub(crate) async fn incident(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let who = principal.clone();
    let detail = with_store(&console.pipeline, move |s| {
        crate::api::incident_detail(s, &id, &who)
    })
    .await;
    let detail = match detail {
        Ok(d) => d,
        Err(error) => return failed(&principal, error),
    };
    let Ok(incident) = serde_json::from_value::<Incident>(detail["incident"].clone()) else {
        return problem(
            &principal,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the incident could not be read".into(),
        );
    };
    let case = crate::playbook_api::case_of(&console.pipeline, incident.id.clone()).await;
    let responses = console.pipeline.clone();
    let run_id = incident.id.clone();
    let run = tokio::task::spawn_blocking(move || responses.responses().run_view(&run_id).ok())
        .await
        .ok()
        .flatten();
    let mut timeline: Vec<TimelineLine> = detail["timeline"]
        .as_array()
        .map(|a| a.iter().map(timeline_line).collect())
        .unwrap_or_default();
    if principal.may(Permission::ReadEvents) {
        timeline.extend(context_lines(&console, &incident, &principal).await);
    }
    timeline.sort_by(|a, b| (&a.time, a.id).cmp(&(&b.time, b.id)));
    timeline.dedup_by_key(|line| line.id);
    let history: Vec<HistoryLine> = case["history"]
        .as_array()
        .map(|a| a.iter().map(history_line).collect())
        .unwrap_or_default();
    let comments = history
        .iter()
        .filter(|h| h.action == "comment")
        .map(|h| HistoryLine {
            at_ms: h.at_ms,
            actor: h.actor.clone(),
            action: h.action.clone(),
            change: String::new(),
            comment: h.comment.clone(),
        })
        .collect();
    let evidence = detail["evidence"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| EvidenceLine {
                    kind: text(e, "kind"),
                    name: text(e, "name"),
                    sha256: text(e, "sha256"),
                    note: text(e, "note"),
                    added_by: text(e, "added_by"),
                })
                .collect()
        })
        .unwrap_or_default();
    page(&IncidentPage {
        chrome: Chrome::new(&principal, ""),
        persons: person_lines(&console, &incident),
        case: case_line(&case["case"]),
        timeline,
        teams: run
            .as_ref()
            .map(|r| team_tasks(r, &principal))
            .unwrap_or_default(),
        playbook: run.as_ref().map(|r| r.playbook.clone()).unwrap_or_default(),
        playbook_status: run.as_ref().map(|r| r.status.clone()).unwrap_or_default(),
        evidence,
        comments,
        history,
        team_names: Team::ALL.iter().map(|t| t.key()).collect(),
        may_work: principal.may(Permission::WorkIncidents),
        may_comment: principal.may(Permission::WorkTasks),
        may_export: principal.may(Permission::ReadExports),
        me: principal.name.clone(),
        incident,
    })
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    open: usize,
    total: usize,
    by_domain: String,
    by_category: String,
    events_over_time: Option<String>,
    mttd: String,
    mttr: String,
    measured: usize,
    resolved: usize,
}

/// What the dashboard counts, read in one go off the async threads.
struct DashboardData {
    incidents: Vec<(Incident, Option<onesec_incident::Case>)>,
    events: Vec<onesec_event::Event>,
}

fn minutes(ms: Option<f64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 60_000.0 => format!("{:.0} s", ms / 1000.0),
        Some(ms) if ms < 3_600_000.0 => format!("{:.1} min", ms / 60_000.0),
        Some(ms) => format!("{:.1} h", ms / 3_600_000.0),
    }
}

fn mean(values: &[i64]) -> Option<f64> {
    (!values.is_empty())
        .then(|| values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64)
}

/// Events of the last [`charts::EVENT_WINDOW`] journal ids that `principal` may see.
fn recent_events(
    s: &mut dyn onesec_store::Store,
    last_id: u64,
    principal: &Principal,
) -> Result<Vec<onesec_event::Event>, onesec_store::StoreError> {
    let filter = onesec_store::EventFilter {
        after_id: Some(last_id.saturating_sub(charts::EVENT_WINDOW)),
        limit: Some(charts::EVENT_WINDOW as usize),
        ..Default::default()
    };
    crate::api::events_in_sites(s, filter, &principal.sites)
}

/// `GET /console/dashboard`: incidents by domain and category, MTTD and MTTR, events per domain
/// over time (for roles that read events).
pub(crate) async fn dashboard(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let who = principal.clone();
    let last_id = console.pipeline.status().journal_seq;
    let data = with_store(&console.pipeline, move |s| {
        let filter = onesec_store::IncidentFilter {
            limit: Some(5000),
            ..Default::default()
        };
        let mut incidents = Vec::new();
        for incident in s.incidents(&filter)? {
            if crate::api::sees(&who, &incident.entities) {
                let case = s.case(&incident.id)?;
                incidents.push((incident, case));
            }
        }
        let events = if who.may(Permission::ReadEvents) {
            recent_events(s, last_id, &who)?
        } else {
            Vec::new()
        };
        Ok(DashboardData { incidents, events })
    })
    .await;
    let data = match data {
        Ok(d) => d,
        Err(error) => return failed(&principal, error),
    };
    let mut by_domain: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    let (mut detect, mut repair) = (Vec::new(), Vec::new());
    for (incident, case) in &data.incidents {
        *by_domain
            .entry(incident.domain.as_str().into())
            .or_default() += 1;
        let category = case
            .as_ref()
            .map_or("unclassified", |c| c.category.as_str());
        *by_category.entry(category.into()).or_default() += 1;
        if let Some(case) = case {
            detect.push((case.opened_ms - incident.first_ms).max(0));
            if let Some(resolved) = case.resolved_ms {
                repair.push((resolved - case.opened_ms).max(0));
            }
        }
    }
    let open = data
        .incidents
        .iter()
        .filter(|(i, _)| is_open(i.state))
        .count();
    page(&DashboardPage {
        chrome: Chrome::new(&principal, "/console/dashboard"),
        open,
        total: data.incidents.len(),
        by_domain: charts::bars("Incidents by domain", &by_domain),
        by_category: charts::bars("Incidents by category", &by_category),
        events_over_time: principal
            .may(Permission::ReadEvents)
            .then(|| charts::events_per_domain(&data.events)),
        mttd: minutes(mean(&detect)),
        mttr: minutes(mean(&repair)),
        measured: detect.len(),
        resolved: repair.len(),
    })
}

/// One device of the posture page.
struct DeviceLine {
    id: String,
    kind: String,
    site: String,
    zone: String,
    vendor: String,
    firmware: String,
    score: u32,
    findings: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/devices.html")]
struct DevicesPage {
    chrome: Chrome,
    devices: Vec<DeviceLine>,
}

/// `GET /console/devices`: each device's posture score and findings (the devices API's data).
pub(crate) async fn devices(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let assessment = match crate::devices_api::current(&console.devices).await {
        Ok(a) => a,
        Err(error) => return failed(&principal, error),
    };
    let mut devices: Vec<DeviceLine> = assessment
        .select(&onesec_hygiene::DeviceFilter::default())
        .into_iter()
        .filter(|r| principal.sees_site(r.device.site.as_deref()))
        .map(|r| DeviceLine {
            id: r.device.id.clone(),
            kind: r.device.kind.clone(),
            site: r.device.site.clone().unwrap_or_default(),
            zone: r.device.zone.clone().unwrap_or_default(),
            vendor: [r.device.vendor.as_deref(), r.device.model.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            firmware: r.device.firmware.clone().unwrap_or_default(),
            score: r.score,
            findings: r
                .findings
                .iter()
                .map(|f| {
                    (
                        f.severity.as_str().to_string(),
                        f.check.to_string(),
                        f.title.clone(),
                    )
                })
                .collect(),
        })
        .collect();
    devices.sort_by(|a, b| a.score.cmp(&b.score).then_with(|| a.id.cmp(&b.id)));
    page(&DevicesPage {
        chrome: Chrome::new(&principal, "/console/devices"),
        devices,
    })
}

/// One rule of the rules page.
struct RuleLine {
    source: String,
    title: String,
    hits: u64,
    last_fired_ms: Option<i64>,
}

impl RuleLine {
    fn last_fired(&self) -> String {
        self.last_fired_ms
            .map(super::utc)
            .unwrap_or_else(|| "never".into())
    }
}

#[derive(Template)]
#[template(path = "console/rules.html")]
struct RulesPage {
    chrome: Chrome,
    rules: Vec<RuleLine>,
    rejected: Vec<onesec_pipeline::RejectedRule>,
    alerts_read: usize,
}

/// Alerts read to count rule hits.
const ALERTS_FOR_HITS: usize = 20_000;

/// `GET /console/rules`: rules running (hits and last fired, from the stored alerts) and rules
/// refused with their reason.
pub(crate) async fn rules(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let alerts = match with_store(&console.pipeline, |s| s.alerts(None, ALERTS_FOR_HITS)).await {
        Ok(a) => a,
        Err(error) => return failed(&principal, error),
    };
    let mut hits: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for alert in &alerts {
        let entry = hits.entry(alert.title.as_str()).or_default();
        entry.0 += 1 + alert_repeats(alert);
        entry.1 = entry.1.max(alert.last_ms);
    }
    let report = console.pipeline.rules_report();
    let rules = report
        .loaded
        .iter()
        .map(|line| {
            let (source, title) = line.split_once(": ").unwrap_or(("", line));
            let (count, last) = hits.get(title).copied().unwrap_or_default();
            RuleLine {
                source: source.into(),
                title: title.into(),
                hits: count,
                last_fired_ms: (count > 0).then_some(last),
            }
        })
        .collect();
    page(&RulesPage {
        chrome: Chrome::new(&principal, "/console/rules"),
        rules,
        rejected: report.rejected.clone(),
        alerts_read: alerts.len(),
    })
}

fn alert_repeats(alert: &onesec_incident::Alert) -> u64 {
    alert.repeats
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    /// (name the API takes, label).
    periods: Vec<(&'static str, &'static str)>,
    /// (id, name) of the sites the caller sees.
    sites: Vec<(String, String)>,
    /// The caller sees every site (a site-limited caller must name one).
    all_sites: bool,
}

/// The named periods of `GET /api/v1/reports` (onesec-compliance `period`).
const REPORT_PERIODS: [(&str, &str); 7] = [
    ("last-7-days", "last 7 days"),
    ("last-30-days", "last 30 days"),
    ("this-month", "this month"),
    ("last-month", "last month"),
    ("this-quarter", "this quarter"),
    ("last-quarter", "last quarter"),
    ("last-365-days", "last 365 days"),
];

/// `GET /console/reports`: a form that builds the unified report through `GET /api/v1/reports`
/// (the session cookie counts for reads), for the sites the caller sees.
pub(crate) async fn reports(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let directory = console.pipeline.directory();
    let sites = super::site_plan::visible_sites(&directory, &principal)
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    page(&ReportsPage {
        chrome: Chrome::new(&principal, "/console/reports"),
        periods: REPORT_PERIODS.to_vec(),
        sites,
        all_sites: principal.sites.is_empty(),
    })
}

/// One exercise incident of the exercises page.
struct ExerciseRow {
    id: String,
    title: String,
    domain: &'static str,
    state: &'static str,
    priority: u8,
    team: String,
    opened_ms: i64,
    acknowledged: String,
}

#[derive(Template)]
#[template(path = "console/exercises.html")]
struct ExercisesPage {
    chrome: Chrome,
    rows: Vec<ExerciseRow>,
}

/// `GET /console/exercises`: the incidents of this server classified as exercises (a drill
/// served with `onesec drill run --serve` opens every case so), newest first.
pub(crate) async fn exercises(
    State(console): State<ConsoleState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let who = principal.clone();
    let rows = with_store(&console.pipeline, move |s| {
        let filter = onesec_store::IncidentFilter {
            all: true,
            limit: Some(5000),
            ..Default::default()
        };
        let mut rows = Vec::new();
        for incident in s.incidents(&filter)? {
            if !crate::api::sees(&who, &incident.entities) {
                continue;
            }
            let Some(case) = s.case(&incident.id)? else {
                continue;
            };
            if case.category != onesec_incident::Category::Exercise {
                continue;
            }
            rows.push(ExerciseRow {
                id: incident.id.clone(),
                title: incident.title.clone(),
                domain: incident.domain.as_str(),
                state: incident.state.as_str(),
                priority: case.priority.get(),
                team: case.owner_team.clone(),
                opened_ms: case.opened_ms,
                acknowledged: case
                    .acknowledged
                    .as_ref()
                    .map(|(_, by)| format!("by {by}"))
                    .unwrap_or_else(|| "not yet".into()),
            });
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.opened_ms));
        Ok(rows)
    })
    .await;
    match rows {
        Ok(rows) => page(&ExercisesPage {
            chrome: Chrome::new(&principal, "/console/exercises"),
            rows,
        }),
        Err(error) => failed(&principal, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_letters_of_two_words() {
        assert_eq!(initials("Isla Campbell"), "IC");
        assert_eq!(initials("p-001"), "p");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(minutes(None), "—");
        assert_eq!(minutes(Some(42_000.0)), "42 s");
        assert_eq!(minutes(Some(150_000.0)), "2.5 min");
        assert_eq!(minutes(Some(7_200_000.0)), "2.0 h");
    }

    fn admin() -> Principal {
        Principal {
            name: "ann".into(),
            role: onesec_auth::Role::Admin,
            sites: vec![],
        }
    }

    #[test]
    fn the_queue_page_escapes_what_it_prints_and_offers_filters() {
        let incident: Incident = serde_json::from_value(serde_json::json!({
            "id": "inc-1", "title": "<script>alert(1)</script>", "domain": "hybrid",
            "priority": "high", "state": "new", "alert_ids": [], "active_alerts": 1,
            "entities": {"persons": [], "sites": ["EDI"], "zones": [], "devices": [],
                "hosts": [], "portals": [], "accounts": [], "badges": [], "src_ips": []},
            "first_ms": 0, "last_ms": 0
        }))
        .unwrap();
        let page = QueuePage {
            chrome: Chrome::new(&admin(), "/console"),
            rows: vec![QueueRow::of(&incident, None)],
            total: 1,
            teams: vec!["it_soc".into()],
            sites: vec!["EDI".into()],
            may_work: true,
            me: "ann".into(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
        assert!(html.contains("<option value=\"it_soc\">"));
        assert!(html.contains("class=\"row domain-hybrid p2\""), "{html}");
        assert!(html.contains("aria-current=\"page\""));
    }

    #[test]
    fn the_exercises_page_lists_exercise_incidents_or_says_there_are_none() {
        let empty = ExercisesPage {
            chrome: Chrome::new(&admin(), "/console/exercises"),
            rows: vec![],
        }
        .render()
        .unwrap();
        assert!(empty.contains("No exercise incident on this server."));
        let one = ExercisesPage {
            chrome: Chrome::new(&admin(), "/console/exercises"),
            rows: vec![ExerciseRow {
                id: "inc-9".into(),
                title: "Duress <at> door".into(),
                domain: "hybrid",
                state: "acknowledged",
                priority: 1,
                team: "physical_security".into(),
                opened_ms: 1_000,
                acknowledged: "by ann".into(),
            }],
        }
        .render()
        .unwrap();
        assert!(one.contains("href=\"/console/incidents/inc-9\""), "{one}");
        assert!(!one.contains("Duress <at>"), "escaped: {one}");
        assert!(one.contains("<td>P1</td>") && one.contains("by ann"));
    }

    #[test]
    fn the_reports_page_offers_periods_sites_and_formats() {
        let html = ReportsPage {
            chrome: Chrome::new(&admin(), "/console/reports"),
            periods: REPORT_PERIODS.to_vec(),
            sites: vec![("EDI".into(), "Edinburgh <HQ>".into())],
            all_sites: false,
        }
        .render()
        .unwrap();
        assert!(html.contains("action=\"/api/v1/reports\""), "{html}");
        assert!(html.contains("<option value=\"last-quarter\">last quarter</option>"));
        assert!(
            html.contains("<option value=\"EDI\">Edinburgh &#60;HQ&#62; (EDI)</option>")
                || html.contains("Edinburgh &lt;HQ&gt; (EDI)"),
            "{html}"
        );
        assert!(
            !html.contains("<option value=\"\">all sites</option>"),
            "a site-limited caller must name its site: {html}"
        );
        assert!(html.contains("<option value=\"pdf\">PDF</option>"));
    }

    #[test]
    fn a_history_entry_reads_as_from_to() {
        let entry = serde_json::json!({
            "at_ms": 5, "actor": "ann", "action": "state", "from": "new", "to": "acknowledged",
            "comment": "on it"
        });
        let line = history_line(&entry);
        assert_eq!(line.change, "new → acknowledged");
        assert_eq!(
            (line.actor.as_str(), line.comment.as_str()),
            ("ann", "on it")
        );
    }
}
