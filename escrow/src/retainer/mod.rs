//! Retainer agreements in escrow: a client pays a maintainer every period, through the same
//! ledger as donations (see `migrations/0009_retainer.sql`).
//!
//! The agreement's state is the funding rules' [`Agreement`], stored as columns. Every change
//! goes through [`transition`]: it locks nothing itself (callers hold the row `FOR UPDATE`),
//! applies [`retainer::apply`] and writes the result only over the state it was computed
//! from, so no path can move an agreement in a way the rules do not allow.
//!
//! - [`billing`]: invoices, collection attempts, payments, retries and period ends.
//! - [`documents`]: the quote, the invoices and the income statement as HTML and PDF.
//! - [`http`]: the retainer procedures' routes and the documents' addresses.

pub mod billing;
pub mod documents;
pub mod http;

use chrono::{DateTime, NaiveDate, Utc};
use greenlight_funding::billing_period::{Date, Period};
use greenlight_funding::retainer::{self, Agreement, AgreementState, Event, Refusal, Terms};
use greenlight_funding::Currency;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{
    AgreementView, BillingDetails, InvoiceView,
};
use sqlx::PgConnection;

use crate::billing_clock::BillingClock;
use crate::clock::datetime;
use crate::error::EscrowError;
use crate::Escrow;

/// An agreement as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgreementRow {
    /// Escrow's id.
    pub id: String,
    /// The offer's AT-URI.
    pub offer: String,
    /// The offer version quoted.
    pub offer_cid: String,
    /// Who pays.
    pub client: String,
    /// Who is paid.
    pub maintainer: String,
    /// The tier in force.
    pub tier: String,
    /// Its price per period, minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// `month` or `year`.
    pub period: String,
    /// The next period's tier, when a change is pending.
    pub next_tier: Option<String>,
    /// The next period's price.
    pub next_amount: Option<i64>,
    /// `invoice` or `card`.
    pub collection: String,
    /// The client as invoiced (`BillingDetails`).
    pub billing: serde_json::Value,
    /// Whether the client may be named in public.
    pub listed: bool,
    /// The fee fixed with the quote.
    pub fee_bps: i32,
    /// The rules' state name.
    pub state: String,
    /// Retries failed so far while past due.
    pub failed_retries: i16,
    /// The billing day the current period's payment first failed.
    pub first_failure_on: Option<NaiveDate>,
    /// The first period's first day.
    pub anchor: Option<NaiveDate>,
    /// Months from the anchor to the current period.
    pub period_offset_months: i32,
    /// Periods begun.
    pub periods: i32,
    /// Whether the current period is paid.
    pub current_paid: bool,
    /// The quote's number.
    pub quote_number: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Reads an agreement, locked for the caller's transaction.
pub async fn lock(conn: &mut PgConnection, id: &str) -> Result<Option<AgreementRow>, EscrowError> {
    Ok(sqlx::query_as!(
        AgreementRow,
        "SELECT id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at
         FROM escrow.retainer_agreement WHERE id = $1 FOR UPDATE",
        id,
    )
    .fetch_optional(conn)
    .await?)
}

/// A database date as a rules date.
pub fn to_date(day: NaiveDate) -> Result<Date, EscrowError> {
    use chrono::Datelike;
    u8::try_from(day.month())
        .ok()
        .zip(u8::try_from(day.day()).ok())
        .and_then(|(month, d)| Date::new(day.year(), month, d))
        .ok_or_else(|| EscrowError::Internal(format!("date out of the calendar: {day}")))
}

/// A rules date as a database date.
pub fn from_date(day: Date) -> Result<NaiveDate, EscrowError> {
    NaiveDate::from_ymd_opt(day.year(), u32::from(day.month()), u32::from(day.day()))
        .ok_or_else(|| EscrowError::Internal(format!("date out of chrono's range: {day:?}")))
}

impl AgreementRow {
    /// The terms in force.
    pub fn terms(&self) -> Result<Terms, EscrowError> {
        terms(&self.tier, self.amount, &self.currency, &self.period)
    }

    /// The rules' view of the agreement.
    pub fn agreement(&self) -> Result<Agreement, EscrowError> {
        let state = match self.state.as_str() {
            "requested" => AgreementState::Requested,
            "quoted" => AgreementState::Quoted,
            "active" => AgreementState::Active,
            "past_due" => AgreementState::PastDue {
                failed_retries: u8::try_from(self.failed_retries).unwrap_or(u8::MAX),
            },
            "cancelling" => AgreementState::Cancelling,
            "ended" => AgreementState::Ended,
            "lapsed" => AgreementState::Lapsed,
            other => {
                return Err(EscrowError::Internal(format!(
                    "unknown agreement state {other}"
                )))
            }
        };
        let next_terms = match (&self.next_tier, self.next_amount) {
            (Some(tier), Some(amount)) => Some(terms(tier, amount, &self.currency, &self.period)?),
            _ => None,
        };
        Ok(Agreement {
            state,
            terms: self.terms()?,
            next_terms,
            fee_basis_points: u32::try_from(self.fee_bps)
                .map_err(|_| EscrowError::Internal("negative fee".into()))?,
            anchor: self.anchor.map(to_date).transpose()?,
            period_offset_months: u32::try_from(self.period_offset_months)
                .map_err(|_| EscrowError::Internal("negative period offset".into()))?,
            periods: u32::try_from(self.periods)
                .map_err(|_| EscrowError::Internal("negative period count".into()))?,
            current_paid: self.current_paid,
        })
    }

    /// The current period's first day and the next period's first day, when started.
    pub fn current_period(&self) -> Result<Option<(Date, Date)>, EscrowError> {
        Ok(self.agreement()?.current_period())
    }

    /// The billing details the client gave.
    pub fn billing(&self) -> Result<BillingDetails, EscrowError> {
        serde_json::from_value(self.billing.clone())
            .map_err(|error| EscrowError::Internal(format!("stored billing details: {error}")))
    }

    /// The agreement as the lexicon shows it to its client or maintainer.
    pub fn view(
        &self,
        escrow: &Escrow,
        invoices: Vec<InvoiceView>,
        payment_url: Option<String>,
    ) -> Result<AgreementView, EscrowError> {
        let calendar = escrow.billing_clock();
        let agreement = self.agreement()?;
        let period = agreement
            .state
            .is_in_force()
            .then(|| agreement.current_period())
            .flatten();
        let next_retry_at = match (agreement.state, self.first_failure_on) {
            (AgreementState::PastDue { failed_retries }, Some(first)) => {
                retainer::next_retry_on(to_date(first)?, failed_retries)
                    .map(|day| datetime(calendar.start_of(day)))
            }
            _ => None,
        };
        Ok(AgreementView {
            id: self.id.clone(),
            offer: StrongRef {
                uri: self.offer.clone(),
                cid: self.offer_cid.clone(),
            },
            client: self.client.clone(),
            maintainer: self.maintainer.clone(),
            tier: self.tier.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            period: self.period.clone(),
            next_tier: self.next_tier.clone(),
            next_amount: self.next_amount,
            collection: self.collection.clone(),
            state: self.state.clone(),
            starts_at: agreement.anchor.map(|day| datetime(calendar.start_of(day))),
            current_period_starts_at: period.map(|(start, _)| datetime(calendar.start_of(start))),
            current_period_ends_at: period.map(|(_, end)| datetime(calendar.start_of(end))),
            failed_attempts: matches!(agreement.state, AgreementState::PastDue { .. })
                .then(|| i64::from(self.failed_retries) + 1),
            next_retry_at,
            quote_url: self
                .quote_number
                .as_ref()
                .map(|number| documents::url(escrow, number, "html")),
            invoices: Some(invoices),
            created_at: datetime(self.created_at),
            updated_at: datetime(self.updated_at),
            listed_publicly: Some(self.listed),
            payment_url,
            quote_number: self.quote_number.clone(),
        })
    }
}

/// Billable terms from stored columns.
pub fn terms(tier: &str, amount: i64, currency: &str, period: &str) -> Result<Terms, EscrowError> {
    Ok(Terms {
        tier: tier.to_owned(),
        amount,
        currency: Currency::parse(currency)
            .map_err(|error| EscrowError::Internal(format!("stored currency: {error}")))?,
        period: Period::parse(period)
            .ok_or_else(|| EscrowError::Internal(format!("stored period {period}")))?,
    })
}

/// Applies `event` to the locked agreement `row` and stores the result; a refusal changes
/// nothing and is returned as it is, for the caller to name.
pub async fn transition(
    conn: &mut PgConnection,
    row: &AgreementRow,
    event: &Event,
    today: Date,
    at: DateTime<Utc>,
) -> Result<Result<AgreementRow, Refusal>, EscrowError> {
    let before = row.agreement()?;
    let after = match retainer::apply(&before, event) {
        Ok(after) => after,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let failed_retries = match after.state {
        AgreementState::PastDue { failed_retries } => i16::from(failed_retries),
        _ => 0,
    };
    // The retry schedule counts from the day the period's payment first failed.
    let first_failure_on = match (before.state, after.state) {
        (AgreementState::PastDue { .. }, AgreementState::PastDue { .. }) => row.first_failure_on,
        (_, AgreementState::PastDue { .. }) => Some(from_date(today)?),
        _ => None,
    };
    let (next_tier, next_amount) = after.next_terms.as_ref().map_or((None, None), |next| {
        (Some(next.tier.clone()), Some(next.amount))
    });
    let updated = sqlx::query_as!(
        AgreementRow,
        "UPDATE escrow.retainer_agreement SET state = $3, tier = $4, amount = $5, next_tier = $6,
             next_amount = $7, fee_bps = $8, failed_retries = $9, first_failure_on = $10,
             anchor = $11, period_offset_months = $12, periods = $13, current_paid = $14,
             updated_at = $15
         WHERE id = $1 AND updated_at = $2
         RETURNING id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at",
        row.id,
        row.updated_at,
        after.state.as_str(),
        after.terms.tier,
        after.terms.amount,
        next_tier,
        next_amount,
        i32::try_from(after.fee_basis_points).unwrap_or(i32::MAX),
        failed_retries,
        first_failure_on,
        after.anchor.map(from_date).transpose()?,
        i32::try_from(after.period_offset_months).unwrap_or(i32::MAX),
        i32::try_from(after.periods).unwrap_or(i32::MAX),
        after.current_paid,
        at.max(row.updated_at + chrono::Duration::microseconds(1)),
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| {
        EscrowError::Internal(format!(
            "agreement {} changed under a transition; callers must hold it locked",
            row.id
        ))
    })?;
    tracing::info!(
        agreement = %row.id,
        from = %row.state,
        to = %updated.state,
        event = ?event.kind(),
        "retainer agreement moved"
    );
    Ok(Ok(updated))
}

impl Escrow {
    /// The billing calendar retainers are billed by.
    pub fn billing_clock(&self) -> BillingClock {
        BillingClock::with_origin(self.config.billing_day, self.config.billing_origin)
    }
}
