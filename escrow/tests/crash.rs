//! Crash injection: escrow fails at every step of a refund and of a payout (including after
//! the provider call and before the ledger write), then a restarted escrow over the same books
//! finishes the work. Exactly one refund or transfer exists at the provider per job, and the
//! books balance and agree with the provider. (The real process is killed with SIGKILL in
//! `process_kill.rs`.)

mod support;

use chrono::Duration;
use greenlight_escrow::failpoint::{FailAction, FailPoints};
use greenlight_escrow::proposal_source::Stage;
use greenlight_escrow::EscrowError;
use sqlx::PgPool;
use support::*;

fn armed(point: &str) -> FailPoints {
    let points = FailPoints::none();
    points.arm(point, FailAction::Error);
    points
}

const REFUND_POINTS: &[&str] = &[
    "refund.after_reserve",
    "refund.before_provider_call",
    "refund.after_provider_call",
    "refund.after_post",
];

const PAYOUT_POINTS: &[&str] = &[
    "payout.after_reserve",
    "payout.before_provider_call",
    "payout.after_provider_call",
    "payout.after_post",
];

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_crash_at_any_refund_step_refunds_exactly_once(pool: PgPool) {
    for (n, point) in REFUND_POINTS.iter().enumerate() {
        let h = Harness::with_failpoints(pool.clone(), armed(point)).await;
        let before = h.provider_movements().await.0;
        let uri = h.preview(n as u32);
        h.held_pledge("did:plc:alice", &uri, 1_000).await;
        h.held_pledge("did:plc:bob", &uri, 2_345).await;
        h.set_stage(&uri, Stage::Declined);
        let crashed = h.tick().await;
        assert!(
            matches!(crashed, Err(EscrowError::Injected(_))),
            "{point}: {crashed:?}"
        );

        let restarted = h.restart(FailPoints::none());
        restarted.tick().await.unwrap();
        restarted.tick().await.unwrap();
        let after = restarted.provider_movements().await.0;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (2, 3_345),
            "{point}: refunds at the provider"
        );
        restarted.assert_books_sound().await;
    }
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_crash_at_any_payout_step_pays_exactly_once(pool: PgPool) {
    for (n, point) in PAYOUT_POINTS.iter().enumerate() {
        let h = Harness::with_failpoints(pool.clone(), armed(point)).await;
        h.connect_maintainer().await;
        let before = h.provider_movements().await.1;
        let uri = h.preview(10 + n as u32);
        h.held_pledge("did:plc:alice", &uri, 10_000).await;
        h.set_stage(&uri, Stage::Released);
        h.tick().await.unwrap();
        h.advance(Duration::days(14));
        let crashed = h.tick().await;
        assert!(
            matches!(crashed, Err(EscrowError::Injected(_))),
            "{point}: {crashed:?}"
        );

        let restarted = h.restart(FailPoints::none());
        restarted.tick().await.unwrap();
        restarted.tick().await.unwrap();
        let after = restarted.provider_movements().await.1;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 9_500),
            "{point}: transfers"
        );
        restarted.assert_books_sound().await;
    }
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn repeated_crashes_after_the_provider_call_still_pay_once(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(50);
    h.held_pledge("did:plc:alice", &uri, 4_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    for _ in 0..3 {
        let crashing = h.restart(armed("payout.after_provider_call"));
        assert!(matches!(
            crashing.tick().await,
            Err(EscrowError::Injected(_))
        ));
    }
    // While the crash is unrecovered, reconcile sees the provider ahead of the ledger.
    let violations =
        greenlight_escrow::ledger::invariants::check(&h.pool, h.escrow.provider.as_ref())
            .await
            .unwrap();
    assert!(violations
        .iter()
        .any(|v| v.check == "provider_balance_matches_clearing"));
    h.tick().await.unwrap();
    assert_eq!(h.provider_movements().await.1, (1, 3_800));
    h.assert_books_sound().await;
}
