//! The report as a PDF, drawn by the program (pdf-writer; no office suite, no browser): A4
//! pages, the standard Helvetica fonts (nothing embedded), tables with wrapped cells, bar
//! charts as filled rectangles. Text is WinAnsi: characters outside it print as `?`.

use crate::chart::{BarChart, format_value, label_step, layout, shows_values};
use crate::document::{Block, blocks};
use crate::model::Report;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const BODY: f32 = 9.0;
const TABLE: f32 = 7.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text as WinAnsi bytes (Latin-1 plus the typographic marks people write).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '€' => 0x80,
            _ => b'?',
        })
        .collect()
}

/// A rough Helvetica width (average advance ≈ 0.52 em), enough to wrap without overflow.
fn text_width(text: &str, size: f32) -> f32 {
    text.chars().count() as f32 * size * 0.52
}

/// Splits `text` into lines no wider than `width` (a long word is cut).
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let max_chars = ((width / (size * 0.52)).floor() as usize).max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word: &str = word;
            loop {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if candidate.chars().count() <= max_chars {
                    line = candidate;
                    break;
                }
                if line.is_empty() {
                    let cut = word
                        .char_indices()
                        .nth(max_chars)
                        .map(|(i, _)| i)
                        .unwrap_or(word.len());
                    lines.push(word[..cut].to_string());
                    word = &word[cut..];
                    if word.is_empty() {
                        break;
                    }
                } else {
                    lines.push(std::mem::take(&mut line));
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Pages being written: the current page's content and the cursor.
struct Pages {
    done: Vec<Content>,
    current: Content,
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            done: Vec::new(),
            current: Content::new(),
            y: PAGE_H - MARGIN,
        }
    }

    /// Makes room for `height`, starting a new page when the current one is full.
    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN {
            let full = std::mem::replace(&mut self.current, Content::new());
            self.done.push(full);
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text(&mut self, x: f32, y: f32, font: Name<'_>, size: f32, text: &str) {
        self.current
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    fn lines(&mut self, text: &str, font: Name<'_>, size: f32) {
        for line in wrap(text, size, PAGE_W - 2.0 * MARGIN) {
            self.need(size * 1.4);
            self.y -= size * 1.4;
            self.text(MARGIN, self.y, font, size, &line);
        }
    }

    fn table(&mut self, headers: &[String], rows: &[Vec<String>]) {
        let columns = headers.len().max(1);
        let width = (PAGE_W - 2.0 * MARGIN) / columns as f32;
        let line_h = TABLE * 1.3;
        let draw_row = |pages: &mut Pages, cells: &[String], font: Name<'_>| {
            let wrapped: Vec<Vec<String>> =
                cells.iter().map(|c| wrap(c, TABLE, width - 4.0)).collect();
            let height = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_h + 2.0;
            pages.need(height);
            for (i, cell) in wrapped.iter().enumerate() {
                for (j, line) in cell.iter().enumerate() {
                    let y = pages.y - line_h * (j as f32 + 1.0);
                    pages.text(MARGIN + i as f32 * width, y, font, TABLE, line);
                }
            }
            pages.y -= height;
        };
        self.y -= 4.0;
        draw_row(self, headers, BOLD);
        for row in rows {
            draw_row(self, row, REGULAR);
        }
    }

    fn chart(&mut self, chart: &BarChart) {
        let (w, h) = (400.0_f32, 120.0_f32);
        self.need(h + 20.0);
        self.y -= BODY * 1.6;
        self.text(MARGIN, self.y, BOLD, BODY, &chart.title);
        let top = self.y - 4.0;
        self.current.set_fill_rgb(0.23, 0.43, 0.65);
        let bars = layout(chart, f64::from(w), f64::from(h));
        for (x, y, bw, bh) in &bars {
            let bottom = top - (*y as f32) - (*bh as f32);
            self.current
                .rect(MARGIN + *x as f32, bottom, *bw as f32, *bh as f32)
                .fill_nonzero();
        }
        self.current.set_fill_rgb(0.0, 0.0, 0.0);
        let step = label_step(chart.bars.len());
        for (i, ((label, value), (x, y, bw, _))) in chart.bars.iter().zip(&bars).enumerate() {
            let centre = MARGIN + (*x + *bw / 2.0) as f32;
            if i % step == 0 {
                let label_w = text_width(label, TABLE);
                self.text(centre - label_w / 2.0, top - h + 6.0, REGULAR, TABLE, label);
            }
            if shows_values(chart.bars.len()) {
                let text = format_value(*value);
                let y = top - (*y as f32) + 2.0;
                self.text(centre - 4.0, y, REGULAR, TABLE, &text);
            }
        }
        self.y = top - h - 4.0;
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }
}

/// The PDF file.
pub fn render(report: &Report) -> Vec<u8> {
    render_blocks(&report.title, &blocks(report))
}

/// A PDF of any document laid out as blocks under a title (other reports use it too: the
/// drills' after-action report).
pub fn render_blocks(title: &str, blocks: &[Block]) -> Vec<u8> {
    let mut pages = Pages::new();
    pages.lines(title, BOLD, 16.0);
    for block in blocks.iter().cloned() {
        match block {
            Block::Heading(text) => {
                pages.need(40.0);
                pages.y -= 8.0;
                pages.lines(&text, BOLD, 12.0);
            }
            Block::Para(text) => pages.lines(&text, REGULAR, BODY),
            Block::Table(headers, rows) => pages.table(&headers, &rows),
            Block::Chart(chart) => pages.chart(&chart),
        }
    }
    assemble(pages.finish())
}

/// Writes the catalogue, the page tree, the two fonts and each page with its content.
fn assemble(contents: Vec<Content>) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let page_ref = |i: usize| Ref::new(5 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..contents.len()).map(page_ref))
        .count(contents.len() as i32);
    for (font, base) in [
        (regular, Name(b"Helvetica")),
        (bold, Name(b"Helvetica-Bold")),
    ] {
        pdf.type1_font(font)
            .base_font(base)
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (i, content) in contents.into_iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(content_ref(i));
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(content_ref(i), &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_cuts_long_ones() {
        let lines = wrap("alpha beta gamma delta", 10.0, 60.0);
        assert_eq!(lines.join(" "), "alpha beta gamma delta");
        assert!(lines.iter().all(|l| l.chars().count() <= 11));
        let long = wrap(&"x".repeat(30), 10.0, 52.0);
        assert_eq!(long.concat(), "x".repeat(30));
    }

    #[test]
    fn text_outside_win_ansi_prints_as_a_question_mark() {
        assert_eq!(win_ansi("Zürich – 5 €"), b"Z\xfcrich \x96 5 \x80".to_vec());
        assert_eq!(win_ansi("東"), b"?".to_vec());
    }
}
