//! Retainers in escrow: quotes, billing period by period through the sandbox provider, the
//! ledger and the payout jobs; retries on the published schedule, lapse, tier changes from
//! the next period, cancellation at the end of the paid period; refusals that record nothing;
//! crash injection at every new money step; the documents and the income statement. Every
//! test ends with the books' invariants (including one charge and one payout per period).

mod support;

use chrono::Duration;
use greenlight_escrow::failpoint::{FailAction, FailPoints};
use greenlight_escrow::procedures::retainer as procedures;
use greenlight_escrow::proposal_source::OfferInfo;
use greenlight_escrow::retainer::documents;
use greenlight_escrow::EscrowError;
use greenlight_funding::retainer::{INVOICE_DUE_DAYS, RETRY_SCHEDULE_DAYS};
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{
    AgreementView, BillingDetails, VendorDetails,
};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_retainer, change_retainer_tier, list_retainer_states, request_quote, set_vendor_details,
    start_retainer,
};
use sqlx::PgPool;
use support::offers::{self, tier, OFFER_CID};
use support::*;

const CLIENT: &str = "did:plc:acmecorp";
const OFFER: &str = "at://did:plc:maintainer/fund.greenlight.retainerOffer/3kretainer";

/// Three tiers, as the background describes: nobody buys the lowest.
fn three_tiers(partner_seats: Option<i64>) -> OfferInfo {
    offers::offer(
        OFFER,
        vec![
            tier("Supporter", 50_000, None),
            tier("Partner", 150_000, partner_seats),
            tier("Advisor", 500_000, Some(2)),
        ],
    )
}

fn put_offer(h: &Harness, seats: Option<i64>) {
    h.proposals.put_offer(three_tiers(seats));
}

fn billing() -> BillingDetails {
    BillingDetails {
        legal_name: "Acme Widgets GmbH".into(),
        address: "Hauptstraße 1\n10115 Berlin\nGermany".into(),
        tax_id: Some("DE123456789".into()),
        purchase_order: Some("PO-2030-0042".into()),
        email: Some("ap@acme.example".into()),
    }
}

fn quote_input(h: &Harness, tier: &str, listed: bool) -> request_quote::Input {
    request_quote::Input {
        offer: strong_ref_with(OFFER, OFFER_CID),
        tier: tier.into(),
        billing: billing(),
        collection: "invoice".into(),
        listed_publicly: Some(listed),
        idempotency_key: h.key(),
    }
}

fn strong_ref_with(
    uri: &str,
    cid: &str,
) -> greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef {
    greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef {
        uri: uri.into(),
        cid: cid.into(),
    }
}

async fn started(h: &Harness, client: &str, tier: &str, listed: bool) -> AgreementView {
    let quote = procedures::request_quote(&h.escrow, client, &quote_input(h, tier, listed))
        .await
        .unwrap();
    assert_eq!(quote.state, "quoted");
    procedures::start_retainer(
        &h.escrow,
        client,
        &start_retainer::Input {
            agreement: quote.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap()
}

async fn agreement(h: &Harness, id: &str) -> AgreementView {
    procedures::get_retainer_agreement(&h.escrow, MAINTAINER, id)
        .await
        .unwrap()
}

/// The open attempt's payment of an agreement.
async fn open_payment(h: &Harness, agreement: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT t.payment_id FROM escrow.retainer_attempt t
         JOIN escrow.retainer_invoice i ON i.number = t.invoice
         WHERE i.agreement = $1 AND t.state = 'open'",
    )
    .bind(agreement)
    .fetch_optional(&h.pool)
    .await
    .unwrap()
}

/// The client pays (or the payment bounces) at the sandbox, and the webhook arrives.
async fn settle(h: &Harness, agreement: &str, succeeded: bool) {
    let payment = open_payment(h, agreement)
        .await
        .expect("an open payment to settle");
    let signed = h
        .sandbox()
        .settle_payment(&payment, succeeded)
        .await
        .unwrap()
        .expect("still open at the sandbox");
    h.deliver(&signed).await.unwrap();
}

/// Advances the clock by `days` and runs the worker twice (billing, then the payout jobs
/// that billing queued are already run in the same tick; twice settles anything woken).
async fn days_pass(h: &Harness, days: i64) {
    h.advance(Duration::days(days));
    h.tick().await.unwrap();
    h.tick().await.unwrap();
}

async fn transfers_to_maintainer(h: &Harness) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), coalesce(sum(amount), 0)::bigint FROM sandbox.transfer")
        .fetch_one(&h.pool)
        .await
        .unwrap()
}

async fn sandbox_payments(h: &Harness, agreement: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM sandbox.payment p
         JOIN escrow.retainer_attempt t ON t.payment_id = p.id
         JOIN escrow.retainer_invoice i ON i.number = t.invoice
         WHERE i.agreement = $1",
    )
    .bind(agreement)
    .fetch_one(&h.pool)
    .await
    .unwrap()
}

async fn harness(pool: PgPool) -> Harness {
    let h = Harness::new(pool).await;
    put_offer(&h, None);
    h.connect_maintainer().await;
    h
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn three_periods_are_invoiced_paid_and_paid_out_minus_the_fee(pool: PgPool) {
    let h = harness(pool).await;
    let started = started(&h, CLIENT, "Partner", false).await;
    assert_eq!(started.state, "active");
    assert_eq!(started.amount, 150_000);
    let invoices = started.invoices.clone().unwrap();
    assert_eq!(invoices.len(), 1, "the first period is invoiced at once");
    assert!(started.payment_url.is_some(), "and can be paid");

    let mut numbers = Vec::new();
    for period in 1..=3 {
        settle(&h, &started.id, true).await;
        h.tick().await.unwrap();
        let now = agreement(&h, &started.id).await;
        let invoices = now.invoices.unwrap();
        assert_eq!(invoices.len(), period);
        let latest = &invoices[0];
        assert_eq!(latest.state, "paid");
        assert_eq!(
            (latest.amount, latest.fee, latest.payout),
            (150_000, 7_500, 142_500)
        );
        numbers.push(latest.number.clone());
        let (count, sum) = transfers_to_maintainer(&h).await;
        assert_eq!(
            (count, sum),
            (period as i64, period as i64 * 142_500),
            "one payout per paid period, minus the fee"
        );
        h.assert_books_sound().await;
        if period < 3 {
            // A month later the next period begins, with its own invoice.
            days_pass(&h, 31).await;
        }
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 3, "every invoice has its own number");
    assert!(numbers.iter().all(|n| n.starts_with("GL-")));
    assert_eq!(
        sandbox_payments(&h, &started.id).await,
        3,
        "one charge per period"
    );
    assert_eq!(h.balance("platform_fees").await.credit_balance(), 22_500);

    // The public feed: retainer income per maintainer, the unlisted client unnamed.
    let feed = greenlight_escrow::procedures::queries::list_ledger_entries(
        &h.escrow,
        &greenlight_lexicon::fund::greenlight::escrow::list_ledger_entries::Params {
            cursor: None,
            limit: Some(1000),
        },
    )
    .await
    .unwrap();
    let payments: Vec<_> = feed
        .entries
        .iter()
        .filter(|entry| entry.kind == "retainer_payment")
        .collect();
    assert_eq!(payments.len(), 3);
    assert!(payments.iter().all(|entry| entry.backer.is_none()
        && entry.maintainer.as_deref() == Some(MAINTAINER)
        && entry.agreement.as_deref() == Some(started.id.as_str())));
    let payouts: Vec<_> = feed
        .entries
        .iter()
        .filter(|entry| entry.kind == "payout" && entry.state == "posted")
        .collect();
    assert_eq!(payouts.len(), 3);
    assert!(
        payouts
            .iter()
            .all(|entry| entry.agreement.as_deref() == Some(started.id.as_str())),
        "each payout is in the feed under its agreement, as its payment and fee are"
    );
    let states = procedures::list_retainer_states(
        &h.escrow,
        &list_retainer_states::Params {
            cursor: None,
            limit: None,
        },
    )
    .await
    .unwrap();
    let state = states.states.last().unwrap();
    assert_eq!(state.agreement, started.id);
    assert_eq!(state.client, None, "an unlisted client is not named");
    assert_eq!(state.paid_periods, 3);
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_failed_charge_is_retried_on_the_published_schedule_and_then_succeeds(pool: PgPool) {
    let h = harness(pool).await;
    let a = started(&h, CLIENT, "Partner", true).await;
    settle(&h, &a.id, false).await;
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.state, "past_due");
    assert_eq!(now.failed_attempts, Some(1));
    assert!(now.next_retry_at.is_some());
    assert!(now.payment_url.is_none(), "nothing to pay until the retry");

    // Not before the first retry day.
    days_pass(&h, i64::from(RETRY_SCHEDULE_DAYS[0]) - 1).await;
    assert!(open_payment(&h, &a.id).await.is_none());
    days_pass(&h, 1).await;
    assert!(open_payment(&h, &a.id).await.is_some(), "retried on day 3");
    settle(&h, &a.id, true).await;
    h.tick().await.unwrap();
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.state, "active");
    assert_eq!(now.invoices.unwrap()[0].state, "paid");
    assert_eq!(transfers_to_maintainer(&h).await, (1, 142_500));
    assert_eq!(
        sandbox_payments(&h, &a.id).await,
        2,
        "the failed charge and its retry"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn an_unpaid_invoice_fails_when_due_and_every_retry_failing_lapses_it(pool: PgPool) {
    let h = harness(pool).await;
    let a = started(&h, CLIENT, "Partner", false).await;
    // Nobody pays: the invoice fails when due.
    days_pass(&h, i64::from(INVOICE_DUE_DAYS)).await;
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.state, "past_due", "unpaid when due is a failed payment");
    // Each retry on the schedule fails too.
    let mut day = 0;
    for (n, retry_day) in RETRY_SCHEDULE_DAYS.iter().enumerate() {
        days_pass(&h, i64::from(*retry_day) - day).await;
        day = i64::from(*retry_day);
        assert!(open_payment(&h, &a.id).await.is_some(), "retry {n} opened");
        settle(&h, &a.id, false).await;
    }
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.state, "lapsed");
    assert_eq!(
        now.invoices.unwrap()[0].state,
        "void",
        "nothing is owed any more"
    );
    days_pass(&h, 60).await;
    let now = agreement(&h, &a.id).await;
    assert_eq!(
        now.invoices.unwrap().len(),
        1,
        "a lapsed agreement is never billed again"
    );
    assert_eq!(transfers_to_maintainer(&h).await, (0, 0));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn an_upgrade_waits_for_the_next_period_and_a_cancel_runs_to_the_paid_periods_end(
    pool: PgPool,
) {
    let h = harness(pool).await;
    let a = started(&h, CLIENT, "Partner", true).await;
    settle(&h, &a.id, true).await;
    let changed = procedures::change_retainer_tier(
        &h.escrow,
        CLIENT,
        &change_retainer_tier::Input {
            agreement: a.id.clone(),
            tier: "Advisor".into(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        changed.tier, "Partner",
        "the running period is never re-priced"
    );
    assert_eq!(changed.next_tier.as_deref(), Some("Advisor"));
    assert_eq!(changed.next_amount, Some(500_000));

    days_pass(&h, 31).await;
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.tier, "Advisor");
    assert_eq!(now.invoices.as_ref().unwrap()[0].amount, 500_000);
    settle(&h, &a.id, true).await;

    let cancelled = procedures::cancel_retainer(
        &h.escrow,
        CLIENT,
        &cancel_retainer::Input {
            agreement: a.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        cancelled.state, "cancelling",
        "runs to the end of the paid period"
    );
    days_pass(&h, 10).await;
    assert_eq!(agreement(&h, &a.id).await.state, "cancelling");
    days_pass(&h, 25).await;
    let now = agreement(&h, &a.id).await;
    assert_eq!(now.state, "ended");
    assert_eq!(
        now.invoices.unwrap().len(),
        2,
        "no period after the cancellation"
    );
    assert_eq!(
        transfers_to_maintainer(&h).await,
        (2, 142_500 + 475_000),
        "both paid periods paid out"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn refused_calls_record_nothing(pool: PgPool) {
    let h = Harness::new(pool).await;
    put_offer(&h, Some(1));
    // No payout account yet.
    let refused =
        procedures::request_quote(&h.escrow, CLIENT, &quote_input(&h, "Partner", false)).await;
    assert_eq!(error_name(refused), "PayoutAccountMissing");
    h.connect_maintainer().await;
    let mut wrong_tier = quote_input(&h, "Platinum", false);
    wrong_tier.tier = "Platinum".into();
    assert_eq!(
        error_name(procedures::request_quote(&h.escrow, CLIENT, &wrong_tier).await),
        "NoSuchTier"
    );
    let mut stale = quote_input(&h, "Partner", false);
    stale.offer.cid = "bafyreiaaaa".into();
    assert_eq!(
        error_name(procedures::request_quote(&h.escrow, CLIENT, &stale).await),
        "NotFound"
    );
    let mut unknown = quote_input(&h, "Partner", false);
    unknown.offer.uri = "at://did:plc:x/fund.greenlight.retainerOffer/nope".into();
    assert_eq!(
        error_name(procedures::request_quote(&h.escrow, CLIENT, &unknown).await),
        "NotFound"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM escrow.retainer_agreement")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "a refused quote leaves no agreement");

    // The one seat of Partner: a second client is refused at the quote and at the start.
    let first = started(&h, CLIENT, "Partner", false).await;
    assert_eq!(
        error_name(
            procedures::request_quote(
                &h.escrow,
                "did:plc:other",
                &quote_input(&h, "Partner", false)
            )
            .await
        ),
        "TierFull"
    );
    // Someone else cannot start, change or cancel the client's agreement.
    let stranger = procedures::cancel_retainer(
        &h.escrow,
        "did:plc:other",
        &cancel_retainer::Input {
            agreement: first.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await;
    assert_eq!(error_name(stranger), "NotTheClient");
    assert_eq!(
        error_name(procedures::get_retainer_agreement(&h.escrow, "did:plc:other", &first.id).await),
        "NotFound",
        "a stranger cannot even read it"
    );
    let started_twice = procedures::start_retainer(
        &h.escrow,
        CLIENT,
        &start_retainer::Input {
            agreement: first.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await;
    assert_eq!(error_name(started_twice), "NotQuoted");
    // While past due, no tier change: settle the payment first.
    settle(&h, &first.id, false).await;
    let past_due = procedures::change_retainer_tier(
        &h.escrow,
        CLIENT,
        &change_retainer_tier::Input {
            agreement: first.id.clone(),
            tier: "Advisor".into(),
            idempotency_key: h.key(),
        },
    )
    .await;
    assert_eq!(error_name(past_due), "NotActive");
    // An unauthorised offer quotes nothing.
    h.proposals.put_offer(OfferInfo {
        authorized: false,
        ..three_tiers(Some(1))
    });
    assert_eq!(
        error_name(
            procedures::request_quote(
                &h.escrow,
                "did:plc:third",
                &quote_input(&h, "Advisor", false)
            )
            .await
        ),
        "OfferNotAuthorized"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_quote_repeated_with_its_key_is_one_agreement(pool: PgPool) {
    let h = harness(pool).await;
    let input = quote_input(&h, "Partner", false);
    let first = procedures::request_quote(&h.escrow, CLIENT, &input)
        .await
        .unwrap();
    let again = procedures::request_quote(&h.escrow, CLIENT, &input)
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    let mut other = input.clone();
    other.tier = "Advisor".into();
    assert_eq!(
        error_name(procedures::request_quote(&h.escrow, CLIENT, &other).await),
        "IdempotencyConflict"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn money_for_a_void_invoice_goes_back_to_the_client(pool: PgPool) {
    let h = harness(pool).await;
    let a = started(&h, CLIENT, "Partner", false).await;
    let payment = open_payment(&h, &a.id).await.unwrap();
    // Cancelled before paying: the period's invoice is void at once.
    let cancelled = procedures::cancel_retainer(
        &h.escrow,
        CLIENT,
        &cancel_retainer::Input {
            agreement: a.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    assert_eq!(cancelled.state, "ended");
    assert_eq!(cancelled.invoices.unwrap()[0].state, "void");
    assert_eq!(cancelled.payment_url, None);
    // Its payment page is closed: there is nothing left to pay.
    assert_eq!(
        greenlight_escrow::provider::checkout_state(&h.pool, "sandbox", &payment)
            .await
            .unwrap(),
        greenlight_escrow::provider::CheckoutState::Closed
    );
    // The bank transfer arrives anyway (the provider reports it).
    sqlx::query("UPDATE sandbox.payment SET status = 'succeeded' WHERE id = $1")
        .bind(&payment)
        .execute(&h.pool)
        .await
        .unwrap();
    let signed = h
        .sandbox()
        .emit(
            "payment_intent.succeeded",
            serde_json::json!({"id": payment, "object": "payment_intent", "amount": 150_000,
                "amount_received": 150_000, "currency": "usd", "status": "succeeded"}),
        )
        .await
        .unwrap();
    h.deliver(&signed).await.unwrap();
    h.tick().await.unwrap();
    let (refunds, transfers) = h.provider_movements().await;
    assert_eq!(refunds, (1, 150_000), "returned in full");
    assert_eq!(transfers, (0, 0), "nothing paid out for a void invoice");
    h.assert_books_sound().await;
}

fn armed(point: &str) -> FailPoints {
    let points = FailPoints::none();
    points.arm(point, FailAction::Error);
    points
}

/// Crash at each new money step (and the payout steps the periods reuse); a restarted escrow
/// finishes the work with exactly one charge and one payout per period.
#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_crash_at_any_retainer_step_ends_with_one_charge_and_one_payout_per_period(pool: PgPool) {
    let points = [
        "retainer.after_charge",
        "retainer.before_payment_commit",
        "retainer.before_period_commit",
        "payout.after_reserve",
        "payout.before_provider_call",
        "payout.after_provider_call",
        "payout.after_post",
    ];
    let base = harness(pool.clone()).await;
    for (n, point) in points.iter().enumerate() {
        let h = Harness::with_failpoints(pool.clone(), armed(point)).await;
        h.clock.set(base.now() + Duration::days(400 * n as i64));
        put_offer(&h, None);
        let client = format!("did:plc:client{n}");
        // Two periods, each through the armed step at most once (it disarms after firing).
        let quote =
            procedures::request_quote(&h.escrow, &client, &quote_input(&h, "Partner", false))
                .await
                .unwrap();
        let _ = procedures::start_retainer(
            &h.escrow,
            &client,
            &start_retainer::Input {
                agreement: quote.id.clone(),
                idempotency_key: h.key(),
            },
        )
        .await;
        let restarted = h.restart(FailPoints::none());
        // A crash after the provider opened the first payment, before escrow recorded it.
        let mut crashed = open_payment(&h, &quote.id).await.is_none();
        for _period in 0..2 {
            // The worker collects what a crash left unopened.
            for _ in 0..3 {
                if let Err(error) = h.tick().await {
                    assert!(
                        matches!(error, EscrowError::Injected(_)),
                        "{point}: {error}"
                    );
                    crashed = true;
                }
            }
            let payment = open_payment(&restarted, &quote.id).await.expect(point);
            let signed = restarted
                .sandbox()
                .settle_payment(&payment, true)
                .await
                .unwrap()
                .unwrap();
            // The webhook may crash before committing: the provider delivers it again.
            if h.deliver(&signed).await.is_err() {
                crashed = true;
                restarted.deliver(&signed).await.unwrap();
            }
            // Redelivered once more anyway: a duplicate.
            restarted.deliver(&signed).await.unwrap();
            for _ in 0..3 {
                if let Err(error) = h.tick().await {
                    assert!(
                        matches!(error, EscrowError::Injected(_)),
                        "{point}: {error}"
                    );
                    crashed = true;
                }
                restarted.tick().await.unwrap();
            }
            h.advance(Duration::days(31));
        }
        assert!(crashed, "{point} was reached");
        restarted.tick().await.unwrap();
        let invoices: Vec<(String, String)> = sqlx::query_as(
            "SELECT number, state FROM escrow.retainer_invoice WHERE agreement = $1 ORDER BY period_index",
        )
        .bind(&quote.id)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(invoices.len() >= 2, "{point}: {invoices:?}");
        let paid = invoices.iter().filter(|(_, state)| state == "paid").count();
        assert_eq!(paid, 2, "{point}: {invoices:?}");
        for (number, _) in invoices.iter().filter(|(_, state)| state == "paid") {
            let (charges, transfers): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM sandbox.payment p JOIN escrow.retainer_attempt t
                         ON t.payment_id = p.id WHERE t.invoice = $1 AND p.status = 'succeeded'),
                        (SELECT count(*) FROM sandbox.transfer WHERE idempotency_key = $1 || ':payout')",
            )
            .bind(number)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!((charges, transfers), (1, 1), "{point}: {number}");
        }
        restarted.assert_books_sound().await;
    }
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn documents_are_numbered_private_and_immutable_and_income_adds_up(pool: PgPool) {
    let h = harness(pool).await;
    // The maintainer as vendor, as their invoices must name them.
    let vendor = |name: &str| set_vendor_details::Input {
        details: VendorDetails {
            legal_name: name.into(),
            address: "12 Rue des Fleurs\n75001 Paris\nFrance".into(),
            tax_id: Some("FR12345678901".into()),
            email: Some("billing@maintainer.example".into()),
        },
    };
    procedures::set_vendor_details(&h.escrow, MAINTAINER, &vendor("Maintainer SARL"))
        .await
        .unwrap();
    let a = started(&h, CLIENT, "Partner", true).await;
    settle(&h, &a.id, true).await;
    h.tick().await.unwrap();
    let now = agreement(&h, &a.id).await;
    let invoice = &now.invoices.as_ref().unwrap()[0];

    // The invoice as HTML and PDF, from the frozen facts.
    let number = invoice.number.as_str();
    let html = match documents::quote_or_invoice(&h.escrow, number, "html")
        .await
        .unwrap()
    {
        Some(documents::Rendered::Html(page)) => page,
        _ => panic!("no html"),
    };
    for needle in [
        number,
        "Acme Widgets GmbH",
        "DE123456789",
        "PO-2030-0042",
        "Hauptstra",
    ] {
        assert!(html.contains(needle), "{needle} missing from the invoice");
    }
    assert!(html.contains("Paid"), "the invoice says it is paid");
    for needle in ["Maintainer SARL", "FR12345678901", "75001 Paris"] {
        assert!(html.contains(needle), "the vendor's {needle} missing");
    }
    // New details name the maintainer on later documents; an issued one keeps what it said.
    procedures::set_vendor_details(&h.escrow, MAINTAINER, &vendor("Maintainer Holding SAS"))
        .await
        .unwrap();
    match documents::quote_or_invoice(&h.escrow, number, "html")
        .await
        .unwrap()
    {
        Some(documents::Rendered::Html(again)) => {
            assert!(again.contains("Maintainer SARL") && !again.contains("Holding"))
        }
        _ => panic!("no html"),
    }
    let pdf = match documents::quote_or_invoice(&h.escrow, number, "pdf")
        .await
        .unwrap()
    {
        Some(documents::Rendered::Pdf(bytes)) => bytes,
        _ => panic!("no pdf"),
    };
    assert!(pdf.starts_with(b"%PDF-"));
    let quote_number = now.quote_number.clone().unwrap();
    assert!(matches!(
        documents::quote_or_invoice(&h.escrow, &quote_number, "html").await.unwrap(),
        Some(documents::Rendered::Html(page)) if page.contains("QUOTE") && page.contains("Acme Widgets GmbH")
    ));

    // Addresses carry a capability: only the one escrow handed out opens the document.
    let url = invoice.document_url.clone().unwrap();
    let token = url.split("token=").nth(1).unwrap();
    assert!(documents::token_matches(&h.escrow, number, token));
    assert!(!documents::token_matches(
        &h.escrow,
        "GL-2030-999999",
        token
    ));
    assert!(!documents::token_matches(&h.escrow, number, "00"));

    // Issued means immutable: the database refuses to change what an invoice says.
    let changed = sqlx::query("UPDATE escrow.retainer_invoice SET amount = 1 WHERE number = $1")
        .bind(number)
        .execute(&h.pool)
        .await;
    assert!(changed.is_err(), "an issued invoice cannot change");
    let deleted = sqlx::query("DELETE FROM escrow.retainer_invoice WHERE number = $1")
        .bind(number)
        .execute(&h.pool)
        .await;
    assert!(deleted.is_err(), "nor be deleted");

    // The maintainer's year, from the ledger.
    use chrono::Datelike;
    let year = h.now().year();
    let income = procedures::get_income_statement(&h.escrow, MAINTAINER, i64::from(year))
        .await
        .unwrap();
    let usd = income
        .currencies
        .iter()
        .find(|c| c.currency == "USD")
        .unwrap();
    assert_eq!(
        (usd.gross, usd.fees, usd.net, usd.retainers),
        (150_000, 7_500, 142_500, 150_000)
    );
    let statement = documents::income_statement(&h.escrow, MAINTAINER, year, "USD")
        .await
        .unwrap();
    assert_eq!(statement.lines.len(), 1);
    let empty = procedures::get_income_statement(&h.escrow, MAINTAINER, i64::from(year - 1))
        .await
        .unwrap();
    assert!(empty.currencies.is_empty());
    h.assert_books_sound().await;
}
