//! Calling the escrow service: `fund.greenlight.escrow.*` procedures, authenticated with a
//! service-auth token the person's PDS signs for escrow's DID and the one method called.

use atrium_api::agent::{Agent, SessionManager};
use atrium_api::types::string::{Did, Nsid};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{
    AgreementView, BillingDetails, VendorDetails,
};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_pledge, cancel_retainer, change_retainer_tier, connect_payout_account, create_donation,
    create_pledge, defs, file_dispute, get_income_statement, get_pledge, get_proposal_state,
    get_retainer_agreement, list_retainer_agreements, request_quote, resolve_dispute,
    set_vendor_details, start_retainer,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ClientError;
use crate::repo::person;
use crate::xrpc::{decode, send};

/// What [`EscrowClient`]'s errors name the service.
const SERVICE: &str = "escrow";

/// What a client asks a quote for.
#[derive(Debug, Clone)]
pub struct QuoteRequest<'a> {
    /// The offer, the exact version read.
    pub offer: StrongRef,
    /// The tier's name.
    pub tier: &'a str,
    /// Who is invoiced.
    pub billing: BillingDetails,
    /// `invoice` (bank transfer) or `card`.
    pub collection: &'a str,
    /// Whether the client may be named in public.
    pub listed_publicly: bool,
    /// Makes the call safe to retry.
    pub idempotency_key: &'a str,
}

/// Money a person asks escrow to take for a proposal: the body `createPledge` and
/// `createDonation` share (their lexicons' inputs are one shape; a test holds it to both).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment<'a> {
    /// The proposal, by strong reference.
    pub proposal: &'a StrongRef,
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO 4217; must be the proposal's.
    pub currency: &'a str,
    /// Makes the call safe to retry: the same key and payment yield the same answer.
    pub idempotency_key: &'a str,
}

impl<'a> Payment<'a> {
    /// A payment of `amount`, refused before anyone is asked when it says nothing (escrow
    /// and the lexicons want a positive amount).
    pub fn new(
        proposal: &'a StrongRef,
        amount: i64,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> Result<Payment<'a>, ClientError> {
        if amount <= 0 {
            return Err(ClientError::InvalidArgument(
                "the amount must be positive".into(),
            ));
        }
        Ok(Payment {
            proposal,
            amount,
            currency,
            idempotency_key,
        })
    }
}

/// A client of one escrow service, over the caller's HTTP client.
#[derive(Debug, Clone)]
pub struct EscrowClient {
    base_url: String,
    did: String,
    http: reqwest::Client,
}

impl EscrowClient {
    /// A client of escrow at `base_url` whose DID is `did`.
    pub fn new(http: reqwest::Client, base_url: &str, did: &str) -> EscrowClient {
        EscrowClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            did: did.to_owned(),
            http,
        }
    }

    /// A client of escrow at `base_url`, learning its DID from `/.well-known/did.json`.
    pub async fn discover(
        http: reqwest::Client,
        base_url: &str,
    ) -> Result<EscrowClient, ClientError> {
        let base = base_url.trim_end_matches('/');
        let url = format!("{base}/.well-known/did.json");
        let unreachable = |reason: String| ClientError::Unreachable {
            service: SERVICE,
            url: url.clone(),
            reason,
        };
        let response = http
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
        Ok(EscrowClient::new(http, base, did))
    }

    /// Escrow's DID.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// Escrow's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The HTTP client escrow is called with (also the one its checkout pages are opened with).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A token from the person's PDS for calling `method` on this escrow.
    pub async fn service_token<M>(
        &self,
        agent: &Agent<M>,
        method: &str,
    ) -> Result<String, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        // Checked here so a bad escrow DID fails before the PDS is asked.
        Did::new(self.did.clone()).map_err(|error| {
            ClientError::InvalidArgument(format!("escrow DID {:?}: {error}", self.did))
        })?;
        let lxm = Nsid::new(method.to_owned())
            .map_err(|error| ClientError::InvalidArgument(format!("method {method:?}: {error}")))?;
        let params = atrium_api::com::atproto::server::get_service_auth::ParametersData {
            aud: self.did.clone(),
            exp: None,
            lxm: Some(lxm),
        };
        let output = agent
            .api
            .com
            .atproto
            .server
            .get_service_auth(params.into())
            .await
            .map_err(|error| ClientError::Pds {
                method: "com.atproto.server.getServiceAuth",
                reason: error.to_string(),
            })?;
        Ok(output.token.clone())
    }

    /// Calls the procedure `method` as the agent's person, with `input` as its body.
    async fn procedure<M, I, O>(
        &self,
        agent: &Agent<M>,
        method: &str,
        input: &I,
    ) -> Result<O, ClientError>
    where
        M: SessionManager + Send + Sync,
        I: Serialize,
        O: DeserializeOwned,
    {
        let token = self.service_token(agent, method).await?;
        let url = self.url(method);
        let request = self.http.post(&url).bearer_auth(token).json(input);
        decode(send(request, SERVICE, method, &url).await?, SERVICE, method)
    }

    /// Calls the public query `method`.
    async fn query<O: DeserializeOwned>(
        &self,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<O, ClientError> {
        let url = self.url(method);
        let request = self.http.get(&url).query(query);
        decode(send(request, SERVICE, method, &url).await?, SERVICE, method)
    }

    /// Calls the query `method` as the agent's person (service auth).
    async fn own_query<M, O>(
        &self,
        agent: &Agent<M>,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<O, ClientError>
    where
        M: SessionManager + Send + Sync,
        O: DeserializeOwned,
    {
        let token = self.service_token(agent, method).await?;
        let url = self.url(method);
        let request = self.http.get(&url).bearer_auth(token).query(query);
        decode(send(request, SERVICE, method, &url).await?, SERVICE, method)
    }

    /// `requestQuote`: a quote for one tier of an offer, as the agent's person (the client).
    pub async fn request_quote<M>(
        &self,
        agent: &Agent<M>,
        quote: &QuoteRequest<'_>,
    ) -> Result<AgreementView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = request_quote::Input {
            offer: quote.offer.clone(),
            tier: quote.tier.to_owned(),
            billing: quote.billing.clone(),
            collection: quote.collection.to_owned(),
            listed_publicly: Some(quote.listed_publicly),
            idempotency_key: quote.idempotency_key.to_owned(),
        };
        self.procedure(agent, request_quote::NSID, &input).await
    }

    /// `startRetainer`: accepts the quote; the first period is invoiced at once.
    pub async fn start_retainer<M>(
        &self,
        agent: &Agent<M>,
        agreement: &str,
        idempotency_key: &str,
    ) -> Result<AgreementView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = start_retainer::Input {
            agreement: agreement.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.procedure(agent, start_retainer::NSID, &input).await
    }

    /// `changeRetainerTier`: another tier from the next period.
    pub async fn change_retainer_tier<M>(
        &self,
        agent: &Agent<M>,
        agreement: &str,
        tier: &str,
        idempotency_key: &str,
    ) -> Result<AgreementView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = change_retainer_tier::Input {
            agreement: agreement.to_owned(),
            tier: tier.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.procedure(agent, change_retainer_tier::NSID, &input)
            .await
    }

    /// `cancelRetainer`: ends at the end of the paid period (at once when nothing is paid).
    pub async fn cancel_retainer<M>(
        &self,
        agent: &Agent<M>,
        agreement: &str,
        idempotency_key: &str,
    ) -> Result<AgreementView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = cancel_retainer::Input {
            agreement: agreement.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.procedure(agent, cancel_retainer::NSID, &input).await
    }

    /// `getRetainerAgreement`: one agreement with its invoices (its client or maintainer).
    pub async fn get_retainer_agreement<M>(
        &self,
        agent: &Agent<M>,
        id: &str,
    ) -> Result<AgreementView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        self.own_query(agent, get_retainer_agreement::NSID, &[("id", id)])
            .await
    }

    /// `listRetainerAgreements`: the agent's person's agreements, as client and maintainer.
    pub async fn list_retainer_agreements<M>(
        &self,
        agent: &Agent<M>,
    ) -> Result<list_retainer_agreements::Output, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        self.own_query(agent, list_retainer_agreements::NSID, &[])
            .await
    }

    /// `setVendorDetails`: how the agent's person appears as the vendor on the quotes and
    /// invoices escrow issues for their retainers from now on.
    pub async fn set_vendor_details<M>(
        &self,
        agent: &Agent<M>,
        details: &VendorDetails,
    ) -> Result<set_vendor_details::Output, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = set_vendor_details::Input {
            details: details.clone(),
        };
        self.procedure(agent, set_vendor_details::NSID, &input)
            .await
    }

    /// `getIncomeStatement`: the agent's person's income in `year`, per currency.
    pub async fn get_income_statement<M>(
        &self,
        agent: &Agent<M>,
        year: i32,
    ) -> Result<get_income_statement::Output, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let year = year.to_string();
        self.own_query(agent, get_income_statement::NSID, &[("year", &year)])
            .await
    }

    fn url(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.base_url)
    }

    /// `createPledge`: a pending pledge with its checkout URL. The same idempotency key and
    /// payment always yield the same pledge, so retries never charge twice.
    pub async fn create_pledge<M>(
        &self,
        agent: &Agent<M>,
        payment: &Payment<'_>,
    ) -> Result<defs::PledgeView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        self.procedure(agent, create_pledge::NSID, payment).await
    }

    /// `createDonation`: a pending donation to a proposal in development, with its checkout
    /// URL. As with pledges, the same idempotency key and payment yield the same donation.
    pub async fn create_donation<M>(
        &self,
        agent: &Agent<M>,
        payment: &Payment<'_>,
    ) -> Result<defs::DonationView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        self.procedure(agent, create_donation::NSID, payment).await
    }

    /// `cancelPledge`: refunds one's own pledge during the preview.
    pub async fn cancel_pledge<M>(
        &self,
        agent: &Agent<M>,
        pledge: &str,
        idempotency_key: &str,
    ) -> Result<defs::PledgeView, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = cancel_pledge::Input {
            pledge: pledge.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.procedure(agent, cancel_pledge::NSID, &input).await
    }

    /// `fileDispute`: the binding dispute (freezes payout until an operator resolves it).
    ///
    /// Answers escrow's dispute view as JSON: callers (and the end-to-end tests) read its
    /// fields by name.
    pub async fn file_dispute<M>(
        &self,
        agent: &Agent<M>,
        proposal: &StrongRef,
        reason: &str,
        evidence: &[String],
        idempotency_key: &str,
    ) -> Result<Value, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let input = file_dispute::Input {
            proposal: proposal.clone(),
            reason: reason.to_owned(),
            evidence: (!evidence.is_empty()).then(|| evidence.to_vec()),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.procedure(agent, file_dispute::NSID, &input).await
    }

    /// `connectPayoutAccount`: the person's payout account with the provider (the sandbox
    /// activates it at once; Stripe answers an onboarding URL). Retrying is harmless.
    pub async fn connect_payout_account<M>(
        &self,
        agent: &Agent<M>,
    ) -> Result<connect_payout_account::Output, ClientError>
    where
        M: SessionManager + Send + Sync,
    {
        let did = person(agent).await?;
        let input = connect_payout_account::Input {
            provider: None,
            idempotency_key: format!("connect-{}", did.as_str()),
        };
        self.procedure(agent, connect_payout_account::NSID, &input)
            .await
    }

    /// `getPledge`: a pledge's current state (public).
    pub async fn get_pledge(&self, id: &str) -> Result<defs::PledgeView, ClientError> {
        self.query(get_pledge::NSID, &[("id", id)]).await
    }

    /// `getProposalState`: what escrow holds for a proposal (public), as JSON.
    pub async fn get_proposal_state(&self, proposal_uri: &str) -> Result<Value, ClientError> {
        self.query(get_proposal_state::NSID, &[("proposal", proposal_uri)])
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
    ) -> Result<Value, ClientError> {
        let method = resolve_dispute::NSID;
        let url = self.url(method);
        let input = resolve_dispute::Input {
            dispute: dispute.to_owned(),
            outcome: outcome.to_owned(),
            note: note.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        };
        let request = self
            .http
            .post(&url)
            .basic_auth("admin", Some(admin_password))
            .json(&input);
        send(request, SERVICE, method, &url).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_is_the_input_of_both_create_pledge_and_create_donation() {
        let proposal = StrongRef {
            uri: "at://did:plc:abc/fund.greenlight.proposal/3k".into(),
            cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
        };
        let payment = Payment::new(&proposal, 2500, "USD", "key-1").unwrap();
        let body = serde_json::to_value(payment).unwrap();
        let pledge: create_pledge::Input = serde_json::from_value(body.clone()).unwrap();
        let donation: create_donation::Input = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(pledge).unwrap(), body);
        assert_eq!(serde_json::to_value(donation).unwrap(), body);
        assert!(Payment::new(&proposal, 0, "USD", "key-2").is_err());
        assert!(Payment::new(&proposal, -5, "USD", "key-3").is_err());
    }
}
