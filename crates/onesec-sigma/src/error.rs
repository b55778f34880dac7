//! Errors: why a rule cannot be loaded or run.

use thiserror::Error;

/// Why a rule was rejected (its `Display` is the reason shown in the [`crate::LoadReport`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// The YAML text is not valid YAML.
    #[error("YAML syntax error: {0}")]
    Yaml(String),
    /// The document is not a Sigma rule, or a required attribute is missing or malformed.
    #[error("invalid rule: {0}")]
    Invalid(String),
    /// A value modifier the engine does not know.
    #[error("unknown modifier '{0}'")]
    UnknownModifier(String),
    /// A modifier combination or modifier value the engine cannot run.
    #[error("unsupported modifier use: {0}")]
    Modifier(String),
    /// A regular expression that does not compile.
    #[error("bad regular expression '{pattern}': {message}")]
    Regex {
        /// The pattern as written in the rule.
        pattern: String,
        /// The compiler's message.
        message: String,
    },
    /// A condition that does not parse or refers to unknown identifiers.
    #[error("bad condition '{condition}': {message}")]
    Condition {
        /// The condition as written.
        condition: String,
        /// What is wrong with it.
        message: String,
    },
    /// A `%placeholder%` with no value in [`crate::LoadOptions::placeholders`].
    #[error("unresolved placeholder %{0}%")]
    Placeholder(String),
    /// A correlation feature the engine does not implement (yet).
    #[error("unsupported correlation: {0}")]
    UnsupportedCorrelation(String),
    /// A reference to a rule that is not loaded (or was rejected).
    #[error("{0}")]
    Reference(String),
    /// A second rule with an id or name that is already taken.
    #[error("duplicate rule {0}")]
    Duplicate(String),
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Io(String),
}
