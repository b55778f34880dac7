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

/// User + system CPU seconds of a process (0 when unreadable).
pub fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / clock_ticks(),
        _ => 0.0,
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds of the local nats-server, when one runs on this machine.
pub fn nats_server_cpu() -> Option<f64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "nats-server" {
            return Some(process_cpu(pid));
        }
    }
    None
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// User + system CPU seconds of this process.
#[allow(dead_code)] // used by cluster_bench; the module is compiled into each example
pub fn own_cpu() -> f64 {
    process_cpu(std::process::id())
}
