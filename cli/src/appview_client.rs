//! Reading from the AppView: a proposal and its funding totals.

use greenlight_client::xrpc::send;
use greenlight_client::ClientError;
use serde_json::Value;

use crate::error::CliError;
use crate::session::http_client;

/// A client of one AppView.
#[derive(Debug, Clone)]
pub struct AppViewClient {
    base_url: String,
    http: reqwest::Client,
}

impl AppViewClient {
    /// A client of the AppView at `base_url`.
    pub fn new(base_url: &str) -> AppViewClient {
        AppViewClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: http_client(),
        }
    }

    async fn query(&self, method: &str, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        let url = format!("{}/xrpc/{method}", self.base_url);
        send(self.http.get(&url).query(query), "AppView", method, &url).await
    }

    /// `getProposal`: the proposal view, or `None` when the AppView does not know it (yet).
    pub async fn get_proposal(&self, uri: &str) -> Result<Option<Value>, CliError> {
        match self
            .query("fund.greenlight.getProposal", &[("uri", uri)])
            .await
        {
            Ok(view) => Ok(Some(view)),
            Err(ClientError::Service { error, .. })
                if error == "NotFound" || error == "ProposalNotFound" =>
            {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `getRetainerOffer`: the offer as the AppView indexed it (escrow quotes exactly that
    /// version), or `None` when it is not indexed (yet).
    pub async fn get_retainer_offer(&self, uri: &str) -> Result<Option<Value>, CliError> {
        match self
            .query("fund.greenlight.getRetainerOffer", &[("uri", uri)])
            .await
        {
            Ok(view) => Ok(Some(view)),
            Err(ClientError::Service { error, .. }) if error == "NotFound" => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// `getFundingTotals` for one URI, or `None` when it is unknown.
    /// `getProject`: the project's view (maintainers, proof, totals).
    pub async fn get_project(&self, uri: &str) -> Result<Value, CliError> {
        Ok(self
            .query("fund.greenlight.getProject", &[("uri", uri)])
            .await?)
    }

    /// Asks the AppView to check the project's proof of its repository and website now
    /// (`fund.greenlight.checkProjectProof`); answers the `projectProof`.
    pub async fn check_project_proof(&self, project: &str) -> Result<Value, CliError> {
        let method = "fund.greenlight.checkProjectProof";
        let url = format!("{}/xrpc/{method}", self.base_url);
        let body = serde_json::json!({ "project": project });
        Ok(send(self.http.post(&url).json(&body), "AppView", method, &url).await?)
    }

    pub async fn funding_totals(&self, uri: &str) -> Result<Option<Value>, CliError> {
        let body = self
            .query("fund.greenlight.getFundingTotals", &[("uris", uri)])
            .await?;
        Ok(body
            .get("totals")
            .and_then(Value::as_array)
            .and_then(|totals| {
                totals
                    .iter()
                    .find(|t| t.get("uri").and_then(Value::as_str) == Some(uri))
            })
            .cloned())
    }

    /// Waits until the AppView shows the proposal at `uri` in `stage`.
    pub async fn wait_for_stage(
        &self,
        uri: &str,
        stage: &str,
        timeout: std::time::Duration,
    ) -> Result<Value, CliError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(view) = self.get_proposal(uri).await? {
                if view.get("stage").and_then(Value::as_str) == Some(stage) {
                    return Ok(view);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(
                    ClientError::Timeout(format!("the AppView to show {uri} in {stage}")).into(),
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
