//! Projects' proof of control of their repository and website: the store of the latest
//! checks (`appview.project_proof`, `appview.project_proof_check`), the views built from it
//! (`defs#projectProof`), and the worker that re-checks every project periodically and new or
//! changed projects soon after they are indexed.
//!
//! Whether a project is verified is read through `appview.project_verification`, which holds
//! a check good only while the record still names the places checked. When a project's proof
//! of its repository starts or stops, the bare-repository proposals of that repository are
//! re-derived (`greenlight_aggregates::repository_attach`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use greenlight_aggregates::collection;
use greenlight_aggregates::repository_attach::refresh_for_project_verification;
use greenlight_lexicon::fund::greenlight::defs::{ProjectProof, ProofCheck};
use greenlight_repository_proof::{check, ProjectPlaces, ProofReport};
use greenlight_safe_fetch::{Fetcher, Policy};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::views::datetime;

/// Projects checked at once by the worker.
const CONCURRENT_CHECKS: usize = 4;

/// Projects the worker takes per round.
const BATCH: i64 = 50;

/// Why storing or reading proofs failed.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The database failed.
    #[error("database error while keeping project proofs: {0}")]
    Database(#[from] sqlx::Error),
}

/// The fetch policy for proof files under `config`.
pub fn fetch_policy(config: &Config) -> Policy {
    Policy {
        allow_loopback_http: config.allow_insecure_http,
        ..Policy::default()
    }
}

/// A project record as indexed, with what a check needs.
#[derive(Debug, Clone)]
pub struct ProjectToCheck {
    /// CID of the version checked.
    pub cid: String,
    /// AT-URI, owner, repository and website.
    pub places: ProjectPlaces,
}

type ProjectTuple = (String, String, String, Option<String>, Option<String>);

fn to_check((uri, did, cid, repository, website): ProjectTuple) -> ProjectToCheck {
    ProjectToCheck {
        cid,
        places: ProjectPlaces {
            uri,
            owner_did: did,
            repository: repository.unwrap_or_default(),
            website,
        },
    }
}

/// The visible project record `uri`, if indexed.
pub async fn project_to_check(
    pool: &PgPool,
    uri: &str,
) -> Result<Option<ProjectToCheck>, sqlx::Error> {
    let row: Option<ProjectTuple> = sqlx::query!(
        r#"SELECT uri, did, cid, body->>'repository' AS repository, body->>'website' AS website
         FROM appview.record
         WHERE uri = $1 AND collection = $2 AND NOT hidden"#,
        uri,
        collection::PROJECT,
    )
    .map(|r| {
        let t: ProjectTuple = (r.uri, r.did, r.cid, r.repository, r.website);
        t
    })
    .fetch_optional(pool)
    .await?;
    Ok(row.map(to_check))
}

/// Takes `checkProjectProof`'s turn for `uri`: false when it ran less than `interval` ago.
/// Kept in the database so every AppView process on it shares the limit.
pub async fn claim_manual_check(
    pool: &PgPool,
    uri: &str,
    interval: Duration,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query_scalar!(
        "INSERT INTO appview.project_proof_request AS q (project_uri, requested_at)
         VALUES ($1, clock_timestamp())
         ON CONFLICT (project_uri) DO UPDATE SET requested_at = EXCLUDED.requested_at
             WHERE q.requested_at <= EXCLUDED.requested_at - make_interval(secs => $2)
         RETURNING 1",
        uri,
        interval.as_secs_f64(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

/// Checks `project` now and stores the result.
pub async fn check_and_store(
    pool: &PgPool,
    fetcher: &Fetcher,
    project: &ProjectToCheck,
) -> Result<ProofReport, ProofError> {
    let report = check(fetcher, &project.places).await;
    store(pool, project, &report).await?;
    tracing::debug!(
        project = %project.places.uri,
        verified = report.verified,
        "project proof checked"
    );
    Ok(report)
}

/// What the stored row said before a check.
struct Previous {
    cid: String,
    verified: bool,
    repository: String,
    website: Option<String>,
    repository_key: String,
    verified_at: Option<DateTime<Utc>>,
    repository_verified_since: Option<DateTime<Utc>>,
}

/// Stores `report` as the latest check of `project`, then re-derives what depends on it: the
/// bare-repository proposals when the proof of its repository started, stopped or moved, and
/// the cached views of its proposals when its verification changed.
pub async fn store(
    pool: &PgPool,
    project: &ProjectToCheck,
    report: &ProofReport,
) -> Result<(), ProofError> {
    let places = &project.places;
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    let previous: Option<Previous> = sqlx::query_as!(
        Previous,
        "SELECT cid, verified, repository, website, repository_key, verified_at,
             repository_verified_since
         FROM appview.project_proof WHERE project_uri = $1 FOR UPDATE",
        &places.uri,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let same_places = previous
        .as_ref()
        .is_some_and(|p| p.repository == places.repository && p.website == places.website);
    let verified_at = if report.verified {
        Some(now)
    } else {
        previous.as_ref().and_then(|p| p.verified_at)
    };
    let repository_verified_since = match &previous {
        _ if !report.repository_verified() => None,
        // An uninterrupted proof of the same repository keeps its place in line.
        Some(p) if p.repository == places.repository && p.repository_verified_since.is_some() => {
            p.repository_verified_since
        }
        _ => Some(now),
    };
    let written: Option<String> = sqlx::query_scalar!(
        "INSERT INTO appview.project_proof AS p (project_uri, cid, repository, website,
             repository_key, verified, verified_at, repository_verified_since, checked_at)
         VALUES ($1, $2, $3, $4, appview.repository_key($3), $5, $6, $7, $8)
         ON CONFLICT (project_uri) DO UPDATE SET cid = EXCLUDED.cid,
             repository = EXCLUDED.repository, website = EXCLUDED.website,
             repository_key = EXCLUDED.repository_key, verified = EXCLUDED.verified,
             verified_at = EXCLUDED.verified_at,
             repository_verified_since = EXCLUDED.repository_verified_since,
             checked_at = EXCLUDED.checked_at
             WHERE p.checked_at <= EXCLUDED.checked_at
         RETURNING repository_key",
        &places.uri,
        &project.cid,
        &places.repository,
        places.website.as_deref(),
        report.verified,
        verified_at,
        repository_verified_since,
        now,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(repository_key) = written else {
        // A check that started later already stored its result: it stands.
        return Ok(());
    };

    sqlx::query!(
        "DELETE FROM appview.project_proof_check WHERE project_uri = $1",
        &places.uri,
    )
    .execute(&mut *tx)
    .await?;
    let n = report.checks.len();
    let (mut position, mut url, mut place, mut result, mut detail, mut at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, c) in report.checks.iter().enumerate() {
        position.push(i32::try_from(i).unwrap_or(i32::MAX));
        url.push(c.proof_url.clone());
        place.push(c.place.as_str());
        result.push(c.result.as_str());
        detail.push(c.detail.clone());
        at.push(c.checked_at);
    }
    sqlx::query!(
        "INSERT INTO appview.project_proof_check
             (project_uri, position, proof_url, place, result, detail, checked_at)
         SELECT $1, * FROM UNNEST($2::int4[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::timestamptz[])
         ON CONFLICT (project_uri, proof_url) DO NOTHING",
        &places.uri,
        &position,
        &url,
        &place as &[&str],
        &result as &[&str],
        &detail as &[Option<String>],
        &at,
    )
    .execute(&mut *tx)
    .await?;

    let was_proving = previous
        .as_ref()
        .is_some_and(|p| p.repository_verified_since.is_some());
    // Attached proposals take their currency and maintainers from the project record, and
    // the indexer re-derives only those whose own record names the project: a new version
    // of a proving project's record re-derives them here.
    let attachment_changed = was_proving != repository_verified_since.is_some()
        || (was_proving
            && previous
                .as_ref()
                .is_some_and(|p| p.repository_key != repository_key || p.cid != project.cid));
    if attachment_changed {
        let refreshed = refresh_for_project_verification(&mut tx, &places.uri).await?;
        tracing::info!(
            project = %places.uri,
            proving = repository_verified_since.is_some(),
            proposals = refreshed.len(),
            "repository proof changed: bare-repository proposals re-derived"
        );
    }
    let verification_changed =
        !same_places || previous.as_ref().map(|p| p.verified) != Some(report.verified);
    if verification_changed {
        // Proposal views show their project's verification and may be cached.
        let mut uris: Vec<String> = sqlx::query_scalar!(
            "SELECT uri FROM appview.proposal_state WHERE project_uri = $1",
            &places.uri,
        )
        .fetch_all(&mut *tx)
        .await?;
        uris.push(places.uri.clone());
        let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
        greenlight_aggregates::notify(&mut tx, &uris).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A stored check as loaded: project, place, proof URL, result, detail, checked at.
type CheckTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
);

/// `defs#projectProof` of each of `uris` that is a visible project (never checked: not
/// verified, no checks), expecting the project's AT-URI.
pub async fn proofs(
    pool: &PgPool,
    uris: &[&str],
) -> Result<HashMap<String, ProjectProof>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(HashMap::new());
    }
    let heads: Vec<(String, bool, Option<DateTime<Utc>>)> = sqlx::query!(
        r#"SELECT r.uri, coalesce(v.verified, false) AS "verified!",
             p.verified_at AS "verified_at?"
         FROM appview.record r
         LEFT JOIN appview.project_verification v ON v.uri = r.uri
         LEFT JOIN appview.project_proof p ON p.project_uri = r.uri
         WHERE r.uri = ANY($1) AND r.collection = $2 AND NOT r.hidden"#,
        uris as &[&str],
        collection::PROJECT,
    )
    .map(|r| (r.uri, r.verified, r.verified_at))
    .fetch_all(pool)
    .await?;
    let checks: Vec<CheckTuple> = sqlx::query!(
        "SELECT project_uri, place, proof_url, result, detail, checked_at
             FROM appview.project_proof_check WHERE project_uri = ANY($1)
             ORDER BY project_uri, position LIMIT 10000",
        uris as &[&str],
    )
    .map(|r| {
        let t: CheckTuple = (
            r.project_uri,
            r.place,
            r.proof_url,
            r.result,
            r.detail,
            r.checked_at,
        );
        t
    })
    .fetch_all(pool)
    .await?;
    let mut by_project: HashMap<String, Vec<ProofCheck>> = HashMap::new();
    for (uri, place, proof_url, result, detail, checked_at) in checks {
        let list = by_project.entry(uri).or_default();
        // The lexicon holds at most 20; a project has 5 locations at most.
        if list.len() < 20 {
            list.push(ProofCheck {
                place,
                proof_url,
                result,
                detail,
                checked_at: datetime(checked_at),
            });
        }
    }
    Ok(heads
        .into_iter()
        .map(|(uri, verified, verified_at)| {
            let proof = ProjectProof {
                verified,
                expected: uri.clone(),
                verified_at: verified_at.map(datetime),
                checks: by_project.remove(&uri).unwrap_or_default(),
            };
            (uri, proof)
        })
        .collect())
}

/// Re-checks projects in the background: first those never checked or whose record changed
/// since, then those checked longest ago, each at most every `recheck`.
pub struct Worker {
    pool: PgPool,
    fetcher: Arc<Fetcher>,
    recheck: Duration,
    poll: Duration,
}

impl Worker {
    /// A worker over `pool` fetching with `fetcher`, timed by `config`.
    pub fn new(pool: PgPool, fetcher: Arc<Fetcher>, config: &Config) -> Worker {
        Worker {
            pool,
            fetcher,
            recheck: config.proof_recheck,
            poll: config.proof_poll,
        }
    }

    /// One round: forgets proofs of projects gone or hidden, then checks up to one batch of
    /// due projects. Returns how many projects were checked.
    pub async fn run_once(&self) -> Result<usize, ProofError> {
        self.forget_removed().await?;
        let due: Vec<ProjectTuple> = sqlx::query!(
            r#"SELECT r.uri, r.did, r.cid, r.body->>'repository' AS repository,
                 r.body->>'website' AS website
             FROM appview.record r
             LEFT JOIN appview.project_proof p ON p.project_uri = r.uri
             WHERE r.collection = $3 AND NOT r.hidden
               AND (p.project_uri IS NULL OR p.cid <> r.cid
                    OR p.checked_at <= now() - make_interval(secs => $1))
             ORDER BY (p.project_uri IS NULL OR p.cid <> r.cid) DESC, p.checked_at NULLS FIRST,
                      r.uri
             LIMIT $2"#,
            self.recheck.as_secs_f64(),
            BATCH,
            collection::PROJECT,
        )
        .map(|r| {
            let t: ProjectTuple = (r.uri, r.did, r.cid, r.repository, r.website);
            t
        })
        .fetch_all(&self.pool)
        .await?;
        let count = due.len();
        let results: Vec<Result<ProofReport, ProofError>> = futures_util::stream::iter(due)
            .map(|row| {
                let project = to_check(row);
                async move { check_and_store(&self.pool, &self.fetcher, &project).await }
            })
            .buffer_unordered(CONCURRENT_CHECKS)
            .collect()
            .await;
        for result in results {
            result?;
        }
        Ok(count)
    }

    /// Drops the proofs of projects no longer visible, and gives their repositories'
    /// bare proposals back.
    async fn forget_removed(&self) -> Result<(), ProofError> {
        let mut tx = self.pool.begin().await?;
        let gone: Vec<(String, bool)> = sqlx::query!(
            r#"DELETE FROM appview.project_proof p
             WHERE NOT EXISTS (SELECT 1 FROM appview.record r
                               WHERE r.uri = p.project_uri
                                 AND r.collection = $1 AND NOT r.hidden)
             RETURNING p.project_uri,
                 p.repository_verified_since IS NOT NULL AS "was_proving!""#,
            collection::PROJECT,
        )
        .map(|r| (r.project_uri, r.was_proving))
        .fetch_all(&mut *tx)
        .await?;
        for (uri, was_proving) in &gone {
            if *was_proving {
                refresh_for_project_verification(&mut tx, uri).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs rounds until `shutdown`: straight on while there is a full batch of work, else
    /// every `poll`; a failed round is logged and retried after the pause.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(
            recheck_seconds = self.recheck.as_secs(),
            "project proof worker started"
        );
        loop {
            let busy = match self.run_once().await {
                Ok(count) => count as i64 >= BATCH,
                Err(error) => {
                    tracing::warn!(%error, "project proof round failed");
                    false
                }
            };
            let pause = if busy { Duration::ZERO } else { self.poll };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
