//! Hydration: given the URIs a skeleton query chose, load everything their views need in a
//! few batched queries (proposal state, record bodies, money, handles, project names).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// Money escrow reports for a proposal or project.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Money {
    /// Pledges held.
    pub pledged_held: i64,
    /// Pledges paid out.
    pub paid_out: i64,
    /// Pledges refunded.
    pub refunded: i64,
    /// Donations.
    pub donations: i64,
    /// Pledges held or paid out.
    pub pledge_count: i64,
    /// Distinct backers of those.
    pub backer_count: i64,
}

/// Estimate totals and money of one proposal or project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotalsRow {
    /// The proposal or project.
    pub uri: String,
    /// Currency of every amount.
    pub currency: String,
    /// Counted estimates.
    pub estimate_count: i64,
    /// Counted sum.
    pub estimate_total: i64,
    /// Counted estimates cut to their cap.
    pub capped_count: i64,
    /// The proposal's goal.
    pub goal: Option<i64>,
    /// Money.
    #[sqlx(flatten)]
    pub money: Money,
}

/// Everything a proposal view shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRow {
    /// AT-URI.
    pub uri: String,
    /// Author.
    pub did: String,
    /// Record CID.
    pub cid: String,
    /// The record as indexed.
    pub body: Value,
    /// The project it is about.
    pub project_uri: Option<String>,
    /// The project's name, when indexed.
    pub project_name: Option<String>,
    /// Current stage.
    pub stage: String,
    /// Stage history (`stageEvent`s without handles).
    pub history: Value,
    /// Latest preview.
    pub preview: Option<Value>,
    /// The release.
    pub release: Option<Value>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// When the release was declared.
    pub released_at: Option<DateTime<Utc>>,
    /// Whether escrow has any entry for it.
    pub has_money: bool,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
    /// Totals.
    #[sqlx(flatten)]
    pub totals: TotalsRow,
}

/// A project and what its view shows besides totals.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    /// AT-URI.
    pub uri: String,
    /// Owner.
    pub did: String,
    /// Record CID.
    pub cid: String,
    /// The record as indexed.
    pub body: Value,
    /// Visible proposals.
    pub proposal_count: i64,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
    /// Totals over its proposals.
    #[sqlx(flatten)]
    pub totals: TotalsRow,
}

const PROPOSAL_TOTALS: &str = "
    s.uri, s.currency, s.estimate_count, s.estimate_total, s.capped_count, s.goal,
    coalesce(m.pledged_held, 0) AS pledged_held, coalesce(m.paid_out, 0) AS paid_out,
    coalesce(m.refunded, 0) AS refunded, coalesce(m.donations, 0) AS donations,
    coalesce(m.pledge_count, 0) AS pledge_count, coalesce(m.backer_count, 0) AS backer_count";

/// Totals of the proposals among `uris` that are visible.
pub async fn proposal_totals(pool: &PgPool, uris: &[&str]) -> Result<Vec<TotalsRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT {PROPOSAL_TOTALS} FROM appview.proposal_state s
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         WHERE s.uri = ANY($1)"
    ))
    .bind(uris)
    .fetch_all(pool)
    .await
}

const PROJECT_COLUMNS: &str = "
    p.uri, p.did, p.cid, p.body, p.created_at, p.indexed_at,
    coalesce(p.currency, 'USD') AS currency, NULL::int8 AS goal,
    count(s.uri) AS proposal_count,
    coalesce(sum(s.estimate_count), 0)::int8 AS estimate_count,
    coalesce(sum(s.estimate_total), 0)::int8 AS estimate_total,
    coalesce(sum(s.capped_count), 0)::int8 AS capped_count,
    coalesce(sum(m.pledged_held), 0)::int8 AS pledged_held,
    coalesce(sum(m.paid_out), 0)::int8 AS paid_out,
    coalesce(sum(m.refunded), 0)::int8 AS refunded,
    coalesce(sum(m.donations), 0)::int8 AS donations,
    coalesce(sum(m.pledge_count), 0)::int8 AS pledge_count,
    (SELECT count(DISTINCT e.backer) FROM appview.escrow_pledge e
     JOIN appview.proposal_state x ON x.uri = e.proposal
     WHERE x.project_uri = p.uri AND e.state IN ('held', 'paid')) AS backer_count";

/// Visible projects among `uris`, with totals over their proposals.
pub async fn projects(pool: &PgPool, uris: &[&str]) -> Result<Vec<ProjectRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM appview.record p
         LEFT JOIN appview.proposal_state s ON s.project_uri = p.uri
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         WHERE p.uri = ANY($1) AND p.collection = 'fund.greenlight.project' AND NOT p.hidden
         GROUP BY p.uri"
    ))
    .bind(uris)
    .fetch_all(pool)
    .await
}

/// Visible proposals among `uris`, with everything their views show.
pub async fn proposals(pool: &PgPool, uris: &[&str]) -> Result<Vec<ProposalRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT {PROPOSAL_TOTALS}, s.did, s.cid, r.body, s.project_uri,
             pr.body->>'name' AS project_name, s.stage, s.history, s.preview, s.release,
             s.decline_reason, s.released_at, m.proposal IS NOT NULL AS has_money,
             s.created_at, s.indexed_at
         FROM appview.proposal_state s
         JOIN appview.record r ON r.uri = s.uri
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         LEFT JOIN appview.record pr ON pr.uri = s.project_uri AND NOT pr.hidden
              AND pr.collection = 'fund.greenlight.project'
         WHERE s.uri = ANY($1)"
    ))
    .bind(uris)
    .fetch_all(pool)
    .await
}

/// Verified handles of these DIDs (DIDs without a usable handle are absent).
pub async fn handles<'a>(
    pool: &PgPool,
    dids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let dids: Vec<&str> = dids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if dids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT did, handle FROM appview.actor WHERE did = ANY($1)")
            .bind(&dids)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(did, handle)| handle.filter(|h| is_handle(h)).map(|h| (did, h)))
        .collect())
}

/// The DID a handle belongs to, per the handles the indexer verified.
pub async fn did_for_handle(pool: &PgPool, handle: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT did FROM appview.actor WHERE handle = $1 ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(handle.to_ascii_lowercase())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(did,)| did))
}

/// Whether `s` is a syntactically valid atproto handle (and not `handle.invalid`), so a view
/// never carries a handle its lexicon would reject.
pub fn is_handle(s: &str) -> bool {
    if s.len() > 253 || s == "handle.invalid" {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()))
}

/// A dispute record filed against a proposal.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisputeRow {
    /// AT-URI of the dispute record.
    pub uri: String,
    /// Who filed it.
    pub did: String,
    /// The record as indexed (`reason`, `evidence`).
    pub body: Value,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
}

/// Visible disputes of a proposal, oldest first (at most `limit`).
pub async fn disputes(
    pool: &PgPool,
    proposal: &str,
    limit: i64,
) -> Result<Vec<DisputeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uri, did, body, created_at FROM appview.record
         WHERE collection = 'fund.greenlight.dispute' AND NOT hidden AND subject_uri = $1
         ORDER BY created_at, uri LIMIT $2",
    )
    .bind(proposal)
    .bind(limit)
    .fetch_all(pool)
    .await
}
