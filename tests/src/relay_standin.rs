//! A stand-in for a (misbehaving) relay: it forwards a PDS's `subscribeRepos` stream,
//! passing the subscriber's cursor upstream, and lets a test slip its own frames in between
//! (garbage, truncated frames, forged commits) to see that an indexer survives them.
//!
//! [`ScriptedRelay`] is a relay with no upstream: it serves the frames a test pushes, from the
//! subscriber's cursor on, as a relay replays its buffer on reconnect.
//!
//! Also builds the forged frames: [`forged_commit_frame`] makes a well-formed `#commit` for a
//! real repo whose signature is not the repo's (with the firehose crate's encoder).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use greenlight_firehose::test_fixtures::{cid_of, commit_frame, dagcbor, op};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// A running relay stand-in; stops when dropped.
#[derive(Debug)]
pub struct RelayStandin {
    addr: SocketAddr,
    inject: broadcast::Sender<Vec<u8>>,
    server: JoinHandle<()>,
}

impl Drop for RelayStandin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RelayStandin {
    /// Starts forwarding `upstream` (a full subscribeRepos URL) on a loopback port.
    pub async fn start(upstream: &str) -> Result<RelayStandin> {
        let (inject, _) = broadcast::channel(256);
        let (addr, server) = {
            let inject = inject.clone();
            let upstream = upstream.to_owned();
            serve_loopback("relay stand-in", move |stream| {
                forward(stream, upstream.clone(), inject.subscribe())
            })
            .await?
        };
        Ok(RelayStandin {
            addr,
            inject,
            server,
        })
    }

    /// The subscribeRepos URL of the stand-in.
    pub fn firehose_url(&self) -> String {
        format!("ws://{}/xrpc/com.atproto.sync.subscribeRepos", self.addr)
    }

    /// Sends a binary frame to every connected subscriber.
    pub fn inject(&self, frame: Vec<u8>) {
        let _ = self.inject.send(frame);
    }
}

/// Accepts connections on a loopback port, each served by the future `connection` makes of
/// it; returns the address and the accepting task.
async fn serve_loopback<F, Fut>(
    what: &'static str,
    mut connection: F,
) -> Result<(SocketAddr, JoinHandle<()>)>
where
    F: FnMut(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .with_context(|| format!("binding the {what}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let serving = connection(stream);
            tokio::spawn(async move {
                if let Err(err) = serving.await {
                    tracing::debug!(%err, "{what} connection ended");
                }
            });
        }
    });
    Ok((addr, server))
}

// The handshake callback's error type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn forward(
    stream: tokio::net::TcpStream,
    upstream: String,
    mut injected: broadcast::Receiver<Vec<u8>>,
) -> Result<()> {
    let mut query = String::new();
    let mut downstream =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            query = request.uri().query().unwrap_or_default().to_owned();
            Ok(response)
        })
        .await?;
    let url = if query.is_empty() {
        upstream
    } else {
        format!("{upstream}?{query}")
    };
    let (mut up, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    loop {
        tokio::select! {
            message = up.next() => match message {
                Some(Ok(Message::Binary(bytes))) => downstream.send(Message::Binary(bytes)).await?,
                Some(Ok(_)) => {}
                _ => return Ok(()),
            },
            frame = injected.recv() => if let Ok(frame) = frame {
                downstream.send(Message::binary(frame)).await?;
            },
            incoming = downstream.next() => if incoming.is_none() { return Ok(()) },
        }
    }
}

/// The frames a [`ScriptedRelay`] holds, with their sequence numbers, in order.
type Script = Arc<Mutex<Vec<(i64, Vec<u8>)>>>;

/// A relay serving only frames pushed by the test, each with its sequence number; a
/// subscriber gets those after its `cursor` (all without one), then new ones as they come.
/// Stops when dropped.
#[derive(Debug)]
pub struct ScriptedRelay {
    addr: SocketAddr,
    frames: Script,
    pushed: watch::Sender<usize>,
    server: JoinHandle<()>,
}

impl Drop for ScriptedRelay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ScriptedRelay {
    /// Starts serving on a loopback port.
    pub async fn start() -> Result<ScriptedRelay> {
        let frames: Script = Arc::default();
        let (pushed, _) = watch::channel(0);
        let (addr, server) = {
            let frames = Arc::clone(&frames);
            let pushed = pushed.clone();
            serve_loopback("scripted relay", move |stream| {
                serve_scripted(stream, Arc::clone(&frames), pushed.subscribe())
            })
            .await?
        };
        Ok(ScriptedRelay {
            addr,
            frames,
            pushed,
            server,
        })
    }

    /// The subscribeRepos URL.
    pub fn firehose_url(&self) -> String {
        format!("ws://{}/xrpc/com.atproto.sync.subscribeRepos", self.addr)
    }

    /// Appends a frame with sequence number `seq` (which must be above the earlier ones').
    pub fn push(&self, seq: i64, frame: Vec<u8>) {
        let count = {
            let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
            frames.push((seq, frame));
            frames.len()
        };
        self.pushed.send_replace(count);
    }
}

// The handshake callback's error type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn serve_scripted(
    stream: tokio::net::TcpStream,
    frames: Script,
    mut pushed: watch::Receiver<usize>,
) -> Result<()> {
    let mut cursor: Option<i64> = None;
    let mut downstream =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            cursor = request
                .uri()
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|pair| pair.strip_prefix("cursor="))
                .and_then(|value| value.parse().ok());
            Ok(response)
        })
        .await?;
    let mut sent = 0;
    loop {
        let due: Vec<Vec<u8>> = {
            let frames = frames.lock().unwrap_or_else(|e| e.into_inner());
            let due = frames[sent..]
                .iter()
                .filter(|(seq, _)| cursor.is_none_or(|cursor| *seq > cursor))
                .map(|(_, frame)| frame.clone())
                .collect();
            sent = frames.len();
            due
        };
        for frame in due {
            downstream.send(Message::binary(frame)).await?;
        }
        tokio::select! {
            changed = pushed.changed() => if changed.is_err() { return Ok(()) },
            incoming = downstream.next() => if incoming.is_none() { return Ok(()) },
        }
    }
}

/// A well-formed `#commit` frame creating `collection/rkey` with `record` (JSON without
/// links) in `did`'s repo at `rev`, signed with 64 bytes that are not anyone's signature.
///
/// Encoding cannot fail; the `Result` is kept for the callers written against it.
pub fn forged_commit_frame(
    did: &str,
    rev: &str,
    seq: i64,
    collection: &str,
    rkey: &str,
    record: &serde_json::Value,
) -> Result<Vec<u8>> {
    let record = dagcbor(record);
    let create = op(
        "create",
        &format!("{collection}/{rkey}"),
        Some(cid_of(&record)),
    );
    Ok(commit_frame(
        seq,
        did,
        rev,
        vec![create],
        &[record],
        &[0x42; 64],
        "2025-01-01T00:00:00.000Z",
    ))
}
