//! What a unified report holds, and how it is built from plain inputs (the caller reads the
//! store, the directory, the hygiene checks and the compliance database).

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use onesec_compliance::{Coverage, CoverageStatus, Deadline, Mark, Period, Regime, Submission};
use onesec_event::{Activity, Event};
use onesec_incident::{Case, Category, Incident};
use serde::Serialize;
use std::collections::BTreeMap;

/// The audit-log checkpoint a report was built from: its data can be proven against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRef {
    /// Leaves covered.
    pub size: u64,
    /// Merkle root (hex).
    pub root: String,
    /// When it was signed (UTC ms).
    pub time_ms: i64,
    /// Ed25519 signature (hex).
    pub signature: String,
}

/// The working hours: access outside them is "after hours".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkHours {
    /// Start, minutes after local midnight.
    pub start_min: u32,
    /// End, minutes after local midnight.
    pub end_min: u32,
    /// Saturdays and Sundays are after hours all day.
    pub weekdays_only: bool,
}

impl Default for WorkHours {
    /// 07:00–19:00, Monday to Friday.
    fn default() -> Self {
        WorkHours {
            start_min: 7 * 60,
            end_min: 19 * 60,
            weekdays_only: true,
        }
    }
}

impl WorkHours {
    /// Reads `HH:MM-HH:MM`.
    pub fn parse(text: &str, weekdays_only: bool) -> Option<WorkHours> {
        let (a, b) = text.split_once('-')?;
        let minutes = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60).then_some(h * 60 + m)
        };
        Some(WorkHours {
            start_min: minutes(a)?,
            end_min: minutes(b)?,
            weekdays_only,
        })
    }

    /// Whether `at_ms` is outside working hours in `tz`.
    pub fn is_after_hours(&self, at_ms: i64, tz: Tz) -> bool {
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(at_ms) else {
            return false;
        };
        let local = t.with_timezone(&tz);
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        let minute = local.hour() * 60 + local.minute();
        (self.weekdays_only && weekend) || minute < self.start_min || minute >= self.end_min
    }
}

/// A device posture line (per site).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitePosture {
    /// Site id.
    pub site: String,
    /// Score 0–100.
    pub score: f64,
    /// Devices counted.
    pub devices: usize,
}

/// How a report speaks of people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeopleInReports {
    /// Each access to a restricted zone on its own line, with the person's id and name.
    #[default]
    Named,
    /// No line per access and no one named: counts per zone and door (distinct people,
    /// entries after hours, anomalies). Used with `[privacy.pseudonymisation]`, where the
    /// events name people only by pseudonyms and a management report needs no one's identity.
    Aggregated,
}

/// Everything a report is built from.
pub struct Inputs<'a> {
    /// Whether people are named or only counted.
    pub people: PeopleInReports,
    /// Title on the first page.
    pub title: String,
    /// The site it is limited to, if any.
    pub site: Option<String>,
    /// The period.
    pub period: Period,
    /// Time zone dates are shown in and working hours are counted in.
    pub timezone: Tz,
    /// Working hours.
    pub work_hours: WorkHours,
    /// When it was made (UTC ms).
    pub generated_ms: i64,
    /// Who asked for it (user, token or `schedule <name>`).
    pub generated_by: String,
    /// The audit checkpoint it was built from.
    pub checkpoint: Option<CheckpointRef>,
    /// Incidents of the period (and site) with their cases.
    pub incidents: &'a [(Incident, Option<Case>)],
    /// Physical access events of the period (and site); only restricted zones are reported.
    pub access_events: &'a [Event],
    /// Open hygiene findings.
    pub findings: &'a [onesec_hygiene::Finding],
    /// Posture per site.
    pub postures: Vec<SitePosture>,
    /// Control coverage of the period.
    pub coverage: &'a Coverage,
    /// Incidents marked NIS2-significant or GDPR breaches, with submissions and deadlines.
    pub marks: &'a [Mark],
    /// Their submissions.
    pub submissions: &'a [Submission],
    /// Their deadlines at `generated_ms`.
    pub deadlines: &'a [Deadline],
    /// Drill results recorded for runs that finished in the period.
    pub exercise_results: &'a [onesec_compliance::ExerciseResult],
}

/// One incident line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentRow {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// physical / cyber / hybrid.
    pub domain: String,
    /// Category (unclassified when nobody set one).
    pub category: String,
    /// Life-cycle state.
    pub state: String,
    /// First event (UTC ms).
    pub first_ms: i64,
    /// First event to the case opening (time to detect), ms.
    pub detect_ms: Option<i64>,
    /// Opening to acknowledgement, ms.
    pub acknowledge_ms: Option<i64>,
    /// Opening to resolution, ms.
    pub resolve_ms: Option<i64>,
}

/// The incidents part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentSection {
    /// How many.
    pub total: usize,
    /// Per domain.
    pub by_domain: BTreeMap<String, usize>,
    /// Per category.
    pub by_category: BTreeMap<String, usize>,
    /// Per local day of the first event (`YYYY-MM-DD`).
    pub by_day: BTreeMap<String, usize>,
    /// Per site named (an incident naming two sites counts for each; `(none)` for none).
    pub by_site: BTreeMap<String, usize>,
    /// Median time to detect, acknowledge, resolve (ms), over the incidents that have one.
    pub median_detect_ms: Option<i64>,
    /// See `median_detect_ms`.
    pub median_acknowledge_ms: Option<i64>,
    /// See `median_detect_ms`.
    pub median_resolve_ms: Option<i64>,
    /// Every incident, oldest first.
    pub rows: Vec<IncidentRow>,
}

/// One access to a restricted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    /// When (UTC ms).
    pub at_ms: i64,
    /// When, local.
    pub local_time: String,
    /// Person id and name (or the badge when nobody is known).
    pub who: String,
    /// Zone.
    pub zone: String,
    /// Door.
    pub door: String,
    /// What happened (`access_granted`, `portal_forced`...).
    pub activity: String,
    /// Outside working hours.
    pub after_hours: bool,
    /// What makes it unusual, if anything.
    pub anomaly: Option<String>,
}

/// The accesses at one door of a restricted zone, counted (reports that name no one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorAccess {
    /// Zone.
    pub zone: String,
    /// Door.
    pub door: String,
    /// Accesses and attempts.
    pub events: usize,
    /// Distinct people (by pseudonym) and unknown badges among them.
    pub people: usize,
    /// Entries after hours (granted access outside working hours).
    pub after_hours_entries: usize,
    /// Events with an anomaly.
    pub anomalies: usize,
}

/// The restricted-zone access part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessSection {
    /// Accesses and attempts, oldest first (empty when people are only counted).
    pub rows: Vec<AccessRow>,
    /// Per zone and door, when people are only counted ([`PeopleInReports::Aggregated`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_door: Vec<DoorAccess>,
    /// Entries after hours (granted access outside working hours).
    pub after_hours_entries: usize,
    /// Rows with an anomaly.
    pub anomalies: usize,
}

/// One open device finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// Device.
    pub device: String,
    /// Site.
    pub site: String,
    /// Check id.
    pub check: String,
    /// Severity.
    pub severity: String,
    /// What is wrong.
    pub title: String,
}

/// The device posture part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSection {
    /// Posture per site.
    pub postures: Vec<SitePosture>,
    /// Open findings, most severe first.
    pub findings: Vec<FindingRow>,
}

/// One control line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    /// Control id.
    pub control: String,
    /// Its reference (`A.7.2`).
    pub reference: String,
    /// Its title.
    pub title: String,
    /// evidenced / mapped_no_evidence / not_covered.
    pub status: String,
    /// Rules serving it.
    pub rules: usize,
    /// Playbook steps serving it.
    pub steps: usize,
    /// Device checks serving it.
    pub checks: usize,
    /// Evidence items in the period.
    pub evidence: usize,
}

/// One line of the regulatory register (GDPR Art. 33(5) breach register and NIS2 reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterRow {
    /// Incident.
    pub incident_id: String,
    /// `gdpr` or `nis2`.
    pub regime: String,
    /// Awareness, local.
    pub aware: String,
    /// The incident's title (facts of the breach).
    pub facts: String,
    /// Each stage: due, status, submitted.
    pub reports: Vec<String>,
    /// Reasons given for late submissions.
    pub late_reasons: Vec<String>,
}

/// One drill run of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExerciseRow {
    /// The run.
    pub run_id: String,
    /// Scenario name.
    pub scenario: String,
    /// When it finished (local, to the second).
    pub ran: String,
    /// `passed` or `failed`.
    pub verdict: String,
    /// Expected detections on time, "3 of 4".
    pub detections: String,
    /// Expected detections that never happened.
    pub missed: u32,
    /// Alerts raised by background traffic alone.
    pub false_positives: u32,
    /// Mean time to detect (ms).
    pub mean_detect_ms: Option<i64>,
    /// Playbook tasks on time, "5 of 6".
    pub tasks: String,
    /// What to work on next.
    pub improvements: Vec<String>,
}

/// The exercises part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExerciseSection {
    /// Drill runs recorded for the period (`POST /api/v1/exercises`).
    pub results: Vec<ExerciseRow>,
    /// Incidents of category exercise in the period.
    pub rows: Vec<IncidentRow>,
    /// What the reader should know (in particular when there is nothing).
    pub note: String,
}

/// A unified report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Title.
    pub title: String,
    /// Site, when limited to one.
    pub site: Option<String>,
    /// Period.
    pub period: Period,
    /// Period, local dates.
    pub period_local: String,
    /// Time zone.
    pub timezone: String,
    /// When it was made (UTC ms).
    pub generated_ms: i64,
    /// Who asked for it.
    pub generated_by: String,
    /// The audit checkpoint it was built from.
    pub checkpoint: Option<CheckpointRef>,
    /// Incidents.
    pub incidents: IncidentSection,
    /// Access to restricted zones.
    pub access: AccessSection,
    /// Device posture and open findings.
    pub devices: DeviceSection,
    /// Control coverage.
    pub coverage: Vec<CoverageRow>,
    /// Controls evidenced / mapped without evidence / not covered.
    pub coverage_totals: [usize; 3],
    /// GDPR breach register and NIS2 reports.
    pub register: Vec<RegisterRow>,
    /// Exercise results.
    pub exercises: ExerciseSection,
}

/// Builds the report.
pub fn build(inputs: &Inputs<'_>) -> Report {
    let tz = inputs.timezone;
    let local = |ms: i64| onesec_compliance::clock::local_string(ms, tz);
    let day = |ms: i64| local(ms).get(..10).unwrap_or_default().to_string();
    let (exercise, real): (Vec<_>, Vec<_>) = inputs
        .incidents
        .iter()
        .partition(|(_, case)| case.as_ref().map(|c| c.category) == Some(Category::Exercise));
    Report {
        title: inputs.title.clone(),
        site: inputs.site.clone(),
        period: inputs.period,
        period_local: format!(
            "{} – {}",
            day(inputs.period.from_ms),
            day(inputs.period.to_ms)
        ),
        timezone: tz.name().to_string(),
        generated_ms: inputs.generated_ms,
        generated_by: inputs.generated_by.clone(),
        checkpoint: inputs.checkpoint.clone(),
        incidents: incident_section(&real, &day),
        access: access_section(inputs.access_events, inputs.work_hours, tz, inputs.people),
        devices: device_section(inputs),
        coverage: coverage_rows(inputs.coverage),
        coverage_totals: [
            inputs.coverage.evidenced,
            inputs.coverage.mapped_no_evidence,
            inputs.coverage.not_covered,
        ],
        register: register_rows(inputs, &local),
        exercises: exercise_section(inputs.exercise_results, &exercise, tz),
    }
}

fn incident_row(incident: &Incident, case: Option<&Case>) -> IncidentRow {
    let detect_ms = case.map(|c| (c.opened_ms - incident.first_ms).max(0));
    IncidentRow {
        id: incident.id.clone(),
        title: incident.title.clone(),
        domain: incident.domain.as_str().to_string(),
        category: case
            .map(|c| c.category.as_str().to_string())
            .unwrap_or_else(|| "unclassified".to_string()),
        state: incident.state.as_str().to_string(),
        first_ms: incident.first_ms,
        detect_ms,
        acknowledge_ms: case.and_then(|c| c.acknowledged.as_ref().map(|(at, _)| at - c.opened_ms)),
        resolve_ms: case.and_then(|c| c.resolved_ms.map(|at| at - c.opened_ms)),
    }
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    values
        .get(values.len() / 2)
        .copied()
        .filter(|_| !values.is_empty())
}

fn incident_section(
    incidents: &[&(Incident, Option<Case>)],
    day: &dyn Fn(i64) -> String,
) -> IncidentSection {
    let mut rows: Vec<IncidentRow> = incidents
        .iter()
        .map(|(i, c)| incident_row(i, c.as_ref()))
        .collect();
    rows.sort_by(|a, b| (a.first_ms, &a.id).cmp(&(b.first_ms, &b.id)));
    let mut by_domain = BTreeMap::new();
    let mut by_category = BTreeMap::new();
    let mut by_day = BTreeMap::new();
    let mut by_site: BTreeMap<String, usize> = BTreeMap::new();
    for (incident, _) in incidents {
        if incident.entities.sites.is_empty() {
            *by_site.entry("(none)".to_string()).or_default() += 1;
        }
        for site in &incident.entities.sites {
            *by_site.entry(site.clone()).or_default() += 1;
        }
    }
    for row in &rows {
        *by_domain.entry(row.domain.clone()).or_default() += 1;
        *by_category.entry(row.category.clone()).or_default() += 1;
        *by_day.entry(day(row.first_ms)).or_default() += 1;
    }
    IncidentSection {
        total: rows.len(),
        by_domain,
        by_category,
        by_day,
        by_site,
        median_detect_ms: median(rows.iter().filter_map(|r| r.detect_ms).collect()),
        median_acknowledge_ms: median(rows.iter().filter_map(|r| r.acknowledge_ms).collect()),
        median_resolve_ms: median(rows.iter().filter_map(|r| r.resolve_ms).collect()),
        rows,
    }
}

/// Zone tags that make a zone restricted.
const RESTRICTED_TAGS: [&str; 2] = ["restricted", "server-room"];

fn access_section(
    events: &[Event],
    hours: WorkHours,
    tz: Tz,
    people: PeopleInReports,
) -> AccessSection {
    let mut rows = Vec::new();
    // Who each row is about, for counting distinct people without naming them.
    let mut subjects: Vec<String> = Vec::new();
    for event in events {
        let r = &event.resolved;
        let restricted = r
            .zone_tags
            .iter()
            .any(|t| RESTRICTED_TAGS.contains(&t.as_str()));
        if !restricted || !is_access(event.activity) {
            continue;
        }
        let after_hours = hours.is_after_hours(event.time_ms, tz);
        let who = match (&r.person, &event.actor.badge) {
            (Some(p), _) => format!("{} ({})", p.name, p.id),
            (None, Some(badge)) => format!("unknown badge {badge}"),
            (None, None) => "unknown".to_string(),
        };
        subjects.push(match (&r.person, &event.actor.badge) {
            (Some(p), _) => p.id.clone(),
            (None, Some(badge)) => badge.clone(),
            (None, None) => String::new(),
        });
        rows.push(AccessRow {
            at_ms: event.time_ms,
            local_time: short_local(event.time_ms, tz),
            who,
            zone: r.zone.clone().unwrap_or_default(),
            door: event
                .physical
                .portal
                .clone()
                .or_else(|| r.portal.clone())
                .unwrap_or_default(),
            activity: event.activity.as_str().to_string(),
            after_hours,
            anomaly: anomaly(event, after_hours),
        });
    }
    let after_hours_entries = rows.iter().filter(|r| is_after_hours_entry(r)).count();
    let anomalies = rows.iter().filter(|r| r.anomaly.is_some()).count();
    let by_door = match people {
        PeopleInReports::Named => Vec::new(),
        PeopleInReports::Aggregated => count_by_door(&rows, &subjects),
    };
    if people == PeopleInReports::Aggregated {
        rows.clear();
    } else {
        rows.sort_by_key(|r| r.at_ms);
    }
    AccessSection {
        after_hours_entries,
        anomalies,
        rows,
        by_door,
    }
}

fn is_after_hours_entry(row: &AccessRow) -> bool {
    row.after_hours && row.activity == Activity::AccessGranted.as_str()
}

/// The rows counted per zone and door; `subjects[i]` is who `rows[i]` is about.
fn count_by_door(rows: &[AccessRow], subjects: &[String]) -> Vec<DoorAccess> {
    let mut doors: BTreeMap<(String, String), (DoorAccess, std::collections::BTreeSet<&str>)> =
        BTreeMap::new();
    for (row, subject) in rows.iter().zip(subjects) {
        let (door, who) = doors
            .entry((row.zone.clone(), row.door.clone()))
            .or_insert_with(|| {
                let door = DoorAccess {
                    zone: row.zone.clone(),
                    door: row.door.clone(),
                    events: 0,
                    people: 0,
                    after_hours_entries: 0,
                    anomalies: 0,
                };
                (door, Default::default())
            });
        door.events += 1;
        door.after_hours_entries += usize::from(is_after_hours_entry(row));
        door.anomalies += usize::from(row.anomaly.is_some());
        if !subject.is_empty() {
            who.insert(subject.as_str());
        }
    }
    doors
        .into_values()
        .map(|(mut door, who)| {
            door.people = who.len();
            door
        })
        .collect()
}

fn is_access(activity: Activity) -> bool {
    use Activity::*;
    matches!(
        activity,
        AccessGranted
            | AccessDenied
            | AccessTaken
            | PortalForced
            | PortalHeldOpen
            | Tailgate
            | AntipassbackViolation
            | Duress
    )
}

fn anomaly(event: &Event, after_hours: bool) -> Option<String> {
    use Activity::*;
    let mut why: Vec<String> = Vec::new();
    match event.activity {
        PortalForced => why.push("door forced".into()),
        PortalHeldOpen => why.push("door held open".into()),
        Tailgate => why.push("tailgating".into()),
        AntipassbackViolation => why.push("anti-passback violation".into()),
        Duress => why.push("duress".into()),
        AccessDenied => why.push("denied".into()),
        _ => {}
    }
    if let Some(person) = &event.resolved.person
        && matches!(person.status.as_str(), "terminated" | "leave")
    {
        why.push(format!("person {}", person.status));
    }
    if after_hours {
        why.push("after hours".into());
    }
    (!why.is_empty()).then(|| why.join(", "))
}

fn device_section(inputs: &Inputs<'_>) -> DeviceSection {
    let mut findings: Vec<FindingRow> = inputs
        .findings
        .iter()
        .filter(|f| {
            inputs
                .site
                .as_ref()
                .is_none_or(|s| f.site.as_ref() == Some(s))
        })
        .map(|f| FindingRow {
            device: f.device.clone(),
            site: f.site.clone().unwrap_or_default(),
            check: f.check.to_string(),
            severity: f.severity.as_str().to_string(),
            title: f.title.clone(),
        })
        .collect();
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    findings.sort_by(|a, b| (rank(&a.severity), &a.device).cmp(&(rank(&b.severity), &b.device)));
    DeviceSection {
        postures: inputs.postures.clone(),
        findings,
    }
}

fn coverage_rows(coverage: &Coverage) -> Vec<CoverageRow> {
    coverage
        .controls
        .iter()
        .map(|line| CoverageRow {
            control: line.control.id.clone(),
            reference: format!(
                "{} {}",
                line.control.framework.label(),
                line.control.reference
            ),
            title: line.control.title.clone(),
            status: match line.status {
                CoverageStatus::Evidenced => "evidenced",
                CoverageStatus::MappedNoEvidence => "mapped, no evidence",
                CoverageStatus::NotCovered => "not covered",
            }
            .to_string(),
            rules: line.rules.len(),
            steps: line.steps.len(),
            checks: line.checks.len(),
            evidence: line.evidence_counts.values().sum(),
        })
        .collect()
}

fn register_rows(inputs: &Inputs<'_>, local: &dyn Fn(i64) -> String) -> Vec<RegisterRow> {
    let mut rows = Vec::new();
    for mark in inputs
        .marks
        .iter()
        .filter(|m| inputs.period.contains(m.aware_ms))
    {
        let facts = inputs
            .incidents
            .iter()
            .find(|(i, _)| i.id == mark.incident_id)
            .map(|(i, _)| i.title.clone())
            .unwrap_or_else(|| "(incident outside the report's site or period)".to_string());
        for (regime, marked) in [
            (Regime::Gdpr, mark.gdpr_breach),
            (Regime::Nis2, mark.nis2_significant),
        ] {
            if !marked {
                continue;
            }
            let reports = inputs
                .deadlines
                .iter()
                .filter(|d| d.incident_id == mark.incident_id && d.regime == regime)
                .map(|d| {
                    let status = serde_json::to_value(d.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let sent = d
                        .submitted_ms
                        .map(|at| format!(", sent {}", local(at)))
                        .unwrap_or_default();
                    format!("{}: due {}, {status}{sent}", d.stage.as_str(), d.due_local)
                })
                .collect();
            let late_reasons = inputs
                .submissions
                .iter()
                .filter(|s| s.incident_id == mark.incident_id && s.stage.regime() == regime)
                .filter_map(|s| s.late_reasons.clone())
                .collect();
            rows.push(RegisterRow {
                incident_id: mark.incident_id.clone(),
                regime: if regime == Regime::Gdpr {
                    "gdpr"
                } else {
                    "nis2"
                }
                .to_string(),
                aware: local(mark.aware_ms),
                facts: facts.clone(),
                reports,
                late_reasons,
            });
        }
    }
    rows
}

fn exercise_section(
    results: &[onesec_compliance::ExerciseResult],
    exercises: &[&(Incident, Option<Case>)],
    tz: Tz,
) -> ExerciseSection {
    let results: Vec<ExerciseRow> = results
        .iter()
        .map(|r| ExerciseRow {
            run_id: r.run_id.clone(),
            scenario: r.scenario.clone(),
            ran: short_local(r.ran_ms, tz),
            verdict: if r.passed { "passed" } else { "failed" }.to_string(),
            detections: r.detections_text(),
            missed: r.detections_missed,
            false_positives: r.false_positives,
            mean_detect_ms: r.mean_detect_ms,
            tasks: r.tasks_text(),
            improvements: r.improvements.clone(),
        })
        .collect();
    let rows: Vec<IncidentRow> = exercises
        .iter()
        .map(|(i, c)| incident_row(i, c.as_ref()))
        .collect();
    let note = match (results.len(), rows.len()) {
        (0, 0) => "No exercise results in this period: no drill result was recorded (`onesec drill run --record`) and no incident was classified as exercise.".to_string(),
        (runs, incidents) => {
            let failed = results.iter().filter(|r| r.verdict == "failed").count();
            format!(
                "{runs} drill run(s) recorded, {failed} failed; {incidents} incident(s) classified as exercise (times are those of the drill's response)."
            )
        }
    };
    ExerciseSection {
        results,
        rows,
        note,
    }
}

/// A time for a table: local, to the second, with the offset (`2026-07-01 02:09:46 +02:00`).
pub fn short_local(at_ms: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        })
        .unwrap_or_else(|| format!("{at_ms} ms"))
}

/// A duration for people (`3 h 05 min`, `42 s`).
pub fn duration_text(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600),
    }
}
