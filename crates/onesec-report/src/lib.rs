//! Unified compliance reports for a period and a site, from one model in four formats.
//!
//! [`model::build`] turns plain inputs (incidents with their cases, restricted-zone access
//! events, hygiene findings and postures, the coverage view, regulatory marks and deadlines,
//! the audit checkpoint) into a [`Report`]: incidents by domain and category with times to
//! detect, acknowledge and resolve; who entered restricted zones, when, and what was unusual
//! (after hours, forced, denied, a terminated person's badge); device posture and open
//! findings; control coverage; the GDPR Art. 33(5) breach register and NIS2 reports;
//! exercise results (saying so when there are none). [`document`] lays it out once;
//! [`html`], [`pdf`], [`csv_out`] and JSON render it. Every format states the audit-log
//! checkpoint the report was built from. [`schedule`] says which period a scheduled run
//! covers.
//!
//! **Architecture invariant:** no I/O and no clock: the caller gathers the inputs (the server
//! does, from the store, the directory, the hygiene checks and the compliance database) and
//! passes `generated_ms`; the same inputs give the same bytes.

pub mod chart;
pub mod csv_out;
pub mod document;
pub mod html;
pub mod model;
pub mod pdf;
pub mod schedule;

pub use model::{
    CheckpointRef, DoorAccess, Inputs, PeopleInReports, Report, SitePosture, WorkHours, build,
};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML page with inline SVG charts.
    Html,
    /// A PDF drawn by the program.
    Pdf,
    /// CSV: each table's rows with their section.
    Csv,
    /// The report model as JSON.
    Json,
}

impl Format {
    /// The format of this name (`html`, `pdf`, `csv`, `json`).
    pub fn parse(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "html" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// HTTP media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// A report that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing CSV failed.
    #[error("report {title:?} as CSV: {source}")]
    Csv {
        /// The report's title.
        title: String,
        /// The writer's error.
        source: csv::Error,
    },
    /// Serialising JSON failed.
    #[error("report {title:?} as JSON: {source}")]
    Json {
        /// The report's title.
        title: String,
        /// The serialiser's error.
        source: serde_json::Error,
    },
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Html => Ok(html::render(report).into_bytes()),
        Format::Pdf => Ok(pdf::render(report)),
        Format::Csv => csv_out::render(report).map_err(|source| RenderError::Csv {
            title: report.title.clone(),
            source,
        }),
        Format::Json => serde_json::to_vec_pretty(report).map_err(|source| RenderError::Json {
            title: report.title.clone(),
            source,
        }),
    }
}
