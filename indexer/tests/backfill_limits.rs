//! Backfill against hostile PDSes: one that never stops offering pages, one whose pages are
//! too many records, too many bytes or too slow, and DID documents naming a PDS inside our
//! network. Each repo stops at its cap with an error saying which, and keeps what it wrote.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use greenlight_identity::{DidDocument, Resolver, ResolverConfig};
use greenlight_indexer::backfill::{Backfill, BackfillConfig, BackfillReport, RepoLimits};
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::writer::Writer;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

const DID: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

/// A stand-in for a hostile PDS (axum on 127.0.0.1): `getLatestCommit` answers a good
/// revision, and `listRecords` answers every page, for every collection, with `per_page`
/// records (padded to `padding` bytes each) and a cursor to a next page that is always
/// there, after `delay`. A well-behaved PDS ends with a page without a cursor; this one
/// never does.
#[derive(Clone)]
struct EndlessPds {
    per_page: usize,
    padding: usize,
    delay: Duration,
    pages: Arc<AtomicUsize>,
}

#[derive(Deserialize)]
struct ListRecords {
    collection: String,
    cursor: Option<String>,
}

impl EndlessPds {
    fn new() -> EndlessPds {
        EndlessPds {
            per_page: 1,
            padding: 0,
            delay: Duration::ZERO,
            pages: Arc::default(),
        }
    }

    async fn start(self) -> SocketAddr {
        let router = Router::new()
            .route(
                "/xrpc/com.atproto.sync.getLatestCommit",
                get(|| async { Json(json!({"cid": CID, "rev": "3laaaaaaaaaaa"})) }),
            )
            .route(
                "/xrpc/com.atproto.repo.listRecords",
                get(
                    |State(pds): State<EndlessPds>, Query(query): Query<ListRecords>| async move {
                        tokio::time::sleep(pds.delay).await;
                        let page = pds.pages.fetch_add(1, Ordering::SeqCst);
                        let after: usize = query.cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
                        let records: Vec<Value> = (0..pds.per_page)
                            .map(|i| {
                                let n = after * pds.per_page + i;
                                json!({
                                    "uri": format!("at://{DID}/{}/3k{n:011}", query.collection),
                                    "cid": CID,
                                    "value": {
                                        "$type": query.collection,
                                        "padding": "x".repeat(pds.padding),
                                    },
                                })
                            })
                            .collect();
                        Json(json!({"records": records, "cursor": (page + 1).to_string()}))
                    },
                ),
            )
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }
}

/// A resolver that knows `DID`'s document, naming `pds`, without asking any directory.
fn resolver(pds: &str, development: bool) -> Resolver {
    let resolver = Resolver::new(ResolverConfig {
        plc_url: "http://127.0.0.1:1".into(),
        allow_insecure_http: development,
        ..ResolverConfig::default()
    });
    resolver.prime(DidDocument {
        did: DID.into(),
        handle: None,
        pds_endpoint: Some(pds.to_owned()),
        signing_key: None,
    });
    resolver
}

async fn backfill(
    pool: &PgPool,
    resolver: Resolver,
    limits: RepoLimits,
) -> (BackfillReport, Option<String>, i64) {
    let report = Backfill::new(
        BackfillConfig {
            dids: vec![DID.into()],
            progress: false,
            ..BackfillConfig::default()
        },
        Writer::new(pool.clone(), "backfill"),
        resolver,
        Arc::new(Metrics::default()),
        RecordRules::embedded().unwrap(),
    )
    .unwrap()
    .with_limits(limits)
    .run()
    .await
    .unwrap();
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM appview.backfill_repo WHERE did = $1")
            .bind(DID)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(state == "failed", report.repos_failed == 1);
    let kept: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM appview.record WHERE did = $1)
              + (SELECT count(*) FROM appview.rejected_record WHERE uri LIKE 'at://' || $1 || '/%')",
    )
    .bind(DID)
    .fetch_one(pool)
    .await
    .unwrap();
    (report, error, kept)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_endless_cursor_stops_at_the_page_cap(pool: PgPool) {
    let pds = EndlessPds::new();
    let pages = pds.pages.clone();
    let addr = pds.start().await;
    let limits = RepoLimits {
        max_pages: 5,
        ..RepoLimits::default()
    };
    let (report, error, kept) =
        backfill(&pool, resolver(&format!("http://{addr}"), true), limits).await;
    assert_eq!((report.repos_done, report.repos_failed), (0, 1));
    let error = error.unwrap();
    assert!(
        error.contains("stopped at the cap of 5 listRecords pages for one repo"),
        "{error}"
    );
    assert_eq!(
        pages.load(Ordering::SeqCst),
        5,
        "no page past the cap is asked for"
    );
    assert_eq!(kept, 5, "what came before the cap is kept");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_default_caps_end_an_endless_cursor_too(pool: PgPool) {
    let pds = EndlessPds::new();
    let pages = pds.pages.clone();
    let addr = pds.start().await;
    let (report, error, _) = backfill(
        &pool,
        resolver(&format!("http://{addr}"), true),
        RepoLimits::default(),
    )
    .await;
    assert_eq!(report.repos_failed, 1);
    assert!(error.unwrap().contains("listRecords pages"));
    assert_eq!(
        pages.load(Ordering::SeqCst),
        RepoLimits::default().max_pages
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn records_bytes_and_time_are_capped_per_repo(pool: PgPool) {
    // Records: pages of 10, at most 25.
    let addr = EndlessPds {
        per_page: 10,
        ..EndlessPds::new()
    }
    .start()
    .await;
    let limits = RepoLimits {
        max_records: 25,
        ..RepoLimits::default()
    };
    let (_, error, kept) = backfill(&pool, resolver(&format!("http://{addr}"), true), limits).await;
    let error = error.unwrap();
    assert!(
        error.contains("stopped at the cap of 25 records for one repo"),
        "{error}"
    );
    assert_eq!(kept, 20);

    // Bytes: 4 KiB records, at most 10 KiB in all.
    let addr = EndlessPds {
        padding: 4096,
        ..EndlessPds::new()
    }
    .start()
    .await;
    let limits = RepoLimits {
        max_bytes: 10 * 1024,
        ..RepoLimits::default()
    };
    let (_, error, _) = backfill(&pool, resolver(&format!("http://{addr}"), true), limits).await;
    let error = error.unwrap();
    assert!(
        error.contains("stopped at the cap of 10240 response bytes for one repo"),
        "{error}"
    );

    // Time: 300 ms a page, at most 1 s.
    let addr = EndlessPds {
        delay: Duration::from_millis(300),
        ..EndlessPds::new()
    }
    .start()
    .await;
    let limits = RepoLimits {
        max_time: Duration::from_secs(1),
        ..RepoLimits::default()
    };
    let started = Instant::now();
    let (_, error, _) = backfill(&pool, resolver(&format!("http://{addr}"), true), limits).await;
    let error = error.unwrap();
    assert!(
        error.contains("stopped at the cap of 1 s for one repo"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_pds_inside_our_network_is_refused_outside_development(pool: PgPool) {
    let pds = EndlessPds::new();
    let pages = pds.pages.clone();
    let addr = pds.start().await;

    // Production: loopback and private PDSes are never asked anything.
    for (endpoint, expected) in [
        (
            format!("https://{addr}"),
            "the address points to a private or reserved network",
        ),
        (
            "https://10.0.0.1".to_owned(),
            "the address points to a private or reserved network",
        ),
        (format!("http://{addr}"), "only https addresses are fetched"),
    ] {
        let (report, error, _) =
            backfill(&pool, resolver(&endpoint, false), RepoLimits::default()).await;
        assert_eq!(report.repos_failed, 1);
        let error = error.unwrap();
        assert!(
            error.contains("com.atproto.sync.getLatestCommit") && error.contains(expected),
            "{endpoint}: {error}"
        );
    }
    assert_eq!(pages.load(Ordering::SeqCst), 0);
}
