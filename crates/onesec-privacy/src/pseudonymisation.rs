//! `[privacy.pseudonymisation]`: whether person identifiers are replaced by keyed pseudonyms
//! at ingest, and where the key is (docs/privacy.md, "Pseudonymisation"). The HMAC and the
//! table of a directory's pseudonyms are `onesec_directory::pseudonym`'s; the pipeline loads
//! the key when it starts.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default name of the environment variable holding the key when `key_env` is not given.
pub const DEFAULT_KEY_ENV: &str = "ONESEC_PSEUDONYM_KEY";

/// `[privacy.pseudonymisation]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PseudonymisationSettings {
    /// Replace person identifiers by pseudonyms before events are journaled.
    pub enabled: bool,
    /// File holding the key (64 hex digits, mode 0600, outside the data folder).
    pub key_file: Option<PathBuf>,
    /// Environment variable holding the key instead (64 hex digits); used when `key_file`
    /// is not set. Absent: `ONESEC_PSEUDONYM_KEY`.
    pub key_env: Option<String>,
}

impl PseudonymisationSettings {
    /// Where the key is read from: the file when set, else the environment variable.
    pub fn key_source(&self) -> KeySource {
        match &self.key_file {
            Some(file) => KeySource::File(file.clone()),
            None => KeySource::Env(
                self.key_env
                    .clone()
                    .unwrap_or_else(|| DEFAULT_KEY_ENV.to_string()),
            ),
        }
    }
}

/// Where the pseudonymisation key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_wins_over_the_environment() {
        let settings: PseudonymisationSettings =
            toml::from_str("enabled = true\nkey_file = \"/etc/onesec/psn.key\"\nkey_env = \"X\"")
                .unwrap();
        assert_eq!(
            settings.key_source(),
            KeySource::File("/etc/onesec/psn.key".into())
        );
        let settings: PseudonymisationSettings = toml::from_str("enabled = true").unwrap();
        assert_eq!(
            settings.key_source(),
            KeySource::Env(DEFAULT_KEY_ENV.into())
        );
        assert!(toml::from_str::<PseudonymisationSettings>("key = \"x\"").is_err());
    }
}
