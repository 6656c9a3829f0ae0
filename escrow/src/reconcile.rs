//! `greenlight-escrow reconcile`: publishes the feed, then checks every invariant of the books
//! against themselves and the provider's records, printing each violation.

use crate::ledger::invariants::{self, CheckError, Violation};
use crate::{ledger, Escrow};

/// Runs the checks; an empty list means the books are sound.
pub async fn reconcile(escrow: &Escrow) -> Result<Vec<Violation>, CheckError> {
    ledger::publish_feed(&mut *escrow.pool.acquire().await?).await?;
    invariants::check(&escrow.pool, escrow.provider.as_ref()).await
}
