//! ArcSight Common Event Format: `CEF:Version|Device Vendor|Device Product|Device Version|
//! Signature ID|Name|Severity|Extension`.
//!
//! Escaping follows the CEF implementation standard: in the header `\|` and `\\`; in the
//! extension `\=`, `\\`, `\n` and `\r` (a `\|` is tolerated there, since escaping a pipe that
//! needed none is harmless). Any other backslash sequence is refused rather than guessed at,
//! so a producer that forgets to escape shows up as an error instead of silently wrong values.

use super::{Record, RecordError, Syntax};
use std::borrow::Cow;
use std::cell::Cell;

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
    // Some producers write `CEF: 0|` (a space after the colon).
    let version = match version {
        Cow::Borrowed(v) if v.starts_with(' ') => Cow::Borrowed(v.trim_start()),
        other => other,
    };
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
/// underscores, dashes and brackets (`ad.EventRecordID`, `cs1Label`). A table look-up per byte
/// (the chain of range checks was ~2 % of decoding a CEF record).
fn is_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| KEY_BYTES[usize::from(b)])
}

/// The bytes of [`is_key`].
static KEY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'[' | b']');
        b += 1;
    }
    table
};

/// Splits the extension into unescaped `(key, value)` pairs. `offset` is where the extension
/// starts in the record.
///
/// A value runs until the space before the next `key=`: values may hold spaces. An unescaped
/// `=` whose preceding word is not a key (`request=http://h/?a=b`) stays in the value, because
/// real producers write URLs that way.
fn extension_pairs(ext: &str, offset: usize) -> Result<Vec<(&str, Cow<'_, str>)>, RecordError> {
    // The thread's buffer for the separators: an allocation a record less.
    let mut separators = SEPARATORS.try_with(Cell::take).unwrap_or_default();
    let escapes = key_separators(ext, &mut separators);
    let pairs = pairs_at(ext, offset, &separators, escapes);
    let _ = SEPARATORS.try_with(|buffer| buffer.set(separators));
    pairs
}

thread_local! {
    /// [`extension_pairs`]' separators, kept between records.
    static SEPARATORS: Cell<Vec<(usize, usize)>> = const { Cell::new(Vec::new()) };
}

/// The pairs of `ext` given its `separators` ([`key_separators`]).
fn pairs_at<'a>(
    ext: &'a str,
    offset: usize,
    separators: &[(usize, usize)],
    escapes: bool,
) -> Result<Vec<(&'a str, Cow<'a, str>)>, RecordError> {
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
        let value = trim_end_spaces(&ext[eq + 1..value_end]);
        let value = if escapes {
            unescape_value(key, value, offset + eq + 1)?
        } else {
            Cow::Borrowed(value)
        };
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `(key start, '=' position)` of every `key=` that starts a pair, written over `out`, and
/// whether the extension holds a backslash (without one, no value needs a look for escapes).
///
/// One pass from one space, `=` or `\\` to the next ([`next_special`], 8 bytes at a time),
/// keeping where the current word started: a `memchr2` to the next `=` or `\\` and a `memrchr`
/// back to the space before it were ~20 % of decoding a CEF record, the values being too
/// short for `memchr`'s set-up to pay.
fn key_separators(ext: &str, out: &mut Vec<(usize, usize)>) -> bool {
    let bytes = ext.as_bytes();
    out.clear();
    let mut escapes = false;
    let mut word_start = 0;
    let mut i = 0;
    while let Some(at) = next_special(bytes, i) {
        i = at + 1;
        match bytes[at] {
            b' ' => word_start = at + 1,
            b'=' => {
                if is_key(&ext[word_start..at]) {
                    out.push((word_start, at));
                }
            }
            _ => {
                escapes = true;
                // An escaped `=` or `\\` is none of its own (an escaped space still ends a word).
                if matches!(bytes.get(at + 1), Some(b'=' | b'\\')) {
                    i = at + 2;
                }
            }
        }
    }
    escapes
}

/// The position of the first space, `=` or `\\` in `bytes[from..]`, looked for 8 bytes at a
/// time (a byte equal to `c` is a zero byte of `x ^ c`, found by the usual bit trick; the
/// lowest flagged byte is always a true one).
fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let found = zero_bytes(x ^ (ONES * u64::from(b' ')))
            | zero_bytes(x ^ (ONES * u64::from(b'=')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes
        .get(i..)?
        .iter()
        .position(|b| matches!(b, b' ' | b'=' | b'\\'))
        .map(|at| i + at)
}

/// `text` without its trailing spaces (`trim_end_matches(' ')` went through a `char` pattern).
fn trim_end_spaces(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == b' ' {
        end -= 1;
    }
    // A space is one byte: `end` is a character boundary.
    &text[..end]
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

    /// The search `key_separators` replaced: to the next `=` or `\\`, back to the space.
    fn key_separators_by_search(ext: &str) -> (Vec<(usize, usize)>, bool) {
        let bytes = ext.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        let mut escapes = false;
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
            let word_start = memchr::memrchr(b' ', &bytes[..at]).map_or(0, |s| s + 1);
            if is_key(&ext[word_start..at]) {
                out.push((word_start, at));
            }
            i = at + 1;
        }
        (out, escapes)
    }

    #[test]
    fn key_bytes_are_the_documented_ones() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"_.-[]".contains(&b);
            assert_eq!(KEY_BYTES[usize::from(b)], expected, "{b}");
        }
    }

    #[test]
    fn next_special_finds_the_first() {
        let fill = "aé\u{80}\u{ff}=!|x\u{2000}";
        for len in 0..40 {
            for special in [b' ', b'=', b'\\', b'a'] {
                for at in 0..len {
                    let mut bytes: Vec<u8> = fill
                        .bytes()
                        .filter(|b| *b != b'=')
                        .cycle()
                        .take(len)
                        .collect();
                    bytes[at] = special;
                    for from in 0..=len {
                        let expected = bytes[from..]
                            .iter()
                            .position(|b| matches!(b, b' ' | b'=' | b'\\'))
                            .map(|p| from + p);
                        assert_eq!(next_special(&bytes, from), expected, "{bytes:?} {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn key_separators_as_the_search_found_them() {
        let mut texts: Vec<String> = [
            "",
            "=",
            "a=",
            "=a",
            "a=b",
            " a=b",
            "a=b c=d",
            "a==b c=d",
            "a=b=c d=e",
            "request=http://h/p?a=b&c=d dst=1.2.3.4",
            r"msg=a\=b c\\d\nline2\r cs1Label=Rule name cs1=x|y",
            r"a=x\ b=y",
            r"a=x\b=y c=z",
            r"a=x \b=y c=z",
            r"a=x\",
            r"\",
            r"\\=a b=c",
            "a b c=d  e=f ",
            "k[0]=v k.x-y_z=w ?=1 é=2 aé=3",
            "a=\u{e9}\u{e9} b=c",
            "a\t=b c=d",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let data = include_str!("../../tests/data/cef.log");
        texts.extend(
            data.lines()
                .filter_map(|line| line.find("CEF:").map(|at| line[at..].to_string())),
        );
        for text in &texts {
            let mut separators = vec![(7, 7)];
            let escapes = key_separators(text, &mut separators);
            assert_eq!(
                (separators, escapes),
                key_separators_by_search(text),
                "{text:?}"
            );
        }
    }

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
