//! The case a control room works: what people add to an incident that detection does not know.
//!
//! Detection owns the [`Incident`] (alerts, entities, domain, severity). People own the
//! [`Case`] beside it: priority 1–5, category (including false alarm and exercise), owner team,
//! assignee, SLA due dates and escalation. Every change made to either by a person is a
//! [`HistoryEntry`] (who, when, from what to what, why). [`Route`] picks the owner team from
//! [`RouteRule`]s on domain, site and category; [`SlaPolicy`] gives the due dates per priority.
//!
//! Like the rest of this crate: no I/O, no clock. Every function that depends on time takes
//! `now_ms` (UTC milliseconds on the caller's clock, which tests replace).

use crate::Incident;
use onesec_event::{Domain, Severity};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Urgency from 1 (act now) to 5 (when there is time), as control rooms rank cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

/// A priority outside 1–5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("priority {0} is out of range: 1 (most urgent) to 5")]
pub struct PriorityError(pub i64);

impl Priority {
    /// The most urgent priority.
    pub const HIGHEST: Priority = Priority(1);

    /// A priority from 1 to 5.
    pub fn new(value: i64) -> Result<Priority, PriorityError> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Priority(v)),
            _ => Err(PriorityError(value)),
        }
    }

    /// 1 to 5.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Index into per-priority tables (0 for priority 1).
    pub fn index(self) -> usize {
        usize::from(self.0 - 1)
    }

    /// The priority detection derives: the highest alert severity (critical 1, high 2,
    /// medium 3, low 4, informational 5), one step more urgent when both worlds are involved
    /// (a hybrid incident is the attack the product exists for).
    pub fn derive(severity: Severity, domain: Domain) -> Priority {
        let base: u8 = match severity {
            Severity::Critical => 1,
            Severity::High => 2,
            Severity::Medium => 3,
            Severity::Low => 4,
            _ => 5,
        };
        let bump = u8::from(domain == Domain::Hybrid);
        Priority(base.saturating_sub(bump).max(1))
    }

    /// [`Priority::derive`], then one step more urgent for each risk the incident carries (a
    /// critical asset, a person at risk); never above 1.
    pub fn derive_with(severity: Severity, domain: Domain, risk: Risk) -> Priority {
        let base = Priority::derive(severity, domain).0;
        let bump = u8::from(risk.critical_asset) + u8::from(risk.person_at_risk);
        Priority(base.saturating_sub(bump).max(1))
    }
}

/// What besides severity and domain makes an incident more urgent, as the directory says
/// (the caller looks it up: this crate does no I/O).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    /// It concerns a critical asset: a zone tagged `restricted` or `critical`.
    pub critical_asset: bool,
    /// It concerns a person at risk: terminated, or on leave.
    pub person_at_risk: bool,
}

impl Risk {
    /// The risks, for a history entry (`""` when none).
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.critical_asset {
            parts.push("critical asset");
        }
        if self.person_at_risk {
            parts.push("person at risk");
        }
        parts.join(", ")
    }
}

impl TryFrom<u8> for Priority {
    type Error = PriorityError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Priority::new(i64::from(value))
    }
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p.0
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// What kind of case it turned out to be. Set by people; `exercise` also keeps every
/// automated response action from running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Nobody classified it yet.
    #[default]
    Unclassified,
    /// Someone entered where they should not (forced door, tailgating, cloned badge).
    Intrusion,
    /// Access with valid credentials that should not have been used (terminated person,
    /// impossible travel).
    UnauthorizedAccess,
    /// An account taken over (brute force, VPN from abroad).
    AccountCompromise,
    /// Malware or exfiltration on a host.
    Malware,
    /// A camera, reader or controller tampered with or reconfigured.
    DeviceTampering,
    /// A rule of the house broken without an attack (after-hours presence, USB).
    PolicyViolation,
    /// People's safety (duress, fire door).
    Safety,
    /// Nothing happened: the alert was wrong.
    FalseAlarm,
    /// A drill: the response is simulated, no action runs.
    Exercise,
}

impl Category {
    /// Every category, in the order the docs list them.
    pub const ALL: [Category; 10] = [
        Category::Unclassified,
        Category::Intrusion,
        Category::UnauthorizedAccess,
        Category::AccountCompromise,
        Category::Malware,
        Category::DeviceTampering,
        Category::PolicyViolation,
        Category::Safety,
        Category::FalseAlarm,
        Category::Exercise,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Unclassified => "unclassified",
            Category::Intrusion => "intrusion",
            Category::UnauthorizedAccess => "unauthorized_access",
            Category::AccountCompromise => "account_compromise",
            Category::Malware => "malware",
            Category::DeviceTampering => "device_tampering",
            Category::PolicyViolation => "policy_violation",
            Category::Safety => "safety",
            Category::FalseAlarm => "false_alarm",
            Category::Exercise => "exercise",
        }
    }

    /// Parses the snake_case name (`false alarm` and `false-alarm` are accepted too).
    pub fn parse(text: &str) -> Option<Category> {
        let normal = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Category::ALL.into_iter().find(|c| c.as_str() == normal)
    }

    /// The list of names, for error messages.
    pub fn names() -> String {
        Category::ALL.map(Category::as_str).join(", ")
    }
}

/// One rule of the routing table: an incident matching every field given goes to `team`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// `physical`, `cyber` or `hybrid`; any when absent.
    #[serde(default)]
    pub domain: Option<String>,
    /// A site id the incident names; any when absent.
    #[serde(default)]
    pub site: Option<String>,
    /// A category name; any when absent.
    #[serde(default)]
    pub category: Option<String>,
    /// The owner team (`it_soc`, `physical_security`, `compliance`, `management`).
    pub team: String,
    /// Who is told next, in order, when nobody acknowledges within the SLA (team keys or
    /// people's names).
    #[serde(default)]
    pub escalation: Vec<String>,
}

impl RouteRule {
    fn matches(&self, incident: &Incident, category: Category) -> bool {
        let domain = self
            .domain
            .as_deref()
            .is_none_or(|d| d == incident.domain.as_str());
        let site = self
            .site
            .as_deref()
            .is_none_or(|s| incident.entities.sites.contains(s));
        let category = self
            .category
            .as_deref()
            .is_none_or(|c| Category::parse(c) == Some(category));
        domain && site && category
    }
}

/// Where an incident goes: its owner team, the escalation chain, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The owner team's key.
    pub team: String,
    /// Who is told next, in order, when nobody acknowledges in time.
    pub escalation: Vec<String>,
    /// `rule <n>` (0-based, in the configured order) or `default for <domain>`.
    pub reason: String,
}

impl Route {
    /// The first rule that matches, else the default: physical incidents to physical
    /// security, cyber and hybrid ones to the IT SOC (the control room's duty desk), each
    /// escalating to management.
    pub fn pick(rules: &[RouteRule], incident: &Incident, category: Category) -> Route {
        if let Some((n, rule)) = rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(incident, category))
        {
            return Route {
                team: rule.team.clone(),
                escalation: rule.escalation.clone(),
                reason: format!("rule {n}"),
            };
        }
        let team = match incident.domain {
            Domain::Physical => "physical_security",
            _ => "it_soc",
        };
        Route {
            team: team.to_string(),
            escalation: vec!["management".to_string()],
            reason: format!("default for {}", incident.domain.as_str()),
        }
    }
}

/// How long a case may wait for acknowledgement and for resolution, per priority (index 0
/// is priority 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// Milliseconds from opening to acknowledgement; also the interval between escalations.
    pub ack_ms: [u64; 5],
    /// Milliseconds from opening to resolution.
    pub resolve_ms: [u64; 5],
}

impl Default for SlaPolicy {
    /// Acknowledge within 5 min, 15 min, 1 h, 4 h, 24 h; resolve within 4 h, 8 h, 24 h, 3 days,
    /// 7 days (priority 1 to 5).
    fn default() -> Self {
        const MIN: u64 = 60_000;
        const HOUR: u64 = 60 * MIN;
        SlaPolicy {
            ack_ms: [5 * MIN, 15 * MIN, HOUR, 4 * HOUR, 24 * HOUR],
            resolve_ms: [4 * HOUR, 8 * HOUR, 24 * HOUR, 72 * HOUR, 168 * HOUR],
        }
    }
}

/// The working record of an incident: everything people set or the SLA clock derives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The incident it belongs to.
    pub incident_id: String,
    /// Current priority.
    pub priority: Priority,
    /// Who set the priority by hand (`None`: derived from the incident).
    #[serde(default)]
    pub priority_set_by: Option<String>,
    /// What kind of case it is.
    pub category: Category,
    /// Owner team key.
    pub owner_team: String,
    /// The person working it, when someone took it.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Why the owner team was chosen (routing rule, or who assigned it).
    pub routed_by: String,
    /// Who is told next when nobody acknowledges.
    #[serde(default)]
    pub escalation: Vec<String>,
    /// How many escalation steps were taken.
    #[serde(default)]
    pub escalation_level: usize,
    /// Those told so far, in order.
    #[serde(default)]
    pub escalated_to: Vec<String>,
    /// When the case was opened (caller's clock, UTC ms).
    pub opened_ms: i64,
    /// Acknowledge by then.
    pub ack_due_ms: i64,
    /// Resolve by then.
    pub resolve_due_ms: i64,
    /// When the next escalation is due (`None`: acknowledged, or nobody left to tell).
    #[serde(default)]
    pub next_escalation_ms: Option<i64>,
    /// When and by whom it was acknowledged (first move out of `new`).
    #[serde(default)]
    pub acknowledged: Option<(i64, String)>,
    /// When it was resolved or closed (first time).
    #[serde(default)]
    pub resolved_ms: Option<i64>,
}

impl Case {
    /// Opens the case of an incident: derived priority, routed owner, due dates from now.
    pub fn open(incident: &Incident, rules: &[RouteRule], sla: &SlaPolicy, now_ms: i64) -> Case {
        Case::open_with(incident, Risk::default(), rules, sla, now_ms)
    }

    /// [`Case::open`] for an incident carrying `risk` (the priority is more urgent for it).
    pub fn open_with(
        incident: &Incident,
        risk: Risk,
        rules: &[RouteRule],
        sla: &SlaPolicy,
        now_ms: i64,
    ) -> Case {
        let category = Category::Unclassified;
        let route = Route::pick(rules, incident, category);
        let priority = Priority::derive_with(incident.priority, incident.domain, risk);
        let mut case = Case {
            incident_id: incident.id.clone(),
            priority,
            priority_set_by: None,
            category,
            owner_team: route.team,
            assignee: None,
            routed_by: route.reason,
            escalation: route.escalation,
            escalation_level: 0,
            escalated_to: Vec::new(),
            opened_ms: now_ms,
            ack_due_ms: now_ms,
            resolve_due_ms: now_ms,
            next_escalation_ms: None,
            acknowledged: None,
            resolved_ms: None,
        };
        case.reschedule(sla);
        case
    }

    /// Follows an incident that detection changed (new alerts made it hybrid, or more
    /// severe): the derived priority and the routed owner are updated unless a person set
    /// them (a priority set by hand, a team assigned by hand, an acknowledged case). Returns
    /// what changed as (field, from, to).
    pub fn follow(
        &mut self,
        incident: &Incident,
        rules: &[RouteRule],
        sla: &SlaPolicy,
    ) -> Vec<(&'static str, String, String)> {
        self.follow_with(incident, Risk::default(), rules, sla)
    }

    /// [`Case::follow`] for an incident carrying `risk`.
    pub fn follow_with(
        &mut self,
        incident: &Incident,
        risk: Risk,
        rules: &[RouteRule],
        sla: &SlaPolicy,
    ) -> Vec<(&'static str, String, String)> {
        let mut changed = Vec::new();
        if self.priority_set_by.is_none() {
            let derived = Priority::derive_with(incident.priority, incident.domain, risk);
            if derived != self.priority {
                changed.push((
                    "priority",
                    self.priority.get().to_string(),
                    derived.get().to_string(),
                ));
                self.priority = derived;
                self.reschedule(sla);
            }
        }
        let routed = !self.routed_by.starts_with("assigned by");
        if routed && self.acknowledged.is_none() {
            let route = Route::pick(rules, incident, self.category);
            if route.team != self.owner_team {
                changed.push(("route", self.owner_team.clone(), route.team.clone()));
                self.owner_team = route.team;
                self.escalation = route.escalation;
                self.routed_by = route.reason;
                self.reschedule(sla);
            }
        }
        changed
    }

    /// Recomputes the due dates from the opening time and the current priority (after a
    /// priority change); escalation restarts from the new acknowledgement deadline.
    pub fn reschedule(&mut self, sla: &SlaPolicy) {
        let i = self.priority.index();
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.ack_due_ms = self.opened_ms.saturating_add(ms(sla.ack_ms[i]));
        self.resolve_due_ms = self.opened_ms.saturating_add(ms(sla.resolve_ms[i]));
        self.next_escalation_ms = match self.acknowledged {
            None if self.escalation_level < self.escalation.len() => {
                let step = ms(sla.ack_ms[i]);
                let level = i64::try_from(self.escalation_level).unwrap_or(i64::MAX);
                Some(self.ack_due_ms.saturating_add(step.saturating_mul(level)))
            }
            _ => None,
        };
    }

    /// Records that the incident's state changed: the first move out of `new` acknowledges
    /// (and stops escalation), the first resolution stops the resolution clock.
    pub fn state_changed(&mut self, to: crate::IncidentState, by: &str, now_ms: i64) {
        use crate::IncidentState::*;
        if self.acknowledged.is_none() && !matches!(to, New | Merged | Withdrawn) {
            self.acknowledged = Some((now_ms, by.to_string()));
            self.next_escalation_ms = None;
        }
        if self.resolved_ms.is_none() && matches!(to, Resolved | Closed) {
            self.resolved_ms = Some(now_ms);
        }
    }

    /// When nobody acknowledged in time: the next recipient of the chain, after moving the
    /// case to it (the next escalation is one acknowledgement SLA later). `None` when nothing
    /// is due at `now_ms`.
    pub fn escalate(&mut self, sla: &SlaPolicy, now_ms: i64) -> Option<String> {
        let due = self.next_escalation_ms?;
        if now_ms < due || self.acknowledged.is_some() {
            return None;
        }
        let recipient = self.escalation.get(self.escalation_level)?.clone();
        self.escalation_level += 1;
        self.escalated_to.push(recipient.clone());
        let step = i64::try_from(sla.ack_ms[self.priority.index()]).unwrap_or(i64::MAX);
        self.next_escalation_ms = (self.escalation_level < self.escalation.len())
            .then(|| now_ms.max(due).saturating_add(step));
        Some(recipient)
    }

    /// Whether a deadline has passed without its event: `ack` (not acknowledged by the due
    /// date) or `resolve`.
    pub fn breaches(&self, now_ms: i64) -> Vec<&'static str> {
        let mut out = Vec::new();
        let acked_at = self.acknowledged.as_ref().map(|(at, _)| *at);
        if acked_at.unwrap_or(now_ms) > self.ack_due_ms {
            out.push("ack");
        }
        if self.resolved_ms.unwrap_or(now_ms) > self.resolve_due_ms {
            out.push("resolve");
        }
        out
    }
}

/// One thing a person (or the SLA clock) did to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the incident's history (assigned by the store, 0 before).
    #[serde(default)]
    pub seq: i64,
    /// The incident.
    pub incident_id: String,
    /// When (UTC ms on the service's clock).
    pub at_ms: i64,
    /// Who: a user or token name, or `onesec` for the SLA clock and detection.
    pub actor: String,
    /// `opened`, `state`, `priority`, `category`, `assign`, `comment`, `escalate`.
    pub action: String,
    /// The value before, when something changed.
    #[serde(default)]
    pub from: Option<String>,
    /// The value after.
    #[serde(default)]
    pub to: Option<String>,
    /// Why, in the person's words.
    #[serde(default)]
    pub comment: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entities, IncidentState};

    fn incident(domain: Domain, severity: Severity, site: &str) -> Incident {
        let mut entities = Entities::default();
        entities.sites.insert(site.into());
        Incident {
            id: "inc-1".into(),
            title: "t".into(),
            domain,
            priority: severity,
            state: IncidentState::New,
            alert_ids: vec![],
            active_alerts: 1,
            entities,
            first_ms: 0,
            last_ms: 0,
            merged_into: None,
            repeats: 0,
        }
    }

    #[test]
    fn priority_follows_severity_and_hybrid_is_more_urgent() {
        let p = |s, d| Priority::derive(s, d).get();
        assert_eq!(p(Severity::Critical, Domain::Hybrid), 1);
        assert_eq!(p(Severity::High, Domain::Physical), 2);
        assert_eq!(p(Severity::High, Domain::Hybrid), 1);
        assert_eq!(p(Severity::Medium, Domain::Cyber), 3);
        assert_eq!(p(Severity::Informational, Domain::Cyber), 5);
        assert!(Priority::new(0).is_err() && Priority::new(6).is_err());
        assert_eq!(Priority::new(3).map(Priority::get), Ok(3));
        assert!(serde_json::from_str::<Priority>("9").is_err());
    }

    #[test]
    fn categories_parse_loosely() {
        assert_eq!(Category::parse("false alarm"), Some(Category::FalseAlarm));
        assert_eq!(Category::parse("Exercise"), Some(Category::Exercise));
        assert_eq!(Category::parse("drill"), None);
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn the_first_matching_rule_routes_else_the_domain_default() {
        let rules = vec![
            RouteRule {
                site: Some("MTL".into()),
                team: "physical_security".into(),
                escalation: vec!["duty-manager".into()],
                ..RouteRule::default()
            },
            RouteRule {
                domain: Some("cyber".into()),
                category: Some("malware".into()),
                team: "compliance".into(),
                ..RouteRule::default()
            },
        ];
        let mtl = incident(Domain::Cyber, Severity::High, "MTL");
        let route = Route::pick(&rules, &mtl, Category::Unclassified);
        assert_eq!(
            (route.team.as_str(), route.reason.as_str()),
            ("physical_security", "rule 0")
        );
        let edi = incident(Domain::Cyber, Severity::High, "EDI");
        assert_eq!(
            Route::pick(&rules, &edi, Category::Malware).team,
            "compliance"
        );
        let fallback = Route::pick(&rules, &edi, Category::Intrusion);
        assert_eq!(fallback.team, "it_soc");
        assert_eq!(fallback.reason, "default for cyber");
        let physical = incident(Domain::Physical, Severity::High, "EDI");
        assert_eq!(
            Route::pick(&[], &physical, Category::Unclassified).team,
            "physical_security"
        );
    }

    #[test]
    fn escalation_walks_the_chain_until_someone_acknowledges() {
        let sla = SlaPolicy {
            ack_ms: [1_000; 5],
            resolve_ms: [10_000; 5],
        };
        let rules = vec![RouteRule {
            team: "physical_security".into(),
            escalation: vec!["it_soc".into(), "management".into()],
            ..RouteRule::default()
        }];
        let mut case = Case::open(
            &incident(Domain::Physical, Severity::High, "EDI"),
            &rules,
            &sla,
            100,
        );
        assert_eq!(case.ack_due_ms, 1_100);
        assert_eq!(case.resolve_due_ms, 10_100);
        assert_eq!(case.escalate(&sla, 1_099), None, "not due yet");
        assert_eq!(case.escalate(&sla, 1_100).as_deref(), Some("it_soc"));
        assert_eq!(case.next_escalation_ms, Some(2_100));
        assert_eq!(case.escalate(&sla, 1_500), None);
        assert_eq!(case.escalate(&sla, 2_100).as_deref(), Some("management"));
        assert_eq!(case.next_escalation_ms, None, "nobody left");
        assert_eq!(case.escalate(&sla, 9_000), None);
        assert_eq!(case.breaches(3_000), vec!["ack"]);
        case.state_changed(IncidentState::Acknowledged, "mia", 3_000);
        assert_eq!(case.acknowledged, Some((3_000, "mia".into())));
        assert_eq!(case.breaches(20_000), vec!["ack", "resolve"]);
    }

    #[test]
    fn a_case_follows_its_incident_until_a_person_decides() {
        let sla = SlaPolicy::default();
        let mut grown = incident(Domain::Physical, Severity::Medium, "EDI");
        let mut case = Case::open(&grown, &[], &sla, 0);
        assert_eq!(
            (case.owner_team.as_str(), case.priority.get()),
            ("physical_security", 3)
        );
        grown.domain = Domain::Hybrid;
        grown.priority = Severity::High;
        let changed = case.follow(&grown, &[], &sla);
        assert_eq!(
            changed,
            vec![
                ("priority", "3".into(), "1".into()),
                ("route", "physical_security".into(), "it_soc".into())
            ]
        );
        assert_eq!(case.ack_due_ms, 300_000, "due dates of priority 1");
        case.routed_by = "assigned by sam".into();
        case.owner_team = "compliance".into();
        case.priority_set_by = Some("sam".into());
        case.priority = Priority::new(5).unwrap_or(Priority::HIGHEST);
        assert!(
            case.follow(&grown, &[], &sla).is_empty(),
            "a person's choices stand"
        );
    }

    #[test]
    fn acknowledging_in_time_stops_escalation_and_priority_moves_due_dates() {
        let sla = SlaPolicy::default();
        let mut case = Case::open(
            &incident(Domain::Cyber, Severity::Medium, "EDI"),
            &[],
            &sla,
            0,
        );
        assert_eq!(case.priority.get(), 3);
        assert_eq!(case.ack_due_ms, 3_600_000);
        case.priority = Priority::HIGHEST;
        case.reschedule(&sla);
        assert_eq!(case.ack_due_ms, 300_000);
        assert_eq!(case.next_escalation_ms, Some(300_000));
        case.state_changed(IncidentState::InProgress, "sam", 1_000);
        assert_eq!(case.next_escalation_ms, None);
        assert_eq!(case.escalate(&sla, 10_000_000), None);
        assert!(case.breaches(1_000).is_empty());
    }

    #[test]
    fn a_critical_asset_and_a_person_at_risk_make_it_more_urgent() {
        let none = Risk::default();
        let asset = Risk {
            critical_asset: true,
            ..Risk::default()
        };
        let both = Risk {
            critical_asset: true,
            person_at_risk: true,
        };
        let p = |s, d, r| Priority::derive_with(s, d, r).get();
        assert_eq!(p(Severity::Medium, Domain::Physical, none), 3);
        assert_eq!(p(Severity::Medium, Domain::Physical, asset), 2);
        assert_eq!(p(Severity::Medium, Domain::Physical, both), 1);
        assert_eq!(p(Severity::High, Domain::Hybrid, both), 1, "never above 1");
        assert_eq!(p(Severity::Low, Domain::Cyber, none), 4);
        assert_eq!(both.describe(), "critical asset, person at risk");
        assert_eq!(none.describe(), "");
        let incident = incident(Domain::Physical, Severity::Medium, "EDI");
        let sla = SlaPolicy::default();
        let mut case = Case::open_with(&incident, asset, &[], &sla, 0);
        assert_eq!(case.priority.get(), 2);
        let changed = case.follow_with(&incident, both, &[], &sla);
        assert_eq!(
            changed,
            vec![("priority", "2".to_string(), "1".to_string())]
        );
    }
}
