//! The scripted fake server does what its script says, byte for byte, and records what the
//! client sent. A raw TcpStream plays the client here.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use test_servers::fake::{FakeServer, Outcome, Script};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(timeout(T, TcpStream::connect(addr)).await.unwrap().unwrap())
}

async fn line(c: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    timeout(T, c.read_line(&mut l)).await.unwrap().unwrap();
    l
}

async fn send(c: &mut BufReader<TcpStream>, cmd: &str) {
    c.get_mut()
        .write_all(format!("{cmd}\r\n").as_bytes())
        .await
        .unwrap();
}

async fn to_eof(c: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut rest = Vec::new();
    timeout(T, c.read_to_end(&mut rest)).await.unwrap()?;
    Ok(rest)
}

fn pasv_addr(reply: &str) -> SocketAddr {
    let inner = reply.split('(').nth(1).unwrap().split(')').next().unwrap();
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
        .parse()
        .unwrap()
}

#[tokio::test]
async fn login_is_recorded_with_password_redacted() {
    let server = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("QUIT", "221 Bye"),
    )
    .await
    .unwrap();
    let mut c = connect(server.addr).await;
    assert!(line(&mut c).await.starts_with("220 "));
    send(&mut c, "USER bob").await;
    assert!(line(&mut c).await.starts_with("331"));
    send(&mut c, "PASS hunter2").await;
    assert!(line(&mut c).await.starts_with("230"));
    send(&mut c, "QUIT").await;
    assert!(line(&mut c).await.starts_with("221"));
    assert_eq!(
        to_eof(&mut c).await.unwrap(),
        b"",
        "closed after the script"
    );
    let t = server.finish(T).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].outcome, Outcome::Completed);
    assert_eq!(t[0].commands, ["USER bob", "PASS <redacted>", "QUIT"]);
}

#[tokio::test]
async fn reply_cut_mid_line() {
    let server = FakeServer::start(Script::new().send("220 hal").close())
        .await
        .unwrap();
    let mut c = connect(server.addr).await;
    assert_eq!(to_eof(&mut c).await.unwrap(), b"220 hal");
}

#[tokio::test]
async fn control_reset_gives_connection_reset() {
    let server = FakeServer::start(Script::new().greet().expect("USER").reset())
        .await
        .unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "USER x").await;
    let err = to_eof(&mut c).await.expect_err("RST");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn unexpected_command_fails_the_script_and_closes() {
    let server = FakeServer::start(Script::new().greet().expect_reply("USER", "331 x"))
        .await
        .unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "FEAT").await;
    assert_eq!(to_eof(&mut c).await.unwrap(), b"");
    let t = server.finish(T).await;
    match &t[0].outcome {
        Outcome::Failed(why) => assert!(
            why.contains("expected \"USER\"") && why.contains("FEAT"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn stall_delays_the_reply() {
    let server = FakeServer::start(Script::new().stall(Duration::from_millis(300)).greet())
        .await
        .unwrap();
    let started = Instant::now();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn pasv_data_dropped_at_byte_n() {
    let script = Script::new()
        .greet()
        .login()
        .pasv()
        .expect_reply("RETR", "150 Opening (5000 bytes)")
        .accept_data()
        .data_send(vec![7u8; 1000])
        .data_reset()
        .reply("426 Transfer aborted");
    let server = FakeServer::start(script).await.unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "USER a").await;
    line(&mut c).await;
    send(&mut c, "PASS b").await;
    line(&mut c).await;
    send(&mut c, "PASV").await;
    let reply = line(&mut c).await;
    assert!(reply.starts_with("227 "), "{reply}");
    let mut data = TcpStream::connect(pasv_addr(&reply)).await.unwrap();
    send(&mut c, "RETR f").await;
    assert!(line(&mut c).await.starts_with("150"));
    let mut got = vec![0u8; 1000];
    data.read_exact(&mut got).await.unwrap();
    assert_eq!(got, vec![7u8; 1000]);
    let mut rest = Vec::new();
    let end = timeout(T, data.read_to_end(&mut rest)).await.unwrap();
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    assert!(line(&mut c).await.starts_with("426"));
}

#[tokio::test]
async fn pasv_naming_a_foreign_address() {
    let foreign = "192.0.2.7:4242".parse().unwrap();
    let server = FakeServer::start(Script::new().greet().pasv_naming(foreign))
        .await
        .unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "PASV").await;
    let reply = line(&mut c).await;
    assert_eq!(reply, "227 Entering Passive Mode (192,0,2,7,16,146).\r\n");
    assert_eq!(pasv_addr(&reply), SocketAddr::V4(foreign));
}

#[tokio::test]
async fn code_332_and_421() {
    let script = Script::new()
        .greet()
        .expect_reply("USER", "331 Password")
        .expect_reply("PASS", "332 Need account")
        .expect_reply("ACCT acme", "421 Service closing")
        .close();
    let server = FakeServer::start(script).await.unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "USER u").await;
    line(&mut c).await;
    send(&mut c, "PASS p").await;
    assert!(line(&mut c).await.starts_with("332"));
    send(&mut c, "ACCT acme").await;
    assert!(line(&mut c).await.starts_with("421"));
    assert_eq!(to_eof(&mut c).await.unwrap(), b"");
}

#[tokio::test]
async fn active_mode_upload_is_received() {
    let script = Script::new()
        .greet()
        .port("PORT")
        .expect_reply("STOR", "150 Ok to send")
        .connect_active()
        .data_receive()
        .reply("226 Done");
    let server = FakeServer::start(script).await.unwrap();
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    send(
        &mut c,
        &format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff),
    )
    .await;
    assert!(line(&mut c).await.starts_with("200"));
    send(&mut c, "STOR up").await;
    assert!(line(&mut c).await.starts_with("150"));
    let (mut data, _) = timeout(T, listener.accept()).await.unwrap().unwrap();
    data.write_all(b"uploaded bytes").await.unwrap();
    drop(data);
    assert!(line(&mut c).await.starts_with("226"));
    let t = server.finish(T).await;
    assert_eq!(t[0].outcome, Outcome::Completed);
    assert_eq!(t[0].data_received, [b"uploaded bytes".to_vec()]);
}

#[tokio::test]
async fn ipv6_epsv_and_several_connections_in_order() {
    let first = Script::new()
        .greet()
        .epsv()
        .accept_data()
        .data_send("abc")
        .data_close()
        .reply("226 ok");
    let second = Script::new().reply("421 Too many connections");
    let server = FakeServer::start_many(IpAddr::V6(Ipv6Addr::LOCALHOST), vec![first, second])
        .await
        .unwrap();
    assert!(server.addr.is_ipv6());
    let mut c = connect(server.addr).await;
    line(&mut c).await;
    send(&mut c, "EPSV").await;
    let reply = line(&mut c).await;
    let port: u16 = reply
        .split("|||")
        .nth(1)
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut data = TcpStream::connect(SocketAddr::new(server.addr.ip(), port))
        .await
        .unwrap();
    let mut got = Vec::new();
    data.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"abc");
    assert!(line(&mut c).await.starts_with("226"));

    let mut c2 = connect(server.addr).await;
    assert!(line(&mut c2).await.starts_with("421"));
    let mut c3 = connect(server.addr).await;
    assert_eq!(
        to_eof(&mut c3).await.unwrap(),
        b"",
        "beyond the last script: closed at once"
    );
    let t = server.finish(T).await;
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.outcome == Outcome::Completed));
}

#[tokio::test]
async fn garbage_bytes_are_sent_verbatim() {
    let garbage = [0xffu8, 0x00, b'\n', b'x', 0xc3];
    let server = FakeServer::start(Script::new().send(garbage))
        .await
        .unwrap();
    let mut c = connect(server.addr).await;
    assert_eq!(to_eof(&mut c).await.unwrap(), garbage);
}
