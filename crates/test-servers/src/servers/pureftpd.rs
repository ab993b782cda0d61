//! pure-ftpd 1.0.50 (Debian package unpacked under `<prefix>/servers`).
//!
//! Configured entirely by command-line flags. The login is a *virtual* user from a PureDB file
//! made per instance with `pure-pw mkdb` (`test` / `secret`, SHA-512 crypt hash), mapped to the `ftp` system account and
//! chrooted into the instance root. Anonymous login is off (`-E`). TLS (`-Y 1`) is optional for the
//! client, with the certificate and key in one PEM file (`-2`). pure-ftpd logs to syslog only, which
//! nothing collects here, so the logs are its stdout/stderr and the transfer log (`-O clf:`).
//! Quirks: `AUTH SSL` gets 500 (only `AUTH TLS`), `ACCT` gets 202, TLS session reuse is not
//! required.

use std::process::Command;

use super::common::{
    Ctx, Handle, Launched, PASSWORD, PASSWORD_CRYPT, USER, ftp_account, make_dir, write_file,
};
use crate::process::{ServerProcess, require, run_setup};
use crate::{Kind, Result};

pub(crate) fn launch(ctx: &Ctx<'_>) -> Result<Launched> {
    let servers = ctx.prefix.join("servers");
    let bin = servers.join("usr/sbin/pure-ftpd");
    let pure_pw = servers.join("usr/bin/pure-pw");
    require("pure-ftpd", &bin)?;
    require("pure-pw", &pure_pw)?;
    let ftp = ftp_account()?;
    let root = ctx.dir.join("root");
    make_dir(&root, 0o755, Some(ftp))?;
    let passwd = ctx.dir.join("pureftpd.passwd");
    let pdb = ctx.dir.join("pureftpd.pdb");
    let output_log = ctx.dir.join("output.log");
    let xfer_log = ctx.dir.join("xfer.log");

    // pure-pw's own passwd format; `<home>/./` = chroot into home.
    let (uid, gid) = ftp;
    let line = format!(
        "{USER}:{PASSWORD_CRYPT}:{uid}:{gid}::{}/./::::::::::::\n",
        root.display()
    );
    write_file(&passwd, line)?;
    let mut mkdb = Command::new(&pure_pw);
    mkdb.arg("mkdb").arg(&pdb).arg("-f").arg(&passwd);
    run_setup("pure-pw mkdb", &mut mkdb, None)?;

    let (first, last) = (*ctx.passive.start(), *ctx.passive.end());
    let mut cmd = Command::new(&bin);
    cmd.arg("-S")
        .arg(format!("{},{}", ctx.addr.ip(), ctx.addr.port()))
        .arg("-l")
        .arg(format!("puredb:{}", pdb.display()))
        .arg("-E") // no anonymous
        .arg("-H") // no DNS
        .arg("-d") // verbose
        .arg("-p")
        .arg(format!("{first}:{last}"))
        .arg("-I")
        .arg(ctx.idle.as_secs().div_ceil(60).max(1).to_string()) // minutes
        .arg("-O")
        .arg(format!("clf:{}", xfer_log.display()))
        .arg("-c")
        .arg("100")
        .arg("-C")
        .arg("100");
    if ctx.addr.is_ipv4() {
        cmd.arg("-P").arg(ctx.addr.ip().to_string());
    }
    match ctx.tls {
        Some(tls) => {
            cmd.arg("-Y").arg("1").arg("-2").arg(&tls.combined);
        }
        None => {
            cmd.arg("-Y").arg("0");
        }
    }
    let process = ServerProcess::spawn(Kind::PureFtpd, cmd, &output_log)?;
    Ok(Launched {
        handle: Handle::Process(process),
        root,
        user: USER.into(),
        password: PASSWORD.into(),
        account_login: None,
        logs: vec![output_log, xfer_log],
        file_owner: Some(ftp),
    })
}
