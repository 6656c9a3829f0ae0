//! The services' TCP listener: `TCP_NODELAY`, the peer's address for [`ConnectInfo`], and
//! XRPC error bodies even on the answers hyper writes by itself.
//!
//! hyper refuses some requests before any router sees them: a request line longer than
//! 64 KiB (`414`, a limit compiled into hyper) and a request head larger than its buffer
//! (`431`). It answers those with a bare status line, `content-length: 0`, and closes the
//! connection. Every other error of ours is `{"error", "message"}` JSON, so the stream below
//! recognises exactly those two automatic answers as they are written and sends the JSON
//! form instead.
//!
//! Recognising them is safe because of when hyper writes them: only while no response is in
//! progress on the connection, so they begin a write; and our own responses never look like
//! them (every error of ours has a JSON body, hence a `content-type`).
//!
//! [`ConnectInfo`]: axum::extract::ConnectInfo

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::serve::{Listener, ListenerExt, TapIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A listener for [`axum::serve`] whose connections are [`XrpcStream`]s.
///
/// It is a [`TapIo`] so that axum's `ConnectInfo<SocketAddr>` works with it
/// (`into_make_service_with_connect_info::<SocketAddr>()`), as it does for a bare
/// `TcpListener`.
pub type XrpcListener = TapIo<StreamListener, fn(&mut XrpcStream)>;

/// Wraps `listener` for serving XRPC: see the module documentation.
pub fn listener(listener: TcpListener) -> XrpcListener {
    StreamListener { inner: listener }.tap_io(set_nodelay as fn(&mut XrpcStream))
}

/// XRPC answers are small: they must not wait on Nagle's algorithm for the client's
/// delayed ACK.
fn set_nodelay(stream: &mut XrpcStream) {
    if let Err(error) = stream.inner.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

/// Accepts TCP connections as [`XrpcStream`]s.
#[derive(Debug)]
pub struct StreamListener {
    inner: TcpListener,
}

impl Listener for StreamListener {
    type Io = XrpcStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (XrpcStream, SocketAddr) {
        // axum's own accept loop, which rides out errors such as running out of descriptors.
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (
            XrpcStream {
                inner: stream,
                replacing: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP connection that turns hyper's bare `414` and `431` answers into XRPC errors.
#[derive(Debug)]
pub struct XrpcStream {
    inner: TcpStream,
    /// The JSON answer being written in place of hyper's: the bytes, how many are out,
    /// and how many bytes of hyper's to report written once all are.
    replacing: Option<Replacement>,
}

#[derive(Debug)]
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    reported: usize,
}

/// The JSON answer for one of hyper's automatic ones, or `None` when `head` is not one.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let (status, message) = if head.starts_with(b"HTTP/1.1 414 ") {
        ("414 URI Too Long", "the request URI is too long")
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "the request headers are too large",
        )
    } else {
        return None;
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let empty = head.lines().any(|line| line.trim() == "content-length: 0");
    let typed = head.lines().any(|line| line.starts_with("content-type:"));
    if !empty || typed {
        return None;
    }
    let body = serde_json::json!({ "error": "InvalidRequest", "message": message }).to_string();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl XrpcStream {
    /// Writes out the replacement in progress; `Ready(Ok(n))` with hyper's byte count once
    /// it is all out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(replacement) = self.replacing.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while replacement.written < replacement.bytes.len() {
            let n =
                ready!(Pin::new(&mut self.inner)
                    .poll_write(cx, &replacement.bytes[replacement.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            replacement.written += n;
        }
        let reported = replacement.reported;
        self.replacing = None;
        Poll::Ready(Ok(reported))
    }

    /// Starts replacing when `first` (the start of a write of `total` bytes) is one of
    /// hyper's automatic answers.
    fn intercept(&mut self, first: &[u8], total: usize) -> bool {
        if self.replacing.is_some() {
            return true;
        }
        match replacement_for(first) {
            Some(bytes) => {
                tracing::debug!("answering hyper's automatic refusal with an XRPC error");
                self.replacing = Some(Replacement {
                    bytes,
                    written: 0,
                    reported: total,
                });
                true
            }
            None => false,
        }
    }
}

impl AsyncRead for XrpcStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for XrpcStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.intercept(buf, buf.len()) {
            return this.drain(cx);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        let total = bufs.iter().map(|b| b.len()).sum();
        if this.intercept(first, total) {
            return this.drain(cx);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement_for;

    #[test]
    fn only_hypers_bare_refusals_are_replaced() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(bare).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(replaced
            .ends_with(r#"{"error":"InvalidRequest","message":"the request URI is too long"}"#));
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(bare).is_some());

        for ours in [
            &b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 60\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n",
            b"{\"error\":\"x\"}",
            b"",
        ] {
            assert!(
                replacement_for(ours).is_none(),
                "{}",
                String::from_utf8_lossy(ours)
            );
        }
    }
}
