//! vsftpd 3.0.3 (Debian package, `/usr/sbin/vsftpd`).
//!
//! vsftpd's named users are system accounts checked through PAM (`/etc/pam.d/vsftpd`), so the
//! login is the system user `ftptest` / `secret` that `scripts/install-test-deps` creates (shell
//! `/bin/sh`, which `pam_shells` requires). Each instance jails it into its own root with
//! `chroot_local_user=YES` + `local_root=<root>` + `allow_writeable_chroot=YES`, so the jail root is
//! writable. Anonymous login is off: vsftpd 3.0.3 refuses a writable chroot root for anonymous
//! users whatever `allow_writeable_chroot` says ("500 OOPS: vsftpd: refusing to run with writable
//! root inside chroot()"), and the anonymous user would not check its password.
//!
//! In TLS mode `require_ssl_reuse=YES` (vsftpd's default, written out for clarity): a data
//! connection whose TLS session is not resumed from the control connection gets
//! `522 SSL connection failed: session reuse required`. `debug_ssl=YES` logs "reused" per data
//! connection into the protocol log.

use std::path::Path;
use std::process::Command;

use super::common::{Ctx, Handle, Launched, make_dir, system_user, write_file};
use crate::process::{ServerProcess, require};
use crate::{Kind, Result};

const BIN: &str = "/usr/sbin/vsftpd";
/// System account created by `scripts/install-test-deps` (password [`super::common::PASSWORD`]).
pub(crate) const USER: &str = "ftptest";

pub(crate) fn launch(ctx: &Ctx<'_>) -> Result<Launched> {
    let bin = Path::new(BIN);
    require("vsftpd", bin)?;
    let owner = system_user(USER)?;
    let root = ctx.dir.join("root");
    make_dir(&root, 0o755, Some(owner))?;
    let empty = ctx.dir.join("empty");
    make_dir(&empty, 0o755, None)?;
    let protocol_log = ctx.dir.join("vsftpd.log");
    let output_log = ctx.dir.join("output.log");

    let (first, last) = (*ctx.passive.start(), *ctx.passive.end());
    let mut conf = String::new();
    let mut set = |k: &str, v: &str| {
        conf.push_str(k);
        conf.push('=');
        conf.push_str(v);
        conf.push('\n');
    };
    if ctx.is_ipv6() {
        set("listen", "NO");
        set("listen_ipv6", "YES");
        set("listen_address6", &ctx.addr.ip().to_string());
    } else {
        set("listen", "YES");
        set("listen_ipv6", "NO");
        set("listen_address", &ctx.addr.ip().to_string());
        set("pasv_address", &ctx.addr.ip().to_string());
    }
    set("listen_port", &ctx.addr.port().to_string());
    set("background", "NO");
    set("anonymous_enable", "NO");
    set("local_enable", "YES");
    set("pam_service_name", "vsftpd");
    set("local_root", &root.display().to_string());
    set("chroot_local_user", "YES");
    set("allow_writeable_chroot", "YES");
    set("write_enable", "YES");
    set("local_umask", "022");
    set("pasv_enable", "YES");
    set("pasv_min_port", &first.to_string());
    set("pasv_max_port", &last.to_string());
    set("port_enable", "YES");
    set("connect_from_port_20", "NO");
    set("secure_chroot_dir", &empty.display().to_string());
    set("seccomp_sandbox", "NO");
    set("xferlog_enable", "YES");
    set("vsftpd_log_file", &protocol_log.display().to_string());
    set("log_ftp_protocol", "YES");
    set(
        "idle_session_timeout",
        &ctx.idle.as_secs().max(1).to_string(),
    );
    set("data_connection_timeout", "60");
    set("delay_failed_login", "0");
    set("max_per_ip", "0");
    set("max_clients", "0");
    if let Some(tls) = ctx.tls {
        set("ssl_enable", "YES");
        set("rsa_cert_file", &tls.cert.display().to_string());
        set("rsa_private_key_file", &tls.key.display().to_string());
        set("allow_anon_ssl", "YES");
        set("force_anon_logins_ssl", "NO");
        set("force_anon_data_ssl", "NO");
        set("force_local_logins_ssl", "NO");
        set("force_local_data_ssl", "NO");
        set("require_ssl_reuse", "YES");
        match ctx.client_ca {
            Some(ca) => {
                set("ssl_request_cert", "YES");
                set("require_cert", "YES");
                set("validate_cert", "YES");
                set("ca_certs_file", &ca.display().to_string());
            }
            None => set("ssl_request_cert", "NO"),
        }
        set("ssl_ciphers", "HIGH");
        set("debug_ssl", "YES");
    }
    let conf_path = ctx.dir.join("vsftpd.conf");
    write_file(&conf_path, conf)?;

    let mut cmd = Command::new(bin);
    cmd.arg(&conf_path);
    let process = ServerProcess::spawn(Kind::Vsftpd, cmd, &output_log)?;
    Ok(Launched {
        handle: Handle::Process(process),
        root,
        user: USER.into(),
        password: super::common::PASSWORD.into(),
        account_login: None,
        logs: vec![protocol_log, output_log],
        file_owner: Some(owner),
    })
}
