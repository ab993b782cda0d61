//! One module per server: each writes its configuration into the instance directory and
//! launches the server; the shared part (ports, temp dir, readiness) lives here.

mod common;
mod proftpd;
mod pureftpd;
mod pyftpdlib;
mod unftp;
mod vsftpd;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::process::wait_ready;
use crate::{Error, Kind, Result, RunningServer, ServerOptions, io_err, ports};
pub(crate) use common::Handle;
use common::{Ctx, make_dir};

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
