//! Per-event evaluation context: the record and a cache of the fields already looked up.

use std::cell::OnceCell;

use crate::record::{FieldValue, Record};

/// The record being matched, with each interned field looked up at most once.
pub(crate) struct Ctx<'r> {
    pub(crate) rec: &'r dyn Record,
    cache: Vec<OnceCell<Option<FieldValue<'r>>>>,
}

impl<'r> Ctx<'r> {
    /// A context caching `slots` interned fields (0: no caching).
    pub(crate) fn new(rec: &'r dyn Record, slots: usize) -> Ctx<'r> {
        Ctx {
            rec,
            cache: (0..slots).map(|_| OnceCell::new()).collect(),
        }
    }

    /// Calls `f` with the field `name` (interned as `slot`, or `usize::MAX` when not interned).
    pub(crate) fn with_field<T>(
        &self,
        slot: usize,
        name: &str,
        f: impl FnOnce(Option<&FieldValue<'_>>) -> T,
    ) -> T {
        match self.cache.get(slot) {
            Some(cell) => f(cell.get_or_init(|| self.rec.field(name)).as_ref()),
            None => {
                let v = self.rec.field(name);
                f(v.as_ref())
            }
        }
    }
}
