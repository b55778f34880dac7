//! The report as one self-contained HTML page: inline style, inline SVG charts, no script and
//! no external resource.

use crate::document::{Block, blocks};
use crate::model::Report;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eef}figure{margin:1em 0}figcaption{font-weight:bold;font-size:13px}";

/// The HTML page.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&report.title),
        escape(&report.title)
    );
    for block in blocks(report) {
        match block {
            Block::Heading(text) => out.push_str(&format!("<h2>{}</h2>", escape(&text))),
            Block::Para(text) => out.push_str(&format!("<p>{}</p>", escape(&text))),
            Block::Chart(chart) => out.push_str(&crate::chart::svg(&chart)),
            Block::Table(headers, rows) => {
                out.push_str("<table><tr>");
                for h in headers {
                    out.push_str(&format!("<th>{}</th>", escape(&h)));
                }
                out.push_str("</tr>");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        out.push_str(&format!("<td>{}</td>", escape(&cell)));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table>");
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}
