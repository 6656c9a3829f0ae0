//! Who is calling: atproto service-auth JWTs for users, a separate credential for operators.
//!
//! Users' PDSes sign short-lived tokens (`com.atproto.server.getServiceAuth`) whose `aud` is
//! escrow's DID and whose `lxm` is the method called. [`ServiceCaller`] takes the method from
//! the request path (`/xrpc/<nsid>`), so a token minted for one method never opens another.
//! The checks themselves (signature against the `#atproto` key of the issuer's DID document,
//! `aud`, `lxm`, `exp`/`iat`) live in `greenlight-service-auth`, behind [`CallerVerifier`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use greenlight_xrpc::XrpcError;
use subtle::ConstantTimeEq;

use crate::Escrow;

/// Verifies a bearer token for a method and names the caller.
#[async_trait]
pub trait CallerVerifier: Send + Sync {
    /// The caller's DID when `token` is a valid service-auth token for method `lxm`.
    async fn verify(&self, token: &str, lxm: &str) -> Result<String, String>;
}

/// Accepts no one: the verifier when none is configured.
#[derive(Debug, Default)]
pub struct NoCallers;

#[async_trait]
impl CallerVerifier for NoCallers {
    async fn verify(&self, _token: &str, _lxm: &str) -> Result<String, String> {
        Err("service auth is not configured".into())
    }
}

/// Fixed tokens mapped to DIDs, valid for any method: for tests of escrow's own logic,
/// never for a deployment (the real checks are tested with real tokens separately).
#[derive(Debug, Default)]
pub struct StaticCallers {
    tokens: HashMap<String, String>,
}

impl StaticCallers {
    /// Tokens from `(token, did)` pairs.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> StaticCallers {
        StaticCallers {
            tokens: pairs
                .into_iter()
                .map(|(token, did)| (token.to_owned(), did.to_owned()))
                .collect(),
        }
    }
}

#[async_trait]
impl CallerVerifier for StaticCallers {
    async fn verify(&self, token: &str, _lxm: &str) -> Result<String, String> {
        self.tokens
            .get(token)
            .cloned()
            .ok_or_else(|| "unknown token".to_owned())
    }
}

/// The DID of a user calling with a valid service-auth token for this method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCaller(pub String);

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<Arc<Escrow>> for ServiceCaller {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        escrow: &Arc<Escrow>,
    ) -> Result<ServiceCaller, XrpcError> {
        let method = parts
            .uri
            .path()
            .strip_prefix("/xrpc/")
            .ok_or_else(|| XrpcError::InvalidRequest("not an XRPC method".into()))?
            .to_owned();
        let token = bearer(parts).ok_or_else(|| {
            XrpcError::AuthenticationRequired("a service-auth bearer token is required".into())
        })?;
        let issuer = escrow
            .verifier
            .verify(token, &method)
            .await
            .map_err(XrpcError::AuthenticationRequired)?;
        // A service's token may name its DID with a service fragment; the account is the DID.
        let did = issuer.split('#').next().unwrap_or_default().to_owned();
        Ok(ServiceCaller(did))
    }
}

/// An operator, authenticated with HTTP Basic `admin:<GREENLIGHT_ESCROW_ADMIN_PASSWORD>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator;

/// Checks an `Authorization` header value against the operators' password.
pub fn operator_allowed(header: Option<&str>, password: &str) -> bool {
    if password.is_empty() {
        return false;
    }
    let Some(encoded) = header.and_then(|value| value.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("admin:{password}");
    bool::from(decoded.as_slice().ct_eq(expected.as_bytes()))
}

impl FromRequestParts<Arc<Escrow>> for Operator {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        escrow: &Arc<Escrow>,
    ) -> Result<Operator, XrpcError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        if operator_allowed(header, &escrow.config.admin_password) {
            Ok(Operator)
        } else {
            Err(XrpcError::AuthenticationRequired(
                "operator credentials required".into(),
            ))
        }
    }
}

/// The real check: atproto service-auth JWTs verified by `greenlight-service-auth` against
/// the issuer's DID document (`aud` = escrow's DID, `lxm` = the method, short lifetime,
/// ES256K/ES256 signature by the `#atproto` key, refetched once on failure).
pub struct ServiceAuth {
    verifier: greenlight_service_auth::Verifier,
    clock: Arc<dyn crate::clock::Clock>,
}

impl ServiceAuth {
    /// Verifies tokens addressed to `audience` (escrow's DID), resolving issuers with
    /// `resolver`, at the system time.
    pub fn new(resolver: greenlight_identity::Resolver, audience: &str) -> ServiceAuth {
        ServiceAuth {
            verifier: greenlight_service_auth::Verifier::new(resolver, audience.to_owned()),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }

    /// Judges tokens' `exp`/`iat` by `clock` instead.
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> ServiceAuth {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl CallerVerifier for ServiceAuth {
    async fn verify(&self, token: &str, lxm: &str) -> Result<String, String> {
        let now = self.clock.now().timestamp();
        match self.verifier.verify_at(token, lxm, now).await {
            Ok(claims) => Ok(claims.issuer_did().to_owned()),
            Err(error) => {
                tracing::info!(%error, lxm, "service-auth token refused");
                Err(format!("{}: {error}", error.error_name()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_password_is_checked_exactly() {
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
        );
        assert!(operator_allowed(Some(&good), "s3cret"));
        assert!(!operator_allowed(Some(&good), "s3cre"));
        assert!(!operator_allowed(Some(&good), ""));
        assert!(!operator_allowed(None, "s3cret"));
        assert!(!operator_allowed(Some("Bearer s3cret"), "s3cret"));
    }
}
