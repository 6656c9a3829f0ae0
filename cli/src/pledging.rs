//! Backing a proposal with money: escrow first (it is the source of truth for money), the
//! public pledge record second, and only once escrow holds the money.

use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use serde::Serialize;

use crate::checkout::{complete_sandbox_checkout, wait_until_held};
use crate::error::CliError;
use crate::escrow_client::{EscrowClient, PledgeView};
use crate::records::{self, RecordRef};
use crate::session::Session;

/// A completed pledge: escrow's view and the record attributing it.
#[derive(Debug, Clone, Serialize)]
pub struct Pledged {
    /// The pledge as escrow holds it.
    pub pledge: PledgeView,
    /// The `fund.greenlight.pledge` record written to the backer's repo.
    pub record: RecordRef,
}

/// A fresh idempotency key for a call that is not a retry.
pub fn new_idempotency_key() -> String {
    format!("cli-{}", uuid::Uuid::new_v4())
}

/// Pledges `amount` to `proposal`: createPledge with `idempotency_key`, completes the sandbox
/// checkout, waits until escrow holds the money, then writes the pledge record with the
/// receipt. Retrying with the same key after a failure resumes the same pledge.
pub async fn pledge(
    session: &Session,
    escrow: &EscrowClient,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
    idempotency_key: &str,
) -> Result<Pledged, CliError> {
    if amount <= 0 {
        return Err(CliError::InvalidArgument(
            "the amount must be positive".into(),
        ));
    }
    let created = escrow
        .create_pledge(session, proposal, amount, currency, idempotency_key)
        .await?;
    // A retried key replays escrow's first answer, which may say pending although the
    // checkout completed since; ask for the pledge's state now.
    let checkout_url = created.checkout_url.clone();
    let mut created = if created.state == "pending" {
        escrow.get_pledge(&created.id).await?
    } else {
        created
    };
    if created.checkout_url.is_none() {
        created.checkout_url = checkout_url;
    }
    let held = match created.state.as_str() {
        "held" => created,
        "pending" => {
            let url = created
                .checkout_url
                .clone()
                .ok_or_else(|| CliError::Checkout {
                    url: String::new(),
                    reason: "escrow gave no checkout URL".into(),
                })?;
            complete_sandbox_checkout(&url).await?;
            wait_until_held(escrow, &created.id).await?
        }
        other => {
            return Err(CliError::Checkout {
                url: created.checkout_url.unwrap_or_default(),
                reason: format!("escrow reports the pledge {other}"),
            })
        }
    };
    let record = records::pledge_record(proposal.clone(), held.amount, &held.currency, &held.id);
    let record = records::create(session, &record, None).await?;
    Ok(Pledged {
        pledge: held,
        record,
    })
}

/// Cancels a pledge in escrow (a refund) and deletes its pledge record when given.
pub async fn cancel(
    session: &Session,
    escrow: &EscrowClient,
    receipt: &str,
    record_uri: Option<&str>,
) -> Result<PledgeView, CliError> {
    let key = format!("cancel-{receipt}");
    let view = escrow.cancel_pledge(session, receipt, &key).await?;
    if let Some(uri) = record_uri {
        records::delete(session, uri).await?;
    }
    Ok(view)
}
