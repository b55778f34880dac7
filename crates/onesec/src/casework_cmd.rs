//! `onesec incident merge|split|attach|evidence|context|export|verify`: casework on a running
//! onesec through the API (`docs/incidents.md`), and the offline check of an exported bundle.

use crate::client::{ServerArgs, get_json};
use crate::work_cmd::post_json;
use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Casework on an incident.
#[derive(Subcommand)]
pub enum CaseworkAction {
    /// Merge this incident into another (both must be open).
    Merge {
        /// The incident that goes away.
        id: String,
        /// The incident that stays.
        #[arg(long)]
        into: String,
        #[arg(long, short, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Move alerts out of this incident into a new one.
    Split {
        /// Incident id.
        id: String,
        /// An alert to move (repeat the flag, or separate ids with commas).
        #[arg(long = "alert", required = true, value_delimiter = ',')]
        alerts: Vec<String>,
        #[arg(long, short, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Attach a file (`--file`) or a reference to a stored event (`--event`).
    Attach {
        /// Incident id.
        id: String,
        #[arg(long, conflicts_with = "event", required_unless_present = "event")]
        file: Option<PathBuf>,
        #[arg(long)]
        event: Option<u64>,
        /// Why it matters.
        #[arg(long, short, default_value = "")]
        note: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the evidence of an incident.
    Evidence {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show the context: cameras on its zones, its doors' history, its people's badge and
    /// login events, its devices' posture.
    Context {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Export it: the signed bundle (JSON with the audit proofs), or with `--html` the report.
    Export {
        /// Incident id.
        id: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// The HTML report instead of the bundle.
        #[arg(long)]
        html: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check an exported bundle offline: its signature and every proof it carries.
    Verify {
        /// The bundle (JSON).
        bundle: PathBuf,
        /// The audit public key to trust (`<data>/audit/signing.pub`); without it the
        /// bundle's own key is used, which shows the bundle is intact but not who made it.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

fn url(server: &ServerArgs, path: &str) -> String {
    format!("{}{}", server.server.trim_end_matches('/'), path)
}

/// A request whose answer is bytes (or an error with the server's reason).
fn send(
    server: &ServerArgs,
    request: reqwest::blocking::RequestBuilder,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    let response = server.authorize(request).send().with_context(|| {
        format!(
            "cannot reach onesec at {} (is `onesec up` running? use --server)",
            server.server
        )
    })?;
    let status = response.status();
    let bytes = response.bytes()?.to_vec();
    if !status.is_success() {
        let reason: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        bail!(
            "{what}: {status}: {}",
            reason["error"].as_str().unwrap_or("")
        );
    }
    Ok(bytes)
}

fn print_items(items: &serde_json::Value) {
    for item in items.as_array().into_iter().flatten() {
        println!(
            "  {:>4} {:<6} {:<40} {} {} by {}  {}",
            item["seq"],
            item["kind"].as_str().unwrap_or(""),
            item["name"].as_str().unwrap_or(""),
            item["sha256"].as_str().unwrap_or(""),
            item["event_id"]
                .as_u64()
                .map(|id| format!("event {id}"))
                .unwrap_or_default(),
            item["added_by"].as_str().unwrap_or(""),
            item["note"].as_str().unwrap_or("")
        );
    }
}

/// Runs a casework action.
pub fn run(action: CaseworkAction) -> anyhow::Result<ExitCode> {
    let path = |id: &str, what: &str| format!("/api/v1/incidents/{id}/{what}");
    match action {
        CaseworkAction::Merge {
            id,
            into,
            comment,
            server,
        } => {
            let body = json!({ "into": into, "comment": comment });
            let answer = post_json(&server, &path(&id, "merge"), &body)?;
            for incident in answer["incidents"].as_array().into_iter().flatten() {
                println!(
                    "{} {} ({} alerts)",
                    incident["id"].as_str().unwrap_or(""),
                    incident["state"].as_str().unwrap_or(""),
                    incident["alert_ids"].as_array().map_or(0, Vec::len)
                );
            }
        }
        CaseworkAction::Split {
            id,
            alerts,
            comment,
            server,
        } => {
            let body = json!({ "alerts": alerts, "comment": comment });
            let answer = post_json(&server, &path(&id, "split"), &body)?;
            println!(
                "new incident {}",
                answer["incident"]["id"].as_str().unwrap_or("")
            );
        }
        CaseworkAction::Attach {
            id,
            file,
            event,
            note,
            server,
        } => {
            let item = match (file, event) {
                (Some(file), _) => {
                    let data = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let name = file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .context("the file needs a UTF-8 name")?
                        .to_string();
                    let client = server.client_builder()?.build()?;
                    let target = url(&server, &path(&id, "evidence"));
                    let request = client
                        .post(&target)
                        .query(&[("name", name.as_str()), ("note", note.as_str())])
                        .header("content-type", "application/octet-stream")
                        .body(data);
                    serde_json::from_slice(&send(&server, request, &target)?)?
                }
                (None, Some(event_id)) => post_json(
                    &server,
                    &path(&id, "evidence"),
                    &json!({ "event_id": event_id, "note": note }),
                )?,
                (None, None) => bail!("give --file or --event"),
            };
            print_items(&json!([item]));
        }
        CaseworkAction::Evidence { id, server } => {
            print_items(&get_json(&server, &path(&id, "evidence"))?);
        }
        CaseworkAction::Context { id, server } => {
            let context = get_json(&server, &path(&id, "context"))?;
            println!("{}", serde_json::to_string_pretty(&context)?);
        }
        CaseworkAction::Export {
            id,
            out,
            html,
            server,
        } => {
            let client = server.client_builder()?.build()?;
            let target = url(&server, &path(&id, if html { "report" } else { "export" }));
            let bytes = send(&server, client.get(&target), &target)?;
            let bytes = if html {
                bytes
            } else {
                let bundle: serde_json::Value = serde_json::from_slice(&bytes)?;
                serde_json::to_vec_pretty(&bundle)?
            };
            match out {
                Some(file) => {
                    std::fs::write(&file, &bytes)
                        .with_context(|| format!("writing {}", file.display()))?;
                    eprintln!("{} written ({} bytes)", file.display(), bytes.len());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
        CaseworkAction::Verify { bundle, public_key } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let key = public_key
                .map(|p| {
                    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
                })
                .transpose()?;
            match onesec_pipeline::export::verify_bundle(&text, key.as_deref()) {
                Ok(check) => {
                    println!(
                        "ok: incident {}: signature and {} event proof(s), {} audit entry proof(s) check out; {} event(s) without proof{}",
                        check.incident,
                        check.events_proven,
                        check.entries_proven,
                        check.events_unproven,
                        if check.trusted_key {
                            ""
                        } else {
                            " (checked with the bundle's own key: give --public-key to check who signed it)"
                        }
                    );
                }
                Err(problem) => {
                    println!("FAILED: {problem}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
