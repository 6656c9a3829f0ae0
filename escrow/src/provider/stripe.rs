//! The Stripe adapter: charges into the platform balance (PaymentIntents), transfers to
//! connected accounts, refunds, Express accounts with onboarding links, and retainer invoices
//! (Stripe Billing's Invoices: one customer per agreement, one finalized invoice per period,
//! `send_invoice` collection for bank transfer, `charge_automatically` for card).
//!
//! Escrow drives the periods itself rather than with a Stripe Subscription: escrow's clock is
//! the truth for when a period ends, a tier change waits for the next period by the funding
//! rules, and the retry schedule is the published one, so Stripe only ever sees one invoice
//! at a time, each with its own idempotency key.
//!
//! Speaks Stripe's wire format: form-encoded POSTs with bracketed keys for nested fields,
//! `Authorization: Bearer <secret key>`, and an `Idempotency-Key` header on every POST, derived
//! from the ledger transfer (or pledge) it belongs to. Stripe offers no escrow and card holds
//! last about a week, hence charge-then-transfer. Errors: 4xx other than 409 and 429 are
//! refusals; 409 (a request with the same key still in flight), 429, 5xx and network failures
//! may be retried with the same key.

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    AccountStatus, Checkout, CheckoutRequest, Collection, InvoiceRequest, Movement, MovementKind,
    PaymentProvider, PayoutAccount, ProviderError, RefundRequest, TransferRequest,
};

/// Stripe's API, unless configured otherwise (tests point it at a local stand-in).
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// Settings of the Stripe adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// API base URL, without a trailing slash.
    pub api_base: String,
    /// The platform's secret key (`sk_...`).
    pub secret_key: String,
    /// The publishable key, for the checkout page's Stripe.js.
    pub publishable_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// Escrow's public URL: checkout pages and onboarding return links live under it.
    pub public_url: String,
}

/// The Stripe payment provider.
pub struct StripeProvider {
    config: StripeConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct StripeErrorBody {
    error: StripeErrorDetail,
}

#[derive(Deserialize)]
struct StripeErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Object {
    id: String,
}

/// The fields of a Stripe Invoice escrow reads.
#[derive(Deserialize)]
struct StripeInvoice {
    id: String,
    #[serde(default)]
    amount_due: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    hosted_invoice_url: Option<String>,
}

#[derive(Deserialize)]
struct List {
    data: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

/// Percent-encodes a query value (ids and keys are ASCII, but `:` and the like must travel).
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    #[serde(default)]
    payouts_enabled: bool,
    #[serde(default)]
    details_submitted: bool,
}

#[derive(Deserialize)]
struct AccountLink {
    url: String,
}

impl StripeProvider {
    /// An adapter with `config`.
    pub fn new(config: StripeConfig) -> StripeProvider {
        StripeProvider {
            config,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await;
        read(response).await
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ProviderError> {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.config.secret_key)
            .send()
            .await;
        read(response).await
    }
}

async fn read<T: for<'de> Deserialize<'de>>(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ProviderError> {
    let response =
        response.map_err(|error| ProviderError::Unavailable(format!("stripe: {error}")))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| ProviderError::Unavailable(format!("stripe: {error}")))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|error| {
            ProviderError::Unavailable(format!("stripe: unexpected response: {error}"))
        });
    }
    let detail = serde_json::from_slice::<StripeErrorBody>(&bytes)
        .map(|body| {
            format!(
                "{}: {}",
                body.error.kind.unwrap_or_default(),
                body.error.message.unwrap_or_default()
            )
        })
        .unwrap_or_else(|_| format!("status {status}"));
    if status.as_u16() == 409 || status.as_u16() == 429 || status.is_server_error() {
        Err(ProviderError::Unavailable(format!("stripe: {detail}")))
    } else {
        Err(ProviderError::Rejected(format!("stripe: {detail}")))
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn minimum_charge(&self, currency: &str) -> i64 {
        super::stripe_minimum_charge(currency)
    }

    fn webhook_secret(&self) -> &[u8] {
        self.config.webhook_secret.as_bytes()
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<Checkout, ProviderError> {
        let intent: PaymentIntent = self
            .post(
                "/v1/payment_intents",
                &[
                    ("amount", request.amount.to_string()),
                    ("currency", request.currency.to_lowercase()),
                    ("description", request.description.to_owned()),
                    ("automatic_payment_methods[enabled]", "true".into()),
                    ("metadata[escrow_reference]", request.reference.to_owned()),
                ],
                request.idempotency_key,
            )
            .await?;
        if intent.amount != request.amount
            || !intent.currency.eq_ignore_ascii_case(request.currency)
        {
            return Err(ProviderError::Rejected(format!(
                "payment intent {} is for {} {}, not {} {}",
                intent.id, intent.amount, intent.currency, request.amount, request.currency
            )));
        }
        Ok(Checkout {
            checkout_url: format!(
                "{}/checkout/{}",
                self.config.public_url.trim_end_matches('/'),
                intent.id
            ),
            payment_id: intent.id,
        })
    }

    async fn create_invoice(
        &self,
        request: &InvoiceRequest<'_>,
    ) -> Result<Checkout, ProviderError> {
        let key = request.idempotency_key;
        let mut customer_form = vec![
            ("name", request.customer_name.to_owned()),
            ("metadata[agreement]", request.agreement.to_owned()),
        ];
        if let Some(email) = request.customer_email {
            customer_form.push(("email", email.to_owned()));
        }
        // One customer per agreement, found again by its key on a retry.
        let customer: Object = self
            .post(
                "/v1/customers",
                &customer_form,
                &format!("customer-{}", request.agreement),
            )
            .await?;
        let collection = match request.collection {
            Collection::Invoice => "send_invoice",
            Collection::Card => "charge_automatically",
        };
        let mut invoice_form = vec![
            ("customer", customer.id.clone()),
            ("collection_method", collection.to_owned()),
            ("currency", request.currency.to_lowercase()),
            ("auto_advance", "true".to_owned()),
            ("metadata[escrow_reference]", request.number.to_owned()),
            ("metadata[agreement]", request.agreement.to_owned()),
        ];
        if request.collection == Collection::Invoice {
            invoice_form.push(("days_until_due", request.due_days.to_string()));
            invoice_form.push((
                "payment_settings[payment_method_types][]",
                "customer_balance".to_owned(),
            ));
        }
        let invoice: StripeInvoice = self
            .post("/v1/invoices", &invoice_form, &format!("{key}:invoice"))
            .await?;
        let _item: Object = self
            .post(
                "/v1/invoiceitems",
                &[
                    ("customer", customer.id),
                    ("invoice", invoice.id.clone()),
                    ("amount", request.amount.to_string()),
                    ("currency", request.currency.to_lowercase()),
                    ("description", request.description.to_owned()),
                ],
                &format!("{key}:item"),
            )
            .await?;
        let finalized: StripeInvoice = self
            .post(
                &format!("/v1/invoices/{}/finalize", invoice.id),
                &[],
                &format!("{key}:finalize"),
            )
            .await?;
        if finalized.amount_due != request.amount
            || !finalized.currency.eq_ignore_ascii_case(request.currency)
        {
            return Err(ProviderError::Rejected(format!(
                "invoice {} is for {} {}, not {} {}",
                finalized.id,
                finalized.amount_due,
                finalized.currency,
                request.amount,
                request.currency
            )));
        }
        if request.collection == Collection::Invoice {
            let _sent: Object = self
                .post(
                    &format!("/v1/invoices/{}/send", finalized.id),
                    &[],
                    &format!("{key}:send"),
                )
                .await?;
        }
        let url = finalized.hosted_invoice_url.ok_or_else(|| {
            ProviderError::Unavailable(format!("invoice {} has no hosted page", finalized.id))
        })?;
        Ok(Checkout {
            payment_id: finalized.id,
            checkout_url: url,
        })
    }

    async fn cancel_checkout(&self, payment_id: &str) -> Result<(), ProviderError> {
        if payment_id.starts_with("in_") {
            // An unpaid invoice is voided, so it can no longer be paid.
            let path = format!("/v1/invoices/{payment_id}/void");
            let key = format!("void-{payment_id}");
            return match self.post::<Object>(&path, &[], &key).await {
                Ok(_) | Err(ProviderError::Rejected(_)) => Ok(()),
                Err(error) => Err(error),
            };
        }
        let path = format!("/v1/payment_intents/{payment_id}/cancel");
        let key = format!("cancel-{payment_id}");
        match self.post::<Object>(&path, &[], &key).await {
            // Already succeeded or cancelled: a later payment is refunded by the webhook path.
            Ok(_) | Err(ProviderError::Rejected(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn checkout_page(&self, payment_id: &str) -> Result<Option<String>, ProviderError> {
        // The id becomes part of a URL called with the secret key: never anything but an id.
        if !super::is_payment_id(payment_id) {
            return Ok(None);
        }
        let intent: PaymentIntent = self
            .get(&format!("/v1/payment_intents/{payment_id}"))
            .await?;
        let Some(secret) = intent.client_secret else {
            return Ok(None);
        };
        Ok(Some(format!(
            r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
<script src="https://js.stripe.com/v3/"></script></head>
<body><h1>Checkout</h1><p>{amount} {currency} (minor units), status {status}.</p>
<form id="payment"><div id="element"></div><button type="submit">Pay</button></form>
<script>
const stripe = Stripe("{key}");
const elements = stripe.elements({{clientSecret: "{secret}"}});
elements.create("payment").mount("#element");
document.getElementById("payment").addEventListener("submit", async (event) => {{
  event.preventDefault();
  await stripe.confirmPayment({{elements, confirmParams: {{return_url: location.href}}}});
}});
</script></body></html>"##,
            amount = intent.amount,
            currency = html_escape(&intent.currency),
            status = html_escape(&intent.status),
            key = html_escape(&self.config.publishable_key),
            secret = html_escape(&secret),
        )))
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<String, ProviderError> {
        let refund: Refund = self
            .post(
                "/v1/refunds",
                &[
                    ("payment_intent", request.payment_id.to_owned()),
                    ("amount", request.amount.to_string()),
                    (
                        "metadata[ledger_transfer]",
                        request.idempotency_key.to_owned(),
                    ),
                ],
                request.idempotency_key,
            )
            .await?;
        if refund.status.as_deref() == Some("failed") {
            return Err(ProviderError::Rejected(format!(
                "refund {} failed",
                refund.id
            )));
        }
        Ok(refund.id)
    }

    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<String, ProviderError> {
        let transfer: Object = self
            .post(
                "/v1/transfers",
                &[
                    ("amount", request.amount.to_string()),
                    ("currency", request.currency.to_lowercase()),
                    ("destination", request.destination.to_owned()),
                    ("transfer_group", request.idempotency_key.to_owned()),
                    (
                        "metadata[ledger_transfer]",
                        request.idempotency_key.to_owned(),
                    ),
                ],
                request.idempotency_key,
            )
            .await?;
        Ok(transfer.id)
    }

    async fn create_payout_account(
        &self,
        owner: &str,
        idempotency_key: &str,
    ) -> Result<PayoutAccount, ProviderError> {
        let account: Account = self
            .post(
                "/v1/accounts",
                &[
                    ("type", "express".into()),
                    ("capabilities[transfers][requested]", "true".into()),
                    ("metadata[did]", owner.to_owned()),
                ],
                idempotency_key,
            )
            .await?;
        if account.payouts_enabled {
            return Ok(PayoutAccount {
                id: account.id,
                status: AccountStatus::Active,
                onboarding_url: None,
            });
        }
        let base = self.config.public_url.trim_end_matches('/');
        let link: AccountLink = self
            .post(
                "/v1/account_links",
                &[
                    ("account", account.id.clone()),
                    ("refresh_url", format!("{base}/onboarding/refresh")),
                    ("return_url", format!("{base}/onboarding/return")),
                    ("type", "account_onboarding".into()),
                ],
                &format!("{idempotency_key}-link"),
            )
            .await?;
        Ok(PayoutAccount {
            id: account.id,
            status: if account.details_submitted {
                AccountStatus::Restricted
            } else {
                AccountStatus::Pending
            },
            onboarding_url: Some(link.url),
        })
    }

    async fn find_movement(
        &self,
        kind: MovementKind,
        idempotency_key: &str,
        payment_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let path = match (kind, payment_id) {
            // Transfers carry the key as their transfer_group, which Stripe lists by.
            (MovementKind::Transfer, _) => format!(
                "/v1/transfers?limit=100&transfer_group={}",
                form_value(idempotency_key)
            ),
            (MovementKind::Refund, Some(payment)) => {
                format!(
                    "/v1/refunds?limit=100&payment_intent={}",
                    form_value(payment)
                )
            }
            (MovementKind::Refund, None) => return Ok(None),
        };
        let list: List = self.get(&path).await?;
        Ok(list
            .data
            .into_iter()
            .find(|object| {
                kind == MovementKind::Transfer
                    || object.metadata.get("ledger_transfer").map(String::as_str)
                        == Some(idempotency_key)
            })
            .map(|object| object.id))
    }

    async fn balance(&self, _currency: &str) -> Result<Option<i64>, ProviderError> {
        // Stripe's balance also moves by its processing fees, which the ledger does not
        // model, so it is not comparable to the clearing account.
        Ok(None)
    }

    async fn movements(&self) -> Result<Option<Vec<Movement>>, ProviderError> {
        Ok(None)
    }
}
