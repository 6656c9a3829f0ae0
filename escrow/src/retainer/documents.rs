//! The quote, the invoices and the income statement, as escrow issues and serves them.
//!
//! What a quote or an invoice says is frozen when it is issued ([`Facts`], stored as JSON in
//! the row, which the database refuses to change) and its HTML and PDF are rendered from the
//! facts alone by `greenlight-retainer-documents`; only the status line (paid, void) follows
//! the invoice's state. Documents name a company's legal name, address and tax id, so their
//! addresses carry a capability: an HMAC of the document's name under a key derived from the
//! operator secret, handed only to the client and the maintainer (`getRetainerAgreement`,
//! `getIncomeStatement`).

use chrono::{DateTime, Utc};
use greenlight_funding::billing_period::Date;
use greenlight_funding::Currency;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::VendorDetails;
use greenlight_retainer_documents::{
    self as docs, Document, DocumentKind, IncomeLine, IncomeStatement, Line, LinePeriod, Party,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::AgreementRow;
use crate::error::EscrowError;
use crate::Escrow;

/// A party as frozen on a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyFacts {
    /// Legal name (the maintainer's handle or DID when they gave none).
    pub name: String,
    /// Postal address, several lines.
    pub address: String,
    /// VAT or other tax id.
    pub tax_id: Option<String>,
    /// Where invoices go.
    pub email: Option<String>,
    /// The atproto account.
    pub account: Option<String>,
}

/// Everything a quote or an invoice says, frozen at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// `quote` or `invoice`.
    pub kind: String,
    /// The document's number.
    pub number: String,
    /// Billing day of issue.
    pub issued_on: Date,
    /// Billing day due (invoices).
    pub due_on: Option<Date>,
    /// Last billing day the quote's price holds.
    pub valid_until: Option<Date>,
    /// The maintainer.
    pub vendor: PartyFacts,
    /// The company.
    pub client: PartyFacts,
    /// The client's purchase-order number.
    pub purchase_order: Option<String>,
    /// ISO 4217.
    pub currency: Currency,
    /// What is billed.
    pub line: String,
    /// The period billed: first day, and the next period's first day.
    pub period: Option<(Date, Date)>,
    /// Minor units.
    pub amount: i64,
    /// How to pay.
    pub payment_terms: String,
    /// Further lines (fee, offer, agreement id).
    pub notes: Vec<String>,
}

/// The number of the `sequence`-th invoice, in the year its period begins.
pub fn invoice_number(year: i32, sequence: i64) -> String {
    docs::invoice_number(year, u64::try_from(sequence).unwrap_or(0))
}

/// The number of the `sequence`-th quote.
pub fn quote_number(year: i32, sequence: i64) -> String {
    docs::quote_number(year, u64::try_from(sequence).unwrap_or(0))
}

/// The vendor details `did` gave escrow (`setVendorDetails`), if any.
pub async fn vendor_details(
    conn: &mut sqlx::PgConnection,
    did: &str,
) -> Result<Option<VendorDetails>, EscrowError> {
    let stored = sqlx::query_scalar!("SELECT details FROM escrow.vendor WHERE did = $1", did)
        .fetch_optional(conn)
        .await?;
    stored
        .map(|details| {
            serde_json::from_value(details)
                .map_err(|error| EscrowError::Internal(format!("stored vendor details: {error}")))
        })
        .transpose()
}

fn parties(
    escrow: &Escrow,
    row: &AgreementRow,
    vendor: Option<&VendorDetails>,
) -> Result<(PartyFacts, PartyFacts), EscrowError> {
    let billing = row.billing()?;
    // Without details of their own the maintainer is named by their account, and the
    // document says through whom the money is paid.
    let vendor = match vendor {
        Some(details) => PartyFacts {
            name: details.legal_name.clone(),
            address: details.address.clone(),
            tax_id: details.tax_id.clone(),
            email: details.email.clone(),
            account: Some(row.maintainer.clone()),
        },
        None => PartyFacts {
            name: row.maintainer.clone(),
            address: format!(
                "Paid through Greenlight escrow\n{}",
                escrow.config.public_url
            ),
            tax_id: None,
            email: None,
            account: Some(row.maintainer.clone()),
        },
    };
    let client = PartyFacts {
        name: billing.legal_name,
        address: billing.address,
        tax_id: billing.tax_id,
        email: billing.email,
        account: Some(row.client.clone()),
    };
    Ok((vendor, client))
}

fn payment_terms(row: &AgreementRow, due_days: u32) -> String {
    match row.collection.as_str() {
        "card" => format!("Card, charged on issue; due within {due_days} days"),
        _ => {
            format!("Bank transfer to the account on the payment page; due within {due_days} days")
        }
    }
}

fn notes(row: &AgreementRow) -> Vec<String> {
    vec![
        format!("Retainer agreement {}, offer {}", row.id, row.offer),
        format!(
            "Includes the published platform fee of {}.{:02} %, kept by Greenlight.",
            row.fee_bps / 100,
            row.fee_bps % 100
        ),
        "A retainer reduces the risk of the project going unmaintained and opens a channel to \
         its maintainer; it buys no hours and no deliverables."
            .into(),
    ]
}

/// The facts of a period's invoice.
#[allow(clippy::too_many_arguments)]
pub fn invoice_facts(
    escrow: &Escrow,
    row: &AgreementRow,
    vendor: Option<&VendorDetails>,
    number: &str,
    period: (Date, Date),
    now: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<serde_json::Value, EscrowError> {
    let calendar = escrow.billing_clock();
    let (vendor, client) = parties(escrow, row, vendor)?;
    let billing = row.billing()?;
    let facts = Facts {
        kind: "invoice".into(),
        number: number.to_owned(),
        issued_on: calendar.date(now),
        due_on: Some(calendar.date(due_at)),
        valid_until: None,
        vendor,
        client,
        purchase_order: billing.purchase_order,
        currency: row.terms()?.currency,
        line: format!("Retainer, {} tier, one {}", row.tier, row.period),
        period: Some(period),
        amount: row.amount,
        payment_terms: payment_terms(row, greenlight_funding::retainer::INVOICE_DUE_DAYS),
        notes: notes(row),
    };
    serde_json::to_value(facts).map_err(|error| EscrowError::Internal(error.to_string()))
}

/// The facts of a quote for `row`'s terms, valid for 30 billing days.
pub fn quote_facts(
    escrow: &Escrow,
    row: &AgreementRow,
    vendor: Option<&VendorDetails>,
    number: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, EscrowError> {
    let calendar = escrow.billing_clock();
    let (vendor, client) = parties(escrow, row, vendor)?;
    let billing = row.billing()?;
    let today = calendar.date(now);
    let facts = Facts {
        kind: "quote".into(),
        number: number.to_owned(),
        issued_on: today,
        due_on: None,
        valid_until: today.add_days(30),
        vendor,
        client,
        purchase_order: billing.purchase_order,
        currency: row.terms()?.currency,
        line: format!("Retainer, {} tier, per {}", row.tier, row.period),
        period: None,
        amount: row.amount,
        payment_terms: payment_terms(row, greenlight_funding::retainer::INVOICE_DUE_DAYS),
        notes: notes(row),
    };
    serde_json::to_value(facts).map_err(|error| EscrowError::Internal(error.to_string()))
}

impl From<PartyFacts> for Party {
    fn from(party: PartyFacts) -> Party {
        Party {
            name: party.name,
            address: party.address,
            tax_id: party.tax_id,
            email: party.email,
            account: party.account,
        }
    }
}

/// The document the stored `facts` describe, with `status` (paid, void) as it is now.
pub fn document(
    facts: &serde_json::Value,
    status: Option<String>,
) -> Result<Document, EscrowError> {
    let facts: Facts = serde_json::from_value(facts.clone())
        .map_err(|error| EscrowError::Internal(format!("stored document: {error}")))?;
    Ok(Document {
        kind: if facts.kind == "quote" {
            DocumentKind::Quote
        } else {
            DocumentKind::Invoice
        },
        number: facts.number,
        issued_on: facts.issued_on,
        due_on: facts.due_on,
        valid_until: facts.valid_until,
        vendor: facts.vendor.into(),
        client: facts.client.into(),
        purchase_order: facts.purchase_order,
        currency: facts.currency,
        lines: vec![Line {
            description: facts.line,
            period: facts.period.map(|(start, end)| LinePeriod { start, end }),
            amount: facts.amount,
        }],
        payment_terms: facts.payment_terms,
        notes: facts.notes,
        status,
    })
}

type HmacSha256 = Hmac<Sha256>;

fn token(escrow: &Escrow, name: &str) -> String {
    // Keyed by the operator secret and the service identity: a document address proves that
    // escrow handed it out, and changing the secret revokes every address at once.
    let mut mac = HmacSha256::new_from_slice(
        format!(
            "greenlight documents\0{}\0{}",
            escrow.config.service_did, escrow.config.admin_password
        )
        .as_bytes(),
    )
    .unwrap_or_else(|_| unreachable_mac());
    mac.update(name.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn unreachable_mac() -> HmacSha256 {
    // HMAC takes keys of any length; this is never reached.
    HmacSha256::new_from_slice(b"greenlight").unwrap_or_else(|_| unreachable!())
}

/// Whether `given` is the capability for the document `name`, compared in constant time.
pub fn token_matches(escrow: &Escrow, name: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = token(escrow, name);
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The address of a quote's or invoice's document as `ext` (`html` or `pdf`).
pub fn url(escrow: &Escrow, number: &str, ext: &str) -> String {
    format!(
        "{}/documents/{number}.{ext}?token={}",
        escrow.config.public_url.trim_end_matches('/'),
        token(escrow, number)
    )
}

/// The name an income statement's capability is for.
pub fn income_name(did: &str, year: i32, currency: &str) -> String {
    format!("income/{did}/{year}/{currency}")
}

/// The address of an income statement as `ext`.
pub fn income_url(escrow: &Escrow, did: &str, year: i32, currency: &str, ext: &str) -> String {
    format!(
        "{}/documents/income/{did}/{year}/{currency}.{ext}?token={}",
        escrow.config.public_url.trim_end_matches('/'),
        token(escrow, &income_name(did, year, currency))
    )
}

/// A rendered document.
pub enum Rendered {
    /// An HTML page.
    Html(String),
    /// PDF bytes.
    Pdf(Vec<u8>),
}

fn render(document: &Document, ext: &str) -> Result<Rendered, EscrowError> {
    let failed = |error: docs::DocumentError| EscrowError::Internal(format!("document: {error}"));
    Ok(match ext {
        "pdf" => Rendered::Pdf(docs::document_pdf(document).map_err(failed)?),
        _ => Rendered::Html(docs::document_html(document).map_err(failed)?),
    })
}

/// The quote or invoice `number`, if escrow issued one.
pub async fn quote_or_invoice(
    escrow: &Escrow,
    number: &str,
    ext: &str,
) -> Result<Option<Rendered>, EscrowError> {
    let invoice = sqlx::query!(
        "SELECT document, state, paid_at FROM escrow.retainer_invoice WHERE number = $1",
        number,
    )
    .fetch_optional(&escrow.pool)
    .await?;
    if let Some(invoice) = invoice {
        let calendar = escrow.billing_clock();
        let status = match (invoice.state.as_str(), invoice.paid_at) {
            ("paid", Some(at)) => Some(format!("Paid {}", calendar.date(at))),
            ("void", _) => Some("Void: nothing is owed for this invoice".to_owned()),
            _ => None,
        };
        return render(&document(&invoice.document, status)?, ext).map(Some);
    }
    let quote = sqlx::query_scalar!(
        "SELECT quote_document FROM escrow.retainer_agreement WHERE quote_number = $1",
        number,
    )
    .fetch_optional(&escrow.pool)
    .await?
    .flatten();
    match quote {
        Some(facts) => render(&document(&facts, None)?, ext).map(Some),
        None => Ok(None),
    }
}

/// One year's income of `did` in `currency`, from the ledger: every posted movement into
/// their payable account (retainer periods, donations, released pledges), with its fee.
pub async fn income_statement(
    escrow: &Escrow,
    did: &str,
    year: i32,
    currency: &str,
) -> Result<IncomeStatement, EscrowError> {
    let income = income_lines(escrow, did, year, Some(currency)).await?;
    let currency = Currency::parse(currency)
        .map_err(|error| EscrowError::InvalidRequest(format!("currency: {error}")))?;
    Ok(IncomeStatement {
        maintainer: Party {
            name: did.to_owned(),
            address: format!(
                "Paid through Greenlight escrow\n{}",
                escrow.config.public_url
            ),
            tax_id: None,
            email: None,
            account: Some(did.to_owned()),
        },
        year,
        currency,
        lines: income
            .into_iter()
            .map(|line| IncomeLine {
                date: calendar_date(line.at),
                description: line.description,
                gross: line.gross,
                fee: line.fee,
                net: line.gross - line.fee,
            })
            .collect(),
    })
}

/// Income is dated by the UTC calendar, whatever the billing day's length: it is for the
/// maintainer's books and their tax year.
fn calendar_date(at: DateTime<Utc>) -> Date {
    crate::billing_clock::BillingClock::new(chrono::Duration::days(1)).date(at)
}

/// One payment credited to a maintainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeEntry {
    /// When it was booked.
    pub at: DateTime<Utc>,
    /// ISO 4217.
    pub currency: String,
    /// What it was.
    pub description: String,
    /// `retainer_payment`, `donation` or `pledge_capture`.
    pub kind: String,
    /// Minor units credited.
    pub gross: i64,
    /// The fee taken from it.
    pub fee: i64,
}

/// Every payment credited to `did` in `year` (UTC), optionally in one currency.
pub async fn income_lines(
    escrow: &Escrow,
    did: &str,
    year: i32,
    currency: Option<&str>,
) -> Result<Vec<IncomeEntry>, EscrowError> {
    let payable = crate::ledger::payable(did);
    let from = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| EscrowError::InvalidRequest("year out of range".into()))?;
    let to = chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| EscrowError::InvalidRequest("year out of range".into()))?;
    // Credits to payable are income. A donation's or invoice's fee is taken from payable
    // afterwards; a pledge capture is the share left after its fee was taken from the held
    // pledges, so its gross is the two together.
    let rows = sqlx::query!(
        r#"SELECT t.id AS "id!", t.kind AS "kind!", t.ledger AS "ledger!", t.amount AS "amount!", s.at,
                  t.proposal, t.donation, r.invoice AS "invoice?",
                  coalesce((SELECT sum(f.amount) FROM escrow.transfer_current f
                            WHERE f.kind = 'fee' AND f.state = 'posted' AND f.ledger = t.ledger
                              AND (f.id = r.invoice || ':fee'
                                   OR (t.donation IS NOT NULL AND f.id = t.donation || ':fee')
                                   OR (t.kind = 'pledge_capture' AND f.id = replace(t.id, ':capture', ':fee')))), 0)::bigint AS "fee!"
           FROM escrow.transfer_current t
           JOIN escrow.transfer_state s ON s.transfer_id = t.id AND s.state = 'posted'
           LEFT JOIN escrow.retainer_transfer r ON r.transfer_id = t.id
           WHERE t.credit_account = $1 AND t.state = 'posted'
             AND t.kind IN ('retainer_payment', 'donation', 'pledge_capture')
             AND s.at >= $2 AND s.at < $3 AND ($4::text IS NULL OR t.ledger = $4)
           ORDER BY s.at, t.id"#,
        payable,
        from,
        to,
        currency,
    )
    .fetch_all(&escrow.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let description = match (row.kind.as_str(), &row.invoice) {
                ("retainer_payment", Some(invoice)) => format!("Retainer, invoice {invoice}"),
                ("donation", _) => format!(
                    "Donation to {}",
                    row.proposal.as_deref().unwrap_or("a proposal")
                ),
                _ => format!(
                    "Released pledges for {}",
                    row.proposal.as_deref().unwrap_or("a proposal")
                ),
            };
            let gross = if row.kind == "pledge_capture" {
                row.amount + row.fee
            } else {
                row.amount
            };
            IncomeEntry {
                at: row.at,
                currency: row.ledger,
                description,
                kind: row.kind,
                gross,
                fee: row.fee,
            }
        })
        .collect())
}

/// An income statement rendered as `ext`.
pub fn render_income(statement: &IncomeStatement, ext: &str) -> Result<Rendered, EscrowError> {
    let failed = |error: docs::DocumentError| EscrowError::Internal(format!("document: {error}"));
    Ok(match ext {
        "pdf" => Rendered::Pdf(docs::income_pdf(statement).map_err(failed)?),
        _ => Rendered::Html(docs::income_html(statement).map_err(failed)?),
    })
}
