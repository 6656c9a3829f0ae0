//! The XRPC surface through the real router: lexicon validation of requests and responses,
//! authentication (with fixed test tokens: the real service-auth checks are exercised with
//! tokens minted by a real PDS in `service_auth.rs`), the operator credential, the public
//! ledger feed and its cursor, the sandbox checkout page and the webhook endpoint.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use greenlight_escrow::auth::StaticCallers;
use greenlight_escrow::http::router;
use greenlight_escrow::proposal_source::Stage;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use support::*;
use tower::ServiceExt;

struct Api {
    h: Harness,
    app: axum::Router,
}

impl Api {
    async fn new(pool: PgPool) -> Api {
        let h = Harness::new(pool).await;
        // The harness's escrow accepts no callers; this one knows the test tokens.
        let with_callers =
            greenlight_escrow::Escrow::new(h.pool.clone(), config(), h.proposals.clone())
                .unwrap()
                .with_clock(h.clock.clone())
                .with_verifier(Arc::new(StaticCallers::new([
                    ("alice-token", "did:plc:alice"),
                    ("bob-token", "did:plc:bob"),
                    ("maintainer-token", MAINTAINER),
                ])));
        let escrow = Arc::new(with_callers);
        let h = Harness {
            escrow: escrow.clone(),
            ..h
        };
        Api {
            app: router(escrow),
            h,
        }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    async fn post(&self, method: &str, auth: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request =
            Request::post(format!("/xrpc/{method}")).header("content-type", "application/json");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let (status, value, _) = self
            .call(request.body(Body::from(body.to_string())).unwrap())
            .await;
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, value, _) = self
            .call(Request::get(path).body(Body::empty()).unwrap())
            .await;
        (status, value)
    }
}

fn pledge_body(uri: &str, amount: i64, key: &str) -> Value {
    json!({
        "proposal": {"uri": uri, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
        "amount": amount, "currency": "USD", "idempotencyKey": key
    })
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn pledging_over_xrpc_checks_auth_and_the_lexicon(pool: PgPool) {
    let api = Api::new(pool).await;
    let uri = api.h.preview(1);
    let method = "fund.greenlight.escrow.createPledge";
    let (status, body) = api
        .post(method, None, pledge_body(&uri, 1_000, "key-00000001"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AuthenticationRequired"))
    );
    let (status, _) = api
        .post(
            method,
            Some("Bearer forged"),
            pledge_body(&uri, 1_000, "key-00000001"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The idempotency key is required and at least 8 characters, per the lexicon.
    let (status, body) = api
        .post(
            method,
            Some("Bearer alice-token"),
            pledge_body(&uri, 1_000, "short"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidRequest"))
    );
    let (status, body) = api
        .post(
            method,
            Some("Bearer alice-token"),
            pledge_body(&uri, -5, "key-00000001"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidRequest"))
    );

    let (status, pledge) = api
        .post(
            method,
            Some("Bearer alice-token"),
            pledge_body(&uri, 1_000, "key-00000001"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pledge}");
    assert_eq!(pledge["state"], "pending");
    assert_eq!(pledge["backer"], "did:plc:alice");
    let checkout = pledge["checkoutUrl"].as_str().unwrap();
    let path = checkout
        .split_once("/checkout/")
        .map(|(_, id)| format!("/checkout/{id}"))
        .unwrap();

    // The sandbox checkout page, then its "complete" button.
    let (status, _, page) = api
        .call(Request::get(&path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Complete payment") && page.contains("Fail payment"));
    let (status, _, done) = api
        .call(
            Request::post(format!("{path}/complete"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(done.contains("Payment complete"));
    let id = pledge["id"].as_str().unwrap();
    let (status, fetched) = api
        .get(&format!("/xrpc/fund.greenlight.escrow.getPledge?id={id}"))
        .await;
    assert_eq!(
        (status, fetched["state"].as_str()),
        (StatusCode::OK, Some("held"))
    );
    assert!(fetched.get("checkoutUrl").is_none());

    let (status, body) = api
        .post(
            method,
            Some("Bearer alice-token"),
            pledge_body(&uri, 2_000, "key-00000001"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("IdempotencyConflict"))
    );
    let encoded = urlencode(&uri);
    let (status, state) = api
        .get(&format!(
            "/xrpc/fund.greenlight.escrow.getProposalState?proposal={encoded}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        (state["held"].as_i64(), state["stage"].as_str()),
        (Some(1_000), Some("preview"))
    );
    api.h.assert_books_sound().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn operators_resolve_disputes_with_their_own_credential(pool: PgPool) {
    let api = Api::new(pool).await;
    api.h.connect_maintainer().await;
    let uri = api.h.preview(2);
    api.h.held_pledge("did:plc:alice", &uri, 1_000).await;
    api.h.set_stage(&uri, Stage::Released);
    api.h.tick().await.unwrap();
    let (status, dispute) = api
        .post(
            "fund.greenlight.escrow.fileDispute",
            Some("Bearer alice-token"),
            json!({"proposal": {"uri": uri, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
                   "reason": "Not what the preview showed.", "idempotencyKey": "dispute-0001"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispute}");
    let resolve = json!({"dispute": dispute["id"], "outcome": "upheld", "note": "Confirmed.",
                         "idempotencyKey": "resolve-0001"});
    // A user's service-auth token is not an operator credential.
    let (status, _) = api
        .post(
            "fund.greenlight.escrow.resolveDispute",
            Some("Bearer alice-token"),
            resolve.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:guess")
    );
    let (status, _) = api
        .post(
            "fund.greenlight.escrow.resolveDispute",
            Some(&wrong),
            resolve.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:operator-secret")
    );
    let bad_outcome = json!({"dispute": dispute["id"], "outcome": "maybe", "note": "?", "idempotencyKey": "resolve-0002"});
    let (status, body) = api
        .post(
            "fund.greenlight.escrow.resolveDispute",
            Some(&good),
            bad_outcome,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidOutcome"))
    );
    let (status, resolved) = api
        .post(
            "fund.greenlight.escrow.resolveDispute",
            Some(&good),
            resolve,
        )
        .await;
    assert_eq!(
        (status, resolved["state"].as_str()),
        (StatusCode::OK, Some("upheld"))
    );
    api.h.tick().await.unwrap();
    assert_eq!(api.h.provider_movements().await.0, (1, 1_000));
    api.h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_public_feed_lists_every_entry_and_state_change_in_order(pool: PgPool) {
    let api = Api::new(pool).await;
    let uri = api.h.preview(3);
    let pledge = api.h.held_pledge("did:plc:alice", &uri, 1_000).await;
    api.h.held_pledge("did:plc:bob", &uri, 2_000).await;
    api.h.set_stage(&uri, Stage::Declined);
    api.h.tick().await.unwrap();

    let mut cursor: Option<String> = None;
    let mut entries = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/xrpc/fund.greenlight.escrow.listLedgerEntries?limit=2&cursor={c}"),
            None => "/xrpc/fund.greenlight.escrow.listLedgerEntries?limit=2".into(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let batch = page["entries"].as_array().unwrap().clone();
        if batch.is_empty() {
            assert!(page.get("cursor").is_none());
            break;
        }
        cursor = Some(page["cursor"].as_str().unwrap().to_owned());
        entries.extend(batch);
    }
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // The hold appears pending, then again (same id, higher seq) posted.
    let hold_id = format!("{}:hold", pledge.id);
    let hold: Vec<&str> = entries
        .iter()
        .filter(|e| e["id"] == hold_id.as_str())
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(hold, ["pending", "posted"]);
    let kinds: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("pledge_hold")
            && kinds.contains("refund")
            && kinds.contains("refund_payment")
    );
    assert!(entries.iter().all(|e| e["currency"] == "USD"));
    let (status, body) = api
        .get("/xrpc/fund.greenlight.escrow.listLedgerEntries?cursor=abc")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidRequest"))
    );
    api.h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_webhook_endpoint_refuses_unsigned_deliveries(pool: PgPool) {
    let api = Api::new(pool).await;
    let request = Request::post("/webhooks/sandbox")
        .header("stripe-signature", "t=1,v1=00")
        .body(Body::from(
            r#"{"id":"evt_1","type":"payment_intent.succeeded"}"#,
        ))
        .unwrap();
    let (status, _, _) = api.call(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = api
        .call(
            Request::post("/webhooks/paypal")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/xrpc/fund.greenlight.escrow.noSuchMethod").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_IMPLEMENTED, Some("MethodNotImplemented"))
    );
    api.h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_ledger_refuses_updates_deletes_and_overdrafts(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(4);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    let update = sqlx::query("UPDATE escrow.transfer SET amount = 1")
        .execute(&h.pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM escrow.transfer_state")
        .execute(&h.pool)
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let truncate = sqlx::query("TRUNCATE escrow.ledger_feed")
        .execute(&h.pool)
        .await;
    assert!(truncate.is_err());
    // A held account cannot pay out more than it holds.
    use greenlight_escrow::ledger::{self, Kind, LedgerError, Transfer};
    let mut conn = h.pool.acquire().await.unwrap();
    let held = ledger::held(&uri);
    let payable = ledger::payable(MAINTAINER);
    let overdraft = Transfer::new(
        "t-overdraft",
        "USD",
        &held,
        &payable,
        1_001,
        Kind::PledgeCapture,
    );
    let refused = ledger::create_transfer(&mut conn, &overdraft, h.now()).await;
    assert!(
        matches!(refused, Err(LedgerError::Refused { ref outcome, .. }) if outcome == "exceeds_credits")
    );
    let fits = Transfer::new("t-fits", "USD", &held, &payable, 400, Kind::PledgeCapture);
    assert_eq!(
        ledger::create_transfer(&mut conn, &fits, h.now())
            .await
            .unwrap(),
        ledger::Created::New
    );
    assert_eq!(
        ledger::create_transfer(&mut conn, &fits, h.now())
            .await
            .unwrap(),
        ledger::Created::Replayed
    );
    let reused = Transfer::new("t-fits", "USD", &held, &payable, 401, Kind::PledgeCapture);
    assert!(ledger::create_transfer(&mut conn, &reused, h.now())
        .await
        .is_err());
    // Moving money by hand like this breaks "held equals held pledges": reconcile sees it.
    let violations =
        greenlight_escrow::ledger::invariants::check(&h.pool, h.escrow.provider.as_ref())
            .await
            .unwrap();
    assert!(
        violations
            .iter()
            .any(|v| v.check == "held_equals_held_pledges"),
        "{violations:?}"
    );
}
