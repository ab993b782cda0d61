//! The MQTT client service (`+UMQTT`, `+UMQTTC`, `+UMQTTER`, `+UMQTTNV`) against a real broker:
//! mosquitto on loopback, with mosquitto_sub / mosquitto_pub on the other side. Every
//! expectation is the exact bytes a host sees.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{AtHost, modem_with_link};
use test_servers::mqtt::{MOSQUITTO_PUB, Mosquitto, Subscriber, publish};
use tokio::io::AsyncWriteExt;
use ubx_modem::field::spec::{Action, FaultSpec, Target};
use ubx_modem::model::Model;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

fn modem_of(model: &str) -> Modem {
    Modem::new(ModemConfig {
        model: Model::by_name(model).unwrap(),
        ..ModemConfig::default()
    })
    .unwrap()
}

/// `lines`, one message a line, published in order at QoS 1 by one `mosquitto_pub -l`.
async fn publish_lines(broker: &Mosquitto, topic: &str, lines: &str) {
    let mut child = tokio::process::Command::new(MOSQUITTO_PUB)
        .args(broker.endpoint().client_args())
        .args(["-q", "1", "-t", topic, "-l"])
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_pub");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(lines.as_bytes()).await.unwrap();
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("mosquitto_pub in time")
        .unwrap();
    assert!(status.success(), "mosquitto_pub: {status}");
}

async fn logged_in(modem: &Modem, broker: &Mosquitto) -> AtHost {
    let mut host = AtHost::connect(modem).await;
    host.ok("AT+CMEE=1").await;
    host.ok("AT+UMQTT=0,\"ubx-test\"").await;
    host.ok(&format!(
        "AT+UMQTT=3,\"127.0.0.1\",{}",
        broker.addr().port()
    ))
    .await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_publish_and_read_back_as_ubxlib_does() {
    let broker = Mosquitto::start().await.unwrap();
    let modem = modem();
    let mut host = logged_in(&modem, &broker).await;
    host.ok("AT+UMQTTC=4,1,\"ubx_test/loop\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 4,1,1,\"ubx_test/loop\"\r\n", 10)
        .await;
    host.ok("AT+UMQTTC=2,1,0,0,\"ubx_test/loop\",\"hello\"")
        .await;
    // The broker's PUBACK and its copy of the message to our own subscription come in either
    // order.
    let mut urcs = vec![host.urc_line(10).await, host.urc_line(10).await];
    urcs.sort();
    assert_eq!(urcs, ["+UUMQTTC: 2,1", "+UUMQTTC: 6,1"]);
    host.cmd(
        "AT+UMQTTC=6,1",
        b"\r\n+UMQTTC: 6,1,18,13,\"ubx_test/loop\",5,\"hello\"\r\n\r\nOK\r\n",
    )
    .await;
    // Nothing more to read: refused, +UMQTTER says why.
    host.cmd("AT+UMQTTC=6,1", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,11\r\n\r\nOK\r\n")
        .await;
    // A binary publish after the `>` prompt, every byte value, seen by a real subscriber.
    let mut sub = Subscriber::start(broker.addr(), "ubx_test/bin", 1)
        .await
        .unwrap();
    host.send("AT+UMQTTC=9,1,0,\"ubx_test/bin\",6").await;
    host.expect(b">").await;
    host.io.write_all(b"\x00\r\n\"\xff+").await.unwrap();
    host.expect(b"\r\nOK\r\n").await;
    host.expect_within(b"\r\n+UUMQTTC: 9,1\r\n", 10).await;
    let got = sub.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.payload, b"\x00\r\n\"\xff+");
    // A message from outside arrives on the subscription, QoS 0 and hex publish too.
    publish(broker.addr(), "ubx_test/loop", b"from outside", 0, false)
        .await
        .unwrap();
    host.expect_within(b"\r\n+UUMQTTC: 6,1\r\n", 10).await;
    host.cmd(
        "AT+UMQTTC=6,1",
        b"\r\n+UMQTTC: 6,0,25,13,\"ubx_test/loop\",12,\"from outside\"\r\n\r\nOK\r\n",
    )
    .await;
    host.ok("AT+UMQTTC=5,\"ubx_test/loop\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 5,1\r\n", 10).await;
    host.ok("AT+UMQTTC=0").await;
    host.expect_within(b"\r\n+UUMQTTC: 0,1\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 0,0\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_reads_nvm_and_bad_input() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=1").await;
    host.ok("AT+UMQTT=2,\"broker.example\",1884").await;
    host.cmd(
        "AT+UMQTT=2",
        b"\r\n+UMQTT: 2,\"broker.example\",1884\r\n\r\nOK\r\n",
    )
    .await;
    host.ok("AT+UMQTT=4,\"user\",\"secret\"").await;
    // The password is never shown.
    host.cmd("AT+UMQTT=4", b"\r\n+UMQTT: 4,\"user\"\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+UMQTT=10,60").await;
    // The will message reads back as ubxlib's uCellMqttGetWill() wants it: its length, then
    // its bytes as they are.
    host.ok("AT+UMQTT=9,\"00FF0D0A22\",1").await;
    host.cmd(
        "AT+UMQTT=9",
        b"\r\n+UMQTT: 9,5,\"\x00\xff\r\n\"\"\r\n\r\nOK\r\n",
    )
    .await;
    host.ok("AT+UMQTTNV=2").await;
    host.ok("AT+UMQTTNV=0").await;
    host.cmd("AT+UMQTT=10", b"\r\n+UMQTT: 10,0\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+UMQTTNV=1").await;
    host.cmd("AT+UMQTT=10", b"\r\n+UMQTT: 10,60\r\n\r\nOK\r\n")
        .await;
    // CR/LF or a control character in a topic or a name never reaches the broker; a publish
    // topic has no wildcard; QoS 3; an odd hex payload.
    host.cmd("AT+UMQTT=0,\"a\x01b\"", b"\r\n+CME ERROR: 25\r\n")
        .await;
    host.cmd("AT+UMQTTC=2,3,0,0,\"t\",\"m\"", b"\r\n+CME ERROR: 4\r\n")
        .await;
    host.cmd("AT+UMQTTC=2,0,0,0,\"t/#\",\"m\"", b"\r\n+CME ERROR: 4\r\n")
        .await;
    host.cmd("AT+UMQTTC=2,0,0,1,\"t\",\"abc\"", b"\r\n+CME ERROR: 25\r\n")
        .await;
    // Not logged in: the publish is accepted, then fails; +UMQTTER says why.
    host.ok("AT+UMQTTC=2,0,0,0,\"t\",\"m\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 2,0\r\n", 5).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,2\r\n\r\nOK\r\n")
        .await;
    // A login to a port where nothing listens fails.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    host.ok(&format!("AT+UMQTT=3,\"127.0.0.1\",{port}")).await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,4\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_the_right_one_logs_in() {
    let broker = Mosquitto::start_with_password("device", "s3cret")
        .await
        .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok(&format!(
        "AT+UMQTT=3,\"127.0.0.1\",{}",
        broker.addr().port()
    ))
    .await;
    // No login at all, then the wrong password: mosquitto refuses both with CONNACK 5, not
    // authorised, +UMQTTER code 6.
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,6\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+UMQTT=4,\"device\",\"wrong\"").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,6\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+UMQTT=4,\"device\",\"s3cret\"").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
    // The broker goes away: the session is lost.
    drop(broker);
    host.expect_within(b"\r\n+UUMQTTC: 0,101\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,2\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_id_has_its_own_code() {
    // SARA-R4 sends no client id of its own (ubxlib: "SARA-R4 doesn't generate one"); with
    // clean session 0 mosquitto refuses the empty one: CONNACK 2, identifier rejected, which
    // the old syntax's login URC and +UMQTTER report as 13.
    let broker = Mosquitto::start().await.unwrap();
    let r4 = modem_of("sara-r4");
    let mut host = AtHost::connect(&r4).await;
    let port = broker.addr().port();
    host.cmd(
        &format!("AT+UMQTT=3,\"127.0.0.1\",{port}"),
        b"\r\n+UMQTT: 3,1\r\n\r\nOK\r\n",
    )
    .await;
    host.cmd("AT+UMQTT=12,0", b"\r\n+UMQTT: 12,1\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+UMQTTC=1", b"\r\n+UMQTTC: 1,1\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUMQTTC: 1,13\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,13\r\n\r\nOK\r\n")
        .await;
    // With a clean session mosquitto names the client itself.
    host.cmd("AT+UMQTT=12,1", b"\r\n+UMQTT: 12,1\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+UMQTTC=1", b"\r\n+UMQTTC: 1,1\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;

    // mosquitto 2.0 refuses a client id outside `clientid_prefixes` as not authorised
    // (CONNACK 5), not as an identifier it rejects.
    let mut broker = Mosquitto::start().await.unwrap();
    let mut config = std::fs::read_to_string(broker.config_path()).unwrap();
    config.push_str("clientid_prefixes ubx-\n");
    std::fs::write(broker.config_path(), config).unwrap();
    broker.restart().await.unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    let port = broker.addr().port();
    host.ok(&format!("AT+UMQTT=3,\"127.0.0.1\",{port}")).await;
    host.ok("AT+UMQTT=0,\"device-1\"").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,6\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+UMQTT=0,\"ubx-1\"").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_inbox_keeps_the_newest_64_messages() {
    let broker = Mosquitto::start().await.unwrap();
    let modem = modem();
    let mut host = logged_in(&modem, &broker).await;
    host.ok("AT+UMQTTC=4,1,\"ubx_test/flood\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 4,1,1,\"ubx_test/flood\"\r\n", 10)
        .await;
    // 70 messages, in order, none read: the unread count stops at 64, each new message
    // pushing the oldest out.
    let lines: String = (0..70).map(|i| format!("m{i:02}\n")).collect();
    publish_lines(&broker, "ubx_test/flood", &lines).await;
    for i in 1..=70 {
        let urc = host.urc_line(10).await;
        assert_eq!(urc, format!("+UUMQTTC: 6,{}", i.min(64)));
    }
    // What is read: the last 64, oldest first, each read followed by the count still unread
    // (none after the last, as ubxlib's readMessage() expects).
    for i in 6..70 {
        let mut answer =
            format!("\r\n+UMQTTC: 6,1,17,14,\"ubx_test/flood\",3,\"m{i:02}\"\r\n\r\nOK\r\n");
        if i < 69 {
            answer.push_str(&format!("\r\n+UUMQTTC: 6,{}\r\n", 69 - i));
        }
        host.cmd("AT+UMQTTC=6,1", answer.as_bytes()).await;
    }
    host.cmd("AT+UMQTTC=6,1", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,11\r\n\r\nOK\r\n")
        .await;
    host.quiet(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_publish_ends_the_session() {
    let mut broker = Mosquitto::start().await.unwrap();
    let modem = modem();
    let mut host = logged_in(&modem, &broker).await;
    // The broker freezes, so the QoS 1 publish waits for a PUBACK; then it is killed with the
    // PUBLISH unread.
    broker.pause().unwrap();
    host.ok("AT+UMQTTC=2,1,0,0,\"ubx_test/t\",\"in flight\"")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.kill();
    let mut urcs = vec![host.urc_line(10).await, host.urc_line(10).await];
    urcs.sort();
    assert_eq!(urcs, ["+UUMQTTC: 0,101", "+UUMQTTC: 2,0"]);
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,2\r\n\r\nOK\r\n")
        .await;
    // The terminal goes on; the next publish finds no session.
    host.cmd("AT", b"\r\nOK\r\n").await;
    host.ok("AT+UMQTTC=2,0,0,0,\"ubx_test/t\",\"again\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 2,0\r\n", 5).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,2\r\n\r\nOK\r\n")
        .await;
    host.quiet(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stops_answering_pings_ends_the_session() {
    let broker = Mosquitto::start().await.unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UMQTT=0,\"ubx-ping\"").await;
    let port = broker.addr().port();
    host.ok(&format!("AT+UMQTT=3,\"127.0.0.1\",{port}")).await;
    host.ok("AT+UMQTT=10,2").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
    // Pings answered: the session stays.
    host.quiet(4500).await;
    // A frozen broker answers no PINGREQ: inactivity (100), +UMQTTER 33.
    broker.pause().unwrap();
    host.expect_within(b"\r\n+UUMQTTC: 0,100\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,33\r\n\r\nOK\r\n")
        .await;
    broker.resume().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_terminal_answers_after() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=1").await;
    // Login with no broker set: accepted, then refused.
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 5).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,1\r\n\r\nOK\r\n")
        .await;
    let long_topic = "t".repeat(257);
    let refused: [(String, &[u8]); 14] = [
        // Wildcards in a publish topic: text, file, binary.
        (
            "AT+UMQTTC=2,0,0,0,\"a/+/b\",\"m\"".into(),
            b"\r\n+CME ERROR: 4\r\n",
        ),
        (
            "AT+UMQTTC=2,0,0,0,\"#\",\"m\"".into(),
            b"\r\n+CME ERROR: 4\r\n",
        ),
        (
            "AT+UMQTTC=3,0,0,\"a/#\",\"f.txt\"".into(),
            b"\r\n+CME ERROR: 4\r\n",
        ),
        ("AT+UMQTTC=9,0,0,\"a/+\",5".into(), b"\r\n+CME ERROR: 4\r\n"),
        // QoS 3: publish, subscribe, binary publish, the will.
        (
            "AT+UMQTTC=2,3,0,0,\"t\",\"m\"".into(),
            b"\r\n+CME ERROR: 4\r\n",
        ),
        ("AT+UMQTTC=4,3,\"t\"".into(), b"\r\n+CME ERROR: 4\r\n"),
        ("AT+UMQTTC=9,3,0,\"t\",5".into(), b"\r\n+CME ERROR: 4\r\n"),
        ("AT+UMQTT=6,3".into(), b"\r\n+CME ERROR: 4\r\n"),
        // Over-long: a 257-byte topic or filter, a binary message beyond 1024 bytes or empty.
        (
            format!("AT+UMQTTC=2,0,0,0,\"{long_topic}\",\"m\""),
            b"\r\n+CME ERROR: 24\r\n",
        ),
        (
            format!("AT+UMQTTC=4,0,\"{long_topic}\""),
            b"\r\n+CME ERROR: 24\r\n",
        ),
        (
            "AT+UMQTTC=9,0,0,\"t\",1025".into(),
            b"\r\n+CME ERROR: 4\r\n",
        ),
        ("AT+UMQTTC=9,0,0,\"t\",0".into(), b"\r\n+CME ERROR: 4\r\n"),
        // An op the model lacks, a publish without its message.
        ("AT+UMQTTC=10".into(), b"\r\n+CME ERROR: 4\r\n"),
        ("AT+UMQTTC=2,0,0,0,\"t\"".into(), b"\r\nERROR\r\n"),
    ];
    for (line, answer) in &refused {
        host.cmd(line, answer).await;
        host.cmd("AT", b"\r\nOK\r\n").await;
    }
    // A message longer than the command line: the line is dropped whole.
    let long = format!("AT+UMQTTC=2,0,0,0,\"t\",\"{}\"", "x".repeat(1100));
    host.cmd(&long, b"\r\nERROR\r\n").await;
    host.cmd("AT", b"\r\nOK\r\n").await;
    // 900 bytes of text fit; publishing before a login is accepted, then fails.
    let fits = format!("AT+UMQTTC=2,0,0,0,\"t\",\"{}\"", "x".repeat(900));
    host.ok(&fits).await;
    host.expect_within(b"\r\n+UUMQTTC: 2,0\r\n", 5).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,2\r\n\r\nOK\r\n")
        .await;
    host.quiet(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_bearer_ends_the_session_and_a_login_after_it_returns_is_clean() {
    let broker = Mosquitto::start().await.unwrap();
    let modem = modem_with_link("nb-iot");
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=1").await;
    host.ok("AT+CGEREP=1").await;
    let port = broker.addr().port();
    host.ok("AT+UMQTT=0,\"ubx-nb\"").await;
    host.ok(&format!("AT+UMQTT=3,\"127.0.0.1\",{port}")).await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 30).await;
    // The network takes the context: the session ends as ubxlib's u_cell_mqtt.c expects a
    // lost connection to end (+UUMQTTC: 0,101), and +UMQTTER says no radio service (34).
    let fault = FaultSpec {
        target: Some(Target::Pdp),
        action: Some(Action::Deactivate),
        cid: Some(1),
        ..FaultSpec::default()
    };
    modem
        .field()
        .faults
        .add(fault.validate(modem.max_cid()).expect("valid fault"));
    let mut urcs = vec![host.urc_line(10).await, host.urc_line(10).await];
    urcs.sort();
    assert_eq!(urcs, ["+CGEV: NW PDN DEACT 1", "+UUMQTTC: 0,101"]);
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,34\r\n\r\nOK\r\n")
        .await;
    // No bearer, no login.
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,0\r\n", 10).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 1,34\r\n\r\nOK\r\n")
        .await;
    // The bearer back: a clean login, and a publish a real subscriber receives.
    host.ok("AT+CGACT=1,1").await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 30).await;
    host.cmd("AT+UMQTTER", b"\r\n+UMQTTER: 0,0\r\n\r\nOK\r\n")
        .await;
    let mut sub = Subscriber::start(broker.addr(), "ubx_test/nb", 1)
        .await
        .unwrap();
    host.ok("AT+UMQTTC=2,1,0,0,\"ubx_test/nb\",\"back\"").await;
    host.expect_within(b"\r\n+UUMQTTC: 2,1\r\n", 30).await;
    let got = sub.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.payload, b"back");
    host.quiet(200).await;
}
