//! Hydration: given the URIs a skeleton query chose, load everything their views need in a
//! few batched queries (proposal state, record bodies, money, handles, project names).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use greenlight_aggregates::{collection, StoredStageEvent};
use greenlight_lexicon::fund::greenlight::defs::{PreviewInfo, ReleaseInfo};
use greenlight_lexicon::fund::greenlight::dispute::Dispute;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;

/// A hydrated row of an indexed record.
pub trait RecordRow {
    /// The record's AT-URI.
    fn uri(&self) -> &str;
    /// The record as indexed.
    fn body(&self) -> &Value;
}

/// `rows` by URI, each with its record decoded (see [`record`]; a row whose record does not
/// decode is left out).
pub fn with_records<R: RecordRow, T: DeserializeOwned>(rows: &[R]) -> HashMap<&str, (&R, T)> {
    rows.iter()
        .filter_map(|row| Some((row.uri(), (row, record(row.uri(), row.body())?))))
        .collect()
}

/// A record body as its generated lexicon type. Every stored body was validated against its
/// lexicon when it was indexed, so one that does not decode is a bug: it is logged, and the
/// caller leaves the record out.
pub fn record<T: DeserializeOwned>(uri: &str, body: &Value) -> Option<T> {
    match T::deserialize(body) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::error!(%uri, %error, "an indexed record does not decode into its lexicon type");
            None
        }
    }
}

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
    /// The record as indexed (see [`record`]).
    pub body: Value,
    /// The project it is about.
    pub project_uri: Option<String>,
    /// The project's name, when indexed.
    pub project_name: Option<String>,
    /// Whether the project proves control of its places (`appview.project_verification`).
    pub project_verified: Option<bool>,
    /// Current stage.
    pub stage: String,
    /// Stage history (`stageEvent`s without handles).
    pub history: Json<Vec<StoredStageEvent>>,
    /// Latest preview.
    pub preview: Option<Json<PreviewInfo>>,
    /// The release.
    pub release: Option<Json<ReleaseInfo>>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// Escrow's terms and clock for it, from escrow's proposal-states feed.
    #[sqlx(flatten)]
    pub escrow: EscrowColumns,
    /// Whether escrow has any entry for it.
    pub has_money: bool,
    /// Kept only because its maintainer took it up: the author deleted or hid it since.
    pub withdrawn: bool,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
    /// Totals.
    #[sqlx(flatten)]
    pub totals: TotalsRow,
}

impl RecordRow for ProposalRow {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn body(&self) -> &Value {
        &self.body
    }
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
    /// The record as indexed (see [`record`]).
    pub body: Value,
    /// Visible proposals.
    pub proposal_count: i64,
    /// DIDs with a visible `fund.greenlight.maintainer` record naming the project.
    pub accepted: Vec<String>,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
    /// Totals over its proposals.
    #[sqlx(flatten)]
    pub totals: TotalsRow,
}

impl RecordRow for ProjectRow {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn body(&self) -> &Value {
        &self.body
    }
}

/// Estimate totals and money of a proposal row `r` of one of the queries below, which read
/// them as `appview.proposal_state s` left-joined with `appview.proposal_money m`.
macro_rules! proposal_totals_row {
    ($r:expr) => {
        TotalsRow {
            uri: $r.uri,
            currency: $r.currency,
            estimate_count: $r.estimate_count,
            estimate_total: $r.estimate_total,
            capped_count: $r.capped_count,
            goal: $r.goal,
            money: Money {
                pledged_held: $r.pledged_held,
                paid_out: $r.paid_out,
                refunded: $r.refunded,
                donations: $r.donations,
                pledge_count: $r.pledge_count,
                backer_count: $r.backer_count,
            },
        }
    };
}

/// Totals of the proposals among `uris` that are visible.
pub async fn proposal_totals(pool: &PgPool, uris: &[&str]) -> Result<Vec<TotalsRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query!(
        r#"SELECT
             s.uri, s.currency, s.estimate_count, s.estimate_total, s.capped_count,
             s.goal AS "goal?",
             coalesce(m.pledged_held, 0) AS "pledged_held!",
             coalesce(m.paid_out, 0) AS "paid_out!",
             coalesce(m.refunded, 0) AS "refunded!", coalesce(m.donations, 0) AS "donations!",
             coalesce(m.pledge_count, 0) AS "pledge_count!",
             coalesce(m.backer_count, 0) AS "backer_count!"
         FROM appview.proposal_state s
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         WHERE s.uri = ANY($1)"#,
        uris as &[&str],
    )
    .map(|r| proposal_totals_row!(r))
    .fetch_all(pool)
    .await
}

/// Visible projects among `uris`, with totals over their proposals.
pub async fn projects(pool: &PgPool, uris: &[&str]) -> Result<Vec<ProjectRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query!(
        r#"SELECT
             p.uri, p.did, p.cid, p.body, p.created_at, p.indexed_at,
             coalesce(p.currency, 'USD') AS "currency!", NULL::int8 AS "goal?",
             array(SELECT a.did FROM appview.record a
                   WHERE a.subject_uri = p.uri AND a.collection = $3
                     AND NOT a.hidden ORDER BY a.did) AS "accepted!",
             count(s.uri) FILTER (WHERE NOT s.withdrawn) AS "proposal_count!",
             coalesce(sum(s.estimate_count), 0)::int8 AS "estimate_count!",
             coalesce(sum(s.estimate_total), 0)::int8 AS "estimate_total!",
             coalesce(sum(s.capped_count), 0)::int8 AS "capped_count!",
             coalesce(sum(m.pledged_held), 0)::int8 AS "pledged_held!",
             coalesce(sum(m.paid_out), 0)::int8 AS "paid_out!",
             coalesce(sum(m.refunded), 0)::int8 AS "refunded!",
             coalesce(sum(m.donations), 0)::int8 AS "donations!",
             coalesce(sum(m.pledge_count), 0)::int8 AS "pledge_count!",
             (SELECT count(DISTINCT e.backer) FROM appview.escrow_pledge e
              JOIN appview.proposal_state x ON x.uri = e.proposal
              WHERE x.project_uri = p.uri AND e.state IN ('held', 'paid')) AS "backer_count!"
         FROM appview.record p
         LEFT JOIN appview.proposal_state s ON s.project_uri = p.uri
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         WHERE p.uri = ANY($1) AND p.collection = $2 AND NOT p.hidden
         GROUP BY p.uri"#,
        uris as &[&str],
        collection::PROJECT,
        collection::MAINTAINER,
    )
    .map(|r| ProjectRow {
        uri: r.uri.clone(),
        did: r.did.clone(),
        cid: r.cid.clone(),
        body: r.body.clone(),
        proposal_count: r.proposal_count,
        accepted: r.accepted.clone(),
        created_at: r.created_at,
        indexed_at: r.indexed_at,
        totals: proposal_totals_row!(r),
    })
    .fetch_all(pool)
    .await
}

/// Visible proposals among `uris`, with everything their views show.
pub async fn proposals(pool: &PgPool, uris: &[&str]) -> Result<Vec<ProposalRow>, sqlx::Error> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query!(
        r#"SELECT
             s.uri, s.currency, s.estimate_count, s.estimate_total, s.capped_count,
             s.goal AS "goal?",
             coalesce(m.pledged_held, 0) AS "pledged_held!",
             coalesce(m.paid_out, 0) AS "paid_out!",
             coalesce(m.refunded, 0) AS "refunded!", coalesce(m.donations, 0) AS "donations!",
             coalesce(m.pledge_count, 0) AS "pledge_count!",
             coalesce(m.backer_count, 0) AS "backer_count!",
             s.did, s.cid, r.body AS "body!", s.project_uri AS "project_uri?",
             pr.body->>'name' AS "project_name?",
             (SELECT v.verified FROM appview.project_verification v WHERE v.uri = s.project_uri)
                 AS "project_verified?", s.stage,
             s.history AS "history: Json<Vec<StoredStageEvent>>",
             s.preview AS "preview?: Json<PreviewInfo>",
             s.release AS "release?: Json<ReleaseInfo>",
             s.decline_reason AS "decline_reason?",
             ep.stage AS "escrow_stage?", ep.payee AS "escrow_payee?",
             payee.handle AS "escrow_payee_handle?",
             ep.verification_started_at AS "escrow_verification_started_at?",
             ep.verification_ends_at AS "escrow_verification_ends_at?",
             ep.open_disputes AS "escrow_open_disputes?", ep.settlement AS "escrow_settlement?",
             m.proposal IS NOT NULL AS "has_money!",
             s.withdrawn, s.created_at, s.indexed_at
         FROM appview.proposal_state s
         -- The version the state was derived from: the author's record, or the anchored
         -- version once the record was withdrawn or moved away from its project.
         JOIN LATERAL (
             SELECT body FROM appview.record WHERE uri = s.uri AND NOT s.from_anchor
             UNION ALL
             SELECT body FROM appview.proposal_anchor WHERE uri = s.uri AND s.from_anchor
         ) r ON true
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri
         LEFT JOIN appview.record pr ON pr.uri = s.project_uri AND NOT pr.hidden
              AND pr.collection = $2
         LEFT JOIN appview.escrow_proposal ep ON ep.proposal = s.uri
         LEFT JOIN appview.actor payee ON payee.did = ep.payee
         WHERE s.uri = ANY($1)"#,
        uris as &[&str],
        collection::PROJECT,
    )
    .map(|r| ProposalRow {
        uri: r.uri.clone(),
        did: r.did.clone(),
        cid: r.cid.clone(),
        body: r.body.clone(),
        project_uri: r.project_uri.clone(),
        project_name: r.project_name.clone(),
        project_verified: r.project_verified,
        stage: r.stage.clone(),
        history: r.history.clone(),
        preview: r.preview.clone(),
        release: r.release.clone(),
        decline_reason: r.decline_reason.clone(),
        escrow: EscrowColumns {
            escrow_stage: r.escrow_stage.clone(),
            escrow_payee: r.escrow_payee.clone(),
            escrow_payee_handle: r.escrow_payee_handle.clone(),
            escrow_verification_started_at: r.escrow_verification_started_at,
            escrow_verification_ends_at: r.escrow_verification_ends_at,
            escrow_open_disputes: r.escrow_open_disputes,
            escrow_settlement: r.escrow_settlement.clone(),
        },
        has_money: r.has_money,
        withdrawn: r.withdrawn,
        created_at: r.created_at,
        indexed_at: r.indexed_at,
        totals: proposal_totals_row!(r),
    })
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
    let rows: Vec<(String, Option<String>)> = sqlx::query!(
        "SELECT did, handle FROM appview.actor WHERE did = ANY($1)",
        &dids as &[&str],
    )
    .map(|r| (r.did, r.handle))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(did, handle)| handle.filter(|h| is_handle(h)).map(|h| (did, h)))
        .collect())
}

/// The DID a handle belongs to, per the handles the indexer verified.
pub async fn did_for_handle(pool: &PgPool, handle: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT did FROM appview.actor WHERE handle = $1 ORDER BY updated_at DESC LIMIT 1",
        handle.to_ascii_lowercase(),
    )
    .fetch_optional(pool)
    .await
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
#[derive(Debug, Clone)]
pub struct DisputeRow {
    /// AT-URI of the dispute record.
    pub uri: String,
    /// Who filed it.
    pub did: String,
    /// The record.
    pub record: Dispute,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
}

/// Visible disputes of a proposal, oldest first (at most `limit`).
pub async fn disputes(
    pool: &PgPool,
    proposal: &str,
    limit: i64,
) -> Result<Vec<DisputeRow>, sqlx::Error> {
    let rows: Vec<(String, String, Value, DateTime<Utc>)> = sqlx::query!(
        "SELECT uri, did, body, created_at FROM appview.record
         WHERE collection = $3 AND NOT hidden AND subject_uri = $1
         ORDER BY created_at, uri LIMIT $2",
        proposal,
        limit,
        collection::DISPUTE,
    )
    .map(|r| (r.uri, r.did, r.body, r.created_at))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(uri, did, body, created_at)| {
            Some(DisputeRow {
                record: record(&uri, &body)?,
                uri,
                did,
                created_at,
            })
        })
        .collect())
}

/// A current estimate (the latest of its author for the proposal) and how it counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EstimateRow {
    /// AT-URI of the estimate record.
    pub uri: String,
    /// Its author.
    pub did: String,
    /// Record CID.
    pub cid: String,
    /// The amount the record states.
    pub amount: Option<i64>,
    /// Its currency.
    pub currency: Option<String>,
    /// What counts of it.
    pub counted: i64,
    /// Whether the author's cap cut it.
    pub capped: bool,
    /// Whether it came after the preview began (shown, not counted).
    pub frozen: bool,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
}

/// A pledge record with the state escrow reports for its receipt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PledgeRow {
    /// AT-URI of the pledge record.
    pub uri: String,
    /// The backer.
    pub did: String,
    /// Record CID.
    pub cid: String,
    /// The amount the record states.
    pub amount: Option<i64>,
    /// Its currency.
    pub currency: Option<String>,
    /// Escrow's pledge id, as the record gives it.
    pub receipt: Option<String>,
    /// Record `createdAt`.
    pub created_at: DateTime<Utc>,
    /// When we indexed it.
    pub indexed_at: DateTime<Utc>,
    /// Escrow's state of the pledge, when the receipt is escrow's pledge by the same backer for
    /// the same proposal.
    pub escrow_state: Option<String>,
}

/// Escrow's terms and clock for a proposal, as escrow's proposal-states feed last reported
/// them; every field is `None` when escrow has no state for the proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct EscrowColumns {
    /// The stage escrow holds the proposal at (`released` stays released); `None` means
    /// escrow has no terms for it.
    pub escrow_stage: Option<String>,
    /// Who escrow pays, fixed when the first money arrived.
    pub escrow_payee: Option<String>,
    /// The payee's handle as the indexer last saw it (checked again before it is shown).
    pub escrow_payee_handle: Option<String>,
    /// When escrow first saw the release, by its own clock.
    pub escrow_verification_started_at: Option<DateTime<Utc>>,
    /// When the verification period ends, by escrow's clock.
    pub escrow_verification_ends_at: Option<DateTime<Utc>>,
    /// Disputes escrow has not resolved yet.
    pub escrow_open_disputes: Option<i32>,
    /// `payout` or `refund`, once escrow settled the held money.
    pub escrow_settlement: Option<String>,
}

/// The terms escrow fixed for a proposal that views do not carry, for its page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EscrowTerms {
    /// The platform fee escrow will take, as published when the first money arrived.
    pub fee_basis_points: i32,
    /// When the first money arrived and the terms were fixed.
    pub terms_fixed_at: DateTime<Utc>,
}

/// Escrow's terms for `proposal`, if escrow has reported any.
pub async fn escrow_terms(
    pool: &PgPool,
    proposal: &str,
) -> Result<Option<EscrowTerms>, sqlx::Error> {
    sqlx::query_as!(
        EscrowTerms,
        "SELECT fee_basis_points, terms_fixed_at FROM appview.escrow_proposal WHERE proposal = $1",
        proposal,
    )
    .fetch_optional(pool)
    .await
}
