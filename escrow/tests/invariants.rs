//! The reconcile checks can fail: books broken by hand (what a bug would do) are reported,
//! each by the invariant it breaks. The other test files show that every lifecycle path
//! leaves the same checks clean.

mod support;

use chrono::Duration;
use greenlight_escrow::ledger::invariants;
use greenlight_escrow::proposal_source::Stage;
use sqlx::PgPool;
use support::*;

async fn broken(h: &Harness) -> Vec<&'static str> {
    invariants::check_books(&h.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|violation| violation.check)
        .collect()
}

/// A proposal with two pledges (1 000 and 333) paid out, the books clean.
async fn paid_out(h: &Harness, n: u32) -> String {
    h.connect_maintainer().await;
    let uri = h.preview(n);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    h.held_pledge("did:plc:bob", &uri, 333).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    assert_eq!(h.tick().await.unwrap().paid, vec![uri.clone()]);
    h.assert_books_sound().await;
    uri
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_pledge_left_held_after_settlement_is_reported(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = paid_out(&h, 1).await;
    sqlx::query("UPDATE escrow.pledge SET state = 'held' WHERE proposal = $1 AND amount = 333")
        .bind(&uri)
        .execute(&h.pool)
        .await
        .unwrap();
    let broken = broken(&h).await;
    assert!(
        broken.contains(&"pledge_outcome_matches_settlement"),
        "{broken:?}"
    );
    assert!(
        broken.contains(&"payout_splits_what_was_held"),
        "{broken:?}"
    );
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_payout_that_does_not_add_up_is_reported(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = paid_out(&h, 2).await;
    // One minor unit more was pledged than the fee and the capture account for.
    sqlx::query("UPDATE escrow.pledge SET amount = 334 WHERE proposal = $1 AND amount = 333")
        .bind(&uri)
        .execute(&h.pool)
        .await
        .unwrap();
    assert_eq!(broken(&h).await, vec!["payout_splits_what_was_held"]);
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn an_overdrawn_account_is_reported(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(3);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    // Written around escrow.create_transfer, which would refuse it: held pays 1 001 out.
    let mut tx = h.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO escrow.account (ledger, name, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
         VALUES ('USD', $1, true, false) ON CONFLICT DO NOTHING",
    )
    .bind(format!("payable:{MAINTAINER}"))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO escrow.transfer (id, ledger, debit_account, credit_account, amount, kind,
             two_phase, proposal, created_at)
         VALUES ('t-overdraft', 'USD', $1, $2, 1001, 'pledge_capture', false, $3, now())",
    )
    .bind(format!("held:{uri}"))
    .bind(format!("payable:{MAINTAINER}"))
    .bind(&uri)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO escrow.transfer_state (transfer_id, state, at) VALUES ('t-overdraft', 'posted', now())",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let broken = broken(&h).await;
    assert!(broken.contains(&"no_overdrawn_account"), "{broken:?}");
    assert!(!broken.contains(&"currency_sums_to_zero"), "{broken:?}");
}
