//! Kills the real `greenlight-escrow` process with SIGKILL in the middle of a payout (after
//! the provider made the transfer, before the ledger recorded it), restarts it, and checks that
//! the provider holds exactly one transfer and the books balance.
//!
//! The AppView is replaced by a small local HTTP server answering
//! `fund.greenlight.getProposal` with whole `fund.greenlight.defs#proposalView`s
//! (`support/appview.rs`).

mod support;

use std::process::{Child, Command};
use std::sync::Arc;

use greenlight_escrow::procedures::{payout_account, pledge};
use greenlight_escrow::proposal_source::{AppViewProposals, Stage};
use greenlight_escrow::{webhook, Escrow};
use greenlight_lexicon::fund::greenlight::escrow::{connect_payout_account, create_pledge};
use sqlx::PgPool;
use support::appview::AppViewStandIn;
use support::process::{self, database_url, wait_for};
use support::*;

/// The escrow process: payouts due one second after a release, a fast worker.
fn spawn_escrow(
    database: &str,
    appview: &str,
    failpoints: Option<&str>,
    log: &std::path::Path,
) -> Child {
    let env = [
        ("GREENLIGHT_ESCROW_VERIFICATION_SECONDS", "1".to_owned()),
        ("GREENLIGHT_ESCROW_TICK_MS", "100".to_owned()),
    ];
    process::spawn_escrow(database, appview, failpoints, &env, log)
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn sigkill_after_the_provider_transfer_pays_exactly_once(pool: PgPool) {
    let stand_in = AppViewStandIn::start(Stage::Preview).await;
    let appview = stand_in.url.clone();

    // Set up through the library with the real clock and the HTTP proposal source.
    let escrow = Escrow::new(
        pool.clone(),
        config(),
        Arc::new(AppViewProposals::new(&appview)),
    )
    .unwrap();
    payout_account::connect_payout_account(
        &escrow,
        MAINTAINER,
        &connect_payout_account::Input {
            provider: None,
            idempotency_key: "connect-0001".into(),
        },
    )
    .await
    .unwrap();
    let uri = proposal_uri(1);
    let created = pledge::create_pledge(
        &escrow,
        "did:plc:alice",
        &create_pledge::Input {
            proposal: strong_ref(&uri),
            amount: 20_000,
            currency: "USD".into(),
            idempotency_key: "pledge-0001".into(),
        },
    )
    .await
    .unwrap();
    let payment: String = sqlx::query_scalar("SELECT payment_id FROM escrow.pledge WHERE id = $1")
        .bind(&created.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let signed = escrow
        .sandbox
        .as_ref()
        .unwrap()
        .settle_payment(&payment, true)
        .await
        .unwrap()
        .unwrap();
    webhook::receive(&escrow, "sandbox", Some(&signed.signature), &signed.body)
        .await
        .unwrap();
    stand_in.set_stage(Stage::Released);

    let logs = tempfile::tempdir().unwrap();
    let database = database_url(&pool);
    let first_log = logs.path().join("first.log");
    let mut first = spawn_escrow(
        &database,
        &appview,
        Some("payout.after_provider_call=hang"),
        &first_log,
    );
    wait_for(
        &pool,
        "the provider transfer while the job is still reserved",
        "SELECT (SELECT count(*) FROM sandbox.transfer) = 1
            AND EXISTS (SELECT 1 FROM escrow.job WHERE kind = 'payout' AND state = 'reserved')",
        &first_log,
    )
    .await;
    // Child::kill sends SIGKILL: no destructor, no graceful shutdown, no rollback by us.
    first.kill().unwrap();
    first.wait().unwrap();

    let second_log = logs.path().join("second.log");
    let mut second = spawn_escrow(&database, &appview, None, &second_log);
    wait_for(
        &pool,
        "the payout job to finish after the restart",
        "SELECT EXISTS (SELECT 1 FROM escrow.job WHERE kind = 'payout' AND state = 'done')",
        &second_log,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    let transfers: (i64, i64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(amount), 0)::bigint FROM sandbox.transfer")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        transfers,
        (1, 19_000),
        "exactly one transfer of the maintainer's share"
    );
    let violations = greenlight_escrow::ledger::invariants::check(&pool, escrow.provider.as_ref())
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");

    // The operators' command agrees, and says so with its exit status.
    let reconcile = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"))
        .arg("reconcile")
        .env("ESCROW_DATABASE_URL", &database)
        .output()
        .unwrap();
    assert!(
        reconcile.status.success(),
        "{}",
        String::from_utf8_lossy(&reconcile.stderr)
    );
    assert!(String::from_utf8_lossy(&reconcile.stdout).contains("the books balance"));
    // A hand-made movement that no pledge explains is reported, with a failing status.
    sqlx::query(
        "SELECT escrow.create_transfer('rogue', 'USD', 'provider_clearing', 'platform_fees', 5,
             'fee', false, NULL, NULL, NULL, NULL, NULL, now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let reconcile = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"))
        .arg("reconcile")
        .env("ESCROW_DATABASE_URL", &database)
        .output()
        .unwrap();
    assert!(!reconcile.status.success());
    assert!(
        String::from_utf8_lossy(&reconcile.stdout).contains("provider_balance_matches_clearing")
    );
}
