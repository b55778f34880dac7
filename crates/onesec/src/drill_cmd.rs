//! `onesec drill`: run and score an exercise scenario (`run`), check scenario files
//! (`validate`), and generate background traffic as a workload (`generate`) to a file or straight
//! into the listeners of a running onesec.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use onesec_drill::generator::{Population, Record, synthetic_directory};
use onesec_drill::scenario::{Background, parse_duration};
use onesec_drill::{Pace, PauseControl, RunOptions, Scenario};
use onesec_pipeline::Config;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `onesec drill` flags.
#[derive(Args)]
pub struct DrillArgs {
    #[command(subcommand)]
    command: DrillCommand,
}

#[derive(Subcommand)]
enum DrillCommand {
    /// Replay a scenario through the real pipeline in exercise mode, score it and write the
    /// after-action report (report.html, report.pdf, report.json) and its summary
    /// (result.json) into its data folder; with --record, record the summary with a running
    /// onesec so its compliance reports list the drill.
    Run(RunArgs),
    /// Record a finished run's summary (its folder or result.json) with a running onesec
    /// (`POST /api/v1/exercises`); recording a run again replaces it.
    Record(RecordArgs),
    /// Check scenario files; every problem with file, line, column and reason.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Generate background traffic (the benchmark workload): N people, devices and sites of a
    /// working day, to a file or into the syslog and HTTP listeners of a running onesec.
    Generate(GenerateArgs),
}

/// `onesec drill run` flags.
#[derive(Args)]
struct RunArgs {
    /// The scenario file (docs/drills.md).
    scenario: PathBuf,
    /// Speed: `max` (as fast as possible), `real`, or a factor such as `60x`.
    #[arg(long, default_value = "max")]
    speed: String,
    /// Data folder of the run (must not hold an earlier run); default
    /// `drill-runs/<scenario>-<unix time>`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Facilitator's pause: while this file exists, scenario time stands still.
    #[arg(long)]
    pause_file: Option<PathBuf>,
    /// Do not play the scenario's scripted trainees: the teams work the incidents themselves
    /// (with `onesec incident ... --data-dir` or an API on the same data folder).
    #[arg(long)]
    no_trainees: bool,
    /// onesec TOML config to take rules, routing, SLA and connectors from (exercise mode is
    /// forced: no connector ever acts).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Scenario time between two looks at incidents, tasks and timers.
    #[arg(long, default_value = "1m")]
    step: String,
    /// Serve the drill's HTTP API and console on this address while it runs (syslog and
    /// other listeners stay off), so trainees work the incidents live with the console or
    /// `onesec incident ... --server`; the first run prints the one-time setup token.
    #[arg(long)]
    serve: Option<String>,
    /// Record the run's summary with the running onesec of --server when it is scored
    /// (`POST /api/v1/exercises`, needs work_compliance), so compliance reports list it.
    #[arg(long)]
    record: bool,
    #[command(flatten)]
    server: crate::client::ServerArgs,
}

/// `onesec drill record` flags.
#[derive(Args)]
struct RecordArgs {
    /// A run's data folder (holding result.json) or a result.json file.
    run: PathBuf,
    #[command(flatten)]
    server: crate::client::ServerArgs,
}

/// `onesec drill generate` flags.
#[derive(Args)]
struct GenerateArgs {
    /// People (ignored with --directory).
    #[arg(long, default_value_t = 100)]
    people: usize,
    /// Devices: cameras and servers (ignored with --directory).
    #[arg(long, default_value_t = 30)]
    devices: usize,
    /// Sites (ignored with --directory).
    #[arg(long, default_value_t = 2)]
    sites: usize,
    /// Use this directory folder instead of a made-up company.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// Write the made-up company's directory files here (for `onesec up --directory`).
    #[arg(long)]
    directory_out: Option<PathBuf>,
    /// Seed: the same seed gives the same records.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (UTC date), midnight UTC.
    #[arg(long, default_value = "2026-05-05")]
    day: String,
    /// How many days.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Records per second when sending (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Write the records to this file (one per line; `onesec replay` reads it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Send syslog and CEF records to this syslog TCP listener (host:port).
    #[arg(long)]
    syslog: Option<String>,
    /// Send ONVIF records to the HTTP API of the running onesec (`--server`).
    #[arg(long)]
    http: bool,
    #[command(flatten)]
    server: crate::client::ServerArgs,
}

/// Runs `onesec drill`.
pub fn run(args: DrillArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DrillCommand::Run(run) => run_scenario(run),
        DrillCommand::Record(args) => {
            record_with_server(&args.run, &args.server).map(|()| ExitCode::SUCCESS)
        }
        DrillCommand::Validate { files } => validate(&files),
        DrillCommand::Generate(generate) => generate_traffic(generate),
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        match Scenario::load(file) {
            Ok(checked) => println!(
                "{}: ok ({} inject(s), {})",
                file.display(),
                checked.scenario.injects.len(),
                checked.scenario.name
            ),
            Err(error) => {
                println!("{error}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let checked = Scenario::load(&args.scenario)?;
    let pace = Pace::parse(&args.speed).with_context(|| {
        format!(
            "--speed {:?}: expected max, real or a factor like 60x",
            args.speed
        )
    })?;
    let step_ms = parse_duration(&args.step)
        .filter(|ms| *ms > 0)
        .with_context(|| format!("--step {:?}: expected a duration like 1m", args.step))?;
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| default_run_dir(&args.scenario));
    if data_dir.join("journal").exists() {
        bail!(
            "{} already holds a run: give a new --data-dir",
            data_dir.display()
        );
    }
    let mut base_config = match &args.config {
        Some(path) => crate::keys_cmd::load_config(path)?,
        None => Config::default(),
    };
    if let Some(listen) = &args.serve {
        base_config.http.listen = listen.clone();
        // Only the drill's own records go in: no syslog listener.
        base_config.syslog.udp = String::new();
        base_config.syslog.tcp = String::new();
    }
    let options = RunOptions {
        data_dir: data_dir.clone(),
        pace,
        pause: PauseControl {
            pause_file: args.pause_file,
        },
        step_ms,
        trainees: !args.no_trainees,
        base_config,
    };
    eprintln!(
        "EXERCISE {}: {} inject(s), data in {}",
        checked.scenario.name,
        checked.scenario.injects.len(),
        data_dir.display()
    );
    let server = ServedDrill::default();
    let record = if args.serve.is_some() {
        onesec_drill::run_observed(&checked, &options, |pipeline| server.start(pipeline))
    } else {
        onesec_drill::run(&checked, &options)
    };
    server.stop();
    let record = record?;
    let score = onesec_drill::score(&checked, &record);
    let html = data_dir.join("report.html");
    let json = data_dir.join("report.json");
    std::fs::write(&html, onesec_drill::report::html(&score, &record))
        .with_context(|| format!("writing {}", html.display()))?;
    std::fs::write(&json, onesec_drill::report::json(&score, &record))
        .with_context(|| format!("writing {}", json.display()))?;
    let pdf = data_dir.join("report.pdf");
    std::fs::write(&pdf, onesec_drill::report::pdf(&score, &record))
        .with_context(|| format!("writing {}", pdf.display()))?;
    let result = write_result(&data_dir, &score, &record)?;
    print_summary(&score);
    println!(
        "report: {}, {} and {}; summary {}",
        html.display(),
        pdf.display(),
        json.display(),
        result.display()
    );
    if args.record {
        record_with_server(&result, &args.server)?;
    }
    Ok(if score.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The drill's HTTP API and console, served from its own thread and runtime while it runs.
#[derive(Default)]
struct ServedDrill {
    stop: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ServedDrill {
    fn start(&self, pipeline: &std::sync::Arc<onesec_pipeline::Pipeline>) {
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        let pipeline = pipeline.clone();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                match onesec_server::start(pipeline.clone(), pipeline.config()).await {
                    Ok(server) => {
                        let mut line = format!("drill served on http://{}", server.http);
                        if let Some(token) = &server.setup_token {
                            line.push_str(&format!(
                                "; first start: create the administrator with setup token {token}"
                            ));
                        }
                        let _ = ready_tx.send(Ok(line));
                        let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                        server.abort();
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        match ready_rx.recv() {
            Ok(Ok(line)) => eprintln!("{line}"),
            Ok(Err(error)) => eprintln!("the drill is not served: {error}"),
            Err(_) => eprintln!("the drill is not served: its server thread stopped"),
        }
        if let Ok(mut slot) = self.stop.lock() {
            *slot = Some(stop_tx);
        }
        if let Ok(mut slot) = self.thread.lock() {
            *slot = Some(thread);
        }
    }

    fn stop(&self) {
        if let Some(tx) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// Writes the run's summary (`result.json`), named after its data folder.
fn write_result(
    data_dir: &Path,
    score: &onesec_drill::Score,
    record: &onesec_drill::RunRecord,
) -> anyhow::Result<PathBuf> {
    let run_id = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| score.scenario.clone());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let result = onesec_drill::exercise_result(score, record, &run_id, now_ms);
    let path = data_dir.join("result.json");
    let text = serde_json::to_string_pretty(&result).context("rendering the run's summary")?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Sends a run's summary to a running onesec.
fn record_with_server(run: &Path, server: &crate::client::ServerArgs) -> anyhow::Result<()> {
    let path = if run.is_dir() {
        run.join("result.json")
    } else {
        run.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the run's summary {}", path.display()))?;
    let result: onesec_drill::result::ExerciseResult = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a drill result", path.display()))?;
    result
        .validate()
        .with_context(|| format!("{} cannot be recorded", path.display()))?;
    let body = serde_json::to_value(&result).context("rendering the run's summary")?;
    crate::work_cmd::post_json(server, "/api/v1/exercises", &body)?;
    println!(
        "recorded {} ({}) with {}",
        result.run_id, result.scenario, server.server
    );
    Ok(())
}

fn default_run_dir(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("drill-runs").join(format!("{stem}-{now}"))
}

fn print_summary(score: &onesec_drill::Score) {
    let took =
        |ms: Option<i64>| ms.map_or_else(|| "-".into(), onesec_drill::scenario::format_duration);
    println!(
        "{}: {}",
        score.scenario,
        if score.passed { "PASSED" } else { "NEEDS WORK" }
    );
    for inject in score.injects.iter().filter(|i| i.scored) {
        let detect = inject
            .detections
            .iter()
            .map(|d| d.detect_ms)
            .max()
            .flatten();
        println!(
            "  {:<28} {}  detect {:>6}  ack {:>6}  contain {:>6}  team {}",
            inject.id,
            if inject.passed { "ok  " } else { "FAIL" },
            took(detect),
            took(inject.acknowledge_ms),
            took(inject.contain_ms),
            inject.team_routed.as_deref().unwrap_or("-")
        );
    }
    for item in &score.improvements {
        println!("  - {item}");
    }
}

fn generate_traffic(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let directory = match &args.directory {
        Some(dir) => onesec_directory::Directory::load_dir(dir)?,
        None => {
            let [people, sites, devices] =
                synthetic_directory(args.people, args.devices, args.sites);
            if let Some(out) = &args.directory_out {
                std::fs::create_dir_all(out)
                    .with_context(|| format!("creating {}", out.display()))?;
                for (name, text) in [
                    ("people.csv", &people),
                    ("sites.yaml", &sites),
                    ("devices.csv", &devices),
                ] {
                    std::fs::write(out.join(name), text)
                        .with_context(|| format!("writing {}", out.join(name).display()))?;
                }
            }
            onesec_directory::Directory::from_texts(Some(&people), Some(&sites), Some(&devices))?
        }
    };
    let population = Population::from_directory(&directory);
    let day = chrono::NaiveDate::parse_from_str(&args.day, "%Y-%m-%d")
        .with_context(|| format!("--day {:?}: expected YYYY-MM-DD", args.day))?;
    let from_ms = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0);
    let to_ms = from_ms + i64::from(args.days.max(1)) * 86_400_000;
    let profile = Background {
        seed: args.seed,
        ..Background::default()
    };
    let records = population.background(&profile, from_ms, to_ms);
    eprintln!(
        "{} record(s) from {} people, seed {}",
        records.len(),
        population.people(),
        args.seed
    );
    if args.out.is_none() && args.syslog.is_none() && !args.http {
        bail!("say where the records go: --out FILE, --syslog HOST:PORT and/or --http");
    }
    let mut sink = Sink::open(&args)?;
    let started = Instant::now();
    for (sent, record) in records.iter().enumerate() {
        pace(args.rate, sent as u64, started);
        sink.send(record)?;
    }
    sink.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "sent {} record(s) in {:.2} s ({:.0}/s)",
        records.len(),
        secs,
        records.len() as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// Sleeps so that no more than `rate` records per second go out (0: no limit).
fn pace(rate: u64, sent: u64, started: Instant) {
    if rate == 0 || !sent.is_multiple_of(50) {
        return;
    }
    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        std::thread::sleep(wait);
    }
}

/// Where generated records go.
struct Sink<'a> {
    file: Option<std::io::BufWriter<std::fs::File>>,
    syslog: Option<std::io::BufWriter<std::net::TcpStream>>,
    http: Option<(reqwest::blocking::Client, &'a crate::client::ServerArgs)>,
    onvif_batch: Vec<String>,
}

impl<'a> Sink<'a> {
    fn open(args: &'a GenerateArgs) -> anyhow::Result<Sink<'a>> {
        let file = match &args.out {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            )),
            None => None,
        };
        let syslog = match &args.syslog {
            Some(addr) => Some(std::io::BufWriter::new(
                std::net::TcpStream::connect(addr)
                    .with_context(|| format!("connecting to the syslog listener {addr}"))?,
            )),
            None => None,
        };
        let http = if args.http {
            Some((args.server.client_builder()?.build()?, &args.server))
        } else {
            None
        };
        Ok(Sink {
            file,
            syslog,
            http,
            onvif_batch: Vec::new(),
        })
    }

    fn send(&mut self, record: &Record) -> anyhow::Result<()> {
        if let Some(file) = &mut self.file {
            writeln!(file, "{}", record.line)?;
        }
        match record.format {
            "syslog" => {
                if let Some(tcp) = &mut self.syslog {
                    writeln!(tcp, "{}", record.line).context("sending to the syslog listener")?;
                }
            }
            _ => {
                if self.http.is_some() {
                    self.onvif_batch.push(record.line.clone());
                    if self.onvif_batch.len() >= 500 {
                        self.post_batch()?;
                    }
                }
            }
        }
        Ok(())
    }

    fn post_batch(&mut self) -> anyhow::Result<()> {
        let Some((client, server)) = &self.http else {
            return Ok(());
        };
        if self.onvif_batch.is_empty() {
            return Ok(());
        }
        let url = format!(
            "{}/api/v1/events?format=onvif-ej",
            server.server.trim_end_matches('/')
        );
        let body = self.onvif_batch.join("\n");
        let response = server
            .authorize(client.post(&url).body(body))
            .send()
            .with_context(|| format!("cannot reach onesec at {}", server.server))?;
        if !response.status().is_success() {
            bail!("onesec refused a batch: {}", response.status());
        }
        self.onvif_batch.clear();
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.post_batch()?;
        if let Some(file) = &mut self.file {
            file.flush()?;
        }
        if let Some(tcp) = &mut self.syslog {
            tcp.flush()?;
        }
        Ok(())
    }
}
