//! `/person/{handle or did}`: what someone has contributed, their estimate cap, and the
//! projects they maintain.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ActorRef;
use greenlight_lexicon::fund::greenlight::{get_actor, list_projects};

use super::layout::page as frame;
use crate::display::{actor_name, money};
use crate::embed::{page_path, Kind};
use crate::html::Markup;
use crate::{xrpc, AppView};

/// `GET /person/{actor}`.
pub async fn page(
    State(app): State<AppView>,
    Path(actor): Path<String>,
    headers: HeaderMap,
) -> Response {
    let person = match xrpc::actor::get(&app, get_actor::Params { actor }).await {
        Ok(Some(person)) => person,
        Ok(None) => return super::not_found(&headers),
        Err(error) => return super::error_page(&headers, &error),
    };
    let did = &person.did;
    let maintained = list_projects::Params {
        maintainer: Some(did.clone()),
        limit: Some(100),
        cursor: None,
    };
    let projects = match xrpc::projects::list(&app, maintained).await {
        Ok(listed) => listed.projects,
        Err(error) => return super::error_page(&headers, &error),
    };
    let name = actor_name(&ActorRef {
        did: did.clone(),
        handle: person.handle.clone(),
    });

    let mut m = Markup::new();
    m.raw("<header class=\"head\"><h1>")
        .text(&name)
        .raw("</h1><p class=\"byline muted\"><code>")
        .text(did)
        .raw("</code></p></header><dl class=\"stats\"><div><dt>Proposals</dt><dd>")
        .num(person.proposal_count)
        .raw("</dd></div><div><dt>Estimates</dt><dd>")
        .num(person.estimate_count)
        .raw("</dd></div><div><dt>Pledges</dt><dd>")
        .num(person.pledge_count)
        .raw("</dd></div></dl>");

    m.raw("<section aria-labelledby=\"contributions\"><h2 id=\"contributions\">Contributions</h2>");
    let contributions = &person.contributions;
    if contributions.is_empty() {
        m.raw("<p class=\"empty\">No paid pledges or donations yet.</p>");
    } else {
        m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Currency</th><th scope=\"col\" class=\"num\">Largest</th><th scope=\"col\" class=\"num\">Pledges paid</th><th scope=\"col\" class=\"num\">Donations</th></tr></thead><tbody>");
        for c in contributions {
            let currency = &c.currency;
            m.raw("<tr><td>")
                .text(currency)
                .raw("</td><td class=\"num\">")
                .text(&money(c.largest_successful, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(c.total_paid, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(c.donations, currency))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    m.raw("</section><section aria-labelledby=\"cap\"><h2 id=\"cap\">Estimate cap</h2><p>So that nobody can inflate demand with promises, an estimate counts at most twice the person's largest successful contribution in that currency, and at least 25 of it ($25, €25, ...).</p>");
    let caps = &person.estimate_caps;
    if caps.is_empty() {
        m.raw("<p>")
            .text(&name)
            .raw("'s estimates count up to ")
            .text(&money(
                greenlight_funding::estimate_cap(None, greenlight_funding::Currency::USD),
                "USD",
            ))
            .raw(".</p>");
    } else {
        m.raw("<ul class=\"list\">");
        for cap in caps {
            m.raw("<li>Estimates in ")
                .text(&cap.currency)
                .raw(" count up to <strong>")
                .text(&money(cap.cap, &cap.currency))
                .raw("</strong></li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section><section aria-labelledby=\"maintains\"><h2 id=\"maintains\">Maintains</h2>");
    if projects.is_empty() {
        m.raw("<p class=\"empty\">No projects on Greenlight.</p>");
    } else {
        m.raw("<ul class=\"list\">");
        for project in &projects {
            m.raw("<li><a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("\">")
                .text(&project.name)
                .raw("</a></li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section>");
    super::respond(&headers, StatusCode::OK, frame(&name, &Markup::new(), &m))
}
