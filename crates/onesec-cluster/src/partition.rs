//! Which virtual partitions an event goes to, and which rules run on which copy.
//!
//! A partition is a pure function of a key and the cluster's fixed partition count: the same
//! key always lands in the same partition, whatever the number of workers, so adding or
//! removing a worker moves whole partitions and never rehashes a key.
//!
//! Rules are routed by the key their correlation needs ([`Route`]). An event has one key per
//! route: its *primary* key (resolved person, else site) and its *site* key (site, else the
//! no-site bucket). It is published once to each partition those keys name (once when both
//! name the same partition, [`copies`]); a worker runs a copy only through the rules of the
//! routes the copy carries. So every rule sees every event it needs, once: single-event rules
//! and correlations grouped by `person.id` on the primary copy, every other correlation
//! (grouped by site, zone, portal, host...) on the site copy.

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

/// The partition an event's primary copy is published to.
pub fn partition_of_event(event: &Event, partitions: u16) -> u16 {
    partition_of(&correlation_key(event), partitions)
}

/// The key an event's site copy is routed by: its resolved site, else the no-site bucket
/// (`site:`), where every event without a site meets.
pub fn site_key(event: &Event) -> String {
    format!("site:{}", event.resolved.site.as_deref().unwrap_or(""))
}

/// Which copy of an event a rule runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// The copy in the partition of the event's person (else site): single-event rules, and
    /// correlations grouped by `person.id`.
    Primary,
    /// The copy in the partition of the event's site: every other correlation. The fields
    /// such correlations group by (site, zone, portal, door, host) belong to one site, so all
    /// the events of one group meet in that site's partition.
    Site,
}

/// Field a correlation groups by to be routed by person.
pub const PERSON_FIELD: &str = "person.id";

impl Route {
    /// The route of an alert: the engine reports each correlation alert with its group-by
    /// fields, which say which key its events share.
    pub fn of(alert: &onesec_sigma::Alert) -> Route {
        let by_person = alert.group.iter().any(|(field, _)| field == PERSON_FIELD);
        match alert.kind {
            onesec_sigma::AlertKind::Single => Route::Primary,
            onesec_sigma::AlertKind::Correlation(_) if by_person => Route::Primary,
            onesec_sigma::AlertKind::Correlation(_) => Route::Site,
        }
    }
}

/// The routes one message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The primary copy (its stream sequence is the event id).
    pub primary: bool,
    /// The site copy.
    pub site: bool,
}

impl Roles {
    /// Both routes: the event's keys land in one partition.
    pub const BOTH: Roles = Roles {
        primary: true,
        site: true,
    };
    /// The primary copy only.
    pub const PRIMARY: Roles = Roles {
        primary: true,
        site: false,
    };
    /// The site copy only.
    pub const SITE: Roles = Roles {
        primary: false,
        site: true,
    };

    /// Whether the message runs through the rules of `route`.
    pub fn carries(self, route: Route) -> bool {
        match route {
            Route::Primary => self.primary,
            Route::Site => self.site,
        }
    }

    /// The header value (`primary`, `site` or `primary,site`).
    pub fn as_header(self) -> &'static str {
        match (self.primary, self.site) {
            (true, true) => "primary,site",
            (false, true) => "site",
            _ => "primary",
        }
    }

    /// Reads a header value; `None` when it names no known route.
    pub fn parse(text: &str) -> Option<Roles> {
        let mut roles = Roles {
            primary: false,
            site: false,
        };
        for part in text.split(',') {
            match part.trim() {
                "primary" => roles.primary = true,
                "site" => roles.site = true,
                _ => return None,
            }
        }
        (roles.primary || roles.site).then_some(roles)
    }
}

/// Where an event is published: `(partition, roles)` for each message, the primary one first.
/// One message when both keys land in the same partition, else two.
pub fn copies(event: &Event, partitions: u16) -> Vec<(u16, Roles)> {
    let primary = partition_of_event(event, partitions);
    let site = partition_of(&site_key(event), partitions);
    if primary == site {
        vec![(primary, Roles::BOTH)]
    } else {
        vec![(primary, Roles::PRIMARY), (site, Roles::SITE)]
    }
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
    fn an_event_with_a_person_also_goes_to_its_site_partition() {
        let mut event = Event::new(0, EventClass::Authentication, Activity::Logon);
        event.resolved.site = Some("LYO".into());
        // No person: one message, both routes.
        assert_eq!(
            copies(&event, 64),
            [(partition_of("site:LYO", 64), Roles::BOTH)]
        );
        event.resolved.person = Some(PersonRef {
            id: "p005".into(),
            name: "Eva".into(),
            status: "active".into(),
            department: String::new(),
            home_site: "LYO".into(),
        });
        let person = partition_of("person:p005", 64);
        let site = partition_of("site:LYO", 64);
        assert_ne!(
            person, site,
            "pinned: these two keys differ on 64 partitions"
        );
        assert_eq!(
            copies(&event, 64),
            [(person, Roles::PRIMARY), (site, Roles::SITE)]
        );
        // One partition: one message carrying both routes.
        assert_eq!(copies(&event, 1), [(0, Roles::BOTH)]);
        // No site: the site copy goes to the no-site bucket.
        event.resolved.site = None;
        assert_eq!(site_key(&event), "site:");
    }

    #[test]
    fn roles_round_trip_through_their_header() {
        for roles in [Roles::BOTH, Roles::PRIMARY, Roles::SITE] {
            assert_eq!(Roles::parse(roles.as_header()), Some(roles));
        }
        assert_eq!(Roles::parse("site, primary"), Some(Roles::BOTH));
        assert_eq!(Roles::parse(""), None);
        assert_eq!(Roles::parse("person"), None);
        assert!(Roles::SITE.carries(Route::Site) && !Roles::SITE.carries(Route::Primary));
    }

    #[test]
    fn correlations_by_person_run_on_the_primary_copy_the_rest_on_the_site_copy() {
        let alert = |kind, group: &[&str]| onesec_sigma::Alert {
            id: "a".into(),
            rule_id: "r".into(),
            rule_name: None,
            title: "t".into(),
            level: onesec_sigma::Level::Medium,
            tags: Vec::new(),
            description: None,
            author: None,
            group: group.iter().map(|g| (g.to_string(), "v".into())).collect(),
            event_ids: vec![1],
            first_time_ms: 0,
            last_time_ms: 0,
            logsources: Vec::new(),
            kind,
        };
        let temporal =
            onesec_sigma::AlertKind::Correlation(onesec_sigma::CorrelationType::Temporal);
        assert_eq!(
            Route::of(&alert(onesec_sigma::AlertKind::Single, &[])),
            Route::Primary
        );
        assert_eq!(
            Route::of(&alert(temporal, &["person.id", "site"])),
            Route::Primary
        );
        assert_eq!(Route::of(&alert(temporal, &["portal"])), Route::Site);
        assert_eq!(Route::of(&alert(temporal, &["site"])), Route::Site);
        assert_eq!(Route::of(&alert(temporal, &[])), Route::Site);
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
