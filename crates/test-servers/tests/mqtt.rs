//! The mosquitto broker of `test_servers::mqtt`, driven with mosquitto_pub / mosquitto_sub:
//! every variant (plain, TLS with `--cafile`, password) carries messages, the TLS listener's
//! certificate verifies against the test CA only, a wrong login is refused, retained messages,
//! restart, kill and drop.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_servers::mqtt::{
    Endpoint, Login, Mosquitto, MosquittoOptions, Subscriber, publish, subscribe_once,
};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const T: Duration = Duration::from_secs(10);

/// Bytes that a text-only client would mangle: NUL, newline, high bytes.
fn binary_payload() -> Vec<u8> {
    let mut p = b"hi\0there\nline two\r\n".to_vec();
    p.extend((0..=255u8).rev());
    p
}

/// Subscribe, publish, receive: the payload, topic and QoS come through unchanged.
async fn round_trip(sub_from: Endpoint, pub_to: Endpoint, topic: &str) {
    let mut sub = Subscriber::start(sub_from, topic, 1)
        .await
        .expect("subscribe");
    let payload = binary_payload();
    publish(pub_to, topic, &payload, 1, false)
        .await
        .expect("publish");
    let msg = sub.next(T).await.expect("message");
    assert_eq!(msg.topic, topic);
    assert_eq!(msg.payload, payload);
    assert_eq!((msg.qos, msg.retain), (1, false));
}

#[tokio::test]
async fn plain_broker_carries_messages() {
    let broker = Mosquitto::start().await.expect("start mosquitto");
    let addr = broker.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 1883);
    assert!(broker.tls_addr().is_none() && broker.ca_pem().is_none() && broker.login().is_none());

    round_trip(addr.into(), addr.into(), "ubx/plain").await;

    // A wildcard subscription sees several topics in order; an empty message arrives empty.
    let mut sub = Subscriber::start(addr, "ubx/many/#", 0).await.expect("sub");
    publish(addr, "ubx/many/a", b"1", 0, false)
        .await
        .expect("pub");
    publish(addr, "ubx/many/b/c", b"", 2, false)
        .await
        .expect("pub");
    let first = sub.next(T).await.expect("first");
    let second = sub.next(T).await.expect("second");
    assert_eq!(
        (first.topic.as_str(), first.payload.as_slice()),
        ("ubx/many/a", &b"1"[..])
    );
    assert_eq!(
        (second.topic.as_str(), second.payload.len()),
        ("ubx/many/b/c", 0)
    );
    assert_eq!(second.qos, 0, "delivered with the subscription's QoS");

    // Nothing more arrives.
    let err = sub.next(Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);

    let log = broker.log();
    assert!(log.contains("New client connected"), "{log}");
    assert!(
        log.contains("ubx/many/a"),
        "log_type all logs the packets: {log}"
    );
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber_and_restart_forgets_it() {
    let mut broker = Mosquitto::start().await.expect("start mosquitto");
    let addr = broker.addr();
    publish(addr, "ubx/state", b"on", 1, true)
        .await
        .expect("pub");
    let got = subscribe_once(addr, "ubx/state", T)
        .await
        .expect("retained");
    assert_eq!(got, b"on");
    let mut sub = Subscriber::start(addr, "ubx/state", 1).await.expect("sub");
    let msg = sub.next(T).await.expect("retained again");
    assert!(msg.retain && msg.payload == b"on");

    // Restart: same port, no persistence, so the retained message is gone.
    let pid = broker.pid();
    broker.restart().await.expect("restart");
    assert_eq!(broker.addr(), addr);
    assert_ne!(broker.pid(), pid);
    let err = subscribe_once(addr, "ubx/state", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);

    // An empty retained publish clears a retained message.
    publish(addr, "ubx/state", b"off", 0, true)
        .await
        .expect("pub");
    publish(addr, "ubx/state", b"", 0, true)
        .await
        .expect("clear");
    let err = subscribe_once(addr, "ubx/state", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
}

#[tokio::test]
async fn tls_broker_carries_messages_with_cafile() {
    let broker = Mosquitto::start_tls().await.expect("start mosquitto tls");
    let tls = broker.tls_endpoint().expect("tls endpoint");
    assert_eq!(Some(tls.addr), broker.tls_addr());
    assert_ne!(tls.addr, broker.addr());
    let ca_pem = broker.ca_pem().expect("ca pem");
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(broker.ca_file().expect("ca file")).expect("read"),
        ca_pem
    );

    round_trip(tls.clone(), tls.clone(), "ubx/tls").await;
    // The plain listener is the same broker.
    round_trip(tls.clone(), broker.addr().into(), "ubx/mixed").await;
    round_trip(broker.addr().into(), tls.clone(), "ubx/mixed2").await;

    // Without TLS the TLS port does not speak MQTT.
    let err = publish(tls.addr, "ubx/tls", b"x", 0, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connection was lost"), "{err}");

    // Another broker's CA does not verify this broker.
    let other = Mosquitto::start_tls().await.expect("second tls broker");
    let wrong_ca = Endpoint {
        ca_file: other.ca_file().map(Into::into),
        ..tls.clone()
    };
    let err = publish(wrong_ca, "ubx/tls", b"x", 0, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS error"), "{err}");
}

#[tokio::test]
async fn tls_certificate_verifies_by_name_with_rustls() {
    let broker = Mosquitto::start_tls().await.expect("start mosquitto tls");
    let ca = CertificateDer::from_pem_slice(broker.ca_pem().unwrap().as_bytes()).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("add root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    for name in broker.server_names() {
        let tcp = TcpStream::connect(broker.tls_addr().unwrap())
            .await
            .expect("tcp");
        let server_name = ServerName::try_from(name.to_string()).expect("name");
        timeout(T, connector.connect(server_name, tcp))
            .await
            .expect("handshake timeout")
            .unwrap_or_else(|e| panic!("handshake as {name}: {e}"));
    }
}

#[tokio::test]
async fn password_broker_accepts_only_its_login() {
    let broker = Mosquitto::start_with_password("ubx", "s3cret pass")
        .await
        .expect("start mosquitto with password");
    let login = broker.login().expect("login").clone();
    assert_eq!(login, Login::new("ubx", "s3cret pass"));
    assert!(!format!("{login:?}").contains("s3cret"));

    round_trip(broker.endpoint(), broker.endpoint(), "ubx/auth").await;

    // Anonymous and wrong-password clients are refused.
    let anonymous: Endpoint = broker.addr().into();
    let err = publish(anonymous.clone(), "ubx/auth", b"x", 1, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not authori"), "{err}");
    let wrong = Endpoint {
        login: Some(Login::new("ubx", "wrong")),
        ..broker.endpoint()
    };
    let err = publish(wrong.clone(), "ubx/auth", b"x", 1, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not authori"), "{err}");
    let err = Subscriber::start(wrong, "ubx/auth", 0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
    assert!(err.to_string().contains("not authori"), "{err}");
    let err = subscribe_once(anonymous, "ubx/auth", T).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
    assert!(err.to_string().contains("not authori"), "{err}");
}

#[tokio::test]
async fn tls_and_password_together() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: true,
        login: Some(Login::new("ubx", "secret")),
    })
    .await
    .expect("start");
    let tls = broker.tls_endpoint().expect("tls");
    assert_eq!(tls.login, broker.login().cloned());
    round_trip(tls.clone(), broker.endpoint(), "ubx/both").await;
    let anonymous = Endpoint { login: None, ..tls };
    let err = publish(anonymous, "ubx/both", b"x", 0, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not authori"), "{err}");
}

#[tokio::test]
async fn pause_stalls_clients_until_resume() {
    let broker = Mosquitto::start().await.expect("start");
    let addr = broker.addr();
    let mut sub = Subscriber::start(addr, "ubx/p", 1).await.expect("sub");
    broker.pause().expect("pause");
    let publishing = tokio::spawn(publish(addr, "ubx/p", b"late", 1, false));
    let err = sub.next(Duration::from_millis(500)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    broker.resume().expect("resume");
    publishing
        .await
        .expect("join")
        .expect("publish after resume");
    assert_eq!(sub.next(T).await.expect("message").payload, b"late");
}

#[tokio::test]
async fn kill_and_drop_stop_the_broker() {
    let mut broker = Mosquitto::start().await.expect("start");
    let addr = broker.addr();
    broker.kill();
    assert!(broker.pid().is_none());
    assert_refused(addr).await;
    let err = publish(addr, "ubx/k", b"x", 0, false).await.unwrap_err();
    assert!(err.to_string().contains("Connection refused"), "{err}");

    let broker = Mosquitto::start().await.expect("start");
    let (addr, pid) = (broker.addr(), broker.pid().expect("pid"));
    let dir = broker.dir().to_path_buf();
    assert!(broker.config_path().starts_with(&dir));
    drop(broker);
    assert_refused(addr).await;
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists());
}

async fn assert_refused(addr: SocketAddr) {
    let result = timeout(T, TcpStream::connect(addr))
        .await
        .expect("connect timeout");
    assert!(result.is_err(), "{addr} still accepts");
}

#[tokio::test]
async fn parallel_brokers_get_their_own_ports() {
    let brokers = futures_join(8).await;
    let mut ports: Vec<u16> = brokers
        .iter()
        .flat_map(|b| [Some(b.addr().port()), b.tls_addr().map(|a| a.port())])
        .flatten()
        .collect();
    let n = ports.len();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), n);
    for (i, b) in brokers.iter().enumerate() {
        let topic = format!("ubx/{i}");
        publish(b.addr(), &topic, b"r", 0, true).await.expect("pub");
    }
    for (i, b) in brokers.iter().enumerate() {
        // Each broker has only its own retained message.
        let got = subscribe_once(b.addr(), "ubx/#", T)
            .await
            .expect("retained");
        assert_eq!(got, b"r");
        let other = format!("ubx/{}", (i + 1) % brokers.len());
        let err = subscribe_once(b.addr(), &other, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    }
}

/// Start `n` brokers at once (half with TLS).
async fn futures_join(n: usize) -> Vec<Mosquitto> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(Mosquitto::start_with(MosquittoOptions {
                tls: i % 2 == 0,
                login: None,
            }))
        })
        .collect();
    let mut brokers = Vec::new();
    for task in tasks {
        brokers.push(task.await.expect("join").expect("start"));
    }
    brokers
}

#[tokio::test]
async fn bad_qos_is_refused_before_anything_runs() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let err = publish(addr, "t", b"x", 3, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = Subscriber::start(addr, "t", 3).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn client_args_carry_tls_and_login() {
    let ep = Endpoint {
        addr: "127.0.0.1:2000".parse().unwrap(),
        ca_file: Some("/tmp/ca.pem".into()),
        login: Some(Login::new("u", "p")),
    };
    let args: Vec<String> = ep
        .client_args()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "-h",
            "127.0.0.1",
            "-p",
            "2000",
            "--cafile",
            "/tmp/ca.pem",
            "-u",
            "u",
            "-P",
            "p"
        ]
    );
}
