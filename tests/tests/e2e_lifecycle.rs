//! The whole lifecycle on a real local atproto network with the indexer, the AppView and
//! escrow running as separate processes, driven through the `greenlight` client library
//! the CLI uses: a maintainer and three backers take a proposal from idea to payout, and
//! the AppView's totals are checked at every step.

use greenlight_cli::pledging;
use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::steps::{
    decline, development, estimate, new_project, pledge, post, preview, propose, release,
};
use greenlight_tests::world::{int, World};

/// A project by `maintainer` and a proposal for it by `author`.
async fn project_and_proposal(world: &World, maintainer: &Session, author: &Session) -> StrongRef {
    let project = world
        .proven_project(maintainer, "widget", new_project("Widget", "USD", vec![]))
        .await;
    propose(author, &project, "Dark mode").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_goes_from_idea_to_payout_with_totals_at_every_step() {
    let world = World::start(ServicesConfig::default()).await;
    let maintainer = world.person("maintainer").await;
    let backers = [
        world.person("backera").await,
        world.person("backerb").await,
        world.person("backerc").await,
    ];

    let proposal = project_and_proposal(&world, &maintainer, &backers[0]).await;
    let view = world.stage_until(&proposal.uri, "proposed").await;
    assert_eq!(view["currency"], "USD");
    let totals = world
        .totals_until(&proposal.uri, "a new proposal", |_| true)
        .await;
    assert_eq!(int(&totals, "estimateTotal"), 0);
    assert_eq!(int(&totals, "pledgedHeld"), 0);

    // Estimates: newcomers are capped at 25.00, so 50.00 counts as 25.00.
    for (backer, amount) in backers.iter().zip([2000, 2500, 5000]) {
        estimate(backer, &proposal, amount, "USD").await;
    }
    let totals = world
        .totals_until(&proposal.uri, "three estimates", |t| {
            int(t, "estimateCount") == 3
        })
        .await;
    assert_eq!(int(&totals, "estimateTotal"), 2000 + 2500 + 2500);
    assert_eq!(int(&totals, "cappedEstimateCount"), 1);

    post(&maintainer, &proposal, development(10_000, "USD")).await;
    let view = world.stage_until(&proposal.uri, "development").await;
    assert_eq!(view["goal"], 10_000);
    let totals = world
        .totals_until(&proposal.uri, "the goal", |t| int(t, "goal") == 10_000)
        .await;
    assert_eq!(int(&totals, "estimateTotal"), 7000);

    post(&maintainer, &proposal, preview()).await;
    world.stage_until(&proposal.uri, "preview").await;

    let mut receipts = Vec::new();
    for (backer, amount) in backers.iter().zip([3000, 2000, 1000]) {
        let key = pledging::new_idempotency_key();
        let pledged = pledging::pledge(backer, &world.escrow, &proposal, amount, "USD", &key)
            .await
            .expect("pledge");
        assert_eq!(pledged.pledge.state, "held");
        assert_eq!(pledged.pledge.amount, amount);
        // A retry with the same key is the same pledge, not a second charge.
        let again = pledging::pledge(backer, &world.escrow, &proposal, amount, "USD", &key)
            .await
            .expect("retried pledge");
        assert_eq!(again.pledge.id, pledged.pledge.id);
        receipts.push(pledged.pledge.id);
    }
    let totals = world
        .totals_until(&proposal.uri, "6000 held", |t| {
            int(t, "pledgedHeld") == 6000
        })
        .await;
    assert_eq!(int(&totals, "backerCount"), 3);
    assert_eq!(int(&totals, "pledgeCount"), 3);
    assert_eq!(int(&totals, "paidOut"), 0);

    post(&maintainer, &proposal, release()).await;
    world.stage_until(&proposal.uri, "released").await;
    // Still held while verification runs (escrow's period is seconds long in this test).
    let totals = world
        .appview
        .funding_totals(&proposal.uri)
        .await
        .unwrap()
        .unwrap();
    assert!(int(&totals, "pledgedHeld") == 6000 || int(&totals, "paidOut") == 6000);

    let totals = world
        .totals_until(&proposal.uri, "the payout", |t| int(t, "paidOut") == 6000)
        .await;
    assert_eq!(int(&totals, "pledgedHeld"), 0);
    assert_eq!(int(&totals, "refunded"), 0);
    for receipt in &receipts {
        let pledge = world.escrow.get_pledge(receipt).await.unwrap();
        assert_eq!(pledge.state, "paid_out");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_refunds_every_backer_and_outsiders_cannot_move_stages() {
    let world = World::start(ServicesConfig::default()).await;
    let maintainer = world.person("maint").await;
    let outsider = world.person("outsider").await;
    let backers = [world.person("backerd").await, world.person("backere").await];
    let proposal = project_and_proposal(&world, &maintainer, &backers[0]).await;
    world.stage_until(&proposal.uri, "proposed").await;

    // Someone who is not a maintainer posts a status: nothing changes.
    post(&outsider, &proposal, development(5_000, "USD")).await;
    post(&maintainer, &proposal, development(8_000, "USD")).await;
    let view = world.stage_until(&proposal.uri, "development").await;
    assert_eq!(view["goal"], 8_000, "the outsider's goal must not count");
    post(&outsider, &proposal, decline("no")).await;
    post(&maintainer, &proposal, preview()).await;
    world.stage_until(&proposal.uri, "preview").await;

    for (backer, amount) in backers.iter().zip([1500, 2500]) {
        pledge(&world, backer, &proposal, amount, "USD").await;
    }
    world
        .totals_until(&proposal.uri, "4000 held", |t| {
            int(t, "pledgedHeld") == 4000
        })
        .await;

    post(&maintainer, &proposal, decline("Out of scope.")).await;
    world.stage_until(&proposal.uri, "declined").await;
    let totals = world
        .totals_until(&proposal.uri, "everything refunded", |t| {
            int(t, "refunded") == 4000
        })
        .await;
    assert_eq!(int(&totals, "pledgedHeld"), 0);
    assert_eq!(int(&totals, "paidOut"), 0);
    world.stop().await;
}
