//! MQTT over WebSocket: [`WsStream`] turns a stream and sink of WebSocket [`Frame`]s into a
//! byte stream ([`AsyncRead`] + [`AsyncWrite`]) that [`serve_connection`] drives like a TCP
//! socket, so sessions, limits and lifecycle events are the same on every transport.
//!
//! MQTT bytes travel in binary frames; a packet may span frames and a frame may hold several
//! packets, so frames are only a transport and the MQTT decoder does the framing. Pings are
//! answered by the WebSocket layer underneath; a close frame (or the end of the stream) is
//! the end of the byte stream; a text frame is a protocol error that ends the connection.
//!
//! It knows no HTTP library: the HTTP server that did the upgrade maps its own message type to
//! [`Frame`].
//!
//! [`serve_connection`]: crate::serve_connection

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The WebSocket subprotocol of MQTT (answered in `Sec-WebSocket-Protocol`).
pub const SUBPROTOCOL: &str = "mqtt";

/// One WebSocket message, as much as MQTT needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// MQTT bytes.
    Binary(Bytes),
    /// A text frame: not allowed for MQTT.
    Text,
    /// A ping or pong (answered underneath).
    Control,
    /// The peer closes.
    Close,
}

/// A WebSocket seen as a byte stream.
#[derive(Debug)]
pub struct WsStream<T> {
    inner: T,
    /// The rest of the last binary frame, not yet read.
    pending: Bytes,
    /// The length of a frame handed to the sink whose flush has not finished: the write is
    /// reported once it has, so bytes never wait in a buffer nobody flushes.
    flushing: Option<usize>,
    /// The peer closed, or the stream ended.
    eof: bool,
}

impl<T> WsStream<T> {
    /// A byte stream over `inner`.
    pub fn new(inner: T) -> WsStream<T> {
        WsStream { inner, pending: Bytes::new(), flushing: None, eof: false }
    }

    /// The WebSocket inside.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T, E> AsyncRead for WsStream<T>
where
    T: Stream<Item = Result<Frame, E>> + Unpin,
    E: Into<io::Error>,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(Frame::Binary(data))) => this.pending = data,
                Some(Ok(Frame::Control)) => {}
                Some(Ok(Frame::Close)) | None => this.eof = true,
                Some(Ok(Frame::Text)) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame on an MQTT WebSocket",
                    )));
                }
                Some(Err(error)) => return Poll::Ready(Err(error.into())),
            }
        }
    }
}

impl<T, E> AsyncWrite for WsStream<T>
where
    T: Sink<Frame, Error = E> + Unpin,
    E: Into<io::Error>,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.flushing.is_none() {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            ready!(Pin::new(&mut this.inner).poll_ready(cx)).map_err(Into::into)?;
            Pin::new(&mut this.inner)
                .start_send(Frame::Binary(Bytes::copy_from_slice(buf)))
                .map_err(Into::into)?;
            this.flushing = Some(buf.len());
        }
        // A Pending here is retried with the same bytes (the AsyncWrite contract): the frame
        // already taken is then only flushed, not sent twice.
        ready!(Pin::new(&mut this.inner).poll_flush(cx)).map_err(Into::into)?;
        let written = this.flushing.take().unwrap_or(0);
        Poll::Ready(Ok(written.min(buf.len())))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.inner).poll_flush(cx)).map_err(Into::into)?;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Closing the sink sends the close frame.
        ready!(Pin::new(&mut this.inner).poll_close(cx)).map_err(Into::into)?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::VecDeque;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Frames to read, and what was written, in memory; flushes are Pending once each when
    /// `slow` is set.
    #[derive(Default)]
    struct Memory {
        incoming: VecDeque<Frame>,
        sent: Vec<Frame>,
        unflushed: usize,
        slow: bool,
        closed: bool,
    }

    impl Stream for Memory {
        type Item = Result<Frame, io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.incoming.pop_front().map(Ok))
        }
    }

    impl Sink<Frame> for Memory {
        type Error = io::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> io::Result<()> {
            self.sent.push(frame);
            self.unflushed += 1;
            Ok(())
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            if self.slow && self.unflushed > 0 {
                self.slow = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.unflushed = 0;
            Poll::Ready(Ok(()))
        }
        fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.closed = true;
            Poll::Ready(Ok(()))
        }
    }

    fn binary(data: &'static [u8]) -> Frame {
        Frame::Binary(Bytes::from_static(data))
    }

    #[tokio::test]
    async fn frames_are_a_byte_stream_across_boundaries() {
        let memory = Memory {
            incoming: [binary(b"ab"), Frame::Control, binary(b""), binary(b"cdef"), Frame::Close]
                .into(),
            ..Memory::default()
        };
        let mut stream = WsStream::new(memory);
        let mut small = [0u8; 3];
        stream.read_exact(&mut small).await.unwrap();
        assert_eq!(&small, b"abc", "one read spans two frames");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"def", "a close frame ends the stream");
    }

    #[tokio::test]
    async fn a_text_frame_is_an_error() {
        let memory = Memory { incoming: [Frame::Text].into(), ..Memory::default() };
        let mut stream = WsStream::new(memory);
        let error = stream.read_u8().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn each_write_is_one_flushed_binary_frame_even_when_the_flush_waits() {
        let mut stream = WsStream::new(Memory { slow: true, ..Memory::default() });
        stream.write_all(b"hello").await.unwrap();
        stream.write_all(b"world").await.unwrap();
        stream.shutdown().await.unwrap();
        let memory = stream.into_inner();
        assert_eq!(memory.sent, [binary(b"hello"), binary(b"world")], "no frame sent twice");
        assert_eq!(memory.unflushed, 0);
        assert!(memory.closed);
    }
}
