//! The PostgreSQL store: the same tables and behaviour as the SQLite store, shared by every
//! onesec process that points at the same database and schema.
//!
//! **Client.** The store traits are synchronous, so this uses the synchronous `postgres` crate.
//! Its client blocks on a private tokio runtime, which panics on a thread that already runs
//! tokio (an async handler, a `spawn_blocking` closure of the server). Every database call
//! therefore goes through [`off_runtime`]: on a plain thread (the detector, the response worker,
//! the CLI) it runs in place; on a tokio thread it runs on a scoped thread of its own, which
//! blocks the caller just as an SQLite call would.
//!
//! **Schema.** Tables live in the configured schema (created if missing; `search_path` is set
//! on every connection), so several installations or tests can share one database. The tables
//! are created by numbered migrations (`pg_migrations/NNNN_*.sql`, listed in [`MIGRATIONS`]),
//! applied in order inside one transaction under an advisory lock and recorded in
//! `schema_migrations`; a database with a newer version than this build knows is refused.
//!
//! **Transactions.** A detection batch is one transaction, like on SQLite. Where SQLite takes
//! its write lock up front (`BEGIN IMMEDIATE`), PostgreSQL locks the incident rows a write
//! reads (`SELECT ... FOR UPDATE`), so a person's state change and detection's update of the
//! same incident are serialised and the person's state is never lost.

use crate::pg_events;
use crate::sqlite::{alert_status, from_json, incident_to_store, to_json};
use crate::{DeadLetter, DetectionBatch, EventFilter, IncidentFilter, Result, Store, StoreError};
use onesec_event::{Event, EventId};
use onesec_incident::{Alert, Incident, IncidentState};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Transaction};
use std::path::PathBuf;
use std::sync::Mutex;

/// One numbered migration.
pub struct Migration {
    /// Version, from 1 without gaps.
    pub version: i32,
    /// What it does.
    pub description: &'static str,
    /// The SQL it runs.
    pub sql: &'static str,
}

/// Every migration, in order. Append only: a released migration is never edited.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events, alerts, incidents, dead letters, cases, evidence, devices, posture",
        sql: include_str!("pg_migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "the inventory as last read, for inventory changes in the device history",
        sql: include_str!("pg_migrations/0002_inventory_state.sql"),
    },
    Migration {
        version: 3,
        description: "events that arrived beyond the allowed lateness",
        sql: include_str!("pg_migrations/0003_late_events.sql"),
    },
    Migration {
        version: 4,
        description: "legal holds and removed events, for retention and erasure",
        sql: include_str!("pg_migrations/0004_privacy.sql"),
    },
];

/// Where a PostgreSQL store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// Connection URL (`postgres://user@host:5432/db`) or key=value string.
    pub url: String,
    /// Schema for onesec's tables (created if missing); `None`: the connection's default
    /// (usually `public`).
    pub schema: Option<String>,
}

impl PgSettings {
    /// Where it points, for logs: hosts, database and schema, never the password.
    pub fn describe(&self) -> String {
        let schema = self.schema.as_deref().unwrap_or("(default schema)");
        match self.url.parse::<postgres::Config>() {
            Ok(config) => {
                let hosts: Vec<String> = config
                    .get_hosts()
                    .iter()
                    .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
                    .map(|(host, port)| match host {
                        postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                        postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .collect();
                let db = config.get_dbname().unwrap_or("(default database)");
                format!("postgres {} database {db} schema {schema}", hosts.join(","))
            }
            Err(_) => format!("postgres (unreadable URL) schema {schema}"),
        }
    }
}

pub(crate) fn pg(action: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
    move |source| StoreError::Postgres { action, source }
}

/// Runs `work` where the synchronous client may block (see the module documentation).
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The PostgreSQL store. One instance is one connection; like [`crate::SqliteStore`], give the
/// detection writer its own and let readers open theirs.
pub struct PgStore {
    /// `None` after the connection was found lost and could not be opened again.
    client: Mutex<Option<Client>>,
    settings: PgSettings,
    /// The journal folder whose records event blocks may refer to (`None`: blocks that refer
    /// to the journal cannot be read, and say so).
    journal: Option<PathBuf>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.settings.schema)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The client closes the connection on its own runtime, which must not happen on a
        // tokio thread either.
        let client = match self.client.get_mut() {
            Ok(slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(client) = client {
            off_runtime(move || drop(client));
        }
    }
}

/// A schema name used unquoted-safe: letters, digits and `_`, not starting with a digit.
fn checked_schema(schema: &str) -> Result<&str> {
    let mut chars = schema.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(schema)
    } else {
        Err(StoreError::Config(format!(
            "PostgreSQL schema {schema:?}: use letters, digits and _ (not starting with a digit), at most 63"
        )))
    }
}

fn open_client(settings: &PgSettings) -> Result<Client> {
    let config: postgres::Config = settings
        .url
        .parse()
        .map_err(pg("read the PostgreSQL connection URL"))?;
    let mut client = config.connect(NoTls).map_err(pg("connect to PostgreSQL"))?;
    prepare_schema(&mut client, settings.schema.as_deref())?;
    Ok(client)
}

/// Creates the schema if needed, points the connection at it and brings its tables to the
/// latest migration.
fn prepare_schema(client: &mut Client, schema: Option<&str>) -> Result<()> {
    if let Some(schema) = schema {
        let schema = checked_schema(schema)?;
        let mut tx = client.transaction().map_err(pg("begin schema creation"))?;
        // Concurrent CREATE SCHEMA IF NOT EXISTS can still collide in the catalogue.
        lock(&mut tx, schema)?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET search_path TO \"{schema}\""
        ))
        .map_err(pg("create the schema"))?;
        tx.commit().map_err(pg("commit schema creation"))?;
        client
            .batch_execute(&format!("SET search_path TO \"{schema}\""))
            .map_err(pg("set the search path"))?;
    }
    migrate(client)
}

/// A transaction-scoped advisory lock for onesec's schema changes in `schema`.
fn lock(tx: &mut Transaction<'_>, schema: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('onesec schema ' || $1))",
        &[&schema],
    )
    .map_err(pg("lock the schema for migration"))?;
    Ok(())
}

/// Applies the migrations the schema lacks, in one transaction.
fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction().map_err(pg("begin migrations"))?;
    let schema: String = tx
        .query_one("SELECT current_schema()", &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg("read the current schema"))?;
    lock(&mut tx, &schema)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .map_err(pg("create schema_migrations"))?;
    let applied: Option<i32> = tx
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg("read the schema version"))?;
    let applied = applied.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if applied > known {
        return Err(StoreError::Config(format!(
            "the PostgreSQL schema {schema} is at version {applied}, newer than this onesec knows ({known}); upgrade onesec"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        tx.batch_execute(migration.sql)
            .map_err(pg("apply a migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
            &[&migration.version, &migration.description],
        )
        .map_err(pg("record a migration"))?;
        tracing::info!(
            schema,
            version = migration.version,
            "applied PostgreSQL migration"
        );
    }
    tx.commit().map_err(pg("commit migrations"))
}

impl PgStore {
    /// Connects, creating the schema and its tables if needed.
    pub fn connect(settings: PgSettings) -> Result<PgStore> {
        let client = off_runtime(|| open_client(&settings))?;
        Ok(PgStore {
            client: Mutex::new(Some(client)),
            settings,
            journal: None,
        })
    }

    /// Reads journal-backed event blocks from `dir` (a data folder's `journal`).
    pub fn with_journal_dir(mut self, dir: impl Into<PathBuf>) -> PgStore {
        self.journal = Some(dir.into());
        self
    }

    /// Where it is connected.
    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    /// The schema version its tables are at.
    pub fn schema_version(&self) -> Result<i32> {
        self.with_client(|c| {
            let version: Option<i32> = c
                .query_one("SELECT max(version) FROM schema_migrations", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg("read the schema version"))?;
            Ok(version.unwrap_or(0))
        })
    }

    /// The server process of this connection (`pg_backend_pid()`), to find it in
    /// `pg_stat_activity`.
    pub fn backend_pid(&self) -> Result<i32> {
        self.with_client(|c| {
            c.query_one("SELECT pg_backend_pid()", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg("read the backend pid"))
        })
    }

    /// Checks the event indexes against the events they index; each problem is `(where,
    /// what)` (as [`crate::SqliteStore::event_index_problems`]).
    pub fn event_index_problems(&self) -> Result<Vec<(String, String)>> {
        let journal = self.journal.as_deref();
        self.with_client(|c| pg_events::index_problems(c, journal))
    }

    /// Runs `work` on the connection, off any tokio thread, reconnecting first if the
    /// connection was lost (a restarted server, a dropped network). The call that finds the
    /// connection gone fails (what it did may or may not have been committed, so it is not
    /// repeated behind the caller's back); the next call connects again.
    pub(crate) fn with_client<T: Send>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T> + Send,
    ) -> Result<T> {
        let mut guard = match self.client.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot: &mut Option<Client> = &mut guard;
        let settings = &self.settings;
        off_runtime(move || {
            if slot.as_ref().is_none_or(Client::is_closed) {
                tracing::warn!("PostgreSQL connection lost; reconnecting");
                // Dropped here, off the runtime: the client closes on its own runtime.
                *slot = None;
                *slot = Some(open_client(settings)?);
            }
            match slot.as_mut() {
                Some(client) => work(client),
                None => Err(StoreError::Config("no PostgreSQL connection".into())),
            }
        })
    }

    /// Runs `work` in one transaction, committed if it succeeds.
    pub(crate) fn in_transaction<T: Send>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        self.with_client(|c| {
            let mut tx = c.transaction().map_err(pg(action))?;
            let value = work(&mut tx)?;
            tx.commit().map_err(pg(action))?;
            Ok(value)
        })
    }

    pub(crate) fn journal(&self) -> Option<&std::path::Path> {
        self.journal.as_deref()
    }
}

/// Rows of `(id, json)` decoded as `T`.
pub(crate) fn query_json<T: serde::de::DeserializeOwned>(
    client: &mut impl GenericClient,
    table: &'static str,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<T>> {
    let rows = client.query(sql, args).map_err(pg("run query"))?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0).map_err(pg("read row"))?;
            let json: &str = row.try_get(1).map_err(pg("read row"))?;
            from_json(table, id, json)
        })
        .collect()
}

fn write_alerts(tx: &mut Transaction<'_>, alerts: &[Alert]) -> Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare(
            "INSERT INTO alerts (id, rule_id, severity, status, first_ms, last_ms, incident_id, json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status,
               first_ms = excluded.first_ms, last_ms = excluded.last_ms,
               incident_id = excluded.incident_id, json = excluded.json",
        )
        .map_err(pg("prepare alert upsert"))?;
    for a in alerts {
        tx.execute(
            &stmt,
            &[
                &a.id,
                &a.rule_id,
                &a.severity.as_str(),
                &alert_status(a),
                &a.first_ms,
                &a.last_ms,
                &a.incident_id,
                &to_json(a),
            ],
        )
        .map_err(pg("upsert alert"))?;
    }
    Ok(())
}

/// The stored incidents with these ids, locked until the transaction ends.
fn lock_incidents(
    tx: &mut Transaction<'_>,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Incident>> {
    let rows = tx
        .query(
            "SELECT id, json FROM incidents WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        )
        .map_err(pg("read incidents"))?;
    let mut stored = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get(0).map_err(pg("read incident"))?;
        let json: &str = row.try_get(1).map_err(pg("read incident"))?;
        let incident: Incident = from_json("incidents", id.clone(), json)?;
        stored.insert(id, incident);
    }
    Ok(stored)
}

fn write_incidents(tx: &mut Transaction<'_>, incidents: &[Incident]) -> Result<()> {
    if incidents.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = incidents.iter().map(|i| i.id.as_str()).collect();
    let stored = lock_incidents(tx, &ids)?;
    let stmt = tx
        .prepare(
            "INSERT INTO incidents (id, state, domain, priority, first_ms, last_ms, json)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, domain = excluded.domain,
               priority = excluded.priority, first_ms = excluded.first_ms, last_ms = excluded.last_ms,
               json = excluded.json",
        )
        .map_err(pg("prepare incident upsert"))?;
    for incoming in incidents {
        let incident = incident_to_store(stored.get(&incoming.id), incoming);
        tx.execute(
            &stmt,
            &[
                &incident.id,
                &incident.state.as_str(),
                &incident.domain.as_str(),
                &incident.priority.as_str(),
                &incident.first_ms,
                &incident.last_ms,
                &to_json(&incident),
            ],
        )
        .map_err(pg("upsert incident"))?;
    }
    Ok(())
}

/// Moves an incident along its life cycle inside `tx` (its row locked), or refuses.
pub(crate) fn transition_incident(
    tx: &mut Transaction<'_>,
    id: &str,
    state: IncidentState,
) -> Result<Incident> {
    let mut stored = lock_incidents(tx, &[id])?;
    let mut incident = stored
        .remove(id)
        .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))?;
    incident.transition(state)?;
    tx.execute(
        "UPDATE incidents SET state = $2, json = $3 WHERE id = $1",
        &[&id, &incident.state.as_str(), &to_json(&incident)],
    )
    .map_err(pg("update incident state"))?;
    Ok(incident)
}

fn dead_letter_from_row(row: &postgres::Row) -> std::result::Result<DeadLetter, postgres::Error> {
    Ok(DeadLetter {
        id: row.try_get(0)?,
        received_ms: row.try_get(1)?,
        input: row.try_get(2)?,
        format: row.try_get(3)?,
        line: usize::try_from(row.try_get::<_, i64>(4)?).unwrap_or(0),
        reason: row.try_get(5)?,
        raw: row.try_get(6)?,
        byte_offset: row
            .try_get::<_, Option<i64>>(7)?
            .and_then(|o| u64::try_from(o).ok()),
    })
}

/// A `usize` limit as a SQL `LIMIT` argument.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Store for PgStore {
    fn commit(&mut self, batch: &DetectionBatch) -> Result<()> {
        self.in_transaction("commit detection batch", |tx| {
            // What detection stores is derived from the durable journal and is rebuilt from it
            // after a crash (`detected_upto` commits with it), so its commits need not wait for
            // the server's WAL flush, as SQLite's are not fsynced either (`synchronous =
            // NORMAL`). What people write (cases, states, evidence) keeps waiting for it.
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(pg("relax the detection batch's flush"))?;
            let bodies = if batch.journal_positions.len() == batch.events.len() {
                crate::event_scan::Bodies::InJournal(&batch.journal_positions)
            } else {
                crate::event_scan::Bodies::Serialise
            };
            pg_events::write_events(tx, &batch.events, bodies)?;
            write_alerts(tx, &batch.alerts)?;
            write_incidents(tx, &batch.incidents)?;
            crate::pg_response::write_ops(tx, &batch.manual_ops)?;
            for late in &batch.late {
                tx.execute(
                    "INSERT INTO late_events (id, time_ms, watermark_ms, source)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    &[
                        &i64::try_from(late.id).unwrap_or(i64::MAX),
                        &late.time_ms,
                        &late.watermark_ms,
                        &late.source,
                    ],
                )
                .map_err(pg("record a late event"))?;
            }
            let upto = i64::try_from(batch.detected_upto).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('detected_upto', $1)
                 ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)",
                &[&upto],
            )
            .map_err(pg("record detected_upto"))?;
            Ok(())
        })
    }

    fn manual_ops(&self) -> Result<Vec<crate::ManualRecord>> {
        self.with_client(crate::pg_response::read_ops)
    }

    fn late_events(
        &self,
        after_id: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<crate::LateEvent>> {
        let after = after_id.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT id, time_ms, watermark_ms, source FROM late_events
                     WHERE id > $1 ORDER BY id LIMIT $2",
                    &[&after, &limit],
                )
                .map_err(pg("list late events"))?;
            rows.iter()
                .map(|r| {
                    Ok(crate::LateEvent {
                        id: r.try_get::<_, i64>(0).map_err(pg("list late events"))? as EventId,
                        time_ms: r.try_get(1).map_err(pg("list late events"))?,
                        watermark_ms: r.try_get(2).map_err(pg("list late events"))?,
                        source: r.try_get(3).map_err(pg("list late events"))?,
                    })
                })
                .collect()
        })
    }

    fn detected_upto(&self) -> Result<EventId> {
        self.with_client(|c| {
            let row = c
                .query_opt("SELECT value FROM meta WHERE key = 'detected_upto'", &[])
                .map_err(pg("read detected_upto"))?;
            let value: Option<i64> = row
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(pg("read detected_upto"))?;
            Ok(value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
        })
    }

    fn add_dead_letters(&mut self, letters: &[DeadLetter]) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        self.in_transaction("store dead letters", |tx| {
            let stmt = tx
                .prepare(
                    "INSERT INTO dead_letters (received_ms, input, format, line, reason, raw, byte_offset)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .map_err(pg("prepare dead letter"))?;
            for l in letters {
                let line = i64::try_from(l.line).unwrap_or(i64::MAX);
                let offset = l.byte_offset.and_then(|o| i64::try_from(o).ok());
                tx.execute(
                    &stmt,
                    &[
                        &l.received_ms,
                        &l.input,
                        &l.format,
                        &line,
                        &l.reason,
                        &l.raw,
                        &offset,
                    ],
                )
                .map_err(pg("insert dead letter"))?;
            }
            Ok(())
        })
    }

    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT id, received_ms, input, format, line, reason, raw, byte_offset
                     FROM dead_letters ORDER BY id DESC LIMIT $1",
                    &[&sql_limit(limit)],
                )
                .map_err(pg("query dead letters"))?;
            rows.iter()
                .map(dead_letter_from_row)
                .collect::<std::result::Result<_, _>>()
                .map_err(pg("read dead letter"))
        })
    }

    fn dead_letter_count(&self) -> Result<u64> {
        self.with_client(|c| count(c, "SELECT count(*) FROM dead_letters"))
    }

    fn device_sightings(&self) -> Result<Vec<crate::DeviceSighting>> {
        self.with_client(crate::pg_devices::sightings)
    }

    fn device_sighting(&self, device: &str) -> Result<Option<crate::DeviceSighting>> {
        self.with_client(|c| crate::pg_devices::read_one(c, device))
    }

    fn device_changes(&self, device: &str) -> Result<Vec<crate::DeviceChange>> {
        self.with_client(|c| crate::pg_devices::changes(c, device))
    }

    fn sync_inventory(&mut self, now_ms: i64, rows: &[crate::InventoryRow]) -> Result<usize> {
        self.in_transaction("sync the inventory", |tx| {
            crate::pg_devices::sync_inventory(tx, now_ms, rows)
        })
    }

    fn record_posture(&mut self, rows: &[crate::PostureDay]) -> Result<()> {
        self.in_transaction("record posture", |tx| {
            crate::pg_devices::record_posture(tx, rows)
        })
    }

    fn posture_trend(&self, scope: &str, key: &str) -> Result<Vec<crate::PostureDay>> {
        self.with_client(|c| crate::pg_devices::posture_trend(c, scope, key))
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        let journal = self.journal();
        self.with_client(|c| pg_events::query_events(c, journal, filter))
    }

    fn events_by_ids(&self, ids: &[EventId]) -> Result<Vec<Event>> {
        let journal = self.journal();
        self.with_client(|c| pg_events::events_by_ids(c, journal, ids))
    }

    fn event_count(&self) -> Result<u64> {
        self.with_client(|c| {
            count(
                c,
                "SELECT coalesce(sum(count), 0)::BIGINT FROM event_blocks",
            )
        })
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        let mut sql = String::from("SELECT id, json FROM incidents WHERE true");
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        if let Some(state) = &filter.state {
            args.push(Box::new(state.clone()));
            sql.push_str(&format!(" AND state = ${}", args.len()));
        } else if !filter.all {
            sql.push_str(" AND state NOT IN ('merged', 'withdrawn')");
        }
        if let Some(domain) = &filter.domain {
            args.push(Box::new(domain.clone()));
            sql.push_str(&format!(" AND domain = ${}", args.len()));
        }
        args.push(Box::new(sql_limit(filter.limit.unwrap_or(500))));
        sql.push_str(&format!(
            " ORDER BY first_ms DESC, id LIMIT ${}",
            args.len()
        ));
        self.with_client(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = args
                .iter()
                .map(|a| a.as_ref() as &(dyn ToSql + Sync))
                .collect();
            query_json(c, "incidents", &sql, &refs)
        })
    }

    fn incident(&self, id: &str) -> Result<Option<Incident>> {
        self.with_client(|c| {
            let found: Vec<Incident> = query_json(
                c,
                "incidents",
                "SELECT id, json FROM incidents WHERE id = $1",
                &[&id],
            )?;
            Ok(found.into_iter().next())
        })
    }

    fn alerts(&self, incident: Option<&str>, limit: usize) -> Result<Vec<Alert>> {
        let limit = sql_limit(limit);
        self.with_client(|c| match incident {
            Some(id) => query_json(
                c,
                "alerts",
                "SELECT id, json FROM alerts WHERE incident_id = $1 ORDER BY first_ms, id LIMIT $2",
                &[&id, &limit],
            ),
            None => query_json(
                c,
                "alerts",
                "SELECT id, json FROM alerts ORDER BY first_ms DESC, id LIMIT $1",
                &[&limit],
            ),
        })
    }

    fn event_index_problems(&self) -> Result<Vec<(String, String)>> {
        PgStore::event_index_problems(self)
    }

    fn set_incident_state(&mut self, id: &str, state: IncidentState) -> Result<Incident> {
        self.in_transaction("change incident state", |tx| {
            transition_incident(tx, id, state)
        })
    }
}

pub(crate) fn count(client: &mut impl GenericClient, sql: &str) -> Result<u64> {
    let n: i64 = client
        .query_one(sql, &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg("count rows"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked_before_they_reach_sql() {
        assert!(checked_schema("onesec_test_1").is_ok());
        assert!(checked_schema("_x").is_ok());
        for bad in ["", "1abc", "a-b", "a\"; DROP TABLE x; --", &"x".repeat(64)] {
            assert!(checked_schema(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.description);
            assert!(!m.sql.trim().is_empty());
        }
    }

    #[test]
    fn work_runs_in_place_off_tokio_and_on_its_own_thread_on_tokio() {
        let here = std::thread::current().id();
        assert_eq!(off_runtime(|| std::thread::current().id()), here);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inside = runtime.block_on(async { off_runtime(|| std::thread::current().id()) });
        assert_ne!(inside, here, "a tokio thread hands the work to another");
    }
}
