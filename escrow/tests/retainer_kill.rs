//! Kills the real `greenlight-escrow` process with SIGKILL while it bills a retainer period:
//! after the provider opened the period's payment and before escrow recorded it. The
//! restarted process finds the same payment again (its key names the invoice and attempt),
//! the client pays once, and the period has exactly one charge and one payout.
//!
//! Escrow bills on a calendar of 200 ms days here (a month in about six seconds), from an
//! origin both the test's library escrow and the process share.

mod support;

use std::process::Child;
use std::sync::Arc;

use chrono::{Duration, Utc};
use greenlight_escrow::procedures::{payout_account, retainer};
use greenlight_escrow::proposal_source::{InMemoryProposals, Stage};
use greenlight_escrow::{webhook, Escrow};
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::BillingDetails;
use greenlight_lexicon::fund::greenlight::escrow::{
    connect_payout_account, request_quote, start_retainer,
};
use sqlx::PgPool;
use support::appview::AppViewStandIn;
use support::process::{self, database_url, wait_for};
use support::*;

const DAY_MS: i64 = 200;

/// The escrow process, billing on the test's calendar with a fast worker.
fn spawn_escrow(
    database: &str,
    appview: &str,
    origin: i64,
    failpoints: Option<&str>,
    log: &std::path::Path,
) -> Child {
    let env = [
        ("GREENLIGHT_ESCROW_TICK_MS", "50".to_owned()),
        ("GREENLIGHT_ESCROW_BILLING_DAY_MILLIS", DAY_MS.to_string()),
        (
            "GREENLIGHT_ESCROW_BILLING_ORIGIN_SECONDS",
            origin.to_string(),
        ),
    ];
    process::spawn_escrow(database, appview, failpoints, &env, log)
}

/// Pays the agreement's open attempt at the sandbox and delivers the webhook.
async fn pay_open_attempt(escrow: &Escrow, pool: &PgPool, invoice: &str) {
    let payment: String = sqlx::query_scalar(
        "SELECT payment_id FROM escrow.retainer_attempt WHERE invoice = $1 AND state = 'open'",
    )
    .bind(invoice)
    .fetch_one(pool)
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
    webhook::receive(escrow, "sandbox", Some(&signed.signature), &signed.body)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn sigkill_between_the_charge_and_its_record_charges_the_period_once(pool: PgPool) {
    let stand_in = AppViewStandIn::start(Stage::Preview).await;
    let origin = Utc::now().timestamp();
    let offers = Arc::new(InMemoryProposals::new());
    let offer = "at://did:plc:maintainer/fund.greenlight.retainerOffer/3kkill";
    offers.put_offer(support::offers::offer(
        offer,
        vec![support::offers::tier("Partner", 150_000, None)],
    ));
    // The library's escrow, on the process's calendar, sets the agreement up.
    let escrow = Escrow::new(
        pool.clone(),
        greenlight_escrow::config::Config {
            billing_day: Duration::milliseconds(DAY_MS),
            billing_origin: chrono::DateTime::from_timestamp(origin, 0).unwrap(),
            ..config()
        },
        offers,
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
    let quote = retainer::request_quote(
        &escrow,
        "did:plc:acme",
        &request_quote::Input {
            offer: strong_ref(offer),
            tier: "Partner".into(),
            billing: BillingDetails {
                legal_name: "Acme Corporation".into(),
                address: "1 Market Street".into(),
                tax_id: None,
                purchase_order: None,
                email: None,
            },
            collection: "invoice".into(),
            listed_publicly: Some(false),
            idempotency_key: "quote-0001".into(),
        },
    )
    .await
    .unwrap();
    let started = retainer::start_retainer(
        &escrow,
        "did:plc:acme",
        &start_retainer::Input {
            agreement: quote.id.clone(),
            idempotency_key: "start-0001".into(),
        },
    )
    .await
    .unwrap();
    let first = started.invoices.unwrap()[0].number.clone();
    pay_open_attempt(&escrow, &pool, &first).await;

    // The process bills the next period and is killed right after the provider call.
    let logs = tempfile::tempdir().unwrap();
    let database = database_url(&pool);
    let first_log = logs.path().join("first.log");
    let mut process = spawn_escrow(
        &database,
        &stand_in.url,
        origin,
        Some("retainer.after_charge=hang"),
        &first_log,
    );
    wait_for(
        &pool,
        "the second period's payment opened at the provider, not yet recorded",
        "SELECT EXISTS (SELECT 1 FROM sandbox.payment p JOIN escrow.retainer_invoice i
                        ON p.reference = i.number WHERE i.period_index = 2)
            AND NOT EXISTS (SELECT 1 FROM escrow.retainer_attempt t
                            JOIN escrow.retainer_invoice i ON i.number = t.invoice
                            WHERE i.period_index = 2)",
        &first_log,
    )
    .await;
    process.kill().unwrap();
    process.wait().unwrap();

    let second_log = logs.path().join("second.log");
    let mut process = spawn_escrow(&database, &stand_in.url, origin, None, &second_log);
    wait_for(
        &pool,
        "the restarted escrow to record the same payment",
        "SELECT EXISTS (SELECT 1 FROM escrow.retainer_attempt t
                        JOIN escrow.retainer_invoice i ON i.number = t.invoice
                        WHERE i.period_index = 2 AND t.state = 'open')",
        &second_log,
    )
    .await;
    let second: String =
        sqlx::query_scalar("SELECT number FROM escrow.retainer_invoice WHERE period_index = 2")
            .fetch_one(&pool)
            .await
            .unwrap();
    pay_open_attempt(&escrow, &pool, &second).await;
    wait_for(
        &pool,
        "both periods paid out",
        "SELECT count(*) = 2 FROM escrow.job WHERE kind = 'payout' AND state = 'done'",
        &second_log,
    )
    .await;
    process.kill().unwrap();
    process.wait().unwrap();

    let per_invoice: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT i.number,
                (SELECT count(*) FROM sandbox.payment p WHERE p.reference = i.number),
                (SELECT count(*) FROM sandbox.transfer s WHERE s.idempotency_key = i.number || ':payout')
         FROM escrow.retainer_invoice i WHERE i.state = 'paid' ORDER BY i.period_index",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        per_invoice,
        vec![(first, 1, 1), (second, 1, 1)],
        "one charge and one payout per period"
    );
    let violations = greenlight_escrow::ledger::invariants::check(&pool, escrow.provider.as_ref())
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}
