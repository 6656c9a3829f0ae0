//! Tokens from strangers must not be able to make the verifier hammer DID hosts, nor tell
//! their sender what the verifier's network looks like: failed lookups are remembered for a
//! while, a burst of tokens for one DID makes one request, forced refetches are bounded, and
//! every lookup failure reads to the caller exactly like a bad signature.

mod support;

use std::time::Duration;

use greenlight_identity::{IdentityError, Resolver, ResolverConfig};
use greenlight_service_auth::{
    AuthError, LookupLimits, Verifier, FAILED_LOOKUP_TTL_SECS, MAX_JTI_BYTES,
};
use serde_json::json;
use support::{did_document, mint, service_token, DocServer, TestKey};

const SERVICE: &str = "did:web:escrow.greenlight.example";
const METHOD: &str = "fund.greenlight.escrow.createPledge";
const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const NOBODY: &str = "did:plc:nnnnnnnnnnnnnnnnnnnnnnnn";
const NOW: i64 = 1_750_000_000;

async fn fixture() -> (DocServer, Verifier, TestKey) {
    let plc = DocServer::start().await;
    let alice = TestKey::k256("alice");
    plc.put(
        &format!("/{ALICE}"),
        did_document(ALICE, "alice.test", &alice.public()),
    );
    let verifier = Verifier::new(plc.resolver(), SERVICE.to_owned());
    (plc, verifier, alice)
}

/// A PLC directory URL on which nothing listens: connections are refused.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unresolvable_issuer_is_looked_up_once_per_failure_ttl() {
    let (plc, verifier, _) = fixture().await;
    let path = format!("/{NOBODY}");
    let mallory = TestKey::k256("mallory");
    let token = |at: i64| service_token(&mallory, NOBODY, SERVICE, METHOD, at);

    assert_eq!(
        verifier.verify_at(&token(NOW), METHOD, NOW).await,
        Err(AuthError::Identity(IdentityError::DidNotFound(
            NOBODY.into()
        )))
    );
    assert_eq!(plc.hits(&path), 1);
    // The same answer, without asking again, for as long as the failure is remembered.
    for offset in [0, 1, 10, FAILED_LOOKUP_TTL_SECS - 1] {
        assert_eq!(
            verifier.verify_at(&token(NOW), METHOD, NOW + offset).await,
            Err(AuthError::Identity(IdentityError::DidNotFound(
                NOBODY.into()
            )))
        );
    }
    assert_eq!(plc.hits(&path), 1, "the failure was remembered");

    // Afterwards it is asked again, once; an account created meanwhile is found.
    let later = NOW + FAILED_LOOKUP_TTL_SECS;
    let nobody = TestKey::k256("nobody");
    plc.put(&path, did_document(NOBODY, "nobody.test", &nobody.public()));
    let genuine = service_token(&nobody, NOBODY, SERVICE, METHOD, later);
    assert!(verifier.verify_at(&genuine, METHOD, later).await.is_ok());
    assert_eq!(plc.hits(&path), 2);
}

#[tokio::test]
async fn a_burst_of_tokens_for_one_unknown_issuer_makes_one_request() {
    let (plc, verifier, _) = fixture().await;
    let mallory = TestKey::k256("mallory");
    let token = service_token(&mallory, NOBODY, SERVICE, METHOD, NOW);
    let attempts = (0..32).map(|_| {
        let (verifier, token) = (verifier.clone(), token.clone());
        tokio::spawn(async move { verifier.verify_at(&token, METHOD, NOW).await })
    });
    for attempt in attempts {
        assert!(matches!(
            attempt.await.unwrap(),
            Err(AuthError::Identity(_))
        ));
    }
    assert_eq!(plc.hits(&format!("/{NOBODY}")), 1);
}

#[tokio::test]
async fn forged_signatures_cost_at_most_one_refetch_per_interval() {
    let (plc, verifier, _) = fixture().await;
    let verifier = verifier.with_lookup_limits(LookupLimits {
        failure_ttl_secs: 30,
        refresh_interval_secs: 45,
    });
    let path = format!("/{ALICE}");
    let mallory = TestKey::k256("mallory");
    let forgeries = (0..50).map(|n| {
        let verifier = verifier.clone();
        let forged = service_token(&mallory, ALICE, SERVICE, METHOD, NOW + n % 3);
        tokio::spawn(async move { verifier.verify_at(&forged, METHOD, NOW + 10).await })
    });
    for forged in forgeries {
        assert_eq!(forged.await.unwrap(), Err(AuthError::BadSignature));
    }
    // The first lookup, and one refetch in case Alice had rotated her key.
    assert_eq!(plc.hits(&path), 2);
    // The interval is the verifier's setting: 44 s later still nothing, at 45 s one more.
    let forged = service_token(&mallory, ALICE, SERVICE, METHOD, NOW + 54);
    assert_eq!(
        verifier.verify_at(&forged, METHOD, NOW + 54).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(plc.hits(&path), 2);
    assert_eq!(
        verifier.verify_at(&forged, METHOD, NOW + 55).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(plc.hits(&path), 3);
}

#[tokio::test]
async fn a_failed_refetch_does_not_lock_the_issuer_out() {
    let (plc, verifier, alice) = fixture().await;
    let path = format!("/{ALICE}");
    let genuine = service_token(&alice, ALICE, SERVICE, METHOD, NOW);
    assert!(verifier.verify_at(&genuine, METHOD, NOW).await.is_ok());
    // The directory goes away for a moment, and a forged token forces a refetch that fails.
    plc.put(&path, json!("not a DID document"));
    let forged = service_token(&TestKey::k256("mallory"), ALICE, SERVICE, METHOD, NOW);
    assert!(matches!(
        verifier.verify_at(&forged, METHOD, NOW).await,
        Err(AuthError::Identity(_))
    ));
    assert_eq!(plc.hits(&path), 2);
    // Alice's own tokens still verify with the document cached before.
    assert!(verifier.verify_at(&genuine, METHOD, NOW + 1).await.is_ok());
    assert_eq!(plc.hits(&path), 2);
}

/// What a caller is shown for a refusal.
fn shown(error: &AuthError) -> (&'static str, &'static str) {
    (error.error_name(), error.public_message())
}

#[tokio::test]
async fn lookup_failures_read_exactly_like_bad_signatures() {
    let (plc, verifier, alice) = fixture().await;
    let mallory = TestKey::k256("mallory");

    let bad_signature = verifier
        .verify_at(
            &service_token(&mallory, ALICE, SERVICE, METHOD, NOW),
            METHOD,
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(bad_signature, AuthError::BadSignature);

    let not_found = verifier
        .verify_at(
            &service_token(&mallory, NOBODY, SERVICE, METHOD, NOW),
            METHOD,
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        not_found,
        AuthError::Identity(IdentityError::DidNotFound(_))
    ));

    // A directory that does not answer at all: the resolver's error names the address.
    let unreachable_url = closed_port_url().await;
    let unreachable = Verifier::new(
        Resolver::new(ResolverConfig {
            plc_url: unreachable_url.clone(),
            allow_insecure_http: true,
            request_timeout: Duration::from_secs(5),
            ..ResolverConfig::default()
        }),
        SERVICE.to_owned(),
    )
    .verify_at(
        &service_token(&alice, ALICE, SERVICE, METHOD, NOW),
        METHOD,
        NOW,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(unreachable, AuthError::Identity(_)),
        "{unreachable:?}"
    );

    // A did:web whose host serves no document.
    let web = plc.web_did();
    let no_document = verifier
        .verify_at(
            &service_token(&mallory, &web, SERVICE, METHOD, NOW),
            METHOD,
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(no_document, AuthError::Identity(_)),
        "{no_document:?}"
    );

    for error in [&not_found, &unreachable, &no_document] {
        assert_eq!(shown(error), shown(&bad_signature), "{error:?}");
    }
    // The detail exists, for the log, but is not in what the caller sees.
    let port = unreachable_url.rsplit(':').next().unwrap();
    assert!(unreachable.to_string().contains(port), "{unreachable}");
    for error in [&not_found, &unreachable, &no_document] {
        let (name, message) = shown(error);
        for secret in [port, "127.0.0.1", "localhost", "HTTP", "GET", "did:"] {
            assert!(
                !name.contains(secret) && !message.contains(secret),
                "{secret:?} leaks in {message:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_verifier_that_requires_jti_refuses_tokens_without_one_before_any_lookup() {
    let (plc, verifier, alice) = fixture().await;
    let without_jti = json!({
        "iat": NOW, "iss": ALICE, "aud": SERVICE, "exp": NOW + 60, "lxm": METHOD,
    });
    let token = mint(
        &json!({"typ": "JWT", "alg": "ES256K"}),
        &without_jti,
        &alice,
    );
    // By default a jti is optional (the spec does not require one)...
    assert!(verifier.verify_at(&token, METHOD, NOW).await.is_ok());
    // ...but a service that refuses replays needs it.
    let strict = Verifier::new(plc.resolver(), SERVICE.to_owned()).requiring_jti();
    let hits = plc.hits(&format!("/{ALICE}"));
    assert_eq!(
        strict.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::MissingJti)
    );
    assert_eq!(
        plc.hits(&format!("/{ALICE}")),
        hits,
        "refused before the lookup"
    );
    assert_eq!(
        shown(&AuthError::MissingJti),
        ("BadJwt", "the token has no jti (unique token id)")
    );
    let with_jti = service_token(&alice, ALICE, SERVICE, METHOD, NOW);
    assert_eq!(
        strict
            .verify_at(&with_jti, METHOD, NOW)
            .await
            .unwrap()
            .jti
            .as_deref(),
        Some("0123456789abcdef")
    );

    // An empty or oversized jti is malformed, whoever verifies.
    for jti in [String::new(), "x".repeat(MAX_JTI_BYTES + 1)] {
        let mut payload = without_jti.clone();
        payload["jti"] = json!(jti);
        let token = mint(&json!({"typ": "JWT", "alg": "ES256K"}), &payload, &alice);
        assert!(matches!(
            verifier.verify_at(&token, METHOD, NOW).await,
            Err(AuthError::Malformed(_))
        ));
    }
    let mut payload = without_jti.clone();
    payload["jti"] = json!("x".repeat(MAX_JTI_BYTES));
    let token = mint(&json!({"typ": "JWT", "alg": "ES256K"}), &payload, &alice);
    assert!(strict.verify_at(&token, METHOD, NOW).await.is_ok());
}
