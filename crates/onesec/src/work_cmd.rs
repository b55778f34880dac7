//! `onesec incident <action>` and `onesec tasks`: working incidents and team tasks on a running
//! onesec, through the same API routes a console uses (`docs/api.md`, "Working an incident").

use crate::client::{ServerArgs, get_json};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// What to do with an incident.
#[derive(Subcommand)]
pub enum IncidentAction {
    /// Acknowledge: you take it (and become its assignee if it has none).
    Ack {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Why, or what you are doing about it.
        #[arg(long, short, default_value = "")]
        comment: String,
    },
    /// Move it along new → acknowledged → in_progress ⇄ on_hold → resolved → closed.
    State {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        /// new, acknowledged, in_progress, on_hold, resolved or closed.
        state: String,
        #[arg(long, short, default_value = "")]
        comment: String,
    },
    /// Give it to a team (it_soc, physical_security, compliance, management) and/or a person.
    Assign {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        team: Option<String>,
        /// The person who works it.
        #[arg(long = "to")]
        assignee: Option<String>,
        #[arg(long, short, default_value = "")]
        comment: String,
    },
    /// Set its priority (1 most urgent … 5) and/or category (false_alarm, exercise, …).
    Classify {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        priority: Option<i64>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long, short, default_value = "")]
        comment: String,
    },
    /// Add a note to its history.
    Comment {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        /// The note.
        text: String,
    },
    /// Show its playbook run, or start one (`--start`, optionally `--playbook <id or name>`).
    Playbook {
        /// Incident id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        start: bool,
        #[arg(long, requires = "start")]
        playbook: Option<String>,
    },
    #[command(flatten)]
    Casework(crate::casework_cmd::CaseworkAction),
}

/// `POST` a JSON body; the answer, or an error with the server's reason.
pub(crate) fn post_json(
    server_args: &ServerArgs,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let server = &server_args.server;
    let url = format!("{}{}", server.trim_end_matches('/'), path);
    let client = server_args.client_builder()?.build()?;
    let response = server_args
        .authorize(client.post(&url).json(body))
        .send()
        .with_context(|| {
            format!("cannot reach onesec at {server} (is `onesec up` running? use --server)")
        })?;
    let status = response.status();
    let answer: Value = response
        .json()
        .with_context(|| format!("{url}: answer is not JSON"))?;
    if !status.is_success() {
        bail!(
            "{url}: {status}: {}",
            answer["error"].as_str().unwrap_or("")
        );
    }
    Ok(answer)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn time(v: &Value) -> String {
    v.as_i64()
        .map(onesec_event::format_time_ms)
        .unwrap_or_else(|| "-".into())
}

/// Prints a case: owner, assignee, priority, category, due dates, escalation.
pub fn print_case(case: &Value) {
    if case.is_null() {
        return;
    }
    println!(
        "owner {}  assignee {}  priority {}  category {}",
        text(&case["owner_team"]),
        text(&case["assignee"]),
        case["priority"],
        text(&case["category"])
    );
    println!(
        "acknowledge by {}  resolve by {}  next escalation {}  escalated to [{}]  breached [{}]",
        time(&case["ack_due_ms"]),
        time(&case["resolve_due_ms"]),
        time(&case["next_escalation_ms"]),
        join(&case["escalated_to"]),
        join(&case["sla_breached"])
    );
}

fn join(list: &Value) -> String {
    list.as_array()
        .map(|l| l.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn print_run(run: &Value) {
    println!(
        "{} ({})  {}  actions: {}",
        text(&run["playbook"]),
        text(&run["status"]),
        text(&run["connector"]),
        run["actions"].as_array().map_or(0, Vec::len)
    );
    for action in run["actions"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<9} {:<8} {} {}",
            time(&action["at_ms"]),
            text(&action["outcome"]),
            text(&action["mode"]),
            text(&action["target"]),
            text(&action["detail"])
        );
    }
    print_tasks(&run["tasks"]);
}

fn print_tasks(tasks: &Value) {
    let tasks = tasks.as_array().cloned().unwrap_or_default();
    for t in &tasks {
        println!(
            "  {:<24} {:<18} {:<10} due {}  {}",
            text(&t["id"]),
            text(&t["team"]),
            text(&t["state"]),
            t["deadline"]
                .as_i64()
                .map(onesec_event::format_time_ms)
                .unwrap_or_else(|| "-".into()),
            text(&t["instruction"])
        );
    }
}

/// Runs an incident action.
pub fn incident(action: IncidentAction) -> anyhow::Result<ExitCode> {
    let path = |id: &str, what: &str| format!("/api/v1/incidents/{id}/{what}");
    match action {
        IncidentAction::Ack {
            id,
            server,
            comment,
        } => {
            let answer = post_json(&server, &path(&id, "ack"), &json!({ "comment": comment }))?;
            println!("{} {}", id, text(&answer["state"]));
            print_case(&answer["case"]);
        }
        IncidentAction::State {
            id,
            server,
            state,
            comment,
        } => {
            let body = json!({ "state": state, "comment": comment });
            let answer = post_json(&server, &path(&id, "state"), &body)?;
            println!("{} {}", id, text(&answer["state"]));
            print_case(&answer["case"]);
        }
        IncidentAction::Assign {
            id,
            server,
            team,
            assignee,
            comment,
        } => {
            let body = json!({ "team": team, "assignee": assignee, "comment": comment });
            print_case(&post_json(&server, &path(&id, "assign"), &body)?);
        }
        IncidentAction::Classify {
            id,
            server,
            priority,
            category,
            comment,
        } => {
            let body = json!({ "priority": priority, "category": category, "comment": comment });
            print_case(&post_json(&server, &path(&id, "classify"), &body)?);
        }
        IncidentAction::Comment {
            id,
            server,
            text: note,
        } => {
            let entry = post_json(&server, &path(&id, "comment"), &json!({ "comment": note }))?;
            println!("{} {} noted", time(&entry["at_ms"]), text(&entry["actor"]));
        }
        IncidentAction::Playbook {
            id,
            server,
            start,
            playbook,
        } => {
            let run = if start {
                post_json(
                    &server,
                    &path(&id, "playbook"),
                    &json!({ "playbook": playbook }),
                )?
            } else {
                get_json(&server, &path(&id, "playbook"))?
            };
            print_run(&run);
        }
        IncidentAction::Casework(action) => return crate::casework_cmd::run(action),
    }
    Ok(ExitCode::SUCCESS)
}

/// `onesec tasks` flags.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TasksArgs {
    #[command(subcommand)]
    decision: Option<TaskDecision>,
    /// Only this team's tasks (it_soc, physical_security, compliance, management).
    #[arg(long)]
    team: Option<String>,
    /// Decided, timed-out and cancelled tasks too.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Deciding a task.
#[derive(Subcommand)]
enum TaskDecision {
    /// Approve an open task (its step goes on).
    Approve {
        /// Task id (`<incident id>:<n>`).
        id: String,
        #[arg(long, short, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Reject an open task (its step fails and follows its on_failure).
    Reject {
        /// Task id (`<incident id>:<n>`).
        id: String,
        #[arg(long, short, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Lists or decides tasks.
pub fn tasks(args: TasksArgs) -> anyhow::Result<ExitCode> {
    let (server, id, approve, comment) = match args.decision {
        None => {
            let mut path = format!("/api/v1/tasks?all={}", args.all);
            if let Some(team) = &args.team {
                path.push_str(&format!("&team={team}"));
            }
            let tasks = get_json(&args.server, &path)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&tasks)?);
            } else {
                print_tasks(&tasks);
                println!("{} task(s)", tasks.as_array().map_or(0, Vec::len));
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some(TaskDecision::Approve {
            id,
            comment,
            server,
        }) => (server, id, true, comment),
        Some(TaskDecision::Reject {
            id,
            comment,
            server,
        }) => (server, id, false, comment),
    };
    let verb = if approve { "approve" } else { "reject" };
    let run = post_json(
        &server,
        &format!("/api/v1/tasks/{id}/{verb}"),
        &json!({ "comment": comment }),
    )?;
    println!("{id} {verb}d");
    print_run(&run);
    Ok(ExitCode::SUCCESS)
}
