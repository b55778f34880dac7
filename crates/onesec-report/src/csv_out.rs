//! The report as CSV: every table of the report, each row preceded by its section's name
//! (rows of different tables have different widths); each paragraph as a `note` row.

use crate::document::{Block, blocks};
use crate::model::Report;

/// The CSV text.
pub fn render(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut section = "report".to_string();
    writer.write_record(["section", "kind", "values..."])?;
    writer.write_record([section.as_str(), "title", report.title.as_str()])?;
    for block in blocks(report) {
        match block {
            Block::Heading(text) => section = text,
            Block::Para(text) => writer.write_record([section.as_str(), "note", text.as_str()])?,
            Block::Chart(_) => {}
            Block::Table(headers, rows) => {
                let header = [section.as_str(), "header"]
                    .into_iter()
                    .chain(headers.iter().map(String::as_str));
                writer.write_record(header)?;
                for row in &rows {
                    let record = [section.as_str(), "row"]
                        .into_iter()
                        .chain(row.iter().map(String::as_str));
                    writer.write_record(record)?;
                }
            }
        }
    }
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}
