//! Every operation against real servers (started by `test-servers` on loopback):
//! passive and active data connections, REST, APPE, listings, directory and file
//! management, and exact refusal codes.

mod common;

use common::{T, payload, plain, server};
use ftp_client::{DataMode, ErrorKind, FtpSession, StoreMode};
use test_servers::{Kind, RunningServer};

/// The operation matrix on one server and data mode.
async fn matrix(kind: Kind, server: &RunningServer, mode: DataMode) {
    let what = format!("{kind} {mode:?}");
    let mut opts = plain(server);
    opts.data_mode = mode;
    let mut s = FtpSession::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("{what}: connect: {e}"));

    // Download, whole and from an offset.
    let content = payload(300_000, 7);
    server.put_file("dir/data.bin", &content).expect("put_file");
    let mut got = Vec::new();
    let mut last_progress = 0;
    let summary = s
        .retrieve_to("dir/data.bin", 0, &mut got, &mut |n| last_progress = n)
        .await
        .unwrap_or_else(|e| panic!("{what}: RETR: {e}"));
    assert_eq!(got, content, "{what}");
    assert_eq!(summary.bytes, content.len() as u64);
    assert_eq!(last_progress, content.len() as u64);
    assert!(summary.reply.is_completion(), "{what}: {:?}", summary.reply);

    let mut tail = Vec::new();
    s.retrieve_to("dir/data.bin", 123_456, &mut tail, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{what}: REST+RETR: {e}"));
    assert_eq!(tail, &content[123_456..], "{what}: REST+RETR");

    // Upload, resume upload, append.
    let up = payload(200_000, 9);
    s.store_from(
        "up.bin",
        StoreMode::Replace,
        &mut &up[..100_000],
        &mut |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: STOR: {e}"));
    s.store_from(
        "up.bin",
        StoreMode::Resume(100_000),
        &mut &up[100_000..150_000],
        &mut |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: REST+STOR: {e}"));
    s.store_from(
        "up.bin",
        StoreMode::Append,
        &mut &up[150_000..],
        &mut |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: APPE: {e}"));
    let on_disk = std::fs::read(server.root.join("up.bin")).expect("uploaded file");
    assert_eq!(on_disk.len(), up.len(), "{what}: uploaded size");
    assert!(on_disk == up, "{what}: uploaded bytes differ");
    assert_eq!(s.size("up.bin").await.expect("SIZE"), up.len() as u64);
    let mdtm = s.mdtm("up.bin").await.expect("MDTM");
    assert!(mdtm.starts_with("20"), "{what}: MDTM {mdtm}");

    // Streaming handles.
    let mut upload = s
        .store("stream.txt", StoreMode::Replace)
        .await
        .expect("STOR handle");
    tokio::io::AsyncWriteExt::write_all(&mut upload, b"streamed\n")
        .await
        .expect("write");
    assert_eq!(upload.bytes(), 9);
    // A caller may shut the stream down itself (end of file) before finish().
    tokio::io::AsyncWriteExt::shutdown(&mut upload)
        .await
        .expect("shutdown");
    upload.finish().await.expect("finish upload");
    let mut download = s.retrieve("stream.txt", 0).await.expect("RETR handle");
    assert!(
        download.opening_reply().is_preliminary(),
        "{what}: {:?}",
        download.opening_reply()
    );
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut download, &mut text)
        .await
        .expect("read");
    download.finish().await.expect("finish download");
    assert_eq!(text, "streamed\n");

    // Listings: byte-exact server text; of cwd, of a directory, of a file.
    let listing = s
        .nlst(None)
        .await
        .unwrap_or_else(|e| panic!("{what}: NLST: {e}"));
    let names = String::from_utf8_lossy(&listing.data).to_string();
    assert!(
        names.contains("up.bin") && names.contains("dir"),
        "{what}: NLST {names:?}"
    );
    assert!(!listing.truncated);
    let listing = s
        .list(Some("dir"))
        .await
        .unwrap_or_else(|e| panic!("{what}: LIST dir: {e}"));
    let text = String::from_utf8_lossy(&listing.data).to_string();
    assert!(
        text.contains("data.bin") && text.contains("300000"),
        "{what}: LIST dir {text:?}"
    );
    assert!(
        text.ends_with('\n'),
        "{what}: byte-exact listing keeps line ends"
    );
    let nlst_dir = s.nlst(Some("dir")).await.expect("NLST dir");
    assert!(String::from_utf8_lossy(&nlst_dir.data).contains("data.bin"));
    match s.list(Some("dir/data.bin")).await {
        Ok(l) => assert!(
            String::from_utf8_lossy(&l.data).contains("data.bin"),
            "{what}"
        ),
        // libunftp answers LIST of a file with 550 (measured, see the ecosystem notes).
        Err(e) => assert_eq!(
            (kind, e.reply_code()),
            (Kind::Libunftp, Some(550)),
            "{what}: {e}"
        ),
    }

    // MLST: not every server has it (measured: vsftpd 500; libunftp 550 on a file).
    match (kind, s.mlst(Some("dir/data.bin")).await) {
        (Kind::Vsftpd, Err(e)) => assert_eq!(e.reply_code(), Some(500), "{what}: {e}"),
        (Kind::Libunftp, Err(e)) => assert_eq!(e.reply_code(), Some(550), "{what}: {e}"),
        (_, Ok(facts)) => {
            assert!(
                facts.to_ascii_lowercase().contains("size=300000"),
                "{what}: {facts}"
            )
        }
        (_, Err(e)) => panic!("{what}: MLST: {e}"),
    }

    // Directories.
    let pwd = s.pwd().await.expect("PWD");
    assert_eq!(pwd, "/", "{what}");
    s.mkd("newdir").await.expect("MKD");
    s.cwd("newdir").await.expect("CWD");
    assert_eq!(s.pwd().await.expect("PWD"), "/newdir");
    s.cdup().await.expect("CDUP");
    assert_eq!(s.pwd().await.expect("PWD"), "/");
    s.rmd("newdir").await.expect("RMD");
    assert!(!server.root.join("newdir").exists());

    // Rename, delete.
    s.rename("up.bin", "renamed.bin").await.expect("rename");
    assert!(server.root.join("renamed.bin").exists());
    s.dele("renamed.bin").await.expect("DELE");
    assert!(!server.root.join("renamed.bin").exists());

    // Refusals keep their exact code and leave the session usable.
    let err = s.dele("missing.bin").await.expect_err("DELE missing");
    assert_eq!(err.reply_code(), Some(550), "{what}: {err}");
    assert!(!err.session_closed());
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("missing.bin", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("RETR missing");
    assert_eq!(err.reply_code(), Some(550), "{what}: {err}");
    assert!(!err.session_closed());
    s.noop().await.expect("NOOP after refusals");
    let err = s.cwd("no/such/dir").await.expect_err("CWD missing");
    assert_eq!(err.reply_code(), Some(550), "{what}: {err}");

    s.quit().await.expect("QUIT");
    assert!(s.is_closed());
    let err = s.noop().await.expect_err("after QUIT");
    assert!(matches!(err.kind(), ErrorKind::Closed(_)) && err.session_closed());
}

async fn passive_and_active(kind: Kind) {
    let srv = server(kind, false, false).await;
    tokio::time::timeout(T * 3, matrix(kind, &srv, DataMode::Passive))
        .await
        .expect("passive matrix timed out");
    tokio::time::timeout(T * 3, matrix(kind, &srv, DataMode::Active { ports: None }))
        .await
        .expect("active matrix timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libunftp_operations() {
    passive_and_active(Kind::Libunftp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_operations() {
    passive_and_active(Kind::Vsftpd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_ftpd_operations() {
    passive_and_active(Kind::PureFtpd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proftpd_operations() {
    passive_and_active(Kind::Proftpd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyftpdlib_operations() {
    passive_and_active(Kind::Pyftpdlib).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyftpdlib_acct_login() {
    let srv = server(Kind::Pyftpdlib, false, false).await;
    let acct = srv
        .account_login
        .clone()
        .expect("pyftpdlib has an ACCT login");
    let mut opts = plain(&srv);
    opts.user = acct.user.clone();
    opts.password = acct.password.as_str().into();
    let err = FtpSession::connect(opts.clone())
        .await
        .expect_err("332 without account");
    assert_eq!(err.reply_code(), Some(332), "{err}");
    opts.account = Some("wrong".into());
    let err = FtpSession::connect(opts.clone())
        .await
        .expect_err("wrong account");
    assert_eq!(err.reply_code(), Some(530), "{err}");
    opts.account = Some(acct.account.clone());
    let mut s = FtpSession::connect(opts).await.expect("login with ACCT");
    assert_eq!(s.pwd().await.expect("PWD"), "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proftpd_ipv6_epsv_and_eprt() {
    let srv = server(Kind::Proftpd, false, true).await;
    matrix(Kind::Proftpd, &srv, DataMode::Passive).await;
    matrix(Kind::Proftpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsftpd_ipv6_epsv_and_eprt() {
    let srv = server(Kind::Vsftpd, false, true).await;
    assert!(srv.addr.is_ipv6());
    matrix(Kind::Vsftpd, &srv, DataMode::Passive).await;
    matrix(Kind::Vsftpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_mode_port_range_is_honoured() {
    let srv = server(Kind::Vsftpd, false, false).await;
    // A free range: take an ephemeral port and use a range around nothing else.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let mut opts = plain(&srv);
    opts.data_mode = DataMode::Active {
        ports: Some(port..=port),
    };
    let mut s = FtpSession::connect(opts).await.expect("connect");
    srv.put_file("a.txt", b"abc").expect("put");
    let mut got = Vec::new();
    s.retrieve_to("a.txt", 0, &mut got, &mut |_| {})
        .await
        .expect("RETR");
    assert_eq!(got, b"abc");
    let log = srv.read_logs();
    let (hi, lo) = (port >> 8, port & 0xff);
    assert!(
        log.contains(&format!(",{hi},{lo}")),
        "PORT with port {port} not in log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_login_is_530_and_password_is_never_shown() {
    let srv = server(Kind::Vsftpd, false, false).await;
    let mut opts = plain(&srv);
    opts.password = "wrong-Pa55word".into();
    let shown = format!("{opts:?}");
    assert!(!shown.contains("wrong-Pa55word"), "{shown}");
    let err = FtpSession::connect(opts).await.expect_err("bad login");
    assert_eq!(err.reply_code(), Some(530), "{err}");
    assert!(err.session_closed());
    assert!(!format!("{err} {err:?}").contains("wrong-Pa55word"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_with_line_breaks_are_refused_before_sending() {
    let srv = server(Kind::Libunftp, false, false).await;
    let mut s = FtpSession::connect(plain(&srv)).await.expect("connect");
    for bad in ["a\r\nDELE x", "a\nb", "a\0b"] {
        let err = s.dele(bad).await.expect_err("must refuse");
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
        assert!(!err.session_closed());
        let err = s.rename("ok", bad).await.expect_err("must refuse");
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
    }
    // Nothing was sent: the last reply is still the one from login/TYPE.
    assert_eq!(s.last_reply().map(|r| r.code()), Some(200));
    s.noop().await.expect("session still fine");
    let mut opts = plain(&srv);
    opts.user = "evil\r\nDELE x".into();
    let err = FtpSession::connect(opts).await.expect_err("bad user");
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_capped() {
    let srv = server(Kind::Vsftpd, false, false).await;
    for i in 0..200 {
        srv.put_file(&format!("file-with-a-longish-name-{i:04}.txt"), b"x")
            .expect("put");
    }
    let mut opts = plain(&srv);
    opts.limits.max_listing_bytes = 1000;
    let mut s = FtpSession::connect(opts).await.expect("connect");
    let l = s.nlst(None).await.expect("NLST");
    assert!(l.truncated);
    assert_eq!(l.data.len(), 1000);
    s.noop().await.expect("session usable after a cut listing");
    let full = {
        let mut opts = plain(&srv);
        opts.limits.max_listing_bytes = 1 << 20;
        let mut s = FtpSession::connect(opts).await.expect("connect");
        s.nlst(None).await.expect("NLST").data
    };
    assert_eq!(&full[..1000], &l.data[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_timeout_quits_and_next_operation_reports_it() {
    let srv = server(Kind::Vsftpd, false, false).await;
    let mut opts = plain(&srv);
    opts.timeouts.inactivity = Some(std::time::Duration::from_millis(700));
    let mut s = FtpSession::connect(opts).await.expect("connect");
    s.noop().await.expect("NOOP");
    let mut watch = s.close_watch();
    tokio::time::timeout(T, watch.wait_for(Option::is_some))
        .await
        .expect("no close within the timeout")
        .expect("watch");
    let err = s.noop().await.expect_err("closed");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Closed(ftp_client::CloseReason::Inactivity)
        ),
        "{err}"
    );
    // vsftpd logged the QUIT the client sent.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(srv.read_logs().contains("QUIT"), "no QUIT in server log");
}

/// ABOR in the middle of a download, and a dropped unfinished transfer handle.
async fn abort_keeps_the_session(kind: Kind, tls: bool) {
    let srv = server(kind, tls, false).await;
    srv.put_file("big.bin", payload(16 << 20, 1)).expect("put");
    let opts = if tls {
        common::ftps(&srv, ftp_client::DataProtection::Private)
    } else {
        plain(&srv)
    };
    let mut s = FtpSession::connect(opts).await.expect("connect");
    let mut d = s.retrieve("big.bin", 0).await.expect("RETR");
    let mut buf = vec![0u8; 65536];
    let n = tokio::io::AsyncReadExt::read(&mut d, &mut buf)
        .await
        .expect("read");
    assert!(n > 0);
    let reply = d
        .abort()
        .await
        .unwrap_or_else(|e| panic!("{kind}: ABOR: {e}"));
    assert!(reply.is_completion(), "{kind}: {reply:?}");
    s.noop()
        .await
        .unwrap_or_else(|e| panic!("{kind}: NOOP after ABOR: {e}"));
    // A dropped, unfinished handle: the owed reply is consumed before the next command.
    let d = s.retrieve("big.bin", 0).await.expect("RETR");
    drop(d);
    s.noop()
        .await
        .unwrap_or_else(|e| panic!("{kind}: NOOP after a dropped transfer: {e}"));
    assert_eq!(s.pwd().await.expect("PWD"), "/");
    // finish() before the end of the data: aborted, never reported complete.
    let mut d = s.retrieve("big.bin", 0).await.expect("RETR");
    let n = tokio::io::AsyncReadExt::read(&mut d, &mut buf)
        .await
        .expect("read");
    assert!(n > 0);
    let err = d.finish().await.expect_err("early finish");
    assert!(matches!(err.kind(), ErrorKind::Aborted(_)), "{kind}: {err}");
    assert!(!err.session_closed());
    s.noop()
        .await
        .unwrap_or_else(|e| panic!("{kind}: NOOP after an early finish: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_during_download_keeps_the_session() {
    for kind in Kind::ALL {
        for tls in [false, true] {
            tokio::time::timeout(T * 2, abort_keeps_the_session(kind, tls))
                .await
                .unwrap_or_else(|_| panic!("{kind} tls={tls}: abort test timed out"));
        }
    }
}

/// Edge cases every server must survive: an upload handle dropped half-way, a listing
/// cut at its limit, a download abandoned after a local write failure.
async fn edge_cases(kind: Kind, tls: bool) {
    let srv = server(kind, tls, false).await;
    for i in 0..40 {
        srv.put_file(&format!("entry-with-a-long-name-{i:03}.txt"), b"x")
            .expect("put");
    }
    srv.put_file("big.bin", payload(8 << 20, 2)).expect("put");
    let mut opts = if tls {
        common::ftps(&srv, ftp_client::DataProtection::Private)
    } else {
        plain(&srv)
    };
    opts.limits.max_listing_bytes = 300;
    let mut s = FtpSession::connect(opts).await.expect("connect");

    let mut up = s.store("half.bin", StoreMode::Replace).await.expect("STOR");
    tokio::io::AsyncWriteExt::write_all(&mut up, &[7u8; 100_000])
        .await
        .expect("write");
    drop(up);
    s.noop()
        .await
        .unwrap_or_else(|e| panic!("{kind}: NOOP after a dropped upload: {e}"));

    let l = s
        .nlst(None)
        .await
        .unwrap_or_else(|e| panic!("{kind}: NLST: {e}"));
    assert!(
        l.truncated && l.data.len() == 300,
        "{kind}: {}",
        l.data.len()
    );
    s.noop()
        .await
        .unwrap_or_else(|e| panic!("{kind}: NOOP after a cut listing: {e}"));

    /// A sink that fails after 100 kB, like a full local file system.
    struct FullDisk(usize);
    impl tokio::io::AsyncWrite for FullDisk {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            if self.0 > 100_000 {
                return std::task::Poll::Ready(Err(std::io::Error::other("disk full")));
            }
            self.0 += buf.len();
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }
    let err = s
        .retrieve_to("big.bin", 0, &mut FullDisk(0), &mut |_| {})
        .await
        .expect_err("local write fails");
    assert!(
        matches!(err.kind(), ErrorKind::LocalWrite(_)),
        "{kind}: {err}"
    );
    assert!(!err.session_closed());
    assert_eq!(s.pwd().await.expect("PWD"), "/", "{kind}");
    s.quit().await.expect("QUIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_cases_on_every_server() {
    for kind in Kind::ALL {
        tokio::time::timeout(T * 2, edge_cases(kind, false))
            .await
            .unwrap_or_else(|_| panic!("{kind}: edge cases timed out"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_cases_on_every_server_over_ftps() {
    for kind in Kind::ALL {
        tokio::time::timeout(T * 2, edge_cases(kind, true))
            .await
            .unwrap_or_else(|_| panic!("{kind} FTPS: edge cases timed out"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_gives_stall_then_reply_timeouts() {
    let srv = server(Kind::Vsftpd, false, false).await;
    srv.put_file("big.bin", payload(32 << 20, 3)).expect("put");
    let mut opts = plain(&srv);
    opts.timeouts.data_stall = Some(std::time::Duration::from_millis(500));
    opts.timeouts.reply = std::time::Duration::from_secs(3);
    let mut s = FtpSession::connect(opts).await.expect("connect");
    let mut d = s.retrieve("big.bin", 0).await.expect("RETR");
    let mut buf = vec![0u8; 1024];
    tokio::io::AsyncReadExt::read(&mut d, &mut buf)
        .await
        .expect("first bytes");
    srv.pause().expect("SIGSTOP");
    // Drain what is buffered; then the stall timer fires.
    let err = loop {
        match tokio::io::AsyncReadExt::read(&mut d, &mut buf).await {
            Ok(0) => panic!("unexpected end of data"),
            Ok(_) => continue,
            Err(e) => break d.fail(e).await,
        }
    };
    assert!(err.is_timeout(ftp_client::TimeoutKind::DataStall), "{err}");
    assert!(!err.session_closed());
    // Still frozen: the owed reply never comes, so the next command times out and the
    // session is closed.
    let err = s.noop().await.expect_err("frozen");
    assert!(err.is_timeout(ftp_client::TimeoutKind::Reply), "{err}");
    assert!(err.session_closed() && s.is_closed());
    srv.resume().expect("SIGCONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stor_into_a_missing_directory_keeps_the_exact_refusal() {
    // Measured: vsftpd and pure-ftpd refuse with 553, the others with 550.
    let expected = [
        (Kind::Vsftpd, "553 Could not create file."),
        (
            Kind::PureFtpd,
            "553 Can't open that file: No such file or directory",
        ),
        (Kind::Proftpd, "550 nodir/x.bin: No such file or directory"),
        (Kind::Pyftpdlib, "550 No such file or directory."),
        (Kind::Libunftp, "550 File not found"),
    ];
    for (kind, text) in expected {
        let srv = server(kind, false, false).await;
        let mut s = FtpSession::connect(plain(&srv)).await.expect("connect");
        let err = s
            .store_from(
                "nodir/x.bin",
                StoreMode::Replace,
                &mut &b"abc"[..],
                &mut |_| {},
            )
            .await
            .expect_err("STOR into a missing directory");
        assert_eq!(
            err.reply().map(|r| r.text().to_string()).as_deref(),
            Some(text),
            "{kind}: {err}"
        );
        assert_eq!(err.reply_code(), text[..3].parse().ok(), "{kind}");
        assert!(!err.session_closed(), "{kind}");
        assert!(!srv.root.join("nodir").exists(), "{kind}");
        s.noop()
            .await
            .unwrap_or_else(|e| panic!("{kind}: NOOP after the refusal: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_login_is_530_on_the_other_servers() {
    // vsftpd: see bad_login_is_530_and_password_is_never_shown. Texts as measured.
    let expected = [
        (Kind::PureFtpd, "530 Login authentication failed"),
        (Kind::Proftpd, "530 Login incorrect."),
        (Kind::Pyftpdlib, "530 Authentication failed."),
        (Kind::Libunftp, "530 Authentication failed"),
    ];
    for (kind, text) in expected {
        let srv = server(kind, false, false).await;
        let mut opts = plain(&srv);
        opts.password = "wrong-Pa55word".into();
        let err = FtpSession::connect(opts).await.expect_err("bad login");
        assert_eq!(err.reply_code(), Some(530), "{kind}: {err}");
        assert_eq!(
            err.reply().map(|r| r.text().to_string()).as_deref(),
            Some(text),
            "{kind}"
        );
        assert!(err.session_closed(), "{kind}");
        assert!(!format!("{err} {err:?}").contains("wrong-Pa55word"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nlst_of_a_single_file_is_what_each_server_sends() {
    // Byte-exact, as measured. pure-ftpd (since 1.0.48, jedisct1/pure-ftpd#136) and
    // libunftp refuse NLST of a file; pyftpdlib names the file without its directory.
    /// The listing bytes and final reply, or the refusal.
    type Answer = Result<(&'static [u8], &'static str), &'static str>;
    let expected: [(Kind, Answer); 5] = [
        (
            Kind::Vsftpd,
            Ok((b"dir/data.bin\r\n", "226 Directory send OK.")),
        ),
        (
            Kind::Proftpd,
            Ok((b"dir/data.bin\r\n", "226 Transfer complete")),
        ),
        (
            Kind::Pyftpdlib,
            Ok((b"data.bin\r\n", "226 Transfer complete.")),
        ),
        (Kind::PureFtpd, Err("550 Can't check for file existence")),
        (Kind::Libunftp, Err("550 Directory not found")),
    ];
    for (kind, want) in expected {
        let srv = server(kind, false, false).await;
        srv.put_file("dir/data.bin", b"hello").expect("put");
        srv.put_file("dir/other.bin", b"x").expect("put");
        let mut s = FtpSession::connect(plain(&srv)).await.expect("connect");
        match (s.nlst(Some("dir/data.bin")).await, want) {
            (Ok(l), Ok((data, reply))) => {
                assert_eq!(
                    String::from_utf8_lossy(&l.data),
                    String::from_utf8_lossy(data),
                    "{kind}"
                );
                assert_eq!(l.data, data, "{kind}");
                assert_eq!(l.reply.text(), reply, "{kind}");
                assert!(!l.truncated);
            }
            (Err(e), Err(text)) => {
                assert_eq!(
                    e.reply().map(|r| r.text().to_string()).as_deref(),
                    Some(text),
                    "{kind}: {e}"
                );
                assert!(!e.session_closed(), "{kind}");
            }
            (got, want) => panic!(
                "{kind}: NLST of a file gave {:?}, expected {want:?}",
                got.map(|l| l.data).map_err(|e| e.to_string())
            ),
        }
        s.noop()
            .await
            .unwrap_or_else(|e| panic!("{kind}: NOOP after NLST of a file: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_ftpd_ipv6_epsv_and_eprt() {
    let srv = server(Kind::PureFtpd, false, true).await;
    assert!(srv.addr.is_ipv6());
    matrix(Kind::PureFtpd, &srv, DataMode::Passive).await;
    matrix(Kind::PureFtpd, &srv, DataMode::Active { ports: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyftpdlib_ipv6_epsv_and_eprt() {
    let srv = server(Kind::Pyftpdlib, false, true).await;
    assert!(srv.addr.is_ipv6());
    // pyftpdlib logs the commands: the data connections went through EPSV, then EPRT. The log
    // is checked after each half, since `read_logs` keeps only its tail.
    matrix(Kind::Pyftpdlib, &srv, DataMode::Passive).await;
    let log = pyftpdlib_log_with(&srv, "<- EPSV").await;
    assert!(!log.contains("<- PASV"), "PASV over IPv6");
    matrix(Kind::Pyftpdlib, &srv, DataMode::Active { ports: None }).await;
    let log = pyftpdlib_log_with(&srv, "<- EPRT |2|::1|").await;
    assert!(!log.contains("<- PORT"), "PORT over IPv6");
}

/// pyftpdlib's log once it holds `needle`: its lines reach the file a little after the
/// replies, later still under load.
async fn pyftpdlib_log_with(srv: &RunningServer, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = srv.read_logs();
        if log.contains(needle) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} in the log: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libunftp_ipv6_has_epsv_but_no_eprt() {
    let srv = server(Kind::Libunftp, false, true).await;
    matrix(Kind::Libunftp, &srv, DataMode::Passive).await;
    let mut opts = plain(&srv);
    opts.data_mode = DataMode::Active { ports: None };
    let mut s = FtpSession::connect(opts).await.expect("connect");
    srv.put_file("a.txt", b"abc").expect("put");
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("a.txt", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("EPRT refused");
    assert_eq!(
        err.reply().map(|r| r.text().to_string()).as_deref(),
        Some("500 Command not implemented"),
        "{err}"
    );
    assert!(!err.session_closed());
    s.noop().await.expect("NOOP after the refused EPRT");
}
