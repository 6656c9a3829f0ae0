//! `/retainers/{did}`: a maintainer's retainer offers, read-only. Each offer's tiers side by
//! side, whether the offer may be sold and why not. Nobody can become a client yet: escrow
//! does not bill retainers, so the page says so instead of offering a button that does
//! nothing (`docs/RETAINERS.md`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ActorRef;
use greenlight_lexicon::fund::greenlight::list_retainer_offers;
use greenlight_lexicon::fund::greenlight::retainer_defs::{OfferView, TierView};
use greenlight_xrpc::XrpcError;

use super::viewer::Viewer;
use crate::display::{actor_name, money};
use crate::embed::{page_path, Kind};
use crate::html::{query_value, Markup};
use crate::{hydrate, xrpc, AppView};

/// `GET /retainers/{did}`.
pub async fn page(
    State(app): State<AppView>,
    Path(did): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let viewer = Viewer::load(&app, &headers, &query).await;
    let params = list_retainer_offers::Params {
        maintainer: Some(did.clone()),
        project: None,
        limit: Some(20),
        cursor: query.get("cursor").cloned(),
    };
    let listed = match xrpc::retainers::list(&app, params).await {
        Ok(listed) => listed,
        Err(error) => return super::error_page(&headers, &error),
    };
    let handle = match listed.offers.first() {
        Some(offer) => offer.maintainer.handle.clone(),
        None => match hydrate::handles(app.pool(), [did.as_str()]).await {
            Ok(mut handles) => handles.remove(&did),
            Err(error) => return super::error_page(&headers, &XrpcError::from(error)),
        },
    };
    let name = actor_name(&ActorRef {
        did: did.clone(),
        handle,
    });

    let mut m = Markup::new();
    m.raw("<header class=\"head\"><h1>Retainers from ")
        .text(&name)
        .raw("</h1><p class=\"lede\">A retainer funds the maintenance of software a company depends on, paid every month or year for as long as the company wants it kept alive.</p><p><a href=\"/person/")
        .segment(&did)
        .raw("\">")
        .text(&name)
        .raw("'s page</a></p></header>");
    if listed.offers.is_empty() {
        m.raw("<p class=\"empty\">")
            .text(&name)
            .raw(" offers no retainers.</p>");
    }
    for offer in &listed.offers {
        render_offer(&mut m, offer);
    }
    if let Some(cursor) = &listed.cursor {
        m.raw("<p class=\"more\"><a rel=\"next\" href=\"/retainers/")
            .segment(&did)
            .raw("?cursor=")
            .text(&query_value(cursor))
            .raw("\">More offers →</a></p>");
    }
    let title = format!("Retainers from {name}");
    viewer.respond(&headers, &title, &Markup::new(), &m)
}

/// One offer: what it covers, whether it may be sold, its tiers side by side.
fn render_offer(m: &mut Markup, offer: &OfferView) {
    m.raw("<section class=\"card\"><h2>Retainer for ");
    if offer.projects.is_empty() {
        m.raw("no project");
    }
    for (i, project) in offer.projects.iter().enumerate() {
        if i > 0 {
            m.raw(", ");
        }
        match &project.name {
            Some(name) => {
                m.raw("<a href=\"")
                    .text(&page_path(Kind::Project, &project.uri))
                    .raw("\">")
                    .text(name)
                    .raw("</a>");
            }
            None => {
                m.raw("<code>").text(&project.uri).raw("</code>");
            }
        }
    }
    m.raw("</h2>");
    if offer.authorized {
        m.raw("<p class=\"notice ok\">Authorized: the maintainer may sell retainers for every project this offer covers.</p>");
    } else {
        m.raw("<p class=\"notice problem\"><strong>Not authorized.</strong> ")
            .text(
                offer
                    .refusal
                    .as_deref()
                    .unwrap_or("The offer cannot be sold."),
            )
            .raw("</p>");
    }
    m.markdown(&offer.description);
    if !offer.repositories.is_empty() {
        m.raw("<p>Repositories: ");
        for (i, repository) in offer.repositories.iter().enumerate() {
            if i > 0 {
                m.raw(", ");
            }
            m.external_link(repository, repository);
        }
        m.raw("</p>");
    }
    render_tiers(m, &offer.tiers);
    if let Some(terms) = &offer.terms_url {
        m.raw("<p>Contract terms: ")
            .external_link(terms, terms)
            .raw("</p>");
    }
    m.raw("<p class=\"muted\">Becoming a client opens when billing is available.</p></section>");
}

/// Whether a tier includes one of the structured things a client compares.
type Flag = fn(&TierView) -> bool;

/// The tiers as columns, one row per thing a client compares.
fn render_tiers(m: &mut Markup, tiers: &[TierView]) {
    m.raw("<div class=\"table\"><table class=\"tiers\"><thead><tr><td></td>");
    for tier in tiers {
        m.raw("<th scope=\"col\">").text(&tier.name).raw("</th>");
    }
    m.raw("</tr></thead><tbody><tr><th scope=\"row\">Price</th>");
    for tier in tiers {
        m.raw("<td>")
            .text(&money(tier.amount, &tier.currency))
            .raw(match tier.period.as_str() {
                "month" => " per month",
                "year" => " per year",
                _ => "",
            })
            .raw("</td>");
    }
    m.raw("</tr>");
    let flags: [(&'static str, Flag); 3] = [
        ("Risk mitigation", |t| t.included.risk_mitigation),
        ("Reciprocal access", |t| t.included.reciprocal_access),
        ("Advice", |t| t.included.advisory),
    ];
    for (label, included) in flags {
        m.raw("<tr><th scope=\"row\">").raw(label).raw("</th>");
        for tier in tiers {
            m.raw(if included(tier) {
                "<td>Included</td>"
            } else {
                "<td class=\"muted\">Not included</td>"
            });
        }
        m.raw("</tr>");
    }
    m.raw("<tr><th scope=\"row\">Also included</th>");
    for tier in tiers {
        m.raw("<td>");
        match tier.included.details.as_deref() {
            Some(details) if !details.trim().is_empty() => {
                m.markdown(details);
            }
            _ => {
                m.raw("<span class=\"muted\">Nothing else</span>");
            }
        }
        m.raw("</td>");
    }
    m.raw("</tr><tr><th scope=\"row\">Seats</th>");
    for tier in tiers {
        match tier.seat_limit {
            Some(limit) => {
                m.raw("<td>At most ")
                    .num(limit)
                    .raw(if limit == 1 { " client" } else { " clients" })
                    .raw("</td>");
            }
            None => {
                m.raw("<td>No limit</td>");
            }
        }
    }
    m.raw("</tr></tbody></table></div>");
}
