//! Rule metadata: title, id, level, log source, tags and the rest of the descriptive attributes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Severity of a rule (`level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `informational`.
    Informational,
    /// `low`.
    Low,
    /// `medium` (also the level of alerts from rules that state none).
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Level {
    /// Parses a Sigma level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "informational" => Some(Level::Informational),
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    /// The Sigma name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maturity of a rule (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `stable`.
    Stable,
    /// `test`.
    Test,
    /// `experimental`.
    Experimental,
    /// `deprecated`.
    Deprecated,
    /// `unsupported`.
    Unsupported,
}

impl Status {
    /// Parses a Sigma status name (case-insensitive).
    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stable" => Some(Status::Stable),
            "test" | "testing" => Some(Status::Test),
            "experimental" => Some(Status::Experimental),
            "deprecated" => Some(Status::Deprecated),
            "unsupported" => Some(Status::Unsupported),
            _ => None,
        }
    }
}

/// The `logsource` of a rule: which events it applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogSource {
    /// `category`, e.g. `process_creation`, `physical_access`.
    pub category: Option<String>,
    /// `product`, e.g. `windows`.
    pub product: Option<String>,
    /// `service`, e.g. `security`.
    pub service: Option<String>,
    /// `definition`: free text, not used for matching.
    pub definition: Option<String>,
}

impl LogSource {
    /// The `(key, value)` pairs used for matching (category, product, service — not definition).
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("category", self.category.as_deref()),
            ("product", self.product.as_deref()),
            ("service", self.service.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// True when `self` states every key that `other` states, with the same value
    /// (case-insensitive): `other` is at least as general as `self`.
    pub fn is_within(&self, other: &LogSource) -> bool {
        other.pairs().all(|(k, v)| {
            self.pairs()
                .any(|(k2, v2)| k == k2 && v.eq_ignore_ascii_case(v2))
        })
    }
}

/// One entry of `related`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// The related rule's id.
    pub id: String,
    /// The relation (`derived`, `obsolete`, `merged`, `renamed`, `similar`).
    pub kind: String,
}

/// The descriptive attributes of any rule (detection, correlation or filter).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleMeta {
    /// File the rule came from (None for rules loaded from a string).
    pub path: Option<PathBuf>,
    /// The line (1-based) where the rule's YAML document starts in that file, when known.
    pub line: Option<usize>,
    /// `title`.
    pub title: String,
    /// `id`.
    pub id: Option<String>,
    /// `name` (a human-readable reference usable by correlation rules).
    pub name: Option<String>,
    /// `status`.
    pub status: Option<Status>,
    /// `level`.
    pub level: Option<Level>,
    /// `description`.
    pub description: Option<String>,
    /// `author` (keep it: the Detection Rule License requires attribution).
    pub author: Option<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `date`.
    pub date: Option<String>,
    /// `modified`.
    pub modified: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `logsource`.
    pub logsource: LogSource,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `related`.
    pub related: Vec<Related>,
    /// `license`.
    pub license: Option<String>,
    /// `taxonomy`.
    pub taxonomy: Option<String>,
    /// `fields`.
    pub fields: Vec<String>,
    /// Every other top-level key, kept as-is.
    pub custom: BTreeMap<String, serde_yaml::Value>,
}

impl RuleMeta {
    /// The key alerts carry as `rule_id`: the `id`, else the `name`, else the title.
    pub fn key(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }
}
