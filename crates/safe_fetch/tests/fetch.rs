//! The fetcher against local servers on 127.0.0.1: what it refuses, what it follows, and
//! where it stops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenlight_safe_fetch::{FetchError, Fetcher, Policy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Requests a server received.
#[derive(Clone, Default)]
struct Hits(Arc<AtomicUsize>);

impl Hits {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server answering `hello` everywhere and counting requests.
async fn counting_server() -> (SocketAddr, Hits) {
    let hits = Hits::default();
    let router = Router::new()
        .fallback(|State(hits): State<Hits>| async move {
            hits.0.fetch_add(1, Ordering::SeqCst);
            "hello"
        })
        .with_state(hits.clone());
    (serve(router).await, hits)
}

fn redirect(status: StatusCode, to: String) -> Response {
    (status, [(header::LOCATION, to)]).into_response()
}

/// A server whose paths redirect in the ways the tests need; `other` is another server.
async fn redirecting_server(other: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let me = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/ok", get(|| async { "arrived" }))
        .route(
            "/hop1",
            get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "/hop2".into()) }),
        )
        .route(
            "/hop2",
            get(move || async move {
                redirect(
                    StatusCode::TEMPORARY_REDIRECT,
                    format!("http://127.0.0.1:{}/ok", me.port()),
                )
            }),
        )
        .route(
            "/loop",
            get(|| async { redirect(StatusCode::FOUND, "/loop".into()) }),
        )
        .route(
            "/to-localhost",
            get(move || async move {
                redirect(
                    StatusCode::FOUND,
                    format!("http://localhost:{}/ok", me.port()),
                )
            }),
        )
        .route(
            "/to-other-port",
            get(move || async move {
                redirect(
                    StatusCode::FOUND,
                    format!("http://127.0.0.1:{}/ok", other.port()),
                )
            }),
        )
        .route(
            "/to-https",
            get(move || async move {
                redirect(
                    StatusCode::FOUND,
                    format!("https://127.0.0.1:{}/ok", me.port()),
                )
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 100 * 1024] }))
        .route("/exact", get(|| async { vec![b'y'; 1024] }))
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    me
}

/// A raw TCP server that reads a request and then runs `respond` on the socket.
async fn raw_server<F, Fut>(respond: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                respond(socket).await;
            });
        }
    });
    addr
}

fn production() -> Fetcher {
    Fetcher::new(Policy::default()).unwrap()
}

fn development() -> Fetcher {
    Fetcher::new(Policy {
        allow_loopback_http: true,
        ..Policy::default()
    })
    .unwrap()
}

#[tokio::test]
async fn loopback_is_refused_by_default() {
    let (addr, hits) = counting_server().await;
    let fetcher = production();
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/", addr.port()))
            .await
            .unwrap_err(),
        FetchError::NotHttps
    );
    for url in [
        format!("https://127.0.0.1:{}/", addr.port()),
        format!("https://[::1]:{}/", addr.port()),
        // Other spellings of 127.0.0.1 that URL parsing turns into the same address.
        format!("https://2130706433:{}/", addr.port()),
        format!("https://0x7f.1:{}/", addr.port()),
    ] {
        assert_eq!(
            fetcher.get(&url).await.unwrap_err(),
            FetchError::ForbiddenAddress,
            "{url}"
        );
    }
    assert_eq!(hits.count(), 0, "nothing may reach the server");
}

#[tokio::test]
async fn loopback_is_allowed_under_the_development_setting() {
    let (addr, hits) = counting_server().await;
    let fetcher = development();
    let fetched = fetcher
        .get(&format!("http://127.0.0.1:{}/hello", addr.port()))
        .await
        .unwrap();
    assert_eq!(fetched.text(), "hello");
    let by_name = fetcher
        .get(&format!("http://localhost:{}/hello", addr.port()))
        .await
        .unwrap();
    assert_eq!(by_name.text(), "hello");
    assert_eq!(hits.count(), 2);
}

#[tokio::test]
async fn literal_private_addresses_are_refused_without_connecting() {
    for fetcher in [production(), development()] {
        for host in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "[::]",
            "[fe80::1]",
            "[fd00::1]",
            "[fc00::2]",
            "[ff02::1]",
            "[::ffff:10.0.0.1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:169.254.169.254]",
            "[::10.0.0.1]",
        ] {
            let started = Instant::now();
            let error = fetcher
                .get(&format!("https://{host}/.well-known/greenlight"))
                .await
                .unwrap_err();
            assert_eq!(error, FetchError::ForbiddenAddress, "{host}");
            // A refusal decided before any connection is immediate.
            assert!(started.elapsed() < Duration::from_millis(200), "{host}");
        }
    }
    // Plain http to a non-loopback address is refused for its scheme, even when developing.
    assert_eq!(
        development().get("http://10.0.0.1/").await.unwrap_err(),
        FetchError::NotHttps
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_default() {
    let (addr, hits) = counting_server().await;
    let error = production()
        .get(&format!("https://localhost:{}/", addr.port()))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::ForbiddenAddress);
    assert_eq!(hits.count(), 0);
}

#[tokio::test]
async fn redirects_to_another_host_port_or_scheme_are_not_followed() {
    let (other, other_hits) = counting_server().await;
    let addr = redirecting_server(other).await;
    let fetcher = development();
    for path in ["/to-localhost", "/to-other-port", "/to-https"] {
        let error = fetcher
            .get(&format!("http://127.0.0.1:{}{path}", addr.port()))
            .await
            .unwrap_err();
        assert_eq!(error, FetchError::CrossHostRedirect, "{path}");
    }
    assert_eq!(
        other_hits.count(),
        0,
        "the other server must not be reached"
    );
}

#[tokio::test]
async fn same_host_redirects_are_followed_a_few_times() {
    let (other, _) = counting_server().await;
    let addr = redirecting_server(other).await;
    let fetcher = development();
    let fetched = fetcher
        .get(&format!("http://127.0.0.1:{}/hop1", addr.port()))
        .await
        .unwrap();
    assert_eq!(fetched.text(), "arrived");
    assert_eq!(fetched.url, format!("http://127.0.0.1:{}/ok", addr.port()));
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/loop", addr.port()))
            .await
            .unwrap_err(),
        FetchError::TooManyRedirects
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (other, _) = counting_server().await;
    let addr = redirecting_server(other).await;
    let fetcher = Fetcher::new(Policy {
        allow_loopback_http: true,
        max_body_bytes: 1024,
        ..Policy::default()
    })
    .unwrap();
    // Announced by Content-Length.
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/big", addr.port()))
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 1024 }
    );
    // Exactly the limit is fine.
    let exact = fetcher
        .get(&format!("http://127.0.0.1:{}/exact", addr.port()))
        .await
        .unwrap();
    assert_eq!(exact.body.len(), 1024);
    // Streamed without a length: cut off once past the limit.
    let streaming = raw_server(|mut socket| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if socket.write_all(b"100\r\n").await.is_err()
                || socket.write_all(&[b'z'; 256]).await.is_err()
                || socket.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    })
    .await;
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/", streaming.port()))
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit: 1024 }
    );
}

#[tokio::test]
async fn a_stalling_server_times_out() {
    let fetcher = Fetcher::new(Policy {
        allow_loopback_http: true,
        timeout: Duration::from_millis(500),
        ..Policy::default()
    })
    .unwrap();
    let silent = raw_server(|socket| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    })
    .await;
    let started = Instant::now();
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/", silent.port()))
            .await
            .unwrap_err(),
        FetchError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // A body trickling in a byte at a time is cut off by the total cap, not an idle timer.
    let trickle = raw_server(|mut socket| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if socket.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let started = Instant::now();
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/", trickle.port()))
            .await
            .unwrap_err(),
        FetchError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn statuses_and_unreachable_hosts_are_errors_without_internals() {
    let (other, _) = counting_server().await;
    let addr = redirecting_server(other).await;
    let fetcher = development();
    assert_eq!(
        fetcher
            .get(&format!("http://127.0.0.1:{}/gone", addr.port()))
            .await
            .unwrap_err(),
        FetchError::Status(404)
    );
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let error = fetcher
        .get(&format!("http://127.0.0.1:{}/", closed.port()))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::Unreachable);
    let message = error.to_string();
    assert!(
        !message.contains("os error") && !message.contains("refused"),
        "{message}"
    );
}

#[tokio::test]
async fn odd_urls_are_refused() {
    let fetcher = development();
    assert_eq!(
        fetcher.get("not a url").await.unwrap_err(),
        FetchError::InvalidUrl
    );
    assert_eq!(
        fetcher
            .get("https://user:secret@example.com/")
            .await
            .unwrap_err(),
        FetchError::InvalidUrl
    );
    assert_eq!(
        fetcher.get("ftp://example.com/file").await.unwrap_err(),
        FetchError::NotHttps
    );
    assert_eq!(
        fetcher.get("file:///etc/passwd").await.unwrap_err(),
        FetchError::NotHttps
    );
}

#[tokio::test]
async fn one_host_gets_a_limited_number_of_fetches_at_a_time() {
    #[derive(Clone, Default)]
    struct Load {
        now: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    }
    let load = Load::default();
    let router = Router::new()
        .fallback(|State(load): State<Load>| async move {
            let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
            load.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            load.now.fetch_sub(1, Ordering::SeqCst);
            "ok"
        })
        .with_state(load.clone());
    let addr = serve(router).await;
    let fetcher = Arc::new(
        Fetcher::new(Policy {
            allow_loopback_http: true,
            per_host_concurrency: 2,
            ..Policy::default()
        })
        .unwrap(),
    );
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let fetcher = fetcher.clone();
            let url = url.clone();
            tokio::spawn(async move { fetcher.get(&url).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().text(), "ok");
    }
    assert_eq!(load.peak.load(Ordering::SeqCst), 2);
}
