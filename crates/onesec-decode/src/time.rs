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
    for pattern in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f %#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, pattern) {
            return Some(t.timestamp_millis());
        }
    }
    None
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
        assert_eq!(parse_value(&sonic_rs::json!(f64::MAX)), None);
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(parse_text_in("2026-03-10 08:58:11", &paris), Some(t));
    }
}
