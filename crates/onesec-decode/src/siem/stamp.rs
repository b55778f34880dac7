//! Time stamps of CEF (`rt`, `end`, `start`) and LEEF (`devTime`, with its `devTimeFormat`).
//!
//! CEF allows epoch milliseconds and `MMM dd[ yyyy] HH:mm:ss[.SSS][ zzz]`; LEEF 1.0 uses epoch
//! milliseconds or `MMM dd yyyy HH:mm:ss`, and `devTimeFormat` (a Java `SimpleDateFormat`
//! pattern) for anything else. RFC 3339 is accepted as well since producers send it anyway.

use crate::DecodeContext;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Timelike};

/// UTC milliseconds of `text`, or why not.
pub(super) fn parse(
    text: &str,
    java_format: Option<&str>,
    ctx: &DecodeContext,
) -> Result<i64, String> {
    let text = crate::scan::trim(text);
    if let Some(pattern) = java_format {
        return with_pattern(text, pattern, ctx);
    }
    if text.len() >= 9 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<f64>()
            .ok()
            .and_then(crate::time::epoch_to_ms)
            .ok_or_else(|| format!("epoch time '{text}' is out of range"));
    }
    // Before the RFC 3339 and chrono attempts, which cannot read a month name anyway.
    if let Some(ms) = month_name_utc(text.as_bytes()) {
        return Ok(ms);
    }
    if let Some(ms) = crate::time::parse_text_in(text, &ctx.syslog.timezone) {
        return Ok(ms);
    }
    month_name_time(text, ctx).ok_or_else(|| {
        format!(
            "expected epoch milliseconds, 'MMM dd [yyyy ]HH:mm:ss[.SSS][ zone]' or RFC 3339, found '{}'",
            crate::scan::preview(text, 40)
        )
    })
}

/// The usual CEF time, `Mmm dd yyyy HH:mm:ss[.f] UTC` (or `GMT`, `Z`), read by hand: chrono's
/// `parse_from_str`, after the RFC 3339 attempts, was about 5 % of decoding a CEF record.
/// `None` for anything else (another zone, no year, a one-digit day, a month name in another
/// case, a leap second, more than nine fraction digits, an impossible date), which
/// [`month_name_time`] reads as before: where this answers, it answers the same (a test
/// compares them).
fn month_name_utc(text: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let [
        m0,
        m1,
        m2,
        b' ',
        d0,
        d1,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
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
    let month = MONTHS.iter().position(|name| **name == [*m0, *m1, *m2])? as i64 + 1;
    let number = crate::time::number;
    let year = number(&[*y0, *y1, *y2, *y3])?;
    let day = number(&[*d0, *d1])?;
    let (hour, minute, second) = (
        number(&[*h0, *h1])?,
        number(&[*mi0, *mi1])?,
        number(&[*s0, *s1])?,
    );
    let seconds = crate::time::utc_seconds(year, month, day, hour, minute, second)?;
    let (millis, zone) = crate::time::fraction_millis(rest)?;
    if !matches!(zone, b" UTC" | b" GMT" | b" Z") {
        return None;
    }
    Some(seconds * 1_000 + millis)
}

/// `MMM dd yyyy HH:mm:ss[.SSS][ zone]` or the same without the year (completed like RFC 3164
/// syslog time stamps). Without a zone the time is read in `SyslogSettings.timezone`.
fn month_name_time(text: &str, ctx: &DecodeContext) -> Option<i64> {
    let (stamp, zone) = split_zone(text)?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%b %d %Y %H:%M:%S%.f")
        .ok()
        .or_else(|| without_year(stamp, ctx))?;
    match zone {
        Zone::Local => crate::time::local_to_ms(&naive, &ctx.syslog.timezone),
        Zone::Named(tz) => crate::time::local_to_ms(&naive, &tz),
        Zone::Offset(offset) => naive
            .and_local_timezone(offset)
            .earliest()
            .map(|t| t.timestamp_millis()),
    }
}

/// `MMM dd HH:mm:ss[.SSS]` with the year chosen as for RFC 3164 syslog.
fn without_year(stamp: &str, ctx: &DecodeContext) -> Option<NaiveDateTime> {
    // 2000 is a leap year, so `Feb 29` parses; the real year is chosen next.
    let probe =
        NaiveDateTime::parse_from_str(&format!("2000 {stamp}"), "%Y %b %d %H:%M:%S%.f").ok()?;
    let year = crate::syslog::year_for(
        (
            probe.month(),
            probe.day(),
            probe.hour(),
            probe.minute(),
            probe.second(),
        ),
        ctx.syslog,
        ctx.received_ms,
    );
    probe.with_year(year)
}

enum Zone {
    Local,
    Named(chrono_tz::Tz),
    Offset(FixedOffset),
}

/// Splits a trailing zone (`UTC`, `GMT`, `Z`, `+01:00`, `-0500`, `CET`, `Europe/Paris`) from a
/// time stamp; `None` when the last word looks like a zone but is not one we know.
fn split_zone(text: &str) -> Option<(&str, Zone)> {
    let Some((stamp, last)) = text.rsplit_once(' ') else {
        return Some((text, Zone::Local));
    };
    // Java's `zzz` for a fixed offset: `GMT+01:00`, `UTC-05:00`.
    if let Some(offset) = last
        .strip_prefix("GMT")
        .or_else(|| last.strip_prefix("UTC"))
        .filter(|o| o.starts_with(['+', '-']))
    {
        return Some((stamp, Zone::Offset(parse_offset(offset)?)));
    }
    if last.contains(':') && !last.starts_with(['+', '-']) {
        return Some((text, Zone::Local));
    }
    let zone = match last {
        "UTC" | "GMT" | "Z" => Zone::Offset(FixedOffset::east_opt(0)?),
        offset if offset.starts_with(['+', '-']) => Zone::Offset(parse_offset(offset)?),
        name => Zone::Named(name.parse().ok()?),
    };
    Some((stamp, zone))
}

/// `+01:00`, `+0100` or `-05`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// LEEF `devTime` read with its `devTimeFormat`.
fn with_pattern(text: &str, pattern: &str, ctx: &DecodeContext) -> Result<i64, String> {
    // A trailing zone name (`... HH:mm:ss.SSS z`, the CEF-style stamp QRadar's own examples
    // use): chrono cannot read zone names, but `UTC` and `GMT` need no table.
    if let Some(head) = pattern.trim_end_matches('z').strip_suffix(' ')
        && head.len() < pattern.len() - 1
        && let Some(stamp) = [" UTC", " GMT"].iter().find_map(|z| text.strip_suffix(z))
    {
        let naive = NaiveDateTime::parse_from_str(stamp, &java_to_chrono(head)?)
            .map_err(|e| format!("'{text}' does not match devTimeFormat '{pattern}' ({e})"))?;
        return Ok(naive.and_utc().timestamp_millis());
    }
    let chrono_pattern = java_to_chrono(pattern)?;
    let mismatch =
        |e: chrono::ParseError| format!("'{text}' does not match devTimeFormat '{pattern}' ({e})");
    if chrono_pattern.contains('z') {
        return DateTime::parse_from_str(text, &chrono_pattern)
            .map(|t| t.timestamp_millis())
            .map_err(mismatch);
    }
    let naive = NaiveDateTime::parse_from_str(text, &chrono_pattern).map_err(mismatch)?;
    crate::time::local_to_ms(&naive, &ctx.syslog.timezone).ok_or_else(|| {
        format!(
            "'{text}' does not exist in time zone {}",
            ctx.syslog.timezone
        )
    })
}

/// Translates a Java `SimpleDateFormat` pattern into a chrono format string.
fn java_to_chrono(pattern: &str) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        if c == '\'' {
            i += quoted(&chars[i..], &mut out);
            continue;
        }
        if c.is_ascii_alphabetic() {
            out.push_str(letter(c, run).ok_or_else(|| {
                format!(
                    "devTimeFormat '{pattern}': pattern letter '{}' is not supported",
                    c.to_string().repeat(run)
                )
            })?);
        } else {
            for _ in 0..run {
                push_literal(c, &mut out);
            }
        }
        i += run;
    }
    Ok(out)
}

/// A quoted literal (`'T'`, or `''` for a quote) at the start of `chars`: appends it and
/// returns how many characters it took.
fn quoted(chars: &[char], out: &mut String) -> usize {
    if chars.get(1) == Some(&'\'') {
        out.push('\'');
        return 2;
    }
    let mut i = 1;
    while i < chars.len() && chars[i] != '\'' {
        push_literal(chars[i], out);
        i += 1;
    }
    (i + 1).min(chars.len())
}

/// Appends a literal character to a chrono format string.
fn push_literal(c: char, out: &mut String) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// The chrono specifier for a run of `count` Java pattern letters `c`.
fn letter(c: char, count: usize) -> Option<&'static str> {
    Some(match (c, count) {
        ('y', 2) => "%y",
        ('y', _) => "%Y",
        ('M', 1 | 2) => "%m",
        ('M', 3) => "%b",
        ('M', _) => "%B",
        ('d', _) => "%d",
        ('H', _) => "%H",
        ('h', _) => "%I",
        ('m', _) => "%M",
        ('s', _) => "%S",
        ('S', 1..=3) => "%3f",
        ('S', 6) => "%6f",
        ('S', 9) => "%9f",
        ('a', _) => "%p",
        ('E', 1..=3) => "%a",
        ('E', _) => "%A",
        ('Z', _) => "%z",
        ('X', 3) => "%:z",
        ('X', _) => "%#z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DecodeContext {
        DecodeContext::new("test", 1_773_180_000_000) // 2026-03-10T22:00:00Z
    }

    fn at(text: &str) -> Result<String, String> {
        parse(text, None, &ctx()).map(onesec_event::format_time_ms)
    }

    #[test]
    fn cef_time_forms() {
        assert_eq!(at("1773148350000").unwrap(), "2026-03-10T13:12:30.000Z");
        assert_eq!(
            at("Mar 10 2026 13:12:30").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        assert_eq!(
            at("Mar 10 2026 13:12:30.250 UTC").unwrap(),
            "2026-03-10T13:12:30.250Z"
        );
        assert_eq!(
            at("Mar 10 2026 14:12:30 +0100").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        assert_eq!(
            at("Mar 10 2026 14:12:30 CET").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        assert_eq!(at("Mar 10 13:12:30").unwrap(), "2026-03-10T13:12:30.000Z");
        assert_eq!(
            at("2026-03-10T13:12:30Z").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        // Java's `zzz` of a fixed offset.
        assert_eq!(
            at("Mar 10 2026 14:12:30 GMT+01:00").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        assert_eq!(
            at("Mar 10 2026 08:12:30.5 UTC-05:00").unwrap(),
            "2026-03-10T13:12:30.500Z"
        );
        let e = at("Mar 10 2026 13:12:30 XYZT").unwrap_err();
        assert!(e.contains("expected epoch milliseconds"), "{e}");
        assert!(at("soon").is_err());
    }

    #[test]
    fn month_name_fast_path_agrees_with_chrono() {
        let ctx = ctx();
        let mut texts = vec![
            "Mar 10 2026 13:12:30 GMT".to_string(),
            "Mar 10 2026 13:12:30.250 UTC".into(),
            "Mar 10 2026 13:12:30.2 Z".into(),
            "Mar 10 2026 13:12:30.123456789 UTC".into(),
            "Mar 10 2026 13:12:30.1234567891 UTC".into(),
            "Mar 10 2026 13:12:60 UTC".into(),
            "Mar 10 2026 24:00:00 UTC".into(),
            "Mar 10 2026 13:60:00 UTC".into(),
            "Mar 00 2026 13:12:30 UTC".into(),
            "Mar 1 2026 13:12:30 UTC".into(),
            "Mar  1 2026 13:12:30 UTC".into(),
            "MAR 10 2026 13:12:30 UTC".into(),
            "mar 10 2026 13:12:30 UTC".into(),
            "Mar 10 2026 13:12:30. UTC".into(),
            "Mar 10 2026 13:12:30 utc".into(),
            "Mar 10 2026 13:12:30 CET".into(),
            "Mar 10 2026 13:12:30 +0100".into(),
            "Mar 10 2026 13:12:30".into(),
            "Mar 10 13:12:30 UTC".into(),
            "Xyz 10 2026 13:12:30 UTC".into(),
            "Mar 1a 2026 13:12:30 UTC".into(),
            "Feb 29 0000 00:00:00 UTC".into(),
            "Dec 31 9999 23:59:59.999 UTC".into(),
            "Jan 01 1970 00:00:00 GMT".into(),
            "Jan 01 1969 23:59:59.5 GMT".into(),
        ];
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        for year in [1900, 1999, 2000, 2023, 2024, 2100] {
            for month in months {
                for day in [1, 28, 29, 30, 31] {
                    texts.push(format!("{month} {day:02} {year} 07:08:09.010 UTC"));
                }
            }
        }
        let mut answered = 0;
        for text in &texts {
            if let Some(fast) = month_name_utc(text.as_bytes()) {
                answered += 1;
                assert_eq!(Some(fast), month_name_time(text, &ctx), "{text}");
            }
        }
        assert!(answered > 300, "the fast path answered only {answered}");
    }

    #[test]
    fn leef_patterns() {
        let p = |text: &str, pattern: &str| {
            parse(text, Some(pattern), &ctx()).map(onesec_event::format_time_ms)
        };
        assert_eq!(
            p("2026-03-10T14:12:30.250+0100", "yyyy-MM-dd'T'HH:mm:ss.SSSZ").unwrap(),
            "2026-03-10T13:12:30.250Z"
        );
        assert_eq!(
            p("10/03/2026 01:12:30 PM", "dd/MM/yyyy hh:mm:ss a").unwrap(),
            "2026-03-10T13:12:30.000Z"
        );
        assert_eq!(
            p("Nov 27 2026 03:19:01.123 UTC", "MMM dd yyyy HH:mm:ss.SSS z").unwrap(),
            "2026-11-27T03:19:01.123Z"
        );
        assert_eq!(
            p("2026-11-27 03:19:01 GMT", "yyyy-MM-dd HH:mm:ss zzz").unwrap(),
            "2026-11-27T03:19:01.000Z"
        );
        let e = p("2026-03-10", "yyyy-MM-dd zzz").unwrap_err();
        assert!(e.contains("'zzz' is not supported"), "{e}");
        let e = p("tomorrow", "yyyy-MM-dd HH:mm:ss").unwrap_err();
        assert!(e.contains("does not match devTimeFormat"), "{e}");
    }
}
