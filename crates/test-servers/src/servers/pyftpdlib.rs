//! pyftpdlib 2.2.0 (PyPI, in the venv `<prefix>/venv`) running `py/ftpd.py`.
//!
//! The script is compiled into this crate and written into each instance directory. Logins:
//! `test` / `secret`, and `acctuser` / `secret` which must also send `ACCT acme` (`332` after
//! `PASS`; a wrong account gets `530`) — pyftpdlib has no ACCT of its own, the script adds it by
//! subclassing the handler. The server runs as root without chroot; the user's home is the
//! instance root. TLS is optional for the client; reuse is not required. pyftpdlib logs every
//! command and reply to its log file.

use std::process::Command;

use super::common::{Ctx, Handle, Launched, PASSWORD, USER, make_dir, write_file};
use crate::process::{ServerProcess, require};
use crate::{AccountLogin, Kind, Result};

const SCRIPT: &str = include_str!("../../py/ftpd.py");
const ACCT_USER: &str = "acctuser";
const ACCOUNT: &str = "acme";

pub(crate) fn launch(ctx: &Ctx<'_>) -> Result<Launched> {
    let python = ctx.prefix.join("venv/bin/python3");
    require("python venv with pyftpdlib", &python)?;
    let root = ctx.dir.join("root");
    make_dir(&root, 0o755, None)?;
    let script = ctx.dir.join("ftpd.py");
    write_file(&script, SCRIPT)?;
    let log = ctx.dir.join("pyftpdlib.log");
    let output_log = ctx.dir.join("output.log");

    let mut cmd = Command::new(&python);
    cmd.arg("-u")
        .arg(&script)
        .arg("--host")
        .arg(ctx.addr.ip().to_string())
        .arg("--port")
        .arg(ctx.addr.port().to_string())
        .arg("--root")
        .arg(&root)
        .arg("--user")
        .arg(USER)
        .arg("--password")
        .arg(PASSWORD)
        .arg("--acct-user")
        .arg(ACCT_USER)
        .arg("--account")
        .arg(ACCOUNT)
        .arg("--passive-ports")
        .arg(format!("{}-{}", ctx.passive.start(), ctx.passive.end()))
        .arg("--idle")
        .arg(ctx.idle.as_secs().max(1).to_string())
        .arg("--log")
        .arg(&log);
    if let Some(tls) = ctx.tls {
        cmd.arg("--certfile")
            .arg(&tls.cert)
            .arg("--keyfile")
            .arg(&tls.key);
    }
    let process = ServerProcess::spawn(Kind::Pyftpdlib, cmd, &output_log)?;
    Ok(Launched {
        handle: Handle::Process(process),
        root,
        user: USER.into(),
        password: PASSWORD.into(),
        account_login: Some(AccountLogin {
            user: ACCT_USER.into(),
            password: PASSWORD.into(),
            account: ACCOUNT.into(),
        }),
        logs: vec![log, output_log],
        file_owner: None,
    })
}
