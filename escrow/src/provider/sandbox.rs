//! The sandbox provider, the default: no real money, deterministic, with a local checkout
//! page whose buttons complete or fail a payment.
//!
//! It keeps its books in the `sandbox` schema and commits them on its own connection, apart
//! from the ledger's transactions, as an outside provider would; an idempotency key it has
//! seen returns the first result. Its webhooks are Stripe-format events signed with Stripe's
//! scheme under a local secret, verified and de-duplicated like Stripe's.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{
    signature, AccountStatus, Checkout, CheckoutRequest, InvoiceRequest, Movement, MovementKind,
    PaymentProvider, PayoutAccount, ProviderError, RefundRequest, TransferRequest,
};
use crate::clock::Clock;
use crate::identifiers;

/// The sandbox payment provider.
pub struct SandboxProvider {
    pool: PgPool,
    public_url: String,
    secret: Vec<u8>,
    clock: Arc<dyn Clock>,
}

/// A signed webhook delivery, as the sandbox sends it.
#[derive(Debug, Clone)]
pub struct SignedEvent {
    /// The `Stripe-Signature` header value.
    pub signature: String,
    /// The raw body.
    pub body: Vec<u8>,
}

fn unavailable(error: sqlx::Error) -> ProviderError {
    ProviderError::Unavailable(format!("sandbox database: {error}"))
}

impl SandboxProvider {
    /// A sandbox keeping its books in `pool`, serving checkout pages under `public_url`,
    /// signing webhooks with `secret`.
    pub fn new(
        pool: PgPool,
        public_url: &str,
        secret: &[u8],
        clock: Arc<dyn Clock>,
    ) -> SandboxProvider {
        SandboxProvider {
            pool,
            public_url: public_url.trim_end_matches('/').to_owned(),
            secret: secret.to_vec(),
            clock,
        }
    }

    /// The payer pressed "complete" (`succeeded = true`) or "fail" on the checkout page.
    /// Returns the signed event to deliver, or `None` when the payment was already settled.
    pub async fn settle_payment(
        &self,
        payment_id: &str,
        succeeded: bool,
    ) -> Result<Option<SignedEvent>, ProviderError> {
        let status = if succeeded { "succeeded" } else { "failed" };
        // The status and its event commit together: a crash between them would leave a
        // settled payment whose event no one can ever deliver, so escrow never books it.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = sqlx::query!(
            "UPDATE sandbox.payment SET status = $2
             WHERE id = $1 AND status = 'requires_payment'
             RETURNING amount, currency, reference",
            payment_id,
            status,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .map(|row| (row.amount, row.currency, row.reference));
        let Some((amount, currency, reference)) = row else {
            return Ok(None);
        };
        let event_type = if succeeded {
            "payment_intent.succeeded"
        } else {
            "payment_intent.payment_failed"
        };
        let object = json!({
            "id": payment_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": if succeeded { amount } else { 0 },
            "currency": currency.to_lowercase(),
            "status": if succeeded { "succeeded" } else { "requires_payment_method" },
            "metadata": {"escrow_reference": reference},
        });
        let signed = self.record_event(&mut *tx, event_type, object).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(signed))
    }

    /// Records and signs an event of `event_type` about `object`.
    pub async fn emit(
        &self,
        event_type: &str,
        object: Value,
    ) -> Result<SignedEvent, ProviderError> {
        self.record_event(&self.pool, event_type, object).await
    }

    /// Records an event through `executor` (inside the caller's transaction when the event
    /// must commit with the change it reports) and signs it.
    async fn record_event<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        executor: E,
        event_type: &str,
        object: Value,
    ) -> Result<SignedEvent, ProviderError> {
        let now = self.clock.now();
        let id = identifiers::random("evt_sbx");
        let payload = json!({
            "id": id,
            "object": "event",
            "type": event_type,
            "created": now.timestamp(),
            "livemode": false,
            "data": {"object": object},
        });
        sqlx::query!(
            "INSERT INTO sandbox.event (id, event_type, payload, created_at) VALUES ($1, $2, $3, $4)",
            id,
            event_type,
            payload,
            now,
        )
        .execute(executor)
        .await
        .map_err(unavailable)?;
        Ok(self.sign(&payload))
    }

    /// Signs `payload` as a delivery now.
    pub fn sign(&self, payload: &Value) -> SignedEvent {
        let body = payload.to_string().into_bytes();
        SignedEvent {
            signature: signature::sign(&self.secret, self.clock.now().timestamp(), &body),
            body,
        }
    }

    /// The events the sandbox sent, oldest first, for redelivery.
    pub async fn sent_events(&self) -> Result<Vec<Value>, ProviderError> {
        sqlx::query_scalar!("SELECT payload FROM sandbox.event ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn payment_status(
        &self,
        payment_id: &str,
    ) -> Result<Option<(i64, String, String)>, ProviderError> {
        Ok(sqlx::query!(
            "SELECT amount, currency, status FROM sandbox.payment WHERE id = $1",
            payment_id,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .map(|row| (row.amount, row.currency, row.status)))
    }
}

/// Renders the sandbox checkout page: the amount and two buttons posting back.
fn checkout_html(payment_id: &str, amount: i64, currency: &str, status: &str) -> String {
    let id = html_escape(payment_id);
    let currency = html_escape(currency);
    let status = html_escape(status);
    let actions = if status == "requires_payment" {
        format!(
            r#"<form method="post" action="/checkout/{id}/complete"><button type="submit">Complete payment</button></form>
<form method="post" action="/checkout/{id}/fail"><button type="submit">Fail payment</button></form>"#
        )
    } else {
        format!("<p>This payment is {status}.</p>")
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox checkout</title></head>
<body><h1>Sandbox checkout</h1>
<p>No real money moves here. Payment <code>{id}</code>: {amount} {currency} (minor units).</p>
{actions}
</body></html>"#
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn minimum_charge(&self, currency: &str) -> i64 {
        super::stripe_minimum_charge(currency)
    }

    fn webhook_secret(&self) -> &[u8] {
        &self.secret
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<Checkout, ProviderError> {
        let id = identifiers::derived("pi_sbx", &[request.idempotency_key]);
        sqlx::query!(
            "INSERT INTO sandbox.payment (id, idempotency_key, amount, currency, reference, status, created_at)
             VALUES ($1, $2, $3, $4, $5, 'requires_payment', $6)
             ON CONFLICT DO NOTHING",
            id,
            request.idempotency_key,
            request.amount,
            request.currency,
            request.reference,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        let stored = sqlx::query!(
            "SELECT id, amount, currency FROM sandbox.payment WHERE idempotency_key = $1",
            request.idempotency_key,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)
        .map(|row| (row.id, row.amount, row.currency))?;
        if stored.1 != request.amount || stored.2 != request.currency {
            return Err(ProviderError::Rejected(
                "idempotency key reused with different parameters".into(),
            ));
        }
        Ok(Checkout {
            checkout_url: format!("{}/checkout/{}", self.public_url, stored.0),
            payment_id: stored.0,
        })
    }

    /// The sandbox's invoice is a payment page like a checkout's: "Pay" stands in for the
    /// client's bank transfer (or card) arriving, "Fail" for it bouncing.
    async fn create_invoice(
        &self,
        request: &InvoiceRequest<'_>,
    ) -> Result<Checkout, ProviderError> {
        self.create_checkout(&CheckoutRequest {
            reference: request.number,
            amount: request.amount,
            currency: request.currency,
            description: request.description,
            idempotency_key: request.idempotency_key,
        })
        .await
    }

    async fn cancel_checkout(&self, payment_id: &str) -> Result<(), ProviderError> {
        sqlx::query!(
            "UPDATE sandbox.payment SET status = 'canceled' WHERE id = $1 AND status = 'requires_payment'",
            payment_id,
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn checkout_page(&self, payment_id: &str) -> Result<Option<String>, ProviderError> {
        if !super::is_payment_id(payment_id) {
            return Ok(None);
        }
        Ok(self
            .payment_status(payment_id)
            .await?
            .map(|(amount, currency, status)| {
                checkout_html(payment_id, amount, &currency, &status)
            }))
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<String, ProviderError> {
        let Some((paid, currency, status)) = self.payment_status(request.payment_id).await? else {
            return Err(ProviderError::Rejected(format!(
                "no payment {}",
                request.payment_id
            )));
        };
        if status != "succeeded" || currency != request.currency {
            return Err(ProviderError::Rejected(format!(
                "payment {} is {status} in {currency}",
                request.payment_id
            )));
        }
        let id = identifiers::derived("re_sbx", &[request.idempotency_key]);
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Serialises refunds of one payment so their sum can never exceed it.
        sqlx::query!(
            "SELECT 1 AS locked FROM sandbox.payment WHERE id = $1 FOR UPDATE",
            request.payment_id,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let existing = sqlx::query!(
            "SELECT payment_id, amount FROM sandbox.refund WHERE idempotency_key = $1",
            request.idempotency_key,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .map(|row| (row.payment_id, row.amount));
        if let Some((payment, amount)) = existing {
            if payment != request.payment_id || amount != request.amount {
                return Err(ProviderError::Rejected(
                    "idempotency key reused with different parameters".into(),
                ));
            }
            return Ok(id);
        }
        let refunded = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(amount), 0)::bigint AS "refunded!" FROM sandbox.refund
             WHERE payment_id = $1"#,
            request.payment_id,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        if refunded + request.amount > paid {
            return Err(ProviderError::Rejected(format!(
                "refund of {} exceeds what remains of payment {}",
                request.amount, request.payment_id
            )));
        }
        sqlx::query!(
            "INSERT INTO sandbox.refund (id, idempotency_key, payment_id, amount, currency, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            id,
            request.idempotency_key,
            request.payment_id,
            request.amount,
            request.currency,
            self.clock.now(),
        )
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(id)
    }

    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<String, ProviderError> {
        let id = identifiers::derived("tr_sbx", &[request.idempotency_key]);
        let inserted = sqlx::query!(
            "INSERT INTO sandbox.transfer (id, idempotency_key, destination, amount, currency, created_at)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE EXISTS (SELECT 1 FROM sandbox.connected_account WHERE id = $3)
             ON CONFLICT DO NOTHING",
            id,
            request.idempotency_key,
            request.destination,
            request.amount,
            request.currency,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if inserted.rows_affected() == 0 {
            let existing = sqlx::query!(
                "SELECT destination, amount FROM sandbox.transfer WHERE idempotency_key = $1",
                request.idempotency_key,
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| (row.destination, row.amount));
            match existing {
                Some((destination, amount))
                    if destination == request.destination && amount == request.amount => {}
                Some(_) => {
                    return Err(ProviderError::Rejected(
                        "idempotency key reused with different parameters".into(),
                    ))
                }
                None => {
                    return Err(ProviderError::Rejected(format!(
                        "no connected account {}",
                        request.destination
                    )))
                }
            }
        }
        Ok(id)
    }

    async fn create_payout_account(
        &self,
        owner: &str,
        idempotency_key: &str,
    ) -> Result<PayoutAccount, ProviderError> {
        let id = identifiers::derived("acct_sbx", &[owner]);
        sqlx::query!(
            "INSERT INTO sandbox.connected_account (id, idempotency_key, owner, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            id,
            idempotency_key,
            owner,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        // Sandbox onboarding has nothing to fill in: the account is active at once.
        Ok(PayoutAccount {
            id,
            status: AccountStatus::Active,
            onboarding_url: None,
        })
    }

    async fn find_movement(
        &self,
        kind: MovementKind,
        idempotency_key: &str,
        _payment_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        match kind {
            MovementKind::Refund => sqlx::query_scalar!(
                "SELECT id FROM sandbox.refund WHERE idempotency_key = $1",
                idempotency_key,
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable),
            MovementKind::Transfer => sqlx::query_scalar!(
                "SELECT id FROM sandbox.transfer WHERE idempotency_key = $1",
                idempotency_key,
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable),
        }
    }

    async fn balance(&self, currency: &str) -> Result<Option<i64>, ProviderError> {
        let balance = sqlx::query_scalar!(
            r#"SELECT ((SELECT coalesce(sum(amount), 0) FROM sandbox.payment WHERE currency = $1 AND status = 'succeeded')
                  - (SELECT coalesce(sum(amount), 0) FROM sandbox.refund WHERE currency = $1)
                  - (SELECT coalesce(sum(amount), 0) FROM sandbox.transfer WHERE currency = $1))::bigint
                 AS "balance!""#,
            currency,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(Some(balance))
    }

    async fn movements(&self) -> Result<Option<Vec<Movement>>, ProviderError> {
        let rows = sqlx::query!(
            r#"SELECT 'refund' AS "kind!", idempotency_key AS "idempotency_key!",
                 amount AS "amount!", currency AS "currency!"
             FROM sandbox.refund
             UNION ALL
             SELECT 'transfer', idempotency_key, amount, currency FROM sandbox.transfer"#,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|row| (row.kind, row.idempotency_key, row.amount, row.currency))
        .collect::<Vec<(String, String, i64, String)>>();
        Ok(Some(
            rows.into_iter()
                .map(|(kind, idempotency_key, amount, currency)| Movement {
                    kind: if kind == "refund" {
                        MovementKind::Refund
                    } else {
                        MovementKind::Transfer
                    },
                    idempotency_key,
                    amount,
                    currency,
                })
                .collect(),
        ))
    }
}
