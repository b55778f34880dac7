//! What people add to an incident and what they do to its grouping: evidence (files and
//! references to stored events) and merges and splits by hand.
//!
//! Evidence is the response side's (detection never writes it). The operations by hand are
//! detection's: they are written with the incidents they changed, in one detection batch, and
//! read back when the grouper is rebuilt from the journal.

use crate::sqlite::{SqliteStore, db, to_json};
use crate::{Result, StoreError};
use onesec_incident::ManualOp;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incident_evidence (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    json TEXT NOT NULL,
    data BLOB
);
CREATE INDEX IF NOT EXISTS incident_evidence_incident ON incident_evidence(incident_id, seq);
CREATE TABLE IF NOT EXISTS incident_ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    json TEXT NOT NULL
);
";

/// A merge or split by hand, with who asked, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualRecord {
    /// Position (0 before it is stored).
    #[serde(default)]
    pub seq: i64,
    /// When (UTC ms).
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// What.
    pub op: ManualOp,
}

/// One piece of evidence on an incident: a file people attached, or a reference to a stored
/// event. Files are kept whole in the store, with their SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Number within the store (0 before it is stored).
    #[serde(default)]
    pub seq: i64,
    /// The incident.
    pub incident_id: String,
    /// `file` or `event`.
    pub kind: String,
    /// File name, or a label for the event.
    pub name: String,
    /// Media type of a file (`application/octet-stream` when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Size of a file in bytes.
    #[serde(default)]
    pub size: u64,
    /// Lower-case hex SHA-256 of a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The referenced event (journal sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<u64>,
    /// Why it matters.
    #[serde(default)]
    pub note: String,
    /// Who added it.
    pub added_by: String,
    /// When (UTC ms).
    pub added_ms: i64,
}

/// Evidence kept on incidents.
pub trait Evidence {
    /// Keeps a piece of evidence (and a file's bytes); returns it with its number.
    fn add_evidence(&mut self, item: &EvidenceItem, data: Option<&[u8]>) -> Result<EvidenceItem>;
    /// The evidence of an incident, oldest first (without file bytes).
    fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceItem>>;
    /// One piece of evidence of an incident with a file's bytes (empty for an event).
    fn evidence_data(&self, incident_id: &str, seq: i64)
    -> Result<Option<(EvidenceItem, Vec<u8>)>>;
}

impl Evidence for SqliteStore {
    fn add_evidence(&mut self, item: &EvidenceItem, data: Option<&[u8]>) -> Result<EvidenceItem> {
        let tx = self.conn.transaction().map_err(db("begin evidence"))?;
        tx.execute(
            "INSERT INTO incident_evidence (incident_id, json, data) VALUES (?1, '{}', ?2)",
            params![item.incident_id, data],
        )
        .map_err(db("insert evidence"))?;
        let mut stored = item.clone();
        stored.seq = tx.last_insert_rowid();
        tx.execute(
            "UPDATE incident_evidence SET json = ?2 WHERE seq = ?1",
            params![stored.seq, to_json(&stored)],
        )
        .map_err(db("number evidence"))?;
        tx.commit().map_err(db("commit evidence"))?;
        Ok(stored)
    }

    fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceItem>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, json FROM incident_evidence WHERE incident_id = ?1 ORDER BY seq",
            )
            .map_err(db("prepare evidence query"))?;
        let rows = stmt
            .query_map([incident_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db("query evidence"))?;
        let mut items = Vec::new();
        for row in rows {
            let (seq, json) = row.map_err(db("read evidence"))?;
            items.push(parse("incident_evidence", seq, &json)?);
        }
        Ok(items)
    }

    fn evidence_data(
        &self,
        incident_id: &str,
        seq: i64,
    ) -> Result<Option<(EvidenceItem, Vec<u8>)>> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT json, data FROM incident_evidence WHERE incident_id = ?1 AND seq = ?2",
                params![incident_id, seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("read evidence"))?;
        row.map(|(json, data)| {
            Ok((
                parse("incident_evidence", seq, &json)?,
                data.unwrap_or_default(),
            ))
        })
        .transpose()
    }
}

fn parse<T: serde::de::DeserializeOwned>(table: &'static str, seq: i64, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
        table,
        id: seq.to_string(),
        source,
    })
}

/// Appends operations by hand (inside a detection batch's transaction).
pub(crate) fn write_ops(tx: &Transaction<'_>, ops: &[ManualRecord]) -> Result<()> {
    for op in ops {
        tx.execute(
            "INSERT INTO incident_ops (at_ms, actor, json) VALUES (?1, ?2, ?3)",
            params![op.at_ms, op.actor, to_json(op)],
        )
        .map_err(db("insert incident operation"))?;
    }
    Ok(())
}

/// Every operation by hand, in the order they were done.
pub(crate) fn read_ops(store: &SqliteStore) -> Result<Vec<ManualRecord>> {
    let mut stmt = store
        .conn
        .prepare("SELECT seq, json FROM incident_ops ORDER BY seq")
        .map_err(db("prepare incident operations"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(db("query incident operations"))?;
    let mut ops = Vec::new();
    for row in rows {
        let (seq, json) = row.map_err(db("read incident operation"))?;
        let mut op: ManualRecord = parse("incident_ops", seq, &json)?;
        op.seq = seq;
        ops.push(op);
    }
    Ok(ops)
}
