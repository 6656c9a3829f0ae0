//! The other outcomes of a proposal, end to end with every service a separate process:
//! an expired preview and disputes (upheld and rejected), the estimate cap growing after a
//! payout, and records that change under the AppView (an edited estimate, a deleted
//! proposal, a deactivated account).

use std::time::Duration;

use greenlight_cli::pledging;
use greenlight_cli::records::{self, AtUri};
use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::steps::{
    estimate, in_seconds, into_preview_until, new_project, pledge, post, propose, release,
};
use greenlight_tests::world::{int, World, SETTLE};

/// A proposal by `author` for `maintainer`'s project at `rkey`, which is created and proven
/// the first time.
async fn proposal_for(
    world: &World,
    maintainer: &Session,
    author: &Session,
    rkey: &str,
    title: &str,
) -> StrongRef {
    let uri = format!("at://{}/fund.greenlight.project/{rkey}", maintainer.did());
    let project = match records::strong_ref(maintainer, &uri).await {
        Ok(existing) => existing,
        Err(_) => {
            world
                .proven_project(maintainer, rkey, new_project("Gadget", "USD", vec![]))
                .await
        }
    };
    propose(author, &project, title).await
}

/// Brings a proposal into preview and has each backer pledge.
async fn pledged_preview(
    world: &World,
    maintainer: &Session,
    backers: &[(&Session, i64)],
    title: &str,
    ends_at: String,
) -> StrongRef {
    let proposal = proposal_for(world, maintainer, backers[0].0, "gadget", title).await;
    into_preview_until(world, maintainer, &proposal, "USD", ends_at).await;
    for (backer, amount) in backers {
        pledge(world, backer, &proposal, *amount, "USD").await;
    }
    let held: i64 = backers.iter().map(|(_, amount)| amount).sum();
    world
        .totals_until(&proposal.uri, "the pledges held", |t| {
            int(t, "pledgedHeld") == held
        })
        .await;
    proposal
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_preview_without_a_release_refunds_everyone() {
    let world = World::start(ServicesConfig {
        release_grace_seconds: 1,
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("expmaint").await;
    let a = world.person("expa").await;
    let b = world.person("expb").await;
    let proposal = pledged_preview(
        &world,
        &maintainer,
        &[(&a, 1200), (&b, 800)],
        "Short preview",
        in_seconds(8),
    )
    .await;
    // No release comes: after the preview and the grace period, escrow refunds.
    let totals = world
        .totals_until(&proposal.uri, "2000 refunded", |t| {
            int(t, "refunded") == 2000
        })
        .await;
    assert_eq!(int(&totals, "pledgedHeld"), 0);
    assert_eq!(int(&totals, "paidOut"), 0);
    world.stop().await;
}

/// Files a dispute as soon as escrow knows the release (it learns stages from the AppView).
async fn dispute(world: &World, backer: &Session, proposal: &StrongRef) -> String {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let key = pledging::new_idempotency_key();
        match world
            .escrow
            .file_dispute(backer, proposal, "Not what the preview showed.", &[], &key)
            .await
        {
            Ok(view) => {
                records::create(
                    backer,
                    &records::dispute_record(
                        proposal.clone(),
                        "Not what the preview showed.",
                        vec![],
                    ),
                    None,
                )
                .await
                .expect("dispute record");
                return view["id"].as_str().expect("dispute id").to_owned();
            }
            Err(error)
                if error.xrpc_error() == Some("ProposalNotVerifying")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("fileDispute: {error}\n{}", world.services.logs()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upheld_dispute_refunds_and_a_rejected_one_pays_out() {
    let world = World::start(ServicesConfig {
        verification_seconds: 10,
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("dismaint").await;
    let a = world.person("disa").await;
    let b = world.person("disb").await;

    let upheld = pledged_preview(
        &world,
        &maintainer,
        &[(&a, 1500), (&b, 500)],
        "Upheld",
        in_seconds(3600),
    )
    .await;
    let rejected = pledged_preview(
        &world,
        &maintainer,
        &[(&a, 700), (&b, 300)],
        "Rejected",
        in_seconds(3600),
    )
    .await;
    post(&maintainer, &upheld, release()).await;
    post(&maintainer, &rejected, release()).await;
    world.stage_until(&upheld.uri, "released").await;
    world.stage_until(&rejected.uri, "released").await;

    let first = dispute(&world, &a, &upheld).await;
    let second = dispute(&world, &b, &rejected).await;
    world
        .escrow
        .resolve_dispute(
            &world.services.admin_password,
            &first,
            "upheld",
            "The release lacks the feature.",
            &pledging::new_idempotency_key(),
        )
        .await
        .expect("resolve upheld");
    world
        .escrow
        .resolve_dispute(
            &world.services.admin_password,
            &second,
            "rejected",
            "The feature is there.",
            &pledging::new_idempotency_key(),
        )
        .await
        .expect("resolve rejected");

    let totals = world
        .totals_until(&upheld.uri, "2000 refunded", |t| int(t, "refunded") == 2000)
        .await;
    assert_eq!(int(&totals, "paidOut"), 0);
    let totals = world
        .totals_until(&rejected.uri, "1000 paid out", |t| {
            int(t, "paidOut") == 1000
        })
        .await;
    assert_eq!(int(&totals, "refunded"), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimate_cap_doubles_the_largest_paid_contribution() {
    let world = World::start(ServicesConfig::default()).await;
    let maintainer = world.person("capmaint").await;
    let backer = world.person("capbacker").await;
    let other = world.person("capother").await;

    // A newcomer's 100.00 counts as 25.00.
    let first = proposal_for(&world, &maintainer, &other, "gadget", "First").await;
    estimate(&backer, &first, 10_000, "USD").await;
    let totals = world
        .totals_until(&first.uri, "a capped estimate", |t| {
            int(t, "estimateCount") == 1
        })
        .await;
    assert_eq!(int(&totals, "estimateTotal"), 2500);
    assert_eq!(int(&totals, "cappedEstimateCount"), 1);

    // After a paid-out pledge of 40.00 the cap is 80.00.
    into_preview_until(&world, &maintainer, &first, "USD", in_seconds(3600)).await;
    pledge(&world, &backer, &first, 4000, "USD").await;
    post(&maintainer, &first, release()).await;
    world
        .totals_until(&first.uri, "the payout", |t| int(t, "paidOut") == 4000)
        .await;

    let second = proposal_for(&world, &maintainer, &other, "gadget", "Second").await;
    estimate(&backer, &second, 10_000, "USD").await;
    let totals = world
        .totals_until(&second.uri, "the raised cap", |t| {
            int(t, "estimateCount") == 1 && int(t, "estimateTotal") == 8000
        })
        .await;
    assert_eq!(int(&totals, "cappedEstimateCount"), 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_estimates_deleted_proposals_and_deactivated_accounts() {
    let world = World::start(ServicesConfig::default()).await;
    let maintainer = world.person("editmaint").await;
    let author = world.person("editauthor").await;
    let estimator = world.person("editest").await;
    let leaver = world.person("leaver").await;

    let proposal = proposal_for(&world, &maintainer, &author, "gadget", "Editable").await;
    let written = estimate(&estimator, &proposal, 1000, "USD").await;
    world
        .totals_until(&proposal.uri, "10.00", |t| int(t, "estimateTotal") == 1000)
        .await;

    // Editing the estimate in place replaces it.
    let rkey = AtUri::parse(&written.uri).expect("uri").rkey;
    records::put(
        &estimator,
        &records::estimate_record(proposal.clone(), 1800, "USD"),
        &rkey,
    )
    .await
    .expect("edit");
    let totals = world
        .totals_until(&proposal.uri, "the edited 18.00", |t| {
            int(t, "estimateTotal") == 1800
        })
        .await;
    assert_eq!(int(&totals, "estimateCount"), 1);

    // A deactivated account's estimate stops counting.
    estimate(&leaver, &proposal, 700, "USD").await;
    world
        .totals_until(&proposal.uri, "25.00", |t| int(t, "estimateTotal") == 2500)
        .await;
    leaver
        .agent
        .api
        .com
        .atproto
        .server
        .deactivate_account(
            atrium_api::com::atproto::server::deactivate_account::InputData { delete_after: None }
                .into(),
        )
        .await
        .expect("deactivate");
    world
        .totals_until(&proposal.uri, "the deactivated estimate gone", |t| {
            int(t, "estimateTotal") == 1800
        })
        .await;

    // A deleted proposal disappears.
    records::delete(&author, &proposal.uri)
        .await
        .expect("delete");
    world.gone_until(&proposal.uri).await;
    world.stop().await;
}
