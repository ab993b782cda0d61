//! Property tests over every command family's parser: any parameters, of any type, in any
//! number, never panic the module, and the terminal answers a plain `AT` afterwards.

use std::time::Instant;

use proptest::prelude::*;
use ubx_at::{Outcome, Terminal};
use ubx_modem::data_link::LinkEvent;
use ubx_modem::{Modem, ModemConfig};

/// Every extended command of every model (so each model also meets the commands of the others),
/// except the ones that reach the network by themselves (`+UDNSRN` resolves names; `+UFTPC` is
/// generated below without op 1 and 100).
fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ubx_modem::model::models()
        .iter()
        .flat_map(|m| m.commands.iter().map(String::as_str))
        .filter(|n| *n != "+UDNSRN" && *n != "+UFTPC")
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn param() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..70000).prop_map(|n| n.to_string()),
        "[ -!#-~]{0,80}".prop_map(|s| format!("\"{s}\"")),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| format!(
            "\"{}\"",
            String::from_utf8_lossy(&b).replace(['"', '\r'], "")
        )),
        "[A-Za-z0-9.:]{1,10}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    let name = proptest::sample::select(names());
    let tail = prop_oneof![
        Just(String::new()),
        Just("?".to_string()),
        Just("=?".to_string()),
        proptest::collection::vec(param(), 0..7).prop_map(|p| format!("={}", p.join(","))),
    ];
    let ftp = (
        proptest::sample::select(vec![0i64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        proptest::collection::vec(param(), 0..4),
    )
        .prop_map(|(op, p)| {
            let mut all = vec![op.to_string()];
            all.extend(p);
            format!("+UFTPC={}", all.join(","))
        });
    prop_oneof![4 => (name, tail).prop_map(|(n, t)| format!("{n}{t}")), 1 => ftp]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_command_line_gets_an_answer_and_the_terminal_survives(
        model in proptest::sample::select(ubx_modem::model::models().iter().collect::<Vec<_>>()),
        lines in proptest::collection::vec(line(), 1..8),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _inside = runtime.enter();
        let modem = Modem::new(ModemConfig { model, fs_size: 4096, ..ModemConfig::default() }).unwrap();
        let mut port = modem.open_terminal();
        let mut term = Terminal::new();
        term.receive(b"ATE0\r", Instant::now(), &mut port.handler);
        term.take_output();
        for l in &lines {
            term.receive(format!("AT{l}\r").as_bytes(), Instant::now(), &mut port.handler);
            if term.is_pending() {
                // AT+UFTPC=6/7: settle it as the driver does, with the operation's answer (here
                // a refusal: nothing is logged in).
                let mut link = port.handler.take_link().expect("a pending command has a link");
                let outcome = match runtime.block_on(link.events.recv()) {
                    Some(LinkEvent::Refused(e)) => Outcome::Failed(e),
                    Some(LinkEvent::Connected(framing)) => Outcome::DataMode(framing),
                    Some(LinkEvent::Answer(response)) => Outcome::Done(response),
                    _ => Outcome::Failed(ubx_at::CmeError::Unknown.into()),
                };
                term.complete(outcome, Instant::now(), &mut port.handler);
                term.end_data_mode();
            }
            if term.in_payload() {
                // +UDWNFILE & co: give up on the payload as a stalled host would.
                term.handle_timeout(Instant::now() + std::time::Duration::from_secs(60), &mut port.handler);
            }
            let out = term.take_output();
            let ends_ok = out.ends_with(b"\r\nOK\r\n") || out.ends_with(b"\r\nERROR\r\n")
                || out.windows(13).any(|w| w == b"+CME ERROR: ");
            prop_assert!(ends_ok, "AT{} -> {:?}", l, String::from_utf8_lossy(&out));
        }
        term.receive(b"AT\r", Instant::now(), &mut port.handler);
        let out = term.take_output();
        prop_assert!(out.ends_with(b"\r\nOK\r\n"), "{:?}", String::from_utf8_lossy(&out));
    }
}
