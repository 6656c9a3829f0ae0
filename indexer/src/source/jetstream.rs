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

use greenlight_lexicon::format::is_valid_cid;
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::event::{EventBody, RecordAction, RecordOp, RejectedEvent, SourceEvent};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_nsid, is_ours, is_record_key, is_tid, NAMESPACE};
use crate::source::firehose::FrameJudge;
use crate::source::{with_query, Received, Subscription};

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
            } else if !is_nsid(&commit.collection) || !is_record_key(&commit.rkey) {
                return reject(format!(
                    "Jetstream commit with invalid collection/rkey {:?}/{:?}",
                    commit.collection, commit.rkey
                ));
            } else if !is_tid(&commit.rev) {
                // Revisions order versions by string comparison: a non-TID could outrank all.
                return reject(format!(
                    "Jetstream commit rev {:?} is not a TID",
                    commit.rev
                ));
            } else {
                let action = match commit.operation.as_str() {
                    "delete" => RecordAction::Delete,
                    "create" | "update" => match commit.record {
                        Some(record) if commit.cid.as_deref().is_some_and(|c| !is_valid_cid(c)) => {
                            let reason = format!("Jetstream cid {:?} is not a CID", commit.cid);
                            metrics.rejected(&reason);
                            RecordAction::Reject {
                                cid: None,
                                body: Some(record),
                                reason,
                            }
                        }
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
        let subscription = Subscription {
            kind: "Jetstream server",
            cursor_name: &self.name,
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_backoff: self.max_backoff,
        };
        let endpoint = self.endpoint();
        let url_for = |cursor: Option<i64>| match cursor {
            Some(cursor) => with_query(&endpoint, "cursor", &cursor.to_string()),
            None => endpoint.clone(),
        };
        let (judge, metrics) = (&judge, &*metrics);
        subscription
            .follow(
                &pool,
                metrics,
                &tx,
                &shutdown,
                url_for,
                |message| async move {
                    let text = match &message {
                        Message::Text(text) => text.as_str(),
                        Message::Binary(bytes) => match std::str::from_utf8(bytes) {
                            Ok(text) => text,
                            Err(_) => {
                                metrics.rejected("Jetstream message is not UTF-8 JSON");
                                return Received::Skip;
                            }
                        },
                        _ => return Received::Skip,
                    };
                    Received::Event(judge_message(text, judge, metrics))
                },
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record_rules::RecordRules;

    const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

    fn judged(message: &serde_json::Value) -> SourceEvent {
        let metrics = Metrics::new();
        let judge = FrameJudge::new(
            RecordRules::embedded().unwrap(),
            None,
            None,
            metrics.clone(),
        );
        judge_message(&message.to_string(), &judge, &metrics)
    }

    fn commit(rev: &str, collection: &str, cid: &str) -> serde_json::Value {
        serde_json::json!({
            "did": "did:plc:abc",
            "time_us": 1_700_000_000_000_000i64,
            "kind": "commit",
            "commit": {
                "rev": rev,
                "operation": "create",
                "collection": collection,
                "rkey": "3kabcdefghijk",
                "cid": cid,
                "record": {"$type": collection, "createdAt": "2025-01-02T03:04:05Z"},
            },
        })
    }

    fn rejected_reason(event: &SourceEvent) -> &str {
        match &event.body {
            EventBody::Rejected(rejected) => &rejected.reason,
            other => panic!("expected a rejected event, got {other:?}"),
        }
    }

    #[test]
    fn hostile_commit_fields_are_rejected_with_a_reason() {
        let est = "fund.greenlight.estimate";
        let event = judged(&commit("zzzzzzzzzzzzzzzz", est, CID));
        assert!(rejected_reason(&event).contains("is not a TID"));
        assert_eq!(event.cursor, Some(1_700_000_000_000_000));
        let event = judged(&commit("3kabcdefghijk", "fund.greenlight.x\0y", CID));
        assert!(rejected_reason(&event).contains("invalid collection/rkey"));
        let event = judged(&commit("3kabcdefghijk", est, "bafy\0"));
        let EventBody::Records(ops) = &event.body else {
            panic!("expected record ops, got {event:?}");
        };
        let RecordAction::Reject { cid, reason, .. } = &ops[0].action else {
            panic!("expected a rejected record, got {:?}", ops[0].action);
        };
        assert_eq!(cid, &None);
        assert!(reason.contains("is not a CID"), "{reason}");
    }

    #[test]
    fn malformed_json_is_rejected_without_a_cursor() {
        let metrics = Metrics::new();
        let judge = FrameJudge::new(
            RecordRules::embedded().unwrap(),
            None,
            None,
            metrics.clone(),
        );
        let event = judge_message("{\"did\": 1", &judge, &metrics);
        assert_eq!(event.cursor, None);
        assert!(rejected_reason(&event).contains("malformed Jetstream JSON"));
    }
}
