//! Escrow's proposal states (its terms and its own verification clock) in the AppView: the
//! follower of `fund.greenlight.escrow.listProposalStates`, and `getProposal`, the proposal
//! page and the badge showing escrow's dates and stage rather than what records claim.
//!
//! A maintainer can delete or backdate a release record after escrow started verification;
//! escrow keeps its clock, and so must every view, or backers never learn they can dispute.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get as route;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use greenlight_aggregates::{apply_ledger_entries, LedgerEntry};
use greenlight_appview::escrow_feed::{FeedError, TermsFeed};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use support::*;

const OWNER: &str = "did:plc:owner";
const ALICE: &str = "did:plc:alice";
const FAN: &str = "did:plc:fan1";

/// What the stand-in serves: every state ever published, and whether escrow is up.
#[derive(Clone, Default)]
struct Escrow {
    states: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
}

impl Escrow {
    fn publish(&self, state: Value) {
        self.states.lock().unwrap().push(state);
    }

    /// Replaces the published state with this seq (escrow fixing a page it got wrong).
    fn republish(&self, state: Value) {
        let mut states = self.states.lock().unwrap();
        let slot = states
            .iter_mut()
            .find(|s| s["seq"] == state["seq"])
            .unwrap();
        *slot = state;
    }
}

async fn list_proposal_states(
    State(escrow): State<Escrow>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if escrow.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let after: i64 = query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .min(2);
    let states: Vec<Value> = escrow
        .states
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s["seq"].as_i64().unwrap() > after)
        .take(limit)
        .cloned()
        .collect();
    let mut page = json!({ "states": states });
    if let Some(last) = states.last() {
        page["cursor"] = json!(last["seq"].as_i64().unwrap().to_string());
    }
    Json(page).into_response()
}

/// Stands in for escrow's public proposal-states feed
/// (`fund.greenlight.escrow.listProposalStates`), which the escrow service serves: the same
/// JSON and cursor rules as its lexicon (states with a seq above the cursor, in increasing
/// order; a proposal re-appears under a higher seq whenever it changes), pages capped at two
/// states to exercise paging, and a switch that makes it answer 503 as if escrow were down.
async fn escrow_standin(escrow: Escrow) -> String {
    let router = Router::new()
        .route(
            "/xrpc/fund.greenlight.escrow.listProposalStates",
            route(list_proposal_states),
        )
        .with_state(escrow);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// When escrow saw the release, by its clock: two days ago (to the minute, fixed once per
/// run), so its verification is still running whatever day the tests run on.
fn started() -> DateTime<Utc> {
    static STARTED: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *STARTED.get_or_init(|| {
        let now = Utc::now() - chrono::Duration::days(2);
        now - chrono::Duration::seconds(now.timestamp() % 60)
            - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
    })
}

/// When escrow's verification ends: 14 days after it started.
fn ends() -> DateTime<Utc> {
    started() + chrono::Duration::days(14)
}

/// A moment as pages write it (`16 Mar 2026, 09:30 UTC`).
fn moment(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// A date as pages write it (`16 Mar 2026`).
fn day(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

/// One `proposalTerms` as escrow publishes it, fixed on 1 Jan 2026 with a 3% fee.
fn state(seq: i64, proposal: &str, project: &str, stage: &str, extra: Value) -> Value {
    let mut state = json!({
        "seq": seq, "proposal": proposal, "project": project, "payee": OWNER,
        "currency": "USD", "feeBasisPoints": 300, "stage": stage,
        "previewEndsAt": stamp(at(60 * 24 * 10)),
        "termsFixedAt": stamp(at(70)), "updatedAt": stamp(at(70 + seq)),
    });
    if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
        state.extend(extra.clone());
    }
    state
}

/// Escrow's state once it saw the release: its own start and end of verification.
fn released(seq: i64, proposal: &str, project: &str, open_disputes: i64) -> Value {
    state(
        seq,
        proposal,
        project,
        "released",
        json!({
            "verificationStartedAt": stamp(started()),
            "verificationEndsAt": stamp(ends()),
            "openDisputes": open_disputes,
        }),
    )
}

struct World {
    project: String,
    proposal: String,
    /// The release status record.
    release: String,
}

/// A project owned by @ada.test, a proposal in preview with a $500 pledge held by escrow,
/// then the owner's release record dated `release_at`.
async fn world(seed: &Seed, release_at: DateTime<Utc>) -> World {
    seed.handle(OWNER, "ada.test").await;
    let project = seed.project(OWNER, "editor", "USD", &[]).await;
    let proposal = seed
        .proposal(ALICE, "3kaaaaaaaac2a", &project, "Vim key bindings", at(1))
        .await;
    seed.status(
        OWNER,
        "3kaaaaaaaac4a",
        &proposal,
        development(100_000),
        at(30),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaac4b",
        &proposal,
        preview(at(60 * 24 * 10)),
        at(40),
    )
    .await;
    seed.pledge(FAN, "3kaaaaaaaac5a", &proposal, 50_000, "pl-1", at(70))
        .await;
    let hold = LedgerEntry {
        seq: 1,
        id: "pl-1:hold".into(),
        created_at: at(70),
        kind: "pledge_hold".into(),
        state: "posted".into(),
        currency: "USD".into(),
        amount: 50_000,
        debit_account: "provider_clearing".into(),
        credit_account: format!("held:{proposal}"),
        proposal: Some(proposal.clone()),
        pledge: Some("pl-1".into()),
        donation: None,
        backer: Some(FAN.into()),
        agreement: None,
    };
    let mut tx = seed.pool.begin().await.unwrap();
    apply_ledger_entries(&mut tx, &[hold]).await.unwrap();
    tx.commit().await.unwrap();
    let release = seed
        .status(OWNER, "3kaaaaaaaac4c", &proposal, release(), release_at)
        .await;
    World {
        project,
        proposal,
        release,
    }
}

async fn follow_all(feed: &TermsFeed) -> usize {
    let mut total = 0;
    loop {
        match feed.follow_once().await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

async fn proposal_view(router: &Router, uri: &str) -> Value {
    let reply = xrpc(
        router,
        "fund.greenlight.getProposal",
        &format!("uri={}", enc(uri)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

/// A datetime field of a view.
fn time(view: &Value, field: &str) -> DateTime<Utc> {
    let value = view[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {view:#}"));
    DateTime::parse_from_rfc3339(value)
        .unwrap()
        .with_timezone(&Utc)
}

fn page_path(uri: &str) -> String {
    let rest = uri.strip_prefix("at://").unwrap();
    let mut parts = rest.split('/');
    let did = parts.next().unwrap();
    let rkey = parts.nth(1).unwrap();
    format!("/proposal/{did}/{rkey}")
}

async fn html(router: &Router, path: &str) -> String {
    let reply = get(router, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}");
    String::from_utf8(reply.raw).unwrap()
}

/// The stage the records alone give (what the AppView showed before it followed escrow).
async fn records_stage(pool: &PgPool, uri: &str) -> String {
    let (stage,): (String,) =
        sqlx::query_as("SELECT stage FROM appview.proposal_state WHERE uri = $1")
            .bind(uri)
            .fetch_one(pool)
            .await
            .unwrap();
    stage
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deleted_release_still_shows_released_with_escrows_dates(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed, at(60 * 24 * 11)).await;
    let (_, router) = app(pool.clone());

    // Escrow has said nothing yet: no verification dates at all, none made up from the
    // release record's createdAt.
    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released");
    for field in ["verificationStartedAt", "verificationEndsAt", "payee"] {
        assert!(v.get(field).is_none(), "{field} without escrow: {v:#}");
    }

    let escrow = Escrow::default();
    escrow.publish(state(1, &w.proposal, &w.project, "preview", json!({})));
    escrow.publish(released(2, &w.proposal, &w.project, 0));
    let feed = TermsFeed::new(pool.clone(), &escrow_standin(escrow.clone()).await).unwrap();
    assert_eq!(follow_all(&feed).await, 2);
    assert_eq!(feed.position().await.unwrap(), 2);

    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released");
    assert_eq!(v["release"]["sourceUrl"], "https://example.com/src");
    assert_eq!(time(&v, "verificationStartedAt"), started());
    assert_eq!(time(&v, "verificationEndsAt"), ends());
    assert_eq!(v["payee"], json!({ "did": OWNER, "handle": "ada.test" }));
    assert_eq!(v["escrowState"], "verifying");

    // The maintainer deletes the release record: the records alone fall back to preview.
    seed.delete(&w.release).await;
    assert_eq!(records_stage(&pool, &w.proposal).await, "preview");

    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released", "{v:#}");
    assert!(v.get("release").is_none());
    assert_eq!(time(&v, "verificationStartedAt"), started());
    assert_eq!(time(&v, "verificationEndsAt"), ends());
    assert_eq!(v["escrowState"], "verifying");
    assert_eq!(v["payee"]["did"], OWNER);

    let path = page_path(&w.proposal);
    let page = html(&router, &path).await;
    for needed in [
        format!(
            "The release was declared and escrow's verification continues until {}, so backers can still dispute.",
            moment(ends())
        ),
        format!(
            "Escrow started this proposal's verification on {}.",
            moment(started())
        ),
        format!(
            "This proposal's verification ends {}, by escrow's clock.",
            moment(ends())
        ),
        "Who is paid".to_owned(),
        ">@ada.test</a>, fixed by escrow on 1 Jan 2026 when the first money arrived.".to_owned(),
        // The fee escrow fixed, not the 5% the AppView is configured with.
        "minus a 3% platform fee".to_owned(),
        "Holding pledges during verification".to_owned(),
        format!("Verification until {}", day(ends())),
        // The timeline dates the release by escrow's clock.
        format!("<h3>Released</h3><p class=\"when\">{}</p>", day(started())),
        "No backer has disputed the release.".to_owned(),
    ] {
        assert!(page.contains(&needed), "missing {needed:?}\n{page}");
    }
    for wrong in ["If the release never comes", "Taking pledges"] {
        assert!(
            !page.contains(wrong),
            "{wrong:?} on a released page\n{page}"
        );
    }
    let badge = html(&router, &format!("{path}/badge.svg")).await;
    assert!(badge.contains("released · $500 funded"), "{badge}");

    // A backer disputes: escrow freezes the payout and the view says so.
    escrow.publish(released(3, &w.proposal, &w.project, 1));
    assert_eq!(follow_all(&feed).await, 1);
    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["escrowState"], "disputed");
    assert!(html(&router, &path)
        .await
        .contains("Payout frozen by an open dispute"));

    // The dispute is upheld and escrow refunds: still released, the money is back.
    escrow.publish(released(4, &w.proposal, &w.project, 0));
    let mut refunded = released(5, &w.proposal, &w.project, 0);
    refunded["settlement"] = json!("refund");
    escrow.publish(refunded);
    assert_eq!(follow_all(&feed).await, 2);
    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released");
    assert_eq!(v["escrowState"], "refunded");
    let page = html(&router, &path).await;
    assert!(
        page.contains(&format!(
            "The release was declared and escrow's verification ran until {}.",
            moment(ends())
        )),
        "{page}"
    );
    assert!(!page.contains("so backers can still dispute"), "{page}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_backdated_release_shows_escrows_end_not_created_at_plus_period(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    // The release record claims 1 Jan 2026, two months before escrow saw it: by the record's
    // date plus the 14-day period, verification would have ended on 15 Jan.
    let w = world(&seed, at(41)).await;
    let (app_view, router) = app(pool.clone());
    let record_end =
        at(41) + chrono::Duration::from_std(app_view.config().verification_period).unwrap();

    let escrow = Escrow::default();
    escrow.publish(released(1, &w.proposal, &w.project, 0));
    let feed = TermsFeed::new(pool.clone(), &escrow_standin(escrow).await).unwrap();
    follow_all(&feed).await;

    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released");
    assert_eq!(time(&v, "verificationEndsAt"), ends());
    assert_ne!(time(&v, "verificationEndsAt"), record_end);
    assert_eq!(time(&v, "verificationStartedAt"), started());
    let page = html(&router, &page_path(&w.proposal)).await;
    assert!(page.contains(&format!(
        "This proposal's verification ends {}",
        moment(ends())
    )));
    assert!(!page.contains("15 Jan 2026"), "{page}");

    // Backdated further, before the preview, the release record is rejected: the records
    // alone say preview, but escrow holds it released and the view follows escrow.
    seed.status(
        OWNER,
        "3kaaaaaaaac4c",
        &w.proposal,
        release(),
        utc(2019, 6, 1, 0, 0),
    )
    .await;
    assert_eq!(records_stage(&pool, &w.proposal).await, "preview");
    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(v["stage"], "released");
    assert!(v.get("release").is_none());
    assert_eq!(time(&v, "verificationEndsAt"), ends());
    let page = html(&router, &page_path(&w.proposal)).await;
    assert!(page.contains(&format!(
        "The release was declared and escrow's verification continues until {}",
        moment(ends())
    )));
}

/// Collects announcements on the aggregates' channel up to a sentinel we send ourselves, so
/// "nothing was announced" is checked without waiting on a timeout.
async fn announcements(pool: &PgPool, listener: &mut PgListener) -> Vec<String> {
    sqlx::query("SELECT pg_notify($1, 'sentinel')")
        .bind(greenlight_aggregates::CHANGED_CHANNEL)
        .execute(pool)
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("the sentinel arrives")
            .unwrap();
        if n.payload() == "sentinel" {
            return seen;
        }
        seen.push(n.payload().to_owned());
    }
}

async fn stored(pool: &PgPool) -> Vec<(Value,)> {
    sqlx::query_as("SELECT to_jsonb(e) FROM appview.escrow_proposal e ORDER BY proposal")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_latest_state_per_proposal_wins_and_a_replay_changes_nothing(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed, at(60 * 24 * 11)).await;
    let other = seed
        .proposal(ALICE, "3kaaaaaaaac2b", &w.project, "Plugins", at(2))
        .await;
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener
        .listen(greenlight_aggregates::CHANGED_CHANNEL)
        .await
        .unwrap();

    // Two states of one proposal on one page, the other proposal across pages.
    let escrow = Escrow::default();
    escrow.publish(state(1, &w.proposal, &w.project, "preview", json!({})));
    escrow.publish(released(2, &w.proposal, &w.project, 0));
    escrow.publish(state(3, &other, &w.project, "development", json!({})));
    escrow.publish(state(4, &other, &w.project, "preview", json!({})));
    escrow.publish(state(
        5,
        &other,
        &w.project,
        "declined",
        json!({ "settlement": "refund" }),
    ));
    let url = escrow_standin(escrow.clone()).await;
    let feed = TermsFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_all(&feed).await, 5);

    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT proposal, seq, stage FROM appview.escrow_proposal ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (w.proposal.clone(), 2, "released".to_owned()),
            (other.clone(), 5, "declined".to_owned())
        ]
    );
    let mut seen = announcements(&pool, &mut listener).await;
    seen.sort();
    seen.dedup();
    let mut expected = vec![w.proposal.clone(), other.clone()];
    expected.sort();
    // The aggregates hook announces nothing here (no records changed during following).
    assert_eq!(seen, expected);
    let (_, router) = app(pool.clone());
    let v = proposal_view(&router, &other).await;
    assert_eq!(v["stage"], "declined", "escrow refunded it as declined");
    assert_eq!(v["escrowState"], "refunded");

    // Replaying the feed from the start (older states of the same proposals included)
    // changes no row and announces nothing.
    let before = stored(&pool).await;
    let views_before = (
        proposal_view(&router, &w.proposal).await,
        proposal_view(&router, &other).await,
    );
    sqlx::query(
        "UPDATE appview.source_cursor SET position = 0 WHERE source LIKE 'escrow-states:%'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(feed.position().await.unwrap(), 0);
    assert_eq!(follow_all(&feed).await, 5);
    assert_eq!(feed.position().await.unwrap(), 5);
    assert_eq!(stored(&pool).await, before);
    assert_eq!(
        announcements(&pool, &mut listener).await,
        Vec::<String>::new()
    );
    let views_after = (
        proposal_view(&router, &w.proposal).await,
        proposal_view(&router, &other).await,
    );
    assert_eq!(views_before, views_after);

    // A restarted follower resumes from the stored cursor and applies only what is new.
    escrow.publish(released(6, &w.proposal, &w.project, 2));
    let feed = TermsFeed::new(pool.clone(), &url).unwrap();
    assert_eq!(follow_all(&feed).await, 1);
    assert_eq!(
        announcements(&pool, &mut listener).await,
        vec![w.proposal.clone()]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_page_is_not_applied_and_is_retried(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed, at(60 * 24 * 11)).await;
    let escrow = Escrow::default();
    escrow.publish(state(1, &w.proposal, &w.project, "preview", json!({})));
    // Breaks the lexicon: the payee is not a DID.
    let mut bad = released(2, &w.proposal, &w.project, 0);
    bad["payee"] = json!("the maintainer");
    escrow.publish(bad);
    let feed = TermsFeed::new(pool.clone(), &escrow_standin(escrow.clone()).await).unwrap();

    let err = feed.follow_once().await.unwrap_err();
    assert!(matches!(err, FeedError::Invalid(_)), "{err}");
    // The whole page is refused, its valid first state included, and the cursor stays.
    assert_eq!(feed.position().await.unwrap(), 0);
    assert!(stored(&pool).await.is_empty());

    // A datetime that is not one is refused too.
    let mut bad = released(2, &w.proposal, &w.project, 0);
    bad["verificationEndsAt"] = json!("in two weeks");
    escrow.republish(bad);
    let err = feed.follow_once().await.unwrap_err();
    assert!(matches!(err, FeedError::Invalid(_)), "{err}");
    assert!(stored(&pool).await.is_empty());

    // Escrow fixes the page: the next round applies it, nothing skipped.
    escrow.republish(released(2, &w.proposal, &w.project, 0));
    assert_eq!(follow_all(&feed).await, 2);
    let (_, router) = app(pool.clone());
    let v = proposal_view(&router, &w.proposal).await;
    assert_eq!(time(&v, "verificationEndsAt"), ends());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_follower_survives_escrow_being_down_and_drops_cached_views(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let w = world(&seed, at(60 * 24 * 11)).await;
    let escrow = Escrow::default();
    escrow.publish(released(1, &w.proposal, &w.project, 0));
    escrow.down.store(true, Ordering::SeqCst);
    let url = escrow_standin(escrow.clone()).await;
    let feed = TermsFeed::new(pool.clone(), &url).unwrap();
    let err = feed.follow_once().await.unwrap_err();
    assert!(matches!(err, FeedError::Http(_)), "{err}");
    // Nothing listens on this port at all.
    let nowhere = TermsFeed::new(pool.clone(), "http://127.0.0.1:9").unwrap();
    assert!(matches!(
        nowhere.follow_once().await.unwrap_err(),
        FeedError::Http(_)
    ));

    // With the cache on, a view served before escrow comes back must not outlive the change.
    let (app_view, router) = app(pool.clone());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let cache = app_view.spawn_cache_listener(shutdown.clone());
    for _ in 0..100 {
        if app_view.cache().is_listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app_view.cache().is_listening());
    let v = proposal_view(&router, &w.proposal).await;
    assert!(v.get("verificationEndsAt").is_none());

    let follower = tokio::spawn(feed.run(Duration::from_millis(50), shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stored(&pool).await.is_empty());
    escrow.down.store(false, Ordering::SeqCst);

    let mut shown = None;
    for _ in 0..150 {
        let v = proposal_view(&router, &w.proposal).await;
        if v.get("verificationEndsAt").is_some() {
            shown = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = shown.expect("the follower recovered and the cached view was dropped");
    assert_eq!(time(&v, "verificationEndsAt"), ends());
    shutdown.cancel();
    follower.await.unwrap();
    cache.await.unwrap();
}

#[test]
fn the_shown_stage_never_falls_behind_escrow() {
    use greenlight_appview::views::shown_stage;
    // Escrow's final stages decide the money, whatever the records say now.
    assert_eq!(shown_stage("preview", Some("released")), "released");
    assert_eq!(shown_stage("declined", Some("released")), "released");
    assert_eq!(shown_stage("released", Some("declined")), "declined");
    // Never earlier than escrow: a deleted preview record while escrow holds pledges.
    assert_eq!(shown_stage("development", Some("preview")), "preview");
    // A release escrow has not seen yet, or a stage escrow does not know, shows as recorded.
    assert_eq!(shown_stage("released", Some("preview")), "released");
    assert_eq!(shown_stage("declined", Some("preview")), "declined");
    assert_eq!(shown_stage("preview", Some("something-new")), "preview");
    assert_eq!(shown_stage("development", None), "development");
}
