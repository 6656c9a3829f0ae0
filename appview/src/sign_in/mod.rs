//! Signing in with atproto OAuth: the AppView is the OAuth client of each person's PDS
//! (PAR, PKCE and DPoP through `atrium-oauth`), keeps their tokens server-side, sealed, and
//! writes to their repository on their behalf only what the scopes below allow.
//!
//! Two kinds of client: in production a confidential client (`private_key_jwt`) whose
//! metadata document the AppView serves at [`CLIENT_METADATA_PATH`]; on a local network a
//! loopback client (`http://localhost?...`), which needs no published metadata and is what
//! the demo and the tests use.

pub mod browser;
pub mod http;
pub mod identity;
pub mod seal;
pub mod store;

use std::sync::Arc;

use atrium_api::agent::Agent;
use atrium_api::types::string::Did;
use atrium_oauth::{
    AtprotoClientMetadata, AtprotoLocalhostClientMetadata, AuthMethod, AuthorizeOptions,
    CallbackParams, GrantType, KnownScope, OAuthClient, OAuthClientConfig, OAuthResolverConfig,
    OAuthSession, Scope,
};
use greenlight_lexicon::fund::greenlight::{
    dispute, estimate, maintainer, pledge, project, proposal, retainer, status,
};
use greenlight_safe_fetch::Fetcher;
use sqlx::PgPool;

use self::http::SafeHttp;
use self::identity::{DidResolver, HandleResolver};
use self::seal::Sealer;
use self::store::{PgSessionStore, PgStateStore};

/// Where the confidential client's metadata document is served.
pub const CLIENT_METADATA_PATH: &str = "/oauth/client-metadata.json";
/// Where the authorization server sends people back.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// The escrow procedures a signed-in person may ask their PDS to authorize us to call for
/// them (service-auth tokens with `lxm` = the method).
pub const ESCROW_METHODS: [&str; 13] = [
    "fund.greenlight.escrow.createPledge",
    "fund.greenlight.escrow.cancelPledge",
    "fund.greenlight.escrow.createDonation",
    "fund.greenlight.escrow.fileDispute",
    "fund.greenlight.escrow.connectPayoutAccount",
    "fund.greenlight.escrow.requestQuote",
    "fund.greenlight.escrow.startRetainer",
    "fund.greenlight.escrow.changeRetainerTier",
    "fund.greenlight.escrow.cancelRetainer",
    "fund.greenlight.escrow.getRetainerAgreement",
    "fund.greenlight.escrow.listRetainerAgreements",
    "fund.greenlight.escrow.getIncomeStatement",
    "fund.greenlight.escrow.setVendorDetails",
];

/// The collections Greenlight writes to a signed-in person's repository: nothing else.
pub const COLLECTIONS: [&str; 8] = [
    project::NSID,
    proposal::NSID,
    estimate::NSID,
    status::NSID,
    pledge::NSID,
    dispute::NSID,
    maintainer::NSID,
    retainer::NSID,
];

/// The OAuth scopes requested: `atproto`, create/update/delete in our collections only, and
/// service-auth tokens for escrow's procedures only (no other repository, no account or
/// identity changes, no blobs, no other service).
pub fn scopes() -> Vec<Scope> {
    let mut scopes = vec![Scope::Known(KnownScope::Atproto)];
    scopes.extend(
        COLLECTIONS
            .iter()
            .map(|nsid| Scope::Unknown(format!("repo:{nsid}"))),
    );
    // `aud=*`: escrow's DID has no `#service` fragment, which an `aud` in a scope needs.
    let methods: Vec<String> = ESCROW_METHODS.iter().map(|m| format!("lxm={m}")).collect();
    scopes.push(Scope::Unknown(format!("rpc?{}&aud=*", methods.join("&"))));
    scopes
}

/// How the AppView presents itself to authorization servers.
#[derive(Clone)]
pub enum ClientKind {
    /// A loopback client for a local network: redirect to `http://127.0.0.1:PORT`.
    Loopback {
        /// The port the AppView listens on.
        port: u16,
    },
    /// A confidential client with its metadata at `public_url` + [`CLIENT_METADATA_PATH`],
    /// authenticating with `private_key_jwt` under `key` (an ES256 private JWK).
    Confidential {
        /// The signing key (its public half is published in the metadata document).
        key: Box<jose_jwk::Jwk>,
    },
}

impl std::fmt::Debug for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKind::Loopback { port } => write!(f, "Loopback {{ port: {port} }}"),
            ClientKind::Confidential { .. } => f.write_str("Confidential { .. }"),
        }
    }
}

/// Why signing in, or acting for a signed-in person, failed. Each is shown as a page that
/// says what happened; details of transport failures stay in the logs.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The handle or DID did not resolve to an account with a reachable PDS.
    #[error("no account was found for that handle or DID")]
    UnknownAccount,
    /// The callback names no sign-in this browser started (forged, replayed or expired).
    #[error("this sign-in link is not valid: it was already used, has expired, or was started in another browser")]
    UnknownState,
    /// The callback has no `iss` (RFC 9207): refused whatever the server advertises.
    #[error("the authorization server's answer does not say who issued it")]
    MissingIssuer,
    /// The callback's `iss` is not the server the sign-in was sent to.
    #[error("the answer came from another authorization server than the one asked")]
    IssuerMismatch,
    /// The person (or their server) declined.
    #[error("the sign-in was not approved: {0}")]
    Denied(String),
    /// The authorization server refused our request or the code exchange.
    #[error("your server refused the sign-in")]
    Refused,
    /// The session ended (signed out, revoked, or its tokens expired).
    #[error("your sign-in has expired; please sign in again")]
    Expired,
    /// The person's server did not answer; their sign-in stays.
    #[error("your server could not be reached; nothing was written, please try again")]
    Unreachable,
    /// Our side failed (database, configuration).
    #[error("sign-in is not available right now")]
    Internal,
}

type Client = OAuthClient<PgStateStore, PgSessionStore, DidResolver, HandleResolver, SafeHttp>;
/// An OAuth session with a person's PDS (DPoP-bound, refreshed as needed).
pub type PdsSession = OAuthSession<SafeHttp, DidResolver, HandleResolver, PgSessionStore>;
/// An atrium agent acting for a signed-in person.
pub type PdsAgent = Agent<PdsSession>;

/// The OAuth client and its stores.
pub struct SignIn {
    client: Arc<Client>,
    states: PgStateStore,
    sessions: PgSessionStore,
    kind: ClientKind,
    redirect_uri: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("kind", &self.kind)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// What the AppView needs to sign people in.
pub struct SignInSetup {
    /// The AppView's public URL (the confidential client's id and redirect live there).
    pub public_url: String,
    /// Loopback or confidential.
    pub kind: ClientKind,
    /// Seals tokens at rest.
    pub sealer: Sealer,
    /// Resolves DIDs and handles.
    pub identities: greenlight_identity::Resolver,
    /// The safe fetcher for PDSes and authorization servers.
    pub fetcher: Arc<Fetcher>,
}

impl SignIn {
    /// The OAuth client for `setup` over `pool`.
    pub fn new(pool: PgPool, setup: SignInSetup) -> Result<SignIn, atrium_oauth::Error> {
        let states = PgStateStore {
            pool: pool.clone(),
            sealer: setup.sealer.clone(),
        };
        let sessions = PgSessionStore {
            pool,
            sealer: setup.sealer,
        };
        let session_store = sessions.clone();
        let resolver = OAuthResolverConfig {
            did_resolver: DidResolver(setup.identities.clone()),
            handle_resolver: HandleResolver(setup.identities),
            authorization_server_metadata: Default::default(),
            protected_resource_metadata: Default::default(),
        };
        let http_client = SafeHttp::new(setup.fetcher);
        let public_url = setup.public_url.trim_end_matches('/').to_owned();
        let (client, redirect_uri) = match &setup.kind {
            ClientKind::Loopback { port } => {
                let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
                let metadata = AtprotoLocalhostClientMetadata {
                    redirect_uris: Some(vec![redirect_uri.clone()]),
                    scopes: Some(scopes()),
                };
                let client = OAuthClient::new(OAuthClientConfig {
                    client_metadata: metadata,
                    keys: None,
                    state_store: states.clone(),
                    session_store: session_store.clone(),
                    resolver,
                    http_client,
                })?;
                (client, redirect_uri)
            }
            ClientKind::Confidential { key } => {
                let redirect_uri = format!("{public_url}{CALLBACK_PATH}");
                let metadata = AtprotoClientMetadata {
                    client_id: format!("{public_url}{CLIENT_METADATA_PATH}"),
                    client_uri: Some(public_url.clone()),
                    redirect_uris: vec![redirect_uri.clone()],
                    token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
                    grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                    scopes: scopes(),
                    jwks_uri: None,
                    token_endpoint_auth_signing_alg: Some("ES256".to_owned()),
                };
                let client = OAuthClient::new(OAuthClientConfig {
                    client_metadata: metadata,
                    keys: Some(vec![(**key).clone()]),
                    state_store: states.clone(),
                    session_store: session_store.clone(),
                    resolver,
                    http_client,
                })?;
                (client, redirect_uri)
            }
        };
        Ok(SignIn {
            client: Arc::new(client),
            states,
            sessions,
            kind: setup.kind,
            redirect_uri,
        })
    }

    /// Loopback or confidential.
    pub fn kind(&self) -> &ClientKind {
        &self.kind
    }

    /// The redirect URI; for a loopback client its origin is where the browser must be for
    /// the session cookie to come back with the callback.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The client metadata document (for the confidential client; a loopback client's
    /// metadata is its `client_id`).
    pub fn client_metadata(&self) -> serde_json::Value {
        let mut document = serde_json::to_value(&self.client.client_metadata).unwrap_or_default();
        if let Some(map) = document.as_object_mut() {
            map.insert("client_name".into(), "Greenlight".into());
            map.insert("application_type".into(), "web".into());
        }
        document
    }

    /// Starts signing in `identifier` (handle or DID): the authorization server's URL to
    /// send the browser to. `app_state` is `BINDING\nRETURN-PATH`: the binding ties the
    /// sign-in to the browser that starts it, the path is where it ends.
    pub async fn authorize(
        &self,
        identifier: &str,
        app_state: &str,
    ) -> Result<String, SignInError> {
        let identifier = identifier.trim().trim_start_matches('@');
        let options = AuthorizeOptions {
            redirect_uri: Some(self.redirect_uri.clone()),
            scopes: scopes(),
            prompt: None,
            state: Some(app_state.to_owned()),
        };
        self.client
            .authorize(identifier, options)
            .await
            .map_err(|error| {
                tracing::info!(%error, "cannot start signing in");
                match error {
                    atrium_oauth::Error::Identity(_) => SignInError::UnknownAccount,
                    atrium_oauth::Error::StateStore(_) => SignInError::Internal,
                    _ => SignInError::Refused,
                }
            })
    }

    /// Finishes a sign-in from the callback's parameters, for the browser whose binding is
    /// `binding`: the account signed in.
    ///
    /// Checked here before atrium sees it: the state exists, was started by this browser,
    /// and `iss` is present and names the server the sign-in went to. A callback that
    /// fails a check consumes nothing, so a forged one cannot spoil a real sign-in.
    pub async fn callback(
        &self,
        params: CallbackParams,
        binding: Option<&str>,
    ) -> Result<(Did, String), SignInError> {
        let Some(state_key) = params.state.as_deref() else {
            return Err(SignInError::UnknownState);
        };
        let state = self.states.peek(state_key).await.map_err(|error| {
            tracing::error!(%error, "cannot read a sign-in state");
            SignInError::Internal
        })?;
        let Some(state) = state else {
            return Err(SignInError::UnknownState);
        };
        // The app state is "BINDING\nRETURN-PATH" (see `authorize`).
        let (expected, return_to) = state
            .app_state
            .as_deref()
            .and_then(|app_state| app_state.split_once('\n'))
            .ok_or(SignInError::UnknownState)?;
        let ours = binding.is_some_and(|given| {
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into()
        });
        if !ours {
            return Err(SignInError::UnknownState);
        }
        let return_to = return_to.to_owned();
        match params.iss.as_deref() {
            None => return Err(SignInError::MissingIssuer),
            Some(iss) if iss != state.iss => return Err(SignInError::IssuerMismatch),
            Some(_) => {}
        }
        // atrium-oauth 0.2 panics (`todo!`) when the code exchange fails; a task turns
        // that into an error for this one request.
        let client = self.client.clone();
        let outcome = tokio::spawn(async move {
            client
                .callback(params)
                .await
                .map(|(session, _)| session)
                .map_err(|error| error.to_string())
        })
        .await;
        let session = match outcome {
            Ok(Ok(session)) => session,
            Ok(Err(error)) => {
                tracing::info!(%error, "sign-in callback refused");
                return Err(SignInError::Refused);
            }
            Err(_) => {
                tracing::info!("the code exchange failed");
                return Err(SignInError::Refused);
            }
        };
        let did = atrium_api::agent::SessionManager::did(&session)
            .await
            .ok_or(SignInError::Refused)?;
        Ok((did, return_to))
    }

    /// An agent acting for `did`, whose session is stored.
    pub async fn agent(&self, did: &str) -> Result<PdsAgent, SignInError> {
        let did = Did::new(did.to_owned()).map_err(|_| SignInError::Expired)?;
        // Only a session that is gone ends the sign-in; a server that does not answer now
        // (restoring fetches its metadata) leaves it for the next try.
        match atrium_common::store::Store::get(&self.sessions, &did).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(SignInError::Expired),
            Err(error) => {
                tracing::error!(%error, "cannot read an OAuth session");
                return Err(SignInError::Internal);
            }
        }
        let session = self.client.restore(&did).await.map_err(|error| {
            tracing::info!(%error, did = did.as_str(), "cannot restore an OAuth session");
            SignInError::Unreachable
        })?;
        Ok(Agent::new(session))
    }

    /// Revokes `did`'s tokens at their server and forgets them.
    pub async fn revoke(&self, did: &str) {
        let Ok(did) = Did::new(did.to_owned()) else {
            return;
        };
        if let Err(error) = self.client.revoke(&did).await {
            tracing::info!(%error, did = did.as_str(), "revoking an OAuth session failed");
        }
        // Forgotten here even if the server did not answer: we never use it again.
        let _ = atrium_common::store::Store::del(&self.sessions, &did).await;
    }
}
