//! Jetstream: the firehose re-served as JSON, filtered by collection.
//!
//! A thin client of our own: `jetstream-oxide` 0.1.2 types records as app.bsky records in an
//! untagged enum, which turns a create of one of our records into a delete. Records stay raw
//! JSON here and go through the same rules as firehose records. Jetstream carries no commit
//! signatures, so this source trusts the Jetstream server it is pointed at.
//!
//! Compression (zstd with Jetstream's dictionary) is not requested.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::cursor::stored_cursor;
use crate::event::{EventBody, RecordAction, RecordOp, RejectedEvent, SourceEvent};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_ours, is_record_key, NAMESPACE};
use crate::source::firehose::{sleep_or_shutdown, FrameJudge};
use crate::source::{reconnect_delay, with_query};

/// The longest message accepted.
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Where and how to follow a Jetstream server.
#[derive(Debug, Clone)]
pub struct JetstreamSource {
    /// `ws(s)://host` or the full `…/subscribe` endpoint.
    pub url: String,
    /// The name of this source's cursor row.
    pub name: String,
    /// The longest pause between reconnect attempts.
    pub max_backoff: Duration,
}

#[derive(Deserialize)]
struct WireEvent {
    did: String,
    time_us: i64,
    kind: String,
    commit: Option<WireCommit>,
    identity: Option<WireIdentity>,
    account: Option<WireAccount>,
}

#[derive(Deserialize)]
struct WireCommit {
    rev: String,
    operation: String,
    collection: String,
    rkey: String,
    record: Option<Value>,
    cid: Option<String>,
}

#[derive(Deserialize)]
struct WireIdentity {
    handle: Option<String>,
}

#[derive(Deserialize)]
struct WireAccount {
    active: bool,
    status: Option<String>,
}

/// Turns one Jetstream JSON message into a judged event.
pub fn judge_message(text: &str, judge: &FrameJudge, metrics: &Metrics) -> SourceEvent {
    let event: WireEvent = match serde_json::from_str(text) {
        Ok(event) => event,
        Err(err) => {
            let reason = format!("malformed Jetstream JSON message: {err}");
            tracing::warn!(%reason, "skipping a Jetstream message");
            metrics.rejected(&reason);
            // Keep a readable prefix of what arrived, for diagnosis.
            let excerpt: String = text.chars().take(2000).collect();
            return SourceEvent {
                cursor: None,
                body: EventBody::Rejected(RejectedEvent {
                    did: None,
                    reason,
                    body: Some(Value::String(excerpt)),
                }),
            };
        }
    };
    let time = chrono::DateTime::from_timestamp_micros(event.time_us);
    metrics.event_received(time);
    let cursor = Some(event.time_us);
    let reject = |reason: String| {
        metrics.rejected(&reason);
        SourceEvent {
            cursor,
            body: EventBody::Rejected(RejectedEvent {
                did: None,
                reason,
                body: None,
            }),
        }
    };
    if !is_did(&event.did) {
        return reject(format!("Jetstream event for invalid DID {:?}", event.did));
    }
    let body = match (
        event.kind.as_str(),
        event.commit,
        event.identity,
        event.account,
    ) {
        ("commit", Some(commit), _, _) => {
            if !is_ours(&commit.collection) {
                EventBody::Nothing
            } else if !is_record_key(&commit.rkey) {
                return reject(format!(
                    "Jetstream commit with invalid record key {:?}",
                    commit.rkey
                ));
            } else {
                let action = match commit.operation.as_str() {
                    "delete" => RecordAction::Delete,
                    "create" | "update" => match commit.record {
                        Some(record) => {
                            judge.judge_record(&commit.collection, &commit.rkey, commit.cid, record)
                        }
                        None => {
                            let reason = format!("Jetstream {} without a record", commit.operation);
                            metrics.rejected(&reason);
                            RecordAction::Reject {
                                cid: commit.cid,
                                body: None,
                                reason,
                            }
                        }
                    },
                    other => return reject(format!("unknown Jetstream operation {other:?}")),
                };
                EventBody::Records(vec![RecordOp {
                    did: event.did,
                    collection: commit.collection,
                    rkey: commit.rkey,
                    rev: commit.rev,
                    action,
                }])
            }
        }
        ("identity", _, identity, _) => EventBody::Identity {
            did: event.did,
            handle: identity.and_then(|i| i.handle),
        },
        ("account", _, _, Some(account)) => EventBody::Account {
            did: event.did,
            active: account.active,
            status: account.status,
        },
        (kind, ..) => {
            tracing::debug!(%kind, "skipping a Jetstream event of unknown kind");
            EventBody::Nothing
        }
    };
    SourceEvent { cursor, body }
}

impl JetstreamSource {
    fn endpoint(&self) -> String {
        let base = if self.url.contains("/subscribe") {
            self.url.clone()
        } else {
            format!("{}/subscribe", self.url.trim_end_matches('/'))
        };
        with_query(&base, "wantedCollections", &format!("{NAMESPACE}*"))
    }

    /// Follows Jetstream until `shutdown`, sending judged events to `tx`. Every connect
    /// resumes from the cursor stored in `pool`.
    pub async fn run(
        &self,
        pool: PgPool,
        judge: FrameJudge,
        metrics: Arc<Metrics>,
        tx: mpsc::Sender<SourceEvent>,
        shutdown: CancellationToken,
    ) {
        let mut attempt: u32 = 0;
        while !shutdown.is_cancelled() {
            let url = match stored_cursor(&pool, &self.name).await {
                Ok(Some(cursor)) => with_query(&self.endpoint(), "cursor", &cursor.to_string()),
                Ok(None) => self.endpoint(),
                Err(err) => {
                    tracing::warn!(%err, "cannot read the stored cursor");
                    attempt += 1;
                    if sleep_or_shutdown(reconnect_delay(attempt, self.max_backoff), &shutdown)
                        .await
                    {
                        break;
                    }
                    continue;
                }
            };
            tracing::info!(%url, "connecting to Jetstream");
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(Some(MAX_MESSAGE_BYTES))
                .max_frame_size(Some(MAX_MESSAGE_BYTES));
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
                            message = socket.next() => message,
                            _ = shutdown.cancelled() => {
                                let _ = socket.close(None).await;
                                return;
                            }
                        };
                        let text = match message {
                            Some(Ok(Message::Text(text))) => text.to_string(),
                            Some(Ok(Message::Binary(bytes))) => {
                                match String::from_utf8(bytes.to_vec()) {
                                    Ok(text) => text,
                                    Err(_) => {
                                        metrics.rejected("Jetstream message is not UTF-8 JSON");
                                        continue;
                                    }
                                }
                            }
                            Some(Ok(Message::Ping(payload))) => {
                                let _ = socket.send(Message::Pong(payload)).await;
                                continue;
                            }
                            Some(Ok(Message::Close(frame))) => {
                                tracing::info!(?frame, "Jetstream closed the connection");
                                break;
                            }
                            Some(Ok(_)) => continue,
                            Some(Err(err)) => {
                                tracing::warn!(%err, "Jetstream connection failed");
                                break;
                            }
                            None => break,
                        };
                        received_any = true;
                        let event = judge_message(&text, &judge, &metrics);
                        let sent = tokio::select! {
                            sent = tx.send(event) => sent,
                            _ = shutdown.cancelled() => return,
                        };
                        if sent.is_err() {
                            return;
                        }
                    }
                    if received_any {
                        attempt = 0;
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot connect to Jetstream"),
            }
            metrics.reconnected();
            attempt += 1;
            if sleep_or_shutdown(reconnect_delay(attempt, self.max_backoff), &shutdown).await {
                break;
            }
        }
    }
}
