//! Casework beyond the life cycle: merges and splits by hand recorded on both incidents, a
//! run cancelled when its incident is closed, called a false alarm or merged away, and the
//! evidence people attach (files and references to stored events).

use super::{ResponseError, Responses, Result, entry, lock, ms};
use onesec_incident::ManualOp;
use onesec_incident::{Category, HistoryEntry, Incident};
use onesec_playbook::Run;
use onesec_store::EvidenceItem;

/// Longest file name kept for an attached file.
const MAX_NAME: usize = 200;

impl Responses {
    /// Records a merge or split detection has applied and stored: a history entry on each
    /// incident, an `incident.merge` / `incident.split` audit entry, and for a merge the
    /// merged-away incident's run cancelled.
    pub fn regrouped(
        &self,
        op: &ManualOp,
        incidents: &[Incident],
        by: &str,
        comment: &str,
    ) -> Result<()> {
        let now = self.now_ms();
        let (action, source, target, detail) = match op {
            ManualOp::Merge { from, into } => (
                "merge",
                from,
                into,
                serde_json::json!({ "from": from, "into": into, "comment": comment }),
            ),
            ManualOp::Split {
                incident,
                alerts,
                new_id,
            } => (
                "split",
                incident,
                new_id,
                serde_json::json!({
                    "from": incident, "new_incident": new_id, "alerts": alerts, "comment": comment,
                }),
            ),
        };
        for id in [source, target] {
            let guard = self.incident_lock(id);
            let _held = lock(&guard);
            let incident = match incidents.iter().find(|i| &i.id == id) {
                Some(i) => i.clone(),
                None => self.incident(id)?,
            };
            let case = self.ensure_case(&incident, now)?;
            let note = entry(
                id,
                now,
                by,
                action,
                Some(source.clone()),
                Some(target.clone()),
                comment,
            );
            self.with_store(|s| s.put_case(&case, std::slice::from_ref(&note)))?;
            if matches!(op, ManualOp::Merge { .. }) && id == source {
                self.cancel_run(id, by, &format!("merged into {target}"), now)?;
            }
        }
        self.audit(by, &format!("incident.{action}"), source, detail);
        Ok(())
    }

    /// Cancels the incident's running playbook run, if it has one: open tasks are cancelled,
    /// automated actions still to come are never performed; a `playbook` history entry and a
    /// `playbook.cancel` audit entry say who and why. The caller holds the incident's lock.
    pub(super) fn cancel_run(
        &self,
        incident_id: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool> {
        let Some(stored) = self.with_store(|s| s.run(incident_id))? else {
            return Ok(false);
        };
        let mut run = Run::from_json(&stored.json)
            .map_err(|e| ResponseError::Corrupt(incident_id.to_string(), e))?;
        let open_before = run.tasks().iter().filter(|t| t.is_open()).count();
        let audited = run.log().len();
        if !run.cancel(by, reason, ms(now)) {
            return Ok(false);
        }
        let incident = self.incident(incident_id)?;
        let case = self.ensure_case(&incident, now)?;
        self.save(&run, &incident, &[], now, audited)?;
        let note = entry(
            incident_id,
            now,
            by,
            "playbook",
            Some("running".into()),
            Some("cancelled".into()),
            reason,
        );
        self.with_store(|s| s.put_case(&case, std::slice::from_ref(&note)))?;
        self.audit(
            by,
            "playbook.cancel",
            incident_id,
            serde_json::json!({
                "playbook": run.playbook().id, "reason": reason, "tasks_cancelled": open_before,
            }),
        );
        tracing::info!(incident = incident_id, by, reason, "playbook run cancelled");
        Ok(true)
    }

    /// Whether a category stops the response: a false alarm needs none.
    pub(super) fn stops_response(category: Category) -> bool {
        category == Category::FalseAlarm
    }

    /// Attaches a file to the incident (kept whole in the store with its SHA-256).
    pub fn attach_file(
        &self,
        incident_id: &str,
        name: &str,
        media_type: Option<&str>,
        data: &[u8],
        note: &str,
        by: &str,
    ) -> Result<EvidenceItem> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME
            || name
                .chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
        {
            return Err(ResponseError::Invalid(format!(
                "file name {name:?}: give a plain name of at most {MAX_NAME} characters, without / \\ \" or control characters"
            )));
        }
        if data.is_empty() {
            return Err(ResponseError::Invalid("the file is empty".into()));
        }
        let item = EvidenceItem {
            seq: 0,
            incident_id: incident_id.to_string(),
            kind: "file".into(),
            name: name.to_string(),
            media_type: Some(
                media_type
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or("application/octet-stream")
                    .to_string(),
            ),
            size: data.len() as u64,
            sha256: Some(crate::audit::sha256_hex(&[data])),
            event_id: None,
            note: note.trim().to_string(),
            added_by: by.to_string(),
            added_ms: self.now_ms(),
        };
        self.keep_evidence(item, Some(data))
    }

    /// Attaches a reference to a stored event (any event, not only the incident's own).
    pub fn attach_event(
        &self,
        incident_id: &str,
        event_id: u64,
        note: &str,
        by: &str,
    ) -> Result<EvidenceItem> {
        let found = self.with_store(|s| s.events_by_ids(&[event_id]))?;
        let event = found
            .into_iter()
            .next()
            .ok_or_else(|| ResponseError::Invalid(format!("no stored event {event_id}")))?;
        let label = format!(
            "{} {} {}",
            event.time_rfc3339(),
            event.class.as_str(),
            if event.message.is_empty() {
                event.activity.as_str()
            } else {
                event.message.as_str()
            }
        );
        let item = EvidenceItem {
            seq: 0,
            incident_id: incident_id.to_string(),
            kind: "event".into(),
            name: label,
            media_type: None,
            size: 0,
            sha256: None,
            event_id: Some(event_id),
            note: note.trim().to_string(),
            added_by: by.to_string(),
            added_ms: self.now_ms(),
        };
        self.keep_evidence(item, None)
    }

    fn keep_evidence(&self, item: EvidenceItem, data: Option<&[u8]>) -> Result<EvidenceItem> {
        let guard = self.incident_lock(&item.incident_id);
        let _held = lock(&guard);
        let incident = self.incident(&item.incident_id)?;
        let case = self.ensure_case(&incident, item.added_ms)?;
        let stored = self.with_store(|s| s.add_evidence(&item, data))?;
        let what = match stored.event_id {
            Some(id) => format!("event {id}"),
            None => format!("file {} ({} bytes)", stored.name, stored.size),
        };
        let note: HistoryEntry = entry(
            &stored.incident_id,
            stored.added_ms,
            &stored.added_by,
            "evidence",
            None,
            Some(what),
            &stored.note,
        );
        self.with_store(|s| s.put_case(&case, std::slice::from_ref(&note)))?;
        self.audit(
            &stored.added_by,
            "incident.evidence",
            &stored.incident_id,
            serde_json::json!({
                "seq": stored.seq, "kind": stored.kind, "name": stored.name,
                "sha256": stored.sha256, "size": stored.size, "event_id": stored.event_id,
                "note": stored.note,
            }),
        );
        Ok(stored)
    }

    /// The evidence of an incident, oldest first.
    pub fn evidence(&self, incident_id: &str) -> Result<Vec<EvidenceItem>> {
        self.with_store(|s| s.evidence(incident_id))
    }

    /// One attached file with its bytes.
    pub fn evidence_file(&self, incident_id: &str, seq: i64) -> Result<(EvidenceItem, Vec<u8>)> {
        self.with_store(|s| s.evidence_data(incident_id, seq))?
            .ok_or_else(|| ResponseError::UnknownEvidence(format!("{incident_id}/{seq}")))
    }
}
