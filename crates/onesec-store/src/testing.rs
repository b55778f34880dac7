//! For tests that run against PostgreSQL (this crate's and the pipeline's): a schema of their
//! own, dropped when they end, and the rule for an unreachable server.
//!
//! The server is `ONESEC_TEST_POSTGRES` (a connection URL or key=value string), by default
//! `host=127.0.0.1 port=5432 user=postgres dbname=test` (the CI machine's, trust auth). When it
//! cannot be reached, [`ScratchSchema::create`] panics under `CI=true` (a test that needs it
//! must fail, not pass without running) and otherwise prints that the test is skipped.

use crate::pg::{off_runtime, pg};
use crate::{PgSettings, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// The test server's connection string.
pub fn postgres_url() -> String {
    std::env::var("ONESEC_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_string())
}

/// Whether tests run under CI (`CI=true`), where a missing server is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A schema with a unique name on the test server, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct ScratchSchema {
    settings: PgSettings,
}

impl ScratchSchema {
    /// A new schema named after `test` (letters, digits, `_`), or `None` when the server
    /// cannot be reached outside CI (a line on stderr says the test was skipped).
    ///
    /// # Panics
    /// Under CI when the server cannot be reached.
    pub fn create(test: &str) -> Option<ScratchSchema> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let test: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(30)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!(
            "t_{test}_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = postgres_url();
        match off_runtime(|| probe(&url)) {
            Ok(()) => Some(ScratchSchema {
                settings: PgSettings {
                    url,
                    schema: Some(name),
                },
            }),
            Err(error) if under_ci() => {
                panic!("PostgreSQL at {url:?} is needed under CI and cannot be used: {error}")
            }
            Err(error) => {
                eprintln!("skipped: PostgreSQL at {url:?} cannot be used: {error}");
                None
            }
        }
    }

    /// Settings naming the schema (the store creates it on first connect).
    pub fn settings(&self) -> PgSettings {
        self.settings.clone()
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        self.settings.schema.as_deref().unwrap_or("public")
    }

    /// Runs a statement in the schema (to tamper with rows in tests); the rows it changed.
    pub fn execute(&self, sql: &str) -> Result<u64> {
        let settings = &self.settings;
        off_runtime(|| {
            let mut client = connect(&settings.url)?;
            client
                .batch_execute(&format!("SET search_path TO \"{}\"", self.name()))
                .map_err(pg("set the search path"))?;
            client.execute(sql, &[]).map_err(pg("run a test statement"))
        })
    }

    /// The first column of the first row of a query in the schema, as an integer.
    pub fn query_i64(&self, sql: &str) -> Result<i64> {
        let settings = &self.settings;
        off_runtime(|| {
            let mut client = connect(&settings.url)?;
            client
                .batch_execute(&format!("SET search_path TO \"{}\"", self.name()))
                .map_err(pg("set the search path"))?;
            client
                .query_one(sql, &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg("run a test query"))
        })
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name());
        let url = &self.settings.url;
        let dropped = off_runtime(|| {
            connect(url)?
                .batch_execute(&sql)
                .map_err(pg("drop a test schema"))
        });
        if let Err(error) = dropped {
            eprintln!("could not drop test schema {}: {error}", self.name());
        }
    }
}

fn connect(url: &str) -> Result<postgres::Client> {
    let mut config: postgres::Config = url.parse().map_err(pg("read the test server URL"))?;
    config
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect(postgres::NoTls)
        .map_err(pg("connect to the test server"))
}

fn probe(url: &str) -> Result<()> {
    connect(url)?
        .batch_execute("SELECT 1")
        .map_err(pg("query the test server"))
}
