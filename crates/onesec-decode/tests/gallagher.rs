//! Gallagher Command Centre REST events (`tests/data/gallagher-*.json*`, laid out as the
//! vendor's published `EventSummary`): what happened, who, which door and zone, how urgent;
//! a whole page and single lines; bad records say what, where and why.

mod common;

use common::{ACME_RECEIVED_MS, ctx, local_bytes};
use onesec_decode::{Format, decode_bytes};
use onesec_event::{Activity, Direction, EventClass, Severity, Status};

#[test]
fn a_command_centre_page_gives_one_event_per_entry() {
    let bytes = local_bytes("gallagher-page.json");
    for format in [Format::Gallagher, Format::Auto] {
        let out = decode_bytes(&format, &bytes, &ctx(ACME_RECEIVED_MS));
        assert!(out.errors.is_empty(), "{format}: {:#?}", out.errors);
        let e = &out.events;
        assert_eq!(e.len(), 6, "{format}");
        let activities: Vec<Activity> = e.iter().map(|e| e.activity).collect();
        assert_eq!(
            activities,
            [
                Activity::AccessGranted,
                Activity::AccessDenied,
                Activity::PortalForced,
                Activity::PortalHeldOpen,
                Activity::AccessGranted,
                Activity::DeviceAuthFailed
            ],
            "{format}"
        );

        let granted = &e[0];
        assert_eq!(granted.source.format, "gallagher");
        assert_eq!(granted.source.product, "gallagher_command_centre");
        assert_eq!(granted.class, EventClass::PhysicalAccess);
        assert_eq!(granted.status, Status::Success);
        assert_eq!(
            granted.time_ms,
            onesec_event::parse_time_rfc3339("2026-03-10T07:58:12Z").unwrap()
        );
        assert_eq!(granted.actor.badge.as_deref(), Some("40871"));
        assert_eq!(granted.actor.holder_name.as_deref(), Some("Moreau, Claire"));
        assert_eq!(granted.physical.portal.as_deref(), Some("Lobby east door"));
        assert_eq!(granted.physical.direction, Some(Direction::In));
        assert_eq!(&granted.fields["gallagher.entry_zone"], "Lobby");
        assert_eq!(&granted.fields["gallagher.cardholder.id"], "325");
        assert_eq!(&granted.fields["gallagher.card.facility_code"], "A1234");
        assert_eq!(&granted.fields["gallagher.event_type_id"], "20001");
        assert_eq!(granted.severity, Severity::Informational);
        // The raw record is the event's own object, not the whole page.
        assert!(granted.raw.contains("\"90001\"") && !granted.raw.contains("90002"));

        let denied = &e[1];
        assert_eq!(denied.status, Status::Failure);
        assert_eq!(denied.physical.reason.as_deref(), Some("No access"));
        assert_eq!(denied.physical.portal.as_deref(), Some("Server room door"));
        assert_eq!(&denied.fields["gallagher.alarm_state"], "unacknowledged");
        assert_eq!(&denied.fields["gallagher.exit_zone"], "Level 2 corridor");
        assert_eq!(denied.severity, Severity::Medium);

        let forced = &e[2];
        assert_eq!(forced.severity, Severity::Critical);
        assert_eq!(forced.host.as_deref(), Some("cc-lyon.example.test"));
        assert_eq!(forced.physical.portal.as_deref(), Some("Server room door"));
        assert_eq!(&forced.fields["gallagher.occurrences"], "2");
        assert!(forced.actor.badge.is_none());

        // A door named besides the source (the controller) is the portal.
        let held = &e[3];
        assert_eq!(held.physical.portal.as_deref(), Some("Loading dock"));
        assert_eq!(
            &held.fields["gallagher.source.name"],
            "Loading dock controller"
        );

        assert_eq!(e[4].physical.direction, Some(Direction::Out));

        let logon = &e[5];
        assert_eq!(logon.class, EventClass::DeviceHealth);
        assert!(logon.physical.portal.is_none());
        assert_eq!(
            &logon.fields["gallagher.details"],
            "Originating IP address: 192.0.2.44"
        );
    }
}

#[test]
fn bad_command_centre_lines_say_what_where_and_why() {
    let out = decode_bytes(
        &Format::Gallagher,
        &local_bytes("gallagher-edge.jsonl"),
        &ctx(ACME_RECEIVED_MS),
    );
    assert_eq!(out.events.len(), 1, "{:#?}", out.errors);
    let duress = &out.events[0];
    assert_eq!(duress.activity, Activity::Duress);
    assert_eq!(duress.actor.holder_name.as_deref(), Some("Lindqvist, Tor"));
    assert_eq!(duress.severity, Severity::Critical);
    let errors: Vec<(usize, &str)> = out
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert_eq!(errors[0].0, 2);
    assert!(errors[0].1.contains("not an ISO-8601 time"), "{errors:?}");
    assert_eq!(errors[1].0, 3);
    assert!(errors[1].1.contains("eventType.name"), "{errors:?}");
    assert_eq!(errors[2].0, 4);
    assert_eq!((errors[3].0, errors[4].0), (5, 5));
    assert!(errors[3].1.contains("expected a JSON object"), "{errors:?}");
    assert!(out.errors.iter().all(|e| !e.raw.is_empty()));
}
