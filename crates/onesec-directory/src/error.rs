//! The directory's error type: every message names the file, the line when known, what is
//! wrong and why.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading a directory. Loading stops at the first error;
/// a running [`crate::SharedDirectory`] keeps its previous directory when a reload fails.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file or folder.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The folder holds none of the directory files.
    #[error(
        "{}: no directory files found (expected at least one of people.csv, sites.yaml, devices.csv)",
        dir.display()
    )]
    NoFiles {
        /// The folder that was searched.
        dir: PathBuf,
    },

    /// A CSV header lacks a required column.
    #[error("{}:{line}: missing column `{column}` (the header has: {found})", file.display())]
    MissingColumn {
        /// The CSV file.
        file: PathBuf,
        /// Line of the header (1).
        line: u64,
        /// The required column that is absent.
        column: String,
        /// The columns the header does have, comma-separated.
        found: String,
    },

    /// A cell holds a value that is not allowed there.
    #[error(
        "{}:{line}: column `{column}`: invalid value `{value}` (expected {expected})",
        file.display()
    )]
    InvalidValue {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line of the record.
        line: u64,
        /// Column name as written in the header.
        column: String,
        /// The value found.
        value: String,
        /// What is allowed there.
        expected: String,
    },

    /// The file is not well-formed CSV or YAML (or a YAML value has the wrong type).
    #[error("{}:{line}: {reason}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line where the parser stopped.
        line: u64,
        /// The parser's explanation.
        reason: String,
    },

    /// The file parses but its content is inconsistent (duplicate id, unknown reference...).
    #[error("{}{}: {what}: {reason}", file.display(), LineSuffix(*line))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line of the offending entry, when it could be located.
        line: Option<u64>,
        /// The entry at fault, e.g. "portal `PAR-D-SRV`".
        what: String,
        /// Why it is rejected.
        reason: String,
    },
}

impl DirectoryError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            DirectoryError::Io { file, .. }
            | DirectoryError::MissingColumn { file, .. }
            | DirectoryError::InvalidValue { file, .. }
            | DirectoryError::Syntax { file, .. }
            | DirectoryError::Invalid { file, .. } => file,
            DirectoryError::NoFiles { dir } => dir,
        }
    }

    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<u64> {
        match self {
            DirectoryError::MissingColumn { line, .. }
            | DirectoryError::InvalidValue { line, .. }
            | DirectoryError::Syntax { line, .. } => Some(*line),
            DirectoryError::Invalid { line, .. } => *line,
            DirectoryError::Io { .. } | DirectoryError::NoFiles { .. } => None,
        }
    }
}

/// Formats `:line` when the line is known, nothing otherwise.
struct LineSuffix(Option<u64>);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}
