//! `/person/{handle or did}`: what someone has contributed, their estimate cap, and the
//! projects they maintain.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ActorRef;
use greenlight_lexicon::fund::greenlight::{get_actor, list_projects, list_retainer_offers};

use super::viewer::Viewer;
use crate::display::{actor_name, money};
use crate::embed::{page_path, Kind};
use crate::html::Markup;
use crate::{xrpc, AppView};

/// `GET /person/{actor}`.
pub async fn page(
    State(app): State<AppView>,
    Path(actor): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let viewer = Viewer::load(&app, &headers, &query).await;
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
    // One offer is enough to know whether to link to them; the link is not worth failing
    // the page over.
    let offers = list_retainer_offers::Params {
        maintainer: Some(did.clone()),
        project: None,
        limit: Some(1),
        cursor: None,
    };
    let has_offers = match xrpc::retainers::list(&app, offers).await {
        Ok(listed) => !listed.offers.is_empty(),
        Err(error) => {
            tracing::warn!(%error, "cannot list a person's retainer offers");
            false
        }
    };

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
    if has_offers {
        m.raw("<p><a href=\"/retainers/")
            .segment(did)
            .raw("\">Retainers ")
            .text(&name)
            .raw(" offers</a></p>");
    }
    m.raw("</section>");
    if viewer.did() == Some(did.as_str()) {
        match own_records(&app, did).await {
            Ok(records) => own_activity(&mut m, &records),
            Err(error) => tracing::warn!(%error, "cannot list a person's own records"),
        }
        own_money(
            &mut m,
            &projects,
            viewer.csrf(),
            query.get("payout").map(String::as_str),
        );
    }
    viewer.respond(&headers, &name, &Markup::new(), &m)
}

/// One of a person's own records, as their page lists it.
struct OwnRecord {
    collection: String,
    subject: Option<String>,
    title: Option<String>,
    amount: Option<i64>,
    currency: Option<String>,
    receipt: Option<String>,
    uri: String,
}

/// A person's latest proposals, estimates and pledges (with what they are about).
async fn own_records(app: &AppView, did: &str) -> Result<Vec<OwnRecord>, sqlx::Error> {
    let collections = [
        greenlight_lexicon::fund::greenlight::proposal::NSID,
        greenlight_lexicon::fund::greenlight::estimate::NSID,
        greenlight_lexicon::fund::greenlight::pledge::NSID,
    ]
    .map(str::to_owned);
    let rows = sqlx::query!(
        r#"SELECT r.uri, r.collection, r.subject_uri,
                  COALESCE(r.body->>'title', s.body->>'title') AS title,
                  (r.body->>'amount')::bigint AS amount, r.body->>'currency' AS currency,
                  r.body->>'receipt' AS receipt
           FROM appview.record r
           LEFT JOIN appview.record s ON s.uri = r.subject_uri
           WHERE r.did = $1 AND r.collection = ANY($2) AND NOT r.hidden
           ORDER BY r.created_at DESC
           LIMIT 200"#,
        did,
        &collections,
    )
    .fetch_all(app.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| OwnRecord {
            collection: row.collection,
            subject: row.subject_uri,
            title: row.title,
            amount: row.amount,
            currency: row.currency,
            receipt: row.receipt,
            uri: row.uri,
        })
        .collect())
}

/// On one's own page: what one proposed, estimated and pledged (with escrow's receipts).
fn own_activity(m: &mut Markup, records: &[OwnRecord]) {
    use greenlight_lexicon::fund::greenlight::{estimate, pledge, proposal};
    for (collection, heading, empty) in [
        (
            proposal::NSID,
            "Your proposals",
            "You have not proposed anything yet.",
        ),
        (
            estimate::NSID,
            "Your estimates",
            "You have not estimated anything yet.",
        ),
        (
            pledge::NSID,
            "Your pledges",
            "You have not backed anything yet.",
        ),
    ] {
        m.raw("<section><h2>").text(heading).raw("</h2>");
        let mine: Vec<&OwnRecord> = records
            .iter()
            .filter(|r| r.collection == collection)
            .collect();
        if mine.is_empty() {
            m.raw("<p class=\"empty\">")
                .text(empty)
                .raw("</p></section>");
            continue;
        }
        m.raw("<ul class=\"list\">");
        for record in mine {
            let about = if collection == proposal::NSID {
                Some(&record.uri)
            } else {
                record.subject.as_ref()
            };
            let title = record.title.as_deref().unwrap_or("A proposal");
            m.raw("<li>");
            match about {
                Some(uri) => {
                    m.raw("<a href=\"")
                        .text(&page_path(Kind::Proposal, uri))
                        .raw("\">")
                        .text(title)
                        .raw("</a>");
                }
                None => {
                    m.text(title);
                }
            }
            if let (Some(amount), Some(currency)) = (record.amount, &record.currency) {
                m.raw(": ").text(&money(amount, currency));
            }
            if let Some(receipt) = &record.receipt {
                m.raw(" <span class=\"muted\">(escrow receipt <code>")
                    .text(receipt)
                    .raw("</code>)</span>");
            }
            m.raw("</li>");
        }
        m.raw("</ul></section>");
    }
}

/// On one's own page: money for the projects one maintains, and the payout account.
fn own_money(
    m: &mut Markup,
    projects: &[greenlight_lexicon::fund::greenlight::defs::ProjectView],
    csrf: &str,
    payout: Option<&str>,
) {
    m.raw("<section class=\"act\" aria-labelledby=\"money-h\"><h2 id=\"money-h\">Your money</h2>");
    if !projects.is_empty() {
        m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Project</th><th scope=\"col\" class=\"num\">Held in escrow</th><th scope=\"col\" class=\"num\">Paid out (before the platform fee)</th></tr></thead><tbody>");
        for project in projects {
            let currency = &project.currency;
            m.raw("<tr><td>")
                .text(&project.name)
                .raw("</td><td class=\"num\">")
                .text(&money(project.totals.pledged_held, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(project.totals.paid_out, currency))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    match payout {
        Some(status) => {
            m.raw("<p role=\"status\">Your payout account is <strong>")
                .text(status)
                .raw("</strong>.</p>");
        }
        None => {
            m.raw("<p>To be paid, connect a payout account with escrow's payment provider.</p>");
        }
    }
    super::form::open(m, "/account/payout", csrf, "Connect a payout account");
    super::form::close(m, "Connect payout account");
    m.raw("</section>");
}
