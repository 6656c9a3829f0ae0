//! How an AppView is configured: from the command line or the environment.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything an AppView instance needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public base URL clients and PDSes reach us at (`https://appview.example`); its host
    /// names our did:web.
    pub public_url: String,
    /// Fragment of our DID document's AppView service entry (without `#`).
    pub service_id: String,
    /// Base URL of the escrow service whose public ledger feed we follow; none means every
    /// money total is zero.
    pub escrow_url: Option<String>,
    /// How long the escrow follower waits after an empty page.
    pub escrow_poll: Duration,
    /// Length of the verification period after a release (for `verificationEndsAt`).
    pub verification_period: Duration,
    /// `Cache-Control: max-age` of funding totals, in seconds.
    pub totals_max_age: u32,
    /// The platform fee escrow publishes, in basis points (shown to backers on pages).
    pub platform_fee_basis_points: u32,
    /// How long after a preview ends escrow waits for a release before refunding (shown to
    /// backers on pages).
    pub release_grace: Duration,
    /// `Cache-Control: max-age` of badges, widgets and oEmbed answers, in seconds.
    pub embed_max_age: u32,
    /// Development only (`GREENLIGHT_ALLOW_INSECURE_HTTP`): project proofs may be fetched from
    /// loopback addresses, over plain http too. Never on in production.
    pub allow_insecure_http: bool,
    /// How often every project's proof of control is re-checked.
    pub proof_recheck: Duration,
    /// How often the proof worker looks for new, changed and due projects (so a new project
    /// is checked about this long after it is indexed).
    pub proof_poll: Duration,
    /// Least time between two `checkProjectProof` runs for one project.
    pub proof_min_interval: Duration,
    /// The did:plc directory people's DIDs are resolved at when they sign in.
    pub plc_url: String,
    /// Development: a PDS asked first for handles (how `.test` handles resolve).
    pub handle_resolver_pds: Option<String>,
    /// Seals OAuth tokens and DPoP keys at rest (`GREENLIGHT_SESSION_SECRET`, 64 hex
    /// characters). None: a random secret per start, so sessions end with the process
    /// (fine for the demo and tests, not for production).
    pub session_secret: Option<String>,
    /// The confidential OAuth client's ES256 private key as a JWK (JSON). None with a
    /// loopback public URL: a loopback client; otherwise signing in is off.
    pub oauth_private_key: Option<String>,
    /// Escrow's DID, the `aud` of the service-auth tokens pages get for people (default:
    /// escrow's `/.well-known/did.json`).
    pub escrow_did: Option<String>,
}

impl Config {
    /// A configuration for an AppView reachable at `public_url`, with the defaults otherwise.
    pub fn new(public_url: impl Into<String>) -> Config {
        Config {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            service_id: "greenlight_appview".to_owned(),
            escrow_url: None,
            escrow_poll: Duration::from_millis(250),
            verification_period: Duration::from_secs(14 * 24 * 3600),
            totals_max_age: 1,
            platform_fee_basis_points: 500,
            release_grace: Duration::from_secs(7 * 24 * 3600),
            embed_max_age: 300,
            allow_insecure_http: false,
            proof_recheck: Duration::from_secs(6 * 3600),
            proof_poll: Duration::from_secs(30),
            proof_min_interval: Duration::from_secs(5),
            plc_url: "https://plc.directory".to_owned(),
            handle_resolver_pds: None,
            session_secret: None,
            oauth_private_key: None,
            escrow_did: None,
        }
    }

    /// A configuration for a local AppView listening on `addr` over plain HTTP.
    pub fn local(addr: SocketAddr) -> Config {
        Config::new(format!("http://localhost:{}", addr.port()))
    }
}
