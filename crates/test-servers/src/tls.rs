//! The self-signed server certificate shared by all TLS test servers.
//!
//! One RSA-2048 certificate (RSA because every server here accepts it under its RSA options)
//! made with the `openssl` command line, for `CN=localhost` with SANs `DNS:localhost`,
//! `IP:127.0.0.1`, `IP:::1`. It is an end-entity certificate (`CA:FALSE`, `serverAuth`) because
//! webpki rejects a self-signed `CA:TRUE` certificate used as a server certificate
//! (`CaUsedAsEndEntity`), which is what `openssl req -x509` makes by default. A client that takes
//! the PEM as its only trust anchor verifies it fine.
//!
//! It is generated once per machine into `$TMPDIR/ubxftp-test-tls/` under a file lock (parallel
//! test processes wait for the first one) and regenerated when older than a week.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::{Error, Result, io_err};

/// Paths of the shared certificate files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate (PEM). Give this to a client as its trusted root.
    pub cert: PathBuf,
    /// The private key (PEM, unencrypted).
    pub key: PathBuf,
    /// Certificate followed by key in one file (pure-ftpd wants that).
    pub combined: PathBuf,
}

const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn tls_files() -> Result<TlsFiles> {
    static CACHE: Mutex<Option<TlsFiles>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(files) = cache.as_ref() {
        return Ok(files.clone());
    }
    let files = generate_or_reuse()?;
    *cache = Some(files.clone());
    Ok(files)
}

fn generate_or_reuse() -> Result<TlsFiles> {
    let dir = std::env::temp_dir().join("ubxftp-test-tls");
    std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        combined: dir.join("combined.pem"),
    };
    let lock_path = dir.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(format!("open {}", lock_path.display())))?;
    lock.lock()
        .map_err(io_err(format!("lock {}", lock_path.display())))?;

    let fresh = std::fs::metadata(&files.combined)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < MAX_AGE);
    if fresh && files.cert.exists() && files.key.exists() {
        return Ok(files);
    }

    let tmp_cert = dir.join(format!("cert.{}.tmp", std::process::id()));
    let tmp_key = dir.join(format!("key.{}.tmp", std::process::id()));
    let output = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
        ])
        .args(["-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&tmp_key)
        .arg("-out")
        .arg(&tmp_cert)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotInstalled {
                    what: "openssl",
                    path: PathBuf::from("openssl"),
                }
            } else {
                io_err("run openssl")(e)
            }
        })?;
    if !output.status.success() {
        return Err(Error::Setup(format!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let cert = std::fs::read(&tmp_cert).map_err(io_err("read generated cert"))?;
    let key = std::fs::read(&tmp_key).map_err(io_err("read generated key"))?;
    let tmp_combined = dir.join(format!("combined.{}.tmp", std::process::id()));
    std::fs::write(&tmp_combined, [cert, key].concat()).map_err(io_err("write combined.pem"))?;
    for (from, to) in [
        (&tmp_cert, &files.cert),
        (&tmp_key, &files.key),
        (&tmp_combined, &files.combined),
    ] {
        std::fs::rename(from, to).map_err(io_err(format!("rename to {}", to.display())))?;
    }
    Ok(files)
}
