//! The raw firehose: `com.atproto.sync.subscribeRepos` of a relay or a PDS.
//!
//! Binary frames are decoded by `greenlight-firehose`; commits touching `fund.greenlight.*`
//! have their signature checked (when a verifier is configured) and their records judged.
//! A frame that does not decode is stored as a rejected event and the stream goes on.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use greenlight_firehose::{Commit, DecodeError, Frame, OpAction};
use greenlight_identity::Resolver;
use serde_json::json;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::cursor::stored_cursor;
use crate::event::{EventBody, RecordAction, RecordOp, RejectedEvent, SourceEvent, ValidRecord};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_ours, is_record_key, RecordRules};
use crate::source::{reconnect_delay, with_query};
use crate::verify::{CommitVerifier, VerifyError};

/// The longest frame accepted; real commit frames are capped far below this by relays.
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Turns firehose frames into judged events.
#[derive(Clone)]
pub struct FrameJudge {
    rules: RecordRules,
    verifier: Option<Arc<dyn CommitVerifier>>,
    identity: Option<Resolver>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for FrameJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameJudge")
            .field("verifies_signatures", &self.verifier.is_some())
            .finish()
    }
}

/// What a frame means for the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameOutcome {
    /// An event for the writer.
    Event(SourceEvent),
    /// Nothing to do (an `#info` message, a frame type we do not know).
    Skip,
    /// The server sent an error frame and will close the stream.
    ServerError {
        /// The error name.
        error: String,
        /// Its explanation.
        message: Option<String>,
    },
}

impl FrameJudge {
    /// A judge; `verifier` checks commit signatures, `identity` verifies handles of
    /// `#identity` events (both optional).
    pub fn new(
        rules: RecordRules,
        verifier: Option<Arc<dyn CommitVerifier>>,
        identity: Option<Resolver>,
        metrics: Arc<Metrics>,
    ) -> FrameJudge {
        FrameJudge {
            rules,
            verifier,
            identity,
            metrics,
        }
    }

    /// Decodes and judges one binary frame.
    pub async fn judge(&self, bytes: &[u8]) -> FrameOutcome {
        let frame = match Frame::decode(bytes) {
            Ok(frame) => frame,
            Err(err) => return FrameOutcome::Event(self.undecodable(err)),
        };
        let time = match &frame {
            Frame::Commit(c) => Some(c.time.as_str()),
            Frame::Identity(i) => Some(i.time.as_str()),
            Frame::Account(a) => Some(a.time.as_str()),
            Frame::Sync(s) => Some(s.time.as_str()),
            _ => None,
        };
        if let Some(time) = time {
            let parsed = chrono::DateTime::parse_from_rfc3339(time)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc));
            self.metrics.event_received(parsed);
        }
        let cursor = frame.seq();
        let body = match frame {
            Frame::Commit(commit) => self.judge_commit(&commit).await,
            Frame::Identity(identity) => {
                if !is_did(&identity.did) {
                    self.reject(
                        None,
                        format!("#identity for invalid DID {:?}", identity.did),
                    )
                } else {
                    let handle = self.verified_handle(&identity.did, identity.handle).await;
                    EventBody::Identity {
                        did: identity.did,
                        handle,
                    }
                }
            }
            Frame::Account(account) => {
                if !is_did(&account.did) {
                    self.reject(None, format!("#account for invalid DID {:?}", account.did))
                } else {
                    EventBody::Account {
                        did: account.did,
                        active: account.active,
                        status: account.status,
                    }
                }
            }
            Frame::Sync(sync) => {
                if is_did(&sync.did) {
                    // The repo's state jumped without ops; `backfill` picks it up from the queue.
                    tracing::info!(did = %sync.did, rev = %sync.rev, "#sync event: queueing the repo for backfill");
                    EventBody::Resync { did: sync.did }
                } else {
                    self.reject(None, format!("#sync for invalid DID {:?}", sync.did))
                }
            }
            Frame::Info(info) => {
                tracing::info!(name = %info.name, message = ?info.message, "#info from the firehose");
                return FrameOutcome::Skip;
            }
            Frame::Error { error, message } => {
                return FrameOutcome::ServerError { error, message };
            }
            Frame::Unknown { t } => {
                tracing::debug!(%t, "skipping a firehose message of unknown type");
                return FrameOutcome::Skip;
            }
        };
        FrameOutcome::Event(SourceEvent { cursor, body })
    }

    fn undecodable(&self, err: DecodeError) -> SourceEvent {
        tracing::warn!(%err, "cannot decode a firehose frame; skipping it");
        SourceEvent {
            cursor: None,
            body: self.reject(None, format!("cannot decode frame: {err}")),
        }
    }

    fn reject(&self, did: Option<String>, reason: String) -> EventBody {
        self.metrics.rejected(&reason);
        EventBody::Rejected(RejectedEvent {
            did,
            reason,
            body: None,
        })
    }

    async fn verified_handle(&self, did: &str, claimed: Option<String>) -> Option<String> {
        let Some(resolver) = &self.identity else {
            return claimed;
        };
        resolver.invalidate(did);
        let handle = match resolver.refresh_did(did).await {
            Ok(document) => document.handle.clone().or(claimed)?,
            Err(err) => {
                // An outage of the DID directory must not erase handles: keep the host's word.
                tracing::warn!(%did, %err, "cannot resolve DID of an #identity event; keeping the claimed handle unverified");
                return claimed;
            }
        };
        match resolver.resolve_handle(&handle).await {
            Ok(resolved) if resolved == did => Some(handle),
            Ok(other) => {
                tracing::info!(%did, %handle, %other, "handle points at another DID; not storing it");
                None
            }
            Err(err) => {
                tracing::info!(%did, %handle, %err, "handle does not resolve; not storing it");
                None
            }
        }
    }

    async fn judge_commit(&self, commit: &Commit) -> EventBody {
        let ours: Vec<_> = commit.ops.iter().filter(|op| is_ours(&op.path)).collect();
        if ours.is_empty() {
            return EventBody::Nothing;
        }
        if !is_did(&commit.repo) {
            return self.reject(None, format!("commit for invalid DID {:?}", commit.repo));
        }
        if let Some(verifier) = &self.verifier {
            if let Err(reason) = self.check_signature(verifier.as_ref(), commit).await {
                tracing::warn!(did = %commit.repo, rev = %commit.rev, %reason, "rejecting a commit");
                self.metrics.rejected(&reason);
                let paths: Vec<_> = ours.iter().map(|op| op.path.clone()).collect();
                return EventBody::Rejected(RejectedEvent {
                    did: Some(commit.repo.clone()),
                    reason,
                    body: Some(json!({"rev": commit.rev, "commit": commit.commit, "paths": paths})),
                });
            }
        }
        let mut ops = Vec::with_capacity(ours.len());
        for op in ours {
            let Some((collection, rkey)) = op.collection_and_rkey() else {
                return self.reject(
                    Some(commit.repo.clone()),
                    format!("op path {:?} is not collection/rkey", op.path),
                );
            };
            if !is_record_key(rkey) {
                return self.reject(
                    Some(commit.repo.clone()),
                    format!("op path {:?} has an invalid record key", op.path),
                );
            }
            let action = match op.action {
                OpAction::Delete => RecordAction::Delete,
                OpAction::Create | OpAction::Update => match commit.record(op) {
                    Ok(Some(body)) => self.judge_record(collection, rkey, op.cid.clone(), body),
                    Ok(None) => RecordAction::Delete,
                    Err(err) => {
                        let reason = format!("cannot decode record: {err}");
                        self.metrics.rejected(&reason);
                        RecordAction::Reject {
                            cid: op.cid.clone(),
                            body: None,
                            reason,
                        }
                    }
                },
            };
            ops.push(RecordOp {
                did: commit.repo.clone(),
                collection: collection.to_owned(),
                rkey: rkey.to_owned(),
                rev: commit.rev.clone(),
                action,
            });
        }
        EventBody::Records(ops)
    }

    /// Validates a decoded record.
    pub fn judge_record(
        &self,
        collection: &str,
        rkey: &str,
        cid: Option<String>,
        body: serde_json::Value,
    ) -> RecordAction {
        match (self.rules.check(collection, rkey, &body), cid) {
            (Ok(fields), Some(cid)) => {
                RecordAction::Put(Box::new(ValidRecord { cid, body, fields }))
            }
            (Ok(_), None) => {
                let reason = "record has no cid".to_owned();
                self.metrics.rejected(&reason);
                RecordAction::Reject {
                    cid: None,
                    body: Some(body),
                    reason,
                }
            }
            (Err(reason), cid) => {
                self.metrics.rejected(&reason);
                RecordAction::Reject {
                    cid,
                    body: Some(body),
                    reason,
                }
            }
        }
    }

    async fn check_signature(
        &self,
        verifier: &dyn CommitVerifier,
        commit: &Commit,
    ) -> Result<(), String> {
        let signed = commit
            .signed_commit()
            .map_err(|err| format!("cannot read the signed commit: {err}"))?;
        if signed.did != commit.repo {
            return Err(format!(
                "signed commit is for {} but the event names {}",
                signed.did, commit.repo
            ));
        }
        if signed.rev != commit.rev {
            return Err(format!(
                "signed commit has rev {} but the event says {}",
                signed.rev, commit.rev
            ));
        }
        let unsigned = signed
            .unsigned_bytes()
            .map_err(|err| format!("cannot re-encode the signed commit: {err}"))?;
        // An identity lookup that fails for a passing reason is retried (holding the stream
        // back) rather than turning a good commit into a rejected one.
        let mut attempt = 0;
        loop {
            match verifier.verify(&commit.repo, &unsigned, &signed.sig).await {
                Ok(()) => return Ok(()),
                Err(VerifyError::Invalid(reason)) => return Err(reason),
                Err(VerifyError::Unavailable(reason)) => {
                    attempt += 1;
                    let delay = crate::pipeline::backoff(attempt);
                    tracing::warn!(did = %commit.repo, %reason, ?delay, "identity unavailable; retrying the signature check");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// Where and how to follow a firehose.
#[derive(Debug, Clone)]
pub struct FirehoseSource {
    /// `ws(s)://host[/xrpc/com.atproto.sync.subscribeRepos]`.
    pub url: String,
    /// The name of this source's cursor row.
    pub name: String,
    /// The longest pause between reconnect attempts.
    pub max_backoff: Duration,
}

impl FirehoseSource {
    /// The subscription URL, given a bare host or a full endpoint.
    fn endpoint(&self) -> String {
        if self.url.contains("/xrpc/") {
            self.url.clone()
        } else {
            format!(
                "{}/xrpc/com.atproto.sync.subscribeRepos",
                self.url.trim_end_matches('/')
            )
        }
    }

    /// Follows the firehose until `shutdown`, sending judged events to `tx`. Every connect
    /// resumes from the cursor stored in `pool`.
    pub async fn run(
        &self,
        pool: PgPool,
        judge: FrameJudge,
        tx: mpsc::Sender<SourceEvent>,
        shutdown: CancellationToken,
    ) {
        let mut attempt: u32 = 0;
        let mut skip_cursor = false;
        while !shutdown.is_cancelled() {
            let cursor = match stored_cursor(&pool, &self.name).await {
                Ok(cursor) => cursor,
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
            let url = match cursor {
                Some(cursor) if !skip_cursor => {
                    with_query(&self.endpoint(), "cursor", &cursor.to_string())
                }
                _ => self.endpoint(),
            };
            skip_cursor = false;
            tracing::info!(%url, "connecting to the firehose");
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(Some(MAX_FRAME_BYTES))
                .max_frame_size(Some(MAX_FRAME_BYTES));
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
                        let bytes = match message {
                            Some(Ok(Message::Binary(bytes))) => bytes,
                            Some(Ok(Message::Close(frame))) => {
                                tracing::info!(?frame, "firehose closed the connection");
                                break;
                            }
                            Some(Ok(Message::Ping(payload))) => {
                                let _ = socket.send(Message::Pong(payload)).await;
                                continue;
                            }
                            Some(Ok(_)) => continue,
                            Some(Err(err)) => {
                                tracing::warn!(%err, "firehose connection failed");
                                break;
                            }
                            None => break,
                        };
                        received_any = true;
                        let outcome = tokio::select! {
                            outcome = judge.judge(&bytes) => outcome,
                            _ = shutdown.cancelled() => return,
                        };
                        match outcome {
                            FrameOutcome::Event(event) => {
                                let sent = tokio::select! {
                                    sent = tx.send(event) => sent,
                                    _ = shutdown.cancelled() => return,
                                };
                                if sent.is_err() {
                                    return;
                                }
                            }
                            FrameOutcome::Skip => {}
                            FrameOutcome::ServerError { error, message } => {
                                tracing::warn!(%error, ?message, "firehose error frame");
                                if error == "FutureCursor" {
                                    // Our cursor is ahead of the server (it was reset): go live.
                                    skip_cursor = true;
                                }
                                break;
                            }
                        }
                    }
                    if received_any {
                        attempt = 0;
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot connect to the firehose"),
            }
            judge.metrics.reconnected();
            attempt += 1;
            if sleep_or_shutdown(reconnect_delay(attempt, self.max_backoff), &shutdown).await {
                break;
            }
        }
    }
}

/// Sleeps; returns true if shutdown was requested meanwhile.
pub(crate) async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown.cancelled() => true,
    }
}
