//! Snapshots of the engine's correlation state ([`Engine::snapshot`], [`Engine::restore`]).
//!
//! # Format, version 2
//!
//! All integers little-endian; `str` = `u32` byte length + UTF-8 bytes; `events` = `u64` count
//! + that many `(time i64, event id u64)`.
//!
//! ```text
//! header   magic "OSSIGSNP" (8 bytes), version u32 = 1, rule-set fingerprint (16 bytes),
//!          payload length u64
//! payload  settings: allowed_lateness_ms i64, max_group_entries u64, max_groups_per_rule u64,
//!                    source_idle_ms i64
//!          watermark: u8 (0 none, 1 some) + i64; next sweep i64
//!          newest event time: u8 (0 none, 1 some) + i64
//!          sources: newest arrival i64, u64 count × (source str, newest event time i64,
//!                   newest arrival i64), in order of first appearance
//!          counters: events, detection_matches, fired, updated, withdrawn,
//!                    correlation_inputs, late_dropped, buffer_evicted, groups_evicted,
//!                    non_numeric_skipped (u64 each)
//!          correlations: u32 count, then for each (in rule-set order):
//!            rule index u32, closed_before i64,
//!            pending windows: u64 count × (window end i64, group key str),
//!            groups: u64 count × (
//!              key str,
//!              group-by values: u32 count × (field str, value str) (0: the key is the value),
//!              entries: u64 count × (time i64, tie u64, member u32, flags u8
//!                [bit 0: chained alert id str + events] [bit 1: value str] [bit 2: number f64]),
//!              live alerts: u64 count × (id str, span start i64, span end i64, trigger i64,
//!                events)),
//!            chained inputs: u64 count × (alert id str, group key str), sorted by id
//! trailer  CRC-32C (Castagnoli) u32 of every byte before it
//! ```
//!
//! The fingerprint is a 128-bit FNV-1a hash of the rule set as the engine compiled it (every
//! rule's attributes except the file it came from, and its compiled body; computed once per
//! engine, at its first snapshot or restore, since it walks every rule): a snapshot is only
//! restored into an engine over the same rules, with the same settings, of a version that reads
//! this format version; anything else is refused with a [`SnapshotError`] and the engine is left
//! as it was. Restoring reproduces the state exactly: feeding the events after the snapshot
//! gives the same outputs and alert ids as an uninterrupted run.
//!
//! Version 1 (before per-source watermarks) is refused with [`SnapshotError::Version`]: it
//! holds one watermark and no sources, from which the per-source clocks cannot be rebuilt;
//! the caller rebuilds the state from its log instead.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use super::{Corr, Engine, EngineConfig, EngineStats};
use crate::groups::{
    AlertEvents, AlertId, Alerts, Entry, EntryExtra, EventRefs, Events, GroupMore, Groups,
    LiveAlert,
};
use crate::hash::StableHash;

const MAGIC: &[u8; 8] = b"OSSIGSNP";
const VERSION: u32 = 2;
/// Magic, version, fingerprint, payload length.
const HEADER_LEN: usize = 8 + 4 + 16 + 8;

/// Why a snapshot cannot be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot magic.
    #[error("not an onesec-sigma snapshot (bad magic)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("snapshot format version {found} is not supported (this build reads {VERSION})")]
    Version {
        /// The version in the snapshot.
        found: u32,
    },
    /// The snapshot was made for another rule set.
    #[error("snapshot was made for another rule set (fingerprint {found}, engine {expected})")]
    RuleSet {
        /// Fingerprint in the snapshot.
        found: String,
        /// Fingerprint of the engine's rule set.
        expected: String,
    },
    /// The snapshot was made with other engine settings.
    #[error("snapshot was made with other engine settings: {0}")]
    Settings(String),
    /// The checksum does not match the bytes (damaged or cut short).
    #[error("snapshot checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum {
        /// CRC-32C in the trailer.
        stored: u32,
        /// CRC-32C of the bytes.
        computed: u32,
    },
    /// The bytes end before the data does.
    #[error("snapshot truncated: {what} at byte {at}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset in the snapshot.
        at: usize,
    },
    /// A value that cannot be right (a checksum collision or a writer bug).
    #[error("snapshot invalid: {what} at byte {at}")]
    Invalid {
        /// What is wrong.
        what: String,
        /// Offset in the snapshot.
        at: usize,
    },
}

/// Streams `Debug` text into the fingerprint without building it.
struct HashWriter(StableHash);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 = self.0.bytes(s.as_bytes());
        Ok(())
    }
}

/// Fingerprint of the compiled rule set (see the module docs), computed once per engine.
fn fingerprint(engine: &Engine) -> [u8; 16] {
    *engine
        .fingerprint
        .get_or_init(|| compute_fingerprint(engine))
}

fn compute_fingerprint(engine: &Engine) -> [u8; 16] {
    let mut w = HashWriter(StableHash::new().str("onesec-sigma rule set"));
    for r in &engine.rules {
        let m = &r.meta;
        // Everything but where the rule was read from.
        let _ = write!(
            w,
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}\u{1e}",
            m.title,
            m.id,
            m.name,
            m.status,
            m.level,
            m.description,
            m.author,
            m.references,
            m.date,
            m.modified,
            m.tags,
            m.logsource,
            m.falsepositives,
            m.related,
            m.license,
            m.taxonomy,
            m.fields,
            m.custom,
            r.body,
        );
    }
    w.0.raw().to_le_bytes()
}

/// Little-endian writer.
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn events(&mut self, events: &[(i64, u64)]) {
        self.len(events.len());
        for (t, id) in events {
            self.i64(*t);
            self.u64(*id);
        }
    }
}

/// Bounds-checked little-endian reader.
struct In<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(SnapshotError::Truncated { what, at: self.at });
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    fn invalid(&self, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Invalid {
            what: what.into(),
            at: self.at,
        }
    }
    /// A count of items of at least `item_bytes` each: never more than the bytes left, so a
    /// damaged count cannot make the reader reserve absurd amounts of memory.
    fn len(&mut self, item_bytes: usize, what: &'static str) -> Result<usize, SnapshotError> {
        let n = self.u64(what)?;
        let left = (self.bytes.len() - self.at) / item_bytes.max(1);
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| self.invalid(format!("{what}: count {n} exceeds the bytes left")))
    }
    fn str(&mut self, what: &'static str) -> Result<String, SnapshotError> {
        let n = self.u32(what)? as usize;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.invalid(format!("{what}: not UTF-8")))
    }
    fn events(&mut self, what: &'static str) -> Result<EventRefs, SnapshotError> {
        let n = self.len(16, what)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push((self.i64(what)?, self.u64(what)?));
        }
        Ok(Arc::new(v))
    }
}

/// The counters a snapshot carries (the others are derived from the state).
fn counters(s: &EngineStats) -> [u64; 10] {
    [
        s.events,
        s.detection_matches,
        s.fired,
        s.updated,
        s.withdrawn,
        s.correlation_inputs,
        s.late_dropped,
        s.buffer_evicted,
        s.groups_evicted,
        s.non_numeric_skipped,
    ]
}

fn set_counters(s: &mut EngineStats, c: [u64; 10]) {
    [
        s.events,
        s.detection_matches,
        s.fired,
        s.updated,
        s.withdrawn,
        s.correlation_inputs,
        s.late_dropped,
        s.buffer_evicted,
        s.groups_evicted,
        s.non_numeric_skipped,
    ] = c;
}

fn write_settings(o: &mut Out, cfg: &EngineConfig) {
    o.i64(cfg.allowed_lateness_ms);
    o.len(cfg.max_group_entries);
    o.len(cfg.max_groups_per_rule);
    o.i64(cfg.source_idle_ms);
}

fn write_entry(o: &mut Out, e: &Entry) {
    o.i64(e.time);
    o.u64(e.tie);
    o.u32(e.member);
    let x = e.extra.as_deref();
    let alert = x.and_then(|x| x.alert.as_ref());
    let value = x.and_then(|x| x.value.as_deref());
    let num = x.map_or(0.0, |x| x.num);
    let flags =
        u8::from(alert.is_some()) | u8::from(value.is_some()) << 1 | u8::from(num != 0.0) << 2;
    o.u8(flags);
    if let Some((id, events)) = alert {
        o.str(id);
        o.events(events);
    }
    if let Some(v) = value {
        o.str(v);
    }
    if num != 0.0 {
        o.u64(num.to_bits());
    }
}

fn write_corr(o: &mut Out, c: &Corr) {
    o.u32(c.rule as u32);
    o.i64(c.closed_before);
    o.len(c.pending.len());
    for (end, key) in &c.pending {
        o.i64(*end);
        o.str(key);
    }
    o.len(c.groups.len());
    for g in c.groups.live() {
        o.str(c.groups.key(g));
        let values = c.groups.more(g).values();
        let values = values.as_deref().map_or(&[][..], Vec::as_slice);
        o.u32(values.len() as u32);
        for (f, v) in values {
            o.str(f);
            o.str(v);
        }
        let entries = c.groups.entries(g);
        o.len(entries.len());
        for e in &entries {
            write_entry(o, e);
        }
        let alerts = c.groups.more(g).alerts();
        o.len(alerts.len());
        for a in alerts {
            o.str(&a.id.text());
            o.i64(a.span.0);
            o.i64(a.span.1);
            o.i64(a.trigger);
            o.events(&a.events.to_vec(&entries));
        }
    }
    let chained: BTreeSet<(&str, &str)> = c
        .chained_group
        .iter()
        .map(|(id, key)| (&**id, key.as_str()))
        .collect();
    o.len(chained.len());
    for (id, key) in chained {
        o.str(id);
        o.str(key);
    }
}

/// One correlation's state as read, before it replaces the engine's.
struct CorrState {
    closed_before: i64,
    pending: BTreeSet<(i64, String)>,
    groups: Groups,
    chained_group: std::collections::HashMap<Arc<str>, String>,
}

fn read_entry(r: &mut In<'_>) -> Result<Entry, SnapshotError> {
    let time = r.i64("entry time")?;
    let tie = r.u64("entry event id")?;
    let member = r.u32("entry member")?;
    let flags = r.u8("entry flags")?;
    if flags & !0b111 != 0 {
        return Err(r.invalid(format!("entry flags {flags:#x}")));
    }
    let extra = if flags == 0 {
        None
    } else {
        let alert = if flags & 1 != 0 {
            Some((
                Arc::from(r.str("chained alert id")?),
                r.events("chained alert events")?,
            ))
        } else {
            None
        };
        let value = if flags & 2 != 0 {
            Some(r.str("entry value")?.into_boxed_str())
        } else {
            None
        };
        let num = if flags & 4 != 0 {
            f64::from_bits(r.u64("entry number")?)
        } else {
            0.0
        };
        Some(Box::new(EntryExtra { alert, value, num }))
    };
    Ok(Entry {
        time,
        tie,
        member,
        extra,
    })
}

fn read_corr(r: &mut In<'_>, c: &Corr) -> Result<CorrState, SnapshotError> {
    let rule = r.u32("correlation rule")?;
    if rule as usize != c.rule {
        return Err(r.invalid(format!("correlation of rule {rule}, expected {}", c.rule)));
    }
    let closed_before = r.i64("closed_before")?;
    let mut pending = BTreeSet::new();
    for _ in 0..r.len(12, "pending windows")? {
        pending.insert((r.i64("pending window end")?, r.str("pending key")?));
    }
    let mut groups = c.groups.empty_like();
    let mut scratch = Vec::new();
    for _ in 0..r.len(4, "groups")? {
        let key = r.str("group key")?;
        let n_values = r.u32("group values")? as usize;
        let mut values = Vec::new();
        for _ in 0..n_values {
            values.push((r.str("group field")?, r.str("group value")?));
        }
        for _ in 0..r.len(21, "entries")? {
            scratch.push(read_entry(r)?);
        }
        if scratch
            .windows(2)
            .any(|w| w[0].cmp_key(&w[1], c.by_event).is_gt())
        {
            return Err(r.invalid(format!("entries of group '{key}' out of order")));
        }
        let mut alerts = Vec::new();
        for _ in 0..r.len(28, "alerts")? {
            let text = r.str("alert id")?;
            let Some(id) = AlertId::parse(&text) else {
                return Err(r.invalid(format!("alert id '{text}' is not 32 hex digits")));
            };
            alerts.push(LiveAlert {
                id,
                span: (r.i64("alert span")?, r.i64("alert span")?),
                trigger: r.i64("alert trigger")?,
                events: Events::Copied(AlertEvents::new(&r.events("alert events")?)),
            });
        }
        if groups.find(&key).is_some() {
            return Err(r.invalid(format!("group '{key}' twice")));
        }
        let more = (!values.is_empty() || !alerts.is_empty()).then(|| GroupMore {
            alerts: Alerts::from_vec(alerts),
            values: (!values.is_empty()).then(|| Arc::new(values)),
            wide: None,
        });
        let g = groups.find_or_insert(&key, || more);
        groups.store(g, &mut scratch);
        scratch.clear();
    }
    let mut chained_group = std::collections::HashMap::new();
    for _ in 0..r.len(8, "chained inputs")? {
        chained_group.insert(Arc::from(r.str("chained id")?), r.str("chained key")?);
    }
    Ok(CorrState {
        closed_before,
        pending,
        groups,
        chained_group,
    })
}

impl Engine {
    /// The correlation state as bytes (format in the module docs of `engine::snapshot`, also
    /// in ARCHITECTURE.md): watermark, counters, every group with its buffered entries and
    /// live alerts, pending fixed windows, chained inputs. Restore it with
    /// [`Engine::restore`] into an engine over the same rule set and settings, then feed the
    /// events that came after it: the outputs and alert ids are those of an uninterrupted
    /// run.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut o = Out(Vec::with_capacity(HEADER_LEN + 4096));
        o.0.extend_from_slice(MAGIC);
        o.u32(VERSION);
        o.0.extend_from_slice(&fingerprint(self));
        o.u64(0); // payload length, set below
        write_settings(&mut o, &self.cfg);
        o.u8(u8::from(self.max_time.is_some()));
        o.i64(self.max_time.unwrap_or(0));
        o.i64(self.next_sweep);
        o.u8(u8::from(self.newest.is_some()));
        o.i64(self.newest.unwrap_or(0));
        o.i64(self.sources.newest_arrival);
        o.len(self.sources.list.len());
        for (source, time, arrival) in &self.sources.list {
            o.str(source);
            o.i64(*time);
            o.i64(*arrival);
        }
        for c in counters(&self.stats) {
            o.u64(c);
        }
        o.u32(self.corrs.len() as u32);
        for c in &self.corrs {
            write_corr(&mut o, c);
        }
        let payload = (o.0.len() - HEADER_LEN) as u64;
        o.0[HEADER_LEN - 8..HEADER_LEN].copy_from_slice(&payload.to_le_bytes());
        let crc = crc32c::crc32c(&o.0);
        o.u32(crc);
        o.0
    }

    /// Replaces the engine's correlation state with a snapshot's (see [`Engine::snapshot`]).
    /// Refused, leaving the engine as it was, when the bytes are damaged, of another format
    /// version, or made for another rule set or other settings.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let body = check_frame(bytes, &fingerprint(self))?;
        let mut r = In {
            bytes: &bytes[..body],
            at: HEADER_LEN,
        };
        let lateness = r.i64("settings")?;
        let entries = r.u64("settings")?;
        let groups = r.u64("settings")?;
        let idle = r.i64("settings")?;
        let cfg = &self.cfg;
        if (lateness, entries, groups, idle)
            != (
                cfg.allowed_lateness_ms,
                cfg.max_group_entries as u64,
                cfg.max_groups_per_rule as u64,
                cfg.source_idle_ms,
            )
        {
            return Err(SnapshotError::Settings(format!(
                "snapshot: allowed_lateness_ms {lateness}, max_group_entries {entries}, \
                 max_groups_per_rule {groups}, source_idle_ms {idle}; engine: {}, {}, {}, {}",
                cfg.allowed_lateness_ms,
                cfg.max_group_entries,
                cfg.max_groups_per_rule,
                cfg.source_idle_ms
            )));
        }
        let has_time = r.u8("watermark")?;
        let time = r.i64("watermark")?;
        let next_sweep = r.i64("next sweep")?;
        let has_newest = r.u8("newest event time")?;
        let newest = r.i64("newest event time")?;
        let newest_arrival = r.i64("sources")?;
        let n = r.len(4 + 16, "sources")?;
        let mut sources = Vec::with_capacity(n);
        for _ in 0..n {
            sources.push((r.str("source")?, r.i64("source")?, r.i64("source")?));
        }
        let mut c = [0u64; 10];
        for x in c.iter_mut() {
            *x = r.u64("counters")?;
        }
        let n = r.u32("correlations")? as usize;
        if n != self.corrs.len() {
            return Err(r.invalid(format!("{n} correlations, engine has {}", self.corrs.len())));
        }
        let states = self
            .corrs
            .iter()
            .map(|c| read_corr(&mut r, c))
            .collect::<Result<Vec<_>, _>>()?;
        if r.at != body {
            return Err(r.invalid("bytes left after the last correlation"));
        }
        // Everything read: only now replace the state.
        self.max_time = (has_time != 0).then_some(time);
        self.newest = (has_newest != 0).then_some(newest);
        self.sources = super::Sources::new(sources, newest_arrival);
        self.next_sweep = next_sweep;
        set_counters(&mut self.stats, c);
        for (corr, st) in self.corrs.iter_mut().zip(states) {
            corr.closed_before = st.closed_before;
            corr.decided_from = st.closed_before;
            corr.pending = st.pending;
            corr.groups = st.groups;
            corr.chained_group = st.chained_group;
        }
        Ok(())
    }
}

/// Checks magic, version, fingerprint, length and checksum; returns where the payload ends.
fn check_frame(bytes: &[u8], fingerprint: &[u8; 16]) -> Result<usize, SnapshotError> {
    let mut r = In { bytes, at: 0 };
    if r.take(8, "magic")? != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = r.u32("version")?;
    if version != VERSION {
        return Err(SnapshotError::Version { found: version });
    }
    let found: [u8; 16] = r.array("fingerprint")?;
    let payload = r.u64("payload length")?;
    let end = usize::try_from(payload)
        .ok()
        .and_then(|p| p.checked_add(HEADER_LEN))
        .filter(|&e| e.checked_add(4).is_some_and(|t| t <= bytes.len()))
        .ok_or(SnapshotError::Truncated {
            what: "payload",
            at: HEADER_LEN,
        })?;
    if end + 4 != bytes.len() {
        return Err(SnapshotError::Invalid {
            what: format!("{} bytes after the checksum", bytes.len() - end - 4),
            at: end + 4,
        });
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[end..end + 4]);
    let stored = u32::from_le_bytes(crc);
    let computed = crc32c::crc32c(&bytes[..end]);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    if found != *fingerprint {
        let hex = |b: &[u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        return Err(SnapshotError::RuleSet {
            found: hex(&found),
            expected: hex(fingerprint),
        });
    }
    Ok(end)
}
