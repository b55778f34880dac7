//! The report laid out once as blocks (headings, paragraphs, tables, charts) that the HTML
//! and PDF renderers both draw, so the two formats say the same thing.

use crate::chart::BarChart;
use crate::model::{Report, duration_text};

/// One block of the laid-out report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph.
    Para(String),
    /// A table: header cells and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A bar chart.
    Chart(BarChart),
}

fn opt_duration(ms: Option<i64>) -> String {
    ms.map(duration_text).unwrap_or_else(|| "—".to_string())
}

fn chart(title: &str, bars: impl IntoIterator<Item = (String, f64)>) -> Block {
    Block::Chart(BarChart {
        title: title.to_string(),
        bars: bars.into_iter().collect(),
    })
}

/// The report as blocks, in reading order.
pub fn blocks(report: &Report) -> Vec<Block> {
    let mut out = vec![Block::Para(provenance(report))];
    incidents(report, &mut out);
    access(report, &mut out);
    devices(report, &mut out);
    coverage(report, &mut out);
    register(report, &mut out);
    exercises(report, &mut out);
    out
}

fn exercises(report: &Report, out: &mut Vec<Block>) {
    let section = &report.exercises;
    out.push(Block::Heading("Exercises".into()));
    out.push(Block::Para(section.note.clone()));
    if !section.results.is_empty() {
        out.push(exercise_table(&section.results));
        let improvements: Vec<String> = section
            .results
            .iter()
            .flat_map(|r| {
                r.improvements
                    .iter()
                    .map(|i| format!("{}: {i}", r.scenario))
            })
            .collect();
        if !improvements.is_empty() {
            out.push(Block::Para(format!(
                "To work on: {}",
                improvements.join("; ")
            )));
        }
    }
    if !section.rows.is_empty() {
        out.push(incident_table(&section.rows));
    }
}

fn exercise_table(rows: &[crate::model::ExerciseRow]) -> Block {
    Block::Table(
        [
            "scenario",
            "ran",
            "verdict",
            "detected on time",
            "missed",
            "false positives",
            "mean detect",
            "tasks on time",
        ]
        .map(String::from)
        .to_vec(),
        rows.iter()
            .map(|r| {
                vec![
                    r.scenario.clone(),
                    r.ran.clone(),
                    r.verdict.clone(),
                    r.detections.clone(),
                    r.missed.to_string(),
                    r.false_positives.to_string(),
                    opt_duration(r.mean_detect_ms),
                    r.tasks.clone(),
                ]
            })
            .collect(),
    )
}

/// Where the report comes from: period, site, who, and the audit checkpoint.
pub fn provenance(report: &Report) -> String {
    let site = report.site.as_deref().unwrap_or("all sites");
    let local = |ms: i64| match onesec_compliance::clock::parse_timezone(&report.timezone) {
        Ok(tz) => onesec_compliance::clock::local_string(ms, tz),
        Err(_) => format!("{ms} ms"),
    };
    let checkpoint = match &report.checkpoint {
        Some(c) => format!(
            "Built from audit-log checkpoint {} (root {}, signed {}).",
            c.size,
            c.root,
            local(c.time_ms)
        ),
        None => "No audit-log checkpoint: the audit log is off, so this report's source data cannot be proven.".to_string(),
    };
    format!(
        "Period {} ({}), {site}. Generated {} by {}. {checkpoint}",
        report.period_local,
        report.timezone,
        local(report.generated_ms),
        report.generated_by
    )
}

fn incident_table(rows: &[crate::model::IncidentRow]) -> Block {
    Block::Table(
        [
            "incident",
            "title",
            "domain",
            "category",
            "state",
            "detect",
            "acknowledge",
            "resolve",
        ]
        .map(String::from)
        .to_vec(),
        rows.iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.title.clone(),
                    r.domain.clone(),
                    r.category.clone(),
                    r.state.clone(),
                    opt_duration(r.detect_ms),
                    opt_duration(r.acknowledge_ms),
                    opt_duration(r.resolve_ms),
                ]
            })
            .collect(),
    )
}

fn incidents(report: &Report, out: &mut Vec<Block>) {
    let s = &report.incidents;
    out.push(Block::Heading("Incidents".into()));
    out.push(Block::Para(format!(
        "{} incident(s). Median time to detect {}, to acknowledge {}, to resolve {}.",
        s.total,
        opt_duration(s.median_detect_ms),
        opt_duration(s.median_acknowledge_ms),
        opt_duration(s.median_resolve_ms)
    )));
    if s.total == 0 {
        return;
    }
    out.push(chart(
        "Incidents by domain",
        s.by_domain.iter().map(|(k, v)| (k.clone(), *v as f64)),
    ));
    if s.by_site.len() > 1 {
        out.push(chart(
            "Incidents per site",
            s.by_site.iter().map(|(k, v)| (k.clone(), *v as f64)),
        ));
    }
    out.push(chart(
        "Incidents per day",
        s.by_day
            .iter()
            .map(|(k, v)| (k.get(5..).unwrap_or(k).to_string(), *v as f64)),
    ));
    out.push(Block::Table(
        vec!["category".into(), "incidents".into()],
        s.by_category
            .iter()
            .map(|(k, v)| vec![k.clone(), v.to_string()])
            .collect(),
    ));
    out.push(incident_table(&s.rows));
}

fn access(report: &Report, out: &mut Vec<Block>) {
    let a = &report.access;
    out.push(Block::Heading("Access to restricted zones".into()));
    out.push(Block::Para(format!(
        "{} access event(s) at doors of restricted zones; {} entr(ies) after hours; {} with an anomaly.",
        a.rows.len(),
        a.after_hours_entries,
        a.anomalies
    )));
    if !a.by_door.is_empty() {
        out.push(Block::Para(
            "People are counted, not named (pseudonymisation is on).".into(),
        ));
        out.push(Block::Table(
            [
                "zone",
                "door",
                "events",
                "people",
                "after hours",
                "anomalies",
            ]
            .map(String::from)
            .to_vec(),
            a.by_door
                .iter()
                .map(|d| {
                    vec![
                        d.zone.clone(),
                        d.door.clone(),
                        d.events.to_string(),
                        d.people.to_string(),
                        d.after_hours_entries.to_string(),
                        d.anomalies.to_string(),
                    ]
                })
                .collect(),
        ));
    }
    if a.rows.is_empty() {
        return;
    }
    out.push(Block::Table(
        ["when", "who", "zone", "door", "what", "anomaly"]
            .map(String::from)
            .to_vec(),
        a.rows
            .iter()
            .map(|r| {
                vec![
                    r.local_time.clone(),
                    r.who.clone(),
                    r.zone.clone(),
                    r.door.clone(),
                    r.activity.clone(),
                    r.anomaly.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    ));
}

fn devices(report: &Report, out: &mut Vec<Block>) {
    let d = &report.devices;
    out.push(Block::Heading("Device posture and open findings".into()));
    if !d.postures.is_empty() {
        out.push(chart(
            "Posture score per site (0-100)",
            d.postures.iter().map(|p| (p.site.clone(), p.score)),
        ));
    }
    out.push(Block::Para(format!(
        "{} open finding(s).",
        d.findings.len()
    )));
    if !d.findings.is_empty() {
        out.push(Block::Table(
            ["device", "site", "check", "severity", "finding"]
                .map(String::from)
                .to_vec(),
            d.findings
                .iter()
                .map(|f| {
                    vec![
                        f.device.clone(),
                        f.site.clone(),
                        f.check.clone(),
                        f.severity.clone(),
                        f.title.clone(),
                    ]
                })
                .collect(),
        ));
    }
}

fn coverage(report: &Report, out: &mut Vec<Block>) {
    let [evidenced, mapped, none] = report.coverage_totals;
    out.push(Block::Heading("Control coverage".into()));
    out.push(Block::Para(format!(
        "{evidenced} control(s) with evidence in the period, {mapped} served by rules, checks or steps but without evidence, {none} not covered by onesec."
    )));
    out.push(chart(
        "Controls by coverage",
        [
            ("evidenced".to_string(), evidenced as f64),
            ("no evidence".to_string(), mapped as f64),
            ("not covered".to_string(), none as f64),
        ],
    ));
    out.push(Block::Table(
        [
            "control",
            "reference",
            "title",
            "status",
            "rules",
            "steps",
            "checks",
            "evidence",
        ]
        .map(String::from)
        .to_vec(),
        report
            .coverage
            .iter()
            .map(|c| {
                vec![
                    c.control.clone(),
                    c.reference.clone(),
                    c.title.clone(),
                    c.status.clone(),
                    c.rules.to_string(),
                    c.steps.to_string(),
                    c.checks.to_string(),
                    c.evidence.to_string(),
                ]
            })
            .collect(),
    ));
}

fn register(report: &Report, out: &mut Vec<Block>) {
    out.push(Block::Heading(
        "Breach register (GDPR Art. 33(5)) and NIS2 reports".into(),
    ));
    if report.register.is_empty() {
        out.push(Block::Para(
            "No incident of the period was marked a personal data breach or a significant incident."
                .into(),
        ));
        return;
    }
    out.push(Block::Table(
        [
            "incident",
            "regime",
            "aware",
            "facts",
            "reports",
            "reasons if late",
        ]
        .map(String::from)
        .to_vec(),
        report
            .register
            .iter()
            .map(|r| {
                vec![
                    r.incident_id.clone(),
                    r.regime.clone(),
                    r.aware.clone(),
                    r.facts.clone(),
                    r.reports.join("; "),
                    r.late_reasons.join("; "),
                ]
            })
            .collect(),
    ));
}
