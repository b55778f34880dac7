//! The store: events (indexed by time, person, site), alerts, incidents and dead letters.
//!
//! [`Store`] is the boundary every other stage uses; [`SqliteStore`] is the embedded default
//! (one SQLite file in WAL mode, so readers never block the detection writer), [`PgStore`] the
//! shared one (PostgreSQL, versioned migrations, `pg*.rs`). Both keep the same tables and answer
//! every query the same way: what does not depend on SQL (event blocks and how queries walk
//! them, device sightings, which incident state wins) is written once (`blocks.rs`,
//! `event_scan.rs`, `sqlite_devices.rs`, `sqlite.rs`) and used by both. [`open_store`] opens the
//! one a [`StoreSettings`] names.
//!
//! **Architecture invariant:** a detection batch ([`DetectionBatch`]) is written in one
//! transaction together with the journal position it reaches, so after a crash the store is
//! exactly "everything up to `detected_upto`" and the journal replays the rest.
//!
//! **Architecture invariant:** writes are idempotent. Events are keyed by journal sequence,
//! alerts and incidents by deterministic ids; replaying a batch changes nothing. An incident's
//! human-set state (acknowledged, in progress, resolved, closed) is never overwritten by
//! detection, except to mark it merged or withdrawn.
//!
//! [`Cases`] holds what detection never writes: each incident's case (priority, category,
//! owner, SLA, escalation) and its history of who did what, playbook runs with their tasks,
//! and the record of response actions (`sqlite_cases.rs`; tables added to older databases on
//! open). [`Evidence`] keeps the files and event references attached to incidents, and
//! [`ManualRecord`]s the merges and splits people did (`sqlite_evidence.rs`). [`Retention`]
//! removes events and expired incidents for retention and erasure and keeps legal holds
//! (`sqlite_privacy.rs`, `pg_privacy.rs`, docs/privacy.md); it is a trait of its own, and
//! [`PrivacyStore`] (both traits, with [`open_privacy_store`]) is what the privacy code opens.

mod blocks;
mod event_scan;
mod inventory;
mod open;
mod pg;
mod pg_devices;
mod pg_events;
mod pg_privacy;
mod pg_response;
mod sqlite;
mod sqlite_cases;
mod sqlite_devices;
mod sqlite_events;
mod sqlite_evidence;
mod sqlite_privacy;
pub mod testing;

pub use inventory::InventoryRow;
pub use open::{PrivacyStore, StoreSettings, open_privacy_store, open_store};
pub use pg::{MIGRATIONS, Migration, PgSettings, PgStore};
pub use sqlite::SqliteStore;
pub use sqlite_cases::{Cases, StoredAction, StoredRun, StoredTask};
pub use sqlite_devices::{DeviceChange, DeviceSighting, PostureDay};
pub use sqlite_evidence::{Evidence, EvidenceItem, ManualRecord};
pub use sqlite_privacy::{LegalHold, RemovedIncidentRows, RemovedRange, Retention};

use onesec_event::{Event, EventId};
use onesec_incident::{Alert, Incident, IncidentState};
use serde::{Deserialize, Serialize};

/// A store failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("store: {action}: {source}")]
    Database {
        /// What the store was doing.
        action: &'static str,
        /// The database error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL refused an operation (or could not be reached).
    #[error("store (PostgreSQL): {action}: {source}")]
    Postgres {
        /// What the store was doing.
        action: &'static str,
        /// The client's error (with the server's message).
        #[source]
        source: postgres::Error,
    },
    /// The database file cannot be opened with the keys given (encryption at rest: a missing
    /// or wrong key, or a plain file while encryption is on).
    #[error("store: {0}")]
    Key(#[from] onesec_keys::sqlite::SqliteKeyError),
    /// The store's settings cannot be used (a bad schema name, a schema newer than this
    /// build).
    #[error("store: {0}")]
    Config(String),
    /// A stored row could not be decoded.
    #[error("store: row {id} in {table} is not valid JSON: {source}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Row id.
        id: String,
        /// Decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Something the caller asked for does not exist.
    #[error("store: {0}")]
    NotFound(String),
    /// An event body the store refers to could not be read back from the journal.
    #[error("store: reading events {first}..={last} from the journal: {source}")]
    Journal {
        /// First event id of the block being read.
        first: EventId,
        /// Last event id of the block being read.
        last: EventId,
        /// What the journal said.
        #[source]
        source: onesec_journal::JournalError,
    },
    /// A state change the life cycle does not allow.
    #[error(transparent)]
    State(#[from] onesec_incident::StateError),
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Raw input that could not be decoded, kept with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Row id (0 before it is stored).
    #[serde(default)]
    pub id: i64,
    /// When it arrived (UTC ms).
    pub received_ms: i64,
    /// Input it came by (`http`, `syslog-udp`, `replay`...).
    pub input: String,
    /// Declared or detected format.
    pub format: String,
    /// Line (or record) number within the submitted body, 1-based; 0 when not line-based.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
    /// The input as received (lossy UTF-8).
    pub raw: String,
    /// Byte offset of the record's first byte within the submitted body or file (None when
    /// the input was not a body of records: a datagram, an MQTT message, a JSON array body).
    #[serde(default)]
    pub byte_offset: Option<u64>,
}

/// Everything one detection step produced, written atomically.
#[derive(Debug, Default)]
pub struct DetectionBatch {
    /// Newly durable, resolved events.
    pub events: Vec<Event>,
    /// Where the journal record of each of `events` lies (same order), when the caller read
    /// them from the journal: the store then keeps these positions instead of a second copy of
    /// the events, and reads the bodies back from the journal. Empty (or of another length):
    /// the store keeps the events' JSON itself.
    pub journal_positions: Vec<onesec_journal::Position>,
    /// Alerts fired, updated or withdrawn.
    pub alerts: Vec<Alert>,
    /// Incidents opened or changed.
    pub incidents: Vec<Incident>,
    /// Journal sequence this batch completes.
    pub detected_upto: EventId,
    /// Merges and splits done by hand that produced `alerts` and `incidents`.
    pub manual_ops: Vec<ManualRecord>,
    /// Those of `events` that arrived beyond the allowed lateness behind the watermark.
    pub late: Vec<LateEvent>,
}

/// An event that arrived later than the allowed lateness behind the watermark of detection:
/// stored like every event (and run through single-event rules), and listed with
/// [`Store::late_events`] because correlations that had ended did not see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateEvent {
    /// The event (journal sequence).
    pub id: EventId,
    /// Its event time (UTC ms).
    pub time_ms: i64,
    /// The watermark it was behind when detection read it (UTC ms).
    pub watermark_ms: i64,
    /// Its source as the watermark is kept (`input/product`).
    pub source: String,
}

/// Which events to return.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventFilter {
    /// Person id.
    pub person: Option<String>,
    /// Site id.
    pub site: Option<String>,
    /// From (UTC ms, inclusive).
    pub from_ms: Option<i64>,
    /// To (UTC ms, inclusive).
    pub to_ms: Option<i64>,
    /// Starting after this id (for paging / export).
    pub after_id: Option<EventId>,
    /// At most this many (default 1000).
    pub limit: Option<usize>,
}

/// Which incidents to return.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncidentFilter {
    /// Only this state; by default merged and withdrawn incidents are left out.
    pub state: Option<String>,
    /// Only this domain.
    pub domain: Option<String>,
    /// Include merged and withdrawn incidents.
    #[serde(default)]
    pub all: bool,
    /// At most this many (default 500).
    pub limit: Option<usize>,
}

/// The storage boundary (with [`Cases`], what the response side keeps about incidents).
pub trait Store: Send + Cases + Evidence {
    /// Writes one detection step atomically, with its journal position.
    fn commit(&mut self, batch: &DetectionBatch) -> Result<()>;
    /// Every merge and split done by hand, in order (to apply again on a rebuild).
    fn manual_ops(&self) -> Result<Vec<ManualRecord>>;
    /// The journal sequence up to which detection results are stored.
    fn detected_upto(&self) -> Result<EventId>;
    /// Late events (see [`LateEvent`]) by id, from after `after_id`, at most `limit`.
    fn late_events(&self, after_id: Option<EventId>, limit: usize) -> Result<Vec<LateEvent>>;
    /// Keeps undecodable input.
    fn add_dead_letters(&mut self, letters: &[DeadLetter]) -> Result<()>;
    /// Most recent dead letters first.
    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>>;
    /// Number of stored dead letters.
    fn dead_letter_count(&self) -> Result<u64>;
    /// Every device the stored events came from or named: first and last seen, address, name
    /// (known devices first).
    fn device_sightings(&self) -> Result<Vec<DeviceSighting>>;
    /// One device's sighting (None: no event came from it).
    fn device_sighting(&self, device: &str) -> Result<Option<DeviceSighting>>;
    /// A device's changes of address and name as its events showed them, oldest first.
    fn device_changes(&self, device: &str) -> Result<Vec<DeviceChange>>;
    /// Compares the inventory (`devices.csv`) with the one stored at the last sync, records
    /// each difference as a device change at `now_ms` and stores the new one (the first sync
    /// only stores it). The number of changes recorded.
    fn sync_inventory(&mut self, now_ms: i64, rows: &[InventoryRow]) -> Result<usize>;
    /// Keeps site and zone postures, each as the latest of its day.
    fn record_posture(&mut self, rows: &[PostureDay]) -> Result<()>;
    /// A site's or zone's (`scope`) posture per day, oldest first.
    fn posture_trend(&self, scope: &str, key: &str) -> Result<Vec<PostureDay>>;
    /// Events matching a filter, in event-time order.
    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>>;
    /// Events by journal sequence, in event-time order.
    fn events_by_ids(&self, ids: &[EventId]) -> Result<Vec<Event>>;
    /// Number of stored events.
    fn event_count(&self) -> Result<u64>;
    /// Incidents, most recent first.
    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// One incident.
    fn incident(&self, id: &str) -> Result<Option<Incident>>;
    /// Alerts, most recent first (`incident`: only those of one incident).
    fn alerts(&self, incident: Option<&str>, limit: usize) -> Result<Vec<Alert>>;
    /// A person moves an incident along its life cycle.
    fn set_incident_state(&mut self, id: &str, state: IncidentState) -> Result<Incident>;
    /// Checks the event indexes (blocks and person/site timeline rows) against the events they
    /// index; each problem is `(where, what)`. Reads every stored event: for `onesec audit
    /// verify`, not for a running service.
    fn event_index_problems(&self) -> Result<Vec<(String, String)>>;
}
