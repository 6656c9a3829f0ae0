//! Source → bounded channel → batching writer.
//!
//! The source decodes and validates while the writer's previous batch is in the database, so
//! the two cores overlap. The channel is bounded: when the database falls behind, the source
//! stops reading its socket (backpressure) instead of buffering without limit.
//!
//! A batch that fails is retried with capped backoff. An error the data caused (Postgres
//! classes 22, 23, 54) splits the batch at once, so that one event the database cannot take is
//! stored as a rejected event instead of stalling the stream; every other error (connection
//! trouble, a missing table, permissions) is retried as it is, forever, so that a broken
//! database never turns valid records into rejections behind the cursor.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::{EventBody, RejectedEvent, SourceEvent};
use crate::metrics::Metrics;
use crate::writer::{BatchOutcome, WriteError, Writer};

/// How events are grouped into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most events in one transaction.
    pub max_events: usize,
    /// How long to wait for more events before writing a partial batch.
    pub linger: Duration,
    /// Events buffered between source and writer.
    pub channel_capacity: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 2000,
            linger: Duration::from_millis(20),
            channel_capacity: 10_000,
        }
    }
}

/// The channel a source sends its events into.
pub fn channel(config: &BatchConfig) -> (mpsc::Sender<SourceEvent>, mpsc::Receiver<SourceEvent>) {
    mpsc::channel(config.channel_capacity.max(1))
}

/// Totals of a writer run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTotals {
    /// Batches committed.
    pub batches: u64,
    /// Events committed.
    pub events: u64,
    /// Records created or updated.
    pub puts: u64,
    /// Records deleted.
    pub deletes: u64,
    /// Record versions and events rejected.
    pub rejected: u64,
}

/// Writes everything received until every sender is dropped; the last batch is committed
/// before it returns, so a graceful shutdown loses nothing.
pub async fn run_writer(
    mut rx: mpsc::Receiver<SourceEvent>,
    writer: Writer,
    config: BatchConfig,
    metrics: Arc<Metrics>,
) -> RunTotals {
    let mut totals = RunTotals::default();
    let max = config.max_events.max(1);
    let mut batch: Vec<SourceEvent> = Vec::with_capacity(max);
    loop {
        batch.clear();
        if rx.recv_many(&mut batch, max).await == 0 {
            break;
        }
        let deadline = Instant::now() + config.linger;
        while batch.len() < max {
            let room = max - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let outcome = write_resilient(&writer, std::mem::take(&mut batch), &metrics).await;
        let cursor = outcome.1;
        let outcome = outcome.0;
        metrics.batch_committed(&outcome, cursor);
        totals.batches += 1;
        totals.events += outcome.events as u64;
        totals.puts += outcome.puts as u64;
        totals.deletes += outcome.deletes as u64;
        totals.rejected += (outcome.rejected_records + outcome.rejected_events) as u64;
        batch = Vec::with_capacity(max);
    }
    totals
}

/// Writes a batch, retrying and splitting as described in the module docs.
async fn write_resilient(
    writer: &Writer,
    events: Vec<SourceEvent>,
    metrics: &Metrics,
) -> (BatchOutcome, Option<i64>) {
    let cursor = events.iter().filter_map(|e| e.cursor).max();
    let mut total = BatchOutcome::default();
    // A stack of pieces still to write, in order (last = next).
    let mut pending = vec![events];
    while let Some(piece) = pending.pop() {
        match write_with_retry(writer, &piece, metrics).await {
            Ok(outcome) => add(&mut total, &outcome),
            Err(err) if piece.len() > 1 => {
                tracing::warn!(%err, events = piece.len(), "batch failed; splitting it");
                let mut first = piece;
                let second = first.split_off(first.len() / 2);
                pending.push(second);
                pending.push(first);
            }
            Err(err) => {
                // One event the database refuses: keep it as a rejected event so the cursor can
                // move past it.
                let event = piece.into_iter().next();
                let cursor = event.as_ref().and_then(|e| e.cursor);
                tracing::error!(%err, ?cursor, "event cannot be stored; keeping it as rejected");
                metrics.rejected("database refused the event");
                let replacement = SourceEvent {
                    cursor,
                    body: EventBody::Rejected(RejectedEvent {
                        did: None,
                        reason: format!("the database refused this event: {err}"),
                        body: None,
                    }),
                };
                match write_with_retry(writer, std::slice::from_ref(&replacement), metrics).await {
                    Ok(outcome) => add(&mut total, &outcome),
                    Err(err) => tracing::error!(%err, "cannot even store the rejection; skipping"),
                }
            }
        }
    }
    (total, cursor)
}

fn add(total: &mut BatchOutcome, outcome: &BatchOutcome) {
    total.events += outcome.events;
    total.puts += outcome.puts;
    total.deletes += outcome.deletes;
    total.rejected_records += outcome.rejected_records;
    total.rejected_events += outcome.rejected_events;
    total.stale += outcome.stale;
    total.visibility_changes += outcome.visibility_changes;
}

/// Retries failures that are not the data's fault forever (capped backoff); returns an error
/// the data caused at once, so that the caller can split the batch around the event.
async fn write_with_retry(
    writer: &Writer,
    events: &[SourceEvent],
    metrics: &Metrics,
) -> Result<BatchOutcome, WriteError> {
    let mut attempt: u32 = 0;
    loop {
        match writer.write_batch(events).await {
            Ok(outcome) => return Ok(outcome),
            Err(err) => {
                let blame = blame(&err);
                if blame == Blame::Data {
                    return Err(err);
                }
                attempt += 1;
                metrics.write_retried();
                let delay = backoff(attempt);
                if blame == Blame::Operator && attempt >= 3 {
                    // Splitting would turn every event into a rejection and move the cursor
                    // past valid records; holding the stream until someone fixes the database
                    // loses nothing.
                    tracing::error!(%err, attempt, ?delay, "the database keeps refusing batches for a reason that is not in the data; retrying");
                } else {
                    tracing::warn!(%err, attempt, ?delay, ?blame, "batch write failed; retrying");
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Whose fault a failed write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blame {
    /// Reaching the database (connection, pool, serialization, shutdown): it passes.
    Transient,
    /// Something in the events: a value Postgres refuses or a limit it exceeds.
    Data,
    /// Anything else (a missing table, permissions, a bug): someone must fix it.
    Operator,
}

fn blame(err: &WriteError) -> Blame {
    match err {
        WriteError::Database(err) => match err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Blame::Transient,
            sqlx::Error::Encode(_) => Blame::Data,
            sqlx::Error::Database(db) => match db.code().as_deref().map(|code| code.get(..2)) {
                // Serialization failures and deadlocks, connection exceptions, shutdowns.
                Some(Some("40" | "08" | "57")) => Blame::Transient,
                // Data exceptions, integrity constraints, program limits (oversized values).
                Some(Some("22" | "23" | "54")) => Blame::Data,
                _ => Blame::Operator,
            },
            _ => Blame::Operator,
        },
    }
}

/// Exponential backoff from 100 ms, capped at 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let millis = 100u64.saturating_mul(1u64 << attempt.min(9));
    Duration::from_millis(millis.min(30_000))
}
