//! Where marks, drafts, submissions and escalations are kept: one SQLite file,
//! `<data>/compliance.db`, whose tables are created on open, so a data folder from before
//! compliance gains them the first time it is opened.

use crate::clock::{Deadline, Mark, Stage, Submission};
use crate::draft::Draft;
use crate::exercise::ExerciseResult;
use crate::finding_history::{FindingRecord, FindingSpan};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// A failure of the compliance database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file cannot be opened with the keys given (encryption at rest).
    #[error("compliance database: {0}")]
    Key(#[from] onesec_keys::sqlite::SqliteKeyError),
    /// SQLite refused.
    #[error("compliance database {path}: {action}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored row does not read back.
    #[error("compliance database {path}: {what} does not read back: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which row.
        what: String,
        /// Why.
        reason: String,
    },
}

/// An escalation of an overdue deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Escalation {
    /// The incident.
    pub incident_id: String,
    /// The overdue report.
    pub stage: Stage,
    /// Who was told (team keys or names, `[compliance] escalate_to`).
    pub recipients: Vec<String>,
    /// When (UTC ms).
    pub at_ms: i64,
    /// The deadline that passed (UTC ms).
    pub due_ms: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS regulatory_marks (
    incident_id TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS regulatory_drafts (
    incident_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (incident_id, stage)
);
CREATE TABLE IF NOT EXISTS regulatory_submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS regulatory_submissions_incident ON regulatory_submissions (incident_id);
CREATE TABLE IF NOT EXISTS report_runs (
    name TEXT PRIMARY KEY,
    last_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS regulatory_escalations (
    incident_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (incident_id, stage)
);
CREATE TABLE IF NOT EXISTS exercise_results (
    run_id TEXT PRIMARY KEY,
    ran_ms INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exercise_results_ran ON exercise_results (ran_ms);
CREATE TABLE IF NOT EXISTS finding_history (
    device TEXT NOT NULL,
    check_id TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    resolved_ms INTEGER,
    json TEXT NOT NULL,
    PRIMARY KEY (device, check_id, first_ms)
);
CREATE INDEX IF NOT EXISTS finding_history_open ON finding_history (resolved_ms);
";

/// The compliance database.
pub struct ComplianceDb {
    conn: Connection,
    path: PathBuf,
}

impl ComplianceDb {
    /// Opens (or creates) the file and its tables.
    pub fn open(path: &Path) -> Result<ComplianceDb, DbError> {
        let fail = |action| {
            let path = path.to_path_buf();
            move |source| DbError::Sqlite {
                path,
                action,
                source,
            }
        };
        // Encrypted with the process's key ring when encryption at rest is on.
        let conn = onesec_keys::sqlite::open(path, None)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail("set busy timeout"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL;")
            .map_err(fail("set WAL"))?;
        conn.execute_batch(SCHEMA).map_err(fail("create tables"))?;
        Ok(ComplianceDb {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn sql(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> DbError + '_ {
        move |source| DbError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    fn decode<T: DeserializeOwned>(&self, what: String, json: &str) -> Result<T, DbError> {
        serde_json::from_str(json).map_err(|e| DbError::Corrupt {
            path: self.path.clone(),
            what,
            reason: e.to_string(),
        })
    }

    /// Marks (or re-marks) an incident.
    pub fn put_mark(&self, mark: &Mark) -> Result<(), DbError> {
        let json = serde_json::to_string(mark).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO regulatory_marks (incident_id, json) VALUES (?1, ?2)
                 ON CONFLICT (incident_id) DO UPDATE SET json = excluded.json",
                params![mark.incident_id, json],
            )
            .map_err(self.sql("write mark"))?;
        Ok(())
    }

    /// The mark of an incident.
    pub fn mark(&self, incident_id: &str) -> Result<Option<Mark>, DbError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT json FROM regulatory_marks WHERE incident_id = ?1",
                params![incident_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql("read mark"))?;
        json.map(|j| self.decode(format!("mark of {incident_id}"), &j))
            .transpose()
    }

    /// Every mark.
    pub fn marks(&self) -> Result<Vec<Mark>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT incident_id, json FROM regulatory_marks ORDER BY incident_id")
            .map_err(self.sql("list marks"))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(self.sql("list marks"))?;
        rows.iter()
            .map(|(id, json)| self.decode(format!("mark of {id}"), json))
            .collect()
    }

    /// Saves a draft.
    pub fn put_draft(&self, draft: &Draft) -> Result<(), DbError> {
        let json = serde_json::to_string(draft).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO regulatory_drafts (incident_id, stage, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (incident_id, stage) DO UPDATE SET json = excluded.json",
                params![draft.incident_id, draft.stage.as_str(), json],
            )
            .map_err(self.sql("write draft"))?;
        Ok(())
    }

    /// The saved draft of one stage.
    pub fn draft(&self, incident_id: &str, stage: Stage) -> Result<Option<Draft>, DbError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT json FROM regulatory_drafts WHERE incident_id = ?1 AND stage = ?2",
                params![incident_id, stage.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql("read draft"))?;
        json.map(|j| self.decode(format!("draft {} of {incident_id}", stage.as_str()), &j))
            .transpose()
    }

    /// Records a submission.
    pub fn add_submission(&self, submission: &Submission) -> Result<(), DbError> {
        let json = serde_json::to_string(submission).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO regulatory_submissions (incident_id, stage, json) VALUES (?1, ?2, ?3)",
                params![submission.incident_id, submission.stage.as_str(), json],
            )
            .map_err(self.sql("write submission"))?;
        Ok(())
    }

    /// The submissions of an incident (every incident with `None`), oldest first.
    pub fn submissions(&self, incident_id: Option<&str>) -> Result<Vec<Submission>, DbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, json FROM regulatory_submissions
                 WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY seq",
            )
            .map_err(self.sql("list submissions"))?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(params![incident_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(self.sql("list submissions"))?;
        rows.iter()
            .map(|(seq, json)| self.decode(format!("submission {seq}"), json))
            .collect()
    }

    /// Records that an overdue deadline was escalated; `false` when it already was (each
    /// deadline is escalated once).
    pub fn add_escalation(&self, escalation: &Escalation) -> Result<bool, DbError> {
        let json = serde_json::to_string(escalation).unwrap_or_default();
        let added = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO regulatory_escalations (incident_id, stage, json)
                 VALUES (?1, ?2, ?3)",
                params![escalation.incident_id, escalation.stage.as_str(), json],
            )
            .map_err(self.sql("write escalation"))?;
        Ok(added == 1)
    }

    /// When the scheduled report `name` last ran.
    pub fn last_report_run(&self, name: &str) -> Result<Option<i64>, DbError> {
        self.conn
            .query_row(
                "SELECT last_ms FROM report_runs WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql("read report run"))
    }

    /// Records that the scheduled report `name` ran at `at_ms`.
    pub fn set_report_run(&self, name: &str, at_ms: i64) -> Result<(), DbError> {
        self.conn
            .execute(
                "INSERT INTO report_runs (name, last_ms) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_ms = excluded.last_ms",
                params![name, at_ms],
            )
            .map_err(self.sql("write report run"))?;
        Ok(())
    }

    /// Every escalation, by incident and stage.
    pub fn escalations(&self) -> Result<Vec<Escalation>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT incident_id, stage, json FROM regulatory_escalations ORDER BY incident_id, stage")
            .map_err(self.sql("list escalations"))?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(self.sql("list escalations"))?;
        rows.iter()
            .map(|(id, stage, json)| self.decode(format!("escalation {stage} of {id}"), json))
            .collect()
    }

    /// Notes the findings open at `now_ms`: a finding not open before starts a span (kept as
    /// first seen); one still open stays open; an open span whose finding is gone is resolved
    /// at `now_ms`.
    /// Returns (opened, resolved).
    pub fn observe_findings(
        &mut self,
        current: &[FindingRecord],
        now_ms: i64,
    ) -> Result<(usize, usize), DbError> {
        let path = self.path.clone();
        let sql = |action| {
            let path = path.clone();
            move |source| DbError::Sqlite {
                path,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(sql("begin finding history"))?;
        let open: Vec<(String, String, i64)> = {
            let mut stmt = tx
                .prepare("SELECT device, check_id, first_ms FROM finding_history WHERE resolved_ms IS NULL")
                .map_err(sql("list open findings"))?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .and_then(Iterator::collect)
                .map_err(sql("list open findings"))?
        };
        let now_open: std::collections::HashSet<(&str, &str)> = current
            .iter()
            .map(|f| (f.device.as_str(), f.check.as_str()))
            .collect();
        let mut resolved = 0;
        for (device, check, first_ms) in &open {
            if !now_open.contains(&(device.as_str(), check.as_str())) {
                tx.execute(
                    "UPDATE finding_history SET resolved_ms = ?4
                     WHERE device = ?1 AND check_id = ?2 AND first_ms = ?3",
                    params![device, check, first_ms, now_ms],
                )
                .map_err(sql("resolve a finding"))?;
                resolved += 1;
            }
        }
        let was_open: std::collections::HashSet<(&str, &str)> = open
            .iter()
            .map(|(d, c, _)| (d.as_str(), c.as_str()))
            .collect();
        let mut opened = 0;
        // A finding still open is left as it is: a large estate's hundreds of thousands of
        // open findings cost no write per check, only the ones that open or close.
        for finding in current
            .iter()
            .filter(|f| !was_open.contains(&(f.device.as_str(), f.check.as_str())))
        {
            let json = serde_json::to_string(finding).unwrap_or_default();
            tx.execute(
                "INSERT OR IGNORE INTO finding_history (device, check_id, first_ms, json)
                 VALUES (?1, ?2, ?3, ?4)",
                params![finding.device, finding.check, now_ms, json],
            )
            .map_err(sql("open a finding"))?;
            opened += 1;
        }
        tx.commit().map_err(sql("commit finding history"))?;
        Ok((opened, resolved))
    }

    /// The finding spans open at some time of `[from_ms, to_ms]`, by device and check.
    pub fn finding_spans(&self, from_ms: i64, to_ms: i64) -> Result<Vec<FindingSpan>, DbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT device, check_id, first_ms, resolved_ms, json FROM finding_history
                 WHERE first_ms <= ?2 AND (resolved_ms IS NULL OR resolved_ms >= ?1)
                 ORDER BY device, check_id, first_ms",
            )
            .map_err(self.sql("list finding history"))?;
        type Row = (String, String, i64, Option<i64>, String);
        let rows: Vec<Row> = stmt
            .query_map(params![from_ms, to_ms], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .and_then(Iterator::collect)
            .map_err(self.sql("list finding history"))?;
        rows.into_iter()
            .map(|(device, check, first_ms, resolved_ms, json)| {
                Ok(FindingSpan {
                    finding: self.decode(format!("finding {check} of {device}"), &json)?,
                    first_ms,
                    resolved_ms,
                })
            })
            .collect()
    }

    /// Records a drill's result (the same run again replaces it).
    pub fn put_exercise(&self, result: &ExerciseResult) -> Result<(), DbError> {
        let json = serde_json::to_string(result).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO exercise_results (run_id, ran_ms, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id) DO UPDATE SET ran_ms = excluded.ran_ms, json = excluded.json",
                params![result.run_id, result.ran_ms, json],
            )
            .map_err(self.sql("write exercise result"))?;
        Ok(())
    }

    /// The drill results that ran in `[from_ms, to_ms)`, oldest first.
    pub fn exercises(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ExerciseResult>, DbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, json FROM exercise_results
                 WHERE ran_ms >= ?1 AND ran_ms < ?2 ORDER BY ran_ms, run_id",
            )
            .map_err(self.sql("list exercise results"))?;
        let rows: Vec<(String, String)> = stmt
            .query_map(params![from_ms, to_ms], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .and_then(Iterator::collect)
            .map_err(self.sql("list exercise results"))?;
        rows.iter()
            .map(|(id, json)| self.decode(format!("exercise result {id}"), json))
            .collect()
    }
}

/// The overdue deadlines among `deadlines` that have not been escalated yet, as escalations
/// to `recipients` at `now_ms` (the caller records and announces them).
pub fn due_escalations(
    deadlines: &[Deadline],
    already: &[Escalation],
    recipients: &[String],
    now_ms: i64,
) -> Vec<Escalation> {
    let mut out = Vec::new();
    for deadline in deadlines
        .iter()
        .filter(|d| d.status == crate::clock::DeadlineStatus::Overdue)
    {
        let done = already
            .iter()
            .any(|e| e.incident_id == deadline.incident_id && e.stage == deadline.stage);
        if done {
            continue;
        }
        out.push(Escalation {
            incident_id: deadline.incident_id.clone(),
            stage: deadline.stage,
            recipients: recipients.to_vec(),
            at_ms: now_ms,
            due_ms: deadline.due_ms,
        });
    }
    out
}
