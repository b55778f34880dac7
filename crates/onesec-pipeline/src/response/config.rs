//! `[response]` in `onesec.toml`: mode, playbook selection, routing, SLA, connectors.

use onesec_incident::RouteRule;
use serde::Deserialize;
use std::path::PathBuf;

/// How automated actions are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Nothing is performed: each action is recorded with the request it would have sent, and
    /// succeeds (the default, so a new installation never touches a door or an account).
    #[default]
    DryRun,
    /// Connectors perform the actions.
    Live,
}

/// `[response]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseConfig {
    /// `dry-run` (default) or `live`.
    pub mode: Mode,
    /// Exercise mode for the whole installation: no action runs, whatever the incident.
    pub exercise: bool,
    /// Start a playbook when detection opens or updates an incident that a `select` rule
    /// matches (default true); otherwise runs start only by `POST .../playbook`.
    pub auto_start: bool,
    /// More CACAO playbook files (JSON) to select from, besides the shipped ones.
    pub playbooks: Vec<PathBuf>,
    /// Which playbook an incident gets, first match wins; by default every incident gets the
    /// shipped hybrid-intrusion playbook.
    pub select: Vec<SelectRule>,
    /// Owner team by domain, site and category, first match wins (`onesec_incident::Route`).
    pub route: Vec<RouteRule>,
    /// Due dates per priority.
    pub sla: SlaConfig,
    /// Where escalations are sent (the name of a `webhook` connector), if anywhere.
    pub notify: Option<String>,
    /// The connectors and the agents each one serves.
    pub connectors: Vec<ConnectorConfig>,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        ResponseConfig {
            mode: Mode::DryRun,
            exercise: false,
            auto_start: true,
            playbooks: Vec::new(),
            select: Vec::new(),
            route: Vec::new(),
            sla: SlaConfig::default(),
            notify: None,
            connectors: Vec::new(),
        }
    }
}

/// One rule of `[[response.select]]`: incidents matching every field given get `playbook`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SelectRule {
    /// `physical`, `cyber` or `hybrid`.
    pub domain: Option<String>,
    /// A category name (`intrusion`, `exercise`, ...).
    pub category: Option<String>,
    /// Only incidents at least this urgent (1 most urgent ... 5).
    pub max_priority: Option<u8>,
    /// The playbook's CACAO id or name; `none` starts nothing.
    pub playbook: String,
}

/// `[response.sla]`: five durations each, priority 1 first (`5m`, `1h`, `3d`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Time to acknowledge; also the interval between escalations.
    pub ack: Vec<String>,
    /// Time to resolve.
    pub resolve: Vec<String>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        SlaConfig {
            ack: list(&["5m", "15m", "1h", "4h", "24h"]),
            resolve: list(&["4h", "8h", "24h", "72h", "168h"]),
        }
    }
}

/// What a connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectorKind {
    /// Generic REST: the CACAO command `METHOD /path key=value ...` against `url`.
    HttpApi,
    /// MQTT publish (door lock, zone lockdown) to the broker at `url`.
    Mqtt,
    /// A JSON notification POSTed to `url`.
    Webhook,
    /// A person does it: the command becomes a task for the step's team.
    Manual,
}

/// One `[[response.connectors]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Its name (in the action record and the audit log; `notify` refers to it).
    pub name: String,
    /// `http-api`, `mqtt`, `webhook` or `manual`.
    pub kind: ConnectorKind,
    /// The CACAO agents it serves, by id or by name ("Access control system").
    #[serde(default)]
    pub agents: Vec<String>,
    /// `http(s)://host[:port][/base]` for http-api and webhook; `mqtt://host[:port]` for mqtt.
    #[serde(default)]
    pub url: String,
    /// Bearer token sent with each request (http-api, webhook) or MQTT password.
    #[serde(default)]
    pub token: Option<String>,
    /// Name of an environment variable holding the token (read at start).
    #[serde(default)]
    pub token_env: Option<String>,
    /// MQTT user name (with the token as password).
    #[serde(default)]
    pub username: Option<String>,
    /// How long one action may take (default `5s`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Request body (http-api, webhook) or MQTT payload template; placeholders in
    /// `docs/playbooks.md`. Default: a JSON object with the incident, step and command.
    #[serde(default)]
    pub body: Option<String>,
    /// MQTT topic template (required for mqtt).
    #[serde(default)]
    pub topic: Option<String>,
    /// Record what it would do instead of doing it, even in `live` mode.
    #[serde(default)]
    pub dry_run: bool,
}
