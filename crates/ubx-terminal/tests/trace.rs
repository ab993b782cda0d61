//! The trace under tokio's paused clock: one record per read and per write, at the time it
//! happened on the transport, nothing merged across a pause or a change of direction, and the
//! network side on the same clock (docs/TRACE.md).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use ubx_modem::{Modem, ModemConfig};
use ubx_terminal::trace::Tracer;

/// A module with a trace, and the host's end of one terminal.
struct Traced {
    host: DuplexStream,
    terminal: tokio::task::JoinHandle<()>,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
    modem: Modem,
}

impl Traced {
    fn start() -> Traced {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let tracer = Tracer::create(&path).unwrap();
        let modem = Modem::new(ModemConfig::default()).unwrap();
        let (host, device) = tokio::io::duplex(1 << 20);
        let m = modem.clone();
        let terminal = tokio::spawn(async move {
            let _ = ubx_terminal::driver::serve(&m, device, Some(&tracer)).await;
        });
        Traced {
            host,
            terminal,
            path,
            _dir: dir,
            modem,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.host.write_all(bytes).await.unwrap();
    }

    /// Reads until the bytes end with `end`.
    async fn until(&mut self, end: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        tokio::time::timeout(Duration::from_secs(10), async {
            while !got.ends_with(end) {
                let n = self.host.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed; got {got:?}");
                got.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("waited for {end:?}; got {got:?}"));
        got
    }

    /// Closes the terminal and reads the trace.
    async fn records(self) -> Vec<Value> {
        drop(self.host);
        let _ = self.terminal.await;
        drop(self.modem);
        read(&self.path)
    }
}

fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The io records of one direction, as (t, data).
fn io(records: &[Value], dir: &str) -> Vec<(u64, String)> {
    records
        .iter()
        .filter(|r| r["k"] == "io" && r["dir"] == dir)
        .map(|r| (t(r), r["data"].as_str().unwrap_or_default().to_string()))
        .collect()
}

fn t(r: &Value) -> u64 {
    r["t"].as_u64().unwrap()
}

/// The first record with `data`, its index and time.
fn find(records: &[Value], dir: &str, data: &str) -> (usize, u64) {
    records
        .iter()
        .enumerate()
        .find(|(_, r)| r["k"] == "io" && r["dir"] == dir && r["data"] == data)
        .map(|(i, r)| (i, t(r)))
        .unwrap_or_else(|| panic!("no {dir} record {data:?} in {records:#?}"))
}

#[tokio::test(start_paused = true)]
async fn the_udwnfile_prompt_is_its_own_record_before_the_payload() {
    let mut m = Traced::start();
    m.send(b"ATE0\r").await;
    m.until(b"OK\r\n").await;
    m.send(b"AT+UDWNFILE=\"a.txt\",5\r").await;
    m.until(b">").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    m.send(b"hello").await;
    m.until(b"\r\nOK\r\n").await;
    let records = m.records().await;
    assert_eq!(records[0]["k"], "trace");
    assert_eq!(records[0]["v"], 1);
    assert_eq!(records[1]["k"], "module");
    assert_eq!(records[1]["model"], "lexi-r10");
    let (prompt, prompt_t) = find(&records, "out", ">");
    let (payload, payload_t) = find(&records, "in", "hello");
    let (ok, ok_t) = find(&records, "out", "\\r\\nOK\\r\\n");
    let (command, command_t) = find(&records, "in", "AT+UDWNFILE=\"a.txt\",5\\r");
    assert!(
        command < prompt && prompt < payload && payload < ok,
        "{records:#?}"
    );
    assert_eq!(prompt_t, command_t, "the prompt answers at once");
    assert_eq!(payload_t - prompt_t, 500_000, "the host waited 500 ms");
    assert_eq!(ok_t, payload_t);
    let terms: Vec<&str> = records
        .iter()
        .filter(|r| r["k"] == "term")
        .filter_map(|r| r["ev"].as_str())
        .collect();
    assert_eq!(terms, ["connect", "disconnect"]);
}

#[tokio::test(start_paused = true)]
async fn a_urc_that_comes_while_a_line_is_typed_is_recorded_where_it_happened() {
    let mut m = Traced::start();
    m.send(b"AT+CEREG=1\r").await;
    m.until(b"OK\r\n").await;
    m.send(b"AT+CG").await;
    m.until(b"AT+CG").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The network goes away while the host types: +CEREG: 0 is held until the line is done.
    let faults = ubx_modem::field::spec::parse_scenario(
        "[[fault]]\ntarget = \"network\"\naction = \"deregister\"\n",
        8,
    )
    .unwrap();
    m.modem.field().faults.add_all(faults);
    tokio::time::sleep(Duration::from_millis(300)).await;
    m.send(b"MI\r").await;
    m.until(b"\r\n+CEREG: 0\r\n").await;
    let records = m.records().await;
    let (typed, typed_t) = find(&records, "in", "AT+CG");
    let (echo, echo_t) = find(&records, "out", "AT+CG");
    let (rest, rest_t) = find(&records, "in", "MI\\r");
    let fault = records
        .iter()
        .position(|r| r["k"] == "field" && r["ev"] == "fault")
        .expect("the fault fires in the trace");
    let fault_t = t(&records[fault]);
    assert!(typed < echo && echo < fault && fault < rest, "{records:#?}");
    assert_eq!(typed_t, echo_t);
    assert_eq!(fault_t - typed_t, 200_000);
    assert_eq!(rest_t - typed_t, 500_000);
    assert_eq!(records[fault]["target"], "network");
    assert_eq!(records[fault]["action"], "deregister");
    // The network took the default bearer with it.
    let bearer = records
        .iter()
        .find(|r| r["ev"] == "bearer")
        .expect("the bearer's going");
    assert_eq!(
        (&bearer["cid"], &bearer["up"], &bearer["cause"]),
        (&1.into(), &false.into(), &"network".into())
    );
    assert_eq!(t(bearer), fault_t);
    // The line's end, its answer and then the URC: out records after the rest of the line.
    let out: String = io(&records, "out")
        .into_iter()
        .filter(|(t, _)| *t >= rest_t)
        .map(|(_, d)| d)
        .collect();
    assert!(
        out.starts_with("MI\\r\\r\\nu-blox") && out.ends_with("OK\\r\\n\\r\\n+CEREG: 0\\r\\n"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_secret_line_is_masked_and_keeps_the_time_of_its_first_byte() {
    let mut m = Traced::start();
    m.send(b"AT+UFTP=3,\"pw-").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    m.send(b"xyz\"\r").await;
    m.until(b"OK\r\n").await;
    let records = m.records().await;
    let text = records
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains("pw-") && !text.contains("xyz"), "{text}");
    let (i, at) = find(&records, "in", "AT+UFTP=3,\"***\"\\r");
    assert_eq!(records[i]["masked"], serde_json::json!(["ftp-password"]));
    assert_eq!(records[i]["held"], true);
    let (_, echo_at) = find(&records, "out", "AT+UFTP=3,\"***\"\\r");
    let (_, ok_at) = find(&records, "out", "\\r\\nOK\\r\\n");
    assert_eq!(ok_at, 100_000);
    let connect = records.iter().find(|r| r["ev"] == "connect").map(t);
    assert_eq!(Some(at), connect, "the time of the line's first byte");
    assert_eq!(echo_at, at);
}

/// A TCP echo server on loopback.
async fn echo() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(start_paused = true)]
async fn a_direct_link_has_a_record_per_read_and_write_and_its_connection_beside_it() {
    let port = echo().await;
    let mut m = Traced::start();
    m.send(b"ATE0\r").await;
    m.until(b"OK\r\n").await;
    m.send(b"AT+USOCR=6\r").await;
    m.until(b"OK\r\n").await;
    m.send(format!("AT+USOCO=0,\"127.0.0.1\",{port}\r").as_bytes())
        .await;
    m.until(b"OK\r\n").await;
    m.send(b"AT+USODL=0\r").await;
    m.until(b"CONNECT\r\n").await;
    m.send(b"hello").await;
    m.until(b"hello").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    m.send(b"world").await;
    m.until(b"world").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    m.send(b"+++").await;
    m.until(b"\r\nDISCONNECT\r\n\r\nOK\r\n").await;
    m.send(b"AT+USOCL=0\r").await;
    m.until(b"OK\r\n").await;
    let records = m.records().await;
    let data_in = io(&records, "data-in");
    assert_eq!(
        data_in.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(),
        ["hello", "world", "+++"],
        "{records:#?}"
    );
    assert_eq!(data_in[1].0 - data_in[0].0, 300_000);
    assert_eq!(data_in[2].0 - data_in[1].0, 1_200_000);
    let data_out: String = io(&records, "data-out")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(data_out, "helloworld");
    let (connect, _) = find(&records, "out", "\\r\\nCONNECT\\r\\n");
    let (disconnect, disconnect_t) = find(&records, "out", "\\r\\nDISCONNECT\\r\\n\\r\\nOK\\r\\n");
    let (hello, _) = find(&records, "data-in", "hello");
    assert!(connect < hello && hello < disconnect);
    // The escape's guard time after `+++`: a second of silence.
    assert!(disconnect_t - data_in[2].0 >= 1_000_000, "{records:#?}");
    let modes: Vec<bool> = records
        .iter()
        .filter(|r| r["ev"] == "data-mode")
        .filter_map(|r| r["on"].as_bool())
        .collect();
    assert_eq!(modes, [true, false]);
    let open = records
        .iter()
        .find(|r| r["k"] == "net" && r["ev"] == "open")
        .expect("the connection's open");
    assert_eq!(open["role"], "socket");
    assert_eq!(open["remote"], format!("127.0.0.1:{port}"));
    assert!(
        open["local"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );
    let close = records
        .iter()
        .find(|r| r["k"] == "net" && r["ev"] == "close" && r["conn"] == open["conn"])
        .expect("the connection's close");
    assert_eq!(
        (close["in"].as_u64(), close["out"].as_u64()),
        (Some(10), Some(10))
    );
}

#[tokio::test(start_paused = true)]
async fn a_reboot_a_link_change_and_a_reset_are_on_the_same_clock() {
    let port = echo().await;
    let mut m = Traced::start();
    m.send(b"ATE0\r").await;
    m.until(b"OK\r\n").await;
    m.send(b"AT+USOCR=6\r").await;
    m.until(b"OK\r\n").await;
    m.send(format!("AT+USOCO=0,\"127.0.0.1\",{port}\r").as_bytes())
        .await;
    m.until(b"OK\r\n").await;
    let scenario = "[[fault]]\ntarget = \"socket\"\naction = \"reset\"\n";
    let faults = ubx_modem::field::spec::parse_scenario(scenario, 8).unwrap();
    m.modem.field().faults.add_all(faults);
    m.send(b"AT+USOWR=0,2,\"hi\"\r").await;
    m.until(b"\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let link = ubx_modem::field::spec::LinkSpec::parse("lte-m").unwrap();
    m.modem.field().set_link(link);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let scenario = "[[fault]]\ntarget = \"module\"\naction = \"reboot\"\nduration_ms = 700\n";
    let faults = ubx_modem::field::spec::parse_scenario(scenario, 8).unwrap();
    m.modem.field().faults.add_all(faults);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = m.records().await;
    let field = |ev: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| (r["k"] == "field" || r["k"] == "net") && r["ev"] == ev)
            .collect()
    };
    let reset = field("reset");
    assert_eq!(reset.len(), 1, "{records:#?}");
    assert_eq!(reset[0]["cause"], "fault");
    let fired = field("fault");
    assert_eq!(fired[0]["target"], "socket");
    assert_eq!(fired[0]["conn"], reset[0]["conn"]);
    let link_t = t(field("link")[0]);
    assert_eq!(field("link")[0]["spec"], link.to_string());
    let power: Vec<(bool, u64)> = field("power")
        .iter()
        .map(|r| (r["on"] == true, t(r)))
        .collect();
    assert_eq!(power.len(), 2, "{records:#?}");
    assert_eq!((power[0].0, power[1].0), (false, true));
    assert_eq!(power[0].1 - link_t, 100_000);
    assert_eq!(power[1].1 - power[0].1, 700_000);
    assert_eq!(fired[1]["target"], "module");
}
