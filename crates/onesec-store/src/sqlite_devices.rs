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
        format: event.source.format.clone(),
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
    let mut ordered: Vec<&Event> = events.collect();
    ordered.sort_by_key(|e| (e.time_ms, e.id));
    let mut by_device: BTreeMap<String, Vec<DeviceSighting>> = BTreeMap::new();
    for s in ordered.into_iter().filter_map(sighting_of) {
        by_device.entry(s.device.clone()).or_default().push(s);
    }
    for (device, list) in by_device {
        let mut current = read_one(conn, &device)?;
        let mut changes = Vec::new();
        for s in list {
            match &mut current {
                None => current = Some(s),
                Some(acc) => {
                    note_changes(acc, &s, &mut changes);
                    merge(acc, s);
                }
            }
        }
        if let Some(row) = current {
            write(conn, &row, &changes)?;
        }
    }
    Ok(())
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

/// One device as the inventory file describes it: (column, value) of the columns whose changes
/// are kept, without the empty ones.
pub type InventoryRow = (String, Vec<(String, String)>);

/// Compares the inventory with the one stored at the last sync, records each difference as a
/// device change at `now_ms` (`inventory.<column>`, or `inventory` added / removed), and stores
/// the new inventory. The first sync only stores it. Returns the number of changes recorded.
pub(crate) fn sync_inventory(
    conn: &mut Connection,
    now_ms: i64,
    rows: &[InventoryRow],
) -> Result<usize> {
    let tx = conn.transaction().map_err(db("begin an inventory sync"))?;
    let before = stored_inventory(&tx)?;
    let first = before.is_empty();
    let mut changes: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    let mut now: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, &str>> =
        std::collections::BTreeMap::new();
    for (device, fields) in rows {
        now.insert(
            device,
            fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        );
    }
    for (device, fields) in &now {
        match before.get(*device) {
            None => changes.push((
                device.to_string(),
                "inventory".into(),
                None,
                Some("added".into()),
            )),
            Some(old) => {
                let keys: std::collections::BTreeSet<&str> = old
                    .keys()
                    .map(String::as_str)
                    .chain(fields.keys().copied())
                    .collect();
                for key in keys {
                    let was = old.get(key).map(String::as_str);
                    let is = fields.get(key).copied();
                    if was != is {
                        changes.push((
                            device.to_string(),
                            format!("inventory.{key}"),
                            was.map(str::to_string),
                            is.map(str::to_string),
                        ));
                    }
                }
            }
        }
    }
    for device in before.keys().filter(|d| !now.contains_key(d.as_str())) {
        changes.push((
            device.clone(),
            "inventory".into(),
            Some("listed".into()),
            Some("removed".into()),
        ));
    }
    if !first {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO device_changes (device, time_ms, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db("prepare an inventory change"))?;
        for (device, field, old, new) in &changes {
            stmt.execute(params![device, now_ms, field, old, new])
                .map_err(db("record an inventory change"))?;
        }
    }
    tx.execute("DELETE FROM inventory_state", [])
        .map_err(db("clear the stored inventory"))?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO inventory_state (device, field, value) VALUES (?1, ?2, ?3)",
            )
            .map_err(db("prepare the stored inventory"))?;
        for (device, fields) in &now {
            for (field, value) in fields {
                stmt.execute(params![device, field, value])
                    .map_err(db("store the inventory"))?;
            }
            // A device without any kept column is still listed.
            if fields.is_empty() {
                stmt.execute(params![device, "", ""])
                    .map_err(db("store the inventory"))?;
            }
        }
    }
    tx.commit().map_err(db("commit an inventory sync"))?;
    Ok(if first { 0 } else { changes.len() })
}

fn stored_inventory(
    conn: &Connection,
) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>> {
    let mut stmt = conn
        .prepare("SELECT device, field, value FROM inventory_state")
        .map_err(db("read the stored inventory"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db("read the stored inventory"))?;
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        std::collections::BTreeMap::new();
    for row in rows {
        let (device, field, value) = row.map_err(db("read the stored inventory"))?;
        let fields = out.entry(device).or_default();
        if !field.is_empty() {
            fields.insert(field, value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{DetectionBatch, SqliteStore, Store};
    use onesec_event::{Activity, Event, EventClass};

    fn camera_event(id: u64, time_ms: i64, host: &str, ip: &str) -> Event {
        let mut e = Event::new(time_ms, EventClass::VideoAnalytics, Activity::Other);
        e.id = id;
        e.host = Some(host.into());
        e.src.ip = ip.parse().ok();
        e.source.format = "onvif-ej".into();
        e
    }

    fn known(mut e: Event, device: &str) -> Event {
        e.resolved.device_id = Some(device.into());
        e.resolved.device_kind = Some("camera".into());
        e.resolved.site = Some("PAR".into());
        e
    }

    fn commit(store: &mut SqliteStore, events: Vec<Event>) {
        let upto = events.iter().map(|e| e.id).max().unwrap_or(0);
        store
            .commit(&DetectionBatch {
                events,
                detected_upto: upto,
                ..DetectionBatch::default()
            })
            .unwrap();
    }

    #[test]
    fn devices_are_seen_with_first_last_and_changes() {
        let mut store = SqliteStore::in_memory().unwrap();
        commit(
            &mut store,
            vec![
                known(camera_event(1, 1_000, "cam-lobby", "10.0.5.7"), "CAM-1"),
                camera_event(2, 1_500, "cam-rogue", "10.0.9.9"),
                known(camera_event(3, 2_000, "cam-lobby", "10.0.5.7"), "CAM-1"),
            ],
        );
        // A later batch: the camera moved to another address; a syslog line names no device.
        let mut login = Event::new(3_500, EventClass::Authentication, Activity::Logon);
        login.id = 5;
        login.host = Some("web-01".into());
        commit(
            &mut store,
            vec![
                known(camera_event(4, 3_000, "cam-lobby", "10.0.6.1"), "CAM-1"),
                login,
            ],
        );
        let seen = store.device_sightings().unwrap();
        let ids: Vec<(&str, bool)> = seen.iter().map(|s| (s.device.as_str(), s.known)).collect();
        assert_eq!(ids, [("CAM-1", true), ("host:cam-rogue", false)]);
        let cam = &seen[0];
        assert_eq!(
            (cam.first_seen_ms, cam.last_seen_ms, cam.events),
            (1_000, 3_000, 3)
        );
        assert_eq!(cam.ip.as_deref(), Some("10.0.6.1"));
        assert_eq!(cam.site.as_deref(), Some("PAR"));
        assert_eq!(
            seen[1].kind.as_deref(),
            Some("camera"),
            "guessed from video events"
        );
        let changes = store.device_changes("CAM-1").unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            (changes[0].time_ms, changes[0].field.as_str()),
            (3_000, "ip")
        );
        assert_eq!(changes[0].old.as_deref(), Some("10.0.5.7"));
        assert_eq!(changes[0].new.as_deref(), Some("10.0.6.1"));
    }

    #[test]
    fn events_stored_again_are_not_counted_again() {
        let mut store = SqliteStore::in_memory().unwrap();
        let batch = vec![known(camera_event(1, 1_000, "cam", "10.0.5.7"), "CAM-1")];
        commit(&mut store, batch.clone());
        // A rebuild from the journal hands the same events over again.
        commit(&mut store, batch);
        let seen = store.device_sightings().unwrap();
        assert_eq!(seen[0].events, 1);
        assert!(store.device_changes("CAM-1").unwrap().is_empty());
    }

    #[test]
    fn posture_keeps_the_latest_value_of_each_day() {
        let mut store = SqliteStore::in_memory().unwrap();
        let day = |d: &str, score: f64| crate::PostureDay {
            day: d.into(),
            scope: "site".into(),
            key: "PAR".into(),
            score,
            min: 40,
            devices: 6,
            findings: 9,
        };
        store
            .record_posture(&[day("2026-11-25", 71.5), day("2026-11-26", 60.0)])
            .unwrap();
        store.record_posture(&[day("2026-11-26", 64.2)]).unwrap();
        let trend = store.posture_trend("site", "PAR").unwrap();
        let points: Vec<(&str, f64)> = trend.iter().map(|p| (p.day.as_str(), p.score)).collect();
        assert_eq!(points, [("2026-11-25", 71.5), ("2026-11-26", 64.2)]);
        assert!(store.posture_trend("zone", "PAR").unwrap().is_empty());
    }

    #[test]
    fn an_attackers_address_is_not_the_devices() {
        let mut store = SqliteStore::in_memory().unwrap();
        let mut failed = Event::new(1_000, EventClass::DeviceHealth, Activity::Other);
        failed.id = 1;
        failed.host = Some("cam-7".into());
        failed.src.ip = "203.0.113.9".parse().ok();
        commit(&mut store, vec![failed]);
        let seen = store.device_sightings().unwrap();
        assert_eq!(seen[0].device, "host:cam-7");
        assert_eq!(seen[0].ip, None);
    }
    fn device(id: &str, fields: &[(&str, &str)]) -> crate::InventoryRow {
        (
            id.to_string(),
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn inventory_changes_are_kept_in_the_device_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        let first = [
            device("CAM-1", &[("firmware", "10.12.114"), ("ip", "10.10.50.22")]),
            device("CAM-2", &[("firmware", "9.80.1")]),
        ];
        assert_eq!(
            store.sync_inventory(1_000, &first).unwrap(),
            0,
            "first sync: a baseline"
        );
        assert_eq!(
            store.sync_inventory(1_500, &first).unwrap(),
            0,
            "nothing changed"
        );
        let second = [
            device(
                "CAM-1",
                &[
                    ("firmware", "11.9.60"),
                    ("ip", "10.10.50.22"),
                    ("vlan", "50"),
                ],
            ),
            device("RDR-9", &[("kind", "reader")]),
        ];
        assert_eq!(store.sync_inventory(2_000, &second).unwrap(), 4);
        let cam1: Vec<(String, Option<String>, Option<String>)> = store
            .device_changes("CAM-1")
            .unwrap()
            .into_iter()
            .map(|c| (c.field, c.old, c.new))
            .collect();
        assert_eq!(
            cam1,
            [
                (
                    "inventory.firmware".into(),
                    Some("10.12.114".into()),
                    Some("11.9.60".into())
                ),
                ("inventory.vlan".into(), None, Some("50".into())),
            ]
        );
        assert_eq!(
            store.device_changes("RDR-9").unwrap()[0].new.as_deref(),
            Some("added")
        );
        let removed = store.device_changes("CAM-2").unwrap();
        assert_eq!(
            (removed[0].time_ms, removed[0].new.as_deref()),
            (2_000, Some("removed"))
        );
        // The stored inventory survives a reopen: the next sync compares with it.
        drop(store);
        let mut store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        assert_eq!(store.sync_inventory(3_000, &second).unwrap(), 0);
    }
}
