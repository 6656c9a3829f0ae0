//! Retainer agreements: the state machine escrow drives, the retry schedule, what each
//! period pays, and how retainer money shows in public totals.
//!
//! # States
//!
//! ```text
//!  requested ──quote──▶ quoted ──start──▶ active ◀──────── payment succeeded ─┐
//!      │                  │  ▲quote        │  │ payment failed                 │
//!      │ cancel           │ cancel         │  ▼                                │
//!      ▼                  ▼                │ past_due ──payment failed──▶ past_due (retrying)
//!    ended ◀──────────────┘                │  │  │                           │
//!      ▲        cancel (period unpaid)     │  │  └─ cancel ─▶ ended          │ last retry failed
//!      ├───────────────────────────────────┘  │                              ▼
//!      │                     cancel (paid) ▼  │                            lapsed
//!      └──── period ended ──── cancelling ─uncancel─▶ active
//! ```
//!
//! [`apply`] is the one transition function: every event in every state is either one of
//! the moves below or refused with a [`Refusal`], and a refused event changes nothing.
//!
//! - `requested → quoted` when escrow issues the quote (a new quote replaces the old one
//!   while quoted). Nothing is owed until the client starts it.
//! - `quoted → active` when the client starts: the first period begins that day (the
//!   *anchor*, see [`crate::billing_period`]) and its invoice is issued, unpaid.
//! - In `active`, the period's payment succeeds once ([`Refusal::AlreadyPaid`] for a second
//!   time: exactly one charge per period) or fails, moving to `past_due`.
//! - `past_due` is retried on the published [`RETRY_SCHEDULE_DAYS`]; a success returns to
//!   `active`, the failure of the last retry makes it `lapsed` (final).
//! - The period ends only once it is paid ([`Refusal::PeriodUnpaid`]): escrow must record a
//!   failure first, so an unpaid period can never roll into the next one unnoticed. At the
//!   end, a pending tier change takes effect and the next period's invoice is issued.
//! - A tier change ([`Event::ChangeTier`]) is only accepted while `active`, in the same
//!   currency, and takes effect from the next period: the running period is never
//!   re-priced. The same event carries a price change of the offer to a running agreement.
//! - Cancelling an `active` agreement whose period is paid makes it `cancelling`: it runs to
//!   the end of the paid period, then `ended`; `uncancel` undoes it before then. Cancelling
//!   when the period in force is unpaid (active before payment, or past due) ends it at
//!   once, voiding the invoice: there is no paid period to run to. Cancelling before it
//!   started (requested, quoted) withdraws it.
//! - `ended` and `lapsed` are final.
//!
//! # Money
//!
//! Retainer money is not escrowed: each period's payment is paid to the maintainer at once,
//! minus the fee ([`period_payment`]), through the same double-entry ledger as donations.
//! The fee is the one escrow published when it issued the quote, fixed for the agreement's
//! life ([`Agreement::fee_basis_points`]), as a proposal's fee is fixed in its terms.
//!
//! # The estimate cap
//!
//! Retainer payments do **not** count as successful contributions for the estimate cap
//! ([`counts_toward_estimate_cap`]). The cap asks "what has this account actually paid for
//! a feature?", and a retainer buys maintenance, not features; it is usually a company's
//! procurement paying, not the person estimating. Most of all, the cap is public
//! (`fund.greenlight.getActor` shows it, and so twice the largest contribution): counting a
//! retainer would publish the size of a client's payments even when the client asked not
//! to be listed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::billing_period::{boundary, Date, Period};
use crate::currency::Currency;
use crate::fee::{split_fee, FeeSplit};

/// The published retry schedule: after a period's payment first fails, it is retried this
/// many days after that first failure, once per entry. When the last retry fails the
/// agreement lapses. Fourteen days in all, shorter than the shortest period (28 days), so a
/// period's retries always finish inside it.
pub const RETRY_SCHEDULE_DAYS: [u32; 3] = [3, 7, 14];

/// A period's invoice is due this many days after it is issued (net 14: time for a
/// company's accounts payable to pay a bank transfer). Unpaid by then, the payment has failed
/// and the retry schedule begins.
pub const INVOICE_DUE_DAYS: u32 = 14;

/// Each retry is due this many days after it is made: shorter than the smallest gap in
/// [`RETRY_SCHEDULE_DAYS`] (4 days), so one retry is settled before the next begins.
pub const RETRY_DUE_DAYS: u32 = 3;

/// What a client pays per period: the tier in force and its price.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    /// The tier's name.
    pub tier: String,
    /// Price per period in minor units of `currency`.
    pub amount: i64,
    /// Currency of the price.
    pub currency: Currency,
    /// Length of a period.
    pub period: Period,
}

impl Terms {
    /// Whether money can be billed on these terms: a positive price in a supported currency.
    pub fn is_billable(&self) -> bool {
        self.amount > 0 && self.currency.supported()
    }
}

/// Where an agreement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum AgreementState {
    /// The client asked for a quote.
    Requested,
    /// Escrow issued a quote; nothing is owed yet.
    Quoted,
    /// In good standing: the current period is paid, or its invoice is not due yet.
    Active,
    /// The current period's payment failed; `failed_retries` retries of
    /// [`RETRY_SCHEDULE_DAYS`] have failed since.
    PastDue {
        /// Retries that failed so far (0 right after the first failure).
        failed_retries: u8,
    },
    /// Cancelled; runs to the end of the paid period.
    Cancelling,
    /// Cancelled or withdrawn (final).
    Ended,
    /// Payment failed after every retry (final).
    Lapsed,
}

impl AgreementState {
    /// The name used in the lexicons' `state`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AgreementState::Requested => "requested",
            AgreementState::Quoted => "quoted",
            AgreementState::Active => "active",
            AgreementState::PastDue { .. } => "past_due",
            AgreementState::Cancelling => "cancelling",
            AgreementState::Ended => "ended",
            AgreementState::Lapsed => "lapsed",
        }
    }

    /// Whether nothing may follow.
    pub const fn is_final(self) -> bool {
        matches!(self, AgreementState::Ended | AgreementState::Lapsed)
    }

    /// Whether the client is a client now: started, and not ended or lapsed. Such an
    /// agreement takes a seat and counts among the maintainer's clients.
    pub const fn is_in_force(self) -> bool {
        matches!(
            self,
            AgreementState::Active | AgreementState::PastDue { .. } | AgreementState::Cancelling
        )
    }
}

/// Something that happened to an agreement, as escrow records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// Escrow issued a quote on these terms (the offer's tier and price today) at the fee
    /// escrow publishes today.
    Quote {
        /// The quoted terms.
        terms: Terms,
        /// The platform fee in basis points, fixed for the agreement's life from here (at
        /// most 10 000).
        fee_basis_points: u32,
    },
    /// The client accepted the quote; the first period begins on `on`.
    Start {
        /// The first period's first day (UTC).
        on: Date,
    },
    /// The current period's payment succeeded.
    PaymentSucceeded,
    /// An attempt to collect the current period's payment failed (the first attempt, or a
    /// retry; an invoice not paid by its due date counts as failed).
    PaymentFailed,
    /// The clock reached the end of the current period.
    PeriodEnded,
    /// The client chose another tier, or the offer's price changed: from the next period.
    ChangeTier {
        /// The terms from the next period.
        terms: Terms,
    },
    /// The client cancelled.
    Cancel,
    /// The client took back a cancellation before the period ended.
    Uncancel,
}

impl Event {
    /// The event's kind, without its data.
    pub const fn kind(&self) -> EventKind {
        match self {
            Event::Quote { .. } => EventKind::Quote,
            Event::Start { .. } => EventKind::Start,
            Event::PaymentSucceeded => EventKind::PaymentSucceeded,
            Event::PaymentFailed => EventKind::PaymentFailed,
            Event::PeriodEnded => EventKind::PeriodEnded,
            Event::ChangeTier { .. } => EventKind::ChangeTier,
            Event::Cancel => EventKind::Cancel,
            Event::Uncancel => EventKind::Uncancel,
        }
    }
}

/// [`Event`] without its data: what a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    /// [`Event::Quote`].
    Quote,
    /// [`Event::Start`].
    Start,
    /// [`Event::PaymentSucceeded`].
    PaymentSucceeded,
    /// [`Event::PaymentFailed`].
    PaymentFailed,
    /// [`Event::PeriodEnded`].
    PeriodEnded,
    /// [`Event::ChangeTier`].
    ChangeTier,
    /// [`Event::Cancel`].
    Cancel,
    /// [`Event::Uncancel`].
    Uncancel,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 8] = [
        EventKind::Quote,
        EventKind::Start,
        EventKind::PaymentSucceeded,
        EventKind::PaymentFailed,
        EventKind::PeriodEnded,
        EventKind::ChangeTier,
        EventKind::Cancel,
        EventKind::Uncancel,
    ];
}

/// Why [`apply`] refused an event. A refused event changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Refusal {
    /// The event has no meaning in this state (including anything after a final state).
    #[error("{event:?} is not allowed while {}", state.as_str())]
    NotAllowed {
        /// The agreement's state.
        state: AgreementState,
        /// The refused event.
        event: EventKind,
    },
    /// The current period is already paid: a second payment would charge twice.
    #[error("the current period is already paid")]
    AlreadyPaid,
    /// The period cannot end before its payment succeeded or failed.
    #[error("the current period is not paid; record the payment or its failure first")]
    PeriodUnpaid,
    /// The terms have no positive price in a supported currency.
    #[error("the terms are not billable: the price must be positive, in a supported currency")]
    NotBillable,
    /// A tier change to another currency: an agreement is billed in one currency.
    #[error("the agreement is billed in {agreement}; the new tier is in {found}")]
    CurrencyChange {
        /// The agreement's currency.
        agreement: Currency,
        /// The new terms' currency.
        found: Currency,
    },
    /// A fee above 10 000 basis points (100 %).
    #[error("a fee of {basis_points} basis points is more than the whole payment")]
    FeeOutOfRange {
        /// The fee asked for.
        basis_points: u32,
    },
    /// The next period would begin after 9999-12-31.
    #[error("the next period is out of the calendar's range")]
    OutOfRange,
}

/// A retainer agreement's state, as far as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agreement {
    /// Where it is.
    pub state: AgreementState,
    /// The terms in force (or quoted, or requested, before it starts).
    pub terms: Terms,
    /// Terms that take effect from the next period, after a tier or price change.
    pub next_terms: Option<Terms>,
    /// The platform fee in basis points, fixed by the quote: like a proposal's terms, a
    /// later change of the published fee never re-prices an agreement already quoted.
    pub fee_basis_points: u32,
    /// The first period's first day, once started.
    pub anchor: Option<Date>,
    /// Calendar months from the anchor to the current period's start.
    pub period_offset_months: u32,
    /// Periods begun so far (1 after start); the current period's number, from 1.
    pub periods: u32,
    /// Whether the current period's payment succeeded.
    pub current_paid: bool,
}

impl Agreement {
    /// A new agreement: the client asked for a quote on `terms`. The fee is the published
    /// one until the quote fixes it.
    pub fn requested(terms: Terms) -> Agreement {
        Agreement {
            state: AgreementState::Requested,
            terms,
            next_terms: None,
            fee_basis_points: crate::fee::PUBLISHED_FEE_BASIS_POINTS,
            anchor: None,
            period_offset_months: 0,
            periods: 0,
            current_paid: false,
        }
    }

    /// The current period: its first day and the first day of the next, once started.
    pub fn current_period(&self) -> Option<(Date, Date)> {
        let anchor = self.anchor?;
        let start = boundary(anchor, self.period_offset_months)?;
        let end = boundary(
            anchor,
            self.period_offset_months
                .checked_add(self.terms.period.months())?,
        )?;
        Some((start, end))
    }

    /// What the current period pays, at the agreement's fee, once started.
    pub fn current_payment(&self) -> Option<PeriodPayment> {
        self.anchor
            .map(|_| period_payment_at(&self.terms, self.fee_basis_points))
    }
}

/// The one transition function: the agreement after `event`, or why the event is refused.
/// Pure: the same agreement and event always give the same answer, and a refusal leaves the
/// agreement as it was (it is borrowed, never changed).
pub fn apply(agreement: &Agreement, event: &Event) -> Result<Agreement, Refusal> {
    use AgreementState as S;
    let refuse = || Refusal::NotAllowed {
        state: agreement.state,
        event: event.kind(),
    };
    let mut next = agreement.clone();
    match (agreement.state, event) {
        (
            S::Requested | S::Quoted,
            Event::Quote {
                terms,
                fee_basis_points,
            },
        ) => {
            if !terms.is_billable() {
                return Err(Refusal::NotBillable);
            }
            if *fee_basis_points > 10_000 {
                return Err(Refusal::FeeOutOfRange {
                    basis_points: *fee_basis_points,
                });
            }
            next.state = S::Quoted;
            next.terms = terms.clone();
            next.fee_basis_points = *fee_basis_points;
        }
        (S::Quoted, Event::Start { on }) => {
            if !agreement.terms.is_billable() {
                return Err(Refusal::NotBillable);
            }
            next.anchor = Some(*on);
            if next.current_period().is_none() {
                return Err(Refusal::OutOfRange);
            }
            next.state = S::Active;
            next.periods = 1;
            next.period_offset_months = 0;
            next.current_paid = false;
        }
        (S::Active | S::Cancelling, Event::PaymentSucceeded) if agreement.current_paid => {
            return Err(Refusal::AlreadyPaid);
        }
        (S::Active, Event::PaymentFailed) if agreement.current_paid => {
            return Err(Refusal::AlreadyPaid);
        }
        (S::Active | S::PastDue { .. }, Event::PaymentSucceeded) => {
            next.state = S::Active;
            next.current_paid = true;
        }
        (S::Active, Event::PaymentFailed) => {
            next.state = S::PastDue { failed_retries: 0 };
        }
        (S::PastDue { failed_retries }, Event::PaymentFailed) => {
            let failed = failed_retries.saturating_add(1);
            next.state = if usize::from(failed) >= RETRY_SCHEDULE_DAYS.len() {
                S::Lapsed
            } else {
                S::PastDue {
                    failed_retries: failed,
                }
            };
        }
        (S::Active | S::Cancelling | S::PastDue { .. }, Event::PeriodEnded)
            if !agreement.current_paid =>
        {
            return Err(Refusal::PeriodUnpaid);
        }
        (S::Active, Event::PeriodEnded) => {
            next.period_offset_months = agreement
                .period_offset_months
                .checked_add(agreement.terms.period.months())
                .ok_or(Refusal::OutOfRange)?;
            if let Some(terms) = next.next_terms.take() {
                next.terms = terms;
            }
            if next.current_period().is_none() {
                return Err(Refusal::OutOfRange);
            }
            next.periods = agreement.periods.saturating_add(1);
            next.current_paid = false;
        }
        (S::Cancelling, Event::PeriodEnded) => {
            next.state = S::Ended;
            next.next_terms = None;
        }
        (S::Active, Event::ChangeTier { terms }) => {
            if !terms.is_billable() {
                return Err(Refusal::NotBillable);
            }
            if terms.currency != agreement.terms.currency {
                return Err(Refusal::CurrencyChange {
                    agreement: agreement.terms.currency,
                    found: terms.currency,
                });
            }
            // Asking for the terms in force withdraws a pending change.
            next.next_terms = (*terms != agreement.terms).then(|| terms.clone());
        }
        (S::Requested | S::Quoted | S::PastDue { .. }, Event::Cancel) => {
            next.state = S::Ended;
            next.next_terms = None;
        }
        (S::Active, Event::Cancel) => {
            next.state = if agreement.current_paid {
                S::Cancelling
            } else {
                S::Ended
            };
            next.next_terms = None;
        }
        (S::Cancelling, Event::Uncancel) => {
            next.state = S::Active;
        }
        _ => return Err(refuse()),
    }
    Ok(next)
}

/// Applies events in order, stopping at the first refusal (with its position).
pub fn replay(mut agreement: Agreement, events: &[Event]) -> Result<Agreement, (usize, Refusal)> {
    for (i, event) in events.iter().enumerate() {
        agreement = apply(&agreement, event).map_err(|refusal| (i, refusal))?;
    }
    Ok(agreement)
}

/// When the next retry of a failed payment is due, given the day of the first failure and
/// how many retries failed since; `None` when none is left (the next failure lapses it).
pub fn next_retry_on(first_failure: Date, failed_retries: u8) -> Option<Date> {
    let days = RETRY_SCHEDULE_DAYS.get(usize::from(failed_retries))?;
    first_failure.add_days(i64::from(*days))
}

/// What one period's payment is and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodPayment {
    /// Currency of every amount.
    pub currency: Currency,
    /// What the client pays: the price of the tier in force.
    pub amount: i64,
    /// The published fee and the maintainer's share; they add up to `amount`.
    #[serde(flatten)]
    pub split: FeeSplit,
}

/// One period's payment on `terms`, split at the published fee
/// ([`crate::fee::PUBLISHED_FEE_BASIS_POINTS`]).
pub fn period_payment(terms: &Terms) -> PeriodPayment {
    period_payment_at(terms, crate::fee::PUBLISHED_FEE_BASIS_POINTS)
}

/// [`period_payment`] at another fee (for a deployment that publishes a different one).
pub fn period_payment_at(terms: &Terms, basis_points: u32) -> PeriodPayment {
    let amount = terms.amount.max(0);
    PeriodPayment {
        currency: terms.currency,
        amount,
        split: split_fee(amount, basis_points),
    }
}

/// A kind of money an account paid through Greenlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContributionKind {
    /// A donation to a proposal in development.
    Donation,
    /// A pledge that was paid out to the maintainer.
    PaidOutPledge,
    /// One period's payment of a retainer.
    RetainerPayment,
}

/// Whether money of this kind is a "successful contribution" that raises its payer's
/// estimate cap ([`crate::estimate_cap`]). Retainer payments do not: see the module doc.
pub const fn counts_toward_estimate_cap(kind: ContributionKind) -> bool {
    match kind {
        ContributionKind::Donation | ContributionKind::PaidOutPledge => true,
        ContributionKind::RetainerPayment => false,
    }
}

/// One client's agreement with a maintainer, as the ledger feed and the client's record
/// describe it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientAgreement {
    /// The client's DID.
    pub client: String,
    /// Whether the client's record asks to be named.
    pub listed_publicly: bool,
    /// The agreement's state.
    pub state: AgreementState,
    /// The terms in force.
    pub terms: Terms,
    /// The agreement's fee in basis points.
    pub fee_basis_points: u32,
    /// Every period payment the ledger booked for the agreement, in minor units.
    pub payments: Vec<i64>,
}

/// A maintainer's retainer income in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetainerTotals {
    /// Currency of every amount.
    pub currency: Currency,
    /// Agreements in force ([`AgreementState::is_in_force`]).
    pub active_clients: u64,
    /// How many of them asked to be named.
    pub listed_clients: u64,
    /// The clients who asked to be named, with an agreement in force, sorted and unique.
    pub named: Vec<String>,
    /// Sum of all period payments, listed or not: reconciles with the ledger to the cent.
    pub paid: i64,
    /// The published fee on each of those payments, summed.
    pub fees: i64,
    /// What the maintainer received: `paid − fees`.
    pub paid_out: i64,
    /// What agreements that will renew (active or past due) pay per year at the terms in
    /// force.
    pub annual_run_rate: i64,
}

/// A maintainer's public retainer totals, one entry per currency (sorted by currency).
///
/// Every agreement's money counts, so the totals match the ledger; only clients who asked
/// to be listed are named. The fee is computed per period payment, as the ledger books it
/// (rounding once per payment, in the maintainer's favour), so `fees` is what the ledger
/// holds, not the fee of the sum.
pub fn maintainer_totals(agreements: &[ClientAgreement]) -> Vec<RetainerTotals> {
    let mut by_currency: BTreeMap<Currency, RetainerTotals> = BTreeMap::new();
    for agreement in agreements {
        let currency = agreement.terms.currency;
        let totals = by_currency
            .entry(currency)
            .or_insert_with(|| RetainerTotals {
                currency,
                active_clients: 0,
                listed_clients: 0,
                named: Vec::new(),
                paid: 0,
                fees: 0,
                paid_out: 0,
                annual_run_rate: 0,
            });
        if agreement.state.is_in_force() {
            totals.active_clients += 1;
            if agreement.listed_publicly {
                totals.listed_clients += 1;
                totals.named.push(agreement.client.clone());
            }
        }
        if matches!(
            agreement.state,
            AgreementState::Active | AgreementState::PastDue { .. }
        ) {
            totals.annual_run_rate = totals.annual_run_rate.saturating_add(
                agreement
                    .terms
                    .amount
                    .max(0)
                    .saturating_mul(agreement.terms.period.per_year()),
            );
        }
        for &amount in &agreement.payments {
            let split = split_fee(amount, agreement.fee_basis_points);
            totals.paid = totals.paid.saturating_add(amount.max(0));
            totals.fees = totals.fees.saturating_add(split.fee);
            totals.paid_out = totals.paid_out.saturating_add(split.payout);
        }
    }
    by_currency
        .into_values()
        .map(|mut totals| {
            totals.named.sort();
            totals.named.dedup();
            totals
        })
        .collect()
}
