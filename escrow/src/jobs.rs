//! Durable jobs that move money out through the provider: one refund to a backer, or one
//! payout to a maintainer. Each goes through explicit states, committed before the next step:
//!
//! 1. `ready`: decided; nothing reserved yet (`awaiting_account`: a payout waiting for the
//!    maintainer's payout account, however long that takes).
//! 2. `reserved`: a pending ledger transfer holds the amount (refunds/payable → clearing).
//! 3. The provider call, with the pending transfer's id as its idempotency key.
//! 4. `done`: the transfer is posted with the provider's reference; or `failed` when the
//!    provider refused for good (the transfer is voided, the money stays owed, an operator
//!    looks and, once the cause is fixed, retries it with [`retry_failed`]: the job becomes
//!    `superseded` by a new one).
//!
//! A crash anywhere resumes from the stored state: a `reserved` job calls the provider again
//! with the same key, and the provider answers with the refund or transfer it already made,
//! so exactly one exists.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::EscrowError;
use crate::ledger::{self, Finish, Kind, Transfer};
use crate::provider::{MovementKind, ProviderError, RefundRequest, TransferRequest};
use crate::states::{self, DonationState, JobKind, JobState};
use crate::{identifiers, Escrow};

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Unique, derived from what it pays (so deciding twice queues once).
    pub id: String,
    /// Refund or payout.
    pub kind: JobKind,
    /// Runnable now (otherwise it waits for a payout account).
    pub ready: bool,
    /// ISO 4217.
    pub currency: &'a str,
    /// Minor units.
    pub amount: i64,
    /// The ledger transfer it will make (and the provider idempotency key).
    pub transfer_id: String,
    /// The account the money leaves.
    pub debit_account: String,
    /// The proposal.
    pub proposal: Option<&'a str>,
    /// The pledge refunded.
    pub pledge: Option<&'a str>,
    /// The donation paid out.
    pub donation: Option<&'a str>,
    /// The backer refunded.
    pub backer: Option<&'a str>,
    /// The maintainer paid.
    pub maintainer: Option<&'a str>,
    /// The payment refunded.
    pub payment_id: Option<&'a str>,
}

/// Queues a job in the caller's transaction; queuing the same id again is a no-op.
pub async fn enqueue(
    conn: &mut PgConnection,
    job: &NewJob<'_>,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    sqlx::query!(
        "INSERT INTO escrow.job (id, kind, state, currency, amount, transfer_id, debit_account,
             proposal, pledge, donation, backer, maintainer, payment_id, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $14)
         ON CONFLICT (id) DO NOTHING",
        job.id,
        job.kind.as_str(),
        initial_state(job.ready).as_str(),
        job.currency,
        job.amount,
        job.transfer_id,
        job.debit_account,
        job.proposal,
        job.pledge,
        job.donation,
        job.backer,
        job.maintainer,
        job.payment_id,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The state a job starts in: `ready`, or `awaiting_account` while a payout has nowhere to go.
fn initial_state(ready: bool) -> JobState {
    if ready {
        JobState::Ready
    } else {
        JobState::AwaitingAccount
    }
}

/// Whether `did` has an active payout account with `provider`.
pub async fn has_active_account(
    conn: &mut PgConnection,
    did: &str,
    provider: &str,
) -> Result<bool, EscrowError> {
    Ok(active_account(conn, did, provider).await?.is_some())
}

async fn active_account(
    conn: &mut PgConnection,
    did: &str,
    provider: &str,
) -> Result<Option<String>, EscrowError> {
    Ok(sqlx::query_scalar!(
        "SELECT account_id FROM escrow.payout_account
         WHERE did = $1 AND provider = $2 AND status = 'active'",
        did,
        provider,
    )
    .fetch_optional(conn)
    .await?)
}

/// Makes a maintainer's waiting payouts runnable (their payout account became active).
pub async fn wake_payouts(
    conn: &mut PgConnection,
    maintainer: &str,
    at: DateTime<Utc>,
) -> Result<u64, EscrowError> {
    let (from, to) = (JobState::AwaitingAccount, JobState::Ready);
    JobState::check_move(from, to)?;
    Ok(sqlx::query!(
        "UPDATE escrow.job SET state = $4, run_after = $2, updated_at = $2
         WHERE kind = $5 AND state = $3 AND maintainer = $1",
        maintainer,
        at,
        from.as_str(),
        to.as_str(),
        JobKind::Payout.as_str(),
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Retries a job the provider refused for good, once its cause is fixed: the failed job is
/// superseded by a new one with its own ledger transfer (a new provider idempotency key, since
/// the provider already answered the old one). Returns the new job's id. Only a `failed` job
/// can be retried, and only once: a second call is refused with `JobNotRetryable`.
pub async fn retry_failed(escrow: &Escrow, id: &str) -> Result<String, EscrowError> {
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    let job = sqlx::query_as!(
        JobRow,
        r#"SELECT id, kind AS "kind: JobKind", state AS "state: JobState", currency, amount,
             transfer_id, debit_account, proposal, pledge, donation, backer, maintainer,
             payment_id, attempts
         FROM escrow.job WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let job = match job {
        Some(job) if job.state == JobState::Failed => job,
        Some(job) => {
            return Err(EscrowError::method(
                "JobNotRetryable",
                format!("job {id} is {}, not failed", job.state),
            ))
        }
        None => return Err(EscrowError::method("NotFound", format!("no job {id}"))),
    };
    let retry_id = identifiers::derived("job", &[&job.id, "retry"]);
    let ready = match (job.kind, &job.maintainer) {
        (JobKind::Payout, Some(maintainer)) => {
            has_active_account(&mut tx, maintainer, escrow.provider.name()).await?
        }
        _ => true,
    };
    sqlx::query!(
        "INSERT INTO escrow.job (id, kind, state, currency, amount, transfer_id, debit_account,
             proposal, pledge, donation, backer, maintainer, payment_id, run_after, created_at,
             updated_at, retry_of, invoice)
         SELECT $2, kind, $3, currency, amount, $4, debit_account, proposal, pledge, donation,
             backer, maintainer, payment_id, $5, $5, $5, id, invoice
         FROM escrow.job WHERE id = $1",
        job.id,
        retry_id,
        initial_state(ready).as_str(),
        identifiers::derived("tr", &[&job.transfer_id, "retry"]),
        now,
    )
    .execute(&mut *tx)
    .await?;
    set_job_state(
        &mut tx,
        &job.id,
        JobState::Failed,
        JobState::Superseded,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(job = %job.id, retry = %retry_id, "failed job retried");
    escrow.wake.notify_one();
    Ok(retry_id)
}

/// A job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    /// Id.
    pub id: String,
    /// Refund or payout.
    pub kind: JobKind,
    /// Current state.
    pub state: JobState,
    /// ISO 4217.
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    /// The ledger transfer.
    pub transfer_id: String,
    /// The account debited.
    pub debit_account: String,
    /// The proposal.
    pub proposal: Option<String>,
    /// The pledge.
    pub pledge: Option<String>,
    /// The donation.
    pub donation: Option<String>,
    /// The backer.
    pub backer: Option<String>,
    /// The maintainer.
    pub maintainer: Option<String>,
    /// The payment refunded.
    pub payment_id: Option<String>,
    /// Failed attempts so far.
    pub attempts: i32,
}

/// Moves job `id` from `from` to `to` (see [`JobState::check_move`]); fails when the move is
/// illegal or the job was not `from`.
pub async fn set_job_state(
    conn: &mut PgConnection,
    id: &str,
    from: JobState,
    to: JobState,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    JobState::check_move(from, to)?;
    let rows = sqlx::query!(
        "UPDATE escrow.job SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
        id,
        from.as_str(),
        to.as_str(),
        at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 0 {
        return Err(EscrowError::Internal(format!(
            "job {id} was not {from}; not moved to {to}"
        )));
    }
    Ok(())
}

/// What [`run_due`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobsReport {
    /// Jobs finished.
    pub done: usize,
    /// Jobs the provider refused for good.
    pub failed: usize,
    /// Jobs postponed after a transient error.
    pub postponed: usize,
}

/// Runs every due job once. An injected failure stops the run at once, as a crash would.
pub async fn run_due(escrow: &Escrow) -> Result<JobsReport, EscrowError> {
    let mut report = JobsReport::default();
    let due = sqlx::query_as!(
        JobRow,
        r#"SELECT id, kind AS "kind: JobKind", state AS "state: JobState", currency, amount,
             transfer_id, debit_account, proposal, pledge, donation, backer, maintainer,
             payment_id, attempts
         FROM escrow.job
         WHERE state IN ('ready', 'reserved') AND run_after <= $1
         ORDER BY created_at, id LIMIT 500"#,
        escrow.now(),
    )
    .fetch_all(&escrow.pool)
    .await?;
    for job in due {
        match run_one(escrow, job.clone()).await {
            Ok(Outcome::Done) => report.done += 1,
            Ok(Outcome::Failed) => report.failed += 1,
            Ok(Outcome::Waiting) => {}
            Err(EscrowError::Injected(failure)) => return Err(EscrowError::Injected(failure)),
            Err(error) => {
                report.postponed += 1;
                postpone(escrow, &job, &error.to_string()).await?;
            }
        }
    }
    Ok(report)
}

enum Outcome {
    Done,
    Failed,
    Waiting,
}

async fn postpone(escrow: &Escrow, job: &JobRow, error: &str) -> Result<(), EscrowError> {
    // Exponential back-off, capped at an hour: a provider outage must not be hammered.
    let delay = chrono::Duration::seconds(
        2_i64
            .saturating_pow(job.attempts.clamp(0, 12) as u32)
            .min(3_600),
    );
    tracing::warn!(job = %job.id, error, "job postponed");
    sqlx::query!(
        "UPDATE escrow.job SET attempts = attempts + 1, run_after = $2, last_error = $3, updated_at = $4
         WHERE id = $1",
        job.id,
        escrow.now() + delay,
        error,
        escrow.now(),
    )
    .execute(&escrow.pool)
    .await?;
    Ok(())
}

async fn run_one(escrow: &Escrow, mut job: JobRow) -> Result<Outcome, EscrowError> {
    let step = job.kind;
    let destination = match job.kind {
        JobKind::Payout => {
            let maintainer = job.maintainer.clone().unwrap_or_default();
            let account = active_account(
                &mut *escrow.pool.acquire().await?,
                &maintainer,
                escrow.provider.name(),
            )
            .await?;
            match account {
                Some(account) => Some(account),
                None if job.state == JobState::Ready => {
                    set_job_state(
                        &mut *escrow.pool.acquire().await?,
                        &job.id,
                        JobState::Ready,
                        JobState::AwaitingAccount,
                        escrow.now(),
                    )
                    .await?;
                    return Ok(Outcome::Waiting);
                }
                None => {
                    return Err(EscrowError::Internal(format!(
                        "payout {} reserved but the maintainer's account is gone",
                        job.id
                    )))
                }
            }
        }
        JobKind::Refund => None,
    };
    let resumed = job.state == JobState::Reserved;
    if job.state == JobState::Ready {
        reserve(escrow, &job).await?;
        job.state = JobState::Reserved;
        escrow
            .failpoints
            .reached(&format!("{step}.after_reserve"))
            .await?;
    }
    escrow
        .failpoints
        .reached(&format!("{step}.before_provider_call"))
        .await?;
    let movement = if job.kind == JobKind::Payout {
        MovementKind::Transfer
    } else {
        MovementKind::Refund
    };
    // A job found reserved may have reached the provider before a crash: look before calling.
    let earlier = if resumed {
        escrow
            .provider
            .find_movement(movement, &job.transfer_id, job.payment_id.as_deref())
            .await?
    } else {
        None
    };
    let result = match (job.kind, &destination) {
        _ if earlier.is_some() => Ok(earlier.unwrap_or_default()),
        (JobKind::Payout, Some(destination)) => {
            escrow
                .provider
                .transfer(&TransferRequest {
                    destination,
                    amount: job.amount,
                    currency: &job.currency,
                    idempotency_key: &job.transfer_id,
                })
                .await
        }
        _ => {
            let payment = job.payment_id.clone().unwrap_or_default();
            escrow
                .provider
                .refund(&RefundRequest {
                    payment_id: &payment,
                    amount: job.amount,
                    currency: &job.currency,
                    idempotency_key: &job.transfer_id,
                })
                .await
        }
    };
    match result {
        Ok(reference) => {
            escrow
                .failpoints
                .reached(&format!("{step}.after_provider_call"))
                .await?;
            finish(escrow, &job, Finish::Post, Some(&reference), None).await?;
            escrow
                .failpoints
                .reached(&format!("{step}.after_post"))
                .await?;
            tracing::info!(job = %job.id, reference, amount = job.amount, "money moved");
            Ok(Outcome::Done)
        }
        Err(ProviderError::Rejected(reason)) => {
            tracing::error!(job = %job.id, reason, "the provider refused; an operator must look");
            finish(escrow, &job, Finish::Void, None, Some(&reason)).await?;
            Ok(Outcome::Failed)
        }
        Err(error) => Err(error.into()),
    }
}

/// Step 2: the pending transfer and the `reserved` state, in one transaction.
async fn reserve(escrow: &Escrow, job: &JobRow) -> Result<(), EscrowError> {
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    let state = sqlx::query_scalar!(
        r#"SELECT state AS "state: JobState" FROM escrow.job WHERE id = $1 FOR UPDATE"#,
        job.id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if state != Some(JobState::Ready) {
        return Ok(());
    }
    let kind = if job.kind == JobKind::Payout {
        Kind::Payout
    } else {
        Kind::RefundPayment
    };
    ledger::create_transfer(
        &mut tx,
        &Transfer {
            two_phase: true,
            proposal: job.proposal.as_deref(),
            pledge: job.pledge.as_deref(),
            donation: job.donation.as_deref(),
            backer: job.backer.as_deref(),
            maintainer: job.maintainer.as_deref(),
            ..Transfer::new(
                &job.transfer_id,
                &job.currency,
                &job.debit_account,
                ledger::PROVIDER_CLEARING,
                job.amount,
                kind,
            )
        },
        now,
    )
    .await?;
    // A retainer period's payout belongs to its agreement in the public feed, as its payment
    // and fee do.
    sqlx::query!(
        "INSERT INTO escrow.retainer_transfer (transfer_id, agreement, invoice)
         SELECT $1, i.agreement, i.number
         FROM escrow.job j JOIN escrow.retainer_invoice i ON i.number = j.invoice
         WHERE j.id = $2
         ON CONFLICT DO NOTHING",
        job.transfer_id,
        job.id,
    )
    .execute(&mut *tx)
    .await?;
    set_job_state(&mut tx, &job.id, JobState::Ready, JobState::Reserved, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Step 4: post (or void) the transfer and close the job, in one transaction.
async fn finish(
    escrow: &Escrow,
    job: &JobRow,
    finish: Finish,
    reference: Option<&str>,
    error: Option<&str>,
) -> Result<(), EscrowError> {
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    ledger::finish_transfer(&mut tx, &job.transfer_id, finish, now).await?;
    let state = if finish == Finish::Post {
        JobState::Done
    } else {
        JobState::Failed
    };
    set_job_state(&mut tx, &job.id, JobState::Reserved, state, now).await?;
    sqlx::query!(
        "UPDATE escrow.job SET provider_ref = $2, last_error = $3 WHERE id = $1",
        job.id,
        reference,
        error,
    )
    .execute(&mut *tx)
    .await?;
    // Only the payout of a donation pays it out; a refund naming it returns money instead.
    if let (Some(donation), Finish::Post, JobKind::Payout) = (&job.donation, finish, job.kind) {
        states::set_donation_state(
            &mut tx,
            donation,
            DonationState::Received,
            DonationState::PaidOut,
            None,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
