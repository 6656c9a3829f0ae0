//! Donations end to end, on a real local atproto network with the indexer, the AppView and
//! escrow running as separate processes, driven through the client library the CLI uses: a
//! person donates to a proposal in development, escrow receives it and pays the maintainer
//! the donation minus the fee of the proposal's terms, the public ledger and the AppView's
//! totals say so, and donations outside development are refused without a trace.

use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::{LedgerEntry, ProposalTerms};
use greenlight_lexicon::fund::greenlight::escrow::list_proposal_states;
use greenlight_tests::services::{service_binaries, ServicesConfig};
use greenlight_tests::steps::{
    development, donate, ledger_entries, new_project, post, preview, propose, refused_donation,
};
use greenlight_tests::world::{int, World};
use serde_json::Value;

const DONATED: i64 = 20_00;
const GOAL: i64 = 50_000;

/// A maintainer with a proven project, and a donor who proposed a feature for it.
async fn maintainer_donor_and_proposal(world: &World) -> (Session, Session, StrongRef) {
    let maintainer = world.person("maintainer").await;
    let donor = world.person("donor").await;
    let project = world
        .proven_project(&maintainer, "widget", new_project("Widget", "USD", vec![]))
        .await;
    let proposal = propose(&donor, &project, "Dark mode").await;
    (maintainer, donor, proposal)
}

/// A person using the `greenlight` binary, logged in with a session file of their own.
struct CliUser {
    did: String,
    home: tempfile::TempDir,
}

impl CliUser {
    /// Creates an account and logs in to it with `greenlight login`.
    async fn log_in(world: &World, name: &str) -> CliUser {
        let account = world.network.create_account(name).await.expect("account");
        let user = CliUser {
            did: account.did,
            home: tempfile::tempdir().expect("session directory"),
        };
        let pds = ["--pds", world.network.pds_url()];
        let login = [&["login", &account.handle, &account.password][..], &pds].concat();
        user.run(world, &login).await.expect("greenlight login");
        user
    }

    /// Runs `greenlight --json ARGS` against the world's services: its JSON answer, or the
    /// JSON error it printed when it failed.
    async fn run(&self, world: &World, args: &[&str]) -> Result<Value, Value> {
        let binary = service_binaries().expect("binaries").join("greenlight");
        let output = tokio::process::Command::new(&binary)
            .arg("--json")
            .arg("--session")
            .arg(self.home.path().join("session.json"))
            .args(["--appview", &world.services.appview_url])
            .args(["--escrow", &world.services.escrow_url])
            .args(args)
            .output()
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "{}: {error} (run `cargo build -p greenlight-cli`)",
                    binary.display()
                )
            });
        let json = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes).unwrap_or_else(|error| {
                panic!("greenlight {args:?}: not JSON ({error}): {bytes:?}")
            })
        };
        if output.status.success() {
            Ok(json(&output.stdout))
        } else {
            Err(json(&output.stderr))
        }
    }
}

/// The terms escrow fixed for `proposal` when its first money arrived, once its public feed
/// publishes them.
async fn terms(world: &World, proposal: &str) -> ProposalTerms {
    let url = format!(
        "{}/xrpc/{}?limit=1000",
        world.services.escrow_url,
        list_proposal_states::NSID
    );
    world
        .until("escrow's terms of the proposal", async || {
            let feed: list_proposal_states::Output = reqwest::get(&url)
                .await
                .expect("listProposalStates")
                .json()
                .await
                .expect("a page of terms");
            feed.states
                .into_iter()
                .rev()
                .find(|terms| terms.proposal == proposal)
        })
        .await
}

/// The ledger entry of `kind` belonging to `donation`.
fn entry<'a>(entries: &'a [LedgerEntry], donation: &str, kind: &str) -> &'a LedgerEntry {
    entries
        .iter()
        .find(|e| e.donation.as_deref() == Some(donation) && e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} entry for donation {donation}: {entries:?}"))
}

/// How much escrow's posted entries leave payable to `maintainer` out of `proposal`'s
/// money: credits to their payable account less what was taken from it (fees, payouts).
fn net_payable_before_payout(entries: &[LedgerEntry], proposal: &str, maintainer: &str) -> i64 {
    let payable = format!("payable:{maintainer}");
    entries
        .iter()
        .filter(|e| e.proposal.as_deref() == Some(proposal) && e.state == "posted")
        .filter(|e| e.kind != "payout")
        .map(|e| {
            if e.credit_account == payable {
                e.amount
            } else if e.debit_account == payable {
                -e.amount
            } else {
                0
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donation_during_development_pays_the_maintainer_less_the_fee() {
    let world = World::start(ServicesConfig::default()).await;
    let (maintainer, donor, proposal) = maintainer_donor_and_proposal(&world).await;
    world
        .escrow
        .connect_payout_account(&maintainer)
        .await
        .expect("payout account");
    post(&maintainer, &proposal, development(GOAL, "USD")).await;
    world.stage_until(&proposal.uri, "development").await;

    let donation = donate(&world, &donor, &proposal, DONATED, "USD").await;
    assert_eq!(donation.donor, donor.did());
    assert_eq!(donation.proposal, proposal);
    assert_eq!(
        (donation.amount, donation.currency.as_str()),
        (DONATED, "USD")
    );

    // Escrow received it, took the fee of the proposal's terms and paid the rest out.
    let terms = terms(&world, &proposal.uri).await;
    assert_eq!(terms.payee, maintainer.did());
    let fee = DONATED * terms.fee_basis_points / 10_000;
    assert!(fee > 0, "the test services publish a fee");
    let entries = world
        .until("the donation paid out", async || {
            let entries = ledger_entries(&world).await;
            entries
                .iter()
                .any(|e| {
                    e.donation.as_deref() == Some(donation.id.as_str())
                        && e.kind == "payout"
                        && e.state == "posted"
                })
                .then_some(entries)
        })
        .await;
    let received = entry(&entries, &donation.id, "donation");
    assert_eq!(
        (received.amount, received.state.as_str()),
        (DONATED, "posted")
    );
    assert_eq!(received.backer.as_deref(), Some(donor.did()));
    assert_eq!(entry(&entries, &donation.id, "fee").amount, fee);
    assert_eq!(
        entry(&entries, &donation.id, "payout").amount,
        DONATED - fee
    );
    assert_eq!(
        net_payable_before_payout(&entries, &proposal.uri, maintainer.did()),
        DONATED - fee,
        "the maintainer is credited the donation less the fee"
    );

    let state = world
        .escrow
        .get_proposal_state(&proposal.uri)
        .await
        .expect("escrow's state of the proposal");
    assert_eq!(state["donations"], DONATED);
    assert_eq!(state["fees"], fee);
    assert_eq!(state["held"], 0);

    // Someone else donates with the command line.
    let cli_donor = CliUser::log_in(&world, "clidonor").await;
    let by_cli = cli_donor
        .run(&world, &["donate", &proposal.uri, "5"])
        .await
        .expect("greenlight donate");
    assert_eq!(by_cli["donor"], cli_donor.did.as_str());
    assert_eq!(
        (&by_cli["amount"], &by_cli["currency"]),
        (&5_00.into(), &"USD".into())
    );

    // The AppView follows the ledger: the donations count, nothing is held.
    let totals = world
        .totals_until(&proposal.uri, "both donations", |t| {
            int(t, "donations") == DONATED + 5_00
        })
        .await;
    assert_eq!(int(&totals, "pledgedHeld"), 0);
    assert_eq!(int(&totals, "pledgeCount"), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donation_outside_development_is_refused_and_leaves_no_trace() {
    let world = World::start(ServicesConfig::default()).await;
    let (maintainer, donor, proposal) = maintainer_donor_and_proposal(&world).await;

    // Proposed: not in development yet.
    world.stage_until(&proposal.uri, "proposed").await;
    assert_eq!(
        refused_donation(&world, &donor, &proposal, DONATED, "USD").await,
        "ProposalNotInDevelopment"
    );

    // In preview: pledges, not donations.
    post(&maintainer, &proposal, development(GOAL, "USD")).await;
    world.stage_until(&proposal.uri, "development").await;
    post(&maintainer, &proposal, preview()).await;
    world.stage_until(&proposal.uri, "preview").await;
    assert_eq!(
        refused_donation(&world, &donor, &proposal, DONATED, "USD").await,
        "ProposalNotInDevelopment"
    );
    let cli_donor = CliUser::log_in(&world, "clidonor").await;
    let refusal = cli_donor
        .run(&world, &["donate", &proposal.uri, "20"])
        .await
        .expect_err("greenlight donate in preview");
    assert_eq!(refusal["error"], "ProposalNotInDevelopment");

    // Nothing was booked: no ledger entry, no terms, no totals.
    let entries = ledger_entries(&world).await;
    assert!(
        entries
            .iter()
            .all(|e| e.proposal.as_deref() != Some(proposal.uri.as_str())),
        "a refused donation left ledger entries: {entries:?}"
    );
    assert!(
        world
            .escrow
            .get_proposal_state(&proposal.uri)
            .await
            .is_err(),
        "escrow tracks a proposal that took no money"
    );
    let totals = world
        .totals_until(&proposal.uri, "the proposal's totals", |_| true)
        .await;
    assert_eq!(int(&totals, "donations"), 0);
    world.stop().await;
}
