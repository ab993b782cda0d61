//! Security: the certificate and key store (`+USECMNG`) and the security profiles (`+USECPRF`)
//! that FTPS uses (`AT+UFTP=8,1,<profile>`).
//!
//! ```text
//! AT+USECMNG=0,0,"root",<size>      >  <PEM or DER>   +USECMNG: 0,0,"root","<md5>"  OK
//! AT+USECPRF=0,0,2                  validation: chain to the root and the hostname
//! AT+USECPRF=0,3,"root"             the profile's trusted root
//! AT+UFTP=8,1,0  AT+UFTPC=1         FTPS with profile 0: refused unless the server proves itself
//! ```
//!
//! The store is [`store`]; a profile becomes the FTP engine's TLS options in [`tls_options`].
//! Profiles are volatile, like the FTP profile; the store persists with the module folder.

use ftp_client::{CertVerification, ClientIdentity, TlsOptions, TlsVersion};
use ubx_at::{
    CmeError, Command, CommandError, CommandKind, Outcome, Params, PayloadRequest, Prompt, Response,
};

pub mod state;

pub use state::{PROFILES, SecurityProfile, SecurityState};

use crate::families::fs::PAYLOAD_STALL_TIMEOUT;
use crate::module::state::Ctx;
use ubx_storage::certs::{self as store, Kind, Store, StoreError};

/// Longest hostname, SNI or credential name in a profile.
const MAX_TEXT: usize = 256;

/// `+USECPRF` op 2's legacy cipher suite indices → IANA numbers (ubxlib's table,
/// related-commands.md §7).
const LEGACY_SUITES: [u16; 33] = [
    0x002F, 0x003C, 0x0035, 0x003D, 0x000A, 0x008C, 0x008D, 0x008B, 0x0094, 0x0095, 0x0093, 0x00AE,
    0x00AF, 0x00B6, 0x00B7, 0x00A8, 0x00A9, 0x00AC, 0x00AD, 0xC008, 0xC009, 0xC00A, 0xC012, 0xC013,
    0xC014, 0xC023, 0xC024, 0xC027, 0xC028, 0xC02B, 0xC02C, 0xC02F, 0xC030,
];

/// Whether the TLS stack has the suite with this IANA number.
fn suite_supported(iana: u16) -> bool {
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .iter()
        .any(|s| u16::from(s.suite()) == iana)
}

type Reply = Result<Response, CommandError>;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    match cmd.name.as_str() {
        "+USECMNG" => Some(usecmng(ctx, &cmd.kind, cmd)),
        "+USECPRF" => Some(usecprf(ctx, &cmd.kind).into()),
        _ => None,
    }
}

fn the_store(ctx: &Ctx) -> Store {
    Store::beside(ctx.shared.fs.root())
}

/// The error a refused item gets (docs/FIDELITY.md).
fn store_error(e: StoreError) -> CommandError {
    match e {
        StoreError::Name => CmeError::InvalidFileName.into(),
        // A symlink, a hard link or another foreign entry in an item's place: no item, as the
        // file commands answer for such a name (docs/SECURITY.md).
        StoreError::NotFound | StoreError::Foreign => CmeError::FileNotFound.into(),
        StoreError::Full | StoreError::TooLarge => CmeError::MemoryFull.into(),
        StoreError::NotACertificate | StoreError::NotAKey => CmeError::IncorrectParameters.into(),
        StoreError::WrongPassword => CmeError::IncorrectPassword.into(),
        // The store's folder is a symlink (or not a folder): the whole store is refused.
        StoreError::Io(_) | StoreError::Folder(_) => CmeError::MemoryFailure.into(),
    }
}

fn kind_param(p: &Params) -> Result<Kind, CommandError> {
    Kind::from_code(p.req_num(1)?).ok_or_else(|| CmeError::OperationNotSupported.into())
}

/// `+USECMNG: <op>,<type>,"<name>","<md5>"`, the answer of an import (op 0, 1) and of op 4.
fn item_md5(op: u8, kind: Kind, name: &[u8], md5: &str) -> Response {
    Response::line(format!(
        "+USECMNG: {op},{},\"{}\",\"{md5}\"",
        kind.code(),
        String::from_utf8_lossy(name)
    ))
}

fn usecmng(ctx: &Ctx, kind: &CommandKind, cmd: &Command) -> Outcome {
    let result = (|| -> Result<Outcome, CommandError> {
        let p = match kind {
            CommandKind::Test => {
                return Ok(Outcome::Done(Response::line(
                    "+USECMNG: (0-4),(0-3),\"name\",(1-16384),\"password\"",
                )));
            }
            CommandKind::Set(p) => p,
            _ => return Err(CommandError::Syntax),
        };
        let store = the_store(ctx);
        match p.req_num(0)? {
            0 => {
                p.at_most(5)?;
                kind_param(p)?;
                store::check_item_name(p.req_str(2)?).map_err(store_error)?;
                let len = usize::try_from(p.req_num(3)?)
                    .ok()
                    .filter(|n| (1..=store::MAX_ITEM_SIZE).contains(n))
                    .ok_or(CmeError::OperationNotSupported)?;
                p.str(4)?;
                Ok(Outcome::ExpectPayload(PayloadRequest {
                    command: cmd.clone(),
                    len,
                    prompt: Prompt::Greater,
                    stall_timeout: PAYLOAD_STALL_TIMEOUT,
                }))
            }
            1 => {
                p.at_most(5)?;
                let item = kind_param(p)?;
                let name = p.req_str(2)?;
                let file = ctx
                    .shared
                    .fs
                    .read(p.req_str(3)?)
                    .map_err(|e| CommandError::from(crate::families::fs::cme(&e)))?;
                let password = p.str(4)?;
                let md5 = store
                    .import(item, name, &file, password)
                    .map_err(store_error)?;
                Ok(Outcome::Done(item_md5(1, item, name, &md5)))
            }
            2 => {
                p.at_most(3)?;
                let item = kind_param(p)?;
                store.remove(item, p.req_str(2)?).map_err(store_error)?;
                Ok(Outcome::Done(Response::ok()))
            }
            3 => {
                p.at_most(1)?;
                let list = store.list().map_err(store_error)?;
                Ok(Outcome::Done(Response::lines(list.into_iter().map(
                    |l| match l.subject_expiry {
                        Some((subject, expiry)) => format!(
                            "\"{}\",\"{}\",\"{subject}\",\"{expiry}\"",
                            l.kind.tag(),
                            l.name
                        ),
                        None => format!("\"{}\",\"{}\"", l.kind.tag(), l.name),
                    },
                ))))
            }
            4 => {
                p.at_most(3)?;
                let item = kind_param(p)?;
                let name = p.req_str(2)?;
                let md5 = store.md5(item, name).map_err(store_error)?;
                Ok(Outcome::Done(item_md5(4, item, name, &md5)))
            }
            _ => Err(CmeError::OperationNotSupported.into()),
        }
    })();
    result.unwrap_or_else(Outcome::Failed)
}

/// `AT+USECMNG=0,...`'s payload arrived.
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
    let p = request.command.params();
    let result = (|| -> Reply {
        let item = kind_param(p)?;
        let name = p.req_str(2)?;
        let md5 = the_store(ctx)
            .import(item, name, &data, p.str(4)?)
            .map_err(store_error)?;
        Ok(item_md5(0, item, name, &md5))
    })();
    result.into()
}

/// A profile text (names, hostname, SNI): printable, at most 256 bytes.
fn text(p: &Params, i: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    if raw.len() > MAX_TEXT {
        return Err(CmeError::TextTooLong.into());
    }
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(s.to_string())
}

/// One byte of a suite's IANA number, as `+USECPRF` op 2 takes it: exactly two hex digits.
/// `u16::from_str_radix` alone would take a sign (`"+7"` as 0x07).
fn suite_byte(text: &[u8]) -> Option<u16> {
    match text {
        [hi, lo] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
            let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u16);
            Some((digit(*hi)? << 4) | digit(*lo)?)
        }
        _ => None,
    }
}

fn usecprf(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let p = match kind {
        CommandKind::Test => {
            return Ok(Response::line("+USECPRF: (0-4),(0-7,10),,\"\""));
        }
        CommandKind::Set(p) => p,
        _ => return Err(CommandError::Syntax),
    };
    p.at_most(5)?;
    let id = usize::try_from(p.req_num(0)?)
        .ok()
        .filter(|id| *id < PROFILES)
        .ok_or(CmeError::OperationNotSupported)?;
    let mut state = ctx.shared.state();
    let factory = state.security.factory_profile();
    let profile = &mut state.security.profiles[id];
    let Some(op) = p.num(1)? else {
        // `AT+USECPRF=<id>`: back to factory values, the model's validation level included.
        *profile = factory;
        return Ok(Response::ok());
    };
    let unsupported = || CommandError::from(CmeError::OperationNotSupported);
    if !p.present(2) {
        // Read back one value.
        let value = match op {
            0 => profile.level.to_string(),
            1 => profile.min_version.to_string(),
            2 => match profile.cipher_suite {
                None => "0".to_string(),
                Some((_, Some(index))) => index.to_string(),
                Some((iana, None)) => format!("99,\"{:02X}\",\"{:02X}\"", iana >> 8, iana & 0xFF),
            },
            3 => format!("\"{}\"", profile.root),
            4 => format!("\"{}\"", profile.hostname),
            5 => format!("\"{}\"", profile.client_cert),
            6 => format!("\"{}\"", profile.client_key),
            // The key password is a secret: never printed.
            7 => "\"\"".to_string(),
            10 => format!("\"{}\"", profile.sni),
            _ => return Err(unsupported()),
        };
        return Ok(Response::line(format!("+USECPRF: {id},{op},{value}")));
    }
    if op != 2 {
        p.at_most(3)?;
    }
    let number = |max: i64| -> Result<u8, CommandError> {
        match p.req_num(2)? {
            v @ 0.. if v <= max => Ok(v as u8),
            _ => Err(unsupported()),
        }
    };
    match op {
        0 => profile.level = number(3)?,
        1 => profile.min_version = number(4)?,
        // A suite by legacy index (1–33) or by IANA number (`99,"C0","2F"`); 0 automatic. A
        // suite the TLS stack lacks is refused, never ignored.
        2 => {
            let suite = match p.req_num(2)? {
                0 => None,
                index @ 1..=33 => {
                    let iana = LEGACY_SUITES[(index - 1) as usize];
                    Some((iana, Some(index as u8)))
                }
                99 | 100 => {
                    let byte = |i| suite_byte(p.req_str(i)?).ok_or_else(unsupported);
                    Some(((byte(3)? << 8) | byte(4)?, None))
                }
                _ => return Err(unsupported()),
            };
            if suite.is_some_and(|(iana, _)| !suite_supported(iana)) {
                return Err(unsupported());
            }
            profile.cipher_suite = suite;
            return Ok(Response::ok());
        }
        3 => profile.root = text(p, 2)?,
        4 => profile.hostname = text(p, 2)?,
        5 => profile.client_cert = text(p, 2)?,
        6 => profile.client_key = text(p, 2)?,
        7 => profile.key_password = text(p, 2)?,
        10 => profile.sni = text(p, 2)?,
        // 8, 9, 11: pre-shared keys, which this module does not implement.
        _ => return Err(unsupported()),
    }
    Ok(Response::ok())
}

/// Why a profile cannot be used for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileProblem {
    /// It names a credential the store does not have (or names none where one is needed).
    MissingCredential(String),
}

/// The FTP engine's TLS options for `profile` (with `private_data` for `PROT P`), with the
/// credentials it names read from the store beside the module file system in `fs_root`. The
/// certificate must name op 4's host, or else `server` (the FTP server's name or address) —
/// never the SNI of op 10. The credentials are read through the store's checked open
/// ([`Store::read`]): a symlink, a hard link or a symlinked store folder is a missing credential,
/// never an outside file loaded as a root or a key.
pub(crate) fn tls_options(
    profile: &SecurityProfile,
    fs_root: &std::path::Path,
    server: &str,
    private_data: bool,
) -> Result<TlsOptions, ProfileProblem> {
    let store = Store::beside(fs_root);
    let verification = match profile.level {
        0 => CertVerification::None,
        1 => CertVerification::Roots,
        2 => CertVerification::RootsAndName,
        _ => CertVerification::Full,
    };
    let roots = trusted_roots(profile, &store)?;
    let client_identity = if profile.client_cert.is_empty() && profile.client_key.is_empty() {
        None
    } else {
        let missing = |what: &str, name: &str| {
            ProfileProblem::MissingCredential(format!("{what} \"{name}\""))
        };
        let cert = store
            .read(Kind::ClientCert, &profile.client_cert)
            .map_err(|_| missing("client certificate", &profile.client_cert))?;
        let key = store
            .read(Kind::ClientKey, &profile.client_key)
            .map_err(|_| missing("client key", &profile.client_key))?;
        Some(ClientIdentity {
            cert_chain_pem: pem_block("CERTIFICATE", &cert),
            key_pem: pem_block(store::key_label(&key), &key),
        })
    };
    Ok(TlsOptions {
        verification,
        roots,
        sni: (!profile.sni.is_empty()).then(|| profile.sni.clone()),
        expected_name: Some(if profile.hostname.is_empty() {
            server.to_string()
        } else {
            profile.hostname.clone()
        }),
        min_version: if profile.min_version >= 4 {
            TlsVersion::Tls13
        } else {
            TlsVersion::Tls12
        },
        client_identity,
        cipher_suites: profile
            .cipher_suite
            .map(|(iana, _)| vec![iana])
            .unwrap_or_default(),
        data_protection: if private_data {
            ftp_client::DataProtection::Private
        } else {
            ftp_client::DataProtection::Clear
        },
        ..TlsOptions::default()
    })
}

/// The roots a profile trusts: none at level 0; else the root op 3 names, or, when it names
/// none, every root CA in the store — the AT manual's level 1: "the server certificate will be
/// verified with a specific trusted certificate or with each of the imported trusted root
/// certificates". A named root the store lacks, or no root at all, is a missing credential: the
/// connection is refused, never made unchecked.
fn trusted_roots(
    profile: &SecurityProfile,
    store: &Store,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ProfileProblem> {
    if profile.level == 0 {
        return Ok(Vec::new());
    }
    if profile.root.is_empty() {
        let all = store.all(Kind::RootCa).unwrap_or_default();
        if all.is_empty() {
            return Err(ProfileProblem::MissingCredential(
                "a root (none named, none imported)".into(),
            ));
        }
        return Ok(all
            .into_iter()
            .map(|(_, der)| store::certificate(der))
            .collect());
    }
    let der = store
        .read(Kind::RootCa, &profile.root)
        .map_err(|_| ProfileProblem::MissingCredential(format!("root \"{}\"", profile.root)))?;
    Ok(vec![store::certificate(der)])
}

/// DER wrapped as PEM (the engine takes PEM for a client identity).
fn pem_block(label: &str, der: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}
