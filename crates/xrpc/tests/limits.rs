//! The conventions over a real socket on 127.0.0.1, as the services serve them: refusals that
//! happen before any handler (wrong method, long URI, hyper's own 414 and 431, large body,
//! too many requests) still answer `{"error", "message"}`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use greenlight_xrpc::{with_conventions, with_rate_limit, RateLimitConfig, MAX_URI_BYTES};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a test router serves: a query, a procedure with a 1 KiB body limit.
fn app() -> Router {
    let routes = Router::new()
        .route("/xrpc/test.query", get(|| async { "{}" }))
        .route(
            "/xrpc/test.procedure",
            post(|body: Bytes| async move { format!("{}", body.len()) })
                .layer(DefaultBodyLimit::max(1024)),
        );
    with_conventions(routes, "test")
}

/// Serves `router` the way `greenlight_xrpc::serve` does (listener and peer addresses).
async fn serve(router: Router) -> SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(greenlight_xrpc::listener(tcp), service)
            .await
            .unwrap()
    });
    addr
}

struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// An XRPC error: the status, `error` as named, a message, nothing else.
    fn assert_xrpc_error(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(self.body.as_object().unwrap().len(), 2);
        assert!(self
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")));
    }
}

/// Reads one response (head and a `content-length` body) from `stream`.
async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before a full head: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    Answer {
        status,
        head,
        body: serde_json::from_slice(&body[..length]).unwrap_or(Value::Null),
    }
}

async fn send(stream: &mut TcpStream, request: &[u8]) -> Answer {
    stream.write_all(request).await.unwrap();
    read_answer(stream).await
}

fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nhost: test\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn oversized_uris_and_heads_answer_xrpc_errors() {
    let addr = serve(app()).await;

    // Over our limit but under hyper's: refused by the conventions.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let long = format!("/xrpc/test.query?q={}", "a".repeat(MAX_URI_BYTES));
    send(&mut stream, &get_request(&long))
        .await
        .assert_xrpc_error(414, "InvalidRequest");
    // The connection is still good for the next request.
    assert_eq!(
        send(&mut stream, &get_request("/xrpc/test.query"))
            .await
            .status,
        200
    );

    // ~100 KB: hyper refuses it before routing; still JSON, on a kept-alive connection too.
    let huge = format!("/xrpc/test.query?q={}", "a".repeat(100 * 1024));
    send(&mut stream, &get_request(&huge))
        .await
        .assert_xrpc_error(414, "InvalidRequest");
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    let answer = send(&mut fresh, &get_request(&huge)).await;
    answer.assert_xrpc_error(414, "InvalidRequest");
    assert_eq!(answer.header("connection").as_deref(), Some("close"));

    // More header fields than hyper takes: its 431, as JSON.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let fields: String = (0..150).map(|i| format!("x-filler-{i}: b\r\n")).collect();
    let request = format!("GET /xrpc/test.query HTTP/1.1\r\nhost: test\r\n{fields}\r\n");
    // hyper may stop reading and answer before the whole head is sent.
    let (mut read, mut write) = stream.split();
    let writing = async {
        let _ = write.write_all(request.as_bytes()).await;
    };
    let (_, answer) = tokio::join!(writing, async {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut rest)).await;
        rest
    });
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 431 "),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains("content-type: application/json"), "{text}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"], "InvalidRequest");
}

#[tokio::test]
async fn wrong_methods_and_large_bodies_answer_xrpc_errors() {
    let addr = serve(app()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();

    let answer = send(
        &mut stream,
        b"POST /xrpc/test.query HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n{}",
    )
    .await;
    answer.assert_xrpc_error(405, "InvalidRequest");
    assert!(answer
        .header("allow")
        .is_some_and(|allow| allow.contains("GET")));
    assert!(answer.body["message"]
        .as_str()
        .unwrap()
        .contains("POST is not allowed on /xrpc/test.query"));

    let answer = send(&mut stream, &get_request("/xrpc/test.procedure")).await;
    answer.assert_xrpc_error(405, "InvalidRequest");
    assert!(answer
        .header("allow")
        .is_some_and(|allow| allow.contains("POST")));

    let big = "x".repeat(4096);
    let request = format!(
        "POST /xrpc/test.procedure HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n{big}",
        big.len()
    );
    send(&mut stream, request.as_bytes())
        .await
        .assert_xrpc_error(413, "PayloadTooLarge");

    // Unknown methods keep their 501.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    send(&mut stream, &get_request("/xrpc/test.nothing"))
        .await
        .assert_xrpc_error(501, "MethodNotImplemented");
}

#[tokio::test]
async fn a_tiny_limit_answers_429_per_client() {
    let config = RateLimitConfig {
        per_second: 1,
        burst: 3,
        exempt: Vec::new(),
        client_ip_header: None,
    };
    let addr = serve(with_rate_limit(app(), config)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            send(&mut stream, &get_request("/xrpc/test.query"))
                .await
                .status,
            200
        );
    }
    let refused = send(&mut stream, &get_request("/xrpc/test.query")).await;
    refused.assert_xrpc_error(429, "RateLimitExceeded");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // Every route counts, unknown ones too; the health check never does.
    send(&mut stream, &get_request("/xrpc/test.nothing"))
        .await
        .assert_xrpc_error(429, "RateLimitExceeded");
    for _ in 0..5 {
        assert_eq!(
            send(&mut stream, &get_request("/xrpc/_health"))
                .await
                .status,
            200
        );
    }
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        send(&mut stream, &get_request("/xrpc/test.query"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn clients_behind_an_exempt_proxy_are_limited_one_by_one() {
    let config = RateLimitConfig {
        per_second: 1,
        burst: 2,
        client_ip_header: Some("x-forwarded-for".parse().unwrap()),
        ..RateLimitConfig::default()
    };
    let addr = serve(with_rate_limit(app(), config)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let from = |client: &str| {
        format!(
            "GET /xrpc/test.query HTTP/1.1\r\nhost: test\r\nx-forwarded-for: 127.0.0.9, {client}\r\n\r\n"
        )
        .into_bytes()
    };
    for _ in 0..2 {
        assert_eq!(send(&mut stream, &from("203.0.113.1")).await.status, 200);
    }
    send(&mut stream, &from("203.0.113.1"))
        .await
        .assert_xrpc_error(429, "RateLimitExceeded");
    // Another client behind the same proxy has its own bucket.
    assert_eq!(send(&mut stream, &from("203.0.113.2")).await.status, 200);
    // The proxy itself (loopback, exempt) is not limited.
    for _ in 0..20 {
        assert_eq!(
            send(&mut stream, &get_request("/xrpc/test.query"))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn loopback_is_not_limited_by_default() {
    let addr = serve(with_rate_limit(app(), RateLimitConfig::default())).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Well past the default burst, as the end-to-end tests go.
    for _ in 0..(greenlight_xrpc::rate_limit::DEFAULT_BURST * 3) {
        assert_eq!(
            send(&mut stream, &get_request("/xrpc/test.query"))
                .await
                .status,
            200
        );
    }
}
