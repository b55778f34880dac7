//! `onesec auth`: create the first administrator, log in, issue API tokens (docs/permissions.md).

use crate::client::ServerArgs;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// `onesec auth` subcommands.
#[derive(Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Create the first administrator with the setup token of the data folder, then log in.
    /// The password is read from the first line of standard input.
    Setup {
        /// The administrator's user name.
        #[arg(long, default_value = "admin")]
        user: String,
        /// Data folder whose `auth/setup-token` to use.
        #[arg(long, default_value_os_t = crate::default_data_dir())]
        data_dir: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Log in; prints a session token for `ONESEC_TOKEN`. Password from standard input.
    Login {
        /// User name.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Issue an API token (needs an administrator's `ONESEC_TOKEN`).
    Token {
        /// Token name (to revoke it later).
        #[arg(long)]
        name: String,
        /// Role: admin, soc_analyst, physical_operator, compliance_officer, manager, auditor, ingest.
        #[arg(long)]
        role: String,
        /// Limit to these sites (comma separated); default: every site.
        #[arg(long, value_delimiter = ',')]
        sites: Vec<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs the subcommand.
pub fn run(args: AuthArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuthCommand::Setup {
            user,
            data_dir,
            server,
        } => {
            let path = data_dir.join("auth/setup-token");
            let setup_token = std::fs::read_to_string(&path).with_context(|| {
                format!("reading {} (written at the first start)", path.display())
            })?;
            let password = password_from_stdin()?;
            let body =
                json!({ "setup_token": setup_token.trim(), "user": user, "password": password });
            post(&server, "/api/v1/auth/setup", &body)?;
            login(&server, &user, &password)
        }
        AuthCommand::Login { user, server } => login(&server, &user, &password_from_stdin()?),
        AuthCommand::Token {
            name,
            role,
            sites,
            server,
        } => {
            let body = json!({ "name": name, "role": role, "sites": sites });
            let answer = post(&server, "/api/v1/tokens", &body)?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn login(server: &ServerArgs, user: &str, password: &str) -> anyhow::Result<ExitCode> {
    let answer = post(
        server,
        "/api/v1/auth/login",
        &json!({ "user": user, "password": password }),
    )?;
    println!(
        "export ONESEC_TOKEN={}",
        answer["token"].as_str().unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!(
            "give the password on standard input (e.g. `read -rs P; echo \"$P\" | onesec auth ...`)"
        );
    }
    Ok(password)
}

fn post(server: &ServerArgs, path: &str, body: &Value) -> anyhow::Result<Value> {
    let url = format!("{}{}", server.server.trim_end_matches('/'), path);
    let client = server.client_builder()?.build()?;
    let request = server.authorize(client.post(&url).json(body));
    let response = request.send().with_context(|| {
        format!(
            "cannot reach onesec at {} (is `onesec up` running?)",
            server.server
        )
    })?;
    let status = response.status();
    let answer: Value = response.json().unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{path}: {status}: {}",
            answer["error"].as_str().unwrap_or("")
        );
    }
    Ok(answer)
}
