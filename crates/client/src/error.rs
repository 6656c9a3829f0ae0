//! What can go wrong acting for a person, in words they can act on.

/// An error of the Greenlight client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The agent has no session, so there is no person (and no repo) to act for.
    #[error("the agent has no session: log in first")]
    NoSession,
    /// The PDS refused or failed a call.
    #[error("the PDS refused {method}: {reason}")]
    Pds {
        /// The XRPC method.
        method: &'static str,
        /// The PDS's answer.
        reason: String,
    },
    /// A service (escrow, AppView) answered with an XRPC error.
    #[error("{service} refused {method}: {error}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Service {
        /// Which service.
        service: &'static str,
        /// The XRPC method.
        method: String,
        /// The XRPC error name (or the HTTP status).
        error: String,
        /// The human message, when given.
        message: Option<String>,
    },
    /// A service could not be reached or answered nonsense.
    #[error("{service} at {url}: {reason}")]
    Unreachable {
        /// Which service.
        service: &'static str,
        /// Where.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The record built does not satisfy its lexicon (bad input).
    #[error("invalid {nsid} record: {reason}")]
    InvalidRecord {
        /// The record's NSID.
        nsid: &'static str,
        /// Why.
        reason: String,
    },
    /// An argument given is not usable.
    #[error("{0}")]
    InvalidArgument(String),
    /// The sandbox checkout did not complete.
    #[error("checkout {url} did not complete: {reason}")]
    Checkout {
        /// The checkout page.
        url: String,
        /// Why.
        reason: String,
    },
    /// Waiting for something (a pledge being held) took too long.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

impl ClientError {
    /// The XRPC error name, when a service refused a call.
    pub fn xrpc_error(&self) -> Option<&str> {
        match self {
            ClientError::Service { error, .. } => Some(error),
            _ => None,
        }
    }
}
