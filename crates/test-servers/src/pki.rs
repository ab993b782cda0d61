//! A throwaway PKI made in memory with rcgen: a test CA and a server certificate it signs.
//!
//! Unlike the shared FTPS certificate in [`tls`](crate::tls) (RSA, made by the `openssl` command
//! and cached on disk, because the external FTP servers want files and RSA keys), this one is
//! made fresh for each server instance that asks for it, never touches the disk, and is a real
//! two-level chain: a CA (`CA:TRUE`) that a client imports as its trust anchor, and an ECDSA P-256
//! leaf for `localhost` / `127.0.0.1` / `::1` signed by it. ring cannot generate RSA keys, hence
//! ECDSA.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A test CA and one server certificate signed by it.
pub(crate) struct ServerPki {
    /// The CA certificate, DER.
    pub(crate) ca_der: CertificateDer<'static>,
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
    /// Leaf first, then the CA (what the server sends).
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub(crate) key: PrivateKeyDer<'static>,
}

impl ServerPki {
    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3, no client
    /// authentication) that sends [`chain`](Self::chain) with [`key`](Self::key).
    pub(crate) fn server_config(&self) -> io::Result<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(io::Error::other)
    }
}

/// The names the leaf is valid for.
pub(crate) const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn rcgen_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> io::Error {
    move |e| io::Error::other(format!("{what}: {e}"))
}

/// A fresh CA (`CN=ubx test CA <pid>-<n>`, unique per instance so that two test CAs are never
/// mistaken for each other's issuer by name) and a leaf (`CN=localhost`, SANs
/// [`SERVER_NAMES`]) it signs.
pub(crate) fn localhost_pki() -> io::Result<ServerPki> {
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("CA params"))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    static INSTANCE: AtomicU64 = AtomicU64::new(0);
    let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
    ca_params.distinguished_name = name(&format!("ubx test CA {}-{n}", std::process::id()));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().map_err(rcgen_err("CA key"))?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(rcgen_err("CA"))?;

    let names: Vec<String> = SERVER_NAMES.iter().map(|n| n.to_string()).collect();
    let mut leaf_params = rcgen::CertificateParams::new(names).map_err(rcgen_err("leaf params"))?;
    leaf_params.distinguished_name = name("localhost");
    leaf_params.is_ca = rcgen::IsCa::ExplicitNoCa;
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_key = rcgen::KeyPair::generate().map_err(rcgen_err("leaf key"))?;
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .map_err(rcgen_err("leaf"))?;

    Ok(ServerPki {
        ca_der: ca.der().clone(),
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
    })
}

fn name(common_name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}
