//! Retainers end to end, on a real local atproto network with the indexer, the AppView and
//! escrow as separate processes, escrow billing on a calendar whose days last 300 ms (a
//! month passes in about nine seconds; the payment provider is the sandbox, standing in for
//! Stripe Billing with its wire format).
//!
//! A maintainer publishes an offer with three tiers. A company asks for a quote for the
//! middle tier on invoice billing, starts it and is listed on the maintainer's page; three
//! periods are invoiced, paid and paid out minus the fee, one after a failed charge and its
//! retry; it upgrades (from the next period), then cancels (at the end of the paid period).
//! A second company, unlisted, lapses after its charge and every retry fail. After every step
//! the AppView's totals, the public ledger feed and the provider's books agree to the cent,
//! and escrow's invariants hold.

use std::time::Duration;

use greenlight_cli::records;
use greenlight_cli::session::Session;
use greenlight_client::escrow::QuoteRequest;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::LedgerEntry;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{AgreementView, BillingDetails};
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::steps::{ledger_entries, new_project, three_tier_offer, RETAINER_PRICES};
use greenlight_tests::world::World;
use serde_json::Value;

/// The middle and top tiers' prices per month, in minor units.
const PARTNER: i64 = RETAINER_PRICES[1];
const ADVISOR: i64 = RETAINER_PRICES[2];

fn billing(name: &str) -> BillingDetails {
    BillingDetails {
        legal_name: name.into(),
        address: "1 Market Street\nSan Francisco, CA 94105".into(),
        tax_id: Some("US-12-3456789".into()),
        purchase_order: Some(format!("PO-{}", name.len())),
        email: Some("ap@example.com".into()),
    }
}

/// The agreement as escrow shows it to its client, polled until `check` accepts it.
async fn agreement_until(
    world: &World,
    client: &Session,
    id: &str,
    what: &str,
    check: impl Fn(&AgreementView) -> bool,
) -> AgreementView {
    world
        .until(what, async || {
            let agreement = world
                .escrow
                .get_retainer_agreement(&client.agent, id)
                .await
                .ok()?;
            check(&agreement).then_some(agreement)
        })
        .await
}

/// The open invoice's sandbox payment is completed (`pay`) or bounces: a POST to the
/// sandbox's page, as the client's bank or card would answer Stripe.
async fn settle_open_invoice(world: &World, client: &Session, id: &str, pay: bool) -> String {
    let open = agreement_until(world, client, id, "an open invoice to settle", |a| {
        a.payment_url.is_some()
    })
    .await;
    let url = open.payment_url.expect("payment url");
    let action = if pay { "complete" } else { "fail" };
    let response = reqwest::Client::new()
        .post(format!("{url}/{action}"))
        .send()
        .await
        .expect("sandbox payment page");
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    open.invoices.expect("invoices")[0].number.clone()
}

/// The totals the AppView publishes for `maintainer`'s retainers in USD.
async fn appview_totals(world: &World, maintainer: &str) -> Option<Value> {
    let url = format!(
        "{}/xrpc/fund.greenlight.listRetainers?maintainer={maintainer}",
        world.services.appview_url
    );
    let body: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
    body["totals"]
        .as_array()?
        .iter()
        .find(|t| t["currency"] == "USD")
        .cloned()
}

/// What the public ledger says of `maintainer`'s retainer money: (paid by clients, fees,
/// paid out), posted entries only.
fn ledger_totals(entries: &[LedgerEntry], maintainer: &str) -> (i64, i64, i64) {
    let payable = format!("payable:{maintainer}");
    let sum = |kind: &str| -> i64 {
        entries
            .iter()
            .filter(|e| e.kind == kind && e.state == "posted" && e.agreement.is_some())
            .filter(|e| e.credit_account == payable || e.debit_account == payable)
            .map(|e| e.amount)
            .sum()
    };
    (sum("retainer_payment"), sum("fee"), sum("payout"))
}

/// The provider's books (the sandbox stands in for Stripe): what clients paid for
/// retainer invoices, and what was transferred for them.
async fn provider_totals(world: &World) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(&world.services.escrow_database.url)
        .await
        .expect("escrow database");
    let paid: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(p.amount), 0)::bigint FROM sandbox.payment p
         JOIN escrow.retainer_attempt t ON t.payment_id = p.id WHERE p.status = 'succeeded'",
    )
    .fetch_one(&pool)
    .await
    .expect("sandbox payments");
    let transferred: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount), 0)::bigint FROM sandbox.transfer
         WHERE idempotency_key LIKE 'GL-%:payout'",
    )
    .fetch_one(&pool)
    .await
    .expect("sandbox transfers");
    let violations = greenlight_escrow::ledger::invariants::check_books(&pool)
        .await
        .expect("invariants");
    assert!(violations.is_empty(), "escrow invariants: {violations:?}");
    pool.close().await;
    (paid, transferred)
}

/// The published fee of one period's payment.
fn fee(amount: i64) -> i64 {
    greenlight_escrow::fee::split(amount, greenlight_escrow::fee::DEFAULT_FEE_BASIS_POINTS).fee
}

/// Waits until every view of the money agrees: the AppView's totals, the ledger feed and the
/// provider, with the periods paid for `periods` and every payout made.
async fn money_agrees(world: &World, maintainer: &str, periods: &[i64]) {
    let paid: i64 = periods.iter().sum();
    let fees: i64 = periods.iter().map(|amount| fee(*amount)).sum();
    let deadline = tokio::time::Instant::now() + greenlight_tests::world::SETTLE;
    loop {
        let entries = ledger_entries(world).await;
        let ledger = ledger_totals(&entries, maintainer);
        let provider = provider_totals(world).await;
        let appview = appview_totals(world, maintainer).await.and_then(|totals| {
            Some((
                totals["paid"].as_i64()?,
                totals["fees"].as_i64()?,
                totals["paidOut"].as_i64()?,
            ))
        });
        if ledger == (paid, fees, paid - fees)
            && provider == (paid, paid - fees)
            && appview == Some(ledger)
        {
            return;
        }
        let last = format!("ledger {ledger:?}, provider {provider:?}, AppView {appview:?}");
        if tokio::time::Instant::now() > deadline {
            panic!(
                "never saw {paid} paid agreeing everywhere; last: {last}\n{}",
                world.services.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_retain_a_maintainer_period_by_period() {
    let world = World::start(ServicesConfig {
        billing_day_ms: Some(300),
        ..ServicesConfig::default()
    })
    .await;
    let maintainer = world.person("ret-maintainer").await;
    let acme = world.person("ret-acme").await;
    let globex = world.person("ret-globex").await;
    let project = world
        .proven_project(&maintainer, "parser", new_project("Parser", "USD", vec![]))
        .await;
    world
        .escrow
        .connect_payout_account(&maintainer)
        .await
        .expect("payout account");

    // The offer: three tiers.
    let offer = three_tier_offer(project.clone());
    let offer: StrongRef = records::create(&maintainer, &offer, None)
        .await
        .expect("offer")
        .strong_ref();
    let offer_url = format!(
        "{}/xrpc/fund.greenlight.getRetainerOffer?uri={}",
        world.services.appview_url, offer.uri
    );
    world
        .until("the offer indexed and sellable", async || {
            let view: Value = reqwest::get(&offer_url).await.ok()?.json().await.ok()?;
            (view["authorized"] == true && view["cid"] == offer.cid.as_str()).then_some(())
        })
        .await;

    // Acme asks for a quote for the middle tier, on invoice, and wants to be listed.
    let quote = world
        .escrow
        .request_quote(
            &acme.agent,
            &QuoteRequest {
                offer: offer.clone(),
                tier: "Partner",
                billing: billing("Acme Corporation"),
                collection: "invoice",
                listed_publicly: true,
                idempotency_key: "acme-quote-0001",
            },
        )
        .await
        .expect("quote");
    assert_eq!((quote.state.as_str(), quote.amount), ("quoted", PARTNER));
    let quote_page = reqwest::get(quote.quote_url.clone().expect("quote url"))
        .await
        .expect("quote document")
        .text()
        .await
        .expect("quote html");
    assert!(quote_page.contains("QUOTE") && quote_page.contains("Acme Corporation"));
    let started = world
        .escrow
        .start_retainer(&acme.agent, &quote.id, "acme-start-0001")
        .await
        .expect("start");
    assert_eq!(started.state, "active");
    records::create(
        &acme,
        &records::retainer_record(offer.clone(), "Partner", &started.id),
        None,
    )
    .await
    .expect("retainer record");

    // Period 1: invoiced at once, paid by bank transfer.
    let first = settle_open_invoice(&world, &acme, &started.id, true).await;
    money_agrees(&world, maintainer.did(), &[PARTNER]).await;
    // Acme is named on the maintainer's page, among the public clients.
    let page_url = format!(
        "{}/retainers/{}",
        world.services.appview_url,
        maintainer.did()
    );
    world
        .until("Acme on the maintainer's page", async || {
            let page = reqwest::get(&page_url).await.ok()?.text().await.ok()?;
            page.contains(acme.handle()).then_some(())
        })
        .await;
    let invoice = agreement_until(&world, &acme, &started.id, "invoice 1 paid", |a| {
        a.invoices.as_ref().is_some_and(|i| i[0].state == "paid")
    })
    .await
    .invoices
    .expect("invoices")
    .remove(0);
    assert_eq!(invoice.number, first);
    assert_eq!(
        (invoice.fee, invoice.payout),
        (fee(PARTNER), PARTNER - fee(PARTNER))
    );
    assert!(invoice.fee > 0, "the test services publish a fee");
    let pdf = reqwest::get(invoice.pdf_url.expect("pdf url"))
        .await
        .expect("invoice pdf")
        .bytes()
        .await
        .expect("pdf bytes");
    assert!(pdf.starts_with(b"%PDF-"));

    // Period 2: the first charge bounces, the retry on the schedule succeeds.
    agreement_until(&world, &acme, &started.id, "period 2 invoiced", |a| {
        a.invoices.as_ref().is_some_and(|i| i.len() == 2) && a.payment_url.is_some()
    })
    .await;
    settle_open_invoice(&world, &acme, &started.id, false).await;
    agreement_until(&world, &acme, &started.id, "past due", |a| {
        a.state == "past_due"
    })
    .await;
    settle_open_invoice(&world, &acme, &started.id, true).await;
    agreement_until(&world, &acme, &started.id, "active again", |a| {
        a.state == "active"
    })
    .await;
    money_agrees(&world, maintainer.did(), &[PARTNER, PARTNER]).await;

    // Acme upgrades: from the next period.
    let changed = world
        .escrow
        .change_retainer_tier(&acme.agent, &started.id, "Advisor", "acme-upgrade-01")
        .await
        .expect("upgrade");
    assert_eq!(changed.tier, "Partner");
    assert_eq!(changed.next_amount, Some(ADVISOR));

    // Period 3 at the new price.
    agreement_until(
        &world,
        &acme,
        &started.id,
        "period 3 at the new tier",
        |a| a.invoices.as_ref().is_some_and(|i| i.len() == 3) && a.payment_url.is_some(),
    )
    .await;
    let third = world
        .escrow
        .get_retainer_agreement(&acme.agent, &started.id)
        .await
        .expect("agreement");
    assert_eq!(
        (
            third.tier.as_str(),
            third.invoices.expect("invoices")[0].amount
        ),
        ("Advisor", ADVISOR)
    );
    settle_open_invoice(&world, &acme, &started.id, true).await;
    money_agrees(&world, maintainer.did(), &[PARTNER, PARTNER, ADVISOR]).await;

    // Acme cancels: it runs to the end of the paid period, then ends; no fourth invoice.
    let cancelled = world
        .escrow
        .cancel_retainer(&acme.agent, &started.id, "acme-cancel-001")
        .await
        .expect("cancel");
    assert_eq!(cancelled.state, "cancelling");
    let ended = agreement_until(
        &world,
        &acme,
        &started.id,
        "ended at the period's end",
        |a| a.state == "ended",
    )
    .await;
    assert_eq!(ended.invoices.expect("invoices").len(), 3);

    // Globex, unlisted, on card: its charge and every retry fail, and it lapses.
    let globex_quote = world
        .escrow
        .request_quote(
            &globex.agent,
            &QuoteRequest {
                offer: offer.clone(),
                tier: "Supporter",
                billing: billing("Globex"),
                collection: "card",
                listed_publicly: false,
                idempotency_key: "globex-quote-01",
            },
        )
        .await
        .expect("globex quote");
    let globex_started = world
        .escrow
        .start_retainer(&globex.agent, &globex_quote.id, "globex-start-01")
        .await
        .expect("globex start");
    for _attempt in 0..4 {
        settle_open_invoice(&world, &globex, &globex_started.id, false).await;
        let now = agreement_until(
            &world,
            &globex,
            &globex_started.id,
            "the failure recorded",
            |a| a.payment_url.is_none(),
        )
        .await;
        if now.state == "lapsed" {
            break;
        }
    }
    let lapsed = agreement_until(&world, &globex, &globex_started.id, "lapsed", |a| {
        a.state == "lapsed"
    })
    .await;
    assert_eq!(lapsed.invoices.expect("invoices")[0].state, "void");

    // Totals still agree to the cent; Globex is never named, Acme is.
    money_agrees(&world, maintainer.did(), &[PARTNER, PARTNER, ADVISOR]).await;
    let entries = ledger_entries(&world).await;
    assert!(entries
        .iter()
        .all(|e| e.backer.as_deref() != Some(globex.did())));
    assert!(entries
        .iter()
        .any(|e| e.kind == "retainer_payment" && e.backer.as_deref() == Some(acme.did())));
    let page = reqwest::get(&page_url)
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        !page.contains(globex.handle()),
        "an unlisted client is not named"
    );
    // One ended, one lapsed: no company retains the maintainer any more.
    world
        .until("no active clients left in the AppView", async || {
            let totals = appview_totals(&world, maintainer.did()).await?;
            (totals["activeClients"] == 0 && totals["listedClients"] == 0).then_some(())
        })
        .await;

    // The maintainer's year, from the ledger.
    use chrono::Datelike;
    let income = world
        .escrow
        .get_income_statement(&maintainer.agent, chrono::Utc::now().year())
        .await
        .expect("income");
    let usd = income
        .currencies
        .iter()
        .find(|c| c.currency == "USD")
        .expect("USD income");
    assert_eq!(usd.retainers, 2 * PARTNER + ADVISOR);
    assert_eq!(usd.net, usd.gross - usd.fees);
    tokio::time::sleep(Duration::from_millis(10)).await;
    world.stop().await;
}
