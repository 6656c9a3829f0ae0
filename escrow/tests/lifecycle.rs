//! Every lifecycle path end to end through escrow's procedures, webhooks and worker, with the
//! AppView replaced by an in-process stand-in (`InMemoryProposals`) and time by a manual
//! clock: weeks pass without sleeping. Each test ends by checking every invariant.

mod support;

use chrono::Duration;
use greenlight_escrow::jobs;
use greenlight_escrow::procedures::{dispute, donation, pledge, queries};
use greenlight_escrow::proposal_source::{ProposalInfo, ProposalSource, Stage};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_pledge, create_donation, file_dispute, get_largest_contribution, resolve_dispute,
};
use sqlx::PgPool;
use support::*;

async fn state(
    h: &Harness,
    uri: &str,
) -> greenlight_lexicon::fund::greenlight::escrow::defs::ProposalState {
    queries::get_proposal_state(&h.escrow, uri).await.unwrap()
}

fn dispute_input(h: &Harness, uri: &str) -> file_dispute::Input {
    file_dispute::Input {
        proposal: strong_ref(uri),
        reason: "The release does not contain the previewed feature.".into(),
        evidence: Some(vec!["https://example.com/diff".into()]),
        idempotency_key: h.key(),
    }
}

fn resolution(h: &Harness, dispute: &str, outcome: &str) -> resolve_dispute::Input {
    resolve_dispute::Input {
        dispute: dispute.into(),
        outcome: outcome.into(),
        note: "Checked against the preview.".into(),
        idempotency_key: h.key(),
    }
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn pledge_release_verification_payout(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(1);
    let a = h.held_pledge("did:plc:alice", &uri, 10_000).await;
    let b = h.held_pledge("did:plc:bob", &uri, 1_999).await;
    assert_eq!(a.state, "held");
    assert_eq!(state(&h, &uri).await.held, 11_999);
    h.assert_books_sound().await;

    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    let verifying = state(&h, &uri).await;
    assert_eq!(verifying.payout_state, "verifying");
    assert!(verifying.verification_ends_at.is_some());

    // Thirteen days in: still verifying, nothing paid.
    h.advance(Duration::days(13));
    let report = h.tick().await.unwrap();
    assert!(report.paid.is_empty());
    assert_eq!(h.provider_movements().await.1, (0, 0));

    h.advance(Duration::days(1));
    let report = h.tick().await.unwrap();
    assert_eq!(report.paid, vec![uri.clone()]);
    // 5 % of 11 999 is 599.95: the fee rounds down to 599 and the maintainer gets 11 400.
    assert_eq!(h.provider_movements().await, ((0, 0), (1, 11_400)));
    let paid = state(&h, &uri).await;
    assert_eq!(
        (paid.held, paid.paid_out, paid.fees, paid.pledge_count),
        (0, 11_400, 599, 2)
    );
    assert_eq!(paid.payout_state, "paid");
    assert_eq!(h.pledge(&a.id).await.state, "paid_out");
    assert_eq!(h.pledge(&b.id).await.state, "paid_out");
    assert_eq!(h.balance("platform_fees").await.credits_posted, 599);

    let largest = queries::get_largest_contribution(
        &h.escrow,
        &get_largest_contribution::Params {
            did: "did:plc:alice".into(),
            currency: "USD".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(largest.amount, 10_000);
    // Ticking again changes nothing: the payout happened once.
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.1, (1, 11_400));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn decline_refunds_every_held_pledge(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(2);
    let a = h.held_pledge("did:plc:alice", &uri, 5_000).await;
    let b = h.held_pledge("did:plc:bob", &uri, 700).await;
    let waiting = h.pending_pledge("did:plc:carol", &uri, 900).await;
    h.set_stage(&uri, Stage::Declined);
    let report = h.tick().await.unwrap();
    assert_eq!(report.refunded, vec![uri.clone()]);
    assert_eq!(report.jobs.done, 2);
    assert_eq!(h.provider_movements().await, ((2, 5_700), (0, 0)));
    assert_eq!(h.pledge(&a.id).await.state, "refunded");
    assert_eq!(h.pledge(&b.id).await.state, "refunded");
    assert_eq!(h.pledge(&waiting.id).await.state, "failed");
    let s = state(&h, &uri).await;
    assert_eq!(
        (s.held, s.refunded, s.payout_state.as_str()),
        (0, 5_700, "refunded")
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn no_release_within_the_grace_period_refunds(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(3);
    h.held_pledge("did:plc:alice", &uri, 2_500).await;
    // The preview ends after 10 days; the grace period is 7 more.
    h.advance(Duration::days(16));
    assert!(h.tick().await.unwrap().refunded.is_empty());
    h.advance(Duration::days(1));
    assert_eq!(h.tick().await.unwrap().refunded, vec![uri.clone()]);
    assert_eq!(h.provider_movements().await, ((1, 2_500), (0, 0)));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_deleted_proposal_still_settles(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(4);
    h.held_pledge("did:plc:alice", &uri, 2_500).await;
    h.proposals.remove(&uri);
    h.advance(Duration::days(18));
    assert_eq!(h.tick().await.unwrap().refunded, vec![uri.clone()]);
    assert_eq!(h.provider_movements().await, ((1, 2_500), (0, 0)));
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn an_upheld_dispute_refunds_everyone(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(5);
    h.held_pledge("did:plc:alice", &uri, 3_000).await;
    h.held_pledge("did:plc:bob", &uri, 4_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    let filed = dispute::file_dispute(&h.escrow, "did:plc:alice", &dispute_input(&h, &uri))
        .await
        .unwrap();
    assert_eq!(filed.state, "open");
    assert_eq!(state(&h, &uri).await.payout_state, "frozen");
    let second = dispute::file_dispute(&h.escrow, "did:plc:bob", &dispute_input(&h, &uri))
        .await
        .unwrap();
    // Verification ends while the disputes are open: the payout stays frozen.
    h.advance(Duration::days(20));
    assert!(h.tick().await.unwrap().paid.is_empty());
    assert_eq!(h.provider_movements().await, ((0, 0), (0, 0)));

    let resolved = dispute::resolve_dispute(&h.escrow, &resolution(&h, &filed.id, "upheld"))
        .await
        .unwrap();
    assert_eq!(resolved.state, "upheld");
    assert!(resolved.resolved_at.is_some());
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await, ((2, 7_000), (0, 0)));
    let s = state(&h, &uri).await;
    assert_eq!(
        (s.payout_state.as_str(), s.open_disputes, s.refunded),
        ("refunded", 0, 7_000)
    );
    // The other open dispute was closed with it; resolving it again is refused.
    let again = dispute::resolve_dispute(&h.escrow, &resolution(&h, &second.id, "rejected")).await;
    assert_eq!(error_name(again), "DisputeAlreadyResolved");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_rejected_dispute_lets_the_payout_continue(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(6);
    h.held_pledge("did:plc:alice", &uri, 10_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    let filed = dispute::file_dispute(&h.escrow, "did:plc:alice", &dispute_input(&h, &uri))
        .await
        .unwrap();
    let twice = dispute::file_dispute(&h.escrow, "did:plc:alice", &dispute_input(&h, &uri)).await;
    assert_eq!(error_name(twice), "DisputeAlreadyOpen");
    let stranger =
        dispute::file_dispute(&h.escrow, "did:plc:mallory", &dispute_input(&h, &uri)).await;
    assert_eq!(error_name(stranger), "NotABacker");
    h.advance(Duration::days(15));
    assert!(h.tick().await.unwrap().paid.is_empty());
    dispute::resolve_dispute(&h.escrow, &resolution(&h, &filed.id, "rejected"))
        .await
        .unwrap();
    assert_eq!(h.tick().await.unwrap().paid, vec![uri.clone()]);
    assert_eq!(h.provider_movements().await, ((0, 0), (1, 9_500)));
    // After verification, disputes are closed.
    let late = dispute::file_dispute(&h.escrow, "did:plc:alice", &dispute_input(&h, &uri)).await;
    assert_eq!(error_name(late), "ProposalNotVerifying");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_donation_is_paid_at_once_minus_the_fee(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = proposal_uri(7);
    h.proposals.put(ProposalInfo {
        uri: uri.clone(),
        cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
        stage: Stage::Development,
        currency: "USD".into(),
        project: Some(format!("at://{MAINTAINER}/fund.greenlight.project/app")),
        project_verified: true,
        maintainer: Some(MAINTAINER.into()),
        preview_ends_at: None,
    });
    let input = create_donation::Input {
        proposal: strong_ref(&uri),
        amount: 2_050,
        currency: "USD".into(),
        idempotency_key: h.key(),
    };
    let created = donation::create_donation(&h.escrow, "did:plc:dora", &input)
        .await
        .unwrap();
    assert_eq!(created.state, "pending");
    assert!(created.checkout_url.is_some());
    let payment = h.payment_id(&created.id).await;
    let signed = h
        .sandbox()
        .settle_payment(&payment, true)
        .await
        .unwrap()
        .unwrap();
    greenlight_escrow::webhook::receive(
        &h.escrow,
        "sandbox",
        Some(&signed.signature),
        &signed.body,
    )
    .await
    .unwrap();
    h.tick().await.unwrap();
    // 5 % of 20.50 is 1.025: the fee is 102, the maintainer gets 1 948.
    assert_eq!(h.provider_movements().await, ((0, 0), (1, 1_948)));
    let state: String = sqlx::query_scalar("SELECT state FROM escrow.donation WHERE id = $1")
        .bind(&created.id)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(state, "paid_out");
    let s = queries::get_proposal_state(&h.escrow, &uri).await.unwrap();
    assert_eq!((s.donations, s.fees), (2_050, 102));
    // Pledges are refused during development, donations outside it.
    let pledge = pledge::create_pledge(&h.escrow, "did:plc:dora", &h.pledge_input(&uri, 500)).await;
    assert_eq!(error_name(pledge), "ProposalNotInPreview");
    let preview = h.preview(8);
    let late = donation::create_donation(
        &h.escrow,
        "did:plc:dora",
        &create_donation::Input {
            proposal: strong_ref(&preview),
            idempotency_key: h.key(),
            ..input.clone()
        },
    )
    .await;
    assert_eq!(error_name(late), "ProposalNotInDevelopment");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_payout_waits_for_the_maintainers_account_and_never_expires(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(9);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    h.tick().await.unwrap();
    assert_eq!(state(&h, &uri).await.payout_state, "awaiting_account");
    h.advance(Duration::days(400));
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.1, (0, 0));
    assert_eq!(
        h.balance(&format!("payable:{MAINTAINER}"))
            .await
            .credit_balance(),
        950
    );
    h.assert_books_sound().await;
    h.connect_maintainer().await;
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.1, (1, 950));
    assert_eq!(state(&h, &uri).await.payout_state, "paid");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn backers_cancel_during_preview_but_not_after_a_release(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(10);
    let held = h.held_pledge("did:plc:alice", &uri, 1_200).await;
    let pending = h.pending_pledge("did:plc:alice", &uri, 800).await;
    let kept = h.held_pledge("did:plc:bob", &uri, 600).await;
    let cancel = |id: &str| cancel_pledge::Input {
        pledge: id.into(),
        idempotency_key: h.key(),
    };

    let someone_else = pledge::cancel_pledge(&h.escrow, "did:plc:bob", &cancel(&held.id)).await;
    assert_eq!(error_name(someone_else), "NotABacker");
    let missing = pledge::cancel_pledge(&h.escrow, "did:plc:bob", &cancel("pl_nope")).await;
    assert_eq!(error_name(missing), "NotFound");

    let cancelled = pledge::cancel_pledge(&h.escrow, "did:plc:alice", &cancel(&held.id))
        .await
        .unwrap();
    assert_eq!(cancelled.state, "cancelled");
    let abandoned = pledge::cancel_pledge(&h.escrow, "did:plc:alice", &cancel(&pending.id))
        .await
        .unwrap();
    assert_eq!(abandoned.state, "cancelled");
    let again = pledge::cancel_pledge(&h.escrow, "did:plc:alice", &cancel(&held.id)).await;
    assert_eq!(error_name(again), "PledgeNotCancellable");
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await, ((1, 1_200), (0, 0)));
    assert_eq!(state(&h, &uri).await.held, 600);

    h.set_stage(&uri, Stage::Released);
    let after = pledge::cancel_pledge(&h.escrow, "did:plc:bob", &cancel(&kept.id)).await;
    assert_eq!(error_name(after), "AlreadyReleased");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn pledges_are_checked_against_the_proposal(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(11);
    let mut input = h.pledge_input(&uri, 1_000);
    input.currency = "EUR".into();
    assert_eq!(
        error_name(pledge::create_pledge(&h.escrow, "did:plc:a", &input).await),
        "CurrencyMismatch"
    );
    let small = h.pledge_input(&uri, 49);
    assert_eq!(
        error_name(pledge::create_pledge(&h.escrow, "did:plc:a", &small).await),
        "AmountTooSmall"
    );
    let unknown = h.pledge_input(&proposal_uri(999), 1_000);
    assert_eq!(
        error_name(pledge::create_pledge(&h.escrow, "did:plc:a", &unknown).await),
        "NotFound"
    );
    h.advance(Duration::days(10));
    let late = h.pledge_input(&uri, 1_000);
    assert_eq!(
        error_name(pledge::create_pledge(&h.escrow, "did:plc:a", &late).await),
        "ProposalNotInPreview"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_currency_first_booked_stays_whatever_the_appview_says_later(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(12);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    // The project's currency is edited: the AppView now reports EUR for the proposal.
    h.proposals.put(ProposalInfo {
        currency: "EUR".into(),
        ..h.proposals.proposal(&uri).await.unwrap().unwrap()
    });
    // A pledge in EUR would sit in a ledger the payout never reads; escrow refuses it.
    let mut euros = h.pledge_input(&uri, 1_000);
    euros.currency = "EUR".into();
    assert_eq!(
        error_name(pledge::create_pledge(&h.escrow, "did:plc:bob", &euros).await),
        "CurrencyMismatch"
    );
    h.held_pledge("did:plc:bob", &uri, 500).await;

    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    let report = h.tick().await.unwrap();
    assert_eq!(report.paid, vec![uri.clone()]);
    // Everything held (1 500 USD) paid out, 5 % fee (75) kept.
    assert_eq!(h.provider_movements().await, ((0, 0), (1, 1_425)));
    assert_eq!(state(&h, &uri).await.held, 0);
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_payout_the_provider_refused_is_retried_not_lost(pool: PgPool) {
    let h = Harness::new(pool).await;
    // The maintainer's payout account names one the provider no longer has.
    sqlx::query(
        "INSERT INTO escrow.payout_account (did, provider, account_id, status, created_at, updated_at)
         VALUES ($1, $2, 'acct_gone', 'active', now(), now())",
    )
    .bind(MAINTAINER)
    .bind(h.escrow.provider.name())
    .execute(&h.pool)
    .await
    .unwrap();
    let uri = h.preview(13);
    h.held_pledge("did:plc:alice", &uri, 2_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    let report = h.tick().await.unwrap();
    assert_eq!(report.jobs.failed, 1);
    assert_eq!(h.provider_movements().await.1, (0, 0));
    // Still owed to the maintainer, in the books and by a (failed) job.
    assert_eq!(
        h.balance(&format!("payable:{MAINTAINER}"))
            .await
            .credit_balance(),
        1_900
    );
    h.assert_books_sound().await;
    let failed: String = sqlx::query_scalar("SELECT id FROM escrow.job WHERE state = 'failed'")
        .fetch_one(&h.pool)
        .await
        .unwrap();

    // The maintainer reconnects; an operator retries the payout, once.
    sqlx::query("UPDATE escrow.payout_account SET status = 'restricted' WHERE did = $1")
        .bind(MAINTAINER)
        .execute(&h.pool)
        .await
        .unwrap();
    h.connect_maintainer().await;
    jobs::retry_failed(&h.escrow, &failed).await.unwrap();
    assert_eq!(
        error_name(jobs::retry_failed(&h.escrow, &failed).await),
        "JobNotRetryable"
    );
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.1, (1, 1_900));
    assert_eq!(
        h.balance(&format!("payable:{MAINTAINER}"))
            .await
            .credit_balance(),
        0
    );
    h.assert_books_sound().await;
}
