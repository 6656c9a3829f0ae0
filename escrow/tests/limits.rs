//! Escrow over a real socket, served as the binary serves it: requests refused before any
//! handler (too many from one client, a URI too long, a wrong HTTP method, a body too large)
//! answer XRPC error bodies.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use greenlight_escrow::http::router_with_rate_limit;
use greenlight_xrpc::RateLimitConfig;
use serde_json::Value;
use sqlx::PgPool;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(h: &Harness, rate_limit: RateLimitConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = router_with_rate_limit(h.escrow.clone(), rate_limit)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(greenlight_xrpc::listener(listener), service)
            .await
            .unwrap()
    });
    format!("http://{addr}")
}

async fn call(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn assert_error(answer: &(u16, Option<String>, Value), status: u16, error: &str) {
    assert_eq!(answer.0, status, "{}", answer.2);
    assert_eq!(answer.2["error"], error, "{}", answer.2);
    assert!(answer.2["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(answer.2.as_object().unwrap().len(), 2);
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_client_over_a_tiny_limit_gets_429_rate_limit_exceeded(pool: PgPool) {
    let h = Harness::new(pool).await;
    let tiny = RateLimitConfig {
        per_second: 1,
        burst: 3,
        exempt: Vec::new(),
        client_ip_header: None,
    };
    let base = serve(&h, tiny).await;
    let client = reqwest::Client::new();
    let feed = format!("{base}/xrpc/fund.greenlight.escrow.listLedgerEntries");
    for _ in 0..3 {
        assert_eq!(call(client.get(&feed)).await.0, 200);
    }
    let refused = call(client.get(&feed)).await;
    assert_error(&refused, 429, "RateLimitExceeded");
    assert!(refused.1.unwrap().parse::<u64>().unwrap() >= 1);
    // Procedures, pages and webhooks share the client's bucket.
    assert_error(
        &call(
            client
                .post(format!("{base}/xrpc/fund.greenlight.escrow.createPledge"))
                .body("{}"),
        )
        .await,
        429,
        "RateLimitExceeded",
    );
    assert_error(
        &call(client.get(format!("{base}/checkout/nothing"))).await,
        429,
        "RateLimitExceeded",
    );
    assert_eq!(
        call(client.get(format!("{base}/xrpc/_health"))).await.0,
        200
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn long_uris_wrong_methods_and_large_bodies_answer_xrpc_errors(pool: PgPool) {
    let h = Harness::new(pool).await;
    let base = serve(&h, RateLimitConfig::default()).await;
    let client = reqwest::Client::new();

    // ~20 KB: over our limit.
    let long = format!(
        "{base}/xrpc/fund.greenlight.escrow.getPledge?id={}",
        "a".repeat(20 * 1024)
    );
    assert_error(&call(client.get(&long)).await, 414, "InvalidRequest");

    // ~100 KB: over hyper's, which HTTP clients will not even send; a raw request.
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "GET /xrpc/fund.greenlight.escrow.getPledge?id={} HTTP/1.1\r\nhost: test\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 414 "), "{head}");
    assert_error(
        &(414, None, serde_json::from_str(body).unwrap()),
        414,
        "InvalidRequest",
    );

    // A procedure fetched, a query posted.
    let answer = call(client.get(format!("{base}/xrpc/fund.greenlight.escrow.createPledge"))).await;
    assert_error(&answer, 405, "InvalidRequest");
    assert!(answer.2["message"]
        .as_str()
        .unwrap()
        .contains("GET is not allowed on /xrpc/fund.greenlight.escrow.createPledge"));
    assert_error(
        &call(client.post(format!("{base}/xrpc/fund.greenlight.escrow.getPledge"))).await,
        405,
        "InvalidRequest",
    );

    // A body over axum's 2 MB limit (the webhook reads its body before anything else).
    let answer = call(
        client
            .post(format!("{base}/webhooks/sandbox"))
            .body(vec![b' '; 3 * 1024 * 1024]),
    )
    .await;
    assert_error(&answer, 413, "PayloadTooLarge");
    h.assert_books_sound().await;
}
