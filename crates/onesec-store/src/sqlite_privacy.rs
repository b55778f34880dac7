//! What privacy by design needs from the store (docs/privacy.md): removing events (retention,
//! erasure) without leaving their bodies behind, legal holds on incidents, and the record of
//! which events were removed so checks can tell a removal from a loss.
//!
//! Tables (created on open, so an older database gains them):
//! * `legal_holds(incident_id PK, reason, placed_by, placed_ms)`: incidents whose events,
//!   alerts and evidence no deletion may touch.
//! * `removed_events(first_id, last_id, removed_ms, why)`: ranges of event ids the store
//!   removed on purpose.
//!
//! Incidents whose retention period is over go with every row the store keeps for them
//! ([`Retention::remove_incidents`]); which ones is decided by `onesec-privacy`, the same for
//! every backend.
//!
//! **Architecture invariant:** a journal segment may go only once no block refers to it:
//! [`Retention::take_bodies_before`] copies the bodies a block still needs into the block
//! first, and [`Retention::journal_needed_from`] says how far the journal is still read.

use onesec_event::EventId;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::sqlite::db;
use crate::{Result, SqliteStore};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS legal_holds (
    incident_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS removed_events (
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    removed_ms INTEGER NOT NULL,
    why TEXT NOT NULL
);
";

/// An incident under legal hold: nothing it references may be deleted until the hold is lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegalHold {
    /// The incident held.
    pub incident_id: String,
    /// Why (a case number, a request from counsel).
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When (UTC ms).
    pub placed_ms: i64,
}

/// Ids removed on purpose, as consecutive ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovedRange {
    /// First id of the range.
    pub first_id: EventId,
    /// Last id of the range (inclusive).
    pub last_id: EventId,
    /// When (UTC ms).
    pub removed_ms: i64,
    /// `retention` or `erasure`.
    pub why: String,
}

/// What removing incidents took with them: rows per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedIncidentRows {
    /// Incidents.
    pub incidents: u64,
    /// Their alerts.
    pub alerts: u64,
    /// Their cases.
    pub cases: u64,
    /// Entries of their cases' history.
    pub history: u64,
    /// Their playbook runs.
    pub playbook_runs: u64,
    /// Their team tasks.
    pub tasks: u64,
    /// Their response actions.
    pub actions: u64,
    /// Their evidence (attached files with their bytes, event references).
    pub evidence: u64,
    /// Merges and splits by hand that named only removed incidents.
    pub manual_ops: u64,
}

impl RemovedIncidentRows {
    /// Every row removed.
    pub fn total(&self) -> u64 {
        self.incidents
            + self.alerts
            + self.cases
            + self.history
            + self.playbook_runs
            + self.tasks
            + self.actions
            + self.evidence
            + self.manual_ops
    }
}

/// The counter of [`RemovedIncidentRows`] a table's removals add to.
pub(crate) type RowCounter = fn(&mut RemovedIncidentRows) -> &mut u64;

/// The tables holding an incident's rows, by the column naming it, with the counter each
/// removal adds to.
pub(crate) const INCIDENT_TABLES: [(&str, &str, RowCounter); 8] = [
    ("alerts", "incident_id", |r| &mut r.alerts),
    ("incident_cases", "incident_id", |r| &mut r.cases),
    ("incident_history", "incident_id", |r| &mut r.history),
    ("playbook_runs", "incident_id", |r| &mut r.playbook_runs),
    ("playbook_tasks", "incident_id", |r| &mut r.tasks),
    ("response_actions", "incident_id", |r| &mut r.actions),
    ("incident_evidence", "incident_id", |r| &mut r.evidence),
    ("incidents", "id", |r| &mut r.incidents),
];

/// Removal of personal data and legal holds (retention, data subject requests).
pub trait Retention {
    /// Removes these events (bodies, timeline rows) and records their ids as removed for
    /// `why`; returns the events removed, which the caller audits. Ids not stored are skipped.
    fn remove_events(
        &mut self,
        ids: &[EventId],
        why: &str,
        now_ms: i64,
    ) -> Result<Vec<onesec_event::Event>>;
    /// Every range of ids removed on purpose, oldest first.
    fn removed_ranges(&self) -> Result<Vec<RemovedRange>>;
    /// Copies into the store the bodies of events it reads from journal records below `seq`;
    /// returns how many events moved. Afterwards the store no longer needs those records.
    fn take_bodies_before(&mut self, seq: EventId) -> Result<u64>;
    /// The lowest event id whose body the store reads from the journal (None: none).
    fn journal_needed_from(&self) -> Result<Option<EventId>>;
    /// Deletes device address and name changes seen before `before_ms`; returns how many.
    fn remove_device_changes_before(&mut self, before_ms: i64) -> Result<u64>;
    /// Removes incidents with everything the store keeps for them (alerts, case and history,
    /// playbook run and tasks, response actions, evidence with attached files) and the merges
    /// and splits by hand numbered `manual_ops`, in one transaction.
    fn remove_incidents(
        &mut self,
        ids: &[String],
        manual_ops: &[i64],
    ) -> Result<RemovedIncidentRows>;
    /// Removes alerts that belong to no incident and whose last event is before `before_ms`;
    /// returns how many.
    fn remove_unattached_alerts_before(&mut self, before_ms: i64) -> Result<u64>;
    /// Places (or restates) a legal hold.
    fn place_legal_hold(&mut self, hold: &LegalHold) -> Result<()>;
    /// Lifts the hold on an incident; false when there was none.
    fn lift_legal_hold(&mut self, incident_id: &str) -> Result<bool>;
    /// Every legal hold, oldest first.
    fn legal_holds(&self) -> Result<Vec<LegalHold>>;
}

/// Copies the write-ahead log into the database and empties it, so the old images of the
/// pages a removal rewrote leave the WAL file too. A reader holding an old snapshot can keep
/// the checkpoint from finishing: that is logged, and the next removal tries again.
fn checkpoint_wal(conn: &rusqlite::Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    match result {
        Ok(0) => {}
        Ok(_) => tracing::warn!("WAL checkpoint after a removal was blocked by a reader"),
        Err(error) => tracing::warn!(%error, "WAL checkpoint after a removal failed"),
    }
}

/// Consecutive runs of sorted, distinct ids.
pub(crate) fn ranges_of(ids: &[EventId]) -> Vec<(EventId, EventId)> {
    let mut out: Vec<(EventId, EventId)> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => out.push((id, id)),
        }
    }
    out
}

pub(crate) fn sql_id(id: EventId) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl Retention for SqliteStore {
    fn remove_events(
        &mut self,
        ids: &[EventId],
        why: &str,
        now_ms: i64,
    ) -> Result<Vec<onesec_event::Event>> {
        let journal = self.journal.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin event removal"))?;
        let removed = crate::sqlite_events::remove_events(&tx, journal.as_deref(), ids)?;
        let mut removed_ids: Vec<EventId> = removed.iter().map(|e| e.id).collect();
        removed_ids.sort_unstable();
        for (first, last) in ranges_of(&removed_ids) {
            tx.execute(
                "INSERT INTO removed_events (first_id, last_id, removed_ms, why) VALUES (?1, ?2, ?3, ?4)",
                params![sql_id(first), sql_id(last), now_ms, why],
            )
            .map_err(db("record removed events"))?;
        }
        tx.commit().map_err(db("commit event removal"))?;
        checkpoint_wal(&self.conn);
        Ok(removed)
    }

    fn removed_ranges(&self) -> Result<Vec<RemovedRange>> {
        let mut stmt = self
            .conn
            .prepare("SELECT first_id, last_id, removed_ms, why FROM removed_events ORDER BY rowid")
            .map_err(db("prepare removed ranges"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RemovedRange {
                    first_id: r.get::<_, i64>(0)?.max(0) as u64,
                    last_id: r.get::<_, i64>(1)?.max(0) as u64,
                    removed_ms: r.get(2)?,
                    why: r.get(3)?,
                })
            })
            .map_err(db("query removed ranges"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read removed range"))
    }

    fn take_bodies_before(&mut self, seq: EventId) -> Result<u64> {
        let journal = self.journal.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin taking bodies from the journal"))?;
        let moved = crate::sqlite_events::take_bodies_before(&tx, journal.as_deref(), seq)?;
        tx.commit()
            .map_err(db("commit taking bodies from the journal"))?;
        Ok(moved)
    }

    fn journal_needed_from(&self) -> Result<Option<EventId>> {
        crate::sqlite_events::journal_needed_from(&self.conn)
    }

    fn remove_device_changes_before(&mut self, before_ms: i64) -> Result<u64> {
        let n = self
            .conn
            .execute("DELETE FROM device_changes WHERE time_ms < ?1", [before_ms])
            .map_err(db("delete old device changes"))?;
        Ok(n as u64)
    }

    fn remove_incidents(
        &mut self,
        ids: &[String],
        manual_ops: &[i64],
    ) -> Result<RemovedIncidentRows> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin incident removal"))?;
        let mut rows = RemovedIncidentRows::default();
        for (table, column, counter) in INCIDENT_TABLES {
            let mut stmt = tx
                .prepare(&format!("DELETE FROM {table} WHERE {column} = ?1"))
                .map_err(db("prepare incident removal"))?;
            for id in ids {
                let n = stmt.execute([id]).map_err(db("remove incident rows"))?;
                *counter(&mut rows) += n as u64;
            }
        }
        for seq in manual_ops {
            let n = tx
                .execute("DELETE FROM incident_ops WHERE seq = ?1", [seq])
                .map_err(db("remove an operation by hand"))?;
            rows.manual_ops += n as u64;
        }
        tx.commit().map_err(db("commit incident removal"))?;
        if rows.total() > 0 {
            checkpoint_wal(&self.conn);
        }
        Ok(rows)
    }

    fn remove_unattached_alerts_before(&mut self, before_ms: i64) -> Result<u64> {
        let n = self
            .conn
            .execute(
                "DELETE FROM alerts WHERE incident_id IS NULL AND last_ms < ?1",
                [before_ms],
            )
            .map_err(db("remove alerts of no incident"))?;
        if n > 0 {
            checkpoint_wal(&self.conn);
        }
        Ok(n as u64)
    }

    fn place_legal_hold(&mut self, hold: &LegalHold) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO legal_holds (incident_id, reason, placed_by, placed_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(incident_id) DO UPDATE SET reason = excluded.reason,
                   placed_by = excluded.placed_by, placed_ms = excluded.placed_ms",
                params![hold.incident_id, hold.reason, hold.placed_by, hold.placed_ms],
            )
            .map_err(db("place legal hold"))?;
        Ok(())
    }

    fn lift_legal_hold(&mut self, incident_id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM legal_holds WHERE incident_id = ?1",
                [incident_id],
            )
            .map_err(db("lift legal hold"))?;
        Ok(n > 0)
    }

    fn legal_holds(&self) -> Result<Vec<LegalHold>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT incident_id, reason, placed_by, placed_ms FROM legal_holds ORDER BY placed_ms, incident_id",
            )
            .map_err(db("prepare legal holds"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LegalHold {
                    incident_id: r.get(0)?,
                    reason: r.get(1)?,
                    placed_by: r.get(2)?,
                    placed_ms: r.get(3)?,
                })
            })
            .map_err(db("query legal holds"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read legal hold"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_into_consecutive_ranges() {
        assert_eq!(
            ranges_of(&[1, 2, 3, 7, 9, 10]),
            vec![(1, 3), (7, 7), (9, 10)]
        );
        assert_eq!(ranges_of(&[]), vec![]);
    }
}
