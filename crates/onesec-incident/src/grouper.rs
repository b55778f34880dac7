//! Grouping alerts into incidents.
//!
//! An alert joins an open incident when they share a grouping key and their event times are
//! within `window_ms` of each other. The keys are the alert's people; an alert that names no
//! person is keyed by its sites, and failing that by its devices, hosts or source addresses; a
//! correlation grouped by site or zone keys by its sites as well, so it links the incidents of
//! the people and of the place it joins.
//! When an alert matches several incidents they are merged into the oldest one. An alert below
//! `open_min` severity joins an existing incident but never opens one on its own, so a door
//! held open in a lobby stays a low alert instead of becoming a case.

use crate::{Alert, AlertStatus, Entities, Incident, IncidentState, stable_hash};
use onesec_event::Severity;
use std::collections::HashMap;

/// How alerts are grouped.
#[derive(Debug, Clone)]
pub struct GrouperConfig {
    /// Maximum event-time distance between an alert and an incident it joins.
    pub window_ms: i64,
    /// Lowest severity that opens a new incident.
    pub open_min: Severity,
}

impl Default for GrouperConfig {
    fn default() -> Self {
        GrouperConfig {
            window_ms: 30 * 60 * 1000,
            open_min: Severity::Medium,
        }
    }
}

/// What grouping one alert changed.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The alert, with `incident_id` set when it joined one.
    pub alert: Option<Alert>,
    /// Every incident whose content changed (opened, updated, merged away, withdrawn).
    pub incidents: Vec<Incident>,
}

/// Where and when to look for incidents to join.
struct Probe {
    keys: Vec<String>,
    first_ms: i64,
    last_ms: i64,
    revives: bool,
}

/// Deterministic, in-memory grouping state (rebuilt by replaying the journal).
#[derive(Debug, Default)]
pub struct Grouper {
    config: GrouperConfig,
    alerts: HashMap<String, Alert>,
    incidents: HashMap<String, Incident>,
    by_key: HashMap<String, Vec<String>>,
    /// Incidents changed while applying the current alert.
    touched: Vec<String>,
}

impl Grouper {
    /// A grouper with no incidents yet.
    pub fn new(config: GrouperConfig) -> Grouper {
        Grouper {
            config,
            ..Grouper::default()
        }
    }

    /// Number of incidents known (any state).
    pub fn incident_count(&self) -> usize {
        self.incidents.len()
    }

    /// The latest version of an alert seen by the grouper.
    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// Records a person's state change so that closed incidents stop taking alerts.
    pub fn set_state(&mut self, incident_id: &str, state: IncidentState) {
        if let Some(incident) = self.incidents.get_mut(incident_id) {
            incident.state = state;
        }
    }

    /// Takes a fired, updated or withdrawn alert and regroups.
    pub fn apply(&mut self, mut alert: Alert) -> Change {
        if let Some(previous) = self.alerts.get(&alert.id) {
            alert.incident_id = previous.incident_id.clone();
        }
        let incident_id = match alert.incident_id.clone() {
            Some(id) => Some(id),
            None if alert.status == AlertStatus::Active => self.place(&alert),
            None => None,
        };
        alert.incident_id = incident_id.clone();
        self.alerts.insert(alert.id.clone(), alert.clone());
        if let Some(id) = incident_id {
            self.touched.push(id.clone());
            self.absorb_overlapping(&id);
        }
        let mut touched = std::mem::take(&mut self.touched);
        touched.dedup();
        let mut seen = std::collections::HashSet::new();
        touched.retain(|id| seen.insert(id.clone()));
        let incidents = touched.iter().filter_map(|id| self.recompute(id)).collect();
        Change {
            alert: Some(alert),
            incidents,
        }
    }

    /// Finds or opens the incident for a new alert; returns its id.
    fn place(&mut self, alert: &Alert) -> Option<String> {
        let candidates = self.candidates(&self.probe_for(alert));
        if let Some(first) = candidates.first() {
            let target = first.clone();
            self.attach(&target, alert);
            for other in candidates.iter().skip(1) {
                self.merge(other, &target);
            }
            return Some(target);
        }
        if alert.severity < self.config.open_min {
            return None;
        }
        let id = format!("inc-{}", &stable_hash(&[&alert.id])[..12]);
        let incident = Incident {
            id: id.clone(),
            title: alert.title.clone(),
            domain: alert.domain,
            priority: alert.severity,
            state: IncidentState::New,
            alert_ids: Vec::new(),
            active_alerts: 0,
            entities: Entities::default(),
            first_ms: alert.first_ms,
            last_ms: alert.last_ms,
            merged_into: None,
        };
        self.incidents.insert(id.clone(), incident);
        self.attach(&id, alert);
        Some(id)
    }

    /// Open incidents sharing a key with the probe and close to it in time, oldest first.
    fn candidates(&self, probe: &Probe) -> Vec<String> {
        let window = self.config.window_ms;
        let mut found: Vec<&Incident> = probe
            .keys
            .iter()
            .filter_map(|key| self.by_key.get(key))
            .flatten()
            .filter_map(|id| self.incidents.get(id))
            .filter(|inc| {
                inc.state.is_open() || (probe.revives && inc.state == IncidentState::Withdrawn)
            })
            .filter(|inc| {
                inc.first_ms - window <= probe.last_ms && probe.first_ms <= inc.last_ms + window
            })
            .collect();
        found.sort_by(|a, b| (a.first_ms, &a.id).cmp(&(b.first_ms, &b.id)));
        found.dedup_by(|a, b| a.id == b.id);
        found.into_iter().map(|inc| inc.id.clone()).collect()
    }

    /// What a new alert looks for: its keys and times. Only an alert that could open an
    /// incident may bring a withdrawn one back.
    fn probe_for(&self, alert: &Alert) -> Probe {
        Probe {
            keys: grouping_keys(alert),
            first_ms: alert.first_ms,
            last_ms: alert.last_ms,
            revives: alert.severity >= self.config.open_min,
        }
    }

    fn attach(&mut self, incident_id: &str, alert: &Alert) {
        if let Some(incident) = self.incidents.get_mut(incident_id)
            && !incident.alert_ids.contains(&alert.id)
        {
            incident.alert_ids.push(alert.id.clone());
        }
        for key in grouping_keys(alert) {
            let ids = self.by_key.entry(key).or_default();
            if !ids.iter().any(|id| id == incident_id) {
                ids.push(incident_id.to_string());
            }
        }
    }

    /// After an incident grew, joins other open incidents it now overlaps.
    fn absorb_overlapping(&mut self, incident_id: &str) {
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        if !incident.state.is_open() {
            return;
        }
        let active = incident
            .alert_ids
            .iter()
            .filter_map(|id| self.alerts.get(id));
        let mut keys: Vec<String> = active
            .filter(|a| a.status == AlertStatus::Active)
            .flat_map(grouping_keys)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let probe = Probe {
            keys,
            first_ms: incident.first_ms,
            last_ms: incident.last_ms,
            revives: incident.priority >= self.config.open_min,
        };
        let others: Vec<String> = self
            .candidates(&probe)
            .into_iter()
            .filter(|id| id != incident_id)
            .collect();
        for other in others {
            let (into, from) = self.older_first(incident_id, &other);
            self.merge(&from, &into);
        }
    }

    fn older_first(&self, a: &str, b: &str) -> (String, String) {
        let key = |id: &str| self.incidents.get(id).map(|i| (i.first_ms, i.id.clone()));
        if key(a) <= key(b) {
            (a.to_string(), b.to_string())
        } else {
            (b.to_string(), a.to_string())
        }
    }

    fn merge(&mut self, from: &str, into: &str) {
        let Some(source) = self.incidents.get_mut(from) else {
            return;
        };
        source.state = IncidentState::Merged;
        source.merged_into = Some(into.to_string());
        self.touched.push(from.to_string());
        self.touched.push(into.to_string());
        let moved = std::mem::take(&mut source.alert_ids);
        for alert_id in moved {
            let Some(alert) = self.alerts.get_mut(&alert_id) else {
                continue;
            };
            alert.incident_id = Some(into.to_string());
            let alert = alert.clone();
            self.attach(into, &alert);
        }
    }

    /// Derives domain, priority, title, entities and times from the incident's alerts.
    fn recompute(&mut self, incident_id: &str) -> Option<Incident> {
        let alerts: Vec<&Alert> = {
            let incident = self.incidents.get(incident_id)?;
            incident
                .alert_ids
                .iter()
                .filter_map(|id| self.alerts.get(id))
                .collect()
        };
        let active: Vec<&Alert> = alerts
            .iter()
            .copied()
            .filter(|a| a.status == AlertStatus::Active)
            .collect();
        // An incident stands while at least one of its active alerts could have opened it.
        let standing = active.iter().any(|a| a.severity >= self.config.open_min);
        let mut entities = Entities::default();
        for alert in &active {
            entities.extend(&alert.entities);
        }
        let top = active
            .iter()
            .max_by(|a, b| (a.severity, b.first_ms).cmp(&(b.severity, a.first_ms)))
            .copied();
        let domain = active.iter().map(|a| a.domain).reduce(|a, b| a.join(b));
        let first = active.iter().map(|a| a.first_ms).min();
        let last = active.iter().map(|a| a.last_ms).max();
        let title = top.map(|a| {
            if active.len() > 1 {
                format!("{} (+{} more)", a.title, active.len() - 1)
            } else {
                a.title.clone()
            }
        });
        let priority = top.map(|a| a.severity);
        let incident = self.incidents.get_mut(incident_id)?;
        incident.active_alerts = active.len();
        incident.entities = entities;
        if let (Some(t), Some(p), Some(d), Some(f), Some(l)) =
            (title, priority, domain, first, last)
        {
            incident.title = t;
            incident.priority = p;
            incident.domain = d;
            incident.first_ms = f;
            incident.last_ms = l;
        }
        if incident.state != IncidentState::Merged {
            if !standing && incident.state.is_open() {
                incident.state = IncidentState::Withdrawn;
            } else if standing && incident.state == IncidentState::Withdrawn {
                incident.state = IncidentState::New;
            }
        }
        Some(incident.clone())
    }
}

/// The keys an alert groups by: its people; else its sites; else devices, hosts, addresses.
/// A correlation grouped by place (`site` or `zone`) also keys by its sites, even when it names
/// people: it is the link between what happened to them and what happened at that place.
fn grouping_keys(alert: &Alert) -> Vec<String> {
    let entities = &alert.entities;
    let site_keys = || entities.sites.iter().map(|v| format!("site:{v}"));
    let place_grouped = alert
        .group
        .iter()
        .any(|(field, _)| field == "site" || field == "zone");
    if !entities.persons.is_empty() {
        let mut keys: Vec<String> = entities
            .persons
            .iter()
            .map(|v| format!("person:{v}"))
            .collect();
        if place_grouped {
            keys.extend(site_keys());
        }
        return keys;
    }
    if !entities.sites.is_empty() {
        return site_keys().collect();
    }
    let rest: Vec<String> = entities
        .devices
        .iter()
        .map(|v| format!("device:{v}"))
        .chain(entities.hosts.iter().map(|v| format!("host:{v}")))
        .chain(entities.src_ips.iter().map(|v| format!("ip:{v}")))
        .collect();
    if rest.is_empty() {
        vec![format!("alert:{}", alert.id)]
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::Domain;

    fn alert(
        id: &str,
        severity: Severity,
        domain: Domain,
        t: i64,
        person: Option<&str>,
        site: &str,
    ) -> Alert {
        let mut entities = Entities::default();
        if let Some(p) = person {
            entities.persons.insert(p.into());
        }
        entities.sites.insert(site.into());
        Alert {
            id: id.into(),
            rule_id: format!("rule-{id}"),
            title: format!("title {id}"),
            description: String::new(),
            author: String::new(),
            tags: Vec::new(),
            severity,
            domain,
            status: AlertStatus::Active,
            group: Vec::new(),
            event_ids: vec![1],
            first_ms: t,
            last_ms: t,
            entities,
            incident_id: None,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn same_person_close_in_time_is_one_hybrid_incident() {
        let mut g = Grouper::new(GrouperConfig::default());
        let a = g.apply(alert(
            "a",
            Severity::Medium,
            Domain::Physical,
            0,
            Some("p4"),
            "PAR",
        ));
        let b = g.apply(alert(
            "b",
            Severity::Medium,
            Domain::Cyber,
            6 * MIN,
            Some("p4"),
            "PAR",
        ));
        let inc_a = a.alert.unwrap().incident_id.unwrap();
        assert_eq!(b.alert.unwrap().incident_id.unwrap(), inc_a);
        let last = b.incidents.last().unwrap();
        assert_eq!(last.domain, Domain::Hybrid);
        assert_eq!(last.alert_ids.len(), 2);
    }

    #[test]
    fn different_people_or_far_apart_stay_apart() {
        let mut g = Grouper::new(GrouperConfig::default());
        let a = g.apply(alert(
            "a",
            Severity::High,
            Domain::Cyber,
            0,
            Some("p1"),
            "PAR",
        ));
        let b = g.apply(alert(
            "b",
            Severity::High,
            Domain::Cyber,
            MIN,
            Some("p2"),
            "PAR",
        ));
        let c = g.apply(alert(
            "c",
            Severity::High,
            Domain::Cyber,
            120 * MIN,
            Some("p1"),
            "PAR",
        ));
        let ids: Vec<String> = [a, b, c]
            .into_iter()
            .map(|c| c.alert.unwrap().incident_id.unwrap())
            .collect();
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_eq!(g.incident_count(), 3);
    }

    #[test]
    fn low_alert_does_not_open_but_joins() {
        let mut g = Grouper::new(GrouperConfig::default());
        let low = g.apply(alert(
            "low",
            Severity::Low,
            Domain::Physical,
            0,
            None,
            "PAR",
        ));
        assert!(low.alert.unwrap().incident_id.is_none());
        assert_eq!(g.incident_count(), 0);
        g.apply(alert(
            "med",
            Severity::Medium,
            Domain::Cyber,
            MIN,
            None,
            "LYO",
        ));
        let joined = g.apply(alert(
            "low2",
            Severity::Low,
            Domain::Physical,
            2 * MIN,
            None,
            "LYO",
        ));
        assert!(joined.alert.unwrap().incident_id.is_some());
    }

    #[test]
    fn a_bridging_alert_merges_two_incidents_into_the_older() {
        let mut g = Grouper::new(GrouperConfig::default());
        let a = g.apply(alert(
            "a",
            Severity::Medium,
            Domain::Cyber,
            0,
            Some("p1"),
            "X",
        ));
        let b = g.apply(alert(
            "b",
            Severity::Medium,
            Domain::Physical,
            MIN,
            Some("p2"),
            "X",
        ));
        let mut bridge = alert(
            "c",
            Severity::High,
            Domain::Hybrid,
            2 * MIN,
            Some("p1"),
            "X",
        );
        bridge.entities.persons.insert("p2".into());
        let change = g.apply(bridge);
        let older = a.alert.unwrap().incident_id.unwrap();
        let younger = b.alert.unwrap().incident_id.unwrap();
        assert_eq!(change.alert.unwrap().incident_id.unwrap(), older);
        let merged = change.incidents.iter().find(|i| i.id == younger).unwrap();
        assert_eq!(merged.state, IncidentState::Merged);
        let target = change
            .incidents
            .iter()
            .rev()
            .find(|i| i.id == older)
            .unwrap();
        assert_eq!(target.alert_ids.len(), 3);
        assert_eq!(target.priority, Severity::High);
    }

    #[test]
    fn withdrawing_the_only_alert_withdraws_the_incident_and_ids_are_stable() {
        let mut g = Grouper::new(GrouperConfig::default());
        let first = g.apply(alert(
            "a",
            Severity::High,
            Domain::Hybrid,
            0,
            Some("p2"),
            "PAR",
        ));
        let id = first.alert.unwrap().incident_id.unwrap();
        assert_eq!(id, format!("inc-{}", &stable_hash(&["a"])[..12]));
        let mut withdrawn = alert("a", Severity::High, Domain::Hybrid, 0, Some("p2"), "PAR");
        withdrawn.status = AlertStatus::Withdrawn;
        let change = g.apply(withdrawn);
        assert_eq!(change.incidents[0].state, IncidentState::Withdrawn);
        assert_eq!(change.incidents[0].active_alerts, 0);
    }

    #[test]
    fn a_site_grouped_correlation_naming_a_person_joins_the_site_incident_too() {
        let mut g = Grouper::new(GrouperConfig::default());
        let door = g.apply(alert(
            "door",
            Severity::Medium,
            Domain::Physical,
            0,
            None,
            "LYO",
        ));
        let login = g.apply(alert(
            "login",
            Severity::High,
            Domain::Cyber,
            MIN,
            Some("p4"),
            "LYO",
        ));
        let (door_inc, login_inc) = (
            door.alert.unwrap().incident_id.unwrap(),
            login.alert.unwrap().incident_id.unwrap(),
        );
        assert_ne!(
            door_inc, login_inc,
            "a person's alert alone does not join a site incident"
        );
        let mut link = alert(
            "link",
            Severity::High,
            Domain::Hybrid,
            2 * MIN,
            Some("p4"),
            "LYO",
        );
        link.group = vec![("site".into(), "LYO".into())];
        let change = g.apply(link);
        assert_eq!(change.alert.unwrap().incident_id.unwrap(), door_inc);
        let merged = change.incidents.iter().find(|i| i.id == login_inc).unwrap();
        assert_eq!(merged.state, IncidentState::Merged);
    }

    #[test]
    fn low_alerts_neither_keep_nor_revive_a_withdrawn_incident() {
        let mut g = Grouper::new(GrouperConfig::default());
        g.apply(alert(
            "a",
            Severity::Medium,
            Domain::Hybrid,
            0,
            Some("p1"),
            "PAR",
        ));
        let joined = g.apply(alert(
            "low",
            Severity::Low,
            Domain::Cyber,
            MIN,
            Some("p1"),
            "PAR",
        ));
        assert!(joined.alert.unwrap().incident_id.is_some());
        let mut withdrawn = alert("a", Severity::Medium, Domain::Hybrid, 0, Some("p1"), "PAR");
        withdrawn.status = AlertStatus::Withdrawn;
        let change = g.apply(withdrawn);
        assert_eq!(
            change.incidents[0].state,
            IncidentState::Withdrawn,
            "a low alert alone does not hold it open"
        );
        let later = g.apply(alert(
            "low2",
            Severity::Low,
            Domain::Cyber,
            2 * MIN,
            Some("p1"),
            "PAR",
        ));
        assert!(
            later.alert.unwrap().incident_id.is_none(),
            "a low alert does not revive it"
        );
        let revived = g.apply(alert(
            "b",
            Severity::High,
            Domain::Cyber,
            3 * MIN,
            Some("p1"),
            "PAR",
        ));
        assert_eq!(revived.incidents.last().unwrap().state, IncidentState::New);
    }
}
