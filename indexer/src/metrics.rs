//! Prometheus metrics: events, records written, rejects by reason, lag behind the source.
//!
//! A handful of counters do not justify a metrics framework; they are atomics rendered in the
//! Prometheus text format on `GET /metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;

use crate::writer::BatchOutcome;

/// The indexer's counters and gauges, shared by sources and the writer.
#[derive(Debug, Default)]
pub struct Metrics {
    events_received: AtomicU64,
    events_committed: AtomicU64,
    batches: AtomicU64,
    records_put: AtomicU64,
    records_deleted: AtomicU64,
    stale_ops: AtomicU64,
    visibility_changes: AtomicU64,
    write_retries: AtomicU64,
    reconnects: AtomicU64,
    parked: AtomicU64,
    unparked: AtomicU64,
    /// Microseconds between an event's emission at the source and now, at decode time.
    lag_micros: AtomicI64,
    last_cursor: AtomicI64,
    rejects: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Fresh metrics, shared.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// An event arrived from a source; `event_time` is when the source emitted it.
    pub fn event_received(&self, event_time: Option<chrono::DateTime<chrono::Utc>>) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
        if let Some(time) = event_time {
            let lag = chrono::Utc::now().signed_duration_since(time);
            self.lag_micros.store(
                lag.num_microseconds().unwrap_or(i64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// A record or event was rejected; `reason` is classified into a short label.
    pub fn rejected(&self, reason: &str) {
        let label = reason_label(reason);
        if let Ok(mut rejects) = self.rejects.lock() {
            *rejects.entry(label).or_default() += 1;
        }
    }

    /// The source reconnected.
    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A commit was parked until its author's key is available.
    pub fn parked(&self) {
        self.parked.fetch_add(1, Ordering::Relaxed);
    }

    /// Parked commits were replayed.
    pub fn unparked(&self, commits: usize) {
        self.unparked.fetch_add(commits as u64, Ordering::Relaxed);
    }

    /// A batch write failed and will be retried.
    pub fn write_retried(&self) {
        self.write_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A batch committed.
    pub fn batch_committed(&self, outcome: &BatchOutcome, cursor: Option<i64>) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events_committed
            .fetch_add(outcome.events as u64, Ordering::Relaxed);
        self.records_put
            .fetch_add(outcome.puts as u64, Ordering::Relaxed);
        self.records_deleted
            .fetch_add(outcome.deletes as u64, Ordering::Relaxed);
        self.stale_ops
            .fetch_add(outcome.stale as u64, Ordering::Relaxed);
        self.visibility_changes
            .fetch_add(outcome.visibility_changes as u64, Ordering::Relaxed);
        if let Some(cursor) = cursor {
            self.last_cursor.store(cursor, Ordering::Relaxed);
        }
    }

    /// Events committed so far.
    pub fn events_committed(&self) -> u64 {
        self.events_committed.load(Ordering::Relaxed)
    }

    /// Rejects so far, by reason label.
    pub fn rejects_by_reason(&self) -> BTreeMap<String, u64> {
        self.rejects.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        };
        counter(
            "greenlight_indexer_events_received_total",
            "Events decoded from the source.",
            self.events_received.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_events_committed_total",
            "Events whose batch committed.",
            self.events_committed.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_batches_total",
            "Batches committed.",
            self.batches.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_records_put_total",
            "Records created or updated.",
            self.records_put.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_records_deleted_total",
            "Records deleted.",
            self.records_deleted.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_stale_ops_total",
            "Ops skipped because a newer state was stored (replays, duplicates).",
            self.stale_ops.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_visibility_changes_total",
            "Records hidden or shown by account status changes.",
            self.visibility_changes.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_write_retries_total",
            "Batch writes retried after an error.",
            self.write_retries.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_reconnects_total",
            "Source reconnections.",
            self.reconnects.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_parked_commits_total",
            "Commits parked because their author's key was not available in time.",
            self.parked.load(Ordering::Relaxed),
        );
        counter(
            "greenlight_indexer_unparked_commits_total",
            "Parked commits replayed once their author's key arrived.",
            self.unparked.load(Ordering::Relaxed),
        );
        out.push_str(
            "# HELP greenlight_indexer_rejects_total Records and events rejected, by reason.\n",
        );
        out.push_str("# TYPE greenlight_indexer_rejects_total counter\n");
        for (reason, count) in self.rejects_by_reason() {
            out.push_str(&format!(
                "greenlight_indexer_rejects_total{{reason=\"{reason}\"}} {count}\n"
            ));
        }
        let lag = self.lag_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!(
            "# HELP greenlight_indexer_lag_seconds Age of the latest event when it was decoded.\n# TYPE greenlight_indexer_lag_seconds gauge\ngreenlight_indexer_lag_seconds {lag}\n"
        ));
        out.push_str(&format!(
            "# HELP greenlight_indexer_cursor The last committed source cursor.\n# TYPE greenlight_indexer_cursor gauge\ngreenlight_indexer_cursor {}\n",
            self.last_cursor.load(Ordering::Relaxed)
        ));
        out
    }
}

/// A bounded set of labels for reject reasons: the part before the first `:` of the reason,
/// reduced to a known class so that hostile input cannot create unbounded label values.
pub fn reason_label(reason: &str) -> String {
    const CLASSES: [&str; 10] = [
        "lexicon",
        "signature",
        "decode",
        "record-key",
        "subject",
        "currency",
        "amount",
        "identity",
        "nul",
        "proof",
    ];
    let lower = reason.to_ascii_lowercase();
    let class = if lower.starts_with("lexicon") {
        "lexicon"
    } else if lower.contains("signature") {
        "signature"
    } else if lower.contains("record key") {
        "record-key"
    } else if lower.contains("subject") {
        "subject"
    } else if lower.contains("not proven") || lower.contains("prevdata") {
        "proof"
    } else if lower.contains("iso 4217") || lower.contains("currency") {
        "currency"
    } else if lower.contains("amount") || lower.contains("goal") {
        "amount"
    } else if lower.contains("nul character") {
        "nul"
    } else if lower.contains("resolve") || lower.contains("did document") {
        "identity"
    } else if lower.contains("decode") || lower.contains("frame") || lower.contains("json") {
        "decode"
    } else {
        "other"
    };
    debug_assert!(class == "other" || CLASSES.contains(&class));
    class.to_owned()
}

/// Serves `GET /metrics`, and `GET /_health` (200 while the indexer's database answers, 503
/// otherwise, so a supervisor or a test harness can wait on it), on `addr` until the task is
/// dropped.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    pool: sqlx::PgPool,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.render() }
            }),
        )
        .route(
            "/_health",
            get(move || {
                let pool = pool.clone();
                async move {
                    match sqlx::query_scalar::<_, i32>("SELECT 1")
                        .fetch_one(&pool)
                        .await
                    {
                        Ok(_) => (axum::http::StatusCode::OK, "ok"),
                        Err(error) => {
                            tracing::warn!(%error, "health check: database unavailable");
                            (
                                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                                "database unavailable",
                            )
                        }
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving metrics");
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_counted_under_a_bounded_set_of_labels() {
        let metrics = Metrics::default();
        metrics.rejected("lexicon: $.amount: too small");
        metrics.rejected("lexicon: $.title: too long");
        metrics.rejected("commit signature does not verify: bad");
        metrics.rejected("\u{1F4A5} anything an attacker makes up");
        metrics.rejected("commit ops are not proven: undoing the ops gives MST root x");
        metrics.rejected("$.currency: XYZ is not a currency Greenlight handles");
        let rejects = metrics.rejects_by_reason();
        assert_eq!(rejects.get("lexicon"), Some(&2));
        assert_eq!(rejects.get("signature"), Some(&1));
        assert_eq!(rejects.get("other"), Some(&1));
        assert_eq!(rejects.get("proof"), Some(&1));
        assert_eq!(rejects.get("currency"), Some(&1));
        let text = metrics.render();
        assert!(text.contains("greenlight_indexer_rejects_total{reason=\"lexicon\"} 2"));
        assert!(text.contains("# TYPE greenlight_indexer_lag_seconds gauge"));
    }

    #[test]
    fn committed_batches_move_the_counters_and_cursor() {
        let metrics = Metrics::default();
        let outcome = BatchOutcome {
            events: 10,
            puts: 7,
            deletes: 2,
            ..BatchOutcome::default()
        };
        metrics.batch_committed(&outcome, Some(42));
        assert_eq!(metrics.events_committed(), 10);
        let text = metrics.render();
        assert!(text.contains("greenlight_indexer_records_put_total 7"));
        assert!(text.contains("greenlight_indexer_cursor 42"));
    }
}
