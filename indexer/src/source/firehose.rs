//! The raw firehose: `com.atproto.sync.subscribeRepos` of a relay or a PDS.
//!
//! Binary frames are decoded by `greenlight-firehose`; commits touching `fund.greenlight.*`
//! have their signature checked (when a verifier is configured) and their records judged.
//! A frame that does not decode is stored as a rejected event and the stream goes on.
//!
//! With a verifier, a commit's ops must also be *proven* (sync 1.1): undone on the signed new
//! tree they must give the previous commit's tree, `prevData`. The signature covers the tree,
//! not the op list a relay hands us, so without this a relay could add, drop or alter ops of a
//! genuinely signed commit. An unproven commit is stored as a rejected event, none of its ops
//! count, and its repo is queued for backfill, which re-reads the repo's true state. A commit
//! without `prevData` (a sync 1.0 producer) is treated the same way: `prevData` is not signed,
//! so accepting its absence would let any relay switch the check off by deleting the field.
//!
//! Identity never holds the stream for long: `#identity` events only tell the identity pool
//! (which refreshes authors in the background), and a commit waits for its author's key only
//! when it touches `fund.greenlight.*`, at most the pool's `key_wait`; then it is parked
//! ([`crate::parking`]) and replayed in order when the key arrives, while other repos flow on.

use std::sync::Arc;
use std::time::Duration;

use greenlight_firehose::{verify_commit, Commit, DecodeError, Frame, OpAction, SignedCommit};
use serde_json::json;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::event::{
    EventBody, ParkedFrame, RecordAction, RecordOp, RejectedEvent, SourceEvent, ValidRecord,
};
use crate::identity_pool::IdentityPool;
use crate::metrics::Metrics;
use crate::parking::ParkingLot;
use crate::record_rules::{is_did, is_nsid, is_ours, is_record_key, is_tid, RecordRules};
use crate::source::{with_query, Incoming, Received, Subscription};
use crate::verify::{CommitVerifier, VerifyError};

/// The longest frame accepted; real commit frames are capped far below this by relays.
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Why a commit's signature was not accepted.
enum SignatureProblem {
    /// The commit is not validly signed by its repo.
    Invalid(String),
    /// The repo's key could not be had in time.
    Unavailable(String),
}

/// Turns firehose frames into judged events.
#[derive(Clone)]
pub struct FrameJudge {
    rules: RecordRules,
    verifier: Option<Arc<dyn CommitVerifier>>,
    identity: Option<IdentityPool>,
    parking: Option<ParkingLot>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for FrameJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameJudge")
            .field("verifies_signatures", &self.verifier.is_some())
            .field("parks", &self.parking.is_some())
            .finish()
    }
}

/// What a frame means for the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameOutcome {
    /// An event for the writer.
    Event(SourceEvent),
    /// Several events for the writer, in order; only the last carries the frame's cursor, so
    /// the cursor never moves past the frame before all of them are written.
    Events(Vec<SourceEvent>),
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
    /// A judge; `verifier` checks commit signatures, `identity` is told of `#identity`
    /// events and of authors (both optional). Without `identity`, an `#identity` event's
    /// claimed handle is passed on as it is.
    pub fn new(
        rules: RecordRules,
        verifier: Option<Arc<dyn CommitVerifier>>,
        identity: Option<IdentityPool>,
        metrics: Arc<Metrics>,
    ) -> FrameJudge {
        FrameJudge {
            rules,
            verifier,
            identity,
            parking: None,
            metrics,
        }
    }

    /// Parks commits whose key is unavailable in `lot` (without one, their repos are queued
    /// for backfill instead).
    pub fn with_parking(mut self, lot: ParkingLot) -> FrameJudge {
        self.parking = Some(lot);
        self
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
            Frame::Commit(commit) => match self.judge_commit(&commit, true).await {
                Judged::Body(body) => body,
                Judged::Park(reason) => self.park(&commit, cursor, bytes, reason),
                Judged::Unproven(rejected) => {
                    return FrameOutcome::Events(vec![
                        SourceEvent {
                            cursor: None,
                            body: EventBody::Resync {
                                did: commit.repo.clone(),
                            },
                        },
                        SourceEvent {
                            cursor,
                            body: EventBody::Rejected(rejected),
                        },
                    ]);
                }
            },
            Frame::Identity(identity) => {
                if !is_did(&identity.did) {
                    self.reject(
                        None,
                        format!("#identity for invalid DID {:?}", identity.did),
                    )
                } else if let Some(pool) = &self.identity {
                    // Never a lookup here: the pool refreshes authors in the background.
                    pool.identity_changed(&identity.did);
                    EventBody::Nothing
                } else {
                    EventBody::Identity {
                        did: identity.did,
                        handle: identity.handle,
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

    /// Parks a commit; without a parking lot, a sequence number or room in the lot, queues
    /// its repo for backfill, which re-reads the repo's true state.
    fn park(
        &self,
        commit: &Commit,
        cursor: Option<i64>,
        bytes: &[u8],
        reason: String,
    ) -> EventBody {
        let did = commit.repo.clone();
        let (Some(lot), Some(seq)) = (&self.parking, cursor.filter(|_| !self.lot_full(&did)))
        else {
            tracing::warn!(%did, rev = %commit.rev, %reason, "identity unavailable and the commit cannot be parked; queueing the repo for backfill");
            self.metrics
                .rejected("identity unavailable; repo queued for backfill");
            return EventBody::Resync { did };
        };
        tracing::info!(%did, rev = %commit.rev, seq, %reason, "parking a commit until its author's key is available");
        lot.park(&did, seq, bytes);
        if let Some(pool) = &self.identity {
            pool.watch(&did);
        }
        self.metrics.parked();
        EventBody::Park(ParkedFrame {
            did,
            seq,
            frame: bytes.to_vec(),
            reason,
        })
    }

    fn lot_full(&self, did: &str) -> bool {
        self.parking.as_ref().is_some_and(|lot| lot.is_full(did))
    }

    /// Replays the parked commits of repos whose key arrived (the identity pool says which).
    /// The outcomes carry no cursor: the cursor moved past these frames when they were parked.
    pub async fn wake(&self) -> FrameOutcome {
        let (Some(pool), Some(lot)) = (&self.identity, &self.parking) else {
            return FrameOutcome::Skip;
        };
        let mut events = Vec::new();
        for did in pool.take_ready() {
            if lot.is_parked(&did) {
                events.extend(self.replay(lot, pool, &did).await);
            }
        }
        if events.is_empty() {
            FrameOutcome::Skip
        } else {
            FrameOutcome::Events(events)
        }
    }

    /// Judges `did`'s parked frames again, in order, up to the first whose key is still
    /// missing; the last event releases those judged.
    async fn replay(&self, lot: &ParkingLot, pool: &IdentityPool, did: &str) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        let mut replayed = Vec::new();
        for (seq, frame) in lot.frames(did) {
            let bodies = match Frame::decode(&frame) {
                Ok(Frame::Commit(commit)) if commit.repo == did => {
                    match self.judge_commit(&commit, false).await {
                        Judged::Park(reason) => {
                            tracing::info!(%did, seq, %reason, "key still unavailable; the repo stays parked");
                            break;
                        }
                        Judged::Body(body) => vec![body],
                        Judged::Unproven(rejected) => vec![
                            EventBody::Resync {
                                did: did.to_owned(),
                            },
                            EventBody::Rejected(rejected),
                        ],
                    }
                }
                _ => vec![self.reject(
                    Some(did.to_owned()),
                    format!("parked frame {seq} is not a commit of {did}"),
                )],
            };
            events.extend(
                bodies
                    .into_iter()
                    .map(|body| SourceEvent { cursor: None, body }),
            );
            replayed.push(seq);
        }
        if replayed.is_empty() {
            return events;
        }
        if !lot.release(did, &replayed) {
            pool.unwatch(did);
        }
        tracing::info!(%did, replayed = replayed.len(), "replayed parked commits");
        self.metrics.unparked(replayed.len());
        events.push(SourceEvent {
            cursor: None,
            body: EventBody::Unpark {
                did: did.to_owned(),
                seqs: replayed,
            },
        });
        events
    }

    /// Judges a commit; `live` for one from the stream (parked behind its repo's parked
    /// commits), not for a replay of a parked one.
    async fn judge_commit(&self, commit: &Commit, live: bool) -> Judged {
        let ours: Vec<_> = commit.ops.iter().filter(|op| is_ours(&op.path)).collect();
        if ours.is_empty() {
            return Judged::Body(EventBody::Nothing);
        }
        if !is_did(&commit.repo) {
            return Judged::Body(
                self.reject(None, format!("commit for invalid DID {:?}", commit.repo)),
            );
        }
        // Revisions order versions of a record by string comparison: one that is not a TID
        // could outrank every later version.
        if !is_tid(&commit.rev) {
            return Judged::Body(self.reject(
                Some(commit.repo.clone()),
                format!("commit rev {:?} is not a TID", commit.rev),
            ));
        }
        if live
            && self
                .parking
                .as_ref()
                .is_some_and(|lot| lot.is_parked(&commit.repo))
        {
            return Judged::Park("earlier commits of the repo are parked".to_owned());
        }
        if let Some(verifier) = &self.verifier {
            let signed = self.check_signature(verifier.as_ref(), commit).await;
            if let Ok(signed) = &signed {
                // Only after the signature: the proof is about the tree the repo signed.
                if let Err(reason) = prove_ops(commit, signed) {
                    let reason = format!("commit ops are not proven: {reason}");
                    tracing::warn!(did = %commit.repo, rev = %commit.rev, %reason, "rejecting a commit and queueing its repo for backfill");
                    self.metrics.rejected(&reason);
                    let paths: Vec<_> = ours.iter().map(|op| op.path.clone()).collect();
                    return Judged::Unproven(RejectedEvent {
                        did: Some(commit.repo.clone()),
                        reason,
                        body: Some(
                            json!({"rev": commit.rev, "commit": commit.commit, "paths": paths}),
                        ),
                    });
                }
            }
            if let Err(problem) = signed {
                let reason = match problem {
                    SignatureProblem::Invalid(reason) => reason,
                    // Holding the stream until an identity answers would let one DID whose
                    // host never does stall everyone.
                    SignatureProblem::Unavailable(reason) => return Judged::Park(reason),
                };
                tracing::warn!(did = %commit.repo, rev = %commit.rev, %reason, "rejecting a commit");
                self.metrics.rejected(&reason);
                let paths: Vec<_> = ours.iter().map(|op| op.path.clone()).collect();
                return Judged::Body(EventBody::Rejected(RejectedEvent {
                    did: Some(commit.repo.clone()),
                    reason,
                    body: Some(json!({"rev": commit.rev, "commit": commit.commit, "paths": paths})),
                }));
            }
        }
        // A (verified) author of ours: from now on its handle is kept.
        if let Some(pool) = &self.identity {
            pool.note_author(&commit.repo);
        }
        let mut ops = Vec::with_capacity(ours.len());
        for op in ours {
            let Some((collection, rkey)) = op.collection_and_rkey() else {
                return Judged::Body(self.reject(
                    Some(commit.repo.clone()),
                    format!("op path {:?} is not collection/rkey", op.path),
                ));
            };
            if !is_nsid(collection) || !is_record_key(rkey) {
                return Judged::Body(self.reject(
                    Some(commit.repo.clone()),
                    format!("op path {:?} is not a valid collection/rkey", op.path),
                ));
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
        Judged::Body(EventBody::Records(ops))
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

    /// Checks the commit's signature, returning the signed commit it verified.
    async fn check_signature(
        &self,
        verifier: &dyn CommitVerifier,
        commit: &Commit,
    ) -> Result<SignedCommit, SignatureProblem> {
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
        // The verifier bounds its own wait for the key; "unavailable" parks the commit rather
        // than turning a good commit into a rejected one.
        match verifier.verify(&commit.repo, &unsigned, &signed.sig).await {
            Ok(()) => Ok(signed),
            Err(VerifyError::Invalid(reason)) => Err(SignatureProblem::Invalid(reason)),
            Err(VerifyError::Unavailable(reason)) => Err(SignatureProblem::Unavailable(reason)),
        }
    }
}

/// What judging a commit came to.
enum Judged {
    /// One event body for the writer.
    Body(EventBody),
    /// The commit's ops are not proven: rejected, and its repo must be re-read.
    Unproven(RejectedEvent),
    /// The author's key is not available now (or earlier commits of the repo are parked).
    Park(String),
}

/// Checks that `commit`'s ops are exactly the change from its `prevData` to the tree `signed`
/// commits to (sync 1.1).
fn prove_ops(commit: &Commit, signed: &SignedCommit) -> Result<(), String> {
    let data = greenlight_firehose::Cid::try_from(signed.data.as_str())
        .map_err(|err| format!("the signed commit's data is not a CID: {err}"))?;
    let started = std::time::Instant::now();
    let result = verify_commit(commit, &data);
    tracing::debug!(did = %commit.repo, rev = %commit.rev, ops = commit.ops.len(), elapsed = ?started.elapsed(), ok = result.is_ok(), "commit proof");
    result.map_err(|err| err.to_string())
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
        let (writer, stopping) = (&tx, &shutdown);
        let wake = judge.identity.as_ref().map(IdentityPool::ready_notify);
        subscription
            .follow(
                &pool,
                &judge.metrics,
                &tx,
                &shutdown,
                url_for,
                wake,
                |incoming| async move {
                    let outcome = match incoming {
                        Incoming::Message(Message::Binary(bytes)) => judge.judge(&bytes).await,
                        Incoming::Message(_) => return Received::Skip,
                        Incoming::Wake => judge.wake().await,
                    };
                    match outcome {
                        FrameOutcome::Event(event) => Received::Event(event),
                        FrameOutcome::Events(mut events) => {
                            // All but the last go straight to the writer; the last, which
                            // carries the cursor, goes the usual way.
                            let last = events.pop();
                            for event in events {
                                let sent = tokio::select! {
                                    sent = writer.send(event) => sent,
                                    _ = stopping.cancelled() => return Received::Skip,
                                };
                                if sent.is_err() {
                                    return Received::Skip;
                                }
                            }
                            match last {
                                Some(event) => Received::Event(event),
                                None => Received::Skip,
                            }
                        }
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

    /// Accepts every signature, so that a test can build signed commits without keys.
    struct AnySignature;

    #[async_trait::async_trait]
    impl CommitVerifier for AnySignature {
        async fn verify(&self, _: &str, _: &[u8], _: &[u8]) -> Result<(), VerifyError> {
            Ok(())
        }
    }

    /// A `#commit` whose tree goes from `before` to `after` (keys to record blocks), claiming
    /// `ops`, with `prevData` when given; `extra` blocks are added to the CAR.
    fn proof_frame(
        before: &[(&str, &[u8])],
        after: &[(&str, &[u8])],
        ops: Vec<ipld_core::ipld::Ipld>,
        with_prev_data: bool,
        extra: &[&[u8]],
    ) -> Vec<u8> {
        use greenlight_firehose::mst::build;
        use greenlight_firehose::test_fixtures::{car, cid_of, commit_block, message};
        use ipld_core::ipld;
        use ipld_core::ipld::Ipld;
        let entries = |set: &[(&str, &[u8])]| -> Vec<_> {
            set.iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), cid_of(v)))
                .collect()
        };
        let (prev_data, _) = build::tree(&entries(before));
        let (data, mut blocks) = build::tree(&entries(after));
        let rev = "3kabcdefghijk";
        let (commit, _) = commit_block(DID, &data, rev, &[7; 64]);
        let commit_cid = cid_of(&commit);
        blocks.push(commit);
        blocks.extend(after.iter().map(|(_, v)| v.to_vec()));
        blocks.extend(extra.iter().map(|v| v.to_vec()));
        let mut body = ipld!({
            "seq": 9, "repo": DID, "commit": Ipld::Link(commit_cid), "rev": rev, "since": null,
            "time": "2025-01-01T00:00:00.000Z", "tooBig": false, "rebase": false, "blobs": [],
            "blocks": Ipld::Bytes(car(&[commit_cid], &blocks)), "ops": ops,
        });
        if let (true, Ipld::Map(map)) = (with_prev_data, &mut body) {
            map.insert("prevData".to_owned(), Ipld::Link(prev_data));
        }
        message("#commit", &body)
    }

    #[tokio::test]
    async fn only_proven_commits_count_and_an_unproven_one_queues_its_repo() {
        use greenlight_firehose::test_fixtures::{cid_of, dagcbor, op};
        let judge = FrameJudge::new(
            RecordRules::embedded().unwrap(),
            Some(Arc::new(AnySignature)),
            None,
            Metrics::new(),
        );
        let old = dagcbor(&json!({"$type": "app.bsky.feed.post", "text": "hi"}));
        let estimate = dagcbor(&json!({"$type": "fund.greenlight.estimate", "amount": 100}));
        let pledge = dagcbor(&json!({"$type": "fund.greenlight.pledge", "amount": 100}));
        let (post, est, forged) = (
            "app.bsky.feed.post/3kaaaaaaaaaaa",
            "fund.greenlight.estimate/3kbbbbbbbbbbb",
            "fund.greenlight.pledge/3kccccccccccc",
        );
        let before: &[(&str, &[u8])] = &[(post, &old)];
        let after: &[(&str, &[u8])] = &[(post, &old), (est, &estimate)];
        let create = op("create", est, Some(cid_of(&estimate)));

        // The honest commit is proven and its op counts.
        let honest = proof_frame(before, after, vec![create.clone()], true, &[]);
        match judge.judge(&honest).await {
            FrameOutcome::Event(SourceEvent {
                body: EventBody::Records(ops),
                cursor: Some(9),
            }) => assert_eq!(ops.len(), 1),
            other => panic!("expected the estimate, got {other:?}"),
        }

        // The same signed commit with a made-up op (its record block included) is rejected,
        // and the repo is queued; the cursor rides on the last event only.
        let ops = vec![create.clone(), op("create", forged, Some(cid_of(&pledge)))];
        let forged_frame = proof_frame(before, after, ops, true, &[&pledge]);
        let expect_unproven = |outcome: FrameOutcome, words: &str| match outcome {
            FrameOutcome::Events(events) => {
                assert_eq!(events.len(), 2);
                assert_eq!(
                    events[0],
                    SourceEvent {
                        cursor: None,
                        body: EventBody::Resync {
                            did: DID.to_owned()
                        }
                    }
                );
                let SourceEvent {
                    cursor: Some(9),
                    body: EventBody::Rejected(rejected),
                } = &events[1]
                else {
                    panic!("expected a rejection with the cursor, got {:?}", events[1]);
                };
                assert!(
                    rejected.reason.contains("not proven"),
                    "{}",
                    rejected.reason
                );
                assert!(rejected.reason.contains(words), "{}", rejected.reason);
            }
            other => panic!("expected a rejection and a resync, got {other:?}"),
        };
        expect_unproven(judge.judge(&forged_frame).await, forged);

        // A commit without prevData cannot be proven.
        let old_style = proof_frame(before, after, vec![create.clone()], false, &[]);
        expect_unproven(judge.judge(&old_style).await, "no prevData");

        // A commit that leaves out an op it made (the tree also changed elsewhere).
        let hidden: &[(&str, &[u8])] = &[(est, &estimate)];
        let dropped = proof_frame(before, hidden, vec![create], true, &[]);
        expect_unproven(judge.judge(&dropped).await, "prevData");

        // Without signature checks (as the benchmark runs) nothing is proven either.
        match self::judge().judge(&forged_frame).await {
            FrameOutcome::Event(SourceEvent {
                body: EventBody::Records(ops),
                ..
            }) => assert_eq!(ops.len(), 2),
            other => panic!("expected records, got {other:?}"),
        }
    }
}
