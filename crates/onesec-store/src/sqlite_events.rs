//! Events in SQLite: blocks of events ([`crate::blocks`]) plus a small index of the events
//! that name a person or a site.
//!
//! Tables (created by the store's schema):
//! * `event_blocks(first_id PK, last_id, min_time_ms, max_time_ms, count, data, segment,
//!   offset)`: consecutive events by journal sequence, at most [`BLOCK_EVENTS`] per row; indexed
//!   by `min_time_ms`. A block either holds its events' JSON lines in `data`, or (when
//!   `segment` is set, `data` empty) refers to their journal records: `count` consecutive
//!   records from sequence `first_id`, the first at byte `offset` of the segment file named by
//!   `segment`. Detection writes references, so an event body is kept once, in the journal;
//!   blocks with data come from stores without a journal and from older versions.
//! * `event_keys(kind, key, time_ms, id)` (`WITHOUT ROWID`): one row per event and resolved
//!   person (`kind = 'person'`) or site (`kind = 'site'`), so timelines need no block scan.
//!
//! Events are written in ascending id order (the journal order detection follows); an event at
//! or below the highest stored id is already stored and is skipped, which keeps commits
//! idempotent.

use crate::blocks::{BLOCK_EVENTS, Block};
use crate::event_scan::{self, Bodies, DEFAULT_LIMIT, StoredBlock, StoredKey, sql_id};
use crate::{EventFilter, Result, StoreError};
use onesec_event::{Event, EventId};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::path::Path;

fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { action, source }
}

/// A connection to read events through, with the journal folder that blocks may refer to.
pub(crate) struct EventRows<'a> {
    pub conn: &'a Connection,
    pub journal: Option<&'a Path>,
}

/// Adds `columns` (INTEGER, nullable) to `table` where a database created before them lacks
/// them: the journal references of `event_blocks`, the byte offset of `dead_letters`.
pub(crate) fn add_missing_columns(conn: &Connection, table: &str, columns: &[&str]) -> Result<()> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .map_err(db("read a table's columns"))?;
    let present: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(db("read a table's columns"))?
        .collect::<std::result::Result<_, _>>()
        .map_err(db("read a table's columns"))?;
    for column in columns {
        if !present.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} INTEGER"))
                .map_err(db("add a column to a table of an older database"))?;
        }
    }
    Ok(())
}

/// Writes events (ascending ids) with their bodies kept as `bodies` says.
pub(crate) fn write_events(conn: &Connection, events: &[Event], bodies: Bodies<'_>) -> Result<()> {
    // Blocks hold consecutive ids in order, so the block with the highest first id holds the
    // highest id: a primary-key lookup (max(last_id) would scan every block row).
    let stored_upto: i64 = conn
        .query_row(
            "SELECT last_id FROM event_blocks ORDER BY first_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("read highest stored event"))?
        .unwrap_or(0);
    let new = event_scan::plan_new_events(events, bodies, event_scan::event_id(stored_upto));
    for block in &new.blocks {
        insert_block(conn, block)?;
    }
    insert_keys(conn, &new.events)?;
    crate::sqlite_devices::record_sightings(conn, new.events.iter().copied())
}

fn insert_block(conn: &Connection, block: &Block) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO event_blocks
               (first_id, last_id, min_time_ms, max_time_ms, count, data, segment, offset)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db("prepare event block insert"))?;
    let head = &block.head;
    let sql_u64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    stmt.execute(params![
        sql_id(head.first_id),
        sql_id(head.last_id),
        head.min_time_ms,
        head.max_time_ms,
        head.count as i64,
        block.data,
        block.at.map(|p| sql_u64(p.segment)),
        block.at.map(|p| sql_u64(p.offset)),
    ])
    .map_err(db("insert event block"))?;
    Ok(())
}

fn insert_keys(conn: &Connection, events: &[&Event]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO event_keys (kind, key, time_ms, id) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db("prepare event key insert"))?;
    for (kind, key, time_ms, id) in events.iter().flat_map(|e| event_scan::key_rows(e)) {
        stmt.execute(params![kind, key, time_ms, id])
            .map_err(db("insert event key"))?;
    }
    Ok(())
}

/// How many events are stored.
pub(crate) fn event_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .query_row(
            "SELECT coalesce(sum(count), 0) FROM event_blocks",
            [],
            |r| r.get(0),
        )
        .map_err(db("count events"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The events with these ids, ordered by event time then id; unknown ids are left out.
pub(crate) fn events_by_ids(rows: &EventRows<'_>, ids: &[EventId]) -> Result<Vec<Event>> {
    event_scan::events_by_ids(ids, rows.journal, |id| block_at_or_before(rows.conn, id))
}

/// The block with the greatest first id at or below `id`.
fn block_at_or_before(conn: &Connection, id: EventId) -> Result<Option<StoredBlock>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {BLOCK_COLUMNS} FROM event_blocks
             WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1"
        ))
        .map_err(db("prepare block lookup"))?;
    stmt.query_row([sql_id(id)], block_from_row)
        .optional()
        .map_err(db("read event block"))
}

/// The columns [`block_from_row`] reads, in its order.
const BLOCK_COLUMNS: &str =
    "first_id, last_id, min_time_ms, max_time_ms, count, data, segment, offset";

fn block_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBlock> {
    let id = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    Ok(StoredBlock {
        first_id: id(0)?,
        last_id: id(1)?,
        min_time_ms: r.get(2)?,
        max_time_ms: r.get(3)?,
        count: id(4)? as usize,
        data: r.get(5)?,
        at: event_scan::position(r.get(6)?, r.get(7)?),
    })
}

/// Events matching the filter: ordered by id when paging with `after_id`, else by event time
/// then id; at most `limit` (default 1000).
pub(crate) fn query_events(rows: &EventRows<'_>, filter: &EventFilter) -> Result<Vec<Event>> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Ok(Vec::new());
    }
    if filter.person.is_some() || filter.site.is_some() {
        let ids = keyed_ids(rows.conn, filter, limit)?;
        return event_scan::keyed_events(&ids, filter, rows.journal, |id| {
            block_at_or_before(rows.conn, id)
        });
    }
    match filter.after_id {
        Some(after) => {
            let mut stmt = rows
                .conn
                .prepare(&format!(
                    "SELECT {BLOCK_COLUMNS} FROM event_blocks WHERE last_id > ?1 ORDER BY first_id"
                ))
                .map_err(db("prepare event page"))?;
            let found = stmt
                .query_map([sql_id(after)], block_from_row)
                .map_err(db("query event page"))?
                .map(|row| row.map_err(db("read event block")));
            event_scan::events_after(found, rows.journal, filter, after, limit)
        }
        None => earliest_events(rows, filter, limit),
    }
}

/// Ids of events about the filter's person and/or site, in the filter's order.
fn keyed_ids(conn: &Connection, filter: &EventFilter, limit: usize) -> Result<Vec<EventId>> {
    let (kind, key, other) = match (&filter.person, &filter.site) {
        (Some(person), site) => ("person", person, site.as_ref().map(|s| ("site", s))),
        (None, Some(site)) => ("site", site, None),
        (None, None) => return Ok(Vec::new()),
    };
    let mut sql = String::from("SELECT k.id FROM event_keys k WHERE k.kind = ? AND k.key = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![kind.to_string().into(), key.clone().into()];
    if let Some((other_kind, other_key)) = other {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM event_keys o WHERE o.kind = ? AND o.key = ?
               AND o.time_ms = k.time_ms AND o.id = k.id)",
        );
        args.push(other_kind.to_string().into());
        args.push(other_key.clone().into());
    }
    push_range(&mut sql, &mut args, filter, "k.");
    let order = if filter.after_id.is_some() {
        "k.id"
    } else {
        "k.time_ms, k.id"
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    args.push((limit as i64).into());
    let mut stmt = conn.prepare(&sql).map_err(db("prepare event key query"))?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| r.get::<_, i64>(0))
        .map_err(db("query event keys"))?;
    let mut ids = Vec::new();
    for row in rows {
        ids.extend(u64::try_from(row.map_err(db("read event key"))?).ok());
    }
    Ok(ids)
}

fn push_range(
    sql: &mut String,
    args: &mut Vec<rusqlite::types::Value>,
    filter: &EventFilter,
    prefix: &str,
) {
    if let Some(from) = filter.from_ms {
        sql.push_str(&format!(" AND {prefix}time_ms >= ?"));
        args.push(from.into());
    }
    if let Some(to) = filter.to_ms {
        sql.push_str(&format!(" AND {prefix}time_ms <= ?"));
        args.push(to.into());
    }
    if let Some(after) = filter.after_id {
        sql.push_str(&format!(" AND {prefix}id > ?"));
        args.push(sql_id(after).into());
    }
}

/// The `limit` earliest events in the time range: blocks read lazily in order of their
/// earliest event (see [`event_scan::earliest_events`]).
fn earliest_events(rows: &EventRows<'_>, filter: &EventFilter, limit: usize) -> Result<Vec<Event>> {
    let mut sql = format!("SELECT {BLOCK_COLUMNS} FROM event_blocks WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(from) = filter.from_ms {
        sql.push_str(" AND max_time_ms >= ?");
        args.push(from.into());
    }
    if let Some(to) = filter.to_ms {
        sql.push_str(" AND min_time_ms <= ?");
        args.push(to.into());
    }
    sql.push_str(" ORDER BY min_time_ms");
    let mut stmt = rows.conn.prepare(&sql).map_err(db("prepare event query"))?;
    let found = stmt
        .query_map(params_from_iter(args), block_from_row)
        .map_err(db("query event blocks"))?
        .map(|row| row.map_err(db("read event block")));
    event_scan::earliest_events(found, rows.journal, filter, limit)
}

/// Checks the event indexes against the events they index (see
/// [`event_scan::index_problems`]).
pub(crate) fn index_problems(rows: &EventRows<'_>) -> Result<Vec<(String, String)>> {
    let mut keys = rows
        .conn
        .prepare("SELECT id, kind, key, time_ms FROM event_keys ORDER BY id, kind, key, time_ms")
        .map_err(db("prepare event key check"))?;
    let keys = keys
        .query_map([], |r| -> rusqlite::Result<StoredKey> {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })
        .map_err(db("read event keys"))?
        .map(|row| row.map_err(db("read event key")));
    let mut blocks = rows
        .conn
        .prepare(&format!(
            "SELECT {BLOCK_COLUMNS} FROM event_blocks ORDER BY first_id"
        ))
        .map_err(db("prepare event block check"))?;
    let blocks = blocks
        .query_map([], block_from_row)
        .map_err(db("read event blocks"))?
        .map(|row| row.map_err(db("read event block")));
    event_scan::index_problems(blocks, keys, rows.journal)
}

/// Removes the events `ids` (retention, erasure): every block holding one is rewritten with
/// the events it keeps as JSON lines (so it no longer refers to the journal) or dropped when
/// it keeps none, and the removed events' timeline rows go with them. Returns the events
/// removed (ids the store does not hold are skipped).
pub(crate) fn remove_events(
    conn: &Connection,
    journal: Option<&Path>,
    ids: &[EventId],
) -> Result<Vec<Event>> {
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let rows = EventRows { conn, journal };
    let mut removed = Vec::new();
    let mut rest = wanted.as_slice();
    while let Some(&first) = rest.first() {
        let Some(block) = stored_block_holding(&rows, first)? else {
            rest = &rest[1..];
            continue;
        };
        let inside = rest.partition_point(|id| *id <= block.last_id);
        let (here, later) = rest.split_at(inside);
        rest = later;
        removed.extend(rewrite_block_without(&rows, block, here)?);
    }
    delete_keys(conn, &removed)?;
    Ok(removed)
}

/// Rewrites one block without the events `drop` (ascending); returns the dropped events.
fn rewrite_block_without(
    rows: &EventRows<'_>,
    block: StoredBlock,
    drop: &[EventId],
) -> Result<Vec<Event>> {
    let rewritten = event_scan::rewrite_block(block, rows.journal, drop)?;
    if rewritten.dropped.is_empty() {
        return Ok(rewritten.dropped);
    }
    replace_block(rows.conn, &rewritten)?;
    Ok(rewritten.dropped)
}

/// Replaces a block's row by the blocks of its rewrite.
fn replace_block(conn: &Connection, rewritten: &event_scan::Rewritten) -> Result<()> {
    conn.execute(
        "DELETE FROM event_blocks WHERE first_id = ?1",
        [sql_id(rewritten.first_id)],
    )
    .map_err(db("delete a rewritten event block"))?;
    for block in &rewritten.replacement {
        insert_block(conn, block)?;
    }
    Ok(())
}

fn delete_keys(conn: &Connection, events: &[Event]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "DELETE FROM event_keys WHERE kind = ?1 AND key = ?2 AND time_ms = ?3 AND id = ?4",
        )
        .map_err(db("prepare event key delete"))?;
    for e in events {
        let person = e.resolved.person.as_ref().map(|p| p.id.as_str());
        for (kind, key) in [("person", person), ("site", e.resolved.site.as_deref())] {
            if let Some(key) = key {
                stmt.execute(params![kind, key, e.time_ms, sql_id(e.id)])
                    .map_err(db("delete event key"))?;
            }
        }
    }
    Ok(())
}

/// Copies the bodies of every block that refers to a journal record below `seq` into the
/// block itself, so those journal segments can be deleted; returns how many events moved.
pub(crate) fn take_bodies_before(
    conn: &Connection,
    journal: Option<&Path>,
    seq: EventId,
) -> Result<u64> {
    let rows = EventRows { conn, journal };
    let firsts: Vec<i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT first_id FROM event_blocks WHERE segment IS NOT NULL AND first_id < ?1",
            )
            .map_err(db("prepare journal block query"))?;
        let found = stmt
            .query_map([sql_id(seq)], |r| r.get(0))
            .map_err(db("query journal blocks"))?;
        found
            .collect::<std::result::Result<_, _>>()
            .map_err(db("read journal block"))?
    };
    let mut moved = 0u64;
    for first in firsts {
        let Some(block) = stored_block_holding(&rows, first.max(0) as u64)? else {
            continue;
        };
        let rewritten = event_scan::rewrite_block(block, journal, &[])?;
        replace_block(conn, &rewritten)?;
        moved += rewritten.kept;
    }
    Ok(moved)
}

/// The lowest event id whose body the store still reads from the journal (None: none).
pub(crate) fn journal_needed_from(conn: &Connection) -> Result<Option<EventId>> {
    let first: Option<i64> = conn
        .query_row(
            "SELECT min(first_id) FROM event_blocks WHERE segment IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .map_err(db("find the oldest journal block"))?;
    Ok(first.and_then(|f| u64::try_from(f).ok()))
}

/// The block row whose id range contains `id`.
fn stored_block_holding(rows: &EventRows<'_>, id: EventId) -> Result<Option<StoredBlock>> {
    let mut stmt = rows
        .conn
        .prepare_cached(&format!(
            "SELECT {BLOCK_COLUMNS} FROM event_blocks
             WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1"
        ))
        .map_err(db("prepare block lookup"))?;
    let row = stmt
        .query_row([sql_id(id)], block_from_row)
        .optional()
        .map_err(db("read event block"))?;
    Ok(row.filter(|block| id <= block.last_id))
}

/// Moves events from the one-row-per-event table of earlier versions into blocks, once.
pub(crate) fn migrate_event_rows(conn: &mut Connection) -> Result<()> {
    let old: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("look for the old events table"))?;
    if old.is_none() {
        return Ok(());
    }
    let tx = conn.transaction().map_err(db("begin event migration"))?;
    let mut last = 0i64;
    loop {
        let page: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare("SELECT id, json FROM events WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(db("prepare event migration"))?;
            let rows = stmt
                .query_map(params![last, (BLOCK_EVENTS * 64) as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db("read old events"))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(db("read old event"))?
        };
        let Some(&(page_last, _)) = page.last() else {
            break;
        };
        let mut events = Vec::with_capacity(page.len());
        for (id, json) in &page {
            events.push(event_scan::parse_line(
                u64::try_from(*id).unwrap_or(0),
                json.as_bytes(),
            )?);
        }
        let json: Vec<String> = page.into_iter().map(|(_, json)| json).collect();
        write_events(&tx, &events, Bodies::Json(&json))?;
        last = page_last;
    }
    tx.execute_batch("DROP TABLE events")
        .map_err(db("drop the old events table"))?;
    tx.commit().map_err(db("commit event migration"))
}

#[cfg(test)]
mod tests {
    use crate::{EventFilter, SqliteStore, Store};
    use onesec_event::{Activity, Event, EventClass, EventId, PersonRef};

    // The behaviour of events on both backends is tested in tests/backends/events.rs; here
    // only what is SQLite's own: moving the rows of older versions.

    fn event(id: EventId, time_ms: i64, person: Option<&str>, site: Option<&str>) -> Event {
        let mut e = Event::new(time_ms, EventClass::PhysicalAccess, Activity::AccessGranted);
        e.id = id;
        e.resolved.site = site.map(str::to_string);
        e.resolved.person = person.map(|p| PersonRef {
            id: p.into(),
            name: "N".into(),
            status: "active".into(),
            department: String::new(),
            home_site: String::new(),
        });
        e
    }

    #[test]
    fn rows_of_the_old_events_table_move_into_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let kept = event(41, 5000, Some("p1"), Some("PAR"));
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
                   person TEXT, site TEXT, json TEXT NOT NULL);",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO events (id, time_ms, person, site, json) VALUES (41, 5000, 'p1', 'PAR', ?1)",
                [serde_json::to_string(&kept).unwrap()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.events_by_ids(&[41]).unwrap(), vec![kept]);
        let person = EventFilter {
            person: Some("p1".into()),
            ..Default::default()
        };
        assert_eq!(store.events(&person).unwrap().len(), 1);
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the old table is gone");
    }
}
