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
            IncidentState::New | IncidentState::Acknowledged | IncidentState::InProgress
        )
    }

    /// Whether a person may move an incident from `self` to `next`.
    pub fn can_move_to(self, next: IncidentState) -> bool {
        use IncidentState::*;
        matches!(
            (self, next),
            (New, Acknowledged | InProgress | Resolved | Closed)
                | (Acknowledged, InProgress | Resolved | Closed)
                | (InProgress, Resolved | Closed)
                | (Resolved, Closed | InProgress)
        )
    }
}

/// A refused state change.
#[derive(Debug, thiserror::Error)]
#[error("incident {id} cannot go from {from} to {to}")]
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
