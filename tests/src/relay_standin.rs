//! A stand-in for a (misbehaving) relay: it forwards a PDS's `subscribeRepos` stream,
//! passing the subscriber's cursor upstream, and lets a test slip its own frames in between
//! (garbage, truncated frames, forged commits) to see that an indexer survives them.
//!
//! Also builds the forged frames: [`forged_commit_frame`] makes a well-formed `#commit` for a
//! real repo whose signature is not the repo's (with the firehose crate's encoder).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use greenlight_firehose::test_fixtures::{cid_of, commit_frame, dagcbor, op};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
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
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the relay stand-in")?;
        let addr = listener.local_addr()?;
        let (inject, _) = broadcast::channel(256);
        let server = {
            let inject = inject.clone();
            let upstream = upstream.to_owned();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let injected = inject.subscribe();
                    tokio::spawn(async move {
                        if let Err(err) = forward(stream, upstream, injected).await {
                            tracing::debug!(%err, "relay stand-in connection ended");
                        }
                    });
                }
            })
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
