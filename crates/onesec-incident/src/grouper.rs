//! Grouping alerts into incidents.
//!
//! An alert joins an open incident when they share a grouping key and their event times are
//! within `window_ms` of each other. The keys are the alert's people (and, for a cyber alert,
//! its inventory devices); an alert that names no person is keyed by its sites, zones and
//! devices, and one that names none of these by its hosts or source addresses; a correlation
//! grouped by site or zone keys by its sites as well, so it links the incidents of the people
//! and of the place it joins.
//! When an alert matches several incidents they are merged into the oldest one. An alert below
//! `open_min` severity joins an existing incident but never opens one on its own, so a door
//! held open in a lobby stays a low alert instead of becoming a case.
//!
//! **Flood control.** A new alert of the same rule about the same entities (people, devices,
//! doors, hosts, places, accounts, badges, addresses) as an active alert of an open incident,
//! within the window of that alert's last repeat, is a *repeat*: it is kept (stored, with its
//! events) but counted on the alert it repeats (`repeats`, `last_repeat_ms`) and on the
//! incident (`repeats`) instead of being grouped again, in constant time.
//!
//! **By hand.** People merge two open incidents or split alerts off into a new one
//! ([`ManualOp`], [`Grouper::manual`]); incidents split apart are never merged again
//! automatically. The store keeps the operations; [`Grouper::replay_manual`] applies them again
//! when the grouper is rebuilt from the journal, each as soon as its incidents and alerts exist.

use crate::{Alert, AlertStatus, Entities, Incident, IncidentState, stable_hash};
use onesec_event::Severity;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

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

/// What grouping one alert (or one operation by hand) changed.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The alert, with `incident_id` set when it joined one.
    pub alert: Option<Alert>,
    /// Other alerts whose stored form changed: the alert a repeat was counted on, alerts moved
    /// by a merge or a split.
    pub also: Vec<Alert>,
    /// Every incident whose content changed (opened, updated, merged away, withdrawn).
    pub incidents: Vec<Incident>,
}

/// A change people make to the grouping by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ManualOp {
    /// Joins incident `from` into incident `into` (`from` becomes merged).
    Merge {
        /// The incident that goes away.
        from: String,
        /// The incident that stays.
        into: String,
    },
    /// Moves `alerts` (and their repeats) out of `incident` into the new incident `new_id`.
    Split {
        /// The incident split.
        incident: String,
        /// The alerts that leave it.
        alerts: Vec<String>,
        /// The new incident's id (derived from the other two, see [`ManualOp::split`]).
        new_id: String,
    },
}

impl ManualOp {
    /// A split of `alerts` off `incident`, with its deterministic new incident id.
    pub fn split(incident: &str, alerts: &[String]) -> ManualOp {
        let mut sorted: Vec<&str> = alerts.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut parts = vec!["split", incident];
        parts.extend(sorted.iter().copied());
        ManualOp::Split {
            incident: incident.to_string(),
            alerts: sorted.iter().map(|a| a.to_string()).collect(),
            new_id: format!("inc-{}", &stable_hash(&parts)[..12]),
        }
    }

    /// The incidents the operation changes.
    pub fn incidents(&self) -> Vec<&str> {
        match self {
            ManualOp::Merge { from, into } => vec![from, into],
            ManualOp::Split {
                incident, new_id, ..
            } => vec![incident, new_id],
        }
    }
}

/// A merge or split refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// No such incident (yet).
    #[error("no incident {0}")]
    UnknownIncident(String),
    /// Merged, withdrawn, resolved and closed incidents are not regrouped.
    #[error(
        "incident {id} is {state}: only open incidents (new, acknowledged, in_progress, on_hold) are merged or split"
    )]
    NotOpen {
        /// Incident id.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// Merging an incident into itself.
    #[error("an incident cannot be merged into itself")]
    SameIncident,
    /// A split names an alert the incident does not hold.
    #[error("alert {alert} is not in incident {incident}")]
    NotInIncident {
        /// Alert id.
        alert: String,
        /// Incident id.
        incident: String,
    },
    /// A split must move at least one alert and leave at least one.
    #[error("a split moves at least one of the incident's alerts and leaves at least one")]
    SplitSize,
    /// The same split was done before.
    #[error("incident {0} exists already (the same split was done before)")]
    Exists(String),
}

/// Where and when to look for incidents to join.
struct Probe {
    keys: Vec<String>,
    first_ms: i64,
    last_ms: i64,
    revives: bool,
}

/// The grouper's maps: looked up for every alert of an incident each time one joins, so with
/// a fast hasher (foldhash, seeded per process like the standard one; no order is relied on).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Deterministic, in-memory grouping state (rebuilt by replaying the journal, or restored from
/// a detection snapshot with [`Grouper::save_state`] and [`Grouper::load_state`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Grouper {
    #[serde(skip)]
    config: GrouperConfig,
    alerts: Map<String, Alert>,
    incidents: Map<String, Incident>,
    by_key: Map<String, Vec<String>>,
    /// Flood control: repeat key → the alert repeats are counted on.
    repeat_keys: Map<String, String>,
    /// Alert id → its repeats, in arrival order.
    repeat_ids: Map<String, Vec<String>>,
    /// Pairs of incidents people split apart: never merged automatically.
    apart: HashSet<(String, String)>,
    /// Operations by hand waiting for their incidents and alerts (rebuild from the journal).
    pending: Vec<ManualOp>,
    /// States people set on incidents the rebuild has not opened yet.
    pending_states: HashMap<String, IncidentState>,
    /// Incidents changed while applying the current alert.
    #[serde(skip)]
    touched: Vec<String>,
    /// Alerts other than the applied one whose stored form changed meanwhile.
    #[serde(skip)]
    dirty: Vec<String>,
}

impl Grouper {
    /// A grouper with no incidents yet.
    pub fn new(config: GrouperConfig) -> Grouper {
        Grouper {
            config,
            ..Grouper::default()
        }
    }

    /// The grouping state, without the configuration (JSON), for detection snapshots: a
    /// grouper loaded from it with [`Grouper::load_state`] groups the following alerts exactly
    /// as this one would.
    pub fn save_state(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// A grouper with `config` and the state [`Grouper::save_state`] wrote.
    pub fn load_state(config: GrouperConfig, bytes: &[u8]) -> Result<Grouper, serde_json::Error> {
        let mut grouper: Grouper = serde_json::from_slice(bytes)?;
        grouper.config = config;
        Ok(grouper)
    }

    /// Number of incidents known (any state).
    pub fn incident_count(&self) -> usize {
        self.incidents.len()
    }

    /// The latest version of an alert seen by the grouper.
    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// The current version of an incident.
    pub fn incident(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id)
    }

    /// Records a person's state change so that closed incidents stop taking alerts (kept until
    /// [`Grouper::rebuilt`] when the incident is not known yet: a rebuild that has not
    /// reached it).
    pub fn set_state(&mut self, incident_id: &str, state: IncidentState) {
        match self.incidents.get_mut(incident_id) {
            Some(incident) => incident.state = state,
            None => {
                self.pending_states.insert(incident_id.to_string(), state);
            }
        }
    }

    /// Takes a fired, updated or withdrawn alert and regroups.
    pub fn apply(&mut self, mut alert: Alert) -> Change {
        let previous = self.alerts.get(&alert.id).map(|previous| {
            alert.incident_id = previous.incident_id.clone();
            alert.repeat_of = previous.repeat_of.clone();
            alert.repeats = previous.repeats;
            alert.last_repeat_ms = previous.last_repeat_ms;
            previous.status
        });
        let mut change = if alert.repeat_of.is_some() {
            self.update_repeat(alert, previous)
        } else if let Some(original) = previous.is_none().then(|| self.repeated(&alert)).flatten() {
            self.count_repeat(alert, &original)
        } else {
            self.group(alert)
        };
        if !self.pending.is_empty() {
            self.retry_pending(&mut change);
        }
        change
    }

    /// Places or regroups an alert that is not a repeat.
    fn group(&mut self, mut alert: Alert) -> Change {
        let incident_id = match alert.incident_id.clone() {
            Some(id) => Some(id),
            None if alert.status == AlertStatus::Active => self.place(&alert),
            None => None,
        };
        alert.incident_id = incident_id.clone();
        if alert.status == AlertStatus::Active
            && incident_id.is_some()
            && let Some(key) = repeat_key(&alert)
        {
            self.repeat_keys.insert(key, alert.id.clone());
        }
        self.alerts.insert(alert.id.clone(), alert.clone());
        if alert.status == AlertStatus::Withdrawn {
            self.promote_repeat(&alert.id);
        }
        if let Some(id) = incident_id {
            self.touched.push(id.clone());
            self.absorb_overlapping(&id);
        }
        let mut change = self.collect();
        change.alert = self.alerts.get(&alert.id).cloned();
        change
    }

    /// The changed incidents and alerts gathered in `touched` and `dirty`, recomputed.
    fn collect(&mut self) -> Change {
        let mut touched = std::mem::take(&mut self.touched);
        let mut seen = HashSet::new();
        touched.retain(|id| seen.insert(id.clone()));
        let incidents = touched.iter().filter_map(|id| self.recompute(id)).collect();
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut seen = HashSet::new();
        dirty.retain(|id| seen.insert(id.clone()));
        Change {
            alert: None,
            also: dirty
                .iter()
                .filter_map(|id| self.alerts.get(id).cloned())
                .collect(),
            incidents,
        }
    }

    /// The active alert of an open incident that a new alert repeats, if any.
    fn repeated(&self, alert: &Alert) -> Option<String> {
        if alert.status != AlertStatus::Active {
            return None;
        }
        let original_id = self.repeat_keys.get(&repeat_key(alert)?)?;
        let original = self.alerts.get(original_id)?;
        let incident = self.incidents.get(original.incident_id.as_deref()?)?;
        let last = original
            .last_repeat_ms
            .unwrap_or(i64::MIN)
            .max(original.last_ms);
        let window = self.config.window_ms;
        let close = alert.first_ms - window <= last && original.first_ms <= alert.last_ms + window;
        (original.status == AlertStatus::Active && incident.state.is_open() && close)
            .then(|| original_id.clone())
    }

    /// Counts a repeat on the alert it repeats and on their incident: constant time.
    fn count_repeat(&mut self, mut alert: Alert, original_id: &str) -> Change {
        let mut change = Change::default();
        if let Some(original) = self.alerts.get_mut(original_id) {
            original.repeats += 1;
            original.last_repeat_ms = Some(
                original
                    .last_repeat_ms
                    .map_or(alert.last_ms, |t| t.max(alert.last_ms)),
            );
            alert.incident_id = original.incident_id.clone();
            alert.repeat_of = Some(original_id.to_string());
            change.also.push(original.clone());
        }
        self.repeat_ids
            .entry(original_id.to_string())
            .or_default()
            .push(alert.id.clone());
        if let Some(incident) = alert
            .incident_id
            .as_deref()
            .and_then(|id| self.incidents.get_mut(id))
        {
            incident.repeats += 1;
            incident.first_ms = incident.first_ms.min(alert.first_ms);
            incident.last_ms = incident.last_ms.max(alert.last_ms);
            change.incidents.push(incident.clone());
        }
        self.alerts.insert(alert.id.clone(), alert.clone());
        change.alert = Some(alert);
        change
    }

    /// A repeat updated or withdrawn by the engine: the counters follow its status.
    fn update_repeat(&mut self, alert: Alert, previous: Option<AlertStatus>) -> Change {
        let was = previous == Some(AlertStatus::Active);
        let is = alert.status == AlertStatus::Active;
        if let Some(original) = alert
            .repeat_of
            .as_deref()
            .and_then(|id| self.alerts.get_mut(id))
        {
            if was && !is {
                original.repeats = original.repeats.saturating_sub(1);
            } else if is && !was {
                original.repeats += 1;
            }
            if is {
                original.last_repeat_ms = Some(
                    original
                        .last_repeat_ms
                        .map_or(alert.last_ms, |t| t.max(alert.last_ms)),
                );
            }
            self.dirty.push(original.id.clone());
        }
        self.touched.extend(alert.incident_id.clone());
        self.alerts.insert(alert.id.clone(), alert.clone());
        let mut change = self.collect();
        change.alert = Some(alert);
        change
    }

    /// A withdrawn alert's first active repeat takes its place in the incident; the other
    /// repeats are counted on it from then on.
    fn promote_repeat(&mut self, withdrawn: &str) {
        let Some(ids) = self.repeat_ids.remove(withdrawn) else {
            return;
        };
        let active = |g: &Grouper, id: &String| {
            g.alerts
                .get(id)
                .is_some_and(|a| a.status == AlertStatus::Active)
        };
        let Some(heir) = ids.iter().find(|id| active(self, id)).cloned() else {
            self.repeat_ids.insert(withdrawn.to_string(), ids);
            return;
        };
        let others: Vec<String> = ids.into_iter().filter(|id| *id != heir).collect();
        let counted = others.iter().filter(|id| active(self, id)).count() as u64;
        let last = others
            .iter()
            .filter(|id| active(self, id))
            .filter_map(|id| self.alerts.get(id).map(|a| a.last_ms))
            .max();
        for id in &others {
            if let Some(repeat) = self.alerts.get_mut(id) {
                repeat.repeat_of = Some(heir.clone());
            }
            self.dirty.push(id.clone());
        }
        if let Some(original) = self.alerts.get_mut(withdrawn) {
            original.repeats = 0;
            original.last_repeat_ms = None;
        }
        let Some(alert) = self.alerts.get_mut(&heir) else {
            return;
        };
        alert.repeat_of = None;
        alert.repeats = counted;
        alert.last_repeat_ms = last;
        let alert = alert.clone();
        if let Some(key) = repeat_key(&alert) {
            self.repeat_keys.insert(key, heir.clone());
        }
        if let Some(incident_id) = alert.incident_id.clone() {
            self.attach(&incident_id, &alert);
            self.touched.push(incident_id);
        }
        self.repeat_ids.insert(heir.clone(), others);
        self.dirty.push(heir);
    }

    /// Finds or opens the incident for a new alert; returns its id.
    fn place(&mut self, alert: &Alert) -> Option<String> {
        let candidates = self.candidates(&self.probe_for(alert));
        if let Some(first) = candidates.first() {
            let target = first.clone();
            self.attach(&target, alert);
            for other in candidates.iter().skip(1) {
                if !self.is_apart(other, &target) {
                    self.merge(other, &target);
                }
            }
            return Some(target);
        }
        if alert.severity < self.config.open_min {
            return None;
        }
        let id = format!("inc-{}", &stable_hash(&[&alert.id])[..12]);
        self.open(&id, alert, IncidentState::New);
        self.attach(&id, alert);
        Some(id)
    }

    /// A new incident shaped after its first alert (recomputed once its alerts are in).
    fn open(&mut self, id: &str, alert: &Alert, state: IncidentState) {
        let incident = Incident {
            id: id.to_string(),
            title: alert.title.clone(),
            domain: alert.domain,
            priority: alert.severity,
            state,
            alert_ids: Vec::new(),
            active_alerts: 0,
            entities: Entities::default(),
            first_ms: alert.first_ms,
            last_ms: alert.last_ms,
            merged_into: None,
            repeats: 0,
        };
        self.incidents.insert(id.to_string(), incident);
    }

    fn is_apart(&self, a: &str, b: &str) -> bool {
        self.apart.contains(&(a.to_string(), b.to_string()))
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
            .filter_map(|id| self.alerts.get(id))
            .filter(|a| a.status == AlertStatus::Active);
        let keys = grouping_keys_of(active);
        let probe = Probe {
            keys,
            first_ms: incident.first_ms,
            last_ms: incident.last_ms,
            revives: incident.priority >= self.config.open_min,
        };
        let others: Vec<String> = self
            .candidates(&probe)
            .into_iter()
            .filter(|id| id != incident_id && !self.is_apart(id, incident_id))
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
        self.move_alerts(&moved, into);
    }

    /// Moves alerts (and their repeats) to another incident.
    fn move_alerts(&mut self, moved: &[String], into: &str) {
        for alert_id in moved {
            let repeats = self.repeat_ids.get(alert_id).cloned().unwrap_or_default();
            for id in repeats.iter().chain(std::iter::once(alert_id)) {
                if let Some(alert) = self.alerts.get_mut(id) {
                    alert.incident_id = Some(into.to_string());
                    self.dirty.push(id.clone());
                }
            }
            let Some(alert) = self.alerts.get(alert_id).cloned() else {
                continue;
            };
            self.attach(into, &alert);
        }
    }

    // ---- by hand --------------------------------------------------------------------------

    /// Applies a merge or split people asked for; the incidents and alerts it changed.
    pub fn manual(&mut self, op: &ManualOp) -> Result<Change, GroupError> {
        self.check(op)?;
        match op {
            ManualOp::Merge { from, into } => self.merge(from, into),
            ManualOp::Split {
                incident,
                alerts,
                new_id,
            } => self.split(incident, alerts, new_id),
        }
        Ok(self.collect())
    }

    /// Applies an operation kept from before a restart, now if its incidents and alerts are
    /// known, else as soon as they are (see [`Grouper::apply`]). Operations that can no longer
    /// apply (an incident closed meanwhile) are dropped; the result says what it did now.
    pub fn replay_manual(&mut self, op: ManualOp) -> Change {
        match self.manual(&op) {
            Ok(change) => change,
            Err(GroupError::UnknownIncident(_) | GroupError::NotInIncident { .. }) => {
                self.pending.push(op);
                Change::default()
            }
            Err(_) => Change::default(),
        }
    }

    /// The rebuild from the journal is over: the states people set are applied to the
    /// incidents it rebuilt (from now on, as when they were set), and operations still waiting
    /// are dropped (their incidents will not come back). How many were dropped.
    pub fn rebuilt(&mut self) -> usize {
        for (id, state) in std::mem::take(&mut self.pending_states) {
            if let Some(incident) = self.incidents.get_mut(&id) {
                incident.state = state;
            }
        }
        std::mem::take(&mut self.pending).len()
    }

    fn retry_pending(&mut self, change: &mut Change) {
        for op in std::mem::take(&mut self.pending) {
            let more = self.replay_manual(op);
            change.also.extend(more.also);
            change.incidents.extend(more.incidents);
        }
    }

    fn open_incident(&self, id: &str) -> Result<&Incident, GroupError> {
        let incident = self
            .incidents
            .get(id)
            .ok_or_else(|| GroupError::UnknownIncident(id.to_string()))?;
        if !incident.state.is_open() {
            return Err(GroupError::NotOpen {
                id: id.to_string(),
                state: incident.state.as_str(),
            });
        }
        Ok(incident)
    }

    fn check(&self, op: &ManualOp) -> Result<(), GroupError> {
        match op {
            ManualOp::Merge { from, into } => {
                if from == into {
                    return Err(GroupError::SameIncident);
                }
                self.open_incident(from)?;
                self.open_incident(into)?;
            }
            ManualOp::Split {
                incident,
                alerts,
                new_id,
            } => {
                let source = self.open_incident(incident)?;
                if self.incidents.contains_key(new_id) {
                    return Err(GroupError::Exists(new_id.clone()));
                }
                if let Some(alert) = alerts.iter().find(|a| !source.alert_ids.contains(a)) {
                    return Err(GroupError::NotInIncident {
                        alert: alert.clone(),
                        incident: incident.clone(),
                    });
                }
                if alerts.is_empty() || alerts.len() >= source.alert_ids.len() {
                    return Err(GroupError::SplitSize);
                }
            }
        }
        Ok(())
    }

    fn split(&mut self, incident: &str, alerts: &[String], new_id: &str) {
        let Some(first) = alerts.first().and_then(|id| self.alerts.get(id)).cloned() else {
            return;
        };
        self.open(new_id, &first, IncidentState::New);
        if let Some(source) = self.incidents.get_mut(incident) {
            source.alert_ids.retain(|id| !alerts.contains(id));
        }
        self.move_alerts(alerts, new_id);
        self.forget_keys(incident, alerts);
        self.apart
            .insert((incident.to_string(), new_id.to_string()));
        self.apart
            .insert((new_id.to_string(), incident.to_string()));
        self.touched.push(incident.to_string());
        self.touched.push(new_id.to_string());
    }

    /// After `moved` left `incident`, the keys only they had no longer lead to it.
    fn forget_keys(&mut self, incident: &str, moved: &[String]) {
        let remaining: HashSet<String> = self
            .incidents
            .get(incident)
            .map(|i| i.alert_ids.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.alerts.get(id))
            .flat_map(grouping_keys)
            .collect();
        let gone: Vec<String> = moved
            .iter()
            .filter_map(|id| self.alerts.get(id))
            .flat_map(grouping_keys)
            .filter(|key| !remaining.contains(key))
            .collect();
        for key in gone {
            if let Some(ids) = self.by_key.get_mut(&key) {
                ids.retain(|id| id != incident);
            }
        }
    }

    /// Derives domain, priority, title, entities, times and repeats from its alerts.
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
        let entities = Entities::union(active.iter().map(|a| &a.entities));
        let top = active
            .iter()
            .max_by(|a, b| (a.severity, b.first_ms).cmp(&(b.severity, a.first_ms)))
            .copied();
        let domain = active.iter().map(|a| a.domain).reduce(|a, b| a.join(b));
        let first = active.iter().map(|a| a.first_ms).min();
        let last = active
            .iter()
            .map(|a| a.last_repeat_ms.unwrap_or(a.last_ms).max(a.last_ms))
            .max();
        let repeats = active.iter().map(|a| a.repeats).sum();
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
        incident.repeats = repeats;
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

/// The keys an alert groups by: its people; a cyber alert naming people also its inventory
/// devices; an alert naming no person its sites, zones and devices; hosts and addresses when
/// it names none of these. A correlation grouped by place (`site` or `zone`) also keys by its
/// sites, even when it names people: it is the link between what happened to them and what
/// happened at that place.
///
/// A physical or hybrid alert about a person is not keyed by its zones or devices: those are
/// the doors, readers and corridors everybody passes, and a correlation over a person's day
/// (badged in at 08:00, VPN login at 13:00) would join every other person who used the main
/// door in between (the acme day's S2 and S3 would become one incident).
fn grouping_keys(alert: &Alert) -> Vec<String> {
    let mut parts = Vec::new();
    key_parts(alert, &mut parts);
    parts.into_iter().map(key_text).collect()
}

/// The sorted, distinct grouping keys of several alerts (an incident's active alerts): each
/// key is written once, not once per alert that has it.
fn grouping_keys_of<'a>(alerts: impl Iterator<Item = &'a Alert>) -> Vec<String> {
    let mut parts = Vec::new();
    for alert in alerts {
        key_parts(alert, &mut parts);
    }
    // No kind is a prefix of another, so (kind, value) pairs sort as their texts do.
    parts.sort_unstable();
    parts.dedup();
    parts.into_iter().map(key_text).collect()
}

fn key_text((kind, value): (&str, &str)) -> String {
    format!("{kind}:{value}")
}

/// [`grouping_keys`] as (kind, value) pairs borrowed from the alert, appended to `out`.
fn key_parts<'a>(alert: &'a Alert, out: &mut Vec<(&'static str, &'a str)>) {
    let entities = &alert.entities;
    let start = out.len();
    let place_grouped = alert
        .group
        .iter()
        .any(|(field, _)| field == "site" || field == "zone");
    let nobody = entities.persons.is_empty();
    let mut add = |kind: &'static str, values: &'a std::collections::BTreeSet<String>| {
        out.extend(values.iter().map(|v| (kind, v.as_str())));
    };
    add("person", &entities.persons);
    if nobody || place_grouped {
        add("site", &entities.sites);
    }
    if nobody {
        add("zone", &entities.zones);
    }
    if nobody || alert.domain == onesec_event::Domain::Cyber {
        add("device", &entities.devices);
    }
    if out.len() == start {
        out.extend(entities.hosts.iter().map(|v| ("host", v.as_str())));
        out.extend(entities.src_ips.iter().map(|v| ("ip", v.as_str())));
    }
    if out.len() == start {
        out.push(("alert", alert.id.as_str()));
    }
}

/// What makes two alerts the same alarm for flood control: the rule and every entity it
/// names. `None` for an alert that names nothing (it cannot repeat anything).
fn repeat_key(alert: &Alert) -> Option<String> {
    let e = &alert.entities;
    let sets = [
        &e.persons,
        &e.sites,
        &e.zones,
        &e.devices,
        &e.hosts,
        &e.portals,
        &e.accounts,
        &e.badges,
        &e.src_ips,
    ];
    if sets.iter().all(|s| s.is_empty()) {
        return None;
    }
    let mut parts: Vec<&str> = vec![&alert.rule_id];
    for set in sets {
        parts.extend(set.iter().map(String::as_str));
        parts.push("|");
    }
    Some(stable_hash(&parts))
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
            repeat_of: None,
            repeats: 0,
            last_repeat_ms: None,
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

    fn door_alarm(id: &str, rule: &str, t: i64, door: &str) -> Alert {
        let mut a = alert(id, Severity::High, Domain::Physical, t, None, "PAR");
        a.rule_id = rule.into();
        a.title = format!("{rule} at {door}");
        a.entities.zones.insert("PAR-SRV".into());
        a.entities.portals.insert(door.into());
        a
    }

    fn person_alert(
        id: &str,
        t: i64,
        person: &str,
        zone: Option<&str>,
        device: Option<&str>,
    ) -> Alert {
        let mut a = alert(id, Severity::High, Domain::Cyber, t, Some(person), "LYO");
        a.entities.zones.extend(zone.map(String::from));
        a.entities.devices.extend(device.map(String::from));
        a
    }

    #[test]
    fn a_repeating_alarm_is_counted_not_grouped_again() {
        let mut g = Grouper::new(GrouperConfig::default());
        let first = g.apply(door_alarm("a0", "forced", 0, "D1"));
        let incident = first.alert.unwrap().incident_id.unwrap();
        let mut last = Change::default();
        for n in 1..=500 {
            last = g.apply(door_alarm(&format!("a{n}"), "forced", n * 1000, "D1"));
            let alert = last.alert.clone().unwrap();
            assert_eq!(alert.repeat_of.as_deref(), Some("a0"));
            assert_eq!(alert.incident_id.as_deref(), Some(incident.as_str()));
        }
        assert_eq!(g.incident_count(), 1);
        let inc = last.incidents.last().unwrap();
        assert_eq!(inc.repeats, 500);
        assert_eq!(
            inc.alert_ids,
            vec!["a0".to_string()],
            "repeats are not members"
        );
        assert_eq!(inc.last_ms, 500_000);
        assert_eq!(last.also[0].id, "a0");
        assert_eq!(last.also[0].repeats, 500);
        // Another door, or another rule at the same door, is not a repeat.
        let other_door = g.apply(door_alarm("b", "forced", 501_000, "D2"));
        assert!(other_door.alert.unwrap().repeat_of.is_none());
        let other_rule = g.apply(door_alarm("c", "held", 502_000, "D1"));
        assert!(other_rule.alert.unwrap().repeat_of.is_none());
        // Far later (past the window after the last repeat), it counts as new again.
        let later = g.apply(door_alarm("z", "forced", 500_000 + 31 * MIN, "D1"));
        assert!(later.alert.unwrap().repeat_of.is_none());
    }

    #[test]
    fn withdrawn_repeats_are_uncounted_and_a_withdrawn_original_hands_over() {
        let mut g = Grouper::new(GrouperConfig::default());
        g.apply(door_alarm("a0", "forced", 0, "D1"));
        g.apply(door_alarm("a1", "forced", 1000, "D1"));
        g.apply(door_alarm("a2", "forced", 2000, "D1"));
        let mut gone = door_alarm("a1", "forced", 1000, "D1");
        gone.status = AlertStatus::Withdrawn;
        let change = g.apply(gone);
        assert_eq!(change.incidents[0].repeats, 1);
        assert_eq!(change.also[0].repeats, 1);
        let mut original = door_alarm("a0", "forced", 0, "D1");
        original.status = AlertStatus::Withdrawn;
        let change = g.apply(original);
        let inc = change.incidents.last().unwrap();
        assert_eq!(inc.state, IncidentState::New, "a repeat still stands");
        assert!(inc.alert_ids.contains(&"a2".to_string()));
        assert_eq!(inc.active_alerts, 1);
        let heir = change.also.iter().find(|a| a.id == "a2").unwrap();
        assert!(heir.repeat_of.is_none());
        let next = g.apply(door_alarm("a3", "forced", 3000, "D1"));
        assert_eq!(next.alert.unwrap().repeat_of.as_deref(), Some("a2"));
    }

    #[test]
    fn a_device_joins_people_and_places_but_a_shared_door_does_not() {
        let mut g = Grouper::new(GrouperConfig::default());
        // A device alarm naming nobody (at another site than the people) and a cyber alert of
        // a person on that device: one incident.
        let mut usb = alert("usb", Severity::High, Domain::Cyber, 0, None, "PAR");
        usb.entities.devices.insert("PC-1".into());
        let usb = g.apply(usb);
        let login = g.apply(person_alert("login", MIN, "p3", None, Some("PC-1")));
        assert_eq!(
            usb.alert.unwrap().incident_id,
            login.alert.unwrap().incident_id
        );
        // Two people's physical alerts at the same door and zone stay apart.
        let mut a = person_alert("a", 0, "p1", Some("LYO-CTRL"), Some("RDR-7"));
        a.domain = Domain::Physical;
        let mut b = person_alert("b", MIN, "p2", Some("LYO-CTRL"), Some("RDR-7"));
        b.domain = Domain::Physical;
        let (a, b) = (g.apply(a), g.apply(b));
        assert_ne!(a.alert.unwrap().incident_id, b.alert.unwrap().incident_id);
        // A door alarm naming nobody joins by zone and site.
        let door = g.apply(door_alarm("door", "forced", 2 * MIN, "D9"));
        let mut camera = alert(
            "cam",
            Severity::High,
            Domain::Physical,
            3 * MIN,
            None,
            "PAR",
        );
        camera.entities.zones.insert("PAR-SRV".into());
        let camera = g.apply(camera);
        assert_eq!(
            door.alert.unwrap().incident_id,
            camera.alert.unwrap().incident_id
        );
        assert_eq!(g.incident_count(), 3);
    }

    #[test]
    fn merge_and_split_by_hand_and_split_incidents_stay_apart() {
        let mut g = Grouper::new(GrouperConfig::default());
        let a = g.apply(person_alert("a", 0, "p1", None, None));
        let b = g.apply(person_alert("b", 5 * MIN, "p2", None, None));
        let (ia, ib) = (
            a.alert.unwrap().incident_id.unwrap(),
            b.alert.unwrap().incident_id.unwrap(),
        );
        assert_ne!(ia, ib);
        assert_eq!(
            g.manual(&ManualOp::Merge {
                from: ib.clone(),
                into: ib.clone()
            })
            .unwrap_err(),
            GroupError::SameIncident
        );
        let merged = g
            .manual(&ManualOp::Merge {
                from: ib.clone(),
                into: ia.clone(),
            })
            .unwrap();
        let gone = merged.incidents.iter().find(|i| i.id == ib).unwrap();
        assert_eq!(gone.state, IncidentState::Merged);
        assert_eq!(gone.merged_into.as_deref(), Some(ia.as_str()));
        let kept = merged.incidents.iter().find(|i| i.id == ia).unwrap();
        assert_eq!(kept.alert_ids.len(), 2);
        assert!(
            merged
                .also
                .iter()
                .any(|x| x.id == "b" && x.incident_id.as_deref() == Some(ia.as_str()))
        );
        // p2's next alert now joins the merged incident.
        let c = g.apply(person_alert("c", 6 * MIN, "p2", None, None));
        assert_eq!(c.alert.unwrap().incident_id.as_deref(), Some(ia.as_str()));
        // Split p2's alerts off again.
        let split = ManualOp::split(&ia, &["c".to_string(), "b".to_string()]);
        let ManualOp::Split { new_id, .. } = split.clone() else {
            unreachable!()
        };
        let change = g.manual(&split).unwrap();
        let new = change.incidents.iter().find(|i| i.id == new_id).unwrap();
        assert_eq!(new.alert_ids.len(), 2);
        assert!(new.entities.persons.contains("p2"));
        let old = change.incidents.iter().find(|i| i.id == ia).unwrap();
        assert_eq!(old.alert_ids, vec!["a".to_string()]);
        assert_eq!(
            g.manual(&split).unwrap_err(),
            GroupError::Exists(new_id.clone())
        );
        let later = g.apply(person_alert("e", 6 * MIN + 30_000, "p2", None, None));
        assert_eq!(
            later.alert.unwrap().incident_id.as_deref(),
            Some(new_id.as_str()),
            "p2's alerts follow the split-off incident"
        );
        // An alert naming both people joins the older one but does not merge them again.
        let mut bridge = person_alert("d", 7 * MIN, "p1", None, None);
        bridge.entities.persons.insert("p2".into());
        let change = g.apply(bridge);
        assert_eq!(
            change.alert.unwrap().incident_id.as_deref(),
            Some(ia.as_str())
        );
        assert!(
            change
                .incidents
                .iter()
                .all(|i| i.state != IncidentState::Merged),
            "split incidents are kept apart"
        );
        // Refusals.
        assert!(matches!(
            g.manual(&ManualOp::split(&ia, &["zzz".to_string()])),
            Err(GroupError::NotInIncident { .. })
        ));
        assert_eq!(
            g.manual(&ManualOp::split(
                &new_id,
                &["b".to_string(), "c".to_string(), "e".to_string()]
            ))
            .unwrap_err(),
            GroupError::SplitSize
        );
        assert!(matches!(
            g.manual(&ManualOp::Merge {
                from: ib.clone(),
                into: ia.clone()
            }),
            Err(GroupError::NotOpen { .. })
        ));
    }

    #[test]
    fn operations_kept_from_before_a_restart_apply_once_their_incidents_exist() {
        let alerts = || {
            vec![
                person_alert("a", 0, "p1", None, None),
                person_alert("b", 5 * MIN, "p2", None, None),
                person_alert("c", 6 * MIN, "p2", None, None),
            ]
        };
        let mut live = Grouper::new(GrouperConfig::default());
        let mut ids = Vec::new();
        for a in alerts() {
            ids.push(live.apply(a).alert.unwrap().incident_id.unwrap());
        }
        let merge = ManualOp::Merge {
            from: ids[1].clone(),
            into: ids[0].clone(),
        };
        live.manual(&merge).unwrap();
        let mut rebuilt = Grouper::new(GrouperConfig::default());
        assert!(rebuilt.replay_manual(merge).incidents.is_empty(), "pending");
        rebuilt.set_state(&ids[0], IncidentState::Acknowledged);
        for a in alerts() {
            rebuilt.apply(a);
        }
        assert_eq!(rebuilt.rebuilt(), 0);
        for id in [&ids[0], &ids[1]] {
            assert_eq!(
                rebuilt.incident(id).map(|i| (i.state, i.alert_ids.len())),
                live.incident(id).map(|i| (
                    if *id == ids[0] {
                        IncidentState::Acknowledged
                    } else {
                        i.state
                    },
                    i.alert_ids.len()
                ))
            );
        }
    }
}
