//! The incident: one case that gathers alerts about the same entities.

use crate::Entities;
use onesec_event::{Domain, Severity};
use serde::{Deserialize, Serialize};

/// Life cycle of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Opened by detection, nobody has looked yet.
    New,
    /// Someone took it.
    Acknowledged,
    /// Being worked on.
    InProgress,
    /// Paused: waiting for someone outside the control room (a vendor, the police, a guard's
    /// round); still open, alerts still join it.
    OnHold,
    /// Handled; can be reopened by new alerts.
    Resolved,
    /// Finished.
    Closed,
    /// Every alert in it was withdrawn by late evidence.
    Withdrawn,
    /// Joined into another incident (see `merged_into`).
    Merged,
}

impl IncidentState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "new",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::InProgress => "in_progress",
            IncidentState::OnHold => "on_hold",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
            IncidentState::Withdrawn => "withdrawn",
            IncidentState::Merged => "merged",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(text: &str) -> Option<IncidentState> {
        Some(match text {
            "new" => IncidentState::New,
            "acknowledged" => IncidentState::Acknowledged,
            "in_progress" => IncidentState::InProgress,
            "on_hold" => IncidentState::OnHold,
            "resolved" => IncidentState::Resolved,
            "closed" => IncidentState::Closed,
            "withdrawn" => IncidentState::Withdrawn,
            "merged" => IncidentState::Merged,
            _ => return None,
        })
    }

    /// Whether alerts may still join an incident in this state.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentState::New
                | IncidentState::Acknowledged
                | IncidentState::InProgress
                | IncidentState::OnHold
        )
    }

    /// Whether a person may move an incident from `self` to `next`: forward along
    /// new → acknowledged → in progress ⇄ on hold → resolved → closed, skipping ahead allowed
    /// (a false alarm is closed straight from new), a resolved incident reopened to in progress.
    /// Closed, merged and withdrawn incidents do not move.
    pub fn can_move_to(self, next: IncidentState) -> bool {
        use IncidentState::*;
        matches!(
            (self, next),
            (New, Acknowledged | InProgress | OnHold | Resolved | Closed)
                | (Acknowledged, InProgress | OnHold | Resolved | Closed)
                | (InProgress, OnHold | Resolved | Closed)
                | (OnHold, InProgress | Resolved | Closed)
                | (Resolved, Closed | InProgress)
        )
    }

    /// The states a person may set, in life-cycle order (for error messages and docs).
    pub const HUMAN: [IncidentState; 6] = [
        IncidentState::New,
        IncidentState::Acknowledged,
        IncidentState::InProgress,
        IncidentState::OnHold,
        IncidentState::Resolved,
        IncidentState::Closed,
    ];

    /// Whether only detection sets this state (new, merged, withdrawn); any other state was
    /// set by a person and detection must keep it.
    pub fn is_machine_set(self) -> bool {
        matches!(
            self,
            IncidentState::New | IncidentState::Merged | IncidentState::Withdrawn
        )
    }
}

/// A refused state change.
#[derive(Debug, thiserror::Error)]
#[error(
    "incident {id} cannot go from {from} to {to} (allowed: new → acknowledged → in_progress ⇄ on_hold → resolved → closed, resolved → in_progress)"
)]
pub struct StateError {
    /// Incident id.
    pub id: String,
    /// Current state.
    pub from: &'static str,
    /// Requested state.
    pub to: &'static str,
}

/// One case: the alerts, their entities, domain, priority and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id derived from the alert that opened it.
    pub id: String,
    /// Title of the most severe alert.
    pub title: String,
    /// Physical, cyber or hybrid.
    pub domain: Domain,
    /// Highest alert severity.
    pub priority: Severity,
    /// Life-cycle state.
    pub state: IncidentState,
    /// Alerts in it (active and withdrawn).
    pub alert_ids: Vec<String>,
    /// Alerts that still stand.
    pub active_alerts: usize,
    /// Everything its alerts name.
    pub entities: Entities,
    /// Event time of its first event.
    pub first_ms: i64,
    /// Event time of its last event.
    pub last_ms: i64,
    /// When it was merged into another incident, that incident's id.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// Flood control: repeats counted on its active alerts (a repeating alarm adds one here
    /// instead of opening or growing an incident).
    #[serde(default)]
    pub repeats: u64,
}

impl Incident {
    /// Moves the incident to `next` if the life cycle allows it.
    pub fn transition(&mut self, next: IncidentState) -> Result<(), StateError> {
        if !self.state.can_move_to(next) {
            return Err(StateError {
                id: self.id.clone(),
                from: self.state.as_str(),
                to: next.as_str(),
            });
        }
        self.state = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::IncidentState::{self, *};

    #[test]
    fn the_life_cycle_moves_forward_and_reopens_only_from_resolved() {
        let path = [
            New,
            Acknowledged,
            InProgress,
            OnHold,
            InProgress,
            Resolved,
            Closed,
        ];
        for pair in path.windows(2) {
            assert!(
                pair[0].can_move_to(pair[1]),
                "{:?} → {:?}",
                pair[0],
                pair[1]
            );
        }
        assert!(New.can_move_to(Closed), "a false alarm closes at once");
        assert!(Resolved.can_move_to(InProgress), "reopen");
        for from in [Closed, Merged, Withdrawn] {
            for to in IncidentState::HUMAN {
                assert!(!from.can_move_to(to), "{from:?} → {to:?}");
            }
        }
        assert!(!InProgress.can_move_to(Acknowledged));
        assert!(!OnHold.can_move_to(New));
        assert!(OnHold.is_open() && !Resolved.is_open());
    }

    #[test]
    fn names_round_trip() {
        for state in IncidentState::HUMAN.into_iter().chain([Merged, Withdrawn]) {
            assert_eq!(IncidentState::parse(state.as_str()), Some(state));
        }
        assert_eq!(IncidentState::parse("paused"), None);
    }
}
