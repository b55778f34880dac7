//! Who does a manual step: the four teams of onesec, and how a step's `owner` or agent maps to
//! one of them.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{Playbook, Step};

/// The teams a task can be assigned to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    ItSoc,
    PhysicalSecurity,
    Compliance,
    Management,
}

impl Team {
    pub const ALL: [Team; 4] = [
        Team::ItSoc,
        Team::PhysicalSecurity,
        Team::Compliance,
        Team::Management,
    ];

    /// The stable key (`it_soc`, `physical_security`, `compliance`, `management`).
    pub fn key(self) -> &'static str {
        match self {
            Team::ItSoc => "it_soc",
            Team::PhysicalSecurity => "physical_security",
            Team::Compliance => "compliance",
            Team::Management => "management",
        }
    }

    /// A team from its key or a name written like one ("Physical Security", "IT-SOC").
    pub fn from_name(name: &str) -> Option<Team> {
        let normal: String = name
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect();
        Team::ALL.into_iter().find(|t| t.key() == normal)
    }
}

impl fmt::Display for Team {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// How a step was assigned to its team (kept in the run log so the assignment can be checked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Assignment {
    /// The step's `owner` identity is in the team map.
    Owner(String),
    /// The step's agent id is in the team map.
    AgentId(String),
    /// The step's agent is named after a team.
    AgentName(String),
    /// Nothing matched: the default team.
    Default,
}

/// Identity or agent ids → teams, plus the team that gets what nobody claims.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeamMap {
    ids: BTreeMap<String, Team>,
    pub default_team: Team,
}

impl Default for TeamMap {
    fn default() -> Self {
        TeamMap {
            ids: BTreeMap::new(),
            default_team: Team::ItSoc,
        }
    }
}

impl TeamMap {
    pub fn new(default_team: Team) -> Self {
        TeamMap {
            ids: BTreeMap::new(),
            default_team,
        }
    }

    /// Maps an identity (`identity--…`) or agent id to a team.
    pub fn with(mut self, id: &str, team: Team) -> Self {
        self.ids.insert(id.to_string(), team);
        self
    }

    /// The identities the shipped playbooks use as `owner`.
    pub fn onesec_default() -> Self {
        TeamMap::new(Team::ItSoc)
            .with(crate::builtin::IDENTITY_IT_SOC, Team::ItSoc)
            .with(crate::builtin::IDENTITY_PHYSICAL, Team::PhysicalSecurity)
            .with(crate::builtin::IDENTITY_COMPLIANCE, Team::Compliance)
            .with(crate::builtin::IDENTITY_MANAGEMENT, Team::Management)
    }

    /// Owner first (the spec's "responsible party"), then the agent by id, then by name.
    pub fn resolve(&self, playbook: &Playbook, step: &Step) -> (Team, Assignment) {
        if let Some(owner) = &step.owner
            && let Some(team) = self.ids.get(owner)
        {
            return (*team, Assignment::Owner(owner.clone()));
        }
        if let Some(agent) = &step.agent {
            if let Some(team) = self.ids.get(agent) {
                return (*team, Assignment::AgentId(agent.clone()));
            }
            let named = playbook
                .agent_definitions
                .get(agent)
                .and_then(|def| Team::from_name(&def.name));
            if let Some(team) = named {
                return (team, Assignment::AgentName(agent.clone()));
            }
        }
        (self.default_team, Assignment::Default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names_are_normalised() {
        assert_eq!(
            Team::from_name("Physical Security"),
            Some(Team::PhysicalSecurity)
        );
        assert_eq!(Team::from_name("IT-SOC"), Some(Team::ItSoc));
        assert_eq!(Team::from_name("compliance"), Some(Team::Compliance));
        assert_eq!(Team::from_name("facilities"), None);
    }
}
