//! PAM messages, in both forms: `pam_<module>(<service>:<type>): <text>` inside any program's
//! message (`pam_unix`, and the other modules that word their results the same way:
//! `pam_sss`, `pam_ldap`, `pam_winbind`, ...), and the legacy program name
//! `<service>(pam_unix)`.

use super::{set_action, set_logon, set_user};
use crate::scan;
use onesec_event::{Activity, Event, LogonKind, Status};

/// Decodes `pam_<module>(<service>:<type>): <text>`; false when `text` is not of that form.
pub(super) fn decode_prefixed(text: &str, event: &mut Event) -> bool {
    // Most texts are not PAM's: no search for the parenthesis through them.
    if !text.starts_with("pam_") {
        return false;
    }
    let Some((module, rest)) = text.split_once('(') else {
        return false;
    };
    let is_module = module.len() > "pam_".len()
        && module.starts_with("pam_")
        && module
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !is_module {
        return false;
    }
    let Some((head, body)) = rest.split_once("):") else {
        return false;
    };
    let service = head.split(':').next().unwrap_or(head);
    event.fields.insert("pam.module", module);
    decode(service, body.trim(), event);
    if module == "pam_faillock" {
        faillock(body.trim(), event);
    } else if module == "pam_sss" {
        sss(body.trim(), event);
    }
    true
}

/// `unix_chkpwd` (pam_unix's helper): `password check failed for user (alice)`, a refused
/// password of a screen locker or other unprivileged PAM client.
pub(super) fn unix_chkpwd(text: &str, event: &mut Event) {
    event.source.product = "linux".into();
    event.source.service = "unix_chkpwd".into();
    let Some(user) = text
        .strip_prefix("password check failed for user (")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return;
    };
    set_logon(event, Activity::Logon, Status::Failure, LogonKind::Other);
    set_action(event, "pam_password_check_failed");
    set_user(event, user);
}

/// `pam_faillock`: `Consecutive login failures for user X account temporarily locked`.
fn faillock(text: &str, event: &mut Event) {
    let Some(rest) = text.strip_prefix("Consecutive login failures for user ") else {
        return;
    };
    event.class = onesec_event::EventClass::Authentication;
    event.activity = Activity::Other;
    event.status = Status::Failure;
    set_action(event, "pam_account_locked");
    set_user(event, rest.split_whitespace().next().unwrap_or(""));
}

/// `pam_sss`: `received for user X: 7 (Authentication failure)`, SSSD's word for a refused
/// password.
fn sss(text: &str, event: &mut Event) {
    let Some((user, result)) = text
        .strip_prefix("received for user ")
        .and_then(|rest| rest.split_once(':'))
    else {
        return;
    };
    if result.contains("(Authentication failure)") {
        let kind = logon_kind(&event.source.service);
        set_logon(event, Activity::Logon, Status::Failure, kind);
        set_action(event, "pam_auth_failure");
        set_user(event, user);
    }
}

/// Decodes the text of a PAM message for PAM service `service`.
pub(super) fn decode(service: &str, text: &str, event: &mut Event) {
    let service = service.trim();
    event.source.product = "linux".into();
    event.source.service = crate::name_lowercase(service);
    let kind = logon_kind(service);
    if let Some(rest) = text.strip_prefix("authentication failure;") {
        set_logon(event, Activity::Logon, Status::Failure, kind);
        set_action(event, "pam_auth_failure");
        for (key, value) in scan::kv_pairs(rest) {
            match key {
                "user" => set_user(event, value),
                "rhost" => scan::set_host_or_ip(&mut event.src, value),
                "tty" | "ruser" | "logname" => {
                    event.fields.insert(&format!("pam.{key}"), value);
                }
                _ => {}
            }
        }
    } else if text.starts_with("check pass; user unknown") {
        set_action(event, "pam_user_unknown");
    } else if let Some(rest) = text.strip_prefix("session opened for user ") {
        set_logon(event, Activity::Logon, Status::Success, kind);
        set_action(event, "session_opened");
        let (user, by) = rest.split_once(" by ").unwrap_or((rest, ""));
        set_user(event, strip_uid(user));
        if let Some(by) = scan::non_empty(strip_uid(by)) {
            event.fields.insert("pam.by", by);
        }
    } else if let Some(rest) = text.strip_prefix("session closed for user ") {
        set_logon(event, Activity::Logoff, Status::Success, kind);
        set_action(event, "session_closed");
        set_user(event, strip_uid(rest));
    }
}

/// `alice(uid=1001)` gives `alice`.
fn strip_uid(text: &str) -> &str {
    let text = text.trim();
    match text.find('(') {
        Some(i) => &text[..i],
        None => text,
    }
}

/// How a logon through this PAM service happened.
fn logon_kind(service: &str) -> LogonKind {
    match service {
        "sshd" => LogonKind::Network,
        "login" | "gdm" | "gdm-password" | "gdm-autologin" | "lightdm" | "sddm" | "xdm" | "kdm" => {
            LogonKind::Console
        }
        _ => LogonKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{Activity, EventClass, LogonKind, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn unix_chkpwd_refusal() {
        let e = decode(
            "<86>Nov 27 03:12:12 web01 unix_chkpwd[1501]: password check failed for user (alice)",
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::Authentication, Status::Failure)
        );
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert_eq!(&e.fields["action"], "pam_password_check_failed");
        assert_eq!(e.source.service, "unix_chkpwd");
    }

    #[test]
    fn legacy_program_form() {
        let e = decode(
            "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
        );
        assert_eq!(
            (e.class, e.status),
            (EventClass::Authentication, Status::Failure)
        );
        assert_eq!(&e.fields["action"], "pam_auth_failure");
        assert_eq!(e.actor.user.as_deref(), Some("root"));
        assert_eq!(
            e.src.hostname.as_deref(),
            Some("220-135-151-1.hinet-ip.hinet.net")
        );
        assert_eq!(e.source.service, "sshd");
        assert_eq!(e.logon, Some(LogonKind::Network));
    }

    #[test]
    fn session_opened_in_message_form() {
        let e = decode(
            "<86>1 2026-03-10T10:12:05Z srv-par-db1 sshd 4122 - - pam_unix(sshd:session): session opened for user alice(uid=1001) by (uid=0)",
        );
        assert_eq!((e.activity, e.status), (Activity::Logon, Status::Success));
        assert_eq!(&e.fields["action"], "session_opened");
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert!(!e.fields.contains_key("pam.by"));
        let e = decode(
            "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
        );
        assert_eq!(e.logon, Some(LogonKind::Other));
        assert_eq!(e.source.service, "su");
        let e = decode("Jun 15 04:06:19 combo su(pam_unix)[21416]: session closed for user cyrus");
        assert_eq!(e.activity, Activity::Logoff);
    }
}
