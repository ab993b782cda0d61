//! One module per server: each writes its configuration into the instance directory and
//! launches the server; the shared part (ports, temp dir, readiness) lives here.

mod proftpd;
mod pureftpd;
mod pyftpdlib;
mod unftp;
mod vsftpd;

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::process::{ServerProcess, wait_ready};
use crate::tls::TlsFiles;
use crate::{AccountLogin, Error, Kind, Result, RunningServer, ServerOptions, io_err, ports};

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
    InProcess(unftp::UnftpHandle),
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

    fn exited(&mut self) -> Option<String> {
        match self {
            Handle::Process(p) => p.exited(),
            Handle::InProcess(h) => h.exited(),
        }
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

pub(crate) fn start(kind: Kind, opts: &ServerOptions, ip: IpAddr) -> Result<RunningServer> {
    // A block's ports are bind-probed when it is locked, yet a bind can still find one taken
    // (seen once: libunftp's control port, in a full parallel test run). Another block then.
    let mut attempts = 3;
    loop {
        match start_once(kind, opts, ip) {
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse && attempts > 1 =>
            {
                attempts -= 1;
            }
            other => return other,
        }
    }
}

fn start_once(kind: Kind, opts: &ServerOptions, ip: IpAddr) -> Result<RunningServer> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("ubxftp-{}-", kind.name()))
        .tempdir()
        .map_err(io_err("create instance temp dir"))?;
    // Servers that drop privileges must be able to traverse into their root.
    make_dir(dir.path(), 0o755, None)?;
    let block = ports::allocate(ip)?;
    let tls = match (opts.tls, &opts.server_cert) {
        (false, _) => None,
        (true, None) => Some(crate::tls::tls_files()?),
        (true, Some((cert, key))) => {
            // pure-ftpd wants certificate and key in one file.
            let combined = dir.path().join("server-combined.pem");
            let mut both = std::fs::read(cert).map_err(io_err("read server_cert"))?;
            both.extend(std::fs::read(key).map_err(io_err("read server_cert key"))?);
            std::fs::write(&combined, both).map_err(io_err("write combined pem"))?;
            Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                combined,
            })
        }
    };
    let ctx = Ctx {
        dir: dir.path(),
        addr: SocketAddr::new(ip, block.control()),
        passive: block.passive(),
        tls: tls.as_ref(),
        client_ca: opts.client_ca_pem.as_deref(),
        idle: opts.idle_timeout.unwrap_or(Duration::from_secs(120)),
        prefix: opts
            .install_prefix
            .clone()
            .unwrap_or_else(crate::install_prefix),
    };
    let mut launched = match kind {
        Kind::Vsftpd => vsftpd::launch(&ctx)?,
        Kind::PureFtpd => pureftpd::launch(&ctx)?,
        Kind::Proftpd => proftpd::launch(&ctx)?,
        Kind::Pyftpdlib => pyftpdlib::launch(&ctx)?,
        Kind::Libunftp => unftp::launch(&ctx)?,
    };
    let handle = &mut launched.handle;
    wait_ready(kind, ctx.addr, &launched.logs, || handle.exited())?;
    Ok(RunningServer {
        kind,
        addr: ctx.addr,
        user: launched.user,
        password: launched.password,
        account_login: launched.account_login,
        root: launched.root,
        cert_pem: tls.map(|t| t.cert),
        logs: launched.logs,
        passive_ports: block.passive(),
        file_owner: launched.file_owner,
        inner: launched.handle,
        _ports: block,
        _dir: dir,
    })
}
