//! The response side in PostgreSQL ([`Cases`], [`Evidence`]) and the merges and splits by hand
//! written with detection batches: the same rows and order as `sqlite_cases.rs` and
//! `sqlite_evidence.rs`.

use crate::pg::{PgStore, pg, transition_incident};
use crate::sqlite::{from_json, to_json};
use crate::{
    Cases, Evidence, EvidenceItem, ManualRecord, Result, StoredAction, StoredRun, StoredTask,
};
use onesec_incident::{Case, HistoryEntry, Incident, IncidentState};
use postgres::{Client, Row, Transaction};

fn write_case(tx: &mut Transaction<'_>, case: &Case) -> Result<()> {
    tx.execute(
        "INSERT INTO incident_cases (incident_id, owner_team, priority, category, next_escalation_ms, json)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (incident_id) DO UPDATE SET owner_team = excluded.owner_team,
           priority = excluded.priority, category = excluded.category,
           next_escalation_ms = excluded.next_escalation_ms, json = excluded.json",
        &[
            &case.incident_id,
            &case.owner_team,
            &i64::from(case.priority.get()),
            &case.category.as_str(),
            &case.next_escalation_ms,
            &to_json(case),
        ],
    )
    .map_err(pg("upsert case"))?;
    Ok(())
}

fn append_history(tx: &mut Transaction<'_>, entries: &[HistoryEntry]) -> Result<()> {
    for e in entries {
        tx.execute(
            "INSERT INTO incident_history (incident_id, at_ms, actor, action, from_value, to_value, comment)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &e.incident_id,
                &e.at_ms,
                &e.actor,
                &e.action,
                &e.from,
                &e.to,
                &e.comment,
            ],
        )
        .map_err(pg("insert history"))?;
    }
    Ok(())
}

/// `(key, json)` rows decoded as `T`.
fn decode_rows<T: serde::de::DeserializeOwned>(
    table: &'static str,
    rows: &[Row],
) -> Result<Vec<T>> {
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0).map_err(pg("read row"))?;
            let json: &str = row.try_get(1).map_err(pg("read row"))?;
            from_json(table, id, json)
        })
        .collect()
}

fn run_from_row(r: &Row) -> std::result::Result<StoredRun, postgres::Error> {
    Ok(StoredRun {
        incident_id: r.try_get(0)?,
        playbook_id: r.try_get(1)?,
        status: r.try_get(2)?,
        next_wakeup_ms: r.try_get(3)?,
        updated_ms: r.try_get(4)?,
        json: r.try_get(5)?,
    })
}

impl Cases for PgStore {
    fn case(&self, incident_id: &str) -> Result<Option<Case>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT incident_id, json FROM incident_cases WHERE incident_id = $1",
                    &[&incident_id],
                )
                .map_err(pg("read case"))?;
            Ok(decode_rows("incident_cases", &rows)?.into_iter().next())
        })
    }

    fn put_case(&mut self, case: &Case, history: &[HistoryEntry]) -> Result<()> {
        self.in_transaction("write case", |tx| {
            write_case(tx, case)?;
            append_history(tx, history)
        })
    }

    fn change_state(
        &mut self,
        id: &str,
        state: IncidentState,
        case: &Case,
        entry: &HistoryEntry,
    ) -> Result<Incident> {
        self.in_transaction("change incident state", |tx| {
            let incident = transition_incident(tx, id, state)?;
            write_case(tx, case)?;
            append_history(tx, std::slice::from_ref(entry))?;
            Ok(incident)
        })
    }

    fn history(&self, incident_id: &str) -> Result<Vec<HistoryEntry>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT seq, incident_id, at_ms, actor, action, from_value, to_value, comment
                     FROM incident_history WHERE incident_id = $1 ORDER BY seq",
                    &[&incident_id],
                )
                .map_err(pg("query history"))?;
            rows.iter()
                .map(|r| {
                    Ok(HistoryEntry {
                        seq: r.try_get(0)?,
                        incident_id: r.try_get(1)?,
                        at_ms: r.try_get(2)?,
                        actor: r.try_get(3)?,
                        action: r.try_get(4)?,
                        from: r.try_get(5)?,
                        to: r.try_get(6)?,
                        comment: r.try_get(7)?,
                    })
                })
                .collect::<std::result::Result<_, postgres::Error>>()
                .map_err(pg("read history"))
        })
    }

    fn escalations_due(&self, now_ms: i64) -> Result<Vec<Case>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT incident_id, json FROM incident_cases
                     WHERE next_escalation_ms IS NOT NULL AND next_escalation_ms <= $1
                     ORDER BY next_escalation_ms, incident_id",
                    &[&now_ms],
                )
                .map_err(pg("query escalations"))?;
            decode_rows("incident_cases", &rows)
        })
    }

    fn save_run(
        &mut self,
        run: &StoredRun,
        tasks: &[StoredTask],
        actions: &[StoredAction],
    ) -> Result<()> {
        self.in_transaction("write run", |tx| {
            tx.execute(
                "INSERT INTO playbook_runs (incident_id, playbook_id, status, next_wakeup_ms, updated_ms, json)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (incident_id) DO UPDATE SET playbook_id = excluded.playbook_id,
                   status = excluded.status, next_wakeup_ms = excluded.next_wakeup_ms,
                   updated_ms = excluded.updated_ms, json = excluded.json",
                &[
                    &run.incident_id,
                    &run.playbook_id,
                    &run.status,
                    &run.next_wakeup_ms,
                    &run.updated_ms,
                    &run.json,
                ],
            )
            .map_err(pg("upsert run"))?;
            for t in tasks {
                tx.execute(
                    "INSERT INTO playbook_tasks (id, incident_id, team, state, json)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET team = excluded.team,
                       state = excluded.state, json = excluded.json",
                    &[&t.id, &t.incident_id, &t.team, &t.state, &t.json],
                )
                .map_err(pg("upsert task"))?;
            }
            for a in actions {
                tx.execute(
                    "INSERT INTO response_actions (incident_id, at_ms, json) VALUES ($1, $2, $3)",
                    &[&a.incident_id, &a.at_ms, &a.json],
                )
                .map_err(pg("insert action"))?;
            }
            Ok(())
        })
    }

    fn run(&self, incident_id: &str) -> Result<Option<StoredRun>> {
        self.with_client(|c| {
            c.query_opt(
                "SELECT incident_id, playbook_id, status, next_wakeup_ms, updated_ms, json
                 FROM playbook_runs WHERE incident_id = $1",
                &[&incident_id],
            )
            .and_then(|row| row.as_ref().map(run_from_row).transpose())
            .map_err(pg("read run"))
        })
    }

    fn runs_due(&self, now_ms: i64) -> Result<Vec<String>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT incident_id FROM playbook_runs
                     WHERE status = 'running' AND next_wakeup_ms IS NOT NULL AND next_wakeup_ms <= $1
                     ORDER BY next_wakeup_ms, incident_id",
                    &[&now_ms],
                )
                .map_err(pg("query due runs"))?;
            rows.iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()
                .map_err(pg("read due run"))
        })
    }

    fn tasks(&self, team: Option<&str>, open_only: bool) -> Result<Vec<StoredTask>> {
        let mut sql = String::from(
            "SELECT id, incident_id, team, state, json FROM playbook_tasks WHERE true",
        );
        if open_only {
            sql.push_str(" AND state = 'open'");
        }
        if team.is_some() {
            sql.push_str(" AND team = $1");
        }
        // Task ids are `<incident id>:<n>`: by incident, then by number.
        sql.push_str(
            " ORDER BY incident_id, coalesce(substring(id from '[0-9]+$')::BIGINT, 0), id",
        );
        self.with_client(|c| {
            let rows = match team {
                Some(team) => c.query(&sql, &[&team]),
                None => c.query(&sql, &[]),
            }
            .map_err(pg("query tasks"))?;
            rows.iter()
                .map(|r| {
                    Ok(StoredTask {
                        id: r.try_get(0)?,
                        incident_id: r.try_get(1)?,
                        team: r.try_get(2)?,
                        state: r.try_get(3)?,
                        json: r.try_get(4)?,
                    })
                })
                .collect::<std::result::Result<_, postgres::Error>>()
                .map_err(pg("read task"))
        })
    }

    fn actions(&self, incident_id: &str) -> Result<Vec<StoredAction>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT incident_id, at_ms, json FROM response_actions
                     WHERE incident_id = $1 ORDER BY seq",
                    &[&incident_id],
                )
                .map_err(pg("query actions"))?;
            rows.iter()
                .map(|r| {
                    Ok(StoredAction {
                        incident_id: r.try_get(0)?,
                        at_ms: r.try_get(1)?,
                        json: r.try_get(2)?,
                    })
                })
                .collect::<std::result::Result<_, postgres::Error>>()
                .map_err(pg("read action"))
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(table: &'static str, seq: i64, json: &str) -> Result<T> {
    from_json(table, seq.to_string(), json)
}

impl Evidence for PgStore {
    fn add_evidence(&mut self, item: &EvidenceItem, data: Option<&[u8]>) -> Result<EvidenceItem> {
        self.in_transaction("store evidence", |tx| {
            let seq: i64 = tx
                .query_one(
                    "INSERT INTO incident_evidence (incident_id, json, data) VALUES ($1, '{}', $2)
                     RETURNING seq",
                    &[&item.incident_id, &data],
                )
                .and_then(|row| row.try_get(0))
                .map_err(pg("insert evidence"))?;
            let mut stored = item.clone();
            stored.seq = seq;
            tx.execute(
                "UPDATE incident_evidence SET json = $2 WHERE seq = $1",
                &[&seq, &to_json(&stored)],
            )
            .map_err(pg("number evidence"))?;
            Ok(stored)
        })
    }

    fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceItem>> {
        self.with_client(|c| {
            let rows = c
                .query(
                    "SELECT seq, json FROM incident_evidence WHERE incident_id = $1 ORDER BY seq",
                    &[&incident_id],
                )
                .map_err(pg("query evidence"))?;
            rows.iter()
                .map(|r| {
                    let seq: i64 = r.try_get(0).map_err(pg("read evidence"))?;
                    let json: &str = r.try_get(1).map_err(pg("read evidence"))?;
                    parse("incident_evidence", seq, json)
                })
                .collect()
        })
    }

    fn evidence_data(
        &self,
        incident_id: &str,
        seq: i64,
    ) -> Result<Option<(EvidenceItem, Vec<u8>)>> {
        self.with_client(|c| {
            let row = c
                .query_opt(
                    "SELECT json, data FROM incident_evidence WHERE incident_id = $1 AND seq = $2",
                    &[&incident_id, &seq],
                )
                .map_err(pg("read evidence"))?;
            let Some(row) = row else {
                return Ok(None);
            };
            let json: &str = row.try_get(0).map_err(pg("read evidence"))?;
            let data: Option<Vec<u8>> = row.try_get(1).map_err(pg("read evidence"))?;
            Ok(Some((
                parse("incident_evidence", seq, json)?,
                data.unwrap_or_default(),
            )))
        })
    }
}

/// Appends operations by hand (inside a detection batch's transaction).
pub(crate) fn write_ops(tx: &mut Transaction<'_>, ops: &[ManualRecord]) -> Result<()> {
    for op in ops {
        tx.execute(
            "INSERT INTO incident_ops (at_ms, actor, json) VALUES ($1, $2, $3)",
            &[&op.at_ms, &op.actor, &to_json(op)],
        )
        .map_err(pg("insert incident operation"))?;
    }
    Ok(())
}

/// Every operation by hand, in the order they were done.
pub(crate) fn read_ops(client: &mut Client) -> Result<Vec<ManualRecord>> {
    let rows = client
        .query("SELECT seq, json FROM incident_ops ORDER BY seq", &[])
        .map_err(pg("query incident operations"))?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get(0).map_err(pg("read incident operation"))?;
            let json: &str = r.try_get(1).map_err(pg("read incident operation"))?;
            let mut op: ManualRecord = parse("incident_ops", seq, json)?;
            op.seq = seq;
            Ok(op)
        })
        .collect()
}
