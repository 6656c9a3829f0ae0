//! Who is calling: atproto service-auth JWTs for users, a separate credential for operators.
//!
//! Users' PDSes sign short-lived tokens (`com.atproto.server.getServiceAuth`) whose `aud` is
//! escrow's DID and whose `lxm` is the method called. [`ServiceCaller`] takes the method from
//! the request path (`/xrpc/<nsid>`), so a token minted for one method never opens another.
//! The checks themselves (signature against the `#atproto` key of the issuer's DID document,
//! `aud`, `lxm`, `exp`/`iat`) live in `greenlight-service-auth`, behind [`CallerVerifier`].
//!
//! A token opens one call, once: its `jti` is recorded (per issuer) in `escrow.spent_token`
//! until the token expires, and a second use is refused as `TokenReplayed`. The record is in
//! Postgres because escrow may run as several processes. Retries are not replays: a client
//! repeating a call with the same idempotency key asks its PDS for a new token each time.
//!
//! What a refused caller is told is fixed per kind of refusal; what went wrong underneath
//! (the resolver's connection error, a directory's status) goes to the log only.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use chrono::{DateTime, Utc};
use greenlight_service_auth::AuthError;
use greenlight_xrpc::XrpcError;
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use crate::Escrow;

/// How long after a token stops being acceptable its record is kept: room for the clocks of
/// several escrow processes to disagree, since each judges expiry by its own.
pub const SPENT_TOKEN_MARGIN_SECS: i64 = 5 * 60;
/// How many expired records one accepted token prunes on its way in: more than it adds, so
/// the table stays about as large as the tokens still alive, with no separate job.
const PRUNE_PER_USE: i64 = 32;

/// One use of a token, to be recorded so the token cannot be used again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    /// The issuer's DID (without a service fragment): `jti`s are unique per issuer.
    pub issuer: String,
    /// The token's unique id.
    pub jti: String,
    /// Until when the token could still verify (its `exp` plus the allowed clock skew).
    pub usable_until: DateTime<Utc>,
    /// When it was verified, by the verifier's clock.
    pub verified_at: DateTime<Utc>,
}

/// A caller whose token verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    /// The caller's DID.
    pub did: String,
    /// The token's use to record; `None` only from verifiers of fixed test tokens, which are
    /// meant to be presented again and again.
    pub token_use: Option<TokenUse>,
}

/// Verifies a bearer token for a method and names the caller.
#[async_trait]
pub trait CallerVerifier: Send + Sync {
    /// The caller's DID when `token` is a valid service-auth token for method `lxm`; else a
    /// message for the caller.
    async fn verify(&self, token: &str, lxm: &str) -> Result<String, String>;

    /// [`CallerVerifier::verify`], with the token's use to record against replays. The default
    /// records nothing, which only fixed test tokens may rely on.
    async fn verify_caller(&self, token: &str, lxm: &str) -> Result<VerifiedCaller, String> {
        self.verify(token, lxm).await.map(|did| VerifiedCaller {
            did,
            token_use: None,
        })
    }
}

/// Why [`ServiceCaller`] refused a request.
#[derive(Debug, thiserror::Error)]
pub enum CallerRefused {
    /// Not an XRPC path, so no method to bind the token to.
    #[error("not an XRPC method")]
    NotXrpc,
    /// No `Authorization: Bearer` header.
    #[error("a service-auth bearer token is required")]
    NoToken,
    /// The verifier refused the token; the message is meant for the caller.
    #[error("{0}")]
    Invalid(String),
    /// The token was accepted before.
    #[error("token {jti:?} of {issuer} was already used")]
    Replayed {
        /// The token's issuer.
        issuer: String,
        /// The token's id.
        jti: String,
    },
    /// The token's use could not be recorded, so it cannot be accepted.
    #[error("recording a service-auth token's use: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<CallerRefused> for XrpcError {
    fn from(refused: CallerRefused) -> XrpcError {
        match refused {
            CallerRefused::NotXrpc => XrpcError::InvalidRequest(refused.to_string()),
            CallerRefused::NoToken | CallerRefused::Invalid(_) => {
                XrpcError::AuthenticationRequired(refused.to_string())
            }
            // Named like the xrpc-server's token errors, so a client can tell that a fresh
            // token is all it needs.
            CallerRefused::Replayed { .. } => XrpcError::AuthenticationRequired(
                "TokenReplayed: this token was already used; ask your PDS for a new one".into(),
            ),
            CallerRefused::Database(error) => {
                tracing::error!(%error, "cannot record a service-auth token's use");
                XrpcError::Internal
            }
        }
    }
}

/// Records `token`'s use. `Ok(false)` when the same issuer's token with the same `jti` was
/// recorded before: a replay. One statement, so concurrent uses of one token (in one
/// process or several) cannot both win. On the way it prunes a few records of tokens that
/// expired more than [`SPENT_TOKEN_MARGIN_SECS`] ago, skipping any another caller is
/// pruning, so uses never wait on each other.
pub async fn spend_token(pool: &PgPool, token: &TokenUse) -> Result<bool, sqlx::Error> {
    let prune_before = token.verified_at - chrono::Duration::seconds(SPENT_TOKEN_MARGIN_SECS);
    let spent = sqlx::query_scalar!(
        "WITH pruned AS (
             DELETE FROM escrow.spent_token
             WHERE ctid = ANY (ARRAY(
                 SELECT ctid FROM escrow.spent_token WHERE usable_until < $4
                 ORDER BY usable_until LIMIT $5 FOR UPDATE SKIP LOCKED))
         )
         INSERT INTO escrow.spent_token (issuer, jti, usable_until, spent_at)
         VALUES ($1, $2, $3, $6)
         ON CONFLICT (issuer, jti) DO NOTHING
         RETURNING true",
        token.issuer,
        token.jti,
        token.usable_until,
        prune_before,
        PRUNE_PER_USE,
        token.verified_at,
    )
    .fetch_optional(pool)
    .await?;
    Ok(spent.is_some())
}

/// Deletes the records of tokens that stopped being acceptable before `before`; returns how
/// many. [`spend_token`] prunes as it goes; this is for operators and tests.
pub async fn prune_spent_tokens(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM escrow.spent_token WHERE usable_until < $1",
        before
    )
    .execute(pool)
    .await?
    .rows_affected())
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

impl ServiceCaller {
    /// The caller of a request for `/xrpc/<method>` with this `Authorization` header: the
    /// token verified for that method, and this is its first use.
    async fn identify(escrow: &Escrow, parts: &Parts) -> Result<ServiceCaller, CallerRefused> {
        let method = parts
            .uri
            .path()
            .strip_prefix("/xrpc/")
            .ok_or(CallerRefused::NotXrpc)?;
        let token = bearer(parts).ok_or(CallerRefused::NoToken)?;
        let caller = escrow
            .verifier
            .verify_caller(token, method)
            .await
            .map_err(CallerRefused::Invalid)?;
        // Only after the signature verified: recording unverified ids would let anyone who
        // guesses or sees a jti burn someone else's token.
        if let Some(token_use) = &caller.token_use {
            if !spend_token(&escrow.pool, token_use).await? {
                tracing::warn!(issuer = %token_use.issuer, jti = %token_use.jti, method, "service-auth token replayed");
                return Err(CallerRefused::Replayed {
                    issuer: token_use.issuer.clone(),
                    jti: token_use.jti.clone(),
                });
            }
        }
        // A service's token may name its DID with a service fragment; the account is the DID.
        let did = caller
            .did
            .split_once('#')
            .map_or(caller.did.as_str(), |(did, _)| did);
        Ok(ServiceCaller(did.to_owned()))
    }
}

impl FromRequestParts<Arc<Escrow>> for ServiceCaller {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        escrow: &Arc<Escrow>,
    ) -> Result<ServiceCaller, XrpcError> {
        Ok(ServiceCaller::identify(escrow, parts).await?)
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
/// the issuer's DID document (`aud` = escrow's DID, `lxm` = the method, short lifetime, a
/// `jti`, ES256K/ES256 signature by the `#atproto` key, refetched on failure at most once a
/// minute per DID; failed lookups are remembered for a while).
pub struct ServiceAuth {
    verifier: greenlight_service_auth::Verifier,
    clock: Arc<dyn crate::clock::Clock>,
}

impl ServiceAuth {
    /// Verifies tokens addressed to `audience` (escrow's DID), resolving issuers with
    /// `resolver`, at the system time.
    pub fn new(resolver: greenlight_identity::Resolver, audience: &str) -> ServiceAuth {
        ServiceAuth {
            // Every token must carry a jti, or its replays could not be told apart from it.
            verifier: greenlight_service_auth::Verifier::new(resolver, audience.to_owned())
                .requiring_jti(),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }

    /// Uses `limits` on the DID lookups tokens cause (tests shorten them).
    pub fn with_lookup_limits(
        mut self,
        limits: greenlight_service_auth::LookupLimits,
    ) -> ServiceAuth {
        self.verifier = self.verifier.with_lookup_limits(limits);
        self
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
        self.verify_caller(token, lxm)
            .await
            .map(|caller| caller.did)
    }

    async fn verify_caller(&self, token: &str, lxm: &str) -> Result<VerifiedCaller, String> {
        let now = self.clock.now();
        let claims = self
            .verifier
            .verify_at(token, lxm, now.timestamp())
            .await
            .map_err(|error| {
                // The detail (which host refused, which status) is for operators only; the
                // caller gets the fixed message, the same for every kind of lookup failure.
                if matches!(error, AuthError::Identity(_)) {
                    tracing::warn!(%error, lxm, "service-auth token refused: issuer lookup failed");
                } else {
                    tracing::info!(%error, lxm, "service-auth token refused");
                }
                for_caller(&error)
            })?;
        // The verifier requires a jti; checked again rather than assumed.
        let jti = claims
            .jti
            .clone()
            .ok_or_else(|| for_caller(&AuthError::MissingJti))?;
        let usable_until = DateTime::from_timestamp(
            claims
                .exp
                .saturating_add(greenlight_service_auth::CLOCK_SKEW_SECS),
            0,
        )
        .ok_or_else(|| for_caller(&AuthError::Malformed("exp is out of range".into())))?;
        let did = claims.issuer_did().to_owned();
        Ok(VerifiedCaller {
            token_use: Some(TokenUse {
                issuer: did.clone(),
                jti,
                usable_until,
                verified_at: now,
            }),
            did,
        })
    }
}

/// What a caller is told about a refused token: its xrpc-server error name and a fixed
/// message, never the underlying detail.
fn for_caller(error: &AuthError) -> String {
    format!("{}: {}", error.error_name(), error.public_message())
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
