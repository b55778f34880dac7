//! IBM QRadar Log Event Extended Format.
//!
//! * LEEF 1.0: `LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...`
//! * LEEF 2.0: `LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|key=value...`, the
//!   delimiter being one character (`^`) or its code in hex (`0x5E`, `x5E`, `0x09`); empty or
//!   absent means tab.
//!
//! LEEF defines no escaping inside attribute values (the delimiter simply cannot occur in them);
//! a `\|` in the header is read as `|`, as producers that share code with CEF write it.

use super::{Record, RecordError, Syntax};
use std::borrow::Cow;

/// Parses a LEEF record; `text` starts with `LEEF:`.
pub(crate) fn parse(text: &str) -> Result<Record<'_>, RecordError> {
    if !text.starts_with("LEEF:") {
        return Err(RecordError::NotThisFormat {
            format: Syntax::Leef,
        });
    }
    let (version, rest_at) = field(text, "LEEF:".len())?;
    let two = match &*version {
        "1.0" | "1" => false,
        "2.0" | "2" => true,
        _ => {
            return Err(RecordError::BadVersion {
                format: Syntax::Leef,
                found: version.into_owned(),
            });
        }
    };
    let (vendor, at) = field(text, rest_at)?;
    let (product, at) = field(text, at)?;
    let (device_version, at) = field(text, at)?;
    let (event_id, at) = event_id_field(text, at)?;
    let (delimiter, attrs_at) = if two {
        delimiter_field(text, at)?
    } else {
        // Palo Alto's LEEF for QRadar (and a few others) separate 1.0 attributes with `|`.
        let attrs = &text[at..];
        let pipes = !attrs.contains('\t') && attrs.contains('|');
        (if pipes { '|' } else { '\t' }, at)
    };
    Ok(Record {
        syntax: Syntax::Leef,
        version,
        vendor,
        product,
        device_version,
        event_id,
        name: None,
        severity: None,
        attrs: attributes(&text[attrs_at..], delimiter, attrs_at)?,
    })
}

/// The header field starting at byte `from`, unescaped (a slice of `text` unless it had
/// escapes), and where the next one starts.
fn field(text: &str, from: usize) -> Result<(Cow<'_, str>, usize), RecordError> {
    let rest = &text[from..];
    // Only a field with escapes is copied, a run at a time from `run`.
    let mut unescaped: Option<String> = None;
    let mut run = 0;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '|' => {
                let value = match unescaped {
                    Some(mut value) => {
                        value.push_str(&rest[run..i]);
                        Cow::Owned(value)
                    }
                    None => Cow::Borrowed(&rest[..i]),
                };
                return Ok((value, from + i + 1));
            }
            '\\' if rest[i + 1..].starts_with(['|', '\\']) => {
                let value = unescaped.get_or_insert_with(String::new);
                value.push_str(&rest[run..i]);
                if let Some((j, escaped)) = chars.next() {
                    value.push(escaped);
                    run = j + escaped.len_utf8();
                }
            }
            _ => {}
        }
    }
    Err(truncated())
}

/// The EventID field: like [`field`], but a LEEF 1.0 record without attributes may end right
/// after it, without the closing `|`.
fn event_id_field(text: &str, from: usize) -> Result<(Cow<'_, str>, usize), RecordError> {
    match field(text, from) {
        Ok(found) => Ok(found),
        Err(_) if !text[from..].trim().is_empty() && !text[from..].contains('=') => {
            Ok((Cow::Borrowed(text[from..].trim()), text.len()))
        }
        Err(error) => Err(error),
    }
}

fn truncated() -> RecordError {
    RecordError::TruncatedHeader {
        format: Syntax::Leef,
        expected: "'LEEF:Version|Vendor|Product|Version|EventID|' (2.0: then 'Delimiter|')",
        found: 0,
    }
}

/// The LEEF 2.0 delimiter field and where the attributes start. Some producers label records
/// 2.0 but leave the field out; a field that already holds `key=value` is read that way.
fn delimiter_field(text: &str, from: usize) -> Result<(char, usize), RecordError> {
    let Some(end) = text[from..].find('|').map(|i| from + i) else {
        return Ok(('\t', from));
    };
    let spec = &text[from..end];
    if spec.contains('=') {
        return Ok(('\t', from));
    }
    let delimiter = delimiter(spec).ok_or_else(|| RecordError::BadAttribute {
        format: Syntax::Leef,
        at: from,
        reason: format!(
            "expected a delimiter character or its hex code (x5E, 0x09), found '{}'",
            crate::scan::preview(spec, 20)
        ),
    })?;
    Ok((delimiter, end + 1))
}

/// `^`, `0x5E`, `x5E`, `0x09` or empty (tab).
fn delimiter(spec: &str) -> Option<char> {
    let mut chars = spec.chars();
    match (chars.next(), chars.next()) {
        (None, _) => return Some('\t'),
        (Some(c), None) => return Some(c),
        _ => {}
    }
    let hex = spec
        .strip_prefix("0x")
        .or_else(|| spec.strip_prefix("0X"))
        .or_else(|| spec.strip_prefix(['x', 'X']))?;
    if hex.is_empty() || hex.len() > 4 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}

/// `key=value` attributes separated by `delimiter`; `offset` is where they start in the record.
fn attributes(
    text: &str,
    delimiter: char,
    offset: usize,
) -> Result<Vec<(&str, Cow<'_, str>)>, RecordError> {
    // At most one attribute per `=`: one allocation.
    let mut pairs = Vec::with_capacity(memchr::memchr_iter(b'=', text.as_bytes()).count());
    let mut at = offset;
    for (index, piece) in text.split(delimiter).enumerate() {
        let start = at;
        at += piece.len() + delimiter.len_utf8();
        // A line end left by the transport, or two delimiters in a row: nothing to read.
        if piece.trim().is_empty() {
            continue;
        }
        match piece.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((key.trim(), Cow::Borrowed(value)));
            }
            _ => {
                return Err(RecordError::BadAttribute {
                    format: Syntax::Leef,
                    at: start,
                    reason: format!(
                        "attribute {}: expected key=value separated by {}, found '{}'",
                        index + 1,
                        describe(delimiter),
                        crate::scan::preview(piece, 40)
                    ),
                });
            }
        }
    }
    Ok(pairs)
}

fn describe(delimiter: char) -> String {
    match delimiter {
        '\t' => "tabs".to_string(),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'r>(record: &'r Record<'_>) -> Vec<(&'r str, &'r str)> {
        record.attrs.iter().map(|(k, v)| (*k, &**v)).collect()
    }

    #[test]
    fn leef_1_uses_tabs() {
        let r = parse(
            "LEEF:1.0|Microsoft|MSExchange|2016|15345|src=10.0.0.1\tdst=2.1.1.1\tusrName=joe user",
        )
        .unwrap();
        assert_eq!((&*r.vendor, &*r.event_id), ("Microsoft", "15345"));
        assert_eq!(
            attrs(&r),
            [
                ("src", "10.0.0.1"),
                ("dst", "2.1.1.1"),
                ("usrName", "joe user")
            ]
        );
        // No attributes, no closing pipe.
        assert!(parse("LEEF:1.0|V|P|1|ID").unwrap().attrs.is_empty());
    }

    #[test]
    fn leef_2_delimiters() {
        for spec in ["^", "x5E", "0x5E", "X5e"] {
            let line = format!(
                "LEEF:2.0|Lancope|StealthWatch|1.0|41|{spec}|src=1.2.3.4^dst=5.6.7.8^a=b=c"
            );
            let r = parse(&line).unwrap();
            assert_eq!(
                attrs(&r),
                [("src", "1.2.3.4"), ("dst", "5.6.7.8"), ("a", "b=c")],
                "{spec}"
            );
        }
        for spec in ["0x09", "", "x9"] {
            let line = format!("LEEF:2.0|V|P|1|ID|{spec}|src=1.2.3.4\tdst=5.6.7.8");
            let r = parse(&line).unwrap();
            assert_eq!(attrs(&r).len(), 2, "{spec}");
        }
        // Delimiter field left out.
        let r = parse("LEEF:2.0|V|P|1|ID|src=1.2.3.4\tdst=5.6.7.8").unwrap();
        assert_eq!(attrs(&r).len(), 2);
    }

    #[test]
    fn bad_records() {
        let e = parse("LEEF:1.0|V|P").unwrap_err().to_string();
        assert!(e.contains("LEEF:Version|Vendor"), "{e}");
        let e = parse("LEEF:3.0|V|P|1|ID|").unwrap_err().to_string();
        assert!(e.contains("version"), "{e}");
        let e = parse("LEEF:2.0|V|P|1|ID|0xZZ|a=b").unwrap_err().to_string();
        assert!(e.contains("hex code"), "{e}");
        let e = parse("LEEF:1.0|V|P|1|ID|src=1.2.3.4\tgarbage")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("attribute 2") && e.contains("garbage") && e.contains("byte 30"),
            "{e}"
        );
    }
}
