//! How long a unified report takes to build and render for a large quarter: seeded synthetic
//! incidents (with cases) and restricted-zone access events, every format.
//!
//! `cargo run --release -p onesec-report --example report_bench -- [INCIDENTS] [EVENTS] [RUNS]`
//! (defaults 5 000 incidents, 200 000 access events, 5 runs); prints the median of the runs
//! per step. Results: docs/benchmarks.md, "Unified reports". With `REPORT_BENCH_OUT=DIR` the
//! last run's files are written there (`bench.html`, `bench.pdf`...) to look at.

use chrono_tz::Tz;
use onesec_compliance::mapping::{check_mappings, platform_mappings};
use onesec_compliance::{Catalogue, Period, coverage};
use onesec_event::{Activity, Event, EventClass, PersonRef};
use onesec_incident::{Case, Incident, SlaPolicy};
use onesec_report::{Format, Inputs, SitePosture, WorkHours, build, render};
use std::time::Instant;

const FROM: i64 = 1_782_864_000_000; // 2026-07-01T00:00:00Z
const QUARTER_MS: i64 = 92 * 86_400_000;

/// xorshift64*: the same input on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n.max(1)) as i64
    }
}

fn incidents(n: usize, rng: &mut Seeded) -> Vec<(Incident, Option<Case>)> {
    let domains = ["physical", "cyber", "hybrid"];
    (0..n)
        .map(|i| {
            let first = FROM + rng.below(QUARTER_MS as u64);
            let incident: Incident = serde_json::from_value(serde_json::json!({
                "id": format!("inc-{i:06}"), "title": format!("Synthetic incident {i}"),
                "domain": domains[i % 3], "priority": "high", "state": "resolved",
                "alert_ids": [format!("al-{i}")], "active_alerts": 1,
                "entities": {"persons": [], "sites": [format!("site-{}", i % 4)], "zones": [], "devices": [],
                             "hosts": [], "portals": [], "accounts": [], "badges": [], "src_ips": []},
                "first_ms": first, "last_ms": first + 60_000
            }))
            .expect("incident");
            let mut case = Case::open(&incident, &[], &SlaPolicy::default(), first + rng.below(120_000));
            let acked = case.opened_ms + rng.below(3_600_000);
            case.state_changed(onesec_incident::IncidentState::Acknowledged, "bench", acked);
            case.state_changed(onesec_incident::IncidentState::Resolved, "bench", acked + rng.below(86_400_000));
            (incident, Some(case))
        })
        .collect()
}

fn events(n: usize, rng: &mut Seeded) -> Vec<Event> {
    let activities = [
        Activity::AccessGranted,
        Activity::AccessGranted,
        Activity::AccessDenied,
        Activity::PortalHeldOpen,
    ];
    (0..n)
        .map(|i| {
            let mut event = Event::new(
                FROM + rng.below(QUARTER_MS as u64),
                EventClass::PhysicalAccess,
                activities[i % 4],
            );
            event.id = i as u64;
            event.physical.portal = Some(format!("door-{}", i % 40));
            event.resolved.zone = Some(format!("zone-{}", i % 10));
            event.resolved.zone_tags = if i % 3 == 0 {
                vec!["server-room".into()]
            } else {
                vec![]
            };
            event.resolved.person = Some(PersonRef {
                id: format!("p-{}", i % 2000),
                name: format!("Person {}", i % 2000),
                status: if i % 500 == 0 {
                    "terminated".into()
                } else {
                    "active".into()
                },
                department: String::new(),
                home_site: String::new(),
            });
            event
        })
        .collect()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n_incidents, n_events, runs) = (
        args.first().copied().unwrap_or(5_000),
        args.get(1).copied().unwrap_or(200_000),
        args.get(2).copied().unwrap_or(5).max(1),
    );
    let mut rng = Seeded(0x9e37_79b9_7f4a_7c15);
    let incidents = incidents(n_incidents, &mut rng);
    let events = events(n_events, &mut rng);
    let tz: Tz = "Europe/Brussels".parse().expect("tz");
    let period = Period {
        from_ms: FROM,
        to_ms: FROM + QUARTER_MS - 1,
    };
    let mut mappings = check_mappings();
    mappings.extend(platform_mappings());
    let view = coverage(&Catalogue::builtin(), &mappings, &[], period, &[], None);
    let mut timings: Vec<(&str, Vec<f64>)> = ["build", "html", "pdf", "csv", "json"]
        .iter()
        .map(|s| (*s, Vec::new()))
        .collect();
    let mut sizes = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let report = build(&Inputs {
            people: onesec_report::PeopleInReports::Named,
            title: "Benchmark".into(),
            site: None,
            period,
            timezone: tz,
            work_hours: WorkHours::default(),
            generated_ms: period.to_ms,
            generated_by: "bench".into(),
            checkpoint: None,
            incidents: &incidents,
            access_events: &events,
            findings: &[],
            postures: vec![SitePosture {
                site: "site-0".into(),
                score: 80.0,
                devices: 100,
            }],
            coverage: &view,
            marks: &[],
            submissions: &[],
            deadlines: &[],
            exercise_results: &[],
        });
        timings[0].1.push(started.elapsed().as_secs_f64() * 1000.0);
        sizes.clear();
        for (i, format) in [Format::Html, Format::Pdf, Format::Csv, Format::Json]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            let bytes = render(&report, format).expect("render");
            timings[i + 1]
                .1
                .push(started.elapsed().as_secs_f64() * 1000.0);
            if let Some(dir) = std::env::var_os("REPORT_BENCH_OUT") {
                let path = std::path::Path::new(&dir).join(format!("bench.{}", format.extension()));
                std::fs::write(&path, &bytes).expect("write the report");
            }
            sizes.push(bytes.len());
        }
        if sizes.is_empty() {
            break;
        }
        eprintln!(
            "access rows {}, incident rows {}",
            report.access.rows.len(),
            report.incidents.rows.len()
        );
    }
    println!("{n_incidents} incidents, {n_events} access events, median of {runs} runs:");
    for (i, (step, samples)) in timings.into_iter().enumerate() {
        let size = if i == 0 {
            String::new()
        } else {
            format!(", {:.1} MiB", sizes[i - 1] as f64 / 1_048_576.0)
        };
        println!("  {step:<5} {:>9.1} ms{size}", median(samples));
    }
}
