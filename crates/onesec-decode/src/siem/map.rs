//! A CEF/LEEF record → the event: every attribute kept under `cef.`/`leef.`, the standard
//! attributes on the event model, and a class chosen from what the record says it is.

use super::{Record, RecordError, Syntax, stamp};
use crate::{DecodeContext, scan};
use onesec_event::{Activity, Event, EventClass, LogonKind, Severity, Status};
use std::cell::Cell;

/// The attribute names that carry each role, per syntax, in order of preference.
struct Keys {
    src_ip: &'static [&'static str],
    src_port: &'static [&'static str],
    src_host: &'static [&'static str],
    dst_ip: &'static [&'static str],
    dst_port: &'static [&'static str],
    dst_host: &'static [&'static str],
    src_user: &'static [&'static str],
    dst_user: &'static [&'static str],
    src_domain: &'static [&'static str],
    dst_domain: &'static [&'static str],
    protocol: &'static [&'static str],
    bytes_in: &'static [&'static str],
    bytes_out: &'static [&'static str],
    action: &'static [&'static str],
    outcome: &'static [&'static str],
    category: &'static [&'static str],
    message: &'static [&'static str],
    time: &'static [&'static str],
    device_host: &'static [&'static str],
    login: &'static [&'static str],
    logout: &'static [&'static str],
}

/// CEF short names (the standard), then the long names some producers write instead.
const CEF: Keys = Keys {
    // FortiGate puts the peer of its own VPN and admin events in `FTNTFGTremip`.
    src_ip: &["src", "sourceAddress", "c6a2", "FTNTFGTremip"],
    src_port: &["spt", "sourcePort"],
    src_host: &["shost", "sourceHostName"],
    dst_ip: &["dst", "destinationAddress", "c6a3"],
    dst_port: &["dpt", "destinationPort"],
    dst_host: &["dhost", "destinationHostName"],
    src_user: &["suser", "sourceUserName"],
    dst_user: &["duser", "destinationUserName"],
    src_domain: &["sntdom", "sourceNtDomain"],
    dst_domain: &["dntdom", "destinationNtDomain"],
    protocol: &["proto", "transportProtocol"],
    bytes_in: &["in", "bytesIn"],
    bytes_out: &["out", "bytesOut"],
    action: &["act", "deviceAction"],
    outcome: &["outcome", "eventOutcome"],
    category: &["cat", "deviceEventCategory"],
    message: &["msg", "message"],
    time: &["rt", "receiptTime", "end", "endTime", "start", "startTime"],
    device_host: &["dvchost", "deviceHostName", "dvc", "deviceAddress"],
    login: &[],
    logout: &[],
};

/// LEEF predefined attributes; `action` and `msg` are not predefined but widely sent.
const LEEF: Keys = Keys {
    src_ip: &["src", "srcPreNAT"],
    src_port: &["srcPort", "srcPreNATPort"],
    src_host: &["srcHostName", "identHostName"],
    dst_ip: &["dst", "dstPreNAT"],
    dst_port: &["dstPort", "dstPreNATPort"],
    dst_host: &["dstHostName"],
    src_user: &["usrName", "accountName", "identUserName"],
    dst_user: &[],
    src_domain: &["domain"],
    dst_domain: &[],
    protocol: &["proto"],
    bytes_in: &["srcBytes"],
    bytes_out: &["dstBytes"],
    action: &["action", "act"],
    outcome: &["outcome", "result"],
    category: &["cat"],
    message: &["msg", "message"],
    time: &["devTime"],
    device_host: &[],
    login: &["isLoginEvent"],
    logout: &["isLogoutEvent"],
};

/// A record with its role names.
struct View<'a> {
    record: &'a Record<'a>,
    keys: &'a Keys,
    /// [`name_bit`] of every attribute name, so that a role name whose bit is not set is
    /// answered without scanning the attributes (most of the ~50 role names a record is asked
    /// for are absent: the scans were 7 % of decoding a CEF record).
    name_bits: u64,
}

impl<'a> View<'a> {
    fn new(record: &'a Record<'a>, keys: &'a Keys) -> View<'a> {
        let name_bits = record
            .attrs
            .iter()
            .fold(0, |bits, (key, _)| bits | name_bit(key));
        View {
            record,
            keys,
            name_bits,
        }
    }

    /// The first non-empty value among `names`.
    fn get(&self, names: &[&str]) -> Option<&'a str> {
        names.iter().find_map(|name| {
            if self.name_bits & name_bit(name) == 0 {
                return None;
            }
            self.record
                .attrs
                .iter()
                .rev()
                .find(|(key, _)| scan::same_name(key, name))
                .and_then(|(_, value)| scan::non_empty(value))
        })
    }

    fn flag(&self, names: &[&str]) -> bool {
        self.get(names)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// Lower-case words of what the record says it is: category, name and event id, each
    /// followed by a space, written over `text`. Lower-cased in place (a lower-cased copy per
    /// part and the growth of the joined text were 3 to 5 allocations a record).
    fn kind_words(&self, text: &mut String) {
        text.clear();
        let parts = [
            self.get(self.keys.category),
            self.record.name.as_deref(),
            Some(&*self.record.event_id),
        ];
        for part in parts.into_iter().flatten() {
            text.push_str(part);
            text.push(' ');
        }
        text.make_ascii_lowercase();
    }
}

/// Fills `event` from `record`, whose texts end up in the event's fields.
pub(super) fn apply(
    record: &Record<'_>,
    event: &mut Event,
    ctx: &DecodeContext,
) -> Result<(), RecordError> {
    // Room for every field up front, including the few `read_record` adds (action,
    // network.*, ...), so that the fields allocate once instead of growing.
    let (fields, bytes) = attribute_room(record);
    event
        .fields
        .reserve(fields + MAPPED_FIELDS, bytes + MAPPED_FIELD_BYTES);
    read_record(record, event, ctx)?;
    keep_attributes(record, event);
    Ok(())
}

/// Room to reserve in an event's fields, before its syslog header's fields are written, for
/// the CEF or LEEF record in `payload` (`apply` reserves exactly once it has parsed the
/// record; reserving this first spares a reallocation). One field per `=` at most.
pub(super) fn room_for(payload: &str) -> (usize, usize) {
    let pairs = memchr::memchr_iter(b'=', payload.as_bytes()).count();
    let header_fields = 7;
    let key_prefixes = (pairs + header_fields) * "leef.".len();
    (
        pairs + header_fields + MAPPED_FIELDS,
        payload.len() + key_prefixes + "device_version".len() * 2 + MAPPED_FIELD_BYTES,
    )
}

/// Fields `read_record` may add besides the record's own (action, network.*, ...).
const MAPPED_FIELDS: usize = 6;
/// Their keys and values, about.
const MAPPED_FIELD_BYTES: usize = 128;

/// How many fields and bytes of keys and values `keep_attributes` writes (labels aside; LEEF's
/// `event_id` counted as CEF's longer `signature_id`).
fn attribute_room(record: &Record<'_>) -> (usize, usize) {
    let prefix = record.syntax.name().len() + 1;
    let header = [
        "version".len() + record.version.len(),
        "vendor".len() + record.vendor.len(),
        "product".len() + record.product.len(),
        "device_version".len() + record.device_version.len(),
        "signature_id".len() + record.event_id.len(),
        "name".len() + record.name.as_ref().map_or(0, |v| v.len()),
        "severity".len() + record.severity.as_ref().map_or(0, |v| v.len()),
    ];
    let bytes: usize = header
        .into_iter()
        .chain(record.attrs.iter().map(|(k, v)| k.len() + v.len()))
        .map(|len| len + prefix)
        .sum();
    (header.len() + record.attrs.len(), bytes)
}

/// Everything but the fields that keep the record's own attributes.
fn read_record(
    record: &Record<'_>,
    event: &mut Event,
    ctx: &DecodeContext,
) -> Result<(), RecordError> {
    let keys = match record.syntax {
        Syntax::Cef => &CEF,
        Syntax::Leef => &LEEF,
    };
    let view = View::new(record, keys);
    event.source.product = slug_name(&record.vendor);
    event.source.service = slug_name(&record.product);
    event.severity = severity(&view)?;
    if let Some(ms) = time(&view, ctx)? {
        event.time_ms = ms;
    }
    if event.host.is_none() {
        event.host = view.get(view.keys.device_host).map(str::to_string);
    }
    event.message = view
        .get(view.keys.message)
        .or(record.name.as_deref())
        .unwrap_or(&record.event_id)
        .to_string();
    set_endpoints(&view, event);
    set_network_fields(&view, event);
    classify(&view, event);
    // A base event still names its account (an alert about `suser`, a DLP incident of
    // `usrName`): the source user, else the destination user.
    if event.class == EventClass::Base && event.actor.user.is_none() {
        let keys = view.keys;
        let user = account(&view, keys.src_user).or_else(|| account(&view, keys.dst_user));
        if user.is_some() {
            let domain = view
                .get(keys.src_domain)
                .or_else(|| view.get(keys.dst_domain));
            set_account(event, user, domain);
        }
    }
    Ok(())
}

/// The account among `names`, unless a placeholder (`n/a`, as Imperva and FortiGate write
/// for no user).
/// Sets the actor's account. A Windows-style `DOMAIN\user` (Palo Alto's `suser`, proxies) is
/// split as the Windows decoder splits it, so the same account reads the same from every source;
/// a domain named on its own wins over the prefix.
fn set_account(event: &mut Event, user: Option<&str>, domain: Option<&str>) {
    let (prefix, user) = match user.and_then(|u| u.rsplit_once('\\')) {
        Some((prefix, name)) if !prefix.is_empty() && !name.is_empty() => {
            (Some(prefix), Some(name))
        }
        _ => (None, user),
    };
    event.actor.user = user.map(str::to_string);
    event.actor.domain = domain.or(prefix).map(str::to_string);
}

fn account<'a>(view: &View<'a>, names: &[&str]) -> Option<&'a str> {
    view.get(names)
        .filter(|user| !user.eq_ignore_ascii_case("n/a"))
}

/// Every attribute under `<format>.<key>`, the header under fixed names, and custom CEF
/// fields under their labels (`cs1Label=Policy cs1=Allow-Web` → `cef.label.Policy`). Keys are
/// built in one buffer, and the fields get room for all of them up front.
fn keep_attributes(record: &Record<'_>, event: &mut Event) {
    let prefix = record.syntax.name();
    let id_name = match record.syntax {
        Syntax::Cef => "signature_id",
        Syntax::Leef => "event_id",
    };
    let header = [
        ("version", Some(&record.version)),
        ("vendor", Some(&record.vendor)),
        ("product", Some(&record.product)),
        ("device_version", Some(&record.device_version)),
        (id_name, Some(&record.event_id)),
        ("name", record.name.as_ref()),
        ("severity", record.severity.as_ref()),
    ];
    // Every key is `<prefix>.<name>`; labels add `label.` and the label. (`apply` reserved
    // the room.)
    // Attributes come in record order, not key order: sorted in once at the end.
    let mut batch = event.fields.batch();
    let fields = &mut batch;
    // The key buffer is the thread's (an allocation a record less) and keeps the prefix
    // between keys (a copy a field less).
    let mut key = KEY_BUFFER.try_with(Cell::take).unwrap_or_default();
    key.clear();
    key.push_str(prefix);
    key.push('.');
    let prefix_len = key.len();
    let mut insert = |fields: &mut onesec_event::Batch<'_>, name: &[&str], value: &str| {
        key.truncate(prefix_len);
        name.iter().for_each(|part| key.push_str(part));
        fields.insert(&key, value);
    };
    for (name, value) in header {
        if let Some(value) = value {
            insert(fields, &[name], value);
        }
    }
    // Empty values are absent values, as in the other decoders. A key repeated in the record
    // gives its last value.
    for (name, value) in record.attrs.iter().filter(|(_, v)| !v.is_empty()) {
        insert(fields, &[name], value);
    }
    // Labelled custom fields last: a label wins over an attribute of the same name.
    for (name, label) in &record.attrs {
        let Some(base) = name.strip_suffix("Label") else {
            continue;
        };
        let value = record.attrs.iter().rev().find(|(k, _)| *k == base);
        if let (Some((_, value)), Some(label)) = (value, scan::non_empty(label)) {
            insert(fields, &["label.", label], value);
        }
    }
    let _ = KEY_BUFFER.try_with(|buffer| buffer.set(key));
}

thread_local! {
    /// [`keep_attributes`]' key buffer, kept between records.
    static KEY_BUFFER: Cell<String> = const { Cell::new(String::new()) };
}

/// Vendor and product names met so far, with their slugs.
static SLUGS: crate::intern::Interner = crate::intern::Interner::new();

/// [`slug`] as an event name. A source sends the same few vendor and product names over and
/// over, so the slugs of the first names the process meets are kept and lent: building the
/// slug and its allocation (and freeing it with the event) were ~4 % of decoding a CEF record.
/// Once the table is full, or for a long text, the slug is built as before.
fn slug_name(text: &str) -> onesec_event::Name {
    match SLUGS.get(text, slug) {
        Some(slug) => slug.into(),
        None => slug(text).into(),
    }
}

/// `Palo Alto Networks` → `palo_alto_networks`.
fn slug(text: &str) -> String {
    // ASCII white space is no letter or digit, so `slug_ascii` drops it at the ends anyway.
    if text.is_ascii() {
        slug_ascii(text)
    } else {
        slug_unicode(text.trim())
    }
}

/// [`slug`] of any (trimmed) text, a `char` at a time.
fn slug_unicode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// [`slug`] of ASCII text, a byte at a time (the `char` walk with Unicode lower-casing was
/// 7 % of decoding a CEF record); a separator is only written between two words, so there is
/// nothing to trim afterwards.
fn slug_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            gap = true;
        }
    }
    out
}

/// CEF header Severity (0–10 or Unknown/Low/Medium/High/Very-High; a bad one is an error, as
/// the header is the record's structure) or LEEF `sev` (1–10; a bad one is ignored).
fn severity(view: &View<'_>) -> Result<Severity, RecordError> {
    match &view.record.severity {
        Some(text) => severity_of(text).ok_or_else(|| RecordError::BadValue {
            format: view.record.syntax,
            what: "header field 7 (Severity)".into(),
            reason: format!(
                "expected 0-10 or Unknown/Low/Medium/High/Very-High, found '{}'",
                scan::preview(text, 20)
            ),
        }),
        None => Ok(view
            .get(&["sev"])
            .and_then(severity_of)
            .unwrap_or(Severity::Informational)),
    }
}

/// CEF's scale: 0–3 low, 4–6 medium, 7–8 high, 9–10 very high.
fn severity_of(text: &str) -> Option<Severity> {
    let text = scan::trim(text);
    if let Ok(n) = text.parse::<u8>() {
        return match n {
            0..=3 => Some(Severity::Low),
            4..=6 => Some(Severity::Medium),
            7..=8 => Some(Severity::High),
            9..=10 => Some(Severity::Critical),
            _ => None,
        };
    }
    match text.to_ascii_lowercase().as_str() {
        "unknown" => Some(Severity::Informational),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "very-high" | "very high" | "veryhigh" => Some(Severity::Critical),
        _ => None,
    }
}

/// The record's own time (CEF `rt`, else `end`, else `start`; LEEF `devTime`); an unreadable
/// one is an error rather than a silently wrong event time.
fn time(view: &View<'_>, ctx: &DecodeContext) -> Result<Option<i64>, RecordError> {
    let Some((key, text)) = view
        .keys
        .time
        .iter()
        .find_map(|key| view.get(&[key]).map(|v| (*key, v)))
    else {
        return Ok(None);
    };
    let pattern = match view.record.syntax {
        Syntax::Leef => view.get(&["devTimeFormat"]),
        Syntax::Cef => None,
    };
    stamp::parse(text, pattern, ctx)
        .map(Some)
        .map_err(|reason| RecordError::BadValue {
            format: view.record.syntax,
            what: format!("time '{key}'"),
            reason,
        })
}

/// Source and destination addresses, ports and host names. An address attribute holding a
/// name (some producers do) becomes the host name; an unreadable port is left out (the
/// attribute stays in `fields`).
fn set_endpoints(view: &View<'_>, event: &mut Event) {
    let keys = view.keys;
    if let Some(ip) = view.get(keys.src_ip) {
        scan::set_host_or_ip(&mut event.src, ip);
    }
    if let Some(ip) = view.get(keys.dst_ip) {
        scan::set_host_or_ip(&mut event.dst, ip);
    }
    event.src.port = view.get(keys.src_port).and_then(|p| p.parse().ok());
    event.dst.port = view.get(keys.dst_port).and_then(|p| p.parse().ok());
    if let Some(host) = view.get(keys.src_host) {
        event.src.hostname = Some(host.to_string());
    }
    if let Some(host) = view.get(keys.dst_host) {
        event.dst.hostname = Some(host.to_string());
    }
}

/// `network.protocol`, `network.bytes_in`, `network.bytes_out`.
fn set_network_fields(view: &View<'_>, event: &mut Event) {
    if let Some(protocol) = view.get(view.keys.protocol) {
        event
            .fields
            .insert("network.protocol", &protocol_name(protocol));
    }
    for (keys, name) in [
        (view.keys.bytes_in, "network.bytes_in"),
        (view.keys.bytes_out, "network.bytes_out"),
    ] {
        if let Some(bytes) = view.get(keys).filter(|b| b.parse::<u64>().is_ok()) {
            event.fields.insert(name, bytes);
        }
    }
}

/// `TCP` → `tcp`, IANA numbers 6/17/1/58 → `tcp`/`udp`/`icmp`/`ipv6-icmp`.
pub(crate) fn protocol_name(text: &str) -> std::borrow::Cow<'_, str> {
    match scan::trim(text) {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "ipv6-icmp".into(),
        other if other.bytes().any(|b| b.is_ascii_uppercase()) => other.to_ascii_lowercase().into(),
        other => other.into(),
    }
}

/// Authentication first (what the record says it is), then network flow (what it carries),
/// else a base event.
fn classify(view: &View<'_>, event: &mut Event) {
    // The thread's buffer: an allocation a record less.
    let mut words = WORDS_BUFFER.try_with(Cell::take).unwrap_or_default();
    view.kind_words(&mut words);
    if is_authentication(view, &words) {
        set_authentication(view, &words, event);
    } else if is_network(view, &words, event) {
        set_network(view, &words, event);
    }
    let _ = WORDS_BUFFER.try_with(|buffer| buffer.set(words));
}

thread_local! {
    /// [`classify`]'s buffer for the class words, kept between records.
    static WORDS_BUFFER: Cell<String> = const { Cell::new(String::new()) };
}

const AUTH_WORDS: &[&str] = &[
    "authenticat",
    "logon",
    "login",
    "log on",
    "log in",
    "log-in",
    "logoff",
    "logout",
    "log off",
    "log out",
    "log-out",
    "sign-in",
    "signin",
    "sign in",
    "sign-out",
    "signout",
    "sign out",
    // Palo Alto GlobalProtect event ids.
    "gateway-auth",
    "portal-auth",
];

const LOGOUT_WORDS: &[&str] = &[
    "logoff", "logout", "log off", "log out", "log-out", "sign-out", "signout", "sign out",
];

/// One of 64 bits for `name`, from its length and first byte (each modulo 8): equal names have
/// equal bits, and names of a record rarely share the bit of a role name they are not.
fn name_bit(name: &str) -> u64 {
    let first = name.as_bytes().first().map_or(0, |b| usize::from(b & 7));
    1 << (((name.len() & 7) << 3) | first)
}

/// Whether `text` contains any of `needles` (`str::contains` set up a two-way searcher per
/// needle, about 5 % of decoding a CEF record; see [`scan::find_str`]).
fn has_any(text: &str, needles: &[&str]) -> bool {
    needles
        .iter()
        .any(|needle| scan::find_str(text, needle).is_some())
}

/// Parts of which every word of [`AUTH_WORDS`] and [`LOGOUT_WORDS`] holds one (a test checks):
/// a text without any of them has none of those words, which is answered with 3 searches
/// instead of 13 (the searches were 5 % of decoding a CEF record, most records being no logon).
const AUTH_STEMS: &[&str] = &["log", "sign", "authenticat", "-auth"];

fn is_authentication(view: &View<'_>, words: &str) -> bool {
    view.flag(view.keys.login)
        || view.flag(view.keys.logout)
        || (has_any(words, AUTH_STEMS) && has_any(words, AUTH_WORDS))
}

fn set_authentication(view: &View<'_>, words: &str, event: &mut Event) {
    // Windows' category `Logon/Logoff` names both: it says nothing about which one.
    let logoff_words = |words: &str| has_any(words, LOGOUT_WORDS);
    let logoff = view.flag(view.keys.logout)
        || if scan::find_str(words, "logon/logoff").is_some() {
            logoff_words(&words.replace("logon/logoff", ""))
        } else {
            logoff_words(words)
        };
    let success = [view.keys.outcome, view.keys.action]
        .iter()
        .find_map(|keys| view.get(keys).and_then(|v| verdict(v, false)))
        .or_else(|| verdict(words, false))
        .or_else(|| windows_verdict(&view.record.event_id));
    event.class = EventClass::Authentication;
    event.activity = if logoff {
        Activity::Logoff
    } else {
        Activity::Logon
    };
    event.status = status(success);
    let vpn = has_any(words, &["vpn", "globalprotect"])
        || scan::find_str(&event.source.service, "vpn").is_some();
    let remote = event.src.ip.is_some() || event.src.hostname.is_some();
    event.logon = Some(match (vpn, remote) {
        (true, _) => LogonKind::Vpn,
        (false, true) => LogonKind::Network,
        (false, false) => LogonKind::Other,
    });
    // The account logged on to is the destination user; the source user is who asked.
    let keys = view.keys;
    let user = account(view, keys.dst_user).or_else(|| account(view, keys.src_user));
    let domain = view
        .get(keys.dst_domain)
        .or_else(|| view.get(keys.src_domain));
    set_account(event, user, domain);
    if event.dst.hostname.is_none() && event.dst.ip.is_none() {
        event.dst.hostname.clone_from(&event.host);
    }
    let action = match (logoff, success) {
        (true, _) => "logoff",
        (false, Some(true)) => "logon",
        (false, Some(false)) => "logon_failed",
        (false, None) => "logon_attempt",
    };
    event.fields.insert("action", action);
}

/// (`netflow` holds `flow`, so it needs no search of its own.)
const FLOW_WORDS: &[&str] = &["traffic", "firewall", "flow", "connection", "packet"];

fn is_network(view: &View<'_>, words: &str, event: &Event) -> bool {
    let endpoints = [&event.src, &event.dst]
        .iter()
        .any(|e| e.ip.is_some() || e.hostname.is_some());
    let flow = event.src.port.is_some()
        || event.dst.port.is_some()
        || event.fields.contains_key("network.protocol")
        || event.fields.contains_key("network.bytes_in")
        || event.fields.contains_key("network.bytes_out");
    // Asked only when needed: a flow with ports needs no verdict (`set_network` reads it).
    let decided = || {
        view.get(view.keys.action)
            .and_then(|a| verdict(a, true))
            .is_some()
    };
    endpoints && (flow || decided() || has_any(words, FLOW_WORDS))
}

fn set_network(view: &View<'_>, words: &str, event: &mut Event) {
    let keys = view.keys;
    let allowed = [keys.action, keys.outcome]
        .iter()
        .find_map(|k| view.get(k).and_then(|v| verdict(v, true)));
    // `words` is lower case already; the action is compared ignoring case instead of copied.
    let action = view.get(keys.action).unwrap_or("");
    let closing = [
        "end",
        "close",
        "closed",
        "teardown",
        "terminated",
        "stop",
        "stopped",
    ];
    let closed = words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .chain(action.split(|c: char| !c.is_ascii_alphanumeric()))
        .any(|w| closing.iter().any(|c| w.eq_ignore_ascii_case(c)));
    event.class = EventClass::NetworkActivity;
    event.activity = if closed {
        Activity::Close
    } else {
        Activity::Open
    };
    event.status = status(allowed);
    let user = account(view, keys.src_user).or_else(|| account(view, keys.dst_user));
    set_account(event, user, None);
    let (verdict_name, action) = flow_action(allowed);
    if let Some(name) = verdict_name {
        event.fields.insert("network.action", name);
    }
    event.fields.insert("action", action);
}

/// `fields["network.action"]` and `fields["action"]` of a flow with this verdict (allowed,
/// denied, or not said), for every decoder that reads firewall flows.
pub(crate) fn flow_action(allowed: Option<bool>) -> (Option<&'static str>, &'static str) {
    match allowed {
        Some(true) => (Some("allowed"), "network_allowed"),
        Some(false) => (Some("denied"), "network_denied"),
        None => (None, "network_connection"),
    }
}

/// The outcome a Windows Security event id means (`4625`, or an ArcSight-style
/// `Microsoft-Windows-Security-Auditing:4625`), for records that send only the id.
fn windows_verdict(event_id: &str) -> Option<bool> {
    match event_id.rsplit(':').next().unwrap_or(event_id) {
        "4624" | "4648" | "4768" | "4769" | "4776" => Some(true),
        "4625" | "4771" => Some(false),
        _ => None,
    }
}

pub(crate) fn status(verdict: Option<bool>) -> Status {
    match verdict {
        Some(true) => Status::Success,
        Some(false) => Status::Failure,
        None => Status::Unknown,
    }
}

/// Whether `text` says yes (`Some(true)`: success, allowed) or no (`Some(false)`: failure,
/// denied); a "no" word wins. `network` adds the firewall words (a reset ends a flow, but a
/// "password reset" is no failed logon).
pub(crate) fn verdict(text: &str, network: bool) -> Option<bool> {
    const NO: &[&str] = &[
        "fail",
        "deni",
        "deny",
        "reject",
        "invalid",
        "block",
        "drop",
        "refus",
        "unsuccess",
        "prevent",
        "wrong",
    ];
    const NO_EXACT: &[&str] = &["bad"];
    const YES: &[&str] = &["success", "succeed", "allow", "accept", "permit", "grant"];
    const YES_EXACT: &[&str] = &["ok", "pass", "passed", "built"];
    // Tokens compared ignoring ASCII case rather than a lower-cased copy of `text` (an
    // allocation per call); the words above are lower case. Split a byte at a time: the bytes
    // of a non-ASCII character are no ASCII letters or digits either, so the non-empty tokens
    // are those of a split by `char`, without decoding.
    let tokens = || {
        text.as_bytes()
            .split(|b| !b.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
    };
    // The first byte first: most words are rejected there (the words are lower case).
    let starts = |t: &[u8], w: &str| {
        let w = w.as_bytes();
        t.first().map(u8::to_ascii_lowercase) == w.first().copied()
            && t.len() >= w.len()
            && t[..w.len()].eq_ignore_ascii_case(w)
    };
    let no = |t: &[u8]| {
        NO.iter().any(|w| starts(t, w))
            || NO_EXACT
                .iter()
                .any(|w| t.eq_ignore_ascii_case(w.as_bytes()))
            || (network && starts(t, "reset"))
    };
    if tokens().any(no) {
        return Some(false);
    }
    let yes = |t: &[u8]| {
        YES.iter().any(|w| starts(t, w))
            || YES_EXACT
                .iter()
                .any(|w| t.eq_ignore_ascii_case(w.as_bytes()))
    };
    tokens().any(yes).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(syntax: Syntax, line: &str) -> Event {
        let ctx = DecodeContext::new("test", 1_773_180_000_000);
        super::super::decode_line(syntax, line, 1, &ctx).unwrap()
    }

    #[test]
    fn real_world_variants() {
        // Palo Alto's QRadar LEEF: 1.0 attributes separated by `|`.
        let e = decode(
            Syntax::Leef,
            "LEEF:1.0|Palo Alto Networks|PAN-OS Syslog Integration|10.1.0|allow|cat=TRAFFIC|src=10.20.4.17|dst=198.51.100.81|srcPort=50111|dstPort=443|usrName=acme\\alice|action=allow|",
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::NetworkActivity, Status::Success)
        );
        assert_eq!((e.src.port, e.dst.port), (Some(50111), Some(443)));
        // Windows' `Logon/Logoff` category is no logoff; 4625 alone says failure.
        let e = decode(
            Syntax::Leef,
            "LEEF:1.0|Microsoft|Windows|2k8r2|4625|usrName=administrator\tsrc=203.0.113.45\tcat=Logon/Logoff\tisLoginEvent=true",
        );
        assert_eq!((e.activity, e.status), (Activity::Logon, Status::Failure));
        // `Failed Log In`, GlobalProtect's `gateway-auth`, `n/a` users, base events' users.
        let e = decode(
            Syntax::Cef,
            "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|Failed Log In|Unknown|act=Failed Log In src=203.0.113.45 duser=carol",
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::Authentication, Status::Failure)
        );
        assert_eq!(e.actor.user.as_deref(), Some("carol"));
        let e = decode(
            Syntax::Cef,
            "CEF:0|Palo Alto Networks|PAN-OS|10.1.0|gateway-auth|GLOBALPROTECT|3|suser=erin src=198.51.100.28 outcome=failure",
        );
        assert_eq!(
            (e.class, e.logon),
            (EventClass::Authentication, Some(LogonKind::Vpn))
        );
        let e = decode(
            Syntax::Cef,
            "CEF:0|Imperva Inc.|SecureSphere|14.7.0|Firewall|Violation|High|act=Block dst=192.0.2.10 dpt=443 duser=n/a src=203.0.113.45",
        );
        assert_eq!(e.actor.user, None);
        let e = decode(
            Syntax::Cef,
            "CEF:0|Microsoft|Azure ATP|2.22|EncryptionDowngradeSecurityAlert|Encryption downgrade activity|5|suser=admin",
        );
        assert_eq!(
            (e.class, e.actor.user.as_deref()),
            (EventClass::Base, Some("admin"))
        );
        // `CEF: 0|`, a space after the colon.
        let e = decode(
            Syntax::Cef,
            "CEF: 0|Fortinet|Fortigate|v6.0.3|13056|event:vpn negotiate success|3|duser=bob",
        );
        assert_eq!(e.fields.get("cef.version"), Some("0"));
    }

    #[test]
    fn verdict_words() {
        assert_eq!(verdict("Failed password", false), Some(false));
        assert_eq!(verdict("/Success", false), Some(true));
        assert_eq!(verdict("Password changed", false), None);
        assert_eq!(verdict("reset-both", true), Some(false));
        assert_eq!(verdict("reset-both", false), None);
        assert_eq!(verdict("Accept", true), Some(true));
        assert_eq!(verdict("blocked", true), Some(false));
        assert_eq!(verdict("ACCESS DENIED", false), Some(false));
        assert_eq!(verdict("Built inbound", true), Some(true));
        assert_eq!(verdict("OK", false), Some(true));
        assert_eq!(verdict("BAD", false), Some(false));
        assert_eq!(verdict("okay", false), None);
        assert_eq!(verdict("RESET", true), Some(false));
        assert_eq!(verdict("échec: denied", false), Some(false));
        assert_eq!(verdict("okéok", false), Some(true));
        assert_eq!(verdict("ééé", false), None);
    }

    #[test]
    fn stems_cover_their_words() {
        for word in AUTH_WORDS.iter().chain(LOGOUT_WORDS) {
            assert!(
                AUTH_STEMS.iter().any(|stem| word.contains(stem)),
                "{word} has no stem"
            );
        }
        assert!(FLOW_WORDS.iter().any(|w| "netflow".contains(w)));
    }

    #[test]
    fn has_any_finds_what_contains_finds() {
        let texts = [
            "",
            "a",
            "user logon failed",
            "vpn",
            "log",
            "logo",
            "sign-in ok",
            "ssss",
        ];
        for text in texts {
            for needles in [
                AUTH_WORDS,
                LOGOUT_WORDS,
                FLOW_WORDS,
                &["s", "ss", "vpn"],
                &[""],
            ] {
                let expected = needles.iter().any(|w| text.contains(w));
                assert_eq!(has_any(text, needles), expected, "{text:?} {needles:?}");
            }
        }
    }

    #[test]
    fn view_get_finds_what_a_scan_finds() {
        let line = "CEF:0|V|P|1|id|n|5|src=10.0.0.1 sourceAddress=10.0.0.2 dst= \
                    spt=1 suser=a suser=b cat=Logon msg=- act=x c6a2=::1 zz=1 s=2";
        let record = super::super::parse(Syntax::Cef, line).unwrap();
        let view = View::new(&record, &CEF);
        let scan = |names: &[&str]| {
            names.iter().find_map(|name| {
                let last = record.attrs.iter().rev().find(|(k, _)| k == name)?;
                scan::non_empty(&last.1)
            })
        };
        let keys = &CEF;
        for names in [
            keys.src_ip,
            keys.src_port,
            keys.src_host,
            keys.dst_ip,
            keys.dst_port,
            keys.dst_host,
            keys.src_user,
            keys.dst_user,
            keys.protocol,
            keys.action,
            keys.outcome,
            keys.category,
            keys.message,
            keys.time,
            keys.device_host,
            &["zz"],
            &["s"],
            &[""],
        ] {
            assert_eq!(view.get(names), scan(names), "{names:?}");
        }
        assert_eq!(
            view.get(&["suser"]),
            Some("b"),
            "the last of a repeated name"
        );
    }

    #[test]
    fn slug_names_are_slugs_and_the_cache_stays_bounded() {
        use std::borrow::Cow;
        // The cache is the process's: other tests may have filled some of it already.
        let texts: Vec<String> = (0..crate::intern::Interner::MAX_ENTRIES + 10)
            .map(|i| format!("Slug test vendor {i} Inc."))
            .collect();
        let lent: Vec<bool> = texts
            .iter()
            .map(|text| {
                let name = slug_name(text);
                assert_eq!(name, slug(text), "{text}");
                matches!(name, Cow::Borrowed(_))
            })
            .collect();
        let not_lent = lent.iter().filter(|lent| !**lent).count();
        assert!(
            not_lent >= 10,
            "at most {} texts are ever kept",
            crate::intern::Interner::MAX_ENTRIES
        );
        for (text, lent) in texts.iter().zip(&lent) {
            let again = matches!(slug_name(text), Cow::Borrowed(_));
            assert_eq!(
                again, *lent,
                "a kept slug stays kept, no other is added: {text}"
            );
        }
        assert!(SLUGS.len() <= crate::intern::Interner::MAX_ENTRIES);
        let long = "L".repeat(crate::intern::Interner::MAX_TEXT + 1);
        assert_eq!(slug_name(&long), slug(&long));
        assert!(matches!(slug_name(&long), Cow::Owned(_)));
    }

    #[test]
    fn slugs_and_protocols() {
        assert_eq!(slug(" Palo Alto Networks "), "palo_alto_networks");
        for text in [
            "Palo Alto Networks",
            "__A--b__",
            "_",
            "",
            "x",
            "Fortinet FortiGate 7.2",
            "a_",
            " Palo Alto Networks ",
            "  ",
            "\tA\t b ",
            "VPN-1 & FireWall-1",
        ] {
            assert_eq!(slug_ascii(text), slug_unicode(text), "{text:?}");
        }
        assert_eq!(slug("Société Générale"), "société_générale");
        assert_eq!(slug("PAN-OS"), "pan_os");
        assert_eq!(protocol_name("17"), "udp");
        assert_eq!(protocol_name("TCP"), "tcp");
    }

    #[test]
    fn severities() {
        assert_eq!(severity_of("0"), Some(Severity::Low));
        assert_eq!(severity_of("10"), Some(Severity::Critical));
        assert_eq!(severity_of("Very-High"), Some(Severity::Critical));
        assert_eq!(severity_of("11"), None);
        assert_eq!(severity_of("urgent"), None);
    }
}
