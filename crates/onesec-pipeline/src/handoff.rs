//! Events the ingestor has just journaled, handed to detection already parsed.
//!
//! Detection still reads every record from the journal (the journal stays the one source of
//! order and content, and a restart works from it alone), but when the parsed event for a
//! sequence is here it takes that instead of parsing the JSON bytes again. The cache is bounded:
//! when detection lags far behind, the ingestor stops offering and detection parses.

use onesec_event::{Event, EventId};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Most events held (about 200 MiB at worst); beyond this, offers are dropped and detection
/// parses those records from the journal.
const CAPACITY: usize = 65_536;

/// Journaled events by first sequence of their batch.
#[derive(Default)]
pub struct ParsedEvents {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    batches: BTreeMap<EventId, Vec<Event>>,
    held: usize,
}

impl ParsedEvents {
    /// Offers a journaled batch whose first event has sequence `first` (ids already set).
    pub fn offer(&self, first: EventId, events: Vec<Event>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.held + events.len() > CAPACITY {
            return;
        }
        inner.held += events.len();
        inner.batches.insert(first, events);
    }

    /// The parsed events from `seq` on (the rest of the batch that holds it), dropping every
    /// batch detection has already passed.
    pub fn take_from(&self, seq: EventId) -> VecDeque<Event> {
        let Ok(mut inner) = self.inner.lock() else {
            return VecDeque::new();
        };
        let mut found = VecDeque::new();
        while let Some((&first, _)) = inner.batches.first_key_value() {
            if first > seq {
                break;
            }
            let Some(batch) = inner.batches.remove(&first) else {
                break;
            };
            inner.held -= batch.len();
            let skip = (seq - first) as usize;
            if skip < batch.len() {
                found = batch.into_iter().skip(skip).collect();
                break;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_event::{Activity, EventClass};

    fn batch(first: u64, n: u64) -> Vec<Event> {
        (first..first + n)
            .map(|id| {
                let mut e = Event::new(0, EventClass::Base, Activity::Other);
                e.id = id;
                e
            })
            .collect()
    }

    #[test]
    fn takes_the_rest_of_the_batch_holding_the_sequence_and_drops_older_ones() {
        let cache = ParsedEvents::default();
        cache.offer(1, batch(1, 3));
        cache.offer(4, batch(4, 3));
        cache.offer(7, batch(7, 2));
        let rest: Vec<u64> = cache.take_from(5).iter().map(|e| e.id).collect();
        assert_eq!(rest, vec![5, 6]);
        assert!(cache.take_from(4).is_empty(), "already taken");
        let next: Vec<u64> = cache.take_from(7).iter().map(|e| e.id).collect();
        assert_eq!(next, vec![7, 8]);
        assert!(cache.take_from(9).is_empty());
    }

    #[test]
    fn offers_beyond_capacity_are_dropped() {
        let cache = ParsedEvents::default();
        cache.offer(1, batch(1, CAPACITY as u64));
        cache.offer(CAPACITY as u64 + 1, batch(CAPACITY as u64 + 1, 1));
        assert_eq!(cache.take_from(1).len(), CAPACITY);
        assert!(
            cache.take_from(CAPACITY as u64 + 1).is_empty(),
            "the offer over capacity was dropped"
        );
    }
}
