//! The correlation state of one correlation rule, laid out compactly: its groups (one per
//! group key) and each group's time-sorted buffer of entries.
//!
//! A million groups of a few entries each is the normal load, so the layout is about bytes:
//!
//! * Groups sit in a slab (`Vec<Group>`, 48 bytes each); the hash table holds only a `u32`
//!   index into it (hashbrown `HashTable`, 4 bytes a slot plus a control byte). Removed slots
//!   are reused; the slab, the key arena, the entry pools and the rarer parts' slab are rebuilt
//!   when more than half of one of them is dead.
//! * A key of at most 15 bytes (an IPv4 address, most user and host names) is stored inside
//!   the group; a longer one in one shared byte arena of the rule (no allocation per group).
//! * The first entry of a group is the group's base: its time and event id are stored in full,
//!   in the group. Every further entry is 6 bytes, `(time − base time, event id − base id)` in
//!   24 bits each, when all of the group's offsets fit (times within 4 h 39 min of the base,
//!   event ids within ± 8.4 M of it: a group fed at most a few thousand journal events a
//!   second), else 8 bytes (`u32`, `i32`), plus one byte for the referenced rule when the
//!   correlation has several. A group with one further entry of 6 bytes keeps it in the group
//!   itself (in the 8 bytes that otherwise name its pool chunk): the second entry of a group
//!   costs nothing more. Otherwise the further entries live in per-size-class pools of the
//!   rule, one set per width (chunks of 1, 2, 4, … entries in fixed-size segments that are
//!   never reallocated, reused through free lists), not an allocation each; a group moves
//!   between the widths as its entries change.
//! * Entries that do not fit that form (a chained alert, a counted value or number, a time more
//!   than 2³² ms or an event id more than 2³¹ away from the base, more than 32 768 entries)
//!   make the group fall back to a plain `Vec<Entry>` (32 bytes an entry) in its rarer part.
//! * The rarer part (live alerts, several group-by values, fallback entries; 80 bytes, one
//!   live alert inline) exists only for the groups that need one, in a slab of the rule (the
//!   group holds its `u32` slot), not an allocation per group. A live alert whose events are
//!   those of consecutive plain entries of its group (the usual case) holds their range, not
//!   a copy; the engine moves the range as entries are inserted before it or evicted, and
//!   copies the events out when a change would cut into it.
//!
//! The engine works on a decoded `Vec<Entry>`: [`Groups::load`] decodes a group's buffer (or
//! hands over its fallback vector), [`Groups::store`] encodes it back.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::correlation::Occurrence;

/// (time, event id) of an alert's events, time-sorted, shared.
pub(crate) type EventRefs = Arc<Vec<(i64, u64)>>;

/// What few entries carry: a chained alert as the source, a counted value, a number. Kept
/// behind one pointer so that the decoded entry stays 32 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct EntryExtra {
    /// The chained alert this entry stands for: (alert id, its events).
    pub(crate) alert: Option<(Arc<str>, EventRefs)>,
    pub(crate) value: Option<Box<str>>,
    /// The numeric value (`value_sum`, `value_avg`), else 0.
    pub(crate) num: f64,
}

/// One buffered occurrence (decoded).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) time: i64,
    /// Tie-break: the event id (first event id for chained alerts); for an event, its id.
    pub(crate) tie: u64,
    pub(crate) member: u32,
    pub(crate) extra: Option<Box<EntryExtra>>,
}

impl Occurrence for Entry {
    fn time(&self) -> i64 {
        self.time
    }
    fn member(&self) -> usize {
        self.member as usize
    }
    fn value(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.value.as_deref())
    }
    fn num(&self) -> f64 {
        self.extra.as_ref().map_or(0.0, |x| x.num)
    }
}

impl Entry {
    pub(crate) fn alert_id(&self) -> &str {
        match self.extra.as_deref() {
            Some(EntryExtra {
                alert: Some((id, _)),
                ..
            }) => id,
            _ => "",
        }
    }

    pub(crate) fn cmp_key(&self, other: &Entry, by_event: bool) -> Ordering {
        self.time
            .cmp(&other.time)
            .then(self.tie.cmp(&other.tie))
            .then(if by_event {
                Ordering::Equal
            } else {
                self.member.cmp(&other.member)
            })
            .then_with(|| self.alert_id().cmp(other.alert_id()))
    }

    pub(crate) fn push_events(&self, out: &mut Vec<(i64, u64)>) {
        match self.extra.as_deref() {
            Some(EntryExtra {
                alert: Some((_, events)),
                ..
            }) => out.extend(events.iter().copied()),
            _ => out.push((self.time, self.tie)),
        }
    }
}

/// An alert of a group that can still change (56 bytes: a correlation that fires often holds
/// thousands, each for as long as its window can still change).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LiveAlert {
    pub(crate) id: AlertId,
    /// Time span of its matches (entry times).
    pub(crate) span: (i64, i64),
    pub(crate) trigger: i64,
    pub(crate) events: Events,
}

/// A live alert's events: when they are exactly the events of `n` consecutive plain entries
/// of its group from position `lo`, that range (no copy: the group's entries hold them; the
/// engine keeps the range right as entries are inserted and evicted); else a packed copy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Events {
    Copied(AlertEvents),
    Range { lo: u32, n: u32 },
}

impl Events {
    /// The events, time-sorted; `entries` are the group's (what a range points into).
    pub(crate) fn to_vec(&self, entries: &[Entry]) -> Vec<(i64, u64)> {
        match self {
            Events::Copied(c) => c.to_vec(),
            Events::Range { lo, n } => {
                let (lo, n) = (*lo as usize, *n as usize);
                debug_assert!(lo + n <= entries.len(), "alert range outside its group");
                entries
                    .get(lo..lo + n)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| (e.time, e.tie))
                    .collect()
            }
        }
    }

    /// The events as a range of `entries` when they are exactly those of the plain entries
    /// `lo..lo + events.len()`, else `None`.
    pub(crate) fn range_of(events: &[(i64, u64)], entries: &[Entry], lo: usize) -> Option<Events> {
        let run = entries.get(lo..lo.checked_add(events.len())?)?;
        let same = run
            .iter()
            .zip(events)
            .all(|(e, &ev)| e.extra.is_none() && (e.time, e.tie) == ev);
        if !same || events.is_empty() {
            return None;
        }
        Some(Events::Range {
            lo: u32::try_from(lo).ok()?,
            n: u32::try_from(events.len()).ok()?,
        })
    }

    /// Keeps a range right when `k` entries are about to leave the front of `entries` (a copy
    /// is made of a range that loses some).
    fn before_front_removal(&mut self, entries: &[Entry], k: usize) {
        if let Events::Range { lo, .. } = self {
            if *lo as usize >= k {
                *lo -= k as u32;
            } else {
                *self = Events::Copied(AlertEvents::new(&self.to_vec(entries)));
            }
        }
    }

    /// Keeps a range right when an entry is about to be inserted at `pos` of `entries` (a copy
    /// is made of a range it would fall inside).
    fn before_insert(&mut self, entries: &[Entry], pos: usize) {
        if let Events::Range { lo, n } = self {
            let (l, end) = (*lo as usize, *lo as usize + *n as usize);
            if pos <= l {
                *lo += 1;
            } else if pos < end {
                *self = Events::Copied(AlertEvents::new(&self.to_vec(entries)));
            }
        }
    }

    /// Makes a range a copy (before the entries change in ways not tracked).
    fn copy(&mut self, entries: &[Entry]) {
        if let Events::Range { .. } = self {
            *self = Events::Copied(AlertEvents::new(&self.to_vec(entries)));
        }
    }
}

/// Keeps the ranges of `alerts` right when `k` entries are about to leave the front of
/// `entries`.
pub(crate) fn before_front_removal(alerts: &mut [LiveAlert], entries: &[Entry], k: usize) {
    if k > 0 {
        for a in alerts {
            a.events.before_front_removal(entries, k);
        }
    }
}

/// An alert id: the 128-bit hash whose 32 lowercase hex digits are its text, as two words
/// (a `u128` would align the live alert to 16 bytes and make it 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AlertId([u64; 2]);

impl AlertId {
    pub(crate) fn new(hash: u128) -> AlertId {
        AlertId([hash as u64, (hash >> 64) as u64])
    }

    fn hash(self) -> u128 {
        u128::from(self.0[1]) << 64 | u128::from(self.0[0])
    }

    /// The id's text.
    pub(crate) fn text(self) -> String {
        format!("{:032x}", self.hash())
    }

    /// The id of this text (None: not 32 lowercase hex digits, which the engine never writes).
    pub(crate) fn parse(text: &str) -> Option<AlertId> {
        let id = AlertId::new(u128::from_str_radix(text, 16).ok()?);
        (id.text() == text).then_some(id)
    }
}

/// A live alert's events, (time, event id), time-sorted, in one allocation without spare
/// room: a header word (`count << 1 | packed`), then, packed, the first event in full (two
/// words) and each other as one word of 32-bit offsets from it (time offset in the low half,
/// event-id offset as `i32` bits in the high half); or, when an offset does not fit, every
/// event in full. Five events take 56 bytes instead of 80 (plus a vector and a shared
/// pointer's header).
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct AlertEvents(Box<[u64]>);

impl AlertEvents {
    pub(crate) fn new(events: &[(i64, u64)]) -> AlertEvents {
        let Some(&(t0, id0)) = events.first() else {
            return AlertEvents(Box::new([]));
        };
        let offset = |&(t, id): &(i64, u64)| {
            let dt = u32::try_from(t.checked_sub(t0)?).ok()?;
            let did = i32::try_from(id.wrapping_sub(id0) as i64).ok()?;
            Some(u64::from(dt) | u64::from(did as u32) << 32)
        };
        let packed = events[1..].iter().all(|e| offset(e).is_some());
        let n = events.len();
        let mut words = Vec::with_capacity(if packed { n + 2 } else { 1 + 2 * n });
        if packed {
            words.extend([(n as u64) << 1 | 1, t0 as u64, id0]);
            words.extend(events[1..].iter().filter_map(offset));
        } else {
            words.push((n as u64) << 1);
            for &(t, id) in events {
                words.extend([t as u64, id]);
            }
        }
        // Exactly as long as its capacity: no reallocation.
        AlertEvents(words.into_boxed_slice())
    }

    /// Number of events.
    pub(crate) fn len(&self) -> usize {
        self.0.first().map_or(0, |h| (h >> 1) as usize)
    }

    /// The events, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let n = self.len();
        let packed = self.0.first().is_some_and(|h| h & 1 == 1);
        let (t0, id0) = match self.0.get(1..3) {
            Some(&[t, id]) => (t as i64, id),
            _ => (0, 0),
        };
        (0..n).map(move |i| {
            if !packed {
                return (self.0[1 + 2 * i] as i64, self.0[2 + 2 * i]);
            }
            if i == 0 {
                return (t0, id0);
            }
            let w = self.0[2 + i];
            let dt = i64::from(w as u32);
            let did = i64::from((w >> 32) as u32 as i32);
            (t0 + dt, id0.wrapping_add(did as u64))
        })
    }

    /// The events as a vector.
    pub(crate) fn to_vec(&self) -> Vec<(i64, u64)> {
        self.iter().collect()
    }
}

/// A group's live alerts: one inline (the usual case: no allocation of its own), else a
/// vector (empty: none).
#[derive(Debug)]
pub(crate) enum Alerts {
    Many(Vec<LiveAlert>),
    One(LiveAlert),
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts::Many(Vec::new())
    }
}

impl Alerts {
    pub(crate) fn as_slice(&self) -> &[LiveAlert] {
        match self {
            Alerts::Many(v) => v,
            Alerts::One(a) => std::slice::from_ref(a),
        }
    }

    pub(crate) fn from_vec(mut alerts: Vec<LiveAlert>) -> Alerts {
        match alerts.pop() {
            Some(a) if alerts.is_empty() => Alerts::One(a),
            Some(a) => {
                alerts.push(a);
                Alerts::Many(alerts)
            }
            None => Alerts::default(),
        }
    }

    fn into_vec(self) -> Vec<LiveAlert> {
        match self {
            Alerts::Many(v) => v,
            Alerts::One(a) => vec![a],
        }
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

/// The rarer part of a group: live alerts, several group-by values, fallback entries. Kept in
/// a slab of its correlation (no allocation per group), 80 bytes.
#[derive(Debug, Default)]
pub(crate) struct GroupMore {
    pub(crate) alerts: Alerts,
    /// Group-by values when there are several fields (one field: the key is the value).
    pub(crate) values: Option<Arc<Vec<(String, String)>>>,
    /// The group's entries when they do not fit the compact form (else `None`). Rarer still:
    /// behind a thin pointer (8 bytes, where a vector takes 24 and a boxed slice 16), so that
    /// the rarer part stays 80 bytes.
    #[allow(clippy::box_collection)]
    pub(crate) wide: Option<Box<Vec<Entry>>>,
}

impl GroupMore {
    fn wide(&self) -> &[Entry] {
        self.wide.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// A group's rarer part (empty for most groups: they hold no slot).
#[derive(Debug, Default)]
pub(crate) struct More(pub(crate) GroupMore);

/// The rarer part of a group that has none.
static NO_MORE: More = More(GroupMore {
    alerts: Alerts::Many(Vec::new()),
    values: None,
    wide: None,
});

impl More {
    pub(crate) fn alerts(&self) -> &[LiveAlert] {
        self.0.alerts.as_slice()
    }

    pub(crate) fn take_alerts(&mut self) -> Vec<LiveAlert> {
        std::mem::take(&mut self.0.alerts).into_vec()
    }

    /// Stores the group's alerts.
    pub(crate) fn set_alerts(&mut self, alerts: Vec<LiveAlert>) {
        self.0.alerts = Alerts::from_vec(alerts);
    }

    /// Nothing in it (the group gives its slot back).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.alerts.is_empty() && self.0.values.is_none() && self.0.wide.is_none()
    }

    /// Keeps the alerts' ranges right when `k` entries are about to leave the front of the
    /// group's `entries`.
    pub(crate) fn before_front_removal(&mut self, entries: &[Entry], k: usize) {
        before_front_removal(self.alerts_mut(), entries, k);
    }

    /// Keeps the alerts' ranges right when an entry is about to be inserted at `pos`.
    pub(crate) fn before_insert(&mut self, entries: &[Entry], pos: usize) {
        for a in self.alerts_mut() {
            a.events.before_insert(entries, pos);
        }
    }

    /// Makes every alert's range a copy (before the group's entries change otherwise).
    pub(crate) fn copy_events(&mut self, entries: &[Entry]) {
        for a in self.alerts_mut() {
            a.events.copy(entries);
        }
    }

    fn alerts_mut(&mut self) -> &mut [LiveAlert] {
        match &mut self.0.alerts {
            Alerts::Many(v) => v,
            Alerts::One(a) => std::slice::from_mut(a),
        }
    }

    pub(crate) fn retain_alerts(&mut self, horizon: i64) {
        if !self.0.alerts.is_empty() {
            let mut alerts = self.take_alerts();
            alerts.retain(|a| a.span.1 >= horizon);
            self.set_alerts(alerts);
        }
    }

    /// Group-by values of a multi-field group, if any.
    pub(crate) fn values(&self) -> Option<Arc<Vec<(String, String)>>> {
        self.0.values.clone()
    }

    fn wide(&self) -> &[Entry] {
        self.0.wide()
    }
}

/// The rarer parts of a correlation's groups: a slab in segments that are never reallocated
/// (as the entry pools), slots reused through a free list. A segment is filled as slots are
/// handed out, not at once: the untouched rest of its capacity costs no resident memory.
#[derive(Debug, Default)]
struct MoreSlab {
    segs: Vec<Vec<More>>,
    /// Slots handed out so far (live or on the free list).
    len: usize,
    free: Vec<u32>,
}

impl MoreSlab {
    fn get(&self, slot: u32) -> &More {
        let (seg, off) = chunk_at(0, slot);
        &self.segs[seg][off]
    }

    fn get_mut(&mut self, slot: u32) -> &mut More {
        let (seg, off) = chunk_at(0, slot);
        &mut self.segs[seg][off]
    }

    /// A slot holding `more`.
    fn alloc(&mut self, more: More) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let slot = self.len as u32;
                let (seg, _) = chunk_at(0, slot);
                if seg == self.segs.len() {
                    self.segs.push(Vec::with_capacity(seg_len(0, seg)));
                }
                self.segs[seg].push(more);
                self.len += 1;
                return slot;
            }
        };
        *self.get_mut(slot) = more;
        slot
    }

    fn release(&mut self, slot: u32) {
        *self.get_mut(slot) = More::default();
        self.free.push(slot);
    }

    fn mostly_free(&self) -> bool {
        self.free.len() * 2 > self.len
    }
}

/// A group key: up to 15 bytes inline, else (offset, length) in the rule's key arena.
/// Byte 15 is the tag: the inline length (0–15), or `ARENA`.
#[derive(Clone, Copy, Debug)]
struct KeyRef([u8; 16]);

const ARENA: u8 = 0xff;
const INLINE_MAX: usize = 15;

impl KeyRef {
    fn arena_span(&self) -> Option<(usize, usize)> {
        if self.0[15] != ARENA {
            return None;
        }
        let mut off = [0u8; 8];
        off.copy_from_slice(&self.0[0..8]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.0[8..12]);
        Some((
            u64::from_le_bytes(off) as usize,
            u32::from_le_bytes(len) as usize,
        ))
    }

    fn arena(off: usize, len: usize) -> KeyRef {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&(off as u64).to_le_bytes());
        b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        b[15] = ARENA;
        KeyRef(b)
    }
}

/// One group in the slab (48 bytes).
#[derive(Debug)]
struct Group {
    key: KeyRef,
    /// Time and event id of the first entry (when `len > 0`).
    base_time: i64,
    base_id: u64,
    /// The further entries: the chunk in the pool of their size class (its index in the
    /// first four bytes), or, when there is one narrow further entry, that entry itself (six
    /// bytes, then its referenced rule): the second entry of a group costs no pool space.
    tail: [u8; 8],
    /// Slot of the rarer part in the correlation's [`MoreSlab`] ([`NO_SLOT`]: none).
    more: u32,
    /// Entries in the compact form (0: none, or all in the fallback vector).
    len: u16,
    /// Referenced rule of the first entry.
    member0: u8,
    /// [`LIVE`], [`NARROW`].
    flags: u8,
}

/// No rarer part.
const NO_SLOT: u32 = u32::MAX;

/// The slab slot holds a group.
const LIVE: u8 = 1;
/// The group's further entries are narrow (6 bytes each).
const NARROW: u8 = 2;

impl Group {
    fn live(&self) -> bool {
        self.flags & LIVE != 0
    }

    fn narrow(&self) -> bool {
        self.flags & NARROW != 0
    }

    /// Further entries (compact form).
    #[inline]
    fn rest(&self) -> usize {
        usize::from(self.len).saturating_sub(1)
    }

    /// The single further entry sits in `tail`.
    #[inline]
    fn inline(&self) -> bool {
        self.narrow() && self.rest() == 1
    }

    /// The further entries sit in a pool chunk.
    #[inline]
    fn pooled(&self) -> bool {
        self.rest() > 0 && !self.inline()
    }

    #[inline]
    fn chunk(&self) -> u32 {
        u32::from_le_bytes([self.tail[0], self.tail[1], self.tail[2], self.tail[3]])
    }

    fn set_chunk(&mut self, chunk: u32) {
        self.tail[..4].copy_from_slice(&chunk.to_le_bytes());
    }

    /// The inline further entry: (packed offsets, referenced rule).
    fn inline_entry(&self) -> (Narrow, u8) {
        let t = self.tail;
        ([t[0], t[1], t[2], t[3], t[4], t[5]], t[6])
    }
}

/// Most entries of a compact group: beyond this the group uses the fallback vector.
const COMPACT_MAX: usize = 1 << 15;

/// A further entry packed as (time − base time, event id − base id).
trait Slot: Copy + Default {
    /// The packed offsets, if they fit.
    fn pack(dt: i64, did: i64) -> Option<Self>;
    /// (time offset, event-id offset).
    fn unpack(self) -> (i64, i64);
}

/// 8 bytes: a 32-bit time offset (49 days of ms) and a signed 32-bit event-id offset.
type Wide = [u32; 2];

impl Slot for Wide {
    fn pack(dt: i64, did: i64) -> Option<Wide> {
        Some([u32::try_from(dt).ok()?, i32::try_from(did).ok()? as u32])
    }
    fn unpack(self) -> (i64, i64) {
        (i64::from(self[0]), i64::from(self[1] as i32))
    }
}

/// 6 bytes: a 24-bit time offset (4 h 39 min of ms) and a signed 24-bit event-id offset
/// (± 8.4 M), little-endian. A group whose entries all fit takes these.
type Narrow = [u8; 6];

/// Bounds of a 24-bit offset.
const U24: i64 = 1 << 24;
const I24: i64 = 1 << 23;

impl Slot for Narrow {
    fn pack(dt: i64, did: i64) -> Option<Narrow> {
        if !(0..U24).contains(&dt) || !(-I24..I24).contains(&did) {
            return None;
        }
        let (t, d) = ((dt as u32).to_le_bytes(), (did as u32).to_le_bytes());
        Some([t[0], t[1], t[2], d[0], d[1], d[2]])
    }
    fn unpack(self) -> (i64, i64) {
        let dt = u32::from_le_bytes([self[0], self[1], self[2], 0]);
        // Sign-extend the 24-bit event-id offset.
        let did = (u32::from_le_bytes([0, self[3], self[4], self[5]]) as i32) >> 8;
        (i64::from(dt), i64::from(did))
    }
}

/// Entries of a pool's first segment (or one chunk, when chunks are larger): segments double
/// from there, [`GROW`] times, then stay at that size (64 → 2 048 entries, 16 KiB).
const SEGMENT_MIN: usize = 64;
const GROW: u32 = 5;

/// Entries of the first segment of size class `class`.
fn seg_base(class: usize) -> usize {
    SEGMENT_MIN.max(1 << class)
}

/// Entries of segment `seg` of size class `class`.
fn seg_len(class: usize, seg: usize) -> usize {
    seg_base(class) << (seg as u32).min(GROW)
}

/// (segment, offset of its first entry) of chunk `chunk` of size class `class`.
fn chunk_at(class: usize, chunk: u32) -> (usize, usize) {
    let b = seg_base(class);
    let e = (chunk as usize) << class;
    // Segments 0..GROW hold b, 2b, 4b, … entries: b·(2^GROW − 1) in all.
    let doubling = b * ((1 << GROW) - 1);
    if e < doubling {
        let seg = (usize::BITS - 1 - (e / b + 1).leading_zeros()) as usize;
        (seg, e - b * ((1 << seg) - 1))
    } else {
        let full = b << GROW;
        let r = e - doubling;
        (GROW as usize + r / full, r % full)
    }
}

/// Chunks of `1 << class` packed entries, with a free list. The chunks live in segments that
/// are never moved or reallocated: a pool grows by one segment at a time (no copy, no freed
/// old buffer left resident in the heap), segments double in size up to 2 048 entries so that
/// the small pools of a correlation with few groups stay small, and a chunk never straddles
/// two segments (every segment boundary is a multiple of the chunk size).
#[derive(Debug, Default)]
struct Pool<T> {
    segs: Vec<Box<[T]>>,
    /// Referenced rule per entry, segment by segment (only when the correlation has several).
    members: Vec<Box<[u8]>>,
    /// Chunks handed out so far (live or on the free list).
    chunks: usize,
    free: Vec<u32>,
}

impl<T: Slot> Pool<T> {
    /// The packed entries of a chunk.
    fn chunk(&self, class: usize, chunk: u32) -> &[T] {
        let (seg, off) = chunk_at(class, chunk);
        &self.segs[seg][off..off + (1 << class)]
    }

    /// Referenced rule of entry `k` of a chunk (0 when not recorded).
    fn member(&self, class: usize, chunk: u32, k: usize) -> u8 {
        let (seg, off) = chunk_at(class, chunk);
        self.members
            .get(seg)
            .and_then(|m| m.get(off + k))
            .copied()
            .unwrap_or(0)
    }

    /// Entry slots held (live or free).
    fn slots(&self, class: usize) -> usize {
        self.chunks << class
    }

    /// Whether more than half of the slots are free.
    fn mostly_free(&self, class: usize) -> bool {
        (self.free.len() << class) * 2 > self.slots(class)
    }

    /// A chunk of size class `class` (from the free list, else a new one).
    fn alloc(&mut self, class: usize, multi: bool) -> u32 {
        if let Some(c) = self.free.pop() {
            return c;
        }
        let chunk = self.chunks as u32;
        let (seg, _) = chunk_at(class, chunk);
        if seg == self.segs.len() {
            let len = seg_len(class, seg);
            self.segs.push(vec![T::default(); len].into_boxed_slice());
            if multi {
                self.members.push(vec![0; len].into_boxed_slice());
            }
        }
        self.chunks += 1;
        chunk
    }

    /// Appends the `n` further entries of a group's chunk to `out`.
    fn decode(&self, class: usize, chunk: u32, n: usize, base: (i64, u64), out: &mut Vec<Entry>) {
        for (k, slot) in self.chunk(class, chunk)[..n].iter().enumerate() {
            let (dt, did) = slot.unpack();
            out.push(Entry {
                time: base.0 + dt,
                tie: base.1.wrapping_add(did as u64),
                member: u32::from(self.member(class, chunk, k)),
                extra: None,
            });
        }
    }

    /// Writes `rest` (which fit, see [`Groups::form_of`]) into a group's chunk.
    fn encode(&mut self, class: usize, chunk: u32, base: (i64, u64), rest: &[Entry]) {
        let (seg, start) = chunk_at(class, chunk);
        let data = &mut self.segs[seg][start..start + rest.len()];
        for (slot, e) in data.iter_mut().zip(rest) {
            let did = e.tie.wrapping_sub(base.1) as i64;
            *slot = T::pack(e.time - base.0, did).unwrap_or_default();
        }
        if let Some(members) = self.members.get_mut(seg) {
            for (slot, e) in members[start..start + rest.len()].iter_mut().zip(rest) {
                *slot = e.member as u8;
            }
        }
    }
}

/// The pool of size class `class`, created (with the smaller ones) when missing.
fn pool_of<T: Slot>(pools: &mut Vec<Pool<T>>, class: usize) -> &mut Pool<T> {
    while pools.len() <= class {
        pools.push(Pool {
            segs: Vec::new(),
            members: Vec::new(),
            chunks: 0,
            free: Vec::new(),
        });
    }
    &mut pools[class]
}

/// Size class of `n` further entries: the smallest `c` with `1 << c >= n`.
fn class_of(n: usize) -> usize {
    n.next_power_of_two().trailing_zeros() as usize
}

/// The groups of one correlation rule.
#[derive(Debug)]
pub(crate) struct Groups {
    /// Slab index of each live group, hashed by key. Keys come from events, so the hash has a
    /// per-process random seed (an attacker cannot choose colliding keys); nothing observable
    /// depends on the table's or the slab's order.
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    slab: Vec<Group>,
    vacant: Vec<u32>,
    keys: Vec<u8>,
    /// Arena bytes of removed keys.
    dead_key_bytes: usize,
    /// Pools of 8-byte further entries, by size class.
    pools: Vec<Pool<Wide>>,
    /// Pools of 6-byte further entries, by size class.
    narrow: Vec<Pool<Narrow>>,
    /// The groups' rarer parts.
    mores: MoreSlab,
    /// An empty rarer part lent to a group that has none (see [`Groups::with_more`]).
    spare: More,
    /// Whether entries carry a referenced rule other than 0 (several members).
    multi: bool,
}

/// How a group's entries are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// Compact, further entries 6 bytes.
    Narrow,
    /// Compact, further entries 8 bytes.
    Wide,
    /// In the fallback vector.
    Fallback,
}

impl Groups {
    /// Groups of a correlation with `members` referenced rules.
    pub(crate) fn new(members: usize) -> Groups {
        Groups {
            table: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            slab: Vec::new(),
            vacant: Vec::new(),
            keys: Vec::new(),
            dead_key_bytes: 0,
            pools: Vec::new(),
            narrow: Vec::new(),
            mores: MoreSlab::default(),
            spare: More::default(),
            multi: members > 1,
        }
    }

    /// No groups, for the same correlation as `self`.
    pub(crate) fn empty_like(&self) -> Groups {
        Groups::new(if self.multi { 2 } else { 1 })
    }

    /// Live groups.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    fn key_of<'a>(slab: &'a [Group], keys: &'a [u8], idx: u32) -> &'a str {
        let k = &slab[idx as usize].key;
        let bytes = match k.arena_span() {
            Some((off, len)) => keys.get(off..off + len).unwrap_or_default(),
            None => &k.0[..usize::from(k.0[15]).min(INLINE_MAX)],
        };
        // Keys are stored from `&str` and never cut: always UTF-8.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The key of group `idx`.
    pub(crate) fn key(&self, idx: u32) -> &str {
        Self::key_of(&self.slab, &self.keys, idx)
    }

    /// The group with this key.
    pub(crate) fn find(&self, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let (slab, keys) = (&self.slab, &self.keys);
        self.table
            .find(hash, |&i| Self::key_of(slab, keys, i) == key)
            .copied()
    }

    /// The group with this key, created (with `more` as its rarer part) if new.
    pub(crate) fn find_or_insert(
        &mut self,
        key: &str,
        more: impl FnOnce() -> Option<GroupMore>,
    ) -> u32 {
        let hash = self.hasher.hash_one(key);
        let (slab, keys) = (&self.slab, &self.keys);
        if let Some(&i) = self
            .table
            .find(hash, |&i| Self::key_of(slab, keys, i) == key)
        {
            return i;
        }
        let key_ref = if key.len() <= INLINE_MAX {
            let mut b = [0u8; 16];
            b[..key.len()].copy_from_slice(key.as_bytes());
            b[15] = key.len() as u8;
            KeyRef(b)
        } else {
            let off = self.keys.len();
            self.keys.extend_from_slice(key.as_bytes());
            KeyRef::arena(off, key.len())
        };
        let more = More(more().unwrap_or_default());
        let group = Group {
            key: key_ref,
            base_time: 0,
            base_id: 0,
            tail: [0; 8],
            more: if more.is_empty() {
                NO_SLOT
            } else {
                self.mores.alloc(more)
            },
            len: 0,
            member0: 0,
            flags: LIVE,
        };
        let idx = match self.vacant.pop() {
            Some(i) => {
                self.slab[i as usize] = group;
                i
            }
            None => {
                self.slab.push(group);
                (self.slab.len() - 1) as u32
            }
        };
        let (hasher, slab, keys) = (&self.hasher, &self.slab, &self.keys);
        self.table
            .insert_unique(hash, idx, |&i| hasher.hash_one(Self::key_of(slab, keys, i)));
        idx
    }

    /// Removes group `idx`.
    pub(crate) fn remove(&mut self, idx: u32) {
        let hash = self.hasher.hash_one(self.key(idx));
        if let Ok(e) = self.table.find_entry(hash, |&i| i == idx) {
            e.remove();
        }
        self.free_chunk(idx);
        self.take_more(idx);
        let g = &mut self.slab[idx as usize];
        if let Some((_, len)) = g.key.arena_span() {
            self.dead_key_bytes += len;
        }
        g.flags = 0;
        g.len = 0;
        self.vacant.push(idx);
    }

    /// Indexes of the live groups (slab order).
    pub(crate) fn live(&self) -> impl Iterator<Item = u32> + '_ {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, g)| g.live())
            .map(|(i, _)| i as u32)
    }

    /// The group's rarer part (alerts, values).
    pub(crate) fn more(&self, idx: u32) -> &More {
        match self.slab[idx as usize].more {
            NO_SLOT => &NO_MORE,
            slot => self.mores.get(slot),
        }
    }

    /// Moves the group's rarer part out (its slot freed).
    fn take_more(&mut self, idx: u32) -> More {
        let g = &mut self.slab[idx as usize];
        let slot = std::mem::replace(&mut g.more, NO_SLOT);
        if slot == NO_SLOT {
            return More::default();
        }
        let more = std::mem::take(self.mores.get_mut(slot));
        self.mores.release(slot);
        more
    }

    /// Sets the group's rarer part (its slot freed when `more` is empty).
    fn put_more(&mut self, idx: u32, more: More) {
        let slot = self.slab[idx as usize].more;
        match (slot, more.is_empty()) {
            (NO_SLOT, true) => {}
            (NO_SLOT, false) => self.slab[idx as usize].more = self.mores.alloc(more),
            (slot, false) => *self.mores.get_mut(slot) = more,
            (slot, true) => {
                self.mores.release(slot);
                self.slab[idx as usize].more = NO_SLOT;
            }
        }
    }

    /// The group's rarer part, mutable, if it has one (for changes that cannot empty it: no
    /// slot to give back).
    #[inline]
    pub(crate) fn more_mut(&mut self, idx: u32) -> Option<&mut More> {
        match self.slab[idx as usize].more {
            NO_SLOT => None,
            slot => Some(self.mores.get_mut(slot)),
        }
    }

    /// Drops the group's fallback entries, if any (and its rarer part if nothing is left).
    fn clear_wide(&mut self, idx: u32) {
        let slot = self.slab[idx as usize].more;
        if slot == NO_SLOT {
            return;
        }
        let more = self.mores.get_mut(slot);
        more.0.wide = None;
        if more.is_empty() {
            self.mores.release(slot);
            self.slab[idx as usize].more = NO_SLOT;
        }
    }

    /// Calls `f` with the group's key and its rarer part, mutable, in place (kept if `f`
    /// leaves anything in it; a group without one gets the empty `spare`, moved into a slot
    /// only when filled).
    pub(crate) fn with_more<R>(&mut self, idx: u32, f: impl FnOnce(&str, &mut More) -> R) -> R {
        let slot = self.slab[idx as usize].more;
        let key = Self::key_of(&self.slab, &self.keys, idx);
        if slot != NO_SLOT {
            let more = self.mores.get_mut(slot);
            let r = f(key, more);
            if more.is_empty() {
                self.mores.release(slot);
                self.slab[idx as usize].more = NO_SLOT;
            }
            return r;
        }
        let r = f(key, &mut self.spare);
        if !self.spare.is_empty() {
            let more = std::mem::take(&mut self.spare);
            self.slab[idx as usize].more = self.mores.alloc(more);
        }
        r
    }

    /// Entries the group holds.
    pub(crate) fn entry_count(&self, idx: u32) -> usize {
        let g = &self.slab[idx as usize];
        usize::from(g.len) + self.more(idx).wide().len()
    }

    /// Time of the group's oldest entry.
    pub(crate) fn oldest_time(&self, idx: u32) -> Option<i64> {
        let g = &self.slab[idx as usize];
        if g.len > 0 {
            return Some(g.base_time);
        }
        self.more(idx).wide().first().map(|e| e.time)
    }

    /// Time of the group's newest entry (how recently it was touched; `i64::MIN` when empty).
    pub(crate) fn newest_time(&self, idx: u32) -> i64 {
        let g = &self.slab[idx as usize];
        let rest = g.rest();
        if g.len == 0 {
            return self.more(idx).wide().last().map_or(i64::MIN, |e| e.time);
        }
        if rest == 0 {
            return g.base_time;
        }
        let dt = if g.inline() {
            g.inline_entry().0.unpack().0
        } else {
            let class = class_of(rest);
            if g.narrow() {
                self.narrow[class].chunk(class, g.chunk())[rest - 1]
                    .unpack()
                    .0
            } else {
                self.pools[class].chunk(class, g.chunk())[rest - 1]
                    .unpack()
                    .0
            }
        };
        g.base_time + dt
    }

    /// A copy of the group's entries (for snapshots; [`Groups::load`] is the working path).
    pub(crate) fn entries(&self, idx: u32) -> Vec<Entry> {
        let wide = self.more(idx).wide();
        if !wide.is_empty() {
            return wide.to_vec();
        }
        let g = &self.slab[idx as usize];
        let mut out = Vec::with_capacity(usize::from(g.len));
        self.decode(g, &mut out);
        out
    }

    /// Appends the compact entries of `g` to `out`.
    fn decode(&self, g: &Group, out: &mut Vec<Entry>) {
        if g.len == 0 {
            return;
        }
        out.push(Entry {
            time: g.base_time,
            tie: g.base_id,
            member: u32::from(g.member0),
            extra: None,
        });
        let rest = g.rest();
        let base = (g.base_time, g.base_id);
        if rest == 0 {
            return;
        }
        if g.inline() {
            let (slot, member) = g.inline_entry();
            let (dt, did) = slot.unpack();
            out.push(Entry {
                time: base.0 + dt,
                tie: base.1.wrapping_add(did as u64),
                member: u32::from(member),
                extra: None,
            });
            return;
        }
        let class = class_of(rest);
        if g.narrow() {
            self.narrow[class].decode(class, g.chunk(), rest, base, out);
        } else {
            self.pools[class].decode(class, g.chunk(), rest, base, out);
        }
    }

    /// Decodes the group's entries into `out` (cleared first). The group keeps them until
    /// [`Groups::store`] replaces them, except fallback entries, which are moved out.
    pub(crate) fn load(&mut self, idx: u32, out: &mut Vec<Entry>) {
        out.clear();
        let slot = self.slab[idx as usize].more;
        if slot != NO_SLOT
            && let Some(wide) = self.mores.get_mut(slot).0.wide.take()
        {
            *out = *wide;
            return;
        }
        let g = &self.slab[idx as usize];
        self.decode(g, out);
    }

    /// Replaces the group's entries with `entries` (time-sorted). Compact when they fit, then
    /// `entries` is left empty for reuse; else they move into the fallback vector.
    pub(crate) fn store(&mut self, idx: u32, entries: &mut Vec<Entry>) {
        let form = self.form_of(entries);
        let g = &self.slab[idx as usize];
        let new_rest = if form == Form::Fallback {
            0
        } else {
            entries.len().saturating_sub(1)
        };
        let new_narrow = form == Form::Narrow && new_rest > 0;
        // Pooled unless there is one narrow further entry (inline in the group).
        let new_pooled = new_rest > 0 && !(new_narrow && new_rest == 1);
        let same_chunk = g.pooled()
            && new_pooled
            && class_of(g.rest()) == class_of(new_rest)
            && g.narrow() == new_narrow;
        if g.pooled() && !same_chunk {
            self.free_chunk(idx);
        }
        if form == Form::Fallback {
            let mut more = self.take_more(idx);
            let g = &mut self.slab[idx as usize];
            g.len = 0;
            g.flags &= !NARROW;
            more.0.wide = Some(Box::new(std::mem::take(entries)));
            self.put_more(idx, more);
            return;
        }
        if self.slab[idx as usize].more != NO_SLOT {
            self.clear_wide(idx);
        }
        if new_pooled && !same_chunk {
            let class = class_of(new_rest);
            let multi = self.multi;
            let chunk = if new_narrow {
                pool_of(&mut self.narrow, class).alloc(class, multi)
            } else {
                pool_of(&mut self.pools, class).alloc(class, multi)
            };
            self.slab[idx as usize].set_chunk(chunk);
        }
        let g = &mut self.slab[idx as usize];
        g.len = entries.len() as u16;
        g.flags = if new_narrow { LIVE | NARROW } else { LIVE };
        let Some(first) = entries.first() else {
            entries.clear();
            return;
        };
        g.base_time = first.time;
        g.base_id = first.tie;
        g.member0 = first.member as u8;
        let base = (g.base_time, g.base_id);
        if g.inline() {
            let e = &entries[1];
            let did = e.tie.wrapping_sub(base.1) as i64;
            let slot = Narrow::pack(e.time - base.0, did).unwrap_or_default();
            g.tail[..6].copy_from_slice(&slot);
            g.tail[6] = e.member as u8;
        } else if new_pooled {
            let class = class_of(new_rest);
            let chunk = g.chunk();
            if new_narrow {
                self.narrow[class].encode(class, chunk, base, &entries[1..]);
            } else {
                self.pools[class].encode(class, chunk, base, &entries[1..]);
            }
        }
        entries.clear();
    }

    /// How `entries` are stored (see the module docs): compact when every entry is a plain
    /// event of a recorded member whose offsets from the first fit 32 bits (narrow when they
    /// fit 24), else in the fallback vector.
    fn form_of(&self, entries: &[Entry]) -> Form {
        let Some(first) = entries.first() else {
            return Form::Wide;
        };
        if entries.len() > COMPACT_MAX {
            return Form::Fallback;
        }
        let mut narrow = true;
        for e in entries {
            let dt = e.time.checked_sub(first.time);
            let did = e.tie.wrapping_sub(first.tie) as i64;
            let plain = e.extra.is_none()
                && (e.member == 0 || (self.multi && e.member <= u32::from(u8::MAX)));
            let Some(dt) = dt.filter(|_| plain) else {
                return Form::Fallback;
            };
            if Wide::pack(dt, did).is_none() {
                return Form::Fallback;
            }
            narrow = narrow && Narrow::pack(dt, did).is_some();
        }
        if narrow { Form::Narrow } else { Form::Wide }
    }

    /// Returns the group's pool chunk, if it has one, to its free list.
    fn free_chunk(&mut self, idx: u32) {
        let g = &self.slab[idx as usize];
        if g.pooled() {
            let class = class_of(g.rest());
            if g.narrow() {
                self.narrow[class].free.push(g.chunk());
            } else {
                self.pools[class].free.push(g.chunk());
            }
        }
    }

    /// Bytes the layout holds that nothing uses (dead slab slots, arena bytes, free chunks).
    fn dead_share_over_half(&self) -> bool {
        let slab_dead = self.vacant.len() * 2 > self.slab.len();
        let keys_dead = self.dead_key_bytes * 2 > self.keys.len();
        let pools_dead = self.pools.iter().enumerate().any(|(c, p)| p.mostly_free(c))
            || self
                .narrow
                .iter()
                .enumerate()
                .any(|(c, p)| p.mostly_free(c));
        slab_dead || keys_dead || pools_dead || self.mores.mostly_free()
    }

    /// Rebuilds the slab, the key arena, the pools and the rarer parts' slab without their
    /// dead parts when more than half of one of them is dead (and it is worth it), so that
    /// memory follows the live state after a burst. Called by the engine's periodic sweep.
    pub(crate) fn shrink_if_sparse(&mut self) {
        const WORTH_IT: usize = 1024;
        if self.slab.len() < WORTH_IT && self.keys.len() < WORTH_IT * 16 {
            return;
        }
        if !self.dead_share_over_half() {
            return;
        }
        let mut fresh = Groups {
            hasher: self.hasher.clone(),
            ..Groups::new(if self.multi { 2 } else { 1 })
        };
        let mut scratch = Vec::new();
        let live: Vec<u32> = self.live().collect();
        for idx in live {
            let key = self.key(idx).to_string();
            self.load(idx, &mut scratch);
            let more = self.take_more(idx);
            let new = fresh.find_or_insert(&key, || Some(more.0));
            fresh.store(new, &mut scratch);
        }
        *self = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(time: i64, tie: u64, member: u32) -> Entry {
        Entry {
            time,
            tie,
            member,
            extra: None,
        }
    }

    fn round_trip(g: &mut Groups, key: &str, entries: Vec<Entry>) -> Vec<Entry> {
        let idx = g.find_or_insert(key, || None);
        let mut v = entries.clone();
        g.store(idx, &mut v);
        let mut out = Vec::new();
        g.load(idx, &mut out);
        let mut back = out.clone();
        g.store(idx, &mut back);
        out
    }

    #[test]
    fn alert_events_round_trip() {
        let near = vec![(1_000, 50), (1_000, 40), (5_000, 1_000_000), (9_000_000, 7)];
        let far = vec![(0, 0), (1 << 33, 1), (1 << 34, 1 << 40)];
        for events in [vec![], vec![(-5, u64::MAX)], near, far] {
            let packed = AlertEvents::new(&events);
            assert_eq!(packed.to_vec(), events);
            assert_eq!(packed.len(), events.len());
        }
        assert_eq!(
            AlertEvents::new(&[(1, 1), (2, 2)]).0.len(),
            4,
            "packed: header, base, one"
        );
        assert_eq!(std::mem::size_of::<LiveAlert>(), 56);
        assert_eq!(std::mem::size_of::<Events>(), 16);
        let id = AlertId::new(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(id.text(), "0123456789abcdeffedcba9876543210");
        assert_eq!(AlertId::parse(&id.text()), Some(id));
        assert_eq!(AlertId::parse("2a"), None, "ids are 32 digits");
        assert_eq!(AlertId::parse(&id.text().to_uppercase()), None);
    }

    #[test]
    fn alert_ranges_follow_insertions_and_evictions() {
        let entries: Vec<Entry> = (0..6).map(|i| e(i * 10, i as u64, 0)).collect();
        let events: Vec<(i64, u64)> = (2..5).map(|i| (i * 10, i as u64)).collect();
        let range = Events::range_of(&events, &entries, 2);
        assert_eq!(range, Some(Events::Range { lo: 2, n: 3 }));
        assert_eq!(
            Events::range_of(&events, &entries, 1),
            None,
            "not those entries"
        );
        assert_eq!(Events::range_of(&[], &entries, 0), None);
        assert_eq!(Events::range_of(&events, &entries, 4), None, "past the end");
        let mut r = Events::Range { lo: 2, n: 3 };
        assert_eq!(r.to_vec(&entries), events);
        // Before the range: it moves; after it: nothing; inside it: a copy.
        r.before_insert(&entries, 1);
        assert_eq!(r, Events::Range { lo: 3, n: 3 });
        let mut after = Events::Range { lo: 2, n: 3 };
        after.before_insert(&entries, 5);
        assert_eq!(after, Events::Range { lo: 2, n: 3 });
        let mut inside = Events::Range { lo: 2, n: 3 };
        inside.before_insert(&entries, 3);
        assert_eq!(inside, Events::Copied(AlertEvents::new(&events)));
        // Evictions before it move it; one that takes part of it leaves a copy.
        let mut ev = Events::Range { lo: 2, n: 3 };
        ev.before_front_removal(&entries, 2);
        assert_eq!(ev, Events::Range { lo: 0, n: 3 });
        let mut cut = Events::Range { lo: 2, n: 3 };
        cut.before_front_removal(&entries, 3);
        assert_eq!(cut.to_vec(&[]), events, "copied before the entries left");
        let mut c = Events::Range { lo: 2, n: 3 };
        c.copy(&entries);
        assert_eq!(c.to_vec(&[]), events);
        // A chained (non-plain) entry is never part of a range.
        let mut with_extra = entries.clone();
        with_extra[3].extra = Some(Box::default());
        assert_eq!(Events::range_of(&events, &with_extra, 2), None);
    }

    #[test]
    fn slab_group_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Group>(), 48);
        assert_eq!(std::mem::size_of::<More>(), 80, "one alert inline");
    }

    #[test]
    fn one_narrow_further_entry_sits_in_the_group() {
        for members in [1, 3] {
            let mut g = Groups::new(members);
            let two = vec![e(100, 50, 0), e(7_000, 49, (members - 1) as u32)];
            assert_eq!(round_trip(&mut g, "k", two.clone()), two);
            assert!(g.narrow.iter().all(|p| p.chunks == 0), "no pool chunk");
            let k = g.find("k").unwrap_or(u32::MAX);
            assert_eq!(g.newest_time(k), 7_000);
            assert_eq!(g.entries(k), two);
            // A third entry moves both further entries to a chunk of two; back to one
            // frees it.
            let three = vec![e(100, 50, 0), e(200, 51, 0), e(7_000, 49, 0)];
            assert_eq!(round_trip(&mut g, "k", three.clone()), three);
            assert_eq!(g.narrow[1].chunks, 1);
            assert_eq!(g.newest_time(k), 7_000);
            assert_eq!(round_trip(&mut g, "k", two.clone()), two);
            assert_eq!(g.narrow[1].free, vec![0], "the chunk of two went back");
            // Wide offsets: the one further entry takes a pool chunk.
            let far = vec![e(0, 0, 0), e(1 << 24, 1, 0)];
            assert_eq!(round_trip(&mut g, "k", far.clone()), far);
            assert_eq!(g.pools[0].chunks, 1);
            assert_eq!(g.newest_time(k), 1 << 24);
        }
    }

    fn alert(n: i64) -> LiveAlert {
        LiveAlert {
            id: AlertId::new(n as u128),
            span: (n, n + 1),
            trigger: n,
            events: Events::Copied(AlertEvents::new(&[(n, n as u64)])),
        }
    }

    #[test]
    fn rarer_parts_live_in_a_slab_and_go_when_empty() {
        let mut g = Groups::new(1);
        let a = g.find_or_insert("a", || None);
        let b = g.find_or_insert("b", || None);
        g.with_more(a, |key, more| {
            assert_eq!(key, "a");
            more.set_alerts(vec![alert(1)]);
        });
        g.with_more(b, |_, more| more.set_alerts(vec![alert(2), alert(3)]));
        assert!(matches!(g.more(a).0.alerts, Alerts::One(_)));
        assert_eq!(g.more(a).alerts(), &[alert(1)]);
        assert_eq!(g.more(b).alerts(), &[alert(2), alert(3)]);
        assert_eq!(g.mores.len, 2);
        // An emptied part frees its slot, which the next group's part reuses.
        g.with_more(a, |_, more| more.retain_alerts(100));
        assert!(g.more(a).is_empty());
        assert_eq!(g.mores.free.len(), 1);
        let c = g.find_or_insert("c", || {
            Some(GroupMore {
                values: Some(Arc::new(vec![("f".into(), "v".into())])),
                ..GroupMore::default()
            })
        });
        assert_eq!(g.mores.len, 2, "slot reused");
        assert_eq!(g.more(c).values().map(|v| v.len()), Some(1));
        g.remove(b);
        assert!(g.more(c).values().is_some());
        assert_eq!(g.mores.free.len(), 1);
        // Fallback entries keep a part of their own while they are there.
        let mut extra = e(3, 3, 0);
        extra.extra = Some(Box::new(EntryExtra {
            value: Some("x".into()),
            ..EntryExtra::default()
        }));
        let with_extra = vec![e(1, 1, 0), extra];
        assert_eq!(round_trip(&mut g, "a", with_extra.clone()), with_extra);
        assert_eq!(g.entries(a), with_extra);
        assert!(!g.more(a).is_empty());
        let plain = vec![e(1, 1, 0), e(2, 2, 0)];
        assert_eq!(round_trip(&mut g, "a", plain.clone()), plain);
        assert!(
            g.more(a).is_empty(),
            "no fallback entries left: part dropped"
        );
    }

    #[test]
    fn entries_round_trip_compact_and_wide() {
        let mut g = Groups::new(3);
        let compact = vec![e(100, 50, 0), e(100, 40, 2), e(5_000, 1_000_000, 1)];
        assert_eq!(round_trip(&mut g, "10.0.0.1", compact.clone()), compact);
        assert_eq!(
            g.narrow[1].chunks, 1,
            "two further entries: one chunk of two, narrow"
        );
        // Offsets beyond 24 bits: 8-byte entries; going back frees the wide chunk.
        let wide = vec![
            e(0, 0, 0),
            e(1 << 24, 1, 1),
            e(1 << 25, 1 << 23, 2),
            e(5, 0, 0),
        ];
        let mut sorted = wide.clone();
        sorted.sort_by_key(|x| (x.time, x.tie));
        assert_eq!(round_trip(&mut g, "w", sorted.clone()), sorted);
        assert_eq!(g.pools[2].chunks, 1);
        let w = g.find("w").unwrap_or(u32::MAX);
        assert_eq!(g.newest_time(w), 1 << 25);
        let near = vec![
            e(0, 0, 0),
            e(7, u64::MAX, 1),
            e(9, 3, 2),
            e(11, 8_388_607, 0),
        ];
        assert_eq!(round_trip(&mut g, "w", near.clone()), near);
        assert_eq!(g.pools[2].free, vec![0], "the wide chunk went back");
        assert_eq!(g.newest_time(w), 11);
        let edge = vec![e(0, 1 << 23, 0), e((1 << 24) - 1, 0, 0)];
        assert_eq!(round_trip(&mut g, "edge", edge.clone()), edge);
        let g_edge = g.find("edge").unwrap_or(u32::MAX);
        assert!(
            g.slab[g_edge as usize].narrow(),
            "-2^23 and 2^24 - 1 fit 24 bits"
        );
        // An event id more than 2^31 away, a time more than 2^32 ms away, an extra: wide.
        let far_id = vec![e(0, 0, 0), e(1, 1 << 40, 0)];
        assert_eq!(round_trip(&mut g, "a", far_id.clone()), far_id);
        let far_time = vec![e(0, 0, 0), e(1 << 33, 1, 0)];
        assert_eq!(round_trip(&mut g, "b", far_time.clone()), far_time);
        let mut extra = e(3, 3, 0);
        extra.extra = Some(Box::new(EntryExtra {
            value: Some("x".into()),
            ..EntryExtra::default()
        }));
        let with_extra = vec![e(1, 1, 0), extra];
        assert_eq!(round_trip(&mut g, "c", with_extra.clone()), with_extra);
        assert_eq!(g.entry_count(g.find("c").unwrap_or(u32::MAX)), 2);
    }

    #[test]
    fn long_keys_go_to_the_arena_and_survive_a_rebuild() {
        let mut g = Groups::new(1);
        let long: Vec<String> = (0..3000)
            .map(|i| format!("a rather long user name {i}"))
            .collect();
        for (i, k) in long.iter().enumerate() {
            let idx = g.find_or_insert(k, || None);
            let mut v = vec![e(i as i64, i as u64, 0), e(i as i64 + 1, i as u64 + 7, 0)];
            g.store(idx, &mut v);
        }
        for k in long.iter().skip(100) {
            let idx = g.find(k).unwrap_or(u32::MAX);
            g.remove(idx);
        }
        g.shrink_if_sparse();
        assert_eq!(g.len(), 100);
        assert_eq!(g.slab.len(), 100, "dead slots dropped");
        for (i, k) in long.iter().take(100).enumerate() {
            let idx = g.find(k).unwrap_or(u32::MAX);
            assert_eq!(g.key(idx), k);
            let mut out = Vec::new();
            g.load(idx, &mut out);
            assert_eq!(
                out,
                vec![e(i as i64, i as u64, 0), e(i as i64 + 1, i as u64 + 7, 0)]
            );
            assert_eq!(g.newest_time(idx), i as i64 + 1);
        }
        assert!(g.find(&long[200]).is_none());
    }

    /// Chunks tile the segments: consecutive, inside one segment, none shared.
    #[test]
    fn chunks_tile_the_segments() {
        for class in [0, 1, 3, 6, 7, 12] {
            let mut next = (0usize, 0usize);
            for chunk in 0..20_000u32 {
                let (seg, off) = chunk_at(class, chunk);
                if next.1 == seg_len(class, next.0) {
                    next = (next.0 + 1, 0);
                }
                assert_eq!((seg, off), next, "class {class} chunk {chunk}");
                assert!(off + (1 << class) <= seg_len(class, seg));
                next.1 += 1 << class;
            }
        }
        assert_eq!(seg_len(0, 0), 64);
        assert_eq!(seg_len(0, 9), 2048);
    }

    #[test]
    fn chunks_are_reused() {
        let mut g = Groups::new(1);
        let a = g.find_or_insert("a", || None);
        let mut v: Vec<Entry> = (0..5).map(|i| e(i, i as u64, 0)).collect();
        g.store(a, &mut v);
        g.remove(a);
        let b = g.find_or_insert("b", || None);
        let mut v: Vec<Entry> = (0..4).map(|i| e(i, i as u64, 0)).collect();
        g.store(b, &mut v);
        assert_eq!(g.narrow[2].chunks, 1, "the freed chunk of four was reused");
        assert_eq!(a, b, "the freed slot was reused");
    }
}
