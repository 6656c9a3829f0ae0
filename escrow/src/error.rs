//! Escrow's errors and how they reach a client.

use greenlight_xrpc::XrpcError;

use crate::failpoint::InjectedFailure;
use crate::ledger::LedgerError;
use crate::proposal_source::SourceError;
use crate::provider::ProviderError;

/// Anything an escrow operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    /// An error named by the method's lexicon.
    #[error("{name}: {message}")]
    Method {
        /// The lexicon's error name.
        name: &'static str,
        /// For a person.
        message: String,
    },
    /// The request does not match the lexicon.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No or bad credentials.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The ledger refused a movement: a bug or an attack, never a normal outcome.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The payment provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The AppView could not be asked about a proposal.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A crash test's injected failure.
    #[error(transparent)]
    Injected(#[from] InjectedFailure),
    /// Something else went wrong on our side.
    #[error("internal: {0}")]
    Internal(String),
}

impl EscrowError {
    /// A lexicon-named error.
    pub fn method(name: &'static str, message: impl Into<String>) -> EscrowError {
        EscrowError::Method {
            name,
            message: message.into(),
        }
    }

    /// The lexicon error name, when it is one.
    pub fn method_name(&self) -> Option<&'static str> {
        match self {
            EscrowError::Method { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl From<EscrowError> for XrpcError {
    fn from(error: EscrowError) -> XrpcError {
        match error {
            EscrowError::Method { name, message } => XrpcError::Method { name, message },
            EscrowError::InvalidRequest(message) => XrpcError::InvalidRequest(message),
            EscrowError::Unauthenticated(message) => XrpcError::AuthenticationRequired(message),
            EscrowError::Forbidden(message) => XrpcError::Forbidden(message),
            EscrowError::Provider(ProviderError::Rejected(message)) => XrpcError::Method {
                name: "PaymentProviderRefused",
                message,
            },
            other => {
                tracing::error!(error = %other, "request failed");
                XrpcError::Internal
            }
        }
    }
}
