//! The event block format: how events are laid out inside one `event_blocks` row.
//!
//! A block is the JSON of up to [`BLOCK_EVENTS`] consecutive events (by journal sequence), one
//! per line, each line terminated by `\n`, in ascending id order. Event JSON never contains a raw
//! newline (JSON escapes control characters), so lines split unambiguously. Every line starts
//! with `{"id":N,"time_ms":T,` as serde writes an [`Event`]; [`line_head`] reads those two numbers
//! without parsing the rest, and falls back to a JSON parse for a line of another shape.
//!
//! Why blocks: one SQLite row per event cost about 11 µs per event on the detection thread (the
//! B-tree insert of a ~1.1 KiB row plus three index entries); one row per block amortises that
//! over the block, and only events that name a person or a site get (small) index rows.
//! Blocks are not compressed: LZ4 halved their size but took about a fifth of the detection
//! thread's time in a profile of the whole pipeline, and detection is the serial stage.

use onesec_event::{Event, EventId};

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
    pub data: Vec<u8>,
}

/// Splits events (ascending ids) and their JSON lines into blocks.
pub(crate) fn build_blocks<'a>(events: &[(&'a Event, &'a str)]) -> Vec<Block> {
    events
        .chunks(BLOCK_EVENTS)
        .filter_map(|part| {
            let (first, last) = (part.first()?.0, part.last()?.0);
            let len = part.iter().map(|(_, json)| json.len() + 1).sum();
            let mut data = Vec::with_capacity(len);
            for (_, json) in part {
                data.extend_from_slice(json.as_bytes());
                data.push(b'\n');
            }
            let times = part.iter().map(|(e, _)| e.time_ms);
            let head = BlockHead {
                first_id: first.id,
                last_id: last.id,
                min_time_ms: times.clone().min().unwrap_or(first.time_ms),
                max_time_ms: times.max().unwrap_or(first.time_ms),
                count: part.len(),
            };
            Some(Block { head, data })
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
}
