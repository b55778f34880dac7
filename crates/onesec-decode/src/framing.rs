//! Splits a body into records: text lines, or JSON documents that may span lines.
//!
//! A JSON document starts on a line whose first non-blank byte is `{` or `[`; it may be one
//! NDJSON line, a pretty-printed object over many lines (the SigmaHQ EVTX-JSON files), or several
//! objects on one line. When a document does not parse, the error covers its first line plus
//! the lines that look like its continuation (indented, or starting with `}`, `]` or `"`), so
//! one truncated NDJSON line costs one error and the next line is read again.

use crate::MAX_RECORD_BYTES;
use crate::jv::{self, JsonContainerTrait, JsonValueTrait, Value};
use serde::de::IgnoredAny;

/// One record of the body.
pub(crate) struct Record<'a> {
    /// 1-based line where the record starts.
    pub line: usize,
    /// The record as received (without the line end).
    pub raw: &'a [u8],
    /// What the record holds.
    pub body: Body<'a>,
}

/// The content of a record.
pub(crate) enum Body<'a> {
    /// A text line (or the UTF-8 error that prevents reading it as text).
    Text(Result<&'a str, std::str::Utf8Error>),
    /// A parsed JSON document.
    Json(Value),
    /// A record that could not be framed: the reason.
    Error(String),
}

/// Iterator over the records of a body.
pub(crate) struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    json: bool,
}

impl<'a> Records<'a> {
    /// Records of `bytes`; `json` enables JSON documents.
    pub fn new(bytes: &'a [u8], json: bool) -> Records<'a> {
        Records {
            bytes,
            pos: 0,
            line: 1,
            json,
        }
    }

    /// End of the line starting at `from` (index of the `\n`, or the body length).
    fn line_end(&self, from: usize) -> usize {
        memchr::memchr(b'\n', &self.bytes[from..]).map_or(self.bytes.len(), |i| from + i)
    }

    /// Moves past the line ending at `end` (which is a `\n` or the end of the body).
    fn advance_past(&mut self, end: usize) {
        if end < self.bytes.len() {
            self.pos = end + 1;
            self.line += 1;
        } else {
            self.pos = end;
        }
    }

    fn json_record(&mut self, start: usize) -> Record<'a> {
        if let Some(record) = self.json_line(start) {
            return record;
        }
        let line = self.line;
        let bytes = self.bytes;
        // The document's extent, found by serde_json without building a tree (it spans lines,
        // or shares its line with another document); then the document itself by sonic-rs.
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<IgnoredAny>();
        let parsed = stream.next();
        let consumed = stream.byte_offset();
        match parsed {
            Some(Ok(_)) if consumed <= MAX_RECORD_BYTES => {
                let raw = &bytes[start..start + consumed];
                self.line += memchr::memchr_iter(b'\n', raw).count();
                self.pos = start + consumed;
                // Finish the line when only blanks follow the document.
                let end = self.line_end(self.pos);
                if bytes[self.pos..end].iter().all(u8::is_ascii_whitespace) {
                    self.advance_past(end);
                }
                let body = match jv::parse(raw) {
                    Ok(value) => Body::Json(value),
                    Err(reason) => Body::Error(format!(
                        "expected a JSON document, found one that cannot be read ({reason}; body line {line})"
                    )),
                };
                Record { line, raw, body }
            }
            Some(Ok(_)) => {
                let end = self.continuation_end(start);
                let raw = &bytes[start..end];
                self.line += raw.iter().filter(|&&b| b == b'\n').count();
                self.advance_past(end);
                Record {
                    line,
                    raw: trim_cr(raw),
                    body: Body::Error(format!(
                        "expected a JSON document of at most {MAX_RECORD_BYTES} bytes, found one of {consumed} bytes"
                    )),
                }
            }
            Some(Err(error)) => {
                let end = self.continuation_end(start);
                let raw = trim_cr(&bytes[start..end]);
                self.line += raw.iter().filter(|&&b| b == b'\n').count();
                self.advance_past(end);
                Record {
                    line,
                    raw,
                    body: Body::Error(json_error_reason(&error, line)),
                }
            }
            None => {
                let end = self.line_end(start);
                self.advance_past(end);
                Record {
                    line,
                    raw: &[],
                    body: Body::Error(String::new()),
                }
            }
        }
    }

    /// The common case, one document on its own line (NDJSON): the whole line parsed at once.
    /// `None` (nothing consumed) when the line is not exactly one document.
    fn json_line(&mut self, start: usize) -> Option<Record<'a>> {
        let end = self.line_end(start);
        let raw = self.bytes[start..end].trim_ascii_end();
        if raw.len() > MAX_RECORD_BYTES || !matches!(raw.last(), Some(b'}' | b']')) {
            return None;
        }
        let value = jv::parse(raw).ok()?;
        let line = self.line;
        self.advance_past(end);
        Some(Record {
            line,
            raw,
            body: Body::Json(value),
        })
    }

    /// End of a broken JSON document that starts at `start`: its first line plus the following
    /// lines that look like the rest of a pretty-printed document.
    fn continuation_end(&self, start: usize) -> usize {
        let mut end = self.line_end(start);
        while end < self.bytes.len() && end - start < MAX_RECORD_BYTES {
            let next = end + 1;
            let looks_continued = matches!(
                self.bytes.get(next),
                Some(b' ' | b'\t' | b'}' | b']' | b'"' | b',')
            );
            if !looks_continued {
                break;
            }
            end = self.line_end(next);
        }
        end
    }
}

/// What serde_json said, in terms of the body's lines.
fn json_error_reason(error: &serde_json::Error, first_line: usize) -> String {
    let line = first_line + error.line().saturating_sub(1);
    let what = match error.classify() {
        serde_json::error::Category::Eof => "the document ends before it is complete",
        serde_json::error::Category::Syntax => "invalid JSON syntax",
        serde_json::error::Category::Data => "invalid JSON data",
        serde_json::error::Category::Io => "read error",
    };
    format!("expected a JSON document, found {what} ({error}; body line {line})")
}

fn trim_cr(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        loop {
            if self.pos >= self.bytes.len() {
                return None;
            }
            let start = self.pos;
            let end = self.line_end(start);
            let text = trim_cr(&self.bytes[start..end]);
            let first = text.iter().position(|b| !b.is_ascii_whitespace());
            let Some(first) = first else {
                self.advance_past(end);
                continue;
            };
            if self.json && matches!(text[first], b'{' | b'[') {
                let record = self.json_record(start + first);
                if record.raw.is_empty() {
                    continue;
                }
                return Some(record);
            }
            let line = self.line;
            self.advance_past(end);
            if text.len() > MAX_RECORD_BYTES {
                return Some(Record {
                    line,
                    raw: &text[..MAX_RECORD_BYTES.min(text.len())],
                    body: Body::Error(format!(
                        "expected a line of at most {MAX_RECORD_BYTES} bytes, found one of {} bytes (raw cut to the limit)",
                        text.len()
                    )),
                });
            }
            return Some(Record {
                line,
                raw: text,
                body: Body::Text(std::str::from_utf8(text)),
            });
        }
    }
}

/// A body that is one (possibly pretty-printed) JSON object or an array of objects becomes
/// one compact line per object, so that line-oriented decoding sees whole events; any other
/// body is returned as it is. The HTTP API applies this to every ingest body.
pub fn json_body_as_lines(body: &[u8]) -> Vec<u8> {
    let trimmed = body.trim_ascii_start();
    if !matches!(trimmed.first(), Some(b'{' | b'[')) {
        return body.to_vec();
    }
    match jv::parse(trimmed) {
        Ok(value) => match value.as_array() {
            Some(items) => items
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
            None if value.is_object() => value.to_string().into_bytes(),
            None => body.to_vec(),
        },
        Err(_) => body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(bytes: &[u8]) -> Vec<(usize, &'static str)> {
        Records::new(bytes, true)
            .map(|r| {
                let kind = match r.body {
                    Body::Text(Ok(_)) => "text",
                    Body::Text(Err(_)) => "utf8",
                    Body::Json(_) => "json",
                    Body::Error(_) => "error",
                };
                (r.line, kind)
            })
            .collect()
    }

    #[test]
    fn ndjson_with_a_truncated_line_keeps_the_next_ones() {
        let body = b"{\"a\":1}\n{\"a\":\n{\"b\":2}\r\n\nplain\n";
        assert_eq!(
            kinds(body),
            vec![(1, "json"), (2, "error"), (3, "json"), (5, "text")]
        );
    }

    #[test]
    fn pretty_printed_and_concatenated_documents() {
        let body = b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n  \"c\": 2\n}{\"d\":3}\n";
        assert_eq!(kinds(body), vec![(1, "json"), (6, "json"), (8, "json")]);
    }

    #[test]
    fn broken_pretty_document_is_one_error() {
        let body = b"{\n  \"a\": {\n    \"b\": 1,\n  }\n}\n{\"ok\":true}\n";
        assert_eq!(kinds(body), vec![(1, "error"), (6, "json")]);
    }

    #[test]
    fn invalid_utf8_line_is_reported_as_such() {
        let body = b"good\nba\xffd\nalso good";
        assert_eq!(kinds(body), vec![(1, "text"), (2, "utf8"), (3, "text")]);
    }
}
