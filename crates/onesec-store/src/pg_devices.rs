//! Devices and posture in PostgreSQL: the same rows as `sqlite_devices.rs`, which also holds
//! how sightings are folded.

use crate::pg::pg;
use crate::sqlite_devices::{fold_sightings, sightings_by_device};
use crate::{DeviceChange, DeviceSighting, PostureDay, Result};
use onesec_event::Event;
use postgres::{GenericClient, Row, Transaction};

const COLUMNS: &str =
    "device, known, kind, site, zone, host, ip, format, first_seen_ms, last_seen_ms, events";

fn from_row(row: &Row) -> std::result::Result<DeviceSighting, postgres::Error> {
    Ok(DeviceSighting {
        device: row.try_get(0)?,
        known: row.try_get(1)?,
        kind: row.try_get(2)?,
        site: row.try_get(3)?,
        zone: row.try_get(4)?,
        host: row.try_get(5)?,
        ip: row.try_get(6)?,
        format: row.try_get(7)?,
        first_seen_ms: row.try_get(8)?,
        last_seen_ms: row.try_get(9)?,
        events: u64::try_from(row.try_get::<_, i64>(10)?).unwrap_or(0),
    })
}

/// Records what newly stored events say about devices (inside the detection batch): the
/// devices' rows read and locked in one query, folded, and written back with one array upsert
/// (and their changes with one array insert), so a batch costs three round trips however many
/// devices it names.
pub(crate) fn record_sightings<'a>(
    tx: &mut Transaction<'_>,
    events: impl Iterator<Item = &'a Event>,
) -> Result<()> {
    let by_device = sightings_by_device(events);
    if by_device.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = by_device.keys().map(String::as_str).collect();
    let mut stored: std::collections::HashMap<String, DeviceSighting> = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM device_sightings WHERE device = ANY($1)
                 ORDER BY device FOR UPDATE"
            ),
            &[&names],
        )
        .and_then(|rows| {
            rows.iter()
                .map(from_row)
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .map_err(pg("read device sightings"))?
        .into_iter()
        .map(|s| (s.device.clone(), s))
        .collect();
    let mut rows = Vec::with_capacity(by_device.len());
    let mut changes = Vec::new();
    for (device, list) in by_device {
        let (row, found) = fold_sightings(stored.remove(&device), list);
        changes.extend(found.into_iter().map(|c| (device.clone(), c)));
        rows.extend(row);
    }
    write_rows(tx, &rows)?;
    write_changes(tx, &changes)
}

fn write_rows(tx: &mut Transaction<'_>, rows: &[DeviceSighting]) -> Result<()> {
    let text = |f: &dyn Fn(&DeviceSighting) -> Option<&str>| -> Vec<Option<&str>> {
        rows.iter().map(f).collect()
    };
    let number = |f: &dyn Fn(&DeviceSighting) -> i64| -> Vec<i64> { rows.iter().map(f).collect() };
    let device = text(&|r| Some(r.device.as_str()));
    let known: Vec<bool> = rows.iter().map(|r| r.known).collect();
    let kind = text(&|r| r.kind.as_deref());
    let site = text(&|r| r.site.as_deref());
    let zone = text(&|r| r.zone.as_deref());
    let host = text(&|r| r.host.as_deref());
    let ip = text(&|r| r.ip.as_deref());
    let format = text(&|r| Some(r.format.as_str()));
    let first = number(&|r| r.first_seen_ms);
    let last = number(&|r| r.last_seen_ms);
    let events = number(&|r| i64::try_from(r.events).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO device_sightings
           (device, known, kind, site, zone, host, ip, format, first_seen_ms, last_seen_ms, events)
         SELECT * FROM UNNEST($1::TEXT[], $2::BOOLEAN[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                              $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BIGINT[], $10::BIGINT[],
                              $11::BIGINT[])
         ON CONFLICT (device) DO UPDATE SET known = excluded.known, kind = excluded.kind,
           site = excluded.site, zone = excluded.zone, host = excluded.host, ip = excluded.ip,
           format = excluded.format, first_seen_ms = excluded.first_seen_ms,
           last_seen_ms = excluded.last_seen_ms, events = excluded.events",
        &[
            &device, &known, &kind, &site, &zone, &host, &ip, &format, &first, &last, &events,
        ],
    )
    .map_err(pg("record device sightings"))?;
    Ok(())
}

/// Appends changes in order (`seq` follows the array order).
fn write_changes(tx: &mut Transaction<'_>, changes: &[(String, DeviceChange)]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let device: Vec<&str> = changes.iter().map(|(d, _)| d.as_str()).collect();
    let time: Vec<i64> = changes.iter().map(|(_, c)| c.time_ms).collect();
    let field: Vec<&str> = changes.iter().map(|(_, c)| c.field.as_str()).collect();
    let old: Vec<Option<&str>> = changes.iter().map(|(_, c)| c.old.as_deref()).collect();
    let new: Vec<Option<&str>> = changes.iter().map(|(_, c)| c.new.as_deref()).collect();
    tx.execute(
        "INSERT INTO device_changes (device, time_ms, field, old, new)
         SELECT device, time_ms, field, old, new
         FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
           WITH ORDINALITY AS c(device, time_ms, field, old, new, n)
         ORDER BY n",
        &[&device, &time, &field, &old, &new],
    )
    .map_err(pg("record device changes"))?;
    Ok(())
}

pub(crate) fn read_one(
    client: &mut impl GenericClient,
    device: &str,
) -> Result<Option<DeviceSighting>> {
    client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM device_sightings WHERE device = $1"),
            &[&device],
        )
        .and_then(|row| row.as_ref().map(from_row).transpose())
        .map_err(pg("read a device sighting"))
}

/// Every device seen, known ones first, then by id.
pub(crate) fn sightings(client: &mut postgres::Client) -> Result<Vec<DeviceSighting>> {
    client
        .query(
            &format!("SELECT {COLUMNS} FROM device_sightings ORDER BY known DESC, device"),
            &[],
        )
        .and_then(|rows| rows.iter().map(from_row).collect())
        .map_err(pg("read device sightings"))
}

/// A device's changes of address and name, oldest first.
pub(crate) fn changes(client: &mut postgres::Client, device: &str) -> Result<Vec<DeviceChange>> {
    let rows = client
        .query(
            "SELECT time_ms, field, old, new FROM device_changes WHERE device = $1
             ORDER BY time_ms, seq",
            &[&device],
        )
        .map_err(pg("read device changes"))?;
    rows.iter()
        .map(|r| {
            Ok(DeviceChange {
                time_ms: r.try_get(0)?,
                field: r.try_get(1)?,
                old: r.try_get(2)?,
                new: r.try_get(3)?,
            })
        })
        .collect::<std::result::Result<_, postgres::Error>>()
        .map_err(pg("read device changes"))
}

/// Compares the inventory with the stored one, records the differences as device changes
/// (not on the first sync) and stores the new one; the number of changes recorded.
pub(crate) fn sync_inventory(
    tx: &mut Transaction<'_>,
    now_ms: i64,
    rows: &[crate::InventoryRow],
) -> Result<usize> {
    let stored: Vec<(String, String, String)> = tx
        .query("SELECT device, field, value FROM inventory_state", &[])
        .and_then(|rows| {
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })
        .map_err(pg("read the stored inventory"))?;
    let before = crate::inventory::fold(stored);
    let first = before.is_empty();
    let changes = if first {
        Vec::new()
    } else {
        crate::inventory::diff(&before, rows, now_ms)
    };
    // A start or reload that changed nothing (the usual case) writes nothing.
    if !first && changes.is_empty() {
        return Ok(0);
    }
    write_changes(tx, &changes)?;
    tx.execute("DELETE FROM inventory_state", &[])
        .map_err(pg("clear the stored inventory"))?;
    let rows = crate::inventory::stored_rows(rows);
    let device: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let field: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let value: Vec<&str> = rows.iter().map(|r| r.2).collect();
    tx.execute(
        "INSERT INTO inventory_state (device, field, value)
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[])",
        &[&device, &field, &value],
    )
    .map_err(pg("store the inventory"))?;
    Ok(changes.len())
}

/// Keeps each posture row as the latest of its day.
pub(crate) fn record_posture(tx: &mut Transaction<'_>, rows: &[PostureDay]) -> Result<()> {
    for r in rows {
        tx.execute(
            "INSERT INTO posture_days (day, scope, key, score, min, devices, findings)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (scope, key, day) DO UPDATE SET score = excluded.score,
               min = excluded.min, devices = excluded.devices, findings = excluded.findings",
            &[
                &r.day,
                &r.scope,
                &r.key,
                &r.score,
                &i64::from(r.min),
                &i64::try_from(r.devices).unwrap_or(i64::MAX),
                &i64::try_from(r.findings).unwrap_or(i64::MAX),
            ],
        )
        .map_err(pg("record a posture day"))?;
    }
    Ok(())
}

/// A site's or zone's posture per day, oldest first.
pub(crate) fn posture_trend(
    client: &mut postgres::Client,
    scope: &str,
    key: &str,
) -> Result<Vec<PostureDay>> {
    let rows = client
        .query(
            "SELECT day, scope, key, score, min, devices, findings FROM posture_days
             WHERE scope = $1 AND key = $2 ORDER BY day",
            &[&scope, &key],
        )
        .map_err(pg("read a posture trend"))?;
    rows.iter()
        .map(|r| {
            Ok(PostureDay {
                day: r.try_get(0)?,
                scope: r.try_get(1)?,
                key: r.try_get(2)?,
                score: r.try_get(3)?,
                min: u32::try_from(r.try_get::<_, i64>(4)?).unwrap_or(0),
                devices: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
                findings: u64::try_from(r.try_get::<_, i64>(6)?).unwrap_or(0),
            })
        })
        .collect::<std::result::Result<_, postgres::Error>>()
        .map_err(pg("read a posture trend"))
}
