//! A cached key that no longer matches makes the verifier fetch the issuer's DID
//! document again, exactly once, and at most once per DID per refresh interval: shown with
//! a did:web served by a local server whose key is changed under the verifier.

mod support;

use greenlight_service_auth::{AuthError, Verifier, REFRESH_INTERVAL_SECS};
use support::{did_document, service_token, DocServer, TestKey};

const SERVICE: &str = "did:web:appview.greenlight.example";
const METHOD: &str = "fund.greenlight.getActor";
const DOC_PATH: &str = "/.well-known/did.json";
const NOW: i64 = 1_750_000_000;

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_one_refetch() {
    let host = DocServer::start().await;
    let did = host.web_did();
    let first = TestKey::k256("first");
    host.put(
        DOC_PATH,
        did_document(&did, "labeler.test", &first.public()),
    );
    let verifier = Verifier::new(host.resolver(), SERVICE.to_owned());

    let token = service_token(&first, &did, SERVICE, METHOD, NOW);
    let claims = verifier.verify_at(&token, METHOD, NOW).await.unwrap();
    assert_eq!(claims.iss, did);
    assert_eq!(host.hits(DOC_PATH), 1);

    // The account rotates its key; the verifier still has the old one cached.
    let second = TestKey::k256("second");
    host.put(
        DOC_PATH,
        did_document(&did, "labeler.test", &second.public()),
    );
    let token = service_token(&second, &did, SERVICE, METHOD, NOW);
    verifier.verify_at(&token, METHOD, NOW).await.unwrap();
    assert_eq!(
        host.hits(DOC_PATH),
        2,
        "one refetch after the cached key failed"
    );

    // The refetched document replaced the cached one: no further fetches.
    verifier.verify_at(&token, METHOD, NOW).await.unwrap();
    assert_eq!(host.hits(DOC_PATH), 2);

    // The old key is no longer accepted. Within the refresh interval a wrong key costs no
    // fetch at all: the document was just refetched, so forged tokens cannot hammer the host.
    let old = service_token(&first, &did, SERVICE, METHOD, NOW);
    assert_eq!(
        verifier.verify_at(&old, METHOD, NOW).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(host.hits(DOC_PATH), 2);
    for _ in 0..20 {
        assert_eq!(
            verifier.verify_at(&old, METHOD, NOW + 30).await,
            Err(AuthError::BadSignature)
        );
    }
    assert_eq!(host.hits(DOC_PATH), 2, "no refetch within the interval");
    // Once the interval has passed, a wrong key costs exactly one refetch again.
    let later = NOW + REFRESH_INTERVAL_SECS;
    let old = service_token(&first, &did, SERVICE, METHOD, later);
    assert_eq!(
        verifier.verify_at(&old, METHOD, later).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(host.hits(DOC_PATH), 3);

    // Rotation to the other curve: the cached key's type no longer matches the alg.
    let third = TestKey::p256("third");
    host.put(
        DOC_PATH,
        did_document(&did, "labeler.test", &third.public()),
    );
    let latest = later + REFRESH_INTERVAL_SECS;
    let token = service_token(&third, &did, SERVICE, METHOD, latest);
    let claims = verifier.verify_at(&token, METHOD, latest).await.unwrap();
    assert_eq!(claims.iss, did);
    assert_eq!(host.hits(DOC_PATH), 4);
}

#[tokio::test]
async fn a_rotation_within_the_refresh_interval_waits_for_the_interval() {
    let host = DocServer::start().await;
    let did = host.web_did();
    let first = TestKey::k256("first");
    host.put(
        DOC_PATH,
        did_document(&did, "labeler.test", &first.public()),
    );
    let verifier = Verifier::new(host.resolver(), SERVICE.to_owned());
    // A forged token spends the refetch...
    let forged = service_token(&TestKey::k256("mallory"), &did, SERVICE, METHOD, NOW);
    assert_eq!(
        verifier.verify_at(&forged, METHOD, NOW).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(host.hits(DOC_PATH), 2);
    // ...so a genuine rotation right after is only seen once the interval has passed: the
    // price of the bound, at most a minute's delay for an account that just rotated.
    let second = TestKey::k256("second");
    host.put(
        DOC_PATH,
        did_document(&did, "labeler.test", &second.public()),
    );
    let token = service_token(&second, &did, SERVICE, METHOD, NOW);
    assert_eq!(
        verifier.verify_at(&token, METHOD, NOW + 1).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(host.hits(DOC_PATH), 2);
    let later = NOW + REFRESH_INTERVAL_SECS;
    let token = service_token(&second, &did, SERVICE, METHOD, later);
    assert!(verifier.verify_at(&token, METHOD, later).await.is_ok());
    assert_eq!(host.hits(DOC_PATH), 3);
}

#[tokio::test]
async fn a_document_without_a_key_is_refused_after_a_refetch() {
    let host = DocServer::start().await;
    let did = host.web_did();
    let key = TestKey::k256("keyless");
    let mut doc = did_document(&did, "keyless.test", &key.public());
    doc.as_object_mut().unwrap().remove("verificationMethod");
    host.put(DOC_PATH, doc);
    let verifier = Verifier::new(host.resolver(), SERVICE.to_owned());
    let token = service_token(&key, &did, SERVICE, METHOD, NOW);
    assert_eq!(
        verifier.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::NoSigningKey(did.clone()))
    );
    assert_eq!(host.hits(DOC_PATH), 2);
}
