//! Regulatory clocks of an incident: NIS2 Art. 23 (early warning 24 h, notification 72 h,
//! final report one month after the notification, a progress report instead while the
//! incident is still being handled) and GDPR Art. 33 (72 h, reasons when late), all from the
//! time of awareness.
//!
//! Hours are elapsed time: 24 h after 10:00 on the day clocks go forward is 11:00 local.
//! "One month" is calendar time in the organisation's time zone: the same local time on the
//! same day of the next month, the last day when that month is shorter; a local time that
//! does not exist that day (clocks jumped over it) is read with the offset before the jump
//! (02:30 on a night that goes from 02:00 to 03:00 becomes 03:30), and one that exists twice
//! (clocks went back) is the earlier of the two.

use chrono::{DateTime, Duration, LocalResult, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A regulation that sets notification deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// NIS2 Art. 23: significant incidents.
    Nis2,
    /// GDPR Art. 33: personal data breaches.
    Gdpr,
}

/// One report a regulation expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// NIS2 early warning, 24 h after awareness.
    Nis2EarlyWarning,
    /// NIS2 incident notification, 72 h after awareness.
    Nis2Notification,
    /// NIS2 progress report, due when the final report would be while the incident is still
    /// being handled.
    Nis2ProgressReport,
    /// NIS2 final report, one month after the notification (or after handling ends).
    Nis2FinalReport,
    /// GDPR Art. 33 notification to the supervisory authority, 72 h after awareness.
    GdprNotification,
}

impl Stage {
    /// Every stage, in the order they fall due.
    pub const ALL: [Stage; 5] = [
        Stage::Nis2EarlyWarning,
        Stage::Nis2Notification,
        Stage::Nis2ProgressReport,
        Stage::Nis2FinalReport,
        Stage::GdprNotification,
    ];

    /// Its name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Nis2EarlyWarning => "nis2_early_warning",
            Stage::Nis2Notification => "nis2_notification",
            Stage::Nis2ProgressReport => "nis2_progress_report",
            Stage::Nis2FinalReport => "nis2_final_report",
            Stage::GdprNotification => "gdpr_notification",
        }
    }

    /// The stage with this name.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }

    /// The regulation it belongs to.
    pub fn regime(self) -> Regime {
        match self {
            Stage::GdprNotification => Regime::Gdpr,
            _ => Regime::Nis2,
        }
    }

    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Nis2EarlyWarning => "NIS2 early warning (24 h)",
            Stage::Nis2Notification => "NIS2 incident notification (72 h)",
            Stage::Nis2ProgressReport => "NIS2 progress report (incident still being handled)",
            Stage::Nis2FinalReport => "NIS2 final report (one month after the notification)",
            Stage::GdprNotification => {
                "GDPR Art. 33 notification to the supervisory authority (72 h)"
            }
        }
    }
}

/// An incident marked as falling under NIS2 and/or GDPR, from the time someone became aware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The incident.
    pub incident_id: String,
    /// A significant incident in the sense of NIS2 Art. 23(3).
    pub nis2_significant: bool,
    /// A personal data breach in the sense of GDPR Art. 4(12).
    pub gdpr_breach: bool,
    /// When the organisation became aware (UTC ms): every clock starts here.
    pub aware_ms: i64,
    /// IANA time zone the organisation counts calendar months in (`Europe/Brussels`).
    pub timezone: String,
    /// Possible cross-border impact, when someone has judged it.
    #[serde(default)]
    pub cross_border: Option<bool>,
    /// Who marked it.
    pub marked_by: String,
    /// When (UTC ms).
    pub marked_ms: i64,
}

/// A report sent to the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The incident.
    pub incident_id: String,
    /// Which report.
    pub stage: Stage,
    /// When it was sent (UTC ms).
    pub submitted_ms: i64,
    /// Who sent it.
    pub submitted_by: String,
    /// The authority's reference, when it gave one.
    #[serde(default)]
    pub reference: Option<String>,
    /// After its deadline.
    pub late: bool,
    /// Why it was late (GDPR Art. 33(1) asks for them).
    #[serde(default)]
    pub late_reasons: Option<String>,
    /// SHA-256 (hex) of the draft as sent, so the audit entry names exactly what went out.
    pub draft_sha256: String,
}

/// Where a deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// Not yet due, not yet submitted.
    Open,
    /// Past due, not submitted.
    Overdue,
    /// Submitted on time.
    Submitted,
    /// Submitted after the deadline.
    SubmittedLate,
}

/// One deadline of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The incident.
    pub incident_id: String,
    /// Which report.
    pub stage: Stage,
    /// Its regulation.
    pub regime: Regime,
    /// Due (UTC ms).
    pub due_ms: i64,
    /// Due, in the mark's time zone (RFC 3339 with the offset of that day).
    pub due_local: String,
    /// Where it stands at the time asked.
    pub status: DeadlineStatus,
    /// When it was submitted.
    #[serde(default)]
    pub submitted_ms: Option<i64>,
    /// How the due time was reached, for people checking it.
    pub basis: String,
}

impl Deadline {
    /// Not submitted yet (open or overdue).
    pub fn is_pending(&self) -> bool {
        matches!(self.status, DeadlineStatus::Open | DeadlineStatus::Overdue)
    }
}

/// A clock that cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The time zone is not an IANA name.
    #[error("time zone {0:?} is not an IANA time zone name (e.g. Europe/Brussels, UTC)")]
    TimeZone(String),
    /// A time outside what the calendar arithmetic can represent.
    #[error("time {0} ms is outside the representable range")]
    OutOfRange(i64),
}

/// The time zone of this name.
pub fn parse_timezone(name: &str) -> Result<Tz, ClockError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ClockError::TimeZone(name.to_string()))
}

/// `at_ms` plus `hours` of elapsed time.
pub fn hours_after(at_ms: i64, hours: i64) -> i64 {
    at_ms.saturating_add(hours.saturating_mul(3_600_000))
}

/// The same local time one calendar month after `at_ms` in `tz` (see the module doc for
/// short months and clock changes).
pub fn month_after(at_ms: i64, tz: Tz) -> Result<i64, ClockError> {
    let utc = DateTime::<Utc>::from_timestamp_millis(at_ms).ok_or(ClockError::OutOfRange(at_ms))?;
    let local: NaiveDateTime = utc.with_timezone(&tz).naive_local();
    let target = local
        .checked_add_months(Months::new(1))
        .ok_or(ClockError::OutOfRange(at_ms))?;
    resolve_local(target, tz).ok_or(ClockError::OutOfRange(at_ms))
}

/// A local wall-clock time as an instant: the earlier one when it exists twice; read with
/// the offset in force before the jump when the clocks skipped it.
fn resolve_local(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    use chrono::Offset;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.timestamp_millis()),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.timestamp_millis()),
        LocalResult::None => {
            // A day earlier is before the jump (zones change offset at most once a day).
            let before = tz
                .from_local_datetime(&(local - Duration::days(1)))
                .earliest()?;
            let offset = before.offset().fix();
            Some((local - offset).and_utc().timestamp_millis())
        }
    }
}

/// `at_ms` written in `tz` (RFC 3339 with that day's offset).
pub fn local_string(at_ms: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .unwrap_or_else(|| format!("{at_ms} ms"))
}

/// Every deadline of a marked incident at `now_ms`. `handled_ms` is when the incident was
/// resolved (`None`: still being handled), which decides between a progress and a final
/// report.
pub fn deadlines(
    mark: &Mark,
    submissions: &[Submission],
    handled_ms: Option<i64>,
    now_ms: i64,
) -> Result<Vec<Deadline>, ClockError> {
    let tz = parse_timezone(&mark.timezone)?;
    let mut out = Vec::new();
    let mut push = |stage: Stage, due_ms: i64, basis: String| {
        let submitted = submissions
            .iter()
            .filter(|s| s.stage == stage)
            .map(|s| s.submitted_ms)
            .min();
        let status = match submitted {
            Some(at) if at <= due_ms => DeadlineStatus::Submitted,
            Some(_) => DeadlineStatus::SubmittedLate,
            None if now_ms > due_ms => DeadlineStatus::Overdue,
            None => DeadlineStatus::Open,
        };
        out.push(Deadline {
            incident_id: mark.incident_id.clone(),
            stage,
            regime: stage.regime(),
            due_ms,
            due_local: local_string(due_ms, tz),
            status,
            submitted_ms: submitted,
            basis,
        });
    };
    let aware = local_string(mark.aware_ms, tz);
    if mark.nis2_significant {
        push(
            Stage::Nis2EarlyWarning,
            hours_after(mark.aware_ms, 24),
            format!("24 h after awareness ({aware})"),
        );
        let notification_due = hours_after(mark.aware_ms, 72);
        push(
            Stage::Nis2Notification,
            notification_due,
            format!("72 h after awareness ({aware})"),
        );
        let notified = submissions
            .iter()
            .filter(|s| s.stage == Stage::Nis2Notification)
            .map(|s| s.submitted_ms)
            .min();
        let (from, what) = match notified {
            Some(at) => (at, "the notification was submitted"),
            None => (
                notification_due,
                "the notification is due (not yet submitted)",
            ),
        };
        let final_due = month_after(from, tz)?;
        let basis = format!("one month after {what} ({})", local_string(from, tz));
        match handled_ms {
            Some(handled) if handled <= final_due => push(Stage::Nis2FinalReport, final_due, basis),
            Some(handled) => {
                push(Stage::Nis2ProgressReport, final_due, basis);
                push(
                    Stage::Nis2FinalReport,
                    month_after(handled, tz)?,
                    format!(
                        "one month after handling ended ({})",
                        local_string(handled, tz)
                    ),
                );
            }
            None => push(
                Stage::Nis2ProgressReport,
                final_due,
                format!(
                    "{basis}; still being handled, so a progress report; the final report is due one month after handling ends"
                ),
            ),
        }
    }
    if mark.gdpr_breach {
        push(
            Stage::GdprNotification,
            hours_after(mark.aware_ms, 72),
            format!("72 h after awareness ({aware})"),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("test time")
            .timestamp_millis()
    }

    fn brussels() -> Tz {
        parse_timezone("Europe/Brussels").expect("tz")
    }

    #[test]
    fn hours_are_elapsed_time_across_the_spring_change() {
        // Clocks go from 02:00 to 03:00 on 29 March 2026 in Brussels.
        let aware = ms("2026-03-28T10:00:00+01:00");
        let due = hours_after(aware, 24);
        assert_eq!(local_string(due, brussels()), "2026-03-29T11:00:00+02:00");
    }

    #[test]
    fn hours_are_elapsed_time_across_the_autumn_change() {
        // Clocks go from 03:00 back to 02:00 on 25 October 2026 in Brussels.
        let aware = ms("2026-10-24T10:00:00+02:00");
        assert_eq!(
            local_string(hours_after(aware, 72), brussels()),
            "2026-10-27T09:00:00+01:00"
        );
    }

    #[test]
    fn a_month_keeps_the_local_time_across_a_change_of_offset() {
        let notified = ms("2026-03-10T09:30:00+01:00");
        let due = month_after(notified, brussels()).expect("month");
        assert_eq!(local_string(due, brussels()), "2026-04-10T09:30:00+02:00");
        assert_eq!(
            due - notified,
            (31 * 24 - 1) * 3_600_000,
            "one hour short: DST began"
        );
    }

    #[test]
    fn a_month_from_the_31st_ends_on_the_last_day_of_a_short_month() {
        let tz = parse_timezone("UTC").expect("tz");
        let due = month_after(ms("2026-01-31T10:00:00Z"), tz).expect("month");
        assert_eq!(local_string(due, tz), "2026-02-28T10:00:00+00:00");
    }

    #[test]
    fn a_local_time_the_clocks_skip_moves_past_the_jump() {
        // New York skips 02:00–03:00 on 8 March 2026: 02:30 does not exist that day.
        let tz = parse_timezone("America/New_York").expect("tz");
        let due = month_after(ms("2026-02-08T02:30:00-05:00"), tz).expect("month");
        assert_eq!(local_string(due, tz), "2026-03-08T03:30:00-04:00");
    }

    #[test]
    fn a_local_time_that_happens_twice_is_the_earlier() {
        // Brussels has 02:30 twice on 25 October 2026 (+02:00, then +01:00).
        let due = month_after(ms("2026-09-25T02:30:00+02:00"), brussels()).expect("month");
        assert_eq!(local_string(due, brussels()), "2026-10-25T02:30:00+02:00");
    }

    fn mark(nis2: bool, gdpr: bool) -> Mark {
        Mark {
            incident_id: "inc-1".into(),
            nis2_significant: nis2,
            gdpr_breach: gdpr,
            aware_ms: ms("2026-03-28T10:00:00+01:00"),
            timezone: "Europe/Brussels".into(),
            cross_border: None,
            marked_by: "carol".into(),
            marked_ms: ms("2026-03-28T10:05:00+01:00"),
        }
    }

    fn submitted(stage: Stage, at: &str) -> Submission {
        Submission {
            incident_id: "inc-1".into(),
            stage,
            submitted_ms: ms(at),
            submitted_by: "carol".into(),
            reference: None,
            late: false,
            late_reasons: None,
            draft_sha256: String::new(),
        }
    }

    #[test]
    fn nis2_deadlines_follow_the_submissions_and_the_handling() {
        let now = ms("2026-03-29T12:00:00+02:00");
        let early = [submitted(
            Stage::Nis2EarlyWarning,
            "2026-03-28T18:00:00+01:00",
        )];
        let list = deadlines(&mark(true, false), &early, None, now).expect("deadlines");
        let stages: Vec<_> = list.iter().map(|d| (d.stage, d.status)).collect();
        assert_eq!(
            stages,
            [
                (Stage::Nis2EarlyWarning, DeadlineStatus::Submitted),
                (Stage::Nis2Notification, DeadlineStatus::Open),
                (Stage::Nis2ProgressReport, DeadlineStatus::Open),
            ]
        );
        assert_eq!(list[1].due_local, "2026-03-31T11:00:00+02:00");
        // The notification went out on 30 March: the final report is due a month later, and
        // with the incident resolved before then it is a final report, not a progress one.
        let both = [
            early[0].clone(),
            submitted(Stage::Nis2Notification, "2026-03-30T16:00:00+02:00"),
        ];
        let handled = Some(ms("2026-04-02T12:00:00+02:00"));
        let list = deadlines(&mark(true, false), &both, handled, now).expect("deadlines");
        let last = list.last().expect("final");
        assert_eq!(last.stage, Stage::Nis2FinalReport);
        assert_eq!(last.due_local, "2026-04-30T16:00:00+02:00");
        // Still being handled after that: a progress report then, the final a month after.
        let late_handling = Some(ms("2026-05-20T09:00:00+02:00"));
        let list = deadlines(&mark(true, false), &both, late_handling, now).expect("deadlines");
        assert_eq!(list[2].stage, Stage::Nis2ProgressReport);
        assert_eq!(list[3].due_local, "2026-06-20T09:00:00+02:00");
    }

    #[test]
    fn gdpr_is_72_hours_and_a_late_submission_shows() {
        let now = ms("2026-04-05T00:00:00+02:00");
        let list = deadlines(&mark(false, true), &[], None, now).expect("deadlines");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, DeadlineStatus::Overdue);
        assert_eq!(list[0].due_local, "2026-03-31T11:00:00+02:00");
        let late = [submitted(
            Stage::GdprNotification,
            "2026-04-01T09:00:00+02:00",
        )];
        let list = deadlines(&mark(false, true), &late, None, now).expect("deadlines");
        assert_eq!(list[0].status, DeadlineStatus::SubmittedLate);
    }

    #[test]
    fn an_unknown_time_zone_is_refused_by_name() {
        let mut bad = mark(true, false);
        bad.timezone = "Mars/Olympus".into();
        let error = deadlines(&bad, &[], None, 0).unwrap_err().to_string();
        assert!(error.contains("Mars/Olympus"), "{error}");
    }
}
