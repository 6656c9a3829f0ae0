//! Against the real local atproto network (reference PDS + PLC directory): accounts'
//! did:plc documents and `.test` handles resolve, and tokens minted by the PDS through
//! `com.atproto.server.getServiceAuth` verify — and are refused when misused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use greenlight_identity::{Resolver, ResolverConfig};
use greenlight_service_auth::{AuthError, Verifier};
use greenlight_tests::network::{Account, TestNetwork};
use greenlight_tests::service_tokens::pds_service_token;
use serde_json::Value;

const ESCROW: &str = "did:web:escrow.greenlight.example";
const CREATE_PLEDGE: &str = "fund.greenlight.escrow.createPledge";
const CANCEL_PLEDGE: &str = "fund.greenlight.escrow.cancelPledge";

/// Asks the PDS for a service-auth token on the account's behalf.
async fn service_auth(
    network: &TestNetwork,
    account: &Account,
    aud: &str,
    lxm: Option<&str>,
) -> String {
    pds_service_token(network, account, aud, lxm)
        .await
        .expect("a service-auth token from the PDS")
}

fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn real_accounts_resolve_and_their_pds_tokens_verify() {
    let network = TestNetwork::start().await.expect("network starts");
    let alice = network.create_account("alice").await.expect("alice");
    let bob = network.create_account("bob").await.expect("bob");
    let resolver = Resolver::new(ResolverConfig {
        plc_url: network.plc_url().to_owned(),
        allow_insecure_http: true,
        handle_resolver_pds: Some(network.pds_url().to_owned()),
        ..ResolverConfig::default()
    });

    // did:plc through the local directory.
    let doc = resolver.resolve_did(&alice.did).await.expect("alice's DID");
    assert_eq!(doc.did, alice.did);
    assert_eq!(doc.handle.as_deref(), Some(alice.handle.as_str()));
    assert_eq!(doc.pds_endpoint.as_deref(), Some(network.pds_url()));
    let key = doc.signing_key.clone().expect("an #atproto key");
    assert_eq!(
        key.jwt_alg(),
        "ES256K",
        "the reference PDS makes K-256 keys"
    );

    // .test handles through the PDS, verified against the DID documents.
    assert_eq!(
        resolver.resolve_handle(&alice.handle).await.unwrap(),
        alice.did
    );
    assert_eq!(
        resolver
            .resolve_handle(&bob.handle.to_uppercase())
            .await
            .unwrap(),
        bob.did
    );
    assert!(resolver.resolve_handle("nobody-here.test").await.is_err());

    // Real tokens minted by the PDS.
    let verifier = Verifier::new(resolver.clone(), ESCROW.to_owned());
    let token = service_auth(&network, &alice, ESCROW, Some(CREATE_PLEDGE)).await;
    let claims = verifier
        .verify(&token, CREATE_PLEDGE)
        .await
        .expect("a real token verifies");
    assert_eq!(claims.iss, alice.did);
    assert_eq!(claims.aud, ESCROW);
    assert_eq!(claims.lxm.as_deref(), Some(CREATE_PLEDGE));
    let iat = claims.iat.expect("the PDS sets iat");
    assert!(claims.exp > iat && claims.exp - iat <= 300, "{claims:?}");
    assert!(claims.jti.is_some());

    let bobs = service_auth(&network, &bob, ESCROW, Some(CREATE_PLEDGE)).await;
    assert_eq!(
        verifier.verify(&bobs, CREATE_PLEDGE).await.unwrap().iss,
        bob.did
    );

    // The same real token presented for another method or to another service.
    assert_eq!(
        verifier.verify(&token, CANCEL_PLEDGE).await,
        Err(AuthError::WrongMethod {
            expected: CANCEL_PLEDGE.into(),
            found: Some(CREATE_PLEDGE.into())
        })
    );
    let appview = Verifier::new(
        resolver.clone(),
        "did:web:appview.greenlight.example".into(),
    );
    assert!(matches!(
        appview.verify(&token, CREATE_PLEDGE).await,
        Err(AuthError::WrongAudience { .. })
    ));

    // A token the PDS minted for another audience, and one bound to no method.
    let elsewhere = service_auth(
        &network,
        &alice,
        "did:web:other.example",
        Some(CREATE_PLEDGE),
    )
    .await;
    assert!(matches!(
        verifier.verify(&elsewhere, CREATE_PLEDGE).await,
        Err(AuthError::WrongAudience { .. })
    ));
    let unbound = service_auth(&network, &alice, ESCROW, None).await;
    assert_eq!(payload_of(&unbound).get("lxm"), None);
    assert_eq!(
        verifier.verify(&unbound, CREATE_PLEDGE).await,
        Err(AuthError::WrongMethod {
            expected: CREATE_PLEDGE.into(),
            found: None
        })
    );

    // Bob's genuine signature under a payload naming Alice does not pass as Alice.
    let mut forged_payload = payload_of(&bobs);
    forged_payload["iss"] = Value::String(alice.did.clone());
    let parts: Vec<&str> = bobs.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_payload.to_string()),
        parts[2]
    );
    assert_eq!(
        verifier.verify(&forged, CREATE_PLEDGE).await,
        Err(AuthError::BadSignature)
    );

    network.stop().await.expect("network stops cleanly");
}
