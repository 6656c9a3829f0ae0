//! Where escrow learns a proposal's stage: the AppView's `fund.greenlight.getProposal`.
//!
//! Escrow never takes a client's word for a stage. The lifecycle worker and the procedures ask
//! a [`ProposalSource`]; in production that is [`AppViewProposals`] over XRPC. Tests drive the
//! worker with [`InMemoryProposals`], an in-process stand-in for the AppView.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A proposal's lifecycle stage (DESIGN §3): the funding rules' own, so escrow and the
/// AppView name and parse stages the same way.
pub use greenlight_funding::Stage;

/// What escrow needs to know about a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalInfo {
    /// AT-URI of the proposal record.
    pub uri: String,
    /// CID of the indexed version.
    pub cid: String,
    /// Current stage.
    pub stage: Stage,
    /// The proposal's currency.
    pub currency: String,
    /// The project the proposal is about (its AT-URI); `None` for a bare repository.
    pub project: Option<String>,
    /// Whether the AppView finds the project's proof of its repository or website: only a
    /// proven project takes money.
    pub project_verified: bool,
    /// Who gets paid: the owner of the proposal's project; `None` for a bare repository.
    pub maintainer: Option<String>,
    /// When the latest preview ends.
    pub preview_ends_at: Option<DateTime<Utc>>,
}

/// The AppView could not answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot learn the proposal's stage: {0}")]
pub struct SourceError(pub String);

/// Something that knows proposals' stages.
#[async_trait]
pub trait ProposalSource: Send + Sync {
    /// The proposal at `uri`, or `None` when it is unknown or hidden.
    async fn proposal(&self, uri: &str) -> Result<Option<ProposalInfo>, SourceError>;
}

/// Reads proposals from the AppView's `fund.greenlight.getProposal`.
pub struct AppViewProposals {
    base_url: String,
    http: reqwest::Client,
}

impl AppViewProposals {
    /// A source asking the AppView at `base_url`.
    pub fn new(base_url: &str) -> AppViewProposals {
        AppViewProposals {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

/// Reads the fields escrow needs from a `fund.greenlight.defs#proposalView`.
pub fn from_proposal_view(view: &Value) -> Result<ProposalInfo, SourceError> {
    let text = |pointer: &str| view.pointer(pointer).and_then(Value::as_str);
    let uri = text("/uri").ok_or_else(|| SourceError("proposalView without uri".into()))?;
    let cid = text("/cid").ok_or_else(|| SourceError("proposalView without cid".into()))?;
    // Money is booked in this currency for good: a missing or malformed one is refused rather
    // than guessed.
    let currency = text("/currency")
        .map(greenlight_funding::Currency::parse)
        .ok_or_else(|| SourceError("proposalView without currency".into()))?
        .map_err(|error| SourceError(error.to_string()))?;
    let stage = text("/stage")
        .and_then(Stage::parse)
        .ok_or_else(|| SourceError("proposalView without a known stage".into()))?;
    // The project's owner is the authority of the project record's AT-URI.
    let project = match text("/subject/$type") {
        Some("fund.greenlight.defs#projectRef") | None => text("/subject/uri"),
        Some(_) => None,
    };
    let maintainer = project
        .and_then(|project| project.strip_prefix("at://"))
        .and_then(|rest| rest.split('/').next())
        .filter(|did| did.starts_with("did:"))
        .map(str::to_owned);
    let project = maintainer.as_ref().and(project).map(str::to_owned);
    let project_verified = project.is_some()
        && view.pointer("/subject/verified").and_then(Value::as_bool) == Some(true);
    let preview_ends_at = text("/preview/endsAt")
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc));
    Ok(ProposalInfo {
        uri: uri.to_owned(),
        cid: cid.to_owned(),
        stage,
        currency: currency.as_str().to_owned(),
        project,
        project_verified,
        maintainer,
        preview_ends_at,
    })
}

#[async_trait]
impl ProposalSource for AppViewProposals {
    async fn proposal(&self, uri: &str) -> Result<Option<ProposalInfo>, SourceError> {
        let response = self
            .http
            .get(format!(
                "{}/xrpc/fund.greenlight.getProposal",
                self.base_url
            ))
            .query(&[("uri", uri)])
            .send()
            .await
            .map_err(|error| SourceError(error.to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| SourceError(format!("unreadable getProposal answer: {error}")))?;
        if status.as_u16() == 400 && body.get("error").and_then(Value::as_str) == Some("NotFound") {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(SourceError(format!(
                "getProposal answered {status}: {body}"
            )));
        }
        let info = from_proposal_view(&body)?;
        // Whatever answered must be about the proposal asked for, or its stage and currency
        // would be booked under another proposal's name.
        if info.uri != uri {
            return Err(SourceError(format!(
                "getProposal for {uri} answered about {}",
                info.uri
            )));
        }
        Ok(Some(info))
    }
}

/// An in-process stand-in for the AppView, for tests and the benchmark.
#[derive(Debug, Default)]
pub struct InMemoryProposals {
    proposals: Mutex<HashMap<String, ProposalInfo>>,
}

impl InMemoryProposals {
    /// No proposals.
    pub fn new() -> InMemoryProposals {
        InMemoryProposals::default()
    }

    /// Adds or replaces a proposal.
    pub fn put(&self, info: ProposalInfo) {
        self.lock().insert(info.uri.clone(), info);
    }

    /// Changes a proposal's stage (and, when given, its preview end).
    pub fn set_stage(&self, uri: &str, stage: Stage, preview_ends_at: Option<DateTime<Utc>>) {
        if let Some(info) = self.lock().get_mut(uri) {
            info.stage = stage;
            if preview_ends_at.is_some() {
                info.preview_ends_at = preview_ends_at;
            }
        }
    }

    /// Forgets a proposal, as the AppView does for a deleted one.
    pub fn remove(&self, uri: &str) {
        self.lock().remove(uri);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProposalInfo>> {
        self.proposals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl ProposalSource for InMemoryProposals {
    async fn proposal(&self, uri: &str) -> Result<Option<ProposalInfo>, SourceError> {
        Ok(self.lock().get(uri).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stage_owner_and_preview_end_from_a_proposal_view() {
        let view = serde_json::json!({
            "uri": "at://did:plc:author/fund.greenlight.proposal/3k",
            "cid": "bafyreib",
            "stage": "preview",
            "currency": "EUR",
            "subject": {"$type": "fund.greenlight.defs#projectRef",
                        "uri": "at://did:plc:owner/fund.greenlight.project/app"},
            "preview": {"url": "https://p.example", "instructions": "", "endsAt": "2030-01-02T03:04:05.000Z"}
        });
        let info = from_proposal_view(&view).unwrap();
        assert_eq!(info.stage, Stage::Preview);
        assert_eq!(info.currency, "EUR");
        assert_eq!(info.maintainer.as_deref(), Some("did:plc:owner"));
        assert_eq!(
            info.project.as_deref(),
            Some("at://did:plc:owner/fund.greenlight.project/app")
        );
        // No proof reported: not verified.
        assert!(!info.project_verified);
        assert_eq!(
            info.preview_ends_at.unwrap().to_rfc3339(),
            "2030-01-02T03:04:05+00:00"
        );
        let bare = serde_json::json!({
            "uri": "at://did:plc:a/fund.greenlight.proposal/3k", "stage": "proposed",
            "cid": "bafyreib", "currency": "USD",
            "subject": {"$type": "fund.greenlight.defs#repositoryRef", "url": "https://git.example/x"}
        });
        assert_eq!(from_proposal_view(&bare).unwrap().maintainer, None);
        assert_eq!(from_proposal_view(&bare).unwrap().project, None);
        let mut proven = view.clone();
        proven["subject"]["verified"] = Value::Bool(true);
        assert!(from_proposal_view(&proven).unwrap().project_verified);
    }

    #[tokio::test]
    async fn an_answer_about_another_proposal_is_refused() {
        let app = axum::Router::new().route(
            "/xrpc/fund.greenlight.getProposal",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({
                    "uri": "at://did:plc:a/fund.greenlight.proposal/other", "cid": "bafyreib",
                    "stage": "preview", "currency": "USD",
                    "subject": {"$type": "fund.greenlight.defs#projectRef",
                                "uri": "at://did:plc:owner/fund.greenlight.project/app"},
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let source = AppViewProposals::new(&format!("http://{address}"));
        let asked = "at://did:plc:a/fund.greenlight.proposal/asked";
        assert!(source.proposal(asked).await.is_err());
        let other = "at://did:plc:a/fund.greenlight.proposal/other";
        assert_eq!(source.proposal(other).await.unwrap().unwrap().uri, other);
    }

    #[test]
    fn a_proposal_view_without_a_valid_currency_or_cid_is_refused() {
        let view = |currency: Value, cid: Value| {
            serde_json::json!({
                "uri": "at://did:plc:a/fund.greenlight.proposal/3k", "stage": "preview",
                "cid": cid, "currency": currency,
                "subject": {"$type": "fund.greenlight.defs#projectRef",
                            "uri": "at://did:plc:owner/fund.greenlight.project/app"},
            })
        };
        let cid = || Value::from("bafyreib");
        assert!(from_proposal_view(&view(Value::Null, cid())).is_err());
        assert!(from_proposal_view(&view("usd".into(), cid())).is_err());
        assert!(from_proposal_view(&view("DOLLARS".into(), cid())).is_err());
        assert!(from_proposal_view(&view("EUR".into(), Value::Null)).is_err());
        assert_eq!(
            from_proposal_view(&view("EUR".into(), cid()))
                .unwrap()
                .currency,
            "EUR"
        );
    }
}
