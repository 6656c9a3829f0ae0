//! Provider webhooks: verified (Stripe's signature scheme, for both providers), de-duplicated
//! by event id in the same transaction as their effect, and applied so that any order of
//! delivery ends in the same books.
//!
//! - a payment succeeded: a pending pledge is held (its hold posted); a pending donation is
//!   received (fee taken, payout queued). A payment that succeeds after escrow gave up on it
//!   (failed, cancelled, proposal settled) is held and refunded at once: money is never kept
//!   without a pledge to show for it.
//! - a payment succeeded for another amount or currency than its pledge or donation asked
//!   for: the money is booked as received, owed straight back to the payer
//!   (`mismatched_payment`, provider_clearing → refunds:<payer>, in the currency received),
//!   the pledge or donation fails (its hold voided), a refund of exactly what was received is
//!   queued, and a row in `escrow.mismatched_payment` tells operators. Answering 5xx instead
//!   would only make the provider deliver it again forever while the money sat captured.
//!   Whatever is said about that payment afterwards changes nothing.
//! - a payment failed: a pending pledge or donation fails (its hold voided). A failure arriving
//!   after a success changes nothing.
//! - an account was updated: the payout account's status follows, and waiting payouts run.

use serde_json::Value;

use crate::error::EscrowError;
use crate::ledger::{self, Finish, Kind, Transfer};
use crate::procedures::{DonationRow, PledgeRow};
use crate::provider::event::{self, EventKind};
use crate::provider::signature::{self, SignatureError};
use crate::retainer::billing;
use crate::states::PledgeState::*;
use crate::states::{set_donation_state, set_pledge_state, DonationState, PledgeState};
use crate::{fee, jobs, lifecycle, Escrow};

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event was applied.
    Applied,
    /// The event was seen before; nothing changed.
    Duplicate,
}

/// A delivery that was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not signed by the provider (or too old to trust).
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// Webhooks for a provider escrow does not use.
    #[error("escrow does not use the provider {0}")]
    UnknownProvider(String),
    /// Signed but not understood.
    #[error(transparent)]
    Malformed(#[from] event::MalformedEvent),
    /// Escrow failed to apply it; the provider will deliver it again.
    #[error(transparent)]
    Escrow(#[from] EscrowError),
}

/// Verifies and applies one delivery for `provider` (`sandbox` or `stripe`).
pub async fn receive(
    escrow: &Escrow,
    provider: &str,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Outcome, WebhookError> {
    if provider != escrow.provider.name() {
        return Err(WebhookError::UnknownProvider(provider.to_owned()));
    }
    signature::verify(
        escrow.provider.webhook_secret(),
        signature_header,
        body,
        escrow.now().timestamp(),
    )?;
    let payload: Value =
        serde_json::from_slice(body).map_err(|_| event::MalformedEvent("body is not JSON"))?;
    let event = event::parse(&payload)?;
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await.map_err(EscrowError::from)?;
    let inserted = sqlx::query!(
        "INSERT INTO escrow.webhook_event (provider, event_id, event_type, payload, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        provider,
        event.id,
        event.event_type,
        payload,
        now,
    )
    .execute(&mut *tx)
    .await
    .map_err(EscrowError::from)?;
    if inserted.rows_affected() == 0 {
        return Ok(Outcome::Duplicate);
    }
    let mut wake = false;
    let mut mismatched = false;
    match &event.kind {
        EventKind::PaymentSucceeded {
            payment_id,
            amount,
            currency,
        } => {
            let received = Received {
                event_id: &event.id,
                payment_id,
                amount: *amount,
                currency: currency.as_deref(),
            };
            let effect = payment_succeeded(escrow, &mut tx, provider, &received).await?;
            wake = effect.wake;
            mismatched = effect.mismatched;
        }
        EventKind::PaymentFailed { payment_id } => {
            match billing::lock_attempt(&mut tx, provider, payment_id).await? {
                Some(hit) => billing::attempt_failed(escrow, &mut tx, &hit).await?,
                None => payment_failed(&mut tx, provider, payment_id, now).await?,
            }
        }
        EventKind::AccountUpdated {
            account_id,
            payouts_enabled,
        } => {
            let status = if *payouts_enabled {
                "active"
            } else {
                "pending"
            };
            let owner = sqlx::query_scalar!(
                "UPDATE escrow.payout_account SET status = $3, updated_at = $4
                 WHERE provider = $1 AND account_id = $2 RETURNING did",
                provider,
                account_id,
                status,
                now,
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(EscrowError::from)?;
            if let (Some(owner), true) = (owner, *payouts_enabled) {
                wake = jobs::wake_payouts(&mut tx, &owner, now).await? > 0;
            }
        }
        EventKind::Other => {}
    }
    tx.commit().await.map_err(EscrowError::from)?;
    if mismatched {
        // Booked and committed, not yet answered: the provider delivers again, and the
        // delivery must be a duplicate.
        escrow
            .failpoints
            .reached("mismatch.after_commit")
            .await
            .map_err(EscrowError::from)?;
    }
    tracing::info!(provider, event = %event.id, kind = %event.event_type, "webhook applied");
    if wake {
        escrow.wake.notify_one();
    }
    Ok(Outcome::Applied)
}

/// What a provider says a payment brought in.
struct Received<'a> {
    /// The event saying so.
    event_id: &'a str,
    /// The provider's payment id.
    payment_id: &'a str,
    /// Minor units received.
    amount: i64,
    /// ISO 4217, upper case; `None` when the event did not say.
    currency: Option<&'a str>,
}

impl Received<'_> {
    /// Whether this is exactly what was asked for.
    fn matches(&self, amount: i64, currency: &str) -> bool {
        self.amount == amount && self.currency.is_none_or(|received| received == currency)
    }
}

/// What applying a successful payment did.
#[derive(Debug, Clone, Copy, Default)]
struct Effect {
    /// Work was queued for the worker.
    wake: bool,
    /// The payment was booked as mismatched.
    mismatched: bool,
}

impl Effect {
    const NOTHING: Effect = Effect {
        wake: false,
        mismatched: false,
    };
    const WAKE: Effect = Effect {
        wake: true,
        mismatched: false,
    };
}

async fn payment_succeeded(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    provider: &str,
    received: &Received<'_>,
) -> Result<Effect, EscrowError> {
    let now = escrow.now();
    let payment_id = received.payment_id;
    let amount = received.amount;
    if let Some(hit) = billing::lock_attempt(conn, provider, payment_id).await? {
        if mismatch_recorded(conn, provider, payment_id).await? {
            return Ok(Effect::NOTHING);
        }
        if hit.attempt_state != "open" && hit.attempt_state != "failed" {
            // Booked once already (a redelivery under a new event id).
            return Ok(Effect::NOTHING);
        }
        let paid =
            billing::payment_succeeded(escrow, conn, &hit, amount, received.currency).await?;
        if paid == billing::Paid::Return {
            let reference = format!("{}:attempt:{}", hit.invoice.number, hit.attempt);
            return book_mismatch(
                escrow,
                conn,
                provider,
                &Expected {
                    reference: &reference,
                    pledge: None,
                    donation: None,
                    invoice: Some(&hit.invoice.number),
                    payer: &hit.agreement.client,
                    amount: hit.invoice.amount,
                    currency: &hit.invoice.currency,
                },
                received,
            )
            .await;
        }
        escrow
            .failpoints
            .reached("retainer.before_payment_commit")
            .await
            .map_err(EscrowError::from)?;
        return Ok(Effect::WAKE);
    }
    let pledge = lock_pledge(conn, provider, payment_id).await?;
    if let Some((pledge, proposal)) = pledge {
        if mismatch_recorded(conn, provider, payment_id).await? {
            return Ok(Effect::NOTHING);
        }
        if !received.matches(pledge.amount, &pledge.currency) {
            return pledge_mismatched(escrow, conn, provider, &pledge, received).await;
        }
        let settled = proposal.is_none_or(|p| p.settlement.is_some());
        match pledge.state {
            Pending if !settled => {
                ledger::finish_transfer(conn, &format!("{}:hold", pledge.id), Finish::Post, now)
                    .await?;
                set_pledge_state(conn, &pledge.id, Pending, Held, now).await?;
                return Ok(Effect::NOTHING);
            }
            Pending | Failed | Cancelled => {
                if pledge.state == Pending {
                    ledger::finish_transfer(
                        conn,
                        &format!("{}:hold", pledge.id),
                        Finish::Void,
                        now,
                    )
                    .await?;
                }
                let late_id = format!("{}:late-hold", pledge.id);
                let held = ledger::held(&pledge.proposal);
                ledger::create_transfer(
                    conn,
                    &pledge.transfer(&late_id, ledger::PROVIDER_CLEARING, &held, Kind::PledgeHold),
                    now,
                )
                .await?;
                let new_state = if pledge.state == Cancelled {
                    Cancelled
                } else {
                    Refunded
                };
                lifecycle::decide_refund(conn, &pledge, new_state, now).await?;
                tracing::warn!(pledge = %pledge.id, "payment arrived after the pledge ended; refunding");
                return Ok(Effect::WAKE);
            }
            _ => return Ok(Effect::NOTHING),
        }
    }
    let donation = sqlx::query_as!(
        DonationRow,
        r#"SELECT id, proposal, proposal_cid, donor, maintainer, amount, currency, fee,
             state AS "state: DonationState", payment_id, checkout_url, created_at, updated_at
         FROM escrow.donation WHERE provider = $1 AND payment_id = $2 FOR UPDATE"#,
        provider,
        payment_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(donation) = donation else {
        tracing::warn!(payment_id, "payment for nothing escrow knows");
        return Ok(Effect::NOTHING);
    };
    if mismatch_recorded(conn, provider, payment_id).await? {
        return Ok(Effect::NOTHING);
    }
    if !received.matches(donation.amount, &donation.currency) {
        return donation_mismatched(escrow, conn, provider, &donation, received).await;
    }
    if !matches!(
        donation.state,
        DonationState::Pending | DonationState::Failed
    ) {
        return Ok(Effect::NOTHING);
    }
    let transfer_id = format!("{}:donation", donation.id);
    if donation.state == DonationState::Pending {
        ledger::finish_transfer(conn, &transfer_id, Finish::Post, now).await?;
    } else {
        // The donor meant to give; a late success is a gift received, booked afresh.
        let payable = ledger::payable(&donation.maintainer);
        let late = format!("{}:late-donation", donation.id);
        ledger::create_transfer(
            conn,
            &Transfer {
                proposal: Some(&donation.proposal),
                donation: Some(&donation.id),
                backer: Some(&donation.donor),
                maintainer: Some(&donation.maintainer),
                ..Transfer::new(
                    &late,
                    &donation.currency,
                    ledger::PROVIDER_CLEARING,
                    &payable,
                    amount,
                    Kind::Donation,
                )
            },
            now,
        )
        .await?;
    }
    receive_donation(escrow, conn, &donation).await?;
    Ok(Effect::WAKE)
}

/// Whether a payment was already booked as mismatched: then it is settled for good, and
/// another event about it (a redelivery under a new id, or one contradicting the first)
/// changes nothing. Called with the pledge's or donation's row locked, so two deliveries
/// cannot both book it.
async fn mismatch_recorded(
    conn: &mut sqlx::PgConnection,
    provider: &str,
    payment_id: &str,
) -> Result<bool, EscrowError> {
    let recorded = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM escrow.mismatched_payment
                        WHERE provider = $1 AND payment_id = $2) AS "recorded!""#,
        provider,
        payment_id,
    )
    .fetch_one(conn)
    .await?;
    if recorded {
        tracing::info!(
            provider,
            payment_id,
            "payment already booked as mismatched; nothing to do"
        );
    }
    Ok(recorded)
}

/// A pledge paid with another amount or currency than it asked for.
async fn pledge_mismatched(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    provider: &str,
    pledge: &PledgeRow,
    received: &Received<'_>,
) -> Result<Effect, EscrowError> {
    match pledge.state {
        Pending => {
            // Not paid as pledged: the pledge fails exactly as with a failed payment.
            ledger::finish_transfer(
                conn,
                &format!("{}:hold", pledge.id),
                Finish::Void,
                escrow.now(),
            )
            .await?;
            set_pledge_state(conn, &pledge.id, Pending, Failed, escrow.now()).await?;
        }
        // Ended before any money came (failed, cancelled): its hold is voided already.
        Failed | Cancelled => {}
        _ => {
            // This payment was already booked as the pledge's; the provider now tells
            // another story about the same payment. Booking it again would count the
            // money twice, so an operator must look.
            tracing::error!(
                pledge = %pledge.id,
                state = %pledge.state,
                payment_id = received.payment_id,
                amount = received.amount,
                currency = ?received.currency,
                "a booked payment is reported again with another amount or currency; ignored"
            );
            return Ok(Effect::NOTHING);
        }
    }
    book_mismatch(
        escrow,
        conn,
        provider,
        &Expected {
            reference: &pledge.id,
            pledge: Some(&pledge.id),
            donation: None,
            invoice: None,
            payer: &pledge.backer,
            amount: pledge.amount,
            currency: &pledge.currency,
        },
        received,
    )
    .await
}

/// A donation paid with another amount or currency than it asked for.
async fn donation_mismatched(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    provider: &str,
    donation: &DonationRow,
    received: &Received<'_>,
) -> Result<Effect, EscrowError> {
    match donation.state {
        DonationState::Pending => {
            let now = escrow.now();
            ledger::finish_transfer(
                conn,
                &format!("{}:donation", donation.id),
                Finish::Void,
                now,
            )
            .await?;
            set_donation_state(
                conn,
                &donation.id,
                DonationState::Pending,
                DonationState::Failed,
                None,
                now,
            )
            .await?;
        }
        DonationState::Failed => {}
        _ => {
            tracing::error!(
                donation = %donation.id,
                state = %donation.state,
                payment_id = received.payment_id,
                amount = received.amount,
                currency = ?received.currency,
                "a booked payment is reported again with another amount or currency; ignored"
            );
            return Ok(Effect::NOTHING);
        }
    }
    book_mismatch(
        escrow,
        conn,
        provider,
        &Expected {
            reference: &donation.id,
            pledge: None,
            donation: Some(&donation.id),
            invoice: None,
            payer: &donation.donor,
            amount: donation.amount,
            currency: &donation.currency,
        },
        received,
    )
    .await
}

/// What a pledge or donation asked to be paid.
struct Expected<'a> {
    /// The pledge's or donation's id, which names its ledger transfers and jobs.
    reference: &'a str,
    pledge: Option<&'a str>,
    donation: Option<&'a str>,
    /// The retainer invoice the money arrived for.
    invoice: Option<&'a str>,
    /// The backer, donor or client: who gets the money back.
    payer: &'a str,
    amount: i64,
    currency: &'a str,
}

/// Books a mismatched payment as received and owed back, queues its refund and records it
/// for operators, all in the webhook's transaction.
async fn book_mismatch(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    provider: &str,
    expected: &Expected<'_>,
    received: &Received<'_>,
) -> Result<Effect, EscrowError> {
    let now = escrow.now();
    // An event that does not name its currency was paid in the one asked for.
    let currency = received.currency.unwrap_or(expected.currency);
    let refunds = ledger::refunds(expected.payer);
    let transfer_id = format!("{}:mismatched-payment", expected.reference);
    let job_id = format!("refund:{}:mismatched-payment", expected.reference);
    // Nothing received (a provider reporting zero) is nothing to book or return.
    let refund_queued = received.amount > 0;
    if refund_queued {
        // No proposal is named: the money never was the proposal's, and readers of the feed
        // take a proposal's currency from its entries.
        ledger::create_transfer(
            conn,
            &Transfer {
                pledge: expected.pledge,
                donation: expected.donation,
                backer: Some(expected.payer),
                ..Transfer::new(
                    &transfer_id,
                    currency,
                    ledger::PROVIDER_CLEARING,
                    &refunds,
                    received.amount,
                    Kind::MismatchedPayment,
                )
            },
            now,
        )
        .await?;
        jobs::enqueue(
            conn,
            &jobs::NewJob {
                id: job_id.clone(),
                kind: crate::states::JobKind::Refund,
                ready: true,
                currency,
                amount: received.amount,
                transfer_id: format!("{}:mismatch-refund", expected.reference),
                debit_account: refunds.clone(),
                proposal: None,
                pledge: expected.pledge,
                // A job naming a donation marks it paid out when it posts; this one returns
                // the donation instead, and the mismatched_payment row links the two.
                donation: None,
                backer: Some(expected.payer),
                maintainer: None,
                payment_id: Some(received.payment_id),
            },
            now,
        )
        .await?;
    }
    sqlx::query!(
        "INSERT INTO escrow.mismatched_payment (provider, payment_id, event_id, pledge, donation,
             invoice, payer, expected_amount, expected_currency, received_amount,
             received_currency, transfer_id, refund_job, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        provider,
        received.payment_id,
        received.event_id,
        expected.pledge,
        expected.donation,
        expected.invoice,
        expected.payer,
        expected.amount,
        expected.currency,
        received.amount,
        currency,
        refund_queued.then_some(&transfer_id),
        refund_queued.then_some(&job_id),
        now,
    )
    .execute(&mut *conn)
    .await?;
    tracing::warn!(
        provider,
        payment_id = received.payment_id,
        reference = expected.reference,
        expected = %format_args!("{} {}", expected.amount, expected.currency),
        received = %format_args!("{} {currency}", received.amount),
        "payment does not match what was asked for; refunding what was received"
    );
    escrow.failpoints.reached("mismatch.before_commit").await?;
    Ok(Effect {
        wake: refund_queued,
        mismatched: true,
    })
}

/// Takes the fee from a received donation and queues the maintainer's payout.
async fn receive_donation(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    donation: &DonationRow,
) -> Result<(), EscrowError> {
    let now = escrow.now();
    // The fee of the proposal's terms, published when its first money arrived.
    let fee_bps = sqlx::query_scalar!(
        "SELECT fee_bps FROM escrow.proposal WHERE uri = $1",
        donation.proposal,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let fee_bps = fee_bps
        .and_then(|bps| u32::try_from(bps).ok())
        .unwrap_or(escrow.config.fee_basis_points);
    let split = fee::split(donation.amount, fee_bps);
    let payable = ledger::payable(&donation.maintainer);
    if split.fee > 0 {
        let id = format!("{}:fee", donation.id);
        ledger::create_transfer(
            conn,
            &Transfer {
                proposal: Some(&donation.proposal),
                donation: Some(&donation.id),
                maintainer: Some(&donation.maintainer),
                ..Transfer::new(
                    &id,
                    &donation.currency,
                    &payable,
                    ledger::PLATFORM_FEES,
                    split.fee,
                    Kind::Fee,
                )
            },
            now,
        )
        .await?;
    }
    if split.payout > 0 {
        let ready =
            jobs::has_active_account(conn, &donation.maintainer, escrow.provider.name()).await?;
        jobs::enqueue(
            conn,
            &jobs::NewJob {
                id: format!("payout:{}", donation.id),
                kind: crate::states::JobKind::Payout,
                ready,
                currency: &donation.currency,
                amount: split.payout,
                transfer_id: format!("{}:payout", donation.id),
                debit_account: payable.clone(),
                proposal: Some(&donation.proposal),
                pledge: None,
                donation: Some(&donation.id),
                backer: None,
                maintainer: Some(&donation.maintainer),
                payment_id: None,
            },
            now,
        )
        .await?;
    }
    let state = if split.payout > 0 {
        DonationState::Received
    } else {
        DonationState::PaidOut
    };
    set_donation_state(
        conn,
        &donation.id,
        donation.state,
        state,
        Some(split.fee),
        now,
    )
    .await
}

/// Locks a payment's pledge and its proposal, proposal first: the order every other writer
/// (settlements, cancellations) takes, so webhooks never deadlock with them.
async fn lock_pledge(
    conn: &mut sqlx::PgConnection,
    provider: &str,
    payment_id: &str,
) -> Result<Option<(PledgeRow, Option<crate::procedures::ProposalRow>)>, EscrowError> {
    let found = sqlx::query!(
        "SELECT id, proposal FROM escrow.pledge WHERE provider = $1 AND payment_id = $2",
        provider,
        payment_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, proposal_uri)) = found.map(|row| (row.id, row.proposal)) else {
        return Ok(None);
    };
    // The proposal's row is locked so a payment cannot slip in beside a settlement.
    let proposal = crate::procedures::load_proposal(conn, &proposal_uri, true).await?;
    let pledge = sqlx::query_as!(
        PledgeRow,
        r#"SELECT id, proposal, proposal_cid, backer, amount, currency,
             state AS "state: PledgeState", payment_id, checkout_url, created_at, updated_at
         FROM escrow.pledge WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some((pledge, proposal)))
}

async fn payment_failed(
    conn: &mut sqlx::PgConnection,
    provider: &str,
    payment_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), EscrowError> {
    if let Some((pledge, _)) = lock_pledge(conn, provider, payment_id).await? {
        if pledge.state == Pending {
            ledger::finish_transfer(conn, &format!("{}:hold", pledge.id), Finish::Void, now)
                .await?;
            set_pledge_state(conn, &pledge.id, Pending, Failed, now).await?;
        }
        return Ok(());
    }
    let donation = sqlx::query_scalar!(
        "SELECT id FROM escrow.donation WHERE provider = $1 AND payment_id = $2 AND state = $3 FOR UPDATE",
        provider,
        payment_id,
        DonationState::Pending.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = donation {
        ledger::finish_transfer(conn, &format!("{id}:donation"), Finish::Void, now).await?;
        set_donation_state(
            conn,
            &id,
            DonationState::Pending,
            DonationState::Failed,
            None,
            now,
        )
        .await?;
    }
    Ok(())
}
