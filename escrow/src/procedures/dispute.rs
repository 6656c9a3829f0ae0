//! `fileDispute` (backers, during verification) and `resolveDispute` (operators).

use greenlight_lexicon::fund::greenlight::escrow::defs::DisputeView;
use greenlight_lexicon::fund::greenlight::escrow::{file_dispute, resolve_dispute};

use super::{
    from_json, load_proposal, replayed, sync_proposal, to_json, DisputeRow, DISPUTE_COLUMNS,
};
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::{identifiers, lifecycle, Escrow};

/// The caller used for operators' idempotency keys.
pub const OPERATOR: &str = "operator";

/// Files a dispute; payout is frozen while it is open.
pub async fn file_dispute(
    escrow: &Escrow,
    caller: &str,
    input: &file_dispute::Input,
) -> Result<DisputeView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, file_dispute::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let uri = input.proposal.uri.as_str();
    if let Err(error) = sync_proposal(escrow, uri).await {
        tracing::warn!(%error, "fileDispute: could not refresh the proposal");
    }
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, file_dispute::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    // Locked: a payout decision waits for this dispute, or this dispute sees the payout.
    let proposal = load_proposal(&mut tx, uri, true)
        .await?
        .ok_or_else(|| EscrowError::method("NotFound", "no such proposal"))?;
    let verifying = proposal.released_at.is_some()
        && proposal.settlement.is_none()
        && proposal.verification_ends_at.is_some_and(|end| now < end);
    if !verifying {
        return Err(EscrowError::method(
            "ProposalNotVerifying",
            "disputes are accepted only during the verification period",
        ));
    }
    let backer: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM escrow.pledge WHERE proposal = $1 AND backer = $2 AND state = 'held')",
    )
    .bind(uri)
    .bind(caller)
    .fetch_one(&mut *tx)
    .await?;
    if !backer {
        return Err(EscrowError::method(
            "NotABacker",
            "only a backer with a held pledge on the proposal may dispute",
        ));
    }
    let id = identifiers::derived("dp", &[caller, key, &hex::encode(&hash)]);
    let evidence = input
        .evidence
        .as_ref()
        .map(|links| serde_json::json!(links));
    let row: Option<DisputeRow> = sqlx::query_as(&format!(
        "INSERT INTO escrow.dispute (id, proposal, proposal_cid, filer, reason, evidence, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
         ON CONFLICT (proposal, filer) WHERE state = 'open' DO NOTHING
         RETURNING {DISPUTE_COLUMNS}"
    ))
    .bind(&id)
    .bind(uri)
    .bind(&input.proposal.cid)
    .bind(caller)
    .bind(&input.reason)
    .bind(evidence)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| {
        EscrowError::method(
            "DisputeAlreadyOpen",
            "you already have an open dispute on this proposal",
        )
    })?;
    let view = row.view();
    idempotency::record(&mut tx, caller, key, &to_json(&view)?).await?;
    tx.commit().await?;
    tracing::info!(dispute = %id, proposal = %uri, "dispute filed; payout frozen");
    Ok(view)
}

/// Resolves an open dispute: upheld refunds every held pledge of the proposal (and closes its
/// other open disputes with it); rejected lets the payout continue.
pub async fn resolve_dispute(
    escrow: &Escrow,
    input: &resolve_dispute::Input,
) -> Result<DisputeView, EscrowError> {
    let hash = idempotency::request_hash(resolve_dispute::NSID, &to_json(input)?);
    let key = input.idempotency_key.as_str();
    if input.outcome != "upheld" && input.outcome != "rejected" {
        return Err(EscrowError::method(
            "InvalidOutcome",
            "the outcome is upheld or rejected",
        ));
    }
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, OPERATOR, key, resolve_dispute::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let not_found = || EscrowError::method("NotFound", "no such dispute");
    let proposal_uri: String =
        sqlx::query_scalar("SELECT proposal FROM escrow.dispute WHERE id = $1")
            .bind(&input.dispute)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(not_found)?;
    // Proposal first, then dispute: the same order as filing and paying out.
    let proposal = load_proposal(&mut tx, &proposal_uri, true)
        .await?
        .ok_or_else(not_found)?;
    let dispute: DisputeRow = sqlx::query_as(&format!(
        "SELECT {DISPUTE_COLUMNS} FROM escrow.dispute WHERE id = $1 FOR UPDATE"
    ))
    .bind(&input.dispute)
    .fetch_one(&mut *tx)
    .await?;
    if dispute.state != "open" {
        return Err(EscrowError::method(
            "DisputeAlreadyResolved",
            format!("the dispute was already {}", dispute.state),
        ));
    }
    let row: DisputeRow = sqlx::query_as(&format!(
        "UPDATE escrow.dispute SET state = $2, resolution_note = $3, resolved_at = $4
         WHERE id = $1 RETURNING {DISPUTE_COLUMNS}"
    ))
    .bind(&input.dispute)
    .bind(&input.outcome)
    .bind(&input.note)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut abandoned = Vec::new();
    if input.outcome == "upheld" {
        sqlx::query(
            "UPDATE escrow.dispute SET state = 'upheld', resolution_note = $3, resolved_at = $4
             WHERE proposal = $1 AND state = 'open' AND id <> $2",
        )
        .bind(&proposal_uri)
        .bind(&input.dispute)
        .bind(format!(
            "Resolved with dispute {}: {}",
            input.dispute, input.note
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if proposal.settlement.is_none() {
            abandoned = lifecycle::settle_refund(&mut tx, &proposal, now).await?;
        }
    }
    let view = row.view();
    idempotency::record(&mut tx, OPERATOR, key, &to_json(&view)?).await?;
    tx.commit().await?;
    lifecycle::cancel_checkouts(escrow, &abandoned).await;
    tracing::info!(dispute = %input.dispute, outcome = %input.outcome, "dispute resolved");
    escrow.wake.notify_one();
    Ok(view)
}
