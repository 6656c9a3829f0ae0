//! The AppView over a real socket, served as the binary serves it: requests refused before any
//! handler (too many from one client, a URI too long for us or for hyper, a wrong HTTP method)
//! answer XRPC error bodies.

mod support;

use std::net::SocketAddr;

use greenlight_appview::{AppView, Config};
use greenlight_xrpc::RateLimitConfig;
use serde_json::Value;
use sqlx::PgPool;

/// Serves `app` with `rate_limit` on 127.0.0.1 the way `greenlight_xrpc::serve` does.
async fn serve(app: &AppView, rate_limit: RateLimitConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app
        .router_with_rate_limit(rate_limit)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(greenlight_xrpc::listener(listener), service)
            .await
            .unwrap()
    });
    addr
}

async fn call(method: reqwest::Method, url: &str) -> (u16, Option<String>, Value) {
    // A fresh client each time: hyper's own refusals close the connection.
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// Sends `request` as it is and reads the answer until the server closes the connection.
async fn raw(base: &str, request: &str) -> (u16, Option<String>, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        None,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn assert_error(answer: &(u16, Option<String>, Value), status: u16, error: &str) {
    assert_eq!(answer.0, status, "{}", answer.2);
    assert_eq!(answer.2["error"], error, "{}", answer.2);
    assert!(answer.2["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(answer.2.as_object().unwrap().len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_over_a_tiny_limit_gets_429_rate_limit_exceeded(pool: PgPool) {
    let app = AppView::new(pool, Config::new("http://localhost:2584")).unwrap();
    let tiny = RateLimitConfig {
        per_second: 1,
        burst: 2,
        // 127.0.0.1 is exempt by default; here it is just another client.
        exempt: Vec::new(),
        client_ip_header: None,
    };
    let base = format!("http://{}", serve(&app, tiny).await);
    let totals = format!("{base}/xrpc/fund.greenlight.getFundingTotals?uris=at://did:plc:x/fund.greenlight.proposal/3kaaaaaaaaaaa");
    for _ in 0..2 {
        assert_eq!(call(reqwest::Method::GET, &totals).await.0, 200);
    }
    let refused = call(reqwest::Method::GET, &totals).await;
    assert_error(&refused, 429, "RateLimitExceeded");
    assert!(refused.1.unwrap().parse::<u64>().unwrap() >= 1);
    // Pages count against the same bucket; the health check does not.
    assert_error(
        &call(reqwest::Method::GET, &format!("{base}/")).await,
        429,
        "RateLimitExceeded",
    );
    assert_eq!(
        call(reqwest::Method::GET, &format!("{base}/xrpc/_health"))
            .await
            .0,
        200
    );
    // Refusals are counted as client errors, not server errors.
    assert_eq!(app.metrics().server_errors(), 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn long_uris_and_wrong_methods_answer_xrpc_errors(pool: PgPool) {
    let app = AppView::new(pool, Config::new("http://localhost:2584")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.clone().serve(listener));

    // ~100 KB: over hyper's own limit, so refused before the router. (HTTP clients refuse to
    // send such a URI at all, hence a raw request.)
    let huge = format!(
        "GET /xrpc/fund.greenlight.getProposal?uri={} HTTP/1.1\r\nhost: test\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    assert_error(&raw(&base, &huge).await, 414, "InvalidRequest");
    // ~20 KB: over ours.
    let long = format!(
        "{base}/xrpc/fund.greenlight.getProposal?uri={}",
        "a".repeat(20 * 1024)
    );
    assert_error(
        &call(reqwest::Method::GET, &long).await,
        414,
        "InvalidRequest",
    );

    // A query POSTed, a procedure fetched, a page deleted.
    for (method, path) in [
        (reqwest::Method::POST, "/xrpc/fund.greenlight.getProposal"),
        (
            reqwest::Method::GET,
            "/xrpc/fund.greenlight.checkProjectProof",
        ),
        (reqwest::Method::DELETE, "/"),
    ] {
        let answer = call(method.clone(), &format!("{base}{path}")).await;
        assert_error(&answer, 405, "InvalidRequest");
        assert!(
            answer.2["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{method} is not allowed on {path}")),
            "{}",
            answer.2
        );
    }
    // Loopback is not limited by default: the end-to-end tests drive the AppView hard.
    for _ in 0..300 {
        assert_eq!(
            call(reqwest::Method::GET, &format!("{base}/xrpc/_health"))
                .await
                .0,
            200
        );
        assert_ne!(
            call(
                reqwest::Method::GET,
                &format!("{base}/xrpc/fund.greenlight.listProposals")
            )
            .await
            .0,
            429
        );
    }
}
