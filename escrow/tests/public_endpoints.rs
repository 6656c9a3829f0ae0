//! Escrow's anonymous endpoints at a hostile network's edge: the public ledger feed only
//! reads (publishing is the lifecycle worker's), and a checkout page answers only for a
//! well-formed id of a payment escrow itself opened and still waits for, asking the provider
//! nothing about any other id.

mod support;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use greenlight_escrow::http::router;
use greenlight_escrow::procedures::{donation, pledge};
use greenlight_escrow::proposal_source::{ProposalInfo, Stage};
use greenlight_escrow::provider::stripe::{StripeConfig, StripeProvider};
use greenlight_escrow::Escrow;
use greenlight_lexicon::fund::greenlight::escrow::{cancel_pledge, create_donation};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;
use tower::ServiceExt;

const FEED: &str = "/xrpc/fund.greenlight.escrow.listLedgerEntries?limit=100";
/// The advisory lock `escrow.publish_feed()` takes (migration 0001).
const PUBLISHER_LOCK: i64 = 7420113;

async fn get(app: &Router, path: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn published(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM escrow.ledger_feed")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_ledger_feed_only_reads(pool: PgPool) {
    let h = Harness::new(pool).await;
    let app = router(h.escrow.clone());
    let uri = h.preview(1);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;

    // Money moved, but no tick has published it: reading the feed does not either.
    for _ in 0..3 {
        let (status, page) = get(&app, FEED).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page: Value = serde_json::from_str(&page).unwrap();
        assert_eq!(page["entries"], json!([]), "{page}");
    }
    assert_eq!(published(&h.pool).await, 0);

    // Nor does it queue behind the publisher: with its lock held elsewhere, readers answer.
    let mut publisher = h.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PUBLISHER_LOCK)
        .execute(&mut *publisher)
        .await
        .unwrap();
    let (status, _) = tokio::time::timeout(std::time::Duration::from_secs(10), get(&app, FEED))
        .await
        .expect("the feed does not wait for the publisher's lock");
    assert_eq!(status, StatusCode::OK);
    publisher.rollback().await.unwrap();

    // The worker's tick publishes; then readers see every entry in order.
    h.tick().await.unwrap();
    let (status, page) = get(&app, FEED).await;
    assert_eq!(status, StatusCode::OK);
    let page: Value = serde_json::from_str(&page).unwrap();
    let seqs: Vec<i64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["seq"].as_i64().unwrap())
        .collect();
    assert!(!seqs.is_empty());
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(published(&h.pool).await, seqs.len() as i64);
    h.assert_books_sound().await;
}

/// Path segments no payment id looks like; each arrives percent-decoded in the handler.
fn malformed_ids() -> Vec<String> {
    vec![
        "..%2F..%2Fv1%2Fcustomers".into(),
        "..".into(),
        "pi_1%3Fexpand%5B%5D%3Dcustomer".into(),
        "pi_1%23x".into(),
        "pi%201".into(),
        "pi-1".into(),
        "pi_1%00".into(),
        "%C3%A9".into(),
        "p".repeat(256),
    ]
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn sandbox_checkout_pages_are_for_escrows_own_pending_payments(pool: PgPool) {
    let h = Harness::new(pool).await;
    let app = router(h.escrow.clone());
    let uri = h.preview(1);
    let pending = h.pending_pledge("did:plc:alice", &uri, 1_000).await;
    let payment = h.payment_id(&pending.id).await;
    let (status, page) = get(&app, &format!("/checkout/{payment}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Complete payment"), "{page}");

    // A payment the sandbox has, but escrow never opened: escrow's books decide.
    sqlx::query(
        "INSERT INTO sandbox.payment (id, idempotency_key, amount, currency, reference, status, created_at)
         VALUES ('pi_sbx_stranger', 'stranger-key', 500, 'USD', 'nothing', 'requires_payment', now())",
    )
    .execute(&h.pool)
    .await
    .unwrap();
    let (status, page) = get(&app, "/checkout/pi_sbx_stranger").await;
    assert_eq!(
        (status, page.as_str()),
        (StatusCode::NOT_FOUND, "no such payment")
    );
    for bad in malformed_ids() {
        let (status, _) = get(&app, &format!("/checkout/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }

    // Donations have checkout pages too.
    h.connect_maintainer().await;
    let developing = proposal_uri(2);
    h.proposals.put(ProposalInfo {
        uri: developing.clone(),
        cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
        stage: Stage::Development,
        currency: "USD".into(),
        project: Some(format!("at://{MAINTAINER}/fund.greenlight.project/app")),
        project_verified: true,
        maintainer: Some(MAINTAINER.into()),
        preview_ends_at: None,
    });
    let gift = donation::create_donation(
        &h.escrow,
        "did:plc:dora",
        &create_donation::Input {
            proposal: strong_ref(&developing),
            amount: 2_000,
            currency: "USD".into(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let gift_payment = h.payment_id(&gift.id).await;
    let (status, _) = get(&app, &format!("/checkout/{gift_payment}")).await;
    assert_eq!(status, StatusCode::OK);

    // Once paid, the page is closed, from escrow's books alone.
    h.pay(&pending, true).await;
    let (status, page) = get(&app, &format!("/checkout/{payment}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("Checkout closed"), "{page}");
    assert!(!page.contains("/complete"), "{page}");
    h.assert_books_sound().await;
}

/// Every request the Stripe stand-in received: (method, path and query).
type Seen = Arc<Mutex<Vec<(Method, String)>>>;

/// A stand-in for Stripe's API that creates payment intents and retrieves the ones it
/// created, and records every request.
async fn stripe_standin() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let intents: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorder = seen.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri| {
        let (seen, intents) = (recorder.clone(), intents.clone());
        async move {
            let target = uri
                .path_and_query()
                .map_or(uri.path().to_owned(), ToString::to_string);
            seen.lock().unwrap().push((method.clone(), target));
            let mut intents = intents.lock().unwrap();
            let path = uri.path();
            if method == Method::POST && path == "/v1/payment_intents" {
                let n = intents.len() + 1;
                let intent = json!({
                    "id": format!("pi_3Standin{n}"), "object": "payment_intent",
                    "amount": 1_000, "currency": "usd", "status": "requires_payment_method",
                    "client_secret": format!("pi_3Standin{n}_secret_xyz"),
                });
                intents.push(intent.clone());
                return Json(intent).into_response();
            }
            if method == Method::POST && path.ends_with("/cancel") {
                return Json(json!({"id": "x", "status": "canceled"})).into_response();
            }
            let found = path
                .strip_prefix("/v1/payment_intents/")
                .and_then(|id| intents.iter().find(|intent| intent["id"] == id));
            match (method == Method::GET, found) {
                (true, Some(intent)) => Json(intent.clone()).into_response(),
                _ => not_found(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"type": "invalid_request_error", "message": "No such object"}})),
    )
        .into_response()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn stripe_is_asked_only_about_payments_escrow_waits_for(pool: PgPool) {
    let h = Harness::new(pool).await;
    let (api_base, seen) = stripe_standin().await;
    // A payment intent Stripe has, but not for any of escrow's pledges.
    let stranger: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{api_base}/v1/payment_intents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stranger = stranger["id"].as_str().unwrap().to_owned();
    let escrow = Arc::new(
        Escrow::new(h.pool.clone(), config(), h.proposals.clone())
            .unwrap()
            .with_clock(h.clock.clone())
            .with_provider(Arc::new(StripeProvider::new(StripeConfig {
                api_base,
                secret_key: "sk_test_greenlight".into(),
                publishable_key: "pk_test_greenlight".into(),
                webhook_secret: "whsec_test_greenlight".into(),
                public_url: "http://127.0.0.1:2585".into(),
            }))),
    );
    let app = router(escrow.clone());
    let uri = h.preview(1);
    let created = pledge::create_pledge(&escrow, "did:plc:alice", &h.pledge_input(&uri, 1_000))
        .await
        .unwrap();
    let payment = h.payment_id(&created.id).await;
    let calls = || seen.lock().unwrap().len();
    assert_eq!(calls(), 2, "the checkouts were created");

    // Ids escrow does not know, well-formed or not, cost Stripe nothing: not even an id that
    // Stripe knows, and never a path of the caller's making.
    for id in ["pi_3Unknown".to_owned(), stranger, "acct_1".to_owned()]
        .into_iter()
        .chain(malformed_ids())
    {
        for _ in 0..3 {
            let (status, page) = get(&app, &format!("/checkout/{id}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {page}");
        }
    }
    assert_eq!(calls(), 2, "{:?}", seen.lock().unwrap());

    // The pledge's own pending payment: its page, with the client secret from Stripe.
    let (status, page) = get(&app, &format!("/checkout/{payment}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("{payment}_secret_xyz")), "{page}");
    assert_eq!(
        seen.lock().unwrap().last().cloned(),
        Some((Method::GET, format!("/v1/payment_intents/{payment}")))
    );

    // Cancelled: closed, and Stripe is not asked again.
    pledge::cancel_pledge(
        &escrow,
        "did:plc:alice",
        &cancel_pledge::Input {
            pledge: created.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let before = calls();
    let (status, page) = get(&app, &format!("/checkout/{payment}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(!page.contains("secret"), "{page}");
    assert_eq!(calls(), before);
}
