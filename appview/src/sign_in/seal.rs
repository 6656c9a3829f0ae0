//! Sealing secrets at rest: OAuth tokens and DPoP private keys are kept in Postgres only as
//! XChaCha20-Poly1305 ciphertext under the AppView's session secret, so a copy of the
//! database (a backup, a replica, a leaked dump) signs nobody in.

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE_BYTES: usize = 24;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The session secret is not 32 bytes of hex.
    #[error("the session secret must be 64 hexadecimal characters (32 bytes)")]
    BadSecret,
    /// The ciphertext was not made under this secret for this purpose, or was altered.
    #[error("a sealed value does not open under this secret")]
    Tampered,
    /// The value did not serialize.
    #[error("cannot serialize a sealed value: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// The key secrets are sealed under.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer under `hex_secret` (64 hex characters).
    pub fn from_hex(hex_secret: &str) -> Result<Sealer, SealError> {
        let bytes = hex::decode(hex_secret.trim()).map_err(|_| SealError::BadSecret)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealError::BadSecret)?;
        Ok(Sealer { cipher })
    }

    /// A sealer under a fresh random secret: what is sealed does not survive a restart
    /// (people sign in again). For the demo and tests only.
    pub fn ephemeral() -> Sealer {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Sealer {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// Seals `value` as JSON; `purpose` (a table and key) is bound in, so a sealed value
    /// moved to another row does not open there.
    pub fn seal<T: serde::Serialize>(
        &self,
        purpose: &str,
        value: &T,
    ) -> Result<Vec<u8>, SealError> {
        let plain = serde_json::to_vec(value)?;
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Sealer::seal`] made for `purpose`.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<T, SealError> {
        if sealed.len() < NONCE_BYTES {
            return Err(SealError::Tampered);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        Ok(serde_json::from_slice(&plain)?)
    }
}

/// `bytes` random bytes, URL-safe base64 without padding (session ids, CSRF tokens).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut raw = vec![0u8; bytes];
    OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_secret_and_purpose() {
        let sealer = Sealer::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = sealer.seal("session:did:plc:a", &"token").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"token"));
        let opened: String = sealer.open("session:did:plc:a", &sealed).unwrap();
        assert_eq!(opened, "token");
        assert!(matches!(
            sealer.open::<String>("session:did:plc:b", &sealed),
            Err(SealError::Tampered)
        ));
        let other = Sealer::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open::<String>("session:did:plc:a", &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(sealer
            .open::<String>("session:did:plc:a", &altered)
            .is_err());
        assert!(Sealer::from_hex("short").is_err());
    }
}
