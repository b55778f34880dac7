//! Periods as people ask for them: `last-quarter`, `this-month`, `last-30-days`, or dates
//! (`2026-07-01`, local midnight in the organisation's zone; a `to` date includes its whole
//! day) and RFC 3339 times.

use crate::coverage::Period;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A period that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    /// Neither a known name nor dates.
    #[error(
        "period {0:?} is not one of last-quarter, this-quarter, last-month, this-month, last-7-days, last-30-days, last-365-days"
    )]
    Name(String),
    /// A date or time that does not read.
    #[error(
        "{which} {text:?} is neither a date (2026-07-01) nor an RFC 3339 time (2026-07-01T08:00:00+02:00)"
    )]
    Time {
        /// `from` or `to`.
        which: &'static str,
        /// What was given.
        text: String,
    },
    /// `from` after `to`.
    #[error("the period starts after it ends ({from_ms} > {to_ms} ms)")]
    Reversed {
        /// Start.
        from_ms: i64,
        /// End.
        to_ms: i64,
    },
}

/// The instant local midnight of `date` is in `tz` (an hour later where the clocks skip
/// midnight).
pub fn local_midnight(date: NaiveDate, tz: Tz) -> i64 {
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| (naive + Duration::hours(1)).and_utc().timestamp_millis())
}

fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

/// The named period at `now_ms` in `tz`.
pub fn named(name: &str, now_ms: i64, tz: Tz) -> Result<Period, PeriodError> {
    let today = DateTime::<Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let back =
        |months: u32, from: NaiveDate| from.checked_sub_months(Months::new(months)).unwrap_or(from);
    let (start, end_exclusive) = match name.trim() {
        "this-quarter" => (quarter_start(today), None),
        "last-quarter" => {
            let this = quarter_start(today);
            (back(3, this), Some(this))
        }
        "this-month" => (month_start, None),
        "last-month" => (back(1, month_start), Some(month_start)),
        "last-7-days" => (today - Duration::days(7), None),
        "last-30-days" => (today - Duration::days(30), None),
        "last-365-days" => (today - Duration::days(365), None),
        other => return Err(PeriodError::Name(other.to_string())),
    };
    Ok(Period {
        from_ms: local_midnight(start, tz),
        to_ms: end_exclusive
            .map(|d| local_midnight(d, tz) - 1)
            .unwrap_or(now_ms),
    })
}

/// A `from` or `to` bound: a date (local midnight; for `to`, the end of that day) or an RFC
/// 3339 time.
pub fn bound(text: &str, which: &'static str, tz: Tz) -> Result<i64, PeriodError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| PeriodError::Time {
        which,
        text: text.to_string(),
    })?;
    Ok(if which == "to" {
        local_midnight(date + Duration::days(1), tz) - 1
    } else {
        local_midnight(date, tz)
    })
}

/// The period of a query: `period=` by name, else `from`/`to` (defaults: 30 days before
/// `now_ms`, and `now_ms`).
pub fn resolve(
    period: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now_ms: i64,
    tz: Tz,
) -> Result<Period, PeriodError> {
    if let Some(name) = period.filter(|p| !p.trim().is_empty()) {
        return named(name, now_ms, tz);
    }
    let from_ms = match from {
        Some(text) => bound(text, "from", tz)?,
        None => now_ms - 30 * 86_400_000,
    };
    let to_ms = match to {
        Some(text) => bound(text, "to", tz)?,
        None => now_ms,
    };
    if from_ms > to_ms {
        return Err(PeriodError::Reversed { from_ms, to_ms });
    }
    Ok(Period { from_ms, to_ms })
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
    fn last_quarter_is_the_whole_previous_quarter_in_local_time() {
        let tz: Tz = "Europe/Brussels".parse().expect("tz");
        let p = named("last-quarter", ms("2026-11-26T10:00:00+01:00"), tz).expect("period");
        assert_eq!(p.from_ms, ms("2026-07-01T00:00:00+02:00"));
        assert_eq!(p.to_ms + 1, ms("2026-10-01T00:00:00+02:00"));
        let p = named("last-quarter", ms("2026-02-10T10:00:00+01:00"), tz).expect("period");
        assert_eq!(p.from_ms, ms("2025-10-01T00:00:00+02:00"));
        assert_eq!(p.to_ms + 1, ms("2026-01-01T00:00:00+01:00"));
    }

    #[test]
    fn dates_are_whole_local_days_and_bad_input_is_named() {
        let tz: Tz = "Europe/Brussels".parse().expect("tz");
        let p = resolve(None, Some("2026-07-01"), Some("2026-09-30"), 0, tz).expect("period");
        assert_eq!(p.from_ms, ms("2026-07-01T00:00:00+02:00"));
        assert_eq!(p.to_ms + 1, ms("2026-10-01T00:00:00+02:00"));
        let error = resolve(None, Some("July"), None, 0, tz)
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"July\""), "{error}");
        assert!(resolve(Some("fortnight"), None, None, 0, tz).is_err());
        assert!(resolve(None, Some("2026-09-30"), Some("2026-07-01"), 0, tz).is_err());
    }
}
