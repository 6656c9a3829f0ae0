//! `getActor`: a person's successful contributions and current estimate caps.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::Json;
use greenlight_funding::{estimate_cap, Currency};
use greenlight_xrpc::XrpcError;
use serde_json::{json, Map, Value};

use super::internal;
use super::projects::resolve_actor;
use crate::hydrate;
use crate::params::{Kind, Params};
use crate::AppView;

const NSID: &str = "fund.greenlight.getActor";

/// `GET /xrpc/fund.greenlight.getActor`.
pub async fn get_actor(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    get(&app, query.as_deref()).await.map(Json)
}

/// `getActor` for a query string: the output the method sends (pages use it too).
pub(crate) async fn get(app: &AppView, query: Option<&str>) -> Result<Value, XrpcError> {
    let params = Params::parse(app.catalog(), NSID, query, &[("actor", Kind::Str)])?;
    let actor = params.str("actor").unwrap_or_default();
    let did = resolve_actor(app, actor)
        .await?
        .ok_or_else(|| XrpcError::Method {
            name: "NotFound",
            message: format!("no account with handle {actor:?} is known"),
        })?;
    let pool = app.pool();

    let contributions: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT currency, largest, total_paid, donations FROM appview.contribution
         WHERE did = $1 ORDER BY currency LIMIT 200",
    )
    .bind(&did)
    .fetch_all(pool)
    .await
    .map_err(internal)?;
    let estimate_currencies: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT r.currency FROM appview.estimate_state e
         JOIN appview.record r ON r.uri = e.uri
         WHERE e.did = $1 AND e.current AND r.currency IS NOT NULL LIMIT 200",
    )
    .bind(&did)
    .fetch_all(pool)
    .await
    .map_err(internal)?;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT
             (SELECT count(*) FROM appview.proposal_state WHERE did = $1),
             (SELECT count(*) FROM appview.estimate_state WHERE did = $1 AND current),
             (SELECT count(*) FROM appview.escrow_pledge
              WHERE backer = $1 AND state IN ('held', 'paid'))",
    )
    .bind(&did)
    .fetch_one(pool)
    .await
    .map_err(internal)?;

    let mut caps: BTreeMap<String, i64> = BTreeMap::new();
    // Each currency has its own newcomer floor (stored codes are well-formed; USD is only a
    // fallback that keeps this total).
    let cap = |currency: &str, largest: Option<i64>| {
        estimate_cap(largest, Currency::parse(currency).unwrap_or(Currency::USD))
    };
    for (currency,) in estimate_currencies {
        let value = cap(&currency, None);
        caps.insert(currency, value);
    }
    for (currency, largest, _, _) in &contributions {
        caps.insert(currency.clone(), cap(currency, Some(*largest)));
    }
    let handles = hydrate::handles(pool, [did.as_str()])
        .await
        .map_err(internal)?;
    let mut view = Map::new();
    view.insert("did".into(), json!(did));
    if let Some(handle) = handles.get(&did) {
        view.insert("handle".into(), json!(handle));
    }
    view.insert(
        "contributions".into(),
        contributions
            .iter()
            .map(|(currency, largest, paid, donations)| {
                json!({
                    "currency": currency,
                    "largestSuccessful": largest.max(&0),
                    "totalPaid": paid.max(&0),
                    "donations": donations.max(&0),
                })
            })
            .collect(),
    );
    view.insert(
        "estimateCaps".into(),
        caps.iter()
            .take(200)
            .map(
                |(currency, cap)| json!({ "currency": currency, "cap": cap.min(&100_000_000_000) }),
            )
            .collect(),
    );
    view.insert("proposalCount".into(), json!(counts.0));
    view.insert("estimateCount".into(), json!(counts.1));
    view.insert("pledgeCount".into(), json!(counts.2));
    Ok(Value::Object(view))
}
