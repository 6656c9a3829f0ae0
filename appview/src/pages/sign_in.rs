//! Signing in and out: `/sign-in` (handle or DID), the OAuth callback, `/sign-out`, and
//! the confidential client's metadata document.

use std::collections::HashMap;

use atrium_oauth::CallbackParams;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};

use super::form::{self, Filled, Input};
use super::layout::page_for;
use crate::html::Markup;
use crate::sign_in::browser::{self, FormRefusal, Visitor, SIGN_IN_COOKIE};
use crate::sign_in::{ClientKind, SignInError, COLLECTIONS};
use crate::AppView;

/// `return` if it is a path on this site, else the front page: a sign-in link must not
/// become a way to send someone elsewhere.
pub fn local_path(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() < 1024
                && !p.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A 303 to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A page only for this browser: never cached, no scripts.
pub fn private_page(status: StatusCode, html: String) -> Response {
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        html,
    )
        .into_response();
    super::no_scripts(&mut response, false);
    response
}

/// A page saying why something was refused, with where to go next; nothing was written.
pub fn refusal_page(
    visitor: Option<&Visitor>,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    let mut m = Markup::new();
    m.raw("<h1>")
        .text(heading)
        .raw("</h1><p role=\"alert\">")
        .text(text)
        .raw("</p><p>Nothing was written to your repository.</p><p><a href=\"/sign-in\">Sign in</a> · <a href=\"/\">Explore proposals</a></p>");
    private_page(status, page_for(visitor, heading, &Markup::new(), &m))
}

/// The page for a refused form post.
pub fn form_refused(visitor: Option<&Visitor>, refusal: FormRefusal) -> Response {
    refusal_page(
        visitor,
        StatusCode::FORBIDDEN,
        "This form was refused",
        &refusal.to_string(),
    )
}

/// The page for a sign-in that failed or ended.
pub fn sign_in_failed(error: &SignInError) -> Response {
    let status = match error {
        SignInError::Internal | SignInError::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
        SignInError::Expired => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    refusal_page(None, status, "You are not signed in", &error.to_string())
}

fn what_we_write(m: &mut Markup) {
    m.raw("<section aria-labelledby=\"writes\"><h2 id=\"writes\">What Greenlight will do for you</h2><p>Your server will ask you to allow Greenlight to:</p><ul>")
        .raw("<li>create, change and delete your Greenlight records in your repository: your projects, proposals, estimates, progress updates, pledges, disputes, maintainer acceptances and the retainers you list publicly (")
        .text(&COLLECTIONS.join(", "))
        .raw(")</li><li>ask your server for short-lived tokens so that Greenlight's escrow knows a pledge, donation, dispute, payout account or retainer (its quote, invoices and your income statement) is yours</li></ul><p>Nothing else: not your posts, follows or other records, not your account settings, handle or password. Everything you write stays in your own repository, where anyone can see it. Signing out revokes Greenlight's access.</p></section>");
}

fn render_form(
    visitor: Option<&Visitor>,
    binding: &str,
    return_to: &str,
    filled: &Filled,
) -> String {
    let mut m = Markup::new();
    m.raw("<h1>Sign in</h1><p>Sign in with your atproto account (for example your Bluesky account). You will be sent to your own server to sign in and approve; Greenlight never sees your password.</p>");
    form::problem(&mut m, filled);
    form::open(&mut m, "/sign-in", binding, "Sign in");
    form::hidden(&mut m, "return", return_to);
    form::field(
        &mut m,
        filled,
        "identifier",
        "Your handle or DID",
        Some("For example alice.bsky.social or did:plc:…"),
        Input::Text,
        true,
    );
    form::close(&mut m, "Sign in");
    what_we_write(&mut m);
    page_for(visitor, "Sign in", &Markup::new(), &m)
}

fn secure(app: &AppView) -> bool {
    app.config().public_url.starts_with("https://")
}

/// `GET /sign-in?return=PATH`.
pub async fn form_page(
    State(app): State<AppView>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(sign_in) = app.sign_in() else {
        return sign_in_failed(&SignInError::Internal);
    };
    let return_to = local_path(query.get("return").map(String::as_str));
    // A loopback client's callback comes to 127.0.0.1; the cookies must be set there.
    if let ClientKind::Loopback { port } = sign_in.kind() {
        let here = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let loopback = format!("127.0.0.1:{port}");
        if here != Some(loopback.as_str()) {
            return see_other(&format!(
                "http://{loopback}/sign-in?return={}",
                crate::html::query_value(&return_to)
            ));
        }
    }
    let visitor = browser::visitor(app.pool(), &headers).await.ok().flatten();
    let binding = browser::new_sign_in_binding();
    let mut response = private_page(
        StatusCode::OK,
        render_form(visitor.as_ref(), &binding, &return_to, &Filled::default()),
    );
    allow_authorization_servers(&mut response, sign_in.kind());
    response.headers_mut().insert(
        header::SET_COOKIE,
        browser::sign_in_cookie(&binding, secure(&app)),
    );
    response
}

/// `POST /sign-in`: to the person's authorization server.
pub async fn start(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let Some(sign_in) = app.sign_in() else {
        return sign_in_failed(&SignInError::Internal);
    };
    let binding = browser::cookie(&headers, SIGN_IN_COOKIE)
        .unwrap_or("")
        .to_owned();
    let filled = Filled::from_values(values);
    if let Err(refusal) = browser::check_form(&headers, &binding, filled.get("csrf")) {
        return form_refused(None, refusal);
    }
    let return_to = local_path(Some(filled.get("return")));
    let identifier = filled.get("identifier").to_owned();
    let mut filled = filled;
    if identifier.is_empty() {
        filled.refuse("identifier", "Enter your handle or DID.");
    } else if identifier.len() > 253 {
        filled.refuse("identifier", "That is too long for a handle or DID.");
    }
    if !filled.has_errors() {
        match sign_in
            .authorize(&identifier, &format!("{binding}\n{return_to}"))
            .await
        {
            Ok(url) => return see_other(&url),
            Err(SignInError::UnknownAccount) => filled.refuse(
                "identifier",
                "No account was found for that handle or DID. Check the spelling.",
            ),
            Err(error) => filled.problem = Some(error.to_string()),
        }
    }
    let mut response = private_page(
        StatusCode::BAD_REQUEST,
        render_form(None, &binding, &return_to, &filled),
    );
    allow_authorization_servers(&mut response, sign_in.kind());
    response
}

/// The sign-in form posts to us, and we answer with a redirect to the person's
/// authorization server, which could be anywhere: `form-action` (which browsers apply to
/// a form's redirects too) must allow https, and plain http to a local network's servers
/// for a loopback client.
fn allow_authorization_servers(response: &mut Response, kind: &ClientKind) {
    let targets = match kind {
        ClientKind::Loopback { .. } => "'self' https: http://localhost:* http://127.0.0.1:*",
        ClientKind::Confidential { .. } => "'self' https:",
    };
    super::set_policy(response, &super::page_policy(targets));
}

/// `GET /oauth/callback`: the authorization server sends the browser back here.
pub async fn callback(
    State(app): State<AppView>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(sign_in) = app.sign_in() else {
        return sign_in_failed(&SignInError::Internal);
    };
    if let Some(error) = query.get("error") {
        let why = query
            .get("error_description")
            .map(String::as_str)
            .unwrap_or(error.as_str());
        return sign_in_failed(&SignInError::Denied(why.chars().take(200).collect()));
    }
    let Some(code) = query.get("code") else {
        return sign_in_failed(&SignInError::UnknownState);
    };
    let binding = browser::cookie(&headers, SIGN_IN_COOKIE);
    let params = CallbackParams {
        code: code.clone(),
        state: query.get("state").cloned(),
        iss: query.get("iss").cloned(),
    };
    let (did, return_to) = match sign_in.callback(params, binding).await {
        Ok(done) => done,
        Err(error) => return sign_in_failed(&error),
    };
    let handle = match app.identities().resolve_did(did.as_str()).await {
        Ok(document) => document.handle.clone(),
        Err(_) => None,
    };
    let id = match browser::start(app.pool(), did.as_str(), handle.as_deref()).await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "cannot start a browser session");
            return sign_in_failed(&SignInError::Internal);
        }
    };
    tracing::info!(did = did.as_str(), "signed in");
    let mut response = see_other(&local_path(Some(&return_to)));
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        browser::session_cookie(&id, secure(&app)),
    );
    cookies.append(
        header::SET_COOKIE,
        browser::clear_cookie(SIGN_IN_COOKIE, secure(&app)),
    );
    response
}

/// `POST /sign-out`: ends this browser's session; when it was the account's last one here,
/// revokes Greenlight's tokens at their server.
pub async fn sign_out(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let visitor = match browser::visitor(app.pool(), &headers).await {
        Ok(Some(visitor)) => visitor,
        Ok(None) => return see_other("/"),
        Err(error) => {
            tracing::error!(%error, "cannot read a browser session");
            return sign_in_failed(&SignInError::Internal);
        }
    };
    let given = values.get("csrf").map(String::as_str).unwrap_or("");
    if let Err(refusal) = browser::check_form(&headers, &visitor.csrf, given) {
        return form_refused(Some(&visitor), refusal);
    }
    match browser::end(app.pool(), &visitor).await {
        Ok(false) => {
            if let Some(sign_in) = app.sign_in() {
                sign_in.revoke(&visitor.did).await;
            }
        }
        Ok(true) => {}
        Err(error) => tracing::error!(%error, "cannot end a browser session"),
    }
    let mut response = see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        browser::clear_cookie(browser::SESSION_COOKIE, secure(&app)),
    );
    response
}

/// `GET /oauth/client-metadata.json` (confidential client only).
pub async fn client_metadata(State(app): State<AppView>, headers: HeaderMap) -> Response {
    match app.sign_in() {
        Some(sign_in) if matches!(sign_in.kind(), ClientKind::Confidential { .. }) => {
            Json(sign_in.client_metadata()).into_response()
        }
        _ => super::not_found(&headers),
    }
}
