//! Roles, permissions and the table between them (rendered in `docs/permissions.md`, which a
//! test keeps in step with this file).

use serde::{Deserialize, Serialize};

/// What a person or a machine is in onesec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and tokens.
    Admin,
    /// IT security operations: works incidents, reads events, rules, dead letters.
    SocAnalyst,
    /// Physical security control room: works incidents, reads events; reloads the directory.
    PhysicalOperator,
    /// Compliance: reads incidents, alerts, the audit log and reports; works compliance tasks.
    ComplianceOfficer,
    /// Management: reads incidents and status; decides management tasks.
    Manager,
    /// Read-only: incidents, alerts, events, the audit log and reports.
    Auditor,
    /// A machine that sends events (a log shipper, a connector); nothing else.
    Ingest,
}

/// One thing the API lets a caller do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Send events (`POST /api/v1/events`).
    IngestEvents,
    /// Read stored events.
    ReadEvents,
    /// Read incidents and their timelines.
    ReadIncidents,
    /// Change an incident's state.
    WorkIncidents,
    /// Start incident playbooks and approve or reject their tasks.
    WorkTasks,
    /// Read alerts.
    ReadAlerts,
    /// Read the device inventory, its hygiene findings and posture.
    ReadDevices,
    /// Read refused input.
    ReadDeadLetters,
    /// Read the loaded and refused rules.
    ReadRules,
    /// Re-read the directory files.
    ReloadDirectory,
    /// Read journal and detection positions.
    ReadStatus,
    /// Scrape Prometheus metrics.
    ReadMetrics,
    /// Read audit proofs and checkpoints.
    ReadAudit,
    /// Export an incident: the signed bundle (with its audit proofs) and the report; the
    /// unified compliance reports (they name who entered restricted zones).
    ReadExports,
    /// Read the control catalogue, coverage, regulatory marks, deadlines and drafts.
    ReadCompliance,
    /// Mark incidents for NIS2 / GDPR, edit and submit notification drafts.
    WorkCompliance,
    /// Place and lift legal holds on incidents, run retention (docs/privacy.md).
    ManagePrivacy,
    /// See who an incident's pseudonyms stand for, when `[privacy.pseudonymisation]` is on
    /// (docs/privacy.md): those who must act on a person (stop them at a door, lock their
    /// account, notify a breach), not those who only read.
    RevealIdentities,
    /// Create users and tokens.
    ManageUsers,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::SocAnalyst,
        Role::PhysicalOperator,
        Role::ComplianceOfficer,
        Role::Manager,
        Role::Auditor,
        Role::Ingest,
    ];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SocAnalyst => "soc_analyst",
            Role::PhysicalOperator => "physical_operator",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Manager => "manager",
            Role::Auditor => "auditor",
            Role::Ingest => "ingest",
        }
    }

    /// A role by name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name.trim())
    }

    /// What the role may do.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Admin => &Permission::ALL,
            Role::SocAnalyst => &[
                ReadEvents,
                ReadIncidents,
                WorkIncidents,
                WorkTasks,
                ReadAlerts,
                ReadDevices,
                ReadDeadLetters,
                ReadRules,
                ReadStatus,
                ReadMetrics,
                ReadExports,
                RevealIdentities,
            ],
            Role::PhysicalOperator => &[
                ReadEvents,
                ReadIncidents,
                WorkIncidents,
                WorkTasks,
                ReadAlerts,
                ReadDevices,
                ReloadDirectory,
                ReadStatus,
                ReadExports,
                RevealIdentities,
            ],
            Role::ComplianceOfficer => &[
                ReadIncidents,
                WorkTasks,
                ReadAlerts,
                ReadDevices,
                ReadAudit,
                ReadStatus,
                ReadExports,
                ReadCompliance,
                WorkCompliance,
                ManagePrivacy,
                RevealIdentities,
            ],
            Role::Manager => &[ReadIncidents, WorkTasks, ReadStatus, ReadCompliance],
            Role::Auditor => &[
                ReadEvents,
                ReadIncidents,
                ReadAlerts,
                ReadDevices,
                ReadDeadLetters,
                ReadRules,
                ReadAudit,
                ReadStatus,
                ReadExports,
                ReadCompliance,
            ],
            Role::Ingest => &[IngestEvents],
        }
    }

    /// Whether the role may do `p`.
    pub fn may(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl Permission {
    /// Every permission, in documentation order.
    pub const ALL: [Permission; 19] = [
        Permission::IngestEvents,
        Permission::ReadEvents,
        Permission::ReadIncidents,
        Permission::WorkIncidents,
        Permission::WorkTasks,
        Permission::ReadAlerts,
        Permission::ReadDevices,
        Permission::ReadDeadLetters,
        Permission::ReadRules,
        Permission::ReloadDirectory,
        Permission::ReadStatus,
        Permission::ReadMetrics,
        Permission::ReadAudit,
        Permission::ReadExports,
        Permission::ReadCompliance,
        Permission::WorkCompliance,
        Permission::ManagePrivacy,
        Permission::RevealIdentities,
        Permission::ManageUsers,
    ];

    /// The permission's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::IngestEvents => "ingest_events",
            Permission::ReadEvents => "read_events",
            Permission::ReadIncidents => "read_incidents",
            Permission::WorkIncidents => "work_incidents",
            Permission::WorkTasks => "work_tasks",
            Permission::ReadAlerts => "read_alerts",
            Permission::ReadDevices => "read_devices",
            Permission::ReadDeadLetters => "read_dead_letters",
            Permission::ReadRules => "read_rules",
            Permission::ReloadDirectory => "reload_directory",
            Permission::ReadStatus => "read_status",
            Permission::ReadMetrics => "read_metrics",
            Permission::ReadAudit => "read_audit",
            Permission::ReadExports => "read_exports",
            Permission::ReadCompliance => "read_compliance",
            Permission::WorkCompliance => "work_compliance",
            Permission::ManagePrivacy => "manage_privacy",
            Permission::RevealIdentities => "reveal_identities",
            Permission::ManageUsers => "manage_users",
        }
    }
}

/// The permission table as Markdown (roles across, permissions down).
pub fn permission_table() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    out.push_str(&":---:|".repeat(Role::ALL.len()));
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| `{}` |", p.as_str()));
        for role in Role::ALL {
            out.push_str(if role.may(p) { " ✔ |" } else { "  |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_admin_manages_users() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(role == Role::Admin, role.may(Permission::ManageUsers));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(
            Role::Auditor
                .permissions()
                .iter()
                .all(|p| p.as_str().starts_with("read"))
        );
    }
}
