//! Data connections: passive (PASV/EPSV) and active (PORT/EPRT).
//!
//! FTP moves file contents and listings over a second TCP connection per transfer.
//!
//! * **Passive**: the client asks where to connect (`PASV` → `227 …(h1,h2,h3,h4,p1,p2)`,
//!   or `EPSV` → `229 …(|||port|)`) and connects. `PASV` only speaks IPv4, so the
//!   client uses `EPSV` when the control connection is IPv6, and falls back to `EPSV`
//!   when `PASV` is refused.
//!
//!   **The address in a 227 reply is ignored**: the client always connects to the
//!   control connection's peer address with the announced port. Honouring the address
//!   would let a server (or anyone who can alter the reply) point the client at any
//!   third host and port ("PASV redirection", a port-scan/bounce vector), and it also
//!   breaks behind NAT where servers announce private addresses. Curl does the same by
//!   default (`--ftp-skip-pasv-ip`).
//!
//! * **Active**: the client listens on the control connection's *local* address (so the
//!   server can reach it on the same path), optionally within a port range, announces it
//!   with `PORT` (IPv4) or `EPRT` (IPv6), and accepts the server's connection. Only a
//!   connection from the control peer's IP is accepted; others are closed and ignored.
//!
//! Order of commands (RFC 959 / RFC 3659): `PASV`/`EPSV`/`PORT`/`EPRT`, then `REST n` if
//! resuming, then the transfer command (`RETR`, `STOR`, `APPE`, `LIST`, `NLST`). After
//! the server's `1xx` reply the TLS handshake (with `PROT P`) starts; the client is
//! always the TLS client, also in active mode (RFC 4217).

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::control::Control;
use crate::error::{Channel, ErrorKind, FtpError, Result, TimeoutKind};
use crate::reply::Reply;
use crate::stream::Stream;
use crate::tls::{DataProtection, TlsContext, classify_handshake_error};

/// How data connections are opened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DataMode {
    /// The client connects to the server (PASV/EPSV). Works through client-side NAT.
    #[default]
    Passive,
    /// The server connects to the client (PORT/EPRT).
    Active {
        /// Local ports to listen on (the first free one is used, starting at a varying
        /// place). `None`: any port the OS picks.
        ports: Option<RangeInclusive<u16>>,
    },
}

/// Settings the data layer needs from the session.
pub(crate) struct DataSettings<'a> {
    pub(crate) mode: &'a DataMode,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Option<&'a TlsContext>,
    pub(crate) socket_layer: Option<&'a std::sync::Arc<dyn crate::stream::SocketLayer>>,
}

/// A data connection that is established (and TLS-wrapped if PROT P), plus the reply
/// the server gave to the transfer command.
pub(crate) struct OpenedData {
    pub(crate) stream: Stream,
    /// `true` if the server already sent the final reply (2xx without 1xx first).
    pub(crate) final_reply_seen: bool,
    pub(crate) first_reply: Reply,
}

/// Parses the port of a `227` reply (the address part is deliberately ignored).
pub fn parse_pasv_port(reply: &Reply) -> Option<u16> {
    let text = reply.text().get(4..).unwrap_or("");
    for token in text.split(|c: char| !(c.is_ascii_digit() || c == ',')) {
        let parts: Vec<&str> = token.split(',').collect();
        if parts.len() == 6 {
            let nums: Option<Vec<u8>> = parts.iter().map(|p| p.parse::<u8>().ok()).collect();
            if let Some(n) = nums {
                let port = u16::from(n[4]) << 8 | u16::from(n[5]);
                return (port != 0).then_some(port);
            }
        }
    }
    None
}

/// Parses the port of a `229` reply: `(<d><d><d><port><d>)` with any delimiter `d`.
pub fn parse_epsv_port(reply: &Reply) -> Option<u16> {
    let text = reply.text();
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let close = inner.find(')')?;
    let inner = &inner[..close];
    let mut chars = inner.chars();
    let delim = chars.next()?;
    if !(('!'..='~').contains(&delim)) || delim.is_ascii_digit() {
        return None;
    }
    let parts: Vec<&str> = inner.split(delim).collect();
    // "|||6446|" splits into ["", "", "", "6446", ""]. RFC 2428 wants the protocol and
    // address fields empty; a filled-in address is tolerated (and ignored, like PASV's).
    if parts.len() != 5 || !parts[0].is_empty() || !parts[4].is_empty() {
        return None;
    }
    let port: u16 = parts[3].parse().ok()?;
    (port != 0).then_some(port)
}

/// Formats the `PORT` argument for an IPv4 socket address.
fn port_argument(addr: SocketAddr) -> Option<String> {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let o = ip.octets();
            Some(format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                addr.port() >> 8,
                addr.port() & 0xff
            ))
        }
        IpAddr::V6(ip) => ip.to_ipv4_mapped().map(|v4| {
            port_argument(SocketAddr::new(IpAddr::V4(v4), addr.port())).unwrap_or_default()
        }),
    }
}

fn eprt_argument(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("|1|{ip}|{}|", addr.port()),
        IpAddr::V6(ip) => format!("|2|{ip}|{}|", addr.port()),
    }
}

fn io_err(source: std::io::Error) -> FtpError {
    ErrorKind::Io {
        channel: Channel::Data,
        source,
    }
    .into()
}

/// Connects to `addr` within `timeout` (used for passive data connections).
async fn connect_data(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(ErrorKind::Timeout(TimeoutKind::DataConnect).into()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ErrorKind::ConnectRefused(addr).into())
        }
        Ok(Err(e)) => Err(io_err(e)),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// Asks for a passive port and connects to it on the control peer's address.
async fn passive(ctrl: &mut Control, timeout: Duration) -> Result<TcpStream> {
    let peer = ctrl.peer();
    let port = if peer.is_ipv4() {
        let reply = ctrl.command("PASV").await?;
        if reply.code() == 227 {
            parse_pasv_port(&reply).ok_or_else(|| {
                FtpError::new(ErrorKind::Protocol(format!(
                    "unparsable PASV reply: {reply}"
                )))
            })?
        } else if reply.is_permanent_negative() {
            epsv(ctrl).await?
        } else {
            return Err(reply.into());
        }
    } else {
        epsv(ctrl).await?
    };
    connect_data(SocketAddr::new(peer.ip(), port), timeout).await
}

async fn epsv(ctrl: &mut Control) -> Result<u16> {
    let reply = ctrl.expect("EPSV", |c| c == 229).await?;
    parse_epsv_port(&reply)
        .ok_or_else(|| ErrorKind::Protocol(format!("unparsable EPSV reply: {reply}")).into())
}

/// Binds the active-mode listener on the control connection's local address.
fn bind_listener(local_ip: IpAddr, ports: &Option<RangeInclusive<u16>>) -> Result<TcpListener> {
    let bind = |port: u16| -> std::io::Result<TcpListener> {
        let addr = SocketAddr::new(local_ip, port);
        let socket = if local_ip.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(addr)?;
        socket.listen(1)
    };
    match ports {
        None => bind(0).map_err(io_err),
        Some(range) => {
            let (lo, hi) = (*range.start(), *range.end());
            if lo > hi || lo == 0 {
                return Err(ErrorKind::InvalidArgument(format!(
                    "active port range {lo}..={hi} is empty or starts at 0"
                ))
                .into());
            }
            let span = u32::from(hi - lo) + 1;
            // Start at a varying place so consecutive transfers do not fight over
            // a port still in TIME_WAIT.
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let mut last = None;
            for i in 0..span {
                let port = lo + ((seed.wrapping_add(i)) % span) as u16;
                match bind(port) {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some(e),
                }
            }
            Err(io_err(last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free port in range")
            })))
        }
    }
}

/// Accepts the server's data connection, only from the control peer's IP.
async fn accept_from_peer(
    listener: &TcpListener,
    peer_ip: IpAddr,
    timeout: Duration,
) -> Result<TcpStream> {
    let accept = async {
        loop {
            let (stream, from) = listener.accept().await.map_err(io_err)?;
            if same_ip(from.ip(), peer_ip) {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            tracing::warn!(%from, "refused active data connection from a foreign address");
            drop(stream);
        }
    };
    match tokio::time::timeout(timeout, accept).await {
        Err(_) => Err(ErrorKind::Timeout(TimeoutKind::DataConnect).into()),
        Ok(r) => r,
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    canon(a) == canon(b)
}

/// The server sent its final reply before the data connection was up.
fn early_final_reply(reply: Reply) -> FtpError {
    if reply.is_completion() {
        ErrorKind::Protocol(format!(
            "server ended the transfer before the data connection was up: {reply}"
        ))
        .into()
    } else {
        reply.into()
    }
}

/// Opens a data connection and starts the transfer `command`, after `REST offset`
/// when `rest` is given. Returns once the server has answered the command with 1xx
/// (or already with its final 2xx) and, with PROT P, the TLS handshake is done.
pub(crate) async fn open(
    ctrl: &mut Control,
    settings: &DataSettings<'_>,
    command: &str,
    rest: Option<u64>,
) -> Result<OpenedData> {
    enum Pending {
        Connected(crate::stream::BoxSocket),
        Listening(TcpListener),
    }
    let protected = settings
        .tls
        .is_some_and(|tls| tls.data_protection == DataProtection::Private);
    let pending = match settings.mode {
        DataMode::Passive => {
            let tcp = passive(ctrl, settings.connect_timeout).await?;
            let mut socket = crate::stream::wrap_data(settings.socket_layer, tcp, false, protected);
            // The connection is up before the command that uses it goes (a socket layer may
            // model the handshake: docs of `SocketLayer`). A failure shows at the first read or
            // write, as it would without this wait.
            let _ = tokio::io::AsyncWriteExt::flush(&mut socket).await;
            Pending::Connected(socket)
        }
        DataMode::Active { ports } => {
            let listener = bind_listener(ctrl.local().ip(), ports)?;
            let addr = listener.local_addr().map_err(io_err)?;
            match port_argument(addr).filter(|_| ctrl.peer().is_ipv4() || addr.is_ipv4()) {
                Some(arg) => ctrl.expect(&format!("PORT {arg}"), |c| c == 200).await?,
                None => {
                    ctrl.expect(&format!("EPRT {}", eprt_argument(addr)), |c| c == 200)
                        .await?
                }
            };
            Pending::Listening(listener)
        }
    };
    if let Some(offset) = rest {
        ctrl.expect(&format!("REST {offset}"), |c| c == 350).await?;
    }
    let first_reply = ctrl.command(command).await?;
    let final_reply_seen = if first_reply.is_preliminary() {
        false
    } else if first_reply.is_completion() {
        true
    } else {
        return Err(first_reply.into());
    };
    // While waiting for the server's connection (active) or the TLS handshake, the
    // server may give up and send its final reply (e.g. `425 Can't open data
    // connection`): watch the control connection too, so the error names that reply
    // instead of becoming a timeout.
    let peer_ip = ctrl.peer().ip();
    let tcp = match pending {
        Pending::Connected(s) => s,
        Pending::Listening(listener) => {
            let tcp = if final_reply_seen {
                accept_from_peer(&listener, peer_ip, settings.connect_timeout).await?
            } else {
                // Biased: a server that connected may already have sent everything and
                // its 226; the connection is then waiting in the backlog and must win.
                tokio::select! {
                    biased;
                    accepted = accept_from_peer(&listener, peer_ip, settings.connect_timeout) => accepted?,
                    reply = ctrl.read_reply() => return Err(early_final_reply(reply?)),
                }
            };
            crate::stream::wrap_data(settings.socket_layer, tcp, true, protected)
        }
    };
    let stream = match settings.tls {
        Some(tls) if tls.data_protection == DataProtection::Private => {
            let handshake = tokio::time::timeout(
                settings.connect_timeout,
                tls.connector.connect(tls.server_name.clone(), tcp),
            );
            let outcome = if final_reply_seen {
                handshake.await
            } else {
                tokio::select! {
                    biased;
                    outcome = handshake => outcome,
                    reply = ctrl.read_reply() => return Err(early_final_reply(reply?)),
                }
            };
            match outcome {
                Err(_) => return Err(ErrorKind::Timeout(TimeoutKind::TlsHandshake).into()),
                Ok(Err(e)) => return Err(classify_handshake_error(e, Channel::Data)),
                Ok(Ok(s)) => {
                    let conn = s.get_ref().1;
                    tracing::debug!(
                        version = ?conn.protocol_version(),
                        handshake = ?conn.handshake_kind(),
                        "data TLS established"
                    );
                    if let Some(layer) = settings.socket_layer {
                        let summary = crate::stream::TlsSummary::of(conn);
                        layer.tls_established(crate::stream::SocketRole::Data, &summary);
                    }
                    Stream::Tls(Box::new(s))
                }
            }
        }
        _ => Stream::Plain(tcp),
    };
    Ok(OpenedData {
        stream,
        final_reply_seen,
        first_reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_port_ignores_the_address() {
        let r = Reply::new(227, "227 Entering Passive Mode (10,9,8,7,117,48).");
        assert_eq!(parse_pasv_port(&r), Some(117 * 256 + 48));
        let r = Reply::new(227, "227 =127,0,0,1,4,1");
        assert_eq!(parse_pasv_port(&r), Some(1025));
        assert_eq!(parse_pasv_port(&Reply::new(227, "227 nothing")), None);
        assert_eq!(
            parse_pasv_port(&Reply::new(227, "227 (1,2,3,4,999,1)")),
            None
        );
        assert_eq!(parse_pasv_port(&Reply::new(227, "227 (1,2,3,4,0,0)")), None);
    }

    #[test]
    fn epsv_port() {
        let r = Reply::new(229, "229 Entering Extended Passive Mode (|||6446|)");
        assert_eq!(parse_epsv_port(&r), Some(6446));
        let r = Reply::new(229, "229 ok (!!!21!)");
        assert_eq!(parse_epsv_port(&r), Some(21));
        assert_eq!(parse_epsv_port(&Reply::new(229, "229 (|||70000|)")), None);
        assert_eq!(parse_epsv_port(&Reply::new(229, "229 (|||0|)")), None);
        assert_eq!(
            parse_epsv_port(&Reply::new(229, "229 (|2|::1|7|)")),
            Some(7)
        );
        assert_eq!(parse_epsv_port(&Reply::new(229, "229 (|||1|2|)")), None);
        assert_eq!(parse_epsv_port(&Reply::new(229, "229 (")), None);
    }

    #[test]
    fn port_and_eprt_arguments() {
        let a: SocketAddr = "127.0.0.1:1025".parse().unwrap();
        assert_eq!(port_argument(a).as_deref(), Some("127,0,0,1,4,1"));
        let b: SocketAddr = "[::1]:2000".parse().unwrap();
        assert_eq!(port_argument(b), None);
        assert_eq!(eprt_argument(b), "|2|::1|2000|");
    }

    proptest::proptest! {
        #[test]
        fn passive_parsers_never_panic(text in "\\PC{0,80}") {
            let _ = parse_pasv_port(&Reply::new(227, text.clone()));
            let _ = parse_epsv_port(&Reply::new(229, text));
        }
    }
}
