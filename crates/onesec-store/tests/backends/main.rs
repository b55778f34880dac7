//! The store's behaviour, on both backends: every test here runs once on SQLite and once on
//! PostgreSQL (`sqlite::name` and `postgres::name`), each PostgreSQL run in a schema of its own
//! that is dropped at the end. PostgreSQL is the server `onesec_store::testing` names
//! (127.0.0.1:5432, database `test`, by default); when it cannot be reached the PostgreSQL runs
//! fail under `CI=true` and print that they skipped otherwise.

mod cases;
mod concurrency;
mod detection;
mod devices;
mod events;
mod runtime;

use onesec_store::testing::ScratchSchema;
use onesec_store::{PgStore, SqliteStore, Store};
use std::path::Path;

/// Which backend a test runs on; [`Kind::fresh`] makes an empty store of it.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Sqlite,
    Postgres(&'static str),
}

impl Kind {
    /// An empty database of this kind (a file in a temporary folder, or a new schema).
    pub fn fresh(self) -> Backend {
        match self {
            Kind::Sqlite => Backend::Sqlite(tempfile::tempdir().unwrap()),
            Kind::Postgres(test) => Backend::Postgres(
                ScratchSchema::create(test).expect("PostgreSQL answered a moment ago"),
            ),
        }
    }
}

/// One empty database for a test.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchSchema),
}

impl Backend {
    /// A connection to the store (its journal folder: `journal` beside an SQLite file; none
    /// for PostgreSQL).
    pub fn open(&self) -> Box<dyn Store> {
        match self {
            Backend::Sqlite(dir) => {
                Box::new(SqliteStore::open(&dir.path().join("onesec.db")).unwrap())
            }
            Backend::Postgres(schema) => Box::new(PgStore::connect(schema.settings()).unwrap()),
        }
    }

    /// A connection whose event blocks refer to the journal in `journal`.
    pub fn open_with_journal(&self, journal: &Path) -> Box<dyn Store> {
        match self {
            Backend::Sqlite(dir) => Box::new(
                SqliteStore::open(&dir.path().join("onesec.db"))
                    .unwrap()
                    .with_journal_dir(journal),
            ),
            Backend::Postgres(schema) => Box::new(
                PgStore::connect(schema.settings())
                    .unwrap()
                    .with_journal_dir(journal),
            ),
        }
    }

    /// The store's check of its event indexes.
    pub fn index_problems(&self, journal: &Path) -> Vec<(String, String)> {
        match self {
            Backend::Sqlite(dir) => SqliteStore::open(&dir.path().join("onesec.db"))
                .unwrap()
                .with_journal_dir(journal)
                .event_index_problems()
                .unwrap(),
            Backend::Postgres(schema) => PgStore::connect(schema.settings())
                .unwrap()
                .with_journal_dir(journal)
                .event_index_problems()
                .unwrap(),
        }
    }

    /// Runs a statement on the database behind the store's back; the rows it changed.
    pub fn execute(&self, sql: &str) -> u64 {
        match self {
            Backend::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("onesec.db"))
                .unwrap()
                .execute(sql, [])
                .unwrap() as u64,
            Backend::Postgres(schema) => schema.execute(sql).unwrap(),
        }
    }

    /// An integer the database answers.
    pub fn query_i64(&self, sql: &str) -> i64 {
        match self {
            Backend::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("onesec.db"))
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Backend::Postgres(schema) => schema.query_i64(sql).unwrap(),
        }
    }

    /// The `event_blocks` column with a journal reference's byte offset.
    pub fn offset_column(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "offset",
            Backend::Postgres(_) => "segment_offset",
        }
    }
}

/// Whether the PostgreSQL runs can go ahead (see the crate's `testing` module).
pub fn postgres_reachable(test: &str) -> bool {
    ScratchSchema::create(test).is_some()
}

/// Declares each named `fn(Kind)` of the calling module as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test($crate::Kind::Sqlite);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    if $crate::postgres_reachable(stringify!($test)) {
                        super::$test($crate::Kind::Postgres(stringify!($test)));
                    }
                }
            )*
        }
    };
}
