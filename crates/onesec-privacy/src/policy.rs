//! The retention policy: how long each kind of personal data is kept (`[privacy.retention]`
//! in the configuration file, docs/configuration.md and docs/privacy.md).

use onesec_event::{Event, EventClass};
use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `[privacy]`: everything privacy by design configures.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// `[privacy.retention]`.
    pub retention: RetentionSettings,
    /// `[privacy.access]`.
    pub access: AccessSettings,
    /// `[privacy.pseudonymisation]`.
    pub pseudonymisation: crate::pseudonymisation::PseudonymisationSettings,
    /// `[privacy.encryption]`: encryption at rest of the data folder.
    pub encryption: crate::encryption::EncryptionSettings,
}

/// The kinds of personal-data lookup onesec audits (`privacy.lookup` entries), each with
/// what it shows.
pub const LOOKUPS: &[(&str, &str)] = &[
    (
        "person_timeline",
        "a person's events (GET /api/v1/events?person=)",
    ),
    (
        "incident_context",
        "the badge and login events of an incident's people and doors (its context: API and console)",
    ),
    (
        "incident_export",
        "an incident's signed bundle or report, with its events and context",
    ),
    (
        "subject_export",
        "everything held about a person (onesec privacy export, GET /api/v1/privacy/subjects/{person}); always needs a reason",
    ),
    (
        "identity_reveal",
        "who an incident's pseudonyms stand for (GET /api/v1/incidents/{id}/identities, with [privacy.pseudonymisation]); always needs a reason",
    ),
];

/// `[privacy.access]`: which personal-data lookups need the operator's reason.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSettings {
    /// Lookup kinds ([`LOOKUPS`]) refused without a reason (`?reason=` or the
    /// `X-Onesec-Reason` header). Every lookup is audited either way.
    pub reason_required: Vec<String>,
}

impl AccessSettings {
    /// Checks every kind named is one onesec audits.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for kind in &self.reason_required {
            if !LOOKUPS.iter().any(|(name, _)| name == kind) {
                return Err(PolicyError::UnknownLookup {
                    kind: kind.clone(),
                    known: LOOKUPS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }

    /// Whether a lookup of this kind needs a reason.
    pub fn needs_reason(&self, kind: &str) -> bool {
        kind == "subject_export"
            || kind == "identity_reveal"
            || self.reason_required.iter().any(|k| k == kind)
    }
}

impl PrivacySettings {
    /// Checks `[privacy.retention]` and `[privacy.access]`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.retention.validate()?;
        self.access.validate()
    }
}

/// `[privacy.retention]`: periods per event class, site and data category.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Run the retention job inside `onesec up` (off by default: nothing is deleted unless
    /// an operator turns it on).
    pub enabled: bool,
    /// Minutes between two runs of the job.
    pub every_minutes: u64,
    /// Days an event no rule names is kept; absent: kept.
    pub default_days: Option<u32>,
    /// Days a finished (resolved, closed, withdrawn, merged) and unheld incident is kept after
    /// its last activity, with everything kept for it; the events an incident cites (its
    /// alerts' events, its evidence) stay as long as it does, whatever their own rule says.
    /// Absent: incidents are kept (`crate::incidents`).
    pub incident_days: Option<u32>,
    /// Days device address and name changes are kept; absent: kept.
    pub device_history_days: Option<u32>,
    /// `[[privacy.retention.rule]]`, the first that matches an event decides.
    #[serde(rename = "rule")]
    pub rules: Vec<RetentionRule>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            enabled: false,
            every_minutes: 60,
            default_days: None,
            incident_days: None,
            device_history_days: None,
            rules: Vec::new(),
        }
    }
}

/// One retention rule: every key given must match (`class`, `site`, `category`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Event class (`physical_access`, `authentication`...; docs/fields.md).
    #[serde(default)]
    pub class: Option<String>,
    /// Site id, as the directory resolves it.
    #[serde(default)]
    pub site: Option<String>,
    /// Data category ([`CATEGORIES`]).
    #[serde(default)]
    pub category: Option<String>,
    /// Days an event this rule matches is kept; absent: kept (an exception to a later rule).
    #[serde(default)]
    pub days: Option<u32>,
}

/// The data categories, each with the event classes in it and what it says about a person.
pub const CATEGORIES: &[(&str, &[EventClass], &str)] = &[
    (
        "movements",
        &[EventClass::PhysicalAccess],
        "badge swipes and door passages: where a person went and when",
    ),
    (
        "alarms",
        &[EventClass::AlarmSignal],
        "intrusion and alarm panel signals, with the person who set or cleared them",
    ),
    (
        "video",
        &[EventClass::VideoAnalytics],
        "camera analytics events (motion, line crossing, faces or plates as the camera reports)",
    ),
    (
        "logins",
        &[EventClass::Authentication],
        "log-ons, VPN sessions, privilege use: which account worked when and from where",
    ),
    (
        "network",
        &[EventClass::NetworkActivity],
        "connections and flows of devices, which may be a person's workstation",
    ),
    (
        "endpoint",
        &[EventClass::ProcessActivity, EventClass::PeripheralActivity],
        "processes and USB devices on computers, with the user running them",
    ),
    (
        "device_health",
        &[EventClass::DeviceHealth],
        "device state and faults; rarely personal",
    ),
    ("other", &[EventClass::Base], "events of no known class"),
];

/// The data category of an event class.
pub fn category_of(class: EventClass) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(_, classes, _)| classes.contains(&class))
        .map(|(name, _, _)| *name)
        .unwrap_or("other")
}

const CLASSES: &[EventClass] = &[
    EventClass::Authentication,
    EventClass::ProcessActivity,
    EventClass::NetworkActivity,
    EventClass::PhysicalAccess,
    EventClass::AlarmSignal,
    EventClass::VideoAnalytics,
    EventClass::DeviceHealth,
    EventClass::PeripheralActivity,
    EventClass::Base,
];

/// A retention setting that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    /// A rule names a class onesec does not have.
    #[error("[[privacy.retention.rule]] number {rule}: unknown class {class:?} (one of {known})")]
    UnknownClass {
        /// 1-based rule number.
        rule: usize,
        /// What was written.
        class: String,
        /// The classes there are.
        known: String,
    },
    /// A rule names a category onesec does not have.
    #[error(
        "[[privacy.retention.rule]] number {rule}: unknown category {category:?} (one of {known})"
    )]
    UnknownCategory {
        /// 1-based rule number.
        rule: usize,
        /// What was written.
        category: String,
        /// The categories there are.
        known: String,
    },
    /// `[privacy.access] reason_required` names a lookup onesec does not have.
    #[error("[privacy.access] reason_required: unknown lookup {kind:?} (one of {known})")]
    UnknownLookup {
        /// What was written.
        kind: String,
        /// The lookups there are.
        known: String,
    },
    /// A period of zero days would delete data as it arrives, before detection saw it.
    #[error("[privacy.retention] {key}: a period must be at least 1 day")]
    ZeroDays {
        /// Which key.
        key: String,
    },
}

/// How long one event is kept, and which setting says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// Days; None: kept.
    pub days: Option<u32>,
    /// `rule N` or `default_days`, for reports.
    pub source: String,
}

impl RetentionSettings {
    /// Checks every rule names known classes and categories and every period is at least a day.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let zero = |key: String, days: Option<u32>| match days {
            Some(0) => Err(PolicyError::ZeroDays { key }),
            _ => Ok(()),
        };
        zero("default_days".into(), self.default_days)?;
        zero("incident_days".into(), self.incident_days)?;
        zero("device_history_days".into(), self.device_history_days)?;
        for (i, rule) in self.rules.iter().enumerate() {
            let number = i + 1;
            zero(format!("rule {number} days"), rule.days)?;
            if let Some(class) = &rule.class
                && !CLASSES.iter().any(|c| c.as_str() == class)
            {
                return Err(PolicyError::UnknownClass {
                    rule: number,
                    class: class.clone(),
                    known: CLASSES
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            if let Some(category) = &rule.category
                && !CATEGORIES.iter().any(|(name, _, _)| name == category)
            {
                return Err(PolicyError::UnknownCategory {
                    rule: number,
                    category: category.clone(),
                    known: CATEGORIES
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }

    /// How long `event` is kept: the first rule that matches, else `default_days`.
    pub fn period(&self, event: &Event) -> Period {
        let class = event.class.as_str();
        let category = category_of(event.class);
        let site = event.resolved.site.as_deref();
        let matches = |rule: &RetentionRule| {
            rule.class.as_deref().is_none_or(|c| c == class)
                && rule.category.as_deref().is_none_or(|c| c == category)
                && rule.site.as_deref().is_none_or(|s| Some(s) == site)
        };
        match self.rules.iter().position(matches) {
            Some(i) => Period {
                days: self.rules[i].days,
                source: format!("rule {}", i + 1),
            },
            None => Period {
                days: self.default_days,
                source: "default_days".into(),
            },
        }
    }

    /// The shortest period any event can have (None: nothing expires).
    pub fn shortest_days(&self) -> Option<u32> {
        self.rules
            .iter()
            .map(|r| r.days)
            .chain([self.default_days])
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::Activity;

    fn settings(text: &str) -> RetentionSettings {
        toml::from_str(text).unwrap()
    }

    fn event(class: EventClass, site: Option<&str>) -> Event {
        let mut e = Event::new(0, class, Activity::Logon);
        e.resolved.site = site.map(str::to_string);
        e
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_default_catches_the_rest() {
        let s = settings(
            r#"
            default_days = 365
            [[rule]]
            category = "movements"
            site = "PAR"
            [[rule]]
            class = "physical_access"
            days = 90
            [[rule]]
            category = "video"
            days = 30
            "#,
        );
        s.validate().unwrap();
        let paris = s.period(&event(EventClass::PhysicalAccess, Some("PAR")));
        assert_eq!((paris.days, paris.source.as_str()), (None, "rule 1"));
        let lyon = s.period(&event(EventClass::PhysicalAccess, Some("LYS")));
        assert_eq!((lyon.days, lyon.source.as_str()), (Some(90), "rule 2"));
        assert_eq!(
            s.period(&event(EventClass::VideoAnalytics, None)).days,
            Some(30)
        );
        let login = s.period(&event(EventClass::Authentication, None));
        assert_eq!(
            (login.days, login.source.as_str()),
            (Some(365), "default_days")
        );
        assert_eq!(s.shortest_days(), Some(30));
    }

    #[test]
    fn unknown_names_and_zero_days_are_refused() {
        let class = settings("[[rule]]\nclass = \"badge\"\ndays = 3");
        assert!(matches!(
            class.validate(),
            Err(PolicyError::UnknownClass { rule: 1, .. })
        ));
        let category = settings("[[rule]]\ncategory = \"faces\"\ndays = 3");
        assert!(matches!(
            category.validate(),
            Err(PolicyError::UnknownCategory { rule: 1, .. })
        ));
        let zero = settings("default_days = 0");
        assert!(matches!(zero.validate(), Err(PolicyError::ZeroDays { .. })));
    }

    #[test]
    fn every_class_has_a_category() {
        for class in CLASSES {
            let name = category_of(*class);
            assert!(
                CATEGORIES
                    .iter()
                    .any(|(n, classes, _)| *n == name && classes.contains(class)),
                "{class:?}"
            );
        }
    }
}
