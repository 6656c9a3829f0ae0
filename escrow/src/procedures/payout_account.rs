//! `connectPayoutAccount`: where a maintainer's payouts go.

use greenlight_lexicon::fund::greenlight::escrow::connect_payout_account::{self, Input, Output};

use super::{from_json, replayed, to_json};
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::{identifiers, jobs, Escrow};

/// Creates or continues the caller's payout account with the configured provider.
pub async fn connect_payout_account(
    escrow: &Escrow,
    caller: &str,
    input: &Input,
) -> Result<Output, EscrowError> {
    let provider = escrow.provider.name();
    if input
        .provider
        .as_deref()
        .is_some_and(|wanted| wanted != provider)
    {
        return Err(EscrowError::method(
            "UnsupportedProvider",
            format!("this escrow pays out through {provider}"),
        ));
    }
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, connect_payout_account::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let existing = sqlx::query!(
        "SELECT account_id, status FROM escrow.payout_account WHERE did = $1 AND provider = $2",
        caller,
        provider,
    )
    .fetch_optional(&escrow.pool)
    .await?
    .map(|row| (row.account_id, row.status));
    // The provider is called outside the transaction; one account per person and provider,
    // whatever key the client used, so concurrent calls find the same account.
    let output = match existing {
        Some((account_id, status)) if status == "active" => Output {
            account_id,
            provider: provider.to_owned(),
            onboarding_url: None,
            status,
        },
        _ => {
            let account_key = identifiers::derived("acct", &[caller, provider]);
            let account = escrow
                .provider
                .create_payout_account(caller, &account_key)
                .await?;
            Output {
                account_id: account.id,
                provider: provider.to_owned(),
                onboarding_url: account.onboarding_url,
                status: account.status.as_str().to_owned(),
            }
        }
    };
    let now = escrow.now();
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) = idempotency::claim(
        &mut tx,
        caller,
        key,
        connect_payout_account::NSID,
        &hash,
        now,
    )
    .await?
    {
        return from_json(answer);
    }
    // An account a webhook already activated stays active.
    sqlx::query!(
        "INSERT INTO escrow.payout_account (did, provider, account_id, status, onboarding_url, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (did, provider) DO UPDATE SET account_id = EXCLUDED.account_id,
             status = CASE WHEN escrow.payout_account.status = 'active'
                           AND escrow.payout_account.account_id = EXCLUDED.account_id
                           THEN 'active' ELSE EXCLUDED.status END,
             onboarding_url = EXCLUDED.onboarding_url, updated_at = EXCLUDED.updated_at",
        caller,
        provider,
        output.account_id,
        output.status,
        output.onboarding_url,
        now,
    )
    .execute(&mut *tx)
    .await?;
    let woken = if output.status == "active" {
        jobs::wake_payouts(&mut tx, caller, now).await?
    } else {
        0
    };
    idempotency::record(&mut tx, caller, key, &to_json(&output)?).await?;
    tx.commit().await?;
    if woken > 0 {
        escrow.wake.notify_one();
    }
    Ok(output)
}
