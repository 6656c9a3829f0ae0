//! The resolver against local HTTP servers playing PLC directory, did:web host and PDS,
//! including hostile ones (huge, slow, lying, redirecting).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use greenlight_identity::{IdentityError, PublicKey, Resolver, ResolverConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";

#[derive(Clone)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn json(value: Value) -> Reply {
        Reply {
            status: 200,
            body: value.to_string().into_bytes(),
            delay: Duration::ZERO,
        }
    }
    fn status(status: u16) -> Reply {
        Reply {
            status,
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

/// A loopback HTTP server answering each path-and-query with a programmed reply.
#[derive(Clone)]
struct Server {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    async fn start() -> Server {
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let (routes, hits) = (r.clone(), h.clone());
            async move {
                let key = uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                *hits.lock().unwrap().entry(key.clone()).or_default() += 1;
                let reply = routes.lock().unwrap().get(&key).cloned();
                match reply {
                    None => StatusCode::NOT_FOUND.into_response(),
                    Some(reply) => {
                        tokio::time::sleep(reply.delay).await;
                        let mut response = Response::new(Body::from(reply.body));
                        *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                        if reply.status == 302 {
                            response
                                .headers_mut()
                                .insert("location", "http://127.0.0.1:1/".parse().unwrap());
                        }
                        response
                    }
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { port, routes, hits }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn key(seed: &str) -> PublicKey {
    let secret = Sha256::digest(seed.as_bytes());
    PublicKey::K256(
        *k256::ecdsa::SigningKey::from_slice(&secret)
            .unwrap()
            .verifying_key(),
    )
}

fn document(did: &str, handle: &str, key: &PublicKey) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "http://localhost:2583",
        }],
    })
}

fn config(plc: &Server) -> ResolverConfig {
    ResolverConfig {
        plc_url: plc.url(),
        allow_insecure_http: true,
        handle_resolver_pds: Some(plc.url()),
        request_timeout: Duration::from_secs(5),
        ..ResolverConfig::default()
    }
}

#[test]
fn the_default_config_is_production_safe() {
    let config = ResolverConfig::default();
    assert_eq!(config.plc_url, "https://plc.directory");
    assert!(!config.allow_insecure_http);
    assert_eq!(config.handle_resolver_pds, None);
    assert!(config.did_ttl > Duration::ZERO && config.handle_ttl > Duration::ZERO);
    assert!(config.request_timeout <= Duration::from_secs(30));
}

#[tokio::test]
async fn plc_documents_are_cached_refreshed_and_invalidated() {
    let plc = Server::start().await;
    let alice_key = key("alice");
    let path = format!("/{ALICE}");
    plc.set(
        &path,
        Reply::json(document(ALICE, "Alice.test", &alice_key)),
    );
    let resolver = Resolver::new(config(&plc));

    let doc = resolver.resolve_did(ALICE).await.unwrap();
    assert_eq!(doc.did, ALICE);
    assert_eq!(doc.handle.as_deref(), Some("alice.test"));
    assert_eq!(doc.pds_endpoint.as_deref(), Some("http://localhost:2583"));
    assert_eq!(doc.signing_key.as_ref(), Some(&alice_key));
    assert_eq!(plc.hits(&path), 1);

    let clone = resolver.clone();
    clone.resolve_did(ALICE).await.unwrap();
    assert_eq!(plc.hits(&path), 1, "clones share the cache");

    let rotated = key("alice rotated");
    plc.set(&path, Reply::json(document(ALICE, "alice.test", &rotated)));
    assert_eq!(
        resolver
            .resolve_did(ALICE)
            .await
            .unwrap()
            .signing_key
            .as_ref(),
        Some(&alice_key),
        "still cached"
    );
    let fresh = resolver.refresh_did(ALICE).await.unwrap();
    assert_eq!(fresh.signing_key.as_ref(), Some(&rotated));
    assert_eq!(plc.hits(&path), 2);
    assert_eq!(
        resolver
            .resolve_did(ALICE)
            .await
            .unwrap()
            .signing_key
            .as_ref(),
        Some(&rotated),
        "refresh refills the cache"
    );
    assert_eq!(plc.hits(&path), 2);

    resolver.invalidate(ALICE);
    resolver.resolve_did(ALICE).await.unwrap();
    assert_eq!(plc.hits(&path), 3);
}

#[tokio::test]
async fn cache_entries_expire() {
    let plc = Server::start().await;
    let path = format!("/{ALICE}");
    plc.set(&path, Reply::json(document(ALICE, "alice.test", &key("a"))));
    let resolver = Resolver::new(ResolverConfig {
        did_ttl: Duration::from_millis(200),
        ..config(&plc)
    });
    resolver.resolve_did(ALICE).await.unwrap();
    resolver.resolve_did(ALICE).await.unwrap();
    assert_eq!(plc.hits(&path), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    resolver.resolve_did(ALICE).await.unwrap();
    assert_eq!(plc.hits(&path), 2);
}

#[tokio::test]
async fn missing_tombstoned_and_failing_dids_are_told_apart() {
    let plc = Server::start().await;
    let resolver = Resolver::new(config(&plc));
    assert_eq!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::DidNotFound(ALICE.into()))
    );
    plc.set(&format!("/{ALICE}"), Reply::status(410));
    assert_eq!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::DidTombstoned(ALICE.into()))
    );
    plc.set(&format!("/{ALICE}"), Reply::status(503));
    assert!(matches!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::HttpStatus { status: 503, .. })
    ));
    plc.set(&format!("/{ALICE}"), Reply::status(302));
    assert!(
        matches!(
            resolver.resolve_did(ALICE).await,
            Err(IdentityError::HttpStatus { status: 302, .. })
        ),
        "DID documents follow no redirects"
    );
    assert!(matches!(
        resolver.resolve_did("did:plc:nope").await,
        Err(IdentityError::InvalidDid { .. })
    ));
    assert_eq!(
        resolver.resolve_did("did:example:123").await,
        Err(IdentityError::UnsupportedDidMethod(
            "did:example:123".into()
        ))
    );
}

#[tokio::test]
async fn lying_and_garbage_documents_are_refused() {
    let plc = Server::start().await;
    let resolver = Resolver::new(config(&plc));
    plc.set(
        &format!("/{ALICE}"),
        Reply::json(document(BOB, "bob.test", &key("b"))),
    );
    assert_eq!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::DocumentIdMismatch {
            expected: ALICE.into(),
            found: BOB.into()
        })
    );
    plc.set(
        &format!("/{ALICE}"),
        Reply {
            body: b"\x00\xffnot json".to_vec(),
            ..Reply::status(200)
        },
    );
    assert!(matches!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::InvalidDocument { .. })
    ));
}

#[tokio::test]
async fn oversized_and_slow_answers_are_cut_off() {
    let plc = Server::start().await;
    let resolver = Resolver::new(ResolverConfig {
        request_timeout: Duration::from_millis(500),
        ..config(&plc)
    });
    let mut huge = document(ALICE, "alice.test", &key("a"));
    huge["padding"] = Value::String("x".repeat(100 * 1024));
    plc.set(&format!("/{ALICE}"), Reply::json(huge));
    assert!(matches!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::BodyTooLarge { limit: 65536, .. })
    ));

    plc.set(
        &format!("/{BOB}"),
        Reply {
            delay: Duration::from_secs(3),
            ..Reply::json(document(BOB, "bob.test", &key("b")))
        },
    );
    let started = std::time::Instant::now();
    assert!(matches!(
        resolver.resolve_did(BOB).await,
        Err(IdentityError::Timeout { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A raw TCP server that answers one request with `head` and then `chunks`, pausing
/// `pause` between chunks: for bodies without Content-Length and for trickling.
async fn raw_server(head: &'static str, chunks: Vec<Vec<u8>>, pause: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let chunks = chunks.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for chunk in chunks {
                    tokio::time::sleep(pause).await;
                    let framed = [
                        format!("{:x}\r\n", chunk.len()).into_bytes(),
                        chunk,
                        b"\r\n".to_vec(),
                    ]
                    .concat();
                    if socket.write_all(&framed).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    port
}

#[tokio::test]
async fn chunked_bodies_are_size_limited_and_trickling_times_out() {
    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    let port = raw_server(CHUNKED, vec![vec![b' '; 16 * 1024]; 8], Duration::ZERO).await;
    let resolver = Resolver::new(ResolverConfig {
        plc_url: format!("http://127.0.0.1:{port}"),
        allow_insecure_http: true,
        request_timeout: Duration::from_secs(5),
        ..ResolverConfig::default()
    });
    assert!(matches!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::BodyTooLarge { .. })
    ));

    // Headers at once, then one byte every 200 ms: only a whole-request deadline stops it.
    let port = raw_server(
        CHUNKED,
        vec![b" ".to_vec(); 100],
        Duration::from_millis(200),
    )
    .await;
    let resolver = Resolver::new(ResolverConfig {
        plc_url: format!("http://127.0.0.1:{port}"),
        allow_insecure_http: true,
        request_timeout: Duration::from_secs(1),
        ..ResolverConfig::default()
    });
    let started = std::time::Instant::now();
    assert!(matches!(
        resolver.resolve_did(ALICE).await,
        Err(IdentityError::Timeout { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn loopback_did_web_needs_the_insecure_switch() {
    let host = Server::start().await;
    let did = format!("did:web:localhost%3A{}", host.port);
    host.set(
        "/.well-known/did.json",
        Reply::json(document(&did, "service.test", &key("svc"))),
    );
    let secure = Resolver::new(ResolverConfig::default());
    assert_eq!(
        secure.resolve_did(&did).await,
        Err(IdentityError::InsecureResolution(did.clone()))
    );
    assert_eq!(host.hits("/.well-known/did.json"), 0);

    let insecure = Resolver::new(config(&host));
    let doc = insecure.resolve_did(&did).await.unwrap();
    assert_eq!(doc.did, did);
    assert_eq!(doc.signing_key, Some(key("svc")));
    assert_eq!(host.hits("/.well-known/did.json"), 1);

    // A plain-http PLC directory is refused too without the switch.
    let secure_plc = Resolver::new(ResolverConfig {
        plc_url: host.url(),
        ..ResolverConfig::default()
    });
    assert!(matches!(
        secure_plc.resolve_did(ALICE).await,
        Err(IdentityError::Network { .. })
    ));
    assert_eq!(host.hits(&format!("/{ALICE}")), 0);
}

fn resolve_handle_path(handle: &str) -> String {
    format!("/xrpc/com.atproto.identity.resolveHandle?handle={handle}")
}

#[tokio::test]
async fn handles_resolve_through_the_pds_and_are_verified_both_ways() {
    let net = Server::start().await;
    net.set(
        &format!("/{ALICE}"),
        Reply::json(document(ALICE, "alice.test", &key("a"))),
    );
    net.set(
        &resolve_handle_path("alice.test"),
        Reply::json(json!({"did": ALICE})),
    );
    // mallory.test claims to be Alice, but Alice's document does not claim it back.
    net.set(
        &resolve_handle_path("mallory.test"),
        Reply::json(json!({"did": ALICE})),
    );
    net.set(
        &resolve_handle_path("unknown.test"),
        Reply {
            body: br#"{"error":"InvalidRequest","message":"Unable to resolve handle"}"#.to_vec(),
            ..Reply::status(400)
        },
    );
    net.set(
        &resolve_handle_path("liar.test"),
        Reply::json(json!({"did": "nonsense"})),
    );
    let resolver = Resolver::new(config(&net));

    assert_eq!(resolver.resolve_handle("Alice.TEST").await.unwrap(), ALICE);
    assert_eq!(resolver.resolve_handle("alice.test").await.unwrap(), ALICE);
    assert_eq!(net.hits(&resolve_handle_path("alice.test")), 1, "cached");

    assert_eq!(
        resolver.resolve_handle("mallory.test").await,
        Err(IdentityError::HandleMismatch {
            handle: "mallory.test".into(),
            did: ALICE.into(),
            claimed: Some("alice.test".into())
        })
    );
    assert!(matches!(
        resolver.resolve_handle("unknown.test").await,
        Err(IdentityError::HandleNotFound { ref handle, .. }) if handle == "unknown.test"
    ));
    assert!(matches!(
        resolver.resolve_handle("liar.test").await,
        Err(IdentityError::HandleNotFound { .. })
    ));
    assert!(matches!(
        resolver.resolve_handle("not a handle").await,
        Err(IdentityError::InvalidHandle { .. })
    ));

    // Invalidation drops the handle too, so a moved handle is looked up again.
    resolver.invalidate(ALICE);
    assert_eq!(resolver.resolve_handle("alice.test").await.unwrap(), ALICE);
    assert_eq!(net.hits(&resolve_handle_path("alice.test")), 2);
}

#[tokio::test]
async fn a_stale_cached_document_is_refetched_to_confirm_a_new_handle() {
    let net = Server::start().await;
    let path = format!("/{BOB}");
    net.set(&path, Reply::json(document(BOB, "old-bob.test", &key("b"))));
    let resolver = Resolver::new(config(&net));
    resolver.resolve_did(BOB).await.unwrap();

    // Bob moves to a new handle; the cached document still has the old one.
    net.set(&path, Reply::json(document(BOB, "bob.test", &key("b"))));
    net.set(
        &resolve_handle_path("bob.test"),
        Reply::json(json!({"did": BOB})),
    );
    assert_eq!(resolver.resolve_handle("bob.test").await.unwrap(), BOB);
    assert_eq!(net.hits(&path), 2);
    assert_eq!(
        resolver.resolve_did(BOB).await.unwrap().handle.as_deref(),
        Some("bob.test")
    );
}

#[tokio::test]
async fn test_handles_need_the_insecure_switch_and_never_reach_dns() {
    let secure = Resolver::new(ResolverConfig::default());
    assert!(matches!(
        secure.resolve_handle("alice.test").await,
        Err(IdentityError::InvalidHandle { .. })
    ));
    assert!(matches!(
        secure.resolve_handle("alice.local").await,
        Err(IdentityError::InvalidHandle { .. })
    ));

    // Without a PDS to ask, a .test handle fails at once instead of waiting on DNS.
    let insecure = Resolver::new(ResolverConfig {
        allow_insecure_http: true,
        request_timeout: Duration::from_secs(30),
        ..ResolverConfig::default()
    });
    let started = std::time::Instant::now();
    assert!(matches!(
        insecure.resolve_handle("alice.test").await,
        Err(IdentityError::HandleNotFound { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn primed_documents_are_served_from_the_cache() {
    let resolver = Resolver::new(ResolverConfig {
        plc_url: "http://127.0.0.1:1".into(),
        allow_insecure_http: true,
        ..ResolverConfig::default()
    });
    let doc = greenlight_identity::DidDocument {
        did: ALICE.into(),
        handle: Some("alice.test".into()),
        pds_endpoint: None,
        signing_key: Some(key("primed")),
    };
    resolver.prime(doc.clone());
    assert_eq!(*resolver.resolve_did(ALICE).await.unwrap(), doc);
    // Refreshing goes to the (unreachable) directory.
    assert!(matches!(
        resolver.refresh_did(ALICE).await,
        Err(IdentityError::Network { .. })
    ));
}

#[tokio::test]
async fn extreme_cache_lifetimes_are_accepted() {
    let plc = Server::start().await;
    let path = format!("/{ALICE}");
    plc.set(&path, Reply::json(document(ALICE, "alice.test", &key("a"))));
    let resolver = Resolver::new(ResolverConfig {
        did_ttl: Duration::MAX,
        handle_ttl: Duration::ZERO,
        ..config(&plc)
    });
    resolver.resolve_did(ALICE).await.unwrap();
    resolver.resolve_did(ALICE).await.unwrap();
    assert_eq!(plc.hits(&path), 1);
}
