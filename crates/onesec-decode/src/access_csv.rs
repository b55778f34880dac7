//! CSV exports of access-control systems, read through a column mapping.
//!
//! The mapping is a TOML file (see `FORMATS.md`):
//!
//! ```toml
//! [csv]
//! delimiter = ","
//! header = true
//! [columns]
//! time = { column = "timestamp", format = "rfc3339" }   # or a strftime pattern + timezone
//! reader = "reader_id"
//! badge = "card_number"
//! result = "result"
//! reason = "reason"
//! direction = "direction"
//! [values]                                              # optional, replaces the defaults
//! granted = ["granted", "ok"]
//! denied = ["denied"]
//! ```
//!
//! or [`CsvMapping::auto`], which finds the columns from common header names.

use crate::{DecodeContext, DecodeError, Decoded, MAX_RECORD_BYTES, new_event, time};
use chrono::format::{Item, StrftimeItems};
use onesec_event::{Activity, Direction, Event, EventClass, Status};
use std::str::FromStr;

/// A column mapping file that cannot be used: which key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The text is not TOML.
    #[error("column mapping is not valid TOML: {0}")]
    Toml(String),
    /// A key has a value we cannot use.
    #[error("column mapping key '{key}': {reason}")]
    Invalid {
        /// The key, e.g. `columns.time.format`.
        key: String,
        /// What was expected and what was found.
        reason: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> MappingError {
    MappingError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// What a column of the export means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Time,
    Reader,
    Badge,
    Result,
    Reason,
    Direction,
    Portal,
    User,
    HolderName,
}

const ROLES: [Role; 9] = [
    Role::Time,
    Role::Reader,
    Role::Badge,
    Role::Result,
    Role::Reason,
    Role::Direction,
    Role::Portal,
    Role::User,
    Role::HolderName,
];

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Time => "time",
            Role::Reader => "reader",
            Role::Badge => "badge",
            Role::Result => "result",
            Role::Reason => "reason",
            Role::Direction => "direction",
            Role::Portal => "portal",
            Role::User => "user",
            Role::HolderName => "holder_name",
        }
    }

    /// Header names [`CsvMapping::auto`] recognises (compared lower-case, without ` _-`).
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Role::Time => &[
                "timestamp",
                "time",
                "datetime",
                "eventtime",
                "date",
                "utctime",
                "occurred",
                "when",
                // Genetec's "Event timestamp", Lenel's "Time/Date".
                "eventtimestamp",
                "eventdatetime",
                "timedate",
            ],
            Role::Reader => &[
                "reader",
                "readerid",
                "doorreader",
                "readername",
                "accesspoint",
                "accesspointtoken",
                "device",
            ],
            Role::Badge => &[
                "card",
                "cardnumber",
                "cardno",
                "cardid",
                "badge",
                "badgeid",
                "badgenumber",
                "credential",
                "credentialid",
                "credentialtoken",
                "proxid",
            ],
            // The event column of exports that mix results with door alarms (Lenel's
            // "Event Type", Genetec's and Paxton's "Event"), read by [`loose_result`].
            Role::Result => &[
                "result",
                "status",
                "decision",
                "outcome",
                "accessresult",
                "eventtype",
                "event",
            ],
            Role::Reason => &["reason", "reasoncode", "denialreason", "denyreason"],
            Role::Direction => &["direction", "dir", "inout"],
            Role::Portal => &["door", "doorid", "doorname", "portal", "where"],
            Role::User => &["user", "username", "account"],
            Role::HolderName => &["holder", "holdername", "cardholder", "name", "personname"],
        }
    }
}

/// A column named in the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnRef {
    /// By header name (compared trimmed, case-insensitively).
    Name(String),
    /// By position, 0-based (written 1-based in the file).
    Index(usize),
}

/// A piece of a value template: text as written, or the cell of a named column.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Column(String),
}

/// `"F{floor}-Z{zone}"` → text and column parts; `{{` and `}}` are literal braces.
fn parse_template(template: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!("unclosed '{{' in '{template}'"));
                }
                if name.trim().is_empty() {
                    return Err(format!(
                        "expected a column name between braces in '{template}'"
                    ));
                }
                if !text.is_empty() {
                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                }
                parts.push(TemplatePart::Column(name.trim().to_string()));
            }
            '}' => return Err(format!("unmatched '}}' in '{template}'")),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    if !parts.iter().any(|p| matches!(p, TemplatePart::Column(_))) {
        return Err(format!("expected at least one {{column}} in '{template}'"));
    }
    Ok(parts)
}

/// How the time column is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeFormat {
    /// RFC 3339, `YYYY-MM-DD HH:MM:SS`, or epoch digits.
    Auto,
    /// RFC 3339 only.
    Rfc3339,
    /// Epoch milliseconds.
    EpochMs,
    /// Epoch seconds.
    EpochS,
    /// A chrono strftime pattern.
    Pattern(String),
}

/// How to read an access-control CSV export: delimiter, header, which column means what, and
/// which cell values mean granted/denied and in/out.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvMapping {
    delimiter: u8,
    header: bool,
    /// `None` = find the columns from header synonyms.
    columns: Option<Vec<(Role, ColumnRef)>>,
    /// Roles whose value is composed from several cells (`template = "F{floor}-Z{zone}"`).
    templates: Vec<(Role, Vec<TemplatePart>)>,
    time_format: TimeFormat,
    timezone: chrono_tz::Tz,
    granted: Vec<String>,
    denied: Vec<String>,
    entry: Vec<String>,
    exit: Vec<String>,
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

impl CsvMapping {
    /// A mapping that finds the columns from common header names (comma-separated, header row).
    pub fn auto() -> CsvMapping {
        CsvMapping {
            delimiter: b',',
            header: true,
            columns: None,
            templates: Vec::new(),
            time_format: TimeFormat::Auto,
            timezone: chrono_tz::Tz::UTC,
            granted: words(&[
                "granted",
                "grant",
                "access granted",
                "ok",
                "success",
                "succeeded",
                "allowed",
                "allow",
                "accepted",
                "valid",
                "pass",
                "passed",
                "true",
                "yes",
                "1",
            ]),
            denied: words(&[
                "denied",
                "deny",
                "access denied",
                "rejected",
                "reject",
                "refused",
                "fail",
                "failed",
                "failure",
                "invalid",
                "blocked",
                "false",
                "no",
                "0",
            ]),
            entry: words(&[
                "in", "entry", "enter", "entrance", "ingress", "inbound", "i",
            ]),
            exit: words(&["out", "exit", "egress", "leave", "outbound", "o"]),
        }
    }

    /// Reads a mapping file (`[csv]`, `[columns]`, `[values]`; unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<CsvMapping, MappingError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| MappingError::Toml(e.to_string()))?;
        let mut mapping = CsvMapping::auto();
        for key in table.keys() {
            if !matches!(key.as_str(), "csv" | "columns" | "values") {
                return Err(invalid(
                    key,
                    "unknown section: expected [csv], [columns] or [values]",
                ));
            }
        }
        if let Some(csv) = table.get("csv") {
            let csv = csv
                .as_table()
                .ok_or_else(|| invalid("csv", "expected a table"))?;
            for (key, value) in csv {
                match key.as_str() {
                    "delimiter" => mapping.delimiter = delimiter(value)?,
                    "header" => {
                        mapping.header = value
                            .as_bool()
                            .ok_or_else(|| invalid("csv.header", "expected true or false"))?
                    }
                    other => {
                        return Err(invalid(
                            &format!("csv.{other}"),
                            "unknown key: expected delimiter or header",
                        ));
                    }
                }
            }
        }
        let columns = table
            .get("columns")
            .ok_or_else(|| invalid("columns", "missing: the mapping must name its columns"))?
            .as_table()
            .ok_or_else(|| invalid("columns", "expected a table"))?;
        let mut mapped = Vec::new();
        for (key, spec) in columns {
            let role = ROLES.iter().copied().find(|r| r.key() == key).ok_or_else(|| {
                invalid(
                    &format!("columns.{key}"),
                    "unknown column role: expected time, reader, badge, result, reason, direction, portal, user or holder_name",
                )
            })?;
            mapped.push((role, column_spec(&mut mapping, role, spec)?));
        }
        if mapped.is_empty() {
            return Err(invalid("columns", "empty: name at least one column"));
        }
        if !mapping.header && mapped.iter().any(|(_, c)| matches!(c, ColumnRef::Name(_))) {
            return Err(invalid(
                "csv.header",
                "false, but columns are named: give column numbers (1-based) instead",
            ));
        }
        mapping.columns = Some(mapped);
        if let Some(values) = table.get("values") {
            let values = values
                .as_table()
                .ok_or_else(|| invalid("values", "expected a table"))?;
            for (key, list) in values {
                let target = match key.as_str() {
                    "granted" => &mut mapping.granted,
                    "denied" => &mut mapping.denied,
                    "in" => &mut mapping.entry,
                    "out" => &mut mapping.exit,
                    other => {
                        return Err(invalid(
                            &format!("values.{other}"),
                            "unknown key: expected granted, denied, in or out",
                        ));
                    }
                };
                *target = string_list(&format!("values.{key}"), list)?;
            }
        }
        Ok(mapping)
    }

    /// Which column indexes the roles have in a file with this `header` row.
    fn resolve(&self, header: Option<&[String]>) -> Result<Vec<(Role, usize)>, String> {
        let Some(columns) = &self.columns else {
            let header = header.unwrap_or_default();
            let normal: Vec<String> = header.iter().map(|h| normalise(h)).collect();
            let found: Vec<(Role, usize)> = ROLES
                .iter()
                .filter_map(|role| {
                    role.synonyms()
                        .iter()
                        .find_map(|s| normal.iter().position(|h| h == s))
                        .map(|i| (*role, i))
                })
                .collect();
            let has = |role: Role| found.iter().any(|(r, _)| *r == role);
            if !has(Role::Time) || !(has(Role::Badge) || has(Role::Reader) || has(Role::Result)) {
                return Err(format!(
                    "expected a header with a time column (timestamp, time, datetime...) and a badge, reader or result column, found '{}'",
                    header.join(",")
                ));
            }
            return Ok(found);
        };
        let mut resolved = Vec::new();
        let mut missing = Vec::new();
        for (role, column) in columns {
            match column {
                ColumnRef::Index(i) => resolved.push((*role, *i)),
                ColumnRef::Name(name) => {
                    let found = header.and_then(|h| {
                        h.iter()
                            .position(|cell| cell.trim().eq_ignore_ascii_case(name))
                    });
                    match found {
                        Some(i) => resolved.push((*role, i)),
                        None => missing.push(format!("'{name}' ({})", role.key())),
                    }
                }
            }
        }
        for (role, parts) in &self.templates {
            for part in parts {
                if let TemplatePart::Column(name) = part {
                    let found = header.is_some_and(|h| {
                        h.iter().any(|cell| cell.trim().eq_ignore_ascii_case(name))
                    });
                    if !found {
                        missing.push(format!("'{name}' ({} template)", role.key()));
                    }
                }
            }
        }
        if missing.is_empty() {
            Ok(resolved)
        } else {
            Err(format!(
                "expected the header to have the mapped column(s) {}, found '{}'",
                missing.join(", "),
                header.unwrap_or_default().join(",")
            ))
        }
    }
}

/// Header name normalised for synonym matching.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '/'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn delimiter(value: &toml::Value) -> Result<u8, MappingError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid("csv.delimiter", "expected a one-character string"))?;
    match text {
        "\\t" | "tab" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(invalid(
            "csv.delimiter",
            format!("expected one ASCII character (or \"tab\"), found '{text}'"),
        )),
    }
}

fn string_list(key: &str, value: &toml::Value) -> Result<Vec<String>, MappingError> {
    let items = value
        .as_array()
        .ok_or_else(|| invalid(key, "expected a list of strings"))?;
    items
        .iter()
        .map(|item| match item {
            toml::Value::String(s) => Ok(s.trim().to_lowercase()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            other => Err(invalid(
                key,
                format!("expected strings, found {}", other.type_str()),
            )),
        })
        .collect()
}

/// `"name"`, `3` (1-based) or `{ column = ..., format = ..., timezone = ... }`.
fn column_spec(
    mapping: &mut CsvMapping,
    role: Role,
    spec: &toml::Value,
) -> Result<ColumnRef, MappingError> {
    let key = format!("columns.{}", role.key());
    let reference = |value: &toml::Value, key: &str| -> Result<ColumnRef, MappingError> {
        match value {
            toml::Value::String(name) if !name.trim().is_empty() => {
                Ok(ColumnRef::Name(name.trim().to_string()))
            }
            toml::Value::Integer(n) if *n >= 1 => Ok(ColumnRef::Index(
                usize::try_from(*n - 1).unwrap_or(usize::MAX),
            )),
            other => Err(invalid(
                key,
                format!("expected a column name or a 1-based column number, found {other}"),
            )),
        }
    };
    let toml::Value::Table(table) = spec else {
        return reference(spec, &key);
    };
    let template = match table.get("template") {
        None => None,
        Some(_) if role == Role::Time => {
            return Err(invalid(
                &format!("{key}.template"),
                "a time is read from one column: use column and format",
            ));
        }
        Some(value) => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid(&format!("{key}.template"), "expected a string"))?;
            Some(
                parse_template(text)
                    .map_err(|reason| invalid(&format!("{key}.template"), reason))?,
            )
        }
    };
    // With a template, `column` may be left out: the first column the template names stands
    // for the role (its emptiness decides whether the role has a value).
    let first_in_template = template.as_ref().and_then(|parts| {
        parts.iter().find_map(|p| match p {
            TemplatePart::Column(name) => Some(ColumnRef::Name(name.clone())),
            TemplatePart::Text(_) => None,
        })
    });
    let column = match (table.get("column"), first_in_template) {
        (Some(column), _) => reference(column, &format!("{key}.column"))?,
        (None, Some(first)) => first,
        (None, None) => return Err(invalid(&key, "expected a 'column' (or 'template') entry")),
    };
    if let Some(parts) = template {
        mapping.templates.push((role, parts));
    }
    for (name, value) in table {
        match (name.as_str(), role) {
            ("column" | "template", _) => {}
            ("format", Role::Time) => {
                let text = value
                    .as_str()
                    .ok_or_else(|| invalid(&format!("{key}.format"), "expected a string"))?;
                mapping.time_format = time_format(text)
                    .map_err(|reason| invalid(&format!("{key}.format"), reason))?;
            }
            ("timezone", Role::Time) => {
                let text = value.as_str().unwrap_or_default();
                mapping.timezone = chrono_tz::Tz::from_str(text).map_err(|_| {
                    invalid(
                        &format!("{key}.timezone"),
                        format!("expected an IANA time zone such as Europe/Paris, found '{text}'"),
                    )
                })?;
            }
            (other, _) => {
                let expected = if role == Role::Time {
                    "column, format or timezone"
                } else {
                    "column or template"
                };
                return Err(invalid(
                    &format!("{key}.{other}"),
                    format!("unknown key: expected {expected}"),
                ));
            }
        }
    }
    Ok(column)
}

fn time_format(text: &str) -> Result<TimeFormat, String> {
    Ok(match text.trim() {
        "auto" => TimeFormat::Auto,
        "rfc3339" | "RFC3339" | "iso8601" => TimeFormat::Rfc3339,
        "epoch_ms" | "epoch-ms" => TimeFormat::EpochMs,
        "epoch_s" | "epoch" | "epoch-s" => TimeFormat::EpochS,
        pattern if pattern.contains('%') => {
            if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
                return Err(format!(
                    "expected a valid chrono strftime pattern, found '{pattern}'"
                ));
            }
            TimeFormat::Pattern(pattern.to_string())
        }
        other => {
            return Err(format!(
                "expected rfc3339, auto, epoch_ms, epoch_s or a strftime pattern such as '%d/%m/%Y %H:%M:%S', found '{other}'"
            ));
        }
    })
}

/// Decodes a whole CSV body into `out`.
pub(crate) fn decode(mapping: &CsvMapping, bytes: &[u8], ctx: &DecodeContext, out: &mut Decoded) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    let mut columns: Option<Result<Vec<(Role, usize)>, String>> = if mapping.header {
        None
    } else {
        Some(mapping.resolve(None))
    };
    loop {
        let start = reader.position().clone();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let line = error.position().map_or(start.line(), |p| p.line());
                let raw = String::from_utf8_lossy(
                    bytes.get(usize_of(start.byte())..).unwrap_or_default(),
                );
                out.errors.push(DecodeError::new(
                    usize_of(line),
                    format!("expected CSV records, found unreadable input ({error}); the rest of the body was not read"),
                    scan_line(&raw),
                ));
                break;
            }
        }
        // A record's position is where the previous one ended, before its line end.
        let position = record.position().cloned().unwrap_or(start);
        let mut line = usize_of(position.line());
        let mut begin = usize_of(position.byte()).min(bytes.len());
        while let Some(&byte @ (b'\r' | b'\n')) = bytes.get(begin) {
            line += usize::from(byte == b'\n');
            begin += 1;
        }
        let end = usize_of(reader.position().byte()).clamp(begin, bytes.len());
        let raw_bytes = trim_line_end(&bytes[begin..end]);
        let raw = String::from_utf8_lossy(raw_bytes);
        if record.iter().all(|cell| cell.is_empty()) {
            continue;
        }
        if raw_bytes.len() > MAX_RECORD_BYTES {
            out.errors.push(DecodeError::new(
                line,
                format!(
                    "expected a CSV row of at most {MAX_RECORD_BYTES} bytes, found {} bytes",
                    raw_bytes.len()
                ),
                raw.chars().take(1024).collect::<String>(),
            ));
            continue;
        }
        let Some(resolved) = &columns else {
            let names: Vec<String> = record
                .iter()
                .map(|cell| String::from_utf8_lossy(cell).trim().to_string())
                .collect();
            let result = mapping.resolve(Some(&names));
            if let Err(reason) = &result {
                out.errors.push(DecodeError::new(
                    line,
                    format!("header row: {reason}"),
                    raw.as_ref(),
                ));
            }
            header = Some(names);
            columns = Some(result);
            continue;
        };
        let row = match resolved {
            Ok(resolved) => decode_row(mapping, resolved, header.as_deref(), &record, &raw, ctx),
            Err(_) => Err("not decoded: the header does not match the column mapping (see the header row's error)".into()),
        };
        match row {
            Ok(event) => out.events.push(event),
            Err(reason) => out
                .errors
                .push(DecodeError::new(line, reason, raw.as_ref())),
        }
    }
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn trim_line_end(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The first line of `text`.
fn scan_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// A cell by column index: `None` when empty; an error naming the column when the row is too
/// short or the cell is not UTF-8.
fn cell<'r>(
    record: &'r csv::ByteRecord,
    index: usize,
    role: Role,
    header: Option<&[String]>,
) -> Result<Option<&'r str>, String> {
    let name = column_name(header, index);
    let Some(bytes) = record.get(index) else {
        return Err(format!(
            "column {name} ({}): expected a cell at position {}, found a row of {} cells",
            role.key(),
            index + 1,
            record.len()
        ));
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "column {name} ({}): expected UTF-8 text, found an invalid byte at {}",
            role.key(),
            e.valid_up_to()
        )
    })?;
    Ok(if text.is_empty() { None } else { Some(text) })
}

fn column_name(header: Option<&[String]>, index: usize) -> String {
    match header.and_then(|h| h.get(index)) {
        Some(name) => format!("'{name}'"),
        None => format!("#{}", index + 1),
    }
}

/// A template's value for this row: its text with each `{column}` replaced by the cell.
fn fill_template(
    parts: &[TemplatePart],
    record: &csv::ByteRecord,
    header: Option<&[String]>,
    role: Role,
) -> Result<String, String> {
    let mut value = String::new();
    for part in parts {
        match part {
            TemplatePart::Text(text) => value.push_str(text),
            TemplatePart::Column(name) => {
                let index = header
                    .and_then(|h| {
                        h.iter()
                            .position(|cell| cell.trim().eq_ignore_ascii_case(name))
                    })
                    .ok_or_else(|| format!("{} template: no column '{name}'", role.key()))?;
                value.push_str(cell(record, index, role, header)?.unwrap_or_default());
            }
        }
    }
    Ok(value)
}

fn decode_row(
    mapping: &CsvMapping,
    columns: &[(Role, usize)],
    header: Option<&[String]>,
    record: &csv::ByteRecord,
    raw: &str,
    ctx: &DecodeContext,
) -> Result<Event, String> {
    let mut event = new_event(
        ctx,
        "access-csv",
        raw,
        None,
        EventClass::PhysicalAccess,
        Activity::AccessGranted,
    );
    event.status = Status::Success;
    event.source.product = "access_control".into();
    event.source.service = "csv".into();
    let mut result_text = None;
    for &(role, index) in columns {
        let Some(text) = cell(record, index, role, header)? else {
            if matches!(role, Role::Time | Role::Result) {
                return Err(format!(
                    "column {} ({}): expected a {}, found an empty cell",
                    column_name(header, index),
                    role.key(),
                    if role == Role::Time { "time" } else { "result" }
                ));
            }
            continue;
        };
        let bad = |what: String| {
            format!(
                "column {} ({}): {what}",
                column_name(header, index),
                role.key()
            )
        };
        match role {
            Role::Time => event.time_ms = parse_time(mapping, text).map_err(bad)?,
            Role::Result => {
                let lower = text.to_lowercase();
                if mapping.granted.contains(&lower) {
                    result_text = Some("granted");
                } else if mapping.denied.contains(&lower) {
                    result_text = Some("denied");
                    event.activity = Activity::AccessDenied;
                    event.status = Status::Failure;
                } else if let Some((activity, status)) = loose_result(&lower) {
                    // An event text: "Access refused", "Denied Access: Badge Not Active",
                    // "Door forced open".
                    event.activity = activity;
                    event.status = status;
                    result_text = Some(match activity {
                        Activity::AccessGranted => "granted",
                        Activity::AccessDenied => "denied",
                        Activity::PortalForced => "door forced open",
                        _ => "door held open",
                    });
                    if activity == Activity::AccessDenied
                        && event.physical.reason.is_none()
                        && let Some((_, reason)) = text.split_once(':')
                        && !reason.trim().is_empty()
                    {
                        event.physical.reason = Some(reason.trim().to_string());
                    }
                } else {
                    return Err(bad(format!(
                        "expected one of {} (granted) or {} (denied), found '{text}'",
                        mapping.granted.join("/"),
                        mapping.denied.join("/")
                    )));
                }
            }
            Role::Direction => {
                let lower = text.to_lowercase();
                event.physical.direction = if mapping.entry.contains(&lower) {
                    Some(Direction::In)
                } else if mapping.exit.contains(&lower) {
                    Some(Direction::Out)
                } else {
                    return Err(bad(format!(
                        "expected one of {} (in) or {} (out) or an empty cell, found '{text}'",
                        mapping.entry.join("/"),
                        mapping.exit.join("/")
                    )));
                };
            }
            Role::Reader => event.physical.reader = Some(text.to_string()),
            Role::Badge => event.actor.badge = Some(text.to_string()),
            Role::Reason => event.physical.reason = Some(text.to_string()),
            Role::Portal => event.physical.portal = Some(text.to_string()),
            Role::User => event.actor.user = Some(text.to_string()),
            Role::HolderName => event.actor.holder_name = Some(text.to_string()),
        }
    }
    for (role, parts) in &mapping.templates {
        let has_value = match role {
            Role::Reader => event.physical.reader.is_some(),
            Role::Badge => event.actor.badge.is_some(),
            Role::Reason => event.physical.reason.is_some(),
            Role::Portal => event.physical.portal.is_some(),
            Role::User => event.actor.user.is_some(),
            Role::HolderName => event.actor.holder_name.is_some(),
            Role::Time | Role::Result | Role::Direction => false,
        };
        if has_value {
            let value = Some(fill_template(parts, record, header, *role)?);
            match role {
                Role::Reader => event.physical.reader = value,
                Role::Badge => event.actor.badge = value,
                Role::Reason => event.physical.reason = value,
                Role::Portal => event.physical.portal = value,
                Role::User => event.actor.user = value,
                Role::HolderName => event.actor.holder_name = value,
                Role::Time | Role::Result | Role::Direction => {}
            }
        }
    }
    for (index, bytes) in record.iter().enumerate() {
        if bytes.is_empty() || columns.iter().any(|(_, i)| *i == index) {
            continue;
        }
        let name = header
            .and_then(|h| h.get(index))
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| (index + 1).to_string());
        event
            .fields
            .insert(&format!("csv.{name}"), &String::from_utf8_lossy(bytes));
    }
    event.message = format!(
        "badge {} {} at {}{}",
        event.actor.badge.as_deref().unwrap_or("(none)"),
        result_text.unwrap_or("granted"),
        event
            .physical
            .reader
            .as_deref()
            .or(event.physical.portal.as_deref())
            .unwrap_or("(unknown reader)"),
        event
            .physical
            .direction
            .map(|d| format!(" ({})", d.as_str()))
            .unwrap_or_default()
    );
    Ok(event)
}

/// What an event text of an access-control export says, when it is no exact result word:
/// door alarms first, then a refusal (a "valid card, access denied" is a refusal), then a
/// grant. `None` for anything else (the cell stays an error).
fn loose_result(lower: &str) -> Option<(Activity, Status)> {
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["forced"]) {
        Some((Activity::PortalForced, Status::Unknown))
    } else if has(&["held open", "open too long", "left open", "door ajar"]) {
        Some((Activity::PortalHeldOpen, Status::Unknown))
    } else if has(&[
        "denied",
        "refused",
        "rejected",
        "invalid",
        "not active",
        "expired",
        "no access",
    ]) {
        Some((Activity::AccessDenied, Status::Failure))
    } else if has(&["granted", "permitted", "admitted"]) {
        Some((Activity::AccessGranted, Status::Success))
    } else {
        None
    }
}

fn parse_time(mapping: &CsvMapping, text: &str) -> Result<i64, String> {
    let zone = &mapping.timezone;
    let parsed = match &mapping.time_format {
        TimeFormat::Auto => time::parse_text_in(text, zone)
            .ok_or_else(|| "not RFC 3339, 'YYYY-MM-DD HH:MM:SS' or epoch".to_string()),
        TimeFormat::Rfc3339 => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| e.to_string()),
        TimeFormat::EpochMs => text.parse::<i64>().map_err(|e| e.to_string()),
        TimeFormat::EpochS => text
            .parse::<f64>()
            .ok()
            .and_then(|s| time::epoch_to_ms(s * 1000.0))
            .ok_or_else(|| "not a number".to_string()),
        TimeFormat::Pattern(pattern) => pattern_time(pattern, text, zone),
    };
    parsed.map_err(|why| {
        format!(
            "expected a time in format {}, found '{text}' ({why})",
            format_name(&mapping.time_format)
        )
    })
}

fn format_name(format: &TimeFormat) -> String {
    match format {
        TimeFormat::Auto => "auto".into(),
        TimeFormat::Rfc3339 => "rfc3339".into(),
        TimeFormat::EpochMs => "epoch_ms".into(),
        TimeFormat::EpochS => "epoch_s".into(),
        TimeFormat::Pattern(p) => format!("'{p}'"),
    }
}

fn pattern_time(pattern: &str, text: &str, zone: &chrono_tz::Tz) -> Result<i64, String> {
    if pattern.contains("%z") || pattern.contains("%:z") || pattern.contains("%#z") {
        return chrono::DateTime::parse_from_str(text, pattern)
            .map(|t| t.timestamp_millis())
            .map_err(|e| e.to_string());
    }
    let naive = match chrono::NaiveDateTime::parse_from_str(text, pattern) {
        Ok(naive) => naive,
        Err(error) => match chrono::NaiveDate::parse_from_str(text, pattern) {
            Ok(date) => date.and_time(chrono::NaiveTime::MIN),
            Err(_) => return Err(error.to_string()),
        },
    };
    time::local_to_ms(&naive, zone).ok_or_else(|| format!("no such local time in {zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACME_MAPPING: &str = r#"
[csv]
delimiter = ","
header = true
[columns]
time = { column = "timestamp", format = "rfc3339" }
reader = "reader_id"
badge = "card_number"
result = "result"        # granted | denied
reason = "reason"
direction = "direction"  # in | out (may be empty)
"#;

    fn run(mapping: &CsvMapping, body: &str) -> Decoded {
        let mut out = Decoded::default();
        decode(
            mapping,
            body.as_bytes(),
            &DecodeContext::new("replay", 1),
            &mut out,
        );
        out
    }

    #[test]
    fn event_texts_of_vendor_exports() {
        // Genetec-style header (`Event timestamp`, `Event`) found by the automatic mapping.
        let out = run(
            &CsvMapping::auto(),
            "Event timestamp,Event,Door,Credential\n\
             2026-11-27T03:32:05Z,Access refused,Server room,51123\n\
             2026-11-27T03:32:10Z,Denied Access: Badge Not Active,Server room,51123\n\
             2026-11-27T03:32:20Z,Door forced open,Loading dock,\n\
             2026-11-27T03:32:30Z,Access permitted,Lobby,40871\n\
             2026-11-27T03:32:40Z,Firmware updated,Lobby,\n",
        );
        let got: Vec<_> = out.events.iter().map(|e| (e.activity, e.status)).collect();
        assert_eq!(
            got,
            [
                (Activity::AccessDenied, Status::Failure),
                (Activity::AccessDenied, Status::Failure),
                (Activity::PortalForced, Status::Unknown),
                (Activity::AccessGranted, Status::Success),
            ]
        );
        assert_eq!(
            out.events[1].physical.reason.as_deref(),
            Some("Badge Not Active")
        );
        assert_eq!(
            out.events[2].physical.portal.as_deref(),
            Some("Loading dock")
        );
        // A text that says neither stays an error naming the cell.
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].reason.contains("Firmware updated"),
            "{}",
            out.errors[0].reason
        );
        assert_eq!(normalise("Time/Date"), "timedate");
    }

    #[test]
    fn acme_shape() {
        let mapping = CsvMapping::from_toml(ACME_MAPPING).unwrap();
        let out = run(
            &mapping,
            "timestamp,reader_id,card_number,result,reason,direction\n2026-03-10T09:15:02Z,RDR-PAR-01,0x4F21D0,denied,CredentialNotActive,in\r\n2026-03-10T09:16:02Z,RDR-PAR-01,0x4F21D1,granted,,\n",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let e = &out.events[0];
        assert_eq!(
            (e.activity, e.status),
            (Activity::AccessDenied, Status::Failure)
        );
        assert_eq!(e.physical.reason.as_deref(), Some("CredentialNotActive"));
        assert_eq!(e.physical.direction, Some(Direction::In));
        assert_eq!(
            e.raw,
            "2026-03-10T09:15:02Z,RDR-PAR-01,0x4F21D0,denied,CredentialNotActive,in"
        );
        assert_eq!(out.events[1].physical.direction, None);
        assert_eq!(out.events[1].physical.reason, None);
    }

    #[test]
    fn bad_rows_name_line_column_and_reason() {
        let mapping = CsvMapping::from_toml(ACME_MAPPING).unwrap();
        let out = run(
            &mapping,
            "timestamp,reader_id,card_number,result,reason,direction\nnoon,R,B,granted,,in\n2026-03-10T09:15:02Z,R,B,maybe,,in\n2026-03-10T09:15:02Z,R,B,granted,,sideways\n2026-03-10T09:15:02Z,R\n2026-03-10T09:15:02Z,R,B,granted,,out\n",
        );
        assert_eq!(out.events.len(), 1);
        let reasons: Vec<(usize, &str)> = out
            .errors
            .iter()
            .map(|e| (e.line, e.reason.as_str()))
            .collect();
        assert_eq!(reasons[0].0, 2);
        assert!(
            reasons[0].1.contains("'timestamp'") && reasons[0].1.contains("'noon'"),
            "{}",
            reasons[0].1
        );
        assert!(
            reasons[1].1.contains("'result'") && reasons[1].1.contains("'maybe'"),
            "{}",
            reasons[1].1
        );
        assert!(
            reasons[2].1.contains("'direction'") && reasons[2].1.contains("sideways"),
            "{}",
            reasons[2].1
        );
        assert!(reasons[3].1.contains("row of 2 cells"), "{}", reasons[3].1);
        assert_eq!(reasons[3].0, 5);
    }

    #[test]
    fn header_mismatch_reports_once_and_keeps_rows_as_errors() {
        let mapping = CsvMapping::from_toml(ACME_MAPPING).unwrap();
        let out = run(&mapping, "when,who\n1,2\n3,4\n");
        assert!(out.events.is_empty());
        assert_eq!(out.errors.len(), 3);
        assert!(
            out.errors[0].reason.contains("'card_number' (badge)"),
            "{}",
            out.errors[0].reason
        );
    }

    #[test]
    fn auto_mapping_and_strftime_with_zone() {
        let out = run(
            &CsvMapping::auto(),
            "Time,Door Reader,Badge,Status\n2026-03-10 08:00:00,R1,0x1,OK\n",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.events[0].physical.reader.as_deref(), Some("R1"));
        assert_eq!(out.events[0].time_rfc3339(), "2026-03-10T08:00:00.000Z");
        let mapping = CsvMapping::from_toml(
            "[csv]\ndelimiter = \";\"\n[columns]\ntime = { column = \"when\", format = \"%d/%m/%Y %H:%M\", timezone = \"Europe/Paris\" }\nbadge = \"card\"\n[values]\ngranted = [\"A\"]\n",
        )
        .unwrap();
        let out = run(&mapping, "when;card;zone\n10/03/2026 09:00;0x2;Z1\n");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.events[0].time_rfc3339(), "2026-03-10T08:00:00.000Z");
        assert_eq!(&out.events[0].fields["csv.zone"], "Z1");
    }

    #[test]
    fn mapping_errors_name_the_key() {
        let err =
            CsvMapping::from_toml("[columns]\ntime = { column = \"t\", format = \"nonsense\" }")
                .unwrap_err();
        assert!(err.to_string().contains("columns.time.format"), "{err}");
        let err = CsvMapping::from_toml("[columns]\nbadges = \"x\"").unwrap_err();
        assert!(err.to_string().contains("columns.badges"), "{err}");
        let err =
            CsvMapping::from_toml("[columns]\ntime = { column = \"t\", timezone = \"Mars/Base\" }")
                .unwrap_err();
        assert!(err.to_string().contains("Mars/Base"), "{err}");
        assert!(matches!(
            CsvMapping::from_toml("[columns"),
            Err(MappingError::Toml(_))
        ));
        let err =
            CsvMapping::from_toml("[csv]\nheader = false\n[columns]\nbadge = \"x\"").unwrap_err();
        assert!(err.to_string().contains("1-based"), "{err}");
        let mapping =
            CsvMapping::from_toml("[csv]\nheader = false\n[columns]\nbadge = 2\nresult = 1")
                .unwrap();
        let out = run(&mapping, "denied,0x9\n");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.events[0].actor.badge.as_deref(), Some("0x9"));
        assert_eq!(out.events[0].activity, Activity::AccessDenied);
    }

    #[test]
    fn a_template_names_the_reader_from_several_cells() {
        let mapping = CsvMapping::from_toml(
            "[columns]\ntime = \"ts\"\nbadge = \"card\"\nreader = { template = \"F{floor}-Z{zone}\" }\n",
        )
        .unwrap();
        let body = b"ts,card,floor,zone\n2026-03-10T08:00:00Z,42,2,7\n2026-03-10T08:00:01Z,43,,\n";
        let mut out = crate::Decoded::default();
        decode(&mapping, body, &crate::DecodeContext::new("t", 0), &mut out);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.events[0].physical.reader.as_deref(), Some("F2-Z7"));
        // The template's first column is empty: no reader at all, not "F-Z".
        assert_eq!(out.events[1].physical.reader, None);
        for (bad, says) in [
            ("reader = { template = \"F{floor\" }", "template"),
            ("reader = { template = \"plain\" }", "at least one"),
            ("time = { template = \"{ts}\" }", "one column"),
        ] {
            let error = CsvMapping::from_toml(&format!("[columns]\n{bad}\n")).unwrap_err();
            assert!(error.to_string().contains(says), "{bad}: {error}");
        }
        let missing = CsvMapping::from_toml(
            "[columns]\ntime = \"ts\"\nreader = { template = \"{door}-{side}\" }\n",
        )
        .unwrap();
        let mut out = crate::Decoded::default();
        decode(
            &missing,
            b"ts,door\n2026-03-10T08:00:00Z,D1\n",
            &crate::DecodeContext::new("t", 0),
            &mut out,
        );
        assert!(
            out.errors[0].reason.contains("'side' (reader template)"),
            "{:?}",
            out.errors
        );
    }
}
