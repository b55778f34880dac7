//! Engine outputs of one partition → the product alerts the sink groups into incidents, and
//! the message id that lets JetStream and the sink drop a replayed alert.
//!
//! The same conversion as the embedded detector's (`onesec_pipeline::detect`): entities and
//! domain from the alert's events, withdrawals as the last version with status `withdrawn`.

use onesec_event::{Event, EventId};
use onesec_incident::{Alert, AlertStatus};
use onesec_pipeline::AlertFacts;
use onesec_sigma::Output;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Turns engine outputs into product alerts; one per partition, deterministic.
#[derive(Default)]
pub struct AlertBuilder {
    facts: HashMap<String, AlertFacts>,
    /// Event ids folded into each alert's facts, in the order they were: what a snapshot
    /// keeps so a restored builder rebuilds the same facts (reading those events back).
    folded: HashMap<String, Vec<EventId>>,
    last: HashMap<String, Alert>,
}

/// What a snapshot keeps of an [`AlertBuilder`]: the last version of every alert built, and
/// the events folded into each. The facts themselves are rebuilt from those events when an
/// alert is next updated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuilderState {
    /// Last version of each alert, by id (sorted).
    pub last: Vec<Alert>,
    /// Alert id → event ids folded into its facts, in order (sorted by alert id).
    pub folded: Vec<(String, Vec<EventId>)>,
}

impl AlertBuilder {
    /// Its state, for a snapshot.
    pub fn state(&self) -> BuilderState {
        let mut last: Vec<Alert> = self.last.values().cloned().collect();
        last.sort_by(|a, b| a.id.cmp(&b.id));
        let mut folded: Vec<(String, Vec<EventId>)> = self
            .folded
            .iter()
            .map(|(id, events)| (id.clone(), events.clone()))
            .collect();
        folded.sort();
        BuilderState { last, folded }
    }

    /// A builder from a snapshot's state; alert facts are rebuilt on first use.
    pub fn restore(state: BuilderState) -> AlertBuilder {
        AlertBuilder {
            facts: HashMap::new(),
            folded: state.folded.into_iter().collect(),
            last: state.last.into_iter().map(|a| (a.id.clone(), a)).collect(),
        }
    }

    /// Facts of `alert_id`, rebuilt from the folded events after a restore.
    fn facts_of(&mut self, alert_id: &str, events: &HashMap<EventId, Event>) -> &mut AlertFacts {
        if !self.facts.contains_key(alert_id) {
            let mut facts = AlertFacts::default();
            for id in self.folded.get(alert_id).into_iter().flatten() {
                match events.get(id) {
                    Some(event) => facts.add_event(event),
                    None => {
                        tracing::warn!(event = id, alert = %alert_id, "event of an alert not found")
                    }
                }
            }
            self.facts.insert(alert_id.to_string(), facts);
        }
        self.facts.entry(alert_id.to_string()).or_default()
    }

    /// Event ids an output names that the builder has not folded in yet (the caller makes
    /// them available to [`AlertBuilder::build`]).
    pub fn needed(&self, output: &Output) -> Vec<EventId> {
        let sigma = match output {
            Output::Fired(a) | Output::Updated(a) => a,
            Output::Withdrawn { .. } => return Vec::new(),
        };
        let known = self.facts.get(&sigma.id);
        // After a restore, facts are rebuilt from the events folded before the snapshot.
        let restored = match known {
            None => self.folded.get(&sigma.id).cloned().unwrap_or_default(),
            Some(_) => Vec::new(),
        };
        let mut out: Vec<EventId> = sigma
            .event_ids
            .iter()
            .copied()
            .filter(|id| known.is_none_or(|f| !f.has_seen(*id)))
            .collect();
        for id in restored {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// The product alert for `output`; `events` holds (at least) what [`AlertBuilder::needed`]
    /// asked for. `None` for a withdrawal of an alert this partition never built.
    pub fn build(&mut self, output: Output, events: &HashMap<EventId, Event>) -> Option<Alert> {
        let (sigma, status) = match output {
            Output::Fired(a) | Output::Updated(a) => (a, AlertStatus::Active),
            Output::Withdrawn { alert_id } => {
                let mut previous = self.last.get(&alert_id)?.clone();
                previous.status = AlertStatus::Withdrawn;
                self.last.insert(alert_id, previous.clone());
                return Some(previous);
            }
        };
        if sigma.kind == onesec_sigma::AlertKind::Single {
            return Some(single_alert(sigma, status, events));
        }
        let mut newly = Vec::new();
        let facts = self.facts_of(&sigma.id, events);
        for id in &sigma.event_ids {
            if facts.has_seen(*id) {
                continue;
            }
            let Some(event) = events.get(id) else {
                tracing::warn!(event = id, alert = %sigma.id, "event of an alert not found");
                continue;
            };
            facts.add_event(event);
            newly.push(*id);
        }
        let alert = facts.alert(sigma, status);
        self.folded
            .entry(alert.id.clone())
            .or_default()
            .extend(newly);
        self.last.insert(alert.id.clone(), alert.clone());
        Some(alert)
    }
}

/// A single-event alert: fired once, never updated or withdrawn, so the builder keeps nothing
/// of it (its facts, events folded and last version would otherwise grow the builder and the
/// partition's snapshot by one entry per alert forever).
fn single_alert(
    sigma: onesec_sigma::Alert,
    status: AlertStatus,
    events: &HashMap<EventId, Event>,
) -> Alert {
    let mut facts = AlertFacts::default();
    for id in &sigma.event_ids {
        match events.get(id) {
            Some(event) => facts.add_event(event),
            None => tracing::warn!(event = id, alert = %sigma.id, "event of an alert not found"),
        }
    }
    facts.alert(sigma, status)
}

/// The `Nats-Msg-Id` of one version of an alert: its id, status and events. A replay after a
/// failover produces the same versions with the same ids, which the alert stream (within its
/// duplicate window) and the sink (always) drop; a genuinely new version (more events,
/// withdrawn) has a new id.
pub fn message_id(alert: &Alert) -> String {
    let mut hash = Sha256::new();
    let status: &[u8] = match alert.status {
        AlertStatus::Active => b"active",
        AlertStatus::Withdrawn => b"withdrawn",
    };
    hash.update(status);
    for id in &alert.event_ids {
        hash.update(id.to_be_bytes());
    }
    let digest = hash.finalize();
    format!("{}:{}", alert.id, hex::encode(&digest[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_sigma::{AlertKind, CorrelationType, Level};

    /// A correlation alert (the kind that is updated and withdrawn).
    fn sigma(id: &str, events: Vec<u64>) -> onesec_sigma::Alert {
        onesec_sigma::Alert {
            kind: AlertKind::Correlation(CorrelationType::Temporal),
            ..single(id, events)
        }
    }

    fn single(id: &str, events: Vec<u64>) -> onesec_sigma::Alert {
        onesec_sigma::Alert {
            id: id.into(),
            rule_id: "r1".into(),
            rule_name: None,
            title: "t".into(),
            level: Level::High,
            tags: Vec::new(),
            description: None,
            author: None,
            group: Vec::new(),
            event_ids: events,
            first_time_ms: 0,
            last_time_ms: 0,
            logsources: Vec::new(),
            kind: AlertKind::Single,
        }
    }

    #[test]
    fn message_ids_differ_by_version_and_repeat_for_the_same_version() {
        let mut builder = AlertBuilder::default();
        let events = HashMap::new();
        let first = builder
            .build(Output::Fired(sigma("a1", vec![1])), &events)
            .unwrap();
        let grown = builder
            .build(Output::Updated(sigma("a1", vec![1, 2])), &events)
            .unwrap();
        let withdrawn = builder
            .build(
                Output::Withdrawn {
                    alert_id: "a1".into(),
                },
                &events,
            )
            .unwrap();
        let ids = [&first, &grown, &withdrawn].map(message_id);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        let mut replay = AlertBuilder::default();
        let again = replay
            .build(Output::Fired(sigma("a1", vec![1])), &events)
            .unwrap();
        assert_eq!(message_id(&again), ids[0]);
        assert_eq!(withdrawn.status, AlertStatus::Withdrawn);
    }

    #[test]
    fn single_event_alerts_leave_nothing_in_the_builder() {
        use onesec_event::{Activity, EventClass};
        let mut event = Event::new(1000, EventClass::Authentication, Activity::Logon);
        event.id = 7;
        event.resolved.site = Some("s1".into());
        let events: HashMap<EventId, Event> = [(7, event)].into_iter().collect();
        let mut builder = AlertBuilder::default();
        assert_eq!(
            builder.needed(&Output::Fired(single("s", vec![7]))),
            vec![7]
        );
        let alert = builder
            .build(Output::Fired(single("s", vec![7])), &events)
            .unwrap();
        assert_eq!(alert.entities.sites.len(), 1, "entities still gathered");
        assert_eq!(builder.state(), AlertBuilder::default().state());
        builder.build(Output::Fired(sigma("c", vec![7])), &events);
        assert_ne!(
            builder.state(),
            AlertBuilder::default().state(),
            "correlation alerts are kept"
        );
    }

    #[test]
    fn a_restored_builder_builds_what_the_original_would() {
        use onesec_event::{Activity, EventClass};
        let event = |id: u64, site: &str| {
            let mut event = Event::new(1000, EventClass::Authentication, Activity::Logon);
            event.id = id;
            event.resolved.site = Some(site.into());
            event
        };
        let events: HashMap<EventId, Event> = [(1, "s1"), (2, "s2"), (3, "s3")]
            .into_iter()
            .map(|(id, person)| (id, event(id, person)))
            .collect();
        let mut original = AlertBuilder::default();
        original.build(Output::Fired(sigma("a1", vec![1])), &events);
        original.build(Output::Updated(sigma("a1", vec![1, 2])), &events);
        let state = original.state();
        let json = serde_json::to_vec(&state).unwrap();
        let mut restored = AlertBuilder::restore(serde_json::from_slice(&json).unwrap());
        assert_eq!(restored.state(), state);

        // The next version: the restored builder asks for the events it must fold again.
        let next = Output::Updated(sigma("a1", vec![2, 3]));
        let mut needed = restored.needed(&next);
        needed.sort();
        assert_eq!(needed, vec![1, 2, 3]);
        let from_original = original.build(next.clone(), &events).unwrap();
        let from_restored = restored.build(next, &events).unwrap();
        assert_eq!(from_restored, from_original);
        assert_eq!(from_restored.entities.sites.len(), 3);
        // A withdrawal of an alert built before the snapshot.
        let withdraw = || Output::Withdrawn {
            alert_id: "a1".into(),
        };
        assert_eq!(
            restored.build(withdraw(), &events),
            original.build(withdraw(), &events)
        );
    }
}
