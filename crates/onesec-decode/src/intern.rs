//! Short texts a source sends over and over, leaked once so events can borrow them.
//!
//! An event's names ([`Name`](onesec_event::Name)) are `&'static str` when they are fixed words,
//! else owned copies allocated and freed with every event. Texts that are not fixed words but
//! repeat — the vendor of a firewall, the name an operator gave an input — are kept here for the
//! process: one table per kind, not per thread (threads of a blocking pool come and go, and a
//! per-thread table would leak its texts again with every new thread), so at most
//! [`Interner::MAX_ENTRIES`] texts of at most [`Interner::MAX_TEXT`] bytes are leaked per table
//! in the life of the process.

use std::sync::RwLock;

/// One table: keys met so far and the leaked text kept for each.
pub(crate) struct Interner {
    entries: RwLock<Vec<(Box<str>, &'static str)>>,
}

impl Interner {
    /// Entries a table keeps at most.
    pub const MAX_ENTRIES: usize = 64;
    /// Longest key a table keeps.
    pub const MAX_TEXT: usize = 64;

    pub const fn new() -> Interner {
        Interner {
            entries: RwLock::new(Vec::new()),
        }
    }

    /// The text kept for `key`, made by `make` and leaked the first time; `None` (the caller
    /// makes its own copy) once the table is full or for a long key.
    pub fn get(&self, key: &str, make: impl FnOnce(&str) -> String) -> Option<&'static str> {
        let found = |entries: &[(Box<str>, &'static str)]| {
            entries
                .iter()
                .find(|(known, _)| **known == *key)
                .map(|&(_, text)| text)
        };
        if let Some(text) = found(&self.entries.read().ok()?) {
            return Some(text);
        }
        if key.len() > Self::MAX_TEXT {
            return None;
        }
        let mut entries = self.entries.write().ok()?;
        // Another thread may have added it meanwhile.
        if let Some(text) = found(&entries) {
            return Some(text);
        }
        if entries.len() >= Self::MAX_ENTRIES {
            return None;
        }
        let text: &'static str = Box::leak(make(key).into_boxed_str());
        entries.push((key.into(), text));
        Some(text)
    }

    /// Entries kept so far.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |entries| entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_text_per_key_up_to_its_bounds() {
        let table = Interner::new();
        let first = table.get("Palo Alto", |k| k.to_lowercase()).unwrap();
        assert_eq!(first, "palo alto");
        let again = table
            .get("Palo Alto", |_| unreachable!("made once"))
            .unwrap();
        assert!(std::ptr::eq(first, again), "the same leaked text is lent");
        assert!(
            table
                .get(&"x".repeat(Interner::MAX_TEXT + 1), str::to_string)
                .is_none()
        );
        for n in 1..Interner::MAX_ENTRIES {
            assert!(table.get(&n.to_string(), str::to_string).is_some());
        }
        assert!(table.get("one too many", str::to_string).is_none());
        assert_eq!(
            table.get("Palo Alto", |_| unreachable!()),
            Some("palo alto")
        );
    }
}
