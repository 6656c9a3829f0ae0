//! The ingest benchmark: a generated stream of firehose frames through the whole path
//! (decode, validate, store), compared with a Postgres `COPY` of the same rows in the same run.
//!
//! The stream ([`generator`]) is deterministic: creates of every record type, updates,
//! deletes, invalid records, `#identity` and `#account` events, one op per commit as on the
//! real firehose, each frame a real DAG-CBOR message with a CAR of real CIDs. Signatures are not
//! checked (the generated repos have no DID documents). The baseline is in [`copy_baseline`].
//!
//! [`full_relay`] is the other benchmark: the raw-firehose path on a stream shaped like a
//! whole relay ([`relay_mix`]), signatures and commit proofs included, against a decode-only
//! pass over the same bytes.

mod copy_baseline;
pub mod full_relay;
mod generator;
pub mod relay_mix;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::pipeline::{self, BatchConfig};
use crate::record_rules::RecordRules;
use crate::source::firehose::{FrameJudge, FrameOutcome};
use crate::writer::Writer;

pub use generator::StreamGenerator;

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
    let server = config.database_url.clone();
    on_scratch_database(&server, |url| async move { run_on(&url, &config).await }).await
}

/// Runs `bench` with the URL of a fresh database on `server`, dropped afterwards.
async fn on_scratch_database<T, F, Fut>(server: &str, bench: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let scratch = format!("greenlight_bench_{}", std::process::id());
    let url = greenlight_store::server::create_database(server, &scratch).await?;
    let result = bench(url).await;
    if let Err(err) = greenlight_store::server::drop_database(server, &scratch).await {
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
        tokio::task::spawn_blocking(move || {
            let mut stream = StreamGenerator::new(seed, repos);
            write_frames(&path, events, || stream.next_event().frame)
        })
        .await??;
    }
    let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<u8>>(4096);
    let (events_tx, events_rx) = pipeline::channel(&config.batch);
    let started = Instant::now();
    let reading = {
        let path = frames_path.clone();
        tokio::task::spawn_blocking(move || read_frames(&path, &frames_tx))
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
    reading.await??;
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

    let records = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM appview.record"#)
        .fetch_one(&pool)
        .await?;
    let rejected =
        sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM appview.rejected_record"#)
            .fetch_one(&pool)
            .await?;
    let peak_rss_kib = peak_rss_kib();
    let (copy_rows, copy) = copy_baseline::run(&pool, config, &dir).await?;
    let _ = std::fs::remove_dir_all(&dir);
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
fn scratch_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("greenlight-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `count` frames of a generated stream, each prefixed by its length (u32,
/// little-endian).
fn write_frames(
    path: &Path,
    count: usize,
    mut next: impl FnMut() -> Vec<u8>,
) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for _ in 0..count {
        let frame = next();
        let len = u32::try_from(frame.len()).map_err(std::io::Error::other)?;
        file.write_all(&len.to_le_bytes())?;
        file.write_all(&frame)?;
    }
    file.flush()
}

/// Sends the frames [`write_frames`] wrote, until the file ends or nobody listens.
fn read_frames(path: &Path, frames: &mpsc::Sender<Vec<u8>>) -> std::io::Result<()> {
    let mut file = FrameFile::open(path)?;
    while let Some(frame) = file.next_frame()? {
        if frames.blocking_send(frame).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Sends the frames [`write_frames`] wrote in batches of `batch`, until the file ends or
/// nobody listens. A websocket consumer reads frames in the task that judges them; one
/// cross-thread hand-off per frame would instead make thread wake-ups a large part of what
/// is measured.
fn read_frame_batches(
    path: &Path,
    batch: usize,
    batches: &mpsc::Sender<Vec<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut file = FrameFile::open(path)?;
    loop {
        let mut frames = Vec::with_capacity(batch);
        while frames.len() < batch.max(1) {
            match file.next_frame()? {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        let last = frames.len() < batch.max(1);
        if !frames.is_empty() && batches.blocking_send(frames).is_err() {
            return Ok(());
        }
        if last {
            return Ok(());
        }
    }
}

/// A file of length-prefixed frames, as [`write_frames`] writes them.
struct FrameFile(std::io::BufReader<std::fs::File>);

impl FrameFile {
    fn open(path: &Path) -> std::io::Result<FrameFile> {
        Ok(FrameFile(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(path)?,
        )))
    }

    /// The next frame; `None` at the end of the file.
    fn next_frame(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        match self.0.read_exact(&mut len) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(err) => return Err(err),
        }
        let len = u32::from_le_bytes(len) as usize;
        let mut frame = Vec::with_capacity(len);
        (&mut self.0).take(len as u64).read_to_end(&mut frame)?;
        if frame.len() != len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Some(frame))
    }
}

/// `VmHWM` of this process (its peak resident memory).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
