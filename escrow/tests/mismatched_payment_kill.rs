//! Kills the real `greenlight-escrow` process while it books a mismatched payment (aborted
//! inside the webhook's transaction) and again while it refunds it (SIGKILL after the
//! provider made the refund, before the ledger recorded it); the provider redelivers the
//! webhook to each new process. In the end the provider holds exactly one refund of exactly
//! what was received, in the currency received, and the books balance.
//!
//! The AppView is the local stand-in answering `fund.greenlight.getProposal`
//! (`support/appview.rs`).

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use greenlight_escrow::procedures::pledge;
use greenlight_escrow::proposal_source::{AppViewProposals, Stage};
use greenlight_escrow::provider::sandbox::SignedEvent;
use greenlight_escrow::Escrow;
use greenlight_lexicon::fund::greenlight::escrow::create_pledge;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::appview::AppViewStandIn;
use support::process::{database_url, free_port, wait_for};
use support::*;

struct Running {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts the real binary (a demo: the sandbox provider) and waits until it answers.
async fn spawn_escrow(
    database: &str,
    appview: &str,
    failpoints: Option<&str>,
    log: std::path::PathBuf,
) -> Running {
    let bind = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"));
    command
        .args(["serve", "--demo"])
        .env("ESCROW_DATABASE_URL", database)
        .env("GREENLIGHT_ESCROW_BIND", &bind)
        .env("GREENLIGHT_APPVIEW_URL", appview)
        .env("GREENLIGHT_ESCROW_TICK_MS", "100")
        .env_remove("GREENLIGHT_ESCROW_FAILPOINTS")
        .env_remove("GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(points) = failpoints {
        command.env("GREENLIGHT_ESCROW_FAILPOINTS", points);
    }
    let mut running = Running {
        child: command.spawn().unwrap(),
        url: format!("http://{bind}"),
        log,
    };
    let http = client();
    for _ in 0..300 {
        if let Ok(response) = http
            .get(format!("{}/xrpc/_health", running.url))
            .send()
            .await
        {
            if response.status().is_success() {
                return running;
            }
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("escrow exited with {status}:\n{}", running.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("escrow did not come up:\n{}", running.log());
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The provider delivering `signed` (signed afresh, as it does on every retry).
async fn deliver(
    escrow: &Escrow,
    running: &Running,
    signed: &SignedEvent,
) -> reqwest::Result<reqwest::Response> {
    let payload: Value = serde_json::from_slice(&signed.body).unwrap();
    let fresh = escrow.sandbox.as_ref().unwrap().sign(&payload);
    client()
        .post(format!("{}/webhooks/sandbox", running.url))
        .header("stripe-signature", fresh.signature)
        .header("content-type", "application/json")
        .body(fresh.body)
        .send()
        .await
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn killed_while_booking_and_while_refunding_a_mismatched_payment_refunds_once(pool: PgPool) {
    let stand_in = AppViewStandIn::start(Stage::Preview).await;
    let appview = stand_in.url.clone();

    // The pledge through the library, with the real clock and the HTTP proposal source.
    let escrow = Escrow::new(
        pool.clone(),
        config(),
        Arc::new(AppViewProposals::new(&appview)),
    )
    .unwrap();
    let created = pledge::create_pledge(
        &escrow,
        "did:plc:alice",
        &create_pledge::Input {
            proposal: strong_ref(&proposal_uri(1)),
            amount: 20_000,
            currency: "USD".into(),
            idempotency_key: "pledge-0001".into(),
        },
    )
    .await
    .unwrap();
    // The payer paid 150.00 EUR for a 200.00 USD pledge.
    let payment: String = sqlx::query_scalar("SELECT payment_id FROM escrow.pledge WHERE id = $1")
        .bind(&created.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE sandbox.payment SET status = 'succeeded', amount = 15000, currency = 'EUR'
         WHERE id = $1",
    )
    .bind(&payment)
    .execute(&pool)
    .await
    .unwrap();
    let signed = escrow
        .sandbox
        .as_ref()
        .unwrap()
        .emit(
            "payment_intent.succeeded",
            json!({"id": payment, "object": "payment_intent", "amount": 15_000,
                   "amount_received": 15_000, "currency": "eur", "status": "succeeded"}),
        )
        .await
        .unwrap();

    let logs = tempfile::tempdir().unwrap();
    let database = database_url(&pool);

    // 1. The process aborts inside the webhook's transaction: nothing is kept.
    let mut first = spawn_escrow(
        &database,
        &appview,
        Some("mismatch.before_commit=abort"),
        logs.path().join("first.log"),
    )
    .await;
    let answer = deliver(&escrow, &first, &signed).await;
    assert!(
        answer.is_err() || !answer.as_ref().unwrap().status().is_success(),
        "the delivery must not be acknowledged: {answer:?}"
    );
    let status = first.child.wait().unwrap();
    assert!(!status.success(), "the process aborted: {status}");
    let kept: (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM escrow.mismatched_payment),
                (SELECT state FROM escrow.pledge WHERE id = $1)",
    )
    .bind(&created.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, (0, "pending".to_owned()), "{}", first.log());

    // 2. Redelivered and booked; the process hangs after the provider refunded, and is
    //    killed with SIGKILL there.
    let mut second = spawn_escrow(
        &database,
        &appview,
        Some("refund.after_provider_call=hang"),
        logs.path().join("second.log"),
    )
    .await;
    let answer = deliver(&escrow, &second, &signed).await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["duplicate"], false);
    wait_for(
        &pool,
        "the provider refund while the job is still reserved",
        "SELECT (SELECT count(*) FROM sandbox.refund) = 1
            AND EXISTS (SELECT 1 FROM escrow.job WHERE kind = 'refund' AND state = 'reserved')",
        &second.log,
    )
    .await;
    second.child.kill().unwrap();
    second.child.wait().unwrap();

    // 3. A clean process: the redelivery is a duplicate, and the reserved refund finishes
    //    without a second call to the provider.
    let mut third = spawn_escrow(&database, &appview, None, logs.path().join("third.log")).await;
    let answer = deliver(&escrow, &third, &signed).await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["duplicate"], true);
    wait_for(
        &pool,
        "the refund job to finish",
        "SELECT EXISTS (SELECT 1 FROM escrow.job WHERE kind = 'refund' AND state = 'done')",
        &third.log,
    )
    .await;
    third.child.kill().unwrap();
    third.child.wait().unwrap();

    let refunds: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT amount, currency, idempotency_key FROM sandbox.refund")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        refunds,
        [(
            15_000,
            "EUR".to_owned(),
            format!("{}:mismatch-refund", created.id)
        )],
        "exactly one refund of exactly what was received"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM escrow.pledge WHERE id = $1")
        .bind(&created.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "failed");
    let violations = greenlight_escrow::ledger::invariants::check(&pool, escrow.provider.as_ref())
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    let reconcile = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"))
        .arg("reconcile")
        .env("ESCROW_DATABASE_URL", &database)
        .output()
        .unwrap();
    assert!(
        reconcile.status.success(),
        "{}{}",
        String::from_utf8_lossy(&reconcile.stdout),
        String::from_utf8_lossy(&reconcile.stderr)
    );
}
