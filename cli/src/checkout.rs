//! Completing a sandbox checkout the way a backer would: open the page, press "complete".

use std::time::Duration;

use crate::error::CliError;
use crate::escrow_client::{EscrowClient, PledgeView};
use crate::session::http_client;

/// How long a pledge may stay pending after its checkout completed.
const HOLD_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens the sandbox checkout page at `checkout_url` and presses its complete button.
pub async fn complete_sandbox_checkout(checkout_url: &str) -> Result<(), CliError> {
    let http = http_client();
    let failed = |reason: String| CliError::Checkout {
        url: checkout_url.to_owned(),
        reason,
    };
    let page = http
        .get(checkout_url)
        .send()
        .await
        .map_err(|error| failed(error.to_string()))?;
    if !page.status().is_success() {
        return Err(failed(format!("the page answered HTTP {}", page.status())));
    }
    let html = page
        .text()
        .await
        .map_err(|error| failed(error.to_string()))?;
    // Only the sandbox can be completed without a person: a real provider's page has no
    // such button, and we must not pretend it was paid.
    if !html.contains("/complete") {
        return Err(failed(
            "not a sandbox checkout page; open it in a browser to pay".into(),
        ));
    }
    let response = http
        .post(format!("{}/complete", checkout_url.trim_end_matches('/')))
        .send()
        .await
        .map_err(|error| failed(error.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(failed(format!("HTTP {status}: {text}")));
    }
    Ok(())
}

/// Waits until escrow reports the pledge held (or failed).
pub async fn wait_until_held(escrow: &EscrowClient, pledge: &str) -> Result<PledgeView, CliError> {
    let deadline = tokio::time::Instant::now() + HOLD_TIMEOUT;
    loop {
        let view = escrow.get_pledge(pledge).await?;
        match view.state.as_str() {
            "held" => return Ok(view),
            "pending" if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            "pending" => return Err(CliError::Timeout(format!("pledge {pledge} to be held"))),
            other => {
                return Err(CliError::Checkout {
                    url: view.checkout_url.unwrap_or_default(),
                    reason: format!("the pledge is {other}"),
                })
            }
        }
    }
}
