//! Several terminals on one module, hosts that go away mid-command, and what must never leave
//! the module file system or reach a trace.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ubx_modem::{Modem, ModemConfig};
use ubx_terminal::trace::Tracer;

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

async fn read_until(host: &mut tokio::io::DuplexStream, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        while !got.ends_with(end) {
            let n = host.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed; got {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {end:?}; got {got:?}"));
    got
}

#[tokio::test]
async fn host_disconnecting_mid_download_leaves_no_file_and_module_answers() {
    let modem = modem();
    let mut host = common::connect(&modem);
    host.write_all(b"ATE0\rAT+UDWNFILE=\"part\",10\r")
        .await
        .unwrap();
    read_until(&mut host, b">").await;
    host.write_all(b"abc").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(host);
    common::run_on(
        &modem,
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+ULSTFILE\n< \\r\\n+ULSTFILE: \\r\\n\\r\\nOK\\r\\n\n",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn host_disconnecting_mid_line_does_not_disturb_others() {
    let modem = modem();
    let mut first = common::connect(&modem);
    first.write_all(b"AT+CGM").await.unwrap();
    let second = common::run_on(
        &modem,
        "> AT+CGMI\n< AT+CGMI\\r\\r\\nu-blox\\r\\n\\r\\nOK\\r\\n\n",
    );
    drop(first);
    second.await.unwrap();
}

#[tokio::test]
async fn urcs_go_to_the_terminal_that_asked() {
    let modem = modem();
    let mut a = common::connect(&modem);
    let mut b = common::connect(&modem);
    a.write_all(b"ATE0\r").await.unwrap();
    read_until(&mut a, b"OK\r\n").await;
    a.write_all(b"AT+UDNSRN=0,\"127.0.0.1\"\r").await.unwrap();
    let got = read_until(&mut a, b"+UUDNSRN: 0,\"127.0.0.1\"\r\n").await;
    assert_eq!(got, b"\r\nOK\r\n\r\n+UUDNSRN: 0,\"127.0.0.1\"\r\n");
    b.write_all(b"AT\r").await.unwrap();
    assert_eq!(read_until(&mut b, b"OK\r\n").await, b"AT\r\r\nOK\r\n");
}

#[tokio::test]
async fn two_terminals_appending_to_one_file_never_interleave() {
    let modem = modem();
    let mut hosts = Vec::new();
    for t in 0..2u8 {
        let mut host = common::connect(&modem);
        hosts.push(tokio::spawn(async move {
            host.write_all(b"ATE0\r").await.unwrap();
            read_until(&mut host, b"OK\r\n").await;
            for _ in 0..20 {
                host.write_all(b"AT+UDWNFILE=\"shared\",1000\r")
                    .await
                    .unwrap();
                read_until(&mut host, b">").await;
                // Send the payload in pieces so the two terminals' payloads overlap in time.
                for chunk in [b'a' + t; 1000].chunks(100) {
                    host.write_all(chunk).await.unwrap();
                    tokio::task::yield_now().await;
                }
                assert_eq!(read_until(&mut host, b"OK\r\n").await, b"\r\nOK\r\n");
            }
        }));
    }
    for h in hosts {
        h.await.unwrap();
    }
    let data = modem.filesystem().read("shared").unwrap();
    assert_eq!(data.len(), 40_000);
    for block in data.chunks(1000) {
        assert!(block.iter().all(|&b| b == block[0]), "a payload was split");
    }
}

#[tokio::test]
async fn a_symlink_in_the_fs_dir_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("secret");
    std::fs::write(&target, b"outside").unwrap();
    let fs_dir = dir.path().join("fs");
    std::fs::create_dir(&fs_dir).unwrap();
    std::os::unix::fs::symlink(&target, fs_dir.join("link")).unwrap();
    let modem = Modem::new(ModemConfig {
        fs_dir: Some(fs_dir),
        ..ModemConfig::default()
    })
    .unwrap();
    common::run_on(
        &modem,
        r#"> ATE0;+CMEE=2
< ATE0;+CMEE=2\r\r\nOK\r\n
> AT+URDFILE="link"
< \r\n+CME ERROR: FILE NOT FOUND\r\n
> AT+UDWNFILE="link",3
< >
>> abc
< \r\n+CME ERROR: FILE NOT FOUND\r\n
> AT+UDELFILE="link"
< \r\n+CME ERROR: FILE NOT FOUND\r\n
> AT+ULSTFILE
< \r\n+ULSTFILE: \r\n\r\nOK\r\n
"#,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"outside");
}

#[tokio::test]
async fn files_survive_a_restart_with_fs_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = ModemConfig {
        fs_dir: Some(dir.path().to_path_buf()),
        ..ModemConfig::default()
    };
    let first = Modem::new(config.clone()).unwrap();
    common::run_on(
        &first,
        "> AT+UDWNFILE=\"keep\",4\n< AT+UDWNFILE=\"keep\",4\\r>\n>> data\n< \\r\\nOK\\r\\n\n",
    )
    .await
    .unwrap();
    drop(first);
    let second = Modem::new(config).unwrap();
    common::run_on(&second, "> AT+URDFILE=\"keep\"\n< AT+URDFILE=\"keep\"\\r\\r\\n+URDFILE: \"keep\",4,\"data\"\\r\\nOK\\r\\n\n")
        .await
        .unwrap();
}

#[tokio::test]
async fn trace_records_bytes_but_never_the_ftp_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.jsonl");
    let tracer = Tracer::create(&path).unwrap();
    let modem = modem();
    let (mut host, device) = tokio::io::duplex(4096);
    let m = modem.clone();
    let t = tracer.clone();
    let serve =
        tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, Some(&t)).await });
    // Byte by byte, as a person types, so the password is split across many reads.
    for b in b"AT+UFTP=3,\"hunter2\"\r\nAT+CGAUTH=1,1,\"me\",\"hunter3\"\r\nAT+CGMI\r\n" {
        host.write_all(&[*b]).await.unwrap();
        tokio::task::yield_now().await;
    }
    read_until(&mut host, b"u-blox\r\n\r\nOK\r\n").await;
    drop(host);
    serve.await.unwrap().unwrap();
    drop(tracer);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter"), "{text}");
    // One record per read; the line of a secret from its command's name on, masked.
    let typed: String = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["k"] == "io" && v["dir"] == "in")
        .filter_map(|v| v["data"].as_str().map(str::to_string))
        .collect();
    assert!(typed.contains(r#"AT+UFTP=3,"***""#), "{text}");
    assert!(typed.contains(r#"AT+CGAUTH=1,1,"me","***""#), "{text}");
    assert!(typed.contains("AT+CGMI"), "{text}");
    // docs/TRACE.md: a header, then records with a time; the bytes are `io` records.
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if i == 0 {
            assert_eq!((&v["k"], &v["v"]), (&"trace".into(), &1.into()), "{line}");
        } else if v["k"] == "io" {
            assert!(v["term"].is_u64() && v["t"].is_u64(), "{line}");
            assert!(v["dir"] == "in" || v["dir"] == "out", "{line}");
        } else {
            assert!(v["t"].is_u64() && v["k"].is_string(), "{line}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_stalled_download_fails_after_20_s_and_leaves_the_file_unchanged() {
    // fs::PAYLOAD_STALL_TIMEOUT (docs/FIDELITY.md: 20 s). The driver keeps time with tokio's
    // clock, so the 20 s pass at once under a paused clock.
    assert_eq!(
        ubx_modem::fs::PAYLOAD_STALL_TIMEOUT,
        Duration::from_secs(20)
    );
    let modem = modem();
    modem.filesystem().append("f", b"keep").unwrap();
    let mut host = common::AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    host.cmd("AT+UDWNFILE=\"f\",10", b">").await;
    let sent = tokio::time::Instant::now();
    host.io.write_all(b"abc").await.unwrap();
    host.quiet(19_000).await;
    host.expect_within(b"\r\n+CME ERROR: FFS TIMEOUT\r\n", 5)
        .await;
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_secs(20), "failed after {waited:?}");
    host.ok("AT").await;
    host.cmd(
        "AT+URDFILE=\"f\"",
        b"\r\n+URDFILE: \"f\",4,\"keep\"\r\nOK\r\n",
    )
    .await;
    assert_eq!(modem.filesystem().read("f").unwrap(), b"keep");
    host.quiet(100).await;
}

#[tokio::test]
async fn a_handle_closed_and_reopened_between_prompt_and_payload_gets_none_of_it() {
    let modem = modem();
    let mut a = common::AtHost::connect(&modem).await;
    let mut b = common::AtHost::connect(&modem).await;
    a.cmd("AT+CMEE=2", b"\r\nOK\r\n").await;
    a.cmd("AT+FOPEN=\"mine\",0", b"\r\n+FOPEN: 1\r\n\r\nOK\r\n")
        .await;
    a.cmd("AT+FWRITEHEX=1,4", b"\r\nCONNECT\r\n").await;
    // Meanwhile another terminal closes handle 1 and gets the number again for its own file.
    b.cmd("AT+FCLOSE=1", b"\r\nOK\r\n").await;
    b.cmd("AT+FOPEN=\"theirs\",0", b"\r\n+FOPEN: 1\r\n\r\nOK\r\n")
        .await;
    a.io.write_all(b"abcd").await.unwrap();
    a.expect(b"\r\n+CME ERROR: invalid index\r\n").await;
    assert_eq!(modem.filesystem().read("theirs").unwrap(), b"");
    assert_eq!(modem.filesystem().read("mine").unwrap(), b"");
}
