//! libunftp 0.24 inside the test process, on a thread of its own.
//!
//! libunftp's `listen()` cannot report an ephemeral port, so we bind the listener ourselves
//! (on the locked block's control port, like the external servers) and hand every accepted
//! connection to a freshly built `Server::service()`. The server runs on its own current-thread
//! tokio runtime in a dedicated thread: it works the same under `#[tokio::test]` (any flavour) and
//! in plain `#[test]`s, and "kill" is simply dropping that runtime, which drops every session
//! socket at once.
//!
//! Active mode is enabled (libunftp defaults to passive only); it has PORT but no EPRT. TLS is
//! offered, never required (`FtpsRequired::None`), TLS 1.2 only (libunftp's default flags).

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};

use super::common::{Ctx, Handle, Launched, PASSWORD, USER, UnftpHandle, make_dir};
use crate::{Error, Result, io_err};

/// Accepts exactly one user/password pair.
#[derive(Debug)]
struct OneUser {
    user: String,
    password: String,
}

#[async_trait::async_trait]
impl Authenticator for OneUser {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if username != self.user {
            return Err(AuthenticationError::BadUser);
        }
        if creds.password.as_deref() != Some(self.password.as_str()) {
            return Err(AuthenticationError::BadPassword);
        }
        Ok(Principal {
            username: username.to_string(),
        })
    }
}

struct Config {
    root: PathBuf,
    passive: std::ops::RangeInclusive<u16>,
    passive_v4: Option<std::net::Ipv4Addr>,
    tls: Option<(PathBuf, PathBuf)>,
    idle: Duration,
}

fn build_server(
    cfg: &Config,
) -> Result<libunftp::Server<unftp_sbe_fs::Filesystem, unftp_core::auth::DefaultUser>, String> {
    let root = cfg.root.clone();
    let auth = Arc::new(OneUser {
        user: USER.into(),
        password: PASSWORD.into(),
    });
    let mut builder = libunftp::ServerBuilder::with_authenticator(
        Box::new(move || {
            unftp_sbe_fs::Filesystem::new(root.clone())
                .unwrap_or_else(|e| panic!("libunftp root {}: {e}", root.display()))
        }),
        auth,
    )
    .greeting("libunftp test server ready")
    .passive_ports(cfg.passive.clone())
    .active_passive_mode(libunftp::options::ActivePassiveMode::ActiveAndPassive)
    .idle_session_timeout(cfg.idle.as_secs().max(1));
    if let Some(ip) = cfg.passive_v4 {
        builder = builder.passive_host(ip);
    }
    if let Some((cert, key)) = &cfg.tls {
        builder = builder.ftps(cert.clone(), key.clone());
    }
    builder.build().map_err(|e| format!("libunftp build: {e}"))
}

pub(crate) fn launch(ctx: &Ctx<'_>) -> Result<Launched> {
    let root = ctx.dir.join("root");
    make_dir(&root, 0o755, None)?;
    let cfg = Config {
        root: root.clone(),
        passive: ctx.passive.clone(),
        passive_v4: match ctx.addr.ip() {
            std::net::IpAddr::V4(ip) => Some(ip),
            std::net::IpAddr::V6(_) => None,
        },
        tls: ctx.tls.map(|t| (t.cert.clone(), t.key.clone())),
        idle: ctx.idle,
    };
    // Validate the configuration (e.g. unreadable certificate) before going to the thread.
    build_server(&cfg).map_err(Error::Setup)?;

    let listener =
        StdListener::bind(ctx.addr).map_err(io_err(format!("bind libunftp on {}", ctx.addr)))?;
    listener
        .set_nonblocking(true)
        .map_err(io_err("set_nonblocking"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("build libunftp runtime"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("libunftp".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("libunftp listener: {e}");
                        return;
                    }
                };
                let accept_loop = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        match build_server(&cfg) {
                            Ok(server) => {
                                tokio::spawn(async move {
                                    let _ = server.service(stream).await;
                                });
                            }
                            Err(e) => tracing::error!("{e}"),
                        }
                    }
                };
                tokio::select! {
                    _ = stop_rx => {}
                    _ = accept_loop => {}
                }
            });
            // Dropping the runtime here drops every session task and its sockets.
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(io_err("spawn libunftp thread"))?;
    Ok(Launched {
        handle: Handle::InProcess(UnftpHandle::new(stop_tx, thread)),
        root,
        user: USER.into(),
        password: PASSWORD.into(),
        account_login: None,
        logs: Vec::new(),
        file_owner: None,
    })
}
