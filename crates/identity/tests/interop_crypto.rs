//! The atproto interop crypto vectors (CC0, vendored in `tests/fixtures/atproto-interop-tests/`,
//! see its `SOURCE`): signatures over P-256 and K-256 keys, including high-S and DER-encoded
//! signatures that atproto refuses, checked through both a `did:key` and a DID document's
//! legacy verification method; and `did:key` encodings of known private keys.

use greenlight_identity::{DidDocument, PublicKey, SignatureError};
use serde_json::{json, Value};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/atproto-interop-tests/",
            $path
        ))
    };
}

/// Standard base64 with or without padding (the fixtures leave it out).
fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for byte in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&c| c == byte)
            .unwrap_or_else(|| panic!("not base64: {text}")) as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn signature_vectors_verify_exactly_when_atproto_says_they_are_valid() {
    let cases: Vec<Value> =
        serde_json::from_str(fixture!("crypto/signature-fixtures.json")).unwrap();
    assert_eq!(cases.len(), 6);
    let mut high_s = 0;
    for case in &cases {
        let comment = case["comment"].as_str().unwrap();
        let message = base64(case["messageBase64"].as_str().unwrap());
        let signature = base64(case["signatureBase64"].as_str().unwrap());
        let valid = case["validSignature"].as_bool().unwrap();
        let tags: Vec<&str> = case["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();

        let did_key = PublicKey::from_did_key(case["publicKeyDid"].as_str().unwrap()).unwrap();
        let expected_alg = case["algorithm"].as_str().unwrap();
        assert_eq!(did_key.jwt_alg(), expected_alg, "{comment}");

        // The same key as a DID document's legacy verification method.
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let document = DidDocument::parse(
            did,
            json!({
                "id": did,
                "verificationMethod": [{
                    "id": format!("{did}#atproto"),
                    "type": case["didDocSuite"],
                    "controller": did,
                    "publicKeyMultibase": case["publicKeyMultibase"],
                }],
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let document_key = document
            .signing_key
            .unwrap_or_else(|| panic!("{comment}: no key from the document"));
        assert_eq!(document_key.to_did_key(), did_key.to_did_key(), "{comment}");

        for key in [&did_key, &document_key] {
            let result = key.verify(&message, &signature);
            assert_eq!(result.is_ok(), valid, "{comment}: {result:?}");
            if tags.contains(&"high-s") {
                high_s += 1;
                assert_eq!(result, Err(SignatureError::HighS), "{comment}");
            }
            if tags.contains(&"der-encoded") {
                // DER is longer than the 64-byte compact form atproto uses.
                assert!(
                    matches!(result, Err(SignatureError::WrongLength(_))),
                    "{comment}: {result:?}"
                );
            }
        }
        // A valid signature over another message does not verify.
        if valid {
            let mut other = message.clone();
            other.push(0);
            assert!(did_key.verify(&other, &signature).is_err(), "{comment}");
        }
    }
    assert_eq!(high_s, 4, "both high-S vectors, through both key paths");
}

#[test]
fn did_keys_of_known_private_keys_match_the_vectors() {
    let k256: Vec<Value> = serde_json::from_str(fixture!("crypto/w3c_didkey_K256.json")).unwrap();
    assert!(!k256.is_empty());
    for case in &k256 {
        let secret = hex(case["privateKeyBytesHex"].as_str().unwrap());
        let signing = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let key = PublicKey::K256(*signing.verifying_key());
        let expected = case["publicDidKey"].as_str().unwrap();
        assert_eq!(key.to_did_key(), expected);
        assert_eq!(PublicKey::from_did_key(expected).unwrap(), key);
    }
    let p256: Vec<Value> = serde_json::from_str(fixture!("crypto/w3c_didkey_P256.json")).unwrap();
    assert!(!p256.is_empty());
    for case in &p256 {
        let secret = multibase::Base::Base58Btc
            .decode(case["privateKeyBytesBase58"].as_str().unwrap())
            .unwrap();
        let signing = p256::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let key = PublicKey::P256(*signing.verifying_key());
        let expected = case["publicDidKey"].as_str().unwrap();
        assert_eq!(key.to_did_key(), expected);
        assert_eq!(PublicKey::from_did_key(expected).unwrap(), key);
    }
}
