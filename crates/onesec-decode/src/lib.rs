//! Decoders: raw input (bytes of a file, an HTTP body, a syslog datagram, an MQTT message) in,
//! normalised [`Event`]s out.
//!
//! Every input format has one decoder; [`Format::Auto`] picks one per line.
//!
//! | [`Format`] | input | decoder |
//! |---|---|---|
//! | `syslog` | RFC 5424 and RFC 3164 lines, with or without `<PRI>` | [`syslog_loose`] header, then a sub-decoder chosen by program name: `sshd`, `sudo`, `su`, `login`, `kernel` (USB), `openvpn`, PAM (`pam_<module>(...)`, `*(pam_unix)`), Cisco ASA (`%ASA-6-113019`); a CEF or LEEF payload goes to those decoders; anything else becomes a base event |
//! | `cef` | ArcSight CEF records, bare or after a syslog header | firewall flows → network activity, logons → authentication, others → base; every extension key kept |
//! | `leef` | IBM QRadar LEEF 1.0 / 2.0 records, bare or after a syslog header | as `cef` |
//! | `windows-json` | Winlogbeat NDJSON (`winlog.*`), EVTX rendered as JSON (`{"Event":{"System":..,"EventData":..}}`, as in the SigmaHQ regression data), flat objects with `EventID` | logon/logoff/lockout/Kerberos/NTLM, USB (6416), process creation (4688, Sysmon 1), Sysmon network (3); every `EventData` item kept under its own (Sigma) name |
//! | `evtx` | binary EVTX files (magic `ElfFile\0`, auto-detected), read with the `evtx` crate | each record rendered to EVTX-JSON and decoded as `windows-json`; a damaged chunk is one error, the other chunks are kept |
//! | `onvif-ej` | ONVIF event-over-MQTT JSON: `{"topic": "...", "payload": {...}}` per line, or [`decode_onvif_mqtt`] | access granted/denied/taken, door alarms, anti-passback, video tamper, motion, device auth failures, hardware failures, configuration changes |
//! | `onvif-xml` | ONVIF SOAP/XML events: `wsnt:Notify`, `tev:PullMessagesResponse`, `tt:MetadataStream`, each with any number of `wsnt:NotificationMessage`s; auto-detected when the body is XML | the onvif-ej mapping (same message, same event); `onvif.property_operation` marks the `Initialized` state dump |
//! | `frigate` | Frigate NVR MQTT: `{"topic", "payload"}` lines or bare `frigate/events`, `frigate/reviews`, `tracked_object_update` payloads; [`decode_frigate_mqtt`] | tracked objects and reviews → video analytics (camera, label, score, zones, start/end, has_snapshot); availability and camera role status → device health; motion, review status, object counts |
//! | `access-csv` | CSV exports of access-control systems, read through a [`CsvMapping`] (TOML file or header synonyms) | access granted/denied with badge, reader, direction, reason |
//! | `gallagher` | Gallagher Command Centre REST events: `EventSummary` objects (`GET /api/events`), one per line or a whole `{"events": [...]}` page; auto-detected by `eventType` + `source` | access granted / denied (with reason), forced door, door open too long, duress, tamper, anti-passback, tailgating; card number as badge, cardholder as holder name, door as portal, access zones, priority → severity, alarm state |
//! | `sia-dc09` | SIA DC-09 intrusion-panel frames (SIA-DCS / DC-03 codes, ADM-CID / Contact ID, NULL link tests), one per line in a file; the live TCP receiver answers ACK / NAK / DUH | burglary, perimeter, panic, duress, hold-up, fire, medical, tamper, door forced / held, access granted / denied, arm / disarm by user, troubles, tests; restores as cleared |
//! | `event-json` | onesec's own [`Event`] JSON | round trip (replay of exported events) |
//! | `json` | any JSON object | base event, nested keys flattened with dots into `fields` |
//!
//! The full description of each format, the auto-detection rules and the mapping to the event
//! model is in `FORMATS.md` next to this crate's manifest.
//!
//! # Contract
//!
//! * [`decode_bytes`] decodes a whole body: records are lines (`\n`, `\r\n` tolerated); JSON
//!   formats also accept pretty-printed and concatenated objects and JSON arrays; CSV records may
//!   span lines when quoted. Each record is decoded on its own: a bad one (invalid UTF-8, bad
//!   JSON, unparseable) becomes a [`DecodeError`] with its line number, its reason and its raw
//!   text, and the good records beside it are kept.
//! * Every event gets `raw` (the record as received), `received_ms`, `source.format` and
//!   `source.input` from the [`DecodeContext`].
//! * Decoders never resolve entities (`resolved` stays empty), never do I/O and never panic on
//!   bad input.
//!
//! ```
//! use onesec_decode::{decode_bytes, DecodeContext, Format};
//! let ctx = DecodeContext::new("replay", 1_773_100_000_000);
//! let body = b"<38>Mar 10 16:40:15 gw sshd[7100]: Failed password for root from 203.0.113.77 port 40000 ssh2\n";
//! let decoded = decode_bytes(&Format::Auto, body, &ctx);
//! assert!(decoded.errors.is_empty());
//! assert_eq!(&decoded.events[0].fields["action"], "ssh_failed_password");
//! ```

#![deny(missing_docs)]

mod access_csv;
mod evtx;
mod flow;
mod framing;
mod frigate;
mod gallagher;
mod intern;
mod json;
mod json_map;
mod jv;
mod onvif;
mod onvif_soap;
mod onvif_xml;
mod scan;
mod sia;
mod siem;
mod syslog;
mod time;
mod windows;

pub use access_csv::{CsvMapping, MappingError};
pub use evtx::{EVTX_MAGIC, EvtxReadError, EvtxRecord, read_evtx};
pub use framing::json_body_as_lines;
pub use frigate::decode_frigate_mqtt;
pub use json_map::{JsonMapping, JsonMappingError};
pub use onvif::decode_onvif_mqtt;
pub use onvif_soap::{
    MAX_SOAP_BYTES, PullPoint, RequestParts, SoapAction, SoapError, UsernameToken,
    parse_device_time_ms, parse_events_address, parse_pull_point, parse_request, soap_fault,
    soap_request,
};
pub use sia::{
    FRAME_END as SIA_FRAME_END, FRAME_START as SIA_FRAME_START, FrameError as SiaFrameError,
    Header as SiaHeader, MAX_FRAME_BYTES as SIA_MAX_FRAME_BYTES, Message as SiaMessage,
    Protocol as SiaProtocol, Reply as SiaReply, answer as sia_answer,
    encrypt_for_panel as sia_encrypt_for_panel, events as sia_events, frame as sia_frame,
    parse_frame as parse_sia_frame,
};
pub use syslog::decode_syslog;

use jv::{JsonContainerTrait, JsonValueTrait, Value};
use onesec_event::Event;
use onesec_event::Name;
use std::fmt;
use std::str::FromStr;

/// Longest record (line, JSON document or CSV row) a decoder accepts, in bytes; longer records
/// become a [`DecodeError`] instead of being parsed.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Which decoder reads the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// Guess per line: syslog (with CEF, LEEF and Cisco ASA), Windows JSON, onvif-ej, event
    /// JSON or generic JSON; a body that is an XML document is read as onvif-xml.
    Auto,
    /// RFC 5424 / RFC 3164 syslog lines.
    Syslog,
    /// ArcSight Common Event Format records, bare or after a syslog header.
    Cef,
    /// IBM Log Event Extended Format (1.0, 2.0) records, bare or after a syslog header.
    Leef,
    /// Windows events as JSON (Winlogbeat, EVTX-JSON or flat).
    WindowsJson,
    /// A binary EVTX file (magic `ElfFile\0`): each record rendered to EVTX-JSON, then read as
    /// `windows-json`.
    Evtx,
    /// ONVIF events over MQTT as JSON lines `{"topic": ..., "payload": ...}`.
    OnvifEj,
    /// ONVIF events as SOAP/XML: `wsnt:Notify`, `tev:PullMessagesResponse` or
    /// `tt:MetadataStream`, each with any number of `wsnt:NotificationMessage`s.
    OnvifXml,
    /// Access-control CSV export read through a column mapping.
    AccessCsv(CsvMapping),
    /// Frigate NVR MQTT messages as `{"topic": ..., "payload": ...}` lines or bare
    /// `frigate/events` / `frigate/reviews` / `tracked_object_update` payloads.
    Frigate,
    /// Gallagher Command Centre REST events (`EventSummary` objects, one per line, or a whole
    /// `{"events": [...]}` page).
    Gallagher,
    /// SIA DC-09 alarm panel frames (`LF CRC 0LLL "SIA-DCS"|"ADM-CID"... CR`), one per line in a
    /// file; the live receiver (TCP, with ACK/NAK/DUH and AES) is in onesec-server.
    SiaDc09,
    /// onesec's own `Event` JSON.
    EventJson,
    /// Any JSON object, decoded as a base event with flattened fields.
    Json,
    /// Any JSON object read through a field mapping (which path holds the time, user, badge,
    /// reader, addresses...; `FORMATS.md`).
    JsonMap(JsonMapping),
}

impl Format {
    /// The name used on the command line and in `source.format`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::WindowsJson => "windows-json",
            Format::Evtx => "evtx",
            Format::OnvifEj => "onvif-ej",
            Format::OnvifXml => "onvif-xml",
            Format::Frigate => "frigate",
            Format::Gallagher => "gallagher",
            Format::SiaDc09 => "sia-dc09",
            Format::AccessCsv(_) => "access-csv",
            Format::EventJson => "event-json",
            Format::Json => "json",
            Format::JsonMap(_) => "json-map",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown input format '{0}': expected one of auto, syslog, cef, leef, windows-json, evtx, onvif-ej, onvif-xml, frigate, gallagher, sia-dc09, access-csv, event-json, json (json-map needs a field mapping)"
)]
pub struct UnknownFormat(
    /// The name that was given.
    pub String,
);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses `auto`, `syslog`, `cef`, `leef`, `windows-json`, `onvif-ej`, `onvif-xml`, `access-csv` (header-synonym
    /// mapping), `event-json` or `json`.
    fn from_str(text: &str) -> Result<Format, UnknownFormat> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Format::Auto,
            "syslog" => Format::Syslog,
            "cef" => Format::Cef,
            "leef" => Format::Leef,
            "windows-json" => Format::WindowsJson,
            "evtx" => Format::Evtx,
            "onvif-ej" => Format::OnvifEj,
            "onvif-xml" => Format::OnvifXml,
            "frigate" => Format::Frigate,
            "gallagher" => Format::Gallagher,
            "sia-dc09" | "sia" => Format::SiaDc09,
            "access-csv" => Format::AccessCsv(CsvMapping::auto()),
            "event-json" => Format::EventJson,
            "json" => Format::Json,
            _ => return Err(UnknownFormat(text.to_string())),
        })
    }
}

/// What a decoder knows about the input besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeContext {
    /// Input the bytes arrived by (`http`, `syslog-udp`, `syslog-tcp`, `mqtt`, `replay`...),
    /// copied to `source.input`.
    pub input: String,
    /// When onesec received the bytes (UTC ms); also the event time when the input has none.
    pub received_ms: i64,
    /// How to complete RFC 3164 time stamps.
    pub syslog: SyslogSettings,
    /// `input` as an event name, found once ([`DecodeContext::input_name`]).
    input_name: Name,
}

impl DecodeContext {
    /// A context with default syslog settings (UTC, year from the received time).
    pub fn new(input: impl Into<String>, received_ms: i64) -> DecodeContext {
        let input = input.into();
        DecodeContext {
            input_name: interned_name(&input),
            input,
            received_ms,
            syslog: SyslogSettings::default(),
        }
    }

    /// `source.input` of the events decoded in this context. Found when the context is made
    /// (it was looked up among the fixed names, and an input the operator named was copied,
    /// for every event); looked up again only if `input` was changed since.
    pub(crate) fn input_name(&self) -> Name {
        if *self.input_name == *self.input {
            self.input_name.clone()
        } else {
            interned_name(&self.input)
        }
    }
}

/// Names of inputs met so far that are not fixed words (the names operators give sources).
static INPUT_NAMES: intern::Interner = intern::Interner::new();

/// [`name`], lending a kept copy of a text that is not a fixed name instead of allocating one.
fn interned_name(text: &str) -> Name {
    match name(text) {
        Name::Owned(_) => INPUT_NAMES
            .get(text, str::to_string)
            .map_or_else(|| Name::Owned(text.to_string()), Name::Borrowed),
        fixed => fixed,
    }
}

/// How to complete RFC 3164 time stamps, which carry neither year nor zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogSettings {
    /// Year for RFC 3164 lines without one; `None` = the year of the received time, or the
    /// previous year when that would put the event more than one day after the received time.
    pub year: Option<i32>,
    /// Zone of RFC 3164 time stamps without one (default UTC).
    pub timezone: chrono_tz::Tz,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        SyslogSettings {
            year: None,
            timezone: chrono_tz::Tz::UTC,
        }
    }
}

/// What a decode produced: the events, and an error for each record that could not be decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Decoded events, in input order.
    pub events: Vec<Event>,
    /// Records that could not be decoded, in input order.
    pub errors: Vec<DecodeError>,
}

/// One record that could not be decoded: where, why, and what it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct DecodeError {
    /// 1-based line number where the record starts (for CSV: the line of the row).
    pub line: usize,
    /// What was expected and what was found.
    pub reason: String,
    /// The raw record, lossy when it was not valid UTF-8.
    pub raw: String,
    /// Byte offset of the start of the record's line within the bytes given to
    /// [`decode_bytes`] (a UTF-8 byte order mark counted); None where not known.
    pub offset: Option<u64>,
}

impl DecodeError {
    /// An error for the record starting at `line`.
    pub fn new(line: usize, reason: impl Into<String>, raw: impl Into<String>) -> DecodeError {
        DecodeError {
            line,
            reason: reason.into(),
            raw: raw.into(),
            offset: None,
        }
    }
}

/// Sets each error's byte offset from its line: where that line starts in `bytes`.
fn locate_offsets(bytes: &[u8], errors: &mut [DecodeError]) {
    if errors.is_empty() {
        return;
    }
    // Starts of lines 1, 2, ...: one pass, only for bodies that had errors.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1))
        .collect();
    for error in errors {
        if error.offset.is_none() && error.line > 0 {
            error.offset = starts.get(error.line - 1).map(|&o| o as u64);
        }
    }
}

/// Decodes a whole body or file: one event per good record, one [`DecodeError`] per bad record.
///
/// Records are lines (`\n`, `\r\n` tolerated; blank lines skipped); JSON formats also read
/// pretty-printed or concatenated objects and arrays of objects; for [`Format::AccessCsv`] the
/// first line is the header (when the mapping says so).
pub fn decode_bytes(format: &Format, bytes: &[u8], ctx: &DecodeContext) -> Decoded {
    let mut out = decode_records(format, bytes, ctx);
    // An EVTX file's "lines" are record numbers, not lines of text.
    let evtx =
        *format == Format::Evtx || (*format == Format::Auto && bytes.starts_with(EVTX_MAGIC));
    if !evtx {
        locate_offsets(bytes, &mut out.errors);
    }
    out
}

fn decode_records(format: &Format, bytes: &[u8], ctx: &DecodeContext) -> Decoded {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Decoded::default();
    // One event per line for line formats; pretty-printed JSON spends many lines per event.
    let lines = memchr::memchr_iter(b'\n', bytes).count() + 1;
    let bytes_per_event = if matches!(
        format,
        Format::Syslog | Format::Cef | Format::Leef | Format::AccessCsv(_)
    ) {
        16
    } else {
        256
    };
    out.events
        .reserve(lines.min(bytes.len() / bytes_per_event + 1));
    match format {
        Format::AccessCsv(mapping) => access_csv::decode(mapping, bytes, ctx, &mut out),
        Format::JsonMap(mapping) => decode_mapped_json(mapping, bytes, ctx, &mut out),
        Format::OnvifXml => onvif_xml::decode(bytes, ctx, &mut out),
        Format::SiaDc09 => sia::decode(bytes, ctx, &mut out),
        Format::Evtx => decode_evtx(bytes, ctx, &mut out),
        Format::Auto if bytes.starts_with(EVTX_MAGIC) => decode_evtx(bytes, ctx, &mut out),
        Format::Auto if body_kind(bytes) == BodyKind::Xml => {
            onvif_xml::decode(bytes, ctx, &mut out)
        }
        Format::Syslog => {
            for record in framing::Records::new(bytes, false) {
                push_text_record(record, &mut out, |text, line| {
                    syslog::decode_line(text, line, ctx)
                });
            }
        }
        Format::Cef | Format::Leef => {
            let syntax = if *format == Format::Cef {
                siem::Syntax::Cef
            } else {
                siem::Syntax::Leef
            };
            for record in framing::Records::new(bytes, false) {
                push_text_record(record, &mut out, |text, line| {
                    siem::decode_line(syntax, text, line, ctx)
                });
            }
        }
        Format::Auto => {
            for record in framing::Records::new(bytes, true) {
                match record.body {
                    framing::Body::Json(value) => decode_json_record(
                        JsonKind::Auto,
                        value,
                        record.line,
                        record.raw,
                        ctx,
                        &mut out,
                    ),
                    _ => push_text_record(record, &mut out, |text, line| {
                        syslog::decode_line(text, line, ctx)
                            .map_err(|e| auto_not_recognised(e, text))
                    }),
                }
            }
        }
        Format::WindowsJson
        | Format::OnvifEj
        | Format::Frigate
        | Format::Gallagher
        | Format::EventJson
        | Format::Json => {
            let kind = match format {
                Format::WindowsJson => JsonKind::Windows,
                Format::OnvifEj => JsonKind::Onvif,
                Format::Frigate => JsonKind::Frigate,
                Format::Gallagher => JsonKind::Gallagher,
                Format::EventJson => JsonKind::Event,
                _ => JsonKind::Generic,
            };
            for record in framing::Records::new(bytes, true) {
                match record.body {
                    framing::Body::Json(value) => {
                        decode_json_record(kind, value, record.line, record.raw, ctx, &mut out)
                    }
                    framing::Body::Text(_) => out.errors.push(DecodeError::new(
                        record.line,
                        format!(
                            "expected a JSON object for format {}, found text starting with '{}'",
                            format.name(),
                            scan::preview(&String::from_utf8_lossy(record.raw), 40)
                        ),
                        String::from_utf8_lossy(record.raw),
                    )),
                    framing::Body::Error(reason) => out.errors.push(DecodeError::new(
                        record.line,
                        reason,
                        String::from_utf8_lossy(record.raw),
                    )),
                }
            }
        }
    }
    out
}

/// An EVTX file: every readable record through the Windows JSON decoder. An error's `line` is
/// the 1-based position of the record (or damaged chunk) in the file's record order.
fn decode_evtx(bytes: &[u8], ctx: &DecodeContext, out: &mut Decoded) {
    let records = match read_evtx(bytes.to_vec()) {
        Ok(records) => records,
        Err(error) => {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
            out.errors
                .push(DecodeError::new(1, error.to_string(), head));
            return;
        }
    };
    for (index, record) in records.into_iter().enumerate() {
        let line = index + 1;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                out.errors
                    .push(DecodeError::new(line, error.to_string(), String::new()));
                continue;
            }
        };
        let result = jv::parse(record.json.as_bytes())
            .map_err(|e| {
                format!(
                    "EVTX record {} rendered to invalid JSON: {e}",
                    record.record_id
                )
            })
            .and_then(|value| windows::decode(&value, &record.json, ctx));
        match result {
            Ok(event) => out.events.push(event),
            Err(reason) => out.errors.push(DecodeError::new(line, reason, record.json)),
        }
    }
}

/// What a whole body is, for [`Format::Auto`], when the body as a whole says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// An XML document (`<?xml` or `<name`): the only XML we read is ONVIF events.
    Xml,
    /// Anything else: decided per line.
    Lines,
}

fn body_kind(bytes: &[u8]) -> BodyKind {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    match &bytes[start..] {
        // `<38>` is a syslog priority, `<tt:MetadataStream` or `<?xml` an XML document.
        [b'<', b'?' | b'!', ..] => BodyKind::Xml,
        [b'<', c, ..] if c.is_ascii_alphabetic() || *c == b'_' => BodyKind::Xml,
        _ => BodyKind::Lines,
    }
}

/// Decodes a text (non-JSON) record with `decode`, turning framing problems into errors.
fn push_text_record(
    record: framing::Record<'_>,
    out: &mut Decoded,
    decode: impl FnOnce(&str, usize) -> Result<Event, DecodeError>,
) {
    let raw = || String::from_utf8_lossy(record.raw).into_owned();
    match record.body {
        framing::Body::Text(Ok(text)) => match decode(text, record.line) {
            Ok(event) => out.events.push(event),
            Err(error) => out.errors.push(error),
        },
        framing::Body::Text(Err(utf8)) => out.errors.push(DecodeError::new(
            record.line,
            format!(
                "expected UTF-8 text, found an invalid byte sequence at byte {}",
                utf8.valid_up_to()
            ),
            raw(),
        )),
        framing::Body::Error(reason) => {
            out.errors
                .push(DecodeError::new(record.line, reason, raw()))
        }
        framing::Body::Json(_) => out.errors.push(DecodeError::new(
            record.line,
            "expected a text line, found a JSON document",
            raw(),
        )),
    }
}

/// Rewrites a syslog header failure under auto-detection so that it names every format tried.
/// Errors inside a recognised record (a CEF record with a bad escape) keep their reason.
fn auto_not_recognised(mut error: DecodeError, text: &str) -> DecodeError {
    if !error.reason.starts_with(syslog::NOT_SYSLOG) {
        return error;
    }
    error.reason = format!(
        "format not recognised: expected a syslog line ('<PRI>...' or 'Mmm dd hh:mm:ss host program: ...'), a CEF or LEEF record ('CEF:0|...', 'LEEF:2.0|...'), a Cisco ASA message ('%ASA-6-113019: ...') or a JSON object, found '{}'",
        scan::preview(text, 60)
    );
    error
}

/// Which JSON decoder a JSON record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Auto,
    Windows,
    Onvif,
    Frigate,
    Gallagher,
    Event,
    Generic,
}

/// `json-map`: each JSON object (one per line or pretty-printed, or arrays of them) through
/// the mapping; anything else is a located error.
fn decode_mapped_json(mapping: &JsonMapping, bytes: &[u8], ctx: &DecodeContext, out: &mut Decoded) {
    for record in framing::Records::new(bytes, true) {
        let raw = String::from_utf8_lossy(record.raw);
        let value = match record.body {
            framing::Body::Json(value) => value,
            framing::Body::Text(_) => {
                let reason = format!(
                    "expected a JSON object for format json-map, found text starting with '{}'",
                    scan::preview(&raw, 40)
                );
                out.errors.push(DecodeError::new(record.line, reason, raw));
                continue;
            }
            framing::Body::Error(reason) => {
                out.errors.push(DecodeError::new(record.line, reason, raw));
                continue;
            }
        };
        let items = match value.as_array() {
            Some(items) => &items[..],
            None => std::slice::from_ref(&value),
        };
        for item in items {
            let item_raw = if item.is_object() && raw.trim_start().starts_with('{') {
                raw.to_string()
            } else {
                item.to_string()
            };
            let decoded = if item.is_object() {
                mapping.decode(item, &item_raw, ctx)
            } else {
                Err(format!(
                    "expected a JSON object for format json-map, found {}",
                    json::type_name(item)
                ))
            };
            match decoded {
                Ok(event) => out.events.push(event),
                Err(reason) => out
                    .errors
                    .push(DecodeError::new(record.line, reason, item_raw)),
            }
        }
    }
}

/// Decodes one JSON document (an object, or an array of objects) into `out`.
fn decode_json_record(
    kind: JsonKind,
    value: Value,
    line: usize,
    raw: &[u8],
    ctx: &DecodeContext,
    out: &mut Decoded,
) {
    // Framing only yields JSON for input serde_json accepted, which is valid UTF-8; the
    // strict check is several times cheaper than the lossy one (which copies nothing either
    // here, but walks the text a byte at a time).
    let raw = match std::str::from_utf8(raw) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(raw),
    };
    // A Command Centre page: each of its events on its own.
    let page = matches!(kind, JsonKind::Gallagher | JsonKind::Auto)
        .then(|| gallagher::page_events(&value))
        .flatten()
        .filter(|events| {
            kind == JsonKind::Gallagher || events.first().is_some_and(gallagher::looks_like)
        });
    if let Some(events) = page {
        for item in events {
            let item_raw = item.to_string();
            decode_json_value(JsonKind::Gallagher, item, line, &item_raw, ctx, out);
        }
        return;
    }
    match value.as_array() {
        Some(items) => {
            for item in items.iter() {
                let item_raw = item.to_string();
                decode_json_value(kind, item, line, &item_raw, ctx, out);
            }
        }
        None => decode_json_value(kind, &value, line, &raw, ctx, out),
    }
}

fn decode_json_value(
    kind: JsonKind,
    value: &Value,
    line: usize,
    raw: &str,
    ctx: &DecodeContext,
    out: &mut Decoded,
) {
    if !value.is_object() {
        out.errors.push(DecodeError::new(
            line,
            format!("expected a JSON object, found {}", json::type_name(value)),
            raw,
        ));
        return;
    }
    let kind = match kind {
        JsonKind::Auto => detect_json(value),
        other => other,
    };
    let result = match kind {
        JsonKind::Windows => windows::decode(value, raw, ctx),
        JsonKind::Onvif => onvif::decode_line(value, raw, ctx),
        JsonKind::Frigate => frigate::decode_line(value, raw, ctx),
        JsonKind::Gallagher => gallagher::decode(value, raw, ctx),
        JsonKind::Event => json::decode_event(raw, ctx),
        JsonKind::Generic | JsonKind::Auto => Ok(json::decode_generic(value, raw, ctx)),
    };
    match result {
        Ok(event) => out.events.push(event),
        Err(reason) => out.errors.push(DecodeError::new(line, reason, raw)),
    }
}

/// Auto-detection of a JSON object's format from its keys.
fn detect_json(value: &Value) -> JsonKind {
    let has = |key: &str| value.get(key).is_some();
    let frigate_topic = value
        .get("topic")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.starts_with("frigate/"));
    if frigate_topic && has("payload") {
        JsonKind::Frigate
    } else if (has("topic") && has("payload")) || onvif::is_axis_event(value) {
        JsonKind::Onvif
    } else if has("winlog")
        || jv::at(value, &["Event", "System"]).is_some()
        || has("EventID")
        || windows::is_wazuh(value)
        || windows::is_powershell(value)
    {
        JsonKind::Windows
    } else if has("class") && has("activity") && has("time_ms") {
        JsonKind::Event
    } else if gallagher::looks_like(value) {
        JsonKind::Gallagher
    } else if has("type")
        && jv::at(value, &["after", "camera"]).is_some()
        && (jv::at(value, &["after", "label"]).is_some()
            || jv::at(value, &["after", "severity"]).is_some())
    {
        // A bare `frigate/events` or `frigate/reviews` payload (a bridge that drops the topic).
        JsonKind::Frigate
    } else {
        JsonKind::Generic
    }
}

/// A new event with the fields every decoder sets: time, raw, received time, format and input.
pub(crate) fn new_event(
    ctx: &DecodeContext,
    format: &'static str,
    raw: &str,
    time_ms: Option<i64>,
    class: onesec_event::EventClass,
    activity: onesec_event::Activity,
) -> Event {
    let mut event = Event::new(time_ms.unwrap_or(ctx.received_ms), class, activity);
    event.received_ms = ctx.received_ms;
    event.raw = raw.to_string();
    // Formats are fixed names: no lookup in `KNOWN_NAMES` per event.
    event.source.format = Name::Borrowed(format);
    event.source.input = ctx.input_name();
    event
}

/// The fixed names of [`name`]: formats, inputs, and the products and services that decoders
/// take from their input (a syslog program name, an ONVIF topic's first level...).
const KNOWN_NAMES: &[&str] = &[
    // formats
    "auto",
    "syslog",
    "cef",
    "leef",
    "windows-json",
    "evtx",
    "onvif-ej",
    "onvif-xml",
    "frigate",
    "gallagher",
    "sia-dc09",
    "access-csv",
    "event-json",
    "json",
    "json-map",
    // inputs
    "http",
    "syslog-udp",
    "syslog-tcp",
    "syslog-tls",
    "mqtt",
    "sia-tcp",
    "replay",
    "file",
    "bench",
    // products and services beyond the literals decoders set directly
    "security",
    "system",
    "application",
    "sysmon",
    "sshd",
    "sudo",
    "su",
    "cron",
    "login",
    "systemd",
    "kernel",
    "linux",
    "openvpn",
    "gdm",
    "gdm-password",
    "passwd",
    "useradd",
    "vsftpd",
    "ftpd",
    "xinetd",
    "logrotate",
    "access_control",
    "device",
    "videosource",
    "videoanalytics",
    "accesscontrol",
    "door",
    "monitoring",
    "ruleengine",
    "recordingconfig",
    "media",
    "event",
    "review",
    "events",
    "reviews",
    "available",
];

/// `text` as an event [`Name`]: the static word when it is one of the fixed names decoders and
/// inputs use (no allocation, as most events have only such names), else an owned copy.
pub(crate) fn name(text: &str) -> Name {
    match known_of_length(text.len())
        .iter()
        .find(|known| **known == text)
    {
        Some(known) => Name::Borrowed(known),
        None => Name::Owned(text.to_string()),
    }
}

/// [`name`] of `text` in lower case (ASCII), allocating only when it is not a fixed name.
pub(crate) fn name_lowercase(text: &str) -> Name {
    match known_of_length(text.len())
        .iter()
        .find(|known| known.eq_ignore_ascii_case(text))
    {
        Some(known) => Name::Borrowed(known),
        None => Name::Owned(text.to_ascii_lowercase()),
    }
}

/// The [`KNOWN_NAMES`] of `len` bytes. Why: trying all sixty names for every event's service
/// and input was 3 % of decoding an onvif-ej line; names of one length are a handful.
fn known_of_length(len: usize) -> &'static [&'static str] {
    static BY_LENGTH: std::sync::OnceLock<Vec<Vec<&'static str>>> = std::sync::OnceLock::new();
    let by_length = BY_LENGTH.get_or_init(|| {
        let longest = KNOWN_NAMES.iter().map(|n| n.len()).max().unwrap_or(0);
        let mut by_length = vec![Vec::new(); longest + 1];
        for name in KNOWN_NAMES {
            by_length[name.len()].push(*name);
        }
        by_length
    });
    by_length.get(len).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_names_are_found_by_length_and_lent() {
        for known in KNOWN_NAMES {
            assert!(matches!(name(known), Name::Borrowed(k) if k == *known));
            let upper = known.to_ascii_uppercase();
            assert!(matches!(name_lowercase(&upper), Name::Borrowed(k) if k == *known));
        }
        assert!(matches!(name("no-such-fixed-name"), Name::Owned(_)));
        assert_eq!(name_lowercase("AccessControl"), "accesscontrol");
        assert_eq!(name_lowercase(&"X".repeat(500)), "x".repeat(500));
    }

    #[test]
    fn the_input_name_is_found_once_and_follows_a_changed_input() {
        let mut ctx = DecodeContext::new("hq-firewall-7", 0);
        let name = ctx.input_name();
        assert_eq!(name, "hq-firewall-7");
        assert!(
            matches!(name, Name::Borrowed(_)),
            "an operator's input name is lent, not copied per event"
        );
        assert!(matches!(
            DecodeContext::new("http", 0).input_name(),
            Name::Borrowed("http")
        ));
        ctx.input = "syslog-tcp".into();
        assert_eq!(ctx.input_name(), "syslog-tcp");
    }

    #[test]
    fn errors_carry_the_byte_offset_of_their_line() {
        let ctx = DecodeContext::new("test", 1_772_000_000_000);
        let good = "<34>Oct 11 22:14:15 host sshd[1]: Accepted password for bob from 10.0.0.1 port 22 ssh2\n";
        let body = format!("{good}\n\u{1}\n{{broken json\n");
        let out = decode_bytes(&Format::Auto, body.as_bytes(), &ctx);
        assert_eq!(out.events.len(), 1);
        let located: Vec<(usize, Option<u64>)> =
            out.errors.iter().map(|e| (e.line, e.offset)).collect();
        let third = (good.len() + 1) as u64;
        assert_eq!(located, vec![(3, Some(third)), (4, Some(third + 2))]);
        assert_eq!(&body.as_bytes()[third as usize + 2..][..7], b"{broken");
        // The lines of a file with a byte order mark count it.
        let bom = "\u{feff}x\n{bad\n";
        let out = decode_bytes(&Format::Json, bom.as_bytes(), &ctx);
        let offsets: Vec<Option<u64>> = out.errors.iter().map(|e| e.offset).collect();
        assert_eq!(offsets, vec![Some(0), Some(5)]);
    }

    #[test]
    fn format_names_round_trip() {
        for name in [
            "auto",
            "syslog",
            "cef",
            "leef",
            "windows-json",
            "evtx",
            "onvif-ej",
            "onvif-xml",
            "frigate",
            "gallagher",
            "sia-dc09",
            "access-csv",
            "event-json",
            "json",
        ] {
            let format: Format = name.parse().unwrap();
            assert_eq!(format.name(), name);
        }
        let err = "arcsight".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("'arcsight'"));
        assert!(err.to_string().contains("cef, leef"));
        assert_eq!(" CEF ".parse::<Format>().unwrap(), Format::Cef);
    }

    #[test]
    fn json_detection_follows_keys() {
        let v = |s: &str| jv::parse_str(s).unwrap();
        assert_eq!(
            detect_json(&v(r#"{"topic":"a","payload":{}}"#)),
            JsonKind::Onvif
        );
        assert_eq!(detect_json(&v(r#"{"winlog":{}}"#)), JsonKind::Windows);
        assert_eq!(
            detect_json(&v(r#"{"Event":{"System":{}}}"#)),
            JsonKind::Windows
        );
        assert_eq!(detect_json(&v(r#"{"EventID":4624}"#)), JsonKind::Windows);
        assert_eq!(
            detect_json(&v(r#"{"class":"base","activity":"other","time_ms":1}"#)),
            JsonKind::Event
        );
        assert_eq!(detect_json(&v(r#"{"a":1}"#)), JsonKind::Generic);
        assert_eq!(
            detect_json(&v(
                r#"{"type":"new","after":{"camera":"garage","label":"car"}}"#
            )),
            JsonKind::Frigate
        );
        assert_eq!(
            detect_json(&v(r#"{"type":"x","after":{"camera":"c"}}"#)),
            JsonKind::Generic
        );
    }
}
