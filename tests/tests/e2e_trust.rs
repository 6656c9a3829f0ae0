//! The attacks on who gets paid, each run end to end against the real PDS with the indexer,
//! the AppView and escrow as separate processes, and each shown failing:
//! - a proposer re-points or deletes a proposal after pledges are held;
//! - a project that never proved its repository takes money;
//! - an invited maintainer posts status without having accepted;
//! - a maintainer deletes or backdates the release to hide the dispute window;
//! - currencies without two decimals are sent off by a factor of 100.
//!
//! Repositories live on the stand-in forge of `greenlight_cli::demo_forge` (nothing here can
//! reach GitHub or Codeberg); it serves raw files in Forgejo's layout, as a real forge would.

use std::time::Duration;

use greenlight_cli::money::minor_units;
use greenlight_cli::pledging;
use greenlight_cli::records::{self, ProposalTarget};
use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::status::{Status, StatusStage};
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::steps::{
    development, in_days, into_preview, new_project, pledge, post, preview, propose, release,
};
use greenlight_tests::world::{int, World};
use serde_json::Value;

/// A status whose author-declared `createdAt` is `created_at`.
async fn post_at(who: &Session, proposal: &StrongRef, stage: StatusStage, created_at: String) {
    let status = Status {
        subject: proposal.clone(),
        stage,
        created_at,
    };
    records::create(who, &status, None).await.expect("status");
}

fn days_ago(days: i64) -> String {
    in_days(-days)
}

/// The XRPC error name escrow answers a pledge with.
async fn refused_pledge(world: &World, backer: &Session, proposal: &StrongRef) -> String {
    match pledging::pledge(
        backer,
        &world.escrow,
        proposal,
        1_000,
        "USD",
        &pledging::new_idempotency_key(),
    )
    .await
    {
        Ok(pledged) => panic!("the pledge was taken: {:?}", pledged.pledge),
        Err(error) => error
            .xrpc_error()
            .unwrap_or_else(|| panic!("not an XRPC refusal: {error}"))
            .to_owned(),
    }
}

async fn connect_payout(world: &World, maintainer: &Session) {
    world
        .escrow
        .connect_payout_account(maintainer)
        .await
        .expect("payout account");
}

/// Every entry of escrow's public ledger feed.
async fn ledger(world: &World) -> Vec<Value> {
    let url = format!(
        "{}/xrpc/fund.greenlight.escrow.listLedgerEntries?limit=1000",
        world.services.escrow_url
    );
    let page: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    page["entries"].as_array().cloned().unwrap_or_default()
}

/// The maintainer's share of `proposal`'s payout as the ledger credits it to `payee`.
async fn credited_to(world: &World, proposal: &str, payee: &str) -> i64 {
    ledger(world)
        .await
        .iter()
        .filter(|e| e["proposal"] == proposal && e["kind"] == "pledge_capture")
        .filter(|e| e["state"] == "posted")
        .filter(|e| e["creditAccount"] == format!("payable:{payee}").as_str())
        .map(|e| e["amount"].as_i64().unwrap())
        .sum()
}

async fn escrow_state(world: &World, proposal: &str) -> Value {
    world
        .escrow
        .get_proposal_state(proposal)
        .await
        .expect("escrow knows the proposal")
}

/// Waits until escrow says the held money of `proposal` was paid out.
async fn paid_until(world: &World, proposal: &str) -> Value {
    world
        .until("the payout", async || {
            Some(escrow_state(world, proposal).await).filter(|s| s["payoutState"] == "paid")
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposer_cannot_redirect_a_pledged_proposal_by_re_pointing_or_deleting_it() {
    let world = World::start(ServicesConfig {
        verification_seconds: 6,
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("maint").await;
    let proposer = world.person("proposer").await;
    let backer = world.person("backer").await;
    let project = world
        .proven_project(&maintainer, "tool", new_project("Tool", "USD", vec![]))
        .await;
    // The proposer has a proven project of their own to point the proposal at.
    let own = world
        .proven_project(&proposer, "mine", new_project("Mine", "USD", vec![]))
        .await;
    connect_payout(&world, &maintainer).await;
    connect_payout(&world, &proposer).await;

    let proposal = propose(&proposer, &project, "Dark mode").await;
    into_preview(&world, &maintainer, &proposal, "USD").await;
    pledge(&world, &backer, &proposal, 20_00, "USD").await;
    world
        .totals_until(&proposal.uri, "the pledge held", |t| {
            int(t, "pledgedHeld") == 20_00
        })
        .await;
    post(&maintainer, &proposal, release()).await;
    world.stage_until(&proposal.uri, "released").await;

    // The attack: point the proposal at the proposer's own project, then delete it.
    let rkey = proposal.uri.rsplit('/').next().unwrap();
    records::put(
        &proposer,
        &records::proposal_record(
            ProposalTarget::Project(own.clone()),
            "Dark mode",
            "Mine now.",
            vec![],
        ),
        rkey,
    )
    .await
    .expect("re-point");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let view = world
        .appview
        .get_proposal(&proposal.uri)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view["subject"]["uri"],
        project.uri.as_str(),
        "the AppView keeps its subject"
    );
    assert_eq!(view["stage"], "released");
    records::delete(&proposer, &proposal.uri)
        .await
        .expect("delete");
    let view = world
        .until("the proposal withdrawn", async || {
            let view = world.appview.get_proposal(&proposal.uri).await.unwrap();
            view.filter(|v| v["withdrawn"] == true)
        })
        .await;
    // Hidden from lists, still served with escrow's dates so backers can dispute.
    assert_eq!(view["subject"]["uri"], project.uri.as_str());
    assert_eq!(view["payee"]["did"], maintainer.did());
    assert!(view["verificationEndsAt"].is_string(), "{view}");

    let paid = paid_until(&world, &proposal.uri).await;
    // 5 % of 20.00 is 1.00: the maintainer of the original project gets 19.00, to the cent.
    assert_eq!(int(&paid, "paidOut"), 19_00);
    // The public feed is published by escrow's worker tick, just after the payout commits.
    world
        .until("the ledger crediting the maintainer 19.00", async || {
            (credited_to(&world, &proposal.uri, maintainer.did()).await == 19_00).then_some(())
        })
        .await;
    assert_eq!(credited_to(&world, &proposal.uri, proposer.did()).await, 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_project_that_proves_its_repository_takes_money() {
    let world = World::start(ServicesConfig {
        verification_seconds: 3,
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("maint").await;
    let author = world.person("author").await;
    let backers = [world.person("backera").await, world.person("backerb").await];
    // "Linux" names a repository its owner has not proven.
    let project = world
        .project(&maintainer, "linux", new_project("Linux", "USD", vec![]))
        .await;
    let proposal = propose(&author, &project, "A scheduler").await;
    into_preview(&world, &maintainer, &proposal, "USD").await;
    assert_eq!(
        refused_pledge(&world, &backers[0], &proposal).await,
        "ProjectNotVerified"
    );
    let view = world
        .appview
        .get_proposal(&proposal.uri)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view["subject"]["verified"], false);

    // Someone asked for a feature of the bare repository, with an estimate, before any
    // project proved it.
    let repository = world.forge.repository_url(maintainer.handle(), "linux");
    let bare = records::create(
        &author,
        &records::proposal_record(
            ProposalTarget::Repository(repository),
            "Faster boot",
            "",
            vec![],
        ),
        None,
    )
    .await
    .expect("bare-repository proposal")
    .strong_ref();
    records::create(
        &author,
        &records::estimate_record(bare.clone(), 20_00, "USD"),
        None,
    )
    .await
    .expect("estimate");
    world
        .totals_until(&bare.uri, "the estimate", |t| {
            int(t, "estimateTotal") == 20_00
        })
        .await;

    // The maintainer publishes the proof: money is taken, and the bare-repository proposal
    // attaches to the project with its estimate.
    world.prove(&maintainer, &project).await;
    let attached = world
        .until("the bare-repository proposal attached", async || {
            let view = world.appview.get_proposal(&bare.uri).await.unwrap()?;
            (view["subject"]["uri"] == project.uri.as_str()).then_some(view)
        })
        .await;
    assert_eq!(attached["subject"]["verified"], true);
    assert_eq!(int(&attached["totals"], "estimateTotal"), 20_00);
    pledge(&world, &backers[0], &proposal, 30_00, "USD").await;
    world
        .totals_until(&proposal.uri, "the pledge held", |t| {
            int(t, "pledgedHeld") == 30_00
        })
        .await;

    // The proof disappears: no new money, but what is held settles.
    world.unprove(&maintainer, &project).await;
    assert_eq!(
        refused_pledge(&world, &backers[1], &proposal).await,
        "ProjectNotVerified"
    );
    connect_payout(&world, &maintainer).await;
    post(&maintainer, &proposal, release()).await;
    let paid = paid_until(&world, &proposal.uri).await;
    assert_eq!(int(&paid, "paidOut"), 28_50);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_maintainers_status_is_rejected_until_they_accept() {
    let world = World::start(ServicesConfig::default()).await;
    let owner = world.person("owner").await;
    let invited = world.person("invited").await;
    let author = world.person("author").await;
    let project = world
        .proven_project(
            &owner,
            "shared",
            new_project("Shared", "USD", vec![invited.did().to_owned()]),
        )
        .await;
    let proposal = propose(&author, &project, "Plugins").await;
    world.stage_until(&proposal.uri, "proposed").await;

    post(&invited, &proposal, development(50_00, "USD")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let view = world
        .appview
        .get_proposal(&proposal.uri)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view["stage"], "proposed",
        "listing someone is not their consent"
    );
    let shown = world.appview.get_project(&project.uri).await.unwrap();
    assert_eq!(shown["invitedMaintainers"][0]["did"], invited.did());

    // The invited maintainer accepts in their own repo; their next status counts.
    records::create(&invited, &records::maintainer_record(project.clone()), None)
        .await
        .expect("acceptance");
    let view = world.stage_until(&proposal.uri, "development").await;
    assert_eq!(view["stageHistory"][0]["author"]["did"], invited.did());
    let shown = world.appview.get_project(&project.uri).await.unwrap();
    assert_eq!(shown["maintainers"][0]["did"], invited.did());
    assert!(shown.get("invitedMaintainers").is_none(), "{shown}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_backdated_release_cannot_hide_the_dispute_window() {
    let world = World::start(ServicesConfig {
        verification_seconds: 8,
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("maint").await;
    let author = world.person("author").await;
    let backer = world.person("backer").await;
    let project = world
        .proven_project(&maintainer, "tool", new_project("Tool", "USD", vec![]))
        .await;
    connect_payout(&world, &maintainer).await;

    // Release, then delete the release record.
    let deleted = propose(&author, &project, "Deleted release").await;
    into_preview(&world, &maintainer, &deleted, "USD").await;
    pledge(&world, &backer, &deleted, 10_00, "USD").await;
    world
        .totals_until(&deleted.uri, "the pledge held", |t| {
            int(t, "pledgedHeld") == 10_00
        })
        .await;
    let release_uri = post(&maintainer, &deleted, release()).await;
    world.stage_until(&deleted.uri, "released").await;
    let started = escrow_until_verifying(&world, &deleted.uri).await;
    records::delete(&maintainer, &release_uri)
        .await
        .expect("delete the release");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let view = world
        .appview
        .get_proposal(&deleted.uri)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view["stage"], "released",
        "the page never contradicts the money: {view}"
    );
    assert_eq!(
        instant(&view["verificationEndsAt"]),
        instant(&started["verificationEndsAt"]),
        "the AppView shows escrow's end"
    );
    assert_eq!(view["escrowState"], "verifying");

    // A backdated release: the maintainer dates every status weeks ago, so a release "made"
    // 19 days ago would have finished a 14-day window by the records' own dates.
    let backdated = propose(&author, &project, "Backdated release").await;
    post_at(
        &maintainer,
        &backdated,
        development(100_000, "USD"),
        days_ago(30),
    )
    .await;
    world.stage_until(&backdated.uri, "development").await;
    post_at(&maintainer, &backdated, preview(), days_ago(20)).await;
    world.stage_until(&backdated.uri, "preview").await;
    pledge(&world, &backer, &backdated, 10_00, "USD").await;
    world
        .totals_until(&backdated.uri, "the pledge held", |t| {
            int(t, "pledgedHeld") == 10_00
        })
        .await;
    let before = chrono::Utc::now();
    post_at(&maintainer, &backdated, release(), days_ago(19)).await;
    let verifying = escrow_until_verifying(&world, &backdated.uri).await;
    let ends = instant(&verifying["verificationEndsAt"]);
    assert!(
        ends > before + chrono::Duration::seconds(7),
        "escrow's own clock, full period"
    );
    world
        .until("the AppView showing escrow's end", async || {
            let view = world.appview.get_proposal(&backdated.uri).await.unwrap()?;
            (view["verificationEndsAt"].is_string() && instant(&view["verificationEndsAt"]) == ends)
                .then_some(())
        })
        .await;

    // Both still settle, at the end of their full periods and not before.
    for proposal in [&deleted.uri, &backdated.uri] {
        let paid = paid_until(&world, proposal).await;
        assert_eq!(int(&paid, "paidOut"), 9_50);
    }
    let paid_at = chrono::Utc::now();
    assert!(
        paid_at >= ends,
        "no payout before the verification period ended"
    );
    world.stop().await;
}

/// A datetime field as an instant (services may write different but equal precisions).
fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a datetime: {value}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("{text}: {error}"))
        .with_timezone(&chrono::Utc)
}

/// Waits until escrow runs the verification period of `proposal`; returns its state.
async fn escrow_until_verifying(world: &World, proposal: &str) -> Value {
    world
        .until("escrow's verification period", async || {
            Some(escrow_state(world, proposal).await)
                .filter(|s| s["verificationEndsAt"].is_string())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krw_jpy_and_bhd_amounts_round_trip_unchanged() {
    let world = World::start(ServicesConfig::default()).await;
    let maintainer = world.person("maint").await;
    let author = world.person("author").await;
    let backer = world.person("backer").await;
    for (currency, typed, minor, shown) in [
        ("KRW", "1000", 1_000, "1,000"),
        ("JPY", "1500", 1_500, "1,500"),
        ("BHD", "1.234", 1_234, "1.234"),
    ] {
        let rkey = currency.to_lowercase();
        let project = world
            .proven_project(&maintainer, &rkey, new_project(currency, currency, vec![]))
            .await;
        let proposal = propose(&author, &project, &format!("Priced in {currency}")).await;
        into_preview(&world, &maintainer, &proposal, currency).await;
        // What a person types at the CLI, in major units.
        let amount = minor_units(typed, currency).expect("amount");
        assert_eq!(amount, minor, "{typed} {currency}");
        pledge(&world, &backer, &proposal, amount, currency).await;
        let totals = world
            .totals_until(&proposal.uri, "the pledge held", |t| {
                int(t, "pledgedHeld") == minor
            })
            .await;
        assert_eq!(totals["currency"], currency);
        assert_eq!(
            int(&escrow_state(&world, &proposal.uri).await, "held"),
            minor
        );
        let rest = proposal.uri.trim_start_matches("at://");
        let (did, rest) = rest.split_once('/').unwrap();
        let page = reqwest::get(format!(
            "{}/proposal/{did}/{}",
            world.services.appview_url,
            rest.rsplit('/').next().unwrap()
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert!(
            page.contains(shown),
            "{currency}: the page does not show {shown}"
        );
    }
    world.stop().await;
}
