//! Loads the pseudonymisation key of `[privacy.pseudonymisation]` (docs/privacy.md,
//! "Pseudonymisation"): the ingestor pseudonymises every event right after resolution, the
//! response side and the server go back through the same key's table.

use onesec_directory::{PseudonymKey, PseudonymKeyError, Pseudonyms};
use onesec_privacy::pseudonymisation::{KeySource, PseudonymisationSettings};
use std::path::Path;

/// The pseudonyms of the configured key when pseudonymisation is enabled; `None` when it is
/// not. A missing, malformed, weak or exposed key, or one inside `data_dir`, is an error: the
/// mode never runs with a key that does not protect anything.
pub fn load(
    settings: &PseudonymisationSettings,
    data_dir: &Path,
) -> Result<Option<Pseudonyms>, PseudonymKeyError> {
    if !settings.enabled {
        return Ok(None);
    }
    let key = match settings.key_source() {
        KeySource::File(file) => PseudonymKey::load_file(&file, Some(data_dir))?,
        KeySource::Env(name) => match PseudonymKey::from_env(&name) {
            Err(PseudonymKeyError::MissingEnv(_)) if settings.key_env.is_none() => {
                return Err(PseudonymKeyError::NotConfigured);
            }
            other => other?,
        },
    };
    tracing::info!("pseudonymisation on: person identifiers are journaled as pseudonyms");
    Ok(Some(Pseudonyms::new(&key)))
}
