//! The connectors that carry out automated playbook commands: `http-api` (generic REST),
//! `mqtt` (publish a door or zone command), `webhook` (a JSON notification) and `manual` (a
//! person does it). [`Dispatch`] is the playbook engine's [`Connector`] for one step of a run:
//! it finds the connector bound to the step's agent, and performs, simulates (dry run) or
//! withholds (exercise) the action, recording each in an [`ActionRecord`].
//!
//! Shell command types (`bash`, `powershell`, `ssh`, `cmd`) are never run: the step fails with
//! that reason. An unreachable target, a timeout or a non-2xx answer fails the step too, so the
//! playbook follows its `on_failure` with the error in the run log and the action record.

use super::config::{ConnectorConfig, ConnectorKind, Mode};
use base64::Engine as _;
use onesec_playbook::{CommandRequest, Connector, Outputs, Party, Vars};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Command types that would run a program on a host: refused, always.
const SHELL: [&str; 5] = ["bash", "powershell", "ssh", "cmd", "shell"];

/// A connector configuration that cannot work, found at start.
#[derive(Debug, thiserror::Error)]
#[error("[[response.connectors]] {name:?}: {reason}")]
pub struct ConnectorError {
    /// The connector's name.
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Incident,
    Playbook,
    Step,
    Team,
    Command,
    Method,
    Path,
    Param(String),
    Var(String),
}

/// A body, payload or topic with `{{placeholders}}` (`docs/playbooks.md`, "Connectors").
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; an unknown or unclosed placeholder is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "unclosed placeholder at byte {}",
                    text.len() - rest.len() + open
                )
            })?;
            let name = after[..close].trim();
            parts.push(match name {
                "incident_id" => Part::Incident,
                "playbook" => Part::Playbook,
                "step" => Part::Step,
                "team" => Part::Team,
                "command" => Part::Command,
                "method" => Part::Method,
                "path" => Part::Path,
                other => {
                    if let Some(p) = other.strip_prefix("param:") {
                        Part::Param(p.to_string())
                    } else if let Some(v) = other.strip_prefix("var:") {
                        if !onesec_playbook::is_variable_name(v) {
                            return Err(format!("{{{{{other}}}}}: {v} is not a variable name (__name__)"));
                        }
                        Part::Var(v.to_string())
                    } else {
                        return Err(format!(
                            "unknown placeholder {{{{{other}}}}} (incident_id, playbook, step, team, command, method, path, param:NAME, var:__name__)"
                        ));
                    }
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Fills the placeholders; `escape` makes each value safe inside a JSON string, or inside
    /// one MQTT topic level.
    fn render(&self, action: &Action<'_>, escape: Escape) -> String {
        let mut out = String::new();
        for part in &self.parts {
            let value: &str = match part {
                Part::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Part::Incident => action.incident_id,
                Part::Playbook => &action.request.playbook,
                Part::Step => &action.request.step,
                Part::Team => action.request.team.key(),
                Part::Command => &action.text,
                Part::Method => &action.method,
                Part::Path => &action.path,
                Part::Param(p) => action.params.get(p).map_or("", String::as_str),
                Part::Var(v) => action.vars.get(v).flatten().unwrap_or(""),
            };
            match escape {
                Escape::Json => {
                    let quoted = serde_json::Value::String(value.to_string()).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                Escape::TopicLevel => out.extend(value.chars().map(|c| match c {
                    '/' | '+' | '#' | '\0' => '_',
                    c => c,
                })),
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Escape {
    Json,
    TopicLevel,
}

/// A configured connector, checked and ready.
#[derive(Debug)]
struct Built {
    config: ConnectorConfig,
    token: Option<String>,
    timeout: Duration,
    body: Option<Template>,
    topic: Option<Template>,
    broker: Option<(String, u16)>,
}

/// Every connector of `[[response.connectors]]`, by the agents they serve.
#[derive(Debug, Default)]
pub struct Connectors {
    list: Vec<Built>,
}

impl Connectors {
    /// Checks and builds the connectors: URLs, templates, tokens, timeouts.
    pub fn new(configs: &[ConnectorConfig]) -> Result<Connectors, ConnectorError> {
        let mut list: Vec<Built> = Vec::new();
        for config in configs {
            let bad = |reason: String| ConnectorError {
                name: config.name.clone(),
                reason,
            };
            if config.name.trim().is_empty() {
                return Err(bad("a connector needs a name".into()));
            }
            if list.iter().any(|b| b.config.name == config.name) {
                return Err(bad("two connectors have this name".into()));
            }
            let timeout = match &config.timeout {
                None => Duration::from_secs(5),
                Some(text) => crate::parse_duration_ms(text)
                    .and_then(|ms| u64::try_from(ms).ok())
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis)
                    .ok_or_else(|| {
                        bad(format!(
                            "timeout {text:?} is not a duration like 5s or 500ms"
                        ))
                    })?,
            };
            let token = match (&config.token, &config.token_env) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    bad(format!(
                        "token_env {var}: the environment variable is not set"
                    ))
                })?),
                (None, None) => None,
            };
            let body = config
                .body
                .as_deref()
                .map(Template::parse)
                .transpose()
                .map_err(|e| bad(format!("body: {e}")))?;
            let topic = config
                .topic
                .as_deref()
                .map(Template::parse)
                .transpose()
                .map_err(|e| bad(format!("topic: {e}")))?;
            let mut broker = None;
            match config.kind {
                ConnectorKind::HttpApi | ConnectorKind::Webhook => {
                    let url = config.url.as_str();
                    let ok = url.starts_with("http://") || url.starts_with("https://");
                    if !ok || reqwest::Url::parse(url).is_err() {
                        return Err(bad(format!(
                            "url {url:?} is not an http:// or https:// URL"
                        )));
                    }
                }
                ConnectorKind::Mqtt => {
                    broker = Some(broker_address(&config.url).ok_or_else(|| {
                        bad(format!("url {:?} is not mqtt://host[:port]", config.url))
                    })?);
                    if topic.is_none() {
                        return Err(bad("an mqtt connector needs a topic".into()));
                    }
                }
                ConnectorKind::Manual => {}
            }
            if config.kind != ConnectorKind::Webhook && config.agents.is_empty() {
                return Err(bad(
                    "agents is empty: name the CACAO agents it serves".into()
                ));
            }
            list.push(Built {
                config: config.clone(),
                token,
                timeout,
                body,
                topic,
                broker,
            });
        }
        Ok(Connectors { list })
    }

    /// The connector serving an agent (by id, then by name).
    fn serving(&self, agent: Option<&Party>) -> Option<&Built> {
        let agent = agent?;
        let name = agent.definition.as_ref().map(|d| d.name.as_str());
        self.list
            .iter()
            .find(|b| b.config.agents.iter().any(|a| a == &agent.id))
            .or_else(|| {
                self.list
                    .iter()
                    .find(|b| b.config.agents.iter().any(|a| Some(a.as_str()) == name))
            })
    }

    /// A connector by name.
    fn named(&self, name: &str) -> Option<&Built> {
        self.list.iter().find(|b| b.config.name == name)
    }

    /// Whether a webhook connector of this name exists (for `notify`).
    pub fn has_webhook(&self, name: &str) -> bool {
        self.named(name)
            .is_some_and(|b| b.config.kind == ConnectorKind::Webhook)
    }

    /// Sends a notification (an escalation) through the webhook connector `name`: the JSON
    /// `body` POSTed with the connector's token. Dry-run and exercise modes only record it.
    pub fn notify(
        &self,
        name: &str,
        body: &serde_json::Value,
        mode: Effective,
    ) -> Result<String, String> {
        let built = self
            .named(name)
            .ok_or_else(|| format!("no connector {name}"))?;
        let text = body.to_string();
        match mode {
            Effective::Exercise => {
                return Ok(format!("exercise: not sent to {}", built.config.url));
            }
            Effective::DryRun => {
                return Ok(format!("dry-run: would POST {} {text}", built.config.url));
            }
            Effective::Live if built.config.dry_run => {
                return Ok(format!("dry-run: would POST {} {text}", built.config.url));
            }
            Effective::Live => {}
        }
        let key = crate::audit::sha256_hex(&[text.as_bytes()]);
        http_send(built, "POST", &built.config.url, &text, &key)
            .map(|(status, _)| format!("POST {} → {status}", built.config.url))
    }
}

/// `mqtt://host[:port]` (or `tcp://`, or bare `host:port`) → host and port (1883 by default).
pub fn broker_address(url: &str) -> Option<(String, u16)> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((rest.to_string(), 1883)),
    }
}

/// How the actions of one run are carried out right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effective {
    /// Performed by the connectors.
    Live,
    /// Recorded, not performed.
    DryRun,
    /// Exercise (global flag or incident category): withheld, recorded as simulated.
    Exercise,
}

impl Effective {
    /// From the configured mode and whether the incident is an exercise.
    pub fn of(mode: Mode, exercise: bool) -> Effective {
        match (exercise, mode) {
            (true, _) => Effective::Exercise,
            (false, Mode::DryRun) => Effective::DryRun,
            (false, Mode::Live) => Effective::Live,
        }
    }

    /// `live`, `dry-run`, `exercise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effective::Live => "live",
            Effective::DryRun => "dry-run",
            Effective::Exercise => "exercise",
        }
    }
}

/// One automated command as onesec handled it: who, what, when, how, with what result.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ActionRecord {
    /// When (UTC ms).
    pub at_ms: i64,
    /// The incident.
    pub incident_id: String,
    /// The person whose decision led to it, or `onesec` (detection, timers).
    pub by: String,
    /// Playbook and step.
    pub playbook: String,
    pub step: String,
    /// The team owning the step.
    pub team: String,
    /// The CACAO command type and text (variables substituted).
    pub command_type: String,
    pub command: String,
    /// The step's agent (id).
    pub agent: Option<String>,
    /// The connector that served it, if one is bound to the agent.
    pub connector: Option<String>,
    /// `live`, `dry-run` or `exercise`.
    pub mode: String,
    /// What was (or would have been) sent: `POST http://...`, `mqtt://.../topic`.
    pub target: String,
    /// The body or payload.
    pub body: String,
    /// `ok`, `failed` or `simulated`.
    pub outcome: String,
    /// The answer, or why it failed.
    pub detail: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// A command broken into what the templates can use.
struct Action<'a> {
    incident_id: &'a str,
    request: &'a CommandRequest,
    text: String,
    method: String,
    path: String,
    params: BTreeMap<String, String>,
    vars: &'a Vars,
}

impl<'a> Action<'a> {
    /// `POST /badges/B-1/suspend reason=x` → method, path, params.
    fn parse(incident_id: &'a str, request: &'a CommandRequest, vars: &'a Vars) -> Action<'a> {
        let text = request
            .command
            .clone()
            .or_else(|| {
                let b64 = request.command_b64.as_deref()?;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                String::from_utf8(bytes).ok()
            })
            .unwrap_or_default();
        let mut tokens = text.split_whitespace().peekable();
        const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        let method = match tokens.peek() {
            Some(m) if METHODS.contains(m) => tokens.next().unwrap_or("POST").to_string(),
            _ => "POST".to_string(),
        };
        let path = match tokens.peek() {
            Some(p) if p.starts_with('/') => tokens.next().unwrap_or("").to_string(),
            _ => String::new(),
        };
        let params = tokens
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Action {
            incident_id,
            request,
            text,
            method,
            path,
            params,
            vars,
        }
    }

    /// The default body: the incident, step and command as JSON.
    fn default_body(&self) -> String {
        serde_json::json!({
            "incident_id": self.incident_id,
            "playbook": self.request.playbook,
            "step": self.request.step,
            "team": self.request.team.key(),
            "command": self.text,
            "method": self.method,
            "path": self.path,
            "params": self.params,
        })
        .to_string()
    }

    fn body(&self, built: &Built) -> String {
        match &built.body {
            Some(t) => t.render(self, Escape::Json),
            None => self.default_body(),
        }
    }

    /// The same action asked twice gives the same key, so a target that honours
    /// `Idempotency-Key` does it once.
    fn idempotency_key(&self) -> String {
        crate::audit::sha256_hex(&[
            self.incident_id.as_bytes(),
            b"\n",
            self.request.step.as_bytes(),
            b"\n",
            self.text.as_bytes(),
        ])
    }
}

/// The [`Connector`] the playbook engine calls during one `advance` of one incident's run.
pub struct Dispatch<'a> {
    connectors: &'a Connectors,
    mode: Effective,
    incident_id: &'a str,
    by: &'a str,
    now_ms: i64,
    /// What happened, in call order.
    pub records: Vec<ActionRecord>,
}

impl<'a> Dispatch<'a> {
    /// A dispatcher for one advance of `incident_id`'s run, on behalf of `by`.
    pub fn new(
        connectors: &'a Connectors,
        mode: Effective,
        incident_id: &'a str,
        by: &'a str,
        now_ms: i64,
    ) -> Dispatch<'a> {
        Dispatch {
            connectors,
            mode,
            incident_id,
            by,
            now_ms,
            records: Vec::new(),
        }
    }
}

impl Connector for Dispatch<'_> {
    fn execute(
        &mut self,
        command: &CommandRequest,
        agent: Option<&Party>,
        _targets: &[Party],
        vars: &Vars,
    ) -> Result<Outputs, String> {
        let started = Instant::now();
        let action = Action::parse(self.incident_id, command, vars);
        let built = self.connectors.serving(agent);
        let mut record = ActionRecord {
            at_ms: self.now_ms,
            incident_id: self.incident_id.to_string(),
            by: self.by.to_string(),
            playbook: command.playbook.clone(),
            step: command.step.clone(),
            team: command.team.key().to_string(),
            command_type: command.command_type.clone(),
            command: action.text.clone(),
            agent: agent.map(|a| a.id.clone()),
            connector: built.map(|b| b.config.name.clone()),
            mode: self.mode.as_str().to_string(),
            target: String::new(),
            body: String::new(),
            outcome: String::new(),
            detail: String::new(),
            duration_ms: 0,
        };
        let result = self.carry_out(&action, built, &mut record);
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) if record.outcome.is_empty() => record.outcome = "ok".into(),
            Ok(_) => {}
            Err(reason) => {
                record.outcome = "failed".into();
                record.detail = reason.clone();
            }
        }
        tracing::info!(
            incident = self.incident_id,
            step = %command.step,
            connector = ?record.connector,
            mode = %record.mode,
            outcome = %record.outcome,
            detail = %record.detail,
            "response action"
        );
        self.records.push(record);
        result
    }

    fn by_hand(&self, _command: &CommandRequest, agent: Option<&Party>) -> bool {
        self.connectors
            .serving(agent)
            .is_some_and(|b| b.config.kind == ConnectorKind::Manual)
    }
}

impl Dispatch<'_> {
    fn carry_out(
        &self,
        action: &Action<'_>,
        built: Option<&Built>,
        record: &mut ActionRecord,
    ) -> Result<Outputs, String> {
        let kind = action.request.command_type.as_str();
        if SHELL.contains(&kind) {
            return Err(format!(
                "command type {kind} is off: onesec does not run shell commands"
            ));
        }
        let agent = record.agent.clone().unwrap_or_else(|| "(none)".into());
        let Some(built) = built else {
            record.target = format!("agent {agent}");
            return match self.mode {
                Effective::Live => Err(format!(
                    "no connector serves agent {agent} (bind one in [[response.connectors]])"
                )),
                Effective::DryRun | Effective::Exercise => {
                    record.outcome = "simulated".into();
                    record.detail =
                        format!("{}: no connector bound to the agent", self.mode.as_str());
                    Ok(Outputs::new())
                }
            };
        };
        let (target, body) = match built.config.kind {
            ConnectorKind::HttpApi => {
                let base = built.config.url.trim_end_matches('/');
                let url = format!("{base}{}", action.path);
                (format!("{} {url}", action.method), action.body(built))
            }
            ConnectorKind::Webhook => (format!("POST {}", built.config.url), action.body(built)),
            ConnectorKind::Mqtt => {
                let topic = built
                    .topic
                    .as_ref()
                    .map(|t| t.render(action, Escape::TopicLevel))
                    .unwrap_or_default();
                (format!("{}#{topic}", built.config.url), action.body(built))
            }
            ConnectorKind::Manual => (format!("manual {}", built.config.name), String::new()),
        };
        record.target = target;
        record.body = body.clone();
        let simulated = match self.mode {
            Effective::Exercise => Some("exercise: not performed"),
            Effective::DryRun => Some("dry-run: not performed"),
            Effective::Live if built.config.dry_run => Some("dry-run (connector): not performed"),
            Effective::Live => None,
        };
        if let Some(why) = simulated {
            record.outcome = "simulated".into();
            record.detail = why.to_string();
            return Ok(Outputs::new());
        }
        match built.config.kind {
            ConnectorKind::HttpApi | ConnectorKind::Webhook => {
                let (method, url) = record
                    .target
                    .split_once(' ')
                    .map(|(m, u)| (m.to_string(), u.to_string()))
                    .unwrap_or_default();
                let (status, answer) =
                    http_send(built, &method, &url, &body, &action.idempotency_key())?;
                record.detail = format!("HTTP {status}: {}", snippet(&answer));
                Ok(outputs_of(&answer))
            }
            ConnectorKind::Mqtt => {
                let topic = record
                    .target
                    .split_once('#')
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default();
                mqtt_publish(built, &topic, body.into_bytes())?;
                record.detail = format!("published to {topic} (QoS 1, acknowledged)");
                Ok(Outputs::new())
            }
            // by_hand turned it into a task; reaching here means the engine did not ask.
            ConnectorKind::Manual => Err("a manual connector does not execute commands".into()),
        }
    }
}

/// The first 200 characters of an answer, for records.
fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Values for the step's `out_args` from a JSON object answer (`{"__footage_ref__": "X"}`).
fn outputs_of(answer: &str) -> Outputs {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(answer) else {
        return Outputs::new();
    };
    map.into_iter()
        .filter(|(k, _)| onesec_playbook::is_variable_name(k))
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect()
}

/// One HTTP request with the connector's token and timeout: (status, body) of a 2xx answer.
fn http_send(
    built: &Built,
    method: &str,
    url: &str,
    body: &str,
    idempotency_key: &str,
) -> Result<(u16, String), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("{method} is not an HTTP method"))?;
    let client = reqwest::blocking::Client::builder()
        .timeout(built.timeout)
        .connect_timeout(built.timeout)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let mut request = client
        .request(method, url)
        .header("content-type", "application/json")
        .header("idempotency-key", idempotency_key)
        .body(body.to_string());
    if let Some(token) = &built.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().map_err(|e| {
        if e.is_timeout() {
            format!(
                "{url} did not answer within {} ms",
                built.timeout.as_millis()
            )
        } else {
            format!("cannot reach {url}: {}", error_chain(&e))
        }
    })?;
    let status = response.status();
    let answer = response.text().unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", snippet(&answer)));
    }
    Ok((status.as_u16(), answer))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Publishes one QoS 1 message and waits for the broker's acknowledgement.
fn mqtt_publish(built: &Built, topic: &str, payload: Vec<u8>) -> Result<(), String> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some((host, port)) = built.broker.clone() else {
        return Err("no broker address".into());
    };
    let url = &built.config.url;
    let id = format!(
        "onesec-action-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut options = MqttOptions::new(id, host, port);
    options.set_keep_alive(Duration::from_secs(5));
    if let (Some(user), Some(password)) = (&built.config.username, &built.token) {
        options.set_credentials(user.clone(), password.clone());
    }
    let (client, mut connection) = Client::new(options, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .map_err(|e| format!("MQTT publish to {url}: {e}"))?;
    let deadline = Instant::now() + built.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "MQTT broker {url} did not acknowledge within {} ms",
                built.timeout.as_millis()
            ));
        }
        match connection.recv_timeout(left) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return Ok(());
            }
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(format!("cannot reach MQTT broker {url}: {e}")),
            Err(_) => {
                return Err(format!(
                    "MQTT broker {url} did not acknowledge within {} ms",
                    built.timeout.as_millis()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_playbook::Team;

    fn request(text: &str) -> CommandRequest {
        CommandRequest {
            playbook: "playbook--1".into(),
            step: "action--1".into(),
            command_type: "http-api".into(),
            command: Some(text.into()),
            command_b64: None,
            team: Team::PhysicalSecurity,
        }
    }

    fn connector(kind: ConnectorKind, url: &str) -> ConnectorConfig {
        ConnectorConfig {
            name: "acs".into(),
            kind,
            agents: vec!["Access control system".into()],
            url: url.into(),
            token: None,
            token_env: None,
            username: None,
            timeout: None,
            body: None,
            topic: None,
            dry_run: false,
        }
    }

    #[test]
    fn commands_split_into_method_path_and_params() {
        let vars = Vars::new();
        let req = request("POST /zones/rnd/lockdown reason=incident-7 ttl=1h");
        let a = Action::parse("inc-1", &req, &vars);
        assert_eq!(
            (a.method.as_str(), a.path.as_str()),
            ("POST", "/zones/rnd/lockdown")
        );
        assert_eq!(a.params["reason"], "incident-7");
        let req = request("lock everything");
        let a = Action::parse("inc-1", &req, &vars);
        assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", ""));
    }

    #[test]
    fn templates_fill_and_escape_and_refuse_unknown_placeholders() {
        let mut vars = Vars::new();
        vars.declare("__zone__", Some("r\"n/d".into()), false);
        let req = request("POST /zones/x/lockdown reason=drill");
        let a = Action::parse("inc-1", &req, &vars);
        let body = Template::parse(
            r#"{"zone": "{{var:__zone__}}", "why": "{{param:reason}}", "i": "{{ incident_id }}"}"#,
        )
        .unwrap()
        .render(&a, Escape::Json);
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(parsed["zone"], "r\"n/d");
        assert_eq!(parsed["why"], "drill");
        assert_eq!(parsed["i"], "inc-1");
        let topic = Template::parse("site/{{var:__zone__}}/lockdown")
            .unwrap()
            .render(&a, Escape::TopicLevel);
        assert_eq!(topic, "site/r\"n_d/lockdown");
        let err = Template::parse("{{zone}}").unwrap_err();
        assert!(err.contains("unknown placeholder {{zone}}"), "{err}");
        assert!(
            Template::parse("x {{step")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            Template::parse("{{var:zone}}")
                .unwrap_err()
                .contains("not a variable name")
        );
    }

    #[test]
    fn bad_connector_configs_are_refused_with_the_reason() {
        let mut bad_url = connector(ConnectorKind::HttpApi, "ftp://x");
        let e = Connectors::new(&[bad_url.clone()]).unwrap_err().to_string();
        assert!(e.contains("\"acs\"") && e.contains("not an http"), "{e}");
        bad_url.url = "http://127.0.0.1:1".into();
        bad_url.timeout = Some("soon".into());
        assert!(
            Connectors::new(&[bad_url])
                .unwrap_err()
                .to_string()
                .contains("timeout")
        );
        let mqtt = connector(ConnectorKind::Mqtt, "mqtt://127.0.0.1:1883");
        assert!(
            Connectors::new(&[mqtt])
                .unwrap_err()
                .to_string()
                .contains("needs a topic")
        );
        let mut nobody = connector(ConnectorKind::Manual, "");
        nobody.agents.clear();
        assert!(
            Connectors::new(&[nobody])
                .unwrap_err()
                .to_string()
                .contains("agents is empty")
        );
        let mut env = connector(ConnectorKind::HttpApi, "http://127.0.0.1:1");
        env.token_env = Some("ONESEC_TEST_SURELY_UNSET_TOKEN".into());
        assert!(
            Connectors::new(&[env])
                .unwrap_err()
                .to_string()
                .contains("not set")
        );
        let twice = connector(ConnectorKind::Manual, "");
        assert!(
            Connectors::new(&[twice.clone(), twice])
                .unwrap_err()
                .to_string()
                .contains("two connectors")
        );
    }

    #[test]
    fn broker_addresses_parse() {
        assert_eq!(
            broker_address("mqtt://127.0.0.1:1883"),
            Some(("127.0.0.1".into(), 1883))
        );
        assert_eq!(
            broker_address("mqtt://broker"),
            Some(("broker".into(), 1883))
        );
        assert_eq!(
            broker_address("broker.local"),
            Some(("broker.local".into(), 1883))
        );
        assert_eq!(broker_address("mqtt://broker:x"), None);
        assert_eq!(broker_address("mqtt://h:notaport"), None);
        assert_eq!(broker_address("mqtt://a/b"), None);
        assert_eq!(broker_address(""), None);
    }

    fn party(name: &str) -> Party {
        Party {
            id: "http-api--1".into(),
            definition: Some(onesec_playbook::AgentTarget {
                object_type: "http-api".into(),
                name: name.into(),
                description: None,
                other: Default::default(),
            }),
        }
    }

    #[test]
    fn shell_commands_are_refused_in_every_mode() {
        let connectors = Connectors::default();
        for mode in [Effective::Live, Effective::DryRun, Effective::Exercise] {
            let mut d = Dispatch::new(&connectors, mode, "inc-1", "onesec", 0);
            let mut req = request("rm -rf /");
            req.command_type = "bash".into();
            let err = d.execute(&req, None, &[], &Vars::new()).unwrap_err();
            assert!(err.contains("does not run shell commands"), "{err}");
            assert_eq!(d.records[0].outcome, "failed");
        }
    }

    #[test]
    fn unbound_agents_fail_live_and_are_simulated_otherwise() {
        let connectors = Connectors::default();
        let agent = party("Identity provider");
        let mut live = Dispatch::new(&connectors, Effective::Live, "inc-1", "onesec", 0);
        let err = live.execute(
            &request("POST /users/x/disable"),
            Some(&agent),
            &[],
            &Vars::new(),
        );
        assert!(
            err.unwrap_err()
                .contains("no connector serves agent http-api--1")
        );
        let mut dry = Dispatch::new(&connectors, Effective::DryRun, "inc-1", "onesec", 0);
        assert!(
            dry.execute(
                &request("POST /users/x/disable"),
                Some(&agent),
                &[],
                &Vars::new()
            )
            .is_ok()
        );
        assert_eq!(dry.records[0].outcome, "simulated");
    }

    #[test]
    fn exercise_and_dry_run_record_the_request_without_sending_it() {
        // Port 9 (discard) on loopback: nothing listens, so a send would fail the step.
        let connectors =
            Connectors::new(&[connector(ConnectorKind::HttpApi, "http://127.0.0.1:9/api")])
                .unwrap();
        let agent = party("Access control system");
        for mode in [Effective::Exercise, Effective::DryRun] {
            let mut d = Dispatch::new(&connectors, mode, "inc-1", "mia", 7);
            let out = d.execute(
                &request("POST /badges/B-1/suspend"),
                Some(&agent),
                &[],
                &Vars::new(),
            );
            assert!(out.is_ok(), "{mode:?}: {out:?}");
            let r = &d.records[0];
            assert_eq!(r.outcome, "simulated");
            assert_eq!(r.target, "POST http://127.0.0.1:9/api/badges/B-1/suspend");
            assert_eq!(
                (r.by.as_str(), r.at_ms, r.mode.as_str()),
                ("mia", 7, mode.as_str())
            );
        }
        let mut live = Dispatch::new(&connectors, Effective::Live, "inc-1", "mia", 7);
        let err = live
            .execute(
                &request("POST /badges/B-1/suspend"),
                Some(&agent),
                &[],
                &Vars::new(),
            )
            .unwrap_err();
        assert!(
            err.contains("cannot reach http://127.0.0.1:9/api/badges/B-1/suspend"),
            "{err}"
        );
        assert_eq!(live.records[0].outcome, "failed");
        assert_eq!(live.records[0].detail, err);
    }

    #[test]
    fn a_manual_connector_hands_the_command_to_people() {
        let connectors = Connectors::new(&[connector(ConnectorKind::Manual, "")]).unwrap();
        let d = Dispatch::new(&connectors, Effective::Live, "inc-1", "onesec", 0);
        assert!(d.by_hand(&request("POST /x"), Some(&party("Access control system"))));
        assert!(!d.by_hand(&request("POST /x"), Some(&party("Identity provider"))));
    }

    #[test]
    fn json_answers_fill_out_args() {
        let out = outputs_of(r#"{"__footage_ref__": "EXP-1", "ignored": "x", "__n__": 3}"#);
        assert_eq!(out["__footage_ref__"], "EXP-1");
        assert_eq!(out["__n__"], "3");
        assert!(!out.contains_key("ignored"));
        assert!(outputs_of("not json").is_empty());
    }
}
