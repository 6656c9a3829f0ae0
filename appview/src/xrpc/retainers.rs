//! `getRetainerOffer`, `listRetainerOffers` and `listRetainers` (see `docs/RETAINERS.md`).
//!
//! Offers are read from the indexed `fund.greenlight.retainerOffer` records. Whether one is
//! authorized is decided here, at read time, by the funding crate's `check_offer` over what
//! the AppView knows now about every covered project (owner, listed maintainers and their
//! acceptances, proof of control): those change without the offer changing, so the verdict
//! cannot be stored with the record.
//!
//! Agreements and money come from escrow's public feeds, never from records: client counts
//! are the agreements in force (active, past due or cancelling) in `appview.escrow_retainer`,
//! listed or not. A client's `fund.greenlight.retainer` record is listed only when escrow
//! confirms it: its `receipt` is an agreement of that offer whose client escrow names (it
//! names only clients who asked to be listed) and that client is the record's author, so a
//! record claiming someone else's agreement is not listed. A maintainer's totals are summed
//! from `appview.escrow_entry` by the account retainer money is paid into
//! (`payable:<maintainer>`), over entries that belong to an agreement: the ledger feed's own
//! numbers, so they agree with it to the cent whoever is named.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use greenlight_funding::retainer::AgreementState;
use greenlight_funding::{
    check_offer, CoveredProject, Currency, Included, OfferInput, OfferVerdict, ProjectRecord,
    TierRecord,
};
use greenlight_lexicon::fund::greenlight::defs::{ProjectProof, ProjectRef};
use greenlight_lexicon::fund::greenlight::project::Project;
use greenlight_lexicon::fund::greenlight::retainer_defs::{
    OfferView, RetainerTotals, RetainerView, TierView,
};
use greenlight_lexicon::fund::greenlight::retainer_offer::{self, RetainerOffer};
use greenlight_lexicon::fund::greenlight::{
    get_retainer_offer, list_retainer_offers, list_retainers,
};
use greenlight_xrpc::XrpcError;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::QueryBuilder;

use super::found;
use crate::cursor::{Key, Keyset};
use crate::hydrate;
use crate::params;
use crate::proof;
use crate::views::{self, datetime};
use crate::AppView;

/// The offer collection.
const OFFER: &str = retainer_offer::NSID;

/// The retainer collection (clients' records).
const RETAINER: &str = greenlight_lexicon::fund::greenlight::retainer::NSID;

/// The agreement states in which a client holds a seat and counts as a client: the funding
/// crate's rule (`AgreementState::is_in_force`), as the feed spells the states.
pub const IN_FORCE: [&str; 3] = [
    AgreementState::Active.as_str(),
    AgreementState::PastDue { failed_retries: 0 }.as_str(),
    AgreementState::Cancelling.as_str(),
];

/// The lexicon's `maxLength` of `offerView.refusal`.
const MAX_REFUSAL: usize = 1000;

/// An indexed offer record.
struct OfferRow {
    uri: String,
    did: String,
    cid: String,
    body: Value,
    created_at: DateTime<Utc>,
    indexed_at: DateTime<Utc>,
}

impl hydrate::RecordRow for OfferRow {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn body(&self) -> &Value {
        &self.body
    }
}

/// What the AppView knows about a covered project, for the rules and the view.
struct Covered {
    rule: CoveredProject,
    reference: ProjectRef,
}

/// Hydrates and presents offers in the skeleton's order (URIs no longer visible drop out).
async fn present(app: &AppView, uris: &[&str]) -> Result<Vec<OfferView>, XrpcError> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let pool = app.pool();
    let rows: Vec<OfferRow> = sqlx::query_as!(
        OfferRow,
        "SELECT uri, did, cid, body, created_at, indexed_at FROM appview.record
         WHERE uri = ANY($1) AND collection = $2 AND NOT hidden",
        uris as &[&str],
        OFFER,
    )
    .fetch_all(pool)
    .await?;
    let offers: HashMap<&str, (&OfferRow, RetainerOffer)> = hydrate::with_records(&rows);
    let project_uris: Vec<&str> = offers
        .values()
        .flat_map(|(_, offer)| offer.projects.iter().flatten())
        .map(|project| project.uri.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let covered = covered_projects(app, &project_uris).await?;
    let handles = hydrate::handles(pool, offers.values().map(|(row, _)| row.did.as_str())).await?;
    let seats = seats(app, uris).await?;
    Ok(uris
        .iter()
        .filter_map(|uri| offers.get(uri))
        .filter_map(|(row, offer)| offer_view(row, offer, &covered, &handles, &seats))
        .collect())
}

/// Agreements in force per offer and tier name, listed or not, as escrow's feed reports them.
type Seats = HashMap<(String, String), i64>;

/// The agreements in force on these offers, per offer and tier.
async fn seats(app: &AppView, offers: &[&str]) -> Result<Seats, XrpcError> {
    let rows = sqlx::query!(
        r#"SELECT offer, tier, count(*) AS "count!" FROM appview.escrow_retainer
           WHERE offer = ANY($1) AND state = ANY($2)
           GROUP BY offer, tier"#,
        offers as &[&str],
        &IN_FORCE.map(str::to_owned),
    )
    .fetch_all(app.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.offer, row.tier), row.count))
        .collect())
}

/// How many of a maintainer's agreements are in force (every offer and tier, listed or
/// not): the N of "Retained by N companies" on their page and badge.
pub async fn clients_in_force(app: &AppView, maintainer: &str) -> Result<i64, XrpcError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM appview.escrow_retainer
           WHERE maintainer = $1 AND state = ANY($2)"#,
        maintainer,
        &IN_FORCE.map(str::to_owned),
    )
    .fetch_one(app.pool())
    .await?)
}

/// The covered projects among `uris` that are visible, keyed by URI, with their owner,
/// consenting maintainers and proof as the project views show them.
async fn covered_projects(
    app: &AppView,
    uris: &[&str],
) -> Result<HashMap<String, Covered>, XrpcError> {
    let rows = hydrate::projects(app.pool(), uris).await?;
    let records: HashMap<&str, (&hydrate::ProjectRow, Project)> = hydrate::with_records(&rows);
    let proofs: HashMap<String, ProjectProof> = proof::proofs(app.pool(), uris).await?;
    Ok(records
        .into_iter()
        .map(|(uri, (row, record))| {
            let verified = proofs.get(uri).is_some_and(|proof| proof.verified);
            let currency = record
                .currency
                .as_deref()
                .and_then(|code| Currency::parse(code).ok())
                .unwrap_or(Currency::USD);
            let covered = Covered {
                reference: ProjectRef {
                    uri: uri.to_owned(),
                    name: Some(record.name.clone()),
                    verified: Some(verified),
                },
                rule: CoveredProject::Known {
                    uri: uri.to_owned(),
                    record: ProjectRecord {
                        owner: row.did.clone(),
                        maintainers: views::maintainers(&record).map(str::to_owned).collect(),
                        accepted: row.accepted.clone(),
                        currency,
                    },
                    repository: record.repository.clone(),
                    verified,
                },
            };
            (uri.to_owned(), covered)
        })
        .collect())
}

/// `retainerDefs#offerView` of an offer record; `None` (logged) for a tier whose currency
/// does not parse, which the indexer's rules never let through.
fn offer_view(
    row: &OfferRow,
    offer: &RetainerOffer,
    covered: &HashMap<String, Covered>,
    handles: &HashMap<String, String>,
    seats: &Seats,
) -> Option<OfferView> {
    let mut tiers = Vec::with_capacity(offer.tiers.len());
    for tier in &offer.tiers {
        let Ok(currency) = Currency::parse(&tier.currency) else {
            tracing::error!(uri = %row.uri, currency = %tier.currency, "an indexed offer has a tier in an unknown currency");
            return None;
        };
        tiers.push(TierRecord {
            name: tier.name.clone(),
            amount: tier.amount,
            currency,
            period: tier.period.clone(),
            included: Included {
                risk_mitigation: tier.included.risk_mitigation,
                reciprocal_access: tier.included.reciprocal_access,
                advisory: tier.included.advisory,
            },
            seat_limit: tier.seat_limit,
        });
    }
    let projects = offer.projects.iter().flatten();
    let input = OfferInput {
        author: row.did.clone(),
        projects: projects
            .clone()
            .map(|project| match covered.get(&project.uri) {
                Some(known) => known.rule.clone(),
                None => CoveredProject::Unknown {
                    uri: project.uri.clone(),
                },
            })
            .collect(),
        repositories: offer.repositories.clone().unwrap_or_default(),
        tiers,
    };
    let verdict = check_offer(&input);
    Some(OfferView {
        uri: row.uri.clone(),
        cid: row.cid.clone(),
        maintainer: views::actor_ref(&row.did, handles),
        projects: projects
            .map(|project| match covered.get(&project.uri) {
                Some(known) => known.reference.clone(),
                // Deleted, hidden or not indexed yet: named by URI only, as proposals do.
                None => ProjectRef {
                    uri: project.uri.clone(),
                    name: None,
                    verified: None,
                },
            })
            .collect(),
        repositories: input.repositories.clone(),
        description: offer.description.clone(),
        tiers: offer
            .tiers
            .iter()
            .map(|tier| TierView {
                name: tier.name.clone(),
                amount: tier.amount,
                currency: tier.currency.clone(),
                period: tier.period.clone(),
                included: tier.included.clone(),
                seat_limit: tier.seat_limit,
                active_clients: seats
                    .get(&(row.uri.clone(), tier.name.clone()))
                    .copied()
                    .unwrap_or(0),
            })
            .collect(),
        // The lexicon requires at least one tier, and the rules one currency for all.
        currency: offer.tiers.first()?.currency.clone(),
        terms_url: offer.terms_url.clone(),
        authorized: verdict.is_sellable(),
        refusal: refusal(&verdict),
        // Every tier's agreements, also those on a tier the offer no longer has.
        client_count: seats
            .iter()
            .filter(|((offer, _), _)| *offer == row.uri)
            .map(|(_, count)| count)
            .sum(),
        indexed_at: datetime(row.indexed_at),
        created_at: datetime(row.created_at),
    })
}

/// Why an offer may not be sold, for people: every problem, tiers first; cut to the
/// lexicon's length at a character boundary.
fn refusal(verdict: &OfferVerdict) -> Option<String> {
    let reasons: Vec<String> = verdict
        .tier_problems
        .iter()
        .map(ToString::to_string)
        .chain(verdict.authority_problems.iter().map(ToString::to_string))
        .collect();
    if reasons.is_empty() {
        return None;
    }
    let mut text = reasons.join("; ");
    if text.len() > MAX_REFUSAL {
        let mut end = MAX_REFUSAL - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    Some(text)
}

/// Never sends what the lexicon does not allow: that is a bug to fix, not to ship.
fn checked<T: Serialize>(app: &AppView, nsid: &str, output: T) -> Result<T, XrpcError> {
    let value = serde_json::to_value(&output).map_err(|error| {
        tracing::error!(%error, nsid, "cannot encode a response");
        XrpcError::Internal
    })?;
    if let Err(error) = app.catalog().validate_output(nsid, &value) {
        tracing::error!(%error, nsid, "response does not match its lexicon");
        return Err(XrpcError::Internal);
    }
    Ok(output)
}

/// `GET /xrpc/fund.greenlight.getRetainerOffer`.
pub async fn get_retainer_offer(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<OfferView>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    found(get(&app, params).await?, "the retainer offer")
}

/// `getRetainerOffer`: the offer's view, `None` when it is not indexed (or hidden).
pub async fn get(
    app: &AppView,
    params: get_retainer_offer::Params,
) -> Result<Option<OfferView>, XrpcError> {
    params::check(app.catalog(), &params)?;
    match present(app, &[params.uri.as_str()]).await?.pop() {
        Some(view) => Ok(Some(checked(app, get_retainer_offer::NSID, view)?)),
        None => Ok(None),
    }
}

/// `GET /xrpc/fund.greenlight.listRetainerOffers`.
pub async fn list_retainer_offers(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_retainer_offers::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    list(&app, params).await.map(Json)
}

/// Offers newest first.
const NEWEST: Keyset = Keyset {
    name: "retainerOffers",
    key: Key::Time,
    key_sql: "o.created_at",
    uri_sql: "o.uri",
};

/// `listRetainerOffers`: a maintainer's offers, or the offers covering a project, newest
/// first.
pub async fn list(
    app: &AppView,
    params: list_retainer_offers::Params,
) -> Result<list_retainer_offers::Output, XrpcError> {
    params::check(app.catalog(), &params)?;
    let limit = params::limit(params.limit);
    let after = NEWEST.decode(params.cursor.as_deref())?;
    let mut sql =
        QueryBuilder::new("SELECT o.uri, o.created_at FROM appview.record o WHERE o.collection = ");
    sql.push_bind(OFFER).push(" AND NOT o.hidden");
    match (params.maintainer, params.project) {
        (Some(maintainer), None) => {
            sql.push(" AND o.did = ").push_bind(maintainer);
        }
        (None, Some(project)) => {
            // Containment, so the record's own strongRef (uri and cid) matches by uri alone.
            sql.push(" AND o.body->'projects' @> ")
                .push_bind(json!([{ "uri": project }]));
        }
        _ => {
            return Err(XrpcError::InvalidRequest(
                "give exactly one of maintainer and project".into(),
            ))
        }
    }
    NEWEST.push_page(&mut sql, after, limit);
    let rows: Vec<(String, DateTime<Utc>)> = sql.build_query_as().fetch_all(app.pool()).await?;
    let (page, cursor) = NEWEST.page(rows, limit, |(uri, at)| (at.timestamp_micros(), uri));
    let uris: Vec<&str> = page.iter().map(|(uri, _)| uri.as_str()).collect();
    let offers = present(app, &uris).await?;
    checked(
        app,
        list_retainer_offers::NSID,
        list_retainer_offers::Output { cursor, offers },
    )
}

/// `GET /xrpc/fund.greenlight.listRetainers`.
pub async fn list_retainers(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_retainers::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    retainers(&app, params).await.map(Json)
}

/// Clients' records, newest first.
const RETAINERS: Keyset = Keyset {
    name: "retainers",
    key: Key::Time,
    key_sql: "r.created_at",
    uri_sql: "r.uri",
};

/// A client's record joined to the agreement escrow confirms for it.
#[derive(sqlx::FromRow)]
struct RetainerRow {
    uri: String,
    cid: String,
    did: String,
    created_at: DateTime<Utc>,
    indexed_at: DateTime<Utc>,
    offer: String,
    maintainer: String,
    tier: String,
    amount: i64,
    currency: String,
    period: String,
    state: String,
    current_period_ends_at: Option<DateTime<Utc>>,
    paid_total: i64,
}

/// `listRetainers`: a maintainer's named clients with totals per currency, or a client's own
/// retainers; newest record first. Only records escrow confirms are listed (module docs).
pub async fn retainers(
    app: &AppView,
    params: list_retainers::Params,
) -> Result<list_retainers::Output, XrpcError> {
    params::check(app.catalog(), &params)?;
    let limit = params::limit(params.limit);
    let after = RETAINERS.decode(params.cursor.as_deref())?;
    let mut sql = QueryBuilder::new(
        "SELECT r.uri, r.cid, r.did, r.created_at, r.indexed_at, e.offer, e.maintainer, e.tier,
             e.amount, e.currency, e.period, e.state, e.current_period_ends_at,
             (SELECT coalesce(sum(x.amount), 0) FROM appview.escrow_entry x
              WHERE x.agreement = e.agreement AND x.kind = 'retainer_payment'
                AND x.state = 'posted')::int8 AS paid_total
         FROM appview.record r
         JOIN appview.escrow_retainer e ON e.agreement = r.body->>'receipt'
             AND e.client = r.did AND e.offer = r.subject_uri
         WHERE r.collection = ",
    );
    sql.push_bind(RETAINER).push(" AND NOT r.hidden");
    // One listing per agreement: a client who wrote several records for it is shown by the
    // newest.
    sql.push(
        " AND NOT EXISTS (SELECT 1 FROM appview.record o WHERE o.collection = r.collection
             AND o.did = r.did AND o.body->>'receipt' = r.body->>'receipt'
             AND o.subject_uri = r.subject_uri AND NOT o.hidden
             AND (o.created_at, o.uri) > (r.created_at, r.uri))",
    );
    let maintainer = match (params.maintainer, params.client) {
        (Some(maintainer), None) => {
            sql.push(" AND e.maintainer = ")
                .push_bind(maintainer.clone());
            Some(maintainer)
        }
        (None, Some(client)) => {
            sql.push(" AND r.did = ").push_bind(client);
            None
        }
        _ => {
            return Err(XrpcError::InvalidRequest(
                "give exactly one of maintainer and client".into(),
            ))
        }
    };
    RETAINERS.push_page(&mut sql, after, limit);
    let rows: Vec<RetainerRow> = sql.build_query_as().fetch_all(app.pool()).await?;
    let (page, cursor) = RETAINERS.page(rows, limit, |row| {
        (row.created_at.timestamp_micros(), row.uri.as_str())
    });
    let handles = hydrate::handles(
        app.pool(),
        page.iter()
            .flat_map(|row| [row.did.as_str(), row.maintainer.as_str()]),
    )
    .await?;
    let retainers = page
        .iter()
        .map(|row| RetainerView {
            uri: row.uri.clone(),
            cid: row.cid.clone(),
            // Escrow names only clients who asked to be listed, and the join asks that it
            // names this record's author.
            client: Some(views::actor_ref(&row.did, &handles)),
            offer: row.offer.clone(),
            maintainer: Some(views::actor_ref(&row.maintainer, &handles)),
            tier: row.tier.clone(),
            amount: Some(row.amount),
            currency: Some(row.currency.clone()),
            period: Some(row.period.clone()),
            state: row.state.clone(),
            listed_publicly: true,
            paid_total: Some(row.paid_total),
            current_period_ends_at: row.current_period_ends_at.map(datetime),
            created_at: datetime(row.created_at),
            indexed_at: datetime(row.indexed_at),
        })
        .collect();
    let totals = match maintainer {
        Some(maintainer) => Some(totals(app, &maintainer).await?),
        None => None,
    };
    checked(
        app,
        list_retainers::NSID,
        list_retainers::Output {
            cursor,
            retainers,
            totals,
        },
    )
}

/// A maintainer's retainer income per currency (module docs): agreements in force from the
/// retainer-states feed, money from the ledger feed's posted entries of agreements paid
/// into `payable:<maintainer>` (payments credit it; the period's fee and payout debit it).
pub async fn totals(app: &AppView, maintainer: &str) -> Result<Vec<RetainerTotals>, XrpcError> {
    let account = format!("payable:{maintainer}");
    let rows = sqlx::query!(
        r#"WITH agreements AS (
               SELECT currency,
                   count(*) FILTER (WHERE state = ANY($3)) AS active,
                   count(*) FILTER (WHERE state = ANY($3) AND client IS NOT NULL) AS listed,
                   coalesce(sum(amount * CASE period WHEN 'month' THEN 12 WHEN 'year' THEN 1
                                                     ELSE 0 END)
                            FILTER (WHERE state = ANY($3)), 0) AS run_rate
               FROM appview.escrow_retainer WHERE maintainer = $1
               GROUP BY currency
           ), money AS (
               SELECT currency,
                   coalesce(sum(amount) FILTER (WHERE kind = 'retainer_payment'
                                                AND credit_account = $2), 0) AS paid,
                   coalesce(sum(amount) FILTER (WHERE kind = 'fee' AND debit_account = $2), 0)
                       AS fees,
                   coalesce(sum(amount) FILTER (WHERE kind = 'payout' AND debit_account = $2), 0)
                       AS paid_out
               FROM appview.escrow_entry
               WHERE agreement IS NOT NULL AND state = 'posted'
                 AND (credit_account = $2 OR debit_account = $2)
               GROUP BY currency
           )
           SELECT currency AS "currency!",
               coalesce(a.active, 0)::int8 AS "active!",
               coalesce(a.listed, 0)::int8 AS "listed!",
               coalesce(a.run_rate, 0)::int8 AS "run_rate!",
               coalesce(m.paid, 0)::int8 AS "paid!",
               coalesce(m.fees, 0)::int8 AS "fees!",
               coalesce(m.paid_out, 0)::int8 AS "paid_out!"
           FROM agreements a FULL JOIN money m USING (currency)
           ORDER BY currency"#,
        maintainer,
        account,
        &IN_FORCE.map(str::to_owned),
    )
    .fetch_all(app.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| RetainerTotals {
            currency: row.currency,
            active_clients: row.active,
            listed_clients: row.listed,
            paid: row.paid,
            fees: row.fees,
            paid_out: row.paid_out,
            annual_run_rate: Some(row.run_rate),
        })
        .collect())
}
