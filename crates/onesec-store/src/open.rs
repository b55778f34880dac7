//! Which store a deployment uses, and opening it.

use crate::{PgSettings, PgStore, Result, Retention, SqliteStore, Store};
use std::path::{Path, PathBuf};

/// The store a deployment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// The embedded SQLite database, `onesec.db` in the data folder.
    Sqlite,
    /// A PostgreSQL database (shared by every process that names it).
    Postgres(PgSettings),
}

/// Opens one connection to the configured store for a data folder (`data_dir`), whose
/// `journal` folder holds the records event blocks refer to.
pub fn open_store(settings: &StoreSettings, data_dir: &Path) -> Result<Box<dyn Store>> {
    // Every store is also a privacy store; the caller sees only `Store`.
    Ok(open_privacy_store(settings, data_dir)?)
}

/// A store that also removes personal data and keeps legal holds (both backends).
pub trait PrivacyStore: Store + Retention {}

impl<S: Store + Retention> PrivacyStore for S {}

/// Opens one connection to the configured store, for retention, erasure and legal holds.
pub fn open_privacy_store(
    settings: &StoreSettings,
    data_dir: &Path,
) -> Result<Box<dyn PrivacyStore>> {
    let journal: PathBuf = data_dir.join("journal");
    Ok(match settings {
        StoreSettings::Sqlite => {
            Box::new(SqliteStore::open(&data_dir.join("onesec.db"))?.with_journal_dir(journal))
        }
        StoreSettings::Postgres(pg) => {
            Box::new(PgStore::connect(pg.clone())?.with_journal_dir(journal))
        }
    })
}
