//! Scoring a run against its scenario: per inject, the time to detect (each expected rule),
//! acknowledge and contain; per team, the playbook tasks done on time; missed detections, false
//! positives (alerts the background alone raised) and an improvement list. A pure function of
//! the scenario and the [`RunRecord`].

use crate::record::{IncidentRun, RunRecord, TaskRun};
use crate::scenario::{Checked, Inject, format_duration, parse_duration, technique_kind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One expected rule on one inject.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionScore {
    /// Rule name or id as the scenario wrote it.
    pub rule: String,
    /// The alert that matched, if any.
    pub alert_id: Option<String>,
    /// Time to detect from the inject (ms), if detected.
    pub detect_ms: Option<i64>,
    /// Whether it was detected within the expected time.
    pub on_time: bool,
}

/// How one inject was handled.
#[derive(Debug, Clone, Serialize)]
pub struct InjectScore {
    /// Inject id.
    pub id: String,
    /// What happened.
    pub description: String,
    /// Scenario time (UTC ms).
    pub at_ms: i64,
    /// ATT&CK techniques with their matrix (`enterprise`, `ics`).
    pub attack: Vec<(String, String)>,
    /// Whether it expected anything (context injects are not scored).
    pub scored: bool,
    /// Expected rules and what became of each.
    pub detections: Vec<DetectionScore>,
    /// Time allowed to detect (ms).
    pub detect_within_ms: Option<i64>,
    /// The incident that holds its first detection.
    pub incident: Option<String>,
    /// Team expected to own it.
    pub team_expected: Option<String>,
    /// Team it was routed to.
    pub team_routed: Option<String>,
    /// Time to acknowledge from the inject (ms).
    pub acknowledge_ms: Option<i64>,
    /// Allowed (ms).
    pub acknowledge_within_ms: Option<i64>,
    /// Time to contain from the inject (ms): the owner team's first task done.
    pub contain_ms: Option<i64>,
    /// Allowed (ms).
    pub contain_within_ms: Option<i64>,
    /// Time until the first notification step of the playbook ran (regulatory and
    /// management drafts), from the inject (ms).
    pub notify_ms: Option<i64>,
    /// Every expectation met.
    pub passed: bool,
}

/// Playbook tasks of one team.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TeamScore {
    /// Team.
    pub team: String,
    /// Tasks it was given.
    pub tasks: usize,
    /// Done (approved or rejected) before their deadline.
    pub on_time: usize,
    /// Done after the deadline, timed out, or still open.
    pub late_or_open: usize,
    /// Incidents it owned.
    pub incidents: usize,
    /// Of those, acknowledged.
    pub acknowledged: usize,
}

/// An alert no inject explains (the background alone raised it).
#[derive(Debug, Clone, Serialize)]
pub struct FalsePositive {
    /// Rule name (or id).
    pub rule: String,
    /// Rule title.
    pub title: String,
    /// When it was seen.
    pub seen_ms: i64,
}

/// The score of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// Scenario name.
    pub scenario: String,
    /// Every scored inject passed, no false positive, nothing refused, everything marked as
    /// exercise and no action performed.
    pub passed: bool,
    /// Per inject.
    pub injects: Vec<InjectScore>,
    /// Per team.
    pub teams: Vec<TeamScore>,
    /// `inject: rule` for every expected detection that did not happen.
    pub missed: Vec<String>,
    /// Alerts raised by background traffic alone.
    pub false_positives: Vec<FalsePositive>,
    /// Rules that fired on inject records without being expected (not a failure).
    pub also_fired: Vec<String>,
    /// Defects of the run itself: refused records, unmarked events, performed actions.
    pub problems: Vec<String>,
    /// What to work on next.
    pub improvements: Vec<String>,
}

/// Scores a run.
pub fn score(checked: &Checked, record: &RunRecord) -> Score {
    let inject_events: BTreeMap<&str, BTreeSet<u64>> = record
        .injects
        .iter()
        .map(|i| (i.id.as_str(), i.event_ids.iter().copied().collect()))
        .collect();
    let all_inject_events: BTreeSet<u64> = inject_events.values().flatten().copied().collect();
    let injects: Vec<InjectScore> = checked
        .scenario
        .injects
        .iter()
        .map(|inject| score_inject(checked, record, inject, &inject_events))
        .collect();
    let expected: BTreeSet<&str> = checked
        .scenario
        .injects
        .iter()
        .filter_map(|i| i.expect.as_ref())
        .flat_map(|e| e.detections.iter().map(String::as_str))
        .collect();
    let mut false_positives = Vec::new();
    let mut also_fired = BTreeSet::new();
    for seen in &record.alerts {
        let alert = &seen.alert;
        let name = record.rule_name(alert).to_string();
        let from_inject = alert
            .event_ids
            .iter()
            .any(|e| all_inject_events.contains(e));
        if !from_inject {
            false_positives.push(FalsePositive {
                rule: name,
                title: alert.title.clone(),
                seen_ms: seen.seen_ms,
            });
        } else if !expected.contains(name.as_str()) && !expected.contains(alert.rule_id.as_str()) {
            also_fired.insert(name);
        }
    }
    let problems = problems(record);
    let teams = team_scores(record);
    let missed: Vec<String> = injects
        .iter()
        .flat_map(|i| {
            i.detections
                .iter()
                .filter(|d| d.detect_ms.is_none())
                .map(move |d| format!("{}: {}", i.id, d.rule))
        })
        .collect();
    let passed =
        injects.iter().all(|i| i.passed) && false_positives.is_empty() && problems.is_empty();
    let mut score = Score {
        scenario: record.scenario.clone(),
        passed,
        injects,
        teams,
        missed,
        false_positives,
        also_fired: also_fired.into_iter().collect(),
        problems,
        improvements: Vec::new(),
    };
    score.improvements = improvements(&score);
    score
}

fn score_inject(
    checked: &Checked,
    record: &RunRecord,
    inject: &Inject,
    inject_events: &BTreeMap<&str, BTreeSet<u64>>,
) -> InjectScore {
    let at_ms = crate::inject::inject_time(checked, inject);
    let own = inject_events.get(inject.id.as_str());
    let attack = inject
        .attack
        .iter()
        .map(|t| (t.clone(), technique_kind(t).unwrap_or("?").to_string()))
        .collect();
    let mut out = InjectScore {
        id: inject.id.clone(),
        description: inject.description.clone(),
        at_ms,
        attack,
        scored: inject.expect.is_some(),
        detections: Vec::new(),
        detect_within_ms: None,
        incident: None,
        team_expected: None,
        team_routed: None,
        acknowledge_ms: None,
        acknowledge_within_ms: None,
        contain_ms: None,
        contain_within_ms: None,
        notify_ms: None,
        passed: true,
    };
    let Some(expect) = &inject.expect else {
        return out;
    };
    let within = parse_duration(&expect.within).unwrap_or(0);
    out.detect_within_ms = Some(within);
    for rule in &expect.detections {
        let hit = record.alerts.iter().find(|seen| {
            let a = &seen.alert;
            (record.rule_name(a) == rule || a.rule_id == *rule)
                && own.is_some_and(|ids| a.event_ids.iter().any(|e| ids.contains(e)))
        });
        let detect_ms = hit.map(|s| (s.seen_ms - at_ms).max(0));
        out.detections.push(DetectionScore {
            rule: rule.clone(),
            alert_id: hit.map(|s| s.alert.id.clone()),
            detect_ms,
            on_time: detect_ms.is_some_and(|d| d <= within),
        });
        if out.incident.is_none() {
            out.incident = hit.and_then(|s| incident_of(record, &s.alert.id));
        }
    }
    let incident = out
        .incident
        .as_deref()
        .and_then(|id| record.incidents.iter().find(|i| i.incident.id == id));
    out.team_expected = expect.team.clone();
    out.team_routed = incident.and_then(|i| i.case.as_ref().map(|c| c.owner_team.clone()));
    out.acknowledge_within_ms = expect
        .acknowledge_within
        .as_deref()
        .and_then(parse_duration);
    out.contain_within_ms = expect.contain_within.as_deref().and_then(parse_duration);
    if let Some(incident) = incident {
        out.acknowledge_ms = incident
            .case
            .as_ref()
            .and_then(|c| c.acknowledged.as_ref())
            .map(|(t, _)| t - at_ms);
        let team = expect.team.clone().or_else(|| out.team_routed.clone());
        out.contain_ms = contained(incident, team.as_deref()).map(|t| t - at_ms);
        out.notify_ms = incident.notified_ms.map(|t| t - at_ms);
    }
    let in_time = |took: Option<i64>, allowed: Option<i64>| match allowed {
        None => true,
        Some(limit) => took.is_some_and(|t| t <= limit),
    };
    out.passed = out.detections.iter().all(|d| d.on_time)
        && expect
            .team
            .as_ref()
            .is_none_or(|t| out.team_routed.as_ref() == Some(t))
        && in_time(out.acknowledge_ms, out.acknowledge_within_ms)
        && in_time(out.contain_ms, out.contain_within_ms);
    out
}

/// The incident (after merges) that holds the alert.
fn incident_of(record: &RunRecord, alert_id: &str) -> Option<String> {
    let holding = record
        .incidents
        .iter()
        .find(|i| i.incident.alert_ids.iter().any(|a| a == alert_id))?;
    let mut id = holding.incident.id.clone();
    // Follow merges to the incident that was worked.
    for _ in 0..8 {
        let next = record
            .incidents
            .iter()
            .find(|i| i.incident.id == id)
            .and_then(|i| i.incident.merged_into.clone());
        match next {
            Some(n) => id = n,
            None => break,
        }
    }
    Some(id)
}

/// When the team's first task of the incident was approved (containment confirmed).
fn contained(incident: &IncidentRun, team: Option<&str>) -> Option<i64> {
    incident
        .tasks
        .iter()
        .filter(|t| team.is_none_or(|team| t.team == team) && t.state == "approved")
        .filter_map(|t| t.decided_ms)
        .min()
}

fn team_scores(record: &RunRecord) -> Vec<TeamScore> {
    let mut teams: BTreeMap<String, TeamScore> = BTreeMap::new();
    fn of<'a>(teams: &'a mut BTreeMap<String, TeamScore>, team: &str) -> &'a mut TeamScore {
        teams.entry(team.to_string()).or_insert_with(|| TeamScore {
            team: team.to_string(),
            ..TeamScore::default()
        })
    }
    for incident in &record.incidents {
        if let Some(case) = &incident.case {
            let t = of(&mut teams, &case.owner_team);
            t.incidents += 1;
            t.acknowledged += usize::from(case.acknowledged.is_some());
        }
        for task in &incident.tasks {
            let t = of(&mut teams, &task.team);
            t.tasks += 1;
            if done_on_time(task) {
                t.on_time += 1;
            } else {
                t.late_or_open += 1;
            }
        }
    }
    teams.into_values().collect()
}

/// Approved or rejected, and before its deadline if it had one.
fn done_on_time(task: &TaskRun) -> bool {
    matches!(task.state.as_str(), "approved" | "rejected")
        && match (task.decided_ms, task.deadline_ms) {
            (Some(done), Some(deadline)) => done <= deadline,
            (Some(_), None) => true,
            _ => false,
        }
}

fn problems(record: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    for inject in &record.injects {
        for refused in &inject.refused {
            out.push(format!("inject {}: record refused: {refused}", inject.id));
        }
    }
    for refused in record.background_refused.iter().take(5) {
        out.push(format!("background record refused: {refused}"));
    }
    if record.unmarked_events > 0 {
        out.push(format!(
            "{} event(s) are not marked as exercise",
            record.unmarked_events
        ));
    }
    for incident in &record.incidents {
        if let Some(case) = &incident.case
            && case.category != onesec_incident::Category::Exercise
        {
            out.push(format!(
                "incident {} is not categorised exercise",
                incident.incident.id
            ));
        }
        for action in &incident.actions {
            if action.mode != "exercise" || action.outcome != "simulated" {
                out.push(format!(
                    "incident {}: action {:?} was {} ({}), not simulated",
                    incident.incident.id, action.command, action.outcome, action.mode
                ));
            }
        }
    }
    out
}

fn improvements(score: &Score) -> Vec<String> {
    let mut out = Vec::new();
    let d = |ms: i64| format_duration(ms);
    for inject in &score.injects {
        for det in &inject.detections {
            match det.detect_ms {
                None => out.push(format!(
                    "Inject {}: rule {} never fired. Check the rule's log source against the inject's records, or add a rule for {}.",
                    inject.id,
                    det.rule,
                    inject.attack.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
                )),
                Some(took) if !det.on_time => out.push(format!(
                    "Inject {}: rule {} fired after {}, expected within {}: shorten its correlation window or send the source's events sooner.",
                    inject.id,
                    det.rule,
                    d(took),
                    d(inject.detect_within_ms.unwrap_or(0))
                )),
                Some(_) => {}
            }
        }
        if let (Some(expected), routed) = (&inject.team_expected, &inject.team_routed)
            && routed.as_ref() != Some(expected)
        {
            out.push(format!(
                "Inject {}: the incident went to {}, expected {}: add a [[response.route]] rule for it.",
                inject.id,
                routed.as_deref().unwrap_or("no team"),
                expected
            ));
        }
        let queue = format!(
            "check who watches the {} queue",
            inject.team_routed.as_deref().unwrap_or("owner team's")
        );
        let steps = [
            (
                inject.acknowledge_ms,
                inject.acknowledge_within_ms,
                "acknowledged",
                "nobody acknowledged the incident",
                queue.as_str(),
            ),
            (
                inject.contain_ms,
                inject.contain_within_ms,
                "contained",
                "containment was never confirmed",
                "rehearse the playbook's containment branch",
            ),
        ];
        for (took, limit, done, never, advice) in steps {
            let Some(limit) = limit else { continue };
            match took {
                None if inject.incident.is_some() => out.push(format!(
                    "Inject {}: {never} (expected within {}).",
                    inject.id,
                    d(limit)
                )),
                Some(took) if took > limit => out.push(format!(
                    "Inject {}: {done} after {}, expected within {}: {advice}.",
                    inject.id,
                    d(took),
                    d(limit)
                )),
                _ => {}
            }
        }
    }
    for team in &score.teams {
        if team.late_or_open > 0 {
            out.push(format!(
                "Team {}: {} of {} playbook tasks were late, timed out or left open.",
                team.team, team.late_or_open, team.tasks
            ));
        }
    }
    let mut noisy: BTreeMap<&str, usize> = BTreeMap::new();
    for fp in &score.false_positives {
        *noisy.entry(fp.rule.as_str()).or_default() += 1;
    }
    for (rule, count) in noisy {
        out.push(format!(
            "Rule {rule} fired {count} time(s) on everyday traffic alone: tune it or document the false positive."
        ));
    }
    for problem in &score.problems {
        out.push(format!("Fix the exercise itself: {problem}."));
    }
    if out.is_empty() {
        out.push(
            "Every expectation was met: make the next exercise harder (shorter SLAs, no scripted trainees, a noisier background)."
                .into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{InjectRun, SeenAlert};
    use crate::scenario::Scenario;

    const SCENARIO: &str = r#"
name: Unit
directory: { people_csv: "person_id,name,department,status,accounts,badges,home_site\n", sites_yaml: "sites: []\n" }
start: 2026-05-05T00:00:00Z
duration: 1h
injects:
  - id: i1
    at: 10m
    attack: [T1110]
    format: syslog
    lines: ["x"]
    expect: { detections: [rule_expected], within: 1m }
"#;

    fn alert(id: &str, rule: &str, events: &[u64]) -> onesec_incident::Alert {
        serde_json::from_value(serde_json::json!({
            "id": id, "rule_id": rule, "title": rule, "severity": "medium", "domain": "cyber",
            "status": "active", "event_ids": events, "first_ms": 0, "last_ms": 0,
            "entities": onesec_incident::Entities::default(),
        }))
        .unwrap()
    }

    fn record(alerts: Vec<SeenAlert>) -> RunRecord {
        RunRecord {
            scenario: "Unit".into(),
            start_ms: 0,
            end_ms: 0,
            pace: String::new(),
            injects: vec![InjectRun {
                id: "i1".into(),
                at_ms: 0,
                event_ids: vec![1, 2],
                refused: Vec::new(),
            }],
            background_events: 10,
            background_refused: Vec::new(),
            alerts,
            incidents: Vec::new(),
            unmarked_events: 0,
            rule_names: [("r-exp", "rule_expected"), ("r-noise", "rule_noisy")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            wall_ms: 0,
        }
    }

    #[test]
    fn an_alert_from_background_alone_is_a_false_positive() {
        let checked = Scenario::parse(SCENARIO, std::path::Path::new("unit.yaml")).unwrap();
        let at = checked.start_ms + 10 * 60_000;
        let seen = |alert, after| SeenAlert {
            alert,
            seen_ms: at + after,
        };
        let record = record(vec![
            seen(alert("a1", "r-exp", &[2, 9]), 30_000),
            seen(alert("a2", "r-noise", &[7]), 90_000),
        ]);
        let score = score(&checked, &record);
        assert_eq!(score.injects[0].detections[0].detect_ms, Some(30_000));
        assert!(score.injects[0].passed);
        assert_eq!(score.false_positives.len(), 1);
        assert_eq!(score.false_positives[0].rule, "rule_noisy");
        assert!(!score.passed);
        assert!(
            score
                .improvements
                .iter()
                .any(|i| i.contains("rule_noisy fired 1 time(s) on everyday traffic")),
            "{:?}",
            score.improvements
        );
    }

    #[test]
    fn a_detection_after_its_window_is_late_and_one_on_other_events_does_not_count() {
        let checked = Scenario::parse(SCENARIO, std::path::Path::new("unit.yaml")).unwrap();
        let at = checked.start_ms + 10 * 60_000;
        let late = record(vec![SeenAlert {
            alert: alert("a1", "r-exp", &[1]),
            seen_ms: at + 5 * 60_000,
        }]);
        let score_late = score(&checked, &late);
        assert_eq!(score_late.injects[0].detections[0].detect_ms, Some(300_000));
        assert!(!score_late.injects[0].detections[0].on_time);
        assert!(score_late.improvements[0].contains("fired after 5m, expected within 1m"));
        // The expected rule fired, but on background events only: missed (and a false positive).
        let elsewhere = record(vec![SeenAlert {
            alert: alert("a1", "r-exp", &[8]),
            seen_ms: at,
        }]);
        let score_elsewhere = score(&checked, &elsewhere);
        assert_eq!(score_elsewhere.missed, ["i1: rule_expected"]);
        assert_eq!(score_elsewhere.false_positives.len(), 1);
    }
}
