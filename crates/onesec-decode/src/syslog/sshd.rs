//! OpenSSH `sshd` messages.

use super::{pam, set_action, set_logon, set_source, set_user};
use crate::scan;
use onesec_event::{Activity, Event, LogonKind, Status};

/// Decodes one `sshd` message.
pub(super) fn decode(text: &str, event: &mut Event) {
    set_source(event, "linux", "sshd".into());
    if pam::decode_prefixed(text, event) {
        return;
    }
    if let Some(rest) = text.strip_prefix("Failed ")
        && auth_attempt(rest, event, false)
    {
        return;
    }
    if let Some(rest) = text.strip_prefix("Accepted ")
        && auth_attempt(rest, event, true)
    {
        return;
    }
    if let Some(rest) = text
        .strip_prefix("Invalid user ")
        .or_else(|| text.strip_prefix("Illegal user "))
    {
        invalid_user(rest, event);
        return;
    }
    if let Some(rest) = text.strip_prefix("User ")
        && let Some(at) = scan::find_str(rest, " not allowed because ")
    {
        not_allowed(&rest[..at], event);
        return;
    }
    let text = text.strip_prefix("error: ").unwrap_or(text);
    if let Some(rest) = text.strip_prefix("PAM: Authentication failure for ") {
        // sshd's own PAM report (`for [illegal user ]<user> from <host>`): a failed logon.
        let who = rest.strip_prefix("illegal user ");
        invalid_user(who.unwrap_or(rest), event);
        if who.is_none() {
            event.fields.remove("ssh.invalid_user");
        }
        set_action(event, "ssh_pam_auth_failure");
        return;
    }
    let action = if let Some(rest) = text.strip_prefix("Connection closed by ") {
        closing_user(rest, event);
        Some("ssh_connection_closed")
    } else if let Some(rest) = text.strip_prefix("Connection reset by ") {
        closing_user(rest, event);
        Some("ssh_connection_reset")
    } else if text.starts_with("Received disconnect from ") {
        Some("ssh_disconnect")
    } else if let Some(rest) = text.strip_prefix("Disconnected from ") {
        closing_user(rest, event);
        Some("ssh_disconnect")
    } else if text.starts_with("Timeout before authentication for ")
        || text.starts_with("fatal: Timeout before authentication for ")
    {
        Some("ssh_auth_timeout")
    } else if text.starts_with("Did not receive identification string from ") {
        Some("ssh_no_identification")
    } else if let Some(rest) = text.strip_prefix("reverse mapping checking getaddrinfo for ") {
        if let Some(host) = rest.split_ascii_whitespace().next() {
            event.src.hostname = Some(host.to_string());
        }
        Some("ssh_reverse_mapping_failed")
    } else if text.starts_with("Disconnecting") && text.contains("Too many authentication failures")
    {
        if let Some(user) = scan::word_after(text, "authentication failures for ") {
            set_user(event, user);
        } else if let Some(rest) = text.strip_prefix("Disconnecting ") {
            // OpenSSH 7.5+: `Disconnecting authenticating user root 1.2.3.4 port 22: Too many...`.
            closing_user(rest, event);
        }
        Some("ssh_too_many_failures")
    } else if let Some(rest) = text.strip_prefix("maximum authentication attempts exceeded for ") {
        let (invalid, rest) = match rest.strip_prefix("invalid user ") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        if let Some(from) = scan::rfind_str(rest, " from ") {
            set_user(event, &rest[..from]);
        }
        if invalid {
            event.fields.insert("ssh.invalid_user", "true");
        }
        Some("ssh_max_auth_exceeded")
    } else if let Some(rest) = text.strip_prefix("input_userauth_request: invalid user ") {
        set_user(event, rest.trim_end_matches("[preauth]").trim());
        Some("ssh_userauth_invalid_user")
    } else if text.starts_with("PAM ") && text.contains("more authentication failure") {
        if let Some(count) = text[4..].split_ascii_whitespace().next() {
            event.fields.insert("pam.count", count);
        }
        if let Some(user) = scan::kv(text, "user") {
            set_user(event, user);
        }
        if let Some(rhost) = scan::kv(text, "rhost") {
            scan::set_host_or_ip(&mut event.src, rhost);
        }
        Some("pam_more_auth_failures")
    } else if text.starts_with("Connection from ") {
        Some("ssh_connection")
    } else {
        None
    };
    if let Some(action) = action {
        set_action(event, action);
    }
    if event.src.ip.is_none()
        && let Some((ip, port)) = scan::find_ip_port(text)
    {
        event.src.ip = Some(ip);
        event.src.port = port;
    }
}

/// `<method> for [invalid user ]<user> from <ip> port <n> ssh2[: <key type> <fingerprint>]`.
fn auth_attempt(rest: &str, event: &mut Event, accepted: bool) -> bool {
    // (`scan`'s searches: `str`'s set up a two-way searcher per call.)
    let Some((method, rest)) =
        scan::find_str(rest, " for ").map(|at| (&rest[..at], &rest[at + " for ".len()..]))
    else {
        return false;
    };
    let Some(from) = scan::rfind_str(rest, " from ") else {
        return false;
    };
    let (who, address) = (&rest[..from], &rest[from + " from ".len()..]);
    let mut tokens = address.split_ascii_whitespace();
    let Some(ip) = tokens.next().and_then(scan::ip) else {
        return false;
    };
    let port = match tokens.next() {
        Some("port") => tokens.next().and_then(scan::leading_port),
        _ => None,
    };
    let (invalid, user) = match who
        .strip_prefix("invalid user ")
        .or_else(|| who.strip_prefix("illegal user "))
    {
        Some(user) => (true, user),
        None => (false, who),
    };
    let status = if accepted {
        Status::Success
    } else {
        Status::Failure
    };
    set_logon(event, Activity::Logon, status, LogonKind::Network);
    set_user(event, user);
    event.src.ip = Some(ip);
    event.src.port = port;
    event.fields.insert("ssh.method", method);
    if invalid {
        event.fields.insert("ssh.invalid_user", "true");
    }
    if let Some(key) = scan::find_str(address, "ssh2: ").map(|at| &address[at + "ssh2: ".len()..]) {
        let mut parts = key.split_ascii_whitespace();
        if let (Some(kind), Some(fingerprint)) = (parts.next(), parts.next()) {
            event.fields.insert("ssh.key_type", kind);
            event.fields.insert("ssh.key_fingerprint", fingerprint);
        }
    }
    let action = match (accepted, method) {
        (true, _) => "ssh_accepted",
        (false, "password") => "ssh_failed_password",
        (false, "publickey") => "ssh_failed_publickey",
        (false, "none") => "ssh_failed_none",
        (false, m) if m.starts_with("keyboard-interactive") => "ssh_failed_keyboard_interactive",
        (false, _) => "ssh_failed_auth",
    };
    set_action(event, action);
    true
}

/// `Invalid user <user> from <ip>[ port <n>]`.
fn invalid_user(rest: &str, event: &mut Event) {
    set_logon(event, Activity::Logon, Status::Failure, LogonKind::Network);
    set_action(event, "ssh_invalid_user");
    event.fields.insert("ssh.invalid_user", "true");
    let (user, address) = match scan::rfind_str(rest, " from ") {
        Some(from) => (&rest[..from], &rest[from + " from ".len()..]),
        None => (rest, ""),
    };
    set_user(event, user);
    let mut tokens = address.split_ascii_whitespace();
    if let Some(token) = tokens.next() {
        scan::set_host_or_ip(&mut event.src, token);
    }
    if let (Some("port"), Some(port)) = (tokens.next(), tokens.next()) {
        event.src.port = scan::leading_port(port);
    }
}

/// `[authenticating |invalid ]user <name> <ip> port <n>...`: the account OpenSSH 7.5 and later
/// name in their pre-authentication close, reset and disconnect lines (`Connection closed by
/// invalid user admin 1.2.3.4 port 22 [preauth]`); the address itself is found by the caller.
fn closing_user(rest: &str, event: &mut Event) {
    let (invalid, rest) = if let Some(rest) = rest.strip_prefix("invalid user ") {
        (true, rest)
    } else if let Some(rest) = rest
        .strip_prefix("authenticating user ")
        .or_else(|| rest.strip_prefix("user "))
    {
        (false, rest)
    } else {
        return;
    };
    // The user name may hold spaces: it ends before the last `<ip> port`.
    let Some(port) = scan::rfind_str(rest, " port ") else {
        return;
    };
    let Some((user, ip)) = rest[..port].rsplit_once(' ') else {
        return;
    };
    if scan::ip(ip).is_none() {
        return;
    }
    set_user(event, user);
    if invalid {
        event.fields.insert("ssh.invalid_user", "true");
    }
}

/// `User <name> from <host> not allowed because <reason>`: sshd's `AllowUsers` / `DenyUsers` /
/// `AllowGroups` / locked-account refusal, a failed logon before any password is asked.
fn not_allowed(who: &str, event: &mut Event) {
    invalid_user(who, event);
    event.fields.remove("ssh.invalid_user");
    set_action(event, "ssh_user_not_allowed");
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{Activity, EventClass, LogonKind, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn failed_password_for_invalid_user() {
        let e = decode(
            "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
        );
        assert_eq!(
            (e.class, e.activity, e.status),
            (EventClass::Authentication, Activity::Logon, Status::Failure)
        );
        assert_eq!(e.actor.user.as_deref(), Some("webmaster"));
        assert_eq!(e.src.ip, "173.234.31.186".parse().ok());
        assert_eq!(e.src.port, Some(38926));
        assert_eq!(e.logon, Some(LogonKind::Network));
        assert_eq!(e.dst.hostname.as_deref(), Some("LabSZ"));
        assert_eq!(&e.fields["ssh.invalid_user"], "true");
        assert_eq!(e.source.product, "linux");
        assert_eq!(e.source.service, "sshd");
    }

    #[test]
    fn accepted_publickey_keeps_the_key() {
        let e = decode(
            "<86>1 2026-03-10T10:12:05Z srv-par-db1 sshd 4122 - - Accepted publickey for alice from 10.10.20.44 port 52144 ssh2: ED25519 SHA256:Qm9v",
        );
        assert_eq!(e.status, Status::Success);
        assert_eq!(&e.fields["action"], "ssh_accepted");
        assert_eq!(&e.fields["ssh.method"], "publickey");
        assert_eq!(&e.fields["ssh.key_type"], "ED25519");
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
    }

    #[test]
    fn user_names_containing_from_are_cut_at_the_last_from() {
        let e = decode(
            "Dec 10 06:55:48 h sshd[1]: Failed password for invalid user a from b from 1.2.3.4 port 22 ssh2",
        );
        assert_eq!(e.actor.user.as_deref(), Some("a from b"));
        assert_eq!(e.src.ip, "1.2.3.4".parse().ok());
    }

    #[test]
    fn base_lines_keep_their_address() {
        let e = decode(
            "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
        );
        assert_eq!(e.class, EventClass::Base);
        assert_eq!(&e.fields["action"], "ssh_reverse_mapping_failed");
        assert_eq!(e.src.ip, "173.234.31.186".parse().ok());
        assert_eq!(e.src.hostname.as_deref(), Some("ns.example.com"));
        let e = decode(
            "Dec 10 06:55:46 LabSZ sshd[24200]: Received disconnect from 1.2.3.4: 11: Bye Bye [preauth]",
        );
        assert_eq!(&e.fields["action"], "ssh_disconnect");
        assert_eq!(e.src.ip, "1.2.3.4".parse().ok());
        let e =
            decode("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin from 5.6.7.8 port 4444");
        assert_eq!(&e.fields["action"], "ssh_invalid_user");
        assert_eq!(e.src.port, Some(4444));
    }

    #[test]
    fn openssh_7_5_names_the_user_of_closes_and_refusals() {
        let e = decode(
            "Nov 27 03:10:02 h sshd[1]: Connection closed by invalid user admin 203.0.113.45 port 52620 [preauth]",
        );
        assert_eq!(&e.fields["action"], "ssh_connection_closed");
        assert_eq!(e.actor.user.as_deref(), Some("admin"));
        assert_eq!(&e.fields["ssh.invalid_user"], "true");
        assert_eq!(e.src.port, Some(52620));
        let e = decode(
            "Nov 27 03:10:22 h sshd[1]: Disconnecting authenticating user root 203.0.113.45 port 52740: Too many authentication failures [preauth]",
        );
        assert_eq!(&e.fields["action"], "ssh_too_many_failures");
        assert_eq!(e.actor.user.as_deref(), Some("root"));
        let e = decode(
            "Nov 27 03:10:09 h sshd[1]: error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.45 port 52651 ssh2 [preauth]",
        );
        assert_eq!(e.actor.user.as_deref(), Some("admin"));
        let e = decode(
            "Nov 27 03:10:24 h sshd[1]: User root from 203.0.113.45 not allowed because not listed in AllowUsers",
        );
        assert_eq!(
            (e.class, e.status, &e.fields["action"]),
            (
                EventClass::Authentication,
                Status::Failure,
                "ssh_user_not_allowed"
            )
        );
        assert_eq!(e.actor.user.as_deref(), Some("root"));
        assert!(!e.fields.contains_key("ssh.invalid_user"));
        let e = decode(
            "Nov 27 03:10:32 h sshd[1]: error: PAM: Authentication failure for illegal user admin from 203.0.113.45",
        );
        assert_eq!(
            (e.status, &e.fields["ssh.invalid_user"]),
            (Status::Failure, "true")
        );
        assert_eq!(e.src.ip, "203.0.113.45".parse().ok());
    }
}
