//! `/projects`: every project on Greenlight, and for a signed-in person the form to create
//! one; `/propose`: proposing a feature for a repository that is not on Greenlight yet.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::list_projects;

use super::actions;
use super::form::Filled;
use super::viewer::Viewer;
use crate::display::money;
use crate::embed::{page_path, Kind};
use crate::html::{query_value, Markup};
use crate::{xrpc, AppView};

/// `GET /projects`.
pub async fn page(
    State(app): State<AppView>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let viewer = Viewer::load(&app, &headers, &query).await;
    let params = list_projects::Params {
        maintainer: None,
        limit: Some(100),
        cursor: query.get("cursor").cloned(),
    };
    let listed = match xrpc::projects::list(&app, params).await {
        Ok(listed) => listed,
        Err(error) => return super::error_page(&headers, &error),
    };
    let mut m = Markup::new();
    m.raw("<h1>Projects</h1>");
    if listed.projects.is_empty() {
        m.raw("<p class=\"empty\">No projects yet.</p>");
    } else {
        m.raw("<ul class=\"cards\">");
        for project in &listed.projects {
            m.raw("<li class=\"card\"><h3><a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("\">")
                .text(&project.name)
                .raw("</a></h3><p class=\"meta\">")
                .num(project.proposal_count)
                .raw(if project.proposal_count == 1 {
                    " proposal"
                } else {
                    " proposals"
                })
                .raw(" · ")
                .text(&money(
                    project
                        .totals
                        .pledged_held
                        .saturating_add(project.totals.paid_out),
                    &project.currency,
                ))
                .raw(" pledged</p></li>");
        }
        m.raw("</ul>");
    }
    if let Some(cursor) = &listed.cursor {
        m.raw("<p class=\"more\"><a rel=\"next\" href=\"/projects?cursor=")
            .text(&query_value(cursor))
            .raw("\">More projects →</a></p>");
    }
    match &viewer.visitor {
        Some(visitor) => {
            actions::projects::render_create(&mut m, &visitor.csrf, &Filled::default())
        }
        None => {
            m.raw("<p class=\"act\"><a class=\"button\" href=\"/sign-in?return=/projects\">Sign in to create a project</a></p>");
        }
    }
    viewer.respond(&headers, "Projects", &Markup::new(), &m)
}

/// `GET /propose`.
pub async fn propose_page(
    State(app): State<AppView>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let viewer = Viewer::load(&app, &headers, &query).await;
    let mut m = Markup::new();
    match &viewer.visitor {
        Some(visitor) => {
            actions::proposing::render(&mut m, "/propose", &visitor.csrf, &Filled::default(), true)
        }
        None => {
            m.raw("<h1>Propose a feature</h1><p><a class=\"button\" href=\"/sign-in?return=/propose\">Sign in to propose a feature</a></p>");
        }
    }
    viewer.respond(&headers, "Propose a feature", &Markup::new(), &m)
}
