//! The public queries: `getPledge` (in `pledge`), `getProposalState`, `getLargestContribution`,
//! `listLedgerEntries`, `listProposalStates`.

use chrono::{DateTime, Utc};
use greenlight_lexicon::fund::greenlight::escrow::defs::{
    LedgerEntry, ProposalState, ProposalTerms,
};
use greenlight_lexicon::fund::greenlight::escrow::{
    get_largest_contribution, list_ledger_entries, list_proposal_states,
};
use sqlx::PgConnection;

use super::load_proposal;
use crate::clock::datetime;
use crate::error::EscrowError;
use crate::ledger::Kind;
use crate::states::{DisputeState, DonationState, JobState, PledgeState, Settlement};
use crate::{ledger, lifecycle, Escrow};

/// The money of one proposal.
pub async fn get_proposal_state(escrow: &Escrow, uri: &str) -> Result<ProposalState, EscrowError> {
    let mut conn = escrow.pool.acquire().await?;
    let proposal = load_proposal(&mut conn, uri, false)
        .await?
        .ok_or_else(|| EscrowError::method("NotFound", "escrow knows no such proposal"))?;
    let held = ledger::balance(&mut conn, &proposal.currency, &ledger::held(uri))
        .await?
        .credit_balance();
    let sums = sqlx::query!(
        r#"SELECT coalesce(sum(amount) FILTER (WHERE kind = $2), 0)::bigint AS "paid_out!",
                coalesce(sum(amount) FILTER (WHERE kind = $3), 0)::bigint AS "refunded!",
                coalesce(sum(amount) FILTER (WHERE kind = $4), 0)::bigint AS "fees!"
         FROM escrow.transfer_current WHERE proposal = $1 AND state = 'posted'"#,
        uri,
        Kind::PledgeCapture.as_str(),
        Kind::Refund.as_str(),
        Kind::Fee.as_str(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let donations = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(amount), 0)::bigint AS "donations!" FROM escrow.donation
         WHERE proposal = $1 AND state IN ($2, $3)"#,
        uri,
        DonationState::Received.as_str(),
        DonationState::PaidOut.as_str(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let pledge_count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM escrow.pledge WHERE proposal = $1 AND state IN ($2, $3)"#,
        uri,
        PledgeState::Held.as_str(),
        PledgeState::PaidOut.as_str(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let open_disputes = lifecycle::open_disputes(&mut conn, uri).await?;
    let payout_state = match proposal.settlement {
        Some(Settlement::Refund) => "refunded",
        Some(Settlement::Payout) => {
            let waiting = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM escrow.job WHERE id = $1 AND state = $2)
                     AS "waiting!""#,
                format!("payout:{}", lifecycle::payout_key(uri)),
                JobState::AwaitingAccount.as_str(),
            )
            .fetch_one(&mut *conn)
            .await?;
            if waiting {
                "awaiting_account"
            } else {
                "paid"
            }
        }
        None if open_disputes > 0 => "frozen",
        None if proposal.released_at.is_some() => "verifying",
        None => "none",
    };
    Ok(ProposalState {
        proposal: proposal.uri,
        stage: proposal.stage,
        currency: proposal.currency,
        held,
        paid_out: sums.paid_out,
        refunded: sums.refunded,
        donations,
        fees: sums.fees,
        pledge_count,
        preview_ends_at: proposal.preview_ends_at.map(datetime),
        verification_ends_at: proposal.verification_ends_at.map(datetime),
        open_disputes,
        payout_state: payout_state.to_owned(),
    })
}

/// A person's largest successful contribution in a currency: a received donation or a pledge
/// that was paid out.
pub async fn get_largest_contribution(
    escrow: &Escrow,
    params: &get_largest_contribution::Params,
) -> Result<get_largest_contribution::Output, EscrowError> {
    let amount = sqlx::query_scalar!(
        r#"SELECT greatest(
             (SELECT coalesce(max(amount), 0) FROM escrow.pledge
              WHERE backer = $1 AND currency = $2 AND state = $3),
             (SELECT coalesce(max(amount), 0) FROM escrow.donation
              WHERE donor = $1 AND currency = $2 AND state IN ($4, $5)))::bigint AS "amount!""#,
        params.did,
        params.currency,
        PledgeState::PaidOut.as_str(),
        DonationState::Received.as_str(),
        DonationState::PaidOut.as_str(),
    )
    .fetch_one(&escrow.pool)
    .await?;
    Ok(get_largest_contribution::Output {
        did: params.did.clone(),
        currency: params.currency.clone(),
        amount,
    })
}

struct EntryRow {
    seq: i64,
    id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    kind: String,
    state: String,
    ledger: String,
    amount: i64,
    debit_account: String,
    credit_account: String,
    proposal: Option<String>,
    pledge: Option<String>,
    donation: Option<String>,
    backer: Option<String>,
    maintainer: Option<String>,
    agreement: Option<String>,
}

/// Where a page of a public feed starts (the seq after which it lists) and how long it is.
pub(crate) fn feed_page(
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<(i64, i64), EscrowError> {
    let after = match cursor {
        None | Some("") => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| EscrowError::InvalidRequest("cursor is not a seq".into()))?,
    };
    Ok((after, limit.unwrap_or(100).clamp(1, 1000)))
}

/// The public ledger feed, after `cursor`.
///
/// Only reads: entries are published (given their seqs) by the lifecycle worker each tick
/// (`ledger::publish_feed`), so an anonymous reader can neither write nor queue on the
/// publisher's lock, however often it asks. What moved since the last tick shows after the next.
pub async fn list_ledger_entries(
    escrow: &Escrow,
    params: &list_ledger_entries::Params,
) -> Result<list_ledger_entries::Output, EscrowError> {
    let (after, limit) = feed_page(params.cursor.as_deref(), params.limit)?;
    let rows = sqlx::query_as!(
        EntryRow,
        r#"SELECT f.seq, t.id, t.created_at, t.kind, s.state, t.ledger, t.amount, t.debit_account,
                t.credit_account, t.proposal, t.pledge, t.donation, t.backer, t.maintainer,
                r.agreement AS "agreement?"
         FROM escrow.ledger_feed f
         JOIN escrow.transfer_state s ON s.id = f.state_id
         JOIN escrow.transfer t ON t.id = s.transfer_id
         LEFT JOIN escrow.retainer_transfer r ON r.transfer_id = t.id
         WHERE f.seq > $1 ORDER BY f.seq LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(&escrow.pool)
    .await?;
    let cursor = rows.last().map(|row| row.seq.to_string());
    Ok(list_ledger_entries::Output {
        cursor,
        entries: rows
            .into_iter()
            .map(|row| LedgerEntry {
                seq: row.seq,
                id: row.id,
                created_at: datetime(row.created_at),
                kind: row.kind,
                state: row.state,
                currency: row.ledger,
                amount: row.amount,
                debit_account: row.debit_account,
                credit_account: row.credit_account,
                proposal: row.proposal,
                pledge: row.pledge,
                donation: row.donation,
                backer: row.backer,
                maintainer: row.maintainer,
                agreement: row.agreement,
            })
            .collect(),
    })
}

/// Gives every proposal whose published state changed a new feed seq (see migration 0006).
/// The lifecycle worker calls it each tick, so the public query itself only reads.
pub async fn publish_proposal_states(conn: &mut PgConnection) -> Result<i64, EscrowError> {
    Ok(
        sqlx::query_scalar!(r#"SELECT escrow.publish_proposal_states() AS "published!""#)
            .fetch_one(conn)
            .await?,
    )
}

/// A row of the proposal-state feed.
struct TermsRow {
    seq: i64,
    uri: String,
    project: String,
    maintainer: String,
    currency: String,
    fee_bps: i32,
    preview_ends_at: Option<DateTime<Utc>>,
    stage: String,
    released_at: Option<DateTime<Utc>>,
    verification_ends_at: Option<DateTime<Utc>>,
    open_disputes: i64,
    settlement: Option<String>,
    terms_fixed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The public feed of proposal terms and states, after `cursor`.
pub async fn list_proposal_states(
    escrow: &Escrow,
    params: &list_proposal_states::Params,
) -> Result<list_proposal_states::Output, EscrowError> {
    let (after, limit) = feed_page(params.cursor.as_deref(), params.limit)?;
    let rows = sqlx::query_as!(
        TermsRow,
        r#"SELECT p.seq AS "seq!", p.uri, p.project AS "project!", p.maintainer AS "maintainer!", p.currency,
                p.fee_bps, p.preview_ends_at, p.stage, p.released_at, p.verification_ends_at,
                p.settlement, coalesce(p.terms_fixed_at, p.synced_at) AS "terms_fixed_at!",
                p.updated_at,
                (SELECT count(*) FROM escrow.dispute d
                 WHERE d.proposal = p.uri AND d.state = $3) AS "open_disputes!"
         FROM escrow.proposal p
         WHERE p.seq > $1 AND p.project IS NOT NULL AND p.maintainer IS NOT NULL
         ORDER BY p.seq LIMIT $2"#,
        after,
        limit,
        DisputeState::Open.as_str(),
    )
    .fetch_all(&escrow.pool)
    .await?;
    let cursor = rows.last().map(|row| row.seq.to_string());
    let states = rows
        .into_iter()
        .map(|row| ProposalTerms {
            seq: row.seq,
            proposal: row.uri,
            project: row.project,
            payee: row.maintainer,
            currency: row.currency,
            fee_basis_points: i64::from(row.fee_bps),
            preview_ends_at: row.preview_ends_at.map(datetime),
            stage: row.stage,
            verification_started_at: row.released_at.map(datetime),
            verification_ends_at: row.verification_ends_at.map(datetime),
            open_disputes: Some(row.open_disputes),
            settlement: row.settlement,
            terms_fixed_at: datetime(row.terms_fixed_at),
            updated_at: datetime(row.updated_at),
        })
        .collect();
    Ok(list_proposal_states::Output { cursor, states })
}
