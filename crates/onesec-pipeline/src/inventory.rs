//! The inventory columns whose changes are kept in a device's history (firmware, address,
//! segment...), as the store compares them at every start and directory reload.

use onesec_directory::Directory;
use onesec_store::InventoryRow;

/// Extra `devices.csv` columns kept besides the fixed ones.
const KEPT_EXTRA: &[&str] = &["serial", "vlan", "segment", "protocols", "credential_state"];

/// Each device of the directory with its kept columns (empty ones left out).
pub(crate) fn rows(directory: &Directory) -> Vec<InventoryRow> {
    directory
        .devices()
        .iter()
        .map(|d| {
            let fixed = [
                ("kind", Some(d.kind.clone())),
                ("hostname", d.hostname.clone()),
                ("ip", d.ip.map(|ip| ip.to_string())),
                ("mac", d.mac.clone()),
                ("site", d.site.clone()),
                ("zone", d.zone.clone()),
                ("vendor", d.vendor.clone()),
                ("model", d.model.clone()),
                ("firmware", d.firmware.clone()),
            ];
            let extra = KEPT_EXTRA.iter().map(|k| (*k, d.extra.get(*k).cloned()));
            let fields = fixed
                .into_iter()
                .chain(extra)
                .filter_map(|(k, v)| {
                    v.filter(|v| !v.trim().is_empty())
                        .map(|v| (k.to_string(), v))
                })
                .collect();
            (d.id.clone(), fields)
        })
        .collect()
}
