//! What signed-in people do from the pages. Every action is a plain form post (no script
//! needed) that:
//! 1. checks the post came from our page (CSRF token, same origin) and who is signed in;
//! 2. checks what was typed, field by field, and validates the record against its lexicon;
//! 3. writes the record to the person's own repository through their OAuth session, or
//!    calls escrow with a service-auth token their PDS signs;
//! 4. sends them to a page that shows the write, or says it is on its way and refreshes
//!    until the indexer has it ([`super::written`]).
//!
//! A refused or failed write shows the form again with what they typed and the reason.

pub mod backing;
pub mod estimating;
pub mod projects;
pub mod proposing;
pub mod retaining;
pub mod stages;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use greenlight_client::{ClientError, EscrowClient, RecordRef};
use greenlight_lexicon::fund::greenlight::defs::{ProjectView, ProposalView};

use crate::embed::Kind;
use crate::html::Markup;

use super::form::Filled;
use super::sign_in::{form_refused, refusal_page, see_other, sign_in_failed};
use crate::html::query_value;
use crate::sign_in::browser::{self, Visitor};
use crate::sign_in::{PdsAgent, SignInError};
use crate::AppView;

/// A signed-in person whose form passed the checks, and an agent acting for them.
pub struct Acting {
    /// Who.
    pub visitor: Visitor,
    /// Their OAuth session with their PDS.
    pub agent: PdsAgent,
}

/// Checks a posted form and restores the poster's session; otherwise the page to show.
pub async fn acting(
    app: &AppView,
    headers: &HeaderMap,
    filled: &Filled,
) -> Result<Acting, Response> {
    let visitor = match browser::visitor(app.pool(), headers).await {
        Ok(Some(visitor)) => visitor,
        Ok(None) => {
            return Err(refusal_page(
                None,
                StatusCode::UNAUTHORIZED,
                "You are not signed in",
                "Your sign-in has expired or you signed out. Sign in and try again.",
            ))
        }
        Err(error) => {
            tracing::error!(%error, "cannot read a browser session");
            return Err(sign_in_failed(&SignInError::Internal));
        }
    };
    if let Err(refusal) = browser::check_form(headers, &visitor.csrf, filled.get("csrf")) {
        return Err(form_refused(Some(&visitor), refusal));
    }
    let Some(sign_in) = app.sign_in() else {
        return Err(sign_in_failed(&SignInError::Internal));
    };
    match sign_in.agent(&visitor.did).await {
        Ok(agent) => Ok(Acting { visitor, agent }),
        Err(error @ (SignInError::Unreachable | SignInError::Internal)) => Err(refusal_page(
            Some(&visitor),
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            &error.to_string(),
        )),
        Err(error) => {
            // The server no longer honours our tokens: this browser is signed out.
            if let Err(error) = browser::end_all(app.pool(), &visitor.did).await {
                tracing::error!(%error, "cannot end browser sessions");
            }
            let mut response = sign_in_failed(&error);
            response.headers_mut().insert(
                header::SET_COOKIE,
                browser::clear_cookie(
                    browser::SESSION_COOKIE,
                    app.config().public_url.starts_with("https://"),
                ),
            );
            Err(response)
        }
    }
}

/// How long a write waits for the indexer before answering: usually it has the record
/// within a few hundred milliseconds, and then the page the person lands on already shows
/// it; otherwise that page says it is on its way and refreshes itself.
const ARRIVAL_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// After a write: `path`, naming the record written so the page can show it arriving —
/// once the indexer has it, or [`ARRIVAL_WAIT`] has passed.
pub async fn after_write(app: &AppView, path: &str, written: &RecordRef) -> Response {
    let expected = super::written::Expected::Written {
        uri: written.uri.clone(),
        cid: written.cid.clone(),
    };
    wait_for_arrival(app, &expected).await;
    see_other(&format!(
        "{path}?written={}&cid={}",
        query_value(&written.uri),
        query_value(&written.cid)
    ))
}

/// Waits until the indexer has `expected`, for at most [`ARRIVAL_WAIT`].
async fn wait_for_arrival(app: &AppView, expected: &super::written::Expected) {
    let deadline = tokio::time::Instant::now() + ARRIVAL_WAIT;
    while tokio::time::Instant::now() < deadline {
        match super::written::arrival(app.pool(), expected).await {
            Ok(super::written::Arrival::OnItsWay) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            _ => break,
        }
    }
}

/// After a deletion: `path`, naming the record deleted (once the indexer has seen it go,
/// or [`ARRIVAL_WAIT`] has passed).
pub async fn after_delete(app: &AppView, path: &str, uri: &str) -> Response {
    let expected = super::written::Expected::Gone {
        uri: uri.to_owned(),
    };
    wait_for_arrival(app, &expected).await;
    see_other(&format!("{path}?gone={}", query_value(uri)))
}

/// What to tell the person when acting for them failed.
pub fn problem(error: &ClientError) -> String {
    match error {
        ClientError::InvalidRecord { reason, .. } => {
            format!("This does not make a valid record: {reason}")
        }
        ClientError::InvalidArgument(reason) => reason.clone(),
        ClientError::Service { error, message, .. } => match message {
            Some(message) => format!("Escrow refused: {message} ({error})"),
            None => format!("Escrow refused: {error}"),
        },
        ClientError::Pds { .. } | ClientError::NoSession => {
            "Your server did not accept the write. Nothing was changed; please try again."
                .to_owned()
        }
        _ => "Greenlight could not complete this right now. Nothing was lost; please try again."
            .to_owned(),
    }
}

/// The escrow client pages use, when escrow is configured.
pub fn escrow(app: &AppView) -> Option<EscrowClient> {
    let url = app.config().escrow_url.as_deref()?;
    let did = app.config().escrow_did.as_deref()?;
    Some(EscrowClient::new(app.http().clone(), url, did))
}

/// The page for an action that needs escrow when this AppView has none configured.
pub struct NoEscrow {
    /// Its heading.
    pub title: &'static str,
    /// Why.
    pub detail: &'static str,
}

impl NoEscrow {
    /// The page, for `visitor`.
    pub fn page(&self, visitor: &Visitor) -> Response {
        crate::pages::sign_in::refusal_page(
            Some(visitor),
            StatusCode::SERVICE_UNAVAILABLE,
            self.title,
            self.detail,
        )
    }
}

/// [`acting`], and the escrow the action goes through, or the page saying there is none
/// (`missing`).
pub async fn acting_with_escrow(
    app: &AppView,
    headers: &HeaderMap,
    filled: &Filled,
    missing: NoEscrow,
) -> Result<(Acting, EscrowClient), Response> {
    let acting = acting(app, headers, filled).await?;
    match escrow(app) {
        Some(escrow) => Ok((acting, escrow)),
        None => Err(missing.page(&acting.visitor)),
    }
}

/// A form's values as typed (from the posted body).
pub fn filled(values: std::collections::HashMap<String, String>) -> Filled {
    Filled::from_values(values)
}

/// The proposal a form posts about, or the not-found page.
pub async fn proposal(
    app: &AppView,
    headers: &HeaderMap,
    did: &str,
    rkey: &str,
) -> Result<ProposalView, Response> {
    let Some(uri) = crate::embed::record_uri(Kind::Proposal, did, rkey) else {
        return Err(crate::pages::not_found(headers));
    };
    match crate::embed::load_proposal(app, &uri).await {
        Ok(Some(view)) => Ok(view),
        Ok(None) => Err(crate::pages::not_found(headers)),
        Err(error) => Err(crate::pages::error_page(headers, &error)),
    }
}

/// A form shown on its own with what was typed and why it was refused.
pub fn form_again(
    visitor: &crate::sign_in::browser::Visitor,
    title: &str,
    back: &str,
    form: &Markup,
) -> Response {
    let mut m = Markup::new();
    m.raw("<p><a href=\"")
        .text(back)
        .raw("\">← Back</a></p>")
        .markup(form);
    crate::pages::sign_in::private_page(
        axum::http::StatusCode::BAD_REQUEST,
        super::layout::page_for(Some(visitor), title, &Markup::new(), &m),
    )
}

/// The project a form posts about, or the not-found page.
pub async fn project(
    app: &AppView,
    headers: &HeaderMap,
    did: &str,
    rkey: &str,
) -> Result<ProjectView, Response> {
    let Some(uri) = crate::embed::record_uri(Kind::Project, did, rkey) else {
        return Err(crate::pages::not_found(headers));
    };
    match crate::embed::load_project(app, &uri).await {
        Ok(Some(view)) => Ok(view),
        Ok(None) => Err(crate::pages::not_found(headers)),
        Err(error) => Err(crate::pages::error_page(headers, &error)),
    }
}

/// [`acting`], then the proposal the form is about.
pub async fn acting_on(
    app: &AppView,
    headers: &HeaderMap,
    filled: &Filled,
    did: &str,
    rkey: &str,
) -> Result<(Acting, ProposalView), Response> {
    let acting = acting(app, headers, filled).await?;
    let view = proposal(app, headers, did, rkey).await?;
    Ok((acting, view))
}

/// [`acting`], then the project the form is about.
pub async fn acting_on_project(
    app: &AppView,
    headers: &HeaderMap,
    filled: &Filled,
    did: &str,
    rkey: &str,
) -> Result<(Acting, ProjectView), Response> {
    let acting = acting(app, headers, filled).await?;
    let view = project(app, headers, did, rkey).await?;
    Ok((acting, view))
}
