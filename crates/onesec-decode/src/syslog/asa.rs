//! Cisco ASA (and Firepower Threat Defense) syslog messages, `%ASA-<level>-<id>: <text>`:
//! AnyConnect / WebVPN sessions, AAA results, device administration logons, and connections
//! built, torn down or denied. Message templates follow Cisco's "ASA Series Syslog Messages"
//! guide; newer software wraps variables in angle brackets (`Group <g> User <u> IP <ip>`),
//! older software prints them bare, and both are read.

use super::{set_action, set_logon, set_source, set_user};
use crate::scan;
use onesec_event::{Activity, Event, EventClass, LogonKind, Severity, Status};

/// The `%ASA-6-113019` tag: severity level and message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    level: u8,
    id: u32,
}

/// Reads `%ASA-6-113019`, `%FTD-6-113019` or `%ASA-auth-6-113015` (a trailing `:` allowed).
pub(crate) fn tag(token: &str) -> Option<Tag> {
    let rest = token.trim_end_matches(':');
    let rest = rest
        .strip_prefix("%ASA-")
        .or_else(|| rest.strip_prefix("%FTD-"))
        .or_else(|| rest.strip_prefix("%PIX-"))?;
    let mut parts = rest.rsplitn(3, '-');
    let id = parts.next()?;
    let level = parts.next()?;
    if id.len() != 6 || level.len() != 1 {
        return None;
    }
    Some(Tag {
        level: level.parse().ok()?,
        id: id.parse().ok()?,
    })
}

/// Splits `%ASA-6-113019: text` into its tag and text.
pub(crate) fn split(text: &str) -> Option<(Tag, &str)> {
    // Every tag starts with `%`: other lines (every syslog line is asked) are answered without
    // searching them for `: ` (a two-way search over a CEF line cost 5 % of decoding it).
    if !text.starts_with('%') {
        return None;
    }
    let (head, rest) = text.split_once(": ").unwrap_or((text, ""));
    Some((tag(head)?, rest.trim()))
}

/// Decodes the text of one ASA message.
pub(crate) fn decode(tag: Tag, text: &str, event: &mut Event) {
    set_source(event, "cisco", "asa".into());
    event.severity = severity(tag.level);
    let fields = &mut event.fields;
    fields.insert_display("asa.message_id", &tag.id);
    fields.insert_display("asa.level", &tag.level);
    match tag.id {
        113004 | 113005 | 113012 | 113015 => aaa_result(tag.id, text, event),
        113019 => session_disconnected(text, event),
        113039 | 716001 | 716002 | 722022 | 722023 | 722028 | 722037 | 722051 => {
            vpn_session(tag.id, text, event)
        }
        611101 | 611102 => admin_logon(tag.id == 611101, text, event),
        605004 | 605005 => management_login(tag.id == 605005, text, event),
        106001 => inbound_denied(text, event),
        302013 | 302015 => connection_built(text, event),
        302014 | 302016 => connection_teardown(text, event),
        106023 => connection_denied(text, event),
        _ => {}
    }
}

/// ASA levels are syslog severities (0 emergencies ... 7 debugging).
fn severity(level: u8) -> Severity {
    match level {
        0 | 1 => Severity::Critical,
        2 => Severity::High,
        3 => Severity::Medium,
        4 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// The user, unless ASA masked it (`*****`, the default `logging hide username`).
fn set_visible_user(event: &mut Event, user: &str) {
    if !user.is_empty() && !user.bytes().all(|b| b == b'*') {
        set_user(event, user);
    }
}

/// `key = value` items separated by `sep` (` : ` for AAA messages, `, ` for 113019).
fn items<'a>(text: &'a str, sep: &str) -> impl Iterator<Item = (&'a str, &'a str)> {
    text.split(sep)
        .filter_map(|item| item.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// 113004 `AAA user authentication Successful : server = S : user = U`,
/// 113005 `AAA user authentication Rejected : reason = R : server = S : user = U : user IP = IP`,
/// 113015 the same with `local database` instead of a server (113012 its success). ASA logs
/// these for VPN and device administration alike; on a VPN head-end they are the VPN logons.
/// 113004 also reports `authorization` and `accounting` results (`: User = U`), which are not
/// logons: those stay base events with their user.
fn aaa_result(id: u32, text: &str, event: &mut Event) {
    let success = matches!(id, 113004 | 113012);
    if let Some(kind) = text
        .strip_prefix("AAA user ")
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|kind| *kind != "authentication")
    {
        put(event, "asa.aaa_type", kind);
        for (key, value) in items(text, " : ") {
            if key.eq_ignore_ascii_case("user") {
                set_visible_user(event, value);
            }
        }
        return;
    }
    let status = if success {
        Status::Success
    } else {
        Status::Failure
    };
    set_logon(event, Activity::Logon, status, LogonKind::Vpn);
    set_action(
        event,
        if success {
            "vpn_auth_success"
        } else {
            "vpn_auth_failed"
        },
    );
    for (key, value) in items(text, " : ") {
        match key {
            "user" | "User" => set_visible_user(event, value),
            "user IP" => scan::set_host_or_ip(&mut event.src, value),
            "server" => put(event, "asa.aaa_server", value),
            "reason" => put(event, "asa.reason", value),
            _ => {}
        }
    }
}

/// 113019 `Group = G, Username = U, IP = IP, Session disconnected. Session Type: T,
/// Duration: D, Bytes xmt: N, Bytes rcv: M, Reason: R`.
fn session_disconnected(text: &str, event: &mut Event) {
    set_logon(event, Activity::Logoff, Status::Success, LogonKind::Vpn);
    set_action(event, "vpn_disconnected");
    let (head, tail) = text
        .split_once("Session disconnected.")
        .unwrap_or((text, ""));
    for (key, value) in items(head, ", ") {
        match key {
            "Group" => put(event, "asa.group", value),
            "Username" => set_visible_user(event, value),
            "IP" => scan::set_host_or_ip(&mut event.src, value),
            _ => {}
        }
    }
    for (key, value) in tail.split(", ").filter_map(|item| item.split_once(": ")) {
        let name = match key.trim() {
            "Session Type" => "asa.session_type",
            "Duration" => "asa.duration",
            // Bytes the ASA sent to the client and received from it: the client is the source.
            "Bytes xmt" => "network.bytes_out",
            "Bytes rcv" => "network.bytes_in",
            "Reason" => "asa.reason",
            _ => continue,
        };
        put(event, name, value.trim());
    }
}

/// The value after `label` at the start of `text` (`<value>` or one word) and the rest.
fn labelled<'a>(text: &'a str, label: &str) -> Option<(&'a str, &'a str)> {
    let rest = text.trim_start().strip_prefix(label)?.trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let (value, rest) = inner.split_once('>')?;
        return Some((value, rest));
    }
    Some(rest.split_once(' ').unwrap_or((rest, "")))
}

/// `Group G User U IP IP rest`, bracketed or bare.
fn group_user_ip(text: &str) -> Option<(&str, &str, &str, &str)> {
    let (group, rest) = labelled(text, "Group")?;
    let (user, rest) = labelled(rest, "User")?;
    let (ip, rest) = labelled(rest, "IP")?;
    Some((group, user, ip, rest.trim()))
}

/// The AnyConnect and WebVPN session messages that start with `Group G User U IP IP`.
fn vpn_session(id: u32, text: &str, event: &mut Event) {
    let Some((group, user, ip, rest)) = group_user_ip(text) else {
        return;
    };
    match id {
        113039 => {
            set_logon(event, Activity::Logon, Status::Success, LogonKind::Vpn);
            set_action(event, "vpn_connected");
            put(event, "asa.session_type", "AnyConnect-Parent");
        }
        716001 => {
            set_logon(event, Activity::Logon, Status::Success, LogonKind::Vpn);
            set_action(event, "vpn_connected");
            put(event, "asa.session_type", "WebVPN");
        }
        716002 => {
            set_logon(event, Activity::Logoff, Status::Success, LogonKind::Vpn);
            set_action(event, "vpn_disconnected");
            put(event, "asa.session_type", "WebVPN");
            if let Some(reason) = rest.split_once(": ").map(|(_, r)| r.trim_end_matches('.')) {
                put(event, "asa.reason", reason);
            }
        }
        722051 => address_assigned(rest, event),
        // `Stale SVC connection closed.`, `SVC closing connection: DPD failure.`: the
        // tunnel ends without naming its protocol.
        722028 | 722037 => {
            set_network(event, Activity::Close, Status::Success);
            set_action(event, "vpn_tunnel_terminated");
            if let Some(reason) = rest.split_once(": ").map(|(_, r)| r.trim_end_matches('.')) {
                put(event, "asa.reason", reason);
            }
        }
        _ => tunnel(id == 722022, rest, event),
    }
    put(event, "asa.group", group);
    set_visible_user(event, user);
    scan::set_host_or_ip(&mut event.src, ip);
}

/// 722051 `... IPv4 Address <a> IPv6 address <b> assigned to session`.
fn address_assigned(rest: &str, event: &mut Event) {
    set_network(event, Activity::AddressAssigned, Status::Success);
    set_action(event, "vpn_address_assigned");
    if let Some((v4, after)) = labelled(rest, "IPv4 Address") {
        if let Some(ip) = scan::ip(v4) {
            put(event, "vpn.assigned_ip", &ip.to_string());
        }
        // `::` means no IPv6 address was assigned.
        if let Some(ip) = labelled(after, "IPv6 address")
            .and_then(|(v6, _)| scan::ip(v6))
            .filter(|ip| !ip.is_unspecified())
        {
            put(event, "vpn.assigned_ipv6", &ip.to_string());
        }
    }
}

/// 722022 / 722023 `... TCP|UDP SVC connection established|terminated with|without compression`:
/// the SSL (TCP) and DTLS (UDP) tunnels of an AnyConnect session.
fn tunnel(established: bool, rest: &str, event: &mut Event) {
    let (activity, action) = if established {
        (Activity::Open, "vpn_tunnel_established")
    } else {
        (Activity::Close, "vpn_tunnel_terminated")
    };
    set_network(event, activity, Status::Success);
    set_action(event, action);
    if let Some(protocol) = rest.split_whitespace().next() {
        put(event, "network.protocol", &protocol.to_ascii_lowercase());
    }
}

/// A network logon to the ASA itself, succeeded or failed, with the action for each.
fn set_management_logon(event: &mut Event, success: bool, (ok, failed): (&str, &str)) {
    let status = if success {
        Status::Success
    } else {
        Status::Failure
    };
    set_logon(event, Activity::Logon, status, LogonKind::Network);
    set_action(event, if success { ok } else { failed });
}

/// 611101 `User authentication succeeded: IP address: IP, Uname: U` and 611102 `... failed`:
/// a logon to the ASA itself (SSH, Telnet, ASDM).
fn admin_logon(success: bool, text: &str, event: &mut Event) {
    set_management_logon(
        event,
        success,
        ("asa_admin_auth_success", "asa_admin_auth_failed"),
    );
    if let Some(user) = text.split("Uname: ").nth(1) {
        set_visible_user(event, user.split([',', ' ']).next().unwrap_or(""));
    }
    if let Some((ip, _)) = scan::find_ip_port(text) {
        event.src.ip = Some(ip);
    }
}

/// 605004 `Login denied from A/P to IF:B/service for user "U"` and 605005 `Login permitted
/// ...`: a management session (SSH, Telnet, HTTPS/ASDM, serial) to the ASA itself.
fn management_login(success: bool, text: &str, event: &mut Event) {
    set_management_logon(
        event,
        success,
        ("asa_admin_login_permitted", "asa_admin_login_denied"),
    );
    let words: Vec<&str> = text.split_whitespace().collect();
    if let Some(from) = after(&words, "from") {
        let (ip, port) = from.rsplit_once('/').unwrap_or((from, ""));
        if let Some(ip) = scan::ip(ip) {
            event.src.ip = Some(ip);
            event.src.port = port.parse().ok();
        }
    }
    if let Some((interface, to)) = after(&words, "to").and_then(|to| to.split_once(':')) {
        let (ip, service) = to.rsplit_once('/').unwrap_or((to, ""));
        event.dst.ip = scan::ip(ip);
        put(event, "asa.dst_interface", interface);
        if let Some(service) = scan::non_empty(service) {
            put(event, "asa.service", service);
        }
    }
    if let Some(at) = scan::find_str(text, " for user ") {
        set_visible_user(event, scan::unquote(text[at + " for user ".len()..].trim()));
    }
}

/// A denied connection whose second word is its protocol (106001, 106023).
fn set_denied_flow(event: &mut Event, words: &[&str]) {
    set_network(event, Activity::Open, Status::Failure);
    set_action(event, "connection_denied");
    put(event, "network.action", "denied");
    if let Some(protocol) = words.get(1) {
        put(event, "network.protocol", &protocol.to_ascii_lowercase());
    }
}

/// 106001 `Inbound TCP connection denied from A/P to B/P flags F on interface IF`.
fn inbound_denied(text: &str, event: &mut Event) {
    let words: Vec<&str> = text.split_whitespace().collect();
    set_denied_flow(event, &words);
    for (marker, endpoint) in [("from", &mut event.src), ("to", &mut event.dst)] {
        if let Some((ip, port)) = after(&words, marker).and_then(|t| t.rsplit_once('/')) {
            endpoint.ip = scan::ip(ip);
            endpoint.port = port.parse().ok();
        }
    }
    if let Some(interface) = after(&words, "interface") {
        put(event, "asa.src_interface", interface);
    }
}

fn set_network(event: &mut Event, activity: Activity, status: Status) {
    event.class = EventClass::NetworkActivity;
    event.activity = activity;
    event.status = status;
}

/// `interface:address/port` → (interface, address, port). An identity-firewall user after the
/// port (`outside:10.1.1.1/1234(LOCAL\alice)`) is not part of the socket.
fn socket(token: &str) -> Option<(&str, std::net::IpAddr, Option<u16>)> {
    let token = token.split_once('(').map_or(token, |(socket, _)| socket);
    let (interface, rest) = token.split_once(':')?;
    let (ip, port) = match rest.rsplit_once('/') {
        Some((ip, port)) => (ip, port.parse().ok()),
        None => (rest, None),
    };
    Some((interface, scan::ip(ip)?, port))
}

/// The word after the first `marker` word of `words`.
fn after<'a>(words: &[&'a str], marker: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| *w == marker)?;
    words.get(at + 1).copied()
}

/// Sets one side of a connection from an `interface:address/port` token.
fn set_side(event: &mut Event, source: bool, token: Option<&str>) {
    let Some((interface, ip, port)) = token.and_then(socket) else {
        return;
    };
    let (endpoint, name) = if source {
        (&mut event.src, "asa.src_interface")
    } else {
        (&mut event.dst, "asa.dst_interface")
    };
    endpoint.ip = Some(ip);
    endpoint.port = port;
    put(event, name, interface);
    // The identity firewall's user of the source address: `(LOCAL\alice)`, `(ACME\bob)`.
    if let Some(identity) = token
        .and_then(|t| t.split_once('('))
        .and_then(|(_, id)| id.strip_suffix(')'))
        .filter(|_| source)
    {
        put(event, "asa.src_user", identity);
        if event.actor.user.is_none() {
            let (domain, user) = identity.split_once('\\').unwrap_or(("", identity));
            set_visible_user(event, user);
            if let Some(domain) = scan::non_empty(domain) {
                event.actor.domain = Some(domain.to_string());
            }
        }
    }
}

/// 302013 / 302015 `Built inbound|outbound TCP|UDP connection ID for IF:A/P (mapped) to
/// IF:B/P (mapped)`. ASA names the outside host first: in an inbound connection that is the
/// initiator, in an outbound one the responder, so outbound sides are swapped.
fn connection_built(text: &str, event: &mut Event) {
    let words: Vec<&str> = text.split_whitespace().collect();
    set_network(event, Activity::Open, Status::Success);
    set_action(event, "connection_built");
    put(event, "network.action", "allowed");
    let outbound = words.get(1) == Some(&"outbound");
    if let Some(direction) = words.get(1) {
        put(event, "asa.direction", direction);
    }
    connection_common(&words, event);
    let (first, second) = (after(&words, "for"), after(&words, "to"));
    set_side(event, !outbound, first);
    set_side(event, outbound, second);
    // The identity firewall writes the user after the mapped address:
    // `to inside:10.1.1.1/1234 (203.0.113.5/1234)(LOCAL\alice)`; the initiator's is the actor.
    let initiator = if outbound { "to" } else { "for" };
    if event.actor.user.is_none()
        && let Some(identity) = words
            .iter()
            .position(|w| *w == initiator)
            .and_then(|at| words.get(at + 2))
            .and_then(|mapped| mapped.split_once(")("))
            .and_then(|(_, identity)| identity.strip_suffix(')'))
    {
        put(event, "asa.src_user", identity);
        let (domain, user) = identity.split_once('\\').unwrap_or(("", identity));
        set_visible_user(event, user);
        event.actor.domain = scan::non_empty(domain).map(str::to_string);
    }
}

/// 302014 / 302016 `Teardown TCP|UDP connection ID for IF:A/P to IF:B/P duration D bytes N
/// [reason]`. The message does not say who initiated: sides are taken in message order.
fn connection_teardown(text: &str, event: &mut Event) {
    let words: Vec<&str> = text.split_whitespace().collect();
    set_network(event, Activity::Close, Status::Success);
    set_action(event, "connection_teardown");
    connection_common(&words, event);
    set_side(event, true, after(&words, "for"));
    set_side(event, false, after(&words, "to"));
    if let Some(duration) = after(&words, "duration") {
        put(event, "asa.duration", duration);
    }
    if let Some(bytes) = after(&words, "bytes").filter(|b| b.parse::<u64>().is_ok()) {
        put(event, "network.bytes", bytes);
    }
    if let Some(at) = words.iter().position(|w| *w == "bytes") {
        let reason = words.get(at + 2..).unwrap_or_default().join(" ");
        if let Some(reason) = scan::non_empty(&reason) {
            put(event, "asa.reason", reason);
        }
    }
}

/// The protocol and connection id shared by 302013–302016 (`Built inbound TCP connection 7`,
/// `Teardown UDP connection 7`).
fn connection_common(words: &[&str], event: &mut Event) {
    if let Some(at) = words.iter().position(|w| *w == "connection") {
        if let Some(protocol) = at.checked_sub(1).and_then(|i| words.get(i)) {
            put(event, "network.protocol", &protocol.to_ascii_lowercase());
        }
        if let Some(id) = words.get(at + 1) {
            put(event, "asa.connection_id", id);
        }
    }
}

/// 106023 `Deny PROTO src IF:A/P dst IF:B/P by access-group "ACL" [...]`.
fn connection_denied(text: &str, event: &mut Event) {
    let words: Vec<&str> = text.split_whitespace().collect();
    set_denied_flow(event, &words);
    set_side(event, true, after(&words, "src"));
    set_side(event, false, after(&words, "dst"));
    if let Some(acl) = after(&words, "access-group") {
        put(event, "asa.acl", scan::unquote(acl));
    }
}

fn put(event: &mut Event, name: &str, value: &str) {
    event.fields.insert(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_line(line: &str) -> Event {
        crate::decode_syslog(line, &crate::DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn management_logins_accounting_and_identity_users() {
        let e = decode_line(
            r#"<166>Nov 27 2026 03:17:00 asa01 : %ASA-6-605004: Login denied from 203.0.113.45/52000 to outside:192.0.2.1/ssh for user "admin""#,
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::Authentication, Status::Failure)
        );
        assert_eq!(e.actor.user.as_deref(), Some("admin"));
        assert_eq!(
            (e.src.ip, e.src.port),
            ("203.0.113.45".parse().ok(), Some(52000))
        );
        assert_eq!(&e.fields["asa.service"], "ssh");
        let e = decode_line(
            "<166>Nov 27 2026 03:17:08 asa01 : %ASA-6-113004: AAA user accounting Successful : server = 10.10.1.21 : User = alice",
        );
        assert_eq!(e.class, EventClass::Base, "accounting is not a logon");
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        let e = decode_line(
            r#"<164>Nov 27 2026 03:17:20 asa01 : %ASA-4-106023: Deny tcp src outside:203.0.113.46/40112(LOCAL\mallory) dst inside:10.20.1.10/3389(LOCAL\svc-rdp) by access-group "outside_in" [0x0, 0x0]"#,
        );
        assert_eq!((e.src.port, e.dst.port), (Some(40112), Some(3389)));
        assert_eq!(
            (e.actor.user.as_deref(), e.actor.domain.as_deref()),
            (Some("mallory"), Some("LOCAL"))
        );
        let e = decode_line(
            "<165>Nov 27 2026 03:17:05 asa01 : %ASA-5-722028: Group <GP-Corp> User <alice> IP <198.51.100.23> Stale SVC connection closed.",
        );
        assert_eq!(
            (e.class, e.activity),
            (EventClass::NetworkActivity, Activity::Close)
        );
        let e = decode_line(
            r"<166>Nov 27 2026 03:17:17 asa01 : %ASA-6-302013: Built outbound TCP connection 5002 for outside:192.0.2.80/443 (192.0.2.80/443) to inside:10.20.4.17/51301 (203.0.113.5/51301)(ACME\alice)",
        );
        assert_eq!(e.src.ip, "10.20.4.17".parse().ok());
        assert_eq!(
            (e.actor.user.as_deref(), e.actor.domain.as_deref()),
            (Some("alice"), Some("ACME"))
        );
    }

    #[test]
    fn tags() {
        assert_eq!(
            tag("%ASA-6-113019:"),
            Some(Tag {
                level: 6,
                id: 113019
            })
        );
        assert_eq!(
            tag("%FTD-4-722051"),
            Some(Tag {
                level: 4,
                id: 722051
            })
        );
        assert_eq!(
            tag("%ASA-auth-6-113015:"),
            Some(Tag {
                level: 6,
                id: 113015
            })
        );
        assert_eq!(tag("%ASA-6-11301"), None);
        assert_eq!(tag("%ASA-x-113019"), None);
        assert_eq!(tag("ASA-6-113019"), None);
        assert_eq!(
            split("%ASA-6-113019: text here").map(|(_, t)| t),
            Some("text here")
        );
    }

    #[test]
    fn labelled_values() {
        assert_eq!(
            group_user_ip("Group <GP Corp> User <dana> IP <203.0.113.24> WebVPN session started."),
            Some(("GP Corp", "dana", "203.0.113.24", "WebVPN session started."))
        );
        assert_eq!(
            group_user_ip("Group GP User dana IP 203.0.113.24 TCP SVC connection established"),
            Some((
                "GP",
                "dana",
                "203.0.113.24",
                "TCP SVC connection established"
            ))
        );
        assert_eq!(group_user_ip("User dana"), None);
    }

    #[test]
    fn sockets() {
        let (interface, ip, port) = socket("outside:2001:db8::7/443").unwrap();
        assert_eq!(
            (interface, ip.to_string(), port),
            ("outside", "2001:db8::7".into(), Some(443))
        );
        assert!(socket("outside").is_none());
    }
}
