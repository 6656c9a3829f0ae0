//! Why resolving a DID or a handle failed.

/// A DID or handle could not be resolved to a trustworthy answer.
///
/// Every variant carries plain strings so the error is cheap to clone and compare; the
/// underlying transport error is kept as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The string is not a syntactically valid DID.
    #[error("invalid DID {did:?}: {reason}")]
    InvalidDid {
        /// The offending input.
        did: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A valid DID whose method atproto (and this resolver) does not support.
    #[error("unsupported DID method in {0:?} (only did:plc and did:web)")]
    UnsupportedDidMethod(String),
    /// The string is not a valid handle, or uses a reserved top-level domain.
    #[error("invalid handle {handle:?}: {reason}")]
    InvalidHandle {
        /// The offending input.
        handle: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Resolution would need plain HTTP or a loopback host, which only tests may allow.
    #[error("refusing to resolve {0:?}: insecure (http or loopback) resolution is disabled")]
    InsecureResolution(String),
    /// The DID's directory or host says it does not exist.
    #[error("DID not found: {0}")]
    DidNotFound(String),
    /// The PLC directory reports the DID as tombstoned (deactivated for good).
    #[error("DID is tombstoned: {0}")]
    DidTombstoned(String),
    /// A server answered with an unexpected HTTP status.
    #[error("GET {url} answered HTTP {status}")]
    HttpStatus {
        /// The requested URL.
        url: String,
        /// The status code received.
        status: u16,
    },
    /// The request could not be completed (connection refused, TLS, redirect refused…).
    #[error("GET {url} failed: {message}")]
    Network {
        /// The requested URL.
        url: String,
        /// The transport's description of the failure.
        message: String,
    },
    /// The fetch was refused by the outbound rules: the host is or resolves to a private,
    /// loopback or reserved address, or a redirect left the host. Not transient.
    #[error("GET {url} refused: {reason}")]
    Refused {
        /// The requested URL.
        url: String,
        /// Which rule refused it.
        reason: String,
    },
    /// The server did not answer completely within the configured request timeout.
    #[error("GET {url} timed out")]
    Timeout {
        /// The requested URL.
        url: String,
    },
    /// The response body was larger than the resolver accepts.
    #[error("GET {url}: response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The requested URL.
        url: String,
        /// The size limit in bytes.
        limit: usize,
    },
    /// The document is not a usable DID document (not JSON, missing `id`, wrong shapes).
    #[error("invalid DID document for {did}: {reason}")]
    InvalidDocument {
        /// The DID being resolved.
        did: String,
        /// What is wrong with the document.
        reason: String,
    },
    /// The document's `id` is not the DID that was asked for.
    #[error("DID document id {found:?} does not match the requested DID {expected:?}")]
    DocumentIdMismatch {
        /// The DID being resolved.
        expected: String,
        /// The `id` the document declares.
        found: String,
    },
    /// No resolution method produced a DID for the handle.
    #[error("handle {handle} did not resolve: {detail}")]
    HandleNotFound {
        /// The (normalised) handle.
        handle: String,
        /// What each method answered.
        detail: String,
    },
    /// The handle points at a DID whose document does not claim the handle back.
    #[error("handle {handle} points at {did}, whose document claims {claimed:?}")]
    HandleMismatch {
        /// The (normalised) handle.
        handle: String,
        /// The DID the handle resolved to.
        did: String,
        /// The handle the DID document claims, if any.
        claimed: Option<String>,
    },
    /// The HTTP client could not be constructed (TLS backend initialisation failed).
    #[error("HTTP client unavailable: {0}")]
    HttpClient(String),
}

impl IdentityError {
    /// Whether the failure may go away by itself (network trouble, a timeout, a server
    /// error or rate limit), as opposed to an answer (not found, bad document, refused).
    pub fn is_transient(&self) -> bool {
        match self {
            IdentityError::Network { .. }
            | IdentityError::Timeout { .. }
            | IdentityError::HttpClient(_) => true,
            IdentityError::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Whether the failure is the host's rather than the DID's: it did not answer at all, so
    /// other DIDs on the same host would fare no better.
    pub fn is_host_failure(&self) -> bool {
        matches!(
            self,
            IdentityError::Network { .. } | IdentityError::Timeout { .. }
        )
    }
}
