//! Per-event evaluation context: the record and a table of the field values already looked up.
//!
//! The engine interns every field name its rules use ([`FieldIndex`]). Per event, a record that
//! can list its fields ([`Record::for_each_field`]) fills the table in one pass over them (one
//! hash lookup per field of the record, instead of one lookup in the record per field name
//! of the rules); other records are asked field by field, each name at most once. The table's
//! storage ([`TableStore`]) is reused from event to event: no allocation per event.

use std::cell::RefCell;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::record::{FieldValue, Record};

/// Hasher of the field index: the keys are the rules' field names, fixed at load, and only
/// looked up (nothing depends on the map's order).
type FixedState = foldhash::fast::FixedState;

/// What a record's top-level field name stands for.
#[derive(Clone, Debug, Default)]
struct Key {
    /// The interned slot of this name, if the rules use it.
    slot: Option<u32>,
    /// Dotted field names of the rules that can only be found below this name (`a` and `a.b`
    /// for `a.b.c`): indexes into `FieldIndex::dotted_below`.
    below: (u32, u32),
}

/// The interned field names of a rule set.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldIndex {
    names: Vec<Box<str>>,
    /// What each name stands for, hashed by name with `hasher`. A table rather than a map so
    /// that the lookup of every field of every record ([`FieldIndex::key`]) is inlined into
    /// the loop that fills the field table.
    by_name: HashTable<(Box<str>, Key)>,
    hasher: FixedState,
    /// Slots of dotted names, grouped by the prefix they hang below (see [`Key::below`]).
    dotted_below: Vec<u32>,
    /// Per slot: the name has a dot (it may be found in nested values).
    dotted: Vec<bool>,
}

impl FieldIndex {
    /// The slot of `name`, interning it when new.
    pub(crate) fn intern(&mut self, name: &str) -> usize {
        if let Some(s) = self.key(name).and_then(|k| k.slot) {
            return s as usize;
        }
        let slot = self.names.len();
        self.names.push(name.into());
        self.dotted.push(name.contains('.'));
        self.key_mut(name).slot = Some(slot as u32);
        slot
    }

    /// What `name` stands for, if the rules use it (or a dotted name below it).
    #[inline(always)]
    fn key(&self, name: &str) -> Option<&Key> {
        let hash = self.hasher.hash_one(name);
        self.by_name
            .find(hash, |(n, _)| **n == *name)
            .map(|(_, k)| k)
    }

    /// What `name` stands for, created empty when new.
    fn key_mut(&mut self, name: &str) -> &mut Key {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(name);
        let entry = self
            .by_name
            .entry(hash, |(n, _)| **n == *name, |(n, _)| hasher.hash_one(&**n));
        &mut entry
            .or_insert_with(|| (name.into(), Key::default()))
            .into_mut()
            .1
    }

    /// The slot of an interned name.
    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.key(name)?.slot.map(|s| s as usize)
    }

    /// Number of interned names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The name of a slot.
    pub(crate) fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    /// Links every dotted name to the prefixes it can be found below. Call once, after the
    /// last [`FieldIndex::intern`].
    pub(crate) fn finish(&mut self) {
        let mut below: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        for (slot, name) in self.names.iter().enumerate() {
            for (i, _) in name.match_indices('.') {
                below.entry(&name[..i]).or_default().push(slot as u32);
            }
        }
        let mut dotted_below = Vec::new();
        let mut ranges = Vec::new();
        for (prefix, slots) in below {
            let start = dotted_below.len() as u32;
            dotted_below.extend(slots);
            ranges.push((Box::<str>::from(prefix), (start, dotted_below.len() as u32)));
        }
        for (prefix, range) in ranges {
            self.key_mut(&prefix).below = range;
        }
        self.dotted_below = dotted_below;
    }
}

/// Per-slot marks of the table, kept by the engine across events (reset by epoch).
#[derive(Debug, Default)]
pub(crate) struct TableStore {
    /// Epoch at which `pos` holds this slot's entry.
    stamp: Vec<u32>,
    pos: Vec<u32>,
    /// Epoch at which a prefix of this (dotted) slot's name was among the record's fields.
    maybe: Vec<u32>,
    /// The entries' storage, empty between events (see [`recycle`]).
    spare: Vec<(u32, Option<FieldValue<'static>>)>,
}

impl TableStore {
    /// Storage for `slots` interned names.
    pub(crate) fn new(slots: usize) -> TableStore {
        TableStore {
            stamp: vec![0; slots],
            pos: vec![0; slots],
            maybe: vec![0; slots],
            spare: Vec::new(),
        }
    }

    /// Forgets every mark (when the epoch counter wraps around).
    pub(crate) fn reset(&mut self) {
        self.stamp.iter_mut().for_each(|s| *s = 0);
        self.maybe.iter_mut().for_each(|s| *s = 0);
    }
}

/// Reuses an empty vector's allocation for another lifetime of its elements (the elements'
/// layout is the same, so collecting in place keeps the buffer).
fn recycle<'a, 'b>(
    mut v: Vec<(u32, Option<FieldValue<'a>>)>,
) -> Vec<(u32, Option<FieldValue<'b>>)> {
    v.clear();
    v.into_iter().map(|_| (0, None)).collect()
}

/// The mutable part of a table.
struct TableState<'r> {
    stamp: &'r mut [u32],
    pos: &'r mut [u32],
    maybe: &'r mut [u32],
    /// (slot, value) of every name looked up this event, `None` when absent.
    entries: Vec<(u32, Option<FieldValue<'r>>)>,
}

/// The per-event field table.
struct Table<'r> {
    index: &'r FieldIndex,
    epoch: u32,
    /// The record listed all its fields: an interned name that was not among them is absent
    /// (a dotted one unless a prefix of it was among them).
    complete: bool,
    state: RefCell<TableState<'r>>,
    /// Where the entries' storage goes back after the event.
    spare: &'r mut Vec<(u32, Option<FieldValue<'static>>)>,
}

/// The record being matched, with each interned field looked up at most once.
pub(crate) struct Ctx<'r> {
    pub(crate) rec: &'r dyn Record,
    table: Option<Table<'r>>,
}

impl<'r> Ctx<'r> {
    /// A context without a table: every lookup asks the record.
    pub(crate) fn new(rec: &'r dyn Record) -> Ctx<'r> {
        Ctx { rec, table: None }
    }

    /// A context with a table over `index`, filled at once when the record can list its
    /// fields. `epoch` must differ from every epoch `store` saw since its last reset.
    pub(crate) fn with_table(
        rec: &'r dyn Record,
        index: &'r FieldIndex,
        store: &'r mut TableStore,
        epoch: u32,
    ) -> Ctx<'r> {
        let mut state = TableState {
            stamp: &mut store.stamp,
            pos: &mut store.pos,
            maybe: &mut store.maybe,
            entries: recycle(std::mem::take(&mut store.spare)),
        };
        let complete = rec.for_each_field(&mut |name, value| {
            let Some(key) = index.key(name) else {
                return;
            };
            if let Some(slot) = key.slot {
                let s = slot as usize;
                if state.stamp[s] != epoch {
                    state.stamp[s] = epoch;
                    state.pos[s] = state.entries.len() as u32;
                    state.entries.push((slot, Some(value())));
                }
            }
            for &d in &index.dotted_below[key.below.0 as usize..key.below.1 as usize] {
                state.maybe[d as usize] = epoch;
            }
        });
        Ctx {
            rec,
            table: Some(Table {
                index,
                epoch,
                complete,
                state: RefCell::new(state),
                spare: &mut store.spare,
            }),
        }
    }

    /// Whether the record listed all its fields (see [`Record::for_each_field`]).
    pub(crate) fn complete(&self) -> bool {
        self.table.as_ref().is_some_and(|t| t.complete)
    }

    /// Calls `f` with each field value the table holds (its slot and value), in the order
    /// they were looked up.
    pub(crate) fn each_entry(&self, mut f: impl FnMut(usize, &FieldValue<'_>)) {
        if let Some(t) = &self.table {
            let st = t.state.borrow();
            for (slot, v) in &st.entries {
                if let Some(v) = v {
                    f(*slot as usize, v);
                }
            }
        }
    }

    /// Whether the table holds the field (looked up, or listed by the record).
    pub(crate) fn in_table(&self, slot: usize) -> bool {
        self.table
            .as_ref()
            .is_some_and(|t| slot < t.index.len() && t.state.borrow().stamp[slot] == t.epoch)
    }

    /// Whether a dotted interned field may be present (always, unless the record listed its
    /// fields and none of them is a prefix of the name).
    pub(crate) fn may_have(&self, slot: usize) -> bool {
        match &self.table {
            Some(t) if t.complete && slot < t.index.len() => {
                let st = t.state.borrow();
                st.stamp[slot] == t.epoch || (t.index.dotted[slot] && st.maybe[slot] == t.epoch)
            }
            _ => true,
        }
    }

    /// Calls `f` with the field `name` (interned as `slot`, or `usize::MAX` when not interned).
    pub(crate) fn with_field<T>(
        &self,
        slot: usize,
        name: &str,
        f: impl FnOnce(Option<&FieldValue<'_>>) -> T,
    ) -> T {
        let Some(t) = self.table.as_ref().filter(|t| slot < t.index.len()) else {
            return f(self.rec.field(name).as_ref());
        };
        {
            let st = t.state.borrow();
            if st.stamp[slot] == t.epoch {
                let v = st.entries[st.pos[slot] as usize].1.as_ref();
                return f(v);
            }
            if t.complete && !(t.index.dotted[slot] && st.maybe[slot] == t.epoch) {
                return f(None);
            }
        }
        let v = self.rec.field(t.index.name(slot));
        // Lookups do not nest (`f` never looks fields up through this context); should one
        // ever do, it is answered without the cache rather than failing.
        let Ok(mut st) = t.state.try_borrow_mut() else {
            return f(v.as_ref());
        };
        st.stamp[slot] = t.epoch;
        st.pos[slot] = st.entries.len() as u32;
        st.entries.push((slot as u32, v));
        drop(st);
        let st = t.state.borrow();
        f(st.entries[st.pos[slot] as usize].1.as_ref())
    }
}

impl Drop for Table<'_> {
    fn drop(&mut self) {
        *self.spare = recycle(std::mem::take(&mut self.state.get_mut().entries));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(names: &[&str]) -> FieldIndex {
        let mut ix = FieldIndex::default();
        for n in names {
            ix.intern(n);
        }
        ix.finish();
        ix
    }

    fn text(v: Option<&FieldValue<'_>>) -> Option<String> {
        v.and_then(FieldValue::to_text)
    }

    #[test]
    fn table_answers_like_the_record() {
        let names = ["Image", "a.b.c", "x.y", "Missing", "deep.z", "lit.key"];
        let ix = index(&names);
        let mut store = TableStore::new(ix.len());
        let rec = json!({"Image": "C:\\x.exe", "a": {"b": {"c": 3}}, "x.y": true,
            "lit.key": "literal", "deep": "not an object", "other": 1});
        for epoch in 1..4 {
            let ctx = Ctx::with_table(&rec, &ix, &mut store, epoch);
            assert!(ctx.complete());
            for (slot, n) in names.iter().enumerate() {
                assert_eq!(
                    ctx.with_field(slot, n, text),
                    rec.field(n).and_then(|v| v.to_text()),
                    "{n}"
                );
            }
            assert!(ctx.may_have(1) && !ctx.may_have(3));
        }
        // The entries' storage came back after the last event.
        assert!(store.spare.capacity() >= 3);
    }

    #[test]
    fn records_that_cannot_list_fields_are_asked_once_per_name() {
        let ix = index(&["TargetUserName", "Nope"]);
        let mut store = TableStore::new(ix.len());
        let v = json!({"Event": {"EventData": {"TargetUserName": "bob"}}});
        let evtx = crate::json::EvtxJson::new(&v);
        let ctx = Ctx::with_table(&evtx, &ix, &mut store, 1);
        assert!(!ctx.complete());
        assert_eq!(
            ctx.with_field(0, "TargetUserName", text).as_deref(),
            Some("bob")
        );
        assert_eq!(ctx.with_field(1, "Nope", text), None);
        let mut seen = 0;
        ctx.each_entry(|_, _| seen += 1);
        assert_eq!(seen, 1);
        assert!(ctx.may_have(1));
    }
}
