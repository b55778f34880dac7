//! The after-action report: JSON (the score and the run) and a self-contained HTML page with an
//! inline SVG timeline of injects, detections, acknowledgements and containment, the per-inject
//! and per-team tables and the improvement list; and the same as PDF, laid out as blocks that
//! the reporting crate (`onesec-report`) draws, with a time-to-detect chart instead of the
//! timeline.

use crate::record::RunRecord;
use crate::scenario::format_duration;
use crate::score::Score;
use onesec_pipeline::export::esc;
use serde::Serialize;
use std::fmt::Write as _;

/// What the JSON report holds.
#[derive(Serialize)]
struct JsonReport<'a> {
    score: &'a Score,
    run: &'a RunRecord,
}

/// The report as JSON: `{"score": ..., "run": ...}`.
pub fn json(score: &Score, record: &RunRecord) -> String {
    serde_json::to_string_pretty(&JsonReport { score, run: record })
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot render the report: {e}\"}}"))
}

fn time(ms: i64) -> String {
    onesec_event::format_time_ms(ms)
}

fn took(ms: Option<i64>) -> String {
    match ms {
        None => "—".to_string(),
        Some(ms) if ms < 0 => format!("already ({} before)", format_duration(-ms)),
        Some(ms) => format_duration(ms),
    }
}

/// The report as one HTML page (no external resources).
pub fn html(score: &Score, record: &RunRecord) -> String {
    let mut h = String::new();
    let verdict = if score.passed { "passed" } else { "needs work" };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>After-action report: {name}</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}.ok{{color:#176317}}.bad{{color:#a11}}\
.banner{{background:#ffe9a8;padding:6px 10px;border:1px solid #d9b64a}}</style></head><body>\
<p class=\"banner\">EXERCISE — every event and incident of this run is marked as exercise; no action was performed.</p>\
<h1>After-action report: {name}</h1><p>Scenario time {from} to {to}, run {pace} in {wall} ms of wall time; \
{events} background events, {alerts} alerts, {incidents} incidents. Verdict: <strong class=\"{class}\">{verdict}</strong>.</p>",
        name = esc(&score.scenario),
        from = time(record.start_ms),
        to = time(record.end_ms),
        pace = esc(&record.pace),
        wall = record.wall_ms,
        events = record.background_events,
        alerts = record.alerts.len(),
        incidents = record.incidents.len(),
        class = if score.passed { "ok" } else { "bad" },
    );
    h.push_str("<h2>Timeline</h2>");
    h.push_str(&timeline_svg(score, record));
    injects_table(&mut h, score);
    teams_table(&mut h, score);
    h.push_str("<h2>Missed detections and false positives</h2><ul>");
    for missed in &score.missed {
        let _ = write!(h, "<li class=\"bad\">missed: {}</li>", esc(missed));
    }
    for fp in &score.false_positives {
        let _ = write!(
            h,
            "<li class=\"bad\">false positive: {} ({}) at {}</li>",
            esc(&fp.rule),
            esc(&fp.title),
            time(fp.seen_ms)
        );
    }
    for rule in &score.also_fired {
        let _ = write!(h, "<li>also fired on the attack: {}</li>", esc(rule));
    }
    if score.missed.is_empty() && score.false_positives.is_empty() {
        h.push_str("<li class=\"ok\">none</li>");
    }
    h.push_str("</ul><h2>Improvements</h2><ol>");
    for item in &score.improvements {
        let _ = write!(h, "<li>{}</li>", esc(item));
    }
    h.push_str("</ol></body></html>\n");
    h
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok" } else { "bad" }
}

fn injects_table(h: &mut String, score: &Score) {
    h.push_str("<h2>Injects</h2><table><tr><th>inject</th><th>time</th><th>ATT&amp;CK</th><th>detections (time to detect)</th><th>team</th><th>acknowledge</th><th>contain</th><th>notify</th><th>result</th></tr>");
    for inject in &score.injects {
        let attack: Vec<String> = inject
            .attack
            .iter()
            .map(|(t, kind)| format!("{} ({kind})", esc(t)))
            .collect();
        let detections: Vec<String> = inject
            .detections
            .iter()
            .map(|d| {
                format!(
                    "<span class=\"{}\">{} {}</span>",
                    mark(d.on_time),
                    esc(&d.rule),
                    took(d.detect_ms)
                )
            })
            .collect();
        let team = match (&inject.team_expected, &inject.team_routed) {
            (Some(e), r) => format!(
                "<span class=\"{}\">{} (expected {})</span>",
                mark(r.as_ref() == Some(e)),
                esc(r.as_deref().unwrap_or("none")),
                esc(e)
            ),
            (None, r) => esc(r.as_deref().unwrap_or("")),
        };
        let limit = |ms: Option<i64>| {
            ms.map(|m| format!(" / {}", format_duration(m)))
                .unwrap_or_default()
        };
        let _ = write!(
            h,
            "<tr><td><strong>{}</strong><br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&inject.id),
            esc(&inject.description),
            time(inject.at_ms),
            attack.join("<br>"),
            if inject.scored {
                detections.join("<br>")
            } else {
                "(context)".into()
            },
            team,
            took(inject.acknowledge_ms),
            limit(inject.acknowledge_within_ms),
            took(inject.contain_ms),
            limit(inject.contain_within_ms),
            took(inject.notify_ms),
            mark(inject.passed),
            if inject.passed { "passed" } else { "failed" },
        );
    }
    h.push_str("</table>");
}

fn teams_table(h: &mut String, score: &Score) {
    h.push_str("<h2>Teams</h2><table><tr><th>team</th><th>incidents owned</th><th>acknowledged</th><th>tasks</th><th>on time</th><th>late, timed out or open</th></tr>");
    for t in &score.teams {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"ok\">{}</td><td class=\"{}\">{}</td></tr>",
            esc(&t.team),
            t.incidents,
            t.acknowledged,
            t.tasks,
            t.on_time,
            mark(t.late_or_open == 0),
            t.late_or_open
        );
    }
    h.push_str("</table>");
}

/// The part of the scenario the timeline shows: from a quarter hour before the first inject to
/// a quarter hour after the last thing that happened (a whole working day would squeeze the
/// attack into a few pixels).
fn window(score: &Score, record: &RunRecord) -> (i64, i64) {
    const MARGIN: i64 = 15 * 60_000;
    let mut times: Vec<i64> = Vec::new();
    for inject in &score.injects {
        times.push(inject.at_ms);
        let after = [inject.acknowledge_ms, inject.contain_ms]
            .into_iter()
            .chain(inject.detections.iter().map(|d| d.detect_ms));
        times.extend(after.flatten().map(|ms| inject.at_ms + ms));
    }
    let first = times.iter().min().copied().unwrap_or(record.start_ms);
    let last = times.iter().max().copied().unwrap_or(record.end_ms);
    (
        (first - MARGIN).max(record.start_ms),
        (last + MARGIN).min(record.end_ms),
    )
}

/// Injects (diamonds), detections (circles), acknowledgements (squares) and containment
/// (triangles) on the scenario's time axis, one row per inject.
fn timeline_svg(score: &Score, record: &RunRecord) -> String {
    let (left, width, row) = (180.0, 860.0, 28.0);
    let rows = score.injects.len().max(1) as f64;
    let height = 40.0 + rows * row;
    let (from, to) = window(score, record);
    let span = (to - from).max(1) as f64;
    let x = |ms: i64| left + ((ms - from) as f64 / span).clamp(0.0, 1.0) * width;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">\
<line x1=\"{left}\" y1=\"{axis}\" x2=\"{end}\" y2=\"{axis}\" stroke=\"#444\"/>",
        w = left + width + 20.0,
        axis = height - 20.0,
        end = left + width
    );
    for k in 0..=4 {
        let ms = from + (span as i64) * k / 4;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(ms),
            height - 6.0,
            esc(&time(ms)[11..16.min(time(ms).len())])
        );
    }
    for (n, inject) in score.injects.iter().enumerate() {
        let y = 20.0 + n as f64 * row;
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text><line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#eee\"/>",
            y + 4.0,
            esc(&inject.id),
            left + width
        );
        let xi = x(inject.at_ms);
        let _ = write!(
            s,
            "<polygon points=\"{},{} {},{} {},{} {},{}\" fill=\"#333\"><title>inject {} at {}</title></polygon>",
            xi,
            y - 6.0,
            xi + 6.0,
            y,
            xi,
            y + 6.0,
            xi - 6.0,
            y,
            esc(&inject.id),
            time(inject.at_ms)
        );
        for d in &inject.detections {
            if let Some(ms) = d.detect_ms {
                let _ = write!(
                    s,
                    "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{}\"><title>{} after {}</title></circle>",
                    x(inject.at_ms + ms),
                    if d.on_time { "#2a7" } else { "#d33" },
                    esc(&d.rule),
                    format_duration(ms)
                );
            }
        }
        if let Some(ms) = inject.acknowledge_ms {
            let xa = x(inject.at_ms + ms);
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"9\" height=\"9\" fill=\"#27c\"><title>acknowledged after {}</title></rect>",
                xa - 4.5,
                y - 4.5,
                format_duration(ms)
            );
        }
        if let Some(ms) = inject.contain_ms {
            let xc = x(inject.at_ms + ms);
            let _ = write!(
                s,
                "<polygon points=\"{},{} {},{} {},{}\" fill=\"#a5c\"><title>contained after {}</title></polygon>",
                xc,
                y - 6.0,
                xc + 6.0,
                y + 5.0,
                xc - 6.0,
                y + 5.0,
                format_duration(ms)
            );
        }
    }
    s.push_str("</svg><p>◆ inject · ● detection (green on time, red late) · ■ acknowledged · ▲ contained</p>");
    s
}

/// The report as PDF: summary, a time-to-detect chart, the inject and team tables, missed
/// detections and false positives, improvements.
pub fn pdf(score: &Score, record: &RunRecord) -> Vec<u8> {
    use onesec_report::chart::BarChart;
    use onesec_report::document::Block;
    let verdict = if score.passed { "passed" } else { "needs work" };
    let mut blocks = vec![
        Block::Para(
            "EXERCISE: every event and incident of this run is marked as exercise; no action was performed."
                .into(),
        ),
        Block::Para(format!(
            "Scenario time {} to {}, run {} in {} ms of wall time; {} background events, {} alerts, {} incidents. Verdict: {verdict}.",
            time(record.start_ms),
            time(record.end_ms),
            record.pace,
            record.wall_ms,
            record.background_events,
            record.alerts.len(),
            record.incidents.len()
        )),
        Block::Chart(BarChart {
            title: "Time to detect per inject (minutes; 0 when not detected)".into(),
            bars: score
                .injects
                .iter()
                .filter(|i| i.scored)
                .map(|i| {
                    let first = i.detections.iter().filter_map(|d| d.detect_ms).min();
                    (i.id.clone(), first.map_or(0.0, |ms| ms as f64 / 60_000.0))
                })
                .collect(),
        }),
        Block::Heading("Injects".into()),
        Block::Table(
            ["inject", "time", "ATT&CK", "detections", "team", "acknowledge", "contain", "notify", "result"]
                .map(String::from)
                .to_vec(),
            score.injects.iter().map(inject_row).collect(),
        ),
        Block::Heading("Teams".into()),
        Block::Table(
            ["team", "incidents", "acknowledged", "tasks", "on time", "late or open"]
                .map(String::from)
                .to_vec(),
            score
                .teams
                .iter()
                .map(|t| {
                    vec![
                        t.team.clone(),
                        t.incidents.to_string(),
                        t.acknowledged.to_string(),
                        t.tasks.to_string(),
                        t.on_time.to_string(),
                        t.late_or_open.to_string(),
                    ]
                })
                .collect(),
        ),
        Block::Heading("Missed detections and false positives".into()),
    ];
    let mut misses: Vec<String> = score
        .missed
        .iter()
        .map(|m| format!("missed: {m}"))
        .collect();
    misses.extend(score.false_positives.iter().map(|fp| {
        format!(
            "false positive: {} ({}) at {}",
            fp.rule,
            fp.title,
            time(fp.seen_ms)
        )
    }));
    if misses.is_empty() {
        misses.push("none".into());
    }
    blocks.extend(misses.into_iter().map(Block::Para));
    blocks.push(Block::Heading("Improvements".into()));
    blocks.extend(
        score
            .improvements
            .iter()
            .enumerate()
            .map(|(n, item)| Block::Para(format!("{}. {item}", n + 1))),
    );
    onesec_report::pdf::render_blocks(&format!("After-action report: {}", score.scenario), &blocks)
}

fn inject_row(inject: &crate::score::InjectScore) -> Vec<String> {
    let detections = if inject.scored {
        inject
            .detections
            .iter()
            .map(|d| format!("{} {}", d.rule, took(d.detect_ms)))
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        "(context)".into()
    };
    vec![
        inject.id.clone(),
        time(inject.at_ms),
        inject
            .attack
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        detections,
        inject.team_routed.clone().unwrap_or_default(),
        took(inject.acknowledge_ms),
        took(inject.contain_ms),
        took(inject.notify_ms),
        if inject.passed { "passed" } else { "failed" }.into(),
    ]
}
