//! `ubxftp ftp-server`: a real FTP server on loopback for tests that run the binary (the pytest
//! plugin's `ubx_ftp_server` fixture, a shell script): the test suite's in-process libunftp
//! ([`test_servers::Kind::Libunftp`]), on a control port and passive range locked for it, serving
//! a fresh folder that is removed when it stops.
//!
//! ```text
//! $ ubxftp ftp-server
//! ftp://127.0.0.1:20032
//! user: test
//! password: secret
//! folder: /tmp/.tmpAbC123/root
//! ```
//!
//! The password is the fixed one of the test servers, not a secret: the server listens on
//! loopback only. Files put into the folder are served at once; uploads land there.

use test_servers::{Kind, ServerOptions};

use crate::anyhow_like::Result;

/// `ubxftp ftp-server`: no options; everything it serves is printed.
#[derive(clap::Args)]
pub struct FtpServerArgs {}

/// Starts the server, prints its address, login and folder, and serves until SIGINT/SIGTERM.
pub async fn run(_args: FtpServerArgs) -> Result<()> {
    // Handlers first, so a signal that arrives as soon as the ready lines are printed is caught.
    let stop = crate::shutdown_signal().map_err(|e| format!("signals: {e}"))?;
    let server = test_servers::start(Kind::Libunftp, ServerOptions::default())
        .await
        .map_err(|e| format!("ftp-server: {e}"))?;
    println!("ftp://{}", server.addr);
    println!("user: {}", server.user);
    println!("password: {}", server.password);
    println!("folder: {}", server.root.display());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    stop.await;
    tracing::info!("signal: stopping the FTP server");
    // Dropping the server stops it and removes its folder.
    drop(server);
    Ok(())
}
