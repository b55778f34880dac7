//! Reading the two CSV files: header checks, trimmed cells, line numbers, extra columns.

use crate::error::DirectoryError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One data row of a CSV file, with access to its cells by column name.
pub(crate) struct Row<'a> {
    /// 1-based line where the record starts.
    pub(crate) line: u64,
    record: &'a csv::StringRecord,
    table: &'a Table,
}

impl Row<'_> {
    /// The trimmed cell of `column` (lower-case name); empty when the column or cell is absent.
    pub(crate) fn get(&self, column: &str) -> &str {
        self.table
            .index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }

    /// The cell of `column`, `None` when empty.
    pub(crate) fn opt(&self, column: &str) -> Option<String> {
        let value = self.get(column);
        (!value.is_empty()).then(|| value.to_string())
    }

    /// The column name as written in the header (for messages).
    pub(crate) fn header<'h>(&'h self, column: &'h str) -> &'h str {
        self.table
            .index
            .get(column)
            .and_then(|&i| self.table.headers.get(i))
            .map(String::as_str)
            .unwrap_or(column)
    }

    /// The non-empty cells of columns not in `known`, by header name as written.
    pub(crate) fn extras(&self, known: &[&str]) -> BTreeMap<String, String> {
        let mut extra = BTreeMap::new();
        for (i, header) in self.table.headers.iter().enumerate() {
            if known.contains(&header.to_lowercase().as_str()) {
                continue;
            }
            if let Some(value) = self.record.get(i).map(str::trim).filter(|v| !v.is_empty()) {
                extra.insert(header.clone(), value.to_string());
            }
        }
        extra
    }

    /// An [`DirectoryError::InvalidValue`] for `column` of this row.
    pub(crate) fn invalid(&self, file: &Path, column: &str, expected: &str) -> DirectoryError {
        DirectoryError::InvalidValue {
            file: file.to_path_buf(),
            line: self.line,
            column: self.header(column).to_string(),
            value: self.get(column).to_string(),
            expected: expected.to_string(),
        }
    }
}

struct Table {
    headers: Vec<String>,
    index: HashMap<String, usize>,
}

/// Reads `text` (the content of `file`) as CSV with a header that must hold every column of
/// `required` (compared case-insensitively), calling `each` for every data row. Lines starting
/// with `#` are comments; rows shorter than the header read as empty cells.
pub(crate) fn read(
    file: &Path,
    text: &str,
    required: &[&str],
    mut each: impl FnMut(&Row<'_>) -> Result<(), DirectoryError>,
) -> Result<(), DirectoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text
        .lines()
        .position(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map_or(1, |i| i as u64 + 1);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| syntax(file, header_line, &e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut index = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        index.entry(header.to_lowercase()).or_insert(i);
    }
    for column in required {
        if !index.contains_key(*column) {
            return Err(DirectoryError::MissingColumn {
                file: file.to_path_buf(),
                line: header_line,
                column: (*column).to_string(),
                found: headers.join(","),
            });
        }
    }
    let table = Table { headers, index };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(syntax(file, header_line, &e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if record.len() > table.headers.len() {
            return Err(DirectoryError::Syntax {
                file: file.to_path_buf(),
                line,
                reason: format!(
                    "{} fields but the header has {} (quote cells that contain a comma)",
                    record.len(),
                    table.headers.len()
                ),
            });
        }
        each(&Row {
            line,
            record: &record,
            table: &table,
        })?;
    }
    Ok(())
}

fn syntax(file: &Path, fallback_line: u64, error: &csv::Error) -> DirectoryError {
    DirectoryError::Syntax {
        file: file.to_path_buf(),
        line: error.position().map_or(fallback_line, |p| p.line()),
        reason: format!("not readable as CSV: {error}"),
    }
}

/// Splits a `;`-separated list cell into trimmed, non-empty items.
pub(crate) fn list(cell: &str) -> Vec<String> {
    cell.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}
