//! Why a service-auth token was refused.

use greenlight_identity::IdentityError;

/// A service-auth token was refused. Each variant maps to an XRPC `AuthRequired` error
/// name through [`AuthError::error_name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a well-formed JWT: structure, encoding, JSON or claim types.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not `ES256K` or `ES256`.
    #[error("unsupported JWT algorithm {0:?} (only ES256K and ES256)")]
    UnsupportedAlg(String),
    /// The header's `typ` marks another kind of token (access, refresh, DPoP).
    #[error("JWT type {0:?} is not a service-auth token")]
    WrongTokenType(String),
    /// `aud` is not our service DID.
    #[error("token audience {found:?} is not this service ({expected:?})")]
    WrongAudience {
        /// Our service DID.
        expected: String,
        /// The token's `aud`.
        found: String,
    },
    /// `lxm` is missing or names another method.
    #[error("token is bound to method {found:?}, not {expected:?}")]
    WrongMethod {
        /// The method being called.
        expected: String,
        /// The token's `lxm`, if any.
        found: Option<String>,
    },
    /// `iss` is not a DID (optionally with a `#service` fragment).
    #[error("token issuer {0:?} is not a valid DID")]
    InvalidIssuer(String),
    /// `exp` has passed (beyond the allowed clock skew).
    #[error("token expired")]
    Expired,
    /// `nbf` is still in the future (beyond the allowed clock skew).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// The token is valid for longer than service-auth tokens may be.
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    /// The token has no `jti`, and this verifier needs one to refuse replays.
    #[error("token has no jti")]
    MissingJti,
    /// The issuer's DID document has no usable `#atproto` key.
    #[error("issuer {0} has no usable #atproto signing key")]
    NoSigningKey(String),
    /// The token's `alg` does not match the type of the issuer's key.
    #[error("token alg {alg} does not match the issuer's {key_alg} key")]
    KeyTypeMismatch {
        /// The header's `alg`.
        alg: String,
        /// The algorithm of the issuer's current key.
        key_alg: &'static str,
    },
    /// The signature does not verify with the issuer's current key.
    #[error("token signature does not verify with the issuer's key")]
    BadSignature,
    /// The issuer's identity could not be resolved.
    #[error("resolving the token issuer: {0}")]
    Identity(#[from] IdentityError),
}

impl AuthError {
    /// The XRPC error name to answer with (HTTP 401), as `@atproto/xrpc-server` names them.
    pub fn error_name(&self) -> &'static str {
        match self {
            AuthError::Malformed(_) | AuthError::UnsupportedAlg(_) => "BadJwt",
            AuthError::WrongTokenType(_) => "BadJwtType",
            AuthError::WrongAudience { .. } => "BadJwtAudience",
            AuthError::WrongMethod { .. } => "BadJwtLexiconMethod",
            AuthError::InvalidIssuer(_) => "BadJwtIss",
            AuthError::Expired => "JwtExpired",
            AuthError::NotYetValid
            | AuthError::IssuedInFuture
            | AuthError::LifetimeTooLong
            | AuthError::MissingJti => "BadJwt",
            AuthError::NoSigningKey(_)
            | AuthError::KeyTypeMismatch { .. }
            | AuthError::BadSignature
            | AuthError::Identity(_) => "BadJwtSignature",
        }
    }

    /// A fixed description of the refusal for the caller.
    ///
    /// Unlike `Display`, it never carries what the resolver met on the way (a refused
    /// connection, a TLS failure, an HTTP status, a host name): a caller who can choose the
    /// issuer DID, and so the host a did:web is fetched from, must not learn what is behind
    /// our network. For the same reason an issuer that cannot be resolved reads exactly like a
    /// bad signature. The detail belongs in our logs, from `Display`.
    pub fn public_message(&self) -> &'static str {
        match self {
            AuthError::Malformed(_) | AuthError::UnsupportedAlg(_) => {
                "the token is not a well-formed service-auth JWT"
            }
            AuthError::WrongTokenType(_) => "the token is not a service-auth token",
            AuthError::WrongAudience { .. } => "the token is addressed to another service",
            AuthError::WrongMethod { .. } => "the token is bound to another method",
            AuthError::InvalidIssuer(_) => "the token's issuer is not a DID",
            AuthError::Expired => "the token has expired",
            AuthError::NotYetValid | AuthError::IssuedInFuture | AuthError::LifetimeTooLong => {
                "the token's validity period is not acceptable"
            }
            AuthError::MissingJti => "the token has no jti (unique token id)",
            AuthError::NoSigningKey(_)
            | AuthError::KeyTypeMismatch { .. }
            | AuthError::BadSignature
            | AuthError::Identity(_) => {
                "the token's signature could not be verified with its issuer's key"
            }
        }
    }
}
