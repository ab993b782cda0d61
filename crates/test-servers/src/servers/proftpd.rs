//! proftpd 1.3.8 (Debian packages `proftpd-core` + `proftpd-mod-crypto` unpacked under
//! `<prefix>/servers`; `mod_tls.so` comes from the latter and is loaded from there).
//!
//! The login `test` / `secret` comes from an `AuthUserFile` (passwd format, SHA-512 crypt hash),
//! mapped to the `ftp` system account and chrooted into the instance root (`DefaultRoot ~`).
//! In TLS mode TLS is optional for the client and proftpd's default reuse check stays on: a TLS
//! data connection that does not resume the control session is refused with
//! `425 Unable to build data connection: Operation not permitted` ("client did not reuse TLS
//! session" in `tls.log`). rustls clients using TLS 1.3 hit this on every 4th data connection
//! (see shared/interop/ftp-ecosystem.md §1); TLS 1.2 works.

use std::process::Command;

use super::common::{
    Ctx, Handle, Launched, PASSWORD, PASSWORD_CRYPT, USER, ftp_account, make_dir, write_file,
};
use crate::process::{ServerProcess, require};
use crate::{Kind, Result};

pub(crate) fn launch(ctx: &Ctx<'_>) -> Result<Launched> {
    let servers = ctx.prefix.join("servers");
    let bin = servers.join("usr/sbin/proftpd");
    let modules = servers.join("usr/lib/proftpd");
    require("proftpd", &bin)?;
    if ctx.tls.is_some() {
        require("proftpd mod_tls", &modules.join("mod_tls.so"))?;
    }
    let ftp = ftp_account()?;
    let (uid, gid) = ftp;
    let root = ctx.dir.join("root");
    make_dir(&root, 0o755, Some(ftp))?;
    let state = ctx.dir.join("state");
    make_dir(&state, 0o755, None)?;
    let passwd = ctx.dir.join("ftpd.passwd");
    write_file(
        &passwd,
        format!(
            "{USER}:{PASSWORD_CRYPT}:{uid}:{gid}::{}:/bin/false\n",
            root.display()
        ),
    )?;
    std::fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(crate::io_err("chmod passwd"))?;
    let system_log = ctx.dir.join("system.log");
    let xfer_log = ctx.dir.join("xfer.log");
    let tls_log = ctx.dir.join("tls.log");
    let output_log = ctx.dir.join("output.log");
    let d = |p: &std::path::Path| p.display().to_string();

    let (first, last) = (*ctx.passive.start(), *ctx.passive.end());
    let ipv6 = ctx.is_ipv6();
    let mut conf = format!(
        r#"ServerName            "proftpd-test"
ServerType            standalone
DefaultServer         on
Port                  {port}
DefaultAddress        {ip}
SocketBindTight       on
UseIPv6               {use_ipv6}
User                  ftp
Group                 nogroup
Umask                 022
PassivePorts          {first} {last}
PidFile               {state}/proftpd.pid
ScoreboardFile        {state}/proftpd.scoreboard
DelayTable            {state}/proftpd.delay
WtmpLog               off
UseReverseDNS         off
SystemLog             {system_log}
TransferLog           {xfer_log}
TimeoutIdle           {idle}
MaxInstances          200
AllowOverwrite        on
AllowRetrieveRestart  on
AllowStoreRestart     on
AuthOrder             mod_auth_file.c mod_auth_unix.c
AuthUserFile          {passwd}
RequireValidShell     off
DefaultRoot           ~
"#,
        port = ctx.addr.port(),
        ip = ctx.addr.ip(),
        use_ipv6 = if ipv6 { "on" } else { "off" },
        state = d(&state),
        system_log = d(&system_log),
        xfer_log = d(&xfer_log),
        idle = ctx.idle.as_secs().max(1),
        passwd = d(&passwd),
    );
    if !ipv6 {
        conf.push_str(&format!("MasqueradeAddress     {}\n", ctx.addr.ip()));
    }
    if let Some(tls) = ctx.tls {
        conf.push_str(&format!(
            r#"ModulePath            {modules}
LoadModule            mod_tls.c
<IfModule mod_tls.c>
  TLSEngine                on
  TLSLog                   {tls_log}
  TLSProtocol              TLSv1.2 TLSv1.3
  TLSRSACertificateFile    {cert}
  TLSRSACertificateKeyFile {key}
  TLSRequired              off
  TLSVerifyClient          off
  TLSOptions               EnableDiags
</IfModule>
"#,
            modules = d(&modules),
            tls_log = d(&tls_log),
            cert = d(&tls.cert),
            key = d(&tls.key),
        ));
    }
    let conf_path = ctx.dir.join("proftpd.conf");
    write_file(&conf_path, conf)?;

    let mut cmd = Command::new(&bin);
    cmd.arg("-n").arg("-c").arg(&conf_path);
    let process = ServerProcess::spawn(Kind::Proftpd, cmd, &output_log)?;
    let mut logs = vec![output_log, system_log, xfer_log];
    if ctx.tls.is_some() {
        logs.push(tls_log);
    }
    Ok(Launched {
        handle: Handle::Process(process),
        root,
        user: USER.into(),
        password: PASSWORD.into(),
        account_login: None,
        logs,
        file_owner: Some(ftp),
    })
}
