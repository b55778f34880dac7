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

use crate::blocks::{self, BLOCK_EVENTS, Block};
use crate::{EventFilter, Result, StoreError};
use onesec_event::{Event, EventId};
use onesec_journal::Position;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::BinaryHeap;
use std::path::Path;

fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { action, source }
}

fn sql_id(id: EventId) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Default page of the events query.
const DEFAULT_LIMIT: usize = 1000;

/// A connection to read events through, with the journal folder that blocks may refer to.
pub(crate) struct EventRows<'a> {
    pub conn: &'a Connection,
    pub journal: Option<&'a Path>,
}

/// Where the bodies of events being written are kept.
pub(crate) enum Bodies<'a> {
    /// In the journal, at these positions (one per event): blocks refer to them.
    InJournal(&'a [Position]),
    /// Nowhere yet: the store writes the events' JSON into the blocks.
    Serialise,
    /// This JSON, one per event (rows moved from an older table).
    Json(&'a [String]),
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
    let new = |e: &&Event| sql_id(e.id) > stored_upto;
    match bodies {
        Bodies::InJournal(positions) => {
            let mut located: Vec<(&Event, Position)> = events
                .iter()
                .zip(positions.iter().copied())
                .filter(|(e, _)| new(e))
                .collect();
            located.sort_by_key(|(e, _)| e.id);
            located.dedup_by_key(|(e, _)| e.id);
            for block in blocks::build_references(&located) {
                insert_block(conn, &block)?;
            }
            index_new_events(conn, located.iter().map(|(e, _)| *e))
        }
        Bodies::Serialise | Bodies::Json(_) => {
            let given = match bodies {
                Bodies::Json(json) if json.len() == events.len() => Some(json),
                _ => None,
            };
            let mut pairs: Vec<(&Event, std::borrow::Cow<'_, str>)> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| new(e))
                .map(|(i, e)| {
                    let text = match given.and_then(|json| json.get(i)) {
                        Some(text) => std::borrow::Cow::Borrowed(text.as_str()),
                        None => std::borrow::Cow::Owned(crate::sqlite::to_json(e)),
                    };
                    (e, text)
                })
                .collect();
            pairs.sort_by_key(|(e, _)| e.id);
            pairs.dedup_by_key(|(e, _)| e.id);
            let borrowed: Vec<(&Event, &str)> =
                pairs.iter().map(|(e, t)| (*e, t.as_ref())).collect();
            for block in blocks::build_blocks(&borrowed) {
                insert_block(conn, &block)?;
            }
            index_new_events(conn, pairs.iter().map(|(e, _)| *e))
        }
    }
}

/// What else newly stored events feed: the person and site timelines, the device sightings.
fn index_new_events<'a>(
    conn: &Connection,
    events: impl Iterator<Item = &'a Event> + Clone,
) -> Result<()> {
    insert_keys(conn, events.clone())?;
    crate::sqlite_devices::record_sightings(conn, events)
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
fn insert_keys<'a>(conn: &Connection, events: impl Iterator<Item = &'a Event>) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO event_keys (kind, key, time_ms, id) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db("prepare event key insert"))?;
    for e in events {
        let person = e.resolved.person.as_ref().map(|p| p.id.as_str());
        let keys = [("person", person), ("site", e.resolved.site.as_deref())];
        for (kind, key) in keys {
            if let Some(key) = key {
                stmt.execute(params![kind, key, e.time_ms, sql_id(e.id)])
                    .map_err(db("insert event key"))?;
            }
        }
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
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut events = Vec::with_capacity(wanted.len());
    let mut block: Option<(EventId, EventId, Vec<u8>)> = None;
    for id in wanted {
        if !block
            .as_ref()
            .is_some_and(|(f, l, _)| (*f..=*l).contains(&id))
        {
            block = block_holding(rows, id)?;
        }
        let line = block
            .as_ref()
            .and_then(|(_, _, d)| blocks::find_line(d, id));
        if let Some(line) = line {
            events.push(parse_line(id, line)?);
        }
    }
    events.sort_by_key(|e: &Event| (e.time_ms, e.id));
    Ok(events)
}

/// The block whose id range contains `id`: `(first_id, last_id, data)`.
fn block_holding(rows: &EventRows<'_>, id: EventId) -> Result<Option<(EventId, EventId, Vec<u8>)>> {
    let mut stmt = rows
        .conn
        .prepare_cached(&format!(
            "SELECT {BLOCK_COLUMNS} FROM event_blocks
             WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1"
        ))
        .map_err(db("prepare block lookup"))?;
    let row = stmt
        .query_row([sql_id(id)], StoredBlock::from_row)
        .optional()
        .map_err(db("read event block"))?;
    let Some(block) = row else {
        return Ok(None);
    };
    if id > block.last_id {
        return Ok(None);
    }
    let (first, last) = (block.first_id, block.last_id);
    Ok(Some((first, last, block.lines(rows.journal)?)))
}

/// The columns [`StoredBlock::from_row`] reads, in its order.
const BLOCK_COLUMNS: &str = "first_id, last_id, min_time_ms, count, data, segment, offset";

/// One `event_blocks` row as read.
struct StoredBlock {
    first_id: EventId,
    last_id: EventId,
    min_time_ms: i64,
    count: usize,
    data: Vec<u8>,
    at: Option<Position>,
}

impl StoredBlock {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBlock> {
        let id = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
        let segment: Option<i64> = r.get(5)?;
        let offset: Option<i64> = r.get(6)?;
        Ok(StoredBlock {
            first_id: id(0)?,
            last_id: id(1)?,
            min_time_ms: r.get(2)?,
            count: id(3)? as usize,
            data: r.get(4)?,
            at: segment.zip(offset).map(|(segment, offset)| Position {
                segment: segment.max(0) as u64,
                offset: offset.max(0) as u64,
            }),
        })
    }

    /// The block's events as JSON lines (see [`crate::blocks`]): the stored data, or the
    /// journal records it refers to with their sequence as id.
    fn lines(self, journal: Option<&Path>) -> Result<Vec<u8>> {
        let Some(at) = self.at else {
            return Ok(self.data);
        };
        let (first, last) = (self.first_id, self.last_id);
        let missing = || {
            StoreError::NotFound(format!(
                "events {first}..={last} are kept in the journal, and this store has no journal folder"
            ))
        };
        let folder = journal.ok_or_else(missing)?;
        let records = onesec_journal::read_at(folder, at, first, self.count).map_err(|source| {
            StoreError::Journal {
                first,
                last,
                source,
            }
        })?;
        Ok(blocks::lines_of_records(&records))
    }
}

fn parse_line(id: EventId, line: &[u8]) -> Result<Event> {
    serde_json::from_slice(line).map_err(|source| StoreError::Corrupt {
        table: "event_blocks",
        id: id.to_string(),
        source,
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
        let mut events = events_by_ids(rows, &ids)?;
        if filter.after_id.is_some() {
            events.sort_by_key(|e| e.id);
        }
        return Ok(events);
    }
    match filter.after_id {
        Some(after) => events_after(rows, filter, after, limit),
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

fn in_time_range(filter: &EventFilter, time_ms: i64) -> bool {
    filter.from_ms.is_none_or(|f| time_ms >= f) && filter.to_ms.is_none_or(|t| time_ms <= t)
}

/// Paging by id: blocks in id order from the one holding `after + 1`.
fn events_after(
    rows: &EventRows<'_>,
    filter: &EventFilter,
    after: EventId,
    limit: usize,
) -> Result<Vec<Event>> {
    let mut stmt = rows
        .conn
        .prepare(&format!(
            "SELECT {BLOCK_COLUMNS} FROM event_blocks WHERE last_id > ?1 ORDER BY first_id"
        ))
        .map_err(db("prepare event page"))?;
    let mut found = stmt
        .query([sql_id(after)])
        .map_err(db("query event page"))?;
    let mut events = Vec::new();
    while let Some(row) = found.next().map_err(db("read event block"))? {
        let block = StoredBlock::from_row(row).map_err(db("read event block"))?;
        let data = block.lines(rows.journal)?;
        for line in blocks::lines(&data) {
            let Some((id, time)) = blocks::line_head(line) else {
                continue;
            };
            if id > after && in_time_range(filter, time) {
                events.push(parse_line(id, line)?);
                if events.len() == limit {
                    return Ok(events);
                }
            }
        }
    }
    Ok(events)
}

/// The `limit` earliest events in the time range, by (time, id). Blocks are read in order of
/// their earliest event; once `limit` events are held and the next block starts after the
/// latest of them, no later block can contribute.
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
    let mut found = stmt
        .query(params_from_iter(args))
        .map_err(db("query event blocks"))?;
    // Max-heap of the best (time, id) so far, with the line to parse at the end.
    let mut best: BinaryHeap<((i64, EventId), Vec<u8>)> = BinaryHeap::with_capacity(limit + 1);
    while let Some(row) = found.next().map_err(db("read event block"))? {
        let block = StoredBlock::from_row(row).map_err(db("read event block"))?;
        let full = best.len() >= limit;
        if full
            && best
                .peek()
                .is_some_and(|((t, _), _)| block.min_time_ms > *t)
        {
            break;
        }
        let data = block.lines(rows.journal)?;
        for line in blocks::lines(&data) {
            let Some((id, time)) = blocks::line_head(line) else {
                continue;
            };
            if !in_time_range(filter, time) {
                continue;
            }
            if best.len() < limit || best.peek().is_some_and(|(k, _)| (time, id) < *k) {
                best.push(((time, id), line.to_vec()));
                if best.len() > limit {
                    best.pop();
                }
            }
        }
    }
    let mut events = best
        .into_sorted_vec()
        .into_iter()
        .map(|((_, id), line)| parse_line(id, &line))
        .collect::<Result<Vec<_>>>()?;
    events.sort_by_key(|e| (e.time_ms, e.id));
    Ok(events)
}

/// Checks the store's event indexes against the events they index, block by block in id
/// order: each block's id range, count and time range against its events (a block whose
/// events cannot be read is one problem, and the check goes on), and the `event_keys` rows
/// (person and site timelines) against the events' resolved person and site — a missing row
/// hides an event from a timeline, an extra one puts it in another's. Each problem is
/// `(where, what)`.
pub(crate) fn index_problems(rows: &EventRows<'_>) -> Result<Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut keys = rows
        .conn
        .prepare("SELECT id, kind, key, time_ms FROM event_keys ORDER BY id, kind, key, time_ms")
        .map_err(db("prepare event key check"))?;
    let mut keys = keys
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db("read event keys"))?
        .peekable();
    let mut blocks = rows
        .conn
        .prepare(&format!(
            "SELECT {BLOCK_COLUMNS}, max_time_ms FROM event_blocks ORDER BY first_id"
        ))
        .map_err(db("prepare event block check"))?;
    let mut found = blocks.query([]).map_err(db("read event blocks"))?;
    while let Some(row) = found.next().map_err(db("read event block"))? {
        let block = StoredBlock::from_row(row).map_err(db("read event block"))?;
        let max_time_ms: i64 = row.get(7).map_err(db("read event block"))?;
        let (first, last, count, min_time_ms) = (
            block.first_id,
            block.last_id,
            block.count,
            block.min_time_ms,
        );
        let place = format!("store block {first}..={last}");
        let events = match block.lines(rows.journal) {
            Ok(data) => blocks::lines(&data)
                .map(|line| {
                    let id = blocks::line_head(line).map_or(0, |(id, _)| id);
                    parse_line(id, line)
                })
                .collect::<Result<Vec<Event>>>(),
            Err(error) => Err(error),
        };
        let events = match events {
            Ok(events) => events,
            Err(error) => {
                problems.push((place, format!("its events cannot be read: {error}")));
                // Its events' timeline rows cannot be checked either.
                while keys
                    .next_if(|row| row.as_ref().is_ok_and(|(id, ..)| *id <= last))
                    .is_some()
                {}
                continue;
            }
        };
        let times = events.iter().map(|e| e.time_ms);
        let described = (
            events.first().map(|e| e.id),
            events.last().map(|e| e.id),
            events.len(),
            times.clone().min(),
            times.max(),
        );
        let said = (
            Some(first),
            Some(last),
            count,
            Some(min_time_ms),
            Some(max_time_ms),
        );
        if described != said {
            problems.push((
                place,
                format!(
                    "says ids {first}..={last}, {count} events, times {min_time_ms}..={max_time_ms}, \
                     but holds {described:?} (first, last, count, earliest, latest)"
                ),
            ));
        }
        for event in &events {
            check_event_keys(event, &mut keys, &mut problems)?;
        }
    }
    for row in keys {
        let (id, kind, key, _) = row.map_err(db("read event key"))?;
        problems.push((
            format!("store event {id}"),
            format!("the {kind} index names '{key}' for an event the store does not hold"),
        ));
    }
    Ok(problems)
}

/// Compares the `event_keys` rows of `event` (taken from the front of `keys`, sorted by id)
/// with the person and site the event names.
fn check_event_keys(
    event: &Event,
    keys: &mut std::iter::Peekable<
        impl Iterator<Item = rusqlite::Result<(u64, String, String, i64)>>,
    >,
    problems: &mut Vec<(String, String)>,
) -> Result<()> {
    let mut indexed = Vec::new();
    while let Some(Ok((id, ..))) = keys.peek() {
        if *id > event.id {
            break;
        }
        if let Some(row) = keys.next() {
            indexed.push(row.map_err(db("read event key"))?);
        }
    }
    if let Some(Err(_)) = keys.peek()
        && let Some(Err(error)) = keys.next()
    {
        return Err(db("read event key")(error));
    }
    let person = event.resolved.person.as_ref().map(|p| p.id.as_str());
    let mut expected: Vec<(u64, String, String, i64)> =
        [("person", person), ("site", event.resolved.site.as_deref())]
            .into_iter()
            .filter_map(|(kind, key)| {
                Some((event.id, kind.to_string(), key?.to_string(), event.time_ms))
            })
            .collect();
    expected.sort();
    if indexed != expected {
        let show = |rows: &[(u64, String, String, i64)]| {
            rows.iter()
                .map(|(id, kind, key, time)| format!("{kind} '{key}' at {time} for {id}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        problems.push((
            format!("store event {}", event.id),
            format!(
                "its timeline index rows are [{}], where the event calls for [{}]",
                show(&indexed),
                show(&expected)
            ),
        ));
    }
    Ok(())
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
    let first_id = block.first_id;
    let data = block.lines(rows.journal)?;
    let mut kept: Vec<(Event, &[u8])> = Vec::new();
    let mut dropped = Vec::new();
    for line in blocks::lines(&data) {
        let Some((id, _)) = blocks::line_head(line) else {
            continue;
        };
        let event = parse_line(id, line)?;
        if drop.binary_search(&id).is_ok() {
            dropped.push(event);
        } else {
            kept.push((event, line));
        }
    }
    if dropped.is_empty() {
        return Ok(dropped);
    }
    rows.conn
        .execute(
            "DELETE FROM event_blocks WHERE first_id = ?1",
            [sql_id(first_id)],
        )
        .map_err(db("delete a rewritten event block"))?;
    insert_inline(rows.conn, &kept)?;
    Ok(dropped)
}

/// Stores events with their JSON lines as blocks that hold the JSON themselves.
fn insert_inline(conn: &Connection, kept: &[(Event, &[u8])]) -> Result<()> {
    let texts: Vec<(&Event, std::borrow::Cow<'_, str>)> = kept
        .iter()
        .map(|(e, line)| (e, String::from_utf8_lossy(line)))
        .collect();
    let borrowed: Vec<(&Event, &str)> = texts.iter().map(|(e, t)| (*e, t.as_ref())).collect();
    for block in blocks::build_blocks(&borrowed) {
        insert_block(conn, &block)?;
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
        let data = block.lines(journal)?;
        let mut kept: Vec<(Event, &[u8])> = Vec::new();
        for line in blocks::lines(&data) {
            if let Some((id, _)) = blocks::line_head(line) {
                kept.push((parse_line(id, line)?, line));
            }
        }
        conn.execute("DELETE FROM event_blocks WHERE first_id = ?1", [first])
            .map_err(db("delete a journal block"))?;
        insert_inline(conn, &kept)?;
        moved += kept.len() as u64;
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
        .query_row([sql_id(id)], StoredBlock::from_row)
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
            events.push(parse_line(
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
    use crate::{DetectionBatch, EventFilter, SqliteStore, Store};
    use onesec_event::{Activity, Event, EventClass, EventId, PersonRef};

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

    /// 1000 events, event time running backwards within each block so block order and time
    /// order differ; every 10th about p1, every 3rd at site PAR.
    fn thousand_events() -> Vec<Event> {
        (1..=1000u64)
            .map(|id| {
                let time = (id as i64 / 100) * 1000 + (100 - id as i64 % 100);
                let person = (id % 10 == 0).then_some("p1");
                let site = (id % 3 == 0).then_some("PAR");
                event(id, time, person, site)
            })
            .collect()
    }

    /// The thousand events in two commits, their JSON kept in the blocks.
    fn store_with_events() -> (SqliteStore, Vec<Event>) {
        let mut store = SqliteStore::in_memory().unwrap();
        let events = thousand_events();
        for part in events.chunks(600) {
            let batch = DetectionBatch {
                events: part.to_vec(),
                detected_upto: part.last().unwrap().id,
                ..Default::default()
            };
            store.commit(&batch).unwrap();
        }
        (store, events)
    }

    /// The thousand events journaled as the ingestor does (JSON, id 0) in small segments, then
    /// committed in two batches with their journal positions, as detection does.
    fn journal_store_with_events() -> (SqliteStore, Vec<Event>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let events = thousand_events();
        let config = onesec_journal::JournalConfig::new(dir.path().join("journal"))
            .segment_bytes(64 << 10)
            .fsync(onesec_journal::FsyncPolicy::Never);
        let (journal, _) = onesec_journal::Journal::open(config).unwrap();
        let payloads = events
            .iter()
            .map(|e| {
                let mut unjournaled = e.clone();
                unjournaled.id = 0;
                serde_json::to_vec(&unjournaled).unwrap()
            })
            .collect();
        assert_eq!(journal.append_batch(payloads).unwrap(), 1..=1000);
        let mut reader = journal.reader(1).unwrap();
        let mut positions = Vec::new();
        while let Some((_, _, at)) = reader.try_next_located().unwrap() {
            positions.push(at);
        }
        let segments: std::collections::BTreeSet<u64> =
            positions.iter().map(|p| p.segment).collect();
        assert!(segments.len() > 2, "blocks must split at segment ends");
        let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
        for (part, at) in events.chunks(600).zip(positions.chunks(600)) {
            let batch = DetectionBatch {
                events: part.to_vec(),
                journal_positions: at.to_vec(),
                detected_upto: part.last().unwrap().id,
                ..Default::default()
            };
            store.commit(&batch).unwrap();
        }
        let copied: i64 = store
            .conn
            .query_row("SELECT sum(length(data)) FROM event_blocks", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(copied, 0, "no event body is copied into the database");
        (store, events, dir)
    }

    /// Both kinds of store holding the thousand events (the folder keeps the journal alive).
    fn stores_with_events() -> Vec<(SqliteStore, Vec<Event>, Option<tempfile::TempDir>)> {
        let (inline, events) = store_with_events();
        let (journaled, same, dir) = journal_store_with_events();
        vec![(inline, events, None), (journaled, same, Some(dir))]
    }

    fn expected(events: &[Event], keep: impl Fn(&Event) -> bool, limit: usize) -> Vec<EventId> {
        let mut kept: Vec<&Event> = events.iter().filter(|e| keep(e)).collect();
        kept.sort_by_key(|e| (e.time_ms, e.id));
        kept.iter().take(limit).map(|e| e.id).collect()
    }

    fn ids(events: Vec<Event>) -> Vec<EventId> {
        events.into_iter().map(|e| e.id).collect()
    }

    #[test]
    fn time_queries_return_the_earliest_events_in_time_order() {
        for (store, events, _dir) in stores_with_events() {
            time_queries(&store, &events);
        }
    }

    fn time_queries(store: &SqliteStore, events: &[Event]) {
        assert_eq!(store.event_count().unwrap(), 1000);
        let filter = EventFilter {
            from_ms: Some(2050),
            to_ms: Some(7000),
            limit: Some(150),
            ..Default::default()
        };
        let got = ids(store.events(&filter).unwrap());
        let want = expected(events, |e| (2050..=7000).contains(&e.time_ms), 150);
        assert_eq!(got, want);
        let all = store.events(&EventFilter::default()).unwrap();
        assert_eq!(ids(all.clone()), expected(events, |_| true, 1000));
        let mut by_id = all;
        by_id.sort_by_key(|e| e.id);
        assert_eq!(by_id, events, "events read back whole, with their ids");
    }

    #[test]
    fn person_and_site_queries_use_the_key_index() {
        for (store, events, _dir) in stores_with_events() {
            person_and_site_queries(&store, &events);
        }
    }

    fn person_and_site_queries(store: &SqliteStore, events: &[Event]) {
        let person = EventFilter {
            person: Some("p1".into()),
            from_ms: Some(3000),
            ..Default::default()
        };
        let want = expected(events, |e| e.id % 10 == 0 && e.time_ms >= 3000, 1000);
        assert_eq!(ids(store.events(&person).unwrap()), want);
        let both = EventFilter {
            person: Some("p1".into()),
            site: Some("PAR".into()),
            limit: Some(20),
            ..Default::default()
        };
        let want = expected(events, |e| e.id % 30 == 0, 20);
        assert_eq!(ids(store.events(&both).unwrap()), want);
    }

    #[test]
    fn paging_by_id_walks_every_event_once() {
        for (store, _, _dir) in stores_with_events() {
            paging_by_id(&store);
        }
    }

    fn paging_by_id(store: &SqliteStore) {
        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let page = store
                .events(&EventFilter {
                    after_id: Some(after),
                    limit: Some(97),
                    ..Default::default()
                })
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            seen.extend(ids(page));
        }
        assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    }

    #[test]
    fn events_at_or_below_the_stored_ones_are_not_stored_twice() {
        for (mut store, events, _dir) in stores_with_events() {
            not_stored_twice(&mut store, &events);
        }
    }

    fn not_stored_twice(store: &mut SqliteStore, events: &[Event]) {
        let again = DetectionBatch {
            events: events[500..700].to_vec(),
            detected_upto: 700,
            ..Default::default()
        };
        store.commit(&again).unwrap();
        assert_eq!(store.event_count().unwrap(), 1000);
        let got = store.events_by_ids(&[1000, 5, 77, 5000]).unwrap();
        let mut got_ids = ids(got);
        got_ids.sort();
        assert_eq!(got_ids, vec![5, 77, 1000]);
    }

    #[test]
    fn the_indexes_are_checked_against_the_events_they_index() {
        for (store, _, _dir) in stores_with_events() {
            assert_eq!(store.event_index_problems().unwrap(), vec![]);
            let tamper = |sql: &str| assert!(store.conn.execute(sql, []).unwrap() > 0, "{sql}");
            // Event 30 (p1 at PAR) drops out of p1's timeline; event 31 joins it.
            tamper("DELETE FROM event_keys WHERE id = 30 AND kind = 'person'");
            tamper(
                "INSERT INTO event_keys (kind, key, time_ms, id)
                 SELECT 'person', 'p1', time_ms, 31 FROM event_keys WHERE id = 33",
            );
            // The first block claims an earlier latest time (time queries would skip it).
            tamper("UPDATE event_blocks SET max_time_ms = 0 WHERE first_id = 1");
            // A key for an event the store does not hold.
            tamper(
                "INSERT INTO event_keys (kind, key, time_ms, id) VALUES ('site', 'PAR', 1, 5000)",
            );
            let problems = store.event_index_problems().unwrap();
            let at = |place: &str| problems.iter().filter(|(p, _)| p == place).count();
            assert_eq!(at("store event 30"), 1, "{problems:?}");
            assert_eq!(at("store event 31"), 1, "{problems:?}");
            assert_eq!(at("store event 5000"), 1, "{problems:?}");
            assert_eq!(
                problems
                    .iter()
                    .filter(|(p, _)| p.starts_with("store block 1..="))
                    .count(),
                1,
                "{problems:?}"
            );
            assert_eq!(problems.len(), 4, "{problems:?}");
        }
    }

    #[test]
    fn a_block_that_cannot_be_read_is_one_problem_and_the_check_goes_on() {
        let (store, _, _dir) = journal_store_with_events();
        store
            .conn
            .execute(
                "UPDATE event_blocks SET offset = offset + 3
                 WHERE first_id = (SELECT min(first_id) FROM event_blocks WHERE first_id > 1)",
                [],
            )
            .unwrap();
        let problems = store.event_index_problems().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].1.contains("cannot be read"), "{problems:?}");
    }

    #[test]
    fn a_lost_journal_segment_is_an_error_naming_the_events() {
        let (store, _, dir) = journal_store_with_events();
        let first_segment = dir.path().join("journal").join("00000000000000000001.seg");
        std::fs::remove_file(first_segment).unwrap();
        let error = store.events_by_ids(&[1]).unwrap_err().to_string();
        assert!(error.contains("events 1..="), "{error}");
        assert!(error.contains("00000000000000000001.seg"), "{error}");
        assert_eq!(
            store.events_by_ids(&[1000]).unwrap().len(),
            1,
            "later segments still read"
        );
    }

    #[test]
    fn an_in_memory_store_cannot_read_journal_blocks_and_says_why() {
        let (journaled, _, dir) = journal_store_with_events();
        drop(journaled);
        let store = SqliteStore::open(&dir.path().join("onesec.db"))
            .unwrap()
            .with_journal_dir(dir.path().join("elsewhere"));
        let error = store.events_by_ids(&[3]).unwrap_err().to_string();
        assert!(error.contains("elsewhere"), "{error}");
    }

    #[test]
    fn removed_events_are_gone_and_the_rest_reads_as_before() {
        use crate::Retention;
        for (mut store, events, _dir) in stores_with_events() {
            // Every 7th event, and the whole first block's worth of ids 1..=128 below 40.
            let gone: Vec<EventId> = (1..=1000).filter(|id| id % 7 == 0 || *id < 40).collect();
            let removed = store.remove_events(&gone, "retention", 99).unwrap();
            assert_eq!(removed.len(), gone.len());
            let kept: Vec<Event> = events
                .iter()
                .filter(|e| !gone.contains(&e.id))
                .cloned()
                .collect();
            assert_eq!(store.event_count().unwrap(), kept.len() as u64);
            let mut all = store.events(&EventFilter::default()).unwrap();
            all.sort_by_key(|e| e.id);
            assert_eq!(all, kept);
            let person = EventFilter {
                person: Some("p1".into()),
                ..Default::default()
            };
            let want = expected(&kept, |e| e.id % 10 == 0, 1000);
            assert_eq!(ids(store.events(&person).unwrap()), want);
            assert_eq!(store.event_index_problems().unwrap(), vec![]);
            let ranges = store.removed_ranges().unwrap();
            assert_eq!((ranges[0].first_id, ranges[0].last_id), (1, 39));
            assert!(
                store
                    .remove_events(&gone, "retention", 100)
                    .unwrap()
                    .is_empty()
            );
        }
    }

    #[test]
    fn bodies_taken_from_the_journal_outlive_its_segments() {
        use crate::Retention;
        let (mut store, events, dir) = journal_store_with_events();
        assert_eq!(store.journal_needed_from().unwrap(), Some(1));
        let moved = store.take_bodies_before(501).unwrap();
        assert!(moved >= 500, "{moved}");
        let needed = store.journal_needed_from().unwrap().unwrap();
        assert!(needed > 500, "{needed}");
        let (journal, _) = onesec_journal::Journal::open(onesec_journal::JournalConfig::new(
            dir.path().join("journal"),
        ))
        .unwrap();
        assert!(journal.truncate_before(needed).unwrap() > 0);
        let mut all = store.events(&EventFilter::default()).unwrap();
        all.sort_by_key(|e| e.id);
        assert_eq!(
            all, events,
            "every event still reads after its segment went"
        );
        assert_eq!(store.event_index_problems().unwrap(), vec![]);
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
