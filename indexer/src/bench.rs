//! The ingest benchmark: a generated stream of firehose frames through the whole path
//! (decode, validate, store), compared with a Postgres `COPY` of the same rows in the same run.
//!
//! The stream is deterministic (a seeded generator): creates of every record type, updates,
//! deletes, invalid records, `#identity` and `#account` events, one op per commit as on the
//! real firehose, each frame a real DAG-CBOR message with a CAR of real CIDs. Signatures are not
//! checked (the generated repos have no DID documents).
//!
//! The COPY baseline loads one row per event into tables shaped like the indexer's (same
//! columns and indexes): record-carrying events into a copy of `appview.record`, deletes into a
//! copy of `appview.record_tombstone`, identity and account events into a copy of
//! `appview.actor`. Its input is written to a temporary file first so that only Postgres's load
//! is timed.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use sqlx::Connection;
use tokio::sync::mpsc;

use crate::event::{EventBody, SourceEvent};
use crate::metrics::Metrics;
use crate::pipeline::{self, BatchConfig};
use crate::record_rules::{RecordRules, DISPUTE, ESTIMATE, PLEDGE, PROJECT, PROPOSAL, STATUS};
use crate::source::firehose::{FrameJudge, FrameOutcome};
use crate::writer::Writer;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// A Postgres server URL; a scratch database is created on it and dropped afterwards.
    pub database_url: String,
    /// Events in the stream.
    pub events: usize,
    /// Distinct repos.
    pub repos: usize,
    /// Batching.
    pub batch: BatchConfig,
    /// Generator seed.
    pub seed: u64,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Events replayed.
    pub events: usize,
    /// Wall time of decode + validate + store.
    pub ingest: Duration,
    /// Rows loaded by COPY (one per event).
    pub copy_rows: usize,
    /// Wall time of the COPY.
    pub copy: Duration,
    /// Peak resident memory of this process, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Records stored at the end, rejected versions, tombstones.
    pub records: i64,
    /// Rejected record versions stored.
    pub rejected: i64,
}

impl BenchReport {
    /// Ingest rate.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.ingest.as_secs_f64()
    }

    /// COPY rate.
    pub fn copy_rows_per_second(&self) -> f64 {
        self.copy_rows as f64 / self.copy.as_secs_f64()
    }

    /// Ingest rate over COPY rate.
    pub fn ratio_to_copy(&self) -> f64 {
        self.events_per_second() / self.copy_rows_per_second()
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "events:          {}", self.events)?;
        writeln!(
            f,
            "ingest:          {:.2} s, {:.0} events/s (decode + validate + store)",
            self.ingest.as_secs_f64(),
            self.events_per_second()
        )?;
        writeln!(
            f,
            "COPY baseline:   {} rows in {:.2} s, {:.0} rows/s",
            self.copy_rows,
            self.copy.as_secs_f64(),
            self.copy_rows_per_second()
        )?;
        writeln!(f, "ratio to COPY:   {:.2}", self.ratio_to_copy())?;
        match self.peak_rss_kib {
            Some(kib) => writeln!(f, "peak RSS:        {:.1} MiB", kib as f64 / 1024.0)?,
            None => writeln!(f, "peak RSS:        unknown")?,
        }
        write!(
            f,
            "stored:          {} records, {} rejected versions",
            self.records, self.rejected
        )
    }
}

/// Runs the benchmark on a scratch database.
pub async fn run(config: BenchConfig) -> anyhow::Result<BenchReport> {
    let scratch = format!("greenlight_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&config.database_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {scratch}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {scratch}"))
        .execute(&mut admin)
        .await?;
    let url = database_url_with_name(&config.database_url, &scratch);
    let result = run_on(&url, &config).await;
    if let Err(err) = sqlx::query(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
        .execute(&mut admin)
        .await
    {
        tracing::warn!(%err, "cannot drop the scratch database {scratch}");
    }
    result
}

async fn run_on(url: &str, config: &BenchConfig) -> anyhow::Result<BenchReport> {
    let pool = greenlight_store::open(url, 4).await?;
    let rules = RecordRules::embedded()?;
    let metrics = Metrics::new();
    let judge = FrameJudge::new(rules, None, None, metrics.clone());
    let writer = Writer::new(pool.clone(), "bench");

    // The stream is generated to a file first, so that only the indexer's work is timed:
    // file → frames → judge (decode + validate) → events → writer, each stage bounded.
    let dir = scratch_dir()?;
    let frames_path = dir.join("frames.bin");
    {
        let (events, repos, seed) = (config.events, config.repos, config.seed);
        let path = frames_path.clone();
        tokio::task::spawn_blocking(move || write_frames(&path, events, repos, seed)).await??;
    }
    let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<u8>>(4096);
    let (events_tx, events_rx) = pipeline::channel(&config.batch);
    let started = Instant::now();
    let generator = {
        let path = frames_path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
            let mut len = [0u8; 4];
            loop {
                match std::io::Read::read_exact(&mut file, &mut len) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(err) => return Err(err),
                }
                let mut frame = vec![0u8; u32::from_le_bytes(len) as usize];
                std::io::Read::read_exact(&mut file, &mut frame)?;
                if frames_tx.blocking_send(frame).is_err() {
                    return Ok(());
                }
            }
        })
    };
    let judging = tokio::spawn(async move {
        while let Some(frame) = frames_rx.recv().await {
            if let FrameOutcome::Event(event) = judge.judge(&frame).await {
                if events_tx.send(event).await.is_err() {
                    break;
                }
            }
        }
    });
    let writing = tokio::spawn(pipeline::run_writer(
        events_rx,
        writer,
        config.batch,
        metrics.clone(),
    ));
    generator.await??;
    judging.await?;
    let _ = std::fs::remove_file(&frames_path);
    let totals = writing.await?;
    let ingest = started.elapsed();
    anyhow::ensure!(
        totals.events as usize == config.events,
        "only {} of {} events were committed",
        totals.events,
        config.events
    );

    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
        .fetch_one(&pool)
        .await?;
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.rejected_record")
        .fetch_one(&pool)
        .await?;
    let peak_rss_kib = peak_rss_kib();
    let (copy_rows, copy) = copy_baseline(&pool, config).await?;
    Ok(BenchReport {
        events: config.events,
        ingest,
        copy_rows,
        copy,
        peak_rss_kib,
        records,
        rejected,
    })
}

/// A private folder for the benchmark's files.
fn scratch_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("greenlight-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes the generated stream's frames, each prefixed by its length (u32, little-endian).
fn write_frames(
    path: &std::path::Path,
    events: usize,
    repos: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut stream = StreamGenerator::new(seed, repos);
    for _ in 0..events {
        let frame = stream.next_event().frame;
        let len = u32::try_from(frame.len()).map_err(std::io::Error::other)?;
        file.write_all(&len.to_le_bytes())?;
        file.write_all(&frame)?;
    }
    file.flush()
}

/// Loads one row per event with COPY into tables shaped like the indexer's.
async fn copy_baseline(pool: &PgPool, config: &BenchConfig) -> anyhow::Result<(usize, Duration)> {
    let dir = scratch_dir()?;
    let paths = [
        dir.join("record.tsv"),
        dir.join("tombstone.tsv"),
        dir.join("actor.tsv"),
    ];
    let rows = {
        let mut files = [
            std::io::BufWriter::new(std::fs::File::create(&paths[0])?),
            std::io::BufWriter::new(std::fs::File::create(&paths[1])?),
            std::io::BufWriter::new(std::fs::File::create(&paths[2])?),
        ];
        let mut stream = StreamGenerator::new(config.seed, config.repos);
        for n in 0..config.events {
            let event = stream.next_event();
            match event.copy_row {
                CopyRow::Record(line) => {
                    files[0].write_all(line.replace("{n}", &n.to_string()).as_bytes())?
                }
                CopyRow::Tombstone(line) => {
                    files[1].write_all(line.replace("{n}", &n.to_string()).as_bytes())?
                }
                CopyRow::Actor(line) => {
                    files[2].write_all(line.replace("{n}", &n.to_string()).as_bytes())?
                }
            }
        }
        for file in &mut files {
            file.flush()?;
        }
        config.events
    };
    let mut conn = pool.acquire().await?;
    for statement in [
        "DROP SCHEMA IF EXISTS bench_copy CASCADE",
        "CREATE SCHEMA bench_copy",
        "CREATE TABLE bench_copy.record (LIKE appview.record INCLUDING ALL)",
        "CREATE TABLE bench_copy.record_tombstone (LIKE appview.record_tombstone INCLUDING ALL)",
        "CREATE TABLE bench_copy.actor (LIKE appview.actor INCLUDING ALL)",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    let targets = [
        "COPY bench_copy.record (uri, did, collection, rkey, cid, rev, body, subject_uri, subject_cid, amount, currency, stage, created_at) FROM STDIN",
        "COPY bench_copy.record_tombstone (uri, rev) FROM STDIN",
        "COPY bench_copy.actor (did, handle, active, status) FROM STDIN",
    ];
    let started = Instant::now();
    for (path, statement) in paths.iter().zip(targets) {
        let mut copy = conn.copy_in_raw(statement).await?;
        let file = tokio::fs::File::open(path).await?;
        copy.read_from(file).await?;
        copy.finish().await?;
    }
    let elapsed = started.elapsed();
    sqlx::query("DROP SCHEMA bench_copy CASCADE")
        .execute(&mut *conn)
        .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((rows, elapsed))
}

/// `VmHWM` of this process.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The URL of another database on the same server.
pub fn database_url_with_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The row a generated event stands for in the COPY baseline (`{n}` is replaced by the event
/// number to keep keys unique).
enum CopyRow {
    Record(String),
    Tombstone(String),
    Actor(String),
}

/// A generated event: its frame and its COPY row.
struct GeneratedEvent {
    frame: Vec<u8>,
    copy_row: CopyRow,
}

/// A deterministic generator of a realistic mixed stream.
pub struct StreamGenerator {
    rng: u64,
    repos: usize,
    seq: i64,
    tid_clock: u64,
    /// Records that exist (for updates and deletes): (repo, collection, rkey).
    live: Vec<(usize, &'static str, String)>,
    proposals: Vec<String>,
    deactivated: Vec<bool>,
}

impl StreamGenerator {
    /// A generator over `repos` accounts.
    pub fn new(seed: u64, repos: usize) -> StreamGenerator {
        StreamGenerator {
            rng: seed.max(1),
            repos: repos.max(1),
            seq: 0,
            tid_clock: 1_700_000_000_000_000,
            live: Vec::new(),
            proposals: vec![format!("at://{}/{PROPOSAL}/3kaaaaaaaaaaa", repo_did(0))],
            deactivated: vec![false; repos.max(1)],
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: fast and good enough to mix a benchmark stream.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn tid(&mut self) -> String {
        self.tid_clock += 1;
        tid_string(self.tid_clock << 10)
    }

    /// Frames of the next `n` events, for tests.
    pub fn frames(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.next_event().frame).collect()
    }

    /// A `#commit` frame deleting `path` in `did`'s repo at `rev`, for tests of hostile input.
    #[cfg(test)]
    pub(crate) fn delete_frame(&mut self, did: &str, rev: &str, path: &str) -> Vec<u8> {
        self.seq += 1;
        let op = Ipld::Map(
            [
                ("action".to_owned(), Ipld::String("delete".into())),
                ("path".to_owned(), Ipld::String(path.to_owned())),
                ("cid".to_owned(), Ipld::Null),
            ]
            .into(),
        );
        self.commit_frame(did, rev, op, None)
    }

    fn next_event(&mut self) -> GeneratedEvent {
        self.seq += 1;
        let roll = self.below(1000);
        let repo = self.below(self.repos);
        match roll {
            0..=1 => self.account_event(repo),
            2..=21 => self.identity_event(repo),
            22..=121 if !self.live.is_empty() => self.delete_event(),
            122..=271 if !self.live.is_empty() => self.update_event(),
            272..=311 => self.invalid_event(repo),
            _ => self.create_event(repo, roll),
        }
    }

    fn account_event(&mut self, repo: usize) -> GeneratedEvent {
        let active = self.deactivated[repo];
        self.deactivated[repo] = !active;
        let did = repo_did(repo);
        let mut body = vec![
            ("seq", Ipld::Integer(self.seq.into())),
            ("did", Ipld::String(did.clone())),
            ("time", Ipld::String(now_string())),
            ("active", Ipld::Bool(active)),
        ];
        if !active {
            body.push(("status", Ipld::String("deactivated".into())));
        }
        let status = if active { "\\N" } else { "deactivated" };
        GeneratedEvent {
            frame: message("#account", body),
            copy_row: CopyRow::Actor(format!("{did}#{{n}}\t\\N\t{active}\t{status}\n")),
        }
    }

    fn identity_event(&mut self, repo: usize) -> GeneratedEvent {
        let did = repo_did(repo);
        let handle = format!("user{repo}-{}.example.com", self.seq);
        GeneratedEvent {
            frame: message(
                "#identity",
                vec![
                    ("seq", Ipld::Integer(self.seq.into())),
                    ("did", Ipld::String(did.clone())),
                    ("time", Ipld::String(now_string())),
                    ("handle", Ipld::String(handle.clone())),
                ],
            ),
            copy_row: CopyRow::Actor(format!("{did}#{{n}}\t{handle}\ttrue\t\\N\n")),
        }
    }

    fn delete_event(&mut self) -> GeneratedEvent {
        let at = self.below(self.live.len());
        let (repo, collection, rkey) = self.live.swap_remove(at);
        let rev = self.tid();
        let did = repo_did(repo);
        let path = format!("{collection}/{rkey}");
        let op = Ipld::Map(
            [
                ("action".to_owned(), Ipld::String("delete".into())),
                ("path".to_owned(), Ipld::String(path)),
                ("cid".to_owned(), Ipld::Null),
            ]
            .into(),
        );
        GeneratedEvent {
            frame: self.commit_frame(&did, &rev, op, None),
            copy_row: CopyRow::Tombstone(format!("at://{did}/{collection}/{rkey}#{{n}}\t{rev}\n")),
        }
    }

    fn update_event(&mut self) -> GeneratedEvent {
        let at = self.below(self.live.len());
        let (repo, collection, rkey) = self.live[at].clone();
        let record = self.record(collection, repo);
        self.write_event(repo, collection, rkey, record, "update")
    }

    fn invalid_event(&mut self, repo: usize) -> GeneratedEvent {
        let proposal = self.proposal();
        let record = match self.below(5) {
            // Lower-case currency.
            0 => json!({"$type": ESTIMATE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": 500, "currency": "usd", "createdAt": "2025-01-01T00:00:00Z"}),
            // Negative amount.
            1 => json!({"$type": PLEDGE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": -5, "currency": "USD", "receipt": "r", "createdAt": "2025-01-01T00:00:00Z"}),
            // A strongRef to the wrong collection.
            2 => {
                json!({"$type": ESTIMATE, "subject": {"uri": proposal.replace(PROPOSAL, PROJECT), "cid": SUBJECT_CID},
                        "amount": 500, "currency": "USD", "createdAt": "2025-01-01T00:00:00Z"})
            }
            // An oversized title.
            3 => {
                json!({"$type": PROPOSAL, "subject": {"$type": "fund.greenlight.proposal#repository", "url": "https://example.com/r"},
                        "title": "x".repeat(1300), "body": "", "createdAt": "2025-01-01T00:00:00Z"})
            }
            // The wrong record type.
            _ => json!({"$type": DISPUTE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": 1, "currency": "USD", "createdAt": "2025-01-01T00:00:00Z"}),
        };
        let collection = match record["$type"].as_str() {
            Some(DISPUTE) => ESTIMATE,
            Some(PLEDGE) => PLEDGE,
            Some(PROPOSAL) => PROPOSAL,
            _ => ESTIMATE,
        };
        let rkey = self.tid();
        self.write_event(repo, collection, rkey, record, "create")
    }

    fn create_event(&mut self, repo: usize, roll: usize) -> GeneratedEvent {
        let collection = match roll % 100 {
            0..=39 => ESTIMATE,
            40..=59 => PLEDGE,
            60..=77 => PROPOSAL,
            78..=87 => STATUS,
            88..=94 => DISPUTE,
            _ => PROJECT,
        };
        let rkey = if collection == PROJECT {
            format!("project-{}", self.seq)
        } else {
            self.tid()
        };
        let record = self.record(collection, repo);
        if collection == PROPOSAL {
            self.proposals
                .push(format!("at://{}/{PROPOSAL}/{rkey}", repo_did(repo)));
            if self.proposals.len() > 50_000 {
                self.proposals.swap_remove(0);
            }
        }
        if self.live.len() < 200_000 {
            self.live.push((repo, collection, rkey.clone()));
        } else {
            let at = self.below(self.live.len());
            self.live[at] = (repo, collection, rkey.clone());
        }
        self.write_event(repo, collection, rkey, record, "create")
    }

    fn proposal(&mut self) -> String {
        let at = self.below(self.proposals.len());
        self.proposals[at].clone()
    }

    fn record(&mut self, collection: &'static str, repo: usize) -> Value {
        let created_at = "2025-03-04T05:06:07.000Z";
        let proposal = self.proposal();
        let amount = 100 + self.below(100_000) as i64;
        match collection {
            ESTIMATE => json!({"$type": ESTIMATE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                               "amount": amount, "currency": "USD", "createdAt": created_at}),
            PLEDGE => json!({"$type": PLEDGE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                             "amount": amount, "currency": "EUR", "receipt": format!("pl_{}", self.seq),
                             "createdAt": created_at}),
            PROPOSAL => json!({"$type": PROPOSAL,
                               "subject": {"$type": "com.atproto.repo.strongRef",
                                           "uri": format!("at://{}/{PROJECT}/project-1", repo_did(repo)),
                                           "cid": SUBJECT_CID},
                               "title": format!("Feature number {}", self.seq),
                               "body": "Offline sync, so that the app works on a plane. ".repeat(4),
                               "tags": ["sync", "offline"], "createdAt": created_at}),
            STATUS => json!({"$type": STATUS, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                             "stage": {"$type": "fund.greenlight.status#development", "goal": amount * 10,
                                       "currency": "USD", "note": "Starting now."},
                             "createdAt": created_at}),
            DISPUTE => json!({"$type": DISPUTE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                              "reason": "The release does not include the previewed feature.",
                              "evidence": ["https://example.com/issue/1"], "createdAt": created_at}),
            _ => json!({"$type": PROJECT, "name": format!("Project {repo}"),
                        "description": "A project funded through Greenlight.",
                        "repository": format!("https://example.com/p/{repo}.git"),
                        "currency": "USD", "createdAt": created_at}),
        }
    }

    fn write_event(
        &mut self,
        repo: usize,
        collection: &'static str,
        rkey: String,
        record: Value,
        action: &str,
    ) -> GeneratedEvent {
        let rev = self.tid();
        let did = repo_did(repo);
        let block = serde_ipld_dagcbor::to_vec(&record).unwrap_or_default();
        let cid = cid_of(&block);
        let op = Ipld::Map(
            [
                ("action".to_owned(), Ipld::String(action.to_owned())),
                (
                    "path".to_owned(),
                    Ipld::String(format!("{collection}/{rkey}")),
                ),
                ("cid".to_owned(), Ipld::Link(cid)),
            ]
            .into(),
        );
        let subject = record["subject"]["uri"].as_str().map(str::to_owned);
        let amount = record["amount"].as_i64();
        let currency = record["currency"].as_str().map(str::to_owned);
        let copy_row = CopyRow::Record(format!(
            "at://{did}/{collection}/{rkey}#{{n}}\t{did}\t{collection}\t{rkey}#{{n}}\t{cid}\t{rev}\t{}\t{}\t{}\t{}\t{}\t\\N\t2025-03-04T05:06:07Z\n",
            copy_escape(&record.to_string()),
            subject.as_deref().unwrap_or("\\N"),
            if subject.is_some() { SUBJECT_CID } else { "\\N" },
            amount.map_or("\\N".to_owned(), |a| a.to_string()),
            currency.as_deref().unwrap_or("\\N"),
        ));
        GeneratedEvent {
            frame: self.commit_frame(&did, &rev, op, Some((cid, block))),
            copy_row,
        }
    }

    fn commit_frame(
        &mut self,
        did: &str,
        rev: &str,
        op: Ipld,
        record: Option<(Cid, Vec<u8>)>,
    ) -> Vec<u8> {
        let data = cid_of(rev.as_bytes());
        let commit = Ipld::Map(
            [
                ("did".to_owned(), Ipld::String(did.to_owned())),
                ("version".to_owned(), Ipld::Integer(3)),
                ("data".to_owned(), Ipld::Link(data)),
                ("rev".to_owned(), Ipld::String(rev.to_owned())),
                ("prev".to_owned(), Ipld::Null),
                ("sig".to_owned(), Ipld::Bytes(vec![7; 64])),
            ]
            .into(),
        );
        let commit_block = serde_ipld_dagcbor::to_vec(&commit).unwrap_or_default();
        let commit_cid = cid_of(&commit_block);
        let mut blocks = vec![(commit_cid, commit_block)];
        if let Some(record) = record {
            blocks.push(record);
        }
        message(
            "#commit",
            vec![
                ("seq", Ipld::Integer(self.seq.into())),
                ("rebase", Ipld::Bool(false)),
                ("tooBig", Ipld::Bool(false)),
                ("repo", Ipld::String(did.to_owned())),
                ("commit", Ipld::Link(commit_cid)),
                ("rev", Ipld::String(rev.to_owned())),
                ("since", Ipld::Null),
                ("blocks", Ipld::Bytes(car(commit_cid, &blocks))),
                ("ops", Ipld::List(vec![op])),
                ("blobs", Ipld::List(Vec::new())),
                ("time", Ipld::String(now_string())),
            ],
        )
    }
}

/// A CID string used as every strongRef's cid.
const SUBJECT_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

fn repo_did(repo: usize) -> String {
    format!("did:plc:bench{repo:019}")
}

fn now_string() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn tid_string(mut value: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cid_of(block: &[u8]) -> Cid {
    let digest = Sha256::digest(block);
    match Multihash::<64>::wrap(0x12, &digest) {
        Ok(hash) => Cid::new_v1(0x71, hash),
        Err(_) => Cid::default(),
    }
}

fn message(t: &str, body: Vec<(&str, Ipld)>) -> Vec<u8> {
    let header = Ipld::Map(
        [
            ("op".to_owned(), Ipld::Integer(1)),
            ("t".to_owned(), Ipld::String(t.to_owned())),
        ]
        .into(),
    );
    let body = Ipld::Map(body.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    let mut out = serde_ipld_dagcbor::to_vec(&header).unwrap_or_default();
    out.extend(serde_ipld_dagcbor::to_vec(&body).unwrap_or_default());
    out
}

fn car(root: Cid, blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let header = Ipld::Map(
        [
            ("version".to_owned(), Ipld::Integer(1)),
            ("roots".to_owned(), Ipld::List(vec![Ipld::Link(root)])),
        ]
        .into(),
    );
    let header = serde_ipld_dagcbor::to_vec(&header).unwrap_or_default();
    let mut out = Vec::new();
    push_varint(&mut out, header.len() as u64);
    out.extend(header);
    for (cid, block) in blocks {
        let cid = cid.to_bytes();
        push_varint(&mut out, (cid.len() + block.len()) as u64);
        out.extend(cid);
        out.extend(block);
    }
    out
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Escapes a value for COPY's text format.
fn copy_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// Decodes and judges generated frames without a database, for tests of the generator.
pub async fn judge_frames(frames: &[Vec<u8>]) -> anyhow::Result<Vec<SourceEvent>> {
    let judge = FrameJudge::new(
        RecordRules::embedded()?,
        None,
        None,
        Arc::new(Metrics::default()),
    );
    let mut events = Vec::new();
    for frame in frames {
        if let FrameOutcome::Event(event) = judge.judge(frame).await {
            events.push(event);
        }
    }
    Ok(events)
}

/// Whether an event is a rejection (for generator tests).
pub fn is_rejection(event: &SourceEvent) -> bool {
    match &event.body {
        EventBody::Rejected(_) => true,
        EventBody::Records(ops) => ops
            .iter()
            .any(|op| matches!(op.action, crate::event::RecordAction::Reject { .. })),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_generated_stream_decodes_and_mixes_valid_and_invalid_records() {
        let mut generator = StreamGenerator::new(7, 50);
        let frames = generator.frames(3000);
        let events = judge_frames(&frames).await.unwrap();
        assert_eq!(events.len(), 3000, "every frame must decode into an event");
        let rejected = events.iter().filter(|e| is_rejection(e)).count();
        assert!(rejected > 40 && rejected < 300, "{rejected} rejections");
        let undecodable = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Rejected(_)))
            .count();
        assert_eq!(undecodable, 0);
        let accounts = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Account { .. }))
            .count();
        assert!(accounts > 0);
    }

    #[test]
    fn tids_sort_by_time_and_are_valid() {
        let a = tid_string(1_700_000_000_000_000 << 10);
        let b = tid_string(1_700_000_000_000_001 << 10);
        assert!(crate::record_rules::is_tid(&a), "{a}");
        assert!(a < b);
    }

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            database_url_with_name("postgres://u@h:1/db?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            database_url_with_name("postgres://u@h:1/db", "x"),
            "postgres://u@h:1/x"
        );
    }
}
