//! The one path by which a service opens a connection. Its steps, in this order:
//!
//! 1. **name → address**: the module's resolver (`--dns` overrides first, then the host's,
//!    under the field's DNS delays and faults);
//! 2. **address rewriting** (`--route`): added by the socket service's work, here;
//! 3. **the egress check** (`--egress`): added by the hardening work, here;
//! 4. **the bearer**: the service's PDP context must be active; its PDP type chooses the
//!    address family;
//! 5. **the field layer**: every socket goes through [`ubx_field::socket::FieldLayer`], the
//!    radio link and the faults a test sets;
//! 6. **TLS** from the `+USECPRF` security profile the service names.
//!
//! A service gets its connection options only from [`Connection`]; `scripts/check-shape` fails
//! if a file of `services/` outside this one builds connect options or opens a socket itself.

use std::sync::Arc;

use ftp_client::{ConnectOptions, TlsOptions};
use ubx_field::socket::FieldLayer;

use crate::families::pdp::state::PdpType;
use crate::families::psd;
use crate::families::security;
use crate::module::state::Shared;

/// Why a connection cannot be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The service's PDP context is not active.
    NoBearer,
    /// The security profile names credentials that cannot be used.
    SecurityProfile,
}

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
        let mut opts = ConnectOptions::new(host, port, user, password);
        // 1. name → address (2 and 3 join here).
        opts.resolver = Arc::new(self.shared.dns.clone());
        // 5. the field layer.
        opts.socket_layer = Some(Arc::new(FieldLayer(self.shared.field.clone())));
        // 6. TLS.
        opts.tls = tls;
        Ok(opts)
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
