//! Where escrow learns a proposal's stage: the AppView's `fund.greenlight.getProposal`.
//!
//! Escrow never takes a client's word for a stage. The lifecycle worker and the procedures ask
//! a [`ProposalSource`]; in production that is [`AppViewProposals`] over XRPC. Tests drive the
//! worker with [`InMemoryProposals`], an in-process stand-in for the AppView.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use greenlight_lexicon::fund::greenlight::defs::{ProposalView, ProposalViewSubject};
use greenlight_lexicon::fund::greenlight::get_proposal;

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

/// Something that knows proposals' stages, and the retainer offers maintainers publish.
#[async_trait]
pub trait ProposalSource: Send + Sync {
    /// The proposal at `uri`, or `None` when it is unknown or hidden.
    async fn proposal(&self, uri: &str) -> Result<Option<ProposalInfo>, SourceError>;
    /// The retainer offer at `uri` as indexed now, or `None` when it is unknown or hidden.
    async fn retainer_offer(&self, uri: &str) -> Result<Option<OfferInfo>, SourceError>;
}

/// What escrow needs to know about a retainer offer to quote from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferInfo {
    /// AT-URI of the offer record.
    pub uri: String,
    /// CID of the indexed version: a quote is for exactly this version.
    pub cid: String,
    /// Who is paid: the offer's author.
    pub maintainer: String,
    /// Whether the funding rules let the author sell retainers for what it covers.
    pub authorized: bool,
    /// The tiers, with prices checked against the currency table.
    pub tiers: Vec<OfferTier>,
}

/// One tier of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferTier {
    /// The price and period, as the rules bill them.
    pub terms: greenlight_funding::retainer::Terms,
    /// At most this many clients at once, when limited.
    pub seat_limit: Option<i64>,
}

/// Reads an offer from a `fund.greenlight.retainerDefs#offerView`; a tier whose currency or
/// period the rules do not know makes the whole offer unusable, rather than quietly smaller.
pub fn from_offer_view(
    view: &greenlight_lexicon::fund::greenlight::retainer_defs::OfferView,
) -> Result<OfferInfo, SourceError> {
    use greenlight_funding::billing_period::Period;
    let tiers = view
        .tiers
        .iter()
        .map(|tier| {
            let currency =
                greenlight_funding::Currency::parse(&tier.currency).map_err(|error| {
                    SourceError(format!("offerView tier with an unusable currency: {error}"))
                })?;
            let period = Period::parse(&tier.period).ok_or_else(|| {
                SourceError(format!(
                    "offerView tier with an unknown period {:?}",
                    tier.period
                ))
            })?;
            Ok(OfferTier {
                terms: greenlight_funding::retainer::Terms {
                    tier: tier.name.clone(),
                    amount: tier.amount,
                    currency,
                    period,
                },
                seat_limit: tier.seat_limit,
            })
        })
        .collect::<Result<Vec<_>, SourceError>>()?;
    Ok(OfferInfo {
        uri: view.uri.clone(),
        cid: view.cid.clone(),
        maintainer: view.maintainer.did.clone(),
        authorized: view.authorized,
        tiers,
    })
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

/// Reads the fields escrow needs from a `fund.greenlight.defs#proposalView`, decoded into its
/// generated type; values the lexicon leaves open (currency, stage, dates) are checked here.
pub fn from_proposal_view(view: &ProposalView) -> Result<ProposalInfo, SourceError> {
    // Money is booked in this currency for good: a malformed one is refused rather than
    // guessed.
    let currency = greenlight_funding::Currency::parse(&view.currency)
        .map_err(|error| SourceError(format!("proposalView with an unusable currency: {error}")))?;
    let stage = Stage::parse(&view.stage).ok_or_else(|| {
        SourceError(format!(
            "proposalView with an unknown stage {:?}",
            view.stage
        ))
    })?;
    // Only a project has an owner to pay; a bare repository, or a subject kind this version of
    // the lexicons does not know, has none.
    let (project, verified) = match &view.subject {
        ProposalViewSubject::ProjectRef(project) => {
            (Some(project.uri.as_str()), project.verified == Some(true))
        }
        ProposalViewSubject::RepositoryRef(_) | ProposalViewSubject::Unknown(_) => (None, false),
    };
    // The project's owner is the authority of the project record's AT-URI.
    let maintainer = project
        .and_then(|project| project.strip_prefix("at://"))
        .and_then(|rest| rest.split('/').next())
        .filter(|did| did.starts_with("did:"))
        .map(str::to_owned);
    let project = maintainer.as_ref().and(project).map(str::to_owned);
    let project_verified = project.is_some() && verified;
    // The preview's end closes pledging: an unreadable one is refused, not read as "no end".
    let preview_ends_at = view
        .preview
        .as_ref()
        .map(|preview| {
            DateTime::parse_from_rfc3339(&preview.ends_at)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|error| {
                    SourceError(format!(
                        "proposalView with an unreadable preview end {:?}: {error}",
                        preview.ends_at
                    ))
                })
        })
        .transpose()?;
    Ok(ProposalInfo {
        uri: view.uri.clone(),
        cid: view.cid.clone(),
        stage,
        currency: currency.as_str().to_owned(),
        project,
        project_verified,
        maintainer,
        preview_ends_at,
    })
}

/// The body of an XRPC error answer: only its name matters here.
#[derive(Debug, serde::Deserialize)]
struct XrpcErrorBody {
    error: Option<String>,
}

impl AppViewProposals {
    /// `GET /xrpc/<nsid>?uri=<uri>` on the AppView: its answer decoded, or `None` when the
    /// AppView says `NotFound`.
    async fn view<T: serde::de::DeserializeOwned>(
        &self,
        nsid: &str,
        uri: &str,
    ) -> Result<Option<T>, SourceError> {
        // Named as people know the method: `getProposal`, `getRetainerOffer`.
        let method = nsid.rsplit('.').next().unwrap_or(nsid);
        let response = self
            .http
            .get(format!("{}/xrpc/{nsid}", self.base_url))
            .query(&[("uri", uri)])
            .send()
            .await
            .map_err(|error| SourceError(error.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| SourceError(format!("unreadable {method} answer: {error}")))?;
        if !status.is_success() {
            let error = serde_json::from_slice::<XrpcErrorBody>(&body)
                .ok()
                .and_then(|body| body.error);
            if status.as_u16() == 400 && error.as_deref() == Some("NotFound") {
                return Ok(None);
            }
            return Err(SourceError(format!(
                "{method} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|error| SourceError(format!("malformed {method} answer: {error}")))
    }
}

#[async_trait]
impl ProposalSource for AppViewProposals {
    async fn proposal(&self, uri: &str) -> Result<Option<ProposalInfo>, SourceError> {
        let Some(view) = self
            .view::<get_proposal::Output>(get_proposal::NSID, uri)
            .await?
        else {
            return Ok(None);
        };
        let info = from_proposal_view(&view)?;
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

    async fn retainer_offer(&self, uri: &str) -> Result<Option<OfferInfo>, SourceError> {
        use greenlight_lexicon::fund::greenlight::get_retainer_offer;
        let Some(view) = self
            .view::<get_retainer_offer::Output>(get_retainer_offer::NSID, uri)
            .await?
        else {
            return Ok(None);
        };
        let info = from_offer_view(&view)?;
        // As for proposals: an answer about another offer would quote someone else's prices.
        if info.uri != uri {
            return Err(SourceError(format!(
                "getRetainerOffer for {uri} answered about {}",
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
    offers: Mutex<HashMap<String, OfferInfo>>,
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

    /// Adds or replaces a retainer offer.
    pub fn put_offer(&self, offer: OfferInfo) {
        self.offers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(offer.uri.clone(), offer);
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

    async fn retainer_offer(&self, uri: &str) -> Result<Option<OfferInfo>, SourceError> {
        Ok(self
            .offers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(uri)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenlight_tests::proposal_views::{
        preview, project_subject, proposal_view, repository_subject,
    };

    const PROJECT: &str = "at://did:plc:owner/fund.greenlight.project/app";

    #[test]
    fn reads_stage_owner_and_preview_end_from_a_proposal_view() {
        let mut view = proposal_view(
            "at://did:plc:author/fund.greenlight.proposal/3k",
            "preview",
            "EUR",
            project_subject(PROJECT, false),
        );
        view.preview = Some(preview("2030-01-02T03:04:05.000Z"));
        let info = from_proposal_view(&view).unwrap();
        assert_eq!(info.stage, Stage::Preview);
        assert_eq!(info.currency, "EUR");
        assert_eq!(info.maintainer.as_deref(), Some("did:plc:owner"));
        assert_eq!(info.project.as_deref(), Some(PROJECT));
        // No proof reported: not verified.
        assert!(!info.project_verified);
        assert_eq!(
            info.preview_ends_at.unwrap().to_rfc3339(),
            "2030-01-02T03:04:05+00:00"
        );
        let bare = proposal_view(
            "at://did:plc:a/fund.greenlight.proposal/3k",
            "proposed",
            "USD",
            repository_subject("https://git.example/x"),
        );
        assert_eq!(from_proposal_view(&bare).unwrap().maintainer, None);
        assert_eq!(from_proposal_view(&bare).unwrap().project, None);
        let mut proven = view.clone();
        proven.subject = project_subject(PROJECT, true);
        assert!(from_proposal_view(&proven).unwrap().project_verified);
    }

    /// Serves `view` as every getProposal answer.
    async fn serve(view: serde_json::Value) -> AppViewProposals {
        let app = axum::Router::new().route(
            &format!("/xrpc/{}", get_proposal::NSID),
            axum::routing::get(move || async move { axum::Json(view) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        AppViewProposals::new(&format!("http://{address}"))
    }

    #[tokio::test]
    async fn an_answer_about_another_proposal_is_refused() {
        let other = "at://did:plc:a/fund.greenlight.proposal/other";
        let view = proposal_view(other, "preview", "USD", project_subject(PROJECT, false));
        let source = serve(serde_json::to_value(&view).unwrap()).await;
        let asked = "at://did:plc:a/fund.greenlight.proposal/asked";
        assert!(source.proposal(asked).await.is_err());
        assert_eq!(source.proposal(other).await.unwrap().unwrap().uri, other);
    }

    #[tokio::test]
    async fn a_malformed_answer_is_an_error_with_its_reason() {
        let uri = "at://did:plc:a/fund.greenlight.proposal/3k";
        let mut view = serde_json::to_value(proposal_view(
            uri,
            "preview",
            "USD",
            project_subject(PROJECT, true),
        ))
        .unwrap();
        // A view without its required cid does not decode.
        view.as_object_mut().unwrap().remove("cid");
        let source = serve(view).await;
        let error = source.proposal(uri).await.unwrap_err();
        assert!(
            error.0.contains("malformed getProposal answer") && error.0.contains("cid"),
            "{error}"
        );
    }

    #[test]
    fn a_proposal_view_without_a_valid_currency_stage_or_preview_end_is_refused() {
        let view = |currency: &str| {
            proposal_view(
                "at://did:plc:a/fund.greenlight.proposal/3k",
                "preview",
                currency,
                project_subject(PROJECT, true),
            )
        };
        assert!(from_proposal_view(&view("")).is_err());
        assert!(from_proposal_view(&view("usd")).is_err());
        assert!(from_proposal_view(&view("DOLLARS")).is_err());
        assert_eq!(from_proposal_view(&view("EUR")).unwrap().currency, "EUR");
        let mut unknown_stage = view("EUR");
        unknown_stage.stage = "verifying".to_owned();
        assert!(from_proposal_view(&unknown_stage).is_err());
        let mut bad_end = view("EUR");
        bad_end.preview = Some(preview("next week"));
        assert!(from_proposal_view(&bad_end).is_err());
    }
}
