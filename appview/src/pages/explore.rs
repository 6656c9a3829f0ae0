//! `/`: proposals by stage, sorted by estimates, pledges or age, a page at a time.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::{list_proposals, search_proposals};

use super::layout::proposal_card;
use super::viewer::Viewer;
use crate::html::{query_value, Markup};
use crate::xrpc;
use crate::AppView;

const STAGES: [(&str, &str); 6] = [
    ("", "All"),
    ("proposed", "Proposed"),
    ("development", "In development"),
    ("preview", "In preview"),
    ("released", "Released"),
    ("declined", "Declined"),
];

const SORTS: [(&str, &str); 3] = [
    ("top", "Most estimated"),
    ("pledged", "Most pledged"),
    ("new", "Newest"),
];

/// The page's own query: which stage, which order, where in the list.
#[derive(Debug, Default)]
struct Filter {
    stage: String,
    sort: String,
    cursor: Option<String>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Filter {
        let mut filter = Filter {
            sort: "top".to_owned(),
            ..Filter::default()
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "stage" => filter.stage = value.into_owned(),
                "sort" => filter.sort = value.into_owned(),
                "cursor" => filter.cursor = Some(value.into_owned()),
                _ => {}
            }
        }
        filter
    }

    /// The `listProposals` parameters for this filter.
    fn list_params(&self) -> list_proposals::Params {
        list_proposals::Params {
            project: None,
            repository: None,
            stage: (!self.stage.is_empty()).then(|| self.stage.clone()),
            sort: Some(self.sort.clone()),
            limit: Some(30),
            cursor: self.cursor.clone(),
        }
    }

    fn href(&self, stage: &str, sort: &str) -> String {
        let mut href = format!("/?sort={}", query_value(sort));
        if !stage.is_empty() {
            href.push_str("&stage=");
            href.push_str(&query_value(stage));
        }
        href
    }
}

/// `GET /`.
pub async fn page(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let filter = Filter::parse(query.as_deref());
    let query_map: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let viewer = Viewer::load(&app, &headers, &query_map).await;
    let search = query_map
        .get("q")
        .map(|q| q.trim())
        .filter(|q| !q.is_empty());
    let listed = match search {
        Some(q) => {
            let params = search_proposals::Params {
                q: q.chars().take(200).collect(),
                limit: Some(30),
                cursor: None,
            };
            xrpc::proposals::search(&app, params)
                .await
                .map(|found| (found.proposals, None))
        }
        None => xrpc::proposals::list(&app, filter.list_params())
            .await
            .map(|listed| (listed.proposals, listed.cursor)),
    };
    let (proposals, cursor) = match listed {
        Ok(listed) => listed,
        Err(error) => return super::error_page(&headers, &error),
    };
    let mut m = Markup::new();
    m.raw("<h1>Explore proposals</h1><p class=\"lede\">Features people want built in open-source projects, what they would pay for them, and what backers have pledged into escrow.</p>");
    m.raw("<form method=\"get\" action=\"/\" class=\"search\" role=\"search\"><label for=\"q\">Search proposals</label><input type=\"search\" id=\"q\" name=\"q\" value=\"")
        .text(search.unwrap_or(""))
        .raw("\"><button type=\"submit\">Search</button></form>");
    if viewer.visitor.is_some() {
        m.raw(
            "<p><a class=\"button\" href=\"/propose\">Propose a feature for any repository</a></p>",
        );
    }
    m.raw("<nav class=\"tabs\" aria-label=\"Stage\"><ul>");
    for (stage, name) in STAGES {
        m.raw("<li><a href=\"")
            .text(&filter.href(stage, &filter.sort))
            .raw("\"");
        if filter.stage == stage {
            m.raw(" aria-current=\"page\"");
        }
        m.raw(">").raw(name).raw("</a></li>");
    }
    m.raw("</ul></nav><nav class=\"tabs sort\" aria-label=\"Order\"><span>Sort:</span><ul>");
    for (sort, name) in SORTS {
        m.raw("<li><a href=\"")
            .text(&filter.href(&filter.stage, sort))
            .raw("\"");
        if filter.sort == sort {
            m.raw(" aria-current=\"true\"");
        }
        m.raw(">").raw(name).raw("</a></li>");
    }
    m.raw("</ul></nav>");
    if proposals.is_empty() {
        m.raw("<p class=\"empty\">No proposals here yet.</p>");
    } else {
        m.raw("<ul class=\"cards\">");
        for view in &proposals {
            proposal_card(&mut m, view);
        }
        m.raw("</ul>");
    }
    if let Some(cursor) = &cursor {
        let mut href = filter.href(&filter.stage, &filter.sort);
        href.push_str("&cursor=");
        href.push_str(&query_value(cursor));
        m.raw("<p class=\"more\"><a rel=\"next\" href=\"")
            .text(&href)
            .raw("\">More proposals →</a></p>");
    }
    viewer.respond(&headers, "Explore proposals", &Markup::new(), &m)
}
