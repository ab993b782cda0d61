//! The signalling connection (`+CSCON`) under tokio's paused clock: it comes up with radio
//! activity, the network releases it after the inactivity timer, faults and deregistration
//! release it at once, and `AT+CSCON?` agrees with the reports (docs/FIELD.md, "The signalling
//! connection").

mod common;

use std::time::Duration;

use common::AtHost;
use tokio::time::Instant;
use ubx_modem::field::radio::RRC_INACTIVITY;
use ubx_modem::field::spec::{Action, FaultSpec, Target};
use ubx_modem::model::Model;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig {
        model: Model::by_name("sara-r5").expect("sara-r5"),
        ..ModemConfig::default()
    })
    .expect("module")
}

fn fault(target: Target, action: Action) -> FaultSpec {
    FaultSpec {
        target: Some(target),
        action: Some(action),
        ..FaultSpec::default()
    }
}

fn add(modem: &Modem, spec: FaultSpec) -> u64 {
    modem
        .field()
        .faults
        .add(spec.validate(modem.max_cid()).expect("valid fault"))
}

/// A host with `+CSCON` reports on.
async fn reporting(modem: &Modem) -> AtHost {
    let mut host = AtHost::connect(modem).await;
    host.ok("AT+CSCON=1").await;
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 1,0\r\n\r\nOK\r\n")
        .await;
    host
}

#[tokio::test(start_paused = true)]
async fn activity_brings_the_connection_up_and_ten_idle_seconds_release_it() {
    let modem = modem();
    let mut host = reporting(&modem).await;
    modem.field().radio.activity();
    host.expect(b"\r\n+CSCON: 1\r\n").await;
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 1,1\r\n\r\nOK\r\n")
        .await;
    // More data 6 s later puts the release off: it comes 10 s after the last activity.
    tokio::time::sleep(Duration::from_secs(6)).await;
    modem.field().radio.activity();
    let last = Instant::now();
    host.expect_within(b"\r\n+CSCON: 0\r\n", 30).await;
    let idle = last.elapsed();
    assert!(
        idle >= RRC_INACTIVITY && idle < RRC_INACTIVITY + Duration::from_millis(50),
        "released {idle:?} after the last activity"
    );
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 1,0\r\n\r\nOK\r\n")
        .await;
    // Idle, nothing more comes on its own.
    assert_eq!(host.drain(60_000).await, "");
}

#[tokio::test(start_paused = true)]
async fn an_rrc_release_fault_makes_the_module_idle_until_its_next_data() {
    let modem = modem();
    let mut host = reporting(&modem).await;
    // ubxlib's connect: the radio comes on, the attach is signalling.
    host.ok("AT+CFUN=0").await;
    host.cmd("AT+CFUN=1", b"\r\nOK\r\n\r\n+CSCON: 1\r\n").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let id = add(&modem, fault(Target::Rrc, Action::Release));
    host.expect(b"\r\n+CSCON: 0\r\n").await;
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 1,0\r\n\r\nOK\r\n")
        .await;
    assert_eq!(modem.field().faults.list()[0].id, id);
    assert_eq!(modem.field().faults.list()[0].fired, 1);
    modem.field().radio.activity();
    host.expect(b"\r\n+CSCON: 1\r\n").await;
    // A release while idle changes nothing and reports nothing.
    host.expect_within(b"\r\n+CSCON: 0\r\n", 30).await;
    add(&modem, fault(Target::Rrc, Action::Release));
    assert_eq!(host.drain(1000).await, "");
}

#[tokio::test(start_paused = true)]
async fn losing_the_registration_releases_and_registering_again_connects() {
    let modem = modem();
    let mut host = reporting(&modem).await;
    modem.field().radio.activity();
    host.expect(b"\r\n+CSCON: 1\r\n").await;
    add(&modem, fault(Target::Network, Action::Deregister));
    host.expect(b"\r\n+CSCON: 0\r\n").await;
    // Deregistered, data cannot bring it up.
    modem.field().radio.activity();
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 1,0\r\n\r\nOK\r\n")
        .await;
    add(&modem, fault(Target::Network, Action::Register));
    host.expect(b"\r\n+CSCON: 1\r\n").await;
    // The radio off releases at once too.
    host.cmd("AT+CFUN=4", b"\r\nOK\r\n\r\n+CSCON: 0\r\n").await;
}

#[tokio::test(start_paused = true)]
async fn without_reports_the_state_still_reads_and_a_reboot_starts_idle() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    modem.field().radio.activity();
    tokio::time::sleep(Duration::from_millis(1)).await;
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 0,1\r\n\r\nOK\r\n")
        .await;
    assert_eq!(host.drain(100).await, "");
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(100),
            ..fault(Target::Module, Action::Reboot)
        },
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    host.drain(100).await;
    // Back at power-on: echo on, reports off, idle.
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    host.cmd("AT+CSCON?", b"\r\n+CSCON: 0,0\r\n\r\nOK\r\n")
        .await;
}

#[test]
fn the_rrc_target_has_one_action_and_no_fields() {
    assert!(fault(Target::Rrc, Action::Release).validate(8).is_ok());
    let e = fault(Target::Rrc, Action::Reboot).validate(8).unwrap_err();
    assert_eq!(e.field, "action");
    let e = FaultSpec {
        duration_ms: Some(10),
        ..fault(Target::Rrc, Action::Release)
    }
    .validate(8)
    .unwrap_err();
    assert_eq!(e.field, "duration_ms");
    let parsed = ubx_modem::field::spec::parse_scenario(
        "[[fault]]\ntarget = \"rrc\"\naction = \"release\"\nat_ms = 20000\n",
        8,
    )
    .expect("scenario");
    assert_eq!(parsed[0].target, Target::Rrc);
}
