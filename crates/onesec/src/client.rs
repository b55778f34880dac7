//! Subcommands that ask a running onesec over HTTP (or read a data folder directly).

use anyhow::{Context, bail};
use clap::Args;
use onesec_incident::Incident;
use onesec_store::IncidentFilter;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the running onesec is.
#[derive(Args, Clone)]
pub struct ServerArgs {
    /// Base URL of the onesec HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:8686", env = "ONESEC_SERVER")]
    pub server: String,
    /// API token or session token (`POST /api/v1/tokens`, `POST /api/v1/auth/login`).
    #[arg(long, env = "ONESEC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust this CA or self-signed certificate (PEM) for an `https://` server, e.g.
    /// `onesec-data/tls/cert.pem` of `[http] tls = "self-signed"`.
    #[arg(long, env = "ONESEC_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    /// An HTTP client for the server (trusting `--ca-cert` when given).
    pub fn client_builder(&self) -> anyhow::Result<reqwest::blocking::ClientBuilder> {
        let mut builder = reqwest::blocking::Client::builder();
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(builder)
    }

    /// A request with the caller's token, if any.
    pub fn authorize(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// `onesec incidents` flags.
#[derive(Args)]
pub struct IncidentsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Read the store in this data folder instead of asking a server.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// With --data-dir: the onesec config whose `[store]` to read (e.g. PostgreSQL).
    #[arg(long, value_name = "FILE", requires = "data_dir")]
    config: Option<PathBuf>,
    /// Include merged and withdrawn incidents.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `onesec incident ID` (show) or `onesec incident <action> ID ...` flags.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct IncidentArgs {
    #[command(subcommand)]
    action: Option<crate::work_cmd::IncidentAction>,
    /// Incident id (to show it).
    id: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

/// A blocking HTTP client with a useful error when the server is not there.
pub fn get_json(server_args: &ServerArgs, path: &str) -> anyhow::Result<Value> {
    let server = &server_args.server;
    let url = format!("{}{}", server.trim_end_matches('/'), path);
    let client = server_args.client_builder()?.build()?;
    let request = server_args.authorize(client.get(&url));
    let response = request.send().with_context(|| {
        format!("cannot reach onesec at {server} (is `onesec up` running? use --server)")
    })?;
    let status = response.status();
    let body: Value = response
        .json()
        .with_context(|| format!("{url}: answer is not JSON"))?;
    if !status.is_success() {
        bail!("{url}: {status}: {}", body["error"].as_str().unwrap_or(""));
    }
    Ok(body)
}

/// Lists incidents.
pub fn incidents(args: IncidentsArgs) -> anyhow::Result<ExitCode> {
    let incidents: Vec<Incident> = match &args.data_dir {
        Some(dir) => match crate::open_local_store(dir, args.config.as_deref())? {
            Some(store) => store.incidents(&IncidentFilter {
                all: args.all,
                ..IncidentFilter::default()
            })?,
            None => Vec::new(),
        },
        None => {
            let path = if args.all {
                "/api/v1/incidents?all=true"
            } else {
                "/api/v1/incidents"
            };
            serde_json::from_value(get_json(&args.server, path)?).context("reading incidents")?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<17} {:<9} {:<9} {:<13} {:<20} {:<22} TITLE",
        "ID", "PRIORITY", "DOMAIN", "STATE", "FIRST EVENT", "WHO / WHERE"
    );
    for i in &incidents {
        let who: Vec<&str> = i
            .entities
            .persons
            .iter()
            .chain(i.entities.sites.iter())
            .map(String::as_str)
            .collect();
        println!(
            "{:<17} {:<9} {:<9} {:<13} {:<20} {:<22} {}",
            i.id,
            i.priority.as_str(),
            i.domain.as_str(),
            i.state.as_str(),
            &onesec_event::format_time_ms(i.first_ms)[..19],
            who.join(","),
            i.title
        );
    }
    println!("{} incident(s)", incidents.len());
    Ok(ExitCode::SUCCESS)
}

/// Shows one incident with its timeline.
pub fn incident(args: IncidentArgs) -> anyhow::Result<ExitCode> {
    if let Some(action) = args.action {
        return crate::work_cmd::incident(action);
    }
    let Some(id) = args.id else {
        bail!("give an incident id to show, or an action (onesec incident --help)");
    };
    let body = get_json(&args.server, &format!("/api/v1/incidents/{id}"))?;
    let incident = &body["incident"];
    println!(
        "{}  {}  {}  {}\n{}",
        incident["id"].as_str().unwrap_or(""),
        incident["priority"].as_str().unwrap_or(""),
        incident["domain"].as_str().unwrap_or(""),
        incident["state"].as_str().unwrap_or(""),
        incident["title"].as_str().unwrap_or("")
    );
    if let Some(repeats) = incident["repeats"].as_u64().filter(|r| *r > 0) {
        println!("repeating alarms counted: {repeats}");
    }
    crate::work_cmd::print_case(&body["case"]);
    println!("\nalerts:");
    for alert in body["alerts"].as_array().into_iter().flatten() {
        if alert["repeat_of"].is_string() {
            continue;
        }
        let repeated = match alert["repeats"].as_u64() {
            Some(n) if n > 0 => format!(" repeated {n}×"),
            _ => String::new(),
        };
        println!(
            "  [{}] {} {} ({}){repeated}",
            alert["severity"].as_str().unwrap_or(""),
            alert["id"].as_str().unwrap_or(""),
            alert["title"].as_str().unwrap_or(""),
            alert["status"].as_str().unwrap_or("")
        );
    }
    println!("\nhistory:");
    for entry in body["history"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<10} {:<12} {} → {}  {}",
            onesec_event::format_time_ms(entry["at_ms"].as_i64().unwrap_or(0)),
            entry["actor"].as_str().unwrap_or(""),
            entry["action"].as_str().unwrap_or(""),
            entry["from"].as_str().unwrap_or("-"),
            entry["to"].as_str().unwrap_or("-"),
            entry["comment"].as_str().unwrap_or("")
        );
    }
    if body["evidence"].as_array().is_some_and(|e| !e.is_empty()) {
        println!("\nevidence:");
        for item in body["evidence"].as_array().into_iter().flatten() {
            println!(
                "  {:>4} {:<6} {}  {}",
                item["seq"],
                item["kind"].as_str().unwrap_or(""),
                item["name"].as_str().unwrap_or(""),
                item["note"].as_str().unwrap_or("")
            );
        }
    }
    println!("\ntimeline:");
    for event in body["timeline"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<8} {:<18} {}",
            event["time"].as_str().unwrap_or(""),
            event["domain"].as_str().unwrap_or(""),
            event["activity"].as_str().unwrap_or(""),
            event["raw"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the server's status.
pub fn status(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let body = get_json(&args, "/api/v1/status")?;
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}

/// `onesec sources`: the running server's sources and their counters.
#[derive(Args, Clone)]
pub struct SourcesArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the JSON as the API returns it instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists every source (listener or client) with received, decoded, dead-lettered, late and
/// dropped records and when it last delivered.
pub fn sources(args: SourcesArgs) -> anyhow::Result<ExitCode> {
    let body = get_json(&args.server, "/api/v1/sources")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", sources_table(&body));
    Ok(ExitCode::SUCCESS)
}

/// The `/api/v1/sources` answer as a table, one source a line.
fn sources_table(body: &Value) -> String {
    let mut out = format!(
        "{:<28} {:>10} {:>10} {:>10} {:>8} {:>8}  {}\n",
        "SOURCE", "RECEIVED", "DECODED", "DEAD", "LATE", "DROPPED", "LAST SEEN"
    );
    for source in body["sources"].as_array().into_iter().flatten() {
        let count = |key: &str| source[key].as_u64().unwrap_or(0);
        let last = source["last_seen_ms"].as_i64().unwrap_or(0);
        let last = if last > 0 {
            onesec_event::format_time_ms(last)
        } else {
            "never".into()
        };
        out.push_str(&format!(
            "{:<28} {:>10} {:>10} {:>10} {:>8} {:>8}  {}\n",
            source["source"].as_str().unwrap_or("?"),
            count("received"),
            count("decoded"),
            count("dead_lettered"),
            count("late"),
            count("dropped"),
            last
        ));
    }
    out
}

#[cfg(test)]
mod sources_tests {
    #[test]
    fn the_sources_table_has_a_line_per_source() {
        let body = serde_json::json!({"sources": [
            {"source": "mqtt", "received": 0, "decoded": 0, "dead_lettered": 0, "late": 0, "dropped": 0, "last_seen_ms": 0},
            {"source": "syslog-udp", "received": 12, "decoded": 10, "dead_lettered": 2, "late": 1, "dropped": 5, "last_seen_ms": 1773183600000i64}
        ]});
        let table = super::sources_table(&body);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[1].starts_with("mqtt") && lines[1].ends_with("never"));
        let udp: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            &udp[..7],
            [
                "syslog-udp",
                "12",
                "10",
                "2",
                "1",
                "5",
                "2026-03-10T23:00:00.000Z"
            ]
        );
    }
}
