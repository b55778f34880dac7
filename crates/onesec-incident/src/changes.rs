//! Several [`Change`]s gathered into what is stored: the latest copy of each alert and
//! incident they touched.

use crate::{Alert, Change, Incident};
use std::collections::HashMap;

/// The alerts and incidents a run of changes touched (a detection chunk, a batch of alerts
/// grouped together), the latest copy of each, in the order of those latest copies.
///
/// An older copy is dropped as soon as a newer one comes, not when the run ends: a run whose
/// alerts all join one growing incident would otherwise hold a full copy of that incident per
/// alert until it is stored (the ~1 GiB RSS swing the overload benchmark showed was that).
#[derive(Default)]
pub struct Changes {
    alerts: Latest<Alert>,
    incidents: Latest<Incident>,
}

impl Changes {
    /// Takes one change, replacing older copies of what it carries.
    pub fn take(&mut self, change: Change) {
        for alert in change.alert.into_iter().chain(change.also) {
            self.alerts.put(alert.id.clone(), alert);
        }
        for incident in change.incidents {
            self.incidents.put(incident.id.clone(), incident);
        }
    }

    /// The alerts and the incidents, latest copies only.
    pub fn into_lists(self) -> (Vec<Alert>, Vec<Incident>) {
        (self.alerts.into_vec(), self.incidents.into_vec())
    }
}

/// The latest copy of each item by id, in the order of those latest copies.
struct Latest<T> {
    slots: Vec<Option<T>>,
    slot_of: HashMap<String, usize>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            slot_of: HashMap::new(),
        }
    }
}

impl<T> Latest<T> {
    fn put(&mut self, id: String, item: T) {
        let next = self.slots.len();
        if let Some(slot) = self.slot_of.insert(id, next) {
            self.slots[slot] = None;
        }
        self.slots.push(Some(item));
    }

    fn into_vec(self) -> Vec<T> {
        self.slots.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Latest;
    use std::rc::Rc;

    #[test]
    fn latest_keeps_one_copy_per_id_in_the_order_of_the_latest_copies() {
        let mut latest = Latest::default();
        latest.put("a".into(), ("a", 1));
        latest.put("b".into(), ("b", 1));
        latest.put("a".into(), ("a", 2));
        latest.put("c".into(), ("c", 1));
        latest.put("a".into(), ("a", 3));
        assert_eq!(latest.into_vec(), vec![("b", 1), ("c", 1), ("a", 3)]);
    }

    #[test]
    fn an_older_copy_is_dropped_when_the_newer_one_comes() {
        let first = Rc::new(1);
        let mut latest = Latest::default();
        latest.put("incident".into(), first.clone());
        assert_eq!(Rc::strong_count(&first), 2);
        latest.put("incident".into(), Rc::new(2));
        assert_eq!(
            Rc::strong_count(&first),
            1,
            "the replaced copy is freed at once, not when the run is stored"
        );
        assert_eq!(*latest.into_vec()[0], 2);
    }
}
