//! `--egress CIDR|ADDR[:PORT],...`: where the module may connect. Step 3 of every connection
//! ([`super::connect`]): after `--dns` and `--route`, the address the connection really goes to
//! must match a rule, or the connection fails as a refused connect does (the module's ordinary
//! connect failure), so a module on a shared machine cannot be a relay or a port scanner. No
//! rule (the default): every address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One rule: a network (an address and a prefix length) and a port or every port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub net: IpAddr,
    pub prefix: u8,
    pub port: Option<u16>,
}

impl Rule {
    fn matches(&self, addr: SocketAddr) -> bool {
        self.port.is_none_or(|p| p == addr.port()) && in_net(addr.ip(), self.net, self.prefix)
    }
}

/// Whether `ip` is in `net`/`prefix` (an IPv4-mapped IPv6 address counts as its IPv4 one).
fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The module's egress rules; `None`: no `--egress`, everything allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress(pub Option<Vec<Rule>>);

impl Egress {
    /// Whether a connection to `addr` may be made.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        self.0
            .as_ref()
            .is_none_or(|rules| rules.iter().any(|r| r.matches(addr)))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.net, self.port) {
            (IpAddr::V6(n), Some(p)) => write!(f, "[{n}/{}]:{p}", self.prefix),
            (n, Some(p)) => write!(f, "{n}/{}:{p}", self.prefix),
            (n, None) => write!(f, "{n}/{}", self.prefix),
        }
    }
}

/// One `--egress` entry: `10.0.0.0/8`, `192.0.2.7`, `192.0.2.7:21`, `10.0.0.0/8:443`, `::1`,
/// `[2001:db8::/32]:443`.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    let bad = || {
        format!(
            "--egress {text:?}: not CIDR or ADDR, with an optional :PORT \
             (10.0.0.0/8, 192.0.2.7:21, [2001:db8::/32]:443)"
        )
    };
    let (net, port) = split_port(text).ok_or_else(bad)?;
    let (addr, prefix) = match net.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
        None => (net, None),
    };
    let net: IpAddr = addr.parse().map_err(|_| bad())?;
    let most = if net.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(most);
    if prefix > most {
        return Err(format!(
            "--egress {text:?}: a prefix of {prefix} bits is longer than the address"
        ));
    }
    Ok(Rule { net, prefix, port })
}

/// `NET` and its port, if any: `[v6/nn]:p`, `v4/nn:p`, or a bare network (a bare IPv6 address
/// has colons of its own, so its port needs the brackets).
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (net, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((net, Some(p.parse().ok().filter(|p| *p != 0)?))),
            None if after.is_empty() => Some((net, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((net, p)) if !net.contains(':') => {
            Some((net, Some(p.parse().ok().filter(|p| *p != 0)?)))
        }
        _ => Some((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(rules: &[&str]) -> Egress {
        Egress(Some(rules.iter().map(|r| parse_rule(r).unwrap()).collect()))
    }

    #[test]
    fn networks_addresses_and_ports() {
        let e = egress(&["10.0.0.0/8", "192.0.2.7:21", "[2001:db8::/32]:443"]);
        assert!(e.allows("10.1.2.3:80".parse().unwrap()));
        assert!(e.allows("192.0.2.7:21".parse().unwrap()));
        assert!(!e.allows("192.0.2.7:22".parse().unwrap()));
        assert!(!e.allows("127.0.0.1:21".parse().unwrap()));
        assert!(e.allows("[2001:db8::1]:443".parse().unwrap()));
        assert!(!e.allows("[2001:db8::1]:80".parse().unwrap()));
        assert!(e.allows("[::ffff:10.0.0.1]:80".parse().unwrap()));
        assert!(Egress::default().allows("203.0.113.9:25".parse().unwrap()));
        assert!(egress(&["0.0.0.0/0"]).allows("203.0.113.9:25".parse().unwrap()));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for bad in [
            "",
            "host.example",
            "10.0.0.0/33",
            "1.2.3.4:0",
            "1.2.3.4:x",
            "[::1",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rule("::1").unwrap().to_string(), "::1/128");
    }
}
