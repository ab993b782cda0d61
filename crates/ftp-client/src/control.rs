//! The control connection: sending commands and reading replies.
//!
//! Commands are single lines ending in CR LF. Because a command line ends at the first
//! CR LF, an argument containing CR or LF would let a caller (or whoever supplied a
//! file name) smuggle a second command; NUL is refused as well because servers treat
//! it inconsistently. [`check_arg`] refuses such arguments *before* anything is sent.
//!
//! Every reply read is remembered (see [`FtpSession::last_reply`](crate::FtpSession::last_reply)), and every wait for a reply
//! is bounded by the reply timeout. A reply that does not parse, or that grows beyond the
//! configured limit, is a protocol error: the control connection is then out of step and
//! the session is closed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Channel, ErrorKind, FtpError, Result, TimeoutKind};
use crate::reply::{Parsed, Reply, parse_reply};
use crate::stream::{SocketLayer, SocketRole, Stream, wrap};
use crate::tls::{TlsContext, classify_handshake_error};

/// Refuses an argument that could break the command line framing.
pub fn check_arg(what: &str, value: &str) -> Result<()> {
    if let Some(bad) = value.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(ErrorKind::InvalidArgument(format!(
            "{what} contains {:?}, which cannot be sent in an FTP command",
            bad
        ))
        .into());
    }
    Ok(())
}

pub(crate) struct Control {
    stream: Option<Stream>,
    buf: Vec<u8>,
    reply_timeout: Duration,
    max_reply: usize,
    peer: SocketAddr,
    local: SocketAddr,
    last_reply: Option<Reply>,
    /// Replies owed by the server for transfers whose data connection failed.
    pub(crate) pending_replies: usize,
    /// The still-open data connection of a transfer handle dropped unfinished; the
    /// next command first aborts it (see [`Control::abort_transfer`]).
    pub(crate) abandoned: Option<Stream>,
    /// Told each command and reply ([`SocketLayer::control_line`]).
    layer: Option<std::sync::Arc<dyn SocketLayer>>,
}

impl Control {
    pub(crate) fn new(
        tcp: TcpStream,
        layer: Option<&std::sync::Arc<dyn SocketLayer>>,
        reply_timeout: Duration,
        max_reply: usize,
    ) -> Result<Self> {
        let io = |source| {
            FtpError::new(ErrorKind::Io {
                channel: Channel::Control,
                source,
            })
        };
        let peer = tcp.peer_addr().map_err(io)?;
        let local = tcp.local_addr().map_err(io)?;
        Ok(Control {
            stream: Some(Stream::Plain(wrap(layer, tcp, SocketRole::Control))),
            buf: Vec::new(),
            reply_timeout,
            max_reply,
            peer,
            local,
            last_reply: None,
            pending_replies: 0,
            abandoned: None,
            layer: layer.cloned(),
        })
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    pub(crate) fn last_reply(&self) -> Option<&Reply> {
        self.last_reply.as_ref()
    }

    pub(crate) fn tls_info(
        &self,
    ) -> Option<(Option<rustls::ProtocolVersion>, rustls::HandshakeKind)> {
        self.stream.as_ref().and_then(Stream::tls_info)
    }

    fn stream(&mut self) -> Result<&mut Stream> {
        self.stream.as_mut().ok_or_else(|| {
            ErrorKind::Protocol("control connection lost during a TLS upgrade".into()).into()
        })
    }

    /// Takes the connection out (for closing).
    pub(crate) fn into_stream(self) -> Option<Stream> {
        self.stream
    }

    /// Sends one command line. `shown` is what logs may show (the password is masked).
    async fn send_line(&mut self, line: &str, shown: &str) -> Result<()> {
        check_arg("command", line)?;
        tracing::debug!(command = %shown, "ftp >");
        if let Some(layer) = &self.layer {
            layer.control_line(true, shown);
        }
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let timeout = self.reply_timeout;
        let stream = self.stream()?;
        let write = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(ErrorKind::Timeout(TimeoutKind::Reply).into()),
            Ok(Err(source)) => Err(ErrorKind::Io {
                channel: Channel::Control,
                source,
            }
            .into()),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Sends a command.
    pub(crate) async fn send(&mut self, line: &str) -> Result<()> {
        self.drain_pending().await?;
        self.send_line(line, line).await
    }

    /// Sends `PASS <password>` without the password ever reaching a log.
    pub(crate) async fn send_password(&mut self, password: &str) -> Result<()> {
        self.drain_pending().await?;
        self.send_line(&format!("PASS {password}"), "PASS ****")
            .await
    }

    /// Reads the replies still owed for abandoned transfers.
    ///
    /// Each abandoned transfer owes one final reply (`226`, `426` …), awaited with the
    /// full reply timeout. A `1xx` in its place means the server still talks about the
    /// transfer; what follows it is awaited only briefly, because servers differ here:
    /// pure-ftpd answers a download cut by the client with a lone
    /// `150 <n> seconds (measured here), <rate> Mbytes per second` and nothing after it.
    async fn drain_pending(&mut self) -> Result<()> {
        const FOLLOW_UP: Duration = Duration::from_millis(500);
        if let Some(data) = self.abandoned.take() {
            self.abort_transfer(Some(data), true).await?;
        }
        while self.pending_replies > 0 {
            self.pending_replies -= 1;
            let mut reply = self.read_reply().await?;
            let mut rounds = 0;
            while reply.is_preliminary() && rounds < 4 {
                rounds += 1;
                match tokio::time::timeout(FOLLOW_UP, self.read_reply_untimed()).await {
                    Ok(next) => reply = next?,
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }

    /// Aborts a running transfer: sends `ABOR`, cuts the data connection, and reads
    /// the replies. `transfer_reply_owed`: the transfer's own final reply has not been
    /// read yet. Returns the positive reply to the ABOR when there is one.
    ///
    /// Servers differ in what they send (all measured): vsftpd `426` then `226`;
    /// proftpd and libunftp `226` then `426`; pure-ftpd `150 <stats>` then `226`.
    pub(crate) async fn abort_transfer(
        &mut self,
        data: Option<Stream>,
        transfer_reply_owed: bool,
    ) -> Result<Reply> {
        self.send_line("ABOR", "ABOR").await?;
        drop(data); // cut the data connection now: that is what ABOR asks for
        let first = self.read_reply().await?;
        if !transfer_reply_owed {
            return Ok(first);
        }
        if !first.is_completion() {
            // The transfer's 426/451 (or pure-ftpd's 150), then the ABOR's 226/225.
            return self.read_reply().await;
        }
        // A second reply may follow the 226: the ABOR's own after the transfer's, or
        // the transfer's 426 after the ABOR's 226. Take it if it comes soon.
        match tokio::time::timeout(Duration::from_secs(1), self.read_reply_untimed()).await {
            Ok(second) => {
                let second = second?;
                Ok(if second.is_completion() {
                    second
                } else {
                    first
                })
            }
            Err(_) => Ok(first),
        }
    }

    /// Reads one complete reply, bounded by the reply timeout.
    pub(crate) async fn read_reply(&mut self) -> Result<Reply> {
        let timeout = self.reply_timeout;
        match tokio::time::timeout(timeout, self.read_reply_untimed()).await {
            Err(_) => Err(ErrorKind::Timeout(TimeoutKind::Reply).into()),
            Ok(r) => r,
        }
    }

    async fn read_reply_untimed(&mut self) -> Result<Reply> {
        loop {
            match parse_reply(&self.buf, self.max_reply) {
                Ok(Parsed::Complete(reply, used)) => {
                    self.buf.drain(..used);
                    tracing::debug!(reply = %reply.text(), "ftp <");
                    if let Some(layer) = &self.layer {
                        layer.control_line(false, reply.text());
                    }
                    self.last_reply = Some(reply.clone());
                    return Ok(reply);
                }
                Ok(Parsed::Incomplete) => {}
                Err(e) => return Err(ErrorKind::Protocol(e.to_string()).into()),
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream()?.read(&mut chunk).await.map_err(|source| {
                FtpError::new(ErrorKind::Io {
                    channel: Channel::Control,
                    source,
                })
            })?;
            if n == 0 {
                return Err(ErrorKind::Io {
                    channel: Channel::Control,
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "server closed the control connection",
                    ),
                }
                .into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and reads its reply (whatever it is).
    pub(crate) async fn command(&mut self, line: &str) -> Result<Reply> {
        self.send(line).await?;
        self.read_reply().await
    }

    /// Sends a command; a reply whose code `accept` refuses becomes an error. `421`
    /// (service closing) is always an error: the server is about to hang up.
    pub(crate) async fn expect(
        &mut self,
        line: &str,
        accept: impl Fn(u16) -> bool,
    ) -> Result<Reply> {
        let reply = self.command(line).await?;
        if accept(reply.code()) && reply.code() != 421 {
            Ok(reply)
        } else {
            Err(reply.into())
        }
    }

    /// Replaces the plain control connection with TLS (after `AUTH TLS` got 234).
    pub(crate) async fn upgrade_to_tls(
        &mut self,
        tls: &TlsContext,
        timeout: Duration,
    ) -> Result<()> {
        if !self.buf.is_empty() {
            // Bytes after the 234 reply would be plaintext injected before the handshake.
            return Err(
                ErrorKind::Protocol("server sent data after its AUTH TLS reply".into()).into(),
            );
        }
        let tcp = match self.stream.take() {
            Some(Stream::Plain(tcp)) => tcp,
            Some(other) => {
                self.stream = Some(other);
                return Err(ErrorKind::Protocol("control connection is already TLS".into()).into());
            }
            None => return Err(ErrorKind::Protocol("control connection lost".into()).into()),
        };
        let handshake = tls.connector.connect(tls.server_name.clone(), tcp);
        match tokio::time::timeout(timeout, handshake).await {
            Err(_) => Err(ErrorKind::Timeout(TimeoutKind::TlsHandshake).into()),
            Ok(Err(e)) => Err(classify_handshake_error(e, Channel::Control)),
            Ok(Ok(s)) => {
                if let Some(layer) = &self.layer {
                    let summary = crate::stream::TlsSummary::of(s.get_ref().1);
                    layer.tls_established(SocketRole::Control, &summary);
                }
                self.stream = Some(Stream::Tls(Box::new(s)));
                Ok(())
            }
        }
    }
}
