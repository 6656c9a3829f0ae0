//! `fileDispute` (backers, during verification) and `resolveDispute` (operators).

use greenlight_lexicon::fund::greenlight::escrow::defs::DisputeView;
use greenlight_lexicon::fund::greenlight::escrow::{file_dispute, resolve_dispute};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{from_json, load_proposal, replayed, sync_proposal, to_json, DisputeRow};
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::states::{DisputeState, PledgeState};
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
    let backer = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM escrow.pledge WHERE proposal = $1 AND backer = $2 AND state = $3)
             AS "backer!""#,
        uri,
        caller,
        PledgeState::Held.as_str(),
    )
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
    // The conflict target names the partial unique index `dispute_one_open`, whose predicate
    // must be written out literally.
    let row = sqlx::query_as!(
        DisputeRow,
        r#"INSERT INTO escrow.dispute (id, proposal, proposal_cid, filer, reason, evidence, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (proposal, filer) WHERE state = 'open' DO NOTHING
         RETURNING id, proposal, proposal_cid, filer, reason, evidence,
             state AS "state: DisputeState", resolution_note, created_at, resolved_at"#,
        id,
        uri,
        input.proposal.cid,
        caller,
        input.reason,
        evidence,
        DisputeState::Open.as_str(),
        now,
    )
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
    let outcome = match input.outcome.parse() {
        Ok(outcome @ (DisputeState::Upheld | DisputeState::Rejected)) => outcome,
        _ => {
            return Err(EscrowError::method(
                "InvalidOutcome",
                "the outcome is upheld or rejected",
            ))
        }
    };
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, OPERATOR, key, resolve_dispute::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let not_found = || EscrowError::method("NotFound", "no such dispute");
    let proposal_uri = sqlx::query_scalar!(
        "SELECT proposal FROM escrow.dispute WHERE id = $1",
        input.dispute,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    // Proposal first, then dispute: the same order as filing and paying out.
    let proposal = load_proposal(&mut tx, &proposal_uri, true)
        .await?
        .ok_or_else(not_found)?;
    let state = sqlx::query_scalar!(
        r#"SELECT state AS "state: DisputeState" FROM escrow.dispute WHERE id = $1 FOR UPDATE"#,
        input.dispute,
    )
    .fetch_one(&mut *tx)
    .await?;
    if state != DisputeState::Open {
        return Err(EscrowError::method(
            "DisputeAlreadyResolved",
            format!("the dispute was already {state}"),
        ));
    }
    let row = set_dispute_state(&mut tx, &input.dispute, state, outcome, &input.note, now).await?;
    let mut abandoned = Vec::new();
    if outcome == DisputeState::Upheld {
        let (from, to) = (DisputeState::Open, DisputeState::Upheld);
        DisputeState::check_move(from, to)?;
        sqlx::query!(
            "UPDATE escrow.dispute SET state = $6, resolution_note = $3, resolved_at = $4
             WHERE proposal = $1 AND state = $5 AND id <> $2",
            proposal_uri,
            input.dispute,
            format!("Resolved with dispute {}: {}", input.dispute, input.note),
            now,
            from.as_str(),
            to.as_str(),
        )
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

/// Moves dispute `id` from `from` to `to` with the operator's note (see
/// [`DisputeState::check_move`]); fails when the move is illegal or the dispute was not `from`.
pub async fn set_dispute_state(
    conn: &mut PgConnection,
    id: &str,
    from: DisputeState,
    to: DisputeState,
    note: &str,
    at: DateTime<Utc>,
) -> Result<DisputeRow, EscrowError> {
    DisputeState::check_move(from, to)?;
    sqlx::query_as!(
        DisputeRow,
        r#"UPDATE escrow.dispute SET state = $3, resolution_note = $4, resolved_at = $5
         WHERE id = $1 AND state = $2
         RETURNING id, proposal, proposal_cid, filer, reason, evidence,
             state AS "state: DisputeState", resolution_note, created_at, resolved_at"#,
        id,
        from.as_str(),
        to.as_str(),
        note,
        at,
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| EscrowError::Internal(format!("dispute {id} was not {from}; not moved to {to}")))
}
