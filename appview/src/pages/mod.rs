//! Server-rendered pages people read: explore, a project, a proposal, a person. Plain HTML
//! and one small stylesheet; no JavaScript. The data comes from the same functions as the
//! XRPC methods (`listProposals`, `getProject`, `getProposal`, `getActor`, ...).

pub mod actions;
pub mod explore;
pub mod form;
pub mod layout;
pub mod person;
pub mod project;
pub mod projects;
pub mod proposal;
pub mod retainers;
pub mod sign_in;
pub mod viewer;
pub mod written;

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use greenlight_xrpc::XrpcError;

use crate::badge::Badge;
use crate::html::Markup;
use crate::widget::Widget;
use crate::{embed, oembed, AppView};

/// The stylesheet, compiled in.
pub const STYLESHEET: &str = include_str!("greenlight.css");

/// Where the stylesheet is served; the `v` query names its content so it can be cached for
/// a year and still change with a new release.
pub fn stylesheet_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let tag = crate::conditional::etag(STYLESHEET.as_bytes());
        format!(
            "/static/greenlight.css?v={}",
            tag.trim_matches('"').get(..12).unwrap_or("")
        )
    })
}

/// The routes of pages, embeds and static files (state: the AppView).
pub fn routes() -> Router<AppView> {
    Router::new()
        .route("/", get(explore::page))
        .route("/proposal/{did}/{rkey}", get(proposal::page))
        .route(
            "/proposal/{did}/{rkey}/badge.svg",
            get(embed::proposal_embed::<Badge>),
        )
        .route(
            "/proposal/{did}/{rkey}/widget",
            get(embed::proposal_embed::<Widget>),
        )
        .route("/project/{did}/{rkey}", get(project::page))
        .route(
            "/project/{did}/{rkey}/badge.svg",
            get(embed::project_embed::<Badge>),
        )
        .route(
            "/project/{did}/{rkey}/widget",
            get(embed::project_embed::<Widget>),
        )
        .route("/person/{actor}", get(person::page))
        .route("/retainers/{did}", get(retainers::page))
        .route(
            actions::retaining::VENDOR_PATH,
            post(actions::retaining::vendor),
        )
        .route("/retainers/{did}/quote", post(actions::retaining::quote))
        .route(
            "/retainers/agreement/{id}",
            get(actions::retaining::agreement_page),
        )
        .route(
            "/retainers/agreement/{id}/start",
            post(actions::retaining::start),
        )
        .route(
            "/retainers/agreement/{id}/tier",
            post(actions::retaining::change_tier),
        )
        .route(
            "/retainers/agreement/{id}/cancel",
            post(actions::retaining::cancel),
        )
        .route("/badge/retainers/{file}", get(retainers::badge))
        .route("/projects", get(projects::page))
        .route("/projects/new", post(actions::projects::create))
        .route(
            "/propose",
            get(projects::propose_page).post(actions::proposing::for_repository),
        )
        .route(
            "/project/{did}/{rkey}/propose",
            post(actions::proposing::for_project),
        )
        .route(
            "/project/{did}/{rkey}/check",
            post(actions::projects::check),
        )
        .route(
            "/project/{did}/{rkey}/accept",
            post(actions::projects::accept),
        )
        .route(
            "/proposal/{did}/{rkey}/estimate",
            post(actions::estimating::post),
        )
        .route(
            "/proposal/{did}/{rkey}/estimate/withdraw",
            post(actions::estimating::withdraw),
        )
        .route("/proposal/{did}/{rkey}/status", post(actions::stages::post))
        .route(
            "/proposal/{did}/{rkey}/pledge",
            post(actions::backing::pledge),
        )
        .route(
            "/proposal/{did}/{rkey}/donate",
            post(actions::backing::donate),
        )
        .route(
            "/proposal/{did}/{rkey}/dispute",
            post(actions::backing::dispute),
        )
        .route("/backing/{pledge}", get(actions::backing::pledge_page))
        .route("/backing/{pledge}/cancel", post(actions::backing::cancel))
        .route("/account/payout", post(actions::backing::connect_payout))
        .route("/sign-in", get(sign_in::form_page).post(sign_in::start))
        .route(crate::sign_in::CALLBACK_PATH, get(sign_in::callback))
        .route("/sign-out", post(sign_in::sign_out))
        .route(
            crate::sign_in::CLIENT_METADATA_PATH,
            get(sign_in::client_metadata),
        )
        .route(oembed::PATH, get(oembed::serve))
        .route("/static/greenlight.css", get(stylesheet))
}

/// `GET /static/greenlight.css`.
pub async fn stylesheet(State(_app): State<AppView>, headers: HeaderMap) -> Response {
    crate::conditional::respond(
        &headers,
        "text/css; charset=utf-8",
        "public, max-age=31536000, immutable",
        STYLESHEET,
    )
}

/// Adds a Content-Security-Policy that forbids scripts, plugins and foreign assets. Embeds
/// (`frameable`) may be framed by any site and carry their styles inline; pages may not be
/// framed, take styles only from us, and post forms only to us.
pub fn no_scripts(response: &mut Response, frameable: bool) {
    if frameable {
        set_policy(
            response,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'",
        );
    } else {
        set_policy(response, &page_policy("'self'"));
    }
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
}

/// A page's policy with `form_action` as the places its forms may post (and be redirected)
/// to: only the sign-in page widens it, to reach people's authorization servers.
pub fn page_policy(form_action: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    )
}

/// Sets the response's Content-Security-Policy.
pub fn set_policy(response: &mut Response, policy: &str) {
    if let Ok(value) = HeaderValue::from_str(policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// A finished page: HTML, ETag, short caching (the numbers move), no scripts.
pub fn respond(headers: &HeaderMap, status: StatusCode, html: String) -> Response {
    let cache = if status.is_success() {
        "public, max-age=10"
    } else {
        "no-store"
    };
    let mut response = crate::conditional::respond_with_status(
        headers,
        status,
        "text/html; charset=utf-8",
        cache,
        html,
    );
    no_scripts(&mut response, false);
    response
}

/// The page for a failure: 400 for a malformed address or request, otherwise 503 (details
/// stay in our logs). What is not indexed is [`not_found`].
pub fn error_page(headers: &HeaderMap, error: &XrpcError) -> Response {
    match error {
        XrpcError::InvalidRequest(_) | XrpcError::Method { .. } => message_page(
            headers,
            StatusCode::BAD_REQUEST,
            "This address is not valid",
            "Check the link you followed.",
        ),
        _ => message_page(
            headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong",
            "Greenlight could not load this page. Please try again in a moment.",
        ),
    }
}

/// The 404 page.
pub fn not_found(headers: &HeaderMap) -> Response {
    message_page(
        headers,
        StatusCode::NOT_FOUND,
        "Not found",
        "Nothing is indexed at this address. It may have been deleted or hidden by its author.",
    )
}

/// A page that only says what happened.
fn message_page(
    headers: &HeaderMap,
    status: StatusCode,
    heading: &'static str,
    text: &'static str,
) -> Response {
    let mut body = Markup::new();
    body.raw("<h1>")
        .raw(heading)
        .raw("</h1><p>")
        .raw(text)
        .raw("</p><p><a href=\"/\">Explore proposals</a></p>");
    respond(
        headers,
        status,
        layout::page(heading, &Markup::new(), &body),
    )
}
