//! Service-auth tokens minted by the local network's reference PDS
//! (`com.atproto.server.getServiceAuth`), for the tests that check a service's door against
//! what real PDSes sign.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::network::{Account, TestNetwork};

/// The answer of `com.atproto.server.getServiceAuth`.
#[derive(Deserialize)]
struct ServiceAuthOutput {
    token: String,
}

/// A token the PDS signs for `account`, addressed to `aud`, for the method `lxm` (or, with
/// `None`, for any method: a PDS mints those too, and services must refuse them).
pub async fn pds_service_token(
    network: &TestNetwork,
    account: &Account,
    aud: &str,
    lxm: Option<&str>,
) -> Result<String> {
    let mut query = vec![("aud", aud)];
    if let Some(lxm) = lxm {
        query.push(("lxm", lxm));
    }
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!(
            "{}/xrpc/com.atproto.server.getServiceAuth",
            network.pds_url()
        ))
        .query(&query)
        .bearer_auth(&account.access_jwt)
        .send()
        .await
        .context("getServiceAuth request")?;
    let status = response.status();
    let body = response.text().await.context("getServiceAuth answer")?;
    if !status.is_success() {
        bail!("getServiceAuth: {status} {body}");
    }
    let output: ServiceAuthOutput =
        serde_json::from_str(&body).with_context(|| format!("getServiceAuth answered {body}"))?;
    Ok(output.token)
}
