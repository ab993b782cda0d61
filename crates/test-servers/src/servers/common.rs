//! What the server modules share: the test login, the context an instance is configured with,
//! what a launch hands back, and small file-system helpers.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::process::ServerProcess;
use crate::tls::TlsFiles;
use crate::{AccountLogin, Error, Kind, Result, io_err};

/// The login every server except vsftpd (system user `ftptest`) uses.
pub(crate) const USER: &str = "test";
pub(crate) const PASSWORD: &str = "secret";
/// `PASSWORD` as a SHA-512 crypt(3) hash (`openssl passwd -6 -salt ubxftptestsalt secret`), for
/// the password files of pure-ftpd and proftpd. Written directly instead of with the servers' own
/// tools: `pure-pw` hashes with argon2id at a cost that makes every login take ~3.5 s here.
pub(crate) const PASSWORD_CRYPT: &str = "$6$ubxftptestsalt$Vydo0XZvUeK39vZpPv0qVz7RlkVMlKl0KuOzmywT.xT1vJsT.uz6DeYMU2NzMWyNLxJD8BYGZMOUUWcVtoO3S/";

/// What a server module needs to know to configure an instance.
pub(crate) struct Ctx<'a> {
    /// Instance directory (config, logs, state); removed on drop.
    pub dir: &'a Path,
    pub addr: SocketAddr,
    pub passive: RangeInclusive<u16>,
    pub tls: Option<&'a TlsFiles>,
    /// Roots a client certificate must chain to (TLS only; see `ServerOptions::client_ca_pem`).
    pub client_ca: Option<&'a Path>,
    pub idle: Duration,
    /// Install prefix (`<prefix>/servers`, `<prefix>/venv`).
    pub prefix: PathBuf,
}

impl Ctx<'_> {
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

/// What a server module hands back.
pub(crate) struct Launched {
    pub handle: Handle,
    pub root: PathBuf,
    pub user: String,
    pub password: String,
    pub account_login: Option<AccountLogin>,
    pub logs: Vec<PathBuf>,
    /// uid/gid the server writes files as (for [`RunningServer::put_file`]); `None` = ours.
    pub file_owner: Option<(u32, u32)>,
}

/// The running thing: a child process group, or libunftp's thread.
#[derive(Debug)]
pub(crate) enum Handle {
    Process(ServerProcess),
    InProcess(UnftpHandle),
}

impl Handle {
    pub fn pid(&self) -> Option<u32> {
        match self {
            Handle::Process(p) => p.pid(),
            Handle::InProcess(_) => None,
        }
    }

    pub fn signal(&self, kind: Kind, op: &'static str, signal: Signal) -> Result<()> {
        match self {
            Handle::Process(p) => p.signal(signal),
            Handle::InProcess(_) => Err(Error::Unsupported { op, kind }),
        }
    }

    pub fn kill(&mut self) {
        match self {
            Handle::Process(p) => p.kill(),
            Handle::InProcess(h) => h.stop(),
        }
    }

    pub fn exited(&mut self) -> Option<String> {
        match self {
            Handle::Process(p) => p.exited(),
            Handle::InProcess(h) => h.exited(),
        }
    }
}

/// The server thread and the switch that stops it.
#[derive(Debug)]
pub(crate) struct UnftpHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl UnftpHandle {
    pub fn new(stop: tokio::sync::oneshot::Sender<()>, thread: JoinHandle<()>) -> Self {
        UnftpHandle {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    pub fn exited(&mut self) -> Option<String> {
        match &self.thread {
            Some(t) if t.is_finished() => Some("thread ended".into()),
            Some(_) => None,
            None => Some("stopped".into()),
        }
    }
}

impl Drop for UnftpHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// uid/gid of a system account that must exist (`ftp` from the vsftpd package, `ftptest` from
/// `scripts/install-test-deps`).
pub(crate) fn system_user(name: &'static str) -> Result<(u32, u32)> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok((user.uid.as_raw(), user.gid.as_raw())),
        Ok(None) => Err(Error::NotInstalled {
            what: "system user (created by scripts/install-test-deps)",
            path: PathBuf::from(format!("/etc/passwd entry {name}")),
        }),
        Err(e) => Err(Error::Setup(format!("getpwnam({name}): {e}"))),
    }
}

/// The `ftp` system account (created by the vsftpd package) that pure-ftpd and proftpd run
/// sessions as.
pub(crate) fn ftp_account() -> Result<(u32, u32)> {
    system_user("ftp")
}

/// Create `dir/name` owned by `owner` (uid, gid) with `mode`.
pub(crate) fn make_dir(dir: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("mkdir {}", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(io_err(format!("chmod {}", dir.display())))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(io_err(format!("chown {}", dir.display())))?;
    }
    Ok(())
}

pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, contents).map_err(io_err(format!("write {}", path.display())))
}
