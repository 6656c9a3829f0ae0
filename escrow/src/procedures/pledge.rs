//! `createPledge`, `cancelPledge`, `getPledge`.

use greenlight_lexicon::fund::greenlight::escrow::defs::PledgeView;
use greenlight_lexicon::fund::greenlight::escrow::{cancel_pledge, create_pledge};

use super::{
    check_takes_money, fix_terms, from_json, load_proposal, replayed, sync_proposal, to_json,
    Payment, PledgeRow,
};
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::ledger::{self, Kind, Transfer};
use crate::proposal_source::Stage;
use crate::states::{self, PledgeState};
use crate::{lifecycle, Escrow};

fn not_in_preview() -> EscrowError {
    EscrowError::method(
        "ProposalNotInPreview",
        "pledges are accepted only while the proposal is in preview",
    )
}

/// Creates a pending pledge with a checkout; it is held once the payment completes.
pub async fn create_pledge(
    escrow: &Escrow,
    caller: &str,
    input: &create_pledge::Input,
) -> Result<PledgeView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, create_pledge::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let uri = input.proposal.uri.as_str();
    // Every check happens before anything is written: a refused call leaves no trace.
    let (info, tracked) = sync_proposal(escrow, uri).await?;
    let info = info.ok_or_else(|| EscrowError::method("NotFound", "no such proposal"))?;
    let now = escrow.now();
    check_takes_money(&info, Stage::Preview, not_in_preview)?;
    if info.preview_ends_at.is_none_or(|end| now >= end) {
        return Err(not_in_preview());
    }
    let payment = Payment {
        what: "Pledge",
        caller,
        key,
        hash: &hash,
        proposal: uri,
        amount: input.amount,
        currency: &input.currency,
    };
    let booked_in = tracked.as_ref().map_or(&info.currency, |row| &row.currency);
    payment.check(escrow, booked_in)?;
    let id = payment.id("pl");
    let checkout = payment.checkout(escrow, &id).await?;
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, create_pledge::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let proposal = fix_terms(escrow, &mut tx, &info).await?;
    if proposal.settlement.is_some() || proposal.released_at.is_some() {
        return Err(not_in_preview());
    }
    payment.check(escrow, &proposal.currency)?;
    let row = sqlx::query_as!(
        PledgeRow,
        r#"INSERT INTO escrow.pledge (id, proposal, proposal_cid, backer, amount, currency, state,
             provider, payment_id, checkout_url, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         RETURNING id, proposal, proposal_cid, backer, amount, currency,
             state AS "state: PledgeState", payment_id, checkout_url, created_at, updated_at"#,
        id,
        uri,
        input.proposal.cid,
        caller,
        input.amount,
        input.currency,
        PledgeState::Pending.as_str(),
        escrow.provider.name(),
        checkout.payment_id,
        checkout.checkout_url,
        now,
    )
    .fetch_one(&mut *tx)
    .await?;
    let hold_id = format!("{id}:hold");
    let held = ledger::held(uri);
    ledger::create_transfer(
        &mut tx,
        &Transfer {
            two_phase: true,
            ..row.transfer(&hold_id, ledger::PROVIDER_CLEARING, &held, Kind::PledgeHold)
        },
        now,
    )
    .await?;
    let view = row.view();
    idempotency::record(&mut tx, caller, key, &to_json(&view)?).await?;
    tx.commit().await?;
    tracing::info!(pledge = %id, proposal = %uri, amount = input.amount, "pledge created");
    Ok(view)
}

/// Loads a pledge, locking it when `lock`.
pub async fn load_pledge(
    conn: &mut sqlx::PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<PledgeRow>, EscrowError> {
    // The same query twice, with and without the lock: each is checked at compile time.
    let row = if lock {
        sqlx::query_as!(
            PledgeRow,
            r#"SELECT id, proposal, proposal_cid, backer, amount, currency,
                 state AS "state: PledgeState", payment_id, checkout_url, created_at, updated_at
             FROM escrow.pledge WHERE id = $1 FOR UPDATE"#,
            id,
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            PledgeRow,
            r#"SELECT id, proposal, proposal_cid, backer, amount, currency,
                 state AS "state: PledgeState", payment_id, checkout_url, created_at, updated_at
             FROM escrow.pledge WHERE id = $1"#,
            id,
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(row)
}

/// Cancels the caller's pledge during the preview: a pending one is abandoned, a held one
/// refunded.
pub async fn cancel_pledge(
    escrow: &Escrow,
    caller: &str,
    input: &cancel_pledge::Input,
) -> Result<PledgeView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, cancel_pledge::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let not_found = || EscrowError::method("NotFound", "no such pledge");
    let pledge = load_pledge(&mut *escrow.pool.acquire().await?, &input.pledge, false)
        .await?
        .ok_or_else(not_found)?;
    if pledge.backer != caller {
        return Err(EscrowError::method(
            "NotABacker",
            "the pledge belongs to someone else",
        ));
    }
    // Errors from the AppView leave the decision to what escrow already knows.
    if let Err(error) = sync_proposal(escrow, &pledge.proposal).await {
        tracing::warn!(%error, "cancelPledge: could not refresh the proposal");
    }
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, cancel_pledge::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let proposal = load_proposal(&mut tx, &pledge.proposal, true)
        .await?
        .ok_or_else(not_found)?;
    let pledge = load_pledge(&mut tx, &input.pledge, true)
        .await?
        .ok_or_else(not_found)?;
    if proposal.released_at.is_some() || proposal.stage == Stage::Released.as_str() {
        return Err(EscrowError::method(
            "AlreadyReleased",
            "a release was declared; pledges can no longer be cancelled",
        ));
    }
    let not_cancellable = |why: &str| EscrowError::method("PledgeNotCancellable", why.to_owned());
    if !matches!(pledge.state, PledgeState::Pending | PledgeState::Held) {
        return Err(not_cancellable(&format!("the pledge is {}", pledge.state)));
    }
    let in_preview = proposal.stage == Stage::Preview.as_str()
        && proposal.settlement.is_none()
        && proposal.preview_ends_at.is_some_and(|end| now < end);
    if !in_preview {
        return Err(not_cancellable(
            "pledges can be cancelled only during the preview",
        ));
    }
    if pledge.state == PledgeState::Pending {
        ledger::finish_transfer(
            &mut tx,
            &format!("{}:hold", pledge.id),
            ledger::Finish::Void,
            now,
        )
        .await?;
        states::set_pledge_state(
            &mut tx,
            &pledge.id,
            PledgeState::Pending,
            PledgeState::Cancelled,
            now,
        )
        .await?;
    } else {
        lifecycle::decide_refund(&mut tx, &pledge, PledgeState::Cancelled, now).await?;
    }
    let row = load_pledge(&mut tx, &pledge.id, false)
        .await?
        .ok_or_else(not_found)?;
    let view = row.view();
    idempotency::record(&mut tx, caller, key, &to_json(&view)?).await?;
    tx.commit().await?;
    if pledge.state == PledgeState::Pending {
        if let Some(payment) = &pledge.payment_id {
            // Best effort: a payment that still goes through is refunded by the webhook path.
            if let Err(error) = escrow.provider.cancel_checkout(payment).await {
                tracing::warn!(%error, pledge = %pledge.id, "could not cancel the checkout");
            }
        }
    }
    escrow.wake.notify_one();
    Ok(view)
}

/// One pledge by id.
pub async fn get_pledge(escrow: &Escrow, id: &str) -> Result<PledgeView, EscrowError> {
    load_pledge(&mut *escrow.pool.acquire().await?, id, false)
        .await?
        .map(|row| row.view())
        .ok_or_else(|| EscrowError::method("NotFound", "no such pledge"))
}
