//! Pending commands and transparent data mode, byte for byte, with fake instants: `CONNECT`,
//! data both ways, the `+++` guard times, DTR under `&D`, `DISCONNECT`/`OK`, and URCs held
//! until the final result (also while a command line is being typed).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use ubx_at::*;

/// `+LINK` goes pending (as `AT+UFTPC=6/7` does); everything else is `OK`.
struct Stub;

impl Handler for Stub {
    fn execute(&mut self, cmd: &Command, _: &Settings) -> Outcome {
        match cmd.name.as_str() {
            "+LINK" => Outcome::Pending,
            "+CGMM" => Outcome::Done(Response::line("LEXI-R10401D")),
            _ => Outcome::Done(Response::ok()),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A terminal with echo off, in data mode entered at the returned instant.
fn in_data_mode(setup: &[u8]) -> (Terminal, Instant) {
    let mut t = Terminal::new();
    let t0 = Instant::now();
    t.receive(b"ATE0\r", t0, &mut Stub);
    t.receive(setup, t0, &mut Stub);
    t.receive(b"AT+LINK\r\n", t0, &mut Stub);
    assert!(t.is_pending());
    t.take_output();
    t.complete(Outcome::DataMode(DataModeFraming::default()), t0, &mut Stub);
    let connect = t.take_output();
    assert!(
        connect == b"\r\nCONNECT\r\n" || connect == b"1\r",
        "{connect:?}"
    );
    (t, t0)
}

/// Runs the terminal's timer up to `now`.
fn tick(t: &mut Terminal, now: Instant) {
    while let Some(deadline) = t.poll_timeout() {
        if deadline > now {
            break;
        }
        t.handle_timeout(deadline, &mut Stub);
    }
}

#[test]
fn pending_command_answers_later_and_holds_urcs_and_input() {
    let mut t = Terminal::new();
    let t0 = Instant::now();
    t.receive(b"ATE0\rAT+LINK\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"ATE0\r\r\nOK\r\n");
    t.push_urc(b"+UUFTPCR: 6,0");
    t.receive(b"AT\r", t0, &mut Stub); // ignored while the module is busy
    assert_eq!(t.take_output(), b"");
    t.complete(
        Outcome::Failed(CmeError::OperationNotAllowed.into()),
        t0,
        &mut Stub,
    );
    assert_eq!(t.take_output(), b"\r\nERROR\r\n\r\n+UUFTPCR: 6,0\r\n");
    t.receive(b"AT\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"\r\nOK\r\n");
}

#[test]
fn the_rest_of_a_line_after_a_pending_command_is_not_run() {
    let mut t = Terminal::new();
    t.receive(b"ATE0;+LINK;+CGMM\r", Instant::now(), &mut Stub);
    assert!(t.is_pending());
    assert_eq!(t.take_output(), b"ATE0;+LINK;+CGMM\r");
}

#[test]
fn data_flows_both_ways_untouched() {
    let (mut t, t0) = in_data_mode(b"");
    let tricky = b"AT+CGMM\r\nOK\r\n\r\nDISCONNECT\r\n\x00\xff+++ATH\r";
    t.receive(tricky, t0 + ms(10), &mut Stub);
    assert_eq!(t.take_host_data(), tricky);
    assert_eq!(t.take_output(), b"", "no echo, no responses");
    t.transmit(tricky);
    assert_eq!(t.take_output(), tricky);
    tick(&mut t, t0 + ms(5000));
    assert_eq!(t.poll_event(), None);
}

#[test]
fn escape_leaves_after_the_guard_time_and_urcs_follow_ok() {
    let (mut t, t0) = in_data_mode(b"");
    t.push_urc(b"+UUFTPCR: 7,1");
    t.receive(b"file", t0 + ms(100), &mut Stub);
    t.receive(b"+++", t0 + ms(2100), &mut Stub);
    tick(&mut t, t0 + ms(3099));
    assert_eq!(t.poll_event(), None);
    tick(&mut t, t0 + ms(3100));
    assert_eq!(t.poll_event(), Some(Event::HostLeft(LeaveCause::Escape)));
    assert_eq!(t.take_host_data(), b"file");
    // Winding down: host bytes are dropped; data already on its way to the line still goes
    // out, before DISCONNECT (the operation keeps what it had not handed over).
    t.receive(b"AT\r", t0 + ms(3200), &mut Stub);
    assert_eq!(t.take_output(), b"");
    t.transmit(b"late");
    t.end_data_mode();
    assert_eq!(
        t.take_output(),
        b"late\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n"
    );
    t.receive(b"AT\r", t0 + ms(3300), &mut Stub);
    assert_eq!(t.take_output(), b"\r\nOK\r\n");
}

#[test]
fn end_of_data_without_escape() {
    let (mut t, _) = in_data_mode(b"");
    t.transmit(b"whole file");
    t.end_data_mode();
    assert_eq!(t.take_output(), b"whole file\r\nDISCONNECT\r\n\r\nOK\r\n");
}

#[test]
fn numeric_mode_disconnect_is_14() {
    let (mut t, _) = in_data_mode(b"ATV0\r");
    t.end_data_mode();
    assert_eq!(t.take_output(), b"14\r0\r");
}

#[test]
fn too_little_silence_before_or_after_makes_plus_data() {
    let (mut t, t0) = in_data_mode(b"");
    t.receive(b"x", t0 + ms(1000), &mut Stub);
    t.receive(b"+++", t0 + ms(1500), &mut Stub);
    tick(&mut t, t0 + ms(4000));
    assert_eq!(t.poll_event(), None);
    assert_eq!(t.take_host_data(), b"x+++");
    t.receive(b"+++", t0 + ms(5000), &mut Stub);
    t.receive(b"y", t0 + ms(5500), &mut Stub);
    tick(&mut t, t0 + ms(9000));
    assert_eq!(t.poll_event(), None);
    assert_eq!(t.take_host_data(), b"+++y");
}

#[test]
fn s2_and_s12_shape_the_escape() {
    let (mut t, t0) = in_data_mode(b"ATS2=126;S12=10\r");
    t.receive(b"+++", t0 + ms(300), &mut Stub);
    t.receive(b"~~~", t0 + ms(600), &mut Stub);
    tick(&mut t, t0 + ms(799));
    assert_eq!(t.poll_event(), None);
    tick(&mut t, t0 + ms(800));
    assert_eq!(t.poll_event(), Some(Event::HostLeft(LeaveCause::Escape)));
    assert_eq!(t.take_host_data(), b"+++");
}

#[test]
fn s_registers_read_back() {
    let mut t = Terminal::new();
    let t0 = Instant::now();
    t.receive(b"ATE0\rATS2?;S12?\r", t0, &mut Stub);
    assert_eq!(
        t.take_output(),
        b"ATE0\r\r\nOK\r\n\r\n043\r\n\r\n050\r\n\r\nOK\r\n"
    );
    t.receive(b"ATS12=255;S12?\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"\r\n255\r\n\r\nOK\r\n");
    t.receive(b"ATS12=256\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"\r\nERROR\r\n");
    t.receive(b"ATS2=0\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"\r\nERROR\r\n");
}

#[test]
fn dtr_drop_leaves_under_and_d1_and_d2_not_d0() {
    for (setting, leaves) in [
        (&b"AT&D1\r"[..], true),
        (b"AT&D2\r", true),
        (b"AT&D0\r", false),
    ] {
        let (mut t, _) = in_data_mode(setting);
        t.dtr_changed(true);
        assert_eq!(t.poll_event(), None);
        t.dtr_changed(false);
        let expected = leaves.then_some(Event::HostLeft(LeaveCause::DtrDropped));
        assert_eq!(t.poll_event(), expected);
    }
    // The factory setting is &D1.
    let (mut t, _) = in_data_mode(b"");
    t.dtr_changed(false);
    assert_eq!(
        t.poll_event(),
        Some(Event::HostLeft(LeaveCause::DtrDropped))
    );
    // In command mode a DTR drop does nothing.
    let mut t = Terminal::new();
    t.dtr_changed(false);
    assert_eq!(t.poll_event(), None);
    assert!(!t.in_data_mode());
}

#[test]
fn and_d_rejects_values_out_of_range() {
    let mut t = Terminal::new();
    t.receive(b"ATE0\rAT&D3\r", Instant::now(), &mut Stub);
    assert_eq!(t.take_output(), b"ATE0\r\r\nOK\r\n\r\nERROR\r\n");
}

#[test]
fn a_urc_never_lands_inside_a_line_being_typed() {
    let mut t = Terminal::new();
    let t0 = Instant::now();
    t.receive(b"AT+CGM", t0, &mut Stub);
    t.push_urc(b"+UUFTPCR: 4,1");
    t.receive(b"M\r", t0, &mut Stub);
    assert_eq!(
        t.take_output(),
        b"AT+CGMM\r\r\nLEXI-R10401D\r\n\r\nOK\r\n\r\n+UUFTPCR: 4,1\r\n"
    );
    // From the very first character, the `A`.
    t.receive(b"A", t0, &mut Stub);
    t.push_urc(b"+UUFTPCR: 1,1");
    t.receive(b"T\r", t0, &mut Stub);
    assert_eq!(t.take_output(), b"AT\r\r\nOK\r\n\r\n+UUFTPCR: 1,1\r\n");
    // With nothing typed, at once.
    t.push_urc(b"+UUFTPCR: 0,1");
    assert_eq!(t.take_output(), b"\r\n+UUFTPCR: 0,1\r\n");
}

#[test]
fn the_hosts_lf_after_the_command_is_not_data_but_a_files_first_lf_is() {
    let mut t = Terminal::new();
    let t0 = Instant::now();
    t.receive(b"ATE0\rAT+LINK\r", t0, &mut Stub);
    t.receive(b"\n", t0, &mut Stub); // the LF of CR LF, while pending
    t.complete(Outcome::DataMode(DataModeFraming::default()), t0, &mut Stub);
    t.receive(b"\nabc", t0, &mut Stub); // a file that starts with LF
    assert_eq!(t.take_host_data(), b"\nabc");
}

#[test]
fn dtr_drop_releases_held_escape_characters_as_data() {
    let (mut t, t0) = in_data_mode(b"");
    t.receive(b"++", t0 + ms(2000), &mut Stub);
    t.dtr_changed(false);
    assert_eq!(
        t.poll_event(),
        Some(Event::HostLeft(LeaveCause::DtrDropped))
    );
    assert_eq!(t.take_host_data(), b"++");
}

proptest! {
    /// Whatever a host sends in data mode, in whatever pieces and at whatever times, no panic,
    /// and everything but a detected escape is data, in order.
    #[test]
    fn data_mode_never_loses_bytes(
        chunks in proptest::collection::vec(
            (proptest::collection::vec(prop_oneof![Just(b'+'), any::<u8>()], 0..16), 0u64..1500),
            0..30),
    ) {
        let (mut t, t0) = in_data_mode(b"");
        let mut now = t0;
        let mut sent = Vec::new();
        let mut data = Vec::new();
        let mut left = false;
        for (chunk, wait) in chunks {
            now += ms(wait);
            tick(&mut t, now);
            data.extend(t.take_host_data());
            if t.poll_event().is_some() {
                left = true;
                break;
            }
            t.receive(&chunk, now, &mut Stub);
            sent.extend_from_slice(&chunk);
            data.extend(t.take_host_data());
            prop_assert!(t.take_output().is_empty());
        }
        tick(&mut t, now + ms(10_000));
        data.extend(t.take_host_data());
        left |= t.poll_event().is_some();
        prop_assert_eq!(data.len() + if left { 3 } else { 0 }, sent.len());
        prop_assert_eq!(&data[..], &sent[..data.len()]);
    }
}
