//! The parking lot: firehose commits whose author's signing key could not be had within the
//! identity pool's bounded wait.
//!
//! A parked commit is stored (`appview.parked_event`) by the batch that moves the cursor past
//! it, so the stream goes on without it and a restart still has it. While a repo has parked
//! commits, its later `fund.greenlight.*` commits are parked behind them without a lookup, so
//! the repo's order is kept. When the identity pool reports the key (or a periodic retry
//! finds it), the frame loop judges the repo's commits again, in order, and the writer applies
//! their outcomes and releases them in one transaction. The lot keeps the frames in memory
//! too, so that a replay never waits for rows still on their way to the database.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::identity_pool::IdentityPool;

/// The most commits parked per repo; later ones fall back to a backfill of the repo, so that
/// one author cannot fill memory and the table while its host is down.
pub const MAX_PARKED_PER_REPO: usize = 1_000;

/// A repo's parked frames by sequence number.
type Frames = BTreeMap<i64, Arc<[u8]>>;

/// The parked commits of one source, shared by the frame loop and the retry task.
#[derive(Clone, Default)]
pub struct ParkingLot {
    repos: Arc<Mutex<HashMap<String, Frames>>>,
}

impl std::fmt::Debug for ParkingLot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkingLot")
            .field("repos", &self.lock().len())
            .finish()
    }
}

impl ParkingLot {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Frames>> {
        // Each change is a single insert or removal: a panic elsewhere leaves it whole.
        self.repos
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The commits `source` parked before (e.g. before a restart).
    pub async fn load(pool: &PgPool, source: &str) -> Result<ParkingLot, sqlx::Error> {
        let rows = sqlx::query!(
            "SELECT seq, did, frame FROM appview.parked_event WHERE source = $1 ORDER BY seq",
            source
        )
        .fetch_all(pool)
        .await?;
        let lot = ParkingLot::default();
        {
            let mut repos = lot.lock();
            for row in rows {
                repos
                    .entry(row.did)
                    .or_default()
                    .insert(row.seq, Arc::from(row.frame));
            }
        }
        Ok(lot)
    }

    /// Whether `did` has parked commits.
    pub fn is_parked(&self, did: &str) -> bool {
        self.lock().contains_key(did)
    }

    /// Whether `did` has as many parked commits as a repo may have.
    pub fn is_full(&self, did: &str) -> bool {
        self.lock()
            .get(did)
            .is_some_and(|frames| frames.len() >= MAX_PARKED_PER_REPO)
    }

    /// Parks a frame (again: a frame already parked stays once).
    pub fn park(&self, did: &str, seq: i64, frame: &[u8]) {
        self.lock()
            .entry(did.to_owned())
            .or_default()
            .entry(seq)
            .or_insert_with(|| Arc::from(frame));
    }

    /// `did`'s parked frames in order.
    pub fn frames(&self, did: &str) -> Vec<(i64, Arc<[u8]>)> {
        self.lock().get(did).map_or_else(Vec::new, |frames| {
            frames
                .iter()
                .map(|(seq, f)| (*seq, Arc::clone(f)))
                .collect()
        })
    }

    /// Takes replayed frames out; returns whether the repo still has parked ones.
    pub fn release(&self, did: &str, seqs: &[i64]) -> bool {
        let mut repos = self.lock();
        let Some(frames) = repos.get_mut(did) else {
            return false;
        };
        for seq in seqs {
            frames.remove(seq);
        }
        if frames.is_empty() {
            repos.remove(did);
            return false;
        }
        true
    }

    /// The repos with parked commits.
    pub fn repos(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Parked frames over all repos.
    pub fn len(&self) -> usize {
        self.lock().values().map(BTreeMap::len).sum()
    }

    /// Whether nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Until `shutdown`: asks the identity pool again, every `every`, for the keys of parked repos
/// (a lookup that failed is remembered by the pool for its negative TTL, so this costs at most
/// one request per repo and TTL). The pool reports keys that arrive to the frame loop.
pub async fn retry_parked(
    lot: ParkingLot,
    identity: IdentityPool,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        for did in lot.repos() {
            identity.watch(&did);
            identity.recheck(&did);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_in_order_once_and_leave_when_released() {
        let lot = ParkingLot::default();
        lot.park("did:plc:a", 7, b"seven");
        lot.park("did:plc:a", 3, b"three");
        // A replayed stream parks the same frame again: it stays once, as first parked.
        lot.park("did:plc:a", 7, b"again");
        lot.park("did:plc:b", 5, b"five");
        let frames: Vec<(i64, Vec<u8>)> = lot
            .frames("did:plc:a")
            .into_iter()
            .map(|(seq, frame)| (seq, frame.to_vec()))
            .collect();
        assert_eq!(frames, vec![(3, b"three".to_vec()), (7, b"seven".to_vec())]);
        assert_eq!(lot.len(), 3);
        assert!(lot.release("did:plc:a", &[3]), "seq 7 is still parked");
        assert!(!lot.release("did:plc:a", &[7]));
        assert!(!lot.is_parked("did:plc:a"));
        assert_eq!(lot.repos(), vec!["did:plc:b".to_owned()]);
    }

    #[test]
    fn a_repo_has_a_bounded_number_of_parked_commits() {
        let lot = ParkingLot::default();
        for seq in 0..MAX_PARKED_PER_REPO as i64 {
            assert!(!lot.is_full("did:plc:a"));
            lot.park("did:plc:a", seq, b"frame");
        }
        assert!(lot.is_full("did:plc:a"));
        assert!(!lot.is_full("did:plc:b"));
    }
}
