//! [`Fields`]: the source-specific fields of an event, text keys to text values in key order.
//!
//! Why not a `BTreeMap<String, String>`: a decoder fills 10 to 40 fields per record, and the
//! map cost two heap allocations per field (key and value) plus a B-tree node now and then;
//! with the `format!`ed dotted keys of the JSON decoders that was the largest part of decoding
//! a record (`docs/benchmarks.md`, "Decoder allocations, session 8"). Here every key and value
//! of an event lives in one string, back to back, and a vector of offsets sorted by key finds
//! them: building an event's fields costs two allocations however many fields it has (fewer
//! when the decoder reserves room up front).
//!
//! A decoder that inserts many fields in document order uses a [`Batch`] ([`Fields::batch`]):
//! its inserts are appended unsorted and sorted in once when it ends, trying first the orders
//! that recent batches on the thread ended in (records of one kind repeat their keys), so a
//! record like the last ones costs one key comparison per field instead of a binary search
//! and a shift of the offsets per insert (`docs/benchmarks.md`, "Decoders, session 9").
//!
//! It behaves like the map it replaces: one value per key, iteration in key order (byte order
//! of the keys, as `String`'s `Ord`), and it is serialised as the same JSON object.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Text keys to text values, kept sorted by key, stored in one string per event.
///
/// Keys and values are copied in on [`insert`](Fields::insert); a replaced or removed value
/// leaves its bytes behind until there are enough of them to be worth compacting. An event's
/// fields hold at most 4 GiB of text (offsets are `u32`); decoders accept records of at most
/// 1 MiB, so a longer insert is refused (`false`) rather than wrapped.
#[derive(Clone, Default)]
pub struct Fields {
    /// Keys and values, each key immediately followed by its value.
    text: String,
    /// One per field, in key order.
    slots: Vec<Slot>,
    /// Bytes of `text` no slot refers to (replaced or removed fields).
    dead: u32,
}

/// Where one field lives in [`Fields::text`]: the key at `start`, its value right after it.
#[derive(Clone, Copy, Debug)]
struct Slot {
    start: u32,
    key_len: u32,
    value_len: u32,
}

/// In a batch's slots, the top bit of `key_len` marks an `insert_if_absent` (a batch cannot
/// look up what is present; the merge replays the inserts instead). Batch keys are shorter.
const IF_ABSENT: u32 = 1 << 31;

impl Slot {
    fn key_len(self) -> u32 {
        self.key_len & !IF_ABSENT
    }

    fn if_absent(self) -> bool {
        self.key_len & IF_ABSENT != 0
    }

    /// The slot without the batch's mark.
    fn plain(self) -> Slot {
        Slot {
            key_len: self.key_len(),
            ..self
        }
    }

    /// Bytes of the text the field takes.
    fn size(self) -> u32 {
        self.key_len().saturating_add(self.value_len)
    }

    fn key_end(self) -> usize {
        self.start as usize + self.key_len as usize
    }

    fn end(self) -> usize {
        self.key_end() + self.value_len as usize
    }
}

/// `a.cmp(b)` for keys (the order of `str`'s `Ord`: bytewise, then shorter first), eight bytes
/// at a time. Why not `cmp`: that calls `memcmp` for every probe of a search, and for keys of
/// 5 to 40 bytes the call costs more than the comparison (a fifth of decoding a JSON record,
/// `docs/benchmarks.md`, "Decoders, session 9").
#[inline]
fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a_rest, mut b_rest) = (a, b);
    while let (Some((a8, a_next)), Some((b8, b_next))) = (
        a_rest.split_first_chunk::<8>(),
        b_rest.split_first_chunk::<8>(),
    ) {
        if a8 != b8 {
            // Big-endian numbers compare as their bytes do.
            return u64::from_be_bytes(*a8).cmp(&u64::from_be_bytes(*b8));
        }
        (a_rest, b_rest) = (a_next, b_next);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        if x != y {
            return x.cmp(y);
        }
    }
    a_rest.len().cmp(&b_rest.len())
}

/// Dead bytes below which a replace or remove never compacts (small events never do).
const COMPACT_MIN_DEAD: u32 = 4096;

/// The order the last batch on this thread sorted its slots into, and room to permute slots
/// ([`Fields::merge_batch`]): kept between events so neither costs an allocation per event.
#[derive(Default)]
struct LastOrder {
    orders: Vec<Vec<u32>>,
    slots: Vec<Slot>,
}

/// How many orders are remembered (records of a few kinds, each with its own keys).
const REMEMBERED_ORDERS: usize = 16;

/// Batches of more fields than this are sorted without the remembered orders (and are not
/// remembered: a thread keeps at most 16 orders of this size).
const REMEMBERED_MAX_FIELDS: usize = 512;

/// Batches of more fields than this are sorted by the library's sort, not binary insertion.
const INSERTION_SORT_MAX: usize = 128;

thread_local! {
    static LAST_ORDER: Cell<LastOrder> = Cell::new(LastOrder::default());
}

impl Fields {
    /// No fields.
    pub const fn new() -> Fields {
        Fields {
            text: String::new(),
            slots: Vec::new(),
            dead: 0,
        }
    }

    /// No fields yet, with room for `fields` fields holding `text_bytes` bytes of keys and
    /// values in all, so that filling them allocates once (or not at all for `0, 0`).
    pub fn with_capacity(fields: usize, text_bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(text_bytes),
            slots: Vec::with_capacity(fields),
            dead: 0,
        }
    }

    /// Makes room for `fields` more fields holding `text_bytes` more bytes.
    pub fn reserve(&mut self, fields: usize, text_bytes: usize) {
        // A new event's fields have no buffers yet: allocating them directly skips `reserve`'s
        // growth path (about 250 instructions of a JSON record's decoding, two calls).
        if self.text.capacity() == 0 {
            self.text = String::with_capacity(text_bytes);
        } else {
            self.text.reserve(text_bytes);
        }
        if self.slots.capacity() == 0 {
            self.slots = Vec::with_capacity(fields);
        } else {
            self.slots.reserve(fields);
        }
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let index = self.search(key).ok()?;
        Some(self.value_at(index))
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.search(key).is_ok()
    }

    /// Sets `key` to `value`, replacing any value it had. `false` only when the event's
    /// fields would pass 4 GiB (then nothing changes).
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        let position = self.find(key);
        let Some(slot) = self.append(key, |text| text.push_str(value)) else {
            return false;
        };
        self.place(position, slot);
        true
    }

    /// Sets `key` to `value` written with `Display` (a number, say) straight into the
    /// event's text, without a `String` of its own.
    pub fn insert_display(&mut self, key: &str, value: &dyn fmt::Display) -> bool {
        let position = self.find(key);
        // Writing into a `String` cannot fail; a `Display` impl that reports an error
        // leaves what it wrote, as `to_string` would panic instead.
        let Some(slot) = self.append(key, |text| {
            let _ = write!(text, "{value}");
        }) else {
            return false;
        };
        self.place(position, slot);
        true
    }

    /// Sets `key` to `value` unless it already has a value (the map `entry().or_insert()`);
    /// `true` when it was set.
    pub fn insert_if_absent(&mut self, key: &str, value: &str) -> bool {
        let Err(index) = self.find(key) else {
            return false;
        };
        let Some(slot) = self.append(key, |text| text.push_str(value)) else {
            return false;
        };
        self.slots.insert(index, slot);
        true
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.search(key).ok()?;
        let value = self.value_at(index).to_string();
        let slot = self.slots.remove(index);
        self.bury(slot);
        Some(value)
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
        self.dead = 0;
    }

    /// `(key, value)` pairs in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            fields: self,
            slots: self.slots.iter(),
        }
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(key, _)| key)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(_, value)| value)
    }

    /// Replaces each value for which `change` returns a new one (the map's `values_mut`,
    /// for rewriting values in place: pseudonymisation).
    pub fn map_values(&mut self, mut change: impl FnMut(&str) -> Option<String>) {
        let changed: Vec<(usize, String)> = (0..self.slots.len())
            .filter_map(|index| change(self.value_at(index)).map(|new| (index, new)))
            .collect();
        if changed.is_empty() {
            return;
        }
        let mut out = Fields::with_capacity(self.len(), self.text.len());
        let mut changed = changed.into_iter().peekable();
        for (index, (key, value)) in self.iter().enumerate() {
            let value = match changed.next_if(|(at, _)| *at == index) {
                Some((_, new)) => Cow::Owned(new),
                None => Cow::Borrowed(value),
            };
            out.push_sorted(key, &value);
        }
        *self = out;
    }

    /// A batch of inserts, sorted into the fields once when the batch is dropped: for a
    /// decoder that inserts many fields in no particular order (a JSON document's keys, CEF
    /// attributes), which would otherwise pay a search and a shift of the offsets per insert.
    /// The fields cannot be read while the batch lives (it borrows them); afterwards they are
    /// exactly what the same inserts one by one would have made.
    pub fn batch(&mut self) -> Batch<'_> {
        Batch {
            sorted: self.slots.len(),
            fields: self,
        }
    }

    /// Sorts the slots a batch appended from `sorted` on into the others and keeps one per
    /// key, replaying the inserts of each key in order (the text only grows, so a slot's
    /// `start` is its insert order; the sort is stable, so that order stays among equal keys).
    ///
    /// Records of one source mostly have the same keys in the same order (a Winlogbeat line,
    /// a CEF line of a product), so the order the last batch on this thread sorted its slots
    /// into is tried first: checking that it sorts these keys takes one comparison per field,
    /// sorting takes about log2(fields). When it does not fit, a binary insertion sort.
    fn merge_batch(&mut self, sorted: usize) {
        let n = self.slots.len();
        if n <= sorted {
            return;
        }
        if n > REMEMBERED_MAX_FIELDS {
            // A huge record (a JSON document of thousands of keys): sorted on its own, and
            // neither its order nor its slots are kept for the thread.
            let mut order: Vec<u32> = (0..n as u32).collect();
            let repeated = self.sort_order(&mut order, sorted);
            let slots = self.slots.clone();
            self.apply_order(&order, &slots, repeated);
            return;
        }
        let mut memo = LAST_ORDER.try_with(Cell::take).unwrap_or_default();
        // The remembered orders of this length, most recent first.
        let hit = memo
            .orders
            .iter()
            .position(|order| order.len() == n && self.sorts_strictly(order));
        let mut repeated = false;
        match hit {
            Some(at) => memo.orders[..=at].rotate_right(1),
            None => {
                if memo.orders.len() < REMEMBERED_ORDERS {
                    memo.orders.push(Vec::new());
                }
                // The least recent one makes room.
                memo.orders.rotate_right(1);
                let order = &mut memo.orders[0];
                order.clear();
                order.extend(0..n as u32);
                repeated = self.sort_order(order, sorted);
            }
        }
        memo.slots.clear();
        memo.slots.extend_from_slice(&self.slots);
        self.apply_order(&memo.orders[0], &memo.slots, repeated);
        if repeated {
            // An order with repeated keys never sorts another batch strictly.
            memo.orders[0].clear();
        }
        let _ = LAST_ORDER.try_with(|cell| cell.set(memo));
    }

    /// Puts `slots` (a copy of the slots) in `order`; with `repeated` keys, keeps one per key.
    fn apply_order(&mut self, order: &[u32], slots: &[Slot], repeated: bool) {
        for (slot, &index) in self.slots.iter_mut().zip(order) {
            if let Some(&from) = slots.get(index as usize) {
                // Without a repeated key no mark matters (the merge clears them too).
                *slot = if repeated { from } else { from.plain() };
            }
        }
        if repeated {
            self.keep_last_of_each_key();
        }
    }

    /// Sorts `order` (indices of slots, the first `sorted` already in key order) by key, equal
    /// keys in index order; whether a key was met twice. Binary insertion for the usual
    /// record; for a large one, whose insertions would move O(n²) indices, a library sort with
    /// the index as tie-breaker (the same order).
    fn sort_order(&self, order: &mut [u32], sorted: usize) -> bool {
        if order.len() <= INSERTION_SORT_MAX {
            return self.insertion_sort(order, sorted);
        }
        let key = |index: u32| {
            self.slots
                .get(index as usize)
                .map_or(&[][..], |&slot| self.batch_key(slot))
        };
        order.sort_unstable_by(|&a, &b| compare_keys(key(a), key(b)).then(a.cmp(&b)));
        order
            .windows(2)
            .any(|pair| compare_keys(key(pair[0]), key(pair[1])) == Ordering::Equal)
    }

    /// Whether the slots taken in `order` have strictly increasing keys (a batch without a
    /// repeated key, which `order` sorts).
    fn sorts_strictly(&self, order: &[u32]) -> bool {
        order.windows(2).all(|pair| {
            let (Some(&a), Some(&b)) = (
                self.slots.get(pair[0] as usize),
                self.slots.get(pair[1] as usize),
            ) else {
                return false;
            };
            compare_keys(self.batch_key(a), self.batch_key(b)) == Ordering::Less
        })
    }

    /// Sorts `order` (indices of slots, the first `sorted` already in key order) by key,
    /// equal keys in index order: each index goes after the last one not greater than it.
    /// Whether a key was met twice.
    fn insertion_sort(&self, order: &mut [u32], sorted: usize) -> bool {
        let key = |index: u32| {
            self.slots
                .get(index as usize)
                .map_or(&[][..], |&slot| self.batch_key(slot))
        };
        let mut repeated = false;
        for next in sorted.max(1)..order.len() {
            let new = key(order[next]);
            let (mut low, mut high) = (0, next);
            while low < high {
                let mid = low + (high - low) / 2;
                match compare_keys(key(order[mid]), new) {
                    Ordering::Greater => high = mid,
                    Ordering::Less => low = mid + 1,
                    Ordering::Equal => {
                        repeated = true;
                        low = mid + 1;
                    }
                }
            }
            order[low..=next].rotate_right(1);
        }
        repeated
    }

    /// After a sort, keeps for each key the value the inserts one by one would leave. Counts
    /// the others as dead text and compacts when worth it.
    fn keep_last_of_each_key(&mut self) {
        let mut dead = 0u32;
        let mut kept = 0;
        let mut at = 0;
        while let Some(&first) = self.slots.get(at) {
            let mut winner = first;
            at += 1;
            while let Some(&next) = self.slots.get(at) {
                if compare_keys(self.batch_key(next), self.batch_key(first)) != Ordering::Equal {
                    break;
                }
                let loser = if next.if_absent() {
                    next
                } else {
                    std::mem::replace(&mut winner, next)
                };
                dead = dead.saturating_add(loser.size());
                at += 1;
            }
            self.slots[kept] = winner.plain();
            kept += 1;
        }
        self.slots.truncate(kept);
        self.dead = self.dead.saturating_add(dead);
        if self.dead >= COMPACT_MIN_DEAD && self.dead as usize * 2 > self.text.len() {
            self.compact();
        }
    }

    /// The key of a slot that may carry a batch's mark.
    fn batch_key(&self, slot: Slot) -> &[u8] {
        let start = slot.start as usize;
        self.text
            .as_bytes()
            .get(start..start + slot.key_len() as usize)
            .unwrap_or_default()
    }

    /// Appends a field whose key sorts after every key present (the order `iter` gives),
    /// falling back to a sorted insert when it does not.
    fn push_sorted(&mut self, key: &str, value: &str) {
        let in_order = self
            .slots
            .last()
            .is_none_or(|&last| self.key_of(last) < key);
        if !in_order {
            self.insert(key, value);
            return;
        }
        if let Some(slot) = self.append(key, |text| text.push_str(value)) {
            self.slots.push(slot);
        }
    }

    /// Index of `key` (`Ok`), or where it would go (`Err`), for a field about to be written.
    /// Fields are often inserted in key order, so a key after the last one is answered without
    /// a search.
    fn find(&self, key: &str) -> Result<usize, usize> {
        match self.slots.last() {
            None => Err(0),
            Some(&last) if compare_keys(self.key_bytes(last), key.as_bytes()) == Ordering::Less => {
                Err(self.slots.len())
            }
            Some(_) => self.search(key),
        }
    }

    /// [`find`](Fields::find) without the look at the last key: for reads, whose keys are
    /// anywhere. A search that stops at the key it finds: `binary_search_by` always goes down to
    /// one slot, two more comparisons than this on average for a present key.
    fn search(&self, key: &str) -> Result<usize, usize> {
        let key = key.as_bytes();
        let (mut low, mut high) = (0, self.slots.len());
        while low < high {
            let mid = low + (high - low) / 2;
            let Some(&slot) = self.slots.get(mid) else {
                break;
            };
            match compare_keys(self.key_bytes(slot), key) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// The key of `slot` as bytes: no `char` boundary checks (the comparisons are bytewise).
    fn key_bytes(&self, slot: Slot) -> &[u8] {
        self.text
            .as_bytes()
            .get(slot.start as usize..slot.key_end())
            .unwrap_or_default()
    }

    /// Writes `key` then the value `write_value` writes at the end of the text; the slot of
    /// the new field, or `None` (nothing written) when offsets would pass `u32`.
    fn append(&mut self, key: &str, write_value: impl FnOnce(&mut String)) -> Option<Slot> {
        let start = self.text.len();
        self.text.push_str(key);
        let value_start = self.text.len();
        write_value(&mut self.text);
        let end = self.text.len();
        if u32::try_from(end).is_err() {
            self.text.truncate(start);
            return None;
        }
        // `end` fits in a u32, so do the smaller offsets.
        Some(Slot {
            start: start as u32,
            key_len: (value_start - start) as u32,
            value_len: (end - value_start) as u32,
        })
    }

    /// Puts `slot` where `find` said: over the field of the same key, or in its place.
    fn place(&mut self, position: Result<usize, usize>, slot: Slot) {
        match position {
            Ok(index) => {
                let old = std::mem::replace(&mut self.slots[index], slot);
                self.bury(old);
            }
            Err(index) => self.slots.insert(index, slot),
        }
    }

    /// Counts a field's bytes as dead; compacts when the dead bytes are both many and most
    /// of the text (a caller replacing one value over and over).
    fn bury(&mut self, slot: Slot) {
        let size = slot.key_len.saturating_add(slot.value_len);
        self.dead = self.dead.saturating_add(size);
        if self.slots.is_empty() {
            self.clear();
        } else if self.dead >= COMPACT_MIN_DEAD && self.dead as usize * 2 > self.text.len() {
            self.compact();
        }
    }

    /// Rewrites the text with only the live fields.
    fn compact(&mut self) {
        let mut out = Fields::with_capacity(self.len(), self.text.len() - self.dead as usize);
        for (key, value) in self.iter() {
            out.push_sorted(key, value);
        }
        *self = out;
    }

    fn key_of(&self, slot: Slot) -> &str {
        self.text
            .get(slot.start as usize..slot.key_end())
            .unwrap_or_default()
    }

    fn value_of(&self, slot: Slot) -> &str {
        self.text
            .get(slot.key_end()..slot.end())
            .unwrap_or_default()
    }

    fn value_at(&self, index: usize) -> &str {
        self.slots
            .get(index)
            .map_or("", |&slot| self.value_of(slot))
    }
}

/// Inserts into [`Fields`] that are sorted in once, when the batch is dropped
/// ([`Fields::batch`]). Same meaning as the fields' own inserts: the last `insert` of a key
/// wins, `insert_if_absent` does not replace a value present before or set earlier in the batch.
pub struct Batch<'a> {
    fields: &'a mut Fields,
    /// Slots before this index were there before the batch (sorted, one per key).
    sorted: usize,
}

impl Batch<'_> {
    /// Sets `key` to `value` (replacing any value it has when the batch ends). `false` when
    /// the fields would pass 4 GiB or the key 2 GiB (then nothing changes).
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        self.push(key, false, |text| text.push_str(value))
    }

    /// [`insert`](Batch::insert) of `value` written with `Display`.
    pub fn insert_display(&mut self, key: &str, value: &dyn fmt::Display) -> bool {
        // Writing into a `String` cannot fail (see `Fields::insert_display`).
        self.push(key, false, |text| {
            let _ = write!(text, "{value}");
        })
    }

    /// Sets `key` to `value` unless it has a value by then (present before the batch or
    /// inserted earlier in it). `false` only on the size limits of `insert`; whether the value
    /// was taken is known when the batch ends.
    pub fn insert_if_absent(&mut self, key: &str, value: &str) -> bool {
        self.push(key, true, |text| text.push_str(value))
    }

    fn push(&mut self, key: &str, if_absent: bool, write_value: impl FnOnce(&mut String)) -> bool {
        if key.len() >= IF_ABSENT as usize {
            return false;
        }
        let Some(mut slot) = self.fields.append(key, write_value) else {
            return false;
        };
        if if_absent {
            slot.key_len |= IF_ABSENT;
        }
        self.fields.slots.push(slot);
        true
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.fields.merge_batch(self.sorted);
    }
}

/// The fields' `(key, value)` pairs in key order.
pub struct Iter<'a> {
    fields: &'a Fields,
    slots: std::slice::Iter<'a, Slot>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let slot = *self.slots.next()?;
        Some((self.fields.key_of(slot), self.fields.value_of(slot)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let slot = *self.slots.next_back()?;
        Some((self.fields.key_of(slot), self.fields.value_of(slot)))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = str;

    /// The value of `key`; panics when there is none (as the map's index does).
    fn index(&self, key: &str) -> &str {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no field {key:?}"),
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for Fields {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        for (key, value) in pairs {
            self.insert(key.as_ref(), value.as_ref());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Fields {
        let mut fields = Fields::new();
        fields.extend(pairs);
        fields
    }
}

impl From<BTreeMap<String, String>> for Fields {
    fn from(map: BTreeMap<String, String>) -> Fields {
        let bytes = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        let mut fields = Fields::with_capacity(map.len(), bytes);
        for (key, value) in &map {
            fields.push_sorted(key, value);
        }
        fields
    }
}

impl From<&Fields> for BTreeMap<String, String> {
    fn from(fields: &Fields) -> BTreeMap<String, String> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// Equal when they hold the same pairs (however their text is laid out).
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Fields {}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A JSON object (any serde map), keys in order: what `BTreeMap<String, String>` wrote.
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        // Untrusted size hints are capped, as serde's own collections do.
        let mut fields = Fields::with_capacity(map.size_hint().unwrap_or(0).min(4096), 0);
        while let Some((key, value)) = map.next_entry::<Text<'de>, Text<'de>>()? {
            // A repeated key keeps its last value, as the map did.
            fields.push_sorted(key.as_str(), value.as_str());
        }
        Ok(fields)
    }
}

/// A string read by serde: borrowed from the input when it can be (no escapes), else owned.
enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(text) => text,
            Text::Owned(text) => text,
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'de>, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Borrowed(text))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text::Owned(text.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text::Owned(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(&'static str, &'static str)> {
        vec![
            ("syslog.program", "sshd é"),
            ("EventID", "4624"),
            ("a.b.0", ""),
            ("action", "ssh_failed_password"),
            ("Z", "quote \" and \\ and \n"),
            ("ünïcode", "ключ"),
            ("EventID", "4625"),
        ]
    }

    #[test]
    fn keys_compare_as_strings_do() {
        let keys = [
            "",
            "a",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefgh\u{0}",
            "abcdefgi",
            "winlog.event_data.TargetUserName",
            "winlog.event_data.TargetDomainName",
            "winlog.event_data.Target",
            "winlog.event_data.TargetUserNamf",
            "ünïcode",
            "\u{7f}",
            "\u{80}",
            "Z",
            "z",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    compare_keys(a.as_bytes(), b.as_bytes()),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
            }
        }
        // Keys that differ only past their first 8 bytes, or by a trailing NUL, find each other.
        let mut fields = Fields::new();
        for key in keys.iter().rev() {
            fields.insert(key, key);
        }
        fields.insert("a\u{0}", "nul");
        for key in keys {
            assert_eq!(fields.get(key), Some(key), "{key:?}");
        }
        assert_eq!(fields.get("a\u{0}"), Some("nul"));
        let in_order: Vec<&str> = fields.keys().collect();
        let mut sorted = in_order.clone();
        sorted.sort_unstable();
        assert_eq!(in_order, sorted);
    }

    #[test]
    fn behaves_like_the_map_it_replaces() {
        let mut map = BTreeMap::new();
        let mut fields = Fields::new();
        for (k, v) in sample() {
            map.insert(k.to_string(), v.to_string());
            assert!(fields.insert(k, v));
        }
        let pairs: Vec<(&str, &str)> = fields.iter().collect();
        let expected: Vec<(&str, &str)> =
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, expected);
        assert_eq!(fields.len(), map.len());
        assert_eq!(fields.get("EventID"), Some("4625"));
        assert_eq!(&fields["a.b.0"], "");
        assert!(fields.get("nope").is_none() && !fields.contains_key("nope"));
        assert_eq!(fields.remove("EventID").as_deref(), Some("4625"));
        assert_eq!(fields.remove("EventID"), None);
        map.remove("EventID");
        assert_eq!(BTreeMap::from(&fields), map);
        assert!(!fields.insert_if_absent("action", "other"));
        assert!(fields.insert_if_absent("b", "new"));
        assert_eq!(fields.get("action"), Some("ssh_failed_password"));
        assert_eq!(fields.keys().next_back(), Some("ünïcode"));
        fields.insert_display("n", &-42);
        assert_eq!(fields.get("n"), Some("-42"));
        assert_eq!(Fields::from(map.clone()), map.iter().collect::<Fields>());
    }

    #[test]
    fn serialises_byte_identically_to_the_map() {
        let map: BTreeMap<String, String> = sample()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let fields: Fields = sample().into_iter().collect();
        let text = serde_json::to_string(&fields).unwrap();
        assert_eq!(text, serde_json::to_string(&map).unwrap());
        assert_eq!(
            serde_json::to_string_pretty(&fields).unwrap(),
            serde_json::to_string_pretty(&map).unwrap()
        );
        let back: Fields = serde_json::from_str(&text).unwrap();
        assert_eq!(back, fields);
        // Keys out of order and repeated, as another writer might send them.
        let back: Fields = serde_json::from_str(r#"{"b":"1","a":"2","b":"3"}"#).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
        assert!(serde_json::from_str::<Fields>(r#"{"a":1}"#).is_err());
        // From a reader (no borrowing possible).
        let back: Fields = serde_json::from_reader(text.as_bytes()).unwrap();
        assert_eq!(back, fields);
        assert_eq!(serde_json::to_string(&Fields::new()).unwrap(), "{}");
    }

    #[test]
    fn replacing_one_value_over_and_over_stays_small() {
        let mut fields = Fields::new();
        fields.insert("keep", "me");
        for i in 0..100_000 {
            fields.insert_display("counter", &i);
        }
        assert_eq!(fields.get("counter"), Some("99999"));
        assert_eq!(fields.get("keep"), Some("me"));
        assert!(
            fields.text.len() < 3 * COMPACT_MIN_DEAD as usize,
            "{}",
            fields.text.len()
        );
        fields.remove("keep");
        fields.remove("counter");
        assert!(fields.is_empty() && fields.text.is_empty());
    }

    #[test]
    fn map_values_rewrites_only_what_changes() {
        let mut fields: Fields = [("a", "alice"), ("b", "bob"), ("c", "alice bob")]
            .into_iter()
            .collect();
        fields.map_values(|v| v.contains("alice").then(|| v.replace("alice", "P1")));
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            [("a", "P1"), ("b", "bob"), ("c", "P1 bob")]
        );
        let before = fields.clone();
        fields.map_values(|_| None);
        assert_eq!(fields, before);
    }

    /// The same operations one by one on `Fields` and on a `BTreeMap` (the reference).
    fn replay(ops: &[(&str, &str, bool)]) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for &(key, value, if_absent) in ops {
            if if_absent {
                map.entry(key.to_string())
                    .or_insert_with(|| value.to_string());
            } else {
                map.insert(key.to_string(), value.to_string());
            }
        }
        map
    }

    #[test]
    fn a_batch_ends_as_the_inserts_one_by_one_would() {
        let before = [("m", "old m"), ("b", "old b"), ("z", "old z")];
        let ops = [
            ("q", "q1", false),
            ("b", "b1", true), // present before the batch: kept
            ("a", "a1", true), // absent: taken
            ("a", "a2", true), // set earlier in the batch: refused
            ("m", "m1", false),
            ("q", "q2", false), // last insert wins
            ("c", "c1", true),
            ("c", "c2", false), // a plain insert replaces an if-absent one
            ("m", "m2", false),
            ("d", "d1", false),
            ("d", "d2", true),
            ("", "empty key", false),
            ("a.b.0", "", false),
        ];
        let mut expected = replay(
            &before
                .iter()
                .map(|&(k, v)| (k, v, false))
                .chain(ops)
                .collect::<Vec<_>>(),
        );
        let mut fields: Fields = before.into_iter().collect();
        let mut one_by_one = fields.clone();
        {
            let mut batch = fields.batch();
            for (key, value, if_absent) in ops {
                if if_absent {
                    assert!(batch.insert_if_absent(key, value));
                } else {
                    assert!(batch.insert(key, value));
                }
            }
            batch.insert_display("n", &7);
        }
        for (key, value, if_absent) in ops {
            if if_absent {
                one_by_one.insert_if_absent(key, value);
            } else {
                one_by_one.insert(key, value);
            }
        }
        one_by_one.insert_display("n", &7);
        expected.insert("n".into(), "7".into());
        assert_eq!(BTreeMap::from(&fields), expected);
        assert_eq!(fields, one_by_one);
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        assert_eq!(fields.get("q"), Some("q2"));
        assert_eq!(fields.get("b"), Some("old b"));
        assert_eq!(fields.get("a"), Some("a1"));
        assert_eq!(fields.get("c"), Some("c2"));
        assert_eq!(fields.get("d"), Some("d1"));
        // The replaced values are dead text, and a removed key is gone with all its inserts.
        assert_eq!(fields.remove("m").as_deref(), Some("m2"));
        assert_eq!(fields.get("m"), None);
        assert_eq!(fields.remove("m"), None);
        expected.remove("m");
        assert_eq!(BTreeMap::from(&fields), expected);
        // Inserts after the batch see its result.
        assert!(!fields.insert_if_absent("a", "later"));
        assert!(fields.insert_if_absent("m", "back"));
        assert_eq!(fields.get("m"), Some("back"));
        // An empty batch changes nothing.
        let copy = fields.clone();
        drop(fields.batch());
        assert_eq!(fields, copy);
    }

    #[test]
    fn large_batches_sort_like_small_ones() {
        for (distinct, inserts) in [(100, 300), (3_000, 3_000), (5_000, 12_000)] {
            let mut ops = Vec::new();
            for i in 0..inserts {
                // Keys in a scrambled order, some repeated, some if absent.
                let key = format!("k.{:05}", (i * 7_919) % distinct);
                ops.push((key, i.to_string(), i % 5 == 0));
            }
            let mut fields: Fields = [("k.00001", "before")].into_iter().collect();
            let mut batch = fields.batch();
            for (key, value, if_absent) in &ops {
                if *if_absent {
                    batch.insert_if_absent(key, value);
                } else {
                    batch.insert(key, value);
                }
            }
            drop(batch);
            let all: Vec<(&str, &str, bool)> = std::iter::once(("k.00001", "before", false))
                .chain(ops.iter().map(|(k, v, a)| (k.as_str(), v.as_str(), *a)))
                .collect();
            assert_eq!(
                BTreeMap::from(&fields),
                replay(&all),
                "{distinct} {inserts}"
            );
        }
    }

    #[test]
    fn batches_of_the_same_keys_reuse_the_last_order_and_only_when_it_fits() {
        let records: [&[(&str, &str, bool)]; 5] = [
            &[("z", "1", false), ("a", "2", true), ("m", "3", false)],
            // Same keys, same order: the last order fits.
            &[("z", "4", false), ("a", "5", true), ("m", "6", false)],
            // Same count, other keys and order: it does not.
            &[("b", "7", false), ("y", "8", true), ("c", "9", false)],
            // Same count, a repeated key.
            &[("b", "10", false), ("b", "11", true), ("a", "12", false)],
            &[("b", "13", false), ("b", "14", false), ("a", "15", false)],
        ];
        for (before, ops) in [(&[][..], records), (&[("c", "pre")][..], records)] {
            for ops in ops {
                let mut fields: Fields = before.iter().copied().collect();
                let mut batch = fields.batch();
                for &(key, value, if_absent) in ops {
                    if if_absent {
                        batch.insert_if_absent(key, value);
                    } else {
                        batch.insert(key, value);
                    }
                }
                drop(batch);
                let all: Vec<_> = before
                    .iter()
                    .map(|&(k, v)| (k, v, false))
                    .chain(ops.iter().copied())
                    .collect();
                let expected = replay(&all);
                assert_eq!(BTreeMap::from(&fields), expected, "{ops:?}");
                // Lookups read the keys without the batch's marks.
                for (key, value) in &expected {
                    assert_eq!(fields.get(key), Some(value.as_str()), "{ops:?}");
                }
            }
        }
    }

    #[test]
    fn batches_of_many_repeated_keys_match_the_map_and_stay_small() {
        let mut fields = Fields::new();
        let mut ops = Vec::new();
        for i in 0..20_000u32 {
            // Keys out of order, each inserted many times, some if absent.
            let key = format!("k{}", (i * 7919) % 37);
            ops.push((key, i.to_string(), i % 3 == 0));
        }
        {
            let mut batch = fields.batch();
            for (key, value, if_absent) in &ops {
                if *if_absent {
                    batch.insert_if_absent(key, value);
                } else {
                    batch.insert(key, value);
                }
            }
        }
        let ops: Vec<(&str, &str, bool)> = ops
            .iter()
            .map(|(k, v, a)| (k.as_str(), v.as_str(), *a))
            .collect();
        assert_eq!(BTreeMap::from(&fields), replay(&ops));
        // Compacted when the batch ends: the dead values do not stay.
        assert!(fields.text.len() < 1000, "{}", fields.text.len());
    }

    #[test]
    fn equality_ignores_layout() {
        let mut a = Fields::new();
        a.insert("x", "1");
        a.insert("x", "2");
        let b: Fields = [("x", "2")].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, Fields::new());
        assert_eq!(format!("{b:?}"), r#"{"x": "2"}"#);
    }
}
