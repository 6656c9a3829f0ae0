//! Calling the escrow service: `fund.greenlight.escrow.*` procedures, authenticated with a
//! service-auth token the user's PDS signs for escrow's DID and the one method called.

use atrium_api::types::string::{Did, Nsid};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::CliError;
use crate::session::{http_client, Session};

/// A pledge as escrow reports it (`fund.greenlight.escrow.defs#pledgeView`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PledgeView {
    /// Escrow's pledge id: the receipt.
    pub id: String,
    /// The proposal.
    pub proposal: StrongRef,
    /// The backer's DID.
    pub backer: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// pending, held, cancelled, refunded, paid_out or failed.
    pub state: String,
    /// Where to pay while pending.
    #[serde(default)]
    pub checkout_url: Option<String>,
}

/// A client of one escrow service.
#[derive(Debug, Clone)]
pub struct EscrowClient {
    base_url: String,
    did: String,
    http: reqwest::Client,
}

impl EscrowClient {
    /// A client of escrow at `base_url` whose DID is `did`.
    pub fn new(base_url: &str, did: &str) -> EscrowClient {
        EscrowClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            did: did.to_owned(),
            http: http_client(),
        }
    }

    /// A client of escrow at `base_url`, learning its DID from `/.well-known/did.json`.
    pub async fn discover(base_url: &str) -> Result<EscrowClient, CliError> {
        let base = base_url.trim_end_matches('/');
        let url = format!("{base}/.well-known/did.json");
        let unreachable = |reason: String| CliError::Unreachable {
            service: "escrow",
            url: url.clone(),
            reason,
        };
        let response = http_client()
            .get(&url)
            .send()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(format!(
                "HTTP {} (set --escrow-did)",
                response.status()
            )));
        }
        let document: Value = response
            .json()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let did = document
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| unreachable("DID document without an id".into()))?;
        Ok(EscrowClient::new(base, did))
    }

    /// Escrow's DID.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// Escrow's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A token from the user's PDS for calling `method` on this escrow.
    pub async fn service_token(&self, session: &Session, method: &str) -> Result<String, CliError> {
        // Checked here so a bad --escrow-did fails before the PDS is asked.
        Did::new(self.did.clone()).map_err(|error| {
            CliError::InvalidArgument(format!("escrow DID {:?}: {error}", self.did))
        })?;
        let aud = self.did.clone();
        let lxm = Nsid::new(method.to_owned())
            .map_err(|error| CliError::InvalidArgument(format!("method {method:?}: {error}")))?;
        let params = atrium_api::com::atproto::server::get_service_auth::ParametersData {
            aud,
            exp: None,
            lxm: Some(lxm),
        };
        let output = session
            .agent
            .api
            .com
            .atproto
            .server
            .get_service_auth(params.into())
            .await
            .map_err(|error| CliError::Pds {
                method: "com.atproto.server.getServiceAuth",
                reason: error.to_string(),
            })?;
        Ok(output.token.clone())
    }

    async fn call(
        &self,
        method: &str,
        token: Option<&str>,
        body: Option<&Value>,
        query: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let url = format!("{}/xrpc/{method}", self.base_url);
        let mut request = match body {
            Some(body) => self.http.post(&url).json(body),
            None => self.http.get(&url).query(query),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        send(request, "escrow", method, &url).await
    }

    /// `createPledge`: a pending pledge with its checkout URL. The same `idempotency_key`
    /// and body always yield the same pledge, so retries never charge twice.
    pub async fn create_pledge(
        &self,
        session: &Session,
        proposal: &StrongRef,
        amount: i64,
        currency: &str,
        idempotency_key: &str,
    ) -> Result<PledgeView, CliError> {
        let method = "fund.greenlight.escrow.createPledge";
        let token = self.service_token(session, method).await?;
        let body = json!({
            "proposal": proposal,
            "amount": amount,
            "currency": currency,
            "idempotencyKey": idempotency_key,
        });
        pledge_view(self.call(method, Some(&token), Some(&body), &[]).await?)
    }

    /// `cancelPledge`: refunds one's own pledge during the preview.
    pub async fn cancel_pledge(
        &self,
        session: &Session,
        pledge: &str,
        idempotency_key: &str,
    ) -> Result<PledgeView, CliError> {
        let method = "fund.greenlight.escrow.cancelPledge";
        let token = self.service_token(session, method).await?;
        let body = json!({ "pledge": pledge, "idempotencyKey": idempotency_key });
        pledge_view(self.call(method, Some(&token), Some(&body), &[]).await?)
    }

    /// `fileDispute`: the binding dispute (freezes payout until an operator resolves it).
    pub async fn file_dispute(
        &self,
        session: &Session,
        proposal: &StrongRef,
        reason: &str,
        evidence: &[String],
        idempotency_key: &str,
    ) -> Result<Value, CliError> {
        let method = "fund.greenlight.escrow.fileDispute";
        let token = self.service_token(session, method).await?;
        let mut body =
            json!({ "proposal": proposal, "reason": reason, "idempotencyKey": idempotency_key });
        if !evidence.is_empty() {
            body["evidence"] = json!(evidence);
        }
        self.call(method, Some(&token), Some(&body), &[]).await
    }

    /// `connectPayoutAccount`: the caller's payout account with the provider (the sandbox
    /// activates it at once; Stripe answers an onboarding URL). Retrying is harmless.
    pub async fn connect_payout_account(&self, session: &Session) -> Result<Value, CliError> {
        let method = "fund.greenlight.escrow.connectPayoutAccount";
        let token = self.service_token(session, method).await?;
        let body = json!({ "idempotencyKey": format!("connect-{}", session.did()) });
        self.call(method, Some(&token), Some(&body), &[]).await
    }

    /// `getPledge`: a pledge's current state (public).
    pub async fn get_pledge(&self, id: &str) -> Result<PledgeView, CliError> {
        pledge_view(
            self.call(
                "fund.greenlight.escrow.getPledge",
                None,
                None,
                &[("id", id)],
            )
            .await?,
        )
    }

    /// `getProposalState`: what escrow holds for a proposal (public).
    pub async fn get_proposal_state(&self, proposal_uri: &str) -> Result<Value, CliError> {
        self.call(
            "fund.greenlight.escrow.getProposalState",
            None,
            None,
            &[("proposal", proposal_uri)],
        )
        .await
    }

    /// `resolveDispute` (operators only, with escrow's admin password).
    pub async fn resolve_dispute(
        &self,
        admin_password: &str,
        dispute: &str,
        outcome: &str,
        note: &str,
        idempotency_key: &str,
    ) -> Result<Value, CliError> {
        let method = "fund.greenlight.escrow.resolveDispute";
        let url = format!("{}/xrpc/{method}", self.base_url);
        let body = json!({ "dispute": dispute, "outcome": outcome, "note": note, "idempotencyKey": idempotency_key });
        let request = self
            .http
            .post(&url)
            .basic_auth("admin", Some(admin_password))
            .json(&body);
        send(request, "escrow", method, &url).await
    }
}

fn pledge_view(value: Value) -> Result<PledgeView, CliError> {
    serde_json::from_value(value).map_err(|error| CliError::Unreachable {
        service: "escrow",
        url: String::new(),
        reason: format!("unexpected pledge view: {error}"),
    })
}

/// Sends an XRPC request and turns error bodies into [`CliError::Service`].
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    service: &'static str,
    method: &str,
    url: &str,
) -> Result<Value, CliError> {
    let response = request
        .send()
        .await
        .map_err(|error| CliError::Unreachable {
            service,
            url: url.to_owned(),
            reason: error.to_string(),
        })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|error| CliError::Unreachable {
            service,
            url: url.to_owned(),
            reason: error.to_string(),
        })?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        return Err(CliError::Service {
            service,
            method: method.to_owned(),
            error: field("error").unwrap_or_else(|| format!("HTTP {status}")),
            message: field("message").or_else(|| body.as_str().map(str::to_owned)),
        });
    }
    Ok(body)
}
