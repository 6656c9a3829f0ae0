//! Billing retainers period by period, through the provider and the ledger.
//!
//! Each money step is committed before the next, and each provider call carries a key that
//! finds the same payment again, so a crash anywhere resumes without a second charge:
//!
//! 1. **Issue** ([`issue_invoice`]): when a period begins (the agreement starts, or a paid
//!    period ends while active), its invoice is written with the next number, its amounts and
//!    its document frozen, in the same transaction as the agreement's move.
//! 2. **Collect** ([`collect`]): the provider opens a payment for the invoice with the key
//!    `<invoice>:attempt:<n>`; then the attempt is recorded. Due [`INVOICE_DUE_DAYS`] later,
//!    or [`RETRY_DUE_DAYS`] for a retry.
//! 3. **Paid** ([`payment_succeeded`], from the webhook): the payment is booked
//!    (`retainer_payment` provider_clearing → payable:<maintainer>), the fee fixed with the
//!    quote taken (payable → platform_fees), the payout queued as a durable job keyed by the
//!    invoice, the invoice marked paid and the agreement's period paid: one transaction.
//! 4. **Failed** (the webhook, or the attempt is still open when due: [`tick`] stops it at the
//!    provider first): the agreement becomes past due; retries follow
//!    [`RETRY_SCHEDULE_DAYS`] from the first failure; the last failure lapses it and voids
//!    the invoice.
//! 5. **Period end** ([`tick`]): a paid period's end starts the next (with a pending tier
//!    change) or ends a cancelling agreement.
//!
//! A payment that arrives for an invoice that is already paid or void, or for another amount,
//! is booked as received and refunded in full, exactly like a mismatched pledge payment:
//! money is never kept without a period to show for it.

use chrono::{DateTime, NaiveDate, Utc};
use greenlight_funding::retainer::{
    next_retry_on, Event, INVOICE_DUE_DAYS, RETRY_DUE_DAYS, RETRY_SCHEDULE_DAYS,
};
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::InvoiceView;
use sqlx::PgConnection;

use super::{documents, from_date, lock, transition, AgreementRow};
use crate::clock::datetime;
use crate::error::EscrowError;
use crate::ledger::{self, Kind, Transfer};
use crate::provider::{Collection, InvoiceRequest};
use crate::states::JobKind;
use crate::{fee, jobs, Escrow};

/// An invoice as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvoiceRow {
    /// `GL-<year>-<n>`.
    pub number: String,
    /// The agreement.
    pub agreement: String,
    /// Which period (1 is the first).
    pub period_index: i32,
    /// The period's first billing day.
    pub period_start: NaiveDate,
    /// The next period's first billing day.
    pub period_end: NaiveDate,
    /// The tier billed.
    pub tier: String,
    /// Minor units.
    pub amount: i64,
    /// The platform's fee on it.
    pub fee: i64,
    /// What the maintainer is paid.
    pub payout: i64,
    /// ISO 4217.
    pub currency: String,
    /// `open`, `paid` or `void`.
    pub state: String,
    /// What the document says.
    pub document: serde_json::Value,
    /// When issued.
    pub issued_at: DateTime<Utc>,
    /// When due.
    pub due_at: DateTime<Utc>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
}

/// What one round of [`tick`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BillingReport {
    /// Invoices issued for new periods.
    pub issued: usize,
    /// Payment attempts opened (first tries and retries).
    pub attempts: usize,
    /// Attempts that were still unpaid when due.
    pub overdue: usize,
    /// Agreements that ended at the end of their paid period.
    pub ended: usize,
}

/// Issues the invoice of the locked agreement's current period, unless it exists; returns
/// its number. Called in the transaction that began the period.
pub async fn issue_invoice(
    escrow: &Escrow,
    conn: &mut PgConnection,
    row: &AgreementRow,
    now: DateTime<Utc>,
) -> Result<String, EscrowError> {
    if let Some(number) = sqlx::query_scalar!(
        "SELECT number FROM escrow.retainer_invoice WHERE agreement = $1 AND period_index = $2",
        row.id,
        row.periods,
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(number);
    }
    let (start, end) = row
        .current_period()?
        .ok_or_else(|| EscrowError::Internal(format!("agreement {} has no period", row.id)))?;
    let split = fee::split(row.amount, u32::try_from(row.fee_bps).unwrap_or(0));
    let sequence = sqlx::query_scalar!(r#"SELECT nextval('escrow.invoice_number') AS "n!""#)
        .fetch_one(&mut *conn)
        .await?;
    let number = documents::invoice_number(start.year(), sequence);
    let calendar = escrow.billing_clock();
    let due_at = calendar.after_days(now, INVOICE_DUE_DAYS);
    let vendor = documents::vendor_details(conn, &row.maintainer).await?;
    let document = documents::invoice_facts(
        escrow,
        row,
        vendor.as_ref(),
        &number,
        (start, end),
        now,
        due_at,
    )?;
    sqlx::query!(
        "INSERT INTO escrow.retainer_invoice (number, agreement, period_index, period_start,
             period_end, tier, amount, fee, payout, currency, state, document, issued_at, due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $13)",
        number,
        row.id,
        row.periods,
        from_date(start)?,
        from_date(end)?,
        row.tier,
        row.amount,
        split.fee,
        split.payout,
        row.currency,
        document,
        now,
        due_at,
    )
    .execute(&mut *conn)
    .await?;
    tracing::info!(agreement = %row.id, invoice = %number, "retainer invoice issued");
    Ok(number)
}

/// Opens the next payment attempt for an open invoice that has none open. The provider call
/// comes first, under a key naming the invoice and attempt, and the attempt row after it: a
/// crash between the two makes the next call find the same payment, never a second one.
pub async fn collect(escrow: &Escrow, number: &str) -> Result<bool, EscrowError> {
    let invoice = sqlx::query!(
        r#"SELECT i.number, i.agreement, i.amount, i.currency, i.state, a.collection, a.billing,
                  a.state AS agreement_state,
                  (SELECT count(*) FROM escrow.retainer_attempt t WHERE t.invoice = i.number) AS "attempts!",
                  EXISTS (SELECT 1 FROM escrow.retainer_attempt t
                          WHERE t.invoice = i.number AND t.state = 'open') AS "open!"
           FROM escrow.retainer_invoice i JOIN escrow.retainer_agreement a ON a.id = i.agreement
           WHERE i.number = $1"#,
        number,
    )
    .fetch_optional(&escrow.pool)
    .await?
    .ok_or_else(|| EscrowError::Internal(format!("no invoice {number}")))?;
    let in_force = matches!(
        invoice.agreement_state.as_str(),
        "active" | "past_due" | "cancelling"
    );
    if invoice.state != "open" || invoice.open || !in_force {
        return Ok(false);
    }
    let attempt = i32::try_from(invoice.attempts).unwrap_or(i32::MAX);
    let key = format!("{number}:attempt:{attempt}");
    let billing: greenlight_lexicon::fund::greenlight::escrow::retainer_defs::BillingDetails =
        serde_json::from_value(invoice.billing)
            .map_err(|error| EscrowError::Internal(format!("stored billing: {error}")))?;
    let collection = Collection::parse(&invoice.collection).unwrap_or(Collection::Invoice);
    let description = format!("Retainer, invoice {number}");
    let due_days = if attempt == 0 {
        INVOICE_DUE_DAYS
    } else {
        RETRY_DUE_DAYS
    };
    let checkout = escrow
        .provider
        .create_invoice(&InvoiceRequest {
            number,
            agreement: &invoice.agreement,
            customer_name: &billing.legal_name,
            customer_email: billing.email.as_deref(),
            amount: invoice.amount,
            currency: &invoice.currency,
            description: &description,
            collection,
            due_days,
            idempotency_key: &key,
        })
        .await?;
    // The provider opened the payment; escrow has not recorded it yet.
    escrow.failpoints.reached("retainer.after_charge").await?;
    let now = escrow.now();
    let due_at = escrow.billing_clock().after_days(now, due_days);
    let inserted = sqlx::query!(
        "INSERT INTO escrow.retainer_attempt (invoice, attempt, provider, payment_id, checkout_url,
             state, opened_at, due_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $6)
         ON CONFLICT DO NOTHING",
        number,
        attempt,
        escrow.provider.name(),
        checkout.payment_id,
        checkout.checkout_url,
        now,
        due_at,
    )
    .execute(&escrow.pool)
    .await?;
    tracing::info!(invoice = %number, attempt, payment = %checkout.payment_id, "retainer payment opened");
    Ok(inserted.rows_affected() > 0)
}

/// The attempt a provider payment belongs to, locked, with its invoice and agreement.
pub struct AttemptHit {
    /// The invoice.
    pub invoice: InvoiceRow,
    /// Which attempt.
    pub attempt: i32,
    /// The attempt's state.
    pub attempt_state: String,
    /// The agreement, locked.
    pub agreement: AgreementRow,
}

/// Finds and locks the retainer attempt `payment_id` belongs to, if any.
pub async fn lock_attempt(
    conn: &mut PgConnection,
    provider: &str,
    payment_id: &str,
) -> Result<Option<AttemptHit>, EscrowError> {
    let Some(found) = sqlx::query!(
        "SELECT t.invoice, t.attempt, t.state, i.agreement
         FROM escrow.retainer_attempt t JOIN escrow.retainer_invoice i ON i.number = t.invoice
         WHERE t.provider = $1 AND t.payment_id = $2",
        provider,
        payment_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    // Agreement first, then its invoice and attempt: every path locks in this order.
    let agreement = lock(conn, &found.agreement)
        .await?
        .ok_or_else(|| EscrowError::Internal("attempt without agreement".into()))?;
    let invoice = lock_invoice(conn, &found.invoice).await?;
    let attempt_state = sqlx::query_scalar!(
        "SELECT state FROM escrow.retainer_attempt WHERE invoice = $1 AND attempt = $2 FOR UPDATE",
        found.invoice,
        found.attempt,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(AttemptHit {
        invoice,
        attempt: found.attempt,
        attempt_state,
        agreement,
    }))
}

async fn lock_invoice(conn: &mut PgConnection, number: &str) -> Result<InvoiceRow, EscrowError> {
    Ok(sqlx::query_as!(
        InvoiceRow,
        "SELECT number, agreement, period_index, period_start, period_end, tier, amount, fee,
             payout, currency, state, document, issued_at, due_at, paid_at
         FROM escrow.retainer_invoice WHERE number = $1 FOR UPDATE",
        number,
    )
    .fetch_one(conn)
    .await?)
}

async fn set_attempt_state(
    conn: &mut PgConnection,
    invoice: &str,
    attempt: i32,
    state: &str,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    sqlx::query!(
        "UPDATE escrow.retainer_attempt SET state = $3, updated_at = $4
         WHERE invoice = $1 AND attempt = $2 AND state = 'open'",
        invoice,
        attempt,
        state,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What a successful payment for a retainer attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    /// The period is paid; its payout is queued.
    Booked,
    /// The money is not this invoice's (already paid, void, or another amount): it is owed
    /// back to the client in full.
    Return,
}

/// Books a successful payment of `amount` `currency` for the attempt `hit`, in the
/// webhook's transaction.
pub async fn payment_succeeded(
    escrow: &Escrow,
    conn: &mut PgConnection,
    hit: &AttemptHit,
    amount: i64,
    currency: Option<&str>,
) -> Result<Paid, EscrowError> {
    let now = escrow.now();
    let invoice = &hit.invoice;
    let row = &hit.agreement;
    // Money arrived for this attempt, even one escrow had given up on: the attempt is
    // settled for good, so a redelivery of the same payment books nothing again.
    sqlx::query!(
        "UPDATE escrow.retainer_attempt SET state = 'succeeded', updated_at = $3
         WHERE invoice = $1 AND attempt = $2",
        invoice.number,
        hit.attempt,
        now,
    )
    .execute(&mut *conn)
    .await?;
    let matches = amount == invoice.amount && currency.is_none_or(|c| c == invoice.currency);
    if invoice.state != "open" || !matches {
        tracing::warn!(
            invoice = %invoice.number,
            state = %invoice.state,
            amount,
            "payment for an invoice that is not open, or for another amount; returning it"
        );
        return Ok(Paid::Return);
    }
    let today = escrow.billing_clock().date(now);
    let moved = transition(conn, row, &Event::PaymentSucceeded, today, now).await?;
    if let Err(refusal) = moved {
        tracing::warn!(invoice = %invoice.number, %refusal, "payment the agreement cannot take; returning it");
        return Ok(Paid::Return);
    }
    let payable = ledger::payable(&row.maintainer);
    // The client is named in the public feed only when they asked to be listed.
    let client = row.listed.then_some(row.client.as_str());
    let payment_id = format!("{}:payment", invoice.number);
    ledger::create_transfer(
        conn,
        &Transfer {
            backer: client,
            maintainer: Some(&row.maintainer),
            ..Transfer::new(
                &payment_id,
                &invoice.currency,
                ledger::PROVIDER_CLEARING,
                &payable,
                invoice.amount,
                Kind::RetainerPayment,
            )
        },
        now,
    )
    .await?;
    link_transfer(conn, &payment_id, row, &invoice.number).await?;
    if invoice.fee > 0 {
        let fee_id = format!("{}:fee", invoice.number);
        ledger::create_transfer(
            conn,
            &Transfer {
                maintainer: Some(&row.maintainer),
                ..Transfer::new(
                    &fee_id,
                    &invoice.currency,
                    &payable,
                    ledger::PLATFORM_FEES,
                    invoice.fee,
                    Kind::Fee,
                )
            },
            now,
        )
        .await?;
        link_transfer(conn, &fee_id, row, &invoice.number).await?;
    }
    if invoice.payout > 0 {
        let ready = jobs::has_active_account(conn, &row.maintainer, escrow.provider.name()).await?;
        jobs::enqueue(
            conn,
            &jobs::NewJob {
                id: format!("payout:{}", invoice.number),
                kind: JobKind::Payout,
                ready,
                currency: &invoice.currency,
                amount: invoice.payout,
                transfer_id: format!("{}:payout", invoice.number),
                debit_account: payable.clone(),
                proposal: None,
                pledge: None,
                donation: None,
                backer: None,
                maintainer: Some(&row.maintainer),
                payment_id: None,
            },
            now,
        )
        .await?;
        sqlx::query!(
            "UPDATE escrow.job SET invoice = $2 WHERE id = $1",
            format!("payout:{}", invoice.number),
            invoice.number,
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE escrow.retainer_invoice SET state = 'paid', paid_at = $2 WHERE number = $1",
        invoice.number,
        now,
    )
    .execute(&mut *conn)
    .await?;
    tracing::info!(invoice = %invoice.number, agreement = %row.id, "retainer period paid");
    Ok(Paid::Booked)
}

/// Which ledger transfers belong to which agreement and invoice.
async fn link_transfer(
    conn: &mut PgConnection,
    transfer_id: &str,
    row: &AgreementRow,
    invoice: &str,
) -> Result<(), EscrowError> {
    sqlx::query!(
        "INSERT INTO escrow.retainer_transfer (transfer_id, agreement, invoice) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        transfer_id,
        row.id,
        invoice,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the attempt `hit` failed (the provider said so, or it was unpaid when due),
/// in the caller's transaction. Only the invoice's latest open attempt moves the agreement:
/// a failure reported for an attempt already given up on changes nothing.
pub async fn attempt_failed(
    escrow: &Escrow,
    conn: &mut PgConnection,
    hit: &AttemptHit,
) -> Result<(), EscrowError> {
    let now = escrow.now();
    if hit.attempt_state != "open" {
        return Ok(());
    }
    set_attempt_state(conn, &hit.invoice.number, hit.attempt, "failed", now).await?;
    if hit.invoice.state != "open" {
        return Ok(());
    }
    let today = escrow.billing_clock().date(now);
    let moved = transition(conn, &hit.agreement, &Event::PaymentFailed, today, now).await?;
    match moved {
        Ok(after) if after.state == "lapsed" => {
            void_invoice(conn, &hit.invoice.number).await?;
            tracing::warn!(agreement = %after.id, "retainer lapsed after every retry failed");
        }
        Ok(after) => {
            tracing::info!(agreement = %after.id, failed_retries = after.failed_retries, "retainer payment failed");
        }
        Err(refusal) => {
            tracing::info!(invoice = %hit.invoice.number, %refusal, "failure changes nothing");
        }
    }
    Ok(())
}

/// Voids an unpaid invoice: nothing is owed for it any more, and none of its attempts can be
/// paid (their payments are stopped at the provider once this commits; money that still
/// arrives is returned).
pub async fn void_invoice(conn: &mut PgConnection, number: &str) -> Result<(), EscrowError> {
    sqlx::query!(
        "UPDATE escrow.retainer_invoice SET state = 'void' WHERE number = $1 AND state = 'open'",
        number,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE escrow.retainer_attempt SET state = 'failed', updated_at = now()
         WHERE invoice = $1 AND state = 'open'",
        number,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The open attempts of an invoice that is being voided, to stop at the provider once the
/// void is committed.
pub async fn open_payments(
    conn: &mut PgConnection,
    agreement: &str,
) -> Result<Vec<String>, EscrowError> {
    Ok(sqlx::query_scalar!(
        "SELECT t.payment_id FROM escrow.retainer_attempt t
         JOIN escrow.retainer_invoice i ON i.number = t.invoice
         WHERE i.agreement = $1 AND t.state = 'open'",
        agreement,
    )
    .fetch_all(conn)
    .await?)
}

/// One round of billing: overdue attempts fail, retries and first attempts open, paid periods
/// end. Safe to run from several workers and after any crash: each step re-reads its state.
pub async fn tick(escrow: &Escrow) -> Result<BillingReport, EscrowError> {
    let mut report = BillingReport::default();
    let now = escrow.now();
    let calendar = escrow.billing_clock();
    let today = calendar.date(now);

    // Attempts still unpaid when due: stopped at the provider first, so they cannot be paid
    // after escrow counted them as failed.
    let overdue = sqlx::query!(
        "SELECT provider, payment_id FROM escrow.retainer_attempt
         WHERE state = 'open' AND due_at <= $1 ORDER BY due_at LIMIT 100",
        now,
    )
    .fetch_all(&escrow.pool)
    .await?;
    for attempt in overdue {
        escrow.provider.cancel_checkout(&attempt.payment_id).await?;
        let mut tx = escrow.pool.begin().await?;
        if let Some(hit) = lock_attempt(&mut tx, &attempt.provider, &attempt.payment_id).await? {
            if hit.attempt_state == "open" {
                attempt_failed(escrow, &mut tx, &hit).await?;
                report.overdue += 1;
            }
        }
        tx.commit().await?;
    }

    // Paid periods that are over: the next begins (its invoice issued with it), or a
    // cancelling agreement ends.
    // Postgres adds months to the anchor with the same month-end clamp as the funding
    // rules' `boundary`, so only agreements whose period is over are locked; the rules, on
    // the locked row, still decide.
    let ending = sqlx::query!(
        "SELECT id FROM escrow.retainer_agreement
         WHERE state IN ('active', 'cancelling') AND current_paid
           AND (anchor + make_interval(months => period_offset_months
                    + CASE period WHEN 'year' THEN 12 ELSE 1 END))::date <= $1
         ORDER BY id",
        from_date(today)?,
    )
    .fetch_all(&escrow.pool)
    .await?;
    for agreement in ending {
        let mut tx = escrow.pool.begin().await?;
        let Some(row) = lock(&mut tx, &agreement.id).await? else {
            continue;
        };
        let over = row.current_period()?.is_some_and(|(_, end)| end <= today);
        if !over || !row.current_paid {
            continue;
        }
        let after = transition(&mut tx, &row, &Event::PeriodEnded, today, now).await?;
        match after {
            Ok(after) if after.state == "active" => {
                issue_invoice(escrow, &mut tx, &after, now).await?;
                report.issued += 1;
            }
            Ok(_) => report.ended += 1,
            Err(refusal) => {
                tracing::warn!(agreement = %row.id, %refusal, "period end refused");
            }
        }
        escrow
            .failpoints
            .reached("retainer.before_period_commit")
            .await?;
        tx.commit().await?;
    }

    // Open invoices with no open attempt: a first attempt lost to a crash, or a retry due.
    let waiting = sqlx::query!(
        r#"SELECT i.number, a.state, a.failed_retries, a.first_failure_on,
                  (SELECT count(*) FROM escrow.retainer_attempt t WHERE t.invoice = i.number) AS "attempts!"
           FROM escrow.retainer_invoice i JOIN escrow.retainer_agreement a ON a.id = i.agreement
           WHERE i.state = 'open' AND a.state IN ('active', 'past_due', 'cancelling')
             AND NOT EXISTS (SELECT 1 FROM escrow.retainer_attempt t
                             WHERE t.invoice = i.number AND t.state = 'open')
           ORDER BY i.number"#,
    )
    .fetch_all(&escrow.pool)
    .await?;
    for invoice in waiting {
        let due = match (invoice.state.as_str(), invoice.first_failure_on) {
            ("past_due", Some(first)) => {
                let retries = u8::try_from(invoice.failed_retries).unwrap_or(u8::MAX);
                // Attempt n (n ≥ 1) is retry n − 1 of the schedule; one made already waits.
                let made = invoice.attempts - 1;
                if made > i64::from(retries) {
                    false
                } else {
                    next_retry_on(super::to_date(first)?, retries).is_some_and(|on| on <= today)
                }
            }
            ("past_due", None) => false,
            // Never attempted (a crash came between issuing and collecting).
            _ => invoice.attempts == 0,
        };
        if due && collect(escrow, &invoice.number).await? {
            report.attempts += 1;
        }
    }
    debug_assert!(RETRY_SCHEDULE_DAYS.len() < usize::from(u8::MAX));
    publish_states(escrow).await?;
    Ok(report)
}

/// Gives every changed agreement a new seq in the public feed.
pub async fn publish_states(escrow: &Escrow) -> Result<i64, EscrowError> {
    Ok(
        sqlx::query_scalar!(r#"SELECT escrow.publish_retainer_states() AS "published!""#)
            .fetch_one(&escrow.pool)
            .await?,
    )
}

/// The invoices of an agreement, newest first, with their document links.
pub async fn invoices(
    escrow: &Escrow,
    conn: &mut PgConnection,
    agreement: &str,
) -> Result<Vec<InvoiceView>, EscrowError> {
    let calendar = escrow.billing_clock();
    let rows = sqlx::query_as!(
        InvoiceRow,
        "SELECT number, agreement, period_index, period_start, period_end, tier, amount, fee,
             payout, currency, state, document, issued_at, due_at, paid_at
         FROM escrow.retainer_invoice WHERE agreement = $1 ORDER BY period_index DESC",
        agreement,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let start = super::to_date(row.period_start)?;
            let end = super::to_date(row.period_end)?;
            Ok(InvoiceView {
                number: row.number.clone(),
                period_starts_at: datetime(calendar.start_of(start)),
                period_ends_at: datetime(calendar.start_of(end)),
                tier: row.tier,
                amount: row.amount,
                fee: row.fee,
                payout: row.payout,
                currency: row.currency,
                state: row.state,
                document_url: Some(documents::url(escrow, &row.number, "html")),
                issued_at: datetime(row.issued_at),
                paid_at: row.paid_at.map(datetime),
                pdf_url: Some(documents::url(escrow, &row.number, "pdf")),
                due_at: Some(datetime(row.due_at)),
            })
        })
        .collect()
}

/// Where the client pays the current open invoice, while an attempt is open.
pub async fn payment_url(
    conn: &mut PgConnection,
    agreement: &str,
) -> Result<Option<String>, EscrowError> {
    Ok(sqlx::query_scalar!(
        "SELECT t.checkout_url FROM escrow.retainer_attempt t
         JOIN escrow.retainer_invoice i ON i.number = t.invoice
         WHERE i.agreement = $1 AND t.state = 'open' AND i.state = 'open'
         ORDER BY t.opened_at DESC LIMIT 1",
        agreement,
    )
    .fetch_optional(conn)
    .await?)
}
