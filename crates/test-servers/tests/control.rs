//! Controlling servers for fault tests: pause/resume (SIGSTOP/SIGCONT), kill mid-session, wrong
//! password, and a clear error when a server is not installed.

mod common;

use std::time::Duration;

use common::{Control, T};
use test_servers::{Error, Kind, ServerOptions, start};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

const EXTERNAL: [Kind; 4] = [Kind::Vsftpd, Kind::PureFtpd, Kind::Proftpd, Kind::Pyftpdlib];

async fn started(kind: Kind) -> test_servers::RunningServer {
    start(kind, ServerOptions::default())
        .await
        .unwrap_or_else(|e| panic!("start {kind}: {e}"))
}

#[tokio::test]
async fn pause_stalls_an_open_session_and_resume_continues_it() {
    for kind in EXTERNAL {
        let server = started(kind).await;
        assert!(kind.can_pause());
        let mut c = Control::connect(server.addr).await;
        c.login(&server).await;
        server.pause().expect("pause");
        use tokio::io::AsyncWriteExt;
        c.writer.write_all(b"NOOP\r\n").await.expect("write NOOP");
        assert!(
            timeout(Duration::from_millis(400), c.reply())
                .await
                .is_err(),
            "{kind}: replied while paused"
        );
        server.resume().expect("resume");
        let (code, text) = timeout(T, c.reply()).await.expect("reply after resume");
        assert_eq!(code, 200, "{kind}: {text:?}");
    }
}

#[tokio::test]
async fn kill_drops_open_sessions() {
    for kind in Kind::ALL {
        let mut server = started(kind).await;
        let mut c = Control::connect(server.addr).await;
        c.login(&server).await;
        server.kill();
        server.kill(); // idempotent
        let mut rest = Vec::new();
        let end = timeout(T, c.reader.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|_| panic!("{kind}: session still open after kill"));
        // EOF or RST, both fine; no reply.
        if let Ok(n) = end {
            assert_eq!(n, 0, "{kind}: unexpected bytes {rest:?}");
        }
        assert!(
            tokio::net::TcpStream::connect(server.addr).await.is_err(),
            "{kind}: still accepting after kill"
        );
        assert!(server.pause().is_err());
    }
}

#[tokio::test]
async fn libunftp_cannot_pause() {
    let server = started(Kind::Libunftp).await;
    assert!(!Kind::Libunftp.can_pause());
    assert!(matches!(
        server.pause(),
        Err(Error::Unsupported {
            kind: Kind::Libunftp,
            ..
        })
    ));
    assert!(server.pid().is_none());
}

#[tokio::test]
async fn wrong_password_is_530() {
    for kind in Kind::ALL {
        let server = started(kind).await;
        let mut c = Control::connect(server.addr).await;
        assert_eq!(c.reply().await.0, 220);
        c.expect(&format!("USER {}", server.user), 331).await;
        c.expect("PASS wrong-password", 530).await;
    }
}

#[tokio::test]
async fn missing_installation_is_an_error_not_a_skip() {
    for kind in [Kind::PureFtpd, Kind::Proftpd, Kind::Pyftpdlib] {
        let opts = ServerOptions {
            install_prefix: Some("/nonexistent/ubxftp-test".into()),
            ..Default::default()
        };
        match start(kind, opts).await {
            Err(e @ Error::NotInstalled { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("install-test-deps"), "{msg}");
            }
            other => panic!("{kind}: expected NotInstalled, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn debug_output_hides_the_password() {
    let server = started(Kind::Pyftpdlib).await;
    let shown = format!("{server:?}");
    assert!(!shown.contains(&server.password), "{shown}");
    assert!(shown.contains("redacted"));
}

#[tokio::test]
async fn startup_failure_carries_the_server_log() {
    // A "python3" that dies at once: start must fail with NotReady and show what it printed.
    let prefix = tempfile::tempdir().unwrap();
    let bin = prefix.path().join("venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let python = bin.join("python3");
    std::fs::write(
        &python,
        "#!/bin/sh\necho 'boom: broken interpreter' >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opts = ServerOptions {
        install_prefix: Some(prefix.path().to_path_buf()),
        ..Default::default()
    };
    match start(Kind::Pyftpdlib, opts).await {
        Err(e @ Error::NotReady { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("boom: broken interpreter"), "{msg}");
            assert!(msg.contains("exit status: 3"), "{msg}");
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
}
