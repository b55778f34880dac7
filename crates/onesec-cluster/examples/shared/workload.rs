//! The cluster benchmarks' workload (shared by `cluster_bench` and `cluster_scale`).

use onesec_event::{Activity, Event, EventClass, PersonRef, Status};

/// Logons and badge grants of 2,000 resolved people at 4 sites over a day starting `offset_ms`
/// after 2026-03-10 00:00 UTC.
pub fn people_at_sites(n: usize, offset_ms: i64) -> Vec<Event> {
    let day = 1_773_100_800_000i64 + offset_ms;
    (0..n)
        .map(|i| {
            let badge = i % 3 == 0;
            let (class, activity) = if badge {
                (EventClass::PhysicalAccess, Activity::AccessGranted)
            } else {
                (EventClass::Authentication, Activity::Logon)
            };
            let mut event = Event::new(
                day + (i as i64) * 86_400_000 / n.max(1) as i64,
                class,
                activity,
            );
            event.status = if i % 17 == 0 {
                Status::Failure
            } else {
                Status::Success
            };
            let person = i % 2000;
            event.actor.user = Some(format!("user{person}"));
            event.resolved.person = Some(PersonRef {
                id: format!("p{person}"),
                name: format!("Person {person}"),
                status: "active".into(),
                department: String::new(),
                home_site: format!("S{}", person % 4),
            });
            event.resolved.site = Some(format!("S{}", person % 4));
            event.raw = format!("bench event {i} user{person}");
            event
        })
        .collect()
}
