//! Estimating a proposal: what a person would pay for it, capped by what they have paid
//! before (the funding crate's rule), changed or withdrawn at any time.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use greenlight_client::{records, repo, AtUri};
use greenlight_funding::{estimate_cap, Currency};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::defs::{EstimateView, ProposalView};
use greenlight_lexicon::fund::greenlight::estimate;

use super::{acting_on, after_delete, after_write, filled, form_again, problem};
use crate::embed::{page_path, Kind};
use crate::html::Markup;
use crate::pages::form::{self, Filled, Input};
use crate::AppView;

/// The most `did`'s estimate in `currency` counts, and why, in words.
pub async fn cap(app: &AppView, did: &str, currency: &str) -> (i64, String) {
    let code = Currency::parse(currency).unwrap_or(Currency::USD);
    let largest = sqlx::query_scalar!(
        "SELECT largest FROM appview.contribution WHERE did = $1 AND currency = $2",
        did,
        currency
    )
    .fetch_optional(app.pool())
    .await
    .unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read a contribution for an estimate cap");
        None
    });
    let cap = estimate_cap(largest, code);
    let floor = estimate_cap(None, code);
    let why = match largest {
        Some(largest) if largest.saturating_mul(2) > floor => format!(
            "twice your largest payment so far ({})",
            crate::display::money(largest, currency)
        ),
        _ => format!(
            "the newcomer amount in {currency}; it grows to twice your largest payment once you back or donate"
        ),
    };
    (cap, why)
}

/// The estimate form on a proposal page, or on its own after a refusal.
pub fn render(
    m: &mut Markup,
    view: &ProposalView,
    csrf: &str,
    filled: &Filled,
    cap: &(i64, String),
    current: Option<&EstimateView>,
) {
    let path = page_path(Kind::Proposal, &view.uri);
    m.raw("<section class=\"act\" aria-labelledby=\"estimate-h\"><h2 id=\"estimate-h\">")
        .raw(if current.is_some() { "Your estimate" } else { "Estimate" })
        .raw("</h2><p>What would you pay for this feature? An estimate is not a payment: it tells the maintainer what the feature is worth to people. Yours counts up to <strong>")
        .text(&crate::display::money(cap.0, &view.currency))
        .raw("</strong> (")
        .text(&cap.1)
        .raw(").</p>");
    if let Some(current) = current {
        m.raw("<p>You estimated <strong>")
            .text(&crate::display::money(current.amount, &current.currency))
            .raw("</strong>.</p>");
    }
    form::problem(m, filled);
    form::open(m, &format!("{path}/estimate"), csrf, "Estimate");
    let label = format!("Amount in {}", view.currency);
    form::field(
        m,
        filled,
        "amount",
        &label,
        Some("For example 20 or 12.50"),
        Input::Text,
        true,
    );
    form::close(
        m,
        if current.is_some() {
            "Change estimate"
        } else {
            "Estimate"
        },
    );
    if current.is_some() {
        form::open(
            m,
            &format!("{path}/estimate/withdraw"),
            csrf,
            "Withdraw estimate",
        );
        form::close(m, "Withdraw estimate");
    }
    m.raw("</section>");
}

async fn own_estimate(app: &AppView, proposal: &str, did: &str) -> Option<EstimateView> {
    let params = greenlight_lexicon::fund::greenlight::list_estimates::Params {
        proposal: proposal.to_owned(),
        limit: Some(100),
        cursor: None,
    };
    // A person has one counted estimate per proposal; older ones are superseded.
    crate::xrpc::estimates::list(app, params)
        .await
        .ok()
        .flatten()
        .and_then(|listed| {
            listed
                .estimates
                .into_iter()
                .find(|e| e.author.did == did && e.uri.starts_with(&format!("at://{did}/")))
        })
}

/// `POST /proposal/{did}/{rkey}/estimate`: estimates, or changes one's estimate.
pub async fn post(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, view) = match acting_on(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let me = acting.visitor.did.clone();
    let currency = Currency::parse(&view.currency).unwrap_or(Currency::USD);
    let amount = match currency.parse_major(filled.get("amount")) {
        Ok(amount) if amount > 0 => Some(amount),
        Ok(_) => {
            filled.refuse("amount", "Enter an amount above zero.");
            None
        }
        Err(error) => {
            filled.refuse(
                "amount",
                format!("Enter an amount in {}: {error}.", view.currency),
            );
            None
        }
    };
    let current = own_estimate(&app, &view.uri, &me).await;
    if let Some(amount) = amount {
        let record = records::estimate_record(
            StrongRef {
                uri: view.uri.clone(),
                cid: view.cid.clone(),
            },
            amount,
            &view.currency,
        );
        let written = match &current {
            // Changing an estimate replaces the record, so it keeps its place.
            Some(existing) => match AtUri::parse(&existing.uri) {
                Ok(at) if at.collection == estimate::NSID => {
                    repo::put(&acting.agent, &record, &at.rkey).await
                }
                _ => repo::create(&acting.agent, &record, None).await,
            },
            None => repo::create(&acting.agent, &record, None).await,
        };
        match written {
            Ok(written) => {
                return after_write(&app, &page_path(Kind::Proposal, &view.uri), &written).await
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let cap = cap(&app, &me, &view.currency).await;
    let mut m = Markup::new();
    render(
        &mut m,
        &view,
        &acting.visitor.csrf,
        &filled,
        &cap,
        current.as_ref(),
    );
    form_again(
        &acting.visitor,
        "Estimate",
        &page_path(Kind::Proposal, &view.uri),
        &m,
    )
}

/// `POST /proposal/{did}/{rkey}/estimate/withdraw`: deletes one's estimate record.
pub async fn withdraw(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, view) = match acting_on(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let path = page_path(Kind::Proposal, &view.uri);
    let Some(current) = own_estimate(&app, &view.uri, &acting.visitor.did).await else {
        return super::see_other(&path);
    };
    match repo::delete(&acting.agent, &current.uri).await {
        Ok(()) => after_delete(&app, &path, &current.uri).await,
        Err(error) => {
            filled.problem = Some(problem(&error));
            let cap = cap(&app, &acting.visitor.did, &view.currency).await;
            let mut m = Markup::new();
            render(
                &mut m,
                &view,
                &acting.visitor.csrf,
                &filled,
                &cap,
                Some(&current),
            );
            form_again(&acting.visitor, "Estimate", &path, &m)
        }
    }
}
