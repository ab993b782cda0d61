//! Transfer handles: a running download or upload that owns the control connection
//! until it is finished.
//!
//! A handle keeps the session's control connection locked, so no other command can be
//! interleaved with the transfer (FTP allows none, except ABOR). Finish a handle with
//! `finish()` (normal end: close the data connection, read the server's final `226`),
//! or `abort()` (send `ABOR`, cut the data connection, read the replies). A handle
//! dropped without either is aborted lazily: its data connection is kept open until the
//! next command on the session, which first sends `ABOR`. (Just closing it would end an
//! upload as if the file were complete, and proftpd ends the whole session when a TLS
//! data connection is cut while it is writing, measured.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::data::OpenedData;
use crate::error::{Channel, ErrorKind, FtpError, Result, TimeoutKind};
use crate::reply::Reply;
use crate::shared::Held;
use crate::stream::{StallGuarded, close_with_linger, drain, is_stall};

/// How [`FtpSession::store`](crate::FtpSession::store) writes the remote file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `STOR`: create or overwrite.
    Replace,
    /// `REST offset` + `STOR`: overwrite from `offset` on (resume an upload; offset 0
    /// is a plain `STOR`).
    Resume(u64),
    /// `APPE`: append to the end of the file (create it if missing).
    Append,
}

/// The outcome of a completed transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSummary {
    /// Bytes moved over the data connection.
    pub bytes: u64,
    /// The server's final reply (`226`/`250`).
    pub reply: Reply,
}

/// The result of `LIST`/`NLST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The server's text, byte for byte (at most the configured limit).
    pub data: Vec<u8>,
    /// `true` if the listing was longer than the limit and was cut off.
    pub truncated: bool,
    /// The server's final reply.
    pub reply: Reply,
}

/// Maps an error on the data connection.
pub(crate) fn data_error(e: io::Error) -> FtpError {
    if is_stall(&e) {
        ErrorKind::Timeout(TimeoutKind::DataStall).into()
    } else {
        ErrorKind::Io {
            channel: Channel::Data,
            source: e,
        }
        .into()
    }
}

/// State shared by downloads and uploads.
struct Transfer<'a> {
    held: Held<'a>,
    data: Option<StallGuarded>,
    bytes: u64,
    /// The server's answer to the transfer command (normally 1xx).
    opening: Reply,
    /// The final reply if the server sent it already (2xx instead of 1xx).
    early_final: Option<Reply>,
    done: bool,
}

impl<'a> Transfer<'a> {
    fn new(held: Held<'a>, opened: OpenedData, stall: Option<Duration>) -> Self {
        let early_final = opened.final_reply_seen.then(|| opened.first_reply.clone());
        Transfer {
            held,
            data: Some(StallGuarded::new(opened.stream, stall)),
            bytes: 0,
            opening: opened.first_reply,
            early_final,
            done: false,
        }
    }

    fn linger(&self) -> Duration {
        self.held.shared.settings.linger.data
    }

    fn close_data(&mut self) {
        if let Some(d) = self.data.take() {
            close_with_linger(d.into_inner(), self.linger());
        }
    }

    /// Reads the final reply (unless it came early) and settles the operation.
    async fn final_reply(&mut self, strict: bool) -> Result<Reply> {
        self.done = true;
        let result = match self.early_final.take() {
            Some(r) => Ok(r),
            None => match self.held.ctrl() {
                Ok(ctrl) => ctrl.read_reply().await,
                Err(e) => Err(e),
            },
        };
        let result = match result {
            Ok(r) if strict && !r.is_completion() => Err(r.into()),
            other => other,
        };
        self.held.settle(result)
    }

    /// Sends ABOR, closes the data connection and reads the server's replies.
    async fn abort(&mut self) -> Result<Reply> {
        self.done = true;
        let early = self.early_final.take();
        let data = self.data.take().map(StallGuarded::into_inner);
        let result = match self.held.ctrl() {
            Ok(ctrl) => ctrl.abort_transfer(data, early.is_none()).await,
            Err(e) => Err(e),
        };
        self.held.settle(result)
    }

    /// Gives up the transfer after an error on the data connection. A broken
    /// connection (reset, EOF in the middle) usually comes with the server's reply
    /// (`426`, `451`, `552` …), which is then the error reported, as it names the real
    /// cause. After a stall the server may be gone: its reply is left owed, read before
    /// the next command.
    async fn fail(&mut self, e: io::Error) -> FtpError {
        self.close_data();
        self.done = true;
        let stalled = is_stall(&e);
        let data_err = data_error(e);
        if self.early_final.take().is_some() {
            return self.held.settle_err(data_err);
        }
        let ctrl = match self.held.ctrl() {
            Ok(ctrl) => ctrl,
            Err(closed) => return self.held.settle_err(closed),
        };
        if stalled {
            ctrl.pending_replies += 1;
            return self.held.settle_err(data_err);
        }
        match ctrl.read_reply().await {
            Ok(reply) if !reply.is_completion() => self.held.settle_err(reply.into()),
            Ok(_) => self.held.settle_err(data_err),
            Err(e) => self.held.settle_err(e),
        }
    }
}

impl Drop for Transfer<'_> {
    /// A handle dropped unfinished is aborted lazily: its data connection stays open
    /// (closing it could end an upload as if complete, and proftpd drops the whole
    /// session when a TLS data connection is cut under it) until the next command on
    /// the session first sends `ABOR`, then closes it and reads the replies.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.early_final.is_some() {
            self.close_data();
        } else if let Ok(ctrl) = self.held.ctrl() {
            match self.data.take() {
                Some(data) => ctrl.abandoned = Some(data.into_inner()),
                None => ctrl.pending_replies += 1,
            }
        }
        let _ = self.held.settle(Ok(()));
    }
}

/// A running `RETR` (or listing). Read the file with [`AsyncRead`]; then call
/// [`finish`](Self::finish). Reads fail with an `io::Error` of kind `TimedOut` when the
/// data connection stalls.
pub struct Download<'a> {
    t: Transfer<'a>,
    /// A read returned end of data.
    eof: bool,
}

impl<'a> Download<'a> {
    pub(crate) fn new(held: Held<'a>, opened: OpenedData, stall: Option<Duration>) -> Self {
        Download {
            t: Transfer::new(held, opened, stall),
            eof: false,
        }
    }

    /// The server's answer to the transfer command, e.g. `150 Opening BINARY mode data
    /// connection for f.bin (4096 bytes)`: some servers announce the size here.
    pub fn opening_reply(&self) -> &Reply {
        &self.t.opening
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.t.bytes
    }

    /// Closes the data connection and reads the server's final reply; an error unless
    /// it is 2xx. Call it after reading to the end (a read returned 0 bytes). Called
    /// earlier, it aborts the transfer (`ABOR`) and fails with
    /// [`ErrorKind::Aborted`]: a cut file is never
    /// reported as complete.
    pub async fn finish(mut self) -> Result<Reply> {
        if !self.eof && self.t.early_final.is_none() {
            let reply = self.t.abort().await?;
            return Err(ErrorKind::Aborted(reply).into());
        }
        self.t.close_data();
        self.t.final_reply(true).await
    }

    /// Stops the transfer with `ABOR`; returns the server's reply to the ABOR.
    ///
    /// `ABOR` is sent as an ordinary command line (no Telnet IP/Synch urgent data);
    /// the data connection is cut at the same time, which is what makes servers
    /// (vsftpd, proftpd, pure-ftpd, pyftpdlib, libunftp: all tested) notice. The transfer's `426` and the
    /// ABOR's `226`/`225` are both read, so the session stays in step.
    pub async fn abort(mut self) -> Result<Reply> {
        self.t.abort().await
    }

    /// Gives up the transfer after a read error and returns the error to report: the
    /// server's reply when it explains the failure (e.g. `426`), else the data
    /// connection's error (stall timeout, reset …). The session stays usable.
    pub async fn fail(mut self, e: io::Error) -> FtpError {
        self.t.fail(e).await
    }

    /// Reads what has already arrived, without waiting: `None` when nothing has. Unlike a
    /// read that is polled and dropped, it leaves the stall clock alone, so a caller that
    /// tops up a buffer with it and then spends a while elsewhere is not timed out for that.
    /// `Some(Ok(0))` is the end of the data.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let Some(data) = self.t.data.as_mut() else {
            return Some(Ok(0));
        };
        let room = buf.len();
        let mut read = ReadBuf::new(buf);
        let result = data.read_ready(&mut read)?;
        let n = read.filled().len();
        Some(result.map(|()| {
            self.t.bytes += n as u64;
            if n == 0 && room > 0 {
                self.eof = true;
            }
            n
        }))
    }
}

impl AsyncRead for Download<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(data) = this.t.data.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let before = buf.filled().len();
        let result = Pin::new(data).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let n = buf.filled().len() - before;
            this.t.bytes += n as u64;
            if n == 0 && buf.remaining() > 0 {
                this.eof = true;
            }
        }
        result
    }
}

/// A running `STOR`/`APPE`. Write the file with [`AsyncWrite`]; then call
/// [`finish`](Self::finish) (do not rely on `shutdown` alone).
pub struct Upload<'a> {
    t: Transfer<'a>,
    /// The caller already shut the write side down (`AsyncWriteExt::shutdown`).
    shut_down: bool,
}

impl<'a> Upload<'a> {
    pub(crate) fn new(held: Held<'a>, opened: OpenedData, stall: Option<Duration>) -> Self {
        Upload {
            t: Transfer::new(held, opened, stall),
            shut_down: false,
        }
    }

    /// The server's answer to the transfer command, e.g. `150 Opening BINARY mode data
    /// connection for f.bin (4096 bytes)`: some servers announce the size here.
    pub fn opening_reply(&self) -> &Reply {
        &self.t.opening
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.t.bytes
    }

    /// Ends the upload: flushes, closes the data connection (TLS `close_notify`, then
    /// FIN), waits for the server to close its side, and reads the final reply; an
    /// error unless it is 2xx.
    ///
    /// Waiting for the server's close matters twice: the server sees the end of the
    /// file before we expect its reply, and with TLS 1.3 it lets rustls read the
    /// session tickets the server sent on this connection, which later data
    /// connections resume from.
    pub async fn finish(mut self) -> Result<Reply> {
        if let Some(mut data) = self.t.data.take() {
            let shut = async {
                data.flush().await?;
                if !self.shut_down {
                    data.shutdown().await?;
                }
                Ok(())
            }
            .await;
            if let Err(e) = shut {
                self.t.data = Some(data);
                return Err(self.t.fail(e).await);
            }
            let wait = self
                .t
                .held
                .shared
                .settings
                .timeouts
                .data_stall
                .unwrap_or(Duration::from_secs(30));
            // Wait for the server's close; but if its final reply comes first (a server
            // that keeps the data connection open), take the reply and let the linger
            // task finish the close.
            let early = self.t.early_final.is_some();
            let ctrl = match self.t.held.ctrl() {
                Ok(ctrl) => ctrl,
                Err(e) => return Err(self.t.held.settle_err(e)),
            };
            let reply = if early {
                let _ = tokio::time::timeout(wait, drain(&mut data)).await;
                None
            } else {
                tokio::select! {
                    biased;
                    _ = tokio::time::timeout(wait, drain(&mut data)) => None,
                    reply = ctrl.read_reply() => Some(reply),
                }
            };
            close_with_linger(data.into_inner(), self.t.linger());
            if let Some(reply) = reply {
                self.t.early_final = Some(match reply {
                    Ok(r) => r,
                    Err(e) => {
                        self.t.done = true;
                        return Err(self.t.held.settle_err(e));
                    }
                });
            }
        }
        self.t.final_reply(true).await
    }

    /// Stops the transfer with `ABOR`; returns the server's reply to the ABOR.
    ///
    /// `ABOR` is sent as an ordinary command line (no Telnet IP/Synch urgent data);
    /// the data connection is cut at the same time, which is what makes servers
    /// (vsftpd, proftpd, pure-ftpd, pyftpdlib, libunftp: all tested) notice. The transfer's `426` and the
    /// ABOR's `226`/`225` are both read, so the session stays in step.
    pub async fn abort(mut self) -> Result<Reply> {
        self.t.abort().await
    }

    /// Gives up the transfer after a write error and returns the error to report: the
    /// server's reply when it explains the failure (e.g. `552` quota exceeded), else
    /// the data connection's error. The session stays usable.
    pub async fn fail(mut self, e: io::Error) -> FtpError {
        self.t.fail(e).await
    }
}

impl AsyncWrite for Upload<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(data) = this.t.data.as_mut() else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "data connection closed",
            )));
        };
        let result = Pin::new(data).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.t.bytes += n as u64;
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().t.data.as_mut() {
            Some(d) => Pin::new(d).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Shuts the data connection's write side (end of file for the server); still call
    /// [`Upload::finish`] to read the server's reply.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.t.data.as_mut() {
            Some(d) => {
                let result = Pin::new(d).poll_shutdown(cx);
                if let Poll::Ready(Ok(())) = result {
                    this.shut_down = true;
                }
                result
            }
            None => Poll::Ready(Ok(())),
        }
    }
}
