//! Engine outputs of one partition → the product alerts the sink groups into incidents, and
//! the message id that lets JetStream and the sink drop a replayed alert.
//!
//! The same conversion as the embedded detector's (`onesec_pipeline::detect`): entities and
//! domain from the alert's events, withdrawals as the last version with status `withdrawn`.

use onesec_event::{Event, EventId};
use onesec_incident::{Alert, AlertStatus};
use onesec_pipeline::AlertFacts;
use onesec_sigma::Output;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Turns engine outputs into product alerts; one per partition, deterministic.
#[derive(Default)]
pub struct AlertBuilder {
    facts: HashMap<String, AlertFacts>,
    last: HashMap<String, Alert>,
}

impl AlertBuilder {
    /// Event ids an output names that the builder has not folded in yet (the caller makes
    /// them available to [`AlertBuilder::build`]).
    pub fn needed(&self, output: &Output) -> Vec<EventId> {
        let sigma = match output {
            Output::Fired(a) | Output::Updated(a) => a,
            Output::Withdrawn { .. } => return Vec::new(),
        };
        let known = self.facts.get(&sigma.id);
        sigma
            .event_ids
            .iter()
            .copied()
            .filter(|id| known.is_none_or(|f| !f.has_seen(*id)))
            .collect()
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
        let facts = self.facts.entry(sigma.id.clone()).or_default();
        for id in &sigma.event_ids {
            if facts.has_seen(*id) {
                continue;
            }
            let Some(event) = events.get(id) else {
                tracing::warn!(event = id, alert = %sigma.id, "event of an alert not found");
                continue;
            };
            facts.add_event(event);
        }
        let alert = facts.alert(sigma, status);
        self.last.insert(alert.id.clone(), alert.clone());
        Some(alert)
    }
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
    use onesec_sigma::{AlertKind, Level};

    fn sigma(id: &str, events: Vec<u64>) -> onesec_sigma::Alert {
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
}
