//! The alert as the rest of onesec stores and shows it.

use onesec_event::{Domain, Event, EventId, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Whether an alert still stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The rule's condition holds.
    Active,
    /// Late-arriving evidence contradicted it (e.g. a badge-out inside the gap).
    Withdrawn,
}

/// The people, places and things an alert is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    /// Person ids.
    pub persons: BTreeSet<String>,
    /// Site ids.
    pub sites: BTreeSet<String>,
    /// Zone ids.
    pub zones: BTreeSet<String>,
    /// Device ids from the inventory.
    pub devices: BTreeSet<String>,
    /// Host names as reported (when not in the inventory).
    pub hosts: BTreeSet<String>,
    /// Portals (doors).
    pub portals: BTreeSet<String>,
    /// Accounts.
    pub accounts: BTreeSet<String>,
    /// Badges / credentials.
    pub badges: BTreeSet<String>,
    /// Source addresses.
    pub src_ips: BTreeSet<String>,
}

impl Entities {
    /// Collects the entities named by an event.
    pub fn add_event(&mut self, event: &Event) {
        let r = &event.resolved;
        insert(&mut self.persons, r.person.as_ref().map(|p| &p.id));
        insert(&mut self.sites, r.site.as_ref());
        insert(&mut self.zones, r.zone.as_ref());
        insert(&mut self.devices, r.device_id.as_ref());
        if r.device_id.is_none() {
            insert(&mut self.hosts, event.host.as_ref());
        }
        insert(
            &mut self.portals,
            event.physical.portal.as_ref().or(r.portal.as_ref()),
        );
        insert(&mut self.accounts, event.actor.user.as_ref());
        insert(&mut self.badges, event.actor.badge.as_ref());
        if let Some(ip) = event.src.ip {
            self.src_ips.insert(ip.to_string());
        }
    }

    /// Everything the given entities name, each value once.
    ///
    /// An incident's entities are the union over its active alerts, recomputed whenever one
    /// joins: each value is copied once, not once per alert naming it (the alerts of a large
    /// incident mostly name the same host, site and people): the union is built over borrowed
    /// strings and only its distinct values are copied.
    pub fn union<'a>(all: impl Iterator<Item = &'a Entities> + Clone) -> Entities {
        Entities {
            persons: union_of(all.clone().map(|e| &e.persons)),
            sites: union_of(all.clone().map(|e| &e.sites)),
            zones: union_of(all.clone().map(|e| &e.zones)),
            devices: union_of(all.clone().map(|e| &e.devices)),
            hosts: union_of(all.clone().map(|e| &e.hosts)),
            portals: union_of(all.clone().map(|e| &e.portals)),
            accounts: union_of(all.clone().map(|e| &e.accounts)),
            badges: union_of(all.clone().map(|e| &e.badges)),
            src_ips: union_of(all.map(|e| &e.src_ips)),
        }
    }

    /// Adds every entity of `other`.
    pub fn extend(&mut self, other: &Entities) {
        self.persons.extend(other.persons.iter().cloned());
        self.sites.extend(other.sites.iter().cloned());
        self.zones.extend(other.zones.iter().cloned());
        self.devices.extend(other.devices.iter().cloned());
        self.hosts.extend(other.hosts.iter().cloned());
        self.portals.extend(other.portals.iter().cloned());
        self.accounts.extend(other.accounts.iter().cloned());
        self.badges.extend(other.badges.iter().cloned());
        self.src_ips.extend(other.src_ips.iter().cloned());
    }
}

fn union_of<'a>(sets: impl Iterator<Item = &'a BTreeSet<String>>) -> BTreeSet<String> {
    // Borrowed first: a value many alerts name is compared, not copied, again.
    let mut distinct: BTreeSet<&str> = BTreeSet::new();
    for value in sets.flatten() {
        distinct.insert(value);
    }
    distinct.into_iter().map(str::to_owned).collect()
}

fn insert(set: &mut BTreeSet<String>, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        set.insert(v.clone());
    }
}

/// A rule fired: the events that made it, what they are about, how bad it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id (rule + group + first event), stable across journal replays.
    pub id: String,
    /// Id of the rule that fired.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Rule description.
    #[serde(default)]
    pub description: String,
    /// Rule author (kept for attribution, as the Detection Rule License asks).
    #[serde(default)]
    pub author: String,
    /// Rule tags (ATT&CK, onesec.*).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Severity from the rule's level.
    pub severity: Severity,
    /// Physical, cyber or hybrid, from the rule's log sources and events.
    pub domain: Domain,
    /// Active or withdrawn.
    pub status: AlertStatus,
    /// Correlation group (field → value), empty for single-event rules.
    #[serde(default)]
    pub group: Vec<(String, String)>,
    /// The events that made it, in event-time order.
    pub event_ids: Vec<EventId>,
    /// Event time of the first event.
    pub first_ms: i64,
    /// Event time of the last event.
    pub last_ms: i64,
    /// What it is about.
    pub entities: Entities,
    /// Incident it belongs to, once grouped.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Flood control: when this alert repeats an earlier alert of an open incident (same
    /// rule, same people, devices, doors and places), that alert's id. A repeat is counted on
    /// the alert it repeats instead of being grouped again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_of: Option<String>,
    /// Flood control: how many later alerts repeated this one.
    #[serde(default)]
    pub repeats: u64,
    /// Event time of the last repeat's last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_repeat_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::Entities;

    fn named(persons: &[&str], hosts: &[&str], src_ips: &[&str]) -> Entities {
        let set = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
        Entities {
            persons: set(persons),
            hosts: set(hosts),
            src_ips: set(src_ips),
            ..Entities::default()
        }
    }

    #[test]
    fn the_union_is_what_extending_one_by_one_gives() {
        let all = [
            named(&["p-2", "p-1"], &["gw"], &[]),
            named(&["p-1"], &["gw", "db"], &["203.0.113.9"]),
            Entities::default(),
            named(&["p-3"], &[], &["203.0.113.9", "198.51.100.1"]),
        ];
        let mut extended = Entities::default();
        for entities in &all {
            extended.extend(entities);
        }
        let union = Entities::union(all.iter());
        assert_eq!(union, extended);
        assert_eq!(union.persons.len(), 3);
        assert_eq!(union.src_ips.len(), 2);
        assert_eq!(Entities::union(std::iter::empty()), Entities::default());
    }
}
