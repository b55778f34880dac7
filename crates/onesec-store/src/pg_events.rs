//! Events in PostgreSQL: the same blocks and timeline keys as on SQLite (`sqlite_events.rs`,
//! `event_scan.rs`), written with one array insert per table and read through cursors, so a
//! time query stops fetching blocks once it has its answer.

use crate::blocks::Block;
use crate::event_scan::{self, Bodies, DEFAULT_LIMIT, StoredBlock, StoredKey, sql_id};
use crate::pg::{pg, sql_limit};
use crate::{EventFilter, Result};
use onesec_event::{Event, EventId};
use postgres::types::ToSql;
use postgres::{Client, Row, Transaction};
use std::collections::VecDeque;
use std::path::Path;

/// The columns [`block_from_row`] reads, in its order.
const BLOCK_COLUMNS: &str =
    "first_id, last_id, min_time_ms, max_time_ms, count, data, segment, segment_offset";

/// Blocks fetched per round trip when scanning.
const FETCH_BLOCKS: i32 = 64;

fn block_from_row(row: &Row) -> Result<StoredBlock> {
    let read = || -> std::result::Result<StoredBlock, postgres::Error> {
        let id = |i: usize| -> std::result::Result<u64, postgres::Error> {
            Ok(event_scan::event_id(row.try_get::<_, i64>(i)?))
        };
        Ok(StoredBlock {
            first_id: id(0)?,
            last_id: id(1)?,
            min_time_ms: row.try_get(2)?,
            max_time_ms: row.try_get(3)?,
            count: id(4)? as usize,
            data: row.try_get(5)?,
            at: event_scan::position(row.try_get(6)?, row.try_get(7)?),
        })
    };
    read().map_err(pg("read event block"))
}

/// Writes events (ascending ids) with their bodies kept as `bodies` says; events at or below
/// the highest stored id are already stored and skipped.
pub(crate) fn write_events(
    tx: &mut Transaction<'_>,
    events: &[Event],
    bodies: Bodies<'_>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let stored_upto: Option<i64> = tx
        .query_opt(
            "SELECT last_id FROM event_blocks ORDER BY first_id DESC LIMIT 1",
            &[],
        )
        .and_then(|row| row.map(|r| r.try_get(0)).transpose())
        .map_err(pg("read highest stored event"))?;
    let new = event_scan::plan_new_events(
        events,
        bodies,
        event_scan::event_id(stored_upto.unwrap_or(0)),
    );
    insert_blocks(tx, &new.blocks)?;
    insert_keys(tx, &new.events)?;
    crate::pg_devices::record_sightings(tx, new.events.iter().copied())
}

fn insert_blocks(tx: &mut Transaction<'_>, blocks: &[Block]) -> Result<()> {
    if blocks.is_empty() {
        return Ok(());
    }
    let column = |f: &dyn Fn(&Block) -> i64| blocks.iter().map(f).collect::<Vec<i64>>();
    let first = column(&|b| sql_id(b.head.first_id));
    let last = column(&|b| sql_id(b.head.last_id));
    let min_time = column(&|b| b.head.min_time_ms);
    let max_time = column(&|b| b.head.max_time_ms);
    let count = column(&|b| b.head.count as i64);
    let data: Vec<&[u8]> = blocks.iter().map(|b| b.data.as_slice()).collect();
    let sql_u64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let segment: Vec<Option<i64>> = blocks
        .iter()
        .map(|b| b.at.map(|p| sql_u64(p.segment)))
        .collect();
    let offset: Vec<Option<i64>> = blocks
        .iter()
        .map(|b| b.at.map(|p| sql_u64(p.offset)))
        .collect();
    tx.execute(
        "INSERT INTO event_blocks
           (first_id, last_id, min_time_ms, max_time_ms, count, data, segment, segment_offset)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[],
                              $5::BIGINT[], $6::BYTEA[], $7::BIGINT[], $8::BIGINT[])
         ON CONFLICT (first_id) DO NOTHING",
        &[
            &first, &last, &min_time, &max_time, &count, &data, &segment, &offset,
        ],
    )
    .map_err(pg("insert event blocks"))?;
    Ok(())
}

fn insert_keys(tx: &mut Transaction<'_>, events: &[&Event]) -> Result<()> {
    let rows: Vec<_> = events
        .iter()
        .flat_map(|e| event_scan::key_rows(e))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let (kinds, keys, times, ids) = key_columns(&rows);
    tx.execute(
        "INSERT INTO event_keys (kind, key, time_ms, id)
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
         ON CONFLICT DO NOTHING",
        &[&kinds, &keys, &times, &ids],
    )
    .map_err(pg("insert event keys"))?;
    Ok(())
}

/// The events with these ids, ordered by event time then id; unknown ids are left out.
pub(crate) fn events_by_ids(
    client: &mut Client,
    journal: Option<&Path>,
    ids: &[EventId],
) -> Result<Vec<Event>> {
    let lookup = BlockLookup::prepare(client)?;
    event_scan::events_by_ids(ids, journal, |id| lookup.at_or_before(client, id))
}

/// The prepared lookup of the block holding an id.
struct BlockLookup(postgres::Statement);

impl BlockLookup {
    fn prepare(client: &mut Client) -> Result<BlockLookup> {
        client
            .prepare(&format!(
                "SELECT {BLOCK_COLUMNS} FROM event_blocks
                 WHERE first_id <= $1 ORDER BY first_id DESC LIMIT 1"
            ))
            .map(BlockLookup)
            .map_err(pg("prepare block lookup"))
    }

    /// The block with the greatest first id at or below `id`.
    fn at_or_before(&self, client: &mut Client, id: EventId) -> Result<Option<StoredBlock>> {
        let row = client
            .query_opt(&self.0, &[&sql_id(id)])
            .map_err(pg("read event block"))?;
        row.as_ref().map(block_from_row).transpose()
    }
}

/// Events matching the filter: ordered by id when paging with `after_id`, else by event time
/// then id; at most `limit` (default 1000).
pub(crate) fn query_events(
    client: &mut Client,
    journal: Option<&Path>,
    filter: &EventFilter,
) -> Result<Vec<Event>> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Ok(Vec::new());
    }
    if filter.person.is_some() || filter.site.is_some() {
        let ids = keyed_ids(client, filter, limit)?;
        let lookup = BlockLookup::prepare(client)?;
        return event_scan::keyed_events(&ids, filter, journal, |id| {
            lookup.at_or_before(client, id)
        });
    }
    let mut tx = client.transaction().map_err(pg("begin event query"))?;
    let events = match filter.after_id {
        Some(after) => {
            let after_arg = sql_id(after);
            let blocks = Cursor::open(
                &mut tx,
                &format!(
                    "SELECT {BLOCK_COLUMNS} FROM event_blocks WHERE last_id > $1 ORDER BY first_id"
                ),
                &[&after_arg],
            )?;
            event_scan::events_after(blocks, journal, filter, after, limit)?
        }
        None => {
            let (sql, args) = blocks_in_range(filter);
            let refs = arg_refs(&args);
            let blocks = Cursor::open(&mut tx, &sql, &refs)?;
            event_scan::earliest_events(blocks, journal, filter, limit)?
        }
    };
    tx.commit().map_err(pg("end event query"))?;
    Ok(events)
}

type Args = Vec<Box<dyn ToSql + Sync + Send>>;

fn arg_refs(args: &Args) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Appends `value` as the next argument and returns its placeholder.
fn arg(args: &mut Args, value: impl ToSql + Sync + Send + 'static) -> String {
    args.push(Box::new(value));
    format!("${}", args.len())
}

/// Blocks that may hold events of the filter's time range, by earliest event.
fn blocks_in_range(filter: &EventFilter) -> (String, Args) {
    let mut sql = format!("SELECT {BLOCK_COLUMNS} FROM event_blocks WHERE true");
    let mut args = Args::new();
    if let Some(from) = filter.from_ms {
        sql.push_str(&format!(" AND max_time_ms >= {}", arg(&mut args, from)));
    }
    if let Some(to) = filter.to_ms {
        sql.push_str(&format!(" AND min_time_ms <= {}", arg(&mut args, to)));
    }
    sql.push_str(" ORDER BY min_time_ms, first_id");
    (sql, args)
}

/// Ids of events about the filter's person and/or site, in the filter's order.
fn keyed_ids(client: &mut Client, filter: &EventFilter, limit: usize) -> Result<Vec<EventId>> {
    let (kind, key, other) = match (&filter.person, &filter.site) {
        (Some(person), site) => ("person", person, site.as_ref().map(|s| ("site", s))),
        (None, Some(site)) => ("site", site, None),
        (None, None) => return Ok(Vec::new()),
    };
    let mut args = Args::new();
    let mut sql = format!(
        "SELECT k.id FROM event_keys k WHERE k.kind = {} AND k.key = {}",
        arg(&mut args, kind),
        arg(&mut args, key.clone())
    );
    if let Some((other_kind, other_key)) = other {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM event_keys o WHERE o.kind = {} AND o.key = {}
               AND o.time_ms = k.time_ms AND o.id = k.id)",
            arg(&mut args, other_kind),
            arg(&mut args, other_key.clone())
        ));
    }
    if let Some(from) = filter.from_ms {
        sql.push_str(&format!(" AND k.time_ms >= {}", arg(&mut args, from)));
    }
    if let Some(to) = filter.to_ms {
        sql.push_str(&format!(" AND k.time_ms <= {}", arg(&mut args, to)));
    }
    if let Some(after) = filter.after_id {
        sql.push_str(&format!(" AND k.id > {}", arg(&mut args, sql_id(after))));
    }
    let order = if filter.after_id.is_some() {
        "k.id"
    } else {
        "k.time_ms, k.id"
    };
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {}",
        arg(&mut args, sql_limit(limit))
    ));
    let rows = client
        .query(&sql, &arg_refs(&args))
        .map_err(pg("query event keys"))?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0).map_err(pg("read event key"))?;
        ids.extend(u64::try_from(id).ok());
    }
    Ok(ids)
}

/// Block rows fetched [`FETCH_BLOCKS`] at a time through a portal, so a scan that stops early
/// does not fetch the rest.
struct Cursor<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    portal: postgres::Portal,
    fetched: VecDeque<Row>,
    exhausted: bool,
}

impl<'t, 'c> Cursor<'t, 'c> {
    fn open(
        tx: &'t mut Transaction<'c>,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Cursor<'t, 'c>> {
        let portal = tx.bind(sql, args).map_err(pg("open event cursor"))?;
        Ok(Cursor {
            tx,
            portal,
            fetched: VecDeque::new(),
            exhausted: false,
        })
    }
}

impl Iterator for Cursor<'_, '_> {
    type Item = Result<StoredBlock>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.fetched.is_empty() && !self.exhausted {
            match self.tx.query_portal(&self.portal, FETCH_BLOCKS) {
                Ok(rows) => {
                    self.exhausted = rows.len() < FETCH_BLOCKS as usize;
                    self.fetched.extend(rows);
                }
                Err(error) => {
                    self.exhausted = true;
                    return Some(Err(pg("read event blocks")(error)));
                }
            }
        }
        self.fetched.pop_front().map(|row| block_from_row(&row))
    }
}

/// Checks the event indexes against the events they index (see
/// [`event_scan::index_problems`]). The timeline rows are read first (a portal at a time per
/// transaction), then the blocks through a cursor.
pub(crate) fn index_problems(
    client: &mut Client,
    journal: Option<&Path>,
) -> Result<Vec<(String, String)>> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg("begin index check"))?;
    let keys: Vec<Result<StoredKey>> = tx
        .query(
            "SELECT id, kind, key, time_ms FROM event_keys ORDER BY id, kind, key, time_ms",
            &[],
        )
        .map_err(pg("read event keys"))?
        .iter()
        .map(|row| {
            let read = || -> std::result::Result<StoredKey, postgres::Error> {
                Ok((
                    event_scan::event_id(row.try_get(0)?),
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                ))
            };
            read().map_err(pg("read event key"))
        })
        .collect();
    let blocks = Cursor::open(
        &mut tx,
        &format!("SELECT {BLOCK_COLUMNS} FROM event_blocks ORDER BY first_id"),
        &[],
    )?;
    let problems = event_scan::index_problems(blocks, keys.into_iter(), journal)?;
    tx.commit().map_err(pg("end index check"))?;
    Ok(problems)
}

/// The block row whose id range contains `id` (retention rewrites it).
pub(crate) fn block_holding(tx: &mut Transaction<'_>, id: EventId) -> Result<Option<StoredBlock>> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {BLOCK_COLUMNS} FROM event_blocks
                 WHERE first_id <= $1 ORDER BY first_id DESC LIMIT 1"
            ),
            &[&sql_id(id)],
        )
        .map_err(pg("read event block"))?;
    let block = row.as_ref().map(block_from_row).transpose()?;
    Ok(block.filter(|b| id <= b.last_id))
}

/// Replaces a block's row by the blocks of its rewrite.
pub(crate) fn replace_block(
    tx: &mut Transaction<'_>,
    rewritten: &event_scan::Rewritten,
) -> Result<()> {
    tx.execute(
        "DELETE FROM event_blocks WHERE first_id = $1",
        &[&sql_id(rewritten.first_id)],
    )
    .map_err(pg("delete a rewritten event block"))?;
    insert_blocks(tx, &rewritten.replacement)
}

/// Deletes the timeline rows of removed events.
pub(crate) fn delete_keys(tx: &mut Transaction<'_>, events: &[Event]) -> Result<()> {
    let rows: Vec<_> = events.iter().flat_map(event_scan::key_rows).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let (kinds, keys, times, ids) = key_columns(&rows);
    tx.execute(
        "DELETE FROM event_keys k
         USING UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS d(kind, key, time_ms, id)
         WHERE k.kind = d.kind AND k.key = d.key AND k.time_ms = d.time_ms AND k.id = d.id",
        &[&kinds, &keys, &times, &ids],
    )
    .map_err(pg("delete event keys"))?;
    Ok(())
}

/// First ids of the blocks that refer to journal records below `seq`.
pub(crate) fn journal_blocks_before(
    tx: &mut Transaction<'_>,
    seq: EventId,
) -> Result<Vec<EventId>> {
    let rows = tx
        .query(
            "SELECT first_id FROM event_blocks WHERE segment IS NOT NULL AND first_id < $1
             ORDER BY first_id",
            &[&sql_id(seq)],
        )
        .map_err(pg("find journal blocks"))?;
    rows.iter()
        .map(|r| {
            Ok(event_scan::event_id(
                r.try_get(0).map_err(pg("read journal block"))?,
            ))
        })
        .collect()
}

/// Timeline rows as the four arrays an `UNNEST` takes: kinds, keys, times, event ids.
type KeyColumns<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<i64>, Vec<i64>);

fn key_columns<'a>(rows: &[event_scan::KeyRow<'a>]) -> KeyColumns<'a> {
    (
        rows.iter().map(|r| r.0).collect(),
        rows.iter().map(|r| r.1).collect(),
        rows.iter().map(|r| r.2).collect(),
        rows.iter().map(|r| r.3).collect(),
    )
}
