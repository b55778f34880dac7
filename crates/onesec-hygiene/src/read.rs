//! Small reading helpers the file formats share: CSV with a lower-cased header, and the
//! "one string or a list" shape of TOML/JSON keys.

use crate::error::HygieneError;
use serde::Deserialize;

/// A CSV reader over `text` (header row, rows of any width, `#` comment lines when
/// `comments`) and its header names, trimmed and lower-cased.
pub(crate) fn csv_with_header<'a>(
    name: &str,
    text: &'a str,
    comments: bool,
) -> Result<(csv::Reader<&'a [u8]>, Vec<String>), HygieneError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .comment(comments.then_some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| HygieneError::format(name, format!("not readable as CSV: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    Ok((reader, headers))
}

/// A key that holds one string or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
