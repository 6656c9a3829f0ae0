//! The escrow ledger feed follower against a local server that speaks
//! `fund.greenlight.escrow.listLedgerEntries` as its lexicon defines it, and the retainer
//! states follower against one that speaks `fund.greenlight.escrow.listRetainerStates`. The server stands in
//! for the escrow service (issue 5), which will be plugged in end to end later: same JSON,
//! same cursor rules (entries with a seq above the cursor, increasing; a state change
//! re-appears under a higher seq), pages capped at two entries to exercise paging.

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use greenlight_appview::escrow_feed::{EscrowFeed, FeedError, RetainerFeed};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

type Ledger = Arc<Mutex<Vec<Value>>>;

async fn list_ledger_entries(
    State(ledger): State<Ledger>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let after: i64 = query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .min(2);
    let entries: Vec<Value> = ledger
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_i64().unwrap() > after)
        .take(limit)
        .cloned()
        .collect();
    let mut page = json!({ "entries": entries });
    if let Some(last) = entries.last() {
        page["cursor"] = json!(last["seq"].as_i64().unwrap().to_string());
    }
    Json(page)
}

async fn escrow_standin(ledger: Ledger) -> String {
    let router = Router::new()
        .route(
            "/xrpc/fund.greenlight.escrow.listLedgerEntries",
            get(list_ledger_entries),
        )
        .with_state(ledger);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[allow(clippy::too_many_arguments)]
fn entry(
    seq: i64,
    id: &str,
    kind: &str,
    state: &str,
    amount: i64,
    proposal: &str,
    pledge: Option<&str>,
    backer: &str,
) -> Value {
    let mut e = json!({
        "seq": seq, "id": id, "createdAt": "2026-01-02T00:00:00.000Z", "kind": kind,
        "state": state, "currency": "USD", "amount": amount,
        "debitAccount": if kind == "pledge_capture" { format!("held:{proposal}") } else { "provider_clearing".into() },
        "creditAccount": if kind == "pledge_hold" { format!("held:{proposal}") } else { "payable:did:plc:owner".into() },
        "proposal": proposal, "backer": backer,
    });
    if let Some(pledge) = pledge {
        e["pledge"] = json!(pledge);
    }
    e
}

async fn follow_all(feed: &EscrowFeed) -> usize {
    let mut total = 0;
    loop {
        match feed.follow_once().await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn ledger_feed_sets_money_totals_pledge_states_and_caps(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let project = seed.project("did:plc:owner", "editor", "USD", &[]).await;
    let a = seed
        .proposal(
            "did:plc:alice",
            "3kaaaaaaaaa2a",
            &project,
            "Offline sync",
            at(1),
        )
        .await;
    let b = seed
        .proposal(
            "did:plc:alice",
            "3kaaaaaaaaa2b",
            &project,
            "Dark mode",
            at(2),
        )
        .await;
    seed.estimate("did:plc:fan1", "3kaaaaaaaaa3a", &b, 10_000, "USD", at(3))
        .await;
    seed.pledge("did:plc:fan1", "3kaaaaaaaaa5a", &a, 3_000, "pl1", at(4))
        .await;
    // Someone claiming fan1's receipt in their own record gets no state from it.
    seed.pledge("did:plc:mallory", "3kaaaaaaaaa5b", &a, 3_000, "pl1", at(5))
        .await;
    let (_, router) = app(pool.clone());

    let ledger: Ledger = Arc::new(Mutex::new(vec![
        entry(
            1,
            "pl1:hold",
            "pledge_hold",
            "pending",
            3_000,
            &a,
            Some("pl1"),
            "did:plc:fan1",
        ),
        entry(
            2,
            "pl2:hold",
            "pledge_hold",
            "posted",
            1_000,
            &a,
            Some("pl2"),
            "did:plc:fan2",
        ),
        entry(
            3,
            "pl1:hold",
            "pledge_hold",
            "posted",
            3_000,
            &a,
            Some("pl1"),
            "did:plc:fan1",
        ),
        entry(
            4,
            "pl3:hold",
            "pledge_hold",
            "voided",
            9_000,
            &a,
            Some("pl3"),
            "did:plc:fan3",
        ),
        entry(
            5,
            "dn1",
            "donation",
            "posted",
            6_000,
            &b,
            None,
            "did:plc:fan2",
        ),
    ]));
    let url = escrow_standin(ledger.clone()).await;
    let feed = EscrowFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_all(&feed).await, 5);
    assert_eq!(feed.position().await.unwrap(), 5);

    let r = xrpc(
        &router,
        "fund.greenlight.getFundingTotals",
        &format!("uris={}&uris={}&uris={}", enc(&a), enc(&b), enc(&project)),
    )
    .await;
    let t = &r.body["totals"];
    assert_eq!(t[0]["pledgedHeld"], 4_000);
    assert_eq!(t[0]["pledgeCount"], 2);
    assert_eq!(t[0]["backerCount"], 2);
    assert_eq!(t[1]["donations"], 6_000);
    assert_eq!(t[2]["pledgedHeld"], 4_000);
    assert_eq!(t[2]["donations"], 6_000);
    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&a)),
    )
    .await;
    assert_eq!(r.body["escrowState"], "open");

    // fan2's donation lifts fan2's cap; fan1 has no successful contribution yet.
    let r = xrpc(&router, "fund.greenlight.getActor", "actor=did:plc:fan2").await;
    assert_eq!(r.body["contributions"][0]["largestSuccessful"], 6_000);
    assert_eq!(r.body["estimateCaps"][0]["cap"], 12_000);
    assert_eq!(r.body["pledgeCount"], 1);

    // The payout: every held pledge of A is paid; fan1's paid pledge lifts fan1's cap, which
    // re-counts fan1's estimate on B.
    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&b)),
    )
    .await;
    assert_eq!(r.body["totals"]["estimateTotal"], 2_500);
    ledger.lock().unwrap().push(entry(
        6,
        "po:a:capture",
        "pledge_capture",
        "posted",
        3_800,
        &a,
        None,
        "did:plc:owner",
    ));
    // Restart: a new follower resumes from the stored cursor.
    let feed = EscrowFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_all(&feed).await, 1);
    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&a)),
    )
    .await;
    assert_eq!(r.body["totals"]["paidOut"], 4_000);
    assert_eq!(r.body["totals"]["pledgedHeld"], 0);
    assert_eq!(r.body["escrowState"], "paid");
    let r = xrpc(
        &router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(&b)),
    )
    .await;
    assert_eq!(
        r.body["totals"]["estimateTotal"], 6_000,
        "fan1's cap is now 2 × 3000"
    );
    let r = xrpc(
        &router,
        "fund.greenlight.listPledges",
        &format!("proposal={}", enc(&a)),
    )
    .await;
    let states: Vec<(&str, &str)> = r.body["pledges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["backer"]["did"].as_str().unwrap(),
                p["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![("did:plc:mallory", "pending"), ("did:plc:fan1", "paid")]
    );

    // Replaying the feed from the start changes nothing.
    let before: Vec<(Value,)> =
        sqlx::query_as("SELECT to_jsonb(m) FROM appview.proposal_money m ORDER BY proposal")
            .fetch_all(&pool)
            .await
            .unwrap();
    sqlx::query("UPDATE appview.source_cursor SET position = 0")
        .execute(&pool)
        .await
        .unwrap();
    follow_all(&feed).await;
    let after: Vec<(Value,)> =
        sqlx::query_as("SELECT to_jsonb(m) FROM appview.proposal_money m ORDER BY proposal")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(before, after);

    // A page that breaks the lexicon is refused and the cursor stays put.
    ledger
        .lock()
        .unwrap()
        .push(json!({ "seq": 7, "id": "bad", "kind": "donation" }));
    let err = feed.follow_once().await.unwrap_err();
    assert!(matches!(err, FeedError::Invalid(_)), "{err}");
    assert_eq!(feed.position().await.unwrap(), 6);
}

/// Escrow books a payment that arrives after it gave up on the pledge as a second hold
/// (`<pledge>:late-hold`) and refunds it; the first hold stays voided. The pledge is still one
/// pledge: refunded once, never shown twice or as cancelled.
#[sqlx::test(migrations = "../migrations")]
async fn a_late_payment_refunded_by_escrow_is_one_refunded_pledge(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let project = seed.project("did:plc:owner", "editor", "USD", &[]).await;
    let a = seed
        .proposal("did:plc:alice", "3kaaaaaaaab2a", &project, "Plugins", at(1))
        .await;
    seed.pledge("did:plc:fan4", "3kaaaaaaaab5a", &a, 2_500, "pl4", at(2))
        .await;
    let (_, router) = app(pool.clone());
    let mut refund = entry(
        4,
        "pl4:refund",
        "refund",
        "posted",
        2_500,
        &a,
        Some("pl4"),
        "did:plc:fan4",
    );
    refund["debitAccount"] = json!(format!("held:{a}"));
    refund["creditAccount"] = json!("refunds");
    let ledger: Ledger = Arc::new(Mutex::new(vec![
        entry(
            1,
            "pl4:hold",
            "pledge_hold",
            "pending",
            2_500,
            &a,
            Some("pl4"),
            "did:plc:fan4",
        ),
        entry(
            2,
            "pl4:hold",
            "pledge_hold",
            "voided",
            2_500,
            &a,
            Some("pl4"),
            "did:plc:fan4",
        ),
        entry(
            3,
            "pl4:late-hold",
            "pledge_hold",
            "posted",
            2_500,
            &a,
            Some("pl4"),
            "did:plc:fan4",
        ),
        refund,
    ]));
    let url = escrow_standin(ledger).await;
    let feed = EscrowFeed::new(pool.clone(), &url).unwrap();
    follow_all(&feed).await;

    let r = xrpc(
        &router,
        "fund.greenlight.getFundingTotals",
        &format!("uris={}", enc(&a)),
    )
    .await;
    let totals = &r.body["totals"][0];
    assert_eq!(totals["refunded"], 2_500);
    assert_eq!(totals["pledgedHeld"], 0);
    assert_eq!(totals["pledgeCount"], 0);
    let r = xrpc(
        &router,
        "fund.greenlight.listPledges",
        &format!("proposal={}", enc(&a)),
    )
    .await;
    let pledges = r.body["pledges"].as_array().unwrap();
    assert_eq!(pledges.len(), 1, "{pledges:?}");
    assert_eq!(pledges[0]["state"], "refunded");
}

/// The stand-in's `listRetainerStates`: states above the cursor, two per page.
async fn list_retainer_states(
    State(states): State<Ledger>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let after: i64 = query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = states
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s["seq"].as_i64().unwrap_or(i64::MAX) > after)
        .take(2)
        .cloned()
        .collect();
    let mut body = json!({ "states": page });
    if let Some(last) = page.last().and_then(|s| s["seq"].as_i64()) {
        body["cursor"] = json!(last.to_string());
    }
    Json(body)
}

async fn retainer_standin(states: Ledger) -> String {
    let router = Router::new()
        .route(
            "/xrpc/fund.greenlight.escrow.listRetainerStates",
            get(list_retainer_states),
        )
        .with_state(states);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

const RETAINER_OFFER: &str = "at://did:plc:owner/fund.greenlight.retainerOffer/tool";

fn retainer_state(seq: i64, agreement: &str, client: Option<&str>, state: &str) -> Value {
    let mut s = json!({
        "seq": seq, "agreement": agreement, "offer": RETAINER_OFFER,
        "maintainer": "did:plc:owner", "tier": "Partner", "amount": 500_000,
        "currency": "USD", "period": "month", "state": state,
        "paidPeriods": if state == "active" { 1 } else { 0 },
        "updatedAt": format!("2026-01-02T00:00:{seq:02}.000Z"),
    });
    if let Some(client) = client {
        s["client"] = json!(client);
    }
    if state == "active" {
        s["currentPeriodEndsAt"] = json!("2026-02-02T00:00:00.000Z");
    }
    s
}

async fn follow_retainers(feed: &RetainerFeed) -> usize {
    let mut total = 0;
    loop {
        match feed.follow_once().await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

async fn stored_retainers(pool: &PgPool) -> Vec<(String, i64, Option<String>, String, i64)> {
    sqlx::query_as(
        "SELECT agreement, seq, client, state, paid_periods FROM appview.escrow_retainer
         ORDER BY agreement",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn retainer_states_feed_keeps_the_latest_state_per_agreement(pool: PgPool) {
    let (_, router) = app(pool.clone());
    let states: Ledger = Arc::new(Mutex::new(vec![
        retainer_state(1, "a1", Some("did:plc:acme"), "requested"),
        retainer_state(2, "a1", Some("did:plc:acme"), "quoted"),
        retainer_state(3, "a2", None, "active"),
        retainer_state(4, "a1", Some("did:plc:acme"), "active"),
        retainer_state(5, "a3", Some("did:plc:globex"), "active"),
    ]));
    let url = retainer_standin(states.clone()).await;
    let feed = RetainerFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_retainers(&feed).await, 5);
    assert_eq!(feed.position().await.unwrap(), 5);
    let applied = stored_retainers(&pool).await;
    assert_eq!(
        applied,
        vec![
            (
                "a1".into(),
                4,
                Some("did:plc:acme".into()),
                "active".into(),
                1
            ),
            // The client asked not to be listed: escrow names nobody, neither do we.
            ("a2".into(), 3, None, "active".into(), 1),
            (
                "a3".into(),
                5,
                Some("did:plc:globex".into()),
                "active".into(),
                1
            ),
        ]
    );
    let (offer, ends): (String, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "SELECT offer, current_period_ends_at FROM appview.escrow_retainer WHERE agreement = 'a1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(offer, RETAINER_OFFER);
    assert_eq!(ends.unwrap().to_rfc3339(), "2026-02-02T00:00:00+00:00");
    // What the pages count: three companies, listed or not.
    let badge = support::get(&router, "/badge/retainers/did:plc:owner.svg").await;
    assert!(
        String::from_utf8(badge.raw)
            .unwrap()
            .contains(">3 companies</text>"),
        "the badge counts the followed agreements"
    );

    // A state change arrives under a higher seq; the agreement ends and is no longer counted.
    states
        .lock()
        .unwrap()
        .push(retainer_state(6, "a3", Some("did:plc:globex"), "ended"));
    assert_eq!(follow_retainers(&feed).await, 1);
    let badge = support::get(&router, "/badge/retainers/did:plc:owner.svg").await;
    assert!(String::from_utf8(badge.raw)
        .unwrap()
        .contains(">2 companies</text>"));

    // Replaying the feed from the start changes nothing: an older state never replaces a
    // newer one.
    let before = stored_retainers(&pool).await;
    sqlx::query("UPDATE appview.source_cursor SET position = 0")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(follow_retainers(&feed).await, 6);
    assert_eq!(stored_retainers(&pool).await, before);
    assert_eq!(feed.position().await.unwrap(), 6);

    // A page that breaks the lexicon is refused whole: the valid state before the broken
    // one on the same page is not applied either, and the cursor stays.
    {
        let mut states = states.lock().unwrap();
        states.push(retainer_state(7, "a4", None, "active"));
        states.push(json!({ "seq": 8, "agreement": "a5", "state": "active" }));
    }
    let err = feed.follow_once().await.unwrap_err();
    assert!(matches!(err, FeedError::Invalid(_)), "{err}");
    assert_eq!(feed.position().await.unwrap(), 6);
    assert_eq!(stored_retainers(&pool).await, before);

    // A datetime that is not one refuses the page too.
    states.lock().unwrap().truncate(6);
    let mut bad = retainer_state(7, "a4", None, "active");
    bad["updatedAt"] = json!("yesterday");
    states.lock().unwrap().push(bad);
    assert!(matches!(
        feed.follow_once().await.unwrap_err(),
        FeedError::Invalid(_)
    ));
    assert_eq!(feed.position().await.unwrap(), 6);

    // Fixed by escrow: the page applies.
    states.lock().unwrap().truncate(6);
    states
        .lock()
        .unwrap()
        .push(retainer_state(7, "a4", None, "active"));
    assert_eq!(follow_retainers(&feed).await, 1);
    assert_eq!(stored_retainers(&pool).await.len(), 4);
}

/// A retainer period in the ledger feed: the payment, its fee and payout carry the agreement,
/// which is stored; a listed client named as `backer` gets no contribution (retainers do not
/// raise estimate caps, `docs/RETAINERS.md`).
#[sqlx::test(migrations = "../migrations")]
async fn ledger_entries_keep_their_retainer_agreement(pool: PgPool) {
    let period = |seq: i64, id: &str, kind: &str, amount: i64, debit: &str, credit: &str| {
        let mut e = json!({
            "seq": seq, "id": id, "createdAt": "2026-01-02T00:00:00.000Z", "kind": kind,
            "state": "posted", "currency": "USD", "amount": amount,
            "debitAccount": debit, "creditAccount": credit,
            "maintainer": "did:plc:owner", "agreement": "a1",
        });
        if kind == "retainer_payment" {
            e["backer"] = json!("did:plc:acme");
        }
        e
    };
    let ledger: Ledger = Arc::new(Mutex::new(vec![
        period(
            1,
            "GL-2026-1:payment",
            "retainer_payment",
            500_000,
            "provider_clearing",
            "payable:did:plc:owner",
        ),
        period(
            2,
            "GL-2026-1:fee",
            "fee",
            25_000,
            "payable:did:plc:owner",
            "platform_fees",
        ),
        period(
            3,
            "GL-2026-1:payout",
            "payout",
            475_000,
            "payable:did:plc:owner",
            "provider_clearing",
        ),
    ]));
    let url = escrow_standin(ledger).await;
    let feed = EscrowFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_all(&feed).await, 3);
    let stored: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, agreement FROM appview.escrow_entry ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        vec![
            ("GL-2026-1:payment".into(), Some("a1".into())),
            ("GL-2026-1:fee".into(), Some("a1".into())),
            ("GL-2026-1:payout".into(), Some("a1".into())),
        ]
    );
    let contributions: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.contribution")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(contributions, 0);
}
