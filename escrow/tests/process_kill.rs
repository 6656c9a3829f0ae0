//! Kills the real `greenlight-escrow` process with SIGKILL in the middle of a payout (after
//! the provider made the transfer, before the ledger recorded it), restarts it, and checks that
//! the provider holds exactly one transfer and the books balance.
//!
//! The AppView is replaced by a small local HTTP server answering
//! `fund.greenlight.getProposal` with a `fund.greenlight.defs#proposalView`: a stand-in for
//! the AppView, whose own XRPC is built elsewhere.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use greenlight_escrow::procedures::{payout_account, pledge};
use greenlight_escrow::proposal_source::AppViewProposals;
use greenlight_escrow::{webhook, Escrow};
use greenlight_lexicon::fund::greenlight::escrow::{connect_payout_account, create_pledge};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

#[derive(Clone)]
struct StandIn {
    stage: Arc<Mutex<&'static str>>,
    ends_at: String,
}

async fn get_proposal(
    State(stand_in): State<StandIn>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let stage = *stand_in.stage.lock().unwrap();
    Json(json!({
        "uri": query.get("uri").cloned().unwrap_or_default(),
        "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        "author": {"did": "did:plc:author"},
        "subject": {"$type": "fund.greenlight.defs#projectRef",
                    "uri": format!("at://{MAINTAINER}/fund.greenlight.project/app"),
                    "verified": true},
        "title": "A feature", "body": "", "stage": stage, "stageHistory": [],
        "currency": "USD",
        "totals": {},
        "preview": {"url": "https://preview.example", "instructions": "Try it", "endsAt": stand_in.ends_at},
        "indexedAt": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z"
    }))
}

/// The URL of the test's own database, for the escrow process.
fn database_url(pool: &PgPool) -> String {
    let database = pool.connect_options().get_database().unwrap().to_owned();
    greenlight_store::server::database_url(&std::env::var("DATABASE_URL").unwrap(), &database)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_escrow(
    database: &str,
    appview: &str,
    failpoints: Option<&str>,
    log: &std::path::Path,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"));
    command
        // A demo: the sandbox provider and a test password.
        .args(["serve", "--demo"])
        .env("ESCROW_DATABASE_URL", database)
        .env(
            "GREENLIGHT_ESCROW_BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("GREENLIGHT_APPVIEW_URL", appview)
        .env("GREENLIGHT_ESCROW_VERIFICATION_SECONDS", "1")
        .env("GREENLIGHT_ESCROW_TICK_MS", "100")
        .env_remove("GREENLIGHT_ESCROW_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(points) = failpoints {
        command.env("GREENLIGHT_ESCROW_FAILPOINTS", points);
    }
    command.spawn().unwrap()
}

async fn wait_for(pool: &PgPool, what: &str, sql: &str, log: &std::path::Path) {
    for _ in 0..300 {
        let done: bool = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}; escrow log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn sigkill_after_the_provider_transfer_pays_exactly_once(pool: PgPool) {
    let stand_in = StandIn {
        stage: Arc::new(Mutex::new("preview")),
        ends_at: greenlight_escrow::clock::datetime(chrono::Utc::now() + chrono::Duration::days(1)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let appview = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/xrpc/fund.greenlight.getProposal", get(get_proposal))
        .with_state(stand_in.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

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
    *stand_in.stage.lock().unwrap() = "released";

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
