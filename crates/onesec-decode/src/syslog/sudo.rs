//! `sudo` messages: `alice : [problem ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=...`.

use super::{pam, set_action, set_source, set_user};
use onesec_event::{Activity, Event, EventClass, Status};

/// Decodes one `sudo` message.
pub(super) fn decode(text: &str, event: &mut Event) {
    set_source(event, "linux", "sudo".into());
    if pam::decode_prefixed(text, event) {
        event.source.service = "sudo".into();
        return;
    }
    let Some((user, rest)) = text.split_once(" : ") else {
        return;
    };
    let (head, command) = match rest.find("COMMAND=") {
        Some(i) => (&rest[..i], Some(rest[i + "COMMAND=".len()..].trim())),
        None => (rest, None),
    };
    let mut problem = None;
    let mut saw_key = false;
    for part in head.split(" ; ").map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((key, value)) => {
                saw_key = true;
                let name = match key {
                    "TTY" => "sudo.tty",
                    "PWD" => "sudo.pwd",
                    "USER" => "sudo.target_user",
                    "GROUP" => "sudo.target_group",
                    "ENV" => "sudo.env",
                    _ => continue,
                };
                event
                    .fields
                    .insert(name, value.trim_end_matches(';').trim());
            }
            None if problem.is_none() => problem = Some(part.trim_end_matches(';').trim()),
            None => {}
        }
    }
    if !saw_key && command.is_none() {
        return;
    }
    set_user(event, user);
    event.class = EventClass::ProcessActivity;
    event.activity = Activity::Launch;
    if let Some(command) = command {
        event.fields.insert("sudo.command", command);
    }
    match problem {
        None => {
            event.status = Status::Success;
            set_action(event, "sudo_command");
        }
        Some(problem) => {
            event.status = Status::Failure;
            event.fields.insert("sudo.error", problem);
            if let Some(count) = problem.strip_suffix(" incorrect password attempts") {
                event.fields.insert("sudo.attempts", count.trim());
            }
            let action = if problem.contains("password") {
                "sudo_auth_failure"
            } else {
                "sudo_not_allowed"
            };
            set_action(event, action);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{Activity, EventClass, Status};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn command() {
        let e = decode(
            "<85>Mar 10 10:14:31 srv-par-db1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart postgresql",
        );
        assert_eq!(
            (e.class, e.activity, e.status),
            (
                EventClass::ProcessActivity,
                Activity::Launch,
                Status::Success
            )
        );
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert_eq!(&e.fields["sudo.target_user"], "root");
        assert_eq!(
            &e.fields["sudo.command"],
            "/usr/bin/systemctl restart postgresql"
        );
        assert_eq!(&e.fields["sudo.tty"], "pts/0");
        assert_eq!(&e.fields["action"], "sudo_command");
    }

    #[test]
    fn failures() {
        let e = decode(
            "Mar 10 10:14:31 h sudo: bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls ; x",
        );
        assert_eq!(e.status, Status::Failure);
        assert_eq!(&e.fields["action"], "sudo_auth_failure");
        assert_eq!(&e.fields["sudo.attempts"], "3");
        assert_eq!(&e.fields["sudo.command"], "/bin/ls ; x");
        let e = decode(
            "Mar 10 10:14:31 h sudo: bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        );
        assert_eq!(&e.fields["action"], "sudo_not_allowed");
        let e = decode(
            "Mar 10 10:14:31 h sudo: pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=bob",
        );
        assert_eq!(&e.fields["action"], "pam_auth_failure");
        assert_eq!(e.source.service, "sudo");
    }
}
