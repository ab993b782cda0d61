//! `ubxftp fleet` as its users run it: a port per module, a load script against a real server,
//! shards whose merged report equals the single-process run, and the refusals.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use test_servers::{Kind, ServerOptions};

fn ubxftp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn report(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A script each module runs against `server`: log in, store its own file, get it back, check
/// it, log out. `{index}` names the files, so the modules do not collide.
fn script(dir: &Path, server: &test_servers::RunningServer) -> std::path::PathBuf {
    let s = format!(
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n\
         > AT+UFTP=0,\"{ip}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=7,{port}\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=2,\"{user}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=3,\"{password}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=6,1\n< \\r\\nOK\\r\\n\n\
         > AT+UFTPC=1\n< \\r\\nOK\\r\\n\n<10000 \\r\\n+UUFTPCR: 1,1\\r\\n\n\
         >> AT+UDWNFILE=\"m{{index}}.txt\",4\\r\\n\n< >\n>> data\n< \\r\\nOK\\r\\n\n\
         > AT+UFTPC=5,\"m{{index}}.txt\",\"m{{index}}.txt\"\n< \\r\\nOK\\r\\n\n<10000 \\r\\n+UUFTPCR: 5,1\\r\\n\n\
         > AT+UFTPC=4,\"m{{index}}.txt\",\"back{{index}}.txt\"\n< \\r\\nOK\\r\\n\n<10000 \\r\\n+UUFTPCR: 4,1\\r\\n\n\
         > AT+URDFILE=\"back{{index}}.txt\"\n< \\r\\n+URDFILE: \"back{{index}}.txt\",4,\"data\"\\r\\nOK\\r\\n\n\
         > AT+UFTPC=0\n< \\r\\nOK\\r\\n\n<10000 \\r\\n+UUFTPCR: 0,1\\r\\n\n",
        ip = server.addr.ip(),
        port = server.addr.port(),
        user = server.user,
        password = server.password,
    );
    let p = dir.join("script.txt");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn shards_merge_into_the_single_process_run() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(test_servers::start(Kind::Vsftpd, ServerOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = script(dir.path(), &server);
    let fs = dir.path().join("fs");
    let single = dir.path().join("single.json");
    let out = ubxftp(&[
        "fleet",
        "--count",
        "6",
        "--script",
        path(&script),
        "--report",
        path(&single),
        "--fs-dir",
        path(&fs),
        "--seed",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Three shards side by side, against the same server.
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let report = dir.path().join(format!("shard{i}.json"));
            let child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
                .args([
                    "fleet",
                    "--count",
                    "6",
                    "--shard",
                    &format!("{i}/3"),
                    "--script",
                    path(&script),
                    "--report",
                    path(&report),
                    "--fs-dir",
                    path(&dir.path().join(format!("fs{i}"))),
                    "--seed",
                    "7",
                ])
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (child, report)
        })
        .collect();
    let mut files = vec!["report".to_string(), "merge".to_string()];
    for (mut child, report) in shards {
        assert!(child.wait().unwrap().success());
        files.push(path(&report).to_string());
    }
    let merged = dir.path().join("merged.json");
    let args: Vec<&str> = files[1..].iter().map(String::as_str).collect();
    let mut argv = vec!["report"];
    argv.extend(args);
    argv.extend(["-o", path(&merged)]);
    let out = ubxftp(&argv);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (report(&single), report(&merged));
    assert_eq!(a["modules"], 6);
    assert_eq!(a["passed"], 6, "{a}");
    // Each module stored 4 bytes and retrieved them: 8 bytes of FTP data, no more (listings
    // would count; there are none).
    assert_eq!(a["ftp_data_bytes"], 6 * 8, "{a}");
    for key in [
        "modules",
        "passed",
        "failed",
        "outcomes",
        "fleet",
        "bytes",
        "ftp_data_bytes",
        "uftper_classes",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(b["shards"], serde_json::json!([0, 1, 2]));
    // Every step's count adds up across the shards.
    let counts = |r: &serde_json::Value| {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["line"].clone(), s["count"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&a), counts(&b));
    // The report prints as a table.
    let out = ubxftp(&["report", path(&merged)]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("passed 6"), "{table}");
    assert!(table.contains("FTP data moved 48 bytes"), "{table}");
    // Reports of another fleet (another seed) do not merge with these.
    let other = dir.path().join("other.json");
    let out = ubxftp(&[
        "fleet",
        "--count",
        "6",
        "--shard",
        "0/3",
        "--script",
        path(&script),
        "--report",
        path(&other),
        "--fs-dir",
        path(&dir.path().join("fsx")),
        "--seed",
        "8",
    ]);
    assert!(out.status.success());
    let out = ubxftp(&["report", "merge", path(&other), &files[3]]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("different fleets"));
}

/// A free block of `n` ports, from a base chosen per process and per call (the tests of this
/// file run at once and must not pick the same block).
fn free_base(n: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Above the test servers' own port range (20000-32767).
    let mut base = 33000 + (std::process::id() % 1000) as u16 * 10 + call * 1000;
    loop {
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
        base += n;
    }
}

fn read_until(s: &mut impl Read, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(end) {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed: {got:?}");
        got.push(b[0]);
    }
    got
}

#[test]
fn a_port_per_module_each_its_own_imei_and_a_control_api_for_all() {
    let base = free_base(3);
    let server = support::Server::start_with(
        "fleet",
        &[
            "--count",
            "3",
            "--tcp",
            &format!("127.0.0.1:{base}"),
            "--control",
            "127.0.0.1:0",
        ],
        3,
    );
    let lines = &server.lines;
    assert_eq!(
        lines[0],
        format!("fleet: 3 modules on tcp://127.0.0.1:{base}..{}", base + 2)
    );
    let url = lines[1].strip_prefix("control: ").unwrap().to_string();
    assert!(lines[2].starts_with("control token: "), "{lines:?}");
    let imei = |port: u16| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"ATE0\r\nAT+CGSN\r\n").unwrap();
        let got = String::from_utf8(read_until(&mut s, b"\r\n\r\nOK\r\n")).unwrap();
        got.split("\r\n")
            .find(|l| l.len() == 15)
            .unwrap()
            .to_string()
    };
    // Serials 0, 1, 2 of the LEXI-R10 test TAC, each with its Luhn digit.
    assert_eq!(imei(base), "004402090000005");
    assert_eq!(imei(base + 1), "004402090000013");
    assert_eq!(imei(base + 2), "004402090000021");
    let out = server.ubxftp(&["ctl", &format!("{url}/modems/2"), "state", "--json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"model\":\"lexi-r10\""));
    // The short paths need a single module.
    let out = server.ubxftp(&["ctl", &url, "faults"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"));
}

#[test]
fn bad_fleets_are_refused_before_anything_listens() {
    let err = support::refused("fleet", &["--count", "0", "--tcp", "127.0.0.1:30000"]);
    assert!(err.contains("--count 0"), "{err}");
    let err = support::refused("fleet", &["--count", "10", "--tcp", "127.0.0.1:65530"]);
    assert!(err.contains("beyond 65535"), "{err}");
    let base = free_base(3);
    let _taken = std::net::TcpListener::bind(("127.0.0.1", base + 1)).unwrap();
    let err = support::refused(
        "fleet",
        &["--count", "3", "--tcp", &format!("127.0.0.1:{base}")],
    );
    assert!(err.contains(&format!("port {}", base + 1)), "{err}");
    let err = support::refused(
        "fleet",
        &["--count", "3", "--tcp", "127.0.0.1:30000", "--shard", "3/3"],
    );
    assert!(err.contains("shard 3/3"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.txt");
    std::fs::write(&s, "> AT+UFTP=0,\"{server}\"\n< \\r\\nOK\\r\\n\n").unwrap();
    let err = support::refused("fleet", &["--count", "3", "--script", path(&s)]);
    assert!(
        err.contains("s.txt:1: unknown placeholder {server} (known here: {imei}, {index})"),
        "{err}"
    );
}

#[test]
fn a_share_of_the_fleet_gets_a_fault() {
    let base = free_base(10);
    let mut server = support::Server::start_with(
        "fleet",
        &[
            "--count",
            "10",
            "--tcp",
            &format!("127.0.0.1:{base}"),
            "--control",
            "127.0.0.1:0",
        ],
        3,
    );
    let (status, answer) = server.api(
        "POST",
        "/fleet/faults",
        Some(r#"{"modems": "30%", "target": "dns", "action": "fail"}"#),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["modems"].as_array().unwrap().len(), 3, "{answer}");
    let (_, fleet) = server.api("GET", "/fleet", None);
    assert_eq!(fleet["modules"], 10);
    assert_eq!(fleet["states"]["registered"], 10);
    let _ = server.child.kill();
}

#[test]
fn a_pty_per_module_listed_in_a_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("ptys.json");
    let mut server = support::Server::start_with(
        "fleet",
        &["--count", "2", "--pty", "--pty-map", path(&map)],
        1,
    );
    assert!(
        server.lines[0].starts_with("fleet: 2 modules on PTYs"),
        "{:?}",
        server.lines
    );
    let map: serde_json::Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    let pty = map["1"].as_str().unwrap();
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(pty)
        .unwrap();
    tty.write_all(b"ATE0\r\nAT+CGSN\r\n").unwrap();
    let got = String::from_utf8(read_until(&mut tty, b"\r\n\r\nOK\r\n")).unwrap();
    assert!(got.contains("004402090000013"), "{got:?}");
    let _ = server.child.kill();
}

/// The modules of a fleet of `count`, served by `server`'s control API, that have a fault.
fn modules_with_faults(server: &support::Server, count: usize) -> Vec<usize> {
    (0..count)
        .filter(|i| {
            server
                .api("GET", &format!("/modems/{i}/faults"), None)
                .1
                .as_array()
                .is_some_and(|faults| !faults.is_empty())
        })
        .collect()
}

/// A `--faults` file whose faults name their share of the fleet (`modems`): a single process and
/// its shards put them on the same modules, and `POST /fleet/faults` picks those modules too.
#[test]
fn a_fault_file_gives_each_fault_its_share_in_shards_as_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(
        &faults,
        "[[fault]]\nmodems = \"30%\"\ntarget = \"dns\"\naction = \"fail\"\n\n\
         [[fault]]\nmodems = [2, 17]\ntarget = \"network\"\naction = \"deregister\"\nat_ms = 600000\n",
    )
    .unwrap();
    let start = |shard: Option<&str>| {
        let base = free_base(20);
        let mut args = vec![
            "--count".to_string(),
            "20".into(),
            "--tcp".into(),
            format!("127.0.0.1:{base}"),
            "--control".into(),
            "127.0.0.1:0".into(),
            "--faults".into(),
            path(&faults).into(),
        ];
        if let Some(s) = shard {
            args.extend(["--shard".into(), s.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::Server::start_with("fleet", &args, 3)
    };
    let mut one = start(None);
    let in_one = modules_with_faults(&one, 20);
    // 30 % of 20 is 6 modules; modules 2 and 17 are named.
    assert!(in_one.contains(&2) && in_one.contains(&17), "{in_one:?}");
    // The API's share is the file's.
    let (_, answer) = one.api(
        "POST",
        "/fleet/faults",
        Some(r#"{"modems": "30%", "target": "dns", "action": "fail"}"#),
    );
    let by_api: Vec<usize> = answer["modems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(by_api.len(), 6, "{answer}");
    let mut expected = by_api.clone();
    expected.extend([2, 17]);
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(in_one, expected);
    let _ = one.child.kill();
    // Two shards: together, the same modules.
    let mut in_shards = Vec::new();
    for shard in ["0/2", "1/2"] {
        let mut s = start(Some(shard));
        in_shards.extend(modules_with_faults(&s, 20));
        let _ = s.child.kill();
    }
    in_shards.sort_unstable();
    assert_eq!(in_shards, in_one);
    // A module outside the fleet is refused, naming it.
    std::fs::write(
        &faults,
        "[[fault]]\nmodems = [20]\ntarget = \"dns\"\naction = \"fail\"\n",
    )
    .unwrap();
    let tcp = format!("127.0.0.1:{}", free_base(20));
    let err = support::refused(
        "fleet",
        &["--count", "20", "--tcp", &tcp, "--faults", path(&faults)],
    );
    assert!(
        err.contains("20 is not a module of this fleet of 20"),
        "{err}"
    );
}
