//! The device inventory: CSV (the directory's `devices.csv`, with more columns) and JSON.
//!
//! The CSV columns are those of `devices.csv` in the directory (`crates/onesec-directory`,
//! `DIRECTORY.md`) plus the hygiene columns; the JSON keys are the same names. Unlike the
//! directory, which refuses a whole folder on the first bad row (resolution must not run on a
//! half-read directory), an inventory keeps every good row and reports each bad one with its
//! line and column ([`RowError`]). At runtime the directory's devices are turned into hygiene
//! devices by [`Inventory::from_directory`], reading the hygiene columns from the row's extra
//! cells.

use crate::error::{HygieneError, RowError, read_text};
use crate::vendor::vendor_key;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// What is known about a device's login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialState {
    /// Nobody knows (an empty cell).
    #[default]
    Unknown,
    /// Still the factory login.
    Default,
    /// Changed once from the factory login and never rotated since.
    NeverRotated,
    /// Changed from the factory login (rotation date in `last_rotated`).
    Changed,
    /// Rotated on a schedule (date in `last_rotated`).
    Rotated,
    /// Held and rotated by a password vault / PAM.
    Managed,
}

impl CredentialState {
    /// Reads a cell: `default`/`factory`, `never-rotated`/`never`, `changed`/`custom`,
    /// `rotated`, `managed`/`vault`/`pam`, `unknown` or empty.
    pub fn parse(text: &str) -> Option<CredentialState> {
        Some(
            match text.trim().to_lowercase().replace('_', "-").as_str() {
                "" | "unknown" | "?" => CredentialState::Unknown,
                "default" | "factory" | "factory-default" => CredentialState::Default,
                "never-rotated" | "never" | "not-rotated" => CredentialState::NeverRotated,
                "changed" | "custom" | "set" | "unique" => CredentialState::Changed,
                "rotated" => CredentialState::Rotated,
                "managed" | "vault" | "pam" => CredentialState::Managed,
                _ => return None,
            },
        )
    }

    /// The name used in files and findings.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialState::Unknown => "unknown",
            CredentialState::Default => "default",
            CredentialState::NeverRotated => "never-rotated",
            CredentialState::Changed => "changed",
            CredentialState::Rotated => "rotated",
            CredentialState::Managed => "managed",
        }
    }
}

/// A network service a device exposes, as declared (`https`, `rtsp:554`, `osdp-sc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protocol {
    /// Lower-case name (`http`, `https`, `rtsp`, `rtsps`, `telnet`, `ssh`, `ftp`, `upnp`,
    /// `osdp`, `osdp-sc`, `osdp-scbk-d`, `wiegand`, `snmpv2c`, `nvr-api-noauth`...).
    pub name: String,
    /// Port, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Protocol {
    /// Reads `name` or `name:port` (or `name/port`).
    pub fn parse(token: &str) -> Result<Protocol, String> {
        let token = token.trim();
        let (name, port) = match token.rsplit_once([':', '/']) {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{token}`: port must be 0-65535"))?;
                (name, Some(port))
            }
            _ => (token, None),
        };
        let name = name.trim().to_lowercase().replace('_', "-");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!(
                "`{token}`: expected a protocol name such as https, rtsp:554, osdp-sc"
            ));
        }
        Ok(Protocol { name, port })
    }
}

/// One device of the connected estate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Inventory id, unique.
    pub id: String,
    /// Kind, lower case (camera, reader, controller, panel, sensor, nvr, server...).
    pub kind: String,
    /// Host name in logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Vendor as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Normalised vendor key ([`crate::vendor::vendor_key`]); empty without a vendor.
    pub vendor_key: String,
    /// Model as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware version as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Management address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// MAC address as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// VLAN id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Named network segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Site id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Zone id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Declared services.
    pub protocols: Vec<Protocol>,
    /// What is known about its login.
    pub credential_state: CredentialState,
    /// Declared login user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Declared password (only to compare with vendor defaults; never serialised).
    #[serde(skip)]
    pub password: Option<String>,
    /// When the login was last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<NaiveDate>,
    /// Expected heartbeat, seconds (overrides the per-kind default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_secs: Option<u64>,
    /// Last time the device was seen, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    /// Line of the row (CSV) or start of the object (JSON).
    pub line: u64,
}

/// Devices read from a file, and the rows that were refused.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Inventory {
    /// Good devices, in file order.
    pub devices: Vec<Device>,
    /// Refused rows, each with its line and reason.
    pub errors: Vec<RowError>,
    /// Lower-case ids of `devices` (duplicate check).
    #[serde(skip)]
    ids: std::collections::HashSet<String>,
}

/// Cell lookup for one row: the value and its 1-based column, by canonical column name.
trait Cells {
    fn cell(&self, name: &str) -> Option<(String, Option<u64>)>;
}

/// Every column name a row may use for a field (first is the canonical one).
const COLUMNS: &[(&str, &[&str])] = &[
    ("device_id", &["device_id", "id", "device"]),
    ("kind", &["kind", "type", "device_kind"]),
    ("hostname", &["hostname", "host"]),
    ("vendor", &["vendor", "manufacturer", "make"]),
    ("model", &["model"]),
    ("firmware", &["firmware", "firmware_version", "fw"]),
    ("serial", &["serial", "serial_number"]),
    ("ip", &["ip", "ip_address", "address"]),
    ("mac", &["mac", "mac_address"]),
    ("vlan", &["vlan", "vlan_id"]),
    ("segment", &["segment", "network"]),
    ("site", &["site"]),
    ("zone", &["zone"]),
    ("protocols", &["protocols", "services"]),
    (
        "credential_state",
        &["credential_state", "credentials", "credential"],
    ),
    ("username", &["username", "user", "login"]),
    ("password", &["password"]),
    (
        "last_rotated",
        &["last_rotated", "password_changed", "credential_rotated"],
    ),
    ("heartbeat", &["heartbeat", "heartbeat_secs"]),
    ("last_seen", &["last_seen"]),
];

fn aliases(canonical: &str) -> &'static [&'static str] {
    COLUMNS
        .iter()
        .find(|(c, _)| *c == canonical)
        .map_or(&[], |(_, a)| *a)
}

struct Bad {
    field: &'static str,
    column: Option<u64>,
    reason: String,
}

fn build(cells: &dyn Cells, line: u64) -> Result<Device, Bad> {
    let get = |f: &'static str| cells.cell(f).filter(|(v, _)| !v.trim().is_empty());
    let text = |f: &'static str| get(f).map(|(v, _)| v.trim().to_string());
    let bad = |f: &'static str, reason: String| Bad {
        field: f,
        column: cells.cell(f).and_then(|(_, c)| c),
        reason,
    };
    let id = text("device_id").ok_or_else(|| bad("device_id", "a non-empty device id".into()))?;
    let kind = text("kind")
        .ok_or_else(|| {
            bad(
                "kind",
                "a device kind such as camera, reader, controller".into(),
            )
        })?
        .to_lowercase();
    let ip = match text("ip") {
        None => None,
        Some(t) => Some(t.parse::<IpAddr>().map_err(|_| {
            bad(
                "ip",
                format!("invalid value `{t}` (expected an IPv4 or IPv6 address)"),
            )
        })?),
    };
    let vlan = match text("vlan") {
        None => None,
        Some(t) => {
            let digits = t
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .trim();
            let n = digits
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=4094).contains(n));
            Some(n.ok_or_else(|| {
                bad(
                    "vlan",
                    format!("invalid value `{t}` (expected a VLAN id 1-4094)"),
                )
            })?)
        }
    };
    let mut protocols = Vec::new();
    if let Some(list) = text("protocols") {
        for token in list.split([';', ',', ' ']).filter(|t| !t.trim().is_empty()) {
            protocols.push(Protocol::parse(token).map_err(|r| bad("protocols", r))?);
        }
    }
    let credential_state = match text("credential_state") {
        None => CredentialState::Unknown,
        Some(t) => CredentialState::parse(&t).ok_or_else(|| {
            bad(
                "credential_state",
                format!(
                    "invalid value `{t}` (expected default, never-rotated, changed, rotated, managed or unknown)"
                ),
            )
        })?,
    };
    let last_rotated = match text("last_rotated") {
        None => None,
        Some(t) => Some(parse_date(&t).ok_or_else(|| {
            bad(
                "last_rotated",
                format!("invalid value `{t}` (expected a date such as 2025-03-31)"),
            )
        })?),
    };
    let heartbeat_secs = match text("heartbeat") {
        None => None,
        Some(t) => Some(crate::policy::parse_duration_secs(&t).ok_or_else(|| {
            bad(
                "heartbeat",
                format!("invalid value `{t}` (expected a duration such as 300s, 5m, 1h)"),
            )
        })?),
    };
    let last_seen_ms = match text("last_seen") {
        None => None,
        Some(t) => Some(parse_time_ms(&t).ok_or_else(|| {
            bad(
                "last_seen",
                format!("invalid value `{t}` (expected RFC 3339 time or epoch milliseconds)"),
            )
        })?),
    };
    let vendor = text("vendor");
    Ok(Device {
        id,
        kind,
        hostname: text("hostname"),
        vendor_key: vendor.as_deref().map(vendor_key).unwrap_or_default(),
        vendor,
        model: text("model"),
        firmware: text("firmware"),
        serial: text("serial"),
        ip,
        mac: text("mac"),
        vlan,
        segment: text("segment"),
        site: text("site"),
        zone: text("zone"),
        protocols,
        credential_state,
        username: get("username").map(|(v, _)| v),
        password: cells.cell("password").map(|(v, _)| v),
        last_rotated,
        heartbeat_secs,
        last_seen_ms,
        line,
    })
}

/// Reads `2025-03-31` or an RFC 3339 time (its date).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.date_naive())
    })
}

/// Reads epoch milliseconds, RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` (UTC).
pub fn parse_time_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Some((secs * 1000.0) as i64);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|d| d.and_utc().timestamp_millis())
}

struct CsvCells<'a> {
    index: &'a BTreeMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Cells for CsvCells<'_> {
    fn cell(&self, name: &str) -> Option<(String, Option<u64>)> {
        aliases(name).iter().find_map(|alias| {
            let i = *self.index.get(*alias)?;
            let value = self.record.get(i)?;
            Some((value.to_string(), Some(i as u64 + 1)))
        })
    }
}

struct JsonCells<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl Cells for JsonCells<'_> {
    fn cell(&self, name: &str) -> Option<(String, Option<u64>)> {
        aliases(name).iter().find_map(|alias| {
            let value = self
                .0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(alias))
                .map(|(_, v)| v)?;
            let text = match value {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
                other => other.to_string(),
            };
            Some((text, None))
        })
    }
}

struct DirectoryCells<'a>(&'a onesec_directory::Device);

impl Cells for DirectoryCells<'_> {
    fn cell(&self, name: &str) -> Option<(String, Option<u64>)> {
        let d = self.0;
        let known = match name {
            "device_id" => Some(d.id.clone()),
            "kind" => Some(d.kind.clone()),
            "hostname" => d.hostname.clone(),
            "ip" => d.ip.map(|ip| ip.to_string()),
            "mac" => d.mac.clone(),
            "site" => d.site.clone(),
            "zone" => d.zone.clone(),
            "vendor" => d.vendor.clone(),
            "model" => d.model.clone(),
            "firmware" => d.firmware.clone(),
            _ => None,
        };
        if known.is_some() {
            return known.map(|v| (v, None));
        }
        aliases(name).iter().find_map(|alias| {
            d.extra
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(alias))
                .map(|(_, v)| (v.clone(), None))
        })
    }
}

impl Inventory {
    /// Reads a `.json` / `.jsonl` / `.ndjson` file as JSON, anything else as CSV.
    pub fn load(path: &Path) -> Result<Inventory, HygieneError> {
        let text = read_text(path)?;
        let name = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_lowercase();
        match ext.as_str() {
            "json" | "jsonl" | "ndjson" => Inventory::from_json(&name, &text),
            _ => Inventory::from_csv(&name, &text),
        }
    }

    /// Reads CSV text (header row; `#` comments; `name` is used in messages). A header without
    /// `device_id` (or `id`) and `kind` is refused as a whole.
    pub fn from_csv(name: &str, text: &str) -> Result<Inventory, HygieneError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (mut reader, headers) = crate::read::csv_with_header(name, text, true)?;
        let mut index = BTreeMap::new();
        for (i, h) in headers.iter().enumerate() {
            index.entry(h.clone()).or_insert(i);
        }
        for required in ["device_id", "kind"] {
            if !aliases(required).iter().any(|a| index.contains_key(*a)) {
                return Err(HygieneError::Format {
                    file: name.into(),
                    line: Some(1),
                    column: None,
                    reason: format!(
                        "missing column `{required}` (the header has: {})",
                        headers.join(",")
                    ),
                });
            }
        }
        let mut inventory = Inventory::default();
        let mut record = csv::StringRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    inventory.errors.push(RowError {
                        file: name.into(),
                        line: e.position().map_or(line, |p| p.line()),
                        column: None,
                        field: None,
                        reason: format!("not readable as CSV: {e}"),
                    });
                    continue;
                }
            }
            let line = record.position().map_or(line, |p| p.line());
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if record.len() > headers.len() {
                inventory.errors.push(RowError {
                    file: name.into(),
                    line,
                    column: Some(headers.len() as u64 + 1),
                    field: None,
                    reason: format!(
                        "{} fields but the header has {} (quote cells that contain a comma)",
                        record.len(),
                        headers.len()
                    ),
                });
                continue;
            }
            let cells = CsvCells {
                index: &index,
                record: &record,
            };
            inventory.push(name, build(&cells, line), line);
        }
        Ok(inventory)
    }

    /// Reads JSON text: an array of device objects, `{"devices": [...]}`, or one object per
    /// line (JSON Lines). Each object is read on its own, so a bad one is reported with its
    /// line and the others are kept.
    pub fn from_json(name: &str, text: &str) -> Result<Inventory, HygieneError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut inventory = Inventory::default();
        let items = json_items(text).map_err(|reason| HygieneError::format(name, reason))?;
        for (offset, slice) in items {
            let line = 1 + text[..offset].matches('\n').count() as u64;
            match serde_json::from_str::<serde_json::Value>(slice) {
                Ok(serde_json::Value::Object(map)) => {
                    inventory.push(name, build(&JsonCells(&map), line), line);
                }
                Ok(_) => inventory.errors.push(RowError {
                    file: name.into(),
                    line,
                    column: None,
                    field: None,
                    reason: "expected a JSON object for a device".into(),
                }),
                Err(e) => inventory.errors.push(RowError {
                    file: name.into(),
                    line: line + e.line().saturating_sub(1) as u64,
                    column: Some(e.column() as u64),
                    field: None,
                    reason: format!("not valid JSON: {e}"),
                }),
            }
        }
        Ok(inventory)
    }

    /// The devices of a loaded directory (its `devices.csv`), with the hygiene columns read
    /// from the rows' extra cells. A row whose hygiene cells are bad is reported, not kept.
    pub fn from_directory(directory: &onesec_directory::Directory) -> Inventory {
        let name = directory
            .root()
            .map(|r| r.join("devices.csv").display().to_string())
            .unwrap_or_else(|| "devices.csv".into());
        let mut inventory = Inventory::default();
        for device in directory.devices() {
            inventory.push(
                &name,
                build(&DirectoryCells(device), device.line),
                device.line,
            );
        }
        inventory
    }

    fn push(&mut self, name: &str, result: Result<Device, Bad>, line: u64) {
        match result {
            Ok(device) => {
                if !self.ids.insert(device.id.to_lowercase()) {
                    self.errors.push(RowError {
                        file: name.into(),
                        line,
                        column: None,
                        field: Some("device_id".into()),
                        reason: format!(
                            "device id `{}` is already used by an earlier row",
                            device.id
                        ),
                    });
                } else {
                    self.devices.push(device);
                }
            }
            Err(bad) => self.errors.push(RowError {
                file: name.into(),
                line,
                column: bad.column,
                field: Some(bad.field.into()),
                reason: bad.reason,
            }),
        }
    }

    /// The device with this id (case-insensitive).
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id.eq_ignore_ascii_case(id))
    }
}

/// Byte offset and text of each top-level item: the elements of a top-level array (or of the
/// `devices` array of a top-level object), else each non-empty line (JSON Lines).
fn json_items(text: &str) -> Result<Vec<(usize, &str)>, String> {
    let start = text.len() - text.trim_start().len();
    let body = &text[start..];
    if body.starts_with('[') {
        return array_items(text, start);
    }
    if !body.starts_with('{') {
        return Ok(lines(text));
    }
    // one object (maybe `{"devices": [...]}`), or JSON Lines
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) if map.contains_key("devices") => {
            let key = body
                .find("\"devices\"")
                .ok_or("a `devices` key was expected")?;
            let open = body[key..]
                .find('[')
                .ok_or("`devices` must be an array of device objects")?;
            array_items(text, start + key + open)
        }
        Ok(serde_json::Value::Object(_)) => Ok(vec![(start, body.trim_end())]),
        _ => Ok(lines(text)),
    }
}

fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            out.push((offset, line.trim()));
        }
        offset += line.len();
    }
    out
}

/// Splits the array that opens at byte `open` into its elements (strings and nesting are
/// followed; the elements themselves are parsed later, one by one).
fn array_items(text: &str, open: usize) -> Result<Vec<(usize, &str)>, String> {
    let bytes = text.as_bytes();
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut item_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && item_start.is_none() {
                    item_start = Some(i);
                }
            }
            b'[' | b'{' => {
                if depth == 1 && item_start.is_none() {
                    item_start = Some(i);
                }
                depth += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if let Some(s) = item_start.take() {
                        items.push((s, text[s..i].trim()));
                    }
                    return Ok(items);
                }
            }
            b',' if depth == 1 => {
                if let Some(s) = item_start.take() {
                    items.push((s, text[s..i].trim()));
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                if depth == 1 && item_start.is_none() {
                    item_start = Some(i);
                }
            }
        }
    }
    Err("the JSON array is not closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
device_id,kind,vendor,model,firmware,serial,ip,mac,vlan,site,zone,protocols,credential_state,last_rotated
CAM-1,camera,Hikvision,DS-2CD2043G0-I,V5.5.0 build 170725,SN1,10.10.50.21,44:19:b6:00:00:21,50,PAR,PAR-LOBBY,https;rtsp:554;onvif,default,
CAM-2,camera,Axis,P3245-LV,10.12.114,SN2,10.10.50.300,,50,PAR,PAR-LOBBY,https,rotated,2025-01-10
RDR-1,reader,HID,Signo 40,10.0.2.1,SN3,10.10.50.11,,51,PAR,PAR-LOBBY,osdp-sc,managed,
CTL-1,controller,Mercury,LP1502,1.29.1,SN4,10.10.50.5,,VLAN51,PAR,PAR-SEC,https;telnet,sometimes,
";

    #[test]
    fn csv_keeps_good_rows_and_places_bad_ones() {
        let inv = Inventory::from_csv("inv.csv", CSV).unwrap();
        let ids: Vec<&str> = inv.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["CAM-1", "RDR-1"]);
        assert_eq!(inv.errors.len(), 2);
        assert_eq!(
            inv.errors[0].to_string(),
            "inv.csv:3:7: column `ip`: invalid value `10.10.50.300` (expected an IPv4 or IPv6 address)"
        );
        assert_eq!(inv.errors[1].line, 5);
        assert_eq!(inv.errors[1].column, Some(13));
        let cam = &inv.devices[0];
        assert_eq!(cam.vendor_key, "hikvision");
        assert_eq!(cam.vlan, Some(50));
        assert_eq!(cam.credential_state, CredentialState::Default);
        assert_eq!(
            cam.protocols[1],
            Protocol {
                name: "rtsp".into(),
                port: Some(554)
            }
        );
    }

    #[test]
    fn the_acme_devices_csv_reads_whole() {
        let Some(path) = onesec_testdata::shared("scenarios/acme/devices.csv") else {
            return;
        };
        let inv = Inventory::load(&path).unwrap();
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        assert_eq!(inv.devices.len(), 18);
        let ctl = inv.device("ctl-par-01").unwrap();
        assert_eq!(
            (ctl.vendor_key.as_str(), ctl.kind.as_str()),
            ("mercury", "controller")
        );
    }

    #[test]
    fn json_array_object_and_lines() {
        let array = r#"[
  {"id": "CAM-1", "kind": "camera", "vendor": "Dahua", "protocols": ["http", "rtsp"], "vlan": 50},
  {"id": "CAM-2", "kind": "camera", "ip": "not an ip"},
  {"id": "CAM-3", "kind": "camera", "vendor": "Axis", "model": "P3245-LV", "firmware": "9.80.1"}
]"#;
        let inv = Inventory::from_json("inv.json", array).unwrap();
        assert_eq!(inv.devices.len(), 2);
        assert_eq!(inv.devices[0].protocols.len(), 2);
        assert_eq!(inv.devices[1].line, 4);
        assert_eq!(inv.errors.len(), 1);
        assert_eq!(inv.errors[0].line, 3);
        assert_eq!(inv.errors[0].field.as_deref(), Some("ip"));

        let wrapped = r#"{"devices": [{"id": "A", "kind": "reader"}, {"kind": "reader"}]}"#;
        let inv = Inventory::from_json("w.json", wrapped).unwrap();
        assert_eq!(inv.devices.len(), 1);
        assert_eq!(inv.errors[0].field.as_deref(), Some("device_id"));

        let lines = "{\"id\": \"A\", \"kind\": \"nvr\"}\n{\"id\": \"B\", \"kind\": \n{\"id\": \"C\", \"kind\": \"nvr\"}\n";
        let inv = Inventory::from_json("l.jsonl", lines).unwrap();
        assert_eq!(inv.devices.len(), 2);
        assert_eq!(inv.errors[0].line, 2);
    }

    #[test]
    fn duplicate_ids_and_missing_columns() {
        let inv = Inventory::from_csv("d.csv", "id,kind\nA,camera\na,camera\n").unwrap();
        assert_eq!(inv.devices.len(), 1);
        assert!(inv.errors[0].reason.contains("already used"));
        let err = Inventory::from_csv("m.csv", "id,vendor\nA,Axis\n").unwrap_err();
        assert!(err.to_string().contains("missing column `kind`"), "{err}");
    }

    #[test]
    fn directory_devices_carry_their_hygiene_columns() {
        let devices = "device_id,kind,ip,vendor,model,firmware,protocols,credential_state\n\
                       CAM-X,camera,10.1.1.1,Hikvision,DS-2CD2043G0-I,V5.5.0,http;rtsp,default\n";
        let dir = onesec_directory::Directory::from_texts(None, None, Some(devices)).unwrap();
        let inv = Inventory::from_directory(&dir);
        assert!(inv.errors.is_empty(), "{:?}", inv.errors);
        let d = &inv.devices[0];
        assert_eq!(d.protocols.len(), 2);
        assert_eq!(d.credential_state, CredentialState::Default);
        assert_eq!(d.line, 2);
    }
}
