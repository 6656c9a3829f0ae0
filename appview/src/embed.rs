//! What badges, widgets and oEmbed show about a proposal or a project, read through the same
//! functions as `getProposal` and `getProject`, and the one way badges and widgets are served.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::{ProjectView, ProposalView, ProposalViewSubject};
use greenlight_lexicon::fund::greenlight::{get_project, get_proposal, project, proposal};
use greenlight_xrpc::XrpcError;

use crate::xrpc;
use crate::AppView;

/// What an embed is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `fund.greenlight.proposal`.
    Proposal,
    /// A `fund.greenlight.project`.
    Project,
}

impl Kind {
    /// The record collection.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Proposal => proposal::NSID,
            Kind::Project => project::NSID,
        }
    }

    /// The first path segment of its pages (`/proposal/{did}/{rkey}`).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Proposal => "proposal",
            Kind::Project => "project",
        }
    }
}

/// The AT-URI a page path names, if `did` and `rkey` look like a DID and a record key.
pub fn record_uri(kind: Kind, did: &str, rkey: &str) -> Option<String> {
    let did_ok = did.starts_with("did:")
        && did.len() <= 2048
        && did
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-' | b'%'));
    let rkey_ok = !rkey.is_empty()
        && rkey.len() <= 512
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'~'));
    (did_ok && rkey_ok).then(|| format!("at://{did}/{}/{rkey}", kind.collection()))
}

/// Funding at a glance.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Proposal or project.
    pub kind: Kind,
    /// Its AT-URI.
    pub uri: String,
    /// Page path on this AppView (`/proposal/did/rkey`).
    pub path: String,
    /// Proposal title or project name (attacker-controlled: escape it).
    pub title: String,
    /// The project's name, for a proposal of an indexed project.
    pub project_name: Option<String>,
    /// Proposal stage (`None` for a project).
    pub stage: Option<String>,
    /// Currency of every amount.
    pub currency: String,
    /// The development goal, if the maintainer set one.
    pub goal: Option<i64>,
    /// Counted estimates.
    pub estimate_total: i64,
    /// How many people estimated.
    pub estimate_count: i64,
    /// Held plus paid out pledges.
    pub pledged: i64,
    /// Distinct backers.
    pub backer_count: i64,
    /// Visible proposals of a project.
    pub proposal_count: i64,
}

/// `getProposal` for a page or an embed: `None` when the proposal is not visible, or when the
/// address cannot name one.
pub async fn load_proposal(app: &AppView, uri: &str) -> Result<Option<ProposalView>, XrpcError> {
    let params = get_proposal::Params {
        uri: uri.to_owned(),
    };
    none_if_invalid(xrpc::proposals::get(app, params).await)
}

/// `getProject` for a page or an embed: `None` when the project is not visible, or when the
/// address cannot name one.
pub async fn load_project(app: &AppView, uri: &str) -> Result<Option<ProjectView>, XrpcError> {
    let params = get_project::Params {
        uri: uri.to_owned(),
    };
    none_if_invalid(xrpc::projects::get(app, params).await)
}

/// An address the lexicon refuses names nothing we index.
fn none_if_invalid<T>(loaded: Result<Option<T>, XrpcError>) -> Result<Option<T>, XrpcError> {
    match loaded {
        Err(XrpcError::InvalidRequest(_)) => Ok(None),
        other => other,
    }
}

/// The summary of `uri`; `None` if not visible.
pub async fn load_summary(
    app: &AppView,
    kind: Kind,
    uri: &str,
) -> Result<Option<Summary>, XrpcError> {
    Ok(match kind {
        Kind::Proposal => load_proposal(app, uri)
            .await?
            .map(|v| Summary::of_proposal(&v)),
        Kind::Project => load_project(app, uri)
            .await?
            .map(|v| Summary::of_project(&v)),
    })
}

impl Summary {
    /// A proposal at a glance.
    pub fn of_proposal(view: &ProposalView) -> Summary {
        let totals = &view.totals;
        Summary {
            kind: Kind::Proposal,
            path: page_path(Kind::Proposal, &view.uri),
            uri: view.uri.clone(),
            title: view.title.clone(),
            project_name: match &view.subject {
                ProposalViewSubject::ProjectRef(project) => project.name.clone(),
                _ => None,
            },
            stage: Some(view.stage.clone()),
            currency: view.currency.clone(),
            goal: view.goal,
            estimate_total: totals.estimate_total,
            estimate_count: totals.estimate_count,
            pledged: totals.pledged_held.saturating_add(totals.paid_out),
            backer_count: totals.backer_count,
            proposal_count: 0,
        }
    }

    /// A project at a glance.
    pub fn of_project(view: &ProjectView) -> Summary {
        let totals = &view.totals;
        Summary {
            kind: Kind::Project,
            path: page_path(Kind::Project, &view.uri),
            uri: view.uri.clone(),
            title: view.name.clone(),
            project_name: None,
            stage: None,
            currency: view.currency.clone(),
            goal: None,
            estimate_total: totals.estimate_total,
            estimate_count: totals.estimate_count,
            pledged: totals.pledged_held.saturating_add(totals.paid_out),
            backer_count: totals.backer_count,
            proposal_count: view.proposal_count,
        }
    }
}

/// The page path of a record's AT-URI (`at://did/collection/rkey` → `/proposal/did/rkey`),
/// percent-encoded.
pub fn page_path(kind: Kind, uri: &str) -> String {
    let mut parts = uri.strip_prefix("at://").unwrap_or(uri).splitn(3, '/');
    let did = parts.next().unwrap_or("");
    let rkey = parts.nth(1).unwrap_or("");
    format!(
        "/{}/{}/{}",
        kind.path(),
        crate::html::path_segment(did),
        crate::html::path_segment(rkey)
    )
}

/// A way of embedding a summary in other sites: an SVG badge, an HTML widget.
pub trait Embed {
    /// Its `Content-Type`.
    const CONTENT_TYPE: &'static str;
    /// What it is, for the log.
    const NAME: &'static str;
    /// The embed of `summary`; links point at `public_url`.
    fn render(summary: &Summary, public_url: &str) -> String;
    /// What it shows for something not on Greenlight.
    fn not_found() -> String;
    /// What it shows when Greenlight cannot answer.
    fn unavailable() -> String;
}

/// `GET /proposal/{did}/{rkey}/<embed>`.
pub async fn proposal_embed<E: Embed>(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve::<E>(&app, Kind::Proposal, &did, &rkey, &headers).await
}

/// `GET /project/{did}/{rkey}/<embed>`.
pub async fn project_embed<E: Embed>(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve::<E>(&app, Kind::Project, &did, &rkey, &headers).await
}

/// Serves embed `E` of the record a page path names: cached for a while when found; a
/// stand-in (404, or 503 when loading failed) that no cache keeps otherwise. A README keeps
/// showing an embed, so it says what is wrong in it. Framing is allowed; scripts are not.
pub async fn serve<E: Embed>(
    app: &AppView,
    kind: Kind,
    did: &str,
    rkey: &str,
    headers: &HeaderMap,
) -> Response {
    let loaded = match record_uri(kind, did, rkey) {
        Some(uri) => load_summary(app, kind, &uri).await,
        None => Ok(None),
    };
    let (status, body, cache) = match loaded {
        Ok(Some(summary)) => (
            StatusCode::OK,
            E::render(&summary, &app.config().public_url),
            format!("public, max-age={}", app.config().embed_max_age),
        ),
        Ok(None) => (StatusCode::NOT_FOUND, E::not_found(), "no-store".to_owned()),
        Err(error) => {
            tracing::warn!(%error, "cannot load a {}", E::NAME);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                E::unavailable(),
                "no-store".to_owned(),
            )
        }
    };
    let mut response =
        crate::conditional::respond_with_status(headers, status, E::CONTENT_TYPE, &cache, body);
    crate::pages::no_scripts(&mut response, true);
    response
}
