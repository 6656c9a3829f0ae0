//! Operator logins over real HTTP (escrow served on a socket, as `serve` does, so each
//! client has its own address): after a handful of failures from one address within the
//! window, that address gets `429 RateLimitExceeded` without its password being looked at,
//! even the right one, until the window has passed; other addresses are not affected, and
//! requests without credentials are not counted as attempts.

mod support;

use std::net::IpAddr;

use base64::Engine;
use chrono::Duration;
use greenlight_escrow::http::{LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_SECONDS};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

const METHOD: &str = "fund.greenlight.escrow.resolveDispute";

struct Server {
    h: Harness,
    url: String,
}

impl Server {
    async fn start(pool: PgPool) -> Server {
        let h = Harness::new(pool).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let service = greenlight_escrow::http::service(h.escrow.clone());
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Server { h, url }
    }

    /// Calls the operator method from `from` with `password` (none: no credentials). The
    /// body is not a valid resolution, so a caller let through gets `400 InvalidRequest`.
    async fn login(&self, from: &str, password: Option<&str>) -> (u16, Value, Option<String>) {
        let address: IpAddr = from.parse().unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .local_address(address)
            .build()
            .unwrap();
        let mut request = client
            .post(format!("{}/xrpc/{METHOD}", self.url))
            .json(&json!({"not": "a resolution"}));
        if let Some(password) = password {
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
            request = request.header("authorization", format!("Basic {credentials}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, retry_after)
    }
}

const RIGHT: &str = "operator-secret";

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn failed_logins_lock_out_one_address_for_the_window(pool: PgPool) {
    let server = Server::start(pool).await;
    let me = "127.0.0.1";

    // The right password works, and the handler runs (it refuses the body).
    let (status, body, _) = server.login(me, Some(RIGHT)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("InvalidRequest"))
    );

    for attempt in 1..=LOGIN_FAILURES_ALLOWED {
        let (status, body, _) = server.login(me, Some("guess")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("AuthenticationRequired")),
            "failure {attempt}"
        );
    }
    // Locked out: wrong and right passwords alike get 429, in the XRPC error shape.
    for password in ["guess", RIGHT] {
        let (status, body, retry_after) = server.login(me, Some(password)).await;
        assert_eq!(status, 429, "{password}: {body}");
        assert_eq!(body["error"], "RateLimitExceeded");
        assert!(body["message"].as_str().unwrap().contains("try again"));
        let seconds: i64 = retry_after.unwrap().parse().unwrap();
        assert!((1..=LOGIN_WINDOW_SECONDS).contains(&seconds), "{seconds}");
    }
    // Without credentials it is refused as well (nothing is checked while locked out).
    assert_eq!(server.login(me, None).await.0, 429);

    // Another address is not affected.
    let (status, _, _) = server.login("127.0.0.2", Some(RIGHT)).await;
    assert_eq!(status, 400);

    // A success did not unlock the address early: one second before the window ends it is
    // still locked out; at its end the right password works again.
    server
        .h
        .advance(Duration::seconds(LOGIN_WINDOW_SECONDS - 1));
    assert_eq!(server.login(me, Some(RIGHT)).await.0, 429);
    server.h.advance(Duration::seconds(1));
    assert_eq!(server.login(me, Some(RIGHT)).await.0, 400);
    // And the count started afresh: one more failure does not lock it out again.
    assert_eq!(server.login(me, Some("guess")).await.0, 401);
    assert_eq!(server.login(me, Some(RIGHT)).await.0, 400);
    server.h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn requests_without_credentials_are_not_login_attempts(pool: PgPool) {
    let server = Server::start(pool).await;
    let me = "127.0.0.3";
    for _ in 0..(3 * LOGIN_FAILURES_ALLOWED) {
        let (status, body, _) = server.login(me, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("AuthenticationRequired"))
        );
    }
    assert_eq!(server.login(me, Some(RIGHT)).await.0, 400);
    // Failures spread over more than the window never lock anyone out.
    for _ in 0..(2 * LOGIN_FAILURES_ALLOWED) {
        assert_eq!(server.login(me, Some("guess")).await.0, 401);
        server
            .h
            .advance(Duration::seconds(LOGIN_WINDOW_SECONDS / 2));
    }
    assert_eq!(server.login(me, Some(RIGHT)).await.0, 400);
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn other_methods_are_not_limited(pool: PgPool) {
    let server = Server::start(pool).await;
    for _ in 0..LOGIN_FAILURES_ALLOWED {
        assert_eq!(server.login("127.0.0.4", Some("guess")).await.0, 401);
    }
    assert_eq!(server.login("127.0.0.4", Some(RIGHT)).await.0, 429);
    // The public feed stays open to a locked-out address.
    let response = reqwest::Client::builder()
        .no_proxy()
        .local_address("127.0.0.4".parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
        .get(format!(
            "{}/xrpc/fund.greenlight.escrow.listLedgerEntries",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
