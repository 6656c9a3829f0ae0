//! Projects from the pages: creating one, proving its repository (the exact file to add,
//! then "Check now"), and accepting an invitation to maintain one.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use greenlight_client::records::{self, NewProject};
use greenlight_client::repo;
use greenlight_funding::Currency;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::check_project_proof;
use greenlight_lexicon::fund::greenlight::defs::ProjectView;

use super::{acting, acting_on_project, after_write, filled, form_again, problem};
use crate::embed::{page_path, Kind};
use crate::html::{safe_url, Markup};
use crate::pages::form::{self, Filled, Input};
use crate::pages::sign_in::{refusal_page, see_other};
use crate::AppView;

/// The "create a project" form.
pub fn render_create(m: &mut Markup, csrf: &str, filled: &Filled) {
    m.raw("<section class=\"act\" aria-labelledby=\"create-h\"><h2 id=\"create-h\">Create a project</h2><p>A project is the open-source work people propose features for. It takes money only once its repository (or website) publishes a proof that it is yours; you will be shown the file to add.</p>");
    form::problem(m, filled);
    form::open(m, "/projects/new", csrf, "Create a project");
    form::field(m, filled, "name", "Name", None, Input::Text, true);
    form::field(
        m,
        filled,
        "description",
        "What it is (Markdown)",
        None,
        Input::Area,
        true,
    );
    form::field(
        m,
        filled,
        "repository",
        "Repository",
        Some("Its https address on GitHub, GitLab, Codeberg or another forge"),
        Input::Url,
        true,
    );
    form::field(
        m,
        filled,
        "website",
        "Website (optional)",
        None,
        Input::Url,
        false,
    );
    form::field(
        m,
        filled,
        "currency",
        "Currency",
        Some("An ISO 4217 code, for example USD or EUR; all its proposals use it"),
        Input::Text,
        true,
    );
    form::field(
        m,
        filled,
        "maintainers",
        "Other maintainers (optional)",
        Some("Their DIDs, separated by commas; each is invited and counts once they accept"),
        Input::Text,
        false,
    );
    form::close(m, "Create project");
    m.raw("</section>");
}

/// `POST /projects/new`.
pub async fn create(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let acting = match acting(&app, &headers, &filled).await {
        Ok(acting) => acting,
        Err(page) => return page,
    };
    let name = filled.get("name").to_owned();
    if name.is_empty() {
        filled.refuse("name", "Give the project a name.");
    }
    let repository = filled.get("repository").to_owned();
    if safe_url(&repository).is_none() {
        filled.refuse("repository", "Enter the repository's http(s) address.");
    }
    let website = filled.get("website").to_owned();
    if !website.is_empty() && safe_url(&website).is_none() {
        filled.refuse("website", "Enter an http(s) address, or leave it empty.");
    }
    let currency = filled.get("currency").to_ascii_uppercase();
    if !Currency::parse(&currency).is_ok_and(Currency::supported) {
        filled.refuse(
            "currency",
            "Enter a currency Greenlight takes, for example USD, EUR or JPY.",
        );
    }
    let maintainers: Vec<String> = filled
        .get("maintainers")
        .split(',')
        .map(str::trim)
        .filter(|did| !did.is_empty())
        .map(str::to_owned)
        .collect();
    if maintainers
        .iter()
        .any(|did| greenlight_identity::validate_did(did).is_err())
    {
        filled.refuse(
            "maintainers",
            "Enter DIDs (did:plc:… or did:web:…), separated by commas.",
        );
    }
    if !filled.has_errors() {
        let record = records::project_record(&NewProject {
            name,
            description: filled.get("description").to_owned(),
            repository,
            website: (!website.is_empty()).then_some(website),
            currency,
            maintainers,
        });
        match repo::create(&acting.agent, &record, None).await {
            Ok(written) => {
                return after_write(&app, &page_path(Kind::Project, &written.uri), &written).await
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let mut m = Markup::new();
    render_create(&mut m, &acting.visitor.csrf, &filled);
    form_again(&acting.visitor, "Create a project", "/projects", &m)
}

/// For the project's owner: "Check now", after publishing the proof the page shows.
pub fn render_proof_steps(m: &mut Markup, project: &ProjectView, csrf: &str) {
    let path = page_path(Kind::Project, &project.uri);
    m.raw("<section class=\"act\" aria-labelledby=\"prove-h\"><h2 id=\"prove-h\">Your project's proof</h2><p>Once you have added the file above to <code>")
        .text(&project.repository)
        .raw("</code>, check it now (Greenlight also re-checks every few hours):</p>");
    form::open(m, &format!("{path}/check"), csrf, "Check the proof now");
    form::close(m, "Check now");
    m.raw("</section>");
}

/// For an invited maintainer: accept.
pub fn render_accept(m: &mut Markup, project: &ProjectView, csrf: &str) {
    let path = page_path(Kind::Project, &project.uri);
    m.raw("<section class=\"act\" aria-labelledby=\"accept-h\"><h2 id=\"accept-h\">You are invited to maintain this project</h2><p>Accepting writes a maintainer record to your repository; until then your progress updates on its proposals do not count. To decline, do nothing.</p>");
    form::open(m, &format!("{path}/accept"), csrf, "Accept the invitation");
    form::close(m, "Accept invitation");
    m.raw("</section>");
}

/// `POST /project/{did}/{rkey}/check`.
pub async fn check(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let filled = filled(values);
    let (acting, project) = match acting_on_project(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let path = page_path(Kind::Project, &project.uri);
    let input = check_project_proof::Input {
        project: project.uri.clone(),
    };
    match crate::xrpc::projects::check(&app, input).await {
        Ok(Ok(_)) => see_other(&format!("{path}#proof")),
        Ok(Err(limited)) => refusal_page(
            Some(&acting.visitor),
            StatusCode::TOO_MANY_REQUESTS,
            "Checked a moment ago",
            &format!(
                "The proof can be checked again in {} seconds.",
                limited.0.as_secs().max(1)
            ),
        ),
        Err(error) => crate::pages::error_page(&headers, &error),
    }
}

/// `POST /project/{did}/{rkey}/accept`.
pub async fn accept(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let filled = filled(values);
    let (acting, project) = match acting_on_project(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let path = page_path(Kind::Project, &project.uri);
    let subject = StrongRef {
        uri: project.uri.clone(),
        cid: project.cid.clone(),
    };
    match repo::create(&acting.agent, &records::maintainer_record(subject), None).await {
        Ok(written) => after_write(&app, &path, &written).await,
        Err(error) => refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The invitation was not accepted",
            &problem(&error),
        ),
    }
}
