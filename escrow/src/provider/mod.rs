//! Payment providers behind one trait: the `sandbox` (the default, no real money) and Stripe.
//!
//! Every call that moves money carries an idempotency key derived from the ledger transfer it
//! belongs to, so a retry after a crash can never move money twice. Both providers send
//! webhooks in Stripe's event format, signed with Stripe's scheme ([`signature`]), and both go
//! through the same verification and de-duplication path ([`crate::webhook`]).

pub mod event;
pub mod sandbox;
pub mod signature;
pub mod stripe;

use async_trait::async_trait;

/// A provider call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused for good (invalid request, insufficient funds, closed account).
    #[error("the provider refused: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed; the call may be retried with its key.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment to collect from a backer or donor.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// Escrow's id of the pledge or donation, attached as metadata.
    pub reference: &'a str,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: &'a str,
    /// Shown to the payer.
    pub description: &'a str,
    /// Makes the call safe to repeat.
    pub idempotency_key: &'a str,
}

/// A payment waiting for the payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The provider's payment id.
    pub payment_id: String,
    /// Where the payer completes the payment.
    pub checkout_url: String,
}

/// How a retainer client pays each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// An invoice the client pays by bank transfer (Stripe's `send_invoice`).
    Invoice,
    /// A card payment.
    Card,
}

impl Collection {
    /// The lexicons' name.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Invoice => "invoice",
            Collection::Card => "card",
        }
    }

    /// The collection a lexicon name means.
    pub fn parse(name: &str) -> Option<Collection> {
        match name {
            "invoice" => Some(Collection::Invoice),
            "card" => Some(Collection::Card),
            _ => None,
        }
    }
}

/// One attempt at collecting a retainer invoice.
#[derive(Debug, Clone)]
pub struct InvoiceRequest<'a> {
    /// Escrow's invoice number, attached as metadata and shown to the client.
    pub number: &'a str,
    /// The agreement, whose client is one customer at the provider.
    pub agreement: &'a str,
    /// The client's legal name.
    pub customer_name: &'a str,
    /// Where the provider sends the invoice, if given.
    pub customer_email: Option<&'a str>,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: &'a str,
    /// The line shown on the invoice.
    pub description: &'a str,
    /// Bank transfer or card.
    pub collection: Collection,
    /// Days until due.
    pub due_days: u32,
    /// `<invoice>:attempt:<n>`: makes the call safe to repeat.
    pub idempotency_key: &'a str,
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    /// The provider's payment id.
    pub payment_id: &'a str,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: &'a str,
    /// The ledger transfer id.
    pub idempotency_key: &'a str,
}

/// A transfer from the platform balance to a connected payout account.
#[derive(Debug, Clone)]
pub struct TransferRequest<'a> {
    /// The connected account.
    pub destination: &'a str,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: &'a str,
    /// The ledger transfer id.
    pub idempotency_key: &'a str,
}

/// Status of a payout account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Onboarding is incomplete.
    Pending,
    /// Payouts are enabled.
    Active,
    /// The provider disabled payouts.
    Restricted,
}

impl AccountStatus {
    /// The lexicon's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Restricted => "restricted",
        }
    }
}

/// A payout account at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutAccount {
    /// The provider's account id.
    pub id: String,
    /// Whether payouts can reach it.
    pub status: AccountStatus,
    /// Where the owner finishes onboarding, while pending.
    pub onboarding_url: Option<String>,
}

/// What kind of money left the platform balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    /// Back to a payer.
    Refund,
    /// To a connected account.
    Transfer,
}

/// One refund or transfer in the provider's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// Refund or transfer.
    pub kind: MovementKind,
    /// The idempotency key it was made with (a ledger transfer id).
    pub idempotency_key: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The provider's name in the lexicons (`sandbox`, `stripe`).
    fn name(&self) -> &'static str;
    /// The smallest charge the provider accepts in `currency`, in minor units.
    fn minimum_charge(&self, currency: &str) -> i64;
    /// The secret webhooks are signed with.
    fn webhook_secret(&self) -> &[u8];
    /// Starts collecting a payment.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<Checkout, ProviderError>;
    /// Starts collecting one retainer invoice: a payment the client completes by bank
    /// transfer or card, reported by the same payment webhooks as a checkout.
    async fn create_invoice(&self, request: &InvoiceRequest<'_>)
        -> Result<Checkout, ProviderError>;
    /// Stops a payment that was not made yet, so a cancelled pledge cannot be paid.
    async fn cancel_checkout(&self, payment_id: &str) -> Result<(), ProviderError>;
    /// The page a payer completes a payment on, when escrow serves it. Escrow's handler
    /// calls it only for well-formed ids of payments it opened and still waits for
    /// ([`checkout_state`]).
    async fn checkout_page(&self, payment_id: &str) -> Result<Option<String>, ProviderError>;
    /// Refunds a payment; returns the provider's refund id.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<String, ProviderError>;
    /// Transfers to a connected account; returns the provider's transfer id.
    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<String, ProviderError>;
    /// Creates (or, with the same key, finds again) a payout account for `owner`.
    async fn create_payout_account(
        &self,
        owner: &str,
        idempotency_key: &str,
    ) -> Result<PayoutAccount, ProviderError>;
    /// The refund or transfer already made with `idempotency_key`, if any. Jobs ask before
    /// calling again after a crash, so exactly-once holds even past the provider's own
    /// idempotency-key retention (Stripe keeps keys for 24 hours).
    async fn find_movement(
        &self,
        kind: MovementKind,
        idempotency_key: &str,
        payment_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError>;
    /// The platform's balance in `currency`, when the provider's balance is comparable to the
    /// ledger's clearing account.
    async fn balance(&self, currency: &str) -> Result<Option<i64>, ProviderError>;
    /// Every refund and transfer the provider made, when it can list them.
    async fn movements(&self) -> Result<Option<Vec<Movement>>, ProviderError>;
}

/// The longest payment id escrow accepts in a checkout page's path (Stripe documents 255
/// characters as the most an id may have; its payment intents' ids are about 27, the
/// sandbox's 39).
pub const MAX_PAYMENT_ID_LEN: usize = 255;

/// Whether `id` is shaped like a provider's payment id (`pi_…`: ASCII letters, digits and
/// `_`). A checkout page's path segment is checked with this before it is used at all, so no
/// `/`, `..`, `?` or `%` can reach a provider URL, a query or a log line.
pub fn is_payment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PAYMENT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What escrow's own books say about a payment a checkout page is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutState {
    /// Escrow opened no such payment with this provider.
    Unknown,
    /// A pledge, donation or retainer invoice still waits for this payment.
    Pending,
    /// The payment was made, failed or was cancelled: there is nothing left to pay.
    Closed,
}

/// Looks `payment_id` up among the pledges and donations escrow opened with `provider`.
/// Checkout pages ask this before the provider, so a stranger's guesses cost escrow one
/// indexed read and the provider nothing.
pub async fn checkout_state(
    pool: &sqlx::PgPool,
    provider: &str,
    payment_id: &str,
) -> Result<CheckoutState, sqlx::Error> {
    let pending = sqlx::query_scalar!(
        r#"SELECT state = 'pending' AS "pending!" FROM escrow.pledge WHERE provider = $1 AND payment_id = $2
         UNION ALL
         SELECT state = 'pending' FROM escrow.donation WHERE provider = $1 AND payment_id = $2
         UNION ALL
         SELECT state = 'open' FROM escrow.retainer_attempt WHERE provider = $1 AND payment_id = $2
         LIMIT 1"#,
        provider,
        payment_id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(match pending {
        None => CheckoutState::Unknown,
        Some(true) => CheckoutState::Pending,
        Some(false) => CheckoutState::Closed,
    })
}

/// The page for a payment escrow no longer waits for. Fixed, and asks the provider nothing:
/// a payer returning from the provider after paying lands here, and so may anyone else.
pub const CLOSED_CHECKOUT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout closed</title></head>
<body><h1>Checkout closed</h1>
<p>This payment is no longer open: it was completed, failed or cancelled. You can close this page.</p>
</body></html>"#;

/// The smallest charge Stripe accepts per currency (its documented minimums), used by both
/// providers so the sandbox refuses what Stripe would.
pub fn stripe_minimum_charge(currency: &str) -> i64 {
    match currency {
        "GBP" => 30,
        "JPY" => 50,
        _ => 50,
    }
}
