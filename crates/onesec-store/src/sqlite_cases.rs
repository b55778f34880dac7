//! The response side of the store: cases and their history, playbook runs, team tasks and
//! the record of response actions. Detection never writes these tables.
//!
//! The tables are created with `IF NOT EXISTS` when a database is opened, so a database made by
//! an older onesec gains them empty and keeps everything else.

use crate::sqlite::{SqliteStore, to_json};
use crate::{Result, StoreError};
use onesec_incident::{Case, HistoryEntry, Incident, IncidentState};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incident_cases (
    incident_id TEXT PRIMARY KEY,
    owner_team TEXT NOT NULL,
    priority INTEGER NOT NULL,
    category TEXT NOT NULL,
    next_escalation_ms INTEGER,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_cases_escalation ON incident_cases(next_escalation_ms);
CREATE TABLE IF NOT EXISTS incident_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    comment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_history_incident ON incident_history(incident_id, seq);
CREATE TABLE IF NOT EXISTS playbook_runs (
    incident_id TEXT PRIMARY KEY,
    playbook_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_wakeup_ms INTEGER,
    updated_ms INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS playbook_runs_wakeup ON playbook_runs(next_wakeup_ms);
CREATE TABLE IF NOT EXISTS playbook_tasks (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    team TEXT NOT NULL,
    state TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS playbook_tasks_open ON playbook_tasks(state, team);
CREATE TABLE IF NOT EXISTS response_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS response_actions_incident ON response_actions(incident_id, seq);
";

/// A playbook run as the store keeps it: a few columns to find it, the run itself as JSON
/// (the store does not know the playbook engine's types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    /// The incident the run responds to (one run per incident).
    pub incident_id: String,
    /// The CACAO id of its main playbook.
    pub playbook_id: String,
    /// `running`, `completed`, `failed`, `budget_exhausted`.
    pub status: String,
    /// When a timer of the run is due (a delay, a task deadline); `None`: nothing scheduled.
    pub next_wakeup_ms: Option<i64>,
    /// When it was last saved.
    pub updated_ms: i64,
    /// The run, as the engine wrote it.
    pub json: String,
}

/// A team task, kept beside its run so a team's list is one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTask {
    /// `<incident id>:<n>`.
    pub id: String,
    /// The incident.
    pub incident_id: String,
    /// Team key.
    pub team: String,
    /// `open`, `approved`, `rejected`, `timed_out`, `cancelled`.
    pub state: String,
    /// The task as the API shows it.
    pub json: String,
}

/// One response action (an automated command, performed, simulated or refused), as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAction {
    /// The incident.
    pub incident_id: String,
    /// When it ran.
    pub at_ms: i64,
    /// What, through which connector, with what result.
    pub json: String,
}

/// What people and the response engine keep about incidents. Detection never writes here.
pub trait Cases {
    /// The case of an incident, if it has one.
    fn case(&self, incident_id: &str) -> Result<Option<Case>>;
    /// Writes a case and appends history entries, in one transaction.
    fn put_case(&mut self, case: &Case, history: &[HistoryEntry]) -> Result<()>;
    /// A person moves an incident along its life cycle: the incident's state, its case and
    /// the history entry, in one transaction. Refused (nothing written) when the life cycle
    /// does not allow it.
    fn change_state(
        &mut self,
        id: &str,
        state: IncidentState,
        case: &Case,
        entry: &HistoryEntry,
    ) -> Result<Incident>;
    /// The incident's history, oldest first.
    fn history(&self, incident_id: &str) -> Result<Vec<HistoryEntry>>;
    /// Cases whose next escalation is due at `now_ms`.
    fn escalations_due(&self, now_ms: i64) -> Result<Vec<Case>>;
    /// Writes a run, its tasks and the actions it took since the last save, in one
    /// transaction.
    fn save_run(
        &mut self,
        run: &StoredRun,
        tasks: &[StoredTask],
        actions: &[StoredAction],
    ) -> Result<()>;
    /// The run of an incident.
    fn run(&self, incident_id: &str) -> Result<Option<StoredRun>>;
    /// Incident ids of running runs with a timer due at `now_ms`.
    fn runs_due(&self, now_ms: i64) -> Result<Vec<String>>;
    /// Tasks, of one team if given, only open ones if `open_only`; by incident, then number.
    fn tasks(&self, team: Option<&str>, open_only: bool) -> Result<Vec<StoredTask>>;
    /// The response actions of an incident, oldest first.
    fn actions(&self, incident_id: &str) -> Result<Vec<StoredAction>>;
}

fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { action, source }
}

fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: &str,
    json: &str,
) -> Result<T> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
        table,
        id: id.to_string(),
        source,
    })
}

fn write_case(tx: &Transaction<'_>, case: &Case) -> Result<()> {
    tx.execute(
        "INSERT INTO incident_cases (incident_id, owner_team, priority, category, next_escalation_ms, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(incident_id) DO UPDATE SET owner_team = excluded.owner_team,
           priority = excluded.priority, category = excluded.category,
           next_escalation_ms = excluded.next_escalation_ms, json = excluded.json",
        params![
            case.incident_id,
            case.owner_team,
            case.priority.get(),
            case.category.as_str(),
            case.next_escalation_ms,
            to_json(case)
        ],
    )
    .map_err(db("upsert case"))?;
    Ok(())
}

fn append_history(tx: &Transaction<'_>, entries: &[HistoryEntry]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO incident_history (incident_id, at_ms, actor, action, from_value, to_value, comment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db("prepare history insert"))?;
    for e in entries {
        stmt.execute(params![
            e.incident_id,
            e.at_ms,
            e.actor,
            e.action,
            e.from,
            e.to,
            e.comment
        ])
        .map_err(db("insert history"))?;
    }
    Ok(())
}

fn read_case(conn: &Connection, incident_id: &str) -> Result<Option<Case>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT json FROM incident_cases WHERE incident_id = ?1",
            [incident_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("read case"))?;
    json.map(|j| from_json("incident_cases", incident_id, &j))
        .transpose()
}

impl Cases for SqliteStore {
    fn case(&self, incident_id: &str) -> Result<Option<Case>> {
        read_case(&self.conn, incident_id)
    }

    fn put_case(&mut self, case: &Case, history: &[HistoryEntry]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("begin case write"))?;
        write_case(&tx, case)?;
        append_history(&tx, history)?;
        tx.commit().map_err(db("commit case write"))
    }

    fn change_state(
        &mut self,
        id: &str,
        state: IncidentState,
        case: &Case,
        entry: &HistoryEntry,
    ) -> Result<Incident> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("begin state change"))?;
        let json: Option<String> = tx
            .query_row("SELECT json FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("read incident"))?;
        let json = json.ok_or_else(|| StoreError::NotFound(format!("no incident {id}")))?;
        let mut incident: Incident = from_json("incidents", id, &json)?;
        incident.transition(state)?;
        tx.execute(
            "UPDATE incidents SET state = ?2, json = ?3 WHERE id = ?1",
            params![id, incident.state.as_str(), to_json(&incident)],
        )
        .map_err(db("update incident state"))?;
        write_case(&tx, case)?;
        append_history(&tx, std::slice::from_ref(entry))?;
        tx.commit().map_err(db("commit state change"))?;
        Ok(incident)
    }

    fn history(&self, incident_id: &str) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, incident_id, at_ms, actor, action, from_value, to_value, comment
                 FROM incident_history WHERE incident_id = ?1 ORDER BY seq",
            )
            .map_err(db("prepare history query"))?;
        let rows = stmt
            .query_map([incident_id], |r| {
                Ok(HistoryEntry {
                    seq: r.get(0)?,
                    incident_id: r.get(1)?,
                    at_ms: r.get(2)?,
                    actor: r.get(3)?,
                    action: r.get(4)?,
                    from: r.get(5)?,
                    to: r.get(6)?,
                    comment: r.get(7)?,
                })
            })
            .map_err(db("query history"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read history"))
    }

    fn escalations_due(&self, now_ms: i64) -> Result<Vec<Case>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT incident_id, json FROM incident_cases
                 WHERE next_escalation_ms IS NOT NULL AND next_escalation_ms <= ?1
                 ORDER BY next_escalation_ms, incident_id",
            )
            .map_err(db("prepare escalation query"))?;
        let rows = stmt
            .query_map([now_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db("query escalations"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(db("read case"))?;
            out.push(from_json("incident_cases", &id, &json)?);
        }
        Ok(out)
    }

    fn save_run(
        &mut self,
        run: &StoredRun,
        tasks: &[StoredTask],
        actions: &[StoredAction],
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("begin run write"))?;
        tx.execute(
            "INSERT INTO playbook_runs (incident_id, playbook_id, status, next_wakeup_ms, updated_ms, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(incident_id) DO UPDATE SET playbook_id = excluded.playbook_id,
               status = excluded.status, next_wakeup_ms = excluded.next_wakeup_ms,
               updated_ms = excluded.updated_ms, json = excluded.json",
            params![
                run.incident_id,
                run.playbook_id,
                run.status,
                run.next_wakeup_ms,
                run.updated_ms,
                run.json
            ],
        )
        .map_err(db("upsert run"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO playbook_tasks (id, incident_id, team, state, json)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(id) DO UPDATE SET team = excluded.team,
                       state = excluded.state, json = excluded.json",
                )
                .map_err(db("prepare task upsert"))?;
            for t in tasks {
                stmt.execute(params![t.id, t.incident_id, t.team, t.state, t.json])
                    .map_err(db("upsert task"))?;
            }
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO response_actions (incident_id, at_ms, json) VALUES (?1, ?2, ?3)",
                )
                .map_err(db("prepare action insert"))?;
            for a in actions {
                stmt.execute(params![a.incident_id, a.at_ms, a.json])
                    .map_err(db("insert action"))?;
            }
        }
        tx.commit().map_err(db("commit run write"))
    }

    fn run(&self, incident_id: &str) -> Result<Option<StoredRun>> {
        self.conn
            .query_row(
                "SELECT incident_id, playbook_id, status, next_wakeup_ms, updated_ms, json
                 FROM playbook_runs WHERE incident_id = ?1",
                [incident_id],
                |r| {
                    Ok(StoredRun {
                        incident_id: r.get(0)?,
                        playbook_id: r.get(1)?,
                        status: r.get(2)?,
                        next_wakeup_ms: r.get(3)?,
                        updated_ms: r.get(4)?,
                        json: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db("read run"))
    }

    fn runs_due(&self, now_ms: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT incident_id FROM playbook_runs
                 WHERE status = 'running' AND next_wakeup_ms IS NOT NULL AND next_wakeup_ms <= ?1
                 ORDER BY next_wakeup_ms, incident_id",
            )
            .map_err(db("prepare due runs query"))?;
        let rows = stmt
            .query_map([now_ms], |r| r.get(0))
            .map_err(db("query due runs"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read due run"))
    }

    fn tasks(&self, team: Option<&str>, open_only: bool) -> Result<Vec<StoredTask>> {
        let mut sql =
            String::from("SELECT id, incident_id, team, state, json FROM playbook_tasks WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        if open_only {
            sql.push_str(" AND state = 'open'");
        }
        if let Some(team) = team {
            sql.push_str(" AND team = ?");
            args.push(team.to_string());
        }
        sql.push_str(" ORDER BY incident_id, CAST(substr(id, length(incident_id) + 2) AS INTEGER)");
        let mut stmt = self.conn.prepare(&sql).map_err(db("prepare task query"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(StoredTask {
                    id: r.get(0)?,
                    incident_id: r.get(1)?,
                    team: r.get(2)?,
                    state: r.get(3)?,
                    json: r.get(4)?,
                })
            })
            .map_err(db("query tasks"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read task"))
    }

    fn actions(&self, incident_id: &str) -> Result<Vec<StoredAction>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT incident_id, at_ms, json FROM response_actions
                 WHERE incident_id = ?1 ORDER BY seq",
            )
            .map_err(db("prepare action query"))?;
        let rows = stmt
            .query_map([incident_id], |r| {
                Ok(StoredAction {
                    incident_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    json: r.get(2)?,
                })
            })
            .map_err(db("query actions"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db("read action"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectionBatch, Store};
    use onesec_event::{Domain, Severity};
    use onesec_incident::{Entities, SlaPolicy};

    fn incident(id: &str) -> Incident {
        Incident {
            id: id.into(),
            title: "t".into(),
            domain: Domain::Hybrid,
            priority: Severity::High,
            state: IncidentState::New,
            alert_ids: vec!["a1".into()],
            active_alerts: 1,
            entities: Entities::default(),
            first_ms: 10,
            last_ms: 20,
            merged_into: None,
            repeats: 0,
        }
    }

    #[test]
    fn a_database_from_before_cases_gains_the_tables_and_keeps_its_incidents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut old = SqliteStore::open(&path).unwrap();
            old.commit(&DetectionBatch {
                incidents: vec![incident("i1")],
                ..Default::default()
            })
            .unwrap();
            old.conn
                .execute_batch(
                    "DROP TABLE incident_cases; DROP TABLE incident_history; DROP TABLE playbook_runs;
                     DROP TABLE playbook_tasks; DROP TABLE response_actions;",
                )
                .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert!(store.incident("i1").unwrap().is_some());
        assert_eq!(store.case("i1").unwrap(), None);
        let case = Case::open(&incident("i1"), &[], &SlaPolicy::default(), 0);
        store.put_case(&case, &[]).unwrap();
        assert!(store.case("i1").unwrap().is_some());
    }
}
