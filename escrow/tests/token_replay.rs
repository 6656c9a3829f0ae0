//! Escrow at a hostile network's edge, for service auth: a token opens one call, once (its
//! `jti` is spent in Postgres until it expires), retries with fresh tokens still work, and a
//! caller learns nothing about escrow's network from a refused token: an issuer that cannot
//! be resolved, wherever it points, reads exactly like a bad signature.

mod support;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use greenlight_escrow::auth::{
    prune_spent_tokens, spend_token, ServiceAuth, TokenUse, SPENT_TOKEN_MARGIN_SECS,
};
use greenlight_escrow::clock::ManualClock;
use greenlight_escrow::http::router;
use greenlight_escrow::Escrow;
use greenlight_identity::{PublicKey, Resolver, ResolverConfig};
use greenlight_tests::network::{Account, TestNetwork};
use greenlight_tests::service_tokens::pds_service_token;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::tokens::{es256k_token, key};
use support::*;
use tower::ServiceExt;

const ESCROW_DID: &str = "did:web:escrow.greenlight.test";
const CREATE_PLEDGE: &str = "fund.greenlight.escrow.createPledge";
const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const NOBODY: &str = "did:plc:nnnnnnnnnnnnnnnnnnnnnnnn";
/// Tokens built here are judged at this time (the escrow's own clock is the harness's).
const TOKEN_TIME: i64 = 1_750_000_000;

/// A service-auth token as a PDS makes one, signed by `key`, with `jti` (or none).
fn token(key: &k256::ecdsa::SigningKey, iss: &str, jti: Option<&str>) -> String {
    let mut payload = json!({
        "iat": TOKEN_TIME, "iss": iss, "aud": ESCROW_DID, "exp": TOKEN_TIME + 60,
        "lxm": CREATE_PLEDGE,
    });
    if let Some(jti) = jti {
        payload["jti"] = json!(jti);
    }
    es256k_token(key, &payload)
}

/// A stand-in PLC directory (and did:web host) serving Alice's document, counting requests.
async fn directory() -> (String, Arc<Mutex<Vec<String>>>) {
    let alice = PublicKey::K256(*key(1).verifying_key());
    let document = json!({
        "id": ALICE,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{
            "id": format!("{ALICE}#atproto"), "type": "Multikey", "controller": ALICE,
            "publicKeyMultibase": alice.to_multikey(),
        }],
    });
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = requests.clone();
    let app = Router::new().fallback(move |uri: Uri| {
        let (document, seen) = (document.clone(), seen.clone());
        async move {
            seen.lock().unwrap().push(uri.path().to_owned());
            if uri.path() == format!("/{ALICE}") {
                Json(document).into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, requests)
}

fn resolver(plc_url: &str) -> Resolver {
    Resolver::new(ResolverConfig {
        plc_url: plc_url.to_owned(),
        allow_insecure_http: true,
        request_timeout: std::time::Duration::from_secs(5),
        ..ResolverConfig::default()
    })
}

/// An escrow router whose callers are verified by `auth`, on the harness's books.
fn app(h: &Harness, auth: ServiceAuth) -> Router {
    router(Arc::new(
        Escrow::new(h.pool.clone(), config(), h.proposals.clone())
            .unwrap()
            .with_clock(h.clock.clone())
            .with_verifier(Arc::new(auth)),
    ))
}

async fn pledge(
    app: &Router,
    uri: &str,
    token: &str,
    idempotency_key: &str,
) -> (StatusCode, Value) {
    let body = json!({
        "proposal": {"uri": uri, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
        "amount": 1_000, "currency": "USD", "idempotencyKey": idempotency_key,
    });
    let response = app
        .clone()
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
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn assert_replayed(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "AuthenticationRequired", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("TokenReplayed:"),
        "{body}"
    );
}

async fn spent(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM escrow.spent_token")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn token_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        DateTime::from_timestamp(TOKEN_TIME, 0).unwrap(),
    ))
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_token_opens_one_call_and_retries_bring_new_tokens(pool: PgPool) {
    let (plc, _) = directory().await;
    let h = Harness::new(pool).await;
    let app = app(
        &h,
        ServiceAuth::new(resolver(&plc), ESCROW_DID).with_clock(token_clock()),
    );
    let uri = h.preview(1);

    let first = token(&key(1), ALICE, Some("jti-0001"));
    let (status, created) = pledge(&app, &uri, &first, "retry-key-0001").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    // The very same request again, same token: a replay, whatever the body.
    let (status, body) = pledge(&app, &uri, &first, "retry-key-0001").await;
    assert_replayed(status, &body);
    let (status, body) = pledge(&app, &uri, &first, "another-key-0002").await;
    assert_replayed(status, &body);
    // A retry as clients make it: the same idempotency key with a fresh token (another jti)
    // gets the same pledge back.
    let (status, again) = pledge(
        &app,
        &uri,
        &token(&key(1), ALICE, Some("jti-0002")),
        "retry-key-0001",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], created["id"]);
    assert_eq!(spent(&h.pool).await, 2);

    // One token sent twice at once: exactly one of the two calls gets through.
    let racing = token(&key(1), ALICE, Some("jti-0003"));
    let (a, b) = tokio::join!(
        pledge(&app, &uri, &racing, "race-key-0003"),
        pledge(&app, &uri, &racing, "race-key-0003"),
    );
    let mut outcomes = [a, b];
    outcomes.sort_by_key(|(status, _)| status.as_u16());
    assert_eq!(outcomes[0].0, StatusCode::OK, "{}", outcomes[0].1);
    assert_replayed(outcomes[1].0, &outcomes[1].1);

    // A refused token spends nothing: a forgery reusing a genuine jti cannot burn it.
    let forged = token(&key(9), ALICE, Some("jti-0004"));
    let (status, _) = pledge(&app, &uri, &forged, "forged-key-0004").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let genuine = token(&key(1), ALICE, Some("jti-0004"));
    let (status, body) = pledge(&app, &uri, &genuine, "genuine-key-0004").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(spent(&h.pool).await, 4);
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_token_without_jti_is_refused(pool: PgPool) {
    let (plc, requests) = directory().await;
    let h = Harness::new(pool).await;
    let app = app(
        &h,
        ServiceAuth::new(resolver(&plc), ESCROW_DID).with_clock(token_clock()),
    );
    let uri = h.preview(1);
    // Correctly signed by Alice, but with nothing to tell its replays from it.
    let (status, body) = pledge(&app, &uri, &token(&key(1), ALICE, None), "no-jti-0001").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body,
        json!({
            "error": "AuthenticationRequired",
            "message": "BadJwt: the token has no jti (unique token id)",
        })
    );
    assert!(
        requests.lock().unwrap().is_empty(),
        "refused before any lookup"
    );
    assert_eq!(spent(&h.pool).await, 0);
    let pledges: i64 = sqlx::query_scalar("SELECT count(*) FROM escrow.pledge")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(pledges, 0);
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn unresolvable_issuers_look_exactly_like_bad_signatures(pool: PgPool) {
    let (plc, requests) = directory().await;
    let h = Harness::new(pool).await;
    let app = app(
        &h,
        ServiceAuth::new(resolver(&plc), ESCROW_DID).with_clock(token_clock()),
    );
    let uri = h.preview(1);
    let mallory = key(9);

    // The reference: Alice's name, someone else's signature.
    let (status, bad_signature) =
        pledge(&app, &uri, &token(&mallory, ALICE, Some("j-1")), "key-0001").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad_signature,
        json!({
            "error": "AuthenticationRequired",
            "message": "BadJwtSignature: the token's signature could not be verified with its issuer's key",
        })
    );

    // Issuers a caller chose to probe escrow's network with: a DID the directory does not
    // know; did:webs on a closed port, on a port that hangs up, on a web server without a
    // document. Each must answer exactly as the bad signature did.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let hangs_up = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        port
    };
    let web_server = plc.rsplit(':').next().unwrap().to_owned();
    let probes = [
        NOBODY.to_owned(),
        format!("did:web:localhost%3A{closed}"),
        format!("did:web:localhost%3A{hangs_up}"),
        format!("did:web:localhost%3A{web_server}"),
    ];
    for (n, issuer) in probes.iter().enumerate() {
        let probe = token(&mallory, issuer, Some(&format!("probe-{n}")));
        let (status, body) = pledge(&app, &uri, &probe, &format!("probe-key-{n:04}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{issuer}");
        assert_eq!(body, bad_signature, "{issuer} answered differently");
        let text = body.to_string();
        for detail in [
            closed.to_string(),
            hangs_up.to_string(),
            web_server.clone(),
            "127.0.0.1".into(),
            "localhost".into(),
        ] {
            assert!(!text.contains(&detail), "{detail} leaked: {text}");
        }
    }
    // Probing again costs escrow no new request: failed lookups are remembered.
    let asked = requests.lock().unwrap().len();
    for n in 0..10 {
        let probe = token(&mallory, NOBODY, Some(&format!("again-{n}")));
        let (_, body) = pledge(&app, &uri, &probe, &format!("again-key-{n:04}")).await;
        assert_eq!(body, bad_signature);
    }
    assert_eq!(requests.lock().unwrap().len(), asked);

    // A directory that cannot be reached at all reads the same too.
    let unreachable = app_with_directory(&h, &format!("http://127.0.0.1:{closed}"));
    let (_, body) = pledge(
        &unreachable,
        &uri,
        &token(&key(1), ALICE, Some("j-2")),
        "key-0002",
    )
    .await;
    assert_eq!(body, bad_signature);
    assert_eq!(spent(&h.pool).await, 0);
}

fn app_with_directory(h: &Harness, plc: &str) -> Router {
    app(
        h,
        ServiceAuth::new(resolver(plc), ESCROW_DID).with_clock(token_clock()),
    )
}

fn token_use(jti: &str, usable_until: DateTime<Utc>, verified_at: DateTime<Utc>) -> TokenUse {
    TokenUse {
        issuer: ALICE.into(),
        jti: jti.into(),
        usable_until,
        verified_at,
    }
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn spent_tokens_are_kept_until_they_expire_then_pruned_on_the_way(pool: PgPool) {
    let t0 = DateTime::from_timestamp(TOKEN_TIME, 0).unwrap();
    let until = t0 + Duration::seconds(90);
    assert!(spend_token(&pool, &token_use("a", until, t0))
        .await
        .unwrap());
    assert!(!spend_token(&pool, &token_use("a", until, t0))
        .await
        .unwrap());
    let other_issuer = TokenUse {
        issuer: NOBODY.into(),
        ..token_use("a", until, t0)
    };
    assert!(spend_token(&pool, &other_issuer).await.unwrap());

    // Within the margin after expiry the records stay: another escrow process's clock may
    // be behind, and would still accept the token.
    let margin = Duration::seconds(SPENT_TOKEN_MARGIN_SECS);
    let soon = until + margin - Duration::seconds(1);
    assert!(
        spend_token(&pool, &token_use("b", soon + Duration::seconds(90), soon))
            .await
            .unwrap()
    );
    assert!(!spend_token(&pool, &token_use("a", until, soon))
        .await
        .unwrap());
    assert_eq!(spent(&pool).await, 3);

    // Past it, the next accepted token takes them away.
    let later = until + margin + Duration::seconds(1);
    assert!(
        spend_token(&pool, &token_use("c", later + Duration::seconds(90), later))
            .await
            .unwrap()
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT jti FROM escrow.spent_token ORDER BY jti")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["b", "c"]);

    // Many expired records are pruned a few per use, never all at once.
    for n in 0..100 {
        assert!(
            spend_token(&pool, &token_use(&format!("old-{n}"), until, t0))
                .await
                .unwrap()
        );
    }
    assert!(
        spend_token(&pool, &token_use("d", later + Duration::seconds(90), later))
            .await
            .unwrap()
    );
    let count = spent(&pool).await;
    assert!(count > 3 && count < 103, "{count} left");
    assert_eq!(
        prune_spent_tokens(&pool, later - margin).await.unwrap(),
        u64::try_from(count - 3).unwrap()
    );
    assert_eq!(spent(&pool).await, 3);
}

async fn pds_token(network: &TestNetwork, account: &Account) -> String {
    pds_service_token(network, account, ESCROW_DID, Some(CREATE_PLEDGE))
        .await
        .unwrap()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn real_pds_tokens_are_spent_once_and_fresh_ones_retry(pool: PgPool) {
    let network = TestNetwork::start()
        .await
        .expect("the local network starts");
    let alice = network.create_account("alice").await.unwrap();
    let h = Harness::new(pool).await;
    // Real tokens are judged by the system clock, as in production.
    let auth = ServiceAuth::new(
        Resolver::new(ResolverConfig {
            plc_url: network.plc_url().to_owned(),
            allow_insecure_http: true,
            ..ResolverConfig::default()
        }),
        ESCROW_DID,
    );
    let app = app(&h, auth);
    let uri = h.preview(1);

    let first = pds_token(&network, &alice).await;
    let (status, created) = pledge(&app, &uri, &first, "pds-retry-0001").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["backer"], alice.did.as_str());
    let (status, body) = pledge(&app, &uri, &first, "pds-retry-0001").await;
    assert_replayed(status, &body);
    // What the command-line client does on a retry: a new token, the same idempotency key.
    let second = pds_token(&network, &alice).await;
    assert_ne!(first, second);
    let (status, again) = pledge(&app, &uri, &second, "pds-retry-0001").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], created["id"]);
    let issuers: Vec<String> = sqlx::query_scalar("SELECT issuer FROM escrow.spent_token")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    assert_eq!(issuers, [alice.did.clone(), alice.did.clone()]);
    h.assert_books_sound().await;
    network.stop().await.unwrap();
}
