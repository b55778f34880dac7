//! The drill generator as a benchmark workload: a made-up company's working day (people,
//! devices, sites from the flags, `--seed`) generated first, then pushed through an in-process
//! pipeline (decode → resolve → journal → detection → store) in batches; prints the generation
//! rate, the end-to-end rate (first batch sent → detection caught up) and the alerts and
//! incidents the everyday traffic raised (false positives: there should be none).
//!
//! ```sh
//! cargo run --release -p onesec-drill --example workload_bench -- 5000 1500 10 1
//! #                                                      people devices sites seed
//! ```

use onesec_drill::generator::{Population, synthetic_directory};
use onesec_drill::scenario::Background;
use onesec_pipeline::{Config, Pipeline};
use std::time::Instant;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (people, devices, sites, seed) = (arg(1, 2000), arg(2, 600), arg(3, 5), arg(4, 1));
    let scratch = std::env::temp_dir().join(format!("onesec-workload-{}", std::process::id()));
    let company = scratch.join("company");
    std::fs::create_dir_all(&company)?;
    let files = synthetic_directory(people as usize, devices as usize, sites as usize);
    for (name, text) in ["people.csv", "sites.yaml", "devices.csv"]
        .iter()
        .zip(&files)
    {
        std::fs::write(company.join(name), text)?;
    }
    let directory = onesec_directory::Directory::load_dir(&company)?;
    let day = 1_777_939_200_000; // 2026-05-05T00:00:00Z
    let generated = Instant::now();
    let records = Population::from_directory(&directory).background(
        &Background {
            seed,
            ..Background::default()
        },
        day,
        day + 86_400_000,
    );
    let generation_s = generated.elapsed().as_secs_f64();
    let mut config = Config {
        data_dir: scratch.join("data"),
        directory: Some(company),
        ..Config::default()
    };
    config.journal.fsync = "never".into();
    let pipeline = Pipeline::start(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    for chunk in records.chunks(1000) {
        for format in ["syslog", "onvif-ej"] {
            let body: String = chunk
                .iter()
                .filter(|r| r.format == format)
                .map(|r| format!("{}\n", r.line))
                .collect();
            let format = format.parse()?;
            runtime.block_on(
                pipeline
                    .ingestor()
                    .ingest_body(&format, body.as_bytes(), "bench"),
            );
        }
    }
    let caught_up = pipeline.wait_detected(std::time::Duration::from_secs(600));
    let elapsed = started.elapsed().as_secs_f64();
    let alerts = pipeline.read_store(|s| s.alerts(None, 100_000))?.len();
    let incidents = pipeline
        .read_store(|s| s.incidents(&onesec_store::IncidentFilter::default()))?
        .len();
    pipeline.shutdown();
    println!(
        "people={people} devices={devices} sites={sites} seed={seed} records={} generation={:.0}/s \
         end_to_end={:.0} events/s ({elapsed:.2} s, caught up: {caught_up}) alerts={alerts} incidents={incidents}",
        records.len(),
        records.len() as f64 / generation_s.max(1e-9),
        records.len() as f64 / elapsed.max(1e-9),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
