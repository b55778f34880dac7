//! The rules of CACAO v2 that the JSON shape does not show: identifiers, step references, the
//! start step, step properties per type, variables, agents, and the workflow graph.
//!
//! Errors are what makes a playbook unsafe or impossible to run (a reference to a step that does
//! not exist, a loop no end step can be reached from, a condition we cannot evaluate). Where the
//! SOARCA corpus deviates from the letter of the spec but the playbook still runs unambiguously
//! (no start step, a dangling `workflow_exception`), we warn instead: refusing those would refuse
//! most playbooks written for the one open-source CACAO engine.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use crate::condition::Condition;
use crate::issue::{Issue, join};
use crate::model::{AgentTarget, Playbook, Step, StepType, Variable};
use crate::vars::{is_variable_name, references};

/// Agent/target types whose identifier prefix the OASIS schema ties to the `type` property.
const TYPED_AGENT_PREFIXES: &[&str] = &[
    "group",
    "http-api",
    "individual",
    "linux",
    "location",
    "net-address",
    "organization",
    "sector",
    "security-category",
    "ssh",
];

impl Playbook {
    /// Every semantic finding (errors and warnings), each with its JSON pointer.
    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.check_header(&mut issues);
        self.check_start(&mut issues);
        for (id, step) in &self.workflow {
            self.check_step(id, step, &mut issues);
        }
        check_variables(&self.playbook_variables, "/playbook_variables", &mut issues);
        check_definitions(&self.agent_definitions, "/agent_definitions", &mut issues);
        check_definitions(&self.target_definitions, "/target_definitions", &mut issues);
        self.check_graph(&mut issues);
        issues
    }

    fn check_header(&self, issues: &mut Vec<Issue>) {
        if self.object_type != "playbook" {
            issues.push(Issue::error("/type", "must be `playbook`"));
        }
        if self.spec_version != "cacao-2.0" {
            issues.push(Issue::error("/spec_version", "must be `cacao-2.0`"));
        }
        check_identifier(&self.id, Some("playbook"), "/id", issues);
        check_identifier(&self.created_by, None, "/created_by", issues);
        let created_ok = check_timestamp(&self.created, "/created", issues);
        let modified_ok = check_timestamp(&self.modified, "/modified", issues);
        // RFC 3339 UTC timestamps of the same form compare correctly as text
        if created_ok && modified_ok && self.modified < self.created {
            issues.push(Issue::error(
                "/modified",
                format!("must not be earlier than created ({})", self.created),
            ));
        }
    }

    fn check_start(&self, issues: &mut Vec<Issue>) {
        let starts: Vec<&String> = self
            .workflow
            .iter()
            .filter(|(_, s)| s.step_type == StepType::Start)
            .map(|(id, _)| id)
            .collect();
        if starts.len() > 1 {
            let ids: Vec<&str> = starts.iter().map(|s| s.as_str()).collect();
            issues.push(Issue::error(
                "/workflow",
                format!(
                    "several start steps ({}): a playbook has exactly one",
                    ids.join(", ")
                ),
            ));
        }
        match self.workflow.get(&self.workflow_start) {
            None => issues.push(Issue::error(
                "/workflow_start",
                format!("no step `{}` in the workflow", self.workflow_start),
            )),
            Some(step) if step.step_type != StepType::Start => {
                let also = if starts.is_empty() {
                    " and the workflow has no start step"
                } else {
                    ""
                };
                issues.push(Issue::warning(
                    "/workflow_start",
                    format!(
                        "names a {} step, not a start step{also}; the run begins there",
                        step.step_type.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
        if let Some(exception) = &self.workflow_exception
            && !self.workflow.contains_key(exception)
        {
            issues.push(Issue::warning(
                "/workflow_exception",
                format!("no step `{exception}` in the workflow: failures end the run without an exception handler"),
            ));
        }
    }

    fn check_step(&self, id: &str, step: &Step, issues: &mut Vec<Issue>) {
        let at = join("/workflow", id);
        check_identifier(id, Some(step.step_type.as_str()), &at, issues);
        for (key, target) in step.references() {
            if !self.workflow.contains_key(target) {
                issues.push(Issue::error(
                    format!("{at}/{key}"),
                    format!("refers to step `{target}`, which is not in the workflow"),
                ));
            }
        }
        check_pointers(step, &at, issues);
        self.check_type_properties(step, &at, issues);
        check_variables(&step.step_variables, &join(&at, "step_variables"), issues);
        for name in step.step_variables.keys() {
            if self.playbook_variables.contains_key(name) {
                issues.push(Issue::warning(
                    join(&join(&at, "step_variables"), name),
                    "also declared as a playbook variable; the step's declaration hides it in this step",
                ));
            }
        }
        self.check_args(step, &at, issues);
        if let Some(owner) = &step.owner {
            check_identifier(owner, None, &join(&at, "owner"), issues);
        }
    }

    fn check_type_properties(&self, step: &Step, at: &str, issues: &mut Vec<Issue>) {
        let missing = |key: &str, issues: &mut Vec<Issue>| {
            issues.push(Issue::error(
                at,
                format!(
                    "missing required property `{key}` of a {} step",
                    step.step_type.as_str()
                ),
            ));
        };
        match step.step_type {
            StepType::Action => {
                if step.commands.is_empty() {
                    missing("commands", issues);
                }
                match &step.agent {
                    None => missing("agent", issues),
                    Some(agent) => self.check_agent_ref(agent, &join(at, "agent"), issues),
                }
                for (i, target) in step.targets.iter().enumerate() {
                    if !self.target_definitions.contains_key(target) {
                        issues.push(Issue::error(
                            format!("{at}/targets/{i}"),
                            format!("target `{target}` is not in target_definitions"),
                        ));
                    }
                }
                self.check_commands(step, at, issues);
            }
            StepType::PlaybookAction if step.playbook_id.is_none() => {
                missing("playbook_id", issues)
            }
            StepType::Parallel if step.next_steps.len() < 2 => issues.push(Issue::error(
                join(at, "next_steps"),
                "a parallel step needs at least two next_steps",
            )),
            StepType::IfCondition | StepType::WhileCondition => {
                if step.on_true.is_none() {
                    missing("on_true", issues);
                }
                match &step.condition {
                    None => missing("condition", issues),
                    Some(c) => self.check_condition(c, &join(at, "condition"), step, issues),
                }
            }
            StepType::SwitchCondition => {
                match &step.switch {
                    None => missing("switch", issues),
                    Some(s) => self.check_switch_variable(s, &join(at, "switch"), step, issues),
                }
                if step.cases.is_empty() {
                    missing("cases", issues);
                }
            }
            _ => {}
        }
    }

    fn check_agent_ref(&self, agent: &str, at: &str, issues: &mut Vec<Issue>) {
        if !self.agent_definitions.contains_key(agent) {
            issues.push(Issue::error(
                at,
                format!("agent `{agent}` is not in agent_definitions"),
            ));
        }
    }

    fn check_commands(&self, step: &Step, at: &str, issues: &mut Vec<Issue>) {
        for (i, command) in step.commands.iter().enumerate() {
            let cat = format!("{at}/commands/{i}");
            let needs_text = matches!(
                command.command_type.as_str(),
                "manual" | "bash" | "powershell" | "ssh" | "http-api"
            );
            if needs_text && command.command.is_none() && command.command_b64.is_none() {
                issues.push(Issue::error(
                    &cat,
                    format!(
                        "a {} command needs `command` or `command_b64`",
                        command.command_type
                    ),
                ));
            }
            if let Some(b64) = &command.command_b64
                && base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .is_err()
            {
                issues.push(Issue::error(
                    join(&cat, "command_b64"),
                    "is not valid base64",
                ));
            }
            if let Some(text) = &command.command {
                self.check_references(text, step, &join(&cat, "command"), issues);
            }
        }
    }

    /// Variables referenced in a command that nobody declares cannot be substituted.
    fn check_references(&self, text: &str, step: &Step, at: &str, issues: &mut Vec<Issue>) {
        for name in references(text) {
            if !self.declares(step, &name) {
                issues.push(Issue::warning(
                    at,
                    format!("{name}:value refers to an undeclared variable; it stays as written"),
                ));
            }
        }
        let declared = self
            .playbook_variables
            .keys()
            .chain(step.step_variables.keys());
        for name in declared.filter(|n| is_variable_name(n)) {
            let bare = text
                .match_indices(name.as_str())
                .any(|(i, _)| !text[i + name.len()..].starts_with(":value"));
            if bare {
                issues.push(Issue::warning(
                    at,
                    format!("{name} is written without `:value`; only {name}:value is replaced by its value"),
                ));
            }
        }
    }

    fn check_condition(&self, text: &str, at: &str, step: &Step, issues: &mut Vec<Issue>) {
        match Condition::parse(text) {
            Err(e) => issues.push(Issue::error(at, e.to_string())),
            Ok(condition) => {
                for name in condition.variables() {
                    if !self.declares(step, &name) {
                        issues.push(Issue::error(
                            at,
                            format!("condition reads {name}, which is not declared"),
                        ));
                    }
                }
            }
        }
    }

    fn check_switch_variable(&self, text: &str, at: &str, step: &Step, issues: &mut Vec<Issue>) {
        let name = text.strip_suffix(":value").unwrap_or(text);
        if !is_variable_name(name) {
            issues.push(Issue::error(
                at,
                format!("`{text}` is not a variable (__name__:value)"),
            ));
        } else if !self.declares(step, name) {
            issues.push(Issue::error(
                at,
                format!("switch reads {name}, which is not declared"),
            ));
        }
    }

    fn check_args(&self, step: &Step, at: &str, issues: &mut Vec<Issue>) {
        let lists = [("in_args", &step.in_args), ("out_args", &step.out_args)];
        for (key, names) in lists {
            for (i, name) in names.iter().enumerate() {
                // sub-playbook arguments are declared by the called playbook, not here
                if step.step_type == StepType::PlaybookAction {
                    continue;
                }
                if !self.declares(step, name) {
                    issues.push(Issue::error(
                        format!("{at}/{key}/{i}"),
                        format!("{name} is not declared in step_variables or playbook_variables"),
                    ));
                }
            }
        }
    }

    fn declares(&self, step: &Step, name: &str) -> bool {
        step.step_variables.contains_key(name) || self.playbook_variables.contains_key(name)
    }

    /// Graph rules: every step reachable, and an end reachable from every reachable step.
    fn check_graph(&self, issues: &mut Vec<Issue>) {
        if !self.workflow.values().any(|s| s.step_type == StepType::End) {
            issues.push(Issue::error("/workflow", "the workflow has no end step"));
        }
        let mut roots = vec![self.workflow_start.as_str()];
        roots.extend(self.workflow_exception.as_deref());
        let reachable = reach(&self.workflow, &roots);
        for id in self.workflow.keys() {
            if !reachable.contains(id.as_str()) {
                issues.push(Issue::warning(
                    join("/workflow", id),
                    "unreachable from workflow_start and workflow_exception",
                ));
            }
        }
        let finishing = can_finish(&self.workflow);
        for id in &reachable {
            if !finishing.contains(id) {
                issues.push(Issue::error(
                    join("/workflow", id),
                    "no end step can be reached from this step: the workflow would loop forever",
                ));
            }
        }
    }
}

/// `on_completion` excludes `on_success`/`on_failure`; start and end have restrictions.
fn check_pointers(step: &Step, at: &str, issues: &mut Vec<Issue>) {
    if step.on_completion.is_some() && (step.on_success.is_some() || step.on_failure.is_some()) {
        issues.push(Issue::error(
            join(at, "on_completion"),
            "on_completion must not be used together with on_success or on_failure",
        ));
    }
    let outgoing =
        step.on_completion.is_some() || step.on_success.is_some() || step.on_failure.is_some();
    match step.step_type {
        StepType::End if outgoing => issues.push(Issue::error(
            at,
            "an end step must not have on_completion, on_success or on_failure",
        )),
        StepType::Start if step.on_success.is_some() || step.on_failure.is_some() => issues.push(
            Issue::error(at, "a start step must not have on_success or on_failure"),
        ),
        _ => {}
    }
}

fn check_variables(vars: &BTreeMap<String, Variable>, base: &str, issues: &mut Vec<Issue>) {
    for (name, var) in vars {
        let at = join(base, name);
        if !is_variable_name(name) {
            issues.push(Issue::error(
                &at,
                "variable names are __name__: letters, digits, _ and -, starting with a letter or _",
            ));
        }
        if let Some(problem) = value_problem(var) {
            issues.push(Issue::error(join(&at, "value"), problem));
        }
    }
}

/// Typed values are strings in CACAO; the common types must parse as what they claim.
fn value_problem(var: &Variable) -> Option<String> {
    use serde_json::Value;
    let value = var.value.as_ref()?;
    if let Value::Object(_) = value {
        return (var.var_type != "dictionary").then(|| {
            format!(
                "an object value needs type dictionary, not {}",
                var.var_type
            )
        });
    }
    let Value::String(text) = value else {
        return None;
    };
    let ok = match var.var_type.as_str() {
        "integer" | "long" => text.parse::<i64>().is_ok(),
        "float" => text.parse::<f64>().is_ok(),
        "bool" => text == "true" || text == "false",
        "ipv4-addr" => ipv4_ok(text),
        "ipv6-addr" => text
            .split('/')
            .next()
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        _ => true,
    };
    (!ok).then(|| format!("`{text}` is not a valid {}", var.var_type))
}

fn ipv4_ok(text: &str) -> bool {
    let mut parts = text.splitn(2, '/');
    let addr_ok = parts
        .next()
        .is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok());
    let prefix_ok = parts
        .next()
        .is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= 32));
    addr_ok && prefix_ok
}

fn check_definitions(defs: &BTreeMap<String, AgentTarget>, base: &str, issues: &mut Vec<Issue>) {
    for (id, def) in defs {
        let at = join(base, id);
        check_identifier(id, None, &at, issues);
        let prefix = id.split("--").next().unwrap_or_default();
        if TYPED_AGENT_PREFIXES.contains(&prefix) && def.object_type != prefix {
            issues.push(Issue::error(
                join(&at, "type"),
                format!(
                    "is `{}`, but the id says `{prefix}`: the type must be `{prefix}`",
                    def.object_type
                ),
            ));
        }
        check_emails(def, &at, issues);
    }
}

/// `contact.email` values are handed to mailers by connectors: refuse anything that is not a
/// plain address (SOARCA's test corpus hides a shell command in one).
fn check_emails(def: &AgentTarget, at: &str, issues: &mut Vec<Issue>) {
    let Some(emails) = def
        .other
        .get("contact")
        .and_then(|c| c.get("email"))
        .and_then(|e| e.as_object())
    else {
        return;
    };
    for (kind, value) in emails {
        let text = value.as_str().unwrap_or_default();
        if !email_ok(text) {
            issues.push(Issue::error(
                format!("{at}/contact/email/{kind}"),
                format!("`{text}` is not an e-mail address"),
            ));
        }
    }
}

fn email_ok(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_{|}~-".contains(c));
    let domain_ok = domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    local_ok && domain_ok
}

/// `type--uuid` with an RFC 4122 UUID (versions 1-5), as the OASIS identifier pattern says.
fn check_identifier(id: &str, expected_type: Option<&str>, at: &str, issues: &mut Vec<Issue>) {
    let Some((prefix, uuid)) = id.rsplit_once("--") else {
        issues.push(Issue::error(
            at,
            format!("`{id}` is not an identifier (<type>--<uuid>)"),
        ));
        return;
    };
    let prefix_ok = prefix.len() >= 2
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !prefix.ends_with('-');
    if !prefix_ok || !uuid_ok(uuid) {
        issues.push(Issue::error(
            at,
            format!("`{id}` is not an identifier (<type>--<uuid>)"),
        ));
        return;
    }
    if let Some(expected) = expected_type
        && prefix != expected
    {
        issues.push(Issue::error(
            at,
            format!("identifier `{id}` must start with `{expected}--`"),
        ));
    }
}

fn uuid_ok(uuid: &str) -> bool {
    let groups: Vec<&str> = uuid.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5 || groups.iter().zip(lens).any(|(g, n)| g.len() != n) {
        return false;
    }
    let hex = groups
        .iter()
        .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    let version_ok = groups[2].starts_with(['1', '2', '3', '4', '5']);
    let variant_ok = groups[3].starts_with(['8', '9', 'a', 'b', 'A', 'B']);
    hex && version_ok && variant_ok
}

/// `yyyy-mm-ddThh:mm:ss[.s+]Z`.
fn check_timestamp(text: &str, at: &str, issues: &mut Vec<Issue>) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && text.ends_with('Z');
    let fraction_ok = match text.get(19..text.len().saturating_sub(1)) {
        Some("") => true,
        Some(f) => f.len() > 1 && f.starts_with('.') && f[1..].bytes().all(|c| c.is_ascii_digit()),
        None => false,
    };
    let ok = shape && fraction_ok;
    if !ok {
        issues.push(Issue::error(
            at,
            format!("`{text}` is not a UTC timestamp (yyyy-mm-ddThh:mm:ss[.s+]Z)"),
        ));
    }
    ok
}

/// Steps reachable from `roots` along every kind of reference.
fn reach<'a>(workflow: &'a BTreeMap<String, Step>, roots: &[&'a str]) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = roots.to_vec();
    while let Some(id) = todo.pop() {
        let Some((key, step)) = workflow.get_key_value(id) else {
            continue;
        };
        if !seen.insert(key.as_str()) {
            continue;
        }
        todo.extend(step.references().into_iter().map(|(_, r)| r));
    }
    seen
}

/// Steps from which the run can finish: end steps, steps whose branch ends implicitly (no
/// success pointer), and any step with a successor that can finish (a fixpoint).
fn can_finish(workflow: &BTreeMap<String, Step>) -> BTreeSet<&str> {
    let mut done: BTreeSet<&str> = workflow
        .iter()
        .filter(|(_, s)| implicit_end(s))
        .map(|(id, _)| id.as_str())
        .collect();
    loop {
        let before = done.len();
        for (id, step) in workflow {
            if step.references().iter().any(|(_, r)| done.contains(r)) {
                done.insert(id.as_str());
            }
        }
        if done.len() == before {
            return done;
        }
    }
}

/// A step that, on success, has nowhere to go ends its branch (the engine treats it as an end).
fn implicit_end(step: &Step) -> bool {
    step.step_type == StepType::End || step.success_next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_oasis_pattern() {
        let mut issues = Vec::new();
        check_identifier(
            "action--2fd6bca0-24ed-4d74-8eae-da126a84f7c4",
            Some("action"),
            "/x",
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        check_identifier(
            "soarca-fin-pong-f896bb3b-bb37-429e-8ece-2d4286cf326d",
            None,
            "/a",
            &mut issues,
        );
        check_identifier(
            "end--2fd6bca0-24ed-4d74-8eae-da126a84f7c4",
            Some("action"),
            "/b",
            &mut issues,
        );
        check_identifier(
            "step--2fd6bca0-24ed-4d74-0eae-da126a84f7c4",
            None,
            "/c",
            &mut issues,
        );
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/a", "/b", "/c"]);
    }

    #[test]
    fn timestamps_need_utc_and_the_right_shape() {
        let mut issues = Vec::new();
        assert!(check_timestamp(
            "2023-05-26T15:56:00.123456Z",
            "/t",
            &mut issues
        ));
        assert!(check_timestamp("2023-05-26T15:56:00Z", "/t", &mut issues));
        assert!(!check_timestamp("2023-05-26 15:56:00Z", "/t", &mut issues));
        assert!(!check_timestamp("2023-05-26T15:56:00.Z", "/t", &mut issues));
        assert!(!check_timestamp(
            "2023-05-26T15:56:00+01:00",
            "/t",
            &mut issues
        ));
    }

    #[test]
    fn emails_must_be_plain_addresses() {
        assert!(email_ok("banana@business.com"));
        assert!(!email_ok("banana@business.com;`shh hack`"));
        assert!(!email_ok("nobody"));
    }
}
