//! Retention, erasure and legal holds on PostgreSQL: the [`Retention`] trait as
//! `sqlite_privacy.rs` implements it, on the tables of migration 4 (`legal_holds`,
//! `removed_events`). How a block is rewritten without removed events, or with its journal
//! bodies taken in, is decided once for both stores (`event_scan::rewrite_block`); here only
//! the rows change.
//!
//! Each removal is one transaction, under an advisory lock so that two runs (the service's
//! job and `onesec privacy retention` on the same schema) never rewrite the same blocks at
//! once. PostgreSQL keeps the old row versions until vacuum reuses their space (there is no
//! `secure_delete`): docs/privacy.md says so, and what protects them is the server's disk.

use onesec_event::{Event, EventId};
use postgres::Transaction;

use crate::event_scan::{self, event_id};
use crate::pg::{PgStore, pg};
use crate::pg_events;
use crate::sqlite_privacy::{INCIDENT_TABLES, ranges_of, sql_id};
use crate::{LegalHold, RemovedIncidentRows, RemovedRange, Result, Retention};

/// Serialises the removals of every onesec process on the schema.
fn lock_removals(tx: &mut Transaction<'_>) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('onesec retention ' || current_schema()))",
        &[],
    )
    .map_err(pg("lock for removal"))?;
    Ok(())
}

impl Retention for PgStore {
    fn remove_events(&mut self, ids: &[EventId], why: &str, now_ms: i64) -> Result<Vec<Event>> {
        let journal = self.journal().map(std::path::Path::to_path_buf);
        let mut wanted = ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        self.in_transaction("remove events", |tx| {
            lock_removals(tx)?;
            let mut removed = Vec::new();
            let mut rest = wanted.as_slice();
            while let Some(&first) = rest.first() {
                let Some(block) = pg_events::block_holding(tx, first)? else {
                    rest = &rest[1..];
                    continue;
                };
                let inside = rest.partition_point(|id| *id <= block.last_id);
                let (here, later) = rest.split_at(inside);
                rest = later;
                let rewritten = event_scan::rewrite_block(block, journal.as_deref(), here)?;
                if rewritten.dropped.is_empty() {
                    continue;
                }
                pg_events::replace_block(tx, &rewritten)?;
                removed.extend(rewritten.dropped);
            }
            pg_events::delete_keys(tx, &removed)?;
            let mut removed_ids: Vec<EventId> = removed.iter().map(|e| e.id).collect();
            removed_ids.sort_unstable();
            for (first, last) in ranges_of(&removed_ids) {
                tx.execute(
                    "INSERT INTO removed_events (first_id, last_id, removed_ms, why)
                     VALUES ($1, $2, $3, $4)",
                    &[&sql_id(first), &sql_id(last), &now_ms, &why],
                )
                .map_err(pg("record removed events"))?;
            }
            Ok(removed)
        })
    }

    fn removed_ranges(&self) -> Result<Vec<RemovedRange>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT first_id, last_id, removed_ms, why FROM removed_events ORDER BY seq",
                    &[],
                )
                .map_err(pg("read removed ranges"))?;
            rows.iter()
                .map(|r| {
                    Ok(RemovedRange {
                        first_id: event_id(r.try_get(0).map_err(pg("read removed range"))?),
                        last_id: event_id(r.try_get(1).map_err(pg("read removed range"))?),
                        removed_ms: r.try_get(2).map_err(pg("read removed range"))?,
                        why: r.try_get(3).map_err(pg("read removed range"))?,
                    })
                })
                .collect()
        })
    }

    fn take_bodies_before(&mut self, seq: EventId) -> Result<u64> {
        let journal = self.journal().map(std::path::Path::to_path_buf);
        self.in_transaction("take bodies from the journal", |tx| {
            lock_removals(tx)?;
            let firsts = pg_events::journal_blocks_before(tx, seq)?;
            let mut moved = 0;
            for first in firsts {
                let Some(block) = pg_events::block_holding(tx, first)? else {
                    continue;
                };
                let rewritten = event_scan::rewrite_block(block, journal.as_deref(), &[])?;
                pg_events::replace_block(tx, &rewritten)?;
                moved += rewritten.kept;
            }
            Ok(moved)
        })
    }

    fn journal_needed_from(&self) -> Result<Option<EventId>> {
        self.with_client(|c| {
            let first: Option<i64> = c
                .query_one(
                    "SELECT min(first_id) FROM event_blocks WHERE segment IS NOT NULL",
                    &[],
                )
                .and_then(|r| r.try_get(0))
                .map_err(pg("find the oldest journal block"))?;
            Ok(first.and_then(|f| u64::try_from(f).ok()))
        })
    }

    fn remove_device_changes_before(&mut self, before_ms: i64) -> Result<u64> {
        self.with_client(|c| {
            c.execute(
                "DELETE FROM device_changes WHERE time_ms < $1",
                &[&before_ms],
            )
            .map_err(pg("delete old device changes"))
        })
    }

    fn remove_incidents(
        &mut self,
        ids: &[String],
        manual_ops: &[i64],
    ) -> Result<RemovedIncidentRows> {
        self.in_transaction("remove incidents", |tx| {
            lock_removals(tx)?;
            let mut rows = RemovedIncidentRows::default();
            for (table, column, counter) in INCIDENT_TABLES {
                *counter(&mut rows) += tx
                    .execute(
                        &format!("DELETE FROM {table} WHERE {column} = ANY($1)"),
                        &[&ids],
                    )
                    .map_err(pg("remove incident rows"))?;
            }
            rows.manual_ops = tx
                .execute(
                    "DELETE FROM incident_ops WHERE seq = ANY($1)",
                    &[&manual_ops],
                )
                .map_err(pg("remove operations by hand"))?;
            Ok(rows)
        })
    }

    fn remove_unattached_alerts_before(&mut self, before_ms: i64) -> Result<u64> {
        self.with_client(|c| {
            c.execute(
                "DELETE FROM alerts WHERE incident_id IS NULL AND last_ms < $1",
                &[&before_ms],
            )
            .map_err(pg("remove alerts of no incident"))
        })
    }

    fn place_legal_hold(&mut self, hold: &LegalHold) -> Result<()> {
        self.with_client(|c| {
            c.execute(
                "INSERT INTO legal_holds (incident_id, reason, placed_by, placed_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (incident_id) DO UPDATE SET reason = excluded.reason,
                   placed_by = excluded.placed_by, placed_ms = excluded.placed_ms",
                &[
                    &hold.incident_id,
                    &hold.reason,
                    &hold.placed_by,
                    &hold.placed_ms,
                ],
            )
            .map_err(pg("place legal hold"))?;
            Ok(())
        })
    }

    fn lift_legal_hold(&mut self, incident_id: &str) -> Result<bool> {
        self.with_client(|c| {
            let n = c
                .execute(
                    "DELETE FROM legal_holds WHERE incident_id = $1",
                    &[&incident_id],
                )
                .map_err(pg("lift legal hold"))?;
            Ok(n > 0)
        })
    }

    fn legal_holds(&self) -> Result<Vec<LegalHold>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT incident_id, reason, placed_by, placed_ms FROM legal_holds
                     ORDER BY placed_ms, incident_id",
                    &[],
                )
                .map_err(pg("read legal holds"))?;
            rows.iter()
                .map(|r| {
                    let read = || -> std::result::Result<LegalHold, postgres::Error> {
                        Ok(LegalHold {
                            incident_id: r.try_get(0)?,
                            reason: r.try_get(1)?,
                            placed_by: r.try_get(2)?,
                            placed_ms: r.try_get(3)?,
                        })
                    };
                    read().map_err(pg("read legal hold"))
                })
                .collect()
        })
    }
}
