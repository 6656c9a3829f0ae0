//! The raw firehose: `com.atproto.sync.subscribeRepos` of a relay or a PDS.
//!
//! Binary frames are decoded by `greenlight-firehose`; commits touching `fund.greenlight.*`
//! have their signature checked (when a verifier is configured) and their records judged.
//! A frame that does not decode is stored as a rejected event and the stream goes on.

use std::sync::Arc;
use std::time::Duration;

use greenlight_firehose::{Commit, DecodeError, Frame, OpAction};
use greenlight_identity::Resolver;
use serde_json::json;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::event::{EventBody, RecordAction, RecordOp, RejectedEvent, SourceEvent, ValidRecord};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_nsid, is_ours, is_record_key, is_tid, RecordRules};
use crate::source::{with_query, Received, Subscription};
use crate::verify::{CommitVerifier, VerifyError};

/// The longest frame accepted; real commit frames are capped far below this by relays.
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Signature checks of one commit before its identity counts as unavailable (the waits
/// between them add up to about 3 s).
const IDENTITY_ATTEMPTS: u32 = 5;

/// Why a commit's signature was not accepted.
enum SignatureProblem {
    /// The commit is not validly signed by its repo.
    Invalid(String),
    /// The repo's identity could not be looked up, even after retrying.
    Unavailable(String),
}

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
        // Revisions order versions of a record by string comparison: one that is not a TID
        // could outrank every later version.
        if !is_tid(&commit.rev) {
            return self.reject(
                Some(commit.repo.clone()),
                format!("commit rev {:?} is not a TID", commit.rev),
            );
        }
        if let Some(verifier) = &self.verifier {
            if let Err(problem) = self.check_signature(verifier.as_ref(), commit).await {
                let reason = match problem {
                    SignatureProblem::Invalid(reason) => reason,
                    SignatureProblem::Unavailable(reason) => {
                        // Holding the stream until an identity answers would let one DID
                        // whose host never does stall everyone; its repo is re-read by
                        // backfill instead.
                        tracing::warn!(did = %commit.repo, rev = %commit.rev, %reason, "identity still unavailable; queueing the repo for backfill");
                        self.metrics
                            .rejected("identity unavailable; repo queued for backfill");
                        return EventBody::Resync {
                            did: commit.repo.clone(),
                        };
                    }
                };
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
            if !is_nsid(collection) || !is_record_key(rkey) {
                return self.reject(
                    Some(commit.repo.clone()),
                    format!("op path {:?} is not a valid collection/rkey", op.path),
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
    ) -> Result<(), SignatureProblem> {
        let signed = commit.signed_commit().map_err(|err| {
            SignatureProblem::Invalid(format!("cannot read the signed commit: {err}"))
        })?;
        if signed.did != commit.repo {
            return Err(SignatureProblem::Invalid(format!(
                "signed commit is for {} but the event names {}",
                signed.did, commit.repo
            )));
        }
        if signed.rev != commit.rev {
            return Err(SignatureProblem::Invalid(format!(
                "signed commit has rev {} but the event says {}",
                signed.rev, commit.rev
            )));
        }
        let unsigned = signed.unsigned_bytes().map_err(|err| {
            SignatureProblem::Invalid(format!("cannot re-encode the signed commit: {err}"))
        })?;
        // An identity lookup that fails for a passing reason is retried a few times (holding
        // the stream back briefly) rather than turning a good commit into a rejected one.
        let mut attempt = 0;
        loop {
            match verifier.verify(&commit.repo, &unsigned, &signed.sig).await {
                Ok(()) => return Ok(()),
                Err(VerifyError::Invalid(reason)) => return Err(SignatureProblem::Invalid(reason)),
                Err(VerifyError::Unavailable(reason)) => {
                    attempt += 1;
                    if attempt >= IDENTITY_ATTEMPTS {
                        return Err(SignatureProblem::Unavailable(reason));
                    }
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
        let subscription = Subscription {
            kind: "firehose",
            cursor_name: &self.name,
            max_message_bytes: MAX_FRAME_BYTES,
            max_backoff: self.max_backoff,
        };
        let endpoint = self.endpoint();
        let url_for = |cursor: Option<i64>| match cursor {
            Some(cursor) => with_query(&endpoint, "cursor", &cursor.to_string()),
            None => endpoint.clone(),
        };
        let judge = &judge;
        subscription
            .follow(
                &pool,
                &judge.metrics,
                &tx,
                &shutdown,
                url_for,
                |message| async move {
                    let Message::Binary(bytes) = message else {
                        return Received::Skip;
                    };
                    match judge.judge(&bytes).await {
                        FrameOutcome::Event(event) => Received::Event(event),
                        FrameOutcome::Skip => Received::Skip,
                        FrameOutcome::ServerError { error, message } => {
                            tracing::warn!(%error, ?message, "firehose error frame");
                            Received::Reconnect {
                                live: error == "FutureCursor",
                            }
                        }
                    }
                },
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::StreamGenerator;

    fn judge() -> FrameJudge {
        FrameJudge::new(RecordRules::embedded().unwrap(), None, None, Metrics::new())
    }

    async fn rejection_of(frame: &[u8]) -> String {
        match judge().judge(frame).await {
            FrameOutcome::Event(SourceEvent {
                body: EventBody::Rejected(rejected),
                ..
            }) => rejected.reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    const DID: &str = "did:plc:abc";

    #[tokio::test]
    async fn a_commit_whose_rev_is_not_a_tid_is_rejected() {
        let mut generator = StreamGenerator::new(1, 1);
        let path = "fund.greenlight.estimate/3kabcdefghijk";
        let reason = rejection_of(&generator.delete_frame(DID, "zzzzzzzzzzzzz", path)).await;
        assert!(reason.contains("is not a TID"), "{reason}");
        // The same op at a real TID is a delete.
        let good = judge()
            .judge(&generator.delete_frame(DID, "3kabcdefghijk", path))
            .await;
        let FrameOutcome::Event(SourceEvent {
            body: EventBody::Records(ops),
            ..
        }) = good
        else {
            panic!("expected record ops, got {good:?}");
        };
        assert_eq!(ops[0].action, RecordAction::Delete);
    }

    #[tokio::test]
    async fn a_collection_postgres_cannot_store_is_rejected_before_the_writer() {
        let mut generator = StreamGenerator::new(1, 1);
        for path in [
            "fund.greenlight.est\0imate/3kabcdefghijk",
            "fund.greenlight./3kabcdefghijk",
            "fund.greenlight.estimate/..",
        ] {
            let reason = rejection_of(&generator.delete_frame(DID, "3kabcdefghijk", path)).await;
            assert!(
                reason.contains("not a valid collection/rkey"),
                "{path}: {reason}"
            );
        }
    }
}
