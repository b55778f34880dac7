//! OpenVPN server messages: client connections, address assignment, authentication failures,
//! disconnections. Most lines start with the peer as `IP:PORT` or `user/IP:PORT`.

use super::{set_action, set_logon, set_source, set_user};
use crate::scan;
use onesec_event::{Activity, Event, EventClass, LogonKind, Status};
use std::net::IpAddr;

/// Decodes one OpenVPN message.
pub(super) fn decode(text: &str, event: &mut Event) {
    set_source(event, "openvpn", "openvpn".into());
    let (peer, rest) = match text.split_once(' ') {
        Some((first, rest)) => match peer(first) {
            Some(peer) => (Some(peer), rest.trim_start()),
            None => (None, text),
        },
        None => (None, text),
    };
    let mut user = peer.and_then(|p| p.user).map(str::to_string);
    if let Some(peer) = peer {
        event.src.ip = Some(peer.ip);
        event.src.port = peer.port;
    }
    // `[common name] Peer Connection Initiated with ...`
    if let Some(cn) = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(cn, _)| cn)
        && user.is_none()
    {
        user = scan::non_empty(cn).map(str::to_string);
    }
    if rest.contains("Peer Connection Initiated") {
        set_logon(event, Activity::Logon, Status::Success, LogonKind::Vpn);
        set_action(event, "vpn_connected");
    } else if let Some(pool) = rest.find("pool returned ") {
        event.class = EventClass::NetworkActivity;
        event.activity = Activity::AddressAssigned;
        event.status = Status::Success;
        set_action(event, "vpn_address_assigned");
        let pool = &rest[pool..];
        for (key, name) in [("IPv4", "vpn.assigned_ip"), ("IPv6", "vpn.assigned_ipv6")] {
            if let Some(value) = scan::kv(pool, key).and_then(scan::ip) {
                event.fields.insert_display(name, &value);
            }
        }
    } else if is_auth_failure(rest) {
        set_logon(event, Activity::Logon, Status::Failure, LogonKind::Vpn);
        set_action(event, "vpn_auth_failed");
        if user.is_none() {
            user = quoted_user(rest).map(str::to_string);
        }
    } else if let Some(verify) = rest.strip_prefix("VERIFY ERROR: ") {
        // A client certificate refused (expired, revoked, unknown CA): the peer's common name
        // is the account that failed.
        set_logon(event, Activity::Logon, Status::Failure, LogonKind::Vpn);
        set_action(event, "vpn_cert_verify_failed");
        if user.is_none() {
            user = scan::find_str(verify, "CN=").map(|at| {
                let cn = &verify[at + "CN=".len()..];
                cn.split([',', ' ', '/']).next().unwrap_or(cn).to_string()
            });
        }
    } else if let Some(at) = scan::find_str(rest, "authentication succeeded for username '") {
        set_action(event, "vpn_auth_succeeded");
        if user.is_none() {
            let name = &rest[at + "authentication succeeded for username '".len()..];
            user = name.split('\'').next().map(str::to_string);
        }
    } else if rest.contains("client-instance exiting")
        || rest.contains("client-instance restarting")
        || rest.contains("Connection reset, restarting")
        || (rest.starts_with("SIGTERM") && peer.is_some())
        || rest.contains("Inactivity timeout")
    {
        if peer.is_some() || user.is_some() {
            set_action(event, "vpn_disconnected");
        }
        if user.is_some() {
            set_logon(event, Activity::Logoff, Status::Success, LogonKind::Vpn);
        }
    }
    if let Some(user) = user {
        set_user(event, &user);
    }
}

/// Whether `text` (a line of OpenVPN's own `--log` file, after its time stamp) is OpenVPN's:
/// it starts with a peer, or with a message only OpenVPN writes.
pub(super) fn looks_like(text: &str) -> bool {
    const OWN: &[&str] = &[
        "OpenVPN ",
        "MULTI",
        "TLS",
        "AUTH-PAM",
        "PLUGIN",
        "Initialization Sequence Completed",
        "UDPv4",
        "UDPv6",
        "TCPv4",
        "TCPv6",
        "SIGTERM",
        "SIGUSR1",
        "Peer Connection Initiated",
        "VERIFY",
    ];
    let first = text.split(' ').next().unwrap_or("");
    peer(first).is_some_and(|p| p.port.is_some()) || OWN.iter().any(|own| text.starts_with(own))
}

/// A peer token: `IP:PORT`, `user/IP:PORT` or `[AF_INET]IP:PORT`.
#[derive(Clone, Copy)]
struct Peer<'a> {
    user: Option<&'a str>,
    ip: IpAddr,
    port: Option<u16>,
}

fn peer(token: &str) -> Option<Peer<'_>> {
    let (user, address) = match token.rsplit_once('/') {
        Some((user, address)) => (scan::non_empty(user), address),
        None => (None, token),
    };
    let address = address
        .trim_start_matches("[AF_INET6]")
        .trim_start_matches("[AF_INET]");
    if let Some(ip) = scan::ip(address) {
        return Some(Peer {
            user,
            ip,
            port: None,
        });
    }
    let (ip, port) = address.rsplit_once(':')?;
    Some(Peer {
        user,
        ip: scan::ip(ip)?,
        port: port.parse().ok(),
    })
}

fn is_auth_failure(text: &str) -> bool {
    text.contains("AUTH_FAILED")
        || text.contains("TLS Auth Error")
        || text.contains("Authenticate/Decrypt packet error")
        || text.contains("Auth Username/Password verification failed")
        || text.contains("PLUGIN_AUTH_USER_PASS_VERIFY failed")
        || text.contains("(--auth-user-pass-verify): external program exited with error")
        || (text.contains("user '")
            && (text.contains("authentication failed") || text.contains("failed to authenticate")))
}

/// `user 'alice'` / `username 'alice'` in a failure message.
fn quoted_user(text: &str) -> Option<&str> {
    let start = text.find("user '")? + "user '".len();
    let end = text[start..].find('\'')?;
    scan::non_empty(&text[start..start + end])
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{Activity, EventClass, LogonKind, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn connection_and_address() {
        let e = decode(
            "<86>1 2026-03-10T13:12:30Z vpn-par openvpn 911 - - 198.51.100.23:51820 [bkeller] Peer Connection Initiated with [AF_INET]198.51.100.23:51820",
        );
        assert_eq!(
            (e.class, e.activity, e.status),
            (EventClass::Authentication, Activity::Logon, Status::Success)
        );
        assert_eq!(e.logon, Some(LogonKind::Vpn));
        assert_eq!(e.actor.user.as_deref(), Some("bkeller"));
        assert_eq!(e.src.ip, "198.51.100.23".parse().ok());
        assert_eq!(e.src.port, Some(51820));
        assert_eq!(e.dst.hostname.as_deref(), Some("vpn-par"));
        assert_eq!(
            (&*e.source.product, &e.fields["action"]),
            ("openvpn", "vpn_connected")
        );
        let e = decode(
            "<86>1 2026-03-10T13:12:30Z vpn-par openvpn 911 - - bkeller/198.51.100.23:51820 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)",
        );
        assert_eq!(
            (e.class, e.activity),
            (EventClass::NetworkActivity, Activity::AddressAssigned)
        );
        assert_eq!(&e.fields["vpn.assigned_ip"], "10.8.0.6");
        assert!(!e.fields.contains_key("vpn.assigned_ipv6"));
        assert_eq!(e.actor.user.as_deref(), Some("bkeller"));
    }

    #[test]
    fn failures() {
        for (line, user) in [
            (
                "Mar 10 13:00:00 vpn openvpn[911]: 1.2.3.4:5555 TLS Auth Error: Auth Username/Password verification failed for peer",
                None,
            ),
            (
                "Mar 10 13:00:00 vpn openvpn[911]: eve/1.2.3.4:5555 SENT CONTROL [eve]: 'AUTH_FAILED' (status=1)",
                Some("eve"),
            ),
            (
                "Mar 10 13:00:00 vpn openvpn[911]: 1.2.3.4:5555 Authenticate/Decrypt packet error: packet HMAC authentication failed",
                None,
            ),
            (
                "Mar 10 13:00:00 vpn openvpn[911]: AUTH-PAM: BACKGROUND: user 'mallory' failed to authenticate: Authentication failure",
                Some("mallory"),
            ),
            (
                "Mar 10 13:00:00 vpn openvpn[911]: 1.2.3.4:5555 user 'x' authentication failed",
                Some("x"),
            ),
        ] {
            let e = decode(line);
            assert_eq!(
                (e.status, e.logon),
                (Status::Failure, Some(LogonKind::Vpn)),
                "{line}"
            );
            assert_eq!(&e.fields["action"], "vpn_auth_failed");
            assert_eq!(e.actor.user.as_deref(), user, "{line}");
        }
    }

    #[test]
    fn disconnections() {
        let e = decode(
            "Mar 10 18:00:00 vpn openvpn[911]: bkeller/198.51.100.23:51820 SIGTERM[soft,remote-exit] received, client-instance exiting",
        );
        assert_eq!(
            (e.class, e.activity),
            (EventClass::Authentication, Activity::Logoff)
        );
        assert_eq!(&e.fields["action"], "vpn_disconnected");
        let e = decode(
            "Mar 10 18:00:00 vpn openvpn[911]: 198.51.100.23:51820 Connection reset, restarting [0]",
        );
        assert_eq!(e.class, EventClass::Base);
        assert_eq!(&e.fields["action"], "vpn_disconnected");
        let e =
            decode("Mar 10 18:00:00 vpn openvpn[911]: SIGTERM[hard,] received, process exiting");
        assert!(!e.fields.contains_key("action"));
    }

    #[test]
    fn refused_certificates_and_plugin_failures_are_failed_logons() {
        let e = decode(
            "Nov 27 03:14:07 vpn01 openvpn[900]: 203.0.113.45:40001 VERIFY ERROR: depth=0, error=certificate has expired: CN=mallory, serial=4096",
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::Authentication, Status::Failure)
        );
        assert_eq!(e.actor.user.as_deref(), Some("mallory"));
        let e = decode(
            "Nov 27 03:14:16 vpn01 openvpn[900]: 203.0.113.47:40004 PLUGIN_CALL: plugin function PLUGIN_AUTH_USER_PASS_VERIFY failed with status 1: /usr/lib/openvpn/openvpn-plugin-auth-pam.so",
        );
        assert_eq!((e.activity, e.status), (Activity::Logon, Status::Failure));
        assert_eq!(e.logon, Some(LogonKind::Vpn));
        let e = decode(
            "Nov 27 03:14:11 vpn01 openvpn[900]: 198.51.100.25:51822 TLS: Username/Password authentication succeeded for username 'carol'",
        );
        assert_eq!(e.actor.user.as_deref(), Some("carol"));
        assert_eq!(
            e.class,
            EventClass::Base,
            "the session starts at Peer Connection Initiated"
        );
    }

    #[test]
    fn own_log_file_lines() {
        let e = decode(
            "Fri Nov 27 03:14:18 2026 erin/198.51.100.27:51824 MULTI_sva: pool returned IPv4=10.8.0.10, IPv6=(Not enabled)",
        );
        assert_eq!(e.activity, Activity::AddressAssigned);
        assert_eq!(e.actor.user.as_deref(), Some("erin"));
        assert_eq!(e.time_ms, 1_795_749_258_000);
        let e = decode("2026-11-27 03:14:07 Initialization Sequence Completed");
        assert_eq!(e.source.product, "openvpn");
        let other = crate::decode_syslog(
            "2026-11-27 03:14:08 INFO some other program",
            &DecodeContext::new("test", 0),
        );
        assert!(
            other.is_err(),
            "only OpenVPN's lines are read without a header"
        );
    }
}
