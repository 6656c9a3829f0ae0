//! How the AppView presents itself to authorization servers: a confidential client on a
//! public URL (its metadata document served, its private key never in it), a loopback client
//! on a local one (no document: its `client_id` says everything), and no signing in at all
//! rather than an insecure one.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenlight_appview::{AppView, AppViewError, Config};
use sqlx::PgPool;
use tower::ServiceExt;

fn es256_private_jwk() -> String {
    let key = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let jwk: jose_jwk::Jwk = jose_jwk::Jwk {
        key: jose_jwk::Key::from(&jose_jwk::crypto::Key::from(key)),
        prm: jose_jwk::Parameters {
            kid: Some("greenlight-1".into()),
            ..Default::default()
        },
    };
    serde_json::to_string(&jwk).unwrap()
}

async fn get(app: &AppView, path: &str) -> (StatusCode, String) {
    let response = app
        .router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test(migrator = "greenlight_store::MIGRATOR")]
async fn a_public_appview_is_a_confidential_client_and_never_publishes_its_key(pool: PgPool) {
    let mut config = Config::new("https://greenlight.example");
    config.oauth_private_key = Some(es256_private_jwk());
    config.session_secret = Some("ab".repeat(32));
    let app = AppView::new(pool, config).unwrap();
    let (status, body) = get(&app, "/oauth/client-metadata.json").await;
    assert_eq!(status, StatusCode::OK);
    let metadata: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        metadata["client_id"],
        "https://greenlight.example/oauth/client-metadata.json"
    );
    assert_eq!(
        metadata["redirect_uris"][0],
        "https://greenlight.example/oauth/callback"
    );
    assert_eq!(metadata["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(metadata["dpop_bound_access_tokens"], true);
    let scope = metadata["scope"].as_str().unwrap();
    assert!(scope.starts_with("atproto "), "{scope}");
    assert!(scope.contains("repo:fund.greenlight.pledge"), "{scope}");
    assert!(!scope.contains("transition:generic"), "{scope}");
    let keys = metadata["jwks"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].get("d").is_none(),
        "the private key was published: {body}"
    );
}

#[sqlx::test(migrator = "greenlight_store::MIGRATOR")]
async fn a_confidential_client_needs_a_session_secret_and_a_local_one_is_loopback(pool: PgPool) {
    let mut config = Config::new("https://greenlight.example");
    config.oauth_private_key = Some(es256_private_jwk());
    assert!(matches!(
        AppView::new(pool.clone(), config),
        Err(AppViewError::SignIn(_))
    ));

    // Without a key, a public AppView has no signing in (the pages say so) rather than a
    // loopback client on a public address.
    let app = AppView::new(pool.clone(), Config::new("https://greenlight.example")).unwrap();
    assert!(app.sign_in().is_none());
    let (status, _) = get(&app, "/sign-in").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let app = AppView::new(pool, Config::new("http://localhost:2584")).unwrap();
    let sign_in = app.sign_in().expect("a loopback client");
    assert_eq!(
        sign_in.redirect_uri(),
        "http://127.0.0.1:2584/oauth/callback"
    );
    let (status, _) = get(&app, "/oauth/client-metadata.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The browser is sent to 127.0.0.1 first, where the callback will come back.
    let (status, _) = get(&app, "/sign-in?return=/projects").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}
