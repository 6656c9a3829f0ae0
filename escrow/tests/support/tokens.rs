//! Service-auth tokens signed here rather than by a PDS: genuine ones for a stand-in issuer,
//! and forgeries signed by a key that is not the issuer's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use k256::ecdsa::signature::Signer;
use serde_json::{json, Value};

/// The secp256k1 key made from `seed` repeated: the same key every run.
pub fn key(seed: u8) -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

/// A JWT with `payload`, signed ES256K by `key` as a PDS signs one (low-S signature).
pub fn es256k_token(key: &k256::ecdsa::SigningKey, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "ES256K"}).to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature: k256::ecdsa::Signature = key.sign(input.as_bytes());
    let signature = signature.normalize_s().unwrap_or(signature);
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
