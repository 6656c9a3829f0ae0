//! Test fixtures: signing keys, JWT minting, and a loopback server for DID documents.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use greenlight_identity::{PublicKey, Resolver, ResolverConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A private key of either atproto curve, derived from a seed so tests are repeatable.
pub enum TestKey {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl TestKey {
    pub fn k256(seed: &str) -> TestKey {
        let secret = Sha256::digest(seed.as_bytes());
        TestKey::K256(k256::ecdsa::SigningKey::from_slice(&secret).unwrap())
    }

    pub fn p256(seed: &str) -> TestKey {
        let secret = Sha256::digest(seed.as_bytes());
        TestKey::P256(p256::ecdsa::SigningKey::from_slice(&secret).unwrap())
    }

    pub fn public(&self) -> PublicKey {
        match self {
            TestKey::K256(key) => PublicKey::K256(*key.verifying_key()),
            TestKey::P256(key) => PublicKey::P256(*key.verifying_key()),
        }
    }

    pub fn alg(&self) -> &'static str {
        self.public().jwt_alg()
    }

    /// A compact low-S signature over SHA-256(message), as atproto signers produce.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use k256::ecdsa::signature::Signer as _;
        match self {
            TestKey::K256(key) => {
                let sig: k256::ecdsa::Signature = key.sign(message);
                sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
            }
            TestKey::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(message);
                sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
            }
        }
    }

    /// The same signature with s replaced by n - s: equally valid ECDSA, but high-S.
    pub fn sign_high_s(&self, message: &[u8]) -> Vec<u8> {
        let low = self.sign(message);
        match self {
            TestKey::K256(_) => {
                let sig = k256::ecdsa::Signature::from_slice(&low).unwrap();
                let (r, s) = sig.split_scalars();
                k256::ecdsa::Signature::from_scalars(r, -s)
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
            TestKey::P256(_) => {
                let sig = p256::ecdsa::Signature::from_slice(&low).unwrap();
                let (r, s) = sig.split_scalars();
                p256::ecdsa::Signature::from_scalars(r, -s)
                    .unwrap()
                    .to_bytes()
                    .to_vec()
            }
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `base64url(header).base64url(payload)` — the signed part of a JWT.
pub fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

/// A JWT with the given header and payload, signed by `key`.
pub fn mint(header: &Value, payload: &Value, key: &TestKey) -> String {
    let input = signing_input(header, payload);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// A service-auth JWT the way a PDS makes one, signed by `key`.
pub fn service_token(key: &TestKey, iss: &str, aud: &str, lxm: &str, iat: i64) -> String {
    mint(
        &json!({"typ": "JWT", "alg": key.alg()}),
        &json!({"iat": iat, "iss": iss, "aud": aud, "exp": iat + 60, "lxm": lxm, "jti": "0123456789abcdef"}),
        key,
    )
}

/// A DID document with an `#atproto` key, as the PLC directory serves them.
pub fn did_document(did: &str, handle: &str, key: &PublicKey) -> Value {
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

/// A loopback server answering GETs of registered paths with JSON documents, counting
/// requests per path. It serves both PLC-style (`/did:plc:…`) and did:web paths.
#[derive(Clone)]
pub struct DocServer {
    pub port: u16,
    docs: Arc<Mutex<HashMap<String, Value>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocServer {
    pub async fn start() -> DocServer {
        let docs: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (d, h) = (docs.clone(), hits.clone());
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let (docs, hits) = (d.clone(), h.clone());
            async move {
                let path = uri.path().to_owned();
                *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                let doc = docs.lock().unwrap().get(&path).cloned();
                match doc {
                    Some(doc) => Json(doc).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        DocServer { port, docs, hits }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The did:web DID this server hosts at `/.well-known/did.json`.
    pub fn web_did(&self) -> String {
        format!("did:web:localhost%3A{}", self.port)
    }

    pub fn put(&self, path: &str, doc: Value) {
        self.docs.lock().unwrap().insert(path.to_owned(), doc);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// A resolver that uses this server as its PLC directory.
    pub fn resolver(&self) -> Resolver {
        Resolver::new(ResolverConfig {
            plc_url: self.url(),
            allow_insecure_http: true,
            request_timeout: Duration::from_secs(5),
            ..ResolverConfig::default()
        })
    }
}
