//! Identity off the hot path, against a scripted relay and identity hosts on loopback: a
//! did:web author whose host accepts connections and never answers costs the stream at most
//! one bounded wait (its commits are parked, other repos' flow on), a flood of `#identity`
//! events costs no lookups, parked commits are replayed in order and exactly once when the key
//! arrives, also after a restart, and failed lookups are remembered.
//!
//! Needs a Postgres (`DATABASE_URL`); no Node network.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenlight_firehose::mst::build;
use greenlight_firehose::test_fixtures::{car, cid_of, commit_block, dagcbor, message};
use greenlight_identity::{PublicKey, Resolver, ResolverConfig};
use greenlight_indexer::identity_pool::{IdentityPool, KeyLookup};
use greenlight_indexer::service::SourceKind;
use greenlight_tests::relay_standin::ScriptedRelay;
use greenlight_tests::scratch_database::ScratchDatabase;
use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use k256::ecdsa::signature::Signer;
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod support;

use support::{eventually, local_identity, rejections, Indexer};

const SOURCE: &str = "parking-test";
const NOW: &str = "2025-06-01T12:00:00.000Z";
const SOME_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const DOCUMENT: &str = "/.well-known/did.json";

/// What an identity host answers on a path.
#[derive(Clone)]
enum Reply {
    Json(String),
    Status(u16),
    /// Accept, read the request, never answer.
    Stall,
}

/// A plain-HTTP identity host (the PLC directory or a did:web host) that counts requests per
/// path; unknown paths get 404.
#[derive(Clone)]
struct Host {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Host {
    async fn start() -> Host {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = Host {
            port: listener.local_addr().unwrap().port(),
            routes: Arc::default(),
            hits: Arc::default(),
        };
        let serving = host.clone();
        tokio::spawn(async move {
            let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
            while let Ok((stream, _)) = listener.accept().await {
                let (host, held) = (serving.clone(), Arc::clone(&held));
                tokio::spawn(async move { host.answer(stream, held).await });
            }
        });
        host
    }

    async fn answer(&self, mut stream: TcpStream, held: Arc<Mutex<Vec<TcpStream>>>) {
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let head = String::from_utf8_lossy(&request);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let reply = self.routes.lock().unwrap().get(&path).cloned();
        let (status, body) = match reply {
            Some(Reply::Stall) => {
                held.lock().unwrap().push(stream);
                return;
            }
            Some(Reply::Json(body)) => (200, body),
            Some(Reply::Status(status)) => (status, String::new()),
            None => (404, String::new()),
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The did:web DID this host serves the document of.
    fn web_did(&self) -> String {
        format!("did:web:127.0.0.1%3A{}", self.port)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

/// A repo that signs its commits: its records, and the frames that change them (sync 1.1,
/// with `prevData` and the MST blocks the proof needs).
struct Repo {
    did: String,
    key: k256::ecdsa::SigningKey,
    records: BTreeMap<String, Vec<u8>>,
}

impl Repo {
    fn new(did: String, seed: u8) -> Repo {
        let mut secret = [7u8; 32];
        secret[0] = seed;
        Repo {
            did,
            key: k256::ecdsa::SigningKey::from_slice(&secret).unwrap(),
            records: BTreeMap::new(),
        }
    }

    fn document(&self) -> String {
        let key = PublicKey::K256(*self.key.verifying_key());
        json!({
            "id": self.did,
            "verificationMethod": [{
                "id": format!("{}#atproto", self.did), "type": "Multikey",
                "controller": self.did, "publicKeyMultibase": key.to_multikey(),
            }],
        })
        .to_string()
    }

    fn entries(&self) -> Vec<(Vec<u8>, greenlight_firehose::Cid)> {
        self.records
            .iter()
            .map(|(path, block)| (path.as_bytes().to_vec(), cid_of(block)))
            .collect()
    }

    /// A `#commit` frame writing (or, with `None`, deleting) `path`.
    fn commit(
        &mut self,
        seq: i64,
        rev: &str,
        path: &str,
        record: Option<&serde_json::Value>,
    ) -> Vec<u8> {
        let (prev_data, _) = build::tree(&self.entries());
        let old = self.records.get(path).map(|block| cid_of(block));
        let new = record.map(dagcbor);
        match &new {
            Some(block) => self.records.insert(path.to_owned(), block.clone()),
            None => self.records.remove(path),
        };
        let (data, mut blocks) = build::tree(&self.entries());
        let (_, unsigned) = commit_block(&self.did, &data, rev, &[0; 64]);
        let sig: k256::ecdsa::Signature = self.key.sign(&unsigned);
        let (commit, _) = commit_block(&self.did, &data, rev, &sig.to_bytes());
        let commit_cid = cid_of(&commit);
        blocks.push(commit);
        let action = match (&old, &new) {
            (None, _) => "create",
            (Some(_), Some(_)) => "update",
            (Some(_), None) => "delete",
        };
        let op = ipld!({
            "action": action, "path": path,
            "cid": new.as_ref().map_or(Ipld::Null, |b| Ipld::Link(cid_of(b))),
            "prev": old.map_or(Ipld::Null, Ipld::Link),
        });
        blocks.extend(new);
        message(
            "#commit",
            &ipld!({
                "seq": seq, "repo": self.did.clone(), "commit": Ipld::Link(commit_cid), "rev": rev,
                "since": null, "time": NOW, "tooBig": false, "rebase": false, "blobs": [],
                "blocks": Ipld::Bytes(car(&[commit_cid], &blocks)), "ops": [op],
                "prevData": Ipld::Link(prev_data),
            }),
        )
    }
}

fn identity_frame(seq: i64, did: &str) -> Vec<u8> {
    message(
        "#identity",
        &ipld!({"seq": seq, "did": did, "time": NOW, "handle": "someone.example.com"}),
    )
}

/// A TID from a counter (sortable base32, 13 characters).
fn tid(n: u64) -> String {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let value = (1u64 << 59) + n;
    (0..13)
        .map(|i| ALPHABET[((value >> (60 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// A did:plc from a number.
fn plc_did(n: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let id: String = (0..24)
        .map(|i| ALPHABET[((n >> (5 * (i % 12))) & 31) as usize] as char)
        .collect();
    format!("did:plc:{id}")
}

fn estimate(amount: i64) -> serde_json::Value {
    json!({
        "$type": "fund.greenlight.estimate",
        "subject": {"uri": "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/fund.greenlight.proposal/3kaaaaaaaaaaa", "cid": SOME_CID},
        "amount": amount, "currency": "USD", "createdAt": NOW,
    })
}

fn uri(did: &str, path: &str) -> String {
    format!("at://{did}/{path}")
}

/// The stream a test writes: sequence numbers and revisions in order.
struct Stream {
    relay: ScriptedRelay,
    seq: i64,
    rev: u64,
}

impl Stream {
    async fn start() -> Stream {
        Stream {
            relay: ScriptedRelay::start().await.unwrap(),
            seq: 0,
            rev: 0,
        }
    }

    /// Pushes a commit of `repo` writing `path` (`None`: deleting it); returns the record's uri.
    fn commit(
        &mut self,
        repo: &mut Repo,
        path: &str,
        record: Option<&serde_json::Value>,
    ) -> String {
        self.seq += 1;
        self.rev += 1;
        let frame = repo.commit(self.seq, &tid(self.rev), path, record);
        self.relay.push(self.seq, frame);
        uri(&repo.did, path)
    }

    fn identity(&mut self, did: &str) {
        self.seq += 1;
        self.relay.push(self.seq, identity_frame(self.seq, did));
    }
}

/// What every test here starts from: a scratch database, a PLC directory stand-in and a
/// scripted relay.
struct Fixture {
    db: ScratchDatabase,
    pool: PgPool,
    plc: Host,
    stream: Stream,
}

impl Fixture {
    async fn new(purpose: &str) -> Fixture {
        let db = ScratchDatabase::create(purpose).await.unwrap();
        let pool = greenlight_store::open(&db.url, 4).await.unwrap();
        Fixture {
            db,
            pool,
            plc: Host::start().await,
            stream: Stream::start().await,
        }
    }
}

async fn drop_database(db: ScratchDatabase, pool: PgPool) {
    pool.close().await;
    db.drop_now().await.unwrap();
}

/// An indexer verifying signatures, following `stream`.
async fn start(pool: &PgPool, stream: &Stream, identity: ResolverConfig) -> Indexer {
    let source = SourceKind::Firehose {
        url: stream.relay.firehose_url(),
        verify_signatures: true,
    };
    Indexer::start(pool, SOURCE, source, identity).await
}

/// Lookups bounded for tests: 3 s requests, the default 500 ms key wait, failures remembered
/// for `negative_ttl`.
fn identity_config(plc: &Host, negative_ttl: Duration) -> ResolverConfig {
    ResolverConfig {
        request_timeout: Duration::from_secs(3),
        key_wait: Duration::from_millis(500),
        negative_ttl,
        host_failure_ttl: negative_ttl,
        ..local_identity(&plc.url(), None)
    }
}

async fn indexed(pool: &PgPool, uris: &[String]) -> usize {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record WHERE uri = ANY($1)")
        .bind(uris)
        .fetch_one(pool)
        .await
        .unwrap();
    n as usize
}

async fn amount(pool: &PgPool, uri: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT amount FROM appview.record WHERE uri = $1")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .unwrap()
        .flatten()
}

async fn parked(pool: &PgPool, did: &str) -> Vec<i64> {
    sqlx::query_scalar("SELECT seq FROM appview.parked_event WHERE did = $1 ORDER BY seq")
        .bind(did)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn cursor(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT position FROM appview.source_cursor WHERE source = $1")
        .bind(SOURCE)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Fresh did:plc authors served by `plc`.
fn plc_authors(plc: &Host, first: u64, n: u64) -> Vec<Repo> {
    (first..first + n)
        .map(|i| {
            let repo = Repo::new(plc_did(1000 + i), i as u8);
            plc.set(&format!("/{}", repo.did), Reply::Json(repo.document()));
            repo
        })
        .collect()
}

/// Pushes `commits` estimates of `authors` (round robin) with `flood` `#identity` events of
/// strangers spread among them, and `stalled`'s commits at the given positions; returns how
/// long the authors' records took to be indexed.
async fn round(
    pool: &PgPool,
    stream: &mut Stream,
    authors: &mut [Repo],
    commits: usize,
    flood: usize,
    mut stalled: Option<(&mut Repo, &[usize], &mut Vec<String>)>,
    strangers: &mut u64,
) -> Duration {
    let started = Instant::now();
    let mut uris = Vec::new();
    for i in 0..commits {
        if let Some((repo, at, written)) = stalled.as_mut() {
            if at.contains(&i) {
                let path = format!("fund.greenlight.estimate/{}", tid(10_000 + i as u64));
                written.push(stream.commit(repo, &path, Some(&estimate(i as i64 + 1))));
            }
        }
        for _ in 0..flood / commits {
            *strangers += 1;
            stream.identity(&plc_did(1_000_000 + *strangers));
        }
        let author = &mut authors[i % authors.len()];
        let path = format!("fund.greenlight.estimate/{}", tid(20_000 + stream.rev));
        uris.push(stream.commit(author, &path, Some(&estimate(100 + i as i64))));
    }
    eventually("the authors' records indexed", || async {
        indexed(pool, &uris).await == uris.len()
    })
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_author_is_parked_while_others_flow_and_replayed_once_when_its_key_arrives() {
    let Fixture {
        db,
        pool,
        plc,
        mut stream,
    } = Fixture::new("idxparking").await;
    let web = Host::start().await;
    web.set(DOCUMENT, Reply::Stall);
    let indexer = start(
        &pool,
        &stream,
        identity_config(&plc, Duration::from_secs(2)),
    )
    .await;
    let (commits, flood) = (20, 400);
    let mut strangers = 0;

    // The same stream twice, with fresh authors each time: without and with the stalled
    // author among them.
    let mut baseline_authors = plc_authors(&plc, 0, 4);
    let without = round(
        &pool,
        &mut stream,
        &mut baseline_authors,
        commits,
        flood,
        None,
        &mut strangers,
    )
    .await;
    let mut stalled = Repo::new(web.web_did(), 99);
    let mut stalled_uris = Vec::new();
    let mut authors = plc_authors(&plc, 10, 4);
    let positions = [0, 7, 14];
    let with = round(
        &pool,
        &mut stream,
        &mut authors,
        commits,
        flood,
        Some((&mut stalled, &positions, &mut stalled_uris)),
        &mut strangers,
    )
    .await;
    let added = with.saturating_sub(without);
    println!("{commits} commits among {flood} #identity events: {without:?} without the stalled host, {with:?} with it (added {added:?})");
    assert!(
        added <= Duration::from_secs(1),
        "the stalled host added {added:?} (without: {without:?}, with: {with:?})"
    );

    // The stalled author's commits are parked, in order, the later ones behind the first
    // without lookups of their own; strangers' #identity events cost no lookup at all.
    eventually("the stalled author's commits parked", || async {
        parked(&pool, &stalled.did).await.len() == positions.len()
    })
    .await;
    assert_eq!(indexed(&pool, &stalled_uris).await, 0);
    assert_eq!(web.hits(DOCUMENT), 1, "one lookup for the stalled author");
    assert_eq!(
        plc.total_hits(),
        8,
        "one lookup per author, none for the flood"
    );

    // (b) The host answers: the parked commits are replayed in order and exactly once, and
    // commits written meanwhile follow them.
    web.set(DOCUMENT, Reply::Json(stalled.document()));
    let first = stalled_uris[0].rsplit('/').next().unwrap().to_owned();
    let path = format!("fund.greenlight.estimate/{first}");
    let updated = stream.commit(&mut stalled, &path, Some(&estimate(4242)));
    let cursor_before = cursor(&pool).await;
    eventually("the parked commits replayed", || async {
        parked(&pool, &stalled.did).await.is_empty()
            && indexed(&pool, &stalled_uris).await == stalled_uris.len()
            && amount(&pool, &updated).await == Some(4242)
    })
    .await;
    assert!(
        cursor(&pool).await >= cursor_before,
        "the cursor never goes back"
    );
    assert!(web.hits(DOCUMENT) <= 3, "{} lookups", web.hits(DOCUMENT));
    assert_eq!(rejections(&pool).await, vec![]);
    let totals = indexer.stop().await;
    // Every record once: 40 authors' estimates and the stalled author's three.
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(records, 2 * commits as i64 + positions.len() as i64);
    assert!(totals.puts as i64 >= records);
    drop_database(db, pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_commits_survive_a_restart() {
    let Fixture {
        db,
        pool,
        plc,
        mut stream,
    } = Fixture::new("idxparkrestart").await;
    let web = Host::start().await;
    web.set(DOCUMENT, Reply::Stall);
    // Long negative caching: nothing is retried while the first indexer runs.
    let config = identity_config(&plc, Duration::from_secs(60));
    let indexer = start(&pool, &stream, config.clone()).await;
    let mut author = plc_authors(&plc, 0, 1).remove(0);
    let mut stalled = Repo::new(web.web_did(), 98);
    let (one, two) = (
        format!("fund.greenlight.estimate/{}", tid(1)),
        format!("fund.greenlight.estimate/{}", tid(2)),
    );
    let created = stream.commit(&mut stalled, &one, Some(&estimate(1)));
    let other = stream.commit(&mut author, &one, Some(&estimate(5)));
    stream.commit(&mut stalled, &one, Some(&estimate(2)));
    let second = stream.commit(&mut stalled, &two, Some(&estimate(3)));
    eventually(
        "the other author indexed, the stalled one parked",
        || async {
            indexed(&pool, std::slice::from_ref(&other)).await == 1
                && parked(&pool, &stalled.did).await.len() == 3
        },
    )
    .await;
    let before = cursor(&pool).await;
    assert_eq!(before, stream.seq, "the cursor passed the parked commits");
    indexer.stop().await;

    // The host answers now; a new indexer finds the parked commits, replays them in order,
    // and a commit arriving meanwhile (a delete) follows them.
    web.set(DOCUMENT, Reply::Json(stalled.document()));
    let indexer = start(&pool, &stream, config).await;
    stream.commit(&mut stalled, &two, None);
    eventually("the parked commits replayed after the restart", || async {
        parked(&pool, &stalled.did).await.is_empty()
            && amount(&pool, &created).await == Some(2)
            && indexed(&pool, std::slice::from_ref(&second)).await == 0
    })
    .await;
    let tombstones: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appview.record_tombstone WHERE uri = $1")
            .bind(&second)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tombstones, 1, "the delete after the replayed create");
    eventually("the cursor at the end of the stream", || async {
        cursor(&pool).await == stream.seq
    })
    .await;
    assert!(cursor(&pool).await >= before);
    assert_eq!(rejections(&pool).await, vec![]);
    let records: Vec<String> = sqlx::query_scalar("SELECT uri FROM appview.record ORDER BY uri")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut expected = vec![created.clone(), other.clone()];
    expected.sort();
    assert_eq!(records, expected, "nothing lost, nothing doubled");
    indexer.stop().await;
    drop_database(db, pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_lookups_are_remembered_not_repeated_per_event() {
    let Fixture {
        db,
        pool,
        plc,
        mut stream,
    } = Fixture::new("idxnegative").await;
    let indexer = start(
        &pool,
        &stream,
        identity_config(&plc, Duration::from_secs(60)),
    )
    .await;
    // One DID the directory does not know (an answer), one it fails for (an outage).
    let mut unknown = Repo::new(plc_did(1), 1);
    let mut failing = Repo::new(plc_did(2), 2);
    plc.set(&format!("/{}", failing.did), Reply::Status(503));
    let mut good = plc_authors(&plc, 5, 1).remove(0);
    let rounds = 10;
    let mut last = String::new();
    for i in 0..rounds {
        let path = format!("fund.greenlight.estimate/{}", tid(100 + i));
        stream.commit(&mut unknown, &path, Some(&estimate(1)));
        stream.commit(&mut failing, &path, Some(&estimate(1)));
        stream.identity(&unknown.did);
        stream.identity(&failing.did);
        last = stream.commit(&mut good, &path, Some(&estimate(1)));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually("the good author's last record indexed", || async {
        indexed(&pool, std::slice::from_ref(&last)).await == 1
    })
    .await;
    eventually("the unknown DID's commits rejected", || async {
        rejections(&pool).await.len() == rounds as usize
    })
    .await;
    for (did, reason) in rejections(&pool).await {
        assert_eq!(did.as_deref(), Some(unknown.did.as_str()));
        assert!(reason.contains("DID not found"), "{reason}");
    }
    assert_eq!(parked(&pool, &failing.did).await.len(), rounds as usize);
    assert_eq!(
        plc.hits(&format!("/{}", unknown.did)),
        1,
        "the answer is remembered"
    );
    assert_eq!(
        plc.hits(&format!("/{}", failing.did)),
        1,
        "the outage is remembered"
    );
    indexer.stop().await;
    drop_database(db, pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_host_holds_only_its_share_of_the_pool_and_is_then_left_alone() {
    // Every did:plc document stalls; a did:web host elsewhere answers.
    let plc = Host::start().await;
    let stalled: Vec<String> = (0..40).map(plc_did).collect();
    for did in &stalled {
        plc.set(&format!("/{did}"), Reply::Stall);
    }
    let web = Host::start().await;
    let answering = Repo::new(web.web_did(), 3);
    web.set(DOCUMENT, Reply::Json(answering.document()));
    let pool = IdentityPool::new(
        Resolver::new(ResolverConfig {
            max_concurrent: 4,
            per_host_concurrent: 2,
            key_wait: Duration::from_millis(300),
            request_timeout: Duration::from_secs(2),
            ..identity_config(&plc, Duration::from_secs(60))
        }),
        None,
    );
    for did in &stalled {
        pool.recheck(did);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 40 lookups wait for the stalled host, yet another host's DID resolves at once: the
    // stalled host holds two of the pool's four places.
    let started = Instant::now();
    match pool.key(&answering.did, false).await {
        KeyLookup::Ready(document) => assert!(document.signing_key.is_some()),
        other => panic!("expected the key, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        plc.total_hits(),
        2,
        "requests in flight at the stalled host"
    );

    // Once the host timed out it is left alone: the queued lookups and new ones fail at once,
    // without requests.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for did in &stalled {
        let started = Instant::now();
        let answer = pool.key(did, false).await;
        assert!(matches!(answer, KeyLookup::Pending(_)), "{answer:?}");
        assert!(started.elapsed() < Duration::from_millis(100));
    }
    assert_eq!(plc.total_hits(), 2);
    assert_eq!(pool.fetches(), 3);
}
