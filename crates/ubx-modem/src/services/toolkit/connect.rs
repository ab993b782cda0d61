//! The one path by which a service opens a connection. Its steps, in this order:
//!
//! 1. **name → address**: the module's resolver (`--dns` overrides first, then the host's,
//!    under the field's DNS delays and faults);
//! 2. **address rewriting** (`--route`, [`super::route`]);
//! 3. **the egress check** (`--egress`, [`super::egress`]): the address the connection really
//!    goes to must be allowed, else it fails as a refused connect;
//! 4. **the bearer**: the service's PDP context must be active; its PDP type chooses the
//!    address family;
//! 5. **the field layer**: every socket goes through [`ubx_field::socket::FieldLayer`], the
//!    radio link and the faults a test sets;
//! 6. **TLS** from the `+USECPRF` security profile the service names.
//!
//! A service gets its connection options only from [`Connection`]; `scripts/check-shape` fails
//! if a file of `services/` outside this one builds connect options or opens a socket itself.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ftp_client::{BoxSocket, ConnectOptions, SocketLayer, SocketRole, TlsOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use ubx_field::Field;
use ubx_field::socket::{FieldLayer, FieldSocket};

use crate::families::network::rrc;
use crate::families::pdp::state::PdpType;
use crate::families::psd;
use crate::families::security;
use crate::module::state::Shared;
use crate::services::toolkit::egress::Egress;
use crate::services::toolkit::route::Routes;

/// Why a connection cannot be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The service's PDP context is not active.
    NoBearer,
    /// The security profile names credentials that cannot be used.
    SecurityProfile,
    /// The name has no address of the bearer's family.
    Unresolved,
    /// The TLS handshake failed.
    Handshake,
    /// The connection could not be made.
    Io(io::ErrorKind),
}

/// The layer under every connection a service opens: steps 2, 3 and 5.
struct PathLayer {
    field: FieldLayer,
    routes: Routes,
    egress: Egress,
}

impl SocketLayer for PathLayer {
    fn wrap(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket {
        self.field.wrap(tcp, role)
    }

    fn wrap_accepted(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket {
        self.field.wrap_accepted(tcp, role)
    }

    fn wrap_data(&self, tcp: TcpStream, accepted: bool, protected: bool) -> BoxSocket {
        self.field.wrap_data(tcp, accepted, protected)
    }

    fn route(&self, addr: SocketAddr) -> SocketAddr {
        self.routes.apply(addr)
    }

    fn allows(&self, addr: SocketAddr) -> bool {
        self.egress.allows(addr)
    }

    fn control_line(&self, sent: bool, line: &str) {
        self.field.control_line(sent, line);
    }

    fn tls_established(&self, role: SocketRole, tls: &ftp_client::TlsSummary) {
        self.field.tls_established(role, tls);
    }
}

/// What a connection carries, for `--trace-data`: a user's own bytes (`+USO*` sockets), which
/// it records, or a service's protocol (HTTP, MQTT), whose secrets a trace could not mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    UserData,
    Protocol,
}

/// A byte stream a service reads and writes: a TCP connection under the field, maybe TLS.
pub trait ServiceStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ServiceStream for T {}

/// TLS as a service asks for it: the security profile and the server name to check.
#[derive(Debug, Clone)]
pub struct TlsRequest {
    /// `+USECPRF` profile id.
    pub profile: u8,
    /// The server's name or address, as the service's profile gives it.
    pub server: String,
    /// FTPS: whether the data connections are protected too (`PROT P`).
    pub private_data: bool,
}

/// A service's way out: its bearer, resolved through steps 1–5.
pub struct Connection {
    /// The context that carries the service's connections.
    pub cid: u8,
    /// Its PDP type: which address families it has.
    pub pdp_type: PdpType,
    shared: Arc<Shared>,
}

impl Connection {
    /// The way out of a service whose profile names `cid` (or, on models with PSD profiles,
    /// PSD profile 0's bearer): step 4.
    pub fn for_service(shared: &Arc<Shared>, cid: u8) -> Result<Connection, ConnectError> {
        let state = shared.state();
        let cid = psd::service_cid(&state, shared.model, cid).ok_or(ConnectError::NoBearer)?;
        let context = state
            .pdp
            .contexts
            .get(&cid)
            .filter(|c| c.active)
            .ok_or(ConnectError::NoBearer)?;
        Ok(Connection {
            cid,
            pdp_type: context.pdp_type,
            shared: shared.clone(),
        })
    }

    /// Connect options of an FTP session to `host:port`, with every step applied; the service
    /// adds what is its own (data mode, timeouts, address family preference, limits).
    pub fn ftp_options(
        &self,
        host: &str,
        port: u16,
        user: String,
        password: &str,
        tls: Option<TlsRequest>,
    ) -> Result<ConnectOptions, ConnectError> {
        let tls = tls.map(|request| self.tls(&request)).transpose()?;
        // The session's first connection is about to go over the radio.
        rrc::activity(&self.shared);
        let mut opts = ConnectOptions::new(host, port, user, password);
        // 1. name → address.
        opts.resolver = Arc::new(self.shared.dns.clone());
        // 2., 3. and 5.: the routes, the egress check and the field layer.
        opts.socket_layer = Some(Arc::new(PathLayer {
            field: FieldLayer(self.shared.field.clone()),
            routes: self.shared.routes.clone(),
            egress: self.shared.egress.clone(),
        }));
        // 6. TLS.
        opts.tls = tls;
        Ok(opts)
    }

    /// A TCP connection to `host:port` (a name or an address), from `local_port` when given,
    /// carrying `carries`: steps 1 to 6. Returns the stream and the peer it reached.
    pub async fn tcp(
        &self,
        host: &str,
        port: u16,
        local_port: Option<u16>,
        tls: Option<TlsRequest>,
        carries: Carries,
    ) -> Result<(Box<dyn ServiceStream>, SocketAddr), ConnectError> {
        let tls = tls.map(|request| self.tls(&request)).transpose()?;
        let addr = self.address(host, port).await?;
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| ConnectError::Io(e.kind()))?;
        if let Some(local) = local_port {
            let any: IpAddr = match addr {
                SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
                SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
            };
            socket
                .bind(SocketAddr::new(any, local))
                .map_err(|e| ConnectError::Io(e.kind()))?;
        }
        // The handshake goes over the radio, which brings the signalling connection up first.
        rrc::activity(&self.shared);
        let tcp = socket
            .connect(addr)
            .await
            .map_err(|e| ConnectError::Io(e.kind()))?;
        let _ = tcp.set_nodelay(true);
        // 5. the field layer: `socket` faults act on it, and it draws the handshake's round
        // trip from the link; the connection is up once that is over, as `connect()` returns.
        // Under TLS the field sees records, not the user's bytes: none to record.
        let user = carries == Carries::UserData && tls.is_none();
        let field = FieldSocket::module_socket(tcp, self.shared.field.clone()).user_data(user);
        tokio::time::sleep_until(field.established_at()).await;
        // 6. TLS.
        let Some(options) = tls else {
            return Ok((Box::new(field), addr));
        };
        let (connector, name) = ftp_client::client_connector(&options, host)
            .map_err(|_| ConnectError::SecurityProfile)?;
        let conn = field.id();
        let stream = connector.connect(name, field).await.map_err(|e| {
            tracing::info!(error = %e, "socket TLS handshake failed");
            ConnectError::Handshake
        })?;
        let summary = ftp_client::TlsSummary::of(stream.get_ref().1);
        self.shared.field.tls_established(Some(conn), &summary);
        Ok((Box::new(stream), addr))
    }

    /// Steps 1 to 4 for a UDP peer: the address datagrams to `host:port` go to.
    pub async fn udp_peer(&self, host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
        self.address(host, port).await
    }

    /// A UDP socket bound to `local_port` (any port when `None`) on the bearer's family.
    pub fn udp(&self, local_port: Option<u16>) -> Result<UdpSocket, ConnectError> {
        let any: IpAddr = match self.pdp_type {
            PdpType::Ipv6 => IpAddr::from([0u16; 8]),
            PdpType::Ip | PdpType::Ipv4v6 => IpAddr::from([0u8; 4]),
        };
        let std = std::net::UdpSocket::bind(SocketAddr::new(any, local_port.unwrap_or(0)))
            .map_err(|e| ConnectError::Io(e.kind()))?;
        std.set_nonblocking(true)
            .map_err(|e| ConnectError::Io(e.kind()))?;
        UdpSocket::from_std(std).map_err(|e| ConnectError::Io(e.kind()))
    }

    /// A TCP listener on `port` of the module's listening address (loopback unless the
    /// module was started to listen further).
    pub fn listen(&self, port: u16) -> Result<std::net::TcpListener, ConnectError> {
        let listener = std::net::TcpListener::bind(SocketAddr::new(self.shared.listen_addr, port))
            .map_err(|e| ConnectError::Io(e.kind()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| ConnectError::Io(e.kind()))?;
        Ok(listener)
    }

    /// Sends one datagram on a socket [`Connection::udp`] bound, at once: a direct system
    /// call, not the reactor's readiness, so a send never waits for the runtime to notice the
    /// socket is writable.
    pub fn send_datagram(udp: &UdpSocket, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        socket2::SockRef::from(udp).send_to(data, &to.into())
    }

    /// A connection a listener accepted, under the field (step 5).
    pub fn accepted(field: &Arc<Field>, tcp: TcpStream) -> Box<dyn ServiceStream> {
        let _ = tcp.set_nodelay(true);
        Box::new(FieldSocket::module_socket_accepted(tcp, field.clone()))
    }

    /// Steps 1, 2 and 4: the name resolved on the bearer's family, then routed.
    async fn address(&self, host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
        let wanted = |ip: &IpAddr| match self.pdp_type {
            PdpType::Ip => ip.is_ipv4(),
            PdpType::Ipv6 => ip.is_ipv6(),
            PdpType::Ipv4v6 => true,
        };
        let ip = match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => ip,
            Err(_) => {
                let ips = self
                    .shared
                    .dns
                    .lookup(host)
                    .await
                    .map_err(|_| ConnectError::Unresolved)?;
                // IPv4 first on a dual-stack bearer (as FTP's default preference).
                let mut ips: Vec<IpAddr> = ips.into_iter().filter(wanted).collect();
                ips.sort_by_key(|ip| ip.is_ipv6());
                ips.first().copied().ok_or(ConnectError::Unresolved)?
            }
        };
        if !wanted(&ip) {
            return Err(ConnectError::Unresolved);
        }
        let addr = self.shared.routes.apply(SocketAddr::new(ip, port));
        // 3. the egress check.
        if !self.shared.egress.allows(addr) {
            tracing::info!(%addr, "connection refused by --egress");
            return Err(ConnectError::Io(io::ErrorKind::ConnectionRefused));
        }
        Ok(addr)
    }

    /// Step 6: the TLS options of a security profile.
    fn tls(&self, request: &TlsRequest) -> Result<TlsOptions, ConnectError> {
        let profile = self
            .shared
            .state()
            .security
            .profiles
            .get(usize::from(request.profile))
            .cloned()
            .unwrap_or_default();
        security::tls_options(
            &profile,
            self.shared.fs.root(),
            &request.server,
            request.private_data,
        )
        .map_err(|problem| {
            tracing::info!(?problem, "security profile unusable");
            ConnectError::SecurityProfile
        })
    }
}
