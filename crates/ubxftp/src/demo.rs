//! `ubxftp demo`: the whole FTP service in one command, nothing to install.
//!
//! It starts an FTP server inside the process (libunftp, on loopback, serving a temporary folder
//! with a few sample files), a module whose FTP profile already points at that server, and the
//! console as the module's AT terminal, then prints the AT lines to try. The profile is set the
//! way a host would set it — by AT commands on a terminal of the module — so what the console
//! shows with `AT+UFTP?` is exactly what a driver would have configured.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use ubx_transcript::Transcript;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};

use crate::anyhow_like::Result;
use crate::{ModuleArgs, TransportArgs};

/// The demo server's only login.
const USER: &str = "demo";
const PASSWORD: &str = "demo";

#[derive(Debug)]
struct DemoLogin;

#[async_trait::async_trait]
impl Authenticator for DemoLogin {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> std::result::Result<Principal, AuthenticationError> {
        match (username, creds.password.as_deref()) {
            (USER, Some(PASSWORD)) => Ok(Principal {
                username: username.to_string(),
            }),
            (USER, _) => Err(AuthenticationError::BadPassword),
            _ => Err(AuthenticationError::BadUser),
        }
    }
}

fn write_samples(root: &Path) -> std::io::Result<()> {
    std::fs::write(
        root.join("readme.txt"),
        b"Hello from the ubxftp demo server!\n",
    )?;
    std::fs::create_dir_all(root.join("logs"))?;
    std::fs::write(
        root.join("logs/sensor.csv"),
        b"time,temperature\n0,21.5\n60,21.7\n120,21.6\n",
    )?;
    let firmware: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(root.join("firmware.bin"), firmware)?;
    Ok(())
}

/// Starts libunftp on 127.0.0.1 with a free port; returns its address.
async fn start_server(root: &Path) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let root = root.to_path_buf();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let root = root.clone();
            let server = libunftp::ServerBuilder::with_authenticator(
                Box::new(move || {
                    unftp_sbe_fs::Filesystem::new(root.clone())
                        .unwrap_or_else(|e| panic!("demo root: {e}"))
                }),
                Arc::new(DemoLogin),
            )
            .greeting("ubxftp demo server")
            .passive_host([127, 0, 0, 1])
            .active_passive_mode(libunftp::options::ActivePassiveMode::ActiveAndPassive)
            .build();
            match server {
                Ok(server) => {
                    tokio::spawn(async move {
                        let _ = server.service(stream).await;
                    });
                }
                Err(e) => tracing::warn!(error = %e, "demo server"),
            }
        }
    });
    Ok(addr)
}

/// An HTTP server on loopback serving the demo's files (GET, HEAD) for the HTTP lines.
async fn start_http(root: &Path) -> Result<SocketAddr> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo HTTP server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let root = root.to_path_buf();
    let app = axum::Router::new()
        .route(
            "/{*path}",
            axum::routing::get(
                |State(root): State<std::path::PathBuf>, UrlPath(path): UrlPath<String>| async move {
                    // Only the plain names of the demo folder: no `..`, no absolute paths.
                    let safe = path.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
                    match safe.then(|| std::fs::read(root.join(&path))) {
                        Some(Ok(body)) => (StatusCode::OK, body),
                        _ => (StatusCode::NOT_FOUND, b"not found\n".to_vec()),
                    }
                },
            ),
        )
        .with_state(root);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// A TCP echo server on loopback for the socket lines of the demo.
async fn start_echo() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo echo server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = tcp.into_split();
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    Ok(addr)
}

pub async fn run(module: ModuleArgs, transports: TransportArgs) -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| format!("demo: {e}"))?;
    write_samples(dir.path()).map_err(|e| format!("demo files: {e}"))?;
    let server = start_server(dir.path()).await?;
    let echo = start_echo().await?;
    let web = start_http(dir.path()).await?;
    let (modem, tracer) = module.build()?;

    // Configure the profile through a terminal of the module, as a host would.
    let mut setup = format!(
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n\
         > AT+UFTP=0,\"{ip}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=7,{port}\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=2,\"{USER}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=3,\"{PASSWORD}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=6,1\n< \\r\\nOK\\r\\n\n",
        ip = server.ip(),
        port = server.port()
    );
    let model = modem.model();
    if model.has("+UPSDA") {
        // A model whose FTP goes over PSD profile 0 (SARA-U201, SARA-R5): bring it up, as the
        // drivers for those models do before FTP.
        setup.push_str("> AT+UPSDA=0,3\n< \\r\\nOK\\r\\n\n");
        if model.psd.activation_urc {
            setup.push_str("<? \\r\\n\\+UUPSDA: 0,\"[^\"]*\"\\r\\n\n");
        }
    }
    let fota = if model.ftp.uftpc_ops.contains(&100) {
        "\n  AT+UFTPC=100,\"firmware.bin\"             a FOTA download, with progress"
    } else {
        ""
    };
    let transcript = Transcript::parse(&setup).map_err(|e| e.to_string())?;
    let (mut host, device) = tokio::io::duplex(4096);
    let m = modem.clone();
    let setup_terminal =
        tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, None).await });
    transcript
        .run(&mut host)
        .await
        .map_err(|e| format!("demo setup: {e}"))?;
    drop(host);
    let _ = setup_terminal.await;

    println!(
        "ubxftp demo: a {} module on this console, an FTP server at {server} (user {USER}).\n\
         The FTP profile is set (AT+UFTP? shows it). Type these lines, then Enter:\n\
         \n  AT+UFTPC=1                              log in           -> +UUFTPCR: 1,1\
         \n  AT+UFTPC=13                             list the folder  -> +UUFTPCD: 13,<len>,\"...\"\
         \n  AT+UFTPC=4,\"readme.txt\",\"readme.txt\"    get a file\
         \n  AT+URDFILE=\"readme.txt\"                 read it from the module file system\
         \n  AT+UDWNFILE=\"note.txt\",5                then type 5 characters: a new module file\
         \n  AT+UFTPC=5,\"note.txt\",\"note.txt\"        put it on the server\
         {fota}\
         \n  AT+UFTPC=0                              log out\
         \n  AT+UFTPER                               the last FTP error\
         \n\nAnd a TCP echo server at {echo} for the sockets:\n\
         \n  AT+USOCR=6                              a TCP socket     -> +USOCR: 0\
         \n  AT+USOCO=0,\"{echo_ip}\",{echo_port}          connect to it\
         \n  AT+USOWR=0,5,\"hello\"                    send             -> +UUSORD: 0,5\
         \n  AT+USORD=0,5                            read the echo\
         \n  AT+USOCL=0                              close\
         \n\nAnd an HTTP server at {web} (its files are the FTP server's):\n\
         \n  AT+UHTTP=0,0,\"{web_ip}\"                the server\
         \n  AT+UHTTP=0,5,{web_port}                      its port\
         \n  AT+UHTTPC=0,1,\"/readme.txt\",\"page.txt\"  GET into a module file -> +UUHTTPCR: 0,1,1\
         \n  AT+URDFILE=\"page.txt\"                   the response: status line, headers, body\
         \n\nCtrl-D or Ctrl-C ends the demo.\n",
        model.identity.model,
        echo_ip = echo.ip(),
        echo_port = echo.port(),
        web_ip = web.ip(),
        web_port = web.port(),
    );
    let transports = TransportArgs {
        stdio: true,
        ..transports
    };
    crate::run_transports(&modem, tracer, &transports).await
}
