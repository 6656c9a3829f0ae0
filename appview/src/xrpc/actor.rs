//! `getActor`: a person's successful contributions and current estimate caps.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::Json;
use greenlight_funding::{estimate_cap, Currency};
use greenlight_lexicon::fund::greenlight::defs::{ActorView, ContributionSummary, EstimateCap};
use greenlight_lexicon::fund::greenlight::get_actor;
use greenlight_xrpc::XrpcError;

use super::projects::resolve_actor;
use crate::hydrate;
use crate::params;
use crate::AppView;

/// `GET /xrpc/fund.greenlight.getActor`.
pub async fn get_actor(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<ActorView>, XrpcError> {
    let params: get_actor::Params = params::from_query(app.catalog(), query.as_deref())?;
    let actor = params.actor.clone();
    get(&app, params)
        .await?
        .map(Json)
        .ok_or_else(|| XrpcError::Method {
            name: "NotFound",
            message: format!("no account with handle {actor:?} is known"),
        })
}

/// `getActor`: the person's view, `None` when `actor` is a handle we do not know.
pub async fn get(app: &AppView, params: get_actor::Params) -> Result<Option<ActorView>, XrpcError> {
    params::check(app.catalog(), &params)?;
    let Some(did) = resolve_actor(app, &params.actor).await? else {
        return Ok(None);
    };
    let pool = app.pool();

    let contributions: Vec<(String, i64, i64, i64)> = sqlx::query!(
        "SELECT currency, largest, total_paid, donations FROM appview.contribution
         WHERE did = $1 ORDER BY currency LIMIT 200",
        &did,
    )
    .map(|r| (r.currency, r.largest, r.total_paid, r.donations))
    .fetch_all(pool)
    .await?;
    let estimate_currencies: Vec<String> = sqlx::query_scalar!(
        r#"SELECT DISTINCT r.currency AS "currency!" FROM appview.estimate_state e
         JOIN appview.record r ON r.uri = e.uri
         WHERE e.did = $1 AND e.current AND r.currency IS NOT NULL LIMIT 200"#,
        &did,
    )
    .fetch_all(pool)
    .await?;
    let counts: (i64, i64, i64) = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM appview.proposal_state WHERE did = $1) AS "proposals!",
             (SELECT count(*) FROM appview.estimate_state WHERE did = $1 AND current)
                 AS "estimates!",
             (SELECT count(*) FROM appview.escrow_pledge
              WHERE backer = $1 AND state IN ('held', 'paid')) AS "pledges!""#,
        &did,
    )
    .map(|r| (r.proposals, r.estimates, r.pledges))
    .fetch_one(pool)
    .await?;

    let mut caps: BTreeMap<String, i64> = BTreeMap::new();
    // Each currency has its own newcomer floor (stored codes are well-formed; USD is only a
    // fallback that keeps this total).
    let cap = |currency: &str, largest: Option<i64>| {
        estimate_cap(largest, Currency::parse(currency).unwrap_or(Currency::USD))
    };
    for currency in estimate_currencies {
        let value = cap(&currency, None);
        caps.insert(currency, value);
    }
    for (currency, largest, _, _) in &contributions {
        caps.insert(currency.clone(), cap(currency, Some(*largest)));
    }
    let mut handles = hydrate::handles(pool, [did.as_str()]).await?;
    Ok(Some(ActorView {
        handle: handles.remove(&did),
        did,
        contributions: contributions
            .into_iter()
            .map(|(currency, largest, paid, donations)| ContributionSummary {
                currency,
                largest_successful: largest.max(0),
                total_paid: paid.max(0),
                donations: donations.max(0),
            })
            .collect(),
        estimate_caps: caps
            .into_iter()
            .take(200)
            .map(|(currency, cap)| EstimateCap {
                currency,
                cap: cap.min(100_000_000_000),
            })
            .collect(),
        proposal_count: counts.0,
        estimate_count: counts.1,
        pledge_count: counts.2,
    }))
}
