//! Escrow's authentication against the real local atproto network: tokens minted by the
//! reference PDS (`com.atproto.server.getServiceAuth`) open exactly the method they name, for
//! exactly the account that asked; forged ones (wrong audience, wrong method, expired, signed
//! by another key, `alg: none`, tampered payload) are all refused at escrow's door.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use greenlight_escrow::auth::{CallerVerifier, ServiceAuth};
use greenlight_escrow::clock::ManualClock;
use greenlight_escrow::http::router;
use greenlight_escrow::Escrow;
use greenlight_identity::{Resolver, ResolverConfig};
use greenlight_tests::network::{Account, TestNetwork};
use greenlight_tests::service_tokens::pds_service_token;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::tokens::es256k_token;
use support::*;
use tower::ServiceExt;

const ESCROW_DID: &str = "did:web:escrow.greenlight.test";
const CREATE_PLEDGE: &str = "fund.greenlight.escrow.createPledge";

async fn service_token(network: &TestNetwork, account: &Account, aud: &str, lxm: &str) -> String {
    pds_service_token(network, account, aud, Some(lxm))
        .await
        .unwrap()
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut split = token.split('.');
    let header =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(split.next().unwrap()).unwrap()).unwrap();
    let payload =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(split.next().unwrap()).unwrap()).unwrap();
    (header, payload, split.next().unwrap().to_owned())
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with `payload`, signed ES256K by a key that is not the account's.
fn signed_by_another_key(payload: &Value) -> String {
    es256k_token(&support::tokens::key(7), payload)
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn pds_minted_tokens_open_their_method_and_forgeries_do_not(pool: PgPool) {
    let network = TestNetwork::start()
        .await
        .expect("the local network starts");
    let alice = network.create_account("alice").await.unwrap();
    let resolver = Resolver::new(ResolverConfig {
        plc_url: network.plc_url().to_owned(),
        allow_insecure_http: true,
        handle_resolver_pds: Some(network.pds_url().to_owned()),
        ..ResolverConfig::default()
    });
    // Tokens are judged by a clock of their own, starting at the real time, so the test can
    // move past a token's expiry; the escrow's own clock is the harness's.
    let token_clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let verifier = Arc::new(ServiceAuth::new(resolver, ESCROW_DID).with_clock(token_clock.clone()));
    let h = Harness::new(pool).await;
    let escrow = Arc::new(
        Escrow::new(h.pool.clone(), config(), h.proposals.clone())
            .unwrap()
            .with_clock(h.clock.clone())
            .with_verifier(verifier.clone()),
    );
    let app = router(escrow);
    // The manual clock starts years ahead; the proposal's preview runs around it.
    let uri = h.preview(1);
    let call = |token: String, key: &str| {
        let app = app.clone();
        let body = json!({
            "proposal": {"uri": uri, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
            "amount": 1_000, "currency": "USD", "idempotencyKey": key,
        });
        async move {
            let response = app
                .oneshot(
                    Request::post(format!("/xrpc/{CREATE_PLEDGE}"))
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };

    let good = service_token(&network, &alice, ESCROW_DID, CREATE_PLEDGE).await;
    let (status, pledge) = call(good.clone(), "real-token-0001").await;
    assert_eq!(status, StatusCode::OK, "{pledge}");
    assert_eq!(pledge["backer"], alice.did.as_str());

    let refused = |status: StatusCode, body: &Value, what: &str| {
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} was accepted: {body}"
        );
        assert_eq!(body["error"], "AuthenticationRequired", "{what}");
    };
    let other_audience =
        service_token(&network, &alice, "did:web:elsewhere.test", CREATE_PLEDGE).await;
    let (status, body) = call(other_audience, "real-token-0002").await;
    refused(status, &body, "a token for another service");
    let other_method = service_token(
        &network,
        &alice,
        ESCROW_DID,
        "fund.greenlight.escrow.cancelPledge",
    )
    .await;
    let (status, body) = call(other_method, "real-token-0003").await;
    refused(status, &body, "a token for another method");

    let (header, payload, signature) = parts(&good);
    let mut tampered = payload.clone();
    tampered["exp"] = json!(payload["exp"].as_i64().unwrap() + 60);
    let (status, body) = call(
        format!("{}.{}.{signature}", encode(&header), encode(&tampered)),
        "real-token-0004",
    )
    .await;
    refused(status, &body, "a tampered payload");
    let none = format!(
        "{}.{}.",
        encode(&json!({"typ": "JWT", "alg": "none"})),
        encode(&payload)
    );
    let (status, body) = call(none, "real-token-0005").await;
    refused(status, &body, "alg none");
    let (status, body) = call(signed_by_another_key(&payload), "real-token-0006").await;
    refused(status, &body, "a token signed by another key");
    let (status, body) = call("not.a.jwt".into(), "real-token-0007").await;
    refused(status, &body, "garbage");

    // Expiry: the same genuine token, presented after its lifetime, is refused at the door.
    let fresh = service_token(&network, &alice, ESCROW_DID, CREATE_PLEDGE).await;
    token_clock.advance(chrono::Duration::minutes(10));
    let (status, body) = call(fresh, "real-token-0008").await;
    refused(status, &body, "an expired token");
    token_clock.set(chrono::Utc::now());
    let exp = payload["exp"].as_i64().unwrap();
    let verifier_at = greenlight_service_auth::Verifier::new(
        Resolver::new(ResolverConfig {
            plc_url: network.plc_url().to_owned(),
            allow_insecure_http: true,
            ..ResolverConfig::default()
        }),
        ESCROW_DID.to_owned(),
    );
    assert!(verifier_at
        .verify_at(&good, CREATE_PLEDGE, exp - 1)
        .await
        .is_ok());
    assert!(matches!(
        verifier_at.verify_at(&good, CREATE_PLEDGE, exp + 120).await,
        Err(greenlight_service_auth::AuthError::Expired)
    ));
    // And the escrow-side adapter names the caller for a good token only.
    assert_eq!(
        verifier.verify(&good, CREATE_PLEDGE).await.unwrap(),
        alice.did
    );
    assert!(verifier
        .verify(&good, "fund.greenlight.escrow.fileDispute")
        .await
        .is_err());
    h.assert_books_sound().await;
    network.stop().await.unwrap();
}
