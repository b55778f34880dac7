//! Reports on a schedule (`[[reports.schedule]]`): which period a run covers and when the
//! next one is due. Daily, weekly (Monday) and monthly (the 1st) runs cover the previous
//! whole day, week or month in the configured time zone. The server runs them and writes
//! to a folder or posts to a webhook.

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use chrono_tz::Tz;
use onesec_compliance::period::local_midnight;
/// How often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// After each day, for that day.
    Daily,
    /// Each Monday, for the week before.
    Weekly,
    /// Each 1st, for the month before.
    Monthly,
}

impl Every {
    /// `daily`, `weekly` or `monthly`.
    pub fn parse(name: &str) -> Option<Every> {
        match name.trim() {
            "daily" => Some(Every::Daily),
            "weekly" => Some(Every::Weekly),
            "monthly" => Some(Every::Monthly),
            _ => None,
        }
    }
}

/// The first local midnight in `tz` after `at_ms`.
pub fn next_local_midnight(at_ms: i64, tz: Tz) -> i64 {
    let day = DateTime::<Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    local_midnight(day + Duration::days(1), tz)
}

/// The period a run at `now_ms` covers: the last whole day, week (Monday to Sunday) or
/// month before it, local to `tz`; (from_ms, to_ms) both included.
pub fn period_before(every: Every, now_ms: i64, tz: Tz) -> (i64, i64) {
    let today = DateTime::<Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let (start, end) = match every {
        Every::Daily => (today - Duration::days(1), today),
        Every::Weekly => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (monday - Duration::days(7), monday)
        }
        Every::Monthly => {
            let first = today.with_day(1).unwrap_or(today);
            (
                first.checked_sub_months(Months::new(1)).unwrap_or(first),
                first,
            )
        }
    };
    (local_midnight(start, tz), local_midnight(end, tz) - 1)
}

/// Whether a run is due at `now_ms` for an entry last run at `last_ms`: a new period has
/// ended since.
pub fn is_due(every: Every, last_ms: Option<i64>, now_ms: i64, tz: Tz) -> bool {
    let (_, ended) = period_before(every, now_ms, tz);
    last_ms.is_none_or(|last| last <= ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .timestamp_millis()
    }

    #[test]
    fn periods_are_whole_local_days_weeks_and_months() {
        let tz: Tz = "Europe/Brussels".parse().expect("tz");
        let now = ms("2026-03-30T06:00:00+02:00"); // a Monday, the day after DST began
        let (from, to) = period_before(Every::Daily, now, tz);
        assert_eq!(from, ms("2026-03-29T00:00:00+01:00"));
        assert_eq!(to + 1, ms("2026-03-30T00:00:00+02:00"));
        assert_eq!(
            (to + 1 - from) / 3_600_000,
            23,
            "the day clocks go forward has 23 hours"
        );
        let (from, _) = period_before(Every::Weekly, now, tz);
        assert_eq!(from, ms("2026-03-23T00:00:00+01:00"));
        let (from, to) = period_before(Every::Monthly, now, tz);
        assert_eq!(from, ms("2026-02-01T00:00:00+01:00"));
        assert_eq!(to + 1, ms("2026-03-01T00:00:00+01:00"));
    }

    #[test]
    fn a_run_is_due_once_per_period() {
        let tz: Tz = "UTC".parse().expect("tz");
        let now = ms("2026-05-02T01:00:00Z");
        assert!(is_due(Every::Daily, None, now, tz));
        assert!(!is_due(
            Every::Daily,
            Some(ms("2026-05-02T00:30:00Z")),
            now,
            tz
        ));
        assert!(is_due(
            Every::Daily,
            Some(ms("2026-05-01T00:30:00Z")),
            now,
            tz
        ));
    }
}
