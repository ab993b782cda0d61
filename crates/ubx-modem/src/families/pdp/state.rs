//! The PDP contexts: their types, APNs, whether they are active, and the addresses they get.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use crate::module::model::Model;

/// `<PDP_type>` of a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdpType {
    Ip,
    Ipv6,
    Ipv4v6,
}

impl PdpType {
    pub(crate) fn parse(text: &[u8]) -> Option<PdpType> {
        match text.to_ascii_uppercase().as_slice() {
            b"IP" => Some(PdpType::Ip),
            b"IPV6" => Some(PdpType::Ipv6),
            b"IPV4V6" => Some(PdpType::Ipv4v6),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            PdpType::Ip => "IP",
            PdpType::Ipv6 => "IPV6",
            PdpType::Ipv4v6 => "IPV4V6",
        }
    }
}

/// One defined PDP context.
#[derive(Debug, Clone)]
pub struct Context {
    pub pdp_type: PdpType,
    pub apn: String,
    pub active: bool,
    /// A definition set while the context was active (`AT+CGDCONT=1,"IP","<apn>"` in a
    /// bring-up sequence on an attached module): stored, shown by `+CGDCONT?`, and applied at
    /// the context's next activation (docs/FIDELITY.md).
    pub next: Option<(PdpType, String)>,
}

impl Context {
    /// Brings the context up, with the definition stored while it was last up, if any.
    pub(crate) fn activate(&mut self) {
        if !self.active
            && let Some((pdp_type, apn)) = self.next.take()
        {
            self.pdp_type = pdp_type;
            self.apn = apn;
        }
        self.active = true;
    }
}

/// The addresses an active context has, per its PDP type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextAddrs {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl ContextAddrs {
    /// The address a single-address answer shows (`+UPSND`, `+UUPSDA`): IPv4 when there is one.
    pub fn preferred(&self) -> String {
        match (self.v4, self.v6) {
            (Some(v4), _) => v4.to_string(),
            (None, Some(v6)) => v6.to_string(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug)]
pub struct PdpState {
    pub max_cid: u8,
    /// Whether attaching brings cid 1 up (LTE's default EPS bearer) or nothing (2G/3G).
    pub default_bearer: bool,
    pub attached: bool,
    pub contexts: BTreeMap<u8, Context>,
    pub(crate) host_v4: Ipv4Addr,
    pub(crate) host_v6: Ipv6Addr,
}

/// The source address the host would use towards `probe`, if it has a route there.
pub(crate) fn outbound_addr(bind: SocketAddr, probe: SocketAddr) -> Option<IpAddr> {
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(probe).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// The host's outbound addresses, found once per process (a fleet builds thousands of modules).
pub(crate) static HOST_ADDRS: std::sync::LazyLock<(Ipv4Addr, Ipv6Addr)> =
    std::sync::LazyLock::new(|| {
        let v4 = match outbound_addr(([0, 0, 0, 0], 0).into(), ([192, 0, 2, 1], 9).into()) {
            Some(IpAddr::V4(a)) if !a.is_unspecified() => a,
            _ => Ipv4Addr::LOCALHOST,
        };
        let doc_v6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let v6 = match outbound_addr((Ipv6Addr::UNSPECIFIED, 0).into(), (doc_v6, 9).into()) {
            Some(IpAddr::V6(a)) if !a.is_unspecified() => a,
            _ => Ipv6Addr::LOCALHOST,
        };
        (v4, v6)
    });

impl PdpState {
    pub fn new(model: &Model) -> PdpState {
        let (host_v4, host_v6) = *HOST_ADDRS;
        let mut contexts = BTreeMap::new();
        if model.pdp.default_bearer {
            contexts.insert(
                1,
                Context {
                    pdp_type: PdpType::Ipv4v6,
                    apn: String::new(),
                    active: true,
                    next: None,
                },
            );
        }
        PdpState {
            max_cid: model.pdp.max_cid,
            default_bearer: model.pdp.default_bearer,
            attached: true,
            contexts,
            host_v4,
            host_v6,
        }
    }

    /// The ids of the active contexts, in order.
    pub fn active_cids(&self) -> Vec<u8> {
        self.contexts
            .iter()
            .filter(|(_, c)| c.active)
            .map(|(cid, _)| *cid)
            .collect()
    }

    /// The addresses of `cid` if it is defined and active.
    pub fn active_addrs(&self, cid: u8) -> Option<ContextAddrs> {
        let ctx = self.contexts.get(&cid).filter(|c| c.active)?;
        Some(ContextAddrs {
            v4: matches!(ctx.pdp_type, PdpType::Ip | PdpType::Ipv4v6).then_some(self.host_v4),
            v6: matches!(ctx.pdp_type, PdpType::Ipv6 | PdpType::Ipv4v6).then_some(self.host_v6),
        })
    }

    pub(crate) fn addr_strings(&self, cid: u8) -> Vec<String> {
        match self.active_addrs(cid) {
            None => Vec::new(),
            Some(a) => {
                a.v4.map(|v| v.to_string())
                    .into_iter()
                    .chain(a.v6.map(|v| v.to_string()))
                    .collect()
            }
        }
    }
}
