//! Which verified project a bare-repository proposal belongs to, and which proposals a change
//! of verification re-derives. Records are written by the indexer's writer without the
//! aggregates hook, so each test runs the function under test alone; proof rows are written
//! directly, as the AppView's proof store would after a check.

mod support;

use chrono::{DateTime, Utc};
use greenlight_aggregates::repository_attach::{
    attach, refresh_for_project_verification, verified_project_for_repositories,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

async fn project(pool: &PgPool, uri: &str, repository: &str) {
    put_record_only(
        pool,
        uri,
        json!({ "$type": "fund.greenlight.project", "name": "P", "description": "",
                "repository": repository, "currency": "USD", "createdAt": "2026-01-01T00:00:00Z" }),
    )
    .await;
}

/// A proof row as the AppView stores it; `since` none: the repository is not proven.
async fn proof(pool: &PgPool, uri: &str, repository: &str, since: Option<DateTime<Utc>>) {
    sqlx::query(
        "INSERT INTO appview.project_proof (project_uri, cid, repository, website,
             repository_key, verified, verified_at, repository_verified_since, checked_at)
         VALUES ($1, $2, $3, NULL, appview.repository_key($3), $4, $5, $5, now())",
    )
    .bind(uri)
    .bind(CID)
    .bind(repository)
    .bind(since.is_some())
    .bind(since)
    .execute(pool)
    .await
    .unwrap();
}

fn repo_proposal(url: &str) -> Value {
    json!({ "$type": "fund.greenlight.proposal",
            "subject": { "$type": "fund.greenlight.proposal#repository", "url": url },
            "title": "T", "body": "B", "createdAt": "2026-01-01T00:01:00Z" })
}

const EARLY: &str = "at://did:plc:early/fund.greenlight.project/r";
const LATE: &str = "at://did:plc:late/fund.greenlight.project/r";
const UNPROVEN: &str = "at://did:plc:unproven/fund.greenlight.project/other";
const MOVED: &str = "at://did:plc:moved/fund.greenlight.project/moved";

async fn world(pool: &PgPool) {
    project(pool, LATE, "https://github.com/o/r").await;
    proof(pool, LATE, "https://github.com/o/r", Some(at(20))).await;
    project(pool, EARLY, "https://github.com/O/r/").await;
    proof(pool, EARLY, "https://github.com/O/r/", Some(at(10))).await;
    project(pool, UNPROVEN, "https://codeberg.org/o/other").await;
    proof(pool, UNPROVEN, "https://codeberg.org/o/other", None).await;
    // Proven while it named another repository; its record names a new one since.
    project(pool, MOVED, "https://codeberg.org/o/moved-to").await;
    proof(pool, MOVED, "https://codeberg.org/o/moved", Some(at(1))).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_project_verified_first_wins_a_repository_under_any_spelling(pool: PgPool) {
    world(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let found = verified_project_for_repositories(
        &mut conn,
        &[
            "https://github.com/o/r",
            "http://www.GitHub.com/o/r.git/",
            "https://codeberg.org/o/other",
            "https://codeberg.org/o/moved",
            "https://codeberg.org/o/moved-to",
            "https://github.com/o/r2",
        ],
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found["https://github.com/o/r"], EARLY);
    assert_eq!(found["http://www.GitHub.com/o/r.git/"], EARLY);

    // The winner stops proving it: the other verified project takes over.
    sqlx::query(
        "UPDATE appview.project_proof SET verified = false, repository_verified_since = NULL
         WHERE project_uri = $1",
    )
    .bind(EARLY)
    .execute(&pool)
    .await
    .unwrap();
    let found = verified_project_for_repositories(&mut conn, &["https://github.com/o/r"])
        .await
        .unwrap();
    assert_eq!(found["https://github.com/o/r"], LATE);

    // A hidden project proves nothing.
    set_hidden(&pool, "did:plc:late", true).await;
    let found = verified_project_for_repositories(&mut conn, &["https://github.com/o/r"])
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[sqlx::test(migrations = "../../migrations")]
async fn attach_points_only_bare_repository_proposals_at_the_project(pool: PgPool) {
    world(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let bare = repo_proposal("https://github.com/o/r.git");
    let elsewhere = repo_proposal("https://github.com/o/unknown");
    let strong = json!({ "subject": { "$type": "com.atproto.repo.strongRef", "uri": LATE } });
    let mut subjects = [None, None, Some(LATE.to_owned())];
    let uris = ["at://a/p/1", "at://a/p/2", "at://a/p/3"];
    attach(
        &mut conn,
        uris.into_iter()
            .zip([&bare, &elsewhere, &strong])
            .zip(subjects.iter_mut())
            .map(|((uri, body), subject)| (uri, body, subject)),
    )
    .await
    .unwrap();
    assert_eq!(
        subjects,
        [Some(EARLY.to_owned()), None, Some(LATE.to_owned())]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_proposal_taken_up_while_attached_stays_with_that_project(pool: PgPool) {
    world(&pool).await;
    let taken = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa1";
    let moved = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa2";
    // Both were anchored to LATE when its maintainer took them up, about github.com/o/r
    // (which EARLY, verified first, would win now).
    for uri in [taken, moved] {
        sqlx::query(
            "INSERT INTO appview.proposal_anchor
                 (uri, did, cid, body, subject_uri, created_at, indexed_at)
             VALUES ($1, 'did:plc:fan', $2, $3, $4, now(), now())",
        )
        .bind(uri)
        .bind(CID)
        .bind(repo_proposal("https://github.com/o/r"))
        .bind(LATE)
        .execute(&pool)
        .await
        .unwrap();
    }
    let same = repo_proposal("https://GitHub.com/o/r/");
    // Its author has since pointed the record at another repository.
    let other = repo_proposal("https://codeberg.org/o/other-repo");
    let mut subjects = [None, None];
    let mut conn = pool.acquire().await.unwrap();
    attach(
        &mut conn,
        [taken, moved]
            .into_iter()
            .zip([&same, &other])
            .zip(subjects.iter_mut())
            .map(|((uri, body), subject)| (uri, body, subject)),
    )
    .await
    .unwrap();
    assert_eq!(subjects, [Some(LATE.to_owned()), None]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_change_of_verification_refreshes_the_repositorys_proposals(pool: PgPool) {
    world(&pool).await;
    let a = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa2";
    let b = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa3";
    let other = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa4";
    let of_project = "at://did:plc:fan/fund.greenlight.proposal/3kaaaaaaaaaa5";
    put_record_only(&pool, a, repo_proposal("https://github.com/o/r")).await;
    put_record_only(&pool, b, repo_proposal("https://GITHUB.com/o/r/")).await;
    put_record_only(&pool, other, repo_proposal("https://github.com/o/r2")).await;
    put_record_only(
        &pool,
        of_project,
        json!({ "$type": "fund.greenlight.proposal",
                "subject": { "$type": "com.atproto.repo.strongRef", "uri": EARLY, "cid": CID },
                "title": "T", "body": "B", "createdAt": "2026-01-01T00:01:00Z" }),
    )
    .await;
    let mut tx = pool.begin().await.unwrap();
    let refreshed = refresh_for_project_verification(&mut tx, EARLY)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(refreshed, vec![a.to_owned(), b.to_owned()]);
    // They were re-derived (state rows exist now).
    let states: Vec<(String,)> =
        sqlx::query_as("SELECT uri FROM appview.proposal_state ORDER BY uri")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(states, vec![(a.to_owned(),), (b.to_owned(),)]);

    // A proposal derived as attached (project_uri set while its record names no project) is
    // refreshed when the project changes, even once its repository no longer matches.
    sqlx::query(
        "INSERT INTO appview.proposal_state (uri, did, cid, project_uri, repository, stage,
             currency, estimate_count, estimate_total, capped_count, history, search,
             created_at, indexed_at)
         SELECT $1, 'did:plc:fan', $3, $2, 'https://github.com/o/r2', 'proposed', 'USD', 0, 0, 0,
             '[]', ''::tsvector, now(), now()
         ON CONFLICT (uri) DO UPDATE SET project_uri = EXCLUDED.project_uri",
    )
    .bind(other)
    .bind(MOVED)
    .bind(CID)
    .execute(&pool)
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let refreshed = refresh_for_project_verification(&mut tx, MOVED)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(refreshed, vec![other.to_owned()]);
}
