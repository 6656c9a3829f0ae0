//! The double-entry ledger (see `migrations/0001_ledger.sql`): accounts, transfers, their
//! two-phase states, and the invariants that must always hold.
//!
//! Chart of accounts, per currency ledger:
//!
//! | account | meaning | limit |
//! |---|---|---|
//! | `provider_clearing` | money at the payment provider (debit = in, credit = out) | none: the boundary |
//! | `held:<proposal>` | pledges held for a proposal | never overdrawn |
//! | `payable:<did>` | owed to a maintainer, awaiting or in a provider transfer | never overdrawn |
//! | `refunds:<did>` | owed back to a backer, awaiting or in a provider refund | never overdrawn |
//! | `platform_fees` | the published fee the platform kept | never overdrawn |
//!
//! Movements (`kind`): `pledge_hold` provider_clearing → held (pending at checkout, posted
//! when paid, voided when payment fails); `refund` held → refunds (the decision);
//! `refund_payment` refunds → provider_clearing (pending while the provider refunds, then
//! posted); `fee` held or payable → platform_fees; `pledge_capture` held → payable (the
//! maintainer's share); `payout` payable → provider_clearing (pending while the provider
//! transfers, then posted); `donation` provider_clearing → payable; `retainer_payment` provider_clearing → payable (one
//! period of a retainer, its fee then taken as for a donation); `mismatched_payment`
//! provider_clearing → refunds (a payment that is not what its pledge or donation asked for,
//! in the amount and currency received, owed straight back to the payer).

pub mod invariants;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The account holding the platform's balance at the payment provider.
pub const PROVIDER_CLEARING: &str = "provider_clearing";
/// The account collecting platform fees.
pub const PLATFORM_FEES: &str = "platform_fees";

/// The account holding pledges for one proposal.
pub fn held(proposal: &str) -> String {
    format!("held:{proposal}")
}

/// The account of what is owed to one maintainer.
pub fn payable(did: &str) -> String {
    format!("payable:{did}")
}

/// The account of what is owed back to one backer.
pub fn refunds(did: &str) -> String {
    format!("refunds:{did}")
}

/// What a movement is, as named in the public feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A backer's payment arriving for a proposal.
    PledgeHold,
    /// The maintainer's share of a proposal's held pledges, after verification.
    PledgeCapture,
    /// The decision to return a pledge to its backer.
    Refund,
    /// The provider returning a pledge to its backer.
    RefundPayment,
    /// The provider transferring a maintainer's money to their payout account.
    Payout,
    /// The platform's fee.
    Fee,
    /// A donation arriving for a maintainer.
    Donation,
    /// A payment whose amount or currency differs from its pledge's or donation's, owed
    /// back to the payer in full.
    MismatchedPayment,
    /// A retainer client's payment for one period, owed to the maintainer at once.
    RetainerPayment,
}

impl Kind {
    /// The name used in the ledger and the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PledgeHold => "pledge_hold",
            Kind::PledgeCapture => "pledge_capture",
            Kind::Refund => "refund",
            Kind::RefundPayment => "refund_payment",
            Kind::Payout => "payout",
            Kind::Fee => "fee",
            Kind::Donation => "donation",
            Kind::MismatchedPayment => "mismatched_payment",
            Kind::RetainerPayment => "retainer_payment",
        }
    }
}

/// A transfer to create. The id is its idempotency key: creating the same transfer twice
/// is a no-op, creating another under the same id is refused.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    /// Unique id, stable across retries.
    pub id: &'a str,
    /// The currency, which names the ledger.
    pub currency: &'a str,
    /// The account debited.
    pub debit: &'a str,
    /// The account credited.
    pub credit: &'a str,
    /// Minor units, positive.
    pub amount: i64,
    /// What the movement is.
    pub kind: Kind,
    /// Created pending (reserved) and finished later, rather than posted at once.
    pub two_phase: bool,
    /// The proposal the movement belongs to.
    pub proposal: Option<&'a str>,
    /// The pledge the movement belongs to.
    pub pledge: Option<&'a str>,
    /// The donation the movement belongs to.
    pub donation: Option<&'a str>,
    /// The backer or donor.
    pub backer: Option<&'a str>,
    /// The maintainer.
    pub maintainer: Option<&'a str>,
}

impl<'a> Transfer<'a> {
    /// A transfer with no references, posted at once.
    pub fn new(
        id: &'a str,
        currency: &'a str,
        debit: &'a str,
        credit: &'a str,
        amount: i64,
        kind: Kind,
    ) -> Transfer<'a> {
        Transfer {
            id,
            currency,
            debit,
            credit,
            amount,
            kind,
            two_phase: false,
            proposal: None,
            pledge: None,
            donation: None,
            backer: None,
            maintainer: None,
        }
    }
}

/// What creating a transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The transfer is new.
    New,
    /// It already existed with the same fields: an idempotent replay.
    Replayed,
}

/// A refused ledger operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger refused the operation (an overdraft, a reused id, a finished transfer).
    #[error("ledger refused {id}: {outcome}")]
    Refused {
        /// The transfer.
        id: String,
        /// The ledger's reason.
        outcome: Refusal,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Why the ledger's functions (`escrow.create_transfer`, `escrow.finish_transfer`) refused an
/// operation, by the name they return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The debit account would be overdrawn.
    ExceedsCredits,
    /// The credit account would exceed its debits.
    ExceedsDebits,
    /// The id was used before for another movement.
    ExistsWithDifferentFields,
    /// No such transfer to finish.
    NotFound,
    /// The transfer is not two-phase, so there is nothing to finish.
    NotTwoPhase,
    /// Finishing as voided a transfer already posted.
    AlreadyPosted,
    /// Finishing as posted a transfer already voided.
    AlreadyVoided,
    /// A name this code does not know (a newer database function).
    Other(String),
}

impl Refusal {
    /// The refusal a ledger function's answer names.
    pub fn from_name(name: &str) -> Refusal {
        match name {
            "exceeds_credits" => Refusal::ExceedsCredits,
            "exceeds_debits" => Refusal::ExceedsDebits,
            "exists_with_different_fields" => Refusal::ExistsWithDifferentFields,
            "not_found" => Refusal::NotFound,
            "not_two_phase" => Refusal::NotTwoPhase,
            "already_posted" => Refusal::AlreadyPosted,
            "already_voided" => Refusal::AlreadyVoided,
            other => Refusal::Other(other.to_owned()),
        }
    }

    /// The name the ledger function returned.
    pub fn as_str(&self) -> &str {
        match self {
            Refusal::ExceedsCredits => "exceeds_credits",
            Refusal::ExceedsDebits => "exceeds_debits",
            Refusal::ExistsWithDifferentFields => "exists_with_different_fields",
            Refusal::NotFound => "not_found",
            Refusal::NotTwoPhase => "not_two_phase",
            Refusal::AlreadyPosted => "already_posted",
            Refusal::AlreadyVoided => "already_voided",
            Refusal::Other(name) => name,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Refusal {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Refusal {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Creates `transfer` at `at`, idempotently by id.
pub async fn create_transfer(
    conn: &mut PgConnection,
    transfer: &Transfer<'_>,
    at: DateTime<Utc>,
) -> Result<Created, LedgerError> {
    let outcome = sqlx::query_scalar!(
        r#"SELECT escrow.create_transfer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             AS "outcome!""#,
        transfer.id,
        transfer.currency,
        transfer.debit,
        transfer.credit,
        transfer.amount,
        transfer.kind.as_str(),
        transfer.two_phase,
        transfer.proposal,
        transfer.pledge,
        transfer.donation,
        transfer.backer,
        transfer.maintainer,
        at,
    )
    .fetch_one(conn)
    .await?;
    match outcome.as_str() {
        "created" => Ok(Created::New),
        "exists" => Ok(Created::Replayed),
        refused => Err(LedgerError::Refused {
            id: transfer.id.to_owned(),
            outcome: Refusal::from_name(refused),
        }),
    }
}

/// How a pending transfer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The money moved.
    Post,
    /// It did not; the reservation is released.
    Void,
}

/// Posts or voids the pending transfer `id`; finishing it the same way twice is a no-op.
pub async fn finish_transfer(
    conn: &mut PgConnection,
    id: &str,
    finish: Finish,
    at: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let state = match finish {
        Finish::Post => "posted",
        Finish::Void => "voided",
    };
    let outcome = sqlx::query_scalar!(
        r#"SELECT escrow.finish_transfer($1, $2, $3) AS "outcome!""#,
        id,
        state,
        at,
    )
    .fetch_one(conn)
    .await?;
    match outcome.as_str() {
        "done" | "exists" => Ok(()),
        refused => Err(LedgerError::Refused {
            id: id.to_owned(),
            outcome: Refusal::from_name(refused),
        }),
    }
}

/// An account's balances, TigerBeetle's four numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Balance {
    /// Debits reserved by pending transfers.
    pub debits_pending: i64,
    /// Debits posted.
    pub debits_posted: i64,
    /// Credits reserved by pending transfers.
    pub credits_pending: i64,
    /// Credits posted.
    pub credits_posted: i64,
}

impl Balance {
    /// Posted credits minus posted debits: what a liability account holds.
    pub fn credit_balance(&self) -> i64 {
        self.credits_posted - self.debits_posted
    }
}

/// The balances of one account (zeros for an account never used).
pub async fn balance(
    conn: &mut PgConnection,
    currency: &str,
    account: &str,
) -> Result<Balance, sqlx::Error> {
    sqlx::query_as!(
        Balance,
        r#"SELECT
           coalesce(sum(amount) FILTER (WHERE debit_account = $2 AND state = 'pending'), 0)::bigint AS "debits_pending!",
           coalesce(sum(amount) FILTER (WHERE debit_account = $2 AND state = 'posted'), 0)::bigint AS "debits_posted!",
           coalesce(sum(amount) FILTER (WHERE credit_account = $2 AND state = 'pending'), 0)::bigint AS "credits_pending!",
           coalesce(sum(amount) FILTER (WHERE credit_account = $2 AND state = 'posted'), 0)::bigint AS "credits_posted!"
         FROM escrow.transfer_current
         WHERE ledger = $1 AND (debit_account = $2 OR credit_account = $2)"#,
        currency,
        account,
    )
    .fetch_one(conn)
    .await
}

/// Moves committed ledger states into the public feed; returns how many it published.
pub async fn publish_feed(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT escrow.publish_feed() AS "published!""#)
        .fetch_one(conn)
        .await
}
