//! Per-fetch options and the fetcher's own host table, against servers on 127.0.0.1: options
//! only ever narrow the policy, and a name pinned in the table is checked like a DNS answer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use greenlight_safe_fetch::{FetchError, FetchOptions, Fetcher, Policy};
use tokio::net::TcpListener;

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn development() -> Policy {
    Policy {
        allow_loopback_http: true,
        timeout: Duration::from_secs(5),
        ..Policy::default()
    }
}

/// A server with a redirect, a 1 KiB body, a slow answer and an `Accept` echo.
async fn server() -> SocketAddr {
    serve(
        Router::new()
            .route(
                "/moved",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/kilobyte")]) }),
            )
            .route("/kilobyte", get(|| async { "x".repeat(1024) }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .route(
                "/accept",
                get(|headers: HeaderMap| async move {
                    headers
                        .get(header::ACCEPT)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                        .into_response()
                }),
            ),
    )
    .await
}

#[tokio::test]
async fn options_narrow_the_policy_for_one_fetch() {
    let addr = server().await;
    let fetcher = Fetcher::new(development()).unwrap();
    let url = |path: &str| format!("http://{addr}{path}");

    // Redirects: followed by default, answered as their status when refused.
    assert_eq!(fetcher.get(&url("/moved")).await.unwrap().body.len(), 1024);
    assert_eq!(
        fetcher
            .get_with(&url("/moved"), &FetchOptions::new().no_redirects())
            .await
            .unwrap_err(),
        FetchError::Status(302)
    );

    // A smaller body cap for this fetch only; a larger one cannot widen the policy.
    assert_eq!(
        fetcher
            .get_with(&url("/kilobyte"), &FetchOptions::new().max_body_bytes(1000))
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 1000 }
    );
    let small = Fetcher::new(Policy {
        max_body_bytes: 512,
        ..development()
    })
    .unwrap();
    assert_eq!(
        small
            .get_with(
                &url("/kilobyte"),
                &FetchOptions::new().max_body_bytes(1 << 20)
            )
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 512 }
    );

    // A shorter time for this fetch.
    let started = Instant::now();
    assert_eq!(
        fetcher
            .get_with(
                &url("/slow"),
                &FetchOptions::new().timeout(Duration::from_millis(300))
            )
            .await
            .unwrap_err(),
        FetchError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // The Accept header asked for, or the text default.
    let json = fetcher
        .get_with(
            &url("/accept"),
            &FetchOptions::new().accept("application/json"),
        )
        .await
        .unwrap();
    assert_eq!(json.text(), "application/json");
    assert!(fetcher
        .get(&url("/accept"))
        .await
        .unwrap()
        .text()
        .starts_with("text/plain"));
}

#[tokio::test]
async fn a_pinned_name_is_checked_like_a_dns_answer() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let addr = serve(Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "hello"
        }
    }))
    .await;
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let private: IpAddr = "10.0.0.1".parse().unwrap();
    let hosts = HashMap::from([
        ("Inside.Example.com".to_owned(), vec![loopback]),
        ("private.example.com".to_owned(), vec![private]),
        ("nowhere.example.com".to_owned(), vec![]),
    ]);

    // Production: the public-looking names point inside, so nothing is fetched.
    let production = Fetcher::with_hosts(
        Policy {
            timeout: Duration::from_secs(5),
            ..Policy::default()
        },
        hosts.clone(),
    )
    .unwrap();
    for name in ["inside.example.com", "private.example.com"] {
        assert_eq!(
            production
                .get(&format!("https://{name}:{}/", addr.port()))
                .await
                .unwrap_err(),
            FetchError::ForbiddenAddress,
            "{name}"
        );
    }
    assert_eq!(
        production
            .get("https://nowhere.example.com/")
            .await
            .unwrap_err(),
        FetchError::Unreachable
    );

    // Development: loopback over plain http is reached through the pinned name (matched
    // case-insensitively); a private address still is not.
    let development = Fetcher::with_hosts(development(), hosts).unwrap();
    let fetched = development
        .get(&format!("http://inside.example.com:{}/", addr.port()))
        .await
        .unwrap();
    assert_eq!(fetched.text(), "hello");
    assert_eq!(
        development
            .get(&format!("https://private.example.com:{}/", addr.port()))
            .await
            .unwrap_err(),
        FetchError::ForbiddenAddress
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
