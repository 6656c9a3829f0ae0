//! The lifecycle worker: learns stages from the AppView and decides what happens to the money.
//!
//! - a release starts the verification period (recorded when escrow first sees it);
//! - a decline, or no release within the grace period after the preview ended, refunds every
//!   held pledge;
//! - when verification ends with no open dispute, the held pledges go to the maintainer minus
//!   the published fee; an upheld dispute refunds everyone (see `procedures::dispute`).
//!
//! A decision is one transaction: ledger transfers, pledge states and the durable jobs that
//! then move the money at the provider ([`crate::jobs`]). The proposal's row is locked while
//! deciding, which is what keeps a payout from racing a dispute being filed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::EscrowError;
use crate::jobs::{self, JobsReport, NewJob};
use crate::ledger::{self, Finish, Kind, Transfer};
use crate::procedures::{load_proposal, sync_proposal, PledgeRow, ProposalRow};
use crate::states::{self, DisputeState, PledgeState, Settlement};
use crate::{fee, identifiers, Escrow};

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Proposals whose held pledges were refunded.
    pub refunded: Vec<String>,
    /// Proposals whose held pledges were paid out.
    pub paid: Vec<String>,
    /// What retainer billing did.
    pub retainers: crate::retainer::billing::BillingReport,
    /// What the job runner did.
    pub jobs: JobsReport,
}

/// Decides to refund a held pledge: the money leaves `held` for `refunds:<backer>` and a
/// refund job is queued; the pledge moves from its state to `new_state` (`refunded` or
/// `cancelled`) through [`states::set_pledge_state`].
pub async fn decide_refund(
    conn: &mut PgConnection,
    pledge: &PledgeRow,
    new_state: PledgeState,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    let transfer_id = format!("{}:refund", pledge.id);
    let held = ledger::held(&pledge.proposal);
    let refunds = ledger::refunds(&pledge.backer);
    ledger::create_transfer(
        conn,
        &pledge.transfer(&transfer_id, &held, &refunds, Kind::Refund),
        at,
    )
    .await?;
    jobs::enqueue(
        conn,
        &NewJob {
            id: format!("refund:{}", pledge.id),
            kind: crate::states::JobKind::Refund,
            ready: true,
            currency: &pledge.currency,
            amount: pledge.amount,
            transfer_id: format!("{}:refund-payment", pledge.id),
            debit_account: refunds.clone(),
            proposal: Some(&pledge.proposal),
            pledge: Some(&pledge.id),
            donation: None,
            backer: Some(&pledge.backer),
            maintainer: None,
            payment_id: pledge.payment_id.as_deref(),
        },
        at,
    )
    .await?;
    states::set_pledge_state(conn, &pledge.id, pledge.state, new_state, at).await
}

async fn pledges_in(
    conn: &mut PgConnection,
    proposal: &str,
    state: PledgeState,
) -> Result<Vec<PledgeRow>, EscrowError> {
    Ok(sqlx::query_as!(
        PledgeRow,
        r#"SELECT id, proposal, proposal_cid, backer, amount, currency,
             state AS "state: PledgeState", payment_id, checkout_url, created_at, updated_at
         FROM escrow.pledge WHERE proposal = $1 AND state = $2
         ORDER BY created_at, id FOR UPDATE"#,
        proposal,
        state.as_str(),
    )
    .fetch_all(conn)
    .await?)
}

/// Abandons pledges still waiting at checkout: their holds are voided. Returns their payment
/// ids, to cancel at the provider once the decision is committed.
async fn abandon_pending(
    conn: &mut PgConnection,
    proposal: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, EscrowError> {
    let mut payments = Vec::new();
    for pledge in pledges_in(conn, proposal, PledgeState::Pending).await? {
        ledger::finish_transfer(conn, &format!("{}:hold", pledge.id), Finish::Void, at).await?;
        states::set_pledge_state(
            conn,
            &pledge.id,
            PledgeState::Pending,
            PledgeState::Failed,
            at,
        )
        .await?;
        payments.extend(pledge.payment_id);
    }
    Ok(payments)
}

/// Refunds every held pledge of a proposal (whose row the caller locked) and settles it.
pub async fn settle_refund(
    conn: &mut PgConnection,
    proposal: &ProposalRow,
    at: DateTime<Utc>,
) -> Result<Vec<String>, EscrowError> {
    for pledge in pledges_in(conn, &proposal.uri, PledgeState::Held).await? {
        decide_refund(conn, &pledge, PledgeState::Refunded, at).await?;
    }
    let abandoned = abandon_pending(conn, &proposal.uri, at).await?;
    states::settle_proposal(
        conn,
        &proposal.uri,
        proposal.settlement,
        Settlement::Refund,
        at,
    )
    .await?;
    tracing::info!(proposal = %proposal.uri, "held pledges refunded");
    Ok(abandoned)
}

/// The sum of pledges' amounts; a sum beyond `i64` is refused, never wrapped or panicked on.
fn total_of(pledges: &[PledgeRow]) -> Result<i64, EscrowError> {
    pledges
        .iter()
        .try_fold(0_i64, |sum, pledge| sum.checked_add(pledge.amount))
        .ok_or_else(|| EscrowError::Internal("held pledges sum beyond i64".into()))
}

/// The id under which a proposal's payout transfers and job are named.
pub fn payout_key(proposal: &str) -> String {
    identifiers::derived("po", &[proposal])
}

/// Pays a proposal's held pledges to its maintainer minus the fee (the caller locked the row
/// and checked there is no open dispute), and settles it.
async fn settle_payout(
    escrow: &Escrow,
    conn: &mut PgConnection,
    proposal: &ProposalRow,
    maintainer: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, EscrowError> {
    let held = pledges_in(conn, &proposal.uri, PledgeState::Held).await?;
    let total = total_of(&held)?;
    // The fee published when the first money arrived, not whatever is configured today.
    let fee_bps = u32::try_from(proposal.fee_bps).unwrap_or(escrow.config.fee_basis_points);
    let split = fee::split(total, fee_bps);
    let key = payout_key(&proposal.uri);
    let held_account = ledger::held(&proposal.uri);
    let payable = ledger::payable(maintainer);
    let currency = proposal.currency.as_str();
    if split.fee > 0 {
        let id = format!("{key}:fee");
        ledger::create_transfer(
            conn,
            &Transfer {
                proposal: Some(&proposal.uri),
                maintainer: Some(maintainer),
                ..Transfer::new(
                    &id,
                    currency,
                    &held_account,
                    ledger::PLATFORM_FEES,
                    split.fee,
                    Kind::Fee,
                )
            },
            at,
        )
        .await?;
    }
    if split.payout > 0 {
        let id = format!("{key}:capture");
        ledger::create_transfer(
            conn,
            &Transfer {
                proposal: Some(&proposal.uri),
                maintainer: Some(maintainer),
                ..Transfer::new(
                    &id,
                    currency,
                    &held_account,
                    &payable,
                    split.payout,
                    Kind::PledgeCapture,
                )
            },
            at,
        )
        .await?;
        let ready = jobs::has_active_account(conn, maintainer, escrow.provider.name()).await?;
        jobs::enqueue(
            conn,
            &NewJob {
                id: format!("payout:{key}"),
                kind: crate::states::JobKind::Payout,
                ready,
                currency,
                amount: split.payout,
                transfer_id: format!("{key}:payout"),
                debit_account: payable.clone(),
                proposal: Some(&proposal.uri),
                pledge: None,
                donation: None,
                backer: None,
                maintainer: Some(maintainer),
                payment_id: None,
            },
            at,
        )
        .await?;
    }
    states::set_proposal_pledges_state(
        conn,
        &proposal.uri,
        PledgeState::Held,
        PledgeState::PaidOut,
        at,
    )
    .await?;
    let abandoned = abandon_pending(conn, &proposal.uri, at).await?;
    states::settle_proposal(
        conn,
        &proposal.uri,
        proposal.settlement,
        Settlement::Payout,
        at,
    )
    .await?;
    tracing::info!(proposal = %proposal.uri, total, fee = split.fee, payout = split.payout, "payout decided");
    Ok(abandoned)
}

/// Open disputes of a proposal.
pub async fn open_disputes(conn: &mut PgConnection, proposal: &str) -> Result<i64, EscrowError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "open!" FROM escrow.dispute WHERE proposal = $1 AND state = $2"#,
        proposal,
        DisputeState::Open.as_str(),
    )
    .fetch_one(conn)
    .await?)
}

enum Decision {
    Refund,
    Payout,
}

/// Applies the rules to one proposal as escrow knows it now.
async fn evaluate(escrow: &Escrow, uri: &str, report: &mut TickReport) -> Result<(), EscrowError> {
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    let Some(proposal) = load_proposal(&mut tx, uri, true).await? else {
        return Ok(());
    };
    if proposal.settlement.is_some() {
        return Ok(());
    }
    let decision = if proposal.released_at.is_none() {
        let expired = proposal
            .preview_ends_at
            .is_some_and(|end| now >= end + escrow.config.release_grace);
        (proposal.stage == "declined" || expired).then_some(Decision::Refund)
    } else if proposal.verification_ends_at.is_some_and(|end| now >= end)
        && open_disputes(&mut tx, uri).await? == 0
    {
        Some(Decision::Payout)
    } else {
        None
    };
    let abandoned = match decision {
        None => return Ok(()),
        Some(Decision::Refund) => {
            report.refunded.push(uri.to_owned());
            settle_refund(&mut tx, &proposal, now).await?
        }
        Some(Decision::Payout) => match proposal.maintainer.clone() {
            Some(maintainer) => {
                report.paid.push(uri.to_owned());
                settle_payout(escrow, &mut tx, &proposal, &maintainer, now).await?
            }
            None => {
                // Nobody can be paid for a proposal without a project owner: give it back.
                report.refunded.push(uri.to_owned());
                settle_refund(&mut tx, &proposal, now).await?
            }
        },
    };
    tx.commit().await?;
    cancel_checkouts(escrow, &abandoned).await;
    Ok(())
}

/// Cancels abandoned checkouts at the provider, best effort: a payment that still completes
/// is refunded by the webhook path.
pub async fn cancel_checkouts(escrow: &Escrow, payments: &[String]) {
    for payment in payments {
        if let Err(error) = escrow.provider.cancel_checkout(payment).await {
            tracing::warn!(%error, payment, "could not cancel an abandoned checkout");
        }
    }
}

/// One pass: refresh the unsettled proposals that hold money from the AppView, decide what is
/// due, run due jobs, publish the feeds.
pub async fn tick(escrow: &Escrow) -> Result<TickReport, EscrowError> {
    let mut report = TickReport::default();
    // Only proposals with money waiting (a payment at checkout or held) have anything to
    // decide; the rest would only cost the AppView a request per tick.
    let uris = sqlx::query_scalar!(
        "SELECT p.uri FROM escrow.proposal p
         WHERE p.settlement IS NULL
           AND EXISTS (SELECT 1 FROM escrow.pledge g
                       WHERE g.proposal = p.uri AND g.state IN ($1, $2))
         ORDER BY p.uri",
        PledgeState::Pending.as_str(),
        PledgeState::Held.as_str(),
    )
    .fetch_all(&escrow.pool)
    .await?;
    for uri in &uris {
        if let Err(error) = sync_proposal(escrow, uri).await {
            match error {
                // The AppView being away must not stall refunds and payouts already due.
                EscrowError::Source(error) => tracing::warn!(%error, uri, "proposal not refreshed"),
                other => return Err(other),
            }
        }
        match evaluate(escrow, uri, &mut report).await {
            Ok(()) => {}
            Err(EscrowError::Injected(failure)) => return Err(EscrowError::Injected(failure)),
            // One proposal that cannot be decided must not hold up every other one.
            Err(error) => {
                tracing::error!(%error, uri, "proposal not evaluated; retrying next tick")
            }
        }
    }
    // Retainer billing before the jobs, so a period paid this tick is paid out this tick.
    match crate::retainer::billing::tick(escrow).await {
        Ok(billing) => report.retainers = billing,
        Err(EscrowError::Injected(failure)) => return Err(EscrowError::Injected(failure)),
        Err(error) => tracing::error!(%error, "retainer billing failed; retrying next tick"),
    }
    report.jobs = jobs::run_due(escrow).await?;
    let mut conn = escrow.pool.acquire().await?;
    ledger::publish_feed(&mut conn).await?;
    crate::procedures::queries::publish_proposal_states(&mut conn).await?;
    Ok(report)
}

/// Runs [`tick`] every `interval` (and whenever a procedure wakes it) for as long as the
/// process lives. Only one worker runs per database: it holds a session advisory lock, which
/// Postgres releases when the holder's connection dies, so a restarted process takes over at
/// once after a crash.
pub async fn run_worker(escrow: std::sync::Arc<Escrow>, interval: Duration) {
    let mut lock_conn = loop {
        match escrow.pool.acquire().await {
            Ok(conn) => break conn.detach(),
            Err(error) => {
                tracing::error!(%error, "worker: no database connection");
                tokio::time::sleep(interval).await;
            }
        }
    };
    loop {
        match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock(7420114)")
            .fetch_one(&mut lock_conn)
            .await
        {
            Ok(true) => break,
            Ok(false) => tracing::info!("worker: another escrow worker is active; waiting"),
            Err(error) => tracing::error!(%error, "worker: cannot take the worker lock"),
        }
        tokio::time::sleep(interval).await;
    }
    tracing::info!("lifecycle worker running");
    loop {
        match tick(&escrow).await {
            Ok(report) => {
                if !report.refunded.is_empty() || !report.paid.is_empty() || report.jobs.done > 0 {
                    tracing::info!(?report, "tick");
                }
            }
            Err(error) => tracing::error!(%error, "tick failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = escrow.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pledge(amount: i64) -> PledgeRow {
        let at = chrono::DateTime::<Utc>::UNIX_EPOCH;
        PledgeRow {
            id: format!("pl_{amount}"),
            proposal: "at://did:plc:a/fund.greenlight.proposal/3k".into(),
            proposal_cid: "bafyreib".into(),
            backer: "did:plc:b".into(),
            amount,
            currency: "USD".into(),
            state: PledgeState::Held,
            payment_id: None,
            checkout_url: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_payout_total_that_would_overflow_is_refused() {
        assert_eq!(total_of(&[]).unwrap(), 0);
        assert_eq!(total_of(&[pledge(1_200), pledge(800)]).unwrap(), 2_000);
        assert_eq!(total_of(&[pledge(i64::MAX), pledge(0)]).unwrap(), i64::MAX);
        assert!(total_of(&[pledge(i64::MAX), pledge(1)]).is_err());
    }
}
