//! `createDonation`: money to the maintainer during development, minus the fee, not escrowed.

use greenlight_lexicon::fund::greenlight::escrow::create_donation;
use greenlight_lexicon::fund::greenlight::escrow::defs::DonationView;

use super::{
    check_takes_money, fix_terms, from_json, replayed, sync_proposal, to_json, DonationRow, Payment,
};
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::ledger::{self, Kind, Transfer};
use crate::proposal_source::Stage;
use crate::states::DonationState;
use crate::Escrow;

/// Creates a pending donation with a checkout.
pub async fn create_donation(
    escrow: &Escrow,
    caller: &str,
    input: &create_donation::Input,
) -> Result<DonationView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, create_donation::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let uri = input.proposal.uri.as_str();
    // Every check happens before anything is written: a refused call leaves no trace.
    let (info, tracked) = sync_proposal(escrow, uri).await?;
    let info = info.ok_or_else(|| EscrowError::method("NotFound", "no such proposal"))?;
    check_takes_money(&info, Stage::Development, || {
        EscrowError::method(
            "ProposalNotInDevelopment",
            "donations are accepted only while the proposal is in development",
        )
    })?;
    let payment = Payment {
        what: "Donation",
        caller,
        key,
        hash: &hash,
        proposal: uri,
        amount: input.amount,
        currency: &input.currency,
    };
    let booked_in = tracked.as_ref().map_or(&info.currency, |row| &row.currency);
    payment.check(escrow, booked_in)?;
    let now = escrow.now();
    let id = payment.id("dn");
    let checkout = payment.checkout(escrow, &id).await?;
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, create_donation::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    // The donation goes to the payee of the terms, whoever the AppView names later.
    let terms = fix_terms(escrow, &mut tx, &info).await?;
    payment.check(escrow, &terms.currency)?;
    let maintainer = terms
        .maintainer
        .clone()
        .ok_or_else(|| EscrowError::Internal("terms without a payee".into()))?;
    let row = sqlx::query_as!(
        DonationRow,
        r#"INSERT INTO escrow.donation (id, proposal, proposal_cid, donor, maintainer, amount, currency,
             state, provider, payment_id, checkout_url, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         RETURNING id, proposal, proposal_cid, donor, maintainer, amount, currency, fee,
             state AS "state: DonationState", payment_id, checkout_url, created_at, updated_at"#,
        id,
        uri,
        input.proposal.cid,
        caller,
        maintainer,
        input.amount,
        input.currency,
        DonationState::Pending.as_str(),
        escrow.provider.name(),
        checkout.payment_id,
        checkout.checkout_url,
        now,
    )
    .fetch_one(&mut *tx)
    .await?;
    let transfer_id = format!("{id}:donation");
    let payable = ledger::payable(&maintainer);
    ledger::create_transfer(
        &mut tx,
        &Transfer {
            two_phase: true,
            proposal: Some(uri),
            donation: Some(&id),
            backer: Some(caller),
            maintainer: Some(&maintainer),
            ..Transfer::new(
                &transfer_id,
                &input.currency,
                ledger::PROVIDER_CLEARING,
                &payable,
                input.amount,
                Kind::Donation,
            )
        },
        now,
    )
    .await?;
    let view = row.view();
    idempotency::record(&mut tx, caller, key, &to_json(&view)?).await?;
    tx.commit().await?;
    Ok(view)
}
