//! Explicit FTPS against real servers: PROT P and PROT C, TLS session resumption on
//! every data connection (vsftpd `require_ssl_reuse=YES`, proftpd's default), and
//! 100 consecutive transfers with the default TLS policy.

mod common;

use common::{T, ftps, payload, server};
use ftp_client::{DataMode, DataProtection, FtpSession, StoreMode, TlsVersion};
use test_servers::{Kind, RunningServer};

async fn prot_p_and_c(kind: Kind, srv: &RunningServer, mode: DataMode) {
    for prot in [DataProtection::Private, DataProtection::Clear] {
        let what = format!("{kind} {prot:?} {mode:?}");
        let mut opts = ftps(srv, prot);
        opts.data_mode = mode.clone();
        let mut s = FtpSession::connect(opts)
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        let ctl = s.control_tls().expect("control is TLS");
        assert_eq!(
            ctl.version,
            Some(TlsVersion::Tls12),
            "{what}: default policy is TLS 1.2"
        );
        let content = payload(150_000, 3);
        s.store_from("f.bin", StoreMode::Replace, &mut &content[..], &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{what}: STOR: {e}"));
        check_data_tls(&s, prot, &what);
        let mut got = Vec::new();
        s.retrieve_to("f.bin", 1000, &mut got, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{what}: REST+RETR: {e}"));
        assert_eq!(got, &content[1000..], "{what}");
        check_data_tls(&s, prot, &what);
        let l = s
            .list(None)
            .await
            .unwrap_or_else(|e| panic!("{what}: LIST: {e}"));
        assert!(String::from_utf8_lossy(&l.data).contains("f.bin"), "{what}");
        s.dele("f.bin").await.expect("DELE");
        s.quit().await.expect("QUIT");
    }
}

fn check_data_tls(s: &FtpSession, prot: DataProtection, what: &str) {
    match prot {
        DataProtection::Private => {
            let info = s.last_data_tls().expect("data connection is TLS");
            assert!(info.resumed, "{what}: data TLS session not resumed");
        }
        DataProtection::Clear => assert_eq!(s.last_data_tls(), None, "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_ftps_prot_p_and_prot_c() {
    let srv = server(Kind::Vsftpd, true, false).await;
    prot_p_and_c(Kind::Vsftpd, &srv, DataMode::Passive).await;
    prot_p_and_c(Kind::Vsftpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_ftps_over_ipv6() {
    let srv = server(Kind::Vsftpd, true, true).await;
    prot_p_and_c(Kind::Vsftpd, &srv, DataMode::Passive).await;
    prot_p_and_c(Kind::Vsftpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linger_times_do_not_block_transfers_or_quit() {
    let srv = server(Kind::Vsftpd, true, false).await;
    let mut opts = ftps(&srv, DataProtection::Private);
    opts.linger = ftp_client::Linger {
        control: std::time::Duration::from_secs(60),
        data: std::time::Duration::from_secs(60),
    };
    let mut s = FtpSession::connect(opts).await.expect("connect");
    let content = payload(1 << 20, 4);
    let started = std::time::Instant::now();
    for _ in 0..5 {
        s.store_from("l.bin", StoreMode::Replace, &mut &content[..], &mut |_| {})
            .await
            .expect("STOR");
        let mut got = Vec::new();
        s.retrieve_to("l.bin", 0, &mut got, &mut |_| {})
            .await
            .expect("RETR");
        assert!(got == content);
    }
    s.quit().await.expect("QUIT");
    // 60 s linger on both sockets, yet nothing waited for it.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proftpd_ftps_prot_p_and_prot_c() {
    let srv = server(Kind::Proftpd, true, false).await;
    prot_p_and_c(Kind::Proftpd, &srv, DataMode::Passive).await;
    prot_p_and_c(Kind::Proftpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_ftpd_ftps() {
    let srv = server(Kind::PureFtpd, true, false).await;
    prot_p_and_c(Kind::PureFtpd, &srv, DataMode::Passive).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyftpdlib_ftps() {
    let srv = server(Kind::Pyftpdlib, true, false).await;
    prot_p_and_c(Kind::Pyftpdlib, &srv, DataMode::Passive).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libunftp_ftps() {
    let srv = server(Kind::Libunftp, true, false).await;
    prot_p_and_c(Kind::Libunftp, &srv, DataMode::Passive).await;
}

/// 100 consecutive FTPS data connections (alternating STOR and RETR, then uploads
/// only) on one session; each must be resumed, none refused. `tls13`: the caller
/// demands TLS 1.3 (minimum version), otherwise the default policy (TLS 1.2).
pub async fn hundred_transfers(kind: Kind, tls13: bool) {
    let srv = server(kind, true, false).await;
    let mut opts = ftps(&srv, DataProtection::Private);
    if let (true, Some(tls)) = (tls13, opts.tls.as_mut()) {
        tls.min_version = TlsVersion::Tls13;
    }
    let mut s = FtpSession::connect(opts).await.expect("connect");
    let want = if tls13 {
        TlsVersion::Tls13
    } else {
        TlsVersion::Tls12
    };
    assert_eq!(s.control_tls().and_then(|t| t.version), Some(want));
    let content = payload(4096, 5);
    for i in 0..100 {
        if i % 2 == 0 || i >= 70 {
            s.store_from("r.bin", StoreMode::Replace, &mut &content[..], &mut |_| {})
                .await
                .unwrap_or_else(|e| panic!("{kind}: transfer {i} (STOR): {e}"));
        } else {
            let mut got = Vec::new();
            s.retrieve_to("r.bin", 0, &mut got, &mut |_| {})
                .await
                .unwrap_or_else(|e| panic!("{kind}: transfer {i} (RETR): {e}"));
            assert_eq!(got, content);
        }
        // pure-ftpd does not resume TLS 1.3 data sessions (measured) and does not
        // need to: it does not check reuse.
        if kind.requires_tls_session_reuse() || !tls13 {
            assert!(
                s.last_data_tls().is_some_and(|t| t.resumed),
                "{kind}: transfer {i} not resumed"
            );
        }
    }
    s.quit().await.expect("QUIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_100_consecutive_ftps_transfers() {
    tokio::time::timeout(T * 6, hundred_transfers(Kind::Vsftpd, false))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proftpd_100_consecutive_ftps_transfers() {
    tokio::time::timeout(T * 6, hundred_transfers(Kind::Proftpd, false))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proftpd_100_consecutive_ftps_transfers_tls13() {
    tokio::time::timeout(T * 6, hundred_transfers(Kind::Proftpd, true))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_100_consecutive_ftps_transfers_tls13() {
    tokio::time::timeout(T * 6, hundred_transfers(Kind::Vsftpd, true))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_ftpd_100_consecutive_ftps_transfers_tls13() {
    tokio::time::timeout(T * 6, hundred_transfers(Kind::PureFtpd, true))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_name_sni_and_certificate_name_check() {
    let srv = server(Kind::Vsftpd, true, false).await;
    srv.put_file("hello.txt", b"hello").expect("put");
    let mut o = ftps(&srv, DataProtection::Private);
    // Through the system resolver; vsftpd listens on 127.0.0.1 only.
    o.host = "localhost".into();
    o.ip_preference = ftp_client::IpPreference::V4Only;
    if let Some(t) = o.tls.as_mut() {
        t.sni = Some("localhost".into());
    }
    let mut s = FtpSession::connect(o.clone())
        .await
        .expect("connect by name");
    let mut got = Vec::new();
    s.retrieve_to("hello.txt", 0, &mut got, &mut |_| {})
        .await
        .expect("RETR");
    assert_eq!(got, b"hello");
    assert!(s.last_data_tls().is_some_and(|t| t.resumed));

    if let Some(t) = o.tls.as_mut() {
        t.expected_name = Some("ftp.example.com".into());
    }
    let err = FtpSession::connect(o).await.expect_err("wrong name");
    assert!(
        matches!(err.kind(), ftp_client::ErrorKind::Certificate(_)),
        "{err}"
    );
}
