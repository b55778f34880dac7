//! CEF and LEEF: the key=value interchange formats that firewalls, proxies, VPN gateways and
//! identity products send to SIEMs, bare or after a syslog header. Both are parsed into one
//! [`Record`], and one mapping (`map`) turns it into an event: network flows, authentications,
//! or base events that keep every attribute.

mod cef;
mod leef;
mod map;
mod stamp;

pub(crate) use map::{flow_action, protocol_name, status, verdict};

use crate::{DecodeContext, DecodeError};
use onesec_event::Event;
use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Which of the two syntaxes a record was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Cef,
    Leef,
}

impl Syntax {
    /// The decoder name (`source.format`, field prefix).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Syntax::Cef => "cef",
            Syntax::Leef => "leef",
        }
    }

    /// The start of a record, for error messages.
    fn example(self) -> &'static str {
        match self {
            Syntax::Cef => "CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|key=value",
            Syntax::Leef => "LEEF:2.0|Vendor|Product|Version|EventID|",
        }
    }

    /// What a record of this syntax starts with.
    fn prefix(self) -> &'static str {
        match self {
            Syntax::Cef => "CEF:",
            Syntax::Leef => "LEEF:",
        }
    }

    /// The syntax of a record starting with `CEF:` or `LEEF:`.
    pub(crate) fn of(text: &str) -> Option<Syntax> {
        if text.starts_with(Syntax::Cef.prefix()) {
            Some(Syntax::Cef)
        } else if text.starts_with(Syntax::Leef.prefix()) {
            Some(Syntax::Leef)
        } else {
            None
        }
    }
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::Cef => "CEF",
            Syntax::Leef => "LEEF",
        })
    }
}

/// A parsed CEF or LEEF record, values unescaped. The texts borrow from the line unless
/// unescaping changed them, so reading a record copies nothing: the event's fields are the
/// only copy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record<'a> {
    pub syntax: Syntax,
    pub version: Cow<'a, str>,
    pub vendor: Cow<'a, str>,
    pub product: Cow<'a, str>,
    pub device_version: Cow<'a, str>,
    /// CEF Signature ID (Device Event Class ID) / LEEF EventID.
    pub event_id: Cow<'a, str>,
    /// CEF Name (LEEF has none).
    pub name: Option<Cow<'a, str>>,
    /// CEF header Severity (LEEF carries `sev` as an attribute).
    pub severity: Option<Cow<'a, str>>,
    /// Extension (CEF) or attributes (LEEF), in record order.
    pub attrs: Vec<(&'a str, Cow<'a, str>)>,
}

/// Why a CEF or LEEF record could not be read. Byte positions count from the `CEF:` / `LEEF:`
/// that starts the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("expected a {format} record, found none")]
    NotThisFormat { format: Syntax },
    #[error("{format} header truncated: expected {expected}, found {found} complete field(s)")]
    TruncatedHeader {
        format: Syntax,
        expected: &'static str,
        found: usize,
    },
    #[error("{format} version: expected 0 or 1 (CEF) / 1.0 or 2.0 (LEEF), found '{found}'")]
    BadVersion { format: Syntax, found: String },
    #[error(
        "{format} {part}: invalid escape at byte {at}: found {found}, expected one of {allowed}"
    )]
    BadEscape {
        format: Syntax,
        part: String,
        at: usize,
        found: String,
        allowed: &'static str,
    },
    #[error("{format} at byte {at}: {reason}")]
    BadAttribute {
        format: Syntax,
        at: usize,
        reason: String,
    },
    #[error("{format} {what}: {reason}")]
    BadValue {
        format: Syntax,
        what: String,
        reason: String,
    },
}

/// Parses the record at the start of `text` (which starts with `CEF:` or `LEEF:`).
pub(crate) fn parse(syntax: Syntax, text: &str) -> Result<Record<'_>, RecordError> {
    match syntax {
        Syntax::Cef => cef::parse(text),
        Syntax::Leef => leef::parse(text),
    }
}

/// The CEF/LEEF record in a syslog message, if it holds one: a message starting with
/// `CEF:`/`LEEF:`, or (RFC 3164) the tag `CEF`/`LEEF` that header parsing took for a program
/// name, followed by the version digit. The record is then cut from the line itself, so that
/// nothing the header parser trimmed is lost.
pub(crate) fn syslog_payload<'a>(
    line: &'a str,
    program: Option<&str>,
    text: &'a str,
) -> Option<(Syntax, &'a str)> {
    if let Some(syntax) = Syntax::of(text) {
        return Some((syntax, text));
    }
    let syntax = match program {
        Some("CEF") => Syntax::Cef,
        Some("LEEF") => Syntax::Leef,
        _ => return None,
    };
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let start = crate::scan::find_str(line, syntax.prefix())?;
    Some((syntax, line[start..].trim_end()))
}

/// Fields and bytes to reserve for the record in `payload` ([`map::room_for`]).
pub(crate) fn room_for(payload: &str) -> (usize, usize) {
    map::room_for(payload)
}

/// Decodes one line for format `cef` or `leef`: a bare record, or one after a syslog header.
pub(crate) fn decode_line(
    syntax: Syntax,
    line: &str,
    line_no: usize,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let bare = line.trim_start();
    if Syntax::of(bare) == Some(syntax) {
        return decode_bare(syntax, line, line_no, ctx);
    }
    let not_this = || {
        DecodeError::new(
            line_no,
            format!(
                "expected a {syntax} record ('{}...'), bare or after a syslog header, found '{}'",
                syntax.example(),
                crate::scan::preview(bare, 60)
            ),
            line,
        )
    };
    // Without the record's prefix anywhere, a syslog failure would only confuse. (`find_str`:
    // `str::contains` set up a two-way searcher per line.)
    if crate::scan::find_str(line, syntax.prefix()).is_none() {
        return Err(not_this());
    }
    let event = crate::syslog::decode_line(line, line_no, ctx)?;
    if event.source.format == syntax.name() {
        Ok(event)
    } else {
        Err(not_this())
    }
}

/// Decodes a bare record (the line starts with `CEF:` or `LEEF:`).
pub(crate) fn decode_bare(
    syntax: Syntax,
    line: &str,
    line_no: usize,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let event = crate::new_event(
        ctx,
        syntax.name(),
        line,
        None,
        onesec_event::EventClass::Base,
        onesec_event::Activity::Other,
    );
    complete(syntax, line.trim_start(), event, line_no, ctx)
}

/// Bytes reserved for the text of a record's error (the longest, a truncated header, has
/// about 150).
const ERROR_TEXT_ROOM: usize = 192;

/// Reads the record in `payload` into `event`, which already holds what a syslog header said
/// (time, host, facility) or nothing for a bare record.
pub(crate) fn complete(
    syntax: Syntax,
    payload: &str,
    mut event: Event,
    line_no: usize,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let fail = |error: RecordError, raw: &str| {
        // Room for the usual message up front: `to_string` grew the text 4 or 5 times, ~2 %
        // of decoding a CEF sample where 4 lines in 14 are bad.
        let mut reason = String::with_capacity(ERROR_TEXT_ROOM);
        let _ = write!(reason, "{error}");
        DecodeError::new(line_no, reason, raw)
    };
    let record = parse(syntax, payload).map_err(|e| fail(e, &event.raw))?;
    event.source.format = syntax.name().into();
    map::apply(&record, &mut event, ctx).map_err(|e| fail(e, &event.raw))?;
    Ok(event)
}
