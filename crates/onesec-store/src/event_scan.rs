//! What both backends do with event blocks apart from SQL: which new events a commit stores and
//! in which blocks, the timeline key rows of an event, and how queries walk blocks (by id, by
//! time, by a list of ids) and check them. Each backend only fetches rows and hands them over as
//! [`StoredBlock`]s, so SQLite and PostgreSQL answer every query the same way.

use crate::blocks::{self, Block};
use crate::{EventFilter, Result, StoreError};
use onesec_event::{Event, EventId};
use onesec_journal::Position;
use std::collections::BinaryHeap;
use std::path::Path;

/// Default page of the events query.
pub(crate) const DEFAULT_LIMIT: usize = 1000;

/// An event id as a database integer.
pub(crate) fn sql_id(id: EventId) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// A database integer as an event id (never negative in practice).
pub(crate) fn event_id(value: i64) -> EventId {
    u64::try_from(value).unwrap_or(0)
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

/// What a commit stores of its events: the blocks to insert, and the events they hold (which
/// also get timeline keys and device sightings).
pub(crate) struct NewEvents<'a> {
    /// Blocks to insert.
    pub blocks: Vec<Block>,
    /// The events newly stored, ascending ids.
    pub events: Vec<&'a Event>,
}

/// The events above `stored_upto` (the highest id already stored), ascending and without
/// duplicates, in blocks kept as `bodies` says. Events at or below it were stored by an earlier
/// commit, which keeps commits idempotent.
pub(crate) fn plan_new_events<'a>(
    events: &'a [Event],
    bodies: Bodies<'_>,
    stored_upto: EventId,
) -> NewEvents<'a> {
    let new = |e: &&Event| e.id > stored_upto;
    match bodies {
        Bodies::InJournal(positions) => {
            let mut located: Vec<(&Event, Position)> = events
                .iter()
                .zip(positions.iter().copied())
                .filter(|(e, _)| new(e))
                .collect();
            located.sort_by_key(|(e, _)| e.id);
            located.dedup_by_key(|(e, _)| e.id);
            NewEvents {
                blocks: blocks::build_references(&located),
                events: located.into_iter().map(|(e, _)| e).collect(),
            }
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
            NewEvents {
                blocks: blocks::build_blocks(&borrowed),
                events: pairs.into_iter().map(|(e, _)| e).collect(),
            }
        }
    }
}

/// One timeline index row: `(kind, key, time_ms, id)`.
pub(crate) type KeyRow<'a> = (&'static str, &'a str, i64, i64);

/// The timeline rows of an event: one for its resolved person, one for its site.
pub(crate) fn key_rows(event: &Event) -> impl Iterator<Item = KeyRow<'_>> {
    let person = event.resolved.person.as_ref().map(|p| p.id.as_str());
    [("person", person), ("site", event.resolved.site.as_deref())]
        .into_iter()
        .filter_map(move |(kind, key)| Some((kind, key?, event.time_ms, sql_id(event.id))))
}

/// One `event_blocks` row as read.
pub(crate) struct StoredBlock {
    pub first_id: EventId,
    pub last_id: EventId,
    pub min_time_ms: i64,
    pub max_time_ms: i64,
    pub count: usize,
    pub data: Vec<u8>,
    pub at: Option<Position>,
}

impl StoredBlock {
    /// The block's events as JSON lines (see [`crate::blocks`]): the stored data, or the
    /// journal records it refers to with their sequence as id.
    pub(crate) fn lines(self, journal: Option<&Path>) -> Result<Vec<u8>> {
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

/// A journal position from the `segment` and offset columns of a block row.
pub(crate) fn position(segment: Option<i64>, offset: Option<i64>) -> Option<Position> {
    segment.zip(offset).map(|(segment, offset)| Position {
        segment: segment.max(0) as u64,
        offset: offset.max(0) as u64,
    })
}

pub(crate) fn parse_line(id: EventId, line: &[u8]) -> Result<Event> {
    serde_json::from_slice(line).map_err(|source| StoreError::Corrupt {
        table: "event_blocks",
        id: id.to_string(),
        source,
    })
}

/// A stored block rewritten for retention or erasure: the events it drops, and the blocks that
/// replace it, holding the kept events' own JSON lines (so they no longer refer to the journal).
/// The same for every backend; each only deletes the old row and inserts `replacement`.
pub(crate) struct Rewritten {
    /// The replaced block's first id (its row's key).
    pub first_id: EventId,
    /// Blocks of the kept events, their JSON inline.
    pub replacement: Vec<Block>,
    /// How many events were kept.
    pub kept: u64,
    /// The events dropped.
    pub dropped: Vec<Event>,
}

/// Splits a block's events into those in `drop` (ascending) and the rest; `drop` empty keeps
/// every event (taking their bodies out of the journal).
pub(crate) fn rewrite_block(
    block: StoredBlock,
    journal: Option<&Path>,
    drop: &[EventId],
) -> Result<Rewritten> {
    let first_id = block.first_id;
    let data = block.lines(journal)?;
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
    let texts: Vec<(&Event, std::borrow::Cow<'_, str>)> = kept
        .iter()
        .map(|(e, line)| (e, String::from_utf8_lossy(line)))
        .collect();
    let borrowed: Vec<(&Event, &str)> = texts.iter().map(|(e, t)| (*e, t.as_ref())).collect();
    Ok(Rewritten {
        first_id,
        replacement: blocks::build_blocks(&borrowed),
        kept: kept.len() as u64,
        dropped,
    })
}

/// The events with these ids, ordered by event time then id; unknown ids are left out.
/// `block_at_or_before(id)` returns the block with the greatest first id at or below `id`.
pub(crate) fn events_by_ids(
    ids: &[EventId],
    journal: Option<&Path>,
    mut block_at_or_before: impl FnMut(EventId) -> Result<Option<StoredBlock>>,
) -> Result<Vec<Event>> {
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
            block = match block_at_or_before(id)? {
                Some(found) if id <= found.last_id => {
                    let (first, last) = (found.first_id, found.last_id);
                    Some((first, last, found.lines(journal)?))
                }
                _ => None,
            };
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

fn in_time_range(filter: &EventFilter, time_ms: i64) -> bool {
    filter.from_ms.is_none_or(|f| time_ms >= f) && filter.to_ms.is_none_or(|t| time_ms <= t)
}

/// Paging by id: `blocks` are those ending after `after`, in id order.
pub(crate) fn events_after(
    blocks: impl Iterator<Item = Result<StoredBlock>>,
    journal: Option<&Path>,
    filter: &EventFilter,
    after: EventId,
    limit: usize,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for block in blocks {
        let data = block?.lines(journal)?;
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

/// The `limit` earliest events in the time range, by (time, id). `blocks` are those that may
/// hold events in the range, in order of their earliest event; once `limit` events are held
/// and the next block starts after the latest of them, no later block can contribute (so the
/// iterator should fetch lazily).
pub(crate) fn earliest_events(
    blocks: impl Iterator<Item = Result<StoredBlock>>,
    journal: Option<&Path>,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<Event>> {
    // Max-heap of the best (time, id) so far, with the line to parse at the end.
    let mut best: BinaryHeap<((i64, EventId), Vec<u8>)> = BinaryHeap::with_capacity(limit + 1);
    for block in blocks {
        let block = block?;
        let full = best.len() >= limit;
        if full
            && best
                .peek()
                .is_some_and(|((t, _), _)| block.min_time_ms > *t)
        {
            break;
        }
        let data = block.lines(journal)?;
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

/// After the ids a timeline query found: the events, in id order when paging.
pub(crate) fn keyed_events(
    ids: &[EventId],
    filter: &EventFilter,
    journal: Option<&Path>,
    block_at_or_before: impl FnMut(EventId) -> Result<Option<StoredBlock>>,
) -> Result<Vec<Event>> {
    let mut events = events_by_ids(ids, journal, block_at_or_before)?;
    if filter.after_id.is_some() {
        events.sort_by_key(|e| e.id);
    }
    Ok(events)
}

/// A stored timeline row as read back: `(id, kind, key, time_ms)`.
pub(crate) type StoredKey = (u64, String, String, i64);

/// Checks the store's event indexes against the events they index, block by block in id
/// order: each block's id range, count and time range against its events (a block whose
/// events cannot be read is one problem, and the check goes on), and the timeline rows
/// (`keys`, sorted by id, kind, key, time) against the events' resolved person and site — a
/// missing row hides an event from a timeline, an extra one puts it in another's. Each problem
/// is `(where, what)`.
pub(crate) fn index_problems(
    blocks: impl Iterator<Item = Result<StoredBlock>>,
    keys: impl Iterator<Item = Result<StoredKey>>,
    journal: Option<&Path>,
) -> Result<Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut keys = keys.peekable();
    for block in blocks {
        let block = block?;
        let (first, last, count, min_time_ms, max_time_ms) = (
            block.first_id,
            block.last_id,
            block.count,
            block.min_time_ms,
            block.max_time_ms,
        );
        let place = format!("store block {first}..={last}");
        let events = match block.lines(journal) {
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
        let (id, kind, key, _) = row?;
        problems.push((
            format!("store event {id}"),
            format!("the {kind} index names '{key}' for an event the store does not hold"),
        ));
    }
    Ok(problems)
}

/// Compares the timeline rows of `event` (taken from the front of `keys`, sorted by id) with
/// the person and site the event names.
fn check_event_keys(
    event: &Event,
    keys: &mut std::iter::Peekable<impl Iterator<Item = Result<StoredKey>>>,
    problems: &mut Vec<(String, String)>,
) -> Result<()> {
    let mut indexed = Vec::new();
    while let Some(Ok((id, ..))) = keys.peek() {
        if *id > event.id {
            break;
        }
        if let Some(row) = keys.next() {
            indexed.push(row?);
        }
    }
    if let Some(Err(_)) = keys.peek()
        && let Some(Err(error)) = keys.next()
    {
        return Err(error);
    }
    let mut expected: Vec<StoredKey> = key_rows(event)
        .map(|(kind, key, time, _)| (event.id, kind.to_string(), key.to_string(), time))
        .collect();
    expected.sort();
    if indexed != expected {
        let show = |rows: &[StoredKey]| {
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
