//! Checking a service-auth JWT: structure, algorithm, claims, then the signature
//! against the issuer's `#atproto` key.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use greenlight_identity::{validate_did, DidDocument, Resolver};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::claims::{self, Claims};
use crate::error::AuthError;
use crate::lookups::{LookupLimits, Lookups};

/// The longest token accepted; real ones are about 400 bytes. Checked before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How far the issuer's clock may differ from ours, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 30;
/// The longest validity a token may have, in seconds (`exp - iat`).
pub const MAX_LIFETIME_SECS: i64 = 5 * 60;
/// The longest `jti` accepted; the reference PDS sends 32 hex digits. Bounded because a
/// service that refuses replays stores it.
pub const MAX_JTI_BYTES: usize = 256;
/// JWT `typ` values of tokens that are explicitly not service-auth tokens.
const REJECTED_TYPES: [&str; 3] = ["at+jwt", "refresh+jwt", "dpop+jwt"];

/// Verifies service-auth tokens addressed to one service DID. Cheap to clone; clones share
/// the memory of failed lookups and refetches ([`LookupLimits`]).
#[derive(Debug, Clone)]
pub struct Verifier {
    resolver: Resolver,
    audience: String,
    require_jti: bool,
    lookups: Arc<Lookups>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    iss: String,
    aud: String,
    exp: i64,
    iat: Option<i64>,
    nbf: Option<i64>,
    lxm: Option<String>,
    jti: Option<String>,
}

impl Verifier {
    /// A verifier for tokens whose `aud` is `audience` (our service DID), resolving
    /// issuers with `resolver`.
    pub fn new(resolver: Resolver, audience: String) -> Verifier {
        Verifier {
            resolver,
            audience,
            require_jti: false,
            lookups: Arc::new(Lookups::new(LookupLimits::default())),
        }
    }

    /// Refuses tokens without a `jti` ([`AuthError::MissingJti`]): for a service that
    /// refuses replays, which needs every token to carry its id. The reference PDS always
    /// sets one.
    pub fn requiring_jti(mut self) -> Verifier {
        self.require_jti = true;
        self
    }

    /// Uses `limits` on the DID lookups tokens cause instead of the defaults; forgets what
    /// the limits remembered so far.
    pub fn with_lookup_limits(mut self, limits: LookupLimits) -> Verifier {
        self.lookups = Arc::new(Lookups::new(limits));
        self
    }

    /// The limits on the DID lookups tokens cause.
    pub fn lookup_limits(&self) -> LookupLimits {
        self.lookups.limits()
    }

    /// The service DID tokens must be addressed to.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Verifies `token` for a call of method `lxm`, at the current system time.
    pub async fn verify(&self, token: &str, lxm: &str) -> Result<Claims, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        self.verify_at(token, lxm, now).await
    }

    /// Verifies `token` for a call of method `lxm`, as if the time were `now_unix`.
    ///
    /// Cheap checks come first, so a token with the wrong audience, method or times
    /// never causes a DID lookup. On a signature failure the issuer's DID document is
    /// fetched again once, because the account may have rotated its key; but at most once
    /// per DID per [`LookupLimits::refresh_interval_secs`], and an issuer whose resolution
    /// failed is not looked up again for [`LookupLimits::failure_ttl_secs`]. `now_unix` is
    /// also the clock of those limits.
    pub async fn verify_at(
        &self,
        token: &str,
        lxm: &str,
        now_unix: i64,
    ) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed(format!(
                "token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "a JWT has exactly three dot-separated parts".to_owned(),
            ));
        };

        let header: Header = decode_json(header_b64, "header")?;
        if let Some(typ) = &header.typ {
            if REJECTED_TYPES.contains(&typ.to_ascii_lowercase().as_str()) {
                return Err(AuthError::WrongTokenType(typ.clone()));
            }
        }
        if !matches!(header.alg.as_str(), "ES256K" | "ES256") {
            return Err(AuthError::UnsupportedAlg(header.alg));
        }
        let payload: Payload = decode_json(payload_b64, "payload")?;
        let signature = decode(signature_b64, "signature")?;

        check_times(&payload, now_unix)?;
        if payload.aud != self.audience {
            return Err(AuthError::WrongAudience {
                expected: self.audience.clone(),
                found: payload.aud,
            });
        }
        if payload.lxm.as_deref() != Some(lxm) {
            return Err(AuthError::WrongMethod {
                expected: lxm.to_owned(),
                found: payload.lxm,
            });
        }
        match &payload.jti {
            Some(jti) if jti.is_empty() || jti.len() > MAX_JTI_BYTES => {
                return Err(AuthError::Malformed(format!(
                    "jti must be 1 to {MAX_JTI_BYTES} bytes"
                )));
            }
            None if self.require_jti => return Err(AuthError::MissingJti),
            _ => {}
        }
        let did = check_issuer(&payload.iss)?;

        // The signature covers the two encoded parts exactly as sent.
        let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
        let document = self.lookups.resolve(&self.resolver, did, now_unix).await?;
        if let Err(first) = check_signature(&document, &header.alg, signed, &signature) {
            tracing::debug!(%did, error = %first, "service-auth signature failed; trying a newer DID document");
            match self
                .lookups
                .refresh(&self.resolver, did, &document, now_unix)
                .await?
            {
                Some(fresh) => check_signature(&fresh, &header.alg, signed, &signature)?,
                None => return Err(first),
            }
        }

        Ok(Claims {
            iss: payload.iss,
            aud: payload.aud,
            lxm: payload.lxm,
            exp: payload.exp,
            iat: payload.iat,
            jti: payload.jti,
        })
    }
}

/// The token from an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|err| AuthError::Malformed(format!("{what} is not base64url: {err}")))
}

fn decode_json<T: DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = decode(part, what)?;
    serde_json::from_slice(&bytes)
        .map_err(|err| AuthError::Malformed(format!("{what} is not the expected JSON: {err}")))
}

fn check_times(payload: &Payload, now: i64) -> Result<(), AuthError> {
    if now >= payload.exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(AuthError::Expired);
    }
    if payload
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(CLOCK_SKEW_SECS))
    {
        return Err(AuthError::NotYetValid);
    }
    match payload.iat {
        Some(iat) => {
            if iat > now.saturating_add(CLOCK_SKEW_SECS) {
                return Err(AuthError::IssuedInFuture);
            }
            if payload.exp < iat {
                return Err(AuthError::Malformed("exp is before iat".to_owned()));
            }
            if payload.exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
                return Err(AuthError::LifetimeTooLong);
            }
        }
        // Without iat, bound what is left of the token's life instead.
        None => {
            if payload.exp.saturating_sub(now) > MAX_LIFETIME_SECS + CLOCK_SKEW_SECS {
                return Err(AuthError::LifetimeTooLong);
            }
        }
    }
    Ok(())
}

/// Validates `iss` (a DID, optionally `#fragment` naming a service) and returns its DID.
fn check_issuer(iss: &str) -> Result<&str, AuthError> {
    let did = claims::issuer_did(iss);
    let fragment_ok = match iss.split_once('#') {
        None => true,
        Some((_, fragment)) => !fragment.is_empty() && !fragment.contains('#'),
    };
    if !fragment_ok || validate_did(did).is_err() {
        return Err(AuthError::InvalidIssuer(iss.to_owned()));
    }
    Ok(did)
}

fn check_signature(
    document: &DidDocument,
    alg: &str,
    signed: &str,
    signature: &[u8],
) -> Result<(), AuthError> {
    let key = document
        .signing_key
        .as_ref()
        .ok_or_else(|| AuthError::NoSigningKey(document.did.clone()))?;
    if key.jwt_alg() != alg {
        return Err(AuthError::KeyTypeMismatch {
            alg: alg.to_owned(),
            key_alg: key.jwt_alg(),
        });
    }
    key.verify(signed.as_bytes(), signature)
        .map_err(|_| AuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn issuers_are_dids_with_an_optional_service_fragment() {
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        assert_eq!(check_issuer(did), Ok(did));
        assert_eq!(check_issuer(&format!("{did}#atproto_labeler")), Ok(did));
        for bad in [
            format!("{did}#"),
            format!("{did}#a#b"),
            "alice.test".to_owned(),
            "did:key:zQ3shRqpVFYN9CqpSQFS7o48y78edgamFX9pqggssSAsnzUsB".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                check_issuer(&bad),
                Err(AuthError::InvalidIssuer(bad.clone()))
            );
        }
    }
}
