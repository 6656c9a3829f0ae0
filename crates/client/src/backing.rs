//! Backing a proposal with money: a pledge during the preview (escrow holds it until the
//! release is verified) or a donation during development (paid to the maintainer minus the
//! fee). Escrow is asked first, since it is the source of truth for money; a pledge's public
//! record is written second, and only once escrow holds the money.
//!
//! [`pledge`] and [`donate`] complete escrow's sandbox checkout themselves (the CLI, the
//! demo, the tests). A browser instead sends the person to the checkout URL that
//! [`EscrowClient::create_pledge`] answers, and afterwards calls [`record_pledge`].

use atrium_api::agent::{Agent, SessionManager};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::{DonationView, PledgeView};
use serde::Serialize;

use crate::checkout::{complete_sandbox_checkout, wait_until_held};
use crate::error::ClientError;
use crate::escrow::{EscrowClient, Payment};
use crate::records::{self, RecordRef};
use crate::repo;

/// A completed pledge: escrow's view and the record attributing it.
#[derive(Debug, Clone, Serialize)]
pub struct Pledged {
    /// The pledge as escrow holds it.
    pub pledge: PledgeView,
    /// The `fund.greenlight.pledge` record written to the backer's repo.
    pub record: RecordRef,
}

/// Pays escrow's sandbox checkout of a payment it reports pending, at `checkout_url`.
async fn pay_at_sandbox(
    escrow: &EscrowClient,
    checkout_url: Option<&str>,
) -> Result<(), ClientError> {
    let url = checkout_url.ok_or_else(|| ClientError::Checkout {
        url: String::new(),
        reason: "escrow gave no checkout URL".into(),
    })?;
    complete_sandbox_checkout(escrow.http(), url).await
}

/// Escrow reports a payment (`what`) in a state no checkout can complete.
fn not_payable(what: &str, state: &str, checkout_url: Option<String>) -> ClientError {
    ClientError::Checkout {
        url: checkout_url.unwrap_or_default(),
        reason: format!("escrow reports the {what} {state}"),
    }
}

/// Pledges `amount` to `proposal`: createPledge with `idempotency_key`, completes the sandbox
/// checkout, waits until escrow holds the money, then writes the pledge record with the
/// receipt. Retrying with the same key after a failure resumes the same pledge.
pub async fn pledge<M>(
    agent: &Agent<M>,
    escrow: &EscrowClient,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
    idempotency_key: &str,
) -> Result<Pledged, ClientError>
where
    M: SessionManager + Send + Sync,
{
    let payment = Payment::new(proposal, amount, currency, idempotency_key)?;
    let created = escrow.create_pledge(agent, &payment).await?;
    // A retried key replays escrow's first answer, which may say pending although the
    // checkout completed since; ask for the pledge's state now.
    let checkout = created.checkout_url.clone();
    let mut created = if created.state == "pending" {
        escrow.get_pledge(&created.id).await?
    } else {
        created
    };
    if created.checkout_url.is_none() {
        created.checkout_url = checkout;
    }
    let held = match created.state.as_str() {
        "held" => created,
        "pending" => {
            pay_at_sandbox(escrow, created.checkout_url.as_deref()).await?;
            wait_until_held(escrow, &created.id).await?
        }
        other => return Err(not_payable("pledge", other, created.checkout_url)),
    };
    let record = record_pledge(agent, &held).await?;
    Ok(Pledged {
        pledge: held,
        record,
    })
}

/// Writes the `fund.greenlight.pledge` record attributing a pledge escrow holds, with its id
/// as the receipt (after the person paid at the checkout).
pub async fn record_pledge<M>(agent: &Agent<M>, held: &PledgeView) -> Result<RecordRef, ClientError>
where
    M: SessionManager + Send + Sync,
{
    if held.state != "held" {
        return Err(ClientError::InvalidArgument(format!(
            "pledge {} is {}, not held: nothing to attribute",
            held.id, held.state
        )));
    }
    let record =
        records::pledge_record(held.proposal.clone(), held.amount, &held.currency, &held.id);
    repo::create(agent, &record, None).await
}

/// Cancels a pledge in escrow (a refund) and deletes its pledge record when given.
pub async fn cancel<M>(
    agent: &Agent<M>,
    escrow: &EscrowClient,
    receipt: &str,
    record_uri: Option<&str>,
) -> Result<PledgeView, ClientError>
where
    M: SessionManager + Send + Sync,
{
    let key = format!("cancel-{receipt}");
    let view = escrow.cancel_pledge(agent, receipt, &key).await?;
    if let Some(uri) = record_uri {
        repo::delete(agent, uri).await?;
    }
    Ok(view)
}

/// Donates `amount` to `proposal` (in development): createDonation with `idempotency_key`,
/// then completes the sandbox checkout. Nothing is written to the donor's repo: a donation
/// has no record, escrow's public ledger is its account.
///
/// Answers the donation as escrow created it; `Ok` means escrow has received the payment
/// (the sandbox answers only once it is recorded). escrow has no query for one donation, and
/// a retried key replays the first answer, so a retry whose checkout already completed fails
/// with the checkout closed rather than paying twice.
pub async fn donate<M>(
    agent: &Agent<M>,
    escrow: &EscrowClient,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
    idempotency_key: &str,
) -> Result<DonationView, ClientError>
where
    M: SessionManager + Send + Sync,
{
    let payment = Payment::new(proposal, amount, currency, idempotency_key)?;
    let created = escrow.create_donation(agent, &payment).await?;
    match created.state.as_str() {
        "received" | "paid_out" => {}
        "pending" => pay_at_sandbox(escrow, created.checkout_url.as_deref()).await?,
        other => return Err(not_payable("donation", other, created.checkout_url)),
    }
    Ok(created)
}
