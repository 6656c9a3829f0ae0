//! `/retainers/{did}`: a maintainer's retainer offers. Each offer's tiers side by side,
//! whether the offer may be sold and why not, the clients who asked to be named, how many
//! companies retain the maintainer (named or not), the "Become a client" form for a
//! signed-in person (its posts are in `actions::retaining`), and the README badge
//! `/badge/retainers/{did}.svg` with the snippet to paste it.
//!
//! Every number here is escrow's (`appview.escrow_retainer`, followed from its feed): a
//! client's record names them only when escrow confirms the agreement (`docs/RETAINERS.md`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ActorRef;
use greenlight_lexicon::fund::greenlight::retainer_defs::{OfferView, RetainerView, TierView};
use greenlight_lexicon::fund::greenlight::{list_retainer_offers, list_retainers};
use greenlight_xrpc::XrpcError;

use super::actions::retaining;
use super::form::Filled;
use super::viewer::Viewer;
use crate::display::{actor_name, money};
use crate::embed::{page_path, Kind};
use crate::html::{path_segment, query_value, Markup};
use crate::xrpc::retainers::IN_FORCE;
use crate::{hydrate, params, xrpc, AppView};

/// The badge's colour: the project badge's teal.
const BADGE_COLOUR: &str = "#0f766e";
/// A badge moves only when an agreement starts or ends: a few minutes of caching is fine.
const BADGE_CACHE: &str = "public, max-age=300";

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
    let clients = match public_clients(&app, &did).await {
        Ok(clients) => clients,
        Err(error) => return super::error_page(&headers, &error),
    };
    let retained_by = match xrpc::retainers::clients_in_force(&app, &did).await {
        Ok(count) => count,
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
    render_clients(&mut m, &name, retained_by, &clients);
    if listed.offers.is_empty() {
        m.raw("<p class=\"empty\">")
            .text(&name)
            .raw(" offers no retainers.</p>");
    }
    for offer in &listed.offers {
        render_offer(&mut m, offer);
        become_client(&mut m, &viewer, &did, offer);
        m.raw("</section>");
    }
    if let Some(cursor) = &listed.cursor {
        m.raw("<p class=\"more\"><a rel=\"next\" href=\"/retainers/")
            .segment(&did)
            .raw("?cursor=")
            .text(&query_value(cursor))
            .raw("\">More offers →</a></p>");
    }
    render_badge_snippet(&mut m, &app.config().public_url, &did, retained_by);
    let title = format!("Retainers from {name}");
    viewer.respond(&headers, &title, &Markup::new(), &m)
}

/// The maintainer's named clients whose agreements are in force (escrow names only those
/// who asked to be listed, and only their own records name them).
async fn public_clients(app: &AppView, did: &str) -> Result<Vec<RetainerView>, XrpcError> {
    let params = list_retainers::Params {
        maintainer: Some(did.to_owned()),
        client: None,
        limit: Some(100),
        cursor: None,
    };
    let listed = xrpc::retainers::retainers(app, params).await?;
    Ok(listed
        .retainers
        .into_iter()
        .filter(|r| IN_FORCE.contains(&r.state.as_str()))
        .collect())
}

/// "Retained by N companies" (listed or not) and the clients who asked to be named.
fn render_clients(m: &mut Markup, name: &str, retained_by: i64, clients: &[RetainerView]) {
    m.raw("<section aria-labelledby=\"clients-h\"><h2 id=\"clients-h\">Clients</h2><p class=\"retained-by\">Retained by <strong>")
        .num(retained_by)
        .raw(if retained_by == 1 {
            " company"
        } else {
            " companies"
        })
        .raw("</strong>.</p>");
    if clients.is_empty() {
        if retained_by > 0 {
            m.raw("<p class=\"muted\">None of ")
                .text(name)
                .raw("'s clients asked to be named.</p>");
        }
    } else {
        m.raw("<ul class=\"list clients\">");
        for client in clients {
            let Some(who) = &client.client else { continue };
            m.raw("<li><a href=\"/person/")
                .segment(&who.did)
                .raw("\">")
                .text(&actor_name(who))
                .raw("</a> <span class=\"muted\">(")
                .text(&client.tier)
                .raw(")</span></li>");
        }
        m.raw("</ul>");
        let unnamed = retained_by - i64::try_from(clients.len()).unwrap_or(i64::MAX);
        if unnamed > 0 {
            m.raw("<p class=\"muted\">And ")
                .num(unnamed)
                .raw(" more that asked not to be named.</p>");
        }
    }
    m.raw("</section>");
}

/// The "Become a client" form for a signed-in person, a sign-in link otherwise; nothing for
/// an offer escrow would refuse to quote.
fn become_client(m: &mut Markup, viewer: &Viewer, did: &str, offer: &OfferView) {
    if !offer.authorized {
        return;
    }
    match viewer.did() {
        Some(me) if me == did => {
            m.raw(
                "<p class=\"muted\">This is your offer: clients see a form here to become one.</p>",
            );
        }
        Some(_) => retaining::render_become_client(m, offer, viewer.csrf(), &Filled::default()),
        None => {
            m.raw("<p><a href=\"/sign-in?return=")
                .text(&query_value(&format!("/retainers/{}", path_segment(did))))
                .raw("\">Sign in</a> to become a client.</p>");
        }
    }
}

/// The Markdown to show the badge in a README.
fn render_badge_snippet(m: &mut Markup, public_url: &str, did: &str, retained_by: i64) {
    let base = public_url.trim_end_matches('/');
    let did = path_segment(did);
    let message = badge_message(retained_by);
    let snippet = format!(
        "[![Retained by {message}]({base}/badge/retainers/{did}.svg)]({base}/retainers/{did})"
    );
    m.raw("<section aria-labelledby=\"badge-h\"><h2 id=\"badge-h\">Badge for your README</h2><p><img alt=\"Retained by ")
        .text(&message)
        .raw("\" src=\"/badge/retainers/")
        .text(&did)
        .raw(".svg\"></p><pre><code>")
        .text(&snippet)
        .raw("</code></pre></section>");
}

/// The badge's right-hand text.
pub fn badge_message(retained_by: i64) -> String {
    match retained_by {
        1 => "1 company".to_owned(),
        n => format!("{n} companies"),
    }
}

/// `GET /badge/retainers/{did}.svg`: "Retained by | N companies", N the maintainer's
/// agreements in force, listed or not.
pub async fn badge(
    State(app): State<AppView>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let label = "Retained by";
    let (status, body, cache) = match badge_count(&app, &file).await {
        Ok(Some(n)) => (
            StatusCode::OK,
            crate::badge::svg(label, &badge_message(n), BADGE_COLOUR),
            BADGE_CACHE,
        ),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            crate::badge::svg(label, "not found", "#4b5563"),
            "no-store",
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot count a maintainer's retainers");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                crate::badge::svg(label, "unavailable", "#4b5563"),
                "no-store",
            )
        }
    };
    let mut response = crate::conditional::respond_with_status(
        &headers,
        status,
        "image/svg+xml; charset=utf-8",
        cache,
        body,
    );
    super::no_scripts(&mut response, true);
    response
}

/// The count for `<did>.svg`; `None` when the file is not a DID's badge.
async fn badge_count(app: &AppView, file: &str) -> Result<Option<i64>, XrpcError> {
    let Some(did) = file.strip_suffix(".svg") else {
        return Ok(None);
    };
    let asked = list_retainers::Params {
        maintainer: Some(did.to_owned()),
        client: None,
        limit: None,
        cursor: None,
    };
    if params::check(app.catalog(), &asked).is_err() {
        return Ok(None);
    }
    xrpc::retainers::clients_in_force(app, did).await.map(Some)
}

/// One offer: what it covers, whether it may be sold, its tiers side by side (the caller
/// closes its `section`).
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
