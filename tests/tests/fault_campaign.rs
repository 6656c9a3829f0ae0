//! The seeded fault campaign (`greenlight_tests::fault_campaign`): one world of services, many
//! trials, each a random schedule of kills, Postgres faults and webhook duplicates and delays
//! over a random workload, each ending with the exactly-once, ledger and rebuild checks.
//!
//! ```text
//! GREENLIGHT_FAULT_TRIALS=50 GREENLIGHT_FAULT_SEED=1234 \
//!   cargo test -p greenlight-tests --test fault_campaign -- --nocapture
//! ```
//!
//! A failing trial names its seed and how to replay it.

use std::time::Instant;

use futures_util::FutureExt;
use greenlight_tests::fault_campaign::{settings, Campaign};
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_holds_through_a_seeded_fault_campaign() {
    let (trials, seed, budget) = settings().expect("campaign settings");
    eprintln!("fault campaign: {trials} trials, seed {seed}");
    // Short verification so released proposals pay out within the campaign; a fast tick so
    // escrow's jobs run between trials.
    let world = World::start(ServicesConfig {
        verification_seconds: 2,
        release_grace_seconds: 2,
        escrow_tick_ms: 100,
        ..ServicesConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut campaign = Campaign::start(&world).await.expect("campaign set-up");
    for trial in 0..trials {
        if budget.is_some_and(|budget| started.elapsed() > budget) {
            eprintln!("fault campaign: time budget spent after {trial} trials");
            break;
        }
        let trial_seed = seed.wrapping_add(trial);
        let trial_started = Instant::now();
        let outcome = std::panic::AssertUnwindSafe(campaign.trial(trial_seed))
            .catch_unwind()
            .await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("{error:?}")),
            Err(panic) => Some(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into()),
            ),
        };
        if let Some(failure) = failure {
            panic!(
                "fault campaign trial {trial} (trial seed {trial_seed}) failed: {failure}\n\
                 replay the campaign: GREENLIGHT_FAULT_SEED={seed} GREENLIGHT_FAULT_TRIALS={}\n\
                 replay this trial's schedule alone: GREENLIGHT_FAULT_SEED={trial_seed} \
                 GREENLIGHT_FAULT_TRIALS=1\n{}\n{}",
                trial + 1,
                campaign.counts(),
                campaign.logs()
            );
        }
        eprintln!(
            "fault campaign: trial {trial} (seed {trial_seed}) passed in {:.1?}; {:.0?} so far",
            trial_started.elapsed(),
            started.elapsed()
        );
    }
    if let Err(error) = campaign.settle().await {
        panic!(
            "fault campaign (seed {seed}) failed at the final settlement: {error:?}\n{}\n{}",
            campaign.counts(),
            campaign.logs()
        );
    }
    eprintln!(
        "fault campaign: seed {seed}, {} in {:.1?}; lost, doubled, cents off: none",
        campaign.counts(),
        started.elapsed()
    );
    drop(campaign);
    world.stop().await;
}
