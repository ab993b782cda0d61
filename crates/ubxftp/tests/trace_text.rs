//! `ubxftp trace FILE`: a hand-written version 1 trace (docs/TRACE.md) printed as text, in time
//! order (the held secret line moves up), with no colours when standard output is a pipe.

use std::process::Output;

/// Every kind of record once: a prompt and its payload, a URC, a held (masked) line written
/// after a later record, the network side and the field's events.
const TRACE: &str = r#"{"k":"trace","v":1,"unix_us":1700000000000000,"tool":"ubxftp 0.1.0"}
{"t":120,"m":1,"k":"module","model":"lexi-r10","cgmm":"LEXI-R10401D","imei":"004401080000001"}
{"t":1500,"m":1,"k":"term","term":1,"ev":"connect"}
{"t":12345,"m":1,"k":"io","term":1,"dir":"in","data":"AT\r"}
{"t":12400,"m":1,"k":"io","term":1,"dir":"out","data":"AT\r\r\nOK\r\n"}
{"t":20000,"m":1,"k":"io","term":1,"dir":"in","data":"AT+UDWNFILE=\"a.txt\",3\r"}
{"t":20100,"m":1,"k":"io","term":1,"dir":"out","data":"AT+UDWNFILE=\"a.txt\",3\r\r\n"}
{"t":20150,"m":1,"k":"io","term":1,"dir":"out","data":">"}
{"t":520000,"m":1,"k":"io","term":1,"dir":"in","data":"hi "}
{"t":520300,"m":1,"k":"io","term":1,"dir":"out","data":"\r\nOK\r\n"}
{"t":600000,"m":1,"k":"io","term":1,"dir":"in","data":"AT+UFTPC=1\r"}
{"t":600050,"m":1,"k":"io","term":1,"dir":"out","data":"AT+UFTPC=1\r\r\nOK\r\n"}
{"t":601000,"m":1,"k":"net","ev":"open","conn":1,"role":"ftp-control","opener":"module","local":"127.0.0.1:40000","remote":"127.0.0.1:2121"}
{"t":602000,"m":1,"k":"ftp","dir":"received","text":"220 ready"}
{"t":603000,"m":1,"k":"ftp","dir":"sent","text":"PASS ****"}
{"t":610000,"m":1,"k":"io","term":1,"dir":"out","data":"\r\n+UUFTPCR: 1,1\r\n"}
{"t":650000,"m":1,"k":"field","ev":"fault","fault":2,"target":"ftp-data","action":"reset","conn":2}
{"t":660000,"m":1,"k":"net","ev":"reset","conn":2,"cause":"fault"}
{"t":670000,"m":1,"k":"field","ev":"link","spec":"lte-m"}
{"t":680000,"m":1,"k":"field","ev":"bearer","cid":1,"up":false,"cause":"network"}
{"t":700500,"m":1,"k":"io","term":1,"dir":"out","data":"AT+CGAUTH=1,1,\"u\",\"***\"\r\r\nOK\r\n"}
{"t":700000,"m":1,"k":"io","term":1,"dir":"in","data":"AT+CGAUTH=1,1,\"u\",\"***\"\r","masked":["pdp-password"],"held":true}
{"t":900000,"m":1,"k":"net","ev":"close","conn":1,"in":120,"out":45}
{"t":1234567,"m":1,"k":"term","term":1,"ev":"disconnect","cause":"peer"}
"#;

const EXPECTED: &str = r#"# trace v1 (ubxftp 0.1.0)
     +0.120 ms  m1       *  module   lexi-r10 LEXI-R10401D imei 004401080000001
     +1.500 ms  m1  t1   *  term     connect
    +12.345 ms  m1  t1   >  cmd      AT\r
    +12.400 ms  m1  t1   <  result   AT\r\r\nOK\r\n
    +20.000 ms  m1  t1   >  cmd      AT+UDWNFILE="a.txt",3\r
    +20.100 ms  m1  t1   <  answer   AT+UDWNFILE="a.txt",3\r\r\n
    +20.150 ms  m1  t1   <  prompt   >
   +520.000 ms  m1  t1   >  data     hi\s
   +520.300 ms  m1  t1   <  result   \r\nOK\r\n
   +600.000 ms  m1  t1   >  cmd      AT+UFTPC=1\r
   +600.050 ms  m1  t1   <  result   AT+UFTPC=1\r\r\nOK\r\n
   +601.000 ms  m1  c1   >  open     ftp-control 127.0.0.1:40000 -> 127.0.0.1:2121 (opened by the module)
   +602.000 ms  m1  ftp  <  ftp      220 ready
   +603.000 ms  m1  ftp  >  ftp      PASS ****
   +610.000 ms  m1  t1   <  urc      \r\n+UUFTPCR: 1,1\r\n
   +650.000 ms  m1       *  fault    #2 ftp-data reset on c2
   +660.000 ms  m1  c2   *  reset    cause fault
   +670.000 ms  m1       *  link     lte-m
   +680.000 ms  m1       *  bearer   cid 1 down (network)
   +700.000 ms  m1  t1   >  cmd      AT+CGAUTH=1,1,"u","***"\r  (held)  (masked: pdp-password)
   +700.500 ms  m1  t1   <  result   AT+CGAUTH=1,1,"u","***"\r\r\nOK\r\n
   +900.000 ms  m1  c1   *  close    in 120 B, out 45 B
  +1234.567 ms  m1  t1   *  term     disconnect peer
"#;

fn trace(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, TRACE).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .arg("trace")
        .arg(&file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_trace_prints_as_text_in_time_order_without_colours_in_a_pipe() {
    let out = trace(&[], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED);
    // NO_COLOR does not matter to a pipe; --color never neither.
    assert_eq!(trace(&["--color", "never"], &[]).stdout, out.stdout);
}

#[test]
fn colours_only_when_asked_and_not_under_no_color() {
    let coloured = trace(&["--color", "always"], &[]);
    let text = String::from_utf8_lossy(&coloured.stdout);
    assert!(text.contains("\x1b[1;36mcmd"), "{text}");
    assert!(text.contains("\x1b[1;31mfault"), "{text}");
    // Without the escapes, the same text.
    let plain = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&text, "");
    assert_eq!(plain, EXPECTED);
    // `auto` in a pipe, NO_COLOR or not: none.
    let auto = trace(&["--color", "auto"], &[("NO_COLOR", "1")]);
    assert!(!auto.stdout.contains(&0x1b));
}

#[test]
fn a_file_that_is_not_a_version_1_trace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, "{\"k\":\"trace\",\"v\":2}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("trace")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reads version 1"), "{err}");
    // Nor does `trace view` write a page of it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["trace", "view"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reads version 1"), "{err}");
    assert!(!dir.path().join("t.html").exists());
}

/// The rows of a page `trace view` wrote: its one JSON script, read back.
fn page_rows(page: &str) -> Vec<serde_json::Value> {
    let open = "type=\"application/json\">";
    let start = page.find(open).unwrap() + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    let config: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    assert_eq!(config["live"], serde_json::Value::Null);
    config["rows"].as_array().unwrap().clone()
}

#[test]
fn trace_view_writes_one_page_with_a_row_per_record_in_its_lane() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, TRACE).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
            .args(["trace", "view"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("t.html: 23 records"));
    let page = std::fs::read_to_string(dir.path().join("t.html")).unwrap();
    // Self-contained: the page may fetch nothing at all.
    assert!(page.contains("connect-src 'none'"), "{page:.400}");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    let rows = page_rows(&page);
    assert_eq!(rows.len(), 23);
    // In time order (the held line in its place), each in its lane with its kind: the same
    // classifier as the text.
    let at = |t: u64| {
        let r = rows.iter().find(|r| r[0] == t).unwrap();
        [r[2].as_str().unwrap(), r[3].as_str().unwrap()]
    };
    assert_eq!(at(12345), ["host", "cmd"]);
    assert_eq!(at(12400), ["module", "result"]);
    assert_eq!(at(20100), ["module", "answer"]);
    assert_eq!(at(20150), ["module", "prompt"]);
    assert_eq!(at(520000), ["host", "data"]);
    assert_eq!(at(610000), ["module", "urc"]);
    assert_eq!(at(601000), ["network", "net"]);
    assert_eq!(at(602000), ["network", "dialogue"]);
    assert_eq!(at(650000), ["field", "fault"]);
    assert_eq!(at(670000), ["field", "link"]);
    assert_eq!(rows[19][0], 700000);
    assert_eq!(
        rows[19][7],
        "AT+CGAUTH=1,1,\"u\",\"***\"\\r  (held)  (masked: pdp-password)"
    );
    // -o names the page; a page never replaces its trace.
    let other = dir.path().join("other.html");
    assert!(
        run(&[file.to_str().unwrap(), "-o", other.to_str().unwrap()])
            .status
            .success()
    );
    assert!(other.exists());
    let html = dir.path().join("t.html");
    let out = run(&[html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
