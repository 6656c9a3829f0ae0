//! A project's listed maintainers count only once each accepts in a record of their own.

mod support;

use serde_json::json;
use sqlx::PgPool;
use support::*;

const PROJECT: &str = "at://did:plc:owner/fund.greenlight.project/tool";
const INVITED: &str = "did:plc:invited";
const PROPOSAL: &str = "at://did:plc:fan/fund.greenlight.proposal/3lproposal222";
const ACCEPTANCE: &str = "at://did:plc:invited/fund.greenlight.maintainer/3lmaintain222";

async fn stage(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT stage FROM appview.proposal_state WHERE uri = $1")
        .bind(PROPOSAL)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_invited_maintainers_status_counts_only_after_they_accept(pool: PgPool) {
    let body = json!({"name": "Tool", "description": "", "repository": "https://example.org/tool",
                      "maintainers": [INVITED], "createdAt": stamp(at(0))});
    put(&pool, PROJECT, body).await;
    let body = json!({"subject": {"$type": "com.atproto.repo.strongRef", "uri": PROJECT, "cid": CID},
                      "title": "Dark mode", "body": "", "createdAt": stamp(at(1))});
    put(&pool, PROPOSAL, body).await;
    let status = format!("at://{INVITED}/fund.greenlight.status/3lstatus22222");
    let body = json!({"subject": {"uri": PROPOSAL, "cid": CID},
                      "stage": {"$type": "fund.greenlight.status#development", "goal": 10_000, "currency": "USD"},
                      "createdAt": stamp(at(2))});
    put(&pool, &status, body).await;
    assert_eq!(
        stage(&pool).await,
        "proposed",
        "listing alone is no consent"
    );

    let body = json!({"subject": {"uri": PROJECT, "cid": CID}, "createdAt": stamp(at(3))});
    put(&pool, ACCEPTANCE, body).await;
    assert_eq!(
        stage(&pool).await,
        "development",
        "accepting makes the status count"
    );

    delete(&pool, ACCEPTANCE).await;
    assert_eq!(
        stage(&pool).await,
        "proposed",
        "withdrawing the acceptance takes it back"
    );
}
