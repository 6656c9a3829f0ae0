//! A local stand-in for a Jetstream server (github.com/bluesky-social/jetstream), which
//! cannot be installed here: it follows a PDS firehose like Jetstream follows a relay, turns
//! every event into Jetstream's documented JSON (`kind` commit/identity/account, `time_us`,
//! `commit.{rev, operation, collection, rkey, record, cid}`), keeps them all in memory, and
//! serves `/subscribe?wantedCollections=…&cursor=…` replaying from the cursor (events with
//! `time_us >= cursor`) before going live. A client that asks for compression the `/subscribe`
//! (v1) way (`compress=true` or a `Socket-Encoding: zstd` header; bluesky-social/jetstream
//! `internal/subscribe/handler.go`) gets every event as a binary message holding one zstd frame
//! compressed with Jetstream's v1 dictionary (the copy vendored in `indexer/zstd/`).
//!
//! For tests it can also drop every client connection (to exercise reconnects) and send a
//! raw text or binary message to every client (to exercise malformed input).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use greenlight_firehose::{dagcbor_to_json, Frame, OpAction};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// Jetstream's v1 zstd dictionary, the one the indexer decompresses with.
pub const ZSTD_DICTIONARY: &[u8] = include_bytes!("../../indexer/zstd/jetstream_v1.zdict");

/// One Jetstream message compressed as Jetstream compresses it (one frame, v1 dictionary).
pub fn compress_message(json: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::Compressor::with_dictionary(3, ZSTD_DICTIONARY)
        .context("loading the zstd dictionary")?
        .compress(json)
        .context("compressing a Jetstream message")
}

/// One stored Jetstream event.
#[derive(Debug, Clone)]
struct Stored {
    time_us: i64,
    collection: Option<String>,
    json: String,
}

#[derive(Debug, Default)]
struct Log {
    events: Vec<Stored>,
    last_time_us: i64,
}

/// What a live connection is told besides new events.
#[derive(Debug, Clone)]
enum Control {
    Raw(String),
    RawBinary(Vec<u8>),
    Disconnect,
}

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct JetstreamStandin {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    control: broadcast::Sender<Control>,
    compressed_sent: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for JetstreamStandin {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl JetstreamStandin {
    /// Starts following `firehose_url` (from its beginning) and serving on a loopback port.
    pub async fn start(firehose_url: &str) -> Result<JetstreamStandin> {
        let log = Arc::new(Mutex::new(Log::default()));
        let (grew_tx, grew_rx) = watch::channel(0usize);
        let (control, _) = broadcast::channel(64);
        let follower = tokio::spawn(follow(firehose_url.to_owned(), log.clone(), grew_tx));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Jetstream stand-in")?;
        let addr = listener.local_addr()?;
        let compressed_sent = Arc::new(AtomicUsize::new(0));
        let server = {
            let log = log.clone();
            let control = control.clone();
            let compressed_sent = compressed_sent.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let log = log.clone();
                    let grew = grew_rx.clone();
                    let control = control.subscribe();
                    let compressed_sent = compressed_sent.clone();
                    tokio::spawn(async move {
                        if let Err(err) = serve(stream, log, grew, control, compressed_sent).await {
                            tracing::debug!(%err, "jetstream stand-in connection ended");
                        }
                    });
                }
            })
        };
        Ok(JetstreamStandin {
            addr,
            log,
            control,
            compressed_sent,
            tasks: vec![follower, server],
        })
    }

    /// `ws://127.0.0.1:PORT` (the client adds `/subscribe`).
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.log.lock().map(|l| l.events.len()).unwrap_or(0)
    }

    /// Whether it holds no events yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every client connection (clients are expected to reconnect with a cursor).
    pub fn disconnect_all(&self) {
        let _ = self.control.send(Control::Disconnect);
    }

    /// Sends a raw text message to every connected client.
    pub fn send_raw(&self, text: &str) {
        let _ = self.control.send(Control::Raw(text.to_owned()));
    }

    /// Sends a raw binary message (e.g. a corrupt or oversized zstd frame) to every client.
    pub fn send_raw_binary(&self, bytes: Vec<u8>) {
        let _ = self.control.send(Control::RawBinary(bytes));
    }

    /// How many events it has sent zstd-compressed, over all connections.
    pub fn compressed_events_sent(&self) -> usize {
        self.compressed_sent.load(Ordering::Relaxed)
    }
}

/// Follows the PDS firehose and appends Jetstream events to the log, forever.
async fn follow(url: String, log: Arc<Mutex<Log>>, grew: watch::Sender<usize>) {
    let mut cursor: Option<i64> = None;
    loop {
        let target = match cursor {
            Some(c) => format!("{url}?cursor={c}"),
            None => format!("{url}?cursor=0"),
        };
        if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(target.as_str()).await {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Binary(bytes) = message else {
                    continue;
                };
                let Ok(frame) = Frame::decode(&bytes) else {
                    continue;
                };
                if let Some(seq) = frame.seq() {
                    cursor = Some(seq);
                }
                let events = to_jetstream(&frame);
                if events.is_empty() {
                    continue;
                }
                let len = {
                    let Ok(mut log) = log.lock() else { return };
                    for (collection, mut event) in events {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_micros() as i64)
                            .unwrap_or(0);
                        let time_us = now.max(log.last_time_us + 1);
                        log.last_time_us = time_us;
                        event["time_us"] = json!(time_us);
                        log.events.push(Stored {
                            time_us,
                            collection,
                            json: event.to_string(),
                        });
                    }
                    log.events.len()
                };
                let _ = grew.send(len);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The Jetstream events of one firehose frame, with their collection (for filtering).
fn to_jetstream(frame: &Frame) -> Vec<(Option<String>, Value)> {
    match frame {
        Frame::Commit(commit) => commit
            .ops
            .iter()
            .filter_map(|op| {
                let (collection, rkey) = op.collection_and_rkey()?;
                let mut body = json!({
                    "rev": commit.rev,
                    "operation": op.action.as_str(),
                    "collection": collection,
                    "rkey": rkey,
                });
                if op.action != OpAction::Delete {
                    let cid = op.cid.clone()?;
                    let block = commit.blocks.get(&cid)?;
                    body["record"] = dagcbor_to_json(block).ok()?;
                    body["cid"] = json!(cid);
                }
                Some((
                    Some(collection.to_owned()),
                    json!({"did": commit.repo, "kind": "commit", "commit": body}),
                ))
            })
            .collect(),
        Frame::Identity(identity) => vec![(
            None,
            json!({"did": identity.did, "kind": "identity", "identity": {
                "did": identity.did, "handle": identity.handle, "seq": identity.seq, "time": identity.time,
            }}),
        )],
        Frame::Account(account) => vec![(
            None,
            json!({"did": account.did, "kind": "account", "account": {
                "did": account.did, "active": account.active, "status": account.status,
                "seq": account.seq, "time": account.time,
            }}),
        )],
        _ => Vec::new(),
    }
}

/// Serves one subscriber: replay from its cursor, then live events and control messages.
// The handshake callback's error type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: tokio::net::TcpStream,
    log: Arc<Mutex<Log>>,
    mut grew: watch::Receiver<usize>,
    mut control: broadcast::Receiver<Control>,
    compressed_sent: Arc<AtomicUsize>,
) -> Result<()> {
    let mut query = String::new();
    let mut zstd_header = false;
    let mut socket =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            query = request.uri().query().unwrap_or_default().to_owned();
            zstd_header = request
                .headers()
                .get("Socket-Encoding")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.contains("zstd"));
            Ok(response)
        })
        .await?;
    let mut wanted: Vec<String> = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut compress = zstd_header;
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.replace("%2A", "*");
        match key {
            "wantedCollections" => wanted.push(value),
            "cursor" => cursor = value.parse().ok(),
            // Jetstream compares with "true" exactly.
            "compress" => compress |= value == "true",
            _ => {}
        }
    }
    let wants = |collection: &Option<String>| match collection {
        None => true,
        Some(c) => {
            wanted.is_empty()
                || wanted.iter().any(|w| match w.strip_suffix('*') {
                    Some(prefix) => c.starts_with(prefix),
                    None => c == w,
                })
        }
    };
    // Without a cursor a client starts live, as Jetstream does.
    let mut next = match cursor {
        Some(cursor) => {
            let log = log.lock().map_err(|_| anyhow::anyhow!("log poisoned"))?;
            log.events.partition_point(|e| e.time_us < cursor)
        }
        None => log.lock().map(|l| l.events.len()).unwrap_or(0),
    };
    // One compressor per connection, as Jetstream pools one encoder per sender.
    let mut compressor = match compress {
        true => Some(
            zstd::bulk::Compressor::with_dictionary(3, ZSTD_DICTIONARY)
                .context("loading the zstd dictionary")?,
        ),
        false => None,
    };
    loop {
        let pending: Vec<Stored> = {
            let log = log.lock().map_err(|_| anyhow::anyhow!("log poisoned"))?;
            let out = log.events[next.min(log.events.len())..].to_vec();
            next = log.events.len();
            out
        };
        for event in pending.iter().filter(|e| wants(&e.collection)) {
            let message = match compressor.as_mut() {
                Some(compressor) => {
                    let frame = compressor
                        .compress(event.json.as_bytes())
                        .context("compressing a Jetstream event")?;
                    compressed_sent.fetch_add(1, Ordering::Relaxed);
                    Message::binary(frame)
                }
                None => Message::text(event.json.clone()),
            };
            socket.send(message).await?;
        }
        tokio::select! {
            changed = grew.changed() => changed?,
            message = control.recv() => match message {
                Ok(Control::Raw(text)) => socket.send(Message::text(text)).await?,
                Ok(Control::RawBinary(bytes)) => socket.send(Message::binary(bytes)).await?,
                Ok(Control::Disconnect) => {
                    let _ = socket.close(None).await;
                    return Ok(());
                }
                Err(_) => {}
            },
            incoming = socket.next() => if incoming.is_none() { return Ok(()) },
        }
    }
}
