//! Explicit FTPS (RFC 4217): TLS options, certificate checks and the session-wide
//! rustls configuration.
//!
//! # One configuration per session, shared by control and data
//!
//! Servers such as vsftpd (`require_ssl_reuse=YES`, the default) and proftpd (reuse is
//! required by default) refuse a TLS data connection unless its handshake *resumes* the
//! TLS session of the control connection: it proves the data connection comes from the
//! same client. rustls resumes only from its client session cache, and that cache lives
//! in the [`rustls::ClientConfig`]. So each [`FtpSession`](crate::FtpSession) builds one
//! `Arc<ClientConfig>` (with its own in-memory cache) and uses it, with the same
//! [`ServerName`] cache key, for the control connection and for every data connection.
//!
//! # Default version policy: TLS 1.2 for FTPS
//!
//! Unless the caller asks for more, an FTPS session offers **TLS 1.2 only**
//! ([`TlsOptions::max_version`] = `None` means "the minimum version, but at least 1.2").
//! Why: TLS 1.2 resumption re-offers the control connection's session (same session
//! id / ticket) on every data connection, which is exactly what vsftpd and proftpd
//! check. TLS 1.3 resumption is ticket-based and rustls hands each ticket out at most
//! once, and OpenSSL-based servers send no new ticket on a resumed connection they never
//! write to (uploads). proftpd 1.3.8 therefore refused every 4th transfer of a STOR/RETR
//! series over TLS 1.3 with `425 Unable to build data connection: Operation not
//! permitted` ("client did not reuse TLS session"); with TLS 1.2, 100 of 100 transfers
//! were resumed on vsftpd and proftpd (tests `*_100_consecutive_ftps_transfers`, example
//! `tls_reuse`). For TLS 1.3 sessions the client refills its tickets when they run out
//! (see [`tickets`](crate::tickets)), which costs an extra (refused) data connection
//! every other upload on such servers: TLS 1.2 stays the better default.
//!
//! A caller that needs TLS 1.3 sets [`TlsOptions::min_version`] to
//! [`TlsVersion::Tls13`] (then only 1.3 is offered) or `max_version` to
//! `Some(TlsVersion::Tls13)` (1.2 and 1.3 offered; the server picks).
//!
//! # Certificate checks
//!
//! [`CertVerification`] mirrors the levels of an embedded module's security profile:
//! no check, chain to the given roots, chain + host name, chain + host name + validity
//! dates. Only the last one is what a browser does; the weaker levels exist because
//! devices in the field use them (for example with clocks that are not set, where date
//! checks would always fail).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::error::{ErrorKind, FtpError, Result};
use crate::tickets::CountingStore;

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// How the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertVerification {
    /// No check at all (the handshake signature is still verified, so the connection is
    /// encrypted, but anyone can pose as the server).
    #[default]
    None,
    /// The chain must lead to one of [`TlsOptions::roots`]; name and dates are ignored.
    Roots,
    /// As [`Roots`](Self::Roots), and the certificate must name the expected host.
    RootsAndName,
    /// As [`RootsAndName`](Self::RootsAndName), and every certificate of the chain must be
    /// within its validity dates (the full web PKI check).
    Full,
}

/// Whether file contents and listings are encrypted (the `PROT` command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataProtection {
    /// `PROT P`: data connections use TLS too.
    #[default]
    Private,
    /// `PROT C`: only the control connection is encrypted; data flows in clear.
    Clear,
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first (PEM, one or more `CERTIFICATE` blocks).
    pub cert_chain_pem: Vec<u8>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Options of an explicit FTPS session (`AUTH TLS` on the control port).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Certificate check level.
    pub verification: CertVerification,
    /// Trusted root certificates (DER). Use [`certs_from_pem`] to load PEM. Needed by
    /// every level but [`CertVerification::None`].
    pub roots: Vec<CertificateDer<'static>>,
    /// Server Name Indication to send. `None`: no SNI is sent.
    pub sni: Option<String>,
    /// The name the certificate must carry for [`CertVerification::RootsAndName`] and
    /// [`CertVerification::Full`]. `None`: the SNI name if set, else the host the session
    /// connected to (a DNS name or an IP address).
    pub expected_name: Option<String>,
    /// Lowest version offered. Default TLS 1.2.
    pub min_version: TlsVersion,
    /// Highest version offered. `None` (default): the FTPS policy, i.e. `min_version` but
    /// at least TLS 1.2, which means TLS 1.2 only unless `min_version` is 1.3. See the
    /// [module docs](self) for why.
    pub max_version: Option<TlsVersion>,
    /// Client certificate and key, if the server asks for one.
    pub client_identity: Option<ClientIdentity>,
    /// `PROT P` (default) or `PROT C`, chosen independently of control encryption.
    pub data_protection: DataProtection,
    /// Cipher suites to offer, by IANA number (e.g. `0xC02F`); empty: every suite of the
    /// provider. A suite the provider lacks is a [`ErrorKind::TlsConfig`] error, never
    /// silently dropped.
    pub cipher_suites: Vec<u16>,
}

impl TlsOptions {
    /// The versions actually offered: `(min, max)` after the FTPS policy.
    pub fn effective_versions(&self) -> (TlsVersion, TlsVersion) {
        let max = self
            .max_version
            .unwrap_or(self.min_version.max(TlsVersion::Tls12));
        (self.min_version, max)
    }
}

/// A TLS client for a connection of the embedder's own, with the same policy as an FTPS
/// session's (versions, suites, verification, client identity, SNI): the connector and the
/// name it verifies. `host` is what the connection goes to (a name or an IP literal).
pub fn client_connector(
    opts: &TlsOptions,
    host: &str,
) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>)> {
    let context = TlsContext::new(opts, host)?;
    Ok((context.connector, context.server_name))
}

/// Parses every `CERTIFICATE` block of a PEM text.
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let mut reader = pem;
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| FtpError::new(ErrorKind::TlsConfig(format!("bad PEM certificate: {e}"))))?;
    if certs.is_empty() {
        return Err(ErrorKind::TlsConfig("no certificate in PEM text".into()).into());
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    let mut reader = pem;
    rustls_pemfile::private_key(&mut reader)
        .map_err(|e| FtpError::new(ErrorKind::TlsConfig(format!("bad PEM key: {e}"))))?
        .ok_or_else(|| ErrorKind::TlsConfig("no private key in PEM text".into()).into())
}

/// What a session needs for TLS: the shared config and the cache key / SNI name.
#[derive(Clone)]
pub(crate) struct TlsContext {
    pub(crate) connector: tokio_rustls::TlsConnector,
    pub(crate) store: Arc<CountingStore>,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) data_protection: DataProtection,
}

impl TlsContext {
    /// Builds the session's TLS context. `host` is what the session connects to (a name
    /// or an IP literal); it is the default expected certificate name.
    pub(crate) fn new(opts: &TlsOptions, host: &str) -> Result<Self> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !opts.cipher_suites.is_empty() {
            if let Some(missing) = opts.cipher_suites.iter().find(|id| {
                !provider
                    .cipher_suites
                    .iter()
                    .any(|s| u16::from(s.suite()) == **id)
            }) {
                return Err(ErrorKind::TlsConfig(format!(
                    "cipher suite 0x{missing:04X} is not supported"
                ))
                .into());
            }
            provider
                .cipher_suites
                .retain(|s| opts.cipher_suites.contains(&u16::from(s.suite())));
        }
        let provider = Arc::new(provider);
        let algs = provider.signature_verification_algorithms;
        let (min, max) = opts.effective_versions();
        if min > max {
            return Err(ErrorKind::TlsConfig(format!(
                "minimum version {min:?} is above maximum {max:?}"
            ))
            .into());
        }
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        if min <= TlsVersion::Tls12 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= TlsVersion::Tls13 {
            versions.push(&rustls::version::TLS13);
        }

        let expected_text = opts
            .expected_name
            .clone()
            .or_else(|| opts.sni.clone())
            .unwrap_or_else(|| host.to_string());
        let expected = parse_server_name(&expected_text)?;

        let mut roots = RootCertStore::empty();
        for root in &opts.roots {
            roots
                .add(root.clone())
                .map_err(|e| FtpError::new(ErrorKind::TlsConfig(format!("bad root: {e}"))))?;
        }
        if opts.verification != CertVerification::None && roots.is_empty() {
            return Err(ErrorKind::TlsConfig(
                "certificate verification needs at least one root".into(),
            )
            .into());
        }
        let verifier = Arc::new(FtpCertVerifier {
            mode: opts.verification,
            roots: Arc::new(roots),
            expected,
            algs,
        });

        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| FtpError::new(ErrorKind::TlsConfig(e.to_string())))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &opts.client_identity {
            Some(id) => {
                let chain = certs_from_pem(&id.cert_chain_pem)?;
                let key = key_from_pem(&id.key_pem)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| FtpError::new(ErrorKind::TlsConfig(e.to_string())))?
            }
            None => builder.with_no_client_auth(),
        };
        // The cache key must be identical for control and data connections. With SNI
        // it is the SNI name; without, the host (rustls sends no SNI for IP addresses
        // and `enable_sni = false` suppresses it for names).
        let server_name = match &opts.sni {
            Some(sni) => parse_server_name(sni)?,
            None => parse_server_name(host)?,
        };
        config.enable_sni = opts.sni.is_some();
        let store = CountingStore::new();
        config.resumption = rustls::client::Resumption::store(store.clone());
        Ok(TlsContext {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            store,
            server_name,
            data_protection: opts.data_protection,
        })
    }
}

fn parse_server_name(text: &str) -> Result<ServerName<'static>> {
    let trimmed = text.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(trimmed.to_string()).map_err(|_| {
        ErrorKind::InvalidArgument(format!("{text:?} is neither a DNS name nor an IP address"))
            .into()
    })
}

/// The certificate verifier behind [`CertVerification`].
#[derive(Debug)]
struct FtpCertVerifier {
    mode: CertVerification,
    roots: Arc<RootCertStore>,
    expected: ServerName<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for FtpCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.mode == CertVerification::None {
            return Ok(ServerCertVerified::assertion());
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        let mut at = now;
        // Without date checks, a date error is retried at a moment the offending
        // certificate was valid; the chain and signatures are still checked. Each retry
        // fixes one certificate of the chain, so a few rounds suffice.
        let mut rounds = 0;
        loop {
            let result = verify_server_cert_signed_by_trust_anchor(
                &cert,
                &self.roots,
                intermediates,
                at,
                self.algs.all,
            );
            let retry_at = match &result {
                Err(rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                    not_after,
                    ..
                })) => Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    not_after.as_secs().saturating_sub(1),
                ))),
                Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
                    not_before,
                    ..
                })) => Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    not_before.as_secs().saturating_add(1),
                ))),
                _ => None,
            };
            match retry_at {
                Some(t) if self.mode != CertVerification::Full && rounds < 8 => {
                    at = t;
                    rounds += 1;
                }
                _ => {
                    result?;
                    break;
                }
            }
        }
        if matches!(
            self.mode,
            CertVerification::RootsAndName | CertVerification::Full
        ) {
            verify_server_name(&cert, &self.expected)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Sorts a failed handshake into certificate rejection or other TLS failure.
pub(crate) fn classify_handshake_error(
    err: std::io::Error,
    channel: crate::error::Channel,
) -> FtpError {
    if let Some(inner) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        if let rustls::Error::InvalidCertificate(cert_err) = inner {
            return ErrorKind::Certificate(cert_err.to_string()).into();
        }
        return ErrorKind::TlsHandshake {
            channel,
            message: inner.to_string(),
        }
        .into();
    }
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
            ErrorKind::TlsHandshake {
                channel,
                message: format!("server closed the connection during the handshake: {err}"),
            }
            .into()
        }
        _ => ErrorKind::Io {
            channel,
            source: err,
        }
        .into(),
    }
}

/// TLS facts of a connection, for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsInfo {
    /// Negotiated version.
    pub version: Option<TlsVersion>,
    /// Whether the handshake resumed an earlier session (what reuse-checking servers
    /// require of data connections).
    pub resumed: bool,
}

impl TlsInfo {
    pub(crate) fn from_rustls(
        info: (Option<rustls::ProtocolVersion>, rustls::HandshakeKind),
    ) -> Self {
        TlsInfo {
            version: match info.0 {
                Some(rustls::ProtocolVersion::TLSv1_2) => Some(TlsVersion::Tls12),
                Some(rustls::ProtocolVersion::TLSv1_3) => Some(TlsVersion::Tls13),
                _ => None,
            },
            resumed: info.1 == rustls::HandshakeKind::Resumed,
        }
    }
}
