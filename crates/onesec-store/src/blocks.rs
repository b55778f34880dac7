//! The event block format: how events are laid out inside one `event_blocks` row.
//!
//! A block is the JSON of up to [`BLOCK_EVENTS`] consecutive events (by journal sequence), one
//! per line, each line terminated by `\n`, in ascending id order. Event JSON never contains a raw
//! newline (JSON escapes control characters), so lines split unambiguously. Every line starts
//! with `{"id":N,"time_ms":T,` as serde writes an [`Event`]; [`line_head`] reads those two numbers
//! without parsing the rest, and falls back to a JSON parse for a line of another shape.
//!
//! A block that refers to the journal (see `sqlite_events.rs`) holds no data; its lines are made
//! when it is read, from the journal records, with [`lines_of_records`].
//!
//! Why blocks: one SQLite row per event cost about 11 µs per event on the detection thread (the
//! B-tree insert of a ~1.1 KiB row plus three index entries); one row per block amortises that
//! over the block, and only events that name a person or a site get (small) index rows.
//! Blocks are not compressed: LZ4 halved their size but took about a fifth of the detection
//! thread's time in a profile of the whole pipeline, and detection is the serial stage.

use onesec_event::{Event, EventId};
use onesec_journal::Position;

/// Most events in one block. Small enough that reading one event out of a block (an alert's
/// evidence, a person's timeline) scans little, large enough to amortise the row cost.
pub(crate) const BLOCK_EVENTS: usize = 128;

/// What a block row says about its events, besides their JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHead {
    pub first_id: EventId,
    pub last_id: EventId,
    pub min_time_ms: i64,
    pub max_time_ms: i64,
    pub count: usize,
}

/// A block ready to store.
pub(crate) struct Block {
    pub head: BlockHead,
    /// The events' JSON lines; empty when the block refers to the journal.
    pub data: Vec<u8>,
    /// Where the journal record of the block's first event lies, when the block refers to the
    /// journal (its events are then consecutive records of one segment).
    pub at: Option<Position>,
}

fn head_of<'a>(events: impl Iterator<Item = &'a Event> + Clone) -> Option<BlockHead> {
    let first = events.clone().next()?;
    let last = events.clone().last()?;
    let times = events.clone().map(|e| e.time_ms);
    Some(BlockHead {
        first_id: first.id,
        last_id: last.id,
        min_time_ms: times.clone().min().unwrap_or(first.time_ms),
        max_time_ms: times.max().unwrap_or(first.time_ms),
        count: events.count(),
    })
}

/// Splits events (ascending ids) with the positions of their journal records into blocks
/// that refer to the journal. A block holds consecutive records of one segment, so it is read
/// back with one sequential read: it ends at [`BLOCK_EVENTS`] events, at a gap in the ids and
/// where the records cross into another segment.
pub(crate) fn build_references(events: &[(&Event, Position)]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut start = 0;
    for end in 1..=events.len() {
        let split = end == events.len()
            || end - start == BLOCK_EVENTS
            || events[end].0.id != events[end - 1].0.id + 1
            || events[end].1.segment != events[start].1.segment;
        if !split {
            continue;
        }
        let part = &events[start..end];
        if let Some(head) = head_of(part.iter().map(|(e, _)| *e)) {
            blocks.push(Block {
                head,
                data: Vec::new(),
                at: Some(part[0].1),
            });
        }
        start = end;
    }
    blocks
}

/// The JSON lines of journal records (`(sequence, payload)`), each with its sequence as id.
pub(crate) fn lines_of_records(records: &[(EventId, Vec<u8>)]) -> Vec<u8> {
    let len = records.iter().map(|(_, p)| p.len() + 24).sum();
    let mut data = Vec::with_capacity(len);
    for (seq, payload) in records {
        push_with_id(&mut data, *seq, payload);
        data.push(b'\n');
    }
    data
}

/// Appends `payload` (an event's JSON as the ingestor journals it, `{"id":0,...}`) with `id`
/// set to `seq`; a payload of another shape is parsed and written again.
fn push_with_id(out: &mut Vec<u8>, seq: EventId, payload: &[u8]) {
    const PREFIX: &[u8] = b"{\"id\":";
    if let Some(rest) = payload.strip_prefix(PREFIX) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b',') {
            out.extend_from_slice(PREFIX);
            out.extend_from_slice(seq.to_string().as_bytes());
            out.extend_from_slice(&rest[digits..]);
            return;
        }
    }
    match serde_json::from_slice::<Event>(payload) {
        Ok(mut event) => {
            event.id = seq;
            out.extend_from_slice(crate::sqlite::to_json(&event).as_bytes());
        }
        // Kept as it is: reading it reports the record as corrupt.
        Err(_) => out.extend(payload.iter().map(|&b| if b == b'\n' { b' ' } else { b })),
    }
}

/// Splits events (ascending ids) and their JSON lines into blocks.
pub(crate) fn build_blocks<'a>(events: &[(&'a Event, &'a str)]) -> Vec<Block> {
    events
        .chunks(BLOCK_EVENTS)
        .filter_map(|part| {
            let head = head_of(part.iter().map(|(e, _)| *e))?;
            let len = part.iter().map(|(_, json)| json.len() + 1).sum();
            let mut data = Vec::with_capacity(len);
            for (_, json) in part {
                data.extend_from_slice(json.as_bytes());
                data.push(b'\n');
            }
            Some(Block {
                head,
                data,
                at: None,
            })
        })
        .collect()
}

/// The lines of a block, without their terminators.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n').filter(|line| !line.is_empty())
}

/// The id and event time of a line.
pub(crate) fn line_head(line: &[u8]) -> Option<(EventId, i64)> {
    fast_head(line).or_else(|| {
        #[derive(serde::Deserialize)]
        struct Head {
            #[serde(default)]
            id: EventId,
            time_ms: i64,
        }
        let head: Head = serde_json::from_slice(line).ok()?;
        Some((head.id, head.time_ms))
    })
}

/// `{"id":N,"time_ms":T,` without a JSON parse.
fn fast_head(line: &[u8]) -> Option<(EventId, i64)> {
    let rest = line.strip_prefix(b"{\"id\":")?;
    let (id, rest) = leading_integer(rest)?;
    let rest = rest.strip_prefix(b",\"time_ms\":")?;
    let (time, rest) = leading_integer(rest)?;
    if !matches!(rest.first(), Some(b',' | b'}')) {
        return None;
    }
    Some((EventId::try_from(id).ok()?, time))
}

/// An optionally negative decimal integer at the start of `bytes`, and what follows it.
fn leading_integer(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, digits) = match bytes.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 18 {
        return None;
    }
    let text = std::str::from_utf8(&digits[..len]).ok()?;
    let value: i64 = text.parse().ok()?;
    Some((if negative { -value } else { value }, &digits[len..]))
}

/// The line of event `id` in a block.
pub(crate) fn find_line(data: &[u8], id: EventId) -> Option<&[u8]> {
    lines(data).find(|line| line_head(line).is_some_and(|(line_id, _)| line_id == id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass};

    fn event(id: EventId, time_ms: i64) -> Event {
        let mut e = Event::new(time_ms, EventClass::Authentication, Activity::Logon);
        e.id = id;
        e.raw = "line with \"quotes\" and a \\ backslash\nand a newline".into();
        e
    }

    fn json(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect()
    }

    #[test]
    fn blocks_hold_at_most_the_block_size_and_describe_their_events() {
        let events: Vec<Event> = (1..=300).map(|i| event(i, 1000 - i as i64)).collect();
        let texts = json(&events);
        let pairs: Vec<(&Event, &str)> = events
            .iter()
            .zip(texts.iter().map(|s| s.as_str()))
            .collect();
        let blocks = build_blocks(&pairs);
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            blocks[1].head,
            BlockHead {
                first_id: 129,
                last_id: 256,
                min_time_ms: 1000 - 256,
                max_time_ms: 1000 - 129,
                count: 128
            }
        );
        let (middle, last) = (&blocks[1].data, &blocks[2].data);
        assert_eq!(lines(last).count(), 300 - 256);
        let line = find_line(middle, 200).unwrap();
        let back: Event = serde_json::from_slice(line).unwrap();
        assert_eq!(back, events[199], "newlines inside values stay escaped");
        assert!(find_line(middle, 300).is_none());
    }

    #[test]
    fn line_heads_are_read_fast_and_otherwise_parsed() {
        assert_eq!(
            line_head(b"{\"id\":7,\"time_ms\":-12,\"x\":1}"),
            Some((7, -12))
        );
        assert_eq!(line_head(b"{\"time_ms\":5,\"id\":9}"), Some((9, 5)));
        assert_eq!(line_head(b"{\"id\":7,\"time_ms\":12x}"), None);
        assert_eq!(line_head(b"not json"), None);
        assert_eq!(
            fast_head(b"{\"id\":99999999999999999999,\"time_ms\":1}"),
            None,
            "an overlong number is not read fast"
        );
    }

    #[test]
    fn journal_records_become_lines_with_their_sequence_as_id() {
        let mut unjournaled = event(0, 5);
        unjournaled.fields.insert("syslog.program", "sshd é");
        let payload = serde_json::to_vec(&unjournaled).unwrap();
        let odd_shapes = [
            b"{\"time_ms\":1,\"class\":\"base\",\"activity\":\"other\"}".to_vec(),
            serde_json::to_vec(&unjournaled)
                .unwrap()
                .splitn(2, |&b| b == b',')
                .nth(1)
                .map(|rest| [b"{".as_slice(), rest].concat())
                .unwrap(),
        ];
        let mut records = vec![(4242, payload)];
        records.extend(
            odd_shapes
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, p)| (7 + i as u64, p)),
        );
        let data = lines_of_records(&records);
        let back: Vec<Event> = lines(&data)
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        assert_eq!(back.len(), 3);
        let mut expected = unjournaled.clone();
        expected.id = 4242;
        assert_eq!(back[0], expected);
        assert_eq!(
            lines(&data).next().unwrap(),
            serde_json::to_vec(&expected).unwrap(),
            "the common shape is copied, not serialised again"
        );
        assert_eq!((back[1].id, back[1].time_ms), (7, 1));
        expected.id = 8;
        assert_eq!(back[2], expected, "a payload without a leading id gets one");
        assert_eq!(line_head(lines(&data).nth(2).unwrap()), Some((8, 5)));
    }
}
