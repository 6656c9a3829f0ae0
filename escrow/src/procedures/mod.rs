//! The `fund.greenlight.escrow.*` methods as plain async functions over [`Escrow`]; the HTTP
//! layer ([`crate::http`]) validates requests and responses against the lexicons around them.

pub mod dispute;
pub mod donation;
pub mod payout_account;
pub mod pledge;
pub mod queries;
pub mod retainer;

use chrono::{DateTime, Utc};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::{DisputeView, DonationView, PledgeView};
use sqlx::PgConnection;

use crate::clock::datetime;
use crate::error::EscrowError;
use crate::ledger::{Kind, Transfer};
use crate::proposal_source::{ProposalInfo, Stage};
use crate::provider::{Checkout, CheckoutRequest};
use crate::states::{DisputeState, DonationState, PledgeState, Settlement};
use crate::{identifiers, Escrow};

/// A proposal as escrow tracks it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProposalRow {
    /// AT-URI.
    pub uri: String,
    /// Latest CID seen.
    pub cid: String,
    /// Stage as last learned.
    pub stage: String,
    /// Currency of its money.
    pub currency: String,
    /// Who gets paid: the project's owner, fixed with the terms.
    pub maintainer: Option<String>,
    /// The project the money is held for, fixed with the terms (None only for rows from
    /// before terms existed).
    pub project: Option<String>,
    /// The platform fee in basis points, fixed with the terms.
    pub fee_bps: i32,
    /// End of the latest preview.
    pub preview_ends_at: Option<DateTime<Utc>>,
    /// When escrow first saw the release.
    pub released_at: Option<DateTime<Utc>>,
    /// End of the verification period.
    pub verification_ends_at: Option<DateTime<Utc>>,
    /// `payout` or `refund` once settled.
    pub settlement: Option<Settlement>,
}

/// Loads a tracked proposal, locking its row for the rest of the transaction when `lock`.
pub async fn load_proposal(
    conn: &mut PgConnection,
    uri: &str,
    lock: bool,
) -> Result<Option<ProposalRow>, EscrowError> {
    // The same query twice, with and without the lock: each is checked at compile time.
    let row = if lock {
        sqlx::query_as!(
            ProposalRow,
            r#"SELECT uri, cid, stage, currency, maintainer, project, fee_bps, preview_ends_at,
                 released_at, verification_ends_at, settlement AS "settlement: Settlement"
             FROM escrow.proposal WHERE uri = $1 FOR UPDATE"#,
            uri,
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            ProposalRow,
            r#"SELECT uri, cid, stage, currency, maintainer, project, fee_bps, preview_ends_at,
                 released_at, verification_ends_at, settlement AS "settlement: Settlement"
             FROM escrow.proposal WHERE uri = $1"#,
            uri,
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(row)
}

/// Asks the source about `uri` and applies its answer to the proposal's tracked state, if
/// escrow holds money for it (see [`record_proposal`]). Returns the source's answer (None:
/// unknown or hidden) and the tracked row (kept for a proposal that disappeared: its money
/// still settles). Records nothing for a proposal without money.
pub async fn sync_proposal(
    escrow: &Escrow,
    uri: &str,
) -> Result<(Option<ProposalInfo>, Option<ProposalRow>), EscrowError> {
    let info = escrow.proposals.proposal(uri).await?;
    let mut conn = escrow.pool.acquire().await?;
    if let Some(info) = &info {
        record_proposal(escrow, &mut conn, info).await?;
    }
    let row = load_proposal(&mut conn, uri, false).await?;
    Ok((info, row))
}

/// Applies a source's answer to a proposal escrow holds money for.
///
/// The terms were fixed when the first money arrived; an answer moves the stage only while it
/// is about the project those terms name (an edit that re-points the proposal must not hand
/// the money or the release to another project), a preview end only grows, and the
/// verification period starts the first time a release is seen, at escrow's own time.
pub async fn record_proposal(
    escrow: &Escrow,
    conn: &mut PgConnection,
    info: &ProposalInfo,
) -> Result<(), EscrowError> {
    let now = escrow.now();
    let Some(project) = info.project.as_deref() else {
        tracing::debug!(proposal = %info.uri, "source reports no project; terms stand");
        return Ok(());
    };
    let updated = sqlx::query!(
        "UPDATE escrow.proposal SET
             cid = $2,
             stage = CASE WHEN released_at IS NOT NULL THEN $7 ELSE $3 END,
             preview_ends_at = greatest(preview_ends_at, $4),
             synced_at = $5
         WHERE uri = $1 AND project = $6",
        info.uri,
        info.cid,
        info.stage.as_str(),
        info.preview_ends_at,
        now,
        project,
        Stage::Released.as_str(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        let held_for = sqlx::query_scalar!(
            "SELECT project FROM escrow.proposal WHERE uri = $1",
            info.uri,
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(held_for) = held_for {
            tracing::warn!(
                proposal = %info.uri,
                reported = project,
                held_for = held_for.as_deref().unwrap_or("?"),
                "the AppView reports the proposal about another project; the terms stand"
            );
        }
        return Ok(());
    }
    if info.stage == Stage::Released {
        sqlx::query!(
            "UPDATE escrow.proposal SET released_at = $2, verification_ends_at = $3
             WHERE uri = $1 AND project = $4 AND released_at IS NULL AND settlement IS NULL",
            info.uri,
            now,
            now + escrow.config.verification_period,
            project,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Refuses money for a proposal the source does not show as able to take it now: no project
/// (a bare repository), a project without its proof, or a stage other than `stage`.
pub fn check_takes_money(
    info: &ProposalInfo,
    wanted: Stage,
    not_in_stage: impl FnOnce() -> EscrowError,
) -> Result<(), EscrowError> {
    if info.project.is_none() || info.maintainer.is_none() {
        return Err(EscrowError::method(
            "NoProject",
            "the proposal is about a repository with no Greenlight project to pay",
        ));
    }
    if info.stage != wanted {
        return Err(not_in_stage());
    }
    if !info.project_verified {
        return Err(EscrowError::method(
            "ProjectNotVerified",
            "the project has not proven that it controls its repository or website, so it \
             cannot take money yet",
        ));
    }
    Ok(())
}

/// Fixes the proposal's terms from the source's answer when this is its first money, inside
/// the transaction that books the money, and returns the tracked row locked. When terms exist
/// already they stand; money for a proposal the source now places under another project is
/// refused rather than booked under terms its giver did not see.
pub async fn fix_terms(
    escrow: &Escrow,
    conn: &mut PgConnection,
    info: &ProposalInfo,
) -> Result<ProposalRow, EscrowError> {
    let (Some(project), Some(payee)) = (&info.project, &info.maintainer) else {
        return Err(EscrowError::method(
            "NoProject",
            "the proposal is about a repository with no Greenlight project to pay",
        ));
    };
    let now = escrow.now();
    sqlx::query!(
        "INSERT INTO escrow.proposal (uri, cid, stage, currency, maintainer, project, fee_bps,
             preview_ends_at, terms_fixed_at, synced_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (uri) DO NOTHING",
        info.uri,
        info.cid,
        info.stage.as_str(),
        info.currency,
        payee,
        project,
        i32::try_from(escrow.config.fee_basis_points).unwrap_or(10_000),
        info.preview_ends_at,
        now,
    )
    .execute(&mut *conn)
    .await?;
    let row = load_proposal(conn, &info.uri, true)
        .await?
        .ok_or_else(|| EscrowError::Internal("terms vanished inside their transaction".into()))?;
    if row.project.as_deref() != Some(project.as_str()) {
        return Err(EscrowError::method(
            "SubjectChanged",
            format!(
                "money for this proposal is held for {}; it no longer points there",
                row.project.as_deref().unwrap_or("another project")
            ),
        ));
    }
    Ok(row)
}

/// What a backer or donor asked to pay: checked against the proposal, never trusted.
#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    /// `Pledge` or `Donation`, for messages.
    pub what: &'static str,
    /// The caller's DID.
    pub caller: &'a str,
    /// The caller's idempotency key.
    pub key: &'a str,
    /// [`crate::idempotency::request_hash`] of the request.
    pub hash: &'a [u8],
    /// The proposal's AT-URI.
    pub proposal: &'a str,
    /// Minor units asked for.
    pub amount: i64,
    /// The currency asked for.
    pub currency: &'a str,
}

impl Payment<'_> {
    /// Refuses a currency not in the funding crate's table (`UnsupportedCurrency`), a currency
    /// other than `currency`, the one the proposal's money is booked in (its terms' once money
    /// arrived, whatever the AppView says later), and an amount below the provider's minimum
    /// charge.
    pub fn check(&self, escrow: &Escrow, currency: &str) -> Result<(), EscrowError> {
        // The amount is a count of minor units; for a code not in the table their size is
        // unknown, so no money may move in it, even if the proposal's terms name it.
        if !greenlight_funding::Currency::parse(self.currency).is_ok_and(|c| c.supported()) {
            return Err(EscrowError::method(
                "UnsupportedCurrency",
                format!(
                    "{:?} is not a currency Greenlight handles money in",
                    self.currency
                ),
            ));
        }
        if currency != self.currency {
            return Err(EscrowError::method(
                "CurrencyMismatch",
                format!("the proposal's currency is {currency}"),
            ));
        }
        let minimum = escrow.provider.minimum_charge(self.currency);
        if self.amount < minimum {
            return Err(EscrowError::method(
                "AmountTooSmall",
                format!(
                    "the smallest {} is {minimum} minor units of {}",
                    self.what.to_lowercase(),
                    self.currency
                ),
            ));
        }
        Ok(())
    }

    /// The id of the pledge or donation, derived from the caller, key and body so that
    /// retries and concurrent duplicates name the same one.
    pub fn id(&self, prefix: &str) -> String {
        identifiers::derived(prefix, &[self.caller, self.key, &hex::encode(self.hash)])
    }

    /// Opens the provider's checkout for `id`, keyed by it. Called before the transaction,
    /// never inside it: concurrent duplicates all reach the same checkout without holding a
    /// connection.
    pub async fn checkout(&self, escrow: &Escrow, id: &str) -> Result<Checkout, EscrowError> {
        let description = format!("{} to {}", self.what, self.proposal);
        Ok(escrow
            .provider
            .create_checkout(&CheckoutRequest {
                reference: id,
                amount: self.amount,
                currency: self.currency,
                description: &description,
                idempotency_key: id,
            })
            .await?)
    }
}

/// The strong reference to the proposal version a pledge, donation or dispute was made for.
fn proposal_ref(uri: &str, cid: &str) -> StrongRef {
    StrongRef {
        uri: uri.to_owned(),
        cid: cid.to_owned(),
    }
}

/// What a pledge or donation view shows of its checkout: the page only while the payment is
/// awaited.
fn checkout_while_pending(pending: bool, checkout_url: &Option<String>) -> Option<String> {
    if pending {
        checkout_url.clone()
    } else {
        None
    }
}

/// A pledge row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PledgeRow {
    /// Escrow's pledge id.
    pub id: String,
    /// The proposal's AT-URI.
    pub proposal: String,
    /// The proposal's CID as pledged to.
    pub proposal_cid: String,
    /// The backer's DID.
    pub backer: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// pending, held, cancelled, refunded, paid_out, failed.
    pub state: PledgeState,
    /// The provider's payment id.
    pub payment_id: Option<String>,
    /// The checkout page.
    pub checkout_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last state change.
    pub updated_at: DateTime<Utc>,
}

impl PledgeRow {
    /// A posted movement of this pledge's whole amount, naming the pledge, its proposal and
    /// its backer in the ledger (and so in the public feed).
    pub fn transfer<'a>(
        &'a self,
        id: &'a str,
        debit: &'a str,
        credit: &'a str,
        kind: Kind,
    ) -> Transfer<'a> {
        Transfer {
            proposal: Some(&self.proposal),
            pledge: Some(&self.id),
            backer: Some(&self.backer),
            ..Transfer::new(id, &self.currency, debit, credit, self.amount, kind)
        }
    }

    /// The lexicon view.
    pub fn view(&self) -> PledgeView {
        PledgeView {
            id: self.id.clone(),
            proposal: proposal_ref(&self.proposal, &self.proposal_cid),
            backer: self.backer.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            state: self.state.as_str().to_owned(),
            checkout_url: checkout_while_pending(
                self.state == PledgeState::Pending,
                &self.checkout_url,
            ),
            created_at: datetime(self.created_at),
            updated_at: datetime(self.updated_at),
        }
    }
}

/// A donation row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DonationRow {
    /// Escrow's donation id.
    pub id: String,
    /// The proposal's AT-URI.
    pub proposal: String,
    /// The proposal's CID.
    pub proposal_cid: String,
    /// The donor's DID.
    pub donor: String,
    /// Who receives it.
    pub maintainer: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// The fee, once received.
    pub fee: Option<i64>,
    /// pending, received, paid_out, failed.
    pub state: DonationState,
    /// The provider's payment id.
    pub payment_id: Option<String>,
    /// The checkout page.
    pub checkout_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last state change.
    pub updated_at: DateTime<Utc>,
}

impl DonationRow {
    /// The lexicon view.
    pub fn view(&self) -> DonationView {
        DonationView {
            id: self.id.clone(),
            proposal: proposal_ref(&self.proposal, &self.proposal_cid),
            donor: self.donor.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            fee: self.fee,
            state: self.state.as_str().to_owned(),
            checkout_url: checkout_while_pending(
                self.state == DonationState::Pending,
                &self.checkout_url,
            ),
            created_at: datetime(self.created_at),
            updated_at: datetime(self.updated_at),
        }
    }
}

/// A dispute row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DisputeRow {
    /// Escrow's dispute id.
    pub id: String,
    /// The proposal's AT-URI.
    pub proposal: String,
    /// The proposal's CID.
    pub proposal_cid: String,
    /// The filer's DID.
    pub filer: String,
    /// The claim.
    pub reason: String,
    /// Supporting links.
    pub evidence: Option<serde_json::Value>,
    /// open, upheld, rejected.
    pub state: DisputeState,
    /// The operator's note.
    pub resolution_note: Option<String>,
    /// Filed.
    pub created_at: DateTime<Utc>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl DisputeRow {
    /// The lexicon view.
    pub fn view(&self) -> DisputeView {
        DisputeView {
            id: self.id.clone(),
            proposal: proposal_ref(&self.proposal, &self.proposal_cid),
            filer: self.filer.clone(),
            reason: self.reason.clone(),
            evidence: self
                .evidence
                .as_ref()
                .and_then(|value| serde_json::from_value(value.clone()).ok()),
            state: self.state.as_str().to_owned(),
            resolution_note: self.resolution_note.clone(),
            created_at: datetime(self.created_at),
            resolved_at: self.resolved_at.map(datetime),
        }
    }
}

/// Serializes a view for storing as an idempotent answer.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, EscrowError> {
    serde_json::to_value(value).map_err(|error| EscrowError::Internal(error.to_string()))
}

/// The hash of this request, and the answer stored for it when `caller` already sent this very
/// body under `key` (a different body under the same key is `IdempotencyConflict`). Every
/// money-moving procedure starts here, before it looks at anything else.
pub(crate) async fn replayed<T: serde::de::DeserializeOwned>(
    escrow: &crate::Escrow,
    caller: &str,
    nsid: &str,
    key: &str,
    input: &impl serde::Serialize,
) -> Result<(Vec<u8>, Option<T>), EscrowError> {
    let hash = crate::idempotency::request_hash(nsid, &to_json(input)?);
    let stored =
        crate::idempotency::lookup(&mut *escrow.pool.acquire().await?, caller, key, &hash).await?;
    Ok((hash, stored.map(from_json).transpose()?))
}

/// Reads a stored idempotent answer back.
pub fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, EscrowError> {
    serde_json::from_value(value).map_err(|error| EscrowError::Internal(error.to_string()))
}
