//! Compile-time checks: sessions, handles and operation futures can move between
//! threads, so a service can run a session inside `tokio::spawn`.

use ftp_client::{ConnectOptions, Download, FtpError, FtpSession, StoreMode, Upload};

fn assert_send<T: Send>(_: &T) {}
fn assert_send_type<T: Send + Sync>() {}

#[allow(dead_code)]
async fn operations_are_send(mut s: FtpSession) {
    let mut sink = Vec::new();
    assert_send(&s.retrieve_to("a", 0, &mut sink, &mut |_| {}));
    let mut src: &[u8] = b"x";
    assert_send(&s.store_from("a", StoreMode::Append, &mut src, &mut |_| {}));
    assert_send(&s.list(None));
    assert_send(&s.retrieve("a", 0));
    assert_send(&s.store("a", StoreMode::Replace));
    assert_send(&s.quit());
    assert_send(&FtpSession::connect(ConnectOptions::new("h", 21, "u", "p")));
}

#[test]
fn types_are_send() {
    assert_send_type::<FtpSession>();
    assert_send_type::<FtpError>();
    fn send<T: Send>() {}
    send::<Download<'static>>();
    send::<Upload<'static>>();
}

#[tokio::test]
async fn a_session_runs_inside_tokio_spawn() {
    let task = tokio::spawn(async move {
        let opts = ConnectOptions::new("127.0.0.1", 1, "u", "p");
        match FtpSession::connect(opts).await {
            Ok(mut s) => s.noop().await.map(|_| ()),
            Err(e) => Err(e),
        }
    });
    assert!(task.await.expect("join").is_err());
}
