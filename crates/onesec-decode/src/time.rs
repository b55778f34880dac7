//! Time stamps found in inputs, to UTC milliseconds.

use crate::jv::{Json, JsonNumberTrait, Value, view};
use chrono::{DateTime, NaiveDateTime, TimeZone};

/// Epoch number to milliseconds, guessing the unit from its size (s, ms, µs, ns).
pub(crate) fn epoch_to_ms(n: f64) -> Option<i64> {
    if !n.is_finite() {
        return None;
    }
    let magnitude = n.abs();
    let ms = if magnitude < 1e11 {
        n * 1000.0
    } else if magnitude < 1e14 {
        n
    } else if magnitude < 1e17 {
        n / 1000.0
    } else {
        n / 1_000_000.0
    };
    // Within chrono's range; the casts below cannot overflow.
    if ms.abs() > 8.0e15 {
        None
    } else {
        Some(ms.round() as i64)
    }
}

/// Parses a time text: RFC 3339, `YYYY-MM-DD[ T]HH:MM:SS[.f]` (UTC when no zone), or epoch
/// seconds/milliseconds as digits.
pub(crate) fn parse_text(text: &str) -> Option<i64> {
    parse_text_in(text, &chrono_tz::Tz::UTC)
}

/// Like [`parse_text`], zone-less times being read in `zone`.
pub(crate) fn parse_text_in(text: &str, zone: &chrono_tz::Tz) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(ms) = rfc3339_common(text.as_bytes()) {
        return Some(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && text.len() >= 9
        && !text.contains('-')
    {
        return text.parse::<f64>().ok().and_then(epoch_to_ms);
    }
    for pattern in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, pattern) {
            return local_to_ms(&naive, zone);
        }
    }
    // Offsets without a colon (`+0000`: Suricata EVE, Wazuh alerts) are no RFC 3339.
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f %#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, pattern) {
            return Some(t.timestamp_millis());
        }
    }
    None
}

/// The usual shape of an RFC 3339 time, `YYYY-MM-DDTHH:MM:SS[.f]` then `Z` or `±HH:MM`, read
/// by hand: chrono's `parse_from_rfc3339` was about 2 % of decoding a JSON record. `None` for
/// anything else (another separator or zone form, a leap second, more than nine fraction
/// digits, an impossible date), which goes to chrono as before: where this answers, chrono
/// answers the same (a test compares them).
fn rfc3339_common(text: &[u8]) -> Option<i64> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        rest @ ..,
    ] = text
    else {
        return None;
    };
    let year = number(&[*y0, *y1, *y2, *y3])?;
    let month = number(&[*mo0, *mo1])?;
    let day = number(&[*d0, *d1])?;
    let (hour, minute, second) = (
        number(&[*h0, *h1])?,
        number(&[*mi0, *mi1])?,
        number(&[*s0, *s1])?,
    );
    let seconds = utc_seconds(year, month, day, hour, minute, second)?;
    let (millis, zone) = fraction_millis(rest)?;
    let offset_minutes = match zone {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), oh0, oh1, b':', om0, om1] => {
            let (hours, minutes) = (number(&[*oh0, *oh1])?, number(&[*om0, *om1])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let minutes = hours * 60 + minutes;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    Some((seconds - offset_minutes * 60) * 1_000 + millis)
}

/// Seconds since the epoch of a calendar date and time of day read as UTC; `None` for an
/// impossible one (month 13, 30 February, hour 24, a leap second).
pub(crate) fn utc_seconds(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// An optional `.` and one to nine fraction digits (nanoseconds) at the start of `rest`: the
/// milliseconds they hold (truncated) and what follows. `None` for a `.` without digits or
/// more than nine of them.
pub(crate) fn fraction_millis(rest: &[u8]) -> Option<(i64, &[u8])> {
    let [b'.', after @ ..] = rest else {
        return Some((0, rest));
    };
    let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let (fraction, zone) = after.split_at(digits);
    let mut millis = 0;
    for place in 0..3 {
        millis = millis * 10 + fraction.get(place).map_or(0, |d| i64::from(d - b'0'));
    }
    Some((millis, zone))
}

/// The value of ASCII decimal digits (`None` if any byte is not one).
pub(crate) fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A local date-time in `zone` to UTC ms (the earlier instant when ambiguous).
pub(crate) fn local_to_ms(naive: &NaiveDateTime, zone: &chrono_tz::Tz) -> Option<i64> {
    zone.from_local_datetime(naive)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// A JSON time value: text as [`parse_text`], numbers as epoch (unit guessed).
pub(crate) fn parse_value(value: &Value) -> Option<i64> {
    match view(value) {
        Json::Str(text) => parse_text(text),
        Json::Number(n) => n.as_f64().and_then(epoch_to_ms),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_epochs() {
        let t = 1_773_129_491_000;
        assert_eq!(parse_text("2026-03-10T07:58:11Z"), Some(t));
        assert_eq!(parse_text("2026-03-10T08:58:11+01:00"), Some(t));
        assert_eq!(parse_text("2026-03-10 07:58:11"), Some(t));
        assert_eq!(parse_text("2026-03-10 07:58:11.000"), Some(t));
        assert_eq!(parse_text("1773129491"), Some(t));
        assert_eq!(parse_text("1773129491000"), Some(t));
        assert_eq!(parse_value(&sonic_rs::json!(1_773_129_491_000i64)), Some(t));
        assert_eq!(parse_value(&sonic_rs::json!(1_773_129_491.0)), Some(t));
        assert_eq!(parse_text("yesterday"), None);
        assert_eq!(parse_text("2026-03-10T08:58:11.000000+0100"), Some(t));
        assert_eq!(parse_text("2026-03-10T07:58:11+0000"), Some(t));
        assert_eq!(parse_value(&sonic_rs::json!(f64::MAX)), None);
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(parse_text_in("2026-03-10 08:58:11", &paris), Some(t));
    }

    #[test]
    fn the_rfc3339_fast_path_agrees_with_chrono() {
        let chrono = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        let mut texts = vec![
            "2026-03-10T07:58:11Z".to_string(),
            "2026-03-10T07:58:11.1Z".into(),
            "2026-03-10T07:58:11.999999999Z".into(),
            "2026-03-10T07:58:11.1234567891Z".into(),
            "2026-03-10T07:58:11.Z".into(),
            "2026-03-10T07:58:60Z".into(),
            "2026-03-10T24:00:00Z".into(),
            "2026-02-29T00:00:00Z".into(),
            "2024-02-29T00:00:00Z".into(),
            "2000-02-29T23:59:59.5-23:59".into(),
            "1900-02-29T00:00:00Z".into(),
            "1969-12-31T23:59:59.999Z".into(),
            "0001-01-01T00:00:00Z".into(),
            "9999-12-31T23:59:59.999+00:00".into(),
            "2026-03-10T07:58:11+24:00".into(),
            "2026-03-10T07:58:11+01:60".into(),
            "2026-03-10t07:58:11z".into(),
            "2026-03-10 07:58:11Z".into(),
            "2026-03-10T07:58:11".into(),
            "2026-3-10T07:58:11Z".into(),
            "2026-13-10T07:58:11Z".into(),
            "2026-00-10T07:58:11Z".into(),
            "2026-04-31T07:58:11Z".into(),
            "+2026-03-10T07:58:11Z".into(),
            "2026-03-10T07:58:11+0100".into(),
        ];
        // Every day of four years around a leap year and a century, at odd times and zones.
        for day in 0..(4 * 366) {
            let date =
                chrono::NaiveDate::from_ymd_opt(1999, 11, 1).unwrap() + chrono::Duration::days(day);
            let zone = ["Z", "+05:30", "-11:45", "+00:00"][day as usize % 4];
            let fraction = ["", ".5", ".123", ".000001", ".98765"][day as usize % 5];
            texts.push(format!(
                "{date}T{:02}:{:02}:{:02}{fraction}{zone}",
                day % 24,
                day % 60,
                (day * 7) % 60
            ));
        }
        for text in &texts {
            let fast = rfc3339_common(text.as_bytes());
            if fast.is_some() {
                assert_eq!(fast, chrono(text), "{text}");
            }
            assert_eq!(
                parse_text(text).filter(|_| chrono(text).is_some()),
                chrono(text),
                "{text}"
            );
        }
        // The common shapes take the fast path.
        for text in [
            "2026-03-10T07:58:11Z",
            "2026-03-10T07:58:11.123456Z",
            "2026-03-10T08:58:11+01:00",
        ] {
            assert!(rfc3339_common(text.as_bytes()).is_some(), "{text}");
        }
    }
}
