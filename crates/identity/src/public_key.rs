//! atproto public keys: the two curves, their multikey / `did:key` encodings, and
//! signature verification with atproto's rules (SHA-256, compact 64-byte, low-S only).

use k256::ecdsa::signature::Verifier as _;

/// The multicodec varint for `secp256k1-pub` (0xe7).
const SECP256K1_PUB_PREFIX: [u8; 2] = [0xe7, 0x01];
/// The multicodec varint for `p256-pub` (0x1200).
const P256_PUB_PREFIX: [u8; 2] = [0x80, 0x24];
/// A SEC1 compressed point on either curve: tag byte plus a 32-byte x coordinate.
const COMPRESSED_POINT_LEN: usize = 33;
/// A compact ECDSA signature: r and s, 32 bytes each.
const SIGNATURE_LEN: usize = 64;
/// Prefix of a `did:key` DID.
const DID_KEY_PREFIX: &str = "did:key:";

/// A public key an atproto account signs with: its repo commits and its service-auth JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// secp256k1 ("K-256"), JWT algorithm `ES256K`.
    K256(k256::ecdsa::VerifyingKey),
    /// NIST P-256, JWT algorithm `ES256`.
    P256(p256::ecdsa::VerifyingKey),
}

/// A key encoding could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A `did:key` input did not start with `did:key:`.
    #[error("not a did:key")]
    NotDidKey,
    /// The multibase string is not base58btc (`z` prefix).
    #[error("multikey must be base58btc multibase (starting with 'z')")]
    UnsupportedMultibase,
    /// The base58btc payload does not decode.
    #[error("multikey is not valid base58btc")]
    Encoding,
    /// The multicodec prefix names neither secp256k1-pub nor p256-pub.
    #[error("unsupported key type (multicodec is neither secp256k1-pub nor p256-pub)")]
    UnsupportedKeyType,
    /// The key bytes are not a 33-byte compressed point.
    #[error("key must be a 33-byte compressed point, got {0} bytes")]
    NotCompressed(usize),
    /// The bytes are not a point on the curve.
    #[error("key bytes are not a valid point on the curve")]
    InvalidPoint,
}

/// A signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature is not 64 bytes (compact r||s).
    #[error("signature must be 64 bytes (compact r||s), got {0}")]
    WrongLength(usize),
    /// r or s is zero or not below the curve order.
    #[error("signature scalars are out of range")]
    Malformed,
    /// s is in the upper half of the order; atproto accepts only the low-S form.
    #[error("signature is not in low-S form")]
    HighS,
    /// The signature is well-formed but does not match the key and message.
    #[error("signature does not match")]
    Mismatch,
}

impl PublicKey {
    /// Parses a multibase multikey: `z` + base58btc(multicodec prefix ‖ compressed point).
    pub fn from_multikey(multibase: &str) -> Result<PublicKey, KeyError> {
        let encoded = multibase
            .strip_prefix('z')
            .ok_or(KeyError::UnsupportedMultibase)?;
        let bytes = multibase::Base::Base58Btc
            .decode(encoded)
            .map_err(|_| KeyError::Encoding)?;
        if let Some(point) = bytes.strip_prefix(&SECP256K1_PUB_PREFIX[..]) {
            check_compressed(point)?;
            k256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::K256)
                .map_err(|_| KeyError::InvalidPoint)
        } else if let Some(point) = bytes.strip_prefix(&P256_PUB_PREFIX[..]) {
            check_compressed(point)?;
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::P256)
                .map_err(|_| KeyError::InvalidPoint)
        } else {
            Err(KeyError::UnsupportedKeyType)
        }
    }

    /// Parses a `did:key:z…` DID.
    pub fn from_did_key(did_key: &str) -> Result<PublicKey, KeyError> {
        let multikey = did_key
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or(KeyError::NotDidKey)?;
        PublicKey::from_multikey(multikey)
    }

    /// Parses a raw SEC1 point (compressed or not) on the given curve, as carried by the
    /// legacy `EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019`
    /// verification methods (multibase of the bare point, no multicodec prefix).
    pub(crate) fn from_legacy_multibase(
        multibase: &str,
        k256: bool,
    ) -> Result<PublicKey, KeyError> {
        let encoded = multibase
            .strip_prefix('z')
            .ok_or(KeyError::UnsupportedMultibase)?;
        let point = multibase::Base::Base58Btc
            .decode(encoded)
            .map_err(|_| KeyError::Encoding)?;
        if k256 {
            k256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map(PublicKey::K256)
                .map_err(|_| KeyError::InvalidPoint)
        } else {
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map(PublicKey::P256)
                .map_err(|_| KeyError::InvalidPoint)
        }
    }

    /// The multikey encoding: `z` + base58btc(multicodec prefix ‖ compressed point).
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(2 + COMPRESSED_POINT_LEN);
        match self {
            PublicKey::K256(key) => {
                bytes.extend_from_slice(&SECP256K1_PUB_PREFIX);
                bytes.extend_from_slice(key.to_encoded_point(true).as_bytes());
            }
            PublicKey::P256(key) => {
                bytes.extend_from_slice(&P256_PUB_PREFIX);
                bytes.extend_from_slice(key.to_encoded_point(true).as_bytes());
            }
        }
        format!("z{}", multibase::Base::Base58Btc.encode(bytes))
    }

    /// The `did:key` form of the key.
    pub fn to_did_key(&self) -> String {
        format!("{DID_KEY_PREFIX}{}", self.to_multikey())
    }

    /// Verifies a compact 64-byte r||s ECDSA signature over SHA-256(`message`).
    ///
    /// High-S signatures are refused: atproto requires the low-S form so a signature
    /// has exactly one valid encoding.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(SignatureError::WrongLength(signature.len()));
        }
        match self {
            PublicKey::K256(key) => {
                let sig = k256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::Malformed)?;
                if sig.normalize_s().is_some() {
                    return Err(SignatureError::HighS);
                }
                key.verify(message, &sig)
                    .map_err(|_| SignatureError::Mismatch)
            }
            PublicKey::P256(key) => {
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::Malformed)?;
                if sig.normalize_s().is_some() {
                    return Err(SignatureError::HighS);
                }
                key.verify(message, &sig)
                    .map_err(|_| SignatureError::Mismatch)
            }
        }
    }

    /// The JWT `alg` that signatures by this key carry: `ES256K` or `ES256`.
    pub fn jwt_alg(&self) -> &'static str {
        match self {
            PublicKey::K256(_) => "ES256K",
            PublicKey::P256(_) => "ES256",
        }
    }
}

fn check_compressed(point: &[u8]) -> Result<(), KeyError> {
    if point.len() == COMPRESSED_POINT_LEN && matches!(point.first(), Some(0x02 | 0x03)) {
        Ok(())
    } else {
        Err(KeyError::NotCompressed(point.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn k256_signing_key(seed: &str) -> k256::ecdsa::SigningKey {
        let secret = Sha256::digest(seed.as_bytes());
        k256::ecdsa::SigningKey::from_slice(&secret).unwrap()
    }

    fn p256_signing_key(seed: &str) -> p256::ecdsa::SigningKey {
        let secret = Sha256::digest(seed.as_bytes());
        p256::ecdsa::SigningKey::from_slice(&secret).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Produced by `@atproto/crypto` (the reference implementation): keypair.did() and
    /// keypair.sign() over this message.
    const VECTOR_MESSAGE: &[u8] = b"greenlight cross-implementation vector";
    const K256_VECTOR_DID: &str = "did:key:zQ3shRqpVFYN9CqpSQFS7o48y78edgamFX9pqggssSAsnzUsB";
    const K256_VECTOR_SIG: &str = "47bb237402a63bf9b7434faa4aa6d63350597bff2e8bd180cdf17c234ba68f6e577a15a198d28598f1a89a68ff32fb16264c21a37251b7c21dc6b336d94c517c";
    const P256_VECTOR_DID: &str = "did:key:zDnaetRKU1brrUH6bJQ2bySQL9Z6d5Ly3ykZTx4QWJTmZNmXj";
    const P256_VECTOR_SIG: &str = "1c2641553a3e70850cc25244fb78c8067db8be7a22e53a7f1377d26f10e2591d6fbb701657ad5d1851d7cfbf0b20096a4550ef75f3648937b6e00db1822f30a8";

    #[test]
    fn reference_implementation_vectors_verify() {
        let k = PublicKey::from_did_key(K256_VECTOR_DID).unwrap();
        assert_eq!(k.jwt_alg(), "ES256K");
        k.verify(VECTOR_MESSAGE, &hex(K256_VECTOR_SIG)).unwrap();
        assert_eq!(k.to_did_key(), K256_VECTOR_DID);

        let p = PublicKey::from_did_key(P256_VECTOR_DID).unwrap();
        assert_eq!(p.jwt_alg(), "ES256");
        p.verify(VECTOR_MESSAGE, &hex(P256_VECTOR_SIG)).unwrap();
        assert_eq!(p.to_did_key(), P256_VECTOR_DID);

        // Each signature is bound to its key and message.
        assert_eq!(
            k.verify(b"another message", &hex(K256_VECTOR_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            p.verify(VECTOR_MESSAGE, &hex(K256_VECTOR_SIG)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn generated_keys_round_trip_through_multikey_and_did_key() {
        let k = PublicKey::K256(*k256_signing_key("round trip k").verifying_key());
        let multikey = k.to_multikey();
        assert!(multikey.starts_with("zQ3s"), "{multikey}");
        assert_eq!(PublicKey::from_multikey(&multikey).unwrap(), k);
        assert_eq!(PublicKey::from_did_key(&k.to_did_key()).unwrap(), k);

        let p = PublicKey::P256(*p256_signing_key("round trip p").verifying_key());
        let multikey = p.to_multikey();
        assert!(multikey.starts_with("zDna"), "{multikey}");
        assert_eq!(PublicKey::from_multikey(&multikey).unwrap(), p);
        assert_eq!(PublicKey::from_did_key(&p.to_did_key()).unwrap(), p);
    }

    #[test]
    fn bad_encodings_are_refused_precisely() {
        assert_eq!(
            PublicKey::from_did_key("did:web:zQ3s"),
            Err(KeyError::NotDidKey)
        );
        assert_eq!(
            PublicKey::from_multikey("mAbCd"),
            Err(KeyError::UnsupportedMultibase)
        );
        assert_eq!(PublicKey::from_multikey("z0OIl"), Err(KeyError::Encoding));
        assert_eq!(
            PublicKey::from_multikey(""),
            Err(KeyError::UnsupportedMultibase)
        );

        // An ed25519-pub (0xed) multikey is a real key type atproto does not use.
        let ed = format!(
            "z{}",
            multibase::Base::Base58Btc.encode([0xed, 0x01, 1, 2, 3])
        );
        assert_eq!(
            PublicKey::from_multikey(&ed),
            Err(KeyError::UnsupportedKeyType)
        );

        // An uncompressed point is not the atproto encoding.
        let key = k256_signing_key("uncompressed");
        let mut bytes = SECP256K1_PUB_PREFIX.to_vec();
        bytes.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
        let uncompressed = format!("z{}", multibase::Base::Base58Btc.encode(&bytes));
        assert_eq!(
            PublicKey::from_multikey(&uncompressed),
            Err(KeyError::NotCompressed(65))
        );

        // 33 bytes with a valid tag but an x that is not on the curve (p ≥ field size).
        let mut bytes = P256_PUB_PREFIX.to_vec();
        bytes.push(0x02);
        bytes.extend_from_slice(&[0xff; 32]);
        let off_curve = format!("z{}", multibase::Base::Base58Btc.encode(&bytes));
        assert_eq!(
            PublicKey::from_multikey(&off_curve),
            Err(KeyError::InvalidPoint)
        );
    }

    #[test]
    fn signatures_verify_and_high_s_is_refused() {
        use k256::ecdsa::signature::Signer as _;
        let message = b"header.payload";

        let signer = k256_signing_key("sign k");
        let key = PublicKey::K256(*signer.verifying_key());
        let sig: k256::ecdsa::Signature = signer.sign(message);
        key.verify(message, &sig.to_bytes()).unwrap();
        let (r, s) = sig.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, -s).unwrap();
        assert!(high.normalize_s().is_some(), "negated s must be high");
        assert_eq!(
            key.verify(message, &high.to_bytes()),
            Err(SignatureError::HighS)
        );

        let signer = p256_signing_key("sign p");
        let key = PublicKey::P256(*signer.verifying_key());
        let sig: p256::ecdsa::Signature = signer.sign(message);
        // P-256 signers may produce either form; atproto signers normalise to low-S.
        let low = sig.normalize_s().unwrap_or(sig);
        key.verify(message, &low.to_bytes()).unwrap();
        let (r, s) = low.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -s).unwrap();
        assert_eq!(
            key.verify(message, &high.to_bytes()),
            Err(SignatureError::HighS)
        );

        assert_eq!(
            key.verify(b"header.tampered", &low.to_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(message, &[0u8; 63]),
            Err(SignatureError::WrongLength(63))
        );
        assert_eq!(
            key.verify(message, &[0u8; 64]),
            Err(SignatureError::Malformed)
        );
        let der = low.to_der();
        assert_eq!(
            key.verify(message, der.as_bytes()),
            Err(SignatureError::WrongLength(der.as_bytes().len()))
        );
    }
}
