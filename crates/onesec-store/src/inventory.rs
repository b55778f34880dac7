//! The inventory as last read (`devices.csv`), and what changed since: the part of
//! `Store::sync_inventory` that both backends share. A backend reads the stored inventory,
//! records [`diff`]'s changes (not on the first sync) and replaces the stored rows with
//! [`stored_rows`].

use crate::DeviceChange;
use std::collections::{BTreeMap, BTreeSet};

/// One device as the inventory file describes it: (column, value) of the columns whose changes
/// are kept, without the empty ones.
pub type InventoryRow = (String, Vec<(String, String)>);

/// Device → column → value, as stored.
pub(crate) type StoredInventory = BTreeMap<String, BTreeMap<String, String>>;

/// The changes from `before` to `rows`, at `now_ms`: `inventory.<column>` (old, new), a new
/// device `inventory` → `added`, a device gone `inventory` → `removed`; by device, in order.
pub(crate) fn diff(
    before: &StoredInventory,
    rows: &[InventoryRow],
    now_ms: i64,
) -> Vec<(String, DeviceChange)> {
    let change = |field: String, old: Option<&str>, new: Option<&str>| DeviceChange {
        time_ms: now_ms,
        field,
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    };
    let mut out = Vec::new();
    let mut listed = BTreeSet::new();
    for (device, fields) in rows {
        listed.insert(device.as_str());
        let Some(old) = before.get(device) else {
            out.push((
                device.clone(),
                change("inventory".into(), None, Some("added")),
            ));
            continue;
        };
        let now: BTreeMap<&str, &str> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let keys: BTreeSet<&str> = old
            .keys()
            .map(String::as_str)
            .chain(now.keys().copied())
            .collect();
        for key in keys {
            let (was, is) = (old.get(key).map(String::as_str), now.get(key).copied());
            if was != is {
                out.push((device.clone(), change(format!("inventory.{key}"), was, is)));
            }
        }
    }
    for device in before.keys().filter(|d| !listed.contains(d.as_str())) {
        out.push((
            device.clone(),
            change("inventory".into(), Some("listed"), Some("removed")),
        ));
    }
    out
}

/// The (device, column, value) rows to store; a device without any kept column is stored
/// with an empty column so that it still counts as listed.
pub(crate) fn stored_rows(rows: &[InventoryRow]) -> Vec<(&str, &str, &str)> {
    let mut out = Vec::new();
    for (device, fields) in rows {
        if fields.is_empty() {
            out.push((device.as_str(), "", ""));
        }
        out.extend(
            fields
                .iter()
                .map(|(k, v)| (device.as_str(), k.as_str(), v.as_str())),
        );
    }
    out
}

/// Folds stored (device, column, value) rows back into the inventory.
pub(crate) fn fold(rows: impl IntoIterator<Item = (String, String, String)>) -> StoredInventory {
    let mut out = StoredInventory::new();
    for (device, field, value) in rows {
        let fields = out.entry(device).or_default();
        if !field.is_empty() {
            fields.insert(field, value);
        }
    }
    out
}
