//! `/project/{did}/{rkey}`: a project, who maintains it, its totals and its proposals.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ProjectProof;
use greenlight_lexicon::fund::greenlight::list_proposals;

use super::actions;
use super::form::Filled;
use super::layout::{money_rules, person_link, proposal_card};
use super::viewer::Viewer;
use crate::display::{moment, money};
use crate::embed::{self, page_path, Kind};
use crate::html::Markup;
use crate::{oembed, xrpc, AppView};

/// `GET /project/{did}/{rkey}`.
pub async fn page(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(uri) = embed::record_uri(Kind::Project, &did, &rkey) else {
        return super::not_found(&headers);
    };
    let query_map: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let viewer = Viewer::load(&app, &headers, &query_map).await;
    let project = match embed::load_project(&app, &uri).await {
        Ok(Some(project)) => project,
        Ok(None) => return viewer.not_yet(&headers, &uri),
        Err(error) => return super::error_page(&headers, &error),
    };
    let sort = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "sort")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "top".to_owned());
    let by_project = list_proposals::Params {
        project: Some(uri.clone()),
        repository: None,
        stage: None,
        sort: Some(sort.clone()),
        limit: Some(100),
        cursor: None,
    };
    let proposals = match xrpc::proposals::list(&app, by_project).await {
        Ok(listed) => listed.proposals,
        Err(error) => return super::error_page(&headers, &error),
    };

    let public_url = &app.config().public_url;
    let name = &project.name;
    let currency = &project.currency;
    let totals = &project.totals;
    let path = page_path(Kind::Project, &uri);
    let page_url = format!("{public_url}{path}");
    let mut head = Markup::new();
    head.raw("<link rel=\"alternate\" type=\"application/json+oembed\" href=\"")
        .text(&oembed::discovery_url(public_url, &page_url))
        .raw("\" title=\"")
        .text(name)
        .raw("\">");

    let mut m = Markup::new();
    m.raw("<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/\">Explore</a></nav><header class=\"head\"><h1>")
        .text(name)
        .raw("</h1><p class=\"byline\">Maintained by ");
    person_link(&mut m, &project.owner);
    for maintainer in &project.maintainers {
        m.raw(", ");
        person_link(&mut m, maintainer);
    }
    m.raw("</p>");
    if let Some(invited) = project
        .invited_maintainers
        .as_ref()
        .filter(|list| !list.is_empty())
    {
        m.raw("<p class=\"byline\">Invited, not yet accepted (their status posts do not count): ");
        for (i, person) in invited.iter().enumerate() {
            if i > 0 {
                m.raw(", ");
            }
            person_link(&mut m, person);
        }
        m.raw("</p>");
    }
    m.raw("</header><div class=\"prose\">")
        .markdown(&project.description)
        .raw("</div><dl class=\"facts\"><div><dt>Repository</dt><dd>");
    let repository = &project.repository;
    m.external_link(repository, repository).raw("</dd></div>");
    let website = project.website.as_deref().unwrap_or_default();
    if !website.is_empty() {
        m.raw("<div><dt>Website</dt><dd>")
            .external_link(website, website)
            .raw("</dd></div>");
    }
    m.raw("<div><dt>Currency</dt><dd>")
        .text(currency)
        .raw("</dd></div></dl>");

    proof_section(&mut m, project.proof.as_ref());
    match &viewer.visitor {
        Some(visitor) => {
            let csrf = visitor.csrf.as_str();
            if project.owner.did == visitor.did {
                actions::projects::render_proof_steps(&mut m, &project, csrf);
            }
            let invited = project
                .invited_maintainers
                .as_ref()
                .is_some_and(|list| list.iter().any(|person| person.did == visitor.did));
            if invited {
                actions::projects::render_accept(&mut m, &project, csrf);
            }
            actions::proposing::render(
                &mut m,
                &format!("{path}/propose"),
                csrf,
                &Filled::default(),
                false,
            );
        }
        None => {
            m.raw("<p class=\"act\"><a class=\"button\" href=\"/sign-in?return=")
                .text(&crate::html::query_value(&path))
                .raw("\">Sign in to propose a feature</a></p>");
        }
    }

    m.raw("<section class=\"funding\" aria-labelledby=\"funding\"><h2 id=\"funding\" class=\"sr-only\">Funding</h2><dl class=\"stats\"><div><dt>Pledged</dt><dd>")
        .text(&money(
            totals.pledged_held.saturating_add(totals.paid_out),
            currency,
        ))
        .raw("</dd></div><div><dt>Paid out</dt><dd>")
        .text(&money(totals.paid_out, currency))
        .raw("</dd></div><div><dt>Estimated</dt><dd>")
        .text(&money(totals.estimate_total, currency))
        .raw("</dd></div><div><dt>Proposals</dt><dd>")
        .num(project.proposal_count)
        .raw("</dd></div></dl></section>");

    m.raw("<section aria-labelledby=\"proposals\"><h2 id=\"proposals\">Proposals</h2><nav class=\"tabs sort\" aria-label=\"Order\"><span>Sort:</span><ul>");
    for (key, label) in [
        ("top", "Most estimated"),
        ("pledged", "Most pledged"),
        ("new", "Newest"),
    ] {
        m.raw("<li><a href=\"")
            .text(&format!("{path}?sort={key}"))
            .raw("\"");
        if sort == key {
            m.raw(" aria-current=\"true\"");
        }
        m.raw(">").raw(label).raw("</a></li>");
    }
    m.raw("</ul></nav>");
    if proposals.is_empty() {
        m.raw("<p class=\"empty\">No proposals for this project yet.</p>");
    } else {
        m.raw("<ul class=\"cards\">");
        for view in &proposals {
            proposal_card(&mut m, view);
        }
        m.raw("</ul>");
    }
    m.raw("</section>");
    money_rules(&mut m, app.config());
    m.raw("<section aria-labelledby=\"embed\"><h2 id=\"embed\">Badge</h2><p><img src=\"")
        .text(&format!("{path}/badge.svg"))
        .raw("\" alt=\"Funding badge for this project\" height=\"20\"></p><label for=\"badge-md\">Markdown</label><textarea id=\"badge-md\" readonly rows=\"2\">")
        .text(&format!("[![Greenlight]({public_url}{path}/badge.svg)]({page_url})"))
        .raw("</textarea></section>");
    viewer.respond(&headers, name, &head, &m)
}

/// Whether the project proves its repository or website, with every address checked so anyone
/// can open it and see the file, and what a maintainer has to publish.
fn proof_section(m: &mut Markup, proof: Option<&ProjectProof>) {
    m.raw("<section aria-labelledby=\"proof\"><h2 id=\"proof\">Proof of control</h2>");
    let Some(proof) = proof else {
        m.raw("<p>Not checked yet.</p></section>");
        return;
    };
    if proof.verified {
        m.raw("<p><strong>Proven.</strong> The project's repository or website publishes a file naming this project, so it can take pledges and donations.");
    } else {
        m.raw("<p><strong>Not proven.</strong> This project takes no pledges or donations until its repository or website publishes a file naming it.");
    }
    m.raw(" To prove it, add a file named <code>.greenlight</code> at the root of the repository's default branch (or <code>/.well-known/greenlight</code> on the website) containing:</p><pre>")
        .text(&proof.expected)
        .raw("</pre>");
    if !proof.checks.is_empty() {
        m.raw("<table class=\"checks\"><caption>Latest checks (Greenlight re-checks every few hours)</caption><thead><tr><th scope=\"col\">Place</th><th scope=\"col\">Address fetched</th><th scope=\"col\">Result</th><th scope=\"col\">Checked</th></tr></thead><tbody>");
        for check in &proof.checks {
            m.raw("<tr><td>")
                .text(&check.place)
                .raw("</td><td>")
                .external_link(&check.proof_url, &check.proof_url)
                .raw("</td><td>")
                .text(&check.result);
            if let Some(detail) = &check.detail {
                m.raw(": ").text(detail);
            }
            m.raw("</td><td>")
                .text(&moment(&check.checked_at))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table>");
    }
    m.raw("</section>");
}
