//! Injects become timed deliveries: each record's `{{time}}` placeholders are filled with the
//! moment it happens in scenario time, in the spelling its format uses.

use crate::scenario::{Checked, Inject, parse_duration};
use chrono::{DateTime, Utc};

/// Records of one format that happen at one moment, sent to the pipeline together.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Scenario time (UTC milliseconds).
    pub at_ms: i64,
    /// The inject they belong to; None for background traffic.
    pub inject: Option<String>,
    /// Decoder name (`syslog`, `onvif-ej`...).
    pub format: String,
    /// Header row (access CSV).
    pub header: Option<String>,
    /// The records.
    pub lines: Vec<String>,
}

/// The placeholders a record may hold.
const PLACEHOLDERS: [&str; 7] = [
    "time",
    "time:rfc3164",
    "time:windows",
    "time:epoch",
    "time:epoch_ms",
    "time:frigate",
    "n",
];

/// Whether every `{{...}}` of a record is known (the reason when not).
pub fn check_template(line: &str) -> Result<(), String> {
    let mut rest = line;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a {{ placeholder is not closed".to_string())?;
        let name = after[..close].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{{{name}}}}} (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[close + 2..];
    }
    Ok(())
}

/// Fills a record's placeholders for the moment `at_ms` and repetition `n` (from 1).
pub fn render(line: &str, at_ms: i64, n: u32) -> String {
    let time: DateTime<Utc> = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        match after[..close].trim() {
            "time" => out.push_str(&time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            "time:rfc3164" => out.push_str(&time.format("%b %e %H:%M:%S").to_string()),
            "time:windows" => out.push_str(&time.format("%Y-%m-%d %H:%M:%S").to_string()),
            "time:epoch" => out.push_str(&time.timestamp().to_string()),
            "time:epoch_ms" => out.push_str(&at_ms.to_string()),
            "time:frigate" => out.push_str(&format!("{:.3}", at_ms as f64 / 1000.0)),
            "n" => out.push_str(&n.to_string()),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// The deliveries of one inject: each record at its own time, records at the same time together.
pub fn expand(checked: &Checked, inject: &Inject) -> Vec<Delivery> {
    let at = checked.start_ms + parse_duration(&inject.at).unwrap_or(0);
    let every = inject
        .every
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(0);
    let mut out: Vec<Delivery> = Vec::new();
    let mut index = 0i64;
    for n in 1..=inject.repeat {
        for line in &inject.lines {
            let when = at + index * every;
            index += 1;
            let text = render(line, when, n);
            match out.last_mut() {
                Some(last) if last.at_ms == when => last.lines.push(text),
                _ => out.push(Delivery {
                    at_ms: when,
                    inject: Some(inject.id.clone()),
                    format: inject.format.clone(),
                    header: inject.header.clone(),
                    lines: vec![text],
                }),
            }
        }
    }
    out
}

/// The time of an inject in scenario time (UTC milliseconds).
pub fn inject_time(checked: &Checked, inject: &Inject) -> i64 {
    checked.start_ms + parse_duration(&inject.at).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_the_format_of_the_record() {
        let at = 1_777_932_000_123; // 2026-05-04T22:00:00.123Z
        assert_eq!(
            render("<86>1 {{time}} h sshd - - - x {{n}}", at, 3),
            "<86>1 2026-05-04T22:00:00.123Z h sshd - - - x 3"
        );
        assert_eq!(render("{{time:rfc3164}}", at, 1), "May  4 22:00:00");
        assert_eq!(render("{{time:windows}}", at, 1), "2026-05-04 22:00:00");
        assert_eq!(render("{{time:epoch}}", at, 1), "1777932000");
        assert_eq!(render("{{time:frigate}}", at, 1), "1777932000.123");
        assert!(check_template("{{time}} {{n}}").is_ok());
        assert!(
            check_template("{{when}}")
                .unwrap_err()
                .contains("unknown placeholder {{when}}")
        );
        assert!(check_template("{{time").is_err());
    }
}
