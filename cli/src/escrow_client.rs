//! The CLI's client of escrow: the client library's [`greenlight_client::EscrowClient`]
//! over the CLI's HTTP client (no proxy for local networks). It dereferences to the
//! library's client, whose methods are the escrow calls.

use std::ops::Deref;

use crate::error::CliError;
use crate::session::http_client;

/// A client of one escrow service.
#[derive(Debug, Clone)]
pub struct EscrowClient(greenlight_client::EscrowClient);

impl EscrowClient {
    /// A client of escrow at `base_url` whose DID is `did`.
    pub fn new(base_url: &str, did: &str) -> EscrowClient {
        EscrowClient(greenlight_client::EscrowClient::new(
            http_client(),
            base_url,
            did,
        ))
    }

    /// A client of escrow at `base_url`, learning its DID from `/.well-known/did.json`.
    pub async fn discover(base_url: &str) -> Result<EscrowClient, CliError> {
        let client = greenlight_client::EscrowClient::discover(http_client(), base_url).await?;
        Ok(EscrowClient(client))
    }
}

impl Deref for EscrowClient {
    type Target = greenlight_client::EscrowClient;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
