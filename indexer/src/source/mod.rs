//! Event sources: the raw firehose and Jetstream. Each runs until shut down, reconnecting
//! forever with capped backoff and resuming from the stored cursor every time.

pub mod firehose;
pub mod jetstream;

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::cursor::stored_cursor;
use crate::event::SourceEvent;
use crate::metrics::Metrics;

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

/// What the frame loop hands a source.
pub(crate) enum Incoming {
    /// A data message (text or binary).
    Message(Message),
    /// The source's wake-up signal fired (the firehose: keys of parked repos arrived).
    Wake,
}

/// What a source makes of one data message (text or binary).
pub(crate) enum Received {
    /// An event for the writer.
    Event(SourceEvent),
    /// Nothing to send.
    Skip,
    /// Drop the connection and reconnect; with `live`, without the stored cursor.
    Reconnect {
        /// Our cursor is ahead of the server (it was reset): follow it live.
        live: bool,
    },
}

/// A WebSocket subscription as both sources use it.
pub(crate) struct Subscription<'a> {
    /// The stream's name in logs.
    pub kind: &'static str,
    /// The name of the source's cursor row.
    pub cursor_name: &'a str,
    /// The largest message (and frame) accepted.
    pub max_message_bytes: usize,
    /// The longest pause between reconnect attempts.
    pub max_backoff: Duration,
}

impl Subscription<'_> {
    /// Connects to `url_for(stored cursor)`, hands every data message (and every `wake`
    /// signal, while connected) to `on_message` and sends its events to `tx`, reconnecting
    /// with backoff until `shutdown` or until the writer is gone.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn follow<U, F, Fut>(
        &self,
        pool: &PgPool,
        metrics: &Metrics,
        tx: &mpsc::Sender<SourceEvent>,
        shutdown: &CancellationToken,
        url_for: U,
        wake: Option<&tokio::sync::Notify>,
        mut on_message: F,
    ) where
        U: Fn(Option<i64>) -> String,
        F: FnMut(Incoming) -> Fut,
        Fut: Future<Output = Received>,
    {
        let kind = self.kind;
        let mut attempt: u32 = 0;
        let mut live = false;
        while !shutdown.is_cancelled() {
            let cursor = match stored_cursor(pool, self.cursor_name).await {
                Ok(cursor) => cursor,
                Err(err) => {
                    tracing::warn!(%err, "cannot read the stored cursor");
                    attempt += 1;
                    if sleep_or_shutdown(reconnect_delay(attempt, self.max_backoff), shutdown).await
                    {
                        break;
                    }
                    continue;
                }
            };
            let url = url_for(cursor.filter(|_| !live));
            live = false;
            tracing::info!(%url, "connecting to the {kind}");
            let config = WebSocketConfig::default()
                .max_message_size(Some(self.max_message_bytes))
                .max_frame_size(Some(self.max_message_bytes));
            let connect =
                tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false);
            let connected = tokio::select! {
                result = connect => result,
                _ = shutdown.cancelled() => break,
            };
            match connected {
                Ok((mut socket, _)) => {
                    let mut received_any = false;
                    loop {
                        let message = tokio::select! {
                            message = socket.next() => Some(message),
                            () = woken(wake) => None,
                            _ = shutdown.cancelled() => {
                                let _ = socket.close(None).await;
                                return;
                            }
                        };
                        let incoming = match message {
                            None => Incoming::Wake,
                            Some(Some(Ok(message @ (Message::Binary(_) | Message::Text(_))))) => {
                                received_any = true;
                                Incoming::Message(message)
                            }
                            Some(Some(Ok(Message::Ping(payload)))) => {
                                let _ = socket.send(Message::Pong(payload)).await;
                                continue;
                            }
                            Some(Some(Ok(Message::Close(frame)))) => {
                                tracing::info!(?frame, "the {kind} closed the connection");
                                break;
                            }
                            Some(Some(Ok(_))) => continue,
                            Some(Some(Err(err))) => {
                                tracing::warn!(%err, "{kind} connection failed");
                                break;
                            }
                            Some(None) => break,
                        };
                        let received = tokio::select! {
                            received = on_message(incoming) => received,
                            _ = shutdown.cancelled() => return,
                        };
                        match received {
                            Received::Event(event) => {
                                let sent = tokio::select! {
                                    sent = tx.send(event) => sent,
                                    _ = shutdown.cancelled() => return,
                                };
                                if sent.is_err() {
                                    return;
                                }
                            }
                            Received::Skip => {}
                            Received::Reconnect { live: go_live } => {
                                live = go_live;
                                break;
                            }
                        }
                    }
                    if received_any {
                        attempt = 0;
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot connect to the {kind}"),
            }
            metrics.reconnected();
            attempt += 1;
            if sleep_or_shutdown(reconnect_delay(attempt, self.max_backoff), shutdown).await {
                break;
            }
        }
    }
}

/// Resolves when `wake` is notified; never without one.
async fn woken(wake: Option<&tokio::sync::Notify>) {
    match wake {
        Some(wake) => wake.notified().await,
        None => std::future::pending().await,
    }
}

/// Sleeps; returns true if shutdown was requested meanwhile.
async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown.cancelled() => true,
    }
}
