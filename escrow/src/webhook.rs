//! Provider webhooks: verified (Stripe's signature scheme, for both providers), de-duplicated
//! by event id in the same transaction as their effect, and applied so that any order of
//! delivery ends in the same books.
//!
//! - a payment succeeded: a pending pledge is held (its hold posted); a pending donation is
//!   received (fee taken, payout queued). A payment that succeeds after escrow gave up on it
//!   (failed, cancelled, proposal settled) is held and refunded at once: money is never kept
//!   without a pledge to show for it.
//! - a payment failed: a pending pledge or donation fails (its hold voided). A failure arriving
//!   after a success changes nothing.
//! - an account was updated: the payout account's status follows, and waiting payouts run.

use serde_json::Value;

use crate::error::EscrowError;
use crate::ledger::{self, Finish, Kind, Transfer};
use crate::procedures::{DonationRow, PledgeRow, DONATION_COLUMNS, PLEDGE_COLUMNS};
use crate::provider::event::{self, EventKind};
use crate::provider::signature::{self, SignatureError};
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
    let inserted = sqlx::query(
        "INSERT INTO escrow.webhook_event (provider, event_id, event_type, payload, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(&event.id)
    .bind(&event.event_type)
    .bind(&payload)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(EscrowError::from)?;
    if inserted.rows_affected() == 0 {
        return Ok(Outcome::Duplicate);
    }
    let mut wake = false;
    match &event.kind {
        EventKind::PaymentSucceeded { payment_id, amount } => {
            wake = payment_succeeded(escrow, &mut tx, provider, payment_id, *amount).await?;
        }
        EventKind::PaymentFailed { payment_id } => {
            payment_failed(&mut tx, provider, payment_id, now).await?;
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
            let owner: Option<String> = sqlx::query_scalar(
                "UPDATE escrow.payout_account SET status = $3, updated_at = $4
                 WHERE provider = $1 AND account_id = $2 RETURNING did",
            )
            .bind(provider)
            .bind(account_id)
            .bind(status)
            .bind(now)
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
    tracing::info!(provider, event = %event.id, kind = %event.event_type, "webhook applied");
    if wake {
        escrow.wake.notify_one();
    }
    Ok(Outcome::Applied)
}

async fn payment_succeeded(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    provider: &str,
    payment_id: &str,
    amount: i64,
) -> Result<bool, EscrowError> {
    let now = escrow.now();
    let pledge = lock_pledge(conn, provider, payment_id).await?;
    if let Some((pledge, proposal)) = pledge {
        if amount != pledge.amount {
            return Err(EscrowError::Internal(format!(
                "payment {payment_id} received {amount}, pledge {} is for {}",
                pledge.id, pledge.amount
            )));
        }
        let settled = proposal.is_none_or(|p| p.settlement.is_some());
        match pledge.state.as_str() {
            "pending" if !settled => {
                ledger::finish_transfer(conn, &format!("{}:hold", pledge.id), Finish::Post, now)
                    .await?;
                set_pledge_state(conn, &pledge.id, "held", now).await?;
                return Ok(false);
            }
            "pending" | "failed" | "cancelled" => {
                if pledge.state == "pending" {
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
                let new_state = if pledge.state == "cancelled" {
                    "cancelled"
                } else {
                    "refunded"
                };
                lifecycle::decide_refund(conn, &pledge, new_state, now).await?;
                tracing::warn!(pledge = %pledge.id, "payment arrived after the pledge ended; refunding");
                return Ok(true);
            }
            _ => return Ok(false),
        }
    }
    let donation: Option<DonationRow> = sqlx::query_as(&format!(
        "SELECT {DONATION_COLUMNS} FROM escrow.donation WHERE provider = $1 AND payment_id = $2 FOR UPDATE"
    ))
    .bind(provider)
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(donation) = donation else {
        tracing::warn!(payment_id, "payment for nothing escrow knows");
        return Ok(false);
    };
    if amount != donation.amount {
        return Err(EscrowError::Internal(format!(
            "payment {payment_id} received {amount}, donation {} is for {}",
            donation.id, donation.amount
        )));
    }
    if donation.state != "pending" && donation.state != "failed" {
        return Ok(false);
    }
    let transfer_id = format!("{}:donation", donation.id);
    if donation.state == "pending" {
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
    Ok(true)
}

/// Takes the fee from a received donation and queues the maintainer's payout.
async fn receive_donation(
    escrow: &Escrow,
    conn: &mut sqlx::PgConnection,
    donation: &DonationRow,
) -> Result<(), EscrowError> {
    let now = escrow.now();
    let split = fee::split(donation.amount, escrow.config.fee_basis_points);
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
                kind: "payout",
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
        "received"
    } else {
        "paid_out"
    };
    sqlx::query("UPDATE escrow.donation SET state = $2, fee = $3, updated_at = $4 WHERE id = $1")
        .bind(&donation.id)
        .bind(state)
        .bind(split.fee)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set_pledge_state(
    conn: &mut sqlx::PgConnection,
    id: &str,
    state: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), EscrowError> {
    sqlx::query("UPDATE escrow.pledge SET state = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks a payment's pledge and its proposal, proposal first: the order every other writer
/// (settlements, cancellations) takes, so webhooks never deadlock with them.
async fn lock_pledge(
    conn: &mut sqlx::PgConnection,
    provider: &str,
    payment_id: &str,
) -> Result<Option<(PledgeRow, Option<crate::procedures::ProposalRow>)>, EscrowError> {
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT id, proposal FROM escrow.pledge WHERE provider = $1 AND payment_id = $2",
    )
    .bind(provider)
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, proposal_uri)) = found else {
        return Ok(None);
    };
    // The proposal's row is locked so a payment cannot slip in beside a settlement.
    let proposal = crate::procedures::load_proposal(conn, &proposal_uri, true).await?;
    let pledge: PledgeRow = sqlx::query_as(&format!(
        "SELECT {PLEDGE_COLUMNS} FROM escrow.pledge WHERE id = $1 FOR UPDATE"
    ))
    .bind(&id)
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
        if pledge.state == "pending" {
            ledger::finish_transfer(conn, &format!("{}:hold", pledge.id), Finish::Void, now)
                .await?;
            set_pledge_state(conn, &pledge.id, "failed", now).await?;
        }
        return Ok(());
    }
    let donation: Option<String> = sqlx::query_scalar(
        "SELECT id FROM escrow.donation WHERE provider = $1 AND payment_id = $2 AND state = 'pending' FOR UPDATE",
    )
    .bind(provider)
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = donation {
        ledger::finish_transfer(conn, &format!("{id}:donation"), Finish::Void, now).await?;
        sqlx::query("UPDATE escrow.donation SET state = 'failed', updated_at = $2 WHERE id = $1")
            .bind(&id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
