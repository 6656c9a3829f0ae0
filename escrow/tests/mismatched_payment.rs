//! Payments that are not what their pledge or donation asked for (another amount, another
//! currency): booked as received, owed back to the payer, refunded exactly once for exactly
//! what was received, the pledge or donation failed; the webhook answers 200 and anything
//! said about the payment afterwards changes nothing. Crashes injected at every step of that
//! (the killed real process is in `mismatched_payment_kill.rs`) still end in one refund.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenlight_escrow::failpoint::{FailAction, FailPoints};
use greenlight_escrow::http::router;
use greenlight_escrow::procedures::{donation, pledge};
use greenlight_escrow::proposal_source::Stage;
use greenlight_escrow::provider::sandbox::SignedEvent;
use greenlight_escrow::webhook::{Outcome, WebhookError};
use greenlight_escrow::EscrowError;
use greenlight_lexicon::fund::greenlight::escrow::{cancel_pledge, create_donation};
use serde_json::Value;
use sqlx::PgPool;
use support::*;
use tower::ServiceExt;

/// What escrow recorded about a mismatched payment, as a tuple for comparisons.
#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
struct Mismatch {
    payer: String,
    expected_amount: i64,
    expected_currency: String,
    received_amount: i64,
    received_currency: String,
    transfer_id: Option<String>,
    refund_job: Option<String>,
}

async fn mismatch(h: &Harness, reference: &str) -> Option<Mismatch> {
    sqlx::query_as(
        "SELECT payer, expected_amount, expected_currency, received_amount, received_currency,
                transfer_id, refund_job
         FROM escrow.mismatched_payment WHERE pledge = $1 OR donation = $1",
    )
    .bind(reference)
    .fetch_optional(&h.pool)
    .await
    .unwrap()
}

/// (kind, ledger, debit, credit, amount, state) of a ledger transfer.
async fn transfer(h: &Harness, id: &str) -> Option<(String, String, String, String, i64, String)> {
    sqlx::query_as(
        "SELECT kind, ledger, debit_account, credit_account, amount, state
         FROM escrow.transfer_current WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&h.pool)
    .await
    .unwrap()
}

/// (amount, currency, idempotency key) of every sandbox refund of `reference`'s payment.
async fn refunds_of(h: &Harness, reference: &str) -> Vec<(i64, String, String)> {
    let payment = h.payment_id(reference).await;
    sqlx::query_as(
        "SELECT amount, currency, idempotency_key FROM sandbox.refund WHERE payment_id = $1",
    )
    .bind(payment)
    .fetch_all(&h.pool)
    .await
    .unwrap()
}

async fn state_of(h: &Harness, reference: &str) -> String {
    sqlx::query_scalar(
        "SELECT state FROM escrow.pledge WHERE id = $1
         UNION ALL SELECT state FROM escrow.donation WHERE id = $1",
    )
    .bind(reference)
    .fetch_one(&h.pool)
    .await
    .unwrap()
}

/// How many ledger transfers and jobs exist: what a delivery that changes nothing leaves.
async fn footprint(h: &Harness) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM escrow.transfer_state), (SELECT count(*) FROM escrow.job),
                (SELECT count(*) FROM escrow.mismatched_payment)",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap()
}

/// Posts a signed delivery to the real router's webhook endpoint.
async fn post_webhook(h: &Harness, signed: &SignedEvent) -> (StatusCode, Value) {
    let response = router(h.escrow.clone())
        .oneshot(
            Request::post("/webhooks/sandbox")
                .header("stripe-signature", &signed.signature)
                .header("content-type", "application/json")
                .body(Body::from(signed.body.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_pledge_paid_with_another_amount_refunds_what_was_received(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(1);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let signed = h.provider_takes(&pending.id, 1_500, "USD").await;

    // The webhook answers 200 (a 5xx would be redelivered forever), and a duplicate is one.
    let (status, body) = post_webhook(&h, &signed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false);
    let (status, body) = post_webhook(&h, &signed).await;
    assert_eq!(
        (status, &body["duplicate"]),
        (StatusCode::OK, &Value::Bool(true))
    );

    assert_eq!(h.pledge(&pending.id).await.state, "failed");
    assert_eq!(
        transfer(&h, &format!("{}:hold", pending.id))
            .await
            .unwrap()
            .5,
        "voided"
    );
    assert_eq!(
        transfer(&h, &format!("{}:mismatched-payment", pending.id)).await,
        Some((
            "mismatched_payment".into(),
            "USD".into(),
            "provider_clearing".into(),
            "refunds:did:plc:alice".into(),
            1_500,
            "posted".into()
        ))
    );
    assert_eq!(
        mismatch(&h, &pending.id).await,
        Some(Mismatch {
            payer: "did:plc:alice".into(),
            expected_amount: 1_000,
            expected_currency: "USD".into(),
            received_amount: 1_500,
            received_currency: "USD".into(),
            transfer_id: Some(format!("{}:mismatched-payment", pending.id)),
            refund_job: Some(format!("refund:{}:mismatched-payment", pending.id)),
        })
    );
    // Owed to the backer and queued, before any refund: the books already balance.
    assert_eq!(
        h.balance("refunds:did:plc:alice").await.credit_balance(),
        1_500
    );
    assert_eq!(h.balance(&format!("held:{uri}")).await.credits_posted, 0);
    h.assert_books_sound().await;

    let report = h.tick().await.unwrap();
    assert_eq!(report.jobs.done, 1);
    assert_eq!(
        refunds_of(&h, &pending.id).await,
        [(
            1_500,
            "USD".into(),
            format!("{}:mismatch-refund", pending.id)
        )]
    );
    assert_eq!(h.balance("refunds:did:plc:alice").await.credit_balance(), 0);
    // Nothing more happens, however often the worker runs or the event is delivered.
    h.tick().await.unwrap();
    assert_eq!(h.deliver(&signed).await.unwrap(), Outcome::Duplicate);
    assert_eq!(h.provider_movements().await.0, (1, 1_500));
    assert_eq!(h.pledge(&pending.id).await.state, "failed");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_pledge_paid_in_another_currency_is_refunded_in_that_currency(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(2);
    let pending = h.pending_pledge("did:plc:bob", &uri, 1_000).await;
    // The same number, another currency: still not what was pledged.
    let signed = h.provider_takes(&pending.id, 1_000, "EUR").await;
    assert_eq!(h.deliver(&signed).await.unwrap(), Outcome::Applied);
    assert_eq!(h.pledge(&pending.id).await.state, "failed");
    assert_eq!(
        transfer(&h, &format!("{}:mismatched-payment", pending.id))
            .await
            .map(|t| (t.0, t.1, t.4)),
        Some(("mismatched_payment".into(), "EUR".into(), 1_000))
    );
    assert_eq!(
        mismatch(&h, &pending.id)
            .await
            .map(|m| (m.received_amount, m.received_currency)),
        Some((1_000, "EUR".into()))
    );
    h.assert_books_sound().await;
    h.tick().await.unwrap();
    assert_eq!(
        refunds_of(&h, &pending.id).await,
        [(
            1_000,
            "EUR".into(),
            format!("{}:mismatch-refund", pending.id)
        )]
    );
    // No USD moved at all: the pledge's reservation was released.
    assert_eq!(h.balance("provider_clearing").await, Default::default());

    // The public feed carries the new kind, in the currency received, and its response
    // still matches the lexicon.
    let response = router(h.escrow.clone())
        .oneshot(
            Request::get("/xrpc/fund.greenlight.escrow.listLedgerEntries?limit=100")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let feed: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap(),
    )
    .unwrap();
    let entry = feed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "mismatched_payment")
        .expect("the mismatched payment is in the feed");
    assert_eq!(
        (&entry["currency"], &entry["amount"], &entry["state"]),
        (
            &Value::from("EUR"),
            &Value::from(1_000),
            &Value::from("posted")
        )
    );
    assert!(
        entry.get("proposal").is_none_or(Value::is_null),
        "the money never was the proposal's: {entry}"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_donation_paid_with_another_amount_is_refunded_and_never_paid_out(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(3);
    h.set_stage(&uri, Stage::Development);
    let created = donation::create_donation(
        &h.escrow,
        "did:plc:dora",
        &create_donation::Input {
            proposal: strong_ref(&uri),
            amount: 2_000,
            currency: "USD".into(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let signed = h.provider_takes(&created.id, 1_200, "USD").await;
    assert_eq!(h.deliver(&signed).await.unwrap(), Outcome::Applied);
    assert_eq!(state_of(&h, &created.id).await, "failed");
    assert_eq!(
        transfer(&h, &format!("{}:donation", created.id))
            .await
            .unwrap()
            .5,
        "voided"
    );
    h.assert_books_sound().await;
    h.tick().await.unwrap();
    // One refund of what came in; no fee, no payout to the maintainer.
    assert_eq!(h.provider_movements().await, ((1, 1_200), (0, 0)));
    assert_eq!(
        refunds_of(&h, &created.id).await,
        [(
            1_200,
            "USD".into(),
            format!("{}:mismatch-refund", created.id)
        )]
    );
    assert_eq!(state_of(&h, &created.id).await, "failed");
    assert_eq!(h.balance("platform_fees").await, Default::default());
    assert_eq!(
        mismatch(&h, &created.id).await.map(|m| m.payer),
        Some("did:plc:dora".into())
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_mismatched_payment_after_a_cancellation_is_refunded_and_the_pledge_stays_cancelled(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let uri = h.preview(4);
    let pending = h.pending_pledge("did:plc:carol", &uri, 3_000).await;
    pledge::cancel_pledge(
        &h.escrow,
        "did:plc:carol",
        &cancel_pledge::Input {
            pledge: pending.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let signed = h.provider_takes(&pending.id, 2_999, "USD").await;
    assert_eq!(h.deliver(&signed).await.unwrap(), Outcome::Applied);
    assert_eq!(h.pledge(&pending.id).await.state, "cancelled");
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.0, (1, 2_999));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn events_contradicting_a_booked_payment_change_nothing(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(5);

    // Booked as mismatched; then another event (a new id) claims the pledged amount.
    let mismatched = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let signed = h.provider_takes(&mismatched.id, 700, "USD").await;
    assert_eq!(h.deliver(&signed).await.unwrap(), Outcome::Applied);
    let before = footprint(&h).await;
    let payment = h.payment_id(&mismatched.id).await;
    let claim = h.sandbox().sign(&serde_json::json!({
        "id": "evt_contradiction_1", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 1_000, "currency": "usd"}}
    }));
    assert_eq!(h.deliver(&claim).await.unwrap(), Outcome::Applied);
    // The same mismatch reported again under a new id: still nothing.
    let again = h.sandbox().sign(&serde_json::json!({
        "id": "evt_contradiction_2", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 700, "currency": "usd"}}
    }));
    assert_eq!(h.deliver(&again).await.unwrap(), Outcome::Applied);
    assert_eq!(footprint(&h).await, before);
    assert_eq!(h.pledge(&mismatched.id).await.state, "failed");

    // Held as pledged; then another event claims another amount for the same payment.
    let held = h.held_pledge("did:plc:bob", &uri, 2_000).await;
    let before = footprint(&h).await;
    let payment = h.payment_id(&held.id).await;
    let claim = h.sandbox().sign(&serde_json::json!({
        "id": "evt_contradiction_3", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 5_000, "currency": "usd"}}
    }));
    assert_eq!(h.deliver(&claim).await.unwrap(), Outcome::Applied);
    assert_eq!(footprint(&h).await, before);
    assert_eq!(h.pledge(&held.id).await.state, "held");
    assert_eq!(mismatch(&h, &held.id).await, None);

    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.0, (1, 700));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_payment_of_nothing_fails_the_pledge_and_refunds_nothing(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(6);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pending.id).await;
    // The provider kept nothing (its books say the payment did not go through).
    sqlx::query("UPDATE sandbox.payment SET status = 'failed' WHERE id = $1")
        .bind(&payment)
        .execute(&h.pool)
        .await
        .unwrap();
    let zero = h.sandbox().sign(&serde_json::json!({
        "id": "evt_zero", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 1_000, "amount_received": 0,
                            "currency": "usd"}}
    }));
    assert_eq!(h.deliver(&zero).await.unwrap(), Outcome::Applied);
    assert_eq!(h.pledge(&pending.id).await.state, "failed");
    assert_eq!(
        mismatch(&h, &pending.id)
            .await
            .map(|m| (m.received_amount, m.transfer_id, m.refund_job)),
        Some((0, None, None))
    );
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.0, (0, 0));
    h.assert_books_sound().await;
}

fn armed(point: &str) -> FailPoints {
    let points = FailPoints::none();
    points.arm(point, FailAction::Error);
    points
}

/// Every point a mismatched payment passes: its booking in the webhook, then its refund.
const POINTS: &[&str] = &[
    "mismatch.before_commit",
    "mismatch.after_commit",
    "refund.after_reserve",
    "refund.before_provider_call",
    "refund.after_provider_call",
    "refund.after_post",
];

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_crash_at_any_step_of_a_mismatched_payment_refunds_exactly_once(pool: PgPool) {
    for (n, point) in POINTS.iter().enumerate() {
        assert!(
            greenlight_escrow::failpoint::POINTS.contains(point),
            "{point} is not a failure point"
        );
        let h = Harness::with_failpoints(pool.clone(), armed(point)).await;
        let uri = h.preview(100 + n as u32);
        let pending = h.pending_pledge("did:plc:alice", &uri, 2_000).await;
        // Alternate the mismatch: another amount, another currency.
        let (amount, currency) = if n % 2 == 0 {
            (2_345, "USD")
        } else {
            (2_000, "EUR")
        };
        let signed = h.provider_takes(&pending.id, amount, currency).await;

        let first = h.deliver(&signed).await;
        let restarted = if point.starts_with("mismatch.") {
            assert!(
                matches!(first, Err(WebhookError::Escrow(EscrowError::Injected(_)))),
                "{point}: {first:?}"
            );
            // Before the commit nothing was kept; after it, everything was.
            let booked = *point == "mismatch.after_commit";
            assert_eq!(mismatch(&h, &pending.id).await.is_some(), booked, "{point}");
            assert_eq!(
                h.pledge(&pending.id).await.state,
                if booked { "failed" } else { "pending" },
                "{point}"
            );
            // The provider delivers again to a restarted escrow.
            let restarted = h.restart(FailPoints::none());
            let again = restarted.deliver(&signed).await.unwrap();
            assert_eq!(
                again,
                if booked {
                    Outcome::Duplicate
                } else {
                    Outcome::Applied
                },
                "{point}"
            );
            restarted
        } else {
            assert_eq!(first.unwrap(), Outcome::Applied, "{point}");
            let crashed = h.tick().await;
            assert!(
                matches!(crashed, Err(EscrowError::Injected(_))),
                "{point}: {crashed:?}"
            );
            h.restart(FailPoints::none())
        };
        restarted.tick().await.unwrap();
        restarted.tick().await.unwrap();
        assert_eq!(
            refunds_of(&restarted, &pending.id).await,
            [(
                amount,
                currency.to_owned(),
                format!("{}:mismatch-refund", pending.id)
            )],
            "{point}: exactly one refund of what was received"
        );
        assert_eq!(restarted.pledge(&pending.id).await.state, "failed");
        let job: String = sqlx::query_scalar("SELECT state FROM escrow.job WHERE id = $1")
            .bind(format!("refund:{}:mismatched-payment", pending.id))
            .fetch_one(&restarted.pool)
            .await
            .unwrap();
        assert_eq!(job, "done", "{point}");
        restarted.assert_books_sound().await;
    }
}
