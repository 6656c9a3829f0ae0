//! Greenlight's aggregates: what the funding rules make of the indexed records, and what the
//! escrow's public ledger feed says about money, kept in Postgres for the AppView to serve.
//!
//! Everything here is a function of `appview.record` and `appview.escrow_entry`:
//! - [`refresh_proposals`] re-derives proposals with [`greenlight_funding::derive`] into
//!   `appview.proposal_state` and `appview.estimate_state`;
//! - [`apply_record_changes`] works out which proposals a batch of record changes touches
//!   (the indexer calls it inside each batch's transaction);
//! - [`apply_ledger_entries`] stores feed entries and recomputes `appview.proposal_money` and
//!   `appview.contribution`, then the proposals whose estimate caps moved;
//! - [`rebuild_all`] recomputes everything from scratch, which the tests compare with the
//!   incremental upkeep.
//!
//! Every writer takes [`AGGREGATE_LOCK`] for its transaction, so the indexer and the escrow
//! feed follower never interleave a read of one table with a write of another.

mod changes;
mod money;
mod proposals;
pub mod repository_attach;

pub use changes::{apply_record_changes, ChangedRecord};
pub use money::{apply_ledger_entries, pledge_states, LedgerEntry, PledgeState};
pub use proposals::{rebuild_all, refresh_proposals, StoredStageEvent};

/// The Postgres channel on which every recomputed proposal's and project's URI is announced
/// (delivered when the transaction commits), so readers can drop what they cached about it.
pub const CHANGED_CHANNEL: &str = "greenlight_aggregates";

/// Announces on [`CHANGED_CHANNEL`] that these URIs' aggregates changed.
pub async fn notify(conn: &mut sqlx::PgConnection, uris: &[&str]) -> Result<(), sqlx::Error> {
    // A payload must stay under Postgres's 8000-byte limit; no valid at-uri comes close.
    let uris: Vec<&str> = uris.iter().copied().filter(|u| u.len() < 7900).collect();
    if uris.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "SELECT pg_notify($1, u) FROM unnest($2::text[]) AS u",
        CHANGED_CHANNEL,
        &uris as &[&str],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Advisory lock key serialising aggregate writers ("grnagg").
pub const AGGREGATE_LOCK: i64 = 0x6772_6e61_6767;

/// The collections whose records the aggregates read, named by their lexicons.
pub mod collection {
    use greenlight_lexicon::fund::greenlight as lexicon;

    /// `fund.greenlight.project`.
    pub const PROJECT: &str = lexicon::project::NSID;
    /// `fund.greenlight.proposal`.
    pub const PROPOSAL: &str = lexicon::proposal::NSID;
    /// `fund.greenlight.estimate`.
    pub const ESTIMATE: &str = lexicon::estimate::NSID;
    /// `fund.greenlight.status`.
    pub const STATUS: &str = lexicon::status::NSID;
    /// `fund.greenlight.pledge`.
    pub const PLEDGE: &str = lexicon::pledge::NSID;
    /// `fund.greenlight.dispute`.
    pub const DISPUTE: &str = lexicon::dispute::NSID;
    /// `fund.greenlight.maintainer`.
    pub const MAINTAINER: &str = lexicon::maintainer::NSID;
}

/// Takes the aggregate writers' lock for the rest of the transaction on `conn`.
pub async fn lock(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", AGGREGATE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}
