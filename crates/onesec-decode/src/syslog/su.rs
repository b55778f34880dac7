//! `su` (and `runuser`) messages, in the two wordings found on Linux:
//!
//! * util-linux: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`
//!   (`FAILED RUNUSER ...` for runuser);
//! * shadow-utils: `Successful su for root by alice`, `FAILED su for root by alice`, and the
//!   sulog lines `+ pts/0 alice:root` / `- pts/0 alice:root`.
//!
//! The acting user is the one who ran su (as for sudo); the account switched to is
//! `su.target_user`. PAM lines logged under the `su` program go to the PAM decoder.

use super::{pam, set_action, set_logon, set_source, set_user};
use onesec_event::{Activity, Event, LogonKind, Status};

/// Decodes one message of program `su`/`runuser`.
pub(super) fn decode(program: &str, text: &str, event: &mut Event) {
    if pam::decode_prefixed(text, event) {
        return;
    }
    set_source(event, "linux", crate::name_lowercase(program));
    let Some(switch) = util_linux(text)
        .or_else(|| shadow(text))
        .or_else(|| sulog(text))
        .or_else(|| sulog_without_minus(text, &event.raw))
    else {
        return;
    };
    let status = if switch.success {
        Status::Success
    } else {
        Status::Failure
    };
    set_logon(event, Activity::Logon, status, LogonKind::Other);
    set_action(
        event,
        if switch.success {
            "su_success"
        } else {
            "su_failed"
        },
    );
    set_user(event, switch.by);
    event.fields.insert("su.target_user", switch.target);
    if let Some(tty) = switch.tty {
        event.fields.insert("tty", tty);
    }
}

/// One user switch as logged.
struct Switch<'a> {
    success: bool,
    target: &'a str,
    by: &'a str,
    tty: Option<&'a str>,
}

/// `[FAILED SU |FAILED RUNUSER ](to TARGET) BY on TTY`.
fn util_linux(text: &str) -> Option<Switch<'_>> {
    let (success, rest) = match text
        .strip_prefix("FAILED SU ")
        .or_else(|| text.strip_prefix("FAILED RUNUSER "))
    {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let (target, rest) = rest.strip_prefix("(to ")?.split_once(") ")?;
    let (by, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
    Some(Switch {
        success,
        target: target.trim(),
        by: by.trim(),
        tty: Some(tty.trim()).filter(|t| !t.is_empty()),
    })
}

/// `Successful su for TARGET by BY` / `FAILED su for TARGET by BY`.
fn shadow(text: &str) -> Option<Switch<'_>> {
    let (success, rest) = match text.strip_prefix("Successful su for ") {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix("FAILED su for ")?),
    };
    let (target, by) = rest.split_once(" by ")?;
    Some(Switch {
        success,
        target: target.trim(),
        by: by.trim(),
        tty: None,
    })
}

/// `+ TTY BY:TARGET` / `- TTY BY:TARGET`.
fn sulog(text: &str) -> Option<Switch<'_>> {
    let (sign, rest) = text.split_once(' ')?;
    let success = match sign {
        "+" => true,
        "-" => false,
        _ => return None,
    };
    sulog_rest(success, rest)
}

/// The header parser reads the `-` of `su[1]: - pts/0 alice:root` as an RFC 5424 nil value
/// and drops it; the raw line still shows it.
fn sulog_without_minus<'a>(text: &'a str, raw: &str) -> Option<Switch<'a>> {
    if raw.trim_end().ends_with(&format!(": - {text}")) {
        sulog_rest(false, text)
    } else {
        None
    }
}

/// `TTY BY:TARGET`.
fn sulog_rest(success: bool, text: &str) -> Option<Switch<'_>> {
    let mut words = text.split_whitespace();
    let tty = words.next()?;
    let (by, target) = words.next()?.split_once(':')?;
    if words.next().is_some() {
        return None;
    }
    Some(Switch {
        success,
        target,
        by,
        tty: Some(tty),
    })
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{EventClass, LogonKind, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn all_wordings() {
        for (line, status, action) in [
            (
                "Mar 10 09:00:01 srv su[4242]: (to root) alice on pts/0",
                Status::Success,
                "su_success",
            ),
            (
                "Mar 10 09:00:01 srv su[4242]: FAILED SU (to root) alice on pts/0",
                Status::Failure,
                "su_failed",
            ),
            (
                "Mar 10 09:00:01 srv su[4242]: Successful su for root by alice",
                Status::Success,
                "su_success",
            ),
            (
                "Mar 10 09:00:01 srv su[4242]: FAILED su for root by alice",
                Status::Failure,
                "su_failed",
            ),
            (
                "Mar 10 09:00:01 srv su[4242]: - pts/0 alice:root",
                Status::Failure,
                "su_failed",
            ),
        ] {
            let e = decode(line);
            assert_eq!(
                (e.class, e.status),
                (EventClass::Authentication, status),
                "{line}"
            );
            assert_eq!(&e.fields["action"], action, "{line}");
            assert_eq!(e.actor.user.as_deref(), Some("alice"), "{line}");
            assert_eq!(&e.fields["su.target_user"], "root", "{line}");
            assert_eq!(e.logon, Some(LogonKind::Other));
            assert_eq!(e.source.service, "su");
        }
        let e = decode("Mar 10 09:00:01 srv su[4242]: + pts/0 alice:root");
        assert_eq!(&e.fields["tty"], "pts/0");
        // PAM lines of su still go to the PAM decoder.
        let e = decode(
            "Mar 10 09:00:01 srv su[4242]: pam_unix(su-l:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root",
        );
        assert_eq!(&e.fields["action"], "pam_auth_failure");
        assert_eq!(e.source.service, "su-l");
        // Anything else stays a base event of service su.
        let e = decode("Mar 10 09:00:01 srv su[4242]: some other text");
        assert_eq!((e.class, &*e.source.service), (EventClass::Base, "su"));
    }
}
