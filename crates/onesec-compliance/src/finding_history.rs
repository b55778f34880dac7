//! Finding history: when each hygiene finding (device × check) was first seen open, last seen
//! and resolved, so "evidence for ISO 8.8 last quarter" shows the findings that were open then,
//! not only those open today. The server observes the current findings at every compliance
//! check (`[compliance] check_secs`); [`crate::ComplianceDb::observe_findings`] keeps the
//! spans.

use crate::coverage::{EvidenceItem, EvidenceKind, Period};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A finding as the history keeps it (the hygiene crate's `Finding` borrows static tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// Device id.
    pub device: String,
    /// Check id (`VULN-KEV`).
    pub check: String,
    /// Severity (`critical` … `info`).
    pub severity: String,
    /// Device site.
    pub site: Option<String>,
    /// One line: what is wrong.
    pub title: String,
    /// Canonical control ids it is evidence for.
    pub controls: Vec<String>,
}

impl FindingRecord {
    /// The record of a current finding.
    pub fn of(finding: &onesec_hygiene::Finding) -> FindingRecord {
        let controls: BTreeSet<String> = finding
            .controls
            .iter()
            .filter_map(crate::catalogue::hygiene_control_id)
            .collect();
        FindingRecord {
            device: finding.device.clone(),
            check: finding.check.to_string(),
            severity: finding.severity.as_str().to_string(),
            site: finding.site.clone(),
            title: finding.title.clone(),
            controls: controls.into_iter().collect(),
        }
    }
}

/// One span during which a finding was open (a span still open counts as open until now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingSpan {
    /// The finding as last seen.
    pub finding: FindingRecord,
    /// First seen open (UTC ms).
    pub first_ms: i64,
    /// When a check no longer found it (UTC ms); `None` while open.
    pub resolved_ms: Option<i64>,
}

impl FindingSpan {
    /// Whether it was open at some time of the period.
    pub fn overlaps(&self, period: Period) -> bool {
        self.first_ms <= period.to_ms && self.resolved_ms.is_none_or(|end| end >= period.from_ms)
    }
}

/// Evidence from finding spans: each span open during the period counts for its controls,
/// dated when it was first open within the period.
pub fn span_evidence(spans: &[FindingSpan], period: Period) -> Vec<EvidenceItem> {
    let mut out = Vec::new();
    for span in spans.iter().filter(|s| s.overlaps(period)) {
        let state = match span.resolved_ms {
            Some(at) => format!(
                "open {} – resolved {}",
                onesec_event::format_time_ms(span.first_ms),
                onesec_event::format_time_ms(at)
            ),
            None => format!("open since {}", onesec_event::format_time_ms(span.first_ms)),
        };
        for control in &span.finding.controls {
            out.push(EvidenceItem {
                control: control.clone(),
                kind: EvidenceKind::Finding,
                id: format!("{}/{}", span.finding.device, span.finding.check),
                at_ms: span.first_ms.max(period.from_ms),
                summary: format!("{} ({state})", span.finding.title),
                sites: span.finding.site.iter().cloned().collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first_ms: i64, resolved_ms: Option<i64>) -> FindingSpan {
        FindingSpan {
            finding: FindingRecord {
                device: "cam-7".into(),
                check: "CRED-DEFAULT".into(),
                severity: "high".into(),
                site: Some("HQ".into()),
                title: "default password".into(),
                controls: vec!["iso27001.5.17".into(), "iso27001.8.9".into()],
            },
            first_ms,
            resolved_ms,
        }
    }

    #[test]
    fn a_span_counts_for_the_periods_it_was_open_in() {
        let q1 = Period {
            from_ms: 1_000,
            to_ms: 1_999,
        };
        // Opened before the quarter, resolved in it: evidence dated the quarter's start.
        let resolved = span(500, Some(1_300));
        let items = span_evidence(std::slice::from_ref(&resolved), q1);
        assert_eq!(items.len(), 2);
        assert!(
            items
                .iter()
                .all(|i| i.at_ms == 1_000 && q1.contains(i.at_ms))
        );
        assert!(
            items[0].summary.contains("resolved"),
            "{}",
            items[0].summary
        );
        // Resolved before the quarter began, or first seen after it: nothing.
        assert!(span_evidence(&[span(100, Some(900))], q1).is_empty());
        assert!(span_evidence(&[span(2_500, None)], q1).is_empty());
        // Opened in the quarter and still open.
        let open = span_evidence(&[span(1_500, None)], q1);
        assert_eq!(open[0].at_ms, 1_500);
        assert!(open[0].summary.contains("open since"));
    }
}
