//! Syslog: the header through `syslog_loose` (RFC 5424 and RFC 3164, PRI optional), then a
//! sub-decoder chosen by program name.

pub(crate) mod asa;
mod kernel;
mod login;
mod openvpn;
mod pam;
mod sshd;
mod su;
mod sudo;

use crate::{DecodeContext, DecodeError, SyslogSettings, new_event, scan, siem};
use chrono::{Datelike, Offset, TimeZone};
use onesec_event::{Activity, Event, EventClass, LogonKind, Severity, Status};
use std::fmt;
use syslog_loose::{IncompleteDate, ProcId, SyslogSeverity, Variant};

const DAY_MS: i64 = 86_400_000;

/// How the error for a line that is no syslog message starts (auto-detection rewrites it).
pub(crate) const NOT_SYSLOG: &str = "expected a syslog message";

/// Decodes one syslog message as received on the wire (a UDP datagram or one TCP frame); a
/// trailing line end is not kept in `raw`.
pub fn decode_syslog(message: &str, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    decode_line(message.trim_end_matches(['\n', '\r', '\0']), 1, ctx)
}

/// Decodes one syslog line found at `line` of a body.
pub(crate) fn decode_line(
    line: &str,
    line_no: usize,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    // Relays and SIEM exports also carry records without any syslog header.
    let bare = line.trim_start();
    if let Some(syntax) = siem::Syntax::of(bare) {
        return siem::decode_bare(syntax, line, line_no, ctx);
    }
    if let Some((tag, text)) = asa::split(bare) {
        let mut event = new_event(ctx, "syslog", line, None, EventClass::Base, Activity::Other);
        event.message = text.to_string();
        asa::decode(tag, text, &mut event);
        return Ok(event);
    }
    let settings = ctx.syslog;
    let received = ctx.received_ms;
    let get_year = move |date: IncompleteDate| year_for(date, settings, received);
    if let Some(message) = rfc3164_common(line, get_year, settings.timezone) {
        return build(message, line, line_no, ctx);
    }
    match syslog_loose::parse_message_with_year_exact_tz(
        line,
        get_year,
        Some(settings.timezone),
        Variant::Either,
    ) {
        Ok(message) => build(message, line, line_no, ctx),
        Err(_) => headerless(line, line_no, ctx),
    }
}

/// The usual RFC 3164 line, `[<PRI>]Mmm dd hh:mm:ss host tag[pid]: text` (or `tag:`), read
/// by hand into the message syslog_loose makes of it: its nom combinators were about a third
/// of decoding an sshd line. `None` for anything else (other spacing, a year or zone in the
/// time, `-` fields, a host or tag with other than printable ASCII, a text starting with
/// `[` or `-` that syslog_loose may read as structured data), which syslog_loose then parses
/// as before: where this answers, syslog_loose answers the same (a test compares them).
fn rfc3164_common(
    line: &str,
    get_year: impl FnOnce(IncompleteDate) -> i32,
    zone: chrono_tz::Tz,
) -> Option<syslog_loose::Message<&str>> {
    let input = line.trim();
    let (pri, rest) = match input.strip_prefix('<') {
        Some(after) => {
            let (digits, rest) = after.split_at(memchr::memchr(b'>', after.as_bytes())?);
            let rest = rest.get(1..)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (syslog_loose::decompose_pri(digits.parse().ok()?), rest)
        }
        None => ((None, None), input),
    };
    let (date, rest) = rfc3164_time(rest)?;
    // One space, the host, one space, the tag up to its colon.
    // (Split at ASCII bytes found with `memchr`: `str::find` of a `char` costs more to set
    // up than these short searches.)
    let rest = rest.strip_prefix(' ')?;
    let (host, rest) = rest.split_at(memchr::memchr(b' ', rest.as_bytes())?);
    let rest = rest.strip_prefix(' ')?;
    let (tag, rest) = rest.split_at(memchr::memchr(b':', rest.as_bytes())?);
    let printable = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic());
    if !printable(host) || host.ends_with(':') || host == "-" || !printable(tag) || tag == "-" {
        return None;
    }
    let msg = rest.get(1..)?.trim_start_matches([' ', '\t']);
    if msg.starts_with(['[', '-']) {
        return None;
    }
    // `app[pid]` exactly, or the whole tag is the program (syslog_loose's `systag`).
    let (appname, procid) = match memchr::memchr(b'[', tag.as_bytes()) {
        Some(open) => {
            let (app, after) = (&tag[..open], &tag[open + 1..]);
            match memchr::memchr(b']', after.as_bytes()) {
                Some(close) if close > 0 && close + 1 == after.len() => {
                    (app, Some(&after[..close]))
                }
                _ => (tag, None),
            }
        }
        None => (tag, None),
    };
    // The time as syslog_loose's `make_timestamp` makes it; an impossible date is its error.
    let (month, day, hour, minute, second) = date;
    let timestamp = zone
        .with_ymd_and_hms(get_year(date), month, day, hour, minute, second)
        .earliest()
        .map(|time| {
            let offset = time.offset().fix();
            time.with_timezone(&offset)
        })?;
    Some(syslog_loose::Message {
        protocol: syslog_loose::Protocol::RFC3164,
        facility: pri.0,
        severity: pri.1,
        timestamp: Some(timestamp),
        hostname: Some(host),
        appname: Some(appname),
        procid: procid.map(ProcId::from),
        msgid: None,
        structured_data: Vec::new(),
        msg,
    })
}

/// `Mmm dd hh:mm:ss` (the day may be one digit, after one or more spaces) and what follows.
fn rfc3164_time(text: &str) -> Option<(IncompleteDate, &str)> {
    let [a, b, c, ..] = text.as_bytes() else {
        return None;
    };
    let month = match [a, b, c].map(u8::to_ascii_lowercase) {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    };
    let rest = text.get(3..)?;
    let rest = rest.trim_start_matches(' ');
    if rest.len() + 3 == text.len() {
        return None;
    }
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let (day, rest) = rest.split_at(day_len);
    let [b' ', h0, h1, b':', m0, m1, b':', s0, s1, after @ ..] = rest.as_bytes() else {
        return None;
    };
    // What follows the seconds must be the space before the host (not `:` nor a year).
    if after.first() != Some(&b' ') {
        return None;
    }
    let two = |a: u8, b: u8| {
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
    };
    let time = (
        month,
        day.parse().ok()?,
        two(*h0, *h1)?,
        two(*m0, *m1)?,
        two(*s0, *s1)?,
    );
    Some((time, rest.get(9..)?))
}

/// The year of an RFC 3164 time stamp (see [`SyslogSettings::year`]).
pub(crate) fn year_for(
    (month, day, hour, minute, second): IncompleteDate,
    settings: SyslogSettings,
    received_ms: i64,
) -> i32 {
    if let Some(year) = settings.year {
        return year;
    }
    let zone = settings.timezone;
    let received = chrono::DateTime::from_timestamp_millis(received_ms)
        .unwrap_or_default()
        .with_timezone(&zone);
    let mut year = received.year();
    if let Some(time) = zone
        .with_ymd_and_hms(year, month, day, hour, minute, second)
        .earliest()
        && time.timestamp_millis() > received_ms.saturating_add(DAY_MS)
    {
        year -= 1;
    }
    // `Feb 29` in a year that has none: the latest leap year before.
    let oldest = year - 8;
    while chrono::NaiveDate::from_ymd_opt(year, month, day).is_none() && year > oldest {
        year -= 1;
    }
    year
}

/// A line of OpenVPN's own log file (`--log`, no syslog header): `2026-11-27 03:14:02 <text>`
/// (2.5 and later) or `Fri Nov 27 03:14:02 2026 <text>`, in the local time zone of the
/// settings; `None` unless the text after the stamp is OpenVPN's.
fn openvpn_log_file(trimmed: &str, line: &str, ctx: &DecodeContext) -> Option<Event> {
    let (naive, text) = [("%Y-%m-%d %H:%M:%S", 19), ("%a %b %e %H:%M:%S %Y", 24)]
        .iter()
        .find_map(|(format, len)| {
            let stamp = trimmed.get(..*len)?;
            let text = trimmed.get(*len..)?.strip_prefix(' ')?;
            let naive = chrono::NaiveDateTime::parse_from_str(stamp, format).ok()?;
            Some((naive, text.trim()))
        })?;
    if !openvpn::looks_like(text) {
        return None;
    }
    let time_ms = crate::time::local_to_ms(&naive, &ctx.syslog.timezone)?;
    let mut event = new_event(
        ctx,
        "syslog",
        line,
        Some(time_ms),
        EventClass::Base,
        Activity::Other,
    );
    event.message = text.to_string();
    openvpn::decode(text, &mut event);
    Some(event)
}

/// A line with a valid `<PRI>` but no parseable header: a base event carrying the rest.
fn headerless(line: &str, line_no: usize, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let trimmed = line.trim();
    let pri = trimmed
        .strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(digits, rest)| Some((digits.parse::<u8>().ok().filter(|p| *p <= 191)?, rest)));
    let Some((pri, rest)) = pri else {
        if let Some(event) = openvpn_log_file(trimmed, line, ctx) {
            return Ok(event);
        }
        return Err(DecodeError::new(
            line_no,
            format!(
                "{NOT_SYSLOG} (RFC 5424 '<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG' or RFC 3164 '[<PRI>]Mmm dd hh:mm:ss HOST TAG: MSG'), found '{}'",
                scan::preview(trimmed, 60)
            ),
            line,
        ));
    };
    let mut event = new_event(ctx, "syslog", line, None, EventClass::Base, Activity::Other);
    let (facility, severity) = syslog_loose::decompose_pri(pri);
    event.severity = severity_of(severity);
    let rest = rest.trim();
    let siem_syntax = siem::Syntax::of(rest);
    if siem_syntax.is_some() {
        let (fields, bytes) = siem::room_for(rest);
        event.fields.reserve(fields + 1, bytes + 32);
    }
    if let Some(facility) = facility {
        event.fields.insert("syslog.facility", facility.as_str());
    }
    event.source.service = "syslog".into();
    event.message = rest.to_string();
    // Devices without a time stamp or host name send `<PRI>CEF:...` or `<PRI>%ASA-...`.
    if let Some(syntax) = siem_syntax {
        return siem::complete(syntax, rest, event, line_no, ctx);
    }
    if let Some((tag, text)) = asa::split(rest) {
        event.message = text.to_string();
        asa::decode(tag, text, &mut event);
    }
    Ok(event)
}

fn severity_of(severity: Option<SyslogSeverity>) -> Severity {
    match severity {
        Some(SyslogSeverity::SEV_EMERG | SyslogSeverity::SEV_ALERT) => Severity::Critical,
        Some(SyslogSeverity::SEV_CRIT) => Severity::High,
        Some(SyslogSeverity::SEV_ERR) => Severity::Medium,
        Some(SyslogSeverity::SEV_WARNING) => Severity::Low,
        _ => Severity::Informational,
    }
}

fn build(
    message: syslog_loose::Message<&str>,
    line: &str,
    line_no: usize,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let time_ms = message.timestamp.map(|t| t.timestamp_millis());
    let mut event = new_event(
        ctx,
        "syslog",
        line,
        time_ms,
        EventClass::Base,
        Activity::Other,
    );
    event.severity = severity_of(message.severity);
    // RFC 3164 time stamps carry no year: ingest uses this to complete them from other events.
    let protocol = match message.protocol {
        syslog_loose::Protocol::RFC3164 => "rfc3164",
        syslog_loose::Protocol::RFC5424(_) => "rfc5424",
    };
    let mut host = message.hostname;
    let mut program = message.appname;
    let mut pid = message.procid.map(Pid::Header);
    let mut text = message.msg.trim_start_matches('\u{feff}').trim();
    let asa = asa_tag(&mut host, &mut program, &mut text);
    event.host = host.map(str::to_string);
    if program.is_none()
        && asa.is_none()
        && let Some((tag, tag_pid, rest)) = split_tag(text)
    {
        program = Some(tag);
        pid = Some(Pid::Tag(tag_pid));
        text = rest;
    }
    let repeats = repeated(text).map(|(count, inner)| {
        text = inner;
        count
    });
    let siem_payload = siem::syslog_payload(line, program, text);
    // Room for the usual header and program fields, and for a CEF/LEEF record's: one
    // allocation each.
    let (siem_fields, siem_bytes) = siem_payload.map_or((0, 0), |(_, p)| siem::room_for(p));
    event.fields.reserve(8 + siem_fields, 160 + siem_bytes);
    // In key order (facility, msgid, pid, program, protocol, repeated, sd.*), so that each
    // insert lands after the last key without a search or a shift. The program and pid are
    // kept only when the text is not a CEF/LEEF record.
    let fields = &mut event.fields;
    if let Some(facility) = message.facility {
        fields.insert("syslog.facility", facility.as_str());
    }
    if let Some(msgid) = message.msgid {
        fields.insert("syslog.msgid", msgid);
    }
    if siem_payload.is_none() {
        insert_pid(fields, pid);
        if let Some(program) = program {
            fields.insert("syslog.program", program);
        }
    }
    fields.insert("syslog.protocol", protocol);
    if let Some(count) = repeats {
        fields.insert_display("syslog.repeated", &count);
    }
    let mut key = String::new();
    for element in &message.structured_data {
        for (name, value) in element.params() {
            key.clear();
            key.push_str("syslog.sd.");
            key.push_str(element.id);
            key.push('.');
            key.push_str(name);
            fields.insert(&key, &value);
        }
    }
    if let Some((syntax, payload)) = siem_payload {
        event.message = payload.to_string();
        return siem::complete(syntax, payload, event, line_no, ctx);
    }
    event.message = text.to_string();
    match asa {
        Some(tag) => asa::decode(tag, text, &mut event),
        None => dispatch(program.unwrap_or(""), text, &mut event),
    }
    Ok(event)
}

/// `syslog.pid`: a number written without the `fmt` machinery (a tenth of an sshd line went to
/// it), a name as it is.
fn insert_pid(fields: &mut onesec_event::Fields, pid: Option<Pid<'_>>) {
    match pid {
        Some(Pid::Header(ProcId::PID(n))) if n >= 0 => {
            fields.insert(
                "syslog.pid",
                scan::decimal(n.unsigned_abs().into(), &mut [0; 20]),
            );
        }
        Some(Pid::Tag(text) | Pid::Header(ProcId::Name(text))) => {
            fields.insert("syslog.pid", text);
        }
        Some(other) => {
            fields.insert_display("syslog.pid", &other);
        }
        None => {}
    }
}

/// The process id of a message: from the header, or from a `tag[pid]:` in the text. Written
/// straight into the fields (no `String` of its own).
enum Pid<'a> {
    Header(ProcId<&'a str>),
    Tag(&'a str),
}

impl fmt::Display for Pid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pid::Header(ProcId::PID(pid)) => write!(f, "{pid}"),
            Pid::Header(ProcId::Name(name)) => f.write_str(name),
            Pid::Tag(pid) => f.write_str(pid),
        }
    }
}

/// Finds the `%ASA-6-113019` tag of a Cisco ASA message, which lands in a different header
/// slot depending on the device's `logging timestamp` and `logging device-id` settings: the
/// program (`host %ASA-6-...: text`), the host (`Mar 10 2026 13:12:30: %ASA-6-...: text`) or
/// the message (`host : %ASA-6-...: text`, RFC 5424). The slot it occupied is cleared.
fn asa_tag(
    host: &mut Option<&str>,
    program: &mut Option<&str>,
    text: &mut &str,
) -> Option<asa::Tag> {
    if let Some(tag) = program.and_then(asa::tag) {
        *program = None;
        return Some(tag);
    }
    if let Some(tag) = host.and_then(asa::tag) {
        *host = None;
        return Some(tag);
    }
    let (tag, rest) = asa::split(text)?;
    *text = rest;
    Some(tag)
}

/// `tag[pid]: rest` at the start of a message whose header had no tag (e.g. the legacy
/// `-- root[2421]: ROOT LOGIN ON tty2` of `login`).
fn split_tag(text: &str) -> Option<(&str, &str, &str)> {
    let (head, rest) = text.split_once("]: ")?;
    let (tag, pid) = head.split_once('[')?;
    if tag.is_empty()
        || tag.len() > 48
        || pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((tag.trim(), pid, rest))
}

/// `message repeated N times: [ inner ]` (rsyslog's reduction).
fn repeated(text: &str) -> Option<(u32, &str)> {
    let rest = text.strip_prefix("message repeated ")?;
    let (count, rest) = rest.split_once(" times: [")?;
    let inner = rest.trim().strip_suffix(']').unwrap_or(rest).trim();
    Some((count.parse().ok()?, inner))
}

/// Hands the message to the sub-decoder of its program.
fn dispatch(program: &str, text: &str, event: &mut Event) {
    let is = |name: &str| program.eq_ignore_ascii_case(name);
    if is("sshd") || is("sshd-session") || is("sshd-auth") {
        sshd::decode(text, event);
    } else if is("sudo") {
        sudo::decode(text, event);
    } else if is("su") || is("runuser") {
        su::decode(program, text, event);
    } else if is("login") || program.starts_with("-- ") {
        login::decode(text, event);
    } else if is("kernel") {
        kernel::decode(text, event);
    } else if starts_with_ignore_case(program, "openvpn")
        || starts_with_ignore_case(program, "ovpn-")
    {
        openvpn::decode(text, event);
    } else if is("unix_chkpwd") {
        pam::unix_chkpwd(text, event);
    } else if let Some(service) = program.strip_suffix("(pam_unix)") {
        pam::decode(service, text, event);
    } else if pam::decode_prefixed(text, event) || login::decode_by_content(text, event) {
        // recognised by content
    } else {
        event.source.service = if program.is_empty() {
            "syslog".into()
        } else {
            crate::name_lowercase(program)
        };
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Sets the emitting product and service.
fn set_source(event: &mut Event, product: &'static str, service: onesec_event::Name) {
    event.source.product = product.into();
    event.source.service = service;
}

/// Names what the sub-decoder recognised.
fn set_action(event: &mut Event, action: &str) {
    event.fields.insert("action", action);
}

/// Makes the event an authentication of `kind` on the reporting host.
fn set_logon(event: &mut Event, activity: Activity, status: Status, kind: LogonKind) {
    event.class = EventClass::Authentication;
    event.activity = activity;
    event.status = status;
    event.logon = Some(kind);
    event.dst.hostname.clone_from(&event.host);
}

/// Sets the acting user unless empty or a placeholder.
fn set_user(event: &mut Event, user: &str) {
    if let Some(user) = scan::non_empty(user) {
        event.actor.user = Some(user.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DecodeContext {
        // 2026-03-10T22:00:00Z
        DecodeContext::new("test", 1_773_180_000_000)
    }

    #[test]
    fn rfc3164_year_comes_from_received_time() {
        let e = decode_syslog("<38>Mar 10 16:40:15 gw sshd[7100]: hello", &ctx()).unwrap();
        assert_eq!(e.time_rfc3339(), "2026-03-10T16:40:15.000Z");
        // A December line received in March belongs to the previous year.
        let e = decode_syslog("Dec 10 06:55:46 LabSZ sshd[24200]: hi", &ctx()).unwrap();
        assert_eq!(e.time_rfc3339(), "2025-12-10T06:55:46.000Z");
        let mut c = ctx();
        c.syslog.year = Some(2017);
        c.syslog.timezone = "Europe/Paris".parse().unwrap();
        let e = decode_syslog("Dec 10 06:55:46 LabSZ sshd[24200]: hi", &c).unwrap();
        assert_eq!(e.time_rfc3339(), "2017-12-10T05:55:46.000Z");
        // Feb 29 received in 2027 (no Feb 29): the last leap year.
        let c = DecodeContext::new("test", 1_804_000_000_000); // 2027-03-01
        let e = decode_syslog("Feb 29 10:00:00 h app: x", &c).unwrap();
        assert_eq!(e.time_rfc3339(), "2024-02-29T10:00:00.000Z");
    }

    #[test]
    fn rfc5424_keeps_zone_and_structured_data() {
        let line = r#"<165>1 2026-03-10T11:12:05+01:00 host app 42 ID7 [ex@1 k="v"] text"#;
        let e = decode_syslog(line, &ctx()).unwrap();
        assert_eq!(e.time_rfc3339(), "2026-03-10T10:12:05.000Z");
        assert_eq!(e.host.as_deref(), Some("host"));
        assert_eq!(&e.fields["syslog.sd.ex@1.k"], "v");
        assert_eq!(&e.fields["syslog.msgid"], "ID7");
        assert_eq!(&e.fields["syslog.program"], "app");
        assert_eq!(e.source.service, "app");
        assert_eq!(e.message, "text");
        assert_eq!(e.class, EventClass::Base);
    }

    #[test]
    fn pri_without_header_is_a_base_event_and_garbage_is_an_error() {
        let e = decode_syslog("<13>just words", &ctx()).unwrap();
        assert_eq!(e.message, "just words");
        assert_eq!(e.time_ms, ctx().received_ms);
        let err = decode_syslog("just words", &ctx()).unwrap_err();
        assert!(
            err.reason.contains("expected a syslog message"),
            "{}",
            err.reason
        );
        assert!(decode_syslog("<999>x", &ctx()).is_err());
    }

    #[test]
    fn repeated_messages_are_unwrapped() {
        let line = "Dec 10 09:11:21 LabSZ sshd[24650]: message repeated 5 times: [ Failed password for root from 183.62.140.253 port 49470 ssh2]";
        let e = decode_syslog(line, &ctx()).unwrap();
        assert_eq!(&e.fields["action"], "ssh_failed_password");
        assert_eq!(&e.fields["syslog.repeated"], "5");
    }

    #[test]
    fn the_rfc3164_fast_path_reads_what_syslog_loose_reads() {
        let mut lines: Vec<&str> = vec![
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            "<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster",
            "<038>Dec  1 06:55:46 LabSZ sshd[24200]:   text after spaces  ",
            "<999>Dec 10 06:55:46 LabSZ sshd[24200]: pri too large",
            "<>Dec 10 06:55:46 LabSZ sshd[24200]: empty pri",
            "< 38>Dec 10 06:55:46 LabSZ sshd[24200]: odd pri",
            "<38> Dec 10 06:55:46 LabSZ sshd[24200]: space after pri",
            "dec 10 06:55:46 LabSZ CRON: no pid",
            "DEC 10 06:55:46 LabSZ kernel: [ 1.0] structured-looking text",
            "Dec 10 06:55:46 LabSZ su: - dash text",
            "Dec 10 06:55:46 LabSZ sshd[]: empty pid",
            "Dec 10 06:55:46 LabSZ sshd[1]x: after pid",
            "Dec 10 06:55:46 LabSZ sshd[1][2]: two pids",
            "Dec 10 06:55:46 LabSZ [1]: no app",
            "Dec 10 06:55:46 LabSZ sshd[abc]: named pid",
            "Dec 10 06:55:46 LabSZ sshd[99999999999]: huge pid",
            "Dec 10 06:55:46 LabSZ sshd[1]:",
            "Dec 10 06:55:46 LabSZ sshd[1]:no space",
            "Dec 10 06:55:46 LabSZ sshd[1]:\ttab",
            "Dec 10 06:55:46 - sshd[1]: dash host",
            "Dec 10 06:55:46 LabSZ -: dash tag",
            "Dec 10 06:55:46 host: tag: host with colon",
            "Dec 10 06:55:46 sshd[1]: only a tag",
            "Dec 10 06:55:46  LabSZ sshd[1]: two spaces",
            "Dec 10 06:55:46 LabSZ  sshd[1]: two spaces",
            "Dec 10 06:55:46 LabSZ sshd[1] : space before colon",
            "Dec 10 06:55:46 LabSZ tag text without colon",
            "Dec 10 06:55:46: LabSZ sshd[1]: colon after time",
            "Dec 10 2025 06:55:46 LabSZ sshd[1]: with a year",
            "Dec 32 06:55:46 LabSZ sshd[1]: day 32",
            "Feb 30 06:55:46 LabSZ sshd[1]: day 30",
            "Feb 29 06:55:46 LabSZ sshd[1]: leap day",
            "Dec 10 24:55:46 LabSZ sshd[1]: hour 24",
            "Dec 10 06:55:60 LabSZ sshd[1]: second 60",
            "Dec 10 6:55:46 LabSZ sshd[1]: short hour",
            "Dec 010 06:55:46 LabSZ sshd[1]: three-digit day",
            "Dex 10 06:55:46 LabSZ sshd[1]: no month",
            "Dec 10 06:55:46 Lab\u{a0}SZ sshd[1]: non-breaking space",
            "Dec 10 06:55:46 LabSZ sshd\u{e9}[1]: accent",
            "Dec 10 06:55:46 LabSZ sshd[1]: trailing spaces   ",
            "  Dec 10 06:55:46 LabSZ sshd[1]: leading spaces",
            "Dec 10 06:55:46 LabSZ %ASA-6-302013: asa tag",
            "Dec 10 06:55:46 fw CEF:0|Vendor|Product|1|100|name|5|src=1.2.3.4",
            "Dec 10 06:55:46 2001:db8::1 sshd[1]: v6 host",
            "Mar 29 02:30:00 LabSZ sshd[1]: in Paris's skipped hour of 2026",
            "Mar 31 02:30:00 LabSZ sshd[1]: in Paris's skipped hour of 2024",
            "Oct 25 02:30:00 LabSZ sshd[1]: in Paris's repeated hour of 2026",
            "Mar 11 06:55:46 LabSZ sshd[1]: the day after the received time",
            "Mar 12 06:55:46 LabSZ sshd[1]: two days after the received time",
        ];
        for data in [
            include_str!("../../tests/data/syslog-edge.log"),
            include_str!("../../tests/data/su-pam.log"),
            include_str!("../../tests/data/asa.log"),
            include_str!("../../tests/data/mixed-auto.txt"),
        ] {
            lines.extend(data.lines());
        }
        // The received time's year and the one before, a zone with summer time (the lines of
        // its skipped hour have no time), and a fixed year.
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let mut fast = 0;
        for settings in [
            SyslogSettings::default(),
            SyslogSettings {
                year: None,
                timezone: paris,
            },
            SyslogSettings {
                year: Some(2024),
                timezone: paris,
            },
        ] {
            let get_year = move |date: IncompleteDate| year_for(date, settings, 1_773_129_491_000);
            for line in lines.iter().copied() {
                let Some(message) = rfc3164_common(line, get_year, settings.timezone) else {
                    continue;
                };
                fast += 1;
                let slow = syslog_loose::parse_message_with_year_exact_tz(
                    line,
                    get_year,
                    Some(settings.timezone),
                    Variant::Either,
                );
                assert_eq!(
                    format!("{message:?}"),
                    format!("{:?}", slow.unwrap()),
                    "{line}"
                );
            }
        }
        assert!(fast >= 60, "{fast}");
    }

    /// Lines the fixed list above does not think of: the sample lines with their headers
    /// mutated at random (seeded, so a failure repeats), compared the same way wherever the
    /// fast path answers.
    #[test]
    fn the_rfc3164_fast_path_agrees_on_mutated_headers() {
        const PIECES: [&str; 16] = [
            " ", "  ", ":", "[", "]", "<", ">", "-", "0", "9", "a", "Z", "\t", "\u{e9}", "[1]",
            "<13>",
        ];
        let samples: Vec<&str> = [
            include_str!("../../tests/data/syslog-edge.log"),
            include_str!("../../tests/data/su-pam.log"),
            include_str!("../../tests/data/mixed-auto.txt"),
        ]
        .iter()
        .flat_map(|data| data.lines())
        .chain(["<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster"])
        .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let settings = SyslogSettings::default();
        let get_year = move |date: IncompleteDate| year_for(date, settings, 1_773_129_491_000);
        let (mut fast, mut tried) = (0, 0);
        for _ in 0..20_000 {
            let base = samples[next(samples.len())];
            let mut line = base.to_string();
            for _ in 0..1 + next(3) {
                // Mostly within the header, where the two parsers could part ways.
                let mut at = next(line.len().min(48) + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = PIECES[next(PIECES.len())];
                match next(3) {
                    0 => line.insert_str(at, piece),
                    1 => {
                        let mut end = (at + 1 + next(3)).min(line.len());
                        while !line.is_char_boundary(end) {
                            end += 1;
                        }
                        line.replace_range(at..end, piece);
                    }
                    _ => {
                        let mut end = (at + 1).min(line.len());
                        while !line.is_char_boundary(end) {
                            end += 1;
                        }
                        line.replace_range(at..end, "");
                    }
                }
            }
            tried += 1;
            let Some(message) = rfc3164_common(&line, get_year, settings.timezone) else {
                continue;
            };
            fast += 1;
            let slow = syslog_loose::parse_message_with_year_exact_tz(
                &line,
                get_year,
                Some(settings.timezone),
                Variant::Either,
            );
            assert_eq!(
                Ok(format!("{message:?}")),
                slow.map(|m| format!("{m:?}")).map_err(|e| format!("{e:?}")),
                "{line:?} (mutated from {base:?})"
            );
        }
        assert!(fast > tried / 10, "the fast path took {fast} of {tried}");
    }
}
