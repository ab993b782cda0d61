//! Knowing when hyper has pushed a connection's buffered bytes into the socket.
//!
//! hyper keeps a write buffer per connection and calls the transport's `poll_flush` only once
//! that buffer is empty. [`FlushWatch`] wraps the transport and counts those flushes in a
//! [`FlushSignal`], waking whoever waits for the next one. A response body that wants the
//! connection cut right after its last byte (`/truncated/…`) waits for a flush that happened
//! after its last frame was handed over: by then the bytes are in the kernel (or, for TLS,
//! encrypted and written), and failing the body closes the connection without losing them.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Flushes of one connection so far, and who waits for the next.
#[derive(Debug, Default)]
pub(crate) struct FlushSignal {
    state: Mutex<(u64, Option<Waker>)>,
}

impl FlushSignal {
    /// Count one completed flush and wake the waiter.
    fn flushed(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.0 += 1;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Flushes so far; `cx` is woken by the next one.
    pub(crate) fn count_and_wait(&self, cx: &Context<'_>) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 = Some(cx.waker().clone());
        state.0
    }
}

/// A transport that reports each completed flush to its [`FlushSignal`]; otherwise it passes
/// everything through.
#[derive(Debug)]
pub(crate) struct FlushWatch<S> {
    io: S,
    signal: Arc<FlushSignal>,
}

impl<S> FlushWatch<S> {
    pub(crate) fn new(io: S, signal: Arc<FlushSignal>) -> Self {
        FlushWatch { io, signal }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FlushWatch<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FlushWatch<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = done {
            this.signal.flushed();
        }
        done
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
