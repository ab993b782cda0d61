//! The self-signed server certificate shared by all TLS test servers.
//!
//! One RSA-2048 certificate (RSA because every server here accepts it under its RSA options)
//! made with the `openssl` command line, for `CN=localhost` with SANs `DNS:localhost`,
//! `IP:127.0.0.1`, `IP:::1`. It is an end-entity certificate (`CA:FALSE`, `serverAuth`) because
//! webpki rejects a self-signed `CA:TRUE` certificate used as a server certificate
//! (`CaUsedAsEndEntity`), which is what `openssl req -x509` makes by default. A client that takes
//! the PEM as its only trust anchor verifies it fine.
//!
//! It is generated once per machine under a file lock (parallel test processes wait for the first
//! one) into `$TMPDIR/ubxftp-test-tls/<unix-time>/`, and `$TMPDIR/ubxftp-test-tls/current` is
//! a symlink to the newest set. A set older than [`MAX_AGE`] is replaced by a new directory, never
//! rewritten in place, so paths already handed out stay valid and cert and key always match.

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

/// Age after which a new certificate is made (it is valid for 365 days).
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

fn files_in(dir: &std::path::Path) -> TlsFiles {
    TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        combined: dir.join("combined.pem"),
    }
}

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
    let base = std::env::temp_dir().join("ubxftp-test-tls");
    std::fs::create_dir_all(&base).map_err(io_err(format!("create {}", base.display())))?;
    let lock_path = base.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(format!("open {}", lock_path.display())))?;
    lock.lock()
        .map_err(io_err(format!("lock {}", lock_path.display())))?;

    let current = base.join("current");
    if let Ok(target) = std::fs::read_link(&current) {
        let dir = base.join(target);
        let files = files_in(&dir);
        let fresh = std::fs::metadata(&files.combined)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < MAX_AGE);
        if fresh && files.cert.exists() && files.key.exists() {
            return Ok(files);
        }
    }

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("{stamp}-{}", std::process::id());
    let dir = base.join(&name);
    std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    let files = files_in(&dir);
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
        .arg(&files.key)
        .arg("-out")
        .arg(&files.cert)
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
    let cert = std::fs::read(&files.cert).map_err(io_err("read generated cert"))?;
    let key = std::fs::read(&files.key).map_err(io_err("read generated key"))?;
    std::fs::write(&files.combined, [cert, key].concat()).map_err(io_err("write combined.pem"))?;
    // Point `current` at the new set atomically (symlink under a temp name, then rename).
    let tmp_link = base.join(format!("current.{name}.tmp"));
    std::os::unix::fs::symlink(&name, &tmp_link).map_err(io_err("symlink current"))?;
    std::fs::rename(&tmp_link, &current).map_err(io_err("rename current"))?;
    Ok(files)
}
