//! The module's certificate and key store (`+USECMNG`).
//!
//! Items live as DER files in a hidden folder next to the module file system
//! (`<fs-dir>/.ubxftp-security/<type>/<name>`): the file commands never see them (names starting
//! `.ubxftp` are the emulator's), and they survive a restart with `--fs-dir`. Every item is
//! checked before it is stored — a certificate must parse as X.509, a key must be a private key
//! rustls can sign with — and stored as DER whatever form it came in, so its MD5 (what `+USECMNG`
//! prints) is the MD5 of the DER (docs/FIDELITY.md).

use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::fs::{check_name, md5_hex};

/// At most this many items, of all types together (SARA-R4 manual: up to 16).
pub const MAX_ITEMS: usize = 16;
/// Largest item accepted (PEM or DER), bytes.
pub const MAX_ITEM_SIZE: usize = 16 * 1024;

/// What an item is (`<type>` of `+USECMNG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    RootCa,
    ClientCert,
    ClientKey,
    ServerCert,
}

impl Kind {
    pub fn from_code(code: i64) -> Option<Kind> {
        Some(match code {
            0 => Kind::RootCa,
            1 => Kind::ClientCert,
            2 => Kind::ClientKey,
            3 => Kind::ServerCert,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Kind::RootCa => 0,
            Kind::ClientCert => 1,
            Kind::ClientKey => 2,
            Kind::ServerCert => 3,
        }
    }

    /// The tag of `AT+USECMNG=3`'s list.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::RootCa => "CA",
            Kind::ClientCert => "CC",
            Kind::ClientKey => "PK",
            Kind::ServerCert => "SC",
        }
    }

    fn dir(self) -> &'static str {
        self.tag()
    }

    const ALL: [Kind; 4] = [
        Kind::RootCa,
        Kind::ClientCert,
        Kind::ClientKey,
        Kind::ServerCert,
    ];
}

/// Why an item was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("invalid name")]
    Name,
    #[error("not a valid certificate")]
    NotACertificate,
    #[error("not a valid private key")]
    NotAKey,
    #[error("the key is encrypted and the password does not open it")]
    WrongPassword,
    #[error("the store is full")]
    Full,
    #[error("too large")]
    TooLarge,
    #[error("no such item")]
    NotFound,
    #[error("store folder: {0}")]
    Io(String),
}

/// One item in `AT+USECMNG=3`'s list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub kind: Kind,
    pub name: String,
    /// Subject and expiry (`YYYY/MM/DD HH:MM:SS`) of certificates.
    pub subject_expiry: Option<(String, String)>,
}

/// The store. Cheap to create; every call reads or writes the folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store that lives next to the module file system in `fs_root`.
    pub fn beside(fs_root: &Path) -> Store {
        Store {
            root: fs_root.join(".ubxftp-security"),
        }
    }

    fn path(&self, kind: Kind, name: &str) -> PathBuf {
        self.root.join(kind.dir()).join(name)
    }

    fn count(&self) -> usize {
        self.list().map(|l| l.len()).unwrap_or(0)
    }

    /// Checks and stores an item given as PEM or DER; returns the MD5 (hex) of the DER stored.
    /// An encrypted PKCS#8 key is opened with `password` and stored decrypted. An item of the
    /// same type and name is replaced. The store is unchanged on any error.
    pub fn import(
        &self,
        kind: Kind,
        name: &[u8],
        data: &[u8],
        password: Option<&[u8]>,
    ) -> Result<String, StoreError> {
        let name = check_name(name).map_err(|_| StoreError::Name)?;
        if data.len() > MAX_ITEM_SIZE {
            return Err(StoreError::TooLarge);
        }
        let der = match kind {
            Kind::ClientKey => key_der(data, password)?,
            _ => certificate_der(data)?,
        };
        let path = self.path(kind, name);
        if !path.exists() && self.count() >= MAX_ITEMS {
            return Err(StoreError::Full);
        }
        let io = |e: std::io::Error| StoreError::Io(e.to_string());
        std::fs::create_dir_all(path.parent().unwrap_or(&self.root)).map_err(io)?;
        // Write then rename: a failure never leaves half an item. The temporary name has the
        // reserved prefix, so it can be no item's name and is never listed.
        let tmp = path.with_file_name(format!(".ubxftp-tmp-{name}"));
        std::fs::write(&tmp, &der).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(md5_hex(&der))
    }

    /// The DER of an item.
    pub fn read(&self, kind: Kind, name: &str) -> Result<Vec<u8>, StoreError> {
        let name = check_name(name.as_bytes()).map_err(|_| StoreError::Name)?;
        std::fs::read(self.path(kind, name)).map_err(|_| StoreError::NotFound)
    }

    pub fn md5(&self, kind: Kind, name: &[u8]) -> Result<String, StoreError> {
        let name = check_name(name).map_err(|_| StoreError::Name)?;
        self.read(kind, name).map(|der| md5_hex(&der))
    }

    pub fn remove(&self, kind: Kind, name: &[u8]) -> Result<(), StoreError> {
        let name = check_name(name).map_err(|_| StoreError::Name)?;
        std::fs::remove_file(self.path(kind, name)).map_err(|_| StoreError::NotFound)
    }

    /// Every item, by type then name.
    pub fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let mut items = Vec::new();
        for kind in Kind::ALL {
            let dir = self.root.join(kind.dir());
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| check_name(n.as_bytes()).is_ok())
                .collect();
            names.sort();
            for name in names {
                let subject_expiry = match kind {
                    Kind::ClientKey => None,
                    _ => self
                        .read(kind, &name)
                        .ok()
                        .and_then(|der| subject_and_expiry(&der)),
                };
                items.push(Listed {
                    kind,
                    name,
                    subject_expiry,
                });
            }
        }
        Ok(items)
    }
}

/// Checks an item name as the module checks file names.
pub fn check_item_name(name: &[u8]) -> Result<&str, StoreError> {
    check_name(name).map_err(|_| StoreError::Name)
}

/// The PEM label of a stored key (its DER says which form it is).
pub fn key_label(der: &[u8]) -> &'static str {
    match PrivateKeyDer::try_from(der.to_vec()) {
        Ok(PrivateKeyDer::Pkcs1(_)) => "RSA PRIVATE KEY",
        Ok(PrivateKeyDer::Sec1(_)) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    }
}

/// A certificate as DER: the first `CERTIFICATE` of a PEM text, or DER as it is.
fn certificate_der(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    let der = if looks_like_pem(data) {
        let mut reader = data;
        match rustls_pemfile::certs(&mut reader).next() {
            Some(Ok(cert)) => cert.to_vec(),
            _ => return Err(StoreError::NotACertificate),
        }
    } else {
        data.to_vec()
    };
    match X509Certificate::from_der(&der) {
        Ok(([], _)) => Ok(der),
        _ => Err(StoreError::NotACertificate),
    }
}

/// A private key as DER (PKCS#8, PKCS#1 or SEC1), one rustls can sign with. An encrypted
/// PKCS#8 key (`ENCRYPTED PRIVATE KEY`, PBES2) is decrypted with `password` first.
fn key_der(data: &[u8], password: Option<&[u8]>) -> Result<Vec<u8>, StoreError> {
    let decrypted;
    let data = if looks_like_pem(data) && contains(data, b"ENCRYPTED PRIVATE KEY") {
        let der = pem_body(data, "ENCRYPTED PRIVATE KEY").ok_or(StoreError::NotAKey)?;
        decrypted = decrypt_pkcs8(&der, password.unwrap_or_default())?;
        &decrypted[..]
    } else if looks_like_pem(data) && contains(data, b"ENCRYPTED") {
        // Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`): not supported.
        return Err(StoreError::NotAKey);
    } else if !looks_like_pem(data) && pkcs8::EncryptedPrivateKeyInfo::try_from(data).is_ok() {
        decrypted = decrypt_pkcs8(data, password.unwrap_or_default())?;
        &decrypted[..]
    } else {
        data
    };
    let key: PrivateKeyDer<'static> = if looks_like_pem(data) {
        let mut reader = data;
        match rustls_pemfile::private_key(&mut reader) {
            Ok(Some(key)) => key,
            _ => return Err(StoreError::NotAKey),
        }
    } else {
        PrivateKeyDer::try_from(data.to_vec()).map_err(|_| StoreError::NotAKey)?
    };
    rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| StoreError::NotAKey)?;
    Ok(key.secret_der().to_vec())
}

/// Most PBKDF2 iterations an imported key may ask for (OpenSSL writes 2048, current guidance is
/// 600 000): more could keep the module busy for minutes.
const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Most scrypt work an imported key may ask for: N ≤ 2^20, r × p ≤ 16 (about 16 MiB × r).
const MAX_SCRYPT_N: u64 = 1 << 20;

/// Opens an encrypted PKCS#8 key (DER); the plain PKCS#8 DER. Key-derivation costs beyond
/// [`MAX_PBKDF2_ITERATIONS`] / [`MAX_SCRYPT_N`] are refused before any work is done.
fn decrypt_pkcs8(der: &[u8], password: &[u8]) -> Result<Vec<u8>, StoreError> {
    use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|_| StoreError::NotAKey)?;
    let affordable = match &info.encryption_algorithm {
        EncryptionScheme::Pbes2(params) => match &params.kdf {
            Kdf::Pbkdf2(p) => p.iteration_count <= MAX_PBKDF2_ITERATIONS,
            Kdf::Scrypt(p) => {
                p.cost_parameter <= MAX_SCRYPT_N
                    && u32::from(p.block_size) * u32::from(p.parallelization) <= 16
            }
            _ => false,
        },
        _ => false,
    };
    if !affordable {
        return Err(StoreError::NotAKey);
    }
    let plain = info
        .decrypt(password)
        .map_err(|_| StoreError::WrongPassword)?;
    Ok(plain.as_bytes().to_vec())
}

/// The base64 body of the first `label` block of a PEM text, decoded.
fn pem_body(data: &[u8], label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(data).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn looks_like_pem(data: &[u8]) -> bool {
    contains(data, b"-----BEGIN ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Subject (RFC 4514 text) and `notAfter` as `YYYY/MM/DD HH:MM:SS` of a DER certificate.
fn subject_and_expiry(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject().to_string().replace('"', "'");
    let t = cert.validity().not_after.to_datetime();
    let expiry = format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Some((subject, expiry))
}

/// A stored certificate, for rustls.
pub fn certificate(der: Vec<u8>) -> CertificateDer<'static> {
    CertificateDer::from(der)
}
