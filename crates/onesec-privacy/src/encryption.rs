//! `[privacy.encryption]`: encryption at rest of the data folder (docs/privacy.md).
//!
//! Off by default, so `onesec up` starts with no setup; on with `enabled = true` and a key
//! (`onesec privacy keygen` writes one). The keys themselves are `onesec-keys`' business:
//! this is only where they come from.

use onesec_keys::{KEY_ENV, KEY_FILE_ENV, KeyError, KeyRing};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[privacy.encryption]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionSettings {
    /// Encrypt the journal, the databases and file exports of the data folder. When on, a
    /// start without a usable key stops with the reason.
    pub enabled: bool,
    /// The key file: one key per line (64 hex digits), the current key first, older keys
    /// after it; readable by its owner only. Absent: the key comes from the environment
    /// (`ONESEC_ENCRYPTION_KEY`, else the file `ONESEC_ENCRYPTION_KEY_FILE` names).
    pub key_file: Option<PathBuf>,
}

/// Why encryption is on without a usable key.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// On, but no key anywhere.
    #[error(
        "[privacy.encryption] enabled = true, but no key: set key_file, or {KEY_ENV} / {KEY_FILE_ENV} (`onesec privacy keygen --out FILE` makes a key file)"
    )]
    NoKey,
    /// The key could not be read or is unusable.
    #[error("[privacy.encryption]: {0}")]
    Key(#[from] KeyError),
}

impl EncryptionSettings {
    /// The key ring to encrypt with: the key file when configured, else the environment's
    /// keys (which turn encryption on even when `enabled` is false, so offline commands on an
    /// encrypted folder need no configuration file); `None` when encryption is off.
    pub fn key_ring(&self) -> Result<Option<KeyRing>, EncryptionError> {
        let ring = match (&self.key_file, self.enabled) {
            (Some(path), true) => Some(KeyRing::load_file(path)?),
            _ => KeyRing::from_env()?,
        };
        if self.enabled && ring.is_none() {
            return Err(EncryptionError::NoKey);
        }
        Ok(ring)
    }

    /// Whether the data folder is encrypted under these settings and this environment.
    pub fn is_on(&self) -> bool {
        self.enabled
            || std::env::var_os(KEY_ENV).is_some()
            || std::env::var_os(KEY_FILE_ENV).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_a_key_file_when_enabled() {
        let settings: EncryptionSettings = toml::from_str("").unwrap();
        assert!(!settings.enabled);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(
            &path,
            "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let settings: EncryptionSettings =
            toml::from_str(&format!("enabled = true\nkey_file = {:?}", path)).unwrap();
        assert_eq!(settings.key_ring().unwrap().unwrap().len(), 1);
        assert!(toml::from_str::<EncryptionSettings>("key = \"x\"").is_err());
    }

    #[test]
    fn a_missing_key_file_is_a_clear_error() {
        let settings = EncryptionSettings {
            enabled: true,
            key_file: Some("/nonexistent/onesec-keys".into()),
        };
        let err = settings.key_ring().unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/onesec-keys"),
            "{err}"
        );
    }
}
