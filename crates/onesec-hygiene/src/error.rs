//! Errors: every message names the file, and the line (and column) when known, what is wrong
//! and what was expected.

use std::fmt;
use std::path::PathBuf;

/// A whole file could not be used (unreadable, not the expected format, a bad policy).
#[derive(Debug, thiserror::Error)]
pub enum HygieneError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written (a refreshed catalogue).
    #[error("{}: cannot write: {source}", file.display())]
    Write {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not in the expected format (JSON, TOML, CSV header).
    #[error("{}{}: {reason}", file.display(), at(*line, *column))]
    Format {
        /// The file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<u64>,
        /// 1-based column, when known.
        column: Option<u64>,
        /// What is wrong.
        reason: String,
    },
}

impl HygieneError {
    /// A format error without a position.
    pub(crate) fn format(file: impl Into<PathBuf>, reason: impl Into<String>) -> HygieneError {
        HygieneError::Format {
            file: file.into(),
            line: None,
            column: None,
            reason: reason.into(),
        }
    }

    /// A JSON error with serde_json's line and column.
    pub(crate) fn json(file: impl Into<PathBuf>, error: &serde_json::Error) -> HygieneError {
        HygieneError::Format {
            file: file.into(),
            line: u64::try_from(error.line()).ok().filter(|l| *l > 0),
            column: u64::try_from(error.column()).ok().filter(|c| *c > 0),
            reason: error.to_string(),
        }
    }

    /// A TOML error (its message carries the position).
    pub(crate) fn toml(file: impl Into<PathBuf>, error: &toml::de::Error) -> HygieneError {
        HygieneError::Format {
            file: file.into(),
            line: None,
            column: None,
            reason: error.to_string().trim_end().to_string(),
        }
    }
}

/// Reads a whole file as UTF-8 text (a byte-order mark is dropped).
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, HygieneError> {
    let text = std::fs::read_to_string(path).map_err(|source| HygieneError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn at(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// One refused row of an inventory or flow file; the good rows around it are kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The file (or a name such as `<json>` for text given directly).
    pub file: String,
    /// 1-based line of the row.
    pub line: u64,
    /// 1-based column of the offending cell, when one cell is to blame.
    pub column: Option<u64>,
    /// The column (or JSON key) name.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": column `{field}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}
