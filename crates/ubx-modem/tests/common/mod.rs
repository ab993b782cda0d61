//! Shared test support: an in-process module and transcript runs against it.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;

use tokio::io::DuplexStream;
use ubx_modem::transcript::Transcript;
use ubx_modem::{Modem, ModemConfig};

/// Options a transcript can ask for in its header comments:
/// `# fs-size: N` and `# dns: NAME=ADDR`.
pub fn config_from_header(text: &str) -> ModemConfig {
    let mut config = ModemConfig::default();
    for line in text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
    {
        if let Some(size) = line.strip_prefix("# fs-size:") {
            config.fs_size = size.trim().parse().expect("fs-size");
        }
        if let Some(dns) = line.strip_prefix("# dns:") {
            let (name, addr) = dns.trim().split_once('=').expect("dns NAME=ADDR");
            config
                .dns_overrides
                .push((name.to_string(), addr.parse::<IpAddr>().expect("dns addr")));
        }
    }
    config
}

/// Starts a terminal on `modem` and returns the host's end of it.
pub fn connect(modem: &Modem) -> DuplexStream {
    let (host, device) = tokio::io::duplex(1 << 20);
    let modem = modem.clone();
    tokio::spawn(async move { ubx_modem::driver::serve(&modem, device, None).await });
    host
}

/// Runs a transcript text against `modem` on a fresh terminal.
pub async fn run_on(modem: &Modem, text: &str) -> Result<(), String> {
    let transcript = Transcript::parse(text).map_err(|e| e.to_string())?;
    let mut host = connect(modem);
    transcript.run(&mut host).await.map_err(|e| e.to_string())
}

/// Runs a transcript file against a fresh module configured by its header.
pub async fn run_file(path: &Path) -> Result<Modem, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let modem = Modem::new(config_from_header(&text)).map_err(|e| e.to_string())?;
    run_on(&modem, &text)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(modem)
}
