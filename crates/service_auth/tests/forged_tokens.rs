//! Tokens built in the test with local keys: good ones pass, and every kind of forged or
//! misused one is refused with the matching `AuthError`.

mod support;

use greenlight_identity::IdentityError;
use greenlight_service_auth::{AuthError, Verifier, MAX_TOKEN_BYTES};
use serde_json::json;
use support::{b64, did_document, mint, service_token, signing_input, DocServer, TestKey};

const SERVICE: &str = "did:web:escrow.greenlight.example";
const METHOD: &str = "fund.greenlight.escrow.createPledge";
const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const PAT: &str = "did:plc:pppppppppppppppppppppppp";
const NOBODY: &str = "did:plc:nnnnnnnnnnnnnnnnnnnnnnnn";
const NOW: i64 = 1_750_000_000;

struct Fixture {
    plc: DocServer,
    verifier: Verifier,
    alice: TestKey,
    pat: TestKey,
}

/// Alice has a K-256 key and Pat a P-256 key, both registered in a local PLC directory.
async fn fixture() -> Fixture {
    let plc = DocServer::start().await;
    let alice = TestKey::k256("alice");
    let pat = TestKey::p256("pat");
    plc.put(
        &format!("/{ALICE}"),
        did_document(ALICE, "alice.test", &alice.public()),
    );
    plc.put(
        &format!("/{PAT}"),
        did_document(PAT, "pat.test", &pat.public()),
    );
    let verifier = Verifier::new(plc.resolver(), SERVICE.to_owned());
    Fixture {
        plc,
        verifier,
        alice,
        pat,
    }
}

fn claims(iss: &str, overrides: serde_json::Value) -> serde_json::Value {
    let mut payload = json!({
        "iat": NOW, "iss": iss, "aud": SERVICE, "exp": NOW + 60, "lxm": METHOD, "jti": "n0nce",
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            payload.as_object_mut().unwrap().remove(key);
        } else {
            payload[key] = value.clone();
        }
    }
    payload
}

fn header(alg: &str) -> serde_json::Value {
    json!({"typ": "JWT", "alg": alg})
}

#[tokio::test]
async fn well_formed_tokens_of_both_curves_verify() {
    let f = fixture().await;
    let token = service_token(&f.alice, ALICE, SERVICE, METHOD, NOW);
    let claims = f.verifier.verify_at(&token, METHOD, NOW + 5).await.unwrap();
    assert_eq!(claims.iss, ALICE);
    assert_eq!(claims.issuer_did(), ALICE);
    assert_eq!(claims.aud, SERVICE);
    assert_eq!(claims.lxm.as_deref(), Some(METHOD));
    assert_eq!(claims.exp, NOW + 60);
    assert_eq!(claims.iat, Some(NOW));
    assert_eq!(claims.jti.as_deref(), Some("0123456789abcdef"));

    let token = service_token(&f.pat, PAT, SERVICE, METHOD, NOW);
    let claims = f.verifier.verify_at(&token, METHOD, NOW).await.unwrap();
    assert_eq!(claims.iss, PAT);

    // A service fragment on iss names the account's service; the key is the account's.
    let token = mint(
        &header("ES256K"),
        &claims_with_iss(&format!("{ALICE}#atproto_labeler")),
        &f.alice,
    );
    let claims = f.verifier.verify_at(&token, METHOD, NOW).await.unwrap();
    assert_eq!(claims.iss, format!("{ALICE}#atproto_labeler"));
    assert_eq!(claims.issuer_did(), ALICE);

    // Each DID document was fetched once and then served from the cache.
    f.verifier
        .verify_at(
            &service_token(&f.alice, ALICE, SERVICE, METHOD, NOW),
            METHOD,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(f.plc.hits(&format!("/{ALICE}")), 1);
}

fn claims_with_iss(iss: &str) -> serde_json::Value {
    claims(iss, json!({}))
}

#[tokio::test]
async fn audience_and_method_must_match() {
    let f = fixture().await;
    let token = service_token(&f.alice, ALICE, "did:web:appview.example", METHOD, NOW);
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::WrongAudience {
            expected: SERVICE.into(),
            found: "did:web:appview.example".into()
        })
    );

    let token = service_token(&f.alice, ALICE, SERVICE, METHOD, NOW);
    assert_eq!(
        f.verifier
            .verify_at(&token, "fund.greenlight.escrow.cancelPledge", NOW)
            .await,
        Err(AuthError::WrongMethod {
            expected: "fund.greenlight.escrow.cancelPledge".into(),
            found: Some(METHOD.into())
        })
    );

    let token = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"lxm": null})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::WrongMethod {
            expected: METHOD.into(),
            found: None
        })
    );

    // Cheap checks come first: a misaddressed token never triggers a DID lookup.
    let token = service_token(&f.alice, NOBODY, "did:web:other.example", METHOD, NOW);
    assert!(matches!(
        f.verifier.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::WrongAudience { .. })
    ));
    assert_eq!(f.plc.hits(&format!("/{NOBODY}")), 0);
}

#[tokio::test]
async fn times_are_enforced_with_a_little_skew() {
    let f = fixture().await;
    let token = service_token(&f.alice, ALICE, SERVICE, METHOD, NOW);
    // exp = NOW + 60; 30 s of skew are forgiven, not more.
    assert!(f.verifier.verify_at(&token, METHOD, NOW + 89).await.is_ok());
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW + 90).await,
        Err(AuthError::Expired)
    );
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW + 3600).await,
        Err(AuthError::Expired)
    );

    // Issued in the future: a little is skew, more is refused.
    assert!(f.verifier.verify_at(&token, METHOD, NOW - 30).await.is_ok());
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW - 31).await,
        Err(AuthError::IssuedInFuture)
    );

    let long = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"exp": NOW + 301})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&long, METHOD, NOW).await,
        Err(AuthError::LifetimeTooLong)
    );
    let five_minutes = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"exp": NOW + 300})),
        &f.alice,
    );
    assert!(f
        .verifier
        .verify_at(&five_minutes, METHOD, NOW)
        .await
        .is_ok());

    // Without iat, what is left of the token's life is bounded instead.
    let no_iat = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"iat": null, "exp": NOW + 3600})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&no_iat, METHOD, NOW).await,
        Err(AuthError::LifetimeTooLong)
    );
    let no_iat = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"iat": null})),
        &f.alice,
    );
    assert!(f.verifier.verify_at(&no_iat, METHOD, NOW).await.is_ok());

    let not_before = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"nbf": NOW + 45})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&not_before, METHOD, NOW).await,
        Err(AuthError::NotYetValid)
    );

    let backwards = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"exp": NOW - 10})),
        &f.alice,
    );
    assert!(matches!(
        f.verifier.verify_at(&backwards, METHOD, NOW - 20).await,
        Err(AuthError::Malformed(_))
    ));

    // Extreme values must not overflow into acceptance.
    let extreme = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"iat": i64::MIN, "exp": i64::MAX})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&extreme, METHOD, NOW).await,
        Err(AuthError::LifetimeTooLong)
    );
}

#[tokio::test]
async fn signatures_must_come_from_the_issuers_current_key() {
    let f = fixture().await;
    let alice_path = format!("/{ALICE}");

    // Signed by another key: refused after exactly one refetch of Alice's document.
    let mallory = TestKey::k256("mallory");
    let forged = service_token(&mallory, ALICE, SERVICE, METHOD, NOW);
    assert_eq!(
        f.verifier.verify_at(&forged, METHOD, NOW).await,
        Err(AuthError::BadSignature)
    );
    assert_eq!(f.plc.hits(&alice_path), 2);

    // A genuine token with its payload changed (a different lxm) no longer verifies.
    let genuine = service_token(
        &f.alice,
        ALICE,
        SERVICE,
        "fund.greenlight.escrow.cancelPledge",
        NOW,
    );
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims(ALICE, json!({})).to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        f.verifier.verify_at(&tampered, METHOD, NOW).await,
        Err(AuthError::BadSignature)
    );

    // Alice's name on a token signed with Pat's valid P-256 key.
    let header_p = header("ES256");
    let payload = claims(ALICE, json!({}));
    let token = mint(&header_p, &payload, &f.pat);
    assert_eq!(
        f.verifier.verify_at(&token, METHOD, NOW).await,
        Err(AuthError::KeyTypeMismatch {
            alg: "ES256".into(),
            key_alg: "ES256K"
        })
    );

    // The right key, but the header lies about the algorithm.
    let lying = mint(&header("ES256"), &claims(ALICE, json!({})), &f.alice);
    assert!(matches!(
        f.verifier.verify_at(&lying, METHOD, NOW).await,
        Err(AuthError::KeyTypeMismatch { .. })
    ));

    // The high-S twin of a valid signature is refused (atproto requires low-S).
    for (key, iss) in [(&f.alice, ALICE), (&f.pat, PAT)] {
        let head = header(key.alg());
        let payload = claims(iss, json!({}));
        let input = signing_input(&head, &payload);
        let high = format!("{input}.{}", b64(&key.sign_high_s(input.as_bytes())));
        assert_eq!(
            f.verifier.verify_at(&high, METHOD, NOW).await,
            Err(AuthError::BadSignature),
            "{iss}"
        );
        let low = format!("{input}.{}", b64(&key.sign(input.as_bytes())));
        assert!(f.verifier.verify_at(&low, METHOD, NOW).await.is_ok());
    }

    // An unknown issuer is an identity failure, not a signature one.
    let stranger = service_token(&mallory, NOBODY, SERVICE, METHOD, NOW);
    assert_eq!(
        f.verifier.verify_at(&stranger, METHOD, NOW).await,
        Err(AuthError::Identity(IdentityError::DidNotFound(
            NOBODY.into()
        )))
    );
}

#[tokio::test]
async fn other_algorithms_and_token_types_are_refused() {
    let f = fixture().await;
    let payload = claims(ALICE, json!({}));

    let none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), &payload)
    );
    assert_eq!(
        f.verifier.verify_at(&none, METHOD, NOW).await,
        Err(AuthError::UnsupportedAlg("none".into()))
    );
    // HS256 "signed" with the public key as the secret: the classic confusion attack.
    let hs_input = signing_input(&json!({"alg": "HS256", "typ": "JWT"}), &payload);
    let hs = format!("{hs_input}.{}", b64(&[7u8; 32]));
    assert_eq!(
        f.verifier.verify_at(&hs, METHOD, NOW).await,
        Err(AuthError::UnsupportedAlg("HS256".into()))
    );
    for alg in ["RS256", "EdDSA", "es256k", ""] {
        let token = mint(&json!({"alg": alg}), &payload, &f.alice);
        assert_eq!(
            f.verifier.verify_at(&token, METHOD, NOW).await,
            Err(AuthError::UnsupportedAlg(alg.into()))
        );
    }
    for typ in ["at+jwt", "refresh+jwt", "dpop+jwt", "DPoP+JWT"] {
        let token = mint(&json!({"alg": "ES256K", "typ": typ}), &payload, &f.alice);
        assert_eq!(
            f.verifier.verify_at(&token, METHOD, NOW).await,
            Err(AuthError::WrongTokenType(typ.into()))
        );
    }
    assert_eq!(
        f.plc.hits(&format!("/{ALICE}")),
        0,
        "none of these needed a lookup"
    );
}

#[tokio::test]
async fn garbage_is_malformed() {
    let f = fixture().await;
    let good = service_token(&f.alice, ALICE, SERVICE, METHOD, NOW);
    let parts: Vec<&str> = good.split('.').collect();
    let too_long = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
    let padded = format!("{}.{}.{}=", parts[0], parts[1], parts[2]);
    let four = format!("{good}.{}", parts[2]);
    let not_json = format!("{}.{}.{}", b64(b"{\"alg\":"), parts[1], parts[2]);
    let array_header = format!("{}.{}.{}", b64(b"[1,2]"), parts[1], parts[2]);
    let standard_b64 = format!("{}.{}.{}+/", parts[0], parts[1], parts[2]);
    let float_exp = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"exp": 1.75e9})),
        &f.alice,
    );
    let aud_array = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"aud": [SERVICE]})),
        &f.alice,
    );
    let no_exp = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"exp": null})),
        &f.alice,
    );
    let no_iss = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"iss": null})),
        &f.alice,
    );
    let number_lxm = mint(
        &header("ES256K"),
        &claims(ALICE, json!({"lxm": 5})),
        &f.alice,
    );
    for bad in [
        "",
        ".",
        "..",
        "garbage",
        "a.b",
        "a.b.c",
        "\u{0}.\u{0}.\u{0}",
        "🙂.🙂.🙂",
        too_long.as_str(),
        padded.as_str(),
        four.as_str(),
        not_json.as_str(),
        array_header.as_str(),
        standard_b64.as_str(),
        float_exp.as_str(),
        aud_array.as_str(),
        no_exp.as_str(),
        no_iss.as_str(),
        number_lxm.as_str(),
    ] {
        let result = f.verifier.verify_at(bad, METHOD, NOW).await;
        assert!(
            matches!(result, Err(AuthError::Malformed(_))),
            "{bad:?} gave {result:?}"
        );
    }
    // An empty or truncated signature parses but cannot verify.
    let empty_sig = format!("{}.{}.", parts[0], parts[1]);
    let short_sig = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    for bad in [empty_sig, short_sig] {
        assert_eq!(
            f.verifier.verify_at(&bad, METHOD, NOW).await,
            Err(AuthError::BadSignature),
            "{bad}"
        );
    }

    let bad_iss = mint(
        &header("ES256K"),
        &claims("alice.test", json!({})),
        &f.alice,
    );
    assert_eq!(
        f.verifier.verify_at(&bad_iss, METHOD, NOW).await,
        Err(AuthError::InvalidIssuer("alice.test".into()))
    );
}

#[tokio::test]
async fn the_system_clock_path_accepts_a_fresh_token() {
    let f = fixture().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = service_token(&f.alice, ALICE, SERVICE, METHOD, now);
    assert!(f.verifier.verify(&token, METHOD).await.is_ok());
    let old = service_token(&f.alice, ALICE, SERVICE, METHOD, now - 600);
    assert_eq!(
        f.verifier.verify(&old, METHOD).await,
        Err(AuthError::Expired)
    );
}
