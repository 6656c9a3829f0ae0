//! Once a project's maintainer takes a proposal up, the proposal stays about that project: an
//! edit that re-points it is rejected with its reason, and a deletion or the author's
//! deactivation withdraws it from lists without losing it, since money may be held for it.

mod support;

use greenlight_aggregates::rebuild_all;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

const OWNER: &str = "did:plc:owner";
const PROPOSER: &str = "did:plc:proposer";
const ORIGINAL: &str = "at://did:plc:owner/fund.greenlight.project/tool";
const OTHER: &str = "at://did:plc:proposer/fund.greenlight.project/mine";
const PROPOSAL: &str = "at://did:plc:proposer/fund.greenlight.proposal/3lproposal222";

async fn project(pool: &PgPool, uri: &str) {
    let body = json!({"name": "Tool", "description": "", "repository": "https://example.org/tool",
                      "currency": "USD", "createdAt": stamp(at(0))});
    put(pool, uri, body).await;
}

async fn proposal(pool: &PgPool, subject: &str, title: &str) {
    let body = json!({"subject": {"$type": "com.atproto.repo.strongRef", "uri": subject, "cid": CID},
                      "title": title, "body": "", "createdAt": stamp(at(1))});
    put(pool, PROPOSAL, body).await;
}

async fn development(pool: &PgPool, author: &str, rkey: &str) {
    let uri = format!("at://{author}/fund.greenlight.status/{rkey}");
    let body = json!({"subject": {"uri": PROPOSAL, "cid": CID},
                      "stage": {"$type": "fund.greenlight.status#development", "goal": 10_000, "currency": "USD"},
                      "createdAt": stamp(at(2))});
    put(pool, &uri, body).await;
}

/// (project_uri, stage, withdrawn, title shown) of the proposal's state, if it has one.
async fn state(pool: &PgPool) -> Option<(Option<String>, String, bool, String)> {
    sqlx::query_as(
        "SELECT s.project_uri, s.stage, s.withdrawn,
                coalesce(a.body, r.body)->>'title'
         FROM appview.proposal_state s
         LEFT JOIN appview.record r ON r.uri = s.uri AND NOT s.from_anchor
         LEFT JOIN appview.proposal_anchor a ON a.uri = s.uri AND s.from_anchor
         WHERE s.uri = $1",
    )
    .bind(PROPOSAL)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn rejection(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT reason FROM appview.rejected_record WHERE uri = $1")
        .bind(PROPOSAL)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn assert_rebuild_agrees(pool: &PgPool) {
    let snapshot = |pool: PgPool| async move {
        let rows: Vec<(Value,)> = sqlx::query_as(
            "SELECT to_jsonb(t) - 'search' FROM appview.proposal_state t ORDER BY uri",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    let before = snapshot(pool.clone()).await;
    let mut tx = pool.begin().await.unwrap();
    rebuild_all(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(before, snapshot(pool.clone()).await);
}

#[sqlx::test(migrations = "../../migrations")]
async fn before_anyone_takes_it_up_the_proposer_may_move_it(pool: PgPool) {
    project(&pool, ORIGINAL).await;
    project(&pool, OTHER).await;
    proposal(&pool, ORIGINAL, "Dark mode").await;
    proposal(&pool, OTHER, "Dark mode").await;
    let (project_uri, stage, withdrawn, _) = state(&pool).await.unwrap();
    assert_eq!(project_uri.as_deref(), Some(OTHER));
    assert_eq!((stage.as_str(), withdrawn), ("proposed", false));
    assert_eq!(rejection(&pool).await, None);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_taken_up_proposal_cannot_be_moved_to_another_project(pool: PgPool) {
    project(&pool, ORIGINAL).await;
    project(&pool, OTHER).await;
    proposal(&pool, ORIGINAL, "Dark mode").await;
    development(&pool, OWNER, "3lstatus22222").await;
    assert_eq!(state(&pool).await.unwrap().1, "development");

    // The proposer re-points the proposal at a project of their own.
    proposal(&pool, OTHER, "Dark mode, mine now").await;
    let (project_uri, stage, withdrawn, title) = state(&pool).await.unwrap();
    assert_eq!(
        project_uri.as_deref(),
        Some(ORIGINAL),
        "stays where its work is"
    );
    assert_eq!(stage, "development", "the maintainer's status still counts");
    assert!(!withdrawn);
    assert_eq!(title, "Dark mode", "the version taken up is shown");
    let reason = rejection(&pool)
        .await
        .expect("the edit is recorded as rejected");
    assert!(
        reason.contains("subject is fixed") && reason.contains(ORIGINAL),
        "{reason}"
    );
    assert_rebuild_agrees(&pool).await;

    // A later status by the proposer, now "owner" of the re-pointed project, counts for nothing.
    development(&pool, PROPOSER, "3lstatus33333").await;
    let history: Value =
        sqlx::query_scalar("SELECT history FROM appview.proposal_state WHERE uri = $1")
            .bind(PROPOSAL)
            .fetch_one(&pool)
            .await
            .unwrap();
    let authors: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, vec![OWNER]);

    // An edit that keeps the subject counts again (a typo fixed in the title).
    proposal(&pool, ORIGINAL, "Dark mode (and light)").await;
    let (project_uri, _, _, title) = state(&pool).await.unwrap();
    assert_eq!(project_uri.as_deref(), Some(ORIGINAL));
    assert_eq!(title, "Dark mode (and light)");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_deleted_or_hidden_taken_up_proposal_is_withdrawn_not_forgotten(pool: PgPool) {
    project(&pool, ORIGINAL).await;
    proposal(&pool, ORIGINAL, "Dark mode").await;
    development(&pool, OWNER, "3lstatus22222").await;

    delete(&pool, PROPOSAL).await;
    let (project_uri, stage, withdrawn, title) = state(&pool).await.expect("kept");
    assert_eq!(project_uri.as_deref(), Some(ORIGINAL));
    assert_eq!((stage.as_str(), withdrawn), ("development", true));
    assert_eq!(title, "Dark mode");
    assert_rebuild_agrees(&pool).await;

    // The maintainer's later statuses still apply to it.
    let uri = "at://did:plc:owner/fund.greenlight.status/3lstatus44444";
    let body = json!({"subject": {"uri": PROPOSAL, "cid": CID},
                      "stage": {"$type": "fund.greenlight.status#preview", "url": "https://preview.example",
                                "instructions": "try", "endsAt": stamp(at(60 * 24))},
                      "createdAt": stamp(at(3))});
    put(&pool, uri, body).await;
    assert_eq!(state(&pool).await.unwrap().1, "preview");

    // An untaken proposal that is deleted simply goes.
    let other = "at://did:plc:proposer/fund.greenlight.proposal/3lproposal333";
    let body = json!({"subject": {"$type": "com.atproto.repo.strongRef", "uri": ORIGINAL, "cid": CID},
                      "title": "Other", "body": "", "createdAt": stamp(at(1))});
    put(&pool, other, body).await;
    delete(&pool, other).await;
    let gone: Option<(String,)> =
        sqlx::query_as("SELECT uri FROM appview.proposal_state WHERE uri = $1")
            .bind(other)
            .fetch_optional(&pool)
            .await
            .unwrap();
    assert_eq!(gone, None);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_authors_deactivation_withdraws_and_reactivation_restores(pool: PgPool) {
    project(&pool, ORIGINAL).await;
    proposal(&pool, ORIGINAL, "Dark mode").await;
    development(&pool, OWNER, "3lstatus22222").await;
    set_hidden(&pool, PROPOSER, true).await;
    assert!(state(&pool).await.unwrap().2, "withdrawn while hidden");
    set_hidden(&pool, PROPOSER, false).await;
    assert!(!state(&pool).await.unwrap().2, "back on reactivation");
}
