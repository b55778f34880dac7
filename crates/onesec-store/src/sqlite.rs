//! The embedded default: one SQLite database in WAL mode.

use crate::sqlite_events;
use crate::{DeadLetter, DetectionBatch, EventFilter, IncidentFilter, Result, Store, StoreError};
use onesec_event::{Event, EventId};
use onesec_incident::{Alert, Incident, IncidentState};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_blocks (
    first_id INTEGER PRIMARY KEY,
    last_id INTEGER NOT NULL,
    min_time_ms INTEGER NOT NULL,
    max_time_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL,
    segment INTEGER,
    offset INTEGER
);
CREATE INDEX IF NOT EXISTS event_blocks_time ON event_blocks(min_time_ms);
CREATE TABLE IF NOT EXISTS event_keys (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (kind, key, time_ms, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    incident_id TEXT,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident_id);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    domain TEXT NOT NULL,
    priority TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms INTEGER NOT NULL,
    input TEXT NOT NULL,
    format TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    byte_offset INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS late_events (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    watermark_ms INTEGER NOT NULL,
    source TEXT NOT NULL
);
";

/// The store's page size (see `init`); an encrypted file is opened with the same
/// `cipher_page_size` every time.
const PAGE_SIZE: u32 = 16384;

/// The SQLite store. One instance is one connection: give the detection writer its own and
/// let readers open theirs.
pub struct SqliteStore {
    pub(crate) conn: Connection,
    /// The journal folder whose records event blocks may refer to (`journal` beside the
    /// database file, as a data folder lays them out); `None` for an in-memory store.
    pub(crate) journal: Option<std::path::PathBuf>,
}

pub(crate) fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { action, source }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file.
    ///
    /// Event blocks that refer to journal records are read from the `journal` folder beside
    /// the file (the layout of a data folder: `onesec.db` and `journal/`).
    ///
    /// With the process's key ring installed (`onesec_keys::install`, encryption at rest) the
    /// file is a SQLCipher database encrypted with its current key, and the journal records
    /// blocks refer to are opened with the same ring.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let conn = onesec_keys::sqlite::open(path, Some(PAGE_SIZE))?;
        let mut store = Self::init(conn)?;
        store.journal = path.parent().map(|folder| folder.join("journal"));
        Ok(store)
    }

    /// Reads journal-backed event blocks from `dir` instead of the folder beside the database.
    pub fn with_journal_dir(mut self, dir: impl Into<std::path::PathBuf>) -> SqliteStore {
        self.journal = Some(dir.into());
        self
    }

    fn reader(&self) -> sqlite_events::EventRows<'_> {
        sqlite_events::EventRows {
            conn: &self.conn,
            journal: self.journal.as_deref(),
        }
    }

    /// Checks the event indexes (blocks and person/site timeline rows) against the events
    /// they index; each problem is `(where, what)`. Reads every stored event: for `onesec
    /// audit verify`, not for a running service.
    pub fn event_index_problems(&self) -> Result<Vec<(String, String)>> {
        sqlite_events::index_problems(&self.reader())
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory().map_err(db("open in-memory database"))?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db("set busy timeout"))?;
        // Chosen when every event's ~1 KiB of JSON was stored here: with the default 4 KiB pages
        // every commit wrote (and every checkpoint copied) about one page per three events, and
        // 16 KiB pages cut the store's cost per event by about a third (docs/benchmarks.md).
        // Detection's blocks now name journal positions instead, but blocks that hold JSON and
        // evidence files still profit. Only takes effect when the file is created: an existing
        // database keeps its page size.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(db("set page size"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db("enable WAL"))?;
        // The durable journal is the source of truth; the store can be rebuilt from it, so a
        // store write need not be fsynced on every commit.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db("set synchronous"))?;
        // Personal data removed by retention or erasure must not linger in freed space of the
        // file (docs/privacy.md): SQLite zeroes what it frees, on every connection that
        // writes, so also the space pages leave behind as they are rearranged.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db("turn on secure delete"))?;
        conn.execute_batch(SCHEMA).map_err(db("create schema"))?;
        conn.execute_batch(crate::sqlite_cases::SCHEMA)
            .map_err(db("create response schema"))?;
        conn.execute_batch(crate::sqlite_evidence::SCHEMA)
            .map_err(db("create evidence schema"))?;
        conn.execute_batch(crate::sqlite_devices::SCHEMA)
            .map_err(db("create device sightings schema"))?;
        conn.execute_batch(crate::sqlite_privacy::SCHEMA)
            .map_err(db("create privacy schema"))?;
        sqlite_events::add_missing_columns(&conn, "event_blocks", &["segment", "offset"])?;
        sqlite_events::add_missing_columns(&conn, "dead_letters", &["byte_offset"])?;
        sqlite_events::migrate_event_rows(&mut conn)?;
        Ok(SqliteStore {
            conn,
            journal: None,
        })
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising our own plain data types cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"serialize_error\":\"{e}\"}}"))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: String,
    json: &str,
) -> Result<T> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt { table, id, source })
}

/// The status column of an alert.
pub(crate) fn alert_status(alert: &Alert) -> &'static str {
    if alert.status == onesec_incident::AlertStatus::Active {
        "active"
    } else {
        "withdrawn"
    }
}

fn write_alerts(tx: &rusqlite::Transaction<'_>, alerts: &[Alert]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO alerts (id, rule_id, severity, status, first_ms, last_ms, incident_id, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, status = excluded.status,
               first_ms = excluded.first_ms, last_ms = excluded.last_ms,
               incident_id = excluded.incident_id, json = excluded.json",
        )
        .map_err(db("prepare alert upsert"))?;
    for a in alerts {
        let status = alert_status(a);
        stmt.execute(params![
            a.id,
            a.rule_id,
            a.severity.as_str(),
            status,
            a.first_ms,
            a.last_ms,
            a.incident_id,
            to_json(a)
        ])
        .map_err(db("upsert alert"))?;
    }
    Ok(())
}

/// Detection may set these states; anything else was set by a person and is kept.
fn machine_state(state: IncidentState) -> bool {
    matches!(
        state,
        IncidentState::New | IncidentState::Merged | IncidentState::Withdrawn
    )
}

/// The incident to store when detection sends `incoming` and `previous` is stored: a state a
/// person set survives detection's `new`, but not a merge or a withdrawal.
pub(crate) fn incident_to_store(previous: Option<&Incident>, incoming: &Incident) -> Incident {
    let mut incident = incoming.clone();
    if let Some(previous) = previous {
        let keep_human = !machine_state(previous.state) && incoming.state == IncidentState::New;
        if keep_human {
            incident.state = previous.state;
        }
    }
    incident
}

fn write_incidents(tx: &rusqlite::Transaction<'_>, incidents: &[Incident]) -> Result<()> {
    for incoming in incidents {
        let stored: Option<String> = tx
            .query_row(
                "SELECT json FROM incidents WHERE id = ?1",
                [&incoming.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("read incident"))?;
        let previous: Option<Incident> = stored
            .map(|json| from_json("incidents", incoming.id.clone(), &json))
            .transpose()?;
        let incident = incident_to_store(previous.as_ref(), incoming);
        tx.execute(
            "INSERT INTO incidents (id, state, domain, priority, first_ms, last_ms, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, domain = excluded.domain,
               priority = excluded.priority, first_ms = excluded.first_ms, last_ms = excluded.last_ms,
               json = excluded.json",
            params![
                incident.id,
                incident.state.as_str(),
                incident.domain.as_str(),
                incident.priority.as_str(),
                incident.first_ms,
                incident.last_ms,
                to_json(&incident)
            ],
        )
        .map_err(db("upsert incident"))?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn commit(&mut self, batch: &DetectionBatch) -> Result<()> {
        // Immediate: the batch reads incidents before writing them, and a deferred transaction
        // would fail at once (SQLITE_BUSY_SNAPSHOT) when the response side wrote in between;
        // taking the write lock first waits for it instead (busy timeout).
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin detection batch"))?;
        let bodies = if batch.journal_positions.len() == batch.events.len() {
            crate::event_scan::Bodies::InJournal(&batch.journal_positions)
        } else {
            crate::event_scan::Bodies::Serialise
        };
        sqlite_events::write_events(&tx, &batch.events, bodies)?;
        write_alerts(&tx, &batch.alerts)?;
        write_incidents(&tx, &batch.incidents)?;
        crate::sqlite_evidence::write_ops(&tx, &batch.manual_ops)?;
        for late in &batch.late {
            tx.execute(
                "INSERT OR IGNORE INTO late_events (id, time_ms, watermark_ms, source)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    i64::try_from(late.id).unwrap_or(i64::MAX),
                    late.time_ms,
                    late.watermark_ms,
                    late.source
                ],
            )
            .map_err(db("record a late event"))?;
        }
        let upto = i64::try_from(batch.detected_upto).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('detected_upto', ?1)
             ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            [upto],
        )
        .map_err(db("record detected_upto"))?;
        tx.commit().map_err(db("commit detection batch"))
    }

    fn manual_ops(&self) -> Result<Vec<crate::ManualRecord>> {
        crate::sqlite_evidence::read_ops(self)
    }

    fn late_events(
        &self,
        after_id: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<crate::LateEvent>> {
        let after = after_id.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, time_ms, watermark_ms, source FROM late_events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(db("list late events"))?;
        let rows = stmt
            .query_map(params![after, limit], |r| {
                Ok(crate::LateEvent {
                    id: r.get::<_, i64>(0)? as EventId,
                    time_ms: r.get(1)?,
                    watermark_ms: r.get(2)?,
                    source: r.get(3)?,
                })
            })
            .map_err(db("list late events"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db("list late events"))
    }

    fn detected_upto(&self) -> Result<EventId> {
        let value: Option<i64> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'detected_upto'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("read detected_upto"))?;
        Ok(value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    }

    fn add_dead_letters(&mut self, letters: &[DeadLetter]) -> Result<()> {
        let tx = self.conn.transaction().map_err(db("begin dead letters"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO dead_letters (received_ms, input, format, line, reason, raw, byte_offset)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(db("prepare dead letter"))?;
            for l in letters {
                let line = i64::try_from(l.line).unwrap_or(i64::MAX);
                stmt.execute(params![
                    l.received_ms,
                    l.input,
                    l.format,
                    line,
                    l.reason,
                    l.raw,
                    l.byte_offset.and_then(|o| i64::try_from(o).ok())
                ])
                .map_err(db("insert dead letter"))?;
            }
        }
        tx.commit().map_err(db("commit dead letters"))
    }

    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, received_ms, input, format, line, reason, raw, byte_offset FROM dead_letters ORDER BY id DESC LIMIT ?1")
            .map_err(db("prepare dead letter query"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    received_ms: r.get(1)?,
                    input: r.get(2)?,
                    format: r.get(3)?,
                    line: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    reason: r.get(5)?,
                    raw: r.get(6)?,
                    byte_offset: r
                        .get::<_, Option<i64>>(7)?
                        .and_then(|o| u64::try_from(o).ok()),
                })
            })
            .map_err(db("query dead letters"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read dead letter"))
    }

    fn dead_letter_count(&self) -> Result<u64> {
        count(&self.conn, "SELECT count(*) FROM dead_letters")
    }

    fn device_sightings(&self) -> Result<Vec<crate::DeviceSighting>> {
        crate::sqlite_devices::sightings(&self.conn)
    }

    fn device_sighting(&self, device: &str) -> Result<Option<crate::DeviceSighting>> {
        crate::sqlite_devices::read_one(&self.conn, device)
    }

    fn device_changes(&self, device: &str) -> Result<Vec<crate::DeviceChange>> {
        crate::sqlite_devices::changes(&self.conn, device)
    }

    fn sync_inventory(&mut self, now_ms: i64, rows: &[crate::InventoryRow]) -> Result<usize> {
        crate::sqlite_devices::sync_inventory(&mut self.conn, now_ms, rows)
    }

    fn record_posture(&mut self, rows: &[crate::PostureDay]) -> Result<()> {
        crate::sqlite_devices::record_posture(&self.conn, rows)
    }

    fn posture_trend(&self, scope: &str, key: &str) -> Result<Vec<crate::PostureDay>> {
        crate::sqlite_devices::posture_trend(&self.conn, scope, key)
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        sqlite_events::query_events(&self.reader(), filter)
    }

    fn events_by_ids(&self, ids: &[EventId]) -> Result<Vec<Event>> {
        sqlite_events::events_by_ids(&self.reader(), ids)
    }

    fn event_count(&self) -> Result<u64> {
        sqlite_events::event_count(&self.conn)
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        let mut sql = String::from("SELECT id, json FROM incidents WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(state) = &filter.state {
            sql.push_str(" AND state = ?");
            args.push(state.clone().into());
        } else if !filter.all {
            sql.push_str(" AND state NOT IN ('merged', 'withdrawn')");
        }
        if let Some(domain) = &filter.domain {
            sql.push_str(" AND domain = ?");
            args.push(domain.clone().into());
        }
        sql.push_str(" ORDER BY first_ms DESC, id LIMIT ?");
        args.push((filter.limit.unwrap_or(500) as i64).into());
        query_json(&self.conn, "incidents", &sql, params_from_iter(args))
    }

    fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("read incident"))?;
        json.map(|j| from_json("incidents", id.to_string(), &j))
            .transpose()
    }

    fn alerts(&self, incident: Option<&str>, limit: usize) -> Result<Vec<Alert>> {
        match incident {
            Some(id) => query_json(
                &self.conn,
                "alerts",
                "SELECT id, json FROM alerts WHERE incident_id = ?1 ORDER BY first_ms, id LIMIT ?2",
                params![id, limit as i64],
            ),
            None => query_json(
                &self.conn,
                "alerts",
                "SELECT id, json FROM alerts ORDER BY first_ms DESC, id LIMIT ?1",
                params![limit as i64],
            ),
        }
    }

    fn event_index_problems(&self) -> Result<Vec<(String, String)>> {
        SqliteStore::event_index_problems(self)
    }

    fn set_incident_state(&mut self, id: &str, state: IncidentState) -> Result<Incident> {
        let mut incident = self
            .incident(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))?;
        incident.transition(state)?;
        self.conn
            .execute(
                "UPDATE incidents SET state = ?2, json = ?3 WHERE id = ?1",
                params![id, incident.state.as_str(), to_json(&incident)],
            )
            .map_err(db("update incident state"))?;
        Ok(incident)
    }
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    let n: i64 = conn
        .query_row(sql, [], |r| r.get(0))
        .map_err(db("count rows"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn query_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(db("prepare query"))?;
    let rows = stmt
        .query_map(args, |r| {
            let id: rusqlite::types::Value = r.get(0)?;
            Ok((id, r.get::<_, String>(1)?))
        })
        .map_err(db("run query"))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row.map_err(db("read row"))?;
        let id = match id {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            _ => String::new(),
        };
        out.push(from_json(table, id, &json)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass, PersonRef};

    fn event(id: u64, t: i64, person: &str) -> Event {
        let mut e = Event::new(t, EventClass::PhysicalAccess, Activity::AccessGranted);
        e.id = id;
        e.resolved.site = Some("PAR".into());
        e.resolved.person = Some(PersonRef {
            id: person.into(),
            name: "N".into(),
            status: "active".into(),
            department: String::new(),
            home_site: String::new(),
        });
        e
    }

    #[test]
    fn new_databases_use_16_kib_pages() {
        let store = SqliteStore::in_memory().unwrap();
        let size: i64 = store
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(size, 16384);
    }

    #[test]
    fn an_existing_database_keeps_its_page_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(SCHEMA).unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let batch = DetectionBatch {
            events: vec![event(1, 100, "p1")],
            detected_upto: 1,
            ..Default::default()
        };
        store.commit(&batch).unwrap();
        let size: i64 = store
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(size, 4096);
        assert_eq!(store.event_count().unwrap(), 1);
    }

    #[test]
    fn an_older_dead_letter_table_gains_the_byte_offset() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, received_ms INTEGER NOT NULL,
             input TEXT NOT NULL, format TEXT NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL,
             raw TEXT NOT NULL);
             INSERT INTO dead_letters (received_ms, input, format, line, reason, raw)
             VALUES (1, 'http', 'json', 2, 'old', 'x');",
        )
        .unwrap();
        let store = SqliteStore::init(conn).unwrap();
        let kept = store.dead_letters(10).unwrap();
        assert_eq!(
            (kept[0].reason.as_str(), kept[0].byte_offset),
            ("old", None)
        );
    }
}
