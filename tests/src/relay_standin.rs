//! A stand-in for a (misbehaving) relay: it forwards a PDS's `subscribeRepos` stream,
//! passing the subscriber's cursor upstream, and lets a test slip its own frames in between
//! (garbage, truncated frames, forged commits) to see that an indexer survives them.
//!
//! Also builds the forged frames: [`forged_commit_frame`] makes a well-formed `#commit` for a
//! real repo whose signature is not the repo's.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};
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

fn cid_of(block: &[u8]) -> Result<Cid> {
    let hash = Multihash::<64>::wrap(0x12, &Sha256::digest(block))?;
    Ok(Cid::new_v1(0x71, hash))
}

fn dagcbor(value: &Ipld) -> Result<Vec<u8>> {
    Ok(serde_ipld_dagcbor::to_vec(value)?)
}

fn map(entries: Vec<(&str, Ipld)>) -> Ipld {
    Ipld::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// A well-formed `#commit` frame creating `collection/rkey` with `record` (JSON without
/// links) in `did`'s repo at `rev`, signed with 64 bytes that are not anyone's signature.
pub fn forged_commit_frame(
    did: &str,
    rev: &str,
    seq: i64,
    collection: &str,
    rkey: &str,
    record: &serde_json::Value,
) -> Result<Vec<u8>> {
    let record_block = serde_ipld_dagcbor::to_vec(record)?;
    let record_cid = cid_of(&record_block)?;
    let commit = map(vec![
        ("did", Ipld::String(did.to_owned())),
        ("version", Ipld::Integer(3)),
        ("data", Ipld::Link(cid_of(b"forged mst")?)),
        ("rev", Ipld::String(rev.to_owned())),
        ("prev", Ipld::Null),
        ("sig", Ipld::Bytes(vec![0x42; 64])),
    ]);
    let commit_block = dagcbor(&commit)?;
    let commit_cid = cid_of(&commit_block)?;
    let mut car = Vec::new();
    let header = dagcbor(&map(vec![
        ("version", Ipld::Integer(1)),
        ("roots", Ipld::List(vec![Ipld::Link(commit_cid)])),
    ]))?;
    push_varint(&mut car, header.len() as u64);
    car.extend(header);
    for (cid, block) in [(commit_cid, &commit_block), (record_cid, &record_block)] {
        let cid = cid.to_bytes();
        push_varint(&mut car, (cid.len() + block.len()) as u64);
        car.extend(cid);
        car.extend(block);
    }
    let body = map(vec![
        ("seq", Ipld::Integer(seq.into())),
        ("rebase", Ipld::Bool(false)),
        ("tooBig", Ipld::Bool(false)),
        ("repo", Ipld::String(did.to_owned())),
        ("commit", Ipld::Link(commit_cid)),
        ("rev", Ipld::String(rev.to_owned())),
        ("since", Ipld::Null),
        ("blocks", Ipld::Bytes(car)),
        (
            "ops",
            Ipld::List(vec![map(vec![
                ("action", Ipld::String("create".into())),
                ("path", Ipld::String(format!("{collection}/{rkey}"))),
                ("cid", Ipld::Link(record_cid)),
            ])]),
        ),
        ("blobs", Ipld::List(Vec::new())),
        ("time", Ipld::String("2025-01-01T00:00:00.000Z".into())),
    ]);
    let mut frame = dagcbor(&map(vec![
        ("op", Ipld::Integer(1)),
        ("t", Ipld::String("#commit".into())),
    ]))?;
    frame.extend(dagcbor(&body)?);
    Ok(frame)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
