//! Helpers shared by the integration tests: client options for a test server.
#![allow(dead_code)]

use std::time::Duration;

use ftp_client::{CertVerification, ConnectOptions, DataProtection, TlsOptions, certs_from_pem};
use test_servers::{Kind, RunningServer, ServerOptions, start};

pub const T: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub async fn server(kind: Kind, tls: bool, ipv6: bool) -> RunningServer {
    init_tracing();
    start(
        kind,
        ServerOptions {
            tls,
            ipv6,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("starting {kind}: {e}"))
}

/// Plain FTP options for a running test server (passive mode, short timers).
pub fn plain(server: &RunningServer) -> ConnectOptions {
    let mut o = ConnectOptions::new(
        server.addr.ip().to_string(),
        server.addr.port(),
        server.user.clone(),
        server.password.as_str(),
    );
    o.timeouts.connect = T;
    o.timeouts.reply = T;
    o.timeouts.data_stall = Some(T);
    o
}

/// FTPS options: trust the server's self-signed certificate, full verification.
pub fn ftps(server: &RunningServer, prot: DataProtection) -> ConnectOptions {
    let pem_path = server
        .cert_pem
        .as_ref()
        .expect("server started without tls");
    let pem = std::fs::read(pem_path).expect("read cert");
    let mut o = plain(server);
    o.tls = Some(TlsOptions {
        verification: CertVerification::Full,
        roots: certs_from_pem(&pem).expect("parse cert"),
        data_protection: prot,
        ..Default::default()
    });
    o
}

/// A deterministic test payload of `len` bytes.
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0] ^ seed)
        .collect()
}
