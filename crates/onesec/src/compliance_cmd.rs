//! `onesec compliance ...` (coverage, deadlines, marks, drafts, submissions) and `onesec
//! report` (unified reports with a progress bar): clients of a running onesec's compliance
//! routes (`docs/compliance.md`).

use crate::client::{ServerArgs, get_json};
use crate::work_cmd::post_json;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// `onesec compliance` flags.
#[derive(Args)]
pub struct ComplianceArgs {
    #[command(subcommand)]
    action: ComplianceAction,
    #[command(flatten)]
    server: ServerArgs,
}

/// A period: by name or dates.
#[derive(Args, Clone, Default)]
pub struct PeriodArgs {
    /// last-quarter, this-quarter, last-month, this-month, last-7-days, last-30-days,
    /// last-365-days.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    period: Option<String>,
    /// Start: a date (local midnight in `[compliance] timezone`) or an RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// End: a date (its whole day) or an RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
    /// Only this site.
    #[arg(long)]
    site: Option<String>,
}

impl PeriodArgs {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for (key, value) in [
            ("period", &self.period),
            ("from", &self.from),
            ("to", &self.to),
            ("site", &self.site),
        ] {
            if let Some(v) = value {
                q.push((key, v.clone()));
            }
        }
        q
    }
}

#[derive(Subcommand)]
enum ComplianceAction {
    /// The control catalogue and what serves each control (rules, checks, playbook steps).
    Controls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which controls have evidence in a period, which are served without evidence, which
    /// are not covered.
    Coverage {
        #[command(flatten)]
        period: PeriodArgs,
        /// Only these controls (repeat: `--control iso27001.7.2 --control iso27001.8.15`).
        #[arg(long)]
        control: Vec<String>,
        /// Print JSON (with every evidence item).
        #[arg(long)]
        json: bool,
    },
    /// Regulatory deadlines of marked incidents.
    Deadlines {
        /// nis2 or gdpr.
        #[arg(long)]
        regime: Option<String>,
        /// Only those not yet submitted (open or overdue).
        #[arg(long)]
        pending: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mark an incident NIS2-significant and/or a GDPR personal data breach.
    Mark {
        /// Incident id.
        id: String,
        /// A significant incident under NIS2.
        #[arg(long)]
        nis2: bool,
        /// A personal data breach under the GDPR.
        #[arg(long)]
        gdpr: bool,
        /// When the organisation became aware (RFC 3339; default now).
        #[arg(long)]
        aware: Option<String>,
        /// IANA time zone for calendar months (default `[compliance] timezone`).
        #[arg(long)]
        timezone: Option<String>,
        /// Possible cross-border impact: yes or no.
        #[arg(long)]
        cross_border: Option<String>,
    },
    /// Show (or edit with --set) the draft of one report of an incident.
    Draft {
        /// Incident id.
        id: String,
        /// nis2_early_warning, nis2_notification, nis2_progress_report, nis2_final_report,
        /// gdpr_notification.
        stage: String,
        /// Set a field: `--set consequences="..."` (repeatable).
        #[arg(long, value_parser = parse_assignment)]
        set: Vec<(String, String)>,
        /// Print the draft as JSON instead of the text to send.
        #[arg(long)]
        json: bool,
    },
    /// Record that a report was sent to the authority.
    Submit {
        /// Incident id.
        id: String,
        /// The stage.
        stage: String,
        /// The authority's reference.
        #[arg(long)]
        reference: Option<String>,
        /// Why it is late (needed for a late GDPR notification).
        #[arg(long)]
        late_reasons: Option<String>,
    },
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Runs `onesec compliance ...`.
pub fn run(args: ComplianceArgs) -> anyhow::Result<ExitCode> {
    let server = &args.server;
    match args.action {
        ComplianceAction::Controls { json } => {
            let body = get_json(server, "/api/v1/compliance/controls")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                for c in body["controls"].as_array().into_iter().flatten() {
                    println!(
                        "{:<16} {:<16} {}",
                        s(&c["id"]),
                        s(&c["reference"]),
                        s(&c["title"])
                    );
                }
            }
        }
        ComplianceAction::Coverage {
            period,
            control,
            json,
        } => {
            let mut q = period.query();
            if !control.is_empty() {
                q.push(("control", control.join(",")));
            }
            let body = get_json(
                server,
                &format!("/api/v1/compliance/coverage{}", query_string(&q)),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                print_coverage(&body);
            }
        }
        ComplianceAction::Deadlines {
            regime,
            pending,
            json,
        } => {
            let mut q = Vec::new();
            if let Some(r) = regime {
                q.push(("regime", r));
            }
            if pending {
                q.push(("pending", "true".to_string()));
            }
            let body = get_json(
                server,
                &format!("/api/v1/compliance/deadlines{}", query_string(&q)),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                for d in body["deadlines"].as_array().into_iter().flatten() {
                    let escalated = if d["escalated"].is_null() {
                        ""
                    } else {
                        "  escalated"
                    };
                    println!(
                        "{:<24} {:<22} due {}  {}{escalated}",
                        s(&d["incident_id"]),
                        s(&d["stage"]),
                        s(&d["due_local"]),
                        s(&d["status"])
                    );
                }
            }
        }
        ComplianceAction::Mark {
            id,
            nis2,
            gdpr,
            aware,
            timezone,
            cross_border,
        } => {
            let cross_border = match cross_border.as_deref() {
                None => None,
                Some("yes") => Some(true),
                Some("no") => Some(false),
                Some(other) => bail!("--cross-border {other:?}: say yes or no"),
            };
            let body = json!({"nis2_significant": nis2, "gdpr_breach": gdpr, "aware": aware, "timezone": timezone, "cross_border": cross_border});
            let mark = post_json(
                server,
                &format!("/api/v1/incidents/{}/regulatory", encode(&id)),
                &body,
            )?;
            println!("{}", serde_json::to_string_pretty(&mark)?);
        }
        ComplianceAction::Draft {
            id,
            stage,
            set,
            json,
        } => {
            let path = format!(
                "/api/v1/incidents/{}/regulatory/{}",
                encode(&id),
                encode(&stage)
            );
            let draft = if set.is_empty() {
                get_json(server, &path)?
            } else {
                let fields: serde_json::Map<String, Value> = set
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                post_json(server, &path, &json!({ "fields": fields }))?
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&draft)?);
            } else {
                for f in draft["fields"].as_array().into_iter().flatten() {
                    let value = if s(&f["value"]).is_empty() {
                        "(to be completed)".to_string()
                    } else {
                        s(&f["value"])
                    };
                    println!("{} [{}]\n{value}\n", s(&f["label"]), s(&f["source"]));
                }
            }
        }
        ComplianceAction::Submit {
            id,
            stage,
            reference,
            late_reasons,
        } => {
            let path = format!(
                "/api/v1/incidents/{}/regulatory/{}/submit",
                encode(&id),
                encode(&stage)
            );
            let body = json!({"reference": reference, "late_reasons": late_reasons});
            let submission = post_json(server, &path, &body)?;
            println!("{}", serde_json::to_string_pretty(&submission)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn s(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn print_coverage(body: &Value) {
    println!(
        "{} evidenced, {} mapped without evidence, {} not covered",
        body["evidenced"], body["mapped_no_evidence"], body["not_covered"]
    );
    for line in body["controls"].as_array().into_iter().flatten() {
        let c = &line["control"];
        println!(
            "{:<16} {:<20} {}  {}",
            s(&c["id"]),
            s(&line["status"]),
            s(&c["reference"]),
            s(&c["title"])
        );
        let list = |key: &str| -> String {
            line[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for key in ["rules", "checks", "steps", "platform"] {
            let items = list(key);
            if !items.is_empty() {
                println!("    {key}: {items}");
            }
        }
        for item in line["evidence"].as_array().into_iter().flatten() {
            println!(
                "    {} {} {}: {}",
                s(&item["kind"]),
                s(&item["id"]),
                item["at_ms"],
                s(&item["summary"])
            );
        }
    }
    for u in body["unrecognised"].as_array().into_iter().flatten() {
        println!("not in the catalogue: {}", s(u));
    }
}

/// `onesec report` flags.
#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    period: PeriodArgs,
    /// html, pdf, csv or json (default: from --out's extension, else html).
    #[arg(long)]
    format: Option<String>,
    /// Where to write it (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs `onesec report`: asks the server for the report and writes it, with a progress bar
/// (a spinner while the server gathers and renders, then the bytes received).
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let format = args
        .format
        .clone()
        .or_else(|| {
            args.out
                .as_ref()
                .and_then(|p| p.extension())
                .map(|e| e.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "html".to_string());
    let mut q = args.period.query();
    q.push(("format", format.clone()));
    let url = format!(
        "{}/api/v1/reports{}",
        args.server.server.trim_end_matches('/'),
        query_string(&q)
    );
    let bar = if args.quiet || args.out.is_none() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_message("building the report (incidents, access, devices, coverage, register)");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let client = args
        .server
        .client_builder()?
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let mut response = args
        .server
        .authorize(client.get(&url))
        .send()
        .with_context(|| {
            format!(
                "cannot reach onesec at {} (is `onesec up` running? use --server)",
                args.server.server
            )
        })?;
    let status = response.status();
    if !status.is_success() {
        bar.finish_and_clear();
        let body: Value = response.json().unwrap_or(Value::Null);
        bail!("{url}: {status}: {}", body["error"].as_str().unwrap_or(""));
    }
    if let Some(len) = response.content_length() {
        bar.set_length(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message("receiving");
    }
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = response.read(&mut chunk).context("reading the report")?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} written ({} bytes, {format})",
                path.display(),
                bytes.len()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
