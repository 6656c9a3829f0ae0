//! Every query against a seeded database; every response checked against its lexicon.

mod support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use support::*;

const OWNER: &str = "did:plc:owner";
const MAINT: &str = "did:plc:maint";
const ALICE: &str = "did:plc:alice";

struct World {
    project: String,
    a: String,
    b: String,
    c: String,
}

async fn world(seed: &Seed) -> World {
    seed.handle(OWNER, "owner.test").await;
    seed.handle(ALICE, "alice.test").await;
    let project = seed.project(OWNER, "editor", "USD", &[MAINT]).await;
    let a = seed
        .proposal(ALICE, "3kaaaaaaaaa2a", &project, "Offline sync", at(10))
        .await;
    let b = seed
        .proposal(ALICE, "3kaaaaaaaaa2b", &project, "Dark mode", at(20))
        .await;
    let c = seed
        .repo_proposal(
            ALICE,
            "3kaaaaaaaaa2c",
            "https://example.org/other",
            "Plugins",
        )
        .await;
    seed.estimate("did:plc:fan1", "3kaaaaaaaaa3a", &a, 10_000, "USD", at(30))
        .await;
    seed.estimate("did:plc:fan2", "3kaaaaaaaaa3b", &a, 1_000, "USD", at(31))
        .await;
    seed.estimate("did:plc:fan2", "3kaaaaaaaaa3c", &a, 2_000, "USD", at(32))
        .await;
    seed.estimate("did:plc:fan3", "3kaaaaaaaaa3d", &b, 700, "USD", at(33))
        .await;
    seed.status(OWNER, "3kaaaaaaaaa4a", &a, development(50_000), at(40))
        .await;
    // Not the owner nor a maintainer: rejected, changes nothing.
    seed.status(
        "did:plc:stranger",
        "3kaaaaaaaaa4b",
        &b,
        development(1),
        at(41),
    )
    .await;
    World { project, a, b, c }
}

fn uris(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn proposals_projects_and_totals_follow_the_funding_rules(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed).await;
    let (_, router) = app(pool);

    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&w.a)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let p = &r.body;
    assert_eq!(p["stage"], "development");
    assert_eq!(p["goal"], 50_000);
    assert_eq!(p["author"]["handle"], "alice.test");
    assert_eq!(p["subject"]["$type"], "fund.greenlight.defs#projectRef");
    assert_eq!(p["subject"]["name"], "Project editor");
    // fan1 counts at the newcomer cap (25.00), fan2's latest estimate wins.
    assert_eq!(p["totals"]["estimateTotal"], 2_500 + 2_000);
    assert_eq!(p["totals"]["estimateCount"], 2);
    assert_eq!(p["totals"]["cappedEstimateCount"], 1);
    assert_eq!(p["totals"]["pledgedHeld"], 0);
    assert_eq!(p["stageHistory"].as_array().unwrap().len(), 1);
    assert_eq!(p["stageHistory"][0]["author"]["handle"], "owner.test");
    assert_eq!(p["escrowState"], "none");

    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&w.b)),
    )
    .await;
    assert_eq!(
        r.body["stage"], "proposed",
        "a stranger's status does not count"
    );
    assert_eq!(r.body["stageHistory"].as_array().unwrap().len(), 0);

    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&w.c)),
    )
    .await;
    assert_eq!(
        r.body["subject"]["$type"],
        "fund.greenlight.defs#repositoryRef"
    );
    assert_eq!(r.body["subject"]["url"], "https://example.org/other");

    let missing = "at://did:plc:nobody/fund.greenlight.proposal/3kaaaaaaaaaaa";
    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(missing)),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "NotFound");

    let r = xrpc(
        &router,
        "fund.greenlight.getProject",
        &format!("uri={}", enc(&w.project)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["proposalCount"], 2);
    assert_eq!(r.body["totals"]["estimateTotal"], 4_500 + 700);
    assert_eq!(r.body["owner"]["handle"], "owner.test");
    assert_eq!(r.body["maintainers"][0]["did"], MAINT);

    let r = xrpc(&router, "fund.greenlight.listProjects", "").await;
    assert_eq!(uris(&r.body["projects"]), vec![w.project.clone()]);
    let r = xrpc(
        &router,
        "fund.greenlight.listProjects",
        &format!("maintainer={MAINT}"),
    )
    .await;
    assert_eq!(uris(&r.body["projects"]).len(), 1);
    let r = xrpc(
        &router,
        "fund.greenlight.listProjects",
        "maintainer=owner.test",
    )
    .await;
    assert_eq!(uris(&r.body["projects"]).len(), 1);
    let r = xrpc(
        &router,
        "fund.greenlight.listProjects",
        "maintainer=did:plc:else",
    )
    .await;
    assert_eq!(uris(&r.body["projects"]).len(), 0);

    let r = xrpc(&router, "fund.greenlight.listProposals", "").await;
    assert_eq!(
        uris(&r.body["proposals"]),
        vec![w.a.clone(), w.b.clone(), w.c.clone()]
    );
    let r = xrpc(&router, "fund.greenlight.listProposals", "sort=new").await;
    assert_eq!(
        uris(&r.body["proposals"]),
        vec![w.b.clone(), w.a.clone(), w.c.clone()]
    );
    let r = xrpc(
        &router,
        "fund.greenlight.listProposals",
        &format!("project={}", enc(&w.project)),
    )
    .await;
    assert_eq!(uris(&r.body["proposals"]).len(), 2);
    let r = xrpc(
        &router,
        "fund.greenlight.listProposals",
        "stage=development",
    )
    .await;
    assert_eq!(uris(&r.body["proposals"]), vec![w.a.clone()]);
    let r = xrpc(
        &router,
        "fund.greenlight.listProposals",
        &format!("repository={}", enc("https://example.com/editor")),
    )
    .await;
    assert_eq!(
        uris(&r.body["proposals"]).len(),
        2,
        "via the project's repository"
    );
    let r = xrpc(
        &router,
        "fund.greenlight.listProposals",
        &format!("repository={}", enc("https://example.org/other")),
    )
    .await;
    assert_eq!(uris(&r.body["proposals"]), vec![w.c.clone()]);

    let r = xrpc(&router, "fund.greenlight.searchProposals", "q=offline").await;
    assert_eq!(uris(&r.body["proposals"]), vec![w.a.clone()]);
    let r = xrpc(
        &router,
        "fund.greenlight.searchProposals",
        "q=sync%20-offline",
    )
    .await;
    assert_eq!(
        uris(&r.body["proposals"]).len(),
        1,
        "tags are searched too: B is tagged sync"
    );

    let r = xrpc(
        &router,
        "fund.greenlight.listEstimates",
        &format!("proposal={}", enc(&w.a)),
    )
    .await;
    let estimates = r.body["estimates"].as_array().unwrap();
    assert_eq!(estimates.len(), 2, "latest per author");
    assert_eq!(estimates[0]["amount"], 2_000);
    assert_eq!(estimates[1]["countedAmount"], 2_500);
    assert_eq!(estimates[1]["capped"], true);

    let r = xrpc(
        &router,
        "fund.greenlight.listPledges",
        &format!("proposal={}", enc(&w.a)),
    )
    .await;
    assert_eq!(r.body["pledges"].as_array().unwrap().len(), 0);
    let r = xrpc(
        &router,
        "fund.greenlight.listPledges",
        &format!("proposal={}", enc(missing)),
    )
    .await;
    assert_eq!(r.body["error"], "NotFound");

    let r = xrpc(&router, "fund.greenlight.getActor", "actor=did:plc:fan1").await;
    assert_eq!(r.body["estimateCaps"][0]["cap"], 2_500);
    assert_eq!(r.body["estimateCount"], 1);
    let r = xrpc(&router, "fund.greenlight.getActor", "actor=alice.test").await;
    assert_eq!(r.body["did"], ALICE);
    assert_eq!(r.body["proposalCount"], 3);
    let r = xrpc(&router, "fund.greenlight.getActor", "actor=nobody.test").await;
    assert_eq!(r.body["error"], "NotFound");
}

#[sqlx::test(migrations = "../migrations")]
async fn funding_totals_are_batched_and_cacheable(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed).await;
    let (_, router) = app(pool);
    let unknown = "at://did:plc:nobody/fund.greenlight.proposal/3kaaaaaaaaaaa";
    let query = format!(
        "uris={}&uris={}&uris={}&uris={}",
        enc(&w.b),
        enc(&w.project),
        enc(unknown),
        enc(&w.b)
    );
    let r = xrpc(&router, "fund.greenlight.getFundingTotals", &query).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        uris(&r.body["totals"]),
        vec![w.b.clone(), w.project.clone()]
    );
    assert_eq!(r.body["totals"][1]["estimateTotal"], 5_200);
    let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(r.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));

    let path = format!("/xrpc/fund.greenlight.getFundingTotals?{query}");
    let again = get_with(
        &router,
        Request::get(&path)
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    // A new estimate changes the totals, so the old ETag no longer matches.
    seed.estimate("did:plc:fan9", "3kaaaaaaaaa5a", &w.b, 100, "USD", at(50))
        .await;
    let changed = get_with(
        &router,
        Request::get(&path)
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["totals"][0]["estimateTotal"], 800);

    let too_many: Vec<String> = (0..26)
        .map(|i| format!("uris=at://did:plc:x/fund.greenlight.proposal/{i}"))
        .collect();
    let r = xrpc(
        &router,
        "fund.greenlight.getFundingTotals",
        &too_many.join("&"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "InvalidRequest");
}

#[sqlx::test(migrations = "../migrations")]
async fn conventions_did_web_cors_health_metrics_and_unknown_methods(pool: PgPool) {
    let (_, router) = app(pool);
    let r = get(&router, "/.well-known/did.json").await;
    assert_eq!(r.body["id"], "did:web:localhost%3A2584");
    assert_eq!(r.body["service"][0]["type"], "AtprotoAppView");
    assert_eq!(r.body["service"][0]["id"], "#greenlight_appview");
    assert_eq!(
        r.body["service"][0]["serviceEndpoint"],
        "http://localhost:2584"
    );

    let r = get(&router, "/xrpc/_health").await;
    assert_eq!(r.status, StatusCode::OK);

    let r = get(&router, "/xrpc/fund.greenlight.noSuchMethod").await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(r.body["error"], "MethodNotImplemented");

    let r = get_with(
        &router,
        Request::get("/xrpc/fund.greenlight.listProposals")
            .header(header::ORIGIN, "https://widget.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let r = get_with(
        &router,
        Request::options("/xrpc/fund.greenlight.getFundingTotals")
            .header(header::ORIGIN, "https://widget.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(r.status.is_success());
    assert!(r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));

    let r = get(&router, "/metrics").await;
    let text = String::from_utf8(r.raw).unwrap();
    assert!(text.contains(
        "greenlight_appview_requests_total{method=\"fund.greenlight.listProposals\",class=\"2xx\"} 1"
    ), "{text}");
    // The unknown method's 501 is the only 5xx.
    assert!(text.contains("greenlight_appview_requests_total{method=\"other\",class=\"5xx\"} 1"));
    assert!(text.contains("greenlight_appview_requests_total{method=\"_health\",class=\"2xx\"} 1"));
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_are_stable_under_concurrent_inserts(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let project = seed.project(OWNER, "editor", "USD", &[]).await;
    let mut original = BTreeSet::new();
    for i in 0..30 {
        let p = seed
            .proposal(
                ALICE,
                &tid(i as u64),
                &project,
                &format!("Feature {i}"),
                at(100 + i),
            )
            .await;
        // Ties on purpose: several proposals share a total, so the URI must break them.
        seed.estimate(
            &format!("did:plc:f{i}"),
            "3kcccccccc222",
            &p,
            100 * (i % 5 + 1),
            "USD",
            at(200 + i),
        )
        .await;
        original.insert(p);
    }
    let (_, router) = app(pool);
    // Record keys are TIDs, distinct per sort and round.
    for (s, sort) in (1_u64..).zip(["top", "new", "pledged"]) {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut round = 0;
        loop {
            let mut query = format!("sort={sort}&limit=7");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={}", enc(c)));
            }
            let r = xrpc(&router, "fund.greenlight.listProposals", &query).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            seen.extend(uris(&r.body["proposals"]));
            // Between pages, others publish proposals that sort before and after the cursor.
            round += 1;
            let hot = seed
                .proposal(
                    ALICE,
                    &tid(1_000 * s + round as u64),
                    &project,
                    "New",
                    at(1000 + round),
                )
                .await;
            seed.estimate(
                "did:plc:hot",
                &tid(1_000 * s + round as u64),
                &hot,
                2_000,
                "USD",
                at(1000),
            )
            .await;
            seed.proposal(
                ALICE,
                &tid(100_000 + 1_000 * s + round as u64),
                &project,
                "Old",
                at(-1000 - round),
            )
            .await;
            match r.body.get("cursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no item twice");
        for p in &original {
            assert!(unique.contains(p), "{sort}: {p} skipped");
        }
    }

    // Search pages by rank, then URI: every "Feature" proposal once.
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = "q=feature&limit=4".to_owned();
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={}", enc(c)));
        }
        let r = xrpc(&router, "fund.greenlight.searchProposals", &query).await;
        found.extend(uris(&r.body["proposals"]));
        match r.body.get("cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = found.iter().collect();
    assert_eq!(unique.len(), found.len());
    assert_eq!(unique.len(), 30, "the 30 proposals titled Feature");

    // A cursor is opaque and checked: junk, or one from another listing, is InvalidRequest.
    let r = xrpc(&router, "fund.greenlight.listProposals", "sort=new&limit=2").await;
    let new_cursor = r.body["cursor"].as_str().unwrap().to_owned();
    for bad in [
        new_cursor.as_str(),
        "not-a-cursor",
        "dG9wLjEuYXQ6Ly8",
        "%F0%9F%92%A9",
    ] {
        let r = xrpc(
            &router,
            "fund.greenlight.listProposals",
            &format!("sort=top&cursor={}", enc(bad)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.body["error"], "InvalidRequest");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn cached_views_are_dropped_when_their_aggregates_change(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed).await;
    let (app, router) = app(pool.clone());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listener = app.spawn_cache_listener(shutdown.clone());
    while !app.cache().is_listening() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let totals = format!("uris={}", enc(&w.b));
    let proposal = format!("uri={}", enc(&w.b));
    let total = |r: &Reply| r.body["totals"][0]["estimateTotal"].as_i64().unwrap();
    assert_eq!(
        total(&xrpc(&router, "fund.greenlight.getFundingTotals", &totals).await),
        700
    );
    xrpc(&router, "fund.greenlight.getProposal", &proposal).await;

    // A change behind the aggregates' back is not seen: the answers come from the cache.
    sqlx::query("UPDATE appview.proposal_state SET estimate_total = 1 WHERE uri = $1")
        .bind(&w.b)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        total(&xrpc(&router, "fund.greenlight.getFundingTotals", &totals).await),
        700
    );

    // A real change announces itself and the next answers show it.
    seed.estimate("did:plc:fan7", "3kaaaaaaaaa6a", &w.b, 300, "USD", at(60))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let t = total(&xrpc(&router, "fund.greenlight.getFundingTotals", &totals).await);
        let p = xrpc(&router, "fund.greenlight.getProposal", &proposal).await;
        if t == 1_000 && p.body["totals"]["estimateTotal"] == 1_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stale: totals {t}, view {}",
            p.body["totals"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    listener.await.unwrap();
    assert!(!app.cache().is_listening());
}
