//! The MQTT client service (`+UMQTT`, `+UMQTTC`, `+UMQTTER`, `+UMQTTNV`) against a real broker:
//! mosquitto on loopback, with mosquitto_sub / mosquitto_pub on the other side. Every
//! expectation is the exact bytes a host sees.

mod common;

use std::time::Duration;

use common::AtHost;
use test_servers::mqtt::{Mosquitto, Subscriber, publish};
use tokio::io::AsyncWriteExt;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
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
}
