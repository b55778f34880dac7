//! `onesec devices list` and `onesec devices check`: the device inventory and its hygiene
//! findings, offline (no server needed). See docs/hygiene.md.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use onesec_hygiene::{
    Assessment, Clock, DeviceFilter, FlowFile, Inventory, Knowledge, Severity, Sources,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// `onesec devices` subcommands.
#[derive(Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    command: DevicesCommand,
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// List devices with their posture score and finding counts.
    List(Input),
    /// Print every hygiene finding with its evidence and controls, then the posture per site
    /// and zone.
    Check {
        #[command(flatten)]
        input: Input,
        /// Exit with status 1 when a finding is at least this severe (low, medium, high,
        /// critical).
        #[arg(long, value_name = "SEVERITY")]
        fail_on: Option<String>,
    },
    /// Refresh the CISA KEV catalogue: fetch it from a URL (or copy a file), check that it is a
    /// KEV catalogue, and replace OUT only then. A running onesec whose `[hygiene] kev` is OUT
    /// picks it up within a minute.
    KevUpdate {
        /// Where to fetch it (CISA publishes
        /// https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json).
        #[arg(long, value_name = "URL", conflicts_with = "from")]
        url: Option<String>,
        /// A catalogue file downloaded by other means.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// The catalogue file to replace (the `[hygiene] kev` of the configuration).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Where the devices and the knowledge come from, and which devices to show.
#[derive(Args)]
struct Input {
    /// Inventory file: CSV (devices.csv columns plus hygiene columns) or JSON.
    #[arg(long, value_name = "FILE")]
    inventory: Option<PathBuf>,
    /// Directory folder: its devices.csv is the inventory.
    #[arg(long, value_name = "DIR")]
    directory: Option<PathBuf>,
    /// onesec config file: its `directory` and `[hygiene]` files (flags add to them).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// CISA KEV catalogue (JSON).
    #[arg(long, value_name = "FILE")]
    kev: Option<PathBuf>,
    /// Advisory file, simple TOML/JSON or CSAF 2.0 (repeatable).
    #[arg(long, value_name = "FILE")]
    advisories: Vec<PathBuf>,
    /// Vendor default logins (productvendor,username,password CSV).
    #[arg(long, value_name = "FILE")]
    default_creds: Option<PathBuf>,
    /// Policy: segments, connection allow-lists, heartbeats, credential age (TOML).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Flow records (CSV or JSON Lines) to check against the connection allow-lists.
    #[arg(long, value_name = "FILE")]
    flows: Option<PathBuf>,
    /// The time liveness is judged at (RFC 3339 or epoch ms; default now). `--now none`
    /// skips liveness.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Only devices of this site.
    #[arg(long)]
    site: Option<String>,
    /// Only devices of this kind.
    #[arg(long)]
    kind: Option<String>,
    /// Only devices with such a finding: a check id (VULN-KEV), a prefix (VULN, CRED, EXP,
    /// SEG, CONN, LIVE), a severity (high: at least that) or `any`.
    #[arg(long)]
    finding: Option<String>,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DevicesCommand::List(input) => {
            let assessment = assess(&input)?;
            list(&assessment, &input)
        }
        DevicesCommand::Check { input, fail_on } => {
            let fail_on = fail_on
                .map(|s| {
                    Severity::parse(&s).with_context(|| {
                        format!("--fail-on {s:?}: expected low, medium, high or critical")
                    })
                })
                .transpose()?;
            let assessment = assess(&input)?;
            check(&assessment, &input, fail_on)
        }
        DevicesCommand::KevUpdate { url, from, out } => kev_update(url, from, &out),
    }
}

/// Fetches or reads a KEV catalogue, checks it, then replaces `out` (write beside, rename).
fn kev_update(
    url: Option<String>,
    from: Option<PathBuf>,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let (name, text) = match (url, from) {
        (Some(url), None) => {
            let response = reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()?
                .get(&url)
                .send()
                .with_context(|| format!("fetching {url}"))?;
            let status = response.status();
            if !status.is_success() {
                bail!("fetching {url}: the server answered {status}");
            }
            let text = response.text().with_context(|| format!("reading {url}"))?;
            (url, text)
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            (file.display().to_string(), text)
        }
        _ => bail!("give --url URL or --from FILE"),
    };
    let catalog =
        onesec_hygiene::KevCatalog::replace_file(&name, &text, out).with_context(|| {
            format!(
                "{name} is not a KEV catalogue; {} left as it was",
                out.display()
            )
        })?;
    println!(
        "KEV catalogue {}: {} vulnerabilities written to {}",
        catalog.version,
        catalog.entries.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn assess(input: &Input) -> anyhow::Result<Assessment> {
    let mut sources = Sources::default();
    let mut directory = input.directory.clone();
    if let Some(path) = &input.config {
        let config = onesec_pipeline::Config::load(path)?;
        let h = config.hygiene;
        sources = Sources {
            kev: h.kev,
            advisories: h.advisories,
            default_creds: h.default_creds,
            policy: h.policy,
        };
        if directory.is_none() {
            directory = config.directory;
        }
    }
    if input.kev.is_some() {
        sources.kev.clone_from(&input.kev);
    }
    sources.advisories.extend(input.advisories.iter().cloned());
    if input.default_creds.is_some() {
        sources.default_creds.clone_from(&input.default_creds);
    }
    if input.policy.is_some() {
        sources.policy.clone_from(&input.policy);
    }
    let inventory = match (&input.inventory, &directory) {
        (Some(file), _) => Inventory::load(file)?,
        (None, Some(dir)) => {
            let dir = onesec_directory::Directory::load_dir(dir)
                .with_context(|| format!("loading the directory {}", dir.display()))?;
            Inventory::from_directory(&dir)
        }
        (None, None) => bail!("give --inventory FILE, --directory DIR or --config FILE"),
    };
    for e in &inventory.errors {
        eprintln!("warning: row skipped: {e}");
    }
    let knowledge = Knowledge::load(&sources)?;
    let flows = match &input.flows {
        None => Vec::new(),
        Some(path) => {
            let file = FlowFile::load(path)?;
            for e in &file.errors {
                eprintln!("warning: flow skipped: {e}");
            }
            file.flows
        }
    };
    let clock = match input.now.as_deref() {
        None => Clock::now(),
        Some("none") => Clock {
            now_ms: None,
            ..Clock::now()
        },
        Some(text) => Clock::at(onesec_hygiene::parse_time_ms(text).with_context(|| {
            format!("--now {text:?}: expected RFC 3339, epoch milliseconds or `none`")
        })?),
    };
    Ok(Assessment::new(&inventory, &knowledge, clock, &flows))
}

fn filter(input: &Input) -> DeviceFilter {
    DeviceFilter {
        site: input.site.clone(),
        kind: input.kind.clone(),
        finding: input.finding.clone(),
    }
}

fn list(assessment: &Assessment, input: &Input) -> anyhow::Result<ExitCode> {
    let selected = assessment.select(&filter(input));
    if input.json {
        println!("{}", serde_json::to_string_pretty(&selected)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<11} {:<5} {:<14} {:<14} {:<18} {:<22} {:>5}  findings",
        "DEVICE", "KIND", "SITE", "ZONE", "VENDOR", "MODEL", "FIRMWARE", "SCORE"
    );
    for r in &selected {
        let d = r.device;
        let worst = r.findings.iter().map(|f| f.severity).max();
        let summary = match worst {
            None => "-".to_string(),
            Some(w) => format!("{} (worst {w})", r.findings.len()),
        };
        println!(
            "{:<16} {:<11} {:<5} {:<14} {:<14} {:<18} {:<22} {:>5}  {summary}",
            d.id,
            d.kind,
            d.site.as_deref().unwrap_or("-"),
            d.zone.as_deref().unwrap_or("-"),
            d.vendor.as_deref().unwrap_or("-"),
            d.model.as_deref().unwrap_or("-"),
            d.firmware.as_deref().unwrap_or("-"),
            r.score,
        );
    }
    println!("{} device(s)", selected.len());
    Ok(ExitCode::SUCCESS)
}

fn check(
    assessment: &Assessment,
    input: &Input,
    fail_on: Option<Severity>,
) -> anyhow::Result<ExitCode> {
    let selected = assessment.select(&filter(input));
    let findings: Vec<_> = selected.iter().flat_map(|r| r.findings.iter()).collect();
    let failed = fail_on.is_some_and(|min| findings.iter().any(|f| f.severity >= min));
    if input.json {
        let body = serde_json::json!({
            "findings": findings,
            "posture": assessment.posture,
            "errors": assessment.errors,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        for f in &findings {
            println!(
                "{:<8} {:<16} {:<20} {}",
                f.severity.as_str().to_uppercase(),
                f.device,
                f.check,
                f.title
            );
            println!("         evidence: {}", f.evidence);
            println!("         controls: {}", f.control_ids());
        }
        println!(
            "\n{} finding(s) on {} of {} device(s)",
            findings.len(),
            selected.iter().filter(|r| !r.findings.is_empty()).count(),
            selected.len()
        );
        println!("\nposture (100 = nothing found; mean of device scores, lowest device)");
        for s in &assessment.posture.sites {
            println!(
                "  site {:<14} {:>5.1}  min {:>3}  {} device(s)",
                s.id, s.score, s.min, s.devices
            );
        }
        for z in &assessment.posture.zones {
            println!(
                "  zone {:<14} {:>5.1}  min {:>3}  {} device(s)",
                z.id, z.score, z.min, z.devices
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
