//! `--route ADDR[:PORT]=ADDR[:PORT]`: the address twin of `--dns`. Firmware with a server address
//! compiled in (ubxlib's tests use 18.133.144.142) is pointed at a local server: every connection
//! the module opens — sockets, FTP, and the services to come — to a matching address goes to the
//! rule's target instead.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One rule: `from` (an address, and a port or every port) to `to` (an address, and a port or
/// the same port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub from: (IpAddr, Option<u16>),
    pub to: (IpAddr, Option<u16>),
}

/// The module's rules, first match wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(pub Vec<Route>);

impl Routes {
    /// Where a connection to `addr` goes.
    pub fn apply(&self, addr: SocketAddr) -> SocketAddr {
        for route in &self.0 {
            let (ip, port) = route.from;
            if ip == addr.ip() && port.is_none_or(|p| p == addr.port()) {
                let (to_ip, to_port) = route.to;
                return SocketAddr::new(to_ip, to_port.unwrap_or(addr.port()));
            }
        }
        addr
    }

    /// The address a host asked for, from the one a connection really reached: what the
    /// module shows as a peer (`+USOCTL`, `+USORF`), so the host sees the server it knows.
    pub fn reverse(&self, addr: SocketAddr) -> SocketAddr {
        for route in &self.0 {
            let (ip, port) = route.to;
            if ip == addr.ip() && port.is_none_or(|p| p == addr.port()) {
                let (from_ip, from_port) = route.from;
                return SocketAddr::new(from_ip, from_port.unwrap_or(addr.port()));
            }
        }
        addr
    }
}

/// One side of a rule: `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`.
fn endpoint(text: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match text.parse::<SocketAddr>() {
        Ok(addr) if addr.port() != 0 => Ok((addr.ip(), Some(addr.port()))),
        Ok(_) => Err(format!("{text:?}: port 0 is no port")),
        Err(_) => Err(format!(
            "{text:?} is not ADDR or ADDR:PORT (an IP address; [ADDR]:PORT for IPv6)"
        )),
    }
}

impl std::str::FromStr for Route {
    type Err = String;

    /// `ADDR[:PORT]=ADDR[:PORT]`.
    fn from_str(text: &str) -> Result<Route, String> {
        let (from, to) = text
            .split_once('=')
            .ok_or_else(|| format!("--route {text:?}: expected ADDR[:PORT]=ADDR[:PORT]"))?;
        let from = endpoint(from.trim()).map_err(|e| format!("--route: {e}"))?;
        let to = endpoint(to.trim()).map_err(|e| format!("--route: {e}"))?;
        if from.0.is_ipv4() != to.0.is_ipv4() {
            return Err(format!(
                "--route {text:?}: both sides must be IPv4 or both IPv6"
            ));
        }
        Ok(Route { from, to })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |(ip, port): (IpAddr, Option<u16>)| match port {
            Some(p) => SocketAddr::new(ip, p).to_string(),
            None => ip.to_string(),
        };
        write!(f, "{}={}", side(self.from), side(self.to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_an_address_and_maybe_a_port() {
        let routes = Routes(vec![
            "18.133.144.142:5055=127.0.0.1:40001".parse().unwrap(),
            "18.133.144.142=127.0.0.1".parse().unwrap(),
            "[2001:db8::1]:21=[::1]:2121".parse().unwrap(),
        ]);
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(routes.apply(a("18.133.144.142:5055")), a("127.0.0.1:40001"));
        assert_eq!(routes.apply(a("18.133.144.142:5050")), a("127.0.0.1:5050"));
        assert_eq!(routes.apply(a("[2001:db8::1]:21")), a("[::1]:2121"));
        assert_eq!(routes.apply(a("10.0.0.1:21")), a("10.0.0.1:21"));
        assert_eq!(
            routes.reverse(a("127.0.0.1:40001")),
            a("18.133.144.142:5055")
        );
        assert_eq!(routes.reverse(a("[::1]:2121")), a("[2001:db8::1]:21"));
        for bad in [
            "1.2.3.4",
            "1.2.3.4=::1",
            "x=1.2.3.4",
            "1.2.3.4:0=1.2.3.4",
            "=1.2.3.4",
        ] {
            assert!(bad.parse::<Route>().is_err(), "{bad}");
        }
        assert_eq!(
            "18.133.144.142:5055=127.0.0.1:40001"
                .parse::<Route>()
                .unwrap()
                .to_string(),
            "18.133.144.142:5055=127.0.0.1:40001"
        );
    }
}
