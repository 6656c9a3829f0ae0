//! Completing a sandbox checkout the way a person would: open the page, press "complete".
//! Only escrow's sandbox provider can be completed this way (the CLI, the demo and the
//! end-to-end tests); a real provider's checkout is for the person to open in a browser.

use std::time::Duration;

use greenlight_lexicon::fund::greenlight::escrow::defs::PledgeView;

use crate::error::ClientError;
use crate::escrow::EscrowClient;

/// How long a pledge may stay pending after its checkout completed.
const HOLD_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens the sandbox checkout page at `checkout_url` and presses its complete button.
///
/// Escrow's sandbox answers the button only once the payment is recorded, so success means
/// escrow has applied it.
pub async fn complete_sandbox_checkout(
    http: &reqwest::Client,
    checkout_url: &str,
) -> Result<(), ClientError> {
    let failed = |reason: String| ClientError::Checkout {
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
pub async fn wait_until_held(
    escrow: &EscrowClient,
    pledge: &str,
) -> Result<PledgeView, ClientError> {
    let deadline = tokio::time::Instant::now() + HOLD_TIMEOUT;
    loop {
        let view = escrow.get_pledge(pledge).await?;
        match view.state.as_str() {
            "held" => return Ok(view),
            "pending" if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            "pending" => return Err(ClientError::Timeout(format!("pledge {pledge} to be held"))),
            other => {
                return Err(ClientError::Checkout {
                    url: view.checkout_url.unwrap_or_default(),
                    reason: format!("the pledge is {other}"),
                })
            }
        }
    }
}
