//! ArcSight Common Event Format: `CEF:Version|Device Vendor|Device Product|Device Version|
//! Signature ID|Name|Severity|Extension`.
//!
//! Escaping follows the CEF implementation standard: in the header `\|` and `\\`; in the
//! extension `\=`, `\\`, `\n` and `\r` (a `\|` is tolerated there, since escaping a pipe that
//! needed none is harmless). Any other backslash sequence is refused rather than guessed at,
//! so a producer that forgets to escape shows up as an error instead of silently wrong values.

use super::{Record, RecordError, Syntax};
use std::borrow::Cow;

/// Names of the seven header fields, for error messages.
const HEADER: [&str; 7] = [
    "Version",
    "Device Vendor",
    "Device Product",
    "Device Version",
    "Signature ID",
    "Name",
    "Severity",
];

/// Parses a CEF record; `text` starts with `CEF:`.
pub(crate) fn parse(text: &str) -> Result<Record<'_>, RecordError> {
    let body = text
        .strip_prefix("CEF:")
        .ok_or(RecordError::NotThisFormat {
            format: Syntax::Cef,
        })?;
    let (fields, ext_start) = header(body, "CEF:".len())?;
    let [
        version,
        vendor,
        product,
        device_version,
        signature_id,
        name,
        severity,
    ] = fields;
    if !matches!(&*version, "0" | "1") {
        return Err(RecordError::BadVersion {
            format: Syntax::Cef,
            found: version.into_owned(),
        });
    }
    let extension = &text[ext_start..];
    Ok(Record {
        syntax: Syntax::Cef,
        version,
        vendor,
        product,
        device_version,
        event_id: signature_id,
        name: Some(name),
        severity: Some(severity),
        attrs: extension_pairs(extension, ext_start)?,
    })
}

/// The seven header fields (unescaped) and the byte offset of the extension in the record.
/// `offset` is where `body` starts in the record, for error positions.
fn header(body: &str, offset: usize) -> Result<([Cow<'_, str>; 7], usize), RecordError> {
    let mut fields: [Cow<'_, str>; 7] = Default::default();
    let bytes = body.as_bytes();
    let mut index = 0;
    // A field without escapes is a slice of `body`; one with escapes is copied a run at a
    // time into `unescaped`, from `start` to the next '|' or '\\'.
    let mut field_start = 0;
    let mut unescaped: Option<String> = None;
    let mut start = 0;
    while let Some(found) = memchr::memchr2(b'|', b'\\', &bytes[start..]) {
        let at = start + found;
        if bytes[at] == b'|' {
            fields[index] = match unescaped.take() {
                Some(mut text) => {
                    text.push_str(&body[start..at]);
                    Cow::Owned(text)
                }
                None => Cow::Borrowed(&body[field_start..at]),
            };
            index += 1;
            if index == fields.len() {
                return Ok((fields, offset + at + 1));
            }
            start = at + 1;
            field_start = start;
            continue;
        }
        match bytes.get(at + 1) {
            Some(&escaped @ (b'|' | b'\\')) => {
                let text = unescaped.get_or_insert_with(String::new);
                text.push_str(&body[start..at]);
                text.push(char::from(escaped));
                start = at + 2;
            }
            _ => {
                return Err(RecordError::BadEscape {
                    format: Syntax::Cef,
                    part: format!("header field {} ({})", index + 1, HEADER[index]),
                    at: offset + at,
                    found: body[at + 1..]
                        .chars()
                        .next()
                        .map_or_else(|| "end of record".into(), |c| format!("'\\{c}'")),
                    allowed: "\\| \\\\",
                });
            }
        }
    }
    Err(RecordError::TruncatedHeader {
        format: Syntax::Cef,
        expected: "7 '|'-terminated fields (Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|)",
        found: index,
    })
}

/// Whether `key` can be an extension key: CEF keys are ASCII words; vendors add dots,
/// underscores, dashes and brackets (`ad.EventRecordID`, `cs1Label`).
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'))
}

/// Splits the extension into unescaped `(key, value)` pairs. `offset` is where the extension
/// starts in the record.
///
/// A value runs until the space before the next `key=`: values may hold spaces. An unescaped
/// `=` whose preceding word is not a key (`request=http://h/?a=b`) stays in the value, because
/// real producers write URLs that way.
fn extension_pairs(ext: &str, offset: usize) -> Result<Vec<(&str, Cow<'_, str>)>, RecordError> {
    let (separators, escapes) = key_separators(ext);
    let mut pairs = Vec::with_capacity(separators.len());
    let Some(&(first_key_start, _)) = separators.first() else {
        return match ext.trim() {
            "" => Ok(pairs),
            rest => Err(RecordError::BadAttribute {
                format: Syntax::Cef,
                at: offset,
                reason: format!(
                    "expected key=value pairs in the extension, found '{}'",
                    crate::scan::preview(rest, 40)
                ),
            }),
        };
    };
    if !ext[..first_key_start].trim().is_empty() {
        return Err(RecordError::BadAttribute {
            format: Syntax::Cef,
            at: offset,
            reason: format!(
                "expected the extension to start with key=value, found '{}'",
                crate::scan::preview(ext[..first_key_start].trim(), 40)
            ),
        });
    }
    for (i, &(key_start, eq)) in separators.iter().enumerate() {
        let key = &ext[key_start..eq];
        let value_end = separators.get(i + 1).map_or(ext.len(), |&(next, _)| next);
        let value = ext[eq + 1..value_end].trim_end_matches(' ');
        let value = if escapes {
            unescape_value(key, value, offset + eq + 1)?
        } else {
            Cow::Borrowed(value)
        };
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `(key start, '=' position)` of every `key=` that starts a pair, and whether the extension
/// holds a backslash (without one, no value needs a look for escapes).
fn key_separators(ext: &str) -> (Vec<(usize, usize)>, bool) {
    let bytes = ext.as_bytes();
    // At most one pair per `=`: one allocation.
    let mut out = Vec::with_capacity(memchr::memchr_iter(b'=', bytes).count());
    let mut i = 0;
    let mut escapes = false;
    // Jump from one `\\` or `=` to the next instead of looking at every byte.
    while let Some(found) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'\\', b'=', rest))
    {
        let at = i + found;
        if bytes[at] == b'\\' {
            escapes = true;
            i = at + 2;
            continue;
        }
        // The word before `=` (memchr's `memrchr`: `str::rfind` went through a `char` searcher).
        let word_start = memchr::memrchr(b' ', &bytes[..at]).map_or(0, |s| s + 1);
        if is_key(&ext[word_start..at]) {
            out.push((word_start, at));
        }
        i = at + 1;
    }
    (out, escapes)
}

/// Undoes the extension escapes of one value.
fn unescape_value<'a>(key: &str, value: &'a str, at: usize) -> Result<Cow<'a, str>, RecordError> {
    if !value.contains('\\') {
        return Ok(Cow::Borrowed(value));
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '\\')) => out.push('\\'),
            Some((_, '=')) => out.push('='),
            Some((_, '|')) => out.push('|'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            other => {
                return Err(RecordError::BadEscape {
                    format: Syntax::Cef,
                    part: format!("extension value of '{key}'"),
                    at: at + i,
                    found: other.map_or_else(|| "end of value".into(), |(_, c)| format!("'\\{c}'")),
                    allowed: "\\= \\\\ \\n \\r",
                });
            }
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'r>(record: &'r Record<'_>) -> Vec<(&'r str, &'r str)> {
        record.attrs.iter().map(|(k, v)| (*k, &**v)).collect()
    }

    #[test]
    fn header_escapes_and_spaced_values() {
        let r = parse(
            r"CEF:0|Acme\|Corp|Fire\\Wall|2.1|100|Port scan|7|src=10.0.0.1 msg=two words here act=blocked",
        )
        .unwrap();
        assert_eq!(r.vendor, "Acme|Corp");
        assert_eq!(r.product, r"Fire\Wall");
        assert_eq!(r.name.as_deref(), Some("Port scan"));
        assert_eq!(r.severity.as_deref(), Some("7"));
        assert_eq!(
            attrs(&r),
            [
                ("src", "10.0.0.1"),
                ("msg", "two words here"),
                ("act", "blocked")
            ]
        );
    }

    #[test]
    fn extension_escapes() {
        let r =
            parse(r"CEF:0|a|b|c|d|e|1|msg=a\=b c\\d\nline2\r cs1Label=Rule name cs1=x|y").unwrap();
        assert_eq!(
            attrs(&r),
            [
                ("msg", "a=b c\\d\nline2\r"),
                ("cs1Label", "Rule name"),
                ("cs1", "x|y")
            ]
        );
        // An unescaped '=' after a non-key word stays in the value.
        let r = parse("CEF:0|a|b|c|d|e|1|request=http://h/p?a=b&c=d dst=1.2.3.4").unwrap();
        assert_eq!(
            attrs(&r),
            [("request", "http://h/p?a=b&c=d"), ("dst", "1.2.3.4")]
        );
        // No extension at all.
        assert!(parse("CEF:0|a|b|c|d|e|1|").unwrap().attrs.is_empty());
    }

    #[test]
    fn bad_records_say_what_and_where() {
        let e = parse("CEF:0|a|b|c").unwrap_err().to_string();
        assert!(
            e.contains("7 '|'-terminated fields") && e.contains("found 3"),
            "{e}"
        );
        let e = parse(r"CEF:0|a\x|b|c|d|e|1|").unwrap_err().to_string();
        assert!(
            e.contains("header field 2 (Device Vendor)") && e.contains("byte 7"),
            "{e}"
        );
        let e = parse(r"CEF:0|a|b|c|d|e|1|msg=C:\Windows")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'msg'") && e.contains(r"'\W'"), "{e}");
        let e = parse("CEF:0|a|b|c|d|e|1|msg=trailing\\")
            .unwrap_err()
            .to_string();
        assert!(e.contains("end of value"), "{e}");
        let e = parse("CEF:7|a|b|c|d|e|1|").unwrap_err().to_string();
        assert!(e.contains("version"), "{e}");
        let e = parse("CEF:0|a|b|c|d|e|1|just words")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key=value"), "{e}");
    }
}
