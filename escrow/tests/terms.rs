//! The terms of a proposal's money are fixed when its first money arrives: project, payee,
//! currency, fee and preview end. Nothing a record does afterwards changes who is paid, and
//! escrow records nothing at all for a call it refuses.

mod support;

use chrono::Duration;
use greenlight_escrow::procedures::{pledge, queries};
use greenlight_escrow::proposal_source::{ProposalInfo, ProposalSource, Stage};
use greenlight_lexicon::fund::greenlight::escrow::{cancel_pledge, list_proposal_states};
use sqlx::PgPool;
use support::*;

const PROPOSER: &str = "did:plc:author";
const PROPOSERS_PROJECT: &str = "at://did:plc:author/fund.greenlight.project/mine";

/// What the AppView says about `uri` now.
async fn info(h: &Harness, uri: &str) -> ProposalInfo {
    h.proposals.proposal(uri).await.unwrap().unwrap()
}

/// The AppView reports the proposal re-pointed at the proposer's own project.
async fn re_point(h: &Harness, uri: &str, stage: Stage) {
    h.proposals.put(ProposalInfo {
        project: Some(PROPOSERS_PROJECT.into()),
        maintainer: Some(PROPOSER.into()),
        stage,
        ..info(h, uri).await
    });
}

/// (rows in escrow.proposal, escrow.pledge, escrow.idempotency_key, sandbox payments).
async fn footprint(h: &Harness) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM escrow.proposal), (SELECT count(*) FROM escrow.pledge),
                (SELECT count(*) FROM escrow.idempotency_key)",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_re_pointed_proposal_pays_the_original_maintainer_to_the_cent(pool: PgPool) {
    let h = Harness::new(pool).await;
    h.connect_maintainer().await;
    let uri = h.preview(1);
    h.held_pledge("did:plc:alice", &uri, 10_000).await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();

    // After the release, the proposer points the proposal at a project of their own, which
    // the AppView (if it were fooled) would report as merely proposed.
    re_point(&h, &uri, Stage::Proposed).await;
    h.tick().await.unwrap();
    let (payee, project, stage): (String, String, String) =
        sqlx::query_as("SELECT maintainer, project, stage FROM escrow.proposal WHERE uri = $1")
            .bind(&uri)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(payee, MAINTAINER);
    assert_eq!(
        project,
        format!("at://{MAINTAINER}/fund.greenlight.project/app")
    );
    assert_eq!(stage, "released", "verification keeps running");

    h.advance(Duration::days(14));
    let report = h.tick().await.unwrap();
    assert_eq!(report.paid, vec![uri.clone()]);
    // 5 % fee: the original maintainer gets 9 500, nobody else anything.
    assert_eq!(h.provider_movements().await, ((0, 0), (1, 9_500)));
    let paid_to: Vec<String> =
        sqlx::query_scalar("SELECT maintainer FROM escrow.job WHERE kind = 'payout'")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(paid_to, vec![MAINTAINER.to_owned()]);
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn a_release_reported_under_another_project_starts_nothing(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(2);
    let held = h.held_pledge("did:plc:alice", &uri, 4_000).await;
    // The proposer re-points it and "releases" it as owner of their own project.
    re_point(&h, &uri, Stage::Released).await;
    h.tick().await.unwrap();
    let released: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT released_at FROM escrow.proposal WHERE uri = $1")
            .bind(&uri)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(released, None);
    // No new money under a subject the terms do not name.
    let refused = pledge::create_pledge(&h.escrow, "did:plc:bob", &h.pledge_input(&uri, 500)).await;
    assert!(matches!(
        error_name(refused),
        "SubjectChanged" | "ProposalNotInPreview"
    ));
    // And the backer's money is still theirs to take back during the preview.
    assert_eq!(h.pledge(&held.id).await.state, "held");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn refused_calls_record_nothing_and_only_proven_projects_take_money(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(3);
    let unproven = ProposalInfo {
        project_verified: false,
        ..info(&h, &uri).await
    };
    h.proposals.put(unproven.clone());
    let refused =
        pledge::create_pledge(&h.escrow, "did:plc:alice", &h.pledge_input(&uri, 500)).await;
    assert_eq!(error_name(refused), "ProjectNotVerified");
    h.proposals.put(ProposalInfo {
        stage: Stage::Development,
        project_verified: true,
        ..unproven.clone()
    });
    let refused =
        pledge::create_pledge(&h.escrow, "did:plc:alice", &h.pledge_input(&uri, 500)).await;
    assert_eq!(error_name(refused), "ProposalNotInPreview");
    h.proposals.put(ProposalInfo {
        project: None,
        maintainer: None,
        project_verified: false,
        ..unproven.clone()
    });
    let refused =
        pledge::create_pledge(&h.escrow, "did:plc:alice", &h.pledge_input(&uri, 500)).await;
    assert_eq!(error_name(refused), "NoProject");
    h.tick().await.unwrap();
    assert_eq!(
        footprint(&h).await,
        (0, 0, 0),
        "nothing recorded for refused calls"
    );

    // Proven: the first pledge fixes the terms.
    h.proposals.put(ProposalInfo {
        project_verified: true,
        ..unproven.clone()
    });
    let held = h.held_pledge("did:plc:alice", &uri, 2_500).await;
    let terms: (String, String, String, i32) = sqlx::query_as(
        "SELECT project, maintainer, currency, fee_bps FROM escrow.proposal WHERE uri = $1",
    )
    .bind(&uri)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        terms,
        (
            format!("at://{MAINTAINER}/fund.greenlight.project/app"),
            MAINTAINER.to_owned(),
            "USD".to_owned(),
            500
        )
    );

    // The proof disappears: no new money, but what is held still settles.
    h.proposals.put(ProposalInfo {
        project_verified: false,
        ..unproven.clone()
    });
    let refused = pledge::create_pledge(&h.escrow, "did:plc:bob", &h.pledge_input(&uri, 700)).await;
    assert_eq!(error_name(refused), "ProjectNotVerified");
    h.connect_maintainer().await;
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    assert_eq!(h.tick().await.unwrap().paid, vec![uri.clone()]);
    assert_eq!(h.pledge(&held.id).await.state, "paid_out");
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_worker_asks_only_about_proposals_holding_money(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(4);
    let held = h.held_pledge("did:plc:alice", &uri, 1_000).await;
    let synced = |h: &Harness| {
        let pool = h.pool.clone();
        let uri = uri.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
                "SELECT synced_at FROM escrow.proposal WHERE uri = $1",
            )
            .bind(&uri)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    h.advance(Duration::seconds(5));
    h.tick().await.unwrap();
    let polled = synced(&h).await;
    assert_eq!(polled, h.now(), "a proposal holding money is polled");

    pledge::cancel_pledge(
        &h.escrow,
        "did:plc:alice",
        &cancel_pledge::Input {
            pledge: held.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    h.tick().await.unwrap();
    let after_cancel = synced(&h).await;
    h.advance(Duration::seconds(5));
    h.tick().await.unwrap();
    assert_eq!(
        synced(&h).await,
        after_cancel,
        "nothing held: not polled any more"
    );
    h.assert_books_sound().await;
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_proposal_state_feed_publishes_terms_and_escrows_clock(pool: PgPool) {
    let h = Harness::new(pool).await;
    let uri = h.preview(5);
    h.held_pledge("did:plc:alice", &uri, 1_000).await;
    h.tick().await.unwrap();
    let page = |cursor: Option<String>| {
        let escrow = h.escrow.clone();
        async move {
            queries::list_proposal_states(
                &escrow,
                &list_proposal_states::Params {
                    cursor,
                    limit: None,
                },
            )
            .await
            .unwrap()
        }
    };
    let first = page(None).await;
    assert_eq!(first.states.len(), 1);
    let state = &first.states[0];
    assert_eq!(state.proposal, uri);
    assert_eq!(state.payee, MAINTAINER);
    assert_eq!(state.fee_basis_points, 500);
    assert_eq!(state.stage, "preview");
    assert_eq!(state.verification_started_at, None);

    // Nothing changed: nothing new, however often the worker runs.
    h.tick().await.unwrap();
    assert!(page(first.cursor.clone()).await.states.is_empty());

    h.set_stage(&uri, Stage::Released);
    let released_at = h.now();
    h.tick().await.unwrap();
    let next = page(first.cursor.clone()).await;
    assert_eq!(next.states.len(), 1);
    let state = &next.states[0];
    assert!(state.seq > first.states[0].seq);
    assert_eq!(state.stage, "released");
    assert_eq!(
        state.verification_started_at.as_deref(),
        Some(greenlight_escrow::clock::datetime(released_at).as_str())
    );
    assert_eq!(
        state.verification_ends_at.as_deref(),
        Some(greenlight_escrow::clock::datetime(released_at + Duration::days(14)).as_str())
    );
}
