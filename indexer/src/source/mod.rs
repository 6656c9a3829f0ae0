//! Event sources: the raw firehose and Jetstream. Each runs until shut down, reconnecting
//! forever with capped backoff and resuming from the stored cursor every time.

pub mod firehose;
pub mod jetstream;

use std::time::Duration;

/// Backoff before reconnect attempt `attempt` (1-based): 250 ms doubling, capped at `max`.
pub fn reconnect_delay(attempt: u32, max: Duration) -> Duration {
    let millis = 250u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(12));
    Duration::from_millis(millis).min(max)
}

/// Appends `cursor` to a subscription URL that may already carry a query.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}
