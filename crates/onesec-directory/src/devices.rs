//! `devices.csv`: the connected estate (hosts, cameras, readers, controllers, panels...).

use crate::error::DirectoryError;
use crate::model::Device;
use crate::table;
use std::net::IpAddr;
use std::path::Path;

/// Columns every `devices.csv` must have; the others may be absent or empty.
pub(crate) const REQUIRED: &[&str] = &["device_id", "kind"];

/// Columns read into [`Device`] fields; any other column is kept in `extra`.
const KNOWN: &[&str] = &[
    "device_id",
    "kind",
    "hostname",
    "ip",
    "mac",
    "site",
    "zone",
    "vendor",
    "model",
    "firmware",
];

/// Parses the rows of `devices.csv` (references to sites and zones are checked later).
pub(crate) fn parse(file: &Path, text: &str) -> Result<Vec<Device>, DirectoryError> {
    let mut devices = Vec::new();
    table::read(file, text, REQUIRED, |row| {
        let id = row.get("device_id");
        if id.is_empty() {
            return Err(row.invalid(file, "device_id", "a non-empty device id"));
        }
        let kind = row.get("kind");
        if kind.is_empty() {
            return Err(row.invalid(
                file,
                "kind",
                "a device kind such as camera, reader, controller, server, workstation",
            ));
        }
        let ip = match row.get("ip") {
            "" => None,
            text => Some(
                text.parse::<IpAddr>()
                    .map_err(|_| row.invalid(file, "ip", "an IPv4 or IPv6 address, or nothing"))?,
            ),
        };
        devices.push(Device {
            id: id.to_string(),
            kind: kind.to_lowercase(),
            hostname: row.opt("hostname"),
            ip,
            mac: row.opt("mac"),
            site: row.opt("site"),
            zone: row.opt("zone"),
            vendor: row.opt("vendor"),
            model: row.opt("model"),
            firmware: row.opt("firmware"),
            extra: row.extras(KNOWN),
            line: row.line,
        });
        Ok(())
    })?;
    Ok(devices)
}
