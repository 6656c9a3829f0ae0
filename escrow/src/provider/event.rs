//! Webhook events in Stripe's format (`{"id","type","created","data":{"object":{...}}}`),
//! which the sandbox sends too.

use serde_json::Value;

/// What an event tells escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A payment completed: the money is in the platform balance.
    PaymentSucceeded {
        /// The provider's payment id.
        payment_id: String,
        /// Minor units received.
        amount: i64,
        /// ISO 4217 code of `amount`, upper case. `None` when the event does not say: Stripe
        /// always does, so only a hand-made event lacks it, and then the amount alone is
        /// compared with what was asked for.
        currency: Option<String>,
    },
    /// A payment attempt failed.
    PaymentFailed {
        /// The provider's payment id.
        payment_id: String,
    },
    /// A connected account changed (e.g. finished onboarding).
    AccountUpdated {
        /// The provider's account id.
        account_id: String,
        /// Whether payouts can reach it now.
        payouts_enabled: bool,
    },
    /// An event escrow records but does not act on.
    Other,
}

/// A parsed webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The provider's event id, unique per event (not per delivery).
    pub id: String,
    /// The event type, e.g. `payment_intent.succeeded`.
    pub event_type: String,
    /// What it means for escrow.
    pub kind: EventKind,
}

/// Why an event body was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct MalformedEvent(pub &'static str);

/// Stripe writes currencies in lower case (`"usd"`); the ledger names them in upper case.
fn currency(value: &Value) -> Result<String, MalformedEvent> {
    value
        .as_str()
        .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
        .ok_or(MalformedEvent("currency is not an ISO 4217 code"))
}

/// Parses an event body (already verified).
pub fn parse(body: &Value) -> Result<Event, MalformedEvent> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 255)
        .ok_or(MalformedEvent("no event id"))?;
    let event_type = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or(MalformedEvent("no event type"))?;
    let object = body.pointer("/data/object");
    let object_id = || {
        object
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(MalformedEvent("no data.object.id"))
    };
    let kind = match event_type {
        "payment_intent.succeeded" => EventKind::PaymentSucceeded {
            payment_id: object_id()?,
            amount: object
                .and_then(|o| o.get("amount_received").or_else(|| o.get("amount")))
                .and_then(Value::as_i64)
                .filter(|amount| *amount >= 0)
                .ok_or(MalformedEvent("no amount"))?,
            currency: object
                .and_then(|o| o.get("currency"))
                .map(currency)
                .transpose()?,
        },
        // A retainer invoice (Stripe Billing): paid, or not paid and given up on.
        "invoice.paid" => EventKind::PaymentSucceeded {
            payment_id: object_id()?,
            amount: object
                .and_then(|o| o.get("amount_paid"))
                .and_then(Value::as_i64)
                .filter(|amount| *amount >= 0)
                .ok_or(MalformedEvent("no amount_paid"))?,
            currency: object
                .and_then(|o| o.get("currency"))
                .map(currency)
                .transpose()?,
        },
        "invoice.payment_failed"
        | "invoice.voided"
        | "invoice.marked_uncollectible"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled" => EventKind::PaymentFailed {
            payment_id: object_id()?,
        },
        "account.updated" => EventKind::AccountUpdated {
            account_id: object_id()?,
            payouts_enabled: object
                .and_then(|o| o.get("payouts_enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        _ => EventKind::Other,
    };
    Ok(Event {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn succeeded(object: Value) -> Result<EventKind, MalformedEvent> {
        parse(&json!({"id": "evt_1", "type": "payment_intent.succeeded",
                      "data": {"object": object}}))
        .map(|event| event.kind)
    }

    #[test]
    fn a_payment_carries_its_received_amount_and_upper_case_currency() {
        assert_eq!(
            succeeded(
                json!({"id": "pi_1", "amount": 1_000, "amount_received": 900,
                             "currency": "eur"})
            ),
            Ok(EventKind::PaymentSucceeded {
                payment_id: "pi_1".into(),
                amount: 900,
                currency: Some("EUR".into()),
            })
        );
        assert_eq!(
            succeeded(json!({"id": "pi_1", "amount": 1_000})),
            Ok(EventKind::PaymentSucceeded {
                payment_id: "pi_1".into(),
                amount: 1_000,
                currency: None,
            })
        );
    }

    #[test]
    fn a_payment_with_a_bad_currency_or_amount_is_malformed() {
        for currency in [
            json!("us"),
            json!("usdx"),
            json!("u$d"),
            json!(840),
            json!(null),
        ] {
            assert_eq!(
                succeeded(json!({"id": "pi_1", "amount": 1_000, "currency": currency})),
                Err(MalformedEvent("currency is not an ISO 4217 code")),
                "{currency}"
            );
        }
        assert_eq!(
            succeeded(json!({"id": "pi_1", "amount": -5, "currency": "usd"})),
            Err(MalformedEvent("no amount"))
        );
        assert_eq!(
            succeeded(json!({"id": "pi_1", "amount": "5", "currency": "usd"})),
            Err(MalformedEvent("no amount"))
        );
    }
}
