//! Retries, duplicates and forgeries: idempotency keys of procedures, and webhooks that are
//! duplicated, forged, replayed late or delivered out of order.

mod support;

use chrono::Duration;
use greenlight_escrow::procedures::{dispute, pledge};
use greenlight_escrow::proposal_source::Stage;
use greenlight_escrow::provider::signature::{self, SignatureError};
use greenlight_escrow::webhook::{self, Outcome, WebhookError};
use greenlight_lexicon::fund::greenlight::escrow::{cancel_pledge, file_dispute};
use sqlx::PgPool;
use support::*;

async fn pledge_count(h: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM escrow.pledge")
        .fetch_one(&h.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_same_key_and_body_return_the_same_pledge(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(1);
    let input = h.pledge_input(&uri, 1_000);
    let first = pledge::create_pledge(&h.escrow, "did:plc:alice", &input)
        .await
        .unwrap();
    let second = pledge::create_pledge(&h.escrow, "did:plc:alice", &input)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(pledge_count(&h).await, 1);
    // Another body under the same key is refused.
    let changed = greenlight_lexicon::fund::greenlight::escrow::create_pledge::Input {
        amount: 2_000,
        ..input.clone()
    };
    let conflict = pledge::create_pledge(&h.escrow, "did:plc:alice", &changed).await;
    assert_eq!(error_name(conflict), "IdempotencyConflict");
    // Keys are scoped to the caller: another backer's same key is their own pledge.
    let other = pledge::create_pledge(&h.escrow, "did:plc:bob", &input)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    // After the preview ended, the retry still gets the first answer.
    h.advance(Duration::days(11));
    let late = pledge::create_pledge(&h.escrow, "did:plc:alice", &input)
        .await
        .unwrap();
    assert_eq!(late, first);
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn concurrent_pledges_with_one_key_make_one_pledge(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(2);
    let input = h.pledge_input(&uri, 1_500);
    let calls = (0..8).map(|_| {
        let escrow = h.escrow.clone();
        let input = input.clone();
        tokio::spawn(async move { pledge::create_pledge(&escrow, "did:plc:alice", &input).await })
    });
    let answers: Vec<_> = futures_join(calls).await;
    let first = answers[0].as_ref().unwrap().clone();
    for answer in &answers {
        assert_eq!(answer.as_ref().unwrap(), &first);
    }
    assert_eq!(pledge_count(&h).await, 1);
    let checkouts: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox.payment")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(checkouts, 1);
    h.assert_books_sound().await;
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_duplicate_webhook_changes_nothing(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(3);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pending.id).await;
    let signed = h
        .sandbox()
        .settle_payment(&payment, true)
        .await
        .unwrap()
        .unwrap();
    let deliver = || webhook::receive(&h.escrow, "sandbox", Some(&signed.signature), &signed.body);
    assert_eq!(deliver().await.unwrap(), Outcome::Applied);
    assert_eq!(deliver().await.unwrap(), Outcome::Duplicate);
    // A redelivery signed afresh (as providers do on retry) is the same event: still a duplicate.
    let payload: serde_json::Value = serde_json::from_slice(&signed.body).unwrap();
    let resent = h.sandbox().sign(&payload);
    assert_eq!(
        webhook::receive(&h.escrow, "sandbox", Some(&resent.signature), &resent.body)
            .await
            .unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(h.pledge(&pending.id).await.state, "held");
    assert_eq!(
        h.balance(&format!("held:{uri}")).await.credits_posted,
        1_000
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn forged_and_stale_webhooks_are_refused(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(4);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pending.id).await;
    let body = serde_json::json!({
        "id": "evt_forged", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 1_000, "amount_received": 1_000}}
    })
    .to_string();
    let now = h.now().timestamp();
    let forged = signature::sign(b"not-the-secret", now, body.as_bytes());
    let refused = webhook::receive(&h.escrow, "sandbox", Some(&forged), body.as_bytes()).await;
    assert!(matches!(
        refused,
        Err(WebhookError::Signature(SignatureError::Mismatch))
    ));
    let unsigned = webhook::receive(&h.escrow, "sandbox", None, body.as_bytes()).await;
    assert!(matches!(
        unsigned,
        Err(WebhookError::Signature(SignatureError::Missing))
    ));
    // A genuine delivery captured and replayed more than 300 s later is refused.
    let secret = h.escrow.config.sandbox_webhook_secret.clone();
    let genuine = signature::sign(secret.as_bytes(), now, body.as_bytes());
    h.advance(Duration::seconds(301));
    let replayed = webhook::receive(&h.escrow, "sandbox", Some(&genuine), body.as_bytes()).await;
    assert!(matches!(
        replayed,
        Err(WebhookError::Signature(SignatureError::Stale))
    ));
    // Tampering with a signed body breaks the signature.
    let tampered = body.replace("1000", "9999");
    let fresh = signature::sign(secret.as_bytes(), h.now().timestamp(), body.as_bytes());
    let changed = webhook::receive(&h.escrow, "sandbox", Some(&fresh), tampered.as_bytes()).await;
    assert!(matches!(
        changed,
        Err(WebhookError::Signature(SignatureError::Mismatch))
    ));
    // Webhooks for a provider escrow does not use go nowhere.
    let stripe = webhook::receive(&h.escrow, "stripe", Some(&fresh), body.as_bytes()).await;
    assert!(matches!(stripe, Err(WebhookError::UnknownProvider(_))));
    assert_eq!(h.pledge(&pending.id).await.state, "pending");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn out_of_order_webhooks_end_in_the_same_books(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(5);
    let pledge = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pledge.id).await;
    // What happened at the provider: the payment went through.
    sqlx::query("UPDATE sandbox.payment SET status = 'succeeded' WHERE id = $1")
        .bind(&payment)
        .execute(&h.pool)
        .await
        .unwrap();
    let event = |id: &str, kind: &str| {
        h.sandbox().sign(&serde_json::json!({
            "id": id, "type": kind, "created": START,
            "data": {"object": {"id": payment, "amount": 1_000, "amount_received": 1_000}}
        }))
    };
    // A success, then a late failure of an earlier attempt: the success stands.
    let success = event("evt_ok", "payment_intent.succeeded");
    let failure = event("evt_fail", "payment_intent.payment_failed");
    webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&success.signature),
        &success.body,
    )
    .await
    .unwrap();
    webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&failure.signature),
        &failure.body,
    )
    .await
    .unwrap();
    assert_eq!(h.pledge(&pledge.id).await.state, "held");
    h.assert_books_sound().await;

    // A failure, then a success (money did arrive): the backer was told it failed, so the
    // money goes straight back.
    let second = h.pending_pledge("did:plc:bob", &uri, 2_000).await;
    let payment = h.payment_id(&second.id).await;
    let sign = |id: &str, kind: &str| {
        h.sandbox().sign(&serde_json::json!({
            "id": id, "type": kind, "created": START,
            "data": {"object": {"id": payment, "amount": 2_000, "amount_received": 2_000}}
        }))
    };
    // The sandbox's own record must show the payment succeeded for the refund to go through.
    sqlx::query("UPDATE sandbox.payment SET status = 'succeeded' WHERE id = $1")
        .bind(&payment)
        .execute(&h.pool)
        .await
        .unwrap();
    let failure = sign("evt_fail2", "payment_intent.payment_failed");
    let success = sign("evt_ok2", "payment_intent.succeeded");
    webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&failure.signature),
        &failure.body,
    )
    .await
    .unwrap();
    assert_eq!(h.pledge(&second.id).await.state, "failed");
    webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&success.signature),
        &success.body,
    )
    .await
    .unwrap();
    assert_eq!(h.pledge(&second.id).await.state, "refunded");
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await, ((1, 2_000), (0, 0)));
    assert_eq!(
        h.balance(&format!("held:{uri}")).await.credit_balance(),
        1_000
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_payment_completing_after_a_cancel_is_refunded(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(6);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pending.id).await;
    pledge::cancel_pledge(
        &h.escrow,
        "did:plc:alice",
        &cancel_pledge::Input {
            pledge: pending.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    // The checkout was cancelled at the provider; a card that still went through (a race at
    // the provider) arrives as a success event.
    sqlx::query("UPDATE sandbox.payment SET status = 'succeeded' WHERE id = $1")
        .bind(&payment)
        .execute(&h.pool)
        .await
        .unwrap();
    let success = h.sandbox().sign(&serde_json::json!({
        "id": "evt_late", "type": "payment_intent.succeeded", "created": START,
        "data": {"object": {"id": payment, "amount": 1_000, "amount_received": 1_000}}
    }));
    webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&success.signature),
        &success.body,
    )
    .await
    .unwrap();
    h.tick().await.unwrap();
    assert_eq!(h.pledge(&pending.id).await.state, "cancelled");
    assert_eq!(h.provider_movements().await, ((1, 1_000), (0, 0)));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_dispute_racing_the_payout_never_loses_to_it(pool: PgPool) {
    // At the last moment of verification a backer files a dispute while the worker decides
    // the payout. Whatever the interleaving: either the dispute is filed and nothing is paid,
    // or the payout happened and the dispute is refused.
    for round in 0..12u32 {
        let h = Harness::new(pool.clone()).await;
        h.connect_maintainer().await;
        let uri = h.preview(100 + round);
        h.held_pledge("did:plc:alice", &uri, 1_000).await;
        h.set_stage(&uri, Stage::Released);
        h.tick().await.unwrap();
        h.advance(Duration::days(14) - Duration::milliseconds(1));
        let paid_before = h.provider_movements().await.1 .0;
        let input = file_dispute::Input {
            proposal: strong_ref(&uri),
            reason: "Not as previewed.".into(),
            evidence: None,
            idempotency_key: h.key(),
        };
        let filing = {
            let escrow = h.escrow.clone();
            tokio::spawn(
                async move { dispute::file_dispute(&escrow, "did:plc:alice", &input).await },
            )
        };
        // The worker sees the period as over (its clock read is a hair later).
        let clock = h.clock.clone();
        let worker = {
            let escrow = h.escrow.clone();
            tokio::spawn(async move {
                clock.advance(Duration::milliseconds(1));
                greenlight_escrow::lifecycle::tick(&escrow).await
            })
        };
        let filed = filing.await.unwrap();
        worker.await.unwrap().unwrap();
        h.tick().await.unwrap();
        let paid = h.provider_movements().await.1 .0 - paid_before;
        match filed {
            Ok(_) => assert_eq!(paid, 0, "paid out while a dispute was open"),
            Err(error) => {
                assert_eq!(error.method_name(), Some("ProposalNotVerifying"));
                assert_eq!(paid, 1);
            }
        }
        h.assert_books_sound().await;
        sqlx::query("DELETE FROM escrow.dispute")
            .execute(&h.pool)
            .await
            .unwrap();
    }
}
