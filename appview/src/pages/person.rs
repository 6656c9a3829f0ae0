//! `/person/{handle or did}`: what someone has contributed, their estimate cap, and the
//! projects they maintain.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::layout::page as frame;
use crate::display::{actor_name, int, money, text};
use crate::embed::{page_path, Kind};
use crate::html::{query_value, Markup};
use crate::{xrpc, AppView};

/// `GET /person/{actor}`.
pub async fn page(
    State(app): State<AppView>,
    Path(actor): Path<String>,
    headers: HeaderMap,
) -> Response {
    let query = format!("actor={}", query_value(&actor));
    let person = match xrpc::actor::get(&app, Some(&query)).await {
        Ok(person) => person,
        Err(error) => return super::error_page(&headers, &error),
    };
    let did = text(&person, "/did");
    let projects = match xrpc::projects::list(
        &app,
        Some(&format!("maintainer={}&limit=100", query_value(did))),
    )
    .await
    {
        Ok(listed) => listed
            .get("projects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Err(error) => return super::error_page(&headers, &error),
    };
    let name = actor_name(&person);

    let mut m = Markup::new();
    m.raw("<header class=\"head\"><h1>")
        .text(&name)
        .raw("</h1><p class=\"byline muted\"><code>")
        .text(did)
        .raw("</code></p></header><dl class=\"stats\"><div><dt>Proposals</dt><dd>")
        .num(int(&person, "/proposalCount"))
        .raw("</dd></div><div><dt>Estimates</dt><dd>")
        .num(int(&person, "/estimateCount"))
        .raw("</dd></div><div><dt>Pledges</dt><dd>")
        .num(int(&person, "/pledgeCount"))
        .raw("</dd></div></dl>");

    m.raw("<section aria-labelledby=\"contributions\"><h2 id=\"contributions\">Contributions</h2>");
    let contributions = person
        .get("contributions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if contributions.is_empty() {
        m.raw("<p class=\"empty\">No paid pledges or donations yet.</p>");
    } else {
        m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Currency</th><th scope=\"col\" class=\"num\">Largest</th><th scope=\"col\" class=\"num\">Pledges paid</th><th scope=\"col\" class=\"num\">Donations</th></tr></thead><tbody>");
        for c in &contributions {
            let currency = text(c, "/currency");
            m.raw("<tr><td>")
                .text(currency)
                .raw("</td><td class=\"num\">")
                .text(&money(int(c, "/largestSuccessful"), currency))
                .raw("</td><td class=\"num\">")
                .text(&money(int(c, "/totalPaid"), currency))
                .raw("</td><td class=\"num\">")
                .text(&money(int(c, "/donations"), currency))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    m.raw("</section><section aria-labelledby=\"cap\"><h2 id=\"cap\">Estimate cap</h2><p>So that nobody can inflate demand with promises, an estimate counts at most twice the person's largest successful contribution in that currency, and at least 25 of it ($25, €25, ...).</p>");
    let caps = person
        .get("estimateCaps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
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
        for cap in &caps {
            m.raw("<li>Estimates in ")
                .text(text(cap, "/currency"))
                .raw(" count up to <strong>")
                .text(&money(int(cap, "/cap"), text(cap, "/currency")))
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
                .text(&page_path(Kind::Project, text(project, "/uri")))
                .raw("\">")
                .text(text(project, "/name"))
                .raw("</a></li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section>");
    super::respond(&headers, StatusCode::OK, frame(&name, &Markup::new(), &m))
}
