//! kill -9 the indexer binary at arbitrary points while records are being written, restart
//! it, repeat: at the end the database holds exactly the records the PDS holds, each at its
//! current version — nothing lost, nothing duplicated, nothing stale.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use greenlight_tests::network::{Account, TestNetwork};
use greenlight_tests::scratch_database::ScratchDatabase;
use serde_json::json;
use tokio::process::{Child, Command};

const SOURCE: &str = "crash-test";

/// A small deterministic generator (the test must behave the same on every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn spawn_indexer(net: &TestNetwork, database_url: &str, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_greenlight-indexer"))
        .args([
            "run",
            "--firehose",
            &net.firehose_url(),
            "--source-name",
            SOURCE,
            "--plc-url",
            net.plc_url(),
            "--allow-insecure-http",
            "--handle-resolver-pds",
            net.pds_url(),
            "--batch-size",
            "10",
            "--linger-ms",
            "5",
            "--max-backoff-secs",
            "1",
        ])
        .env("DATABASE_URL", database_url)
        .env(
            "RUST_LOG",
            "info,greenlight_indexer=debug,greenlight_identity=debug",
        )
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn write_records(
    net: &TestNetwork,
    accounts: &[Account],
    seed: u64,
) -> BTreeMap<String, String> {
    let mut rng = Lcg(seed);
    // uri → (account index, rkey, cid)
    let mut live: BTreeMap<String, (usize, String, String)> = BTreeMap::new();
    let proposal = format!(
        "at://{}/fund.greenlight.proposal/3kaaaaaaaaaaa",
        accounts[0].did
    );
    let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
    for i in 0..80u64 {
        let who = rng.below(accounts.len() as u64) as usize;
        let estimate = json!({
            "subject": {"uri": proposal, "cid": cid},
            "amount": 100 + i as i64,
            "currency": "USD",
            "createdAt": "2025-06-01T12:00:00.000Z",
        });
        let choice = rng.below(10);
        if live.is_empty() || choice < 5 {
            let written = net
                .create_record(&accounts[who], "fund.greenlight.estimate", estimate)
                .await
                .unwrap();
            live.insert(
                written.uri.clone(),
                (who, written.rkey().to_owned(), written.cid),
            );
        } else {
            let pick = rng.below(live.len() as u64) as usize;
            let Some((uri, (owner, rkey, _))) =
                live.iter().nth(pick).map(|(u, v)| (u.clone(), v.clone()))
            else {
                continue;
            };
            if choice < 8 {
                let written = net
                    .put_record(
                        &accounts[owner],
                        "fund.greenlight.estimate",
                        &rkey,
                        estimate,
                    )
                    .await
                    .unwrap();
                live.insert(uri, (owner, rkey, written.cid));
            } else {
                net.delete_record(&accounts[owner], "fund.greenlight.estimate", &rkey)
                    .await
                    .unwrap();
                live.remove(&uri);
            }
        }
        tokio::time::sleep(Duration::from_millis(10 + rng.below(30))).await;
    }
    live.into_iter()
        .map(|(uri, (_, _, cid))| (uri, cid))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    let net = TestNetwork::start().await.unwrap();
    let db = ScratchDatabase::create("idxcrash").await.unwrap();
    let pool = greenlight_store::open(&db.url, 2).await.unwrap();
    sqlx::query("INSERT INTO appview.source_cursor (source, position) VALUES ($1, 0)")
        .bind(SOURCE)
        .execute(&pool)
        .await
        .unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let accounts = vec![
        net.create_account("crasha").await.unwrap(),
        net.create_account("crashb").await.unwrap(),
    ];

    let writing = {
        let accounts = accounts.clone();
        let net = &net;
        async move { write_records(net, &accounts, 42).await }
    };
    let killing = async {
        let mut rng = Lcg(7);
        let mut child = spawn_indexer(&net, &db.url, log.path());
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(600))).await;
            // SIGKILL: no chance to commit or clean up.
            child.kill().await.unwrap();
            child = spawn_indexer(&net, &db.url, log.path());
        }
        child
    };
    let (expected, mut child) = tokio::join!(writing, killing);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stored: BTreeMap<String, String> = BTreeMap::new();
    while tokio::time::Instant::now() < deadline {
        stored = sqlx::query_as::<_, (String, String)>("SELECT uri, cid FROM appview.record")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
        if stored == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().await.unwrap();
    if stored != expected {
        let missing: Vec<_> = expected
            .iter()
            .filter(|(u, c)| stored.get(*u) != Some(c))
            .collect();
        let extra: Vec<_> = stored
            .iter()
            .filter(|(u, _)| !expected.contains_key(*u))
            .collect();
        let rejected: Vec<(String,)> = sqlx::query_as("SELECT reason FROM appview.rejected_event")
            .fetch_all(&pool)
            .await
            .unwrap();
        panic!(
            "database and PDS differ\nmissing or stale: {missing:?}\nextra: {extra:?}\nrejected events: {rejected:?}\nindexer log:\n{}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
    }
    assert!(!expected.is_empty());
    let panics = std::fs::read_to_string(log.path()).unwrap_or_default();
    assert!(
        !panics.contains("panicked"),
        "the indexer panicked:\n{panics}"
    );
    pool.close().await;
    db.drop_now().await.unwrap();
}
