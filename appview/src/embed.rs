//! What badges, widgets and oEmbed show about a proposal or a project, read through the same
//! hydration and views as `getProposal` and `getProject`.

use greenlight_xrpc::XrpcError;
use serde_json::Value;

use crate::display::{int, text};
use crate::html::query_value;
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
            Kind::Proposal => "fund.greenlight.proposal",
            Kind::Project => "fund.greenlight.project",
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

/// The view of `uri`, as `getProposal` or `getProject` returns it; `None` if not visible.
pub async fn load_view(app: &AppView, kind: Kind, uri: &str) -> Result<Option<Value>, XrpcError> {
    match kind {
        Kind::Proposal => Ok(xrpc::proposals::present(app, &[uri.to_owned()])
            .await?
            .pop()),
        Kind::Project => {
            let query = format!("uri={}", query_value(uri));
            match xrpc::projects::get(app, Some(&query)).await {
                Ok(view) => Ok(Some(view)),
                Err(XrpcError::Method {
                    name: "NotFound", ..
                })
                | Err(XrpcError::InvalidRequest(_)) => Ok(None),
                Err(error) => Err(error),
            }
        }
    }
}

/// The summary of a proposal or project view.
pub fn summarize(kind: Kind, view: &Value) -> Summary {
    let uri = text(view, "/uri").to_owned();
    let path = page_path(kind, &uri);
    let totals = view.get("totals").unwrap_or(&Value::Null);
    let (title, stage, project_name) = match kind {
        Kind::Proposal => (
            text(view, "/title").to_owned(),
            Some(text(view, "/stage").to_owned()),
            view.pointer("/subject/name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        Kind::Project => (text(view, "/name").to_owned(), None, None),
    };
    Summary {
        kind,
        uri,
        path,
        title,
        project_name,
        stage,
        currency: text(view, "/currency").to_owned(),
        goal: view.get("goal").and_then(Value::as_i64),
        estimate_total: int(totals, "/estimateTotal"),
        estimate_count: int(totals, "/estimateCount"),
        pledged: int(totals, "/pledgedHeld").saturating_add(int(totals, "/paidOut")),
        backer_count: int(totals, "/backerCount"),
        proposal_count: int(view, "/proposalCount"),
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
