//! The guarded state changes against a real database: a row moves only from the state the
//! caller names, and only along its transition table (the tables themselves are unit-tested
//! in `states.rs`).

mod support;

use greenlight_escrow::jobs;
use greenlight_escrow::states::{self, PledgeState};
use sqlx::PgPool;
use support::*;

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_pledge_moves_only_from_the_state_it_is_in(pool: PgPool) {
    let h = Harness::new(pool.clone()).await;
    let uri = h.preview(1);
    let held = h.held_pledge("did:plc:alice", &uri, 10_000).await;
    let mut conn = pool.acquire().await.unwrap();
    let now = chrono::Utc::now();
    // A legal move from a state the pledge has left moves nothing and fails.
    let stale = states::set_pledge_state(
        &mut conn,
        &held.id,
        PledgeState::Pending,
        PledgeState::Failed,
        now,
    )
    .await;
    assert!(stale.is_err(), "{stale:?}");
    // An illegal move is refused before the row is touched.
    let illegal = states::set_pledge_state(
        &mut conn,
        &held.id,
        PledgeState::Held,
        PledgeState::Pending,
        now,
    )
    .await;
    assert!(illegal.is_err(), "{illegal:?}");
    assert_eq!(h.pledge(&held.id).await.state, "held");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_job_moves_only_when_it_is_in_the_state_named(pool: PgPool) {
    let h = Harness::new(pool.clone()).await;
    let uri = h.preview(1);
    h.held_pledge("did:plc:alice", &uri, 10_000).await;
    let mut conn = pool.acquire().await.unwrap();
    // No such job at all: nothing moves.
    let moved = jobs::set_job_state(
        &mut conn,
        "job-that-does-not-exist",
        states::JobState::Failed,
        states::JobState::Superseded,
        chrono::Utc::now(),
    )
    .await;
    assert!(moved.is_err(), "{moved:?}");
    h.assert_books_sound().await;
}
