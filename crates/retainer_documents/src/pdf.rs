//! The PDF renderings: a small flowing layout (wrapped text, tables, page breaks) drawn with
//! `pdf-writer` in the standard Helvetica fonts.
//!
//! Layout and writing are separate steps: [`Layout`] places every text run and rule on
//! pages, then [`write_pdf`] turns the pages into a file. The unit tests check the placed
//! runs directly, so "nothing runs off the page" is tested on positions, not on pixels.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::winansi::{encode, units, width};
use crate::{
    document_facts, money, party_details, plain_amount, Document, DocumentError, IncomeStatement,
    Party, MONTHS,
};

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - 50.0;
/// The top of the first line's box.
const TOP: f32 = PAGE_HEIGHT - 50.0;
/// Nothing but the page footer goes below this.
const BOTTOM: f32 = 60.0;
const FOOTER_BASELINE: f32 = 35.0;
/// Body text size and the line height as a multiple of the size.
const BODY: f32 = 10.0;
const SMALL: f32 = 8.0;
const LEADING: f32 = 1.3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn is_bold(self) -> bool {
        self == Font::Bold
    }

    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// One thing drawn on a page.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    /// WinAnsi `text` with its left end at `x` on the baseline `y`.
    Text {
        x: f32,
        y: f32,
        font: Font,
        size: f32,
        text: Vec<u8>,
    },
    /// A horizontal rule; `gray` 0 is black.
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        gray: f32,
    },
    /// A light grey band behind a table heading.
    Band { x: f32, y: f32, w: f32, h: f32 },
}

/// Splits WinAnsi text into lines no wider than `max` points: at spaces, and inside a word
/// that is wider than a whole line. Always at least one line (possibly empty).
fn wrap(text: &[u8], font: Font, size: f32, max: f32) -> Vec<Vec<u8>> {
    let bold = font.is_bold();
    let fits = |t: &[u8]| width(t, bold, size) <= max;
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a line is cut into pieces that fit, in one pass.
        let mut start = 0;
        let mut piece = 0_u64;
        for (i, &b) in word.iter().enumerate() {
            let w = u64::from(units(b, bold));
            if i > start && (piece + w) as f32 * size / 1000.0 > max {
                lines.push(word[start..i].to_vec());
                start = i;
                piece = 0;
            }
            piece += w;
        }
        line = word[start..].to_vec();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut to one line no wider than `max`, ending in `...` if it was cut: for the
/// running head and footer, which must never take more than their one line.
fn one_line(text: &[u8], font: Font, size: f32, max: f32) -> Vec<u8> {
    let bold = font.is_bold();
    if width(text, bold, size) <= max {
        return text.to_vec();
    }
    let room = max - width(b"...", bold, size);
    let mut used = 0_u64;
    let mut out: Vec<u8> = text
        .iter()
        .copied()
        .take_while(|&b| {
            used += u64::from(units(b, bold));
            used as f32 * size / 1000.0 <= room
        })
        .collect();
    out.extend_from_slice(b"...");
    out
}

/// `text` as wrapped WinAnsi lines, keeping its own line breaks.
fn wrap_text(text: &str, font: Font, size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        lines.extend(wrap(&encode(paragraph), font, size, max));
    }
    lines
}

/// One cell of a line: wrapped WinAnsi text in a column.
#[derive(Debug, Clone)]
struct Cell {
    x: f32,
    width: f32,
    align: Align,
    font: Font,
    text: Vec<u8>,
}

impl Cell {
    fn new(x: f32, width: f32, align: Align, font: Font, text: Vec<u8>) -> Self {
        Cell {
            x,
            width,
            align,
            font,
            text,
        }
    }
}

/// A column of a table.
#[derive(Debug, Clone, Copy)]
struct Column {
    x: f32,
    width: f32,
    align: Align,
}

/// A table's columns and heading, redrawn at the top of every page the table continues on.
struct Table<'a> {
    columns: &'a [Column],
    heading: Option<&'a [&'a str]>,
    size: f32,
}

/// The pages laid out so far and where the next line goes.
struct Layout {
    pages: Vec<Vec<Op>>,
    /// The top of the next line's box.
    y: f32,
    /// Printed at the top of every page after the first, e.g. `INVOICE GL-2026-000042`.
    running_head: Vec<u8>,
}

impl Layout {
    fn new(running_head: &str) -> Self {
        Layout {
            pages: vec![Vec::new()],
            y: TOP,
            running_head: encode(running_head),
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        let head = one_line(&self.running_head, Font::Bold, SMALL, RIGHT - LEFT);
        let cell = Cell::new(LEFT, RIGHT - LEFT, Align::Left, Font::Bold, head);
        self.line(&[cell], SMALL);
        self.gap(SMALL);
    }

    /// Starts a new page unless `height` more points fit on this one; true if it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// Draws one line of already wrapped cells and moves down. The caller has made room.
    fn line(&mut self, cells: &[Cell], size: f32) {
        let baseline = self.y - size;
        for cell in cells {
            if cell.text.is_empty() {
                continue;
            }
            let x = match cell.align {
                Align::Left => cell.x,
                Align::Right => cell.x + cell.width - width(&cell.text, cell.font.is_bold(), size),
            };
            self.push(Op::Text {
                x,
                y: baseline,
                font: cell.font,
                size,
                text: cell.text.clone(),
            });
        }
        self.y -= size * LEADING;
    }

    /// Wrapped text across the full width (or from `x`), continuing on new pages as needed.
    fn paragraph(&mut self, x: f32, text: &str, font: Font, size: f32) {
        for line in wrap_text(text, font, size, RIGHT - x) {
            self.ensure(size * LEADING);
            self.line(&[Cell::new(x, RIGHT - x, Align::Left, font, line)], size);
        }
    }

    fn rule(&mut self, width: f32, gray: f32) {
        let y = self.y;
        self.push(Op::Rule {
            x1: LEFT,
            x2: RIGHT,
            y,
            width,
            gray,
        });
    }

    fn table_heading(&mut self, table: &Table) {
        let Some(heading) = table.heading else {
            return;
        };
        let cells: Vec<&str> = heading.to_vec();
        let height = self.row_height(table, &cells, Font::Bold) + 4.0;
        self.ensure(height + table.size * LEADING);
        self.push(Op::Band {
            x: LEFT,
            y: self.y - height,
            w: RIGHT - LEFT,
            h: height,
        });
        self.gap(2.0);
        self.row_lines(table, &cells, Font::Bold, false);
        self.gap(2.0);
    }

    fn row_height(&self, table: &Table, cells: &[&str], font: Font) -> f32 {
        let lines = table
            .columns
            .iter()
            .zip(cells)
            .map(|(col, text)| wrap_text(text, font, table.size, col.width).len())
            .max()
            .unwrap_or(1);
        lines as f32 * table.size * LEADING
    }

    /// One table row, line by line; a row longer than the page continues on the next page
    /// under a repeated heading.
    fn row_lines(&mut self, table: &Table, cells: &[&str], font: Font, repeat_heading: bool) {
        let wrapped: Vec<Vec<Vec<u8>>> = table
            .columns
            .iter()
            .zip(cells)
            .map(|(col, text)| wrap_text(text, font, table.size, col.width))
            .collect();
        let count = wrapped.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..count {
            if self.ensure(table.size * LEADING) && repeat_heading {
                self.table_heading(table);
            }
            let line: Vec<Cell> = table
                .columns
                .iter()
                .zip(&wrapped)
                .map(|(col, lines)| {
                    let text = lines.get(i).cloned().unwrap_or_default();
                    Cell::new(col.x, col.width, col.align, font, text)
                })
                .collect();
            self.line(&line, table.size);
        }
    }

    /// A table row followed by a hairline, so wrapped rows are told apart.
    fn row(&mut self, table: &Table, cells: &[&str], font: Font) {
        self.gap(1.0);
        self.row_lines(table, cells, font, true);
        self.rule(0.3, 0.75);
        self.gap(1.0);
    }

    /// A table's closing row (totals) under a heavier rule.
    fn total_row(&mut self, table: &Table, cells: &[&str]) {
        self.ensure(table.size * LEADING * 2.0);
        self.rule(1.5, 0.0);
        self.gap(4.0);
        self.row_lines(table, cells, Font::Bold, true);
    }
}

/// The top of the first page: the issuer's name on the left, the title on the right, a rule.
fn masthead(layout: &mut Layout, issuer: &str, title: &str) {
    let title_size = 20.0;
    let title_bytes = encode(title);
    let title_width = width(&title_bytes, true, title_size);
    let name_width = RIGHT - LEFT - title_width - 24.0;
    layout.push(Op::Text {
        x: RIGHT - title_width,
        y: layout.y - title_size,
        font: Font::Bold,
        size: title_size,
        text: title_bytes,
    });
    let start = layout.y;
    for line in wrap_text(issuer, Font::Bold, 14.0, name_width) {
        layout.ensure(14.0 * LEADING);
        let cell = Cell::new(LEFT, name_width, Align::Left, Font::Bold, line);
        layout.line(&[cell], 14.0);
    }
    if layout.pages.len() == 1 {
        layout.y = layout.y.min(start - title_size * LEADING);
    }
    layout.gap(4.0);
    layout.rule(1.5, 0.0);
    layout.gap(12.0);
}

/// Label/value rows under the masthead.
fn facts(layout: &mut Layout, facts: &[(&str, String)]) {
    let label_width = 100.0;
    let value_x = LEFT + 105.0;
    let value_width = RIGHT - value_x;
    for (label, value) in facts {
        let labels = wrap_text(label, Font::Bold, BODY, label_width);
        let values = wrap_text(value, Font::Regular, BODY, value_width);
        for i in 0..labels.len().max(values.len()) {
            layout.ensure(BODY * LEADING);
            let label = labels.get(i).cloned().unwrap_or_default();
            let value = values.get(i).cloned().unwrap_or_default();
            layout.line(
                &[
                    Cell::new(LEFT, label_width, Align::Left, Font::Bold, label),
                    Cell::new(value_x, value_width, Align::Left, Font::Regular, value),
                ],
                BODY,
            );
        }
    }
    layout.gap(10.0);
}

/// Parties side by side, each a heading, the bold name, then the details; each column
/// flows on its own, so a long name on one side leaves no gap on the other.
fn parties(layout: &mut Layout, parties: &[(&str, &Party)]) {
    let col_width = (RIGHT - LEFT - 20.0) / 2.0;
    // Each column's wrapped lines, already placed in the column.
    let columns: Vec<Vec<Cell>> = parties
        .iter()
        .enumerate()
        .map(|(i, (heading, party))| {
            let x = LEFT + i as f32 * (col_width + 20.0);
            let mut lines = Vec::new();
            let mut add = |font, text: &str| {
                for line in wrap_text(text, font, BODY, col_width) {
                    lines.push(Cell::new(x, col_width, Align::Left, font, line));
                }
            };
            add(Font::Bold, &heading.to_uppercase());
            add(Font::Bold, &party.name);
            for detail in party_details(party) {
                add(Font::Regular, &detail);
            }
            lines
        })
        .collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..rows {
        layout.ensure(BODY * LEADING);
        let cells: Vec<Cell> = columns
            .iter()
            .filter_map(|lines| lines.get(i).cloned())
            .collect();
        layout.line(&cells, BODY);
    }
    layout.gap(14.0);
}

/// A heading then a paragraph per item.
fn section(layout: &mut Layout, heading: &str, paragraphs: &[String]) {
    layout.ensure(BODY * LEADING * 2.0 + 6.0);
    layout.paragraph(LEFT, heading, Font::Bold, BODY);
    layout.gap(2.0);
    for p in paragraphs {
        layout.paragraph(LEFT, p, Font::Regular, BODY);
        layout.gap(3.0);
    }
    layout.gap(8.0);
}

/// Writes the laid-out pages, adding each page's footer (`left` and `Page n of N`).
fn write_pdf(pages: &[Vec<Op>], title: &str, footer: &str) -> Vec<u8> {
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(6 + 2 * i32::try_from(i).unwrap_or(i32::MAX / 4)))
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    // No creation date and no file id: the same document must give the same bytes.
    pdf.document_info(info_id)
        .title(TextStr(title))
        .producer(TextStr("Greenlight"));

    let footer = encode(footer);
    let total = pages.len();
    for (i, (ops, page_id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree_id)
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Font::Regular.resource(), regular_id)
            .pair(Font::Bold.resource(), bold_id);
        page.finish();

        let mut content = Content::new();
        for op in ops {
            draw(&mut content, op);
        }
        let page_label = format!("Page {} of {}", i + 1, total).into_bytes();
        let footer_ops = [
            Op::Rule {
                x1: LEFT,
                x2: RIGHT,
                y: FOOTER_BASELINE + 12.0,
                width: 0.5,
                gray: 0.0,
            },
            Op::Text {
                x: LEFT,
                y: FOOTER_BASELINE,
                font: Font::Regular,
                size: SMALL,
                text: one_line(&footer, Font::Regular, SMALL, 380.0),
            },
            Op::Text {
                x: RIGHT - width(&page_label, false, SMALL),
                y: FOOTER_BASELINE,
                font: Font::Regular,
                size: SMALL,
                text: page_label,
            },
        ];
        for op in &footer_ops {
            draw(&mut content, op);
        }
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

fn draw(content: &mut Content, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            font,
            size,
            text,
        } => {
            content
                .begin_text()
                .set_font(font.resource(), *size)
                .next_line(*x, *y)
                .show(Str(text))
                .end_text();
        }
        Op::Rule {
            x1,
            x2,
            y,
            width,
            gray,
        } => {
            content
                .save_state()
                .set_stroke_gray(*gray)
                .set_line_width(*width)
                .move_to(*x1, *y)
                .line_to(*x2, *y)
                .stroke()
                .restore_state();
        }
        Op::Band { x, y, w, h } => {
            content
                .save_state()
                .set_fill_gray(0.9)
                .rect(*x, *y, *w, *h)
                .fill_nonzero()
                .restore_state();
        }
    }
}

/// The three columns of a quote's or invoice's lines.
const LINE_COLUMNS: [Column; 3] = [
    Column {
        x: LEFT,
        width: 232.0,
        align: Align::Left,
    },
    // Fits `2026-03-01 to 2026-03-31` (116 pt).
    Column {
        x: LEFT + 240.0,
        width: 122.0,
        align: Align::Left,
    },
    // Fits the widest i64 amount with separators (123 pt).
    Column {
        x: RIGHT - 128.0,
        width: 128.0,
        align: Align::Right,
    },
];

fn lay_out_document(doc: &Document, total: i64) -> Layout {
    let running_head = format!("{} {} (continued)", doc.kind.title(), doc.number);
    let mut layout = Layout::new(&running_head);
    masthead(&mut layout, &doc.vendor.name, doc.kind.title());
    facts(&mut layout, &document_facts(doc));
    parties(
        &mut layout,
        &[
            ("From", &doc.vendor),
            (doc.kind.client_heading(), &doc.client),
        ],
    );

    let amount_heading = format!("Amount ({})", doc.currency);
    let heading = ["Description", "Period", amount_heading.as_str()];
    let table = Table {
        columns: &LINE_COLUMNS,
        heading: Some(&heading),
        size: BODY,
    };
    layout.table_heading(&table);
    for line in &doc.lines {
        let period = line.period.and_then(|p| p.display()).unwrap_or_default();
        let amount = plain_amount(doc.currency, line.amount);
        layout.row(
            &table,
            &[&line.description, &period, &amount],
            Font::Regular,
        );
    }
    let total_columns = [
        Column {
            x: LEFT,
            width: 100.0,
            align: Align::Left,
        },
        Column {
            x: LEFT + 110.0,
            width: RIGHT - LEFT - 110.0,
            align: Align::Right,
        },
    ];
    let total_table = Table {
        columns: &total_columns,
        heading: None,
        size: 12.0,
    };
    layout.total_row(&total_table, &["Total", &money(doc.currency, total)]);
    layout.gap(14.0);

    section(
        &mut layout,
        "Payment terms",
        std::slice::from_ref(&doc.payment_terms),
    );
    if !doc.notes.is_empty() {
        section(&mut layout, "Notes", &doc.notes);
    }
    layout
}

/// A quote or invoice as PDF bytes (A4, paginated). Fails as [`crate::document_html`] does.
pub fn document_pdf(doc: &Document) -> Result<Vec<u8>, DocumentError> {
    let total = doc.check()?;
    let layout = lay_out_document(doc, total);
    let title = format!("{} {}", doc.kind.word(), doc.number);
    let footer = format!("{} {} - {}", doc.kind.word(), doc.number, doc.vendor.name);
    Ok(write_pdf(&layout.pages, &title, &footer))
}

/// Month, payments, gross, fee, net.
const MONTH_COLUMNS: [Column; 5] = [
    Column {
        x: LEFT,
        width: 100.0,
        align: Align::Left,
    },
    Column {
        x: LEFT + 100.0,
        width: 60.0,
        align: Align::Right,
    },
    Column {
        x: LEFT + 170.0,
        width: 105.0,
        align: Align::Right,
    },
    Column {
        x: LEFT + 280.0,
        width: 105.0,
        align: Align::Right,
    },
    Column {
        x: LEFT + 390.0,
        width: 105.0,
        align: Align::Right,
    },
];

/// Date, description, gross, fee, net.
const PAYMENT_COLUMNS: [Column; 5] = [
    Column {
        x: LEFT,
        width: 58.0,
        align: Align::Left,
    },
    Column {
        x: LEFT + 62.0,
        width: 138.0,
        align: Align::Left,
    },
    Column {
        x: LEFT + 205.0,
        width: 95.0,
        align: Align::Right,
    },
    Column {
        x: LEFT + 305.0,
        width: 90.0,
        align: Align::Right,
    },
    Column {
        x: LEFT + 400.0,
        width: 95.0,
        align: Align::Right,
    },
];

fn lay_out_income(s: &IncomeStatement, summary: &crate::IncomeSummary) -> Layout {
    let c = s.currency;
    let running_head = format!("INCOME STATEMENT {} {} (continued)", s.year, c);
    let mut layout = Layout::new(&running_head);
    masthead(&mut layout, &s.maintainer.name, "INCOME STATEMENT");
    facts(
        &mut layout,
        &[
            ("Year", s.year.to_string()),
            ("Currency", c.to_string()),
            ("Payments", summary.year.payments.to_string()),
        ],
    );
    parties(&mut layout, &[("Maintainer", &s.maintainer)]);

    layout.paragraph(LEFT, "BY MONTH", Font::Bold, BODY);
    layout.gap(2.0);
    let gross = format!("Gross ({c})");
    let fee = format!("Platform fee ({c})");
    let net = format!("Net ({c})");
    let heading = [
        "Month",
        "Payments",
        gross.as_str(),
        fee.as_str(),
        net.as_str(),
    ];
    let table = Table {
        columns: &MONTH_COLUMNS,
        heading: Some(&heading),
        size: 9.0,
    };
    layout.table_heading(&table);
    for (name, month) in MONTHS.iter().zip(&summary.months) {
        let cells = [
            name.to_string(),
            month.payments.to_string(),
            plain_amount(c, month.gross),
            plain_amount(c, month.fee),
            plain_amount(c, month.net),
        ];
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        layout.row(&table, &cells, Font::Regular);
    }
    let y = summary.year;
    let cells = [
        format!("Total {}", s.year),
        y.payments.to_string(),
        plain_amount(c, y.gross),
        plain_amount(c, y.fee),
        plain_amount(c, y.net),
    ];
    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
    layout.total_row(&table, &cells);
    layout.gap(18.0);

    layout.ensure(BODY * LEADING * 4.0);
    layout.paragraph(LEFT, "PAYMENTS RECEIVED", Font::Bold, BODY);
    layout.gap(2.0);
    let fee = format!("Fee ({c})");
    let heading = [
        "Date",
        "Description",
        gross.as_str(),
        fee.as_str(),
        net.as_str(),
    ];
    let table = Table {
        columns: &PAYMENT_COLUMNS,
        heading: Some(&heading),
        size: 9.0,
    };
    layout.table_heading(&table);
    for line in s.lines_by_date() {
        let cells = [
            line.date.to_string(),
            line.description.clone(),
            plain_amount(c, line.gross),
            plain_amount(c, line.fee),
            plain_amount(c, line.net),
        ];
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        layout.row(&table, &cells, Font::Regular);
    }
    let cells = [
        String::new(),
        format!("Total {} ({} payments)", s.year, y.payments),
        plain_amount(c, y.gross),
        plain_amount(c, y.fee),
        plain_amount(c, y.net),
    ];
    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
    layout.total_row(&table, &cells);
    layout
}

/// An income statement as PDF bytes (A4, paginated). Fails as
/// [`IncomeStatement::summary`](crate::IncomeStatement::summary) does.
pub fn income_pdf(s: &IncomeStatement) -> Result<Vec<u8>, DocumentError> {
    let summary = s.summary()?;
    let layout = lay_out_income(s, &summary);
    let title = format!("Income statement {} {}", s.year, s.currency);
    let footer = format!(
        "Income statement {} {} - {}",
        s.year, s.currency, s.maintainer.name
    );
    Ok(write_pdf(&layout.pages, &title, &footer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocumentKind, IncomeLine, Line, LinePeriod};
    use greenlight_funding::{Currency, Date};

    fn hostile_party(name: &str) -> Party {
        Party {
            name: name.repeat(20),
            address: format!("{}\n{}", "Straße ".repeat(40), "x".repeat(400)),
            tax_id: Some("DE".to_owned() + &"9".repeat(200)),
            email: Some(format!("{}@example.com", "a".repeat(150))),
            account: Some("did:plc:".to_owned() + &"z".repeat(300)),
        }
    }

    fn long_document() -> Document {
        let day = Date::new(2026, 3, 1).unwrap();
        Document {
            kind: DocumentKind::Invoice,
            number: "GL-2026-".to_owned() + &"0".repeat(2_000),
            issued_on: day,
            due_on: Some(day),
            valid_until: None,
            vendor: hostile_party("Ｍａｉｎｔａｉｎｅｒ Maintainer "),
            client: hostile_party("WWWWWWWWWWWWWWWWWWWW"),
            purchase_order: Some("PO-".repeat(100)),
            currency: Currency::parse("BHD").unwrap(),
            lines: (0..120)
                .map(|i| Line {
                    description: format!("Line {i} ") + &"Wide words WWWWWWWWWWWW ".repeat(i % 7),
                    period: Some(LinePeriod {
                        start: day,
                        end: Date::new(2026, 4, 1).unwrap(),
                    }),
                    amount: if i == 0 { i64::MAX / 2 } else { -1 },
                })
                .collect(),
            payment_terms: "Pay ".repeat(500),
            notes: vec!["note".repeat(300), "東京".repeat(100)],
            status: Some("Void ".repeat(50)),
        }
    }

    /// Every run of text lies inside the margins: wrapping and page breaks work.
    fn assert_inside_margins(pages: &[Vec<Op>]) {
        for (n, page) in pages.iter().enumerate() {
            for op in page {
                if let Op::Text {
                    x,
                    y,
                    font,
                    size,
                    text,
                } = op
                {
                    let right = x + width(text, font.is_bold(), *size);
                    assert!(
                        *x >= LEFT - 0.01 && right <= RIGHT + 0.01,
                        "page {n}: {:?} runs from {x} to {right}",
                        String::from_utf8_lossy(text)
                    );
                    assert!(*y >= BOTTOM - 0.01 && *y <= TOP, "page {n}: y {y}");
                }
            }
        }
    }

    #[test]
    fn long_text_stays_on_the_page() {
        let doc = long_document();
        let total = doc.check().unwrap();
        let layout = lay_out_document(&doc, total);
        assert!(layout.pages.len() > 2);
        assert_inside_margins(&layout.pages);
    }

    #[test]
    fn long_income_statement_stays_on_the_page() {
        let s = IncomeStatement {
            maintainer: hostile_party("Ada "),
            year: 2026,
            currency: Currency::USD,
            lines: (0..300)
                .map(|i| IncomeLine {
                    date: Date::new(2026, 1 + (i % 12) as u8, 1).unwrap(),
                    description: format!("Retainer {i} ")
                        + &"Acme WWWWWWWWWWWWWWWWWWWW ".repeat(i % 4),
                    gross: 1_000_000_000_000,
                    fee: 50_000_000_000,
                    net: 950_000_000_000,
                })
                .collect(),
        };
        let summary = s.summary().unwrap();
        let layout = lay_out_income(&s, &summary);
        assert!(layout.pages.len() > 2);
        assert_inside_margins(&layout.pages);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_inside_overlong_words() {
        let lines = wrap(
            b"aaa bbb ccc",
            Font::Regular,
            10.0,
            width(b"aaa bbb", false, 10.0),
        );
        assert_eq!(lines, vec![b"aaa bbb".to_vec(), b"ccc".to_vec()]);
        let lines = wrap(b"WWWWWW", Font::Regular, 10.0, width(b"WW", false, 10.0));
        assert_eq!(lines, vec![b"WW".to_vec(); 3]);
        assert_eq!(
            wrap(b"", Font::Regular, 10.0, 100.0),
            vec![Vec::<u8>::new()]
        );
    }

    #[test]
    fn one_line_cuts_with_an_ellipsis() {
        let max = width(b"abcdef", false, 10.0);
        assert_eq!(one_line(b"abcdef", Font::Regular, 10.0, max), b"abcdef");
        let cut = one_line(b"abcdefghij", Font::Regular, 10.0, max);
        assert!(cut.ends_with(b"..."));
        assert!(width(&cut, false, 10.0) <= max);
    }

    /// Hostile input of any length is laid out in linear time: a megabyte without a space
    /// must not hang the server that renders it.
    #[test]
    fn a_megabyte_without_spaces_is_quick() {
        let text = vec![b'W'; 1 << 20];
        let started = std::time::Instant::now();
        let lines = wrap(&text, Font::Regular, 10.0, 100.0);
        assert!(lines.iter().all(|l| width(l, false, 10.0) <= 100.0));
        assert_eq!(lines.iter().map(Vec::len).sum::<usize>(), 1 << 20);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
