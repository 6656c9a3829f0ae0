//! The full-relay benchmark: can the raw-firehose path keep up with a whole relay?
//!
//! The stream ([`super::relay_mix`]) is written to a file first, so that generating it is not
//! timed. Then, in the same process, rounds of three passes over the same bytes, each fed by
//! the same reader thread through the same bounded channel (frames handed over in batches, as
//! a websocket consumer reads them in the task that judges them):
//!
//! 1. **decode only**: [`Frame::decode`] of every frame (DAG-CBOR header and body, CAR parse),
//!    nothing else. This is the floor of any firehose consumer built on this decoder;
//! 2. **judge only**: the live path's judge (below) with its events dropped, to tell the
//!    judge's cost from the writer's;
//! 3. **the live path**, built as `service::run_live` builds it for a firehose: a
//!    [`FrameJudge`] with the identity pool as signature verifier and a parking lot, so every
//!    frame is decoded, filtered and, for `fund.greenlight.*` commits, signature-checked,
//!    proven against its MST blocks and judged by the record rules; then every event goes
//!    through the bounded channel to the batching [`Writer`] (with the aggregates observer)
//!    into Postgres, cursor included.
//!
//! Machines are noisy, so the figure to compare across runs is the ratio of the live rate to
//! the decode-only rate (of the median round); the absolute rate answers "does it keep up" on
//! this machine, and CPU time per frame (this process's) is steadier than either. The authors' keys are primed
//! into the resolver ([`Resolver::prime`]) and the directory URL is a closed loopback port, so
//! nothing touches the network; the report counts identity lookups anyway (they must be 0).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenlight_firehose::Frame;
use greenlight_identity::{DidDocument, Resolver, ResolverConfig};
use tokio::sync::mpsc;

use super::relay_mix::{CommitSigner, MixCounts, RelayMix};
use super::{on_scratch_database, peak_rss_kib, read_frame_batches, scratch_dir, write_frames};
use crate::event::SourceEvent;
use crate::identity_pool::IdentityPool;
use crate::metrics::Metrics;
use crate::parking::ParkingLot;
use crate::pipeline::{self, BatchConfig};
use crate::record_rules::RecordRules;
use crate::source::firehose::{FrameJudge, FrameOutcome};
use crate::verify::CommitVerifier;
use crate::writer::{AggregatesObserver, Writer};

/// Frames the reader thread hands over at once (see [`read_frame_batches`]).
const FRAME_BATCH: usize = 64;
/// Batches buffered between the reader thread and the pass: 4,096 frames, as a socket's
/// buffer would hold some.
const BATCH_BUFFER: usize = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct FullRelayConfig {
    /// A Postgres server URL; a scratch database is created on it and dropped afterwards.
    pub database_url: String,
    /// Frames in the stream.
    pub frames: usize,
    /// Distinct Bluesky accounts.
    pub bsky_repos: usize,
    /// Distinct Greenlight authors.
    pub authors: usize,
    /// The writer's batching.
    pub batch: BatchConfig,
    /// Generator seed.
    pub seed: u64,
    /// Rounds of the three passes; the median round is reported.
    pub rounds: usize,
}

impl FullRelayConfig {
    /// A run of `frames` frames against `database_url`, otherwise as the live indexer runs.
    pub fn new(database_url: String, frames: usize) -> FullRelayConfig {
        FullRelayConfig {
            database_url,
            frames,
            bsky_repos: 200_000,
            authors: 64,
            batch: BatchConfig::default(),
            seed: 1,
            rounds: 3,
        }
    }
}

/// A pass's cost: wall time, and CPU time of this process (Postgres's is not in it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timing {
    /// Wall time.
    pub wall: Duration,
    /// User and system CPU time of this process, all threads; `None` without `/proc`.
    pub cpu: Option<Duration>,
}

impl Timing {
    /// Times `pass`.
    async fn of<T>(pass: impl std::future::Future<Output = T>) -> (T, Timing) {
        let cpu = process_cpu();
        let started = Instant::now();
        let out = pass.await;
        let wall = started.elapsed();
        let cpu = process_cpu()
            .zip(cpu)
            .map(|(after, before)| after.saturating_sub(before));
        (out, Timing { wall, cpu })
    }
}

/// One round: the three passes over the same bytes, back to back, on a fresh database.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Round {
    /// [`Frame::decode`] only.
    pub decode_only: Timing,
    /// The judge without the writer.
    pub judge_only: Timing,
    /// The live path, until the writer committed the last event.
    pub live: Timing,
}

impl Round {
    /// Live rate over decode-only rate.
    pub fn ratio_to_decode(&self) -> f64 {
        self.decode_only.wall.as_secs_f64() / self.live.wall.as_secs_f64()
    }
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct FullRelayReport {
    /// What the stream held.
    pub mix: MixCounts,
    /// Every round, in order.
    pub rounds: Vec<Round>,
    /// Peak resident memory during the live paths (or of the whole run when the peak cannot
    /// be reset), in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Whether the peak was reset before each live path, i.e. covers only them.
    pub peak_rss_live_only: bool,
    /// Peak resident memory before the first live path (generation and the other passes).
    pub peak_rss_before_kib: Option<u64>,
    /// Records stored at the end of a round.
    pub records: i64,
    /// Rejected record versions stored in a round (the record rules' verdicts).
    pub rejected_records: i64,
    /// Rejected events stored in a round (undecodable frames, bad signatures, unproven
    /// commits).
    pub rejected_events: i64,
    /// Commits parked in a round for want of a key.
    pub parked: i64,
    /// Identity lookups that reached for the network, in all rounds.
    pub identity_fetches: u64,
}

impl FullRelayReport {
    fn rate(&self, timing: Timing) -> f64 {
        self.mix.frames() as f64 / timing.wall.as_secs_f64()
    }

    fn cpu_us_per_frame(&self, timing: Timing) -> Option<f64> {
        timing
            .cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.mix.frames().max(1) as f64)
    }

    /// The round whose ratio to decode-only is the median: the one reported.
    pub fn median(&self) -> Round {
        let mut rounds = self.rounds.clone();
        rounds.sort_by(|a, b| a.ratio_to_decode().total_cmp(&b.ratio_to_decode()));
        rounds.get(rounds.len() / 2).copied().unwrap_or_default()
    }

    /// Frames per second through the live path (median round).
    pub fn frames_per_second(&self) -> f64 {
        self.rate(self.median().live)
    }

    /// Live rate over decode-only rate (median round).
    pub fn ratio_to_decode(&self) -> f64 {
        self.median().ratio_to_decode()
    }

    fn write_round(&self, f: &mut std::fmt::Formatter<'_>, round: &Round) -> std::fmt::Result {
        let cpu = |timing: Timing| {
            self.cpu_us_per_frame(timing)
                .map_or("?".to_owned(), |us| format!("{us:.1}"))
        };
        write!(
            f,
            "decode only {:.0}/s, judge only {:.0}/s, live {:.0}/s, ratio {:.2}; CPU µs/frame {} / {} / {}",
            self.rate(round.decode_only),
            self.rate(round.judge_only),
            self.rate(round.live),
            round.ratio_to_decode(),
            cpu(round.decode_only),
            cpu(round.judge_only),
            cpu(round.live),
        )
    }
}

impl std::fmt::Display for FullRelayReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mix = &self.mix;
        let frames = mix.frames().max(1) as f64;
        let share = |n: u64| 100.0 * n as f64 / frames;
        writeln!(
            f,
            "frames:          {} ({:.1} MiB, {:.0} bytes/frame on average)",
            mix.frames(),
            mix.bytes as f64 / (1024.0 * 1024.0),
            mix.bytes as f64 / frames
        )?;
        writeln!(
            f,
            "mix:             {:.2}% app.bsky.* commits ({:.1} CAR blocks each), {:.2}% #identity, {:.2}% #account, {:.2}% fund.greenlight.* commits ({} signed and proven, {} creates/updates, by {} authors)",
            share(mix.bsky_commits),
            mix.bsky_blocks as f64 / mix.bsky_commits.max(1) as f64,
            share(mix.identity),
            share(mix.account),
            share(mix.greenlight_commits),
            mix.greenlight_commits,
            mix.greenlight_writes,
            mix.greenlight_authors,
        )?;
        for (n, round) in self.rounds.iter().enumerate() {
            write!(f, "round {}:         ", n + 1)?;
            self.write_round(f, round)?;
            writeln!(f)?;
        }
        let median = self.median();
        writeln!(
            f,
            "decode only:     {:.0} frames/s (median round)",
            self.rate(median.decode_only)
        )?;
        writeln!(
            f,
            "judge only:      {:.0} frames/s (decode, filter, signature, proof, rules; no writer)",
            self.rate(median.judge_only)
        )?;
        writeln!(
            f,
            "live path:       {:.0} frames/s (decode, filter, signature, proof, rules, writer)",
            self.frames_per_second()
        )?;
        writeln!(f, "ratio to decode: {:.2}", self.ratio_to_decode())?;
        let mib = |kib: Option<u64>| {
            kib.map_or("unknown".to_owned(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            })
        };
        if self.peak_rss_live_only {
            writeln!(
                f,
                "peak RSS:        {} during the live paths ({} before: generation and the first other passes)",
                mib(self.peak_rss_kib),
                mib(self.peak_rss_before_kib)
            )?;
        } else {
            writeln!(f, "peak RSS:        {} (whole run)", mib(self.peak_rss_kib))?;
        }
        write!(
            f,
            "stored per round: {} records, {} rejected versions, {} rejected events, {} parked; {} identity lookups in all",
            self.records, self.rejected_records, self.rejected_events, self.parked, self.identity_fetches
        )
    }
}

/// Runs the benchmark on a scratch database; `signer` signs the Greenlight authors' commits.
pub async fn run(
    config: FullRelayConfig,
    signer: &dyn CommitSigner,
) -> anyhow::Result<FullRelayReport> {
    let dir = scratch_dir()?;
    let path = dir.join("relay.bin");
    let mut mix = RelayMix::new(config.seed, config.bsky_repos, config.authors, signer);
    // Generation signs commits with a borrowed signer: it runs here, not on a blocking thread;
    // it is not timed.
    if let Err(err) = write_frames(&path, config.frames, || mix.next_frame()) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(err.into());
    }
    let documents = mix.documents();
    let counts = mix.counts();
    drop(mix);
    let mut report = FullRelayReport {
        mix: counts,
        rounds: Vec::new(),
        peak_rss_kib: None,
        peak_rss_live_only: true,
        peak_rss_before_kib: None,
        records: 0,
        rejected_records: 0,
        rejected_events: 0,
        parked: 0,
        identity_fetches: 0,
    };
    let mut result = Ok(());
    for _ in 0..config.rounds.max(1) {
        let (config, path, documents) = (&config, &path, &documents);
        let round = on_scratch_database(&config.database_url, |url| async move {
            round(&url, config, path, documents, counts.greenlight_authors).await
        })
        .await;
        match round {
            Ok((round, stored)) => report.add(round, stored),
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|()| report)
}

/// What a round left in its database, and its peak memory.
struct RoundEnd {
    peak_rss_kib: Option<u64>,
    peak_rss_live_only: bool,
    peak_rss_before_kib: Option<u64>,
    records: i64,
    rejected_records: i64,
    rejected_events: i64,
    parked: i64,
    identity_fetches: u64,
}

impl FullRelayReport {
    fn add(&mut self, round: Round, end: RoundEnd) {
        if self.rounds.is_empty() {
            self.peak_rss_before_kib = end.peak_rss_before_kib;
        }
        self.rounds.push(round);
        self.peak_rss_kib = self.peak_rss_kib.max(end.peak_rss_kib);
        self.peak_rss_live_only &= end.peak_rss_live_only;
        self.records = end.records;
        self.rejected_records = end.rejected_records;
        self.rejected_events = self.rejected_events.max(end.rejected_events);
        self.parked = self.parked.max(end.parked);
        self.identity_fetches += end.identity_fetches;
    }
}

/// One round on the database at `url`: decode only, judge only, then the live path.
async fn round(
    url: &str,
    config: &FullRelayConfig,
    path: &Path,
    documents: &[DidDocument],
    expected_authors: u64,
) -> anyhow::Result<(Round, RoundEnd)> {
    let pool = greenlight_store::open(url, 4).await?;
    let (decoded, decode_only) = Timing::of(decode_only(path)).await;
    decoded?;
    let Judging { judge, .. } = judging(&pool, documents)?;
    let (judged, judge_only) = Timing::of(judge_frames(path, judge, None)).await;
    judged?;
    let (end, live) = live_path(&pool, config, path, documents, expected_authors).await?;
    Ok((
        Round {
            decode_only,
            judge_only,
            live,
        },
        end,
    ))
}

/// The decode-only pass; fails if a frame does not decode (the stream is all valid).
async fn decode_only(path: &Path) -> anyhow::Result<()> {
    let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<Vec<u8>>>(BATCH_BUFFER);
    let reading = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || read_frame_batches(&path, FRAME_BATCH, &frames_tx))
    };
    let decoding = tokio::spawn(async move {
        let mut failed = 0u64;
        while let Some(frames) = frames_rx.recv().await {
            for frame in frames {
                match Frame::decode(&frame) {
                    Ok(frame) => drop(std::hint::black_box(frame)),
                    Err(_) => failed += 1,
                }
            }
        }
        failed
    });
    reading.await??;
    let failed = decoding.await?;
    anyhow::ensure!(failed == 0, "{failed} frames did not decode");
    Ok(())
}

/// A judge as `service::run_live` builds one for a firehose, with the authors' documents
/// primed; and its identity pool and metrics.
struct Judging {
    judge: FrameJudge,
    identity: IdentityPool,
    metrics: Arc<Metrics>,
}

fn judging(pool: &sqlx::PgPool, documents: &[DidDocument]) -> anyhow::Result<Judging> {
    let resolver = Resolver::new(ResolverConfig {
        // A closed loopback port: a lookup would fail at once, without leaving the machine.
        plc_url: "http://127.0.0.1:9".to_owned(),
        allow_insecure_http: true,
        ..ResolverConfig::default()
    });
    for document in documents {
        resolver.prime(document.clone());
    }
    let identity = IdentityPool::new(resolver, Some(pool.clone()));
    let metrics = Metrics::new();
    let verifier: Arc<dyn CommitVerifier> = Arc::new(identity.clone());
    let judge = FrameJudge::new(
        RecordRules::embedded()?,
        Some(verifier),
        Some(identity.clone()),
        metrics.clone(),
    )
    .with_parking(ParkingLot::default());
    Ok(Judging {
        judge,
        identity,
        metrics,
    })
}

/// Judges every frame in `path`, sending the events to `events` (or dropping them).
async fn judge_frames(
    path: &Path,
    judge: FrameJudge,
    events: Option<mpsc::Sender<SourceEvent>>,
) -> anyhow::Result<()> {
    let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<Vec<u8>>>(BATCH_BUFFER);
    let reading = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || read_frame_batches(&path, FRAME_BATCH, &frames_tx))
    };
    let judging = tokio::spawn(async move {
        while let Some(frames) = frames_rx.recv().await {
            for frame in frames {
                let outcome = judge.judge(&frame).await;
                let Some(events) = &events else {
                    drop(std::hint::black_box(outcome));
                    continue;
                };
                let judged = match outcome {
                    FrameOutcome::Event(event) => vec![event],
                    FrameOutcome::Events(events) => events,
                    FrameOutcome::Skip | FrameOutcome::ServerError { .. } => Vec::new(),
                };
                for event in judged {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    reading.await??;
    judging.await?;
    Ok(())
}

/// The live path over the stream in `path`, into the database of `pool`.
async fn live_path(
    pool: &sqlx::PgPool,
    config: &FullRelayConfig,
    path: &Path,
    documents: &[DidDocument],
    expected_authors: u64,
) -> anyhow::Result<(RoundEnd, Timing)> {
    let Judging {
        judge,
        identity,
        metrics,
    } = judging(pool, documents)?;
    let writer =
        Writer::new(pool.clone(), "bench-full-relay").with_observer(Arc::new(AggregatesObserver));
    let peak_rss_before_kib = peak_rss_kib();
    let peak_rss_live_only = reset_peak_rss();
    let (events_tx, events_rx) = pipeline::channel(&config.batch);
    let ((judged, totals), live) = Timing::of(async {
        let writing = tokio::spawn(pipeline::run_writer(
            events_rx,
            writer,
            config.batch,
            metrics.clone(),
        ));
        let judged = judge_frames(path, judge, Some(events_tx)).await;
        (judged, writing.await)
    })
    .await;
    judged?;
    let totals = totals?;
    let peak_rss_kib = peak_rss_kib();
    anyhow::ensure!(
        totals.events as usize == config.frames,
        "{} events were committed for {} frames",
        totals.events,
        config.frames
    );
    let authors: Vec<String> = documents.iter().map(|doc| doc.did.clone()).collect();
    handle_checks_settled(pool, &authors, expected_authors).await?;
    let count =
        |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await };
    let end = RoundEnd {
        peak_rss_kib,
        peak_rss_live_only,
        peak_rss_before_kib,
        records: count("SELECT count(*) FROM appview.record").await?,
        rejected_records: count("SELECT count(*) FROM appview.rejected_record").await?,
        rejected_events: count("SELECT count(*) FROM appview.rejected_event").await?,
        parked: count("SELECT count(*) FROM appview.parked_event").await?,
        identity_fetches: identity.fetches(),
    };
    for (reason, n) in metrics.rejects_by_reason() {
        tracing::info!(%reason, n, "rejections in the live path");
    }
    Ok((end, live))
}

/// Waits (a few seconds at most) for the identity pool's background handle checks of new
/// authors, which write `appview.actor`: they are not part of the frame path and are not timed,
/// but must finish before the scratch database is dropped.
async fn handle_checks_settled(
    pool: &sqlx::PgPool,
    authors: &[String],
    expected: u64,
) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stored: i64 =
            sqlx::query_scalar("SELECT count(*) FROM appview.actor WHERE did = ANY($1)")
                .bind(authors)
                .fetch_one(pool)
                .await?;
        if stored as u64 >= expected || Instant::now() > deadline {
            if (stored as u64) < expected {
                tracing::warn!(
                    stored,
                    expected,
                    "handle checks of new authors did not all finish"
                );
            }
            // The live path's own checks repeat the judge-only pass's (a fresh pool notes
            // the authors again): give them a moment more.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// User and system CPU time of this process so far, all threads (those ended included).
fn process_cpu() -> Option<Duration> {
    // `/proc/self/stat`: fields 14 and 15 (utime, stime) in clock ticks, counted after the
    // command name, which may itself contain spaces and parentheses.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ, fixed at 100 on x86 and arm Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS, so that the peak read later
/// covers only what ran since; false where the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
