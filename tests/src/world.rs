//! A running Greenlight for end-to-end tests: the local atproto network, the indexer, the
//! AppView and escrow as separate processes, and the clients the CLI uses to talk to them.

use std::time::Duration;

use greenlight_cli::appview_client::AppViewClient;
use greenlight_cli::demo_forge::DemoForge;
use greenlight_cli::escrow_client::EscrowClient;
use greenlight_cli::records::{self, NewProject};
use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use serde_json::Value;

use crate::network::TestNetwork;
use crate::services::{Services, ServicesConfig};

/// How long the system may take to reflect a write (the freshness target is 1 s; a machine
/// busy compiling is slower).
pub const SETTLE: Duration = Duration::from_secs(30);

/// The network, the three services and clients for the AppView and escrow.
pub struct World {
    /// The local PDS and PLC directory.
    pub network: TestNetwork,
    /// The indexer, AppView and escrow processes.
    pub services: Services,
    /// A client of the AppView.
    pub appview: AppViewClient,
    /// A client of escrow.
    pub escrow: EscrowClient,
    /// The stand-in forge holding the projects' repositories (see [`DemoForge`]).
    pub forge: DemoForge,
    _forge_files: tempfile::TempDir,
}

impl World {
    /// Starts a fresh network and the services configured by `config`.
    pub async fn start(config: ServicesConfig) -> World {
        let network = TestNetwork::start().await.expect("network");
        let services = Services::start(&network, config).await.expect("services");
        let appview = AppViewClient::new(&services.appview_url);
        let escrow = EscrowClient::discover(&services.escrow_url)
            .await
            .expect("escrow DID");
        let forge_files = tempfile::tempdir().expect("forge directory");
        let forge = DemoForge::start_local(forge_files.path())
            .await
            .expect("forge");
        World {
            network,
            services,
            appview,
            escrow,
            forge,
            _forge_files: forge_files,
        }
    }

    /// `owner` creates a project at `rkey` whose repository is on the stand-in forge (not yet
    /// proven).
    pub async fn project(&self, owner: &Session, rkey: &str, project: NewProject) -> StrongRef {
        let repository = self.forge.repository_url(owner.handle(), rkey);
        records::create(
            owner,
            &records::project_record(&NewProject {
                repository,
                ..project
            }),
            Some(rkey),
        )
        .await
        .expect("project")
        .strong_ref()
    }

    /// Publishes the project's proof in its repository and waits until the AppView has
    /// verified it (asking it to check now, as the project page's button does).
    pub async fn prove(&self, owner: &Session, project: &StrongRef) {
        let rkey = project.uri.rsplit('/').next().expect("rkey");
        self.forge
            .prove(owner.handle(), rkey, &project.uri)
            .expect("publish the proof");
        self.proof_until(project, true).await;
    }

    /// Removes the project's proof from its repository and waits until the AppView sees it
    /// gone.
    pub async fn unprove(&self, owner: &Session, project: &StrongRef) {
        let rkey = project.uri.rsplit('/').next().expect("rkey");
        self.forge
            .remove(owner.handle(), rkey, ".greenlight")
            .expect("remove the proof");
        self.proof_until(project, false).await;
    }

    async fn proof_until(&self, project: &StrongRef, verified: bool) {
        let deadline = tokio::time::Instant::now() + SETTLE;
        let mut last = Value::Null;
        loop {
            // The project record may not be indexed yet (NotFound), and checks are rate
            // limited per project: both only mean "ask again".
            if let Ok(proof) = self.appview.check_project_proof(&project.uri).await {
                if proof.get("verified").and_then(Value::as_bool) == Some(verified) {
                    return;
                }
                last = proof;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the proof of {} never became verified={verified}; last: {last}\n{}",
                    project.uri,
                    self.services.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A project created on the forge and proven, ready to take money.
    pub async fn proven_project(
        &self,
        owner: &Session,
        rkey: &str,
        project: NewProject,
    ) -> StrongRef {
        let project = self.project(owner, rkey, project).await;
        self.prove(owner, &project).await;
        project
    }

    /// Creates an account on the PDS and logs in as it.
    pub async fn person(&self, name: &str) -> Session {
        let account = self.network.create_account(name).await.expect("account");
        Session::login(self.network.pds_url(), &account.handle, &account.password)
            .await
            .expect("login")
    }

    /// Polls `probe` until it answers `Some`, and returns that; fails the test with `what` and
    /// the services' logs after [`SETTLE`].
    pub async fn until<T>(&self, what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("never saw {what}\n{}", self.services.logs());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Polls the proposal's totals until `check` accepts them.
    pub async fn totals_until(
        &self,
        uri: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + SETTLE;
        let mut last = Value::Null;
        loop {
            if let Ok(Some(totals)) = self.appview.funding_totals(uri).await {
                if check(&totals) {
                    return totals;
                }
                last = totals;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "totals never showed {what}; last: {last}\n{}",
                    self.services.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the AppView shows the proposal in `stage`.
    pub async fn stage_until(&self, uri: &str, stage: &str) -> Value {
        match self.appview.wait_for_stage(uri, stage, SETTLE).await {
            Ok(view) => view,
            Err(error) => panic!("{error}\n{}", self.services.logs()),
        }
    }

    /// Waits until the AppView no longer shows the proposal.
    pub async fn gone_until(&self, uri: &str) {
        let deadline = tokio::time::Instant::now() + SETTLE;
        while self
            .appview
            .get_proposal(uri)
            .await
            .expect("getProposal")
            .is_some()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{uri} never disappeared\n{}",
                self.services.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the services, then the network.
    pub async fn stop(self) {
        self.services.stop().await.expect("stop services");
        self.network.stop().await.expect("stop network");
    }
}

/// A number from a totals object; a missing field fails the test rather than reading as 0.
pub fn int(totals: &Value, name: &str) -> i64 {
    totals
        .get(name)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{name} is missing from {totals}"))
}
