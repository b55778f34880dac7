//! From JSON text to a typed [`Playbook`], with every shape error placed by a JSON pointer.
//!
//! The OASIS schemas are draft-07 with `$ref`s across 51 files; a schema crate for that is heavy
//! and slow to build. Instead the shapes that matter to the engine are checked here by a small
//! table per object kind, part by part (each step, variable, agent on its own), so that one bad
//! step does not hide the errors of the next. Only then does serde build the typed structs.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::issue::{Issue, join};
use crate::model::Playbook;

/// Why a playbook was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid playbook: {}", summary(.0))]
    Invalid(Vec<Issue>),
}

fn summary(issues: &[Issue]) -> String {
    let errors: Vec<String> = issues
        .iter()
        .filter(|i| i.is_error())
        .map(|i| i.to_string())
        .collect();
    errors.join("; ")
}

impl Playbook {
    /// Reads and validates a CACAO v2 playbook. Refused when validation finds any error; the
    /// warnings of an accepted playbook are available from [`Playbook::validate`].
    pub fn from_json(text: &str) -> Result<Playbook, LoadError> {
        let value: Value = serde_json::from_str(text)?;
        let (playbook, mut issues) = parse_value(&value);
        let Some(playbook) = playbook else {
            return Err(LoadError::Invalid(issues));
        };
        issues.extend(playbook.validate());
        if issues.iter().any(Issue::is_error) {
            return Err(LoadError::Invalid(issues));
        }
        Ok(playbook)
    }

    /// Writes the playbook back as JSON (unknown properties included).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

/// Every finding for a JSON text, errors and warnings, without refusing anything.
pub fn validate_json(text: &str) -> Result<Vec<Issue>, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    let (playbook, mut issues) = parse_value(&value);
    if let Some(playbook) = playbook {
        issues.extend(playbook.validate());
    }
    Ok(issues)
}

/// Shape checks, then the typed playbook if the shapes are right.
fn parse_value(value: &Value) -> (Option<Playbook>, Vec<Issue>) {
    let mut issues = Vec::new();
    let Some(root) = value.as_object() else {
        issues.push(Issue::error("", "a playbook must be a JSON object"));
        return (None, issues);
    };
    check_fields(root, "", PLAYBOOK_FIELDS, PLAYBOOK_REQUIRED, &mut issues);
    check_dict(root, "", "workflow", &mut issues, check_step);
    check_dict(root, "", "playbook_variables", &mut issues, check_variable);
    check_dict(
        root,
        "",
        "agent_definitions",
        &mut issues,
        check_agent_target,
    );
    check_dict(
        root,
        "",
        "target_definitions",
        &mut issues,
        check_agent_target,
    );
    if issues.iter().any(Issue::is_error) {
        return (None, issues);
    }
    match typed::<Playbook>(value, "") {
        Ok(playbook) => (Some(playbook), issues),
        Err(issue) => {
            issues.push(issue);
            (None, issues)
        }
    }
}

fn typed<T: DeserializeOwned>(value: &Value, pointer: &str) -> Result<T, Issue> {
    T::deserialize(value).map_err(|e| Issue::error(pointer, e.to_string()))
}

/// The JSON kinds a property may have.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    UInt,
    Bool,
    Obj,
    /// Array of strings with at least this many items.
    StrList(usize),
    /// Array of objects with at least this many items.
    ObjList(usize),
    /// Object whose values are strings.
    StrMap,
    /// A variable value: string, null, or object (dictionary).
    VarValue,
}

const PLAYBOOK_REQUIRED: &[&str] = &[
    "type",
    "spec_version",
    "id",
    "name",
    "created_by",
    "created",
    "modified",
    "workflow_start",
    "workflow",
];

const PLAYBOOK_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("spec_version", Kind::Str),
    ("id", Kind::Str),
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("created_by", Kind::Str),
    ("created", Kind::Str),
    ("modified", Kind::Str),
    ("revoked", Kind::Bool),
    ("priority", Kind::UInt),
    ("severity", Kind::UInt),
    ("impact", Kind::UInt),
    ("playbook_types", Kind::StrList(0)),
    ("labels", Kind::StrList(1)),
    ("playbook_variables", Kind::Obj),
    ("workflow_start", Kind::Str),
    ("workflow_exception", Kind::Str),
    ("workflow", Kind::Obj),
    ("agent_definitions", Kind::Obj),
    ("target_definitions", Kind::Obj),
];

const STEP_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("delay", Kind::UInt),
    ("timeout", Kind::UInt),
    ("step_variables", Kind::Obj),
    ("owner", Kind::Str),
    ("on_completion", Kind::Str),
    ("on_success", Kind::Str),
    ("on_failure", Kind::Str),
    ("commands", Kind::ObjList(1)),
    ("agent", Kind::Str),
    ("targets", Kind::StrList(1)),
    ("in_args", Kind::StrList(1)),
    ("out_args", Kind::StrList(1)),
    ("playbook_id", Kind::Str),
    ("playbook_version", Kind::Str),
    ("next_steps", Kind::StrList(2)),
    ("condition", Kind::Str),
    ("on_true", Kind::Str),
    ("on_false", Kind::Str),
    ("switch", Kind::Str),
    ("cases", Kind::StrMap),
];

const COMMAND_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("command", Kind::Str),
    ("command_b64", Kind::Str),
    ("description", Kind::Str),
];

const VARIABLE_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("description", Kind::Str),
    ("value", Kind::VarValue),
    ("constant", Kind::Bool),
    ("external", Kind::Bool),
];

const AGENT_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("name", Kind::Str),
    ("description", Kind::Str),
];

const STEP_TYPES: &[&str] = &[
    "start",
    "end",
    "action",
    "playbook-action",
    "parallel",
    "if-condition",
    "while-condition",
    "switch-condition",
];

fn check_step(step: &Value, pointer: &str, issues: &mut Vec<Issue>) {
    let Some(obj) = object_at(step, pointer, "a workflow step", issues) else {
        return;
    };
    check_fields(obj, pointer, STEP_FIELDS, &["type"], issues);
    if let Some(Value::String(t)) = obj.get("type")
        && !STEP_TYPES.contains(&t.as_str())
    {
        issues.push(Issue::error(
            join(pointer, "type"),
            format!(
                "unknown step type `{t}` (expected one of {})",
                STEP_TYPES.join(", ")
            ),
        ));
    }
    if let Some(Value::Array(commands)) = obj.get("commands") {
        for (i, command) in commands.iter().enumerate() {
            let at = format!("{}/{i}", join(pointer, "commands"));
            if let Some(c) = object_at(command, &at, "a command", issues) {
                check_fields(c, &at, COMMAND_FIELDS, &["type"], issues);
            }
        }
    }
    check_dict(obj, pointer, "step_variables", issues, check_variable);
}

fn check_variable(var: &Value, pointer: &str, issues: &mut Vec<Issue>) {
    if let Some(obj) = object_at(var, pointer, "a variable", issues) {
        check_fields(obj, pointer, VARIABLE_FIELDS, &["type"], issues);
    }
}

fn check_agent_target(def: &Value, pointer: &str, issues: &mut Vec<Issue>) {
    if let Some(obj) = object_at(def, pointer, "an agent or target", issues) {
        check_fields(obj, pointer, AGENT_FIELDS, &["type", "name"], issues);
    }
}

fn object_at<'a>(
    value: &'a Value,
    pointer: &str,
    what: &str,
    issues: &mut Vec<Issue>,
) -> Option<&'a Map<String, Value>> {
    let obj = value.as_object();
    if obj.is_none() {
        issues.push(Issue::error(
            pointer,
            format!("{what} must be a JSON object, found {}", kind_name(value)),
        ));
    }
    obj
}

/// Runs `check` on every entry of the dictionary `key` of `parent`, if present and an object.
fn check_dict(
    parent: &Map<String, Value>,
    pointer: &str,
    key: &str,
    issues: &mut Vec<Issue>,
    check: fn(&Value, &str, &mut Vec<Issue>),
) {
    let at = join(pointer, key);
    match parent.get(key) {
        Some(Value::Object(entries)) => {
            for (name, entry) in entries {
                check(entry, &join(&at, name), issues);
            }
        }
        Some(Value::Array(_)) if key == "workflow" => issues.push(Issue::error(
            at,
            "`workflow` must be an object keyed by step id, found an array (CACAO 1.x layout)",
        )),
        // a wrong kind was already reported by check_fields
        _ => {}
    }
}

fn check_fields(
    obj: &Map<String, Value>,
    pointer: &str,
    fields: &[(&str, Kind)],
    required: &[&str],
    issues: &mut Vec<Issue>,
) {
    for key in required {
        if !obj.contains_key(*key) {
            let at = if pointer.is_empty() { "" } else { pointer };
            issues.push(Issue::error(
                at,
                format!("missing required property `{key}`"),
            ));
        }
    }
    for (key, kind) in fields {
        if let Some(value) = obj.get(*key)
            && let Some(problem) = kind_problem(value, *kind)
        {
            issues.push(Issue::error(join(pointer, key), problem));
        }
    }
}

/// Why `value` is not of `kind`, or `None` when it is.
fn kind_problem(value: &Value, kind: Kind) -> Option<String> {
    let found = kind_name(value);
    let ok = match kind {
        Kind::Str => value.is_string(),
        Kind::UInt => value.is_u64(),
        Kind::Bool => value.is_boolean(),
        Kind::Obj => value.is_object(),
        Kind::StrList(min) => return list_problem(value, min, Value::is_string, "strings"),
        Kind::ObjList(min) => return list_problem(value, min, Value::is_object, "objects"),
        Kind::StrMap => value
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string)),
        Kind::VarValue => value.is_string() || value.is_null() || value.is_object(),
    };
    if ok {
        return None;
    }
    let expected = match kind {
        Kind::Str => "a string",
        Kind::UInt => "a whole number",
        Kind::Bool => "a boolean",
        Kind::Obj => "an object",
        Kind::StrMap => "an object whose values are strings",
        Kind::VarValue => {
            "a string, null or an object (numbers and booleans are encoded as strings)"
        }
        Kind::StrList(_) | Kind::ObjList(_) => "a list",
    };
    Some(format!("must be {expected}, found {found}"))
}

fn list_problem(
    value: &Value,
    min: usize,
    item_ok: fn(&Value) -> bool,
    what: &str,
) -> Option<String> {
    let Some(items) = value.as_array() else {
        return Some(format!(
            "must be a list of {what}, found {}",
            kind_name(value)
        ));
    };
    if items.len() < min {
        return Some(format!(
            "must hold at least {min} item(s), found {}",
            items.len()
        ));
    }
    items.iter().position(|item| !item_ok(item)).map(|i| {
        format!(
            "item {i} must be one of {what}, found {}",
            kind_name(&items[i])
        )
    })
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "a whole number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Vec<Issue> {
        validate_json(text).expect("json")
    }

    #[test]
    fn not_an_object_is_refused_at_the_root() {
        let found = issues("[1,2]");
        assert_eq!(found[0].pointer, "");
        assert!(found[0].message.contains("JSON object"));
    }

    #[test]
    fn missing_required_properties_are_each_named() {
        let found = issues(r#"{"type":"playbook"}"#);
        for key in ["spec_version", "id", "workflow_start", "workflow"] {
            assert!(
                found
                    .iter()
                    .any(|i| i.message.contains(&format!("`{key}`"))),
                "{key} not reported: {found:?}"
            );
        }
    }

    #[test]
    fn wrong_kinds_are_placed_inside_steps() {
        let text = r#"{"type":"playbook","spec_version":"cacao-2.0","id":"x","name":"n",
          "created_by":"c","created":"t","modified":"t","workflow_start":"s",
          "workflow":{"action--1":{"type":"action","timeout":"soon","commands":[{"command":"x"}]},
                      "start--2":{"type":"begin"}}}"#;
        let found = issues(text);
        let at = |p: &str| found.iter().any(|i| i.pointer == p);
        assert!(at("/workflow/action--1/timeout"), "{found:?}");
        assert!(at("/workflow/action--1/commands/0"), "{found:?}");
        assert!(at("/workflow/start--2/type"), "{found:?}");
    }

    #[test]
    fn a_number_as_variable_value_is_a_type_error() {
        let text = r#"{"type":"playbook","spec_version":"cacao-2.0","id":"x","name":"n",
          "created_by":"c","created":"t","modified":"t","workflow_start":"s","workflow":{},
          "playbook_variables":{"__n__":{"type":"integer","value":5}}}"#;
        let found = issues(text);
        assert!(
            found
                .iter()
                .any(|i| i.pointer == "/playbook_variables/__n__/value"),
            "{found:?}"
        );
    }
}
