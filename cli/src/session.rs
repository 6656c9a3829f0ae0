//! Logging in to a PDS (`com.atproto.server.createSession`, with a handle or DID and an app
//! password) and keeping the session in a file between commands.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use atrium_api::agent::atp_agent::store::MemorySessionStore;
use atrium_api::agent::atp_agent::{AtpAgent, AtpSession};
use atrium_xrpc_client::reqwest::{ReqwestClient, ReqwestClientBuilder};
use greenlight_client::{AtUri, ClientError};
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The atrium agent type the client talks to the PDS with.
pub type PdsAgent = AtpAgent<MemorySessionStore, ReqwestClient>;

/// What is kept on disk between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSession {
    /// The PDS the session belongs to.
    pub pds_url: String,
    /// The session as createSession returned it (tokens included).
    pub session: AtpSession,
}

/// A live, authenticated connection to the user's PDS.
pub struct Session {
    /// The atrium agent (refreshes the access token when it expires).
    pub agent: PdsAgent,
    pds_url: String,
    did: String,
    handle: String,
}

/// The default session file: `$XDG_CONFIG_HOME/greenlight/session.json` or
/// `~/.config/greenlight/session.json`.
pub fn default_session_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("greenlight").join("session.json")
}

/// An HTTP client for loopback and remote services alike (no proxy for local networks).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

fn agent_for(pds_url: &str) -> PdsAgent {
    let xrpc = ReqwestClientBuilder::new(pds_url.trim_end_matches('/'))
        .client(http_client())
        .build();
    AtpAgent::new(xrpc, MemorySessionStore::default())
}

impl Session {
    /// Creates a session on `pds_url` for `identifier` (a handle or a DID).
    pub async fn login(
        pds_url: &str,
        identifier: &str,
        password: &str,
    ) -> Result<Session, CliError> {
        let agent = agent_for(pds_url);
        let session =
            agent
                .login(identifier, password)
                .await
                .map_err(|error| ClientError::Pds {
                    method: "com.atproto.server.createSession",
                    reason: error.to_string(),
                })?;
        Ok(Session {
            agent,
            pds_url: pds_url.trim_end_matches('/').to_owned(),
            did: session.did.to_string(),
            handle: session.handle.to_string(),
        })
    }

    /// Resumes a stored session (checked with `getSession`, refreshed when expired).
    pub async fn resume(stored: StoredSession) -> Result<Session, CliError> {
        let agent = agent_for(&stored.pds_url);
        let did = stored.session.did.to_string();
        let handle = stored.session.handle.to_string();
        agent
            .resume_session(stored.session)
            .await
            .map_err(|error| ClientError::Pds {
                method: "com.atproto.server.getSession",
                reason: format!("{error} (log in again)"),
            })?;
        Ok(Session {
            agent,
            pds_url: stored.pds_url,
            did,
            handle,
        })
    }

    /// Reads the session file and resumes it.
    pub async fn load(path: &Path) -> Result<Session, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::NotLoggedIn)
            }
            Err(error) => return Err(session_file(path, error)),
        };
        let stored: StoredSession =
            serde_json::from_str(&text).map_err(|error| session_file(path, error))?;
        Session::resume(stored).await
    }

    /// Writes the current session (with any refreshed tokens) to `path`, readable only by
    /// the user because it holds credentials.
    pub async fn save(&self, path: &Path) -> Result<(), CliError> {
        let Some(session) = self.agent.get_session().await else {
            return Err(CliError::NotLoggedIn);
        };
        let stored = StoredSession {
            pds_url: self.pds_url.clone(),
            session,
        };
        let text =
            serde_json::to_string_pretty(&stored).map_err(|error| session_file(path, error))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| session_file(path, error))?;
        }
        write_private(path, text.as_bytes()).map_err(|error| session_file(path, error))
    }

    /// The account's DID.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The account's handle.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// The PDS base URL.
    pub fn pds_url(&self) -> &str {
        &self.pds_url
    }

    /// `uri` with the repo named by DID when it names the user's own repo by handle: users
    /// may write either, the client library names repos by DID.
    pub fn own_uri(&self, uri: &str) -> Result<String, CliError> {
        let at = AtUri::parse(uri)?;
        Ok(if at.repo == self.handle {
            format!("at://{}/{}/{}", self.did, at.collection, at.rkey)
        } else {
            uri.to_owned()
        })
    }
}

/// The session is the atrium agent it holds, so it is given wherever the client library
/// acts for a person.
impl Deref for Session {
    type Target = PdsAgent;

    fn deref(&self) -> &PdsAgent {
        &self.agent
    }
}

fn session_file(path: &Path, error: impl std::fmt::Display) -> CliError {
    CliError::SessionFile {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
