//! Devices as the events show them: when each was first and last seen, from which address and
//! name, and every change of those (issue "secure by design": discovery, liveness, history).
//!
//! A device the directory knows is keyed by its id; a physical device it does not know (a camera,
//! reader, panel or other device sending events the directory cannot place) is keyed by what
//! names it: `host:<name>`, `camera:<token>`, `reader:<token>`. Sightings are written in the same
//! transaction as the events they come from, and only for events stored for the first time, so a
//! rebuild from the journal does not count an event twice.

use std::collections::BTreeMap;

use onesec_event::{Event, EventClass};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::Result;
use crate::sqlite::db;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS device_sightings (
    device TEXT PRIMARY KEY,
    known INTEGER NOT NULL,
    kind TEXT,
    site TEXT,
    zone TEXT,
    host TEXT,
    ip TEXT,
    format TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    events INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_changes (
    device TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT
);
CREATE INDEX IF NOT EXISTS device_changes_by_device ON device_changes (device, time_ms);
CREATE TABLE IF NOT EXISTS inventory_state (
    device TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device, field)
);
CREATE TABLE IF NOT EXISTS posture_days (
    day TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    score REAL NOT NULL,
    min INTEGER NOT NULL,
    devices INTEGER NOT NULL,
    findings INTEGER NOT NULL,
    PRIMARY KEY (scope, key, day)
) WITHOUT ROWID;
";

/// What the events say about one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSighting {
    /// Directory device id, or `host:` / `camera:` / `reader:` and the name the events use.
    pub device: String,
    /// Whether the directory knows the device (false: discovered from events).
    pub known: bool,
    /// Directory kind, or the kind its events suggest (`camera`, `reader`, `panel`, `device`).
    pub kind: Option<String>,
    /// Site and zone the events were resolved to.
    pub site: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// The host name its events carry.
    pub host: Option<String>,
    /// The address its events come from (the source address of its own events).
    pub ip: Option<String>,
    /// Decoder of the latest event (`onvif-ej`, `frigate`, `syslog`...).
    pub format: String,
    /// Event time of its first and latest event (UTC ms).
    pub first_seen_ms: i64,
    /// Latest event time.
    pub last_seen_ms: i64,
    /// Events counted.
    pub events: u64,
}

/// One change of a device's address or name, as the events showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceChange {
    /// Event time of the first event with the new value.
    pub time_ms: i64,
    /// `ip` or `host` (from events); `inventory.<column>` (from `devices.csv`: firmware,
    /// ip, segment...), or `inventory` with `added` / `removed`.
    pub field: String,
    /// Value before.
    pub old: Option<String>,
    /// Value after.
    pub new: Option<String>,
}

/// The device posture of a site or zone on one day (the day's latest assessment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostureDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// `site` or `zone`.
    pub scope: String,
    /// Site or zone id.
    pub key: String,
    /// Mean device score.
    pub score: f64,
    /// Lowest device score.
    pub min: u32,
    /// Devices assessed.
    pub devices: u64,
    /// Findings of any severity.
    pub findings: u64,
}

/// The device an event comes from, if it names one: the directory's device, or a physical
/// device the directory does not know.
fn sighting_of(event: &Event) -> Option<DeviceSighting> {
    let r = &event.resolved;
    let (device, known, kind) = match &r.device_id {
        Some(id) => (id.clone(), true, r.device_kind.clone()),
        None => {
            let guess = match event.class {
                EventClass::VideoAnalytics => "camera",
                EventClass::PhysicalAccess => "reader",
                EventClass::AlarmSignal => "panel",
                EventClass::DeviceHealth => "device",
                _ => return None,
            };
            let name = |prefix: &str, v: &Option<String>| {
                v.as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{prefix}:{s}"))
            };
            let key = name("host", &event.host)
                .or_else(|| name("camera", &event.physical.camera))
                .or_else(|| name("reader", &event.physical.reader))?;
            (key, false, Some(guess.to_string()))
        }
    };
    // Only a device's own messages say where it is: an access or video event's source
    // address is usually the device, an authentication failure's is the attacker.
    let own_address = !matches!(
        event.class,
        EventClass::Authentication | EventClass::DeviceHealth
    );
    Some(DeviceSighting {
        device,
        known,
        kind,
        site: r.site.clone(),
        zone: r.zone.clone(),
        host: event.host.clone(),
        ip: own_address
            .then(|| event.src.ip.map(|ip| ip.to_string()))
            .flatten(),
        format: event.source.format.to_string(),
        first_seen_ms: event.time_ms,
        last_seen_ms: event.time_ms,
        events: 1,
    })
}

/// Records what newly stored events say about devices: per device one read and one write per
/// batch, its events applied in time order to the stored row.
pub(crate) fn record_sightings<'a>(
    conn: &Connection,
    events: impl Iterator<Item = &'a Event>,
) -> Result<()> {
    for (device, list) in sightings_by_device(events) {
        let (row, changes) = fold_sightings(read_one(conn, &device)?, list);
        if let Some(row) = row {
            write(conn, &row, &changes)?;
        }
    }
    Ok(())
}

/// The devices newly stored events come from, each with its sightings in time order.
pub(crate) fn sightings_by_device<'a>(
    events: impl Iterator<Item = &'a Event>,
) -> BTreeMap<String, Vec<DeviceSighting>> {
    let mut ordered: Vec<&Event> = events.collect();
    ordered.sort_by_key(|e| (e.time_ms, e.id));
    let mut by_device: BTreeMap<String, Vec<DeviceSighting>> = BTreeMap::new();
    for s in ordered.into_iter().filter_map(sighting_of) {
        by_device.entry(s.device.clone()).or_default().push(s);
    }
    by_device
}

/// A device's stored row with later sightings applied, and the changes of address and name
/// they showed.
pub(crate) fn fold_sightings(
    stored: Option<DeviceSighting>,
    later: Vec<DeviceSighting>,
) -> (Option<DeviceSighting>, Vec<DeviceChange>) {
    let mut current = stored;
    let mut changes = Vec::new();
    for s in later {
        match &mut current {
            None => current = Some(s),
            Some(acc) => {
                note_changes(acc, &s, &mut changes);
                merge(acc, s);
            }
        }
    }
    (current, changes)
}

/// Changes of address or name from `before` to `after`: only a value replacing another (events
/// that do not carry a value say nothing about it).
fn note_changes(before: &DeviceSighting, after: &DeviceSighting, out: &mut Vec<DeviceChange>) {
    for (field, old, new) in [
        ("ip", &before.ip, &after.ip),
        ("host", &before.host, &after.host),
    ] {
        if old.is_some() && new.is_some() && new != old {
            out.push(DeviceChange {
                time_ms: after.last_seen_ms,
                field: field.to_string(),
                old: old.clone(),
                new: new.clone(),
            });
        }
    }
}

/// Folds a later sighting into `acc`.
fn merge(acc: &mut DeviceSighting, later: DeviceSighting) {
    acc.first_seen_ms = acc.first_seen_ms.min(later.first_seen_ms);
    acc.last_seen_ms = acc.last_seen_ms.max(later.last_seen_ms);
    acc.events += later.events;
    acc.known |= later.known;
    acc.format = later.format;
    acc.kind = later.kind.or(acc.kind.take());
    acc.site = later.site.or(acc.site.take());
    acc.zone = later.zone.or(acc.zone.take());
    acc.host = later.host.or(acc.host.take());
    acc.ip = later.ip.or(acc.ip.take());
}

fn write(conn: &Connection, row: &DeviceSighting, changes: &[DeviceChange]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO device_sightings
           (device, known, kind, site, zone, host, ip, format, first_seen_ms, last_seen_ms, events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(device) DO UPDATE SET known = excluded.known, kind = excluded.kind,
           site = excluded.site, zone = excluded.zone, host = excluded.host, ip = excluded.ip,
           format = excluded.format, first_seen_ms = excluded.first_seen_ms,
           last_seen_ms = excluded.last_seen_ms, events = excluded.events",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            row.device,
            row.known,
            row.kind,
            row.site,
            row.zone,
            row.host,
            row.ip,
            row.format,
            row.first_seen_ms,
            row.last_seen_ms,
            i64::try_from(row.events).unwrap_or(i64::MAX),
        ])
    })
    .map_err(db("record a device sighting"))?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO device_changes (device, time_ms, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db("prepare a device change"))?;
    for c in changes {
        stmt.execute(params![row.device, c.time_ms, c.field, c.old, c.new])
            .map_err(db("record a device change"))?;
    }
    Ok(())
}

const COLUMNS: &str =
    "device, known, kind, site, zone, host, ip, format, first_seen_ms, last_seen_ms, events";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceSighting> {
    Ok(DeviceSighting {
        device: r.get(0)?,
        known: r.get(1)?,
        kind: r.get(2)?,
        site: r.get(3)?,
        zone: r.get(4)?,
        host: r.get(5)?,
        ip: r.get(6)?,
        format: r.get(7)?,
        first_seen_ms: r.get(8)?,
        last_seen_ms: r.get(9)?,
        events: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
    })
}

pub(crate) fn read_one(conn: &Connection, device: &str) -> Result<Option<DeviceSighting>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM device_sightings WHERE device = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([device], from_row).optional())
    .map_err(db("read a device sighting"))
}

/// Keeps each posture row as the latest of its day.
pub(crate) fn record_posture(conn: &Connection, rows: &[PostureDay]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO posture_days (day, scope, key, score, min, devices, findings)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (scope, key, day) DO UPDATE SET score = excluded.score,
               min = excluded.min, devices = excluded.devices, findings = excluded.findings",
        )
        .map_err(db("prepare a posture day"))?;
    for r in rows {
        stmt.execute(params![
            r.day,
            r.scope,
            r.key,
            r.score,
            r.min,
            i64::try_from(r.devices).unwrap_or(i64::MAX),
            i64::try_from(r.findings).unwrap_or(i64::MAX),
        ])
        .map_err(db("record a posture day"))?;
    }
    Ok(())
}

/// A site's or zone's posture per day, oldest first.
pub(crate) fn posture_trend(conn: &Connection, scope: &str, key: &str) -> Result<Vec<PostureDay>> {
    let mut stmt = conn
        .prepare(
            "SELECT day, scope, key, score, min, devices, findings FROM posture_days
             WHERE scope = ?1 AND key = ?2 ORDER BY day",
        )
        .map_err(db("prepare a posture trend"))?;
    let rows = stmt
        .query_map([scope, key], |r| {
            Ok(PostureDay {
                day: r.get(0)?,
                scope: r.get(1)?,
                key: r.get(2)?,
                score: r.get(3)?,
                min: r.get(4)?,
                devices: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                findings: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            })
        })
        .map_err(db("read a posture trend"))?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(db("read a posture trend"))
}

/// Every device seen, known ones first, then by id.
pub(crate) fn sightings(conn: &Connection) -> Result<Vec<DeviceSighting>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM device_sightings ORDER BY known DESC, device"
        ))
        .map_err(db("prepare device sightings"))?;
    let rows = stmt
        .query_map([], from_row)
        .map_err(db("read device sightings"))?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(db("read device sightings"))
}

/// A device's changes of address and name, oldest first.
pub(crate) fn changes(conn: &Connection, device: &str) -> Result<Vec<DeviceChange>> {
    let mut stmt = conn
        .prepare(
            "SELECT time_ms, field, old, new FROM device_changes WHERE device = ?1
             ORDER BY time_ms, rowid",
        )
        .map_err(db("prepare device changes"))?;
    let rows = stmt
        .query_map([device], |r| {
            Ok(DeviceChange {
                time_ms: r.get(0)?,
                field: r.get(1)?,
                old: r.get(2)?,
                new: r.get(3)?,
            })
        })
        .map_err(db("read device changes"))?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(db("read device changes"))
}

/// Compares the inventory with the one stored at the last sync, records each difference as a
/// device change (`crate::inventory::diff`; not on the first sync) and stores the new one.
/// Returns the number of changes recorded.
pub(crate) fn sync_inventory(
    conn: &mut Connection,
    now_ms: i64,
    rows: &[crate::InventoryRow],
) -> Result<usize> {
    let tx = conn.transaction().map_err(db("begin an inventory sync"))?;
    let before = stored_inventory(&tx)?;
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
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO device_changes (device, time_ms, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db("prepare an inventory change"))?;
        for (device, c) in &changes {
            stmt.execute(params![device, c.time_ms, c.field, c.old, c.new])
                .map_err(db("record an inventory change"))?;
        }
        tx.execute("DELETE FROM inventory_state", [])
            .map_err(db("clear the stored inventory"))?;
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO inventory_state (device, field, value) VALUES (?1, ?2, ?3)",
            )
            .map_err(db("prepare the stored inventory"))?;
        for (device, field, value) in crate::inventory::stored_rows(rows) {
            stmt.execute(params![device, field, value])
                .map_err(db("store the inventory"))?;
        }
    }
    tx.commit().map_err(db("commit an inventory sync"))?;
    Ok(changes.len())
}

fn stored_inventory(conn: &Connection) -> Result<crate::inventory::StoredInventory> {
    let mut stmt = conn
        .prepare("SELECT device, field, value FROM inventory_state")
        .map_err(db("read the stored inventory"))?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(db("read the stored inventory"))?;
    Ok(crate::inventory::fold(rows))
}
