//! The module's resolver: `--dns` overrides first, then the host's, under the field's DNS
//! delays and faults. `+UDNSRN` and every internet service ask it.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use ubx_field::Field;

/// Which address family a lookup wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn matches(self, addr: &IpAddr) -> bool {
        matches!(
            (self, addr),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

/// The module's resolver: command-line overrides first, then the host resolver.
#[derive(Debug, Clone, Default)]
pub struct Dns {
    overrides: HashMap<String, Vec<IpAddr>>,
    field: Option<Arc<Field>>,
}

impl Dns {
    /// A resolver with `--dns` overrides; `field` (the module's) delays lookups by the link's
    /// round trip and lets `dns` faults act on them.
    pub fn new(overrides: Vec<(String, IpAddr)>, field: Option<Arc<Field>>) -> Dns {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, addr) in overrides {
            map.entry(name.to_ascii_lowercase()).or_default().push(addr);
        }
        Dns {
            overrides: map,
            field,
        }
    }

    /// Every address of `name` (or `name` itself when it is an address), overrides first.
    pub async fn lookup(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(addr) = name.parse::<IpAddr>() {
            return Ok(vec![addr]);
        }
        // A name goes to the network's resolver: over the radio, and open to faults.
        if let Some(field) = &self.field {
            field.before_lookup().await?;
        }
        if let Some(addrs) = self.overrides.get(&name.to_ascii_lowercase()) {
            return Ok(addrs.clone());
        }
        let mut addrs: Vec<IpAddr> = Vec::new();
        for a in tokio::net::lookup_host((name, 0)).await? {
            if !addrs.contains(&a.ip()) {
                addrs.push(a.ip());
            }
        }
        Ok(addrs)
    }

    /// Resolves `name` (or parses it as an address) to addresses of `family`.
    pub async fn resolve(&self, name: &str, family: Family) -> io::Result<Vec<IpAddr>> {
        let all = self.lookup(name).await?;
        let wanted: Vec<IpAddr> = all.into_iter().filter(|a| family.matches(a)).collect();
        if wanted.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {family:?} address for {name}"),
            ));
        }
        Ok(wanted)
    }
}

/// The FTP engine resolves host names through the module's DNS, overrides included.
impl ftp_client::Resolver for Dns {
    fn resolve<'a>(&'a self, host: &'a str) -> ftp_client::BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(self.lookup(host))
    }
}
