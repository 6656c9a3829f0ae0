//! Prometheus metrics: requests and latency per XRPC method, rendered at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// The methods we label separately; everything else is `other`.
pub const METHODS: &[&str] = &[
    "fund.greenlight.getProposal",
    "fund.greenlight.listProposals",
    "fund.greenlight.searchProposals",
    "fund.greenlight.getProject",
    "fund.greenlight.listProjects",
    "fund.greenlight.getFundingTotals",
    "fund.greenlight.listEstimates",
    "fund.greenlight.listPledges",
    "fund.greenlight.getActor",
    "_health",
];

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct MethodMetrics {
    /// Responses by status class: 2xx, 3xx, 4xx, 5xx, other.
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Lock-free counters shared by every request.
pub struct Metrics {
    methods: Vec<MethodMetrics>,
    escrow_seq: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            methods: (0..=METHODS.len())
                .map(|_| MethodMetrics::default())
                .collect(),
            escrow_seq: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Fresh counters.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    fn index(path: &str) -> usize {
        path.strip_prefix("/xrpc/")
            .and_then(|m| METHODS.iter().position(|known| *known == m))
            .unwrap_or(METHODS.len())
    }

    /// Records one response.
    pub fn observe(&self, path: &str, status: u16, seconds: f64) {
        let Some(m) = self.methods.get(Metrics::index(path)) else {
            return;
        };
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            500..=599 => 3,
            _ => 4,
        };
        m.by_class[class].fetch_add(1, Ordering::Relaxed);
        for (bucket, bound) in m.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Records the escrow feed position the AppView has applied.
    pub fn escrow_applied(&self, seq: i64) {
        self.escrow_seq
            .store(u64::try_from(seq).unwrap_or(0), Ordering::Relaxed);
    }

    /// How many 5xx responses were sent, over all methods.
    pub fn server_errors(&self) -> u64 {
        self.methods
            .iter()
            .map(|m| m.by_class[3].load(Ordering::Relaxed))
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP greenlight_appview_requests_total XRPC responses by method and status class."
        );
        let _ = writeln!(out, "# TYPE greenlight_appview_requests_total counter");
        let name = |i: usize| METHODS.get(i).copied().unwrap_or("other");
        let classes = ["2xx", "3xx", "4xx", "5xx", "other"];
        for (i, m) in self.methods.iter().enumerate() {
            for (class, counter) in classes.iter().zip(&m.by_class) {
                let _ = writeln!(
                    out,
                    "greenlight_appview_requests_total{{method=\"{}\",class=\"{class}\"}} {}",
                    name(i),
                    counter.load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP greenlight_appview_request_seconds XRPC latency by method."
        );
        let _ = writeln!(out, "# TYPE greenlight_appview_request_seconds histogram");
        for (i, m) in self.methods.iter().enumerate() {
            for (bucket, bound) in m.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "greenlight_appview_request_seconds_bucket{{method=\"{}\",le=\"{bound}\"}} {}",
                    name(i),
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "greenlight_appview_request_seconds_bucket{{method=\"{}\",le=\"+Inf\"}} {count}",
                name(i)
            );
            let _ = writeln!(
                out,
                "greenlight_appview_request_seconds_sum{{method=\"{}\"}} {}",
                name(i),
                m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "greenlight_appview_request_seconds_count{{method=\"{}\"}} {count}",
                name(i)
            );
        }
        let _ = writeln!(
            out,
            "# HELP greenlight_appview_escrow_seq Last escrow ledger feed seq applied."
        );
        let _ = writeln!(out, "# TYPE greenlight_appview_escrow_seq gauge");
        let _ = writeln!(
            out,
            "greenlight_appview_escrow_seq {}",
            self.escrow_seq.load(Ordering::Relaxed)
        );
        out
    }
}

/// Middleware recording every response's method, status class and latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    metrics.observe(
        &path,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
