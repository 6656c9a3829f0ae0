//! Jetstream: the firehose re-served as JSON, filtered by collection.
//!
//! A thin client of our own: `jetstream-oxide` 0.1.2 types records as app.bsky records in an
//! untagged enum, which turns a create of one of our records into a delete. Records stay raw
//! JSON here and go through the same rules as firehose records. Jetstream carries no commit
//! signatures, so this source trusts the Jetstream server it is pointed at.
//!
//! Compression follows the `/subscribe` (v1) contract, which Jetstream keeps wire-frozen for
//! existing clients (bluesky-social/jetstream `internal/subscribe/handler.go`): the query
//! parameter `compress=true` asks for it, and then every event arrives as a binary message
//! holding one zstd frame compressed with the published v1 dictionary (dictionary ID
//! 1612007021, vendored in `indexer/zstd/`). It is on by default; `compress=false` in the URL
//! (what `--jetstream-compress false` adds) turns it off. Text messages are read as JSON
//! either way, so a server that ignores the parameter still works.

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
use crate::source::{with_query, Incoming, Received, Subscription};

/// The longest message accepted.
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The most a compressed message may decompress to: the same as a text message may be, so
/// compression neither widens nor narrows what we accept, and a zstd bomb costs at most this.
pub const MAX_DECOMPRESSED_BYTES: usize = MAX_MESSAGE_BYTES;

/// Jetstream's v1 zstd dictionary (bluesky-social/jetstream
/// `internal/subscribe/dictionaries/legacy_subscribe.zdict`; see `indexer/zstd/SOURCE`).
pub const ZSTD_DICTIONARY: &[u8] = include_bytes!("../../zstd/jetstream_v1.zdict");

/// The ID in that dictionary's header, which compressed frames name.
pub const ZSTD_DICTIONARY_ID: u32 = 1_612_007_021;

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

/// Why a compressed message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Decompressing it would exceed the cap (`declared` when the frame header says how much).
    #[error("Jetstream zstd frame decompresses to more than {cap} bytes{}", declared_note(.declared))]
    Oversized {
        /// The cap.
        cap: usize,
        /// The size its header declares, if it declares one.
        declared: Option<u64>,
    },
    /// It names a dictionary other than Jetstream's v1 dictionary.
    #[error(
        "Jetstream zstd frame needs dictionary {found}, not the v1 dictionary {ZSTD_DICTIONARY_ID}"
    )]
    WrongDictionary {
        /// The dictionary ID in its header.
        found: u32,
    },
    /// It is not a zstd frame, or zstd refused it.
    #[error("corrupt Jetstream zstd frame: {0}")]
    Corrupt(String),
    /// It decompressed to something that is not UTF-8.
    #[error("Jetstream zstd frame does not hold UTF-8 JSON")]
    NotUtf8,
}

fn declared_note(declared: &Option<u64>) -> String {
    match declared {
        Some(size) => format!(" (it declares {size})"),
        None => String::new(),
    }
}

/// Decompresses Jetstream's zstd frames with its dictionary into one reused buffer. Made once
/// per source: loading the dictionary is the expensive part.
pub struct FrameDecoder {
    decompressor: zstd::bulk::Decompressor<'static>,
    buffer: Vec<u8>,
    cap: usize,
}

impl FrameDecoder {
    /// A decoder for frames of at most `cap` decompressed bytes.
    pub fn new(cap: usize) -> std::io::Result<FrameDecoder> {
        Ok(FrameDecoder {
            decompressor: zstd::bulk::Decompressor::with_dictionary(ZSTD_DICTIONARY)?,
            // Allocated once, up front: decompression never grows it.
            buffer: Vec::with_capacity(cap),
            cap,
        })
    }

    /// The JSON text inside one compressed message.
    pub fn decode(&mut self, frame: &[u8]) -> Result<&str, FrameError> {
        // Refuse a frame that admits to being too big before spending any work on it.
        let declared = zstd::zstd_safe::get_frame_content_size(frame)
            .map_err(|_| FrameError::Corrupt("not a zstd frame".to_owned()))?;
        if let Some(size) = declared.filter(|&size| size > self.cap as u64) {
            return Err(FrameError::Oversized {
                cap: self.cap,
                declared: Some(size),
            });
        }
        if let Some(found) = zstd::zstd_safe::get_dict_id_from_frame(frame) {
            if found.get() != ZSTD_DICTIONARY_ID {
                return Err(FrameError::WrongDictionary { found: found.get() });
            }
        }
        self.buffer.clear();
        // The buffer's capacity is the cap: zstd stops with "destination buffer is too small"
        // rather than writing past it, whatever the header claimed.
        let written = match self
            .decompressor
            .decompress_to_buffer(frame, &mut self.buffer)
        {
            Ok(written) => written,
            // zstd reports this only as an error code, which the crate turns into its text.
            Err(err) if err.to_string().contains("too small") => {
                return Err(FrameError::Oversized {
                    cap: self.cap,
                    declared,
                })
            }
            Err(err) => return Err(FrameError::Corrupt(err.to_string())),
        };
        let text = self.buffer.get(..written).unwrap_or_default();
        std::str::from_utf8(text).map_err(|_| FrameError::NotUtf8)
    }
}

/// Whether a Jetstream URL asks for compression: yes unless it says `compress=false`.
pub fn wants_compression(url: &str) -> bool {
    !query_pairs(url).any(|(key, value)| key == "compress" && value != "true")
}

/// `url` with compression turned off (`compress=false`, replacing any `compress=` it had).
pub fn uncompressed_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = base.to_owned();
    let kept = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("compress"));
    for (i, pair) in kept.enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(pair);
    }
    with_query(&out, "compress", "false")
}

fn query_pairs(url: &str) -> impl Iterator<Item = (&str, &str)> {
    url.split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
}

/// Turns one compressed (binary) Jetstream message into a judged event; a frame that cannot
/// be read becomes a rejected event, so the stream goes on.
pub fn judge_compressed(
    frame: &[u8],
    decoder: &mut FrameDecoder,
    judge: &FrameJudge,
    metrics: &Metrics,
) -> SourceEvent {
    match decoder.decode(frame) {
        Ok(text) => judge_message(text, judge, metrics),
        Err(err) => {
            let reason = err.to_string();
            tracing::warn!(%reason, bytes = frame.len(), "skipping a Jetstream message");
            metrics.rejected(&reason);
            // The first bytes, in hex, for diagnosis; the frame itself may be anything.
            let excerpt: String = frame.iter().take(64).map(|b| format!("{b:02x}")).collect();
            SourceEvent {
                cursor: None,
                body: EventBody::Rejected(RejectedEvent {
                    did: None,
                    reason,
                    body: Some(Value::String(excerpt)),
                }),
            }
        }
    }
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
        // The path gets `/subscribe`, not the query (`ws://host?compress=false`).
        let (path, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let mut base = if path.contains("/subscribe") {
            path.to_owned()
        } else {
            format!("{}/subscribe", path.trim_end_matches('/'))
        };
        if !query.is_empty() {
            base = format!("{base}?{query}");
        }
        let endpoint = with_query(&base, "wantedCollections", &format!("{NAMESPACE}*"));
        // An explicit `compress=` in the URL stays as given; otherwise ask for it.
        if query_pairs(&self.url).any(|(key, _)| key == "compress") {
            endpoint
        } else {
            with_query(&endpoint, "compress", "true")
        }
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
        let mut decoder = if wants_compression(&self.url) {
            match FrameDecoder::new(MAX_DECOMPRESSED_BYTES) {
                Ok(decoder) => Some(decoder),
                Err(err) => {
                    // Only a broken build (the embedded dictionary) gets here; following
                    // uncompressed still works.
                    tracing::error!(%err, "cannot load Jetstream's zstd dictionary");
                    None
                }
            }
        } else {
            None
        };
        let compressed = decoder.is_some();
        let url_for = |cursor| match compressed {
            true => url_for(cursor),
            false => uncompressed_url(&url_for(cursor)),
        };
        subscription
            .follow(&pool, metrics, &tx, &shutdown, url_for, None, |incoming| {
                let Incoming::Message(message) = incoming else {
                    return std::future::ready(Received::Skip);
                };
                // Judged here, synchronously, so the decoder is borrowed only meanwhile.
                let received = receive(message, decoder.as_mut(), judge, metrics);
                std::future::ready(received)
            })
            .await;
    }
}

/// One message: text is JSON; binary is zstd on a compressed connection, JSON otherwise.
fn receive(
    message: Message,
    decoder: Option<&mut FrameDecoder>,
    judge: &FrameJudge,
    metrics: &Metrics,
) -> Received {
    match (&message, decoder) {
        (Message::Text(text), _) => Received::Event(judge_message(text.as_str(), judge, metrics)),
        (Message::Binary(bytes), Some(decoder)) => {
            Received::Event(judge_compressed(bytes, decoder, judge, metrics))
        }
        (Message::Binary(bytes), None) => match std::str::from_utf8(bytes) {
            Ok(text) => Received::Event(judge_message(text, judge, metrics)),
            Err(_) => {
                metrics.rejected("Jetstream message is not UTF-8 JSON");
                Received::Skip
            }
        },
        _ => Received::Skip,
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

    fn judge() -> (FrameJudge, Arc<Metrics>) {
        let metrics = Metrics::new();
        let judge = FrameJudge::new(
            RecordRules::embedded().unwrap(),
            None,
            None,
            metrics.clone(),
        );
        (judge, metrics)
    }

    /// What the server does: one frame per event, with the v1 dictionary, size declared.
    fn compress(json: &[u8]) -> Vec<u8> {
        zstd::bulk::Compressor::with_dictionary(3, ZSTD_DICTIONARY)
            .unwrap()
            .compress(json)
            .unwrap()
    }

    fn records_of(event: &SourceEvent) -> &[RecordOp] {
        match &event.body {
            EventBody::Records(ops) => ops,
            other => panic!("expected record ops, got {other:?}"),
        }
    }

    #[test]
    fn the_vendored_dictionary_is_jetstreams_v1_dictionary() {
        // A zstd dictionary: magic number, then its ID (little-endian).
        assert_eq!(&ZSTD_DICTIONARY[..4], &[0x37, 0xa4, 0x30, 0xec]);
        let id = u32::from_le_bytes(ZSTD_DICTIONARY[4..8].try_into().unwrap());
        assert_eq!(id, ZSTD_DICTIONARY_ID);
        // And frames compressed with it name it.
        let frame = compress(b"{}");
        let named = zstd::zstd_safe::get_dict_id_from_frame(&frame).map(|id| id.get());
        assert_eq!(named, Some(ZSTD_DICTIONARY_ID));
    }

    #[test]
    fn a_compressed_message_is_judged_like_its_text() {
        let (judge, metrics) = judge();
        let mut decoder = FrameDecoder::new(MAX_DECOMPRESSED_BYTES).unwrap();
        let message = commit("3kabcdefghijk", "fund.greenlight.estimate", CID).to_string();
        let frame = compress(message.as_bytes());
        assert!(frame.len() < message.len(), "the dictionary compresses");
        let event = judge_compressed(&frame, &mut decoder, &judge, &metrics);
        assert_eq!(event.cursor, Some(1_700_000_000_000_000));
        let ops = records_of(&event);
        assert_eq!(ops[0].collection, "fund.greenlight.estimate");
        assert_eq!(ops[0].rkey, "3kabcdefghijk");
    }

    #[test]
    fn bombs_and_corrupt_frames_are_rejected_and_the_next_frame_still_decodes() {
        let (judge, metrics) = judge();
        let cap = 64 * 1024;
        let mut decoder = FrameDecoder::new(cap).unwrap();
        let huge = vec![b' '; 8 * 1024 * 1024];
        // A bomb that declares its size: refused from the header alone.
        let declared = compress(&huge);
        assert!(declared.len() < 4096, "{} bytes", declared.len());
        // A bomb that does not (as a streaming compressor writes it): stopped at the cap.
        let undeclared = {
            let mut encoder =
                zstd::stream::Encoder::with_dictionary(Vec::new(), 3, ZSTD_DICTIONARY).unwrap();
            std::io::Write::write_all(&mut encoder, &huge).unwrap();
            encoder.finish().unwrap()
        };
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&undeclared).unwrap(),
            None
        );
        let good = compress(
            commit("3kabcdefghijk", "fund.greenlight.estimate", CID)
                .to_string()
                .as_bytes(),
        );
        let mut truncated = good.clone();
        truncated.truncate(good.len() / 2);
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        let cases: Vec<(&str, &[u8], &str)> = vec![
            (
                "declared bomb",
                &declared,
                "decompresses to more than 65536 bytes (it declares 8388608)",
            ),
            (
                "undeclared bomb",
                &undeclared,
                "decompresses to more than 65536 bytes",
            ),
            (
                "garbage",
                b"definitely not zstd",
                "corrupt Jetstream zstd frame",
            ),
            ("truncated", &truncated, "corrupt Jetstream zstd frame"),
            ("empty", b"", "corrupt Jetstream zstd frame"),
        ];
        for (name, frame, expected) in cases {
            let event = judge_compressed(frame, &mut decoder, &judge, &metrics);
            assert_eq!(event.cursor, None, "{name}");
            let reason = rejected_reason(&event);
            assert!(reason.contains(expected), "{name}: {reason}");
            // Never a reconnect or a silent skip: the stream goes on, and the reason is kept.
            assert!(
                matches!(
                    receive(
                        Message::binary(frame.to_vec()),
                        Some(&mut decoder),
                        &judge,
                        &metrics
                    ),
                    Received::Event(_)
                ),
                "{name}"
            );
            let ops_after = judge_compressed(&good, &mut decoder, &judge, &metrics);
            assert_eq!(records_of(&ops_after).len(), 1, "after {name}");
        }
        // A flipped byte either fails zstd's checks or yields text that is not our JSON;
        // either way it is a rejected event and the decoder goes on.
        let event = judge_compressed(&flipped, &mut decoder, &judge, &metrics);
        assert!(matches!(event.body, EventBody::Rejected(_)), "{event:?}");
        assert_eq!(
            records_of(&judge_compressed(&good, &mut decoder, &judge, &metrics)).len(),
            1
        );
    }

    #[test]
    fn text_messages_still_work_on_a_compressed_connection() {
        let (judge, metrics) = judge();
        let mut decoder = FrameDecoder::new(MAX_DECOMPRESSED_BYTES).unwrap();
        let text = commit("3kabcdefghijk", "fund.greenlight.estimate", CID).to_string();
        let Received::Event(event) =
            receive(Message::text(text), Some(&mut decoder), &judge, &metrics)
        else {
            panic!("expected an event");
        };
        assert_eq!(records_of(&event).len(), 1);
    }

    #[test]
    fn compression_is_asked_for_unless_the_url_turns_it_off() {
        let source = |url: &str| JetstreamSource {
            url: url.to_owned(),
            name: "test".to_owned(),
            max_backoff: Duration::from_secs(1),
        };
        let on = source("wss://jetstream.example");
        assert!(wants_compression(&on.url));
        assert_eq!(
            on.endpoint(),
            "wss://jetstream.example/subscribe?wantedCollections=fund.greenlight.*&compress=true"
        );
        let off = uncompressed_url("wss://jetstream.example/subscribe?compress=true&x=1");
        assert_eq!(off, "wss://jetstream.example/subscribe?x=1&compress=false");
        assert!(!wants_compression(&off));
        assert_eq!(
            source(&off).endpoint(),
            "wss://jetstream.example/subscribe?x=1&compress=false&wantedCollections=fund.greenlight.*"
        );
        assert_eq!(
            uncompressed_url("ws://h/subscribe"),
            "ws://h/subscribe?compress=false"
        );
        assert_eq!(
            source(&uncompressed_url("ws://h/")).endpoint(),
            "ws://h/subscribe?compress=false&wantedCollections=fund.greenlight.*"
        );
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
