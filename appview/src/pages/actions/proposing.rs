//! Proposing a feature: for a project on Greenlight (from its page) or for any repository
//! that is not on Greenlight yet (`/propose`).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use greenlight_client::records::{self, ProposalTarget};
use greenlight_client::repo;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;

use super::{acting, after_write, filled, form_again, problem};
use crate::embed::{page_path, Kind};
use crate::html::{safe_url, Markup};
use crate::pages::form::{self, Filled, Input};
use crate::AppView;

/// The proposal form: to `action`, with a repository field when there is no project.
pub fn render(m: &mut Markup, action: &str, csrf: &str, filled: &Filled, for_repository: bool) {
    m.raw("<section class=\"act\" aria-labelledby=\"propose-h\"><h2 id=\"propose-h\">Propose a feature</h2><p>Describe what you would like built. People estimate what they would pay; the maintainer may take it up.</p>");
    form::problem(m, filled);
    form::open(m, action, csrf, "Propose a feature");
    if for_repository {
        form::field(
            m,
            filled,
            "repository",
            "Repository",
            Some("The https address of the project's repository"),
            Input::Url,
            true,
        );
    }
    form::field(
        m,
        filled,
        "title",
        "Title",
        Some("Up to 300 characters"),
        Input::Text,
        true,
    );
    form::field(
        m,
        filled,
        "body",
        "Description (Markdown)",
        None,
        Input::Area,
        true,
    );
    form::field(
        m,
        filled,
        "tags",
        "Tags (optional)",
        Some("Separated by commas"),
        Input::Text,
        false,
    );
    form::close(m, "Propose");
    m.raw("</section>");
}

async fn propose(
    app: AppView,
    headers: HeaderMap,
    values: HashMap<String, String>,
    project: Option<(String, String)>,
) -> Response {
    let mut filled = filled(values);
    let acting = match acting(&app, &headers, &filled).await {
        Ok(acting) => acting,
        Err(page) => return page,
    };
    let (target, action, back) = match &project {
        Some((did, rkey)) => {
            let Some(uri) = crate::embed::record_uri(Kind::Project, did, rkey) else {
                return crate::pages::not_found(&headers);
            };
            let view = match crate::embed::load_project(&app, &uri).await {
                Ok(Some(view)) => view,
                Ok(None) => return crate::pages::not_found(&headers),
                Err(error) => return crate::pages::error_page(&headers, &error),
            };
            let path = page_path(Kind::Project, &uri);
            (
                Some(ProposalTarget::Project(StrongRef { uri, cid: view.cid })),
                format!("{path}/propose"),
                path,
            )
        }
        None => {
            let repository = filled.get("repository").to_owned();
            let target = if safe_url(&repository).is_some() {
                Some(ProposalTarget::Repository(repository))
            } else {
                filled.refuse("repository", "Enter the repository's http(s) address.");
                None
            };
            (target, "/propose".to_owned(), "/".to_owned())
        }
    };
    let title = filled.get("title").to_owned();
    if title.is_empty() {
        filled.refuse("title", "Give the feature a title.");
    }
    let body = filled.get("body").to_owned();
    if body.is_empty() {
        filled.refuse("body", "Describe the feature.");
    }
    let tags: Vec<String> = filled
        .get("tags")
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    if let (Some(target), false) = (target, filled.has_errors()) {
        let record = records::proposal_record(target, &title, &body, tags);
        match repo::create(&acting.agent, &record, None).await {
            Ok(written) => {
                return after_write(&app, &page_path(Kind::Proposal, &written.uri), &written).await
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let mut m = Markup::new();
    render(
        &mut m,
        &action,
        &acting.visitor.csrf,
        &filled,
        project.is_none(),
    );
    form_again(&acting.visitor, "Propose a feature", &back, &m)
}

/// `POST /project/{did}/{rkey}/propose`.
pub async fn for_project(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    propose(app, headers, values, Some((did, rkey))).await
}

/// `POST /propose`: for a repository not on Greenlight.
pub async fn for_repository(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    propose(app, headers, values, None).await
}
