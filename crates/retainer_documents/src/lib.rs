//! The legible documents of a retainer: a **quote**, a per-period **invoice** and a
//! maintainer's yearly **income statement**, each as a standalone HTML page and as PDF bytes.
//! Pure: no database, no network, no clock.
//!
//! Companies that pay a maintainer a retainer have to put it through purchasing and
//! accounts payable, which want a quote before and an invoice after, with the legal names,
//! addresses, tax ids and purchase-order number on them. Maintainers need a yearly statement
//! of what they received and what the platform kept, for their taxes. This crate turns
//! what the caller already knows into those documents; numbering, storage and sending are
//! the caller's business.
//!
//! # API
//!
//! ```text
//! pub struct Party { name, address /* multi-line */, tax_id, email, account /* DID or handle */ }
//! pub enum DocumentKind { Quote, Invoice }
//! pub struct LinePeriod { start: Date, end: Date /* exclusive */ }
//! pub struct Line { description, period: Option<LinePeriod>, amount: i64 }
//! pub struct Document { kind, number, issued_on: Date, due_on, valid_until, vendor, client,
//!                       purchase_order, currency, lines, payment_terms, notes, status }
//! Document::total(&self) -> Result<i64, DocumentError>
//! pub fn document_html(&Document) -> Result<String, DocumentError>
//! pub fn document_pdf(&Document) -> Result<Vec<u8>, DocumentError>
//!
//! pub struct IncomeLine { date: Date, description, gross, fee, net }
//! pub struct IncomeStatement { maintainer: Party, year: i32, currency, lines }
//! IncomeStatement::summary(&self) -> Result<IncomeSummary, DocumentError>
//! pub fn income_html(&IncomeStatement) -> Result<String, DocumentError>
//! pub fn income_pdf(&IncomeStatement) -> Result<Vec<u8>, DocumentError>
//!
//! pub fn invoice_number(year: i32, sequence: u64) -> String  // "GL-2026-000042"
//! pub fn quote_number(year: i32, sequence: u64) -> String    // "GLQ-2026-000007"
//! ```
//!
//! # Example
//!
//! ```
//! use greenlight_retainer_documents::*;
//!
//! let day = |m, d| Date::new(2026, m, d).unwrap();
//! let invoice = Document {
//!     kind: DocumentKind::Invoice,
//!     number: invoice_number(2026, 42),
//!     issued_on: day(3, 1),
//!     due_on: Some(day(3, 15)),
//!     valid_until: None,
//!     vendor: Party { name: "Ada Lovelace".into(), ..Party::default() },
//!     client: Party {
//!         name: "Acme Widgets GmbH".into(),
//!         address: "Hauptstrasse 5\n10115 Berlin".into(),
//!         ..Party::default()
//!     },
//!     purchase_order: Some("PO-77".into()),
//!     currency: Currency::USD,
//!     lines: vec![Line {
//!         description: "Gold retainer".into(),
//!         period: Some(LinePeriod { start: day(3, 1), end: day(4, 1) }),
//!         amount: 250_000,
//!     }],
//!     payment_terms: "Bank transfer, due within 14 days".into(),
//!     notes: vec![],
//!     status: None,
//! };
//! assert_eq!(invoice.total(), Ok(250_000));
//! let html = document_html(&invoice)?;
//! assert!(html.contains("USD 2,500.00") && html.contains("2026-03-01 to 2026-03-31"));
//! let pdf = document_pdf(&invoice)?;
//! assert!(pdf.starts_with(b"%PDF-"));
//! # Ok::<(), DocumentError>(())
//! ```
//!
//! # Rules as implemented
//!
//! - **Money** is `i64` minor units of one [`Currency`] per document, never floats. Amounts
//!   are written by [`Currency::format_minor_with`] with `,` between groups of three digits
//!   and every decimal of the minor unit, after the ISO code (`USD 1,234.50`, `JPY 150,000`,
//!   `BHD 12.345`): the code rather than a symbol, because `$` alone is ambiguous on an
//!   international invoice and symbols like `₹` are not in the PDF fonts.
//! - **Refusals** ([`DocumentError`]): a currency not in the funding crate's table (nobody
//!   knows where its decimal point goes, so no amount in it can be written truthfully); a
//!   total or subtotal past `i64` (checked sums, never saturating: a wrong total on an invoice
//!   is worse than none); a line period that ends before it starts; on an income statement,
//!   a payment dated outside the statement's year or whose `net` is not `gross - fee`.
//!   Negative line amounts (credits, discounts) are allowed and shown with a minus sign.
//! - **Periods** are stored as the billing period's bounds (start inclusive, end exclusive,
//!   as [`PeriodBounds`]) and shown as the inclusive days people read:
//!   `2026-03-01 to 2026-03-31` for the bounds 2026-03-01..2026-04-01, and a single day for a
//!   one-day period.
//! - **HTML**: one complete `<!doctype html>` page with a `noindex` robots meta, a
//!   content-security policy that forbids everything but the inline style, a small inline
//!   print stylesheet, and no scripts or external resources. All text from the caller
//!   (names, addresses, PO numbers, tier names, notes) is untrusted and HTML-escaped
//!   (`& < > " '`); multi-line addresses keep their line breaks.
//! - **PDF**: A4, written with [`pdf_writer`] using the standard Helvetica and
//!   Helvetica-Bold fonts in WinAnsiEncoding, so no font file is embedded. A character
//!   outside WinAnsi (CJK, emoji, combining marks) is written as `?` in the PDF only; the
//!   HTML keeps it. Text is wrapped to its column (a word wider than the column is broken),
//!   so nothing runs off the page, and content continues on further pages, each headed with
//!   the document's title and number, tables repeating their column headings, and every page
//!   numbered `Page n of N`. Content streams are uncompressed, and there are no timestamps or
//!   random file ids: the same input gives the same bytes.
//! - **Numbers**: [`invoice_number`] and [`quote_number`] zero-pad the sequence to six digits
//!   (wider sequences are written in full), so numbers sort and read the same everywhere.
//! - **Income statements** list every month of the year with its payment count and gross,
//!   platform fee and net subtotals (a month without payments shows zeros, so the reader can
//!   see it was not left out), the year's totals, then every payment in date order.

#![warn(missing_docs)]

mod html;
mod pdf;
mod winansi;

use std::fmt;

pub use greenlight_funding::{Currency, Date, PeriodBounds};
use thiserror::Error;

pub use html::{document_html, income_html};
pub use pdf::{document_pdf, income_pdf};

/// Someone named on a document: the maintainer (vendor) or the paying company (client).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    /// The legal name, as it must appear for accounts payable and tax authorities.
    pub name: String,
    /// The postal address; lines separated by `\n`.
    pub address: String,
    /// VAT number, EIN or similar, when the party has one to show.
    pub tax_id: Option<String>,
    /// Where to write about the document.
    pub email: Option<String>,
    /// The party's atproto account (DID or handle), which ties the document to the records.
    pub account: Option<String>,
}

/// Which document: the wording of the title and of the client block depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// An offer before the retainer starts, for the client's purchasing.
    Quote,
    /// A request for payment of one or more periods.
    Invoice,
}

impl DocumentKind {
    /// The title printed at the top: `QUOTE` or `INVOICE`.
    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Quote => "QUOTE",
            DocumentKind::Invoice => "INVOICE",
        }
    }

    /// The heading of the client's block: `Prepared for` on a quote (nothing is billed yet),
    /// `Bill to` on an invoice.
    pub fn client_heading(self) -> &'static str {
        match self {
            DocumentKind::Quote => "Prepared for",
            DocumentKind::Invoice => "Bill to",
        }
    }

    fn word(self) -> &'static str {
        match self {
            DocumentKind::Quote => "Quote",
            DocumentKind::Invoice => "Invoice",
        }
    }
}

/// The service period a line pays for, as a billing period's bounds: `start` inclusive, `end`
/// exclusive (the first day of the next period), like [`PeriodBounds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinePeriod {
    /// The first day covered.
    pub start: Date,
    /// The first day no longer covered.
    pub end: Date,
}

impl From<PeriodBounds> for LinePeriod {
    fn from(bounds: PeriodBounds) -> Self {
        LinePeriod {
            start: bounds.start,
            end: bounds.end,
        }
    }
}

impl LinePeriod {
    /// The last day covered (the day before `end`), or `None` if the period is empty.
    pub fn last_day(&self) -> Option<Date> {
        if self.end <= self.start {
            return None;
        }
        self.end.add_days(-1)
    }

    /// How people read it: `2026-03-01 to 2026-03-31`, or one date for a one-day period;
    /// `None` if the period is empty.
    pub fn display(&self) -> Option<String> {
        let last = self.last_day()?;
        Some(if last == self.start {
            self.start.to_string()
        } else {
            format!("{} to {}", self.start, last)
        })
    }
}

/// One line of a quote or invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What is paid for, e.g. the tier's name and the project.
    pub description: String,
    /// The service period, if the line is for one.
    pub period: Option<LinePeriod>,
    /// Minor units of the document's currency; negative for a credit.
    pub amount: i64,
}

/// A quote or an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Quote or invoice.
    pub kind: DocumentKind,
    /// Its number, e.g. from [`invoice_number`] or [`quote_number`].
    pub number: String,
    /// The date of issue.
    pub issued_on: Date,
    /// When payment is due (invoices).
    pub due_on: Option<Date>,
    /// Until when the offer stands (quotes).
    pub valid_until: Option<Date>,
    /// Who is paid: the maintainer.
    pub vendor: Party,
    /// Who pays: the company.
    pub client: Party,
    /// The client's purchase-order number, which their accounts payable match on.
    pub purchase_order: Option<String>,
    /// The one currency of every amount on the document.
    pub currency: Currency,
    /// What is quoted or billed, in order.
    pub lines: Vec<Line>,
    /// How and when to pay, e.g. `Bank transfer, due within 14 days`.
    pub payment_terms: String,
    /// Further remarks, one paragraph each.
    pub notes: Vec<String>,
    /// Where the document stands, e.g. `Paid 2026-03-02` or `Void`, when it is worth saying.
    pub status: Option<String>,
}

/// Why a document cannot be written truthfully.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    /// The currency is not in the funding crate's table, so where its decimal point goes is
    /// unknown.
    #[error("{0} is not a currency Greenlight handles money in")]
    UnsupportedCurrency(Currency),
    /// A total or subtotal does not fit in `i64` minor units.
    #[error("the amounts add up to more than can be written")]
    TotalOverflow,
    /// A line's period ends on or before the day it starts.
    #[error("line {line} has an empty period: it ends on or before it starts")]
    EmptyPeriod {
        /// The line's index, from 0.
        line: usize,
    },
    /// An income statement's payment is dated in another year.
    #[error("payment {line} is dated {date}, outside the statement's year {year}")]
    OutsideYear {
        /// The payment's index, from 0.
        line: usize,
        /// Its date.
        date: Date,
        /// The statement's year.
        year: i32,
    },
    /// An income statement's payment whose `net` is not `gross - fee`.
    #[error("payment {line}: net is not gross minus fee")]
    NetMismatch {
        /// The payment's index, from 0.
        line: usize,
    },
}

fn check_currency(currency: Currency) -> Result<(), DocumentError> {
    if currency.supported() {
        Ok(())
    } else {
        Err(DocumentError::UnsupportedCurrency(currency))
    }
}

impl Document {
    /// The sum of the lines' amounts, checked: [`DocumentError::TotalOverflow`] rather than a
    /// wrapped or saturated number.
    pub fn total(&self) -> Result<i64, DocumentError> {
        self.lines.iter().try_fold(0_i64, |sum, line| {
            sum.checked_add(line.amount)
                .ok_or(DocumentError::TotalOverflow)
        })
    }

    /// Everything rendering relies on: a supported currency, non-empty periods, a total that
    /// fits. Returns the total.
    fn check(&self) -> Result<i64, DocumentError> {
        check_currency(self.currency)?;
        for (i, line) in self.lines.iter().enumerate() {
            if line.period.is_some_and(|p| p.last_day().is_none()) {
                return Err(DocumentError::EmptyPeriod { line: i });
            }
        }
        self.total()
    }
}

/// One payment a maintainer received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeLine {
    /// The day it was received.
    pub date: Date,
    /// What it was for, e.g. the client and tier.
    pub description: String,
    /// What the payer paid, in minor units.
    pub gross: i64,
    /// What the platform kept.
    pub fee: i64,
    /// What the maintainer received: `gross - fee`.
    pub net: i64,
}

/// A maintainer's income in one currency over one calendar year (one statement per
/// currency: amounts are never converted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeStatement {
    /// Whose income.
    pub maintainer: Party,
    /// The calendar year; every payment must be dated in it.
    pub year: i32,
    /// The currency of every amount.
    pub currency: Currency,
    /// One line per payment received, in any order (they are shown by date).
    pub lines: Vec<IncomeLine>,
}

/// Sums of payments: gross, the platform's fee and net.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncomeTotals {
    /// How many payments.
    pub payments: usize,
    /// Sum of gross amounts.
    pub gross: i64,
    /// Sum of platform fees.
    pub fee: i64,
    /// Sum of net amounts.
    pub net: i64,
}

impl IncomeTotals {
    fn add(&mut self, line: &IncomeLine) -> Result<(), DocumentError> {
        let add = |a: i64, b: i64| a.checked_add(b).ok_or(DocumentError::TotalOverflow);
        self.payments += 1;
        self.gross = add(self.gross, line.gross)?;
        self.fee = add(self.fee, line.fee)?;
        self.net = add(self.net, line.net)?;
        Ok(())
    }
}

/// What an income statement adds up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeSummary {
    /// January to December, always twelve entries (index 0 is January).
    pub months: [IncomeTotals; 12],
    /// The whole year: the sum of the months.
    pub year: IncomeTotals,
}

impl IncomeStatement {
    /// The monthly subtotals and the year's totals, after checking that the currency is
    /// supported, every payment is dated in [`IncomeStatement::year`], every `net` is
    /// `gross - fee` and no sum overflows.
    pub fn summary(&self) -> Result<IncomeSummary, DocumentError> {
        check_currency(self.currency)?;
        let mut summary = IncomeSummary {
            months: [IncomeTotals::default(); 12],
            year: IncomeTotals::default(),
        };
        for (i, line) in self.lines.iter().enumerate() {
            if line.date.year() != self.year {
                return Err(DocumentError::OutsideYear {
                    line: i,
                    date: line.date,
                    year: self.year,
                });
            }
            if line.gross.checked_sub(line.fee) != Some(line.net) {
                return Err(DocumentError::NetMismatch { line: i });
            }
            let month = usize::from(line.date.month().saturating_sub(1)).min(11);
            summary.months[month].add(line)?;
            summary.year.add(line)?;
        }
        Ok(summary)
    }

    /// The payments in date order (stable: same-day payments keep their given order).
    fn lines_by_date(&self) -> Vec<&IncomeLine> {
        let mut lines: Vec<&IncomeLine> = self.lines.iter().collect();
        lines.sort_by_key(|line| line.date);
        lines
    }
}

/// English month names, for the income statement.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// An invoice number: `GL-2026-000042` for year 2026, sequence 42.
pub fn invoice_number(year: i32, sequence: u64) -> String {
    format!("GL-{year:04}-{sequence:06}")
}

/// A quote number: `GLQ-2026-000007` for year 2026, sequence 7. Distinct from invoice
/// numbers so the two are never confused in anyone's books.
pub fn quote_number(year: i32, sequence: u64) -> String {
    format!("GLQ-{year:04}-{sequence:06}")
}

/// An amount as printed: the ISO code, then grouped digits with every decimal
/// (`USD 1,234.50`).
fn money(currency: Currency, minor: i64) -> String {
    format!("{} {}", currency, plain_amount(currency, minor))
}

/// An amount without the code, for table columns whose heading names the currency.
fn plain_amount(currency: Currency, minor: i64) -> String {
    currency.format_minor_with(
        minor,
        greenlight_funding::AmountStyle {
            group_separator: Some(','),
            drop_zero_fraction: false,
        },
    )
}

/// The label/value pairs under a quote's or invoice's title, in order; shared by both
/// renderings so they say the same thing.
fn document_facts(doc: &Document) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        (
            match doc.kind {
                DocumentKind::Quote => "Quote number",
                DocumentKind::Invoice => "Invoice number",
            },
            doc.number.clone(),
        ),
        ("Issue date", doc.issued_on.to_string()),
    ];
    if let Some(due) = doc.due_on {
        facts.push(("Due date", due.to_string()));
    }
    if let Some(valid) = doc.valid_until {
        facts.push(("Valid until", valid.to_string()));
    }
    if let Some(po) = &doc.purchase_order {
        facts.push(("Purchase order", po.clone()));
    }
    facts.push(("Currency", doc.currency.to_string()));
    if let Some(status) = &doc.status {
        facts.push(("Status", status.clone()));
    }
    facts
}

/// A party's lines after the name: address lines, then labelled tax id, email, account.
fn party_details(party: &Party) -> Vec<String> {
    let mut lines: Vec<String> = party
        .address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(tax_id) = &party.tax_id {
        lines.push(format!("Tax ID: {tax_id}"));
    }
    if let Some(email) = &party.email {
        lines.push(format!("Email: {email}"));
    }
    if let Some(account) = &party.account {
        lines.push(format!("Account: {account}"));
    }
    lines
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_show_inclusive_days() {
        let d = |y, m, d| Date::new(y, m, d).unwrap();
        let month = LinePeriod {
            start: d(2026, 3, 1),
            end: d(2026, 4, 1),
        };
        assert_eq!(month.display().as_deref(), Some("2026-03-01 to 2026-03-31"));
        let day = LinePeriod {
            start: d(2026, 3, 1),
            end: d(2026, 3, 2),
        };
        assert_eq!(day.display().as_deref(), Some("2026-03-01"));
        let empty = LinePeriod {
            start: d(2026, 3, 1),
            end: d(2026, 3, 1),
        };
        assert_eq!(empty.display(), None);
    }
}
