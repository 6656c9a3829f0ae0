//! What can go wrong in the client, in words a user can act on.

use greenlight_client::ClientError;

/// An error of the Greenlight command-line client.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No stored session: the user must log in first.
    #[error("not logged in: run `greenlight login <handle-or-did> <app-password>` first")]
    NotLoggedIn,
    /// The session file could not be read or written.
    #[error("session file {path}: {reason}")]
    SessionFile {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// An argument the user gave is not usable.
    #[error("{0}")]
    InvalidArgument(String),
    /// Acting for the user failed (the PDS, escrow, a record, a checkout); see
    /// [`ClientError`].
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl CliError {
    /// The XRPC error name, when a service refused a call.
    pub fn xrpc_error(&self) -> Option<&str> {
        match self {
            CliError::Client(error) => error.xrpc_error(),
            _ => None,
        }
    }
}
