//! `login` (util-linux / shadow) messages: console logins and failures.

use super::{pam, set_action, set_logon, set_source, set_user};
use crate::scan;
use onesec_event::{Activity, Event, LogonKind, Status};

/// Decodes one `login` message.
pub(super) fn decode(text: &str, event: &mut Event) {
    set_source(event, "linux", "login".into());
    if pam::decode_prefixed(text, event) {
        return;
    }
    decode_by_content(text, event);
}

/// Decodes a `login` message whatever program sent it; false when the text is not one.
pub(super) fn decode_by_content(text: &str, event: &mut Event) -> bool {
    if let Some(rest) = text.strip_prefix("ROOT LOGIN ON ") {
        success(event, "root", rest);
    } else if let Some(rest) = text
        .strip_prefix("ROOT LOGIN ")
        .and_then(|rest| rest.trim_start().strip_prefix("on "))
    {
        // shadow-utils: `ROOT LOGIN  on '/dev/tty1'` (or `... from 'host'` after the tty).
        success(event, "root", &rest.replacen(" from ", " FROM ", 1));
    } else if let Some(rest) = text.strip_prefix("LOGIN ON ") {
        let user = rest.split_once(" BY ").map_or("", |(_, user)| user);
        let user = user.split(" FROM ").next().unwrap_or(user);
        success(event, user, rest);
    } else if let Some(rest) = text.strip_prefix("FAILED LOGIN ") {
        failure(event, rest, "console_login_failed");
    } else if let Some(rest) = text.strip_prefix("TOO MANY LOGIN TRIES ") {
        failure(event, rest, "console_login_too_many_tries");
    } else {
        return false;
    }
    event.source.product = "linux".into();
    event.source.service = "login".into();
    true
}

fn success(event: &mut Event, user: &str, rest: &str) {
    let tty = scan::unquote(rest.split_ascii_whitespace().next().unwrap_or(""));
    let from = from_host(rest);
    let kind = if from.is_some() {
        LogonKind::Network
    } else {
        LogonKind::Console
    };
    set_logon(event, Activity::Logon, Status::Success, kind);
    set_action(event, "console_login");
    set_user(event, user);
    event.fields.insert("tty", tty);
    if let Some(from) = from {
        scan::set_host_or_ip(&mut event.src, from);
    }
}

/// `(1) ON tty1 FOR alice, Authentication failure` or `1 FROM (null) FOR root, ...`.
fn failure(event: &mut Event, rest: &str, action: &str) {
    let from = from_host(rest);
    let kind = if from.is_some() {
        LogonKind::Network
    } else {
        LogonKind::Console
    };
    set_logon(event, Activity::Logon, Status::Failure, kind);
    set_action(event, action);
    if let Some(tty) = scan::word_after(rest, " ON ") {
        event.fields.insert("tty", scan::unquote(tty));
    }
    if let Some(from) = from {
        scan::set_host_or_ip(&mut event.src, from);
    }
    if let Some((_, who)) = rest.split_once(" FOR ") {
        let (user, reason) = who.split_once(", ").unwrap_or((who, ""));
        set_user(event, scan::unquote(user));
        if let Some(reason) = scan::non_empty(reason) {
            event.fields.insert("login.reason", reason);
        }
    }
}

/// The host after ` FROM `, unless `(null)`.
fn from_host(text: &str) -> Option<&str> {
    scan::word_after(text, "FROM ")
        .map(scan::unquote)
        .and_then(scan::non_empty)
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{LogonKind, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn shadow_root_login() {
        let e = decode("<86>Nov 27 03:12:06 web01 login[801]: ROOT LOGIN  on '/dev/tty1'");
        assert_eq!(
            (e.status, e.logon),
            (Status::Success, Some(LogonKind::Console))
        );
        assert_eq!(e.actor.user.as_deref(), Some("root"));
        assert_eq!(&e.fields["tty"], "/dev/tty1");
    }

    #[test]
    fn root_console_login() {
        let e = decode("<37>Mar 10 21:53:40 srv-par-db1 login[1822]: ROOT LOGIN ON tty1");
        assert_eq!(e.status, Status::Success);
        assert_eq!(e.logon, Some(LogonKind::Console));
        assert_eq!(e.actor.user.as_deref(), Some("root"));
        assert_eq!(&e.fields["tty"], "tty1");
        assert_eq!(&e.fields["action"], "console_login");
        assert_eq!(e.dst.hostname.as_deref(), Some("srv-par-db1"));
    }

    #[test]
    fn user_login_and_failures() {
        let e = decode("Mar 10 21:53:40 h login[1]: LOGIN ON tty2 BY alice");
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert_eq!(&e.fields["tty"], "tty2");
        let e = decode(
            "Mar 10 21:53:40 h login[1]: FAILED LOGIN (1) ON tty1 FOR alice, Authentication failure",
        );
        assert_eq!(
            (e.status, e.logon),
            (Status::Failure, Some(LogonKind::Console))
        );
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert_eq!(&e.fields["action"], "console_login_failed");
        assert_eq!(&e.fields["login.reason"], "Authentication failure");
        let e = decode(
            "Mar 10 21:53:40 h login[1]: FAILED LOGIN 1 FROM (null) FOR root, Authentication failure",
        );
        assert_eq!(e.logon, Some(LogonKind::Console));
        assert_eq!(e.actor.user.as_deref(), Some("root"));
    }

    #[test]
    fn legacy_dash_dash_program() {
        let e = decode("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2");
        assert_eq!(&e.fields["action"], "console_login");
        assert_eq!(e.source.service, "login");
        assert_eq!(e.host.as_deref(), Some("combo"));
    }
}
