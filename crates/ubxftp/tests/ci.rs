//! `ubxftp` in a CI job: exit codes a job can trust, JUnit XML a JUnit reader takes, failure
//! messages that say where and paste back, and the transcripts the project ships run as they
//! are by `ubxftp script`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ubxftp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = "> AT\n< AT\\r\\r\\nOK\\r\\n\n";
const BAD: &str = "# a comment\n> AT\n< AT\\r\\r\\nERROR\\r\\n\n";

/// A fleet script whose every module fails at line 4 (the module answers OK, not ERROR).
const FLEET_BAD: &str = "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+UFTP=0,\"192.0.2.{index}\"\n\
                         < \\r\\nERROR\\r\\n\n";
/// A fleet script every module passes, ending with its `+UFTPER`.
const FLEET_GOOD: &str = "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+UFTP=0,\"192.0.2.{index}\"\n\
                          < \\r\\nOK\\r\\n\n> AT+UFTPER\n< \\r\\n+UFTPER: 0,0\\r\\n\\r\\nOK\\r\\n\n";

#[test]
fn script_exits_0_when_it_passes_1_when_it_fails_2_when_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.txt", GOOD);
    let bad = write(dir.path(), "bad.txt", BAD);
    let syntax = write(dir.path(), "syntax.txt", "> AT\nfrobnicate 3\n");
    let header = write(dir.path(), "header.txt", "# fs-size: ten\n> AT\n");
    let placeholder = write(dir.path(), "ph.txt", "> AT+UFTP=0,\"{ftp-ip}\"\n");
    assert_eq!(code(&ubxftp(&["script", path(&good)])), 0);
    assert_eq!(code(&ubxftp(&["script", path(&bad)])), 1);
    for (file, says) in [
        (syntax, "syntax.txt:2: unknown directive \"frobnicate\""),
        (
            header,
            "header.txt:1: `# fs-size: ten`: wants a number of bytes",
        ),
        (
            placeholder,
            "ph.txt:1: placeholder {ftp-ip} has no value: `# ftp-server: KIND` in the header \
             gives it",
        ),
    ] {
        let out = ubxftp(&["script", path(&file)]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    let missing = dir.path().join("missing.txt");
    assert_eq!(code(&ubxftp(&["script", path(&missing)])), 2);
    // clap's own usage errors are 2 as well.
    assert_eq!(code(&ubxftp(&["script", "--no-such-flag"])), 2);
}

/// The failure names the file and line, shows the line as written, the bytes escaped once (as
/// a `<` line takes them) and where they part; a pattern as written.
#[test]
fn a_failure_says_where_and_what_in_the_transcripts_own_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.txt", BAD);
    let out = ubxftp(&["script", path(&bad)]);
    assert_eq!(
        stdout(&out),
        format!("{}: FAILED at line 3\n", bad.display())
    );
    assert_eq!(
        stderr(&out),
        format!(
            "{}:3: < AT\\r\\r\\nERROR\\r\\n\n  expected: AT\\r\\r\\nERROR\\r\\n\n  \
             received: AT\\r\\r\\nOK\\r\\n\n  first difference at byte 5\n",
            bad.display()
        )
    );
    let pattern = write(
        dir.path(),
        "pattern.txt",
        "timeout 100\n> AT\n<? AT\\r\\r\\n\\+CME ERROR: \\d+\\r\\n\n",
    );
    let out = ubxftp(&["script", path(&pattern)]);
    assert_eq!(
        stderr(&out),
        format!(
            "{}:3: <? AT\\r\\r\\n\\+CME ERROR: \\d+\\r\\n\n  pattern:  AT\\r\\r\\n\\+CME ERROR: \
             \\d+\\r\\n\n  received: AT\\r\\r\\nOK\\r\\n\n  no match within 100 ms\n",
            pattern.display()
        )
    );
    let short = write(
        dir.path(),
        "short.txt",
        "> AT\n<100 AT\\r\\r\\nOK\\r\\n\\r\\nOK\n",
    );
    let out = ubxftp(&["script", path(&short)]);
    assert_eq!(
        stderr(&out),
        format!(
            "{}:2: <100 AT\\r\\r\\nOK\\r\\n\\r\\nOK\n  expected: AT\\r\\r\\nOK\\r\\n\\r\\nOK\n  \
             received: AT\\r\\r\\nOK\\r\\n\n  first difference at byte 9: nothing more came \
             within 100 ms\n",
            short.display()
        )
    );
}

/// `script DIR`: a line per file and `N passed, M failed`; `--junit` read by junitparser.
#[test]
fn script_dir_prints_a_line_per_file_and_a_summary_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("suite");
    write(&folder, "a-good.txt", GOOD);
    write(&folder, "b-bad.txt", BAD);
    write(&folder, "c-good.txt", GOOD);
    write(&folder, "notes.md", "not a transcript");
    let junit = dir.path().join("junit.xml");
    let out = ubxftp(&["script", path(&folder), "--junit", path(&junit)]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with(&format!(
        "{}: ok (2 steps, ",
        folder.join("a-good.txt").display()
    )));
    assert_eq!(
        lines[1],
        format!("{}: FAILED at line 3", folder.join("b-bad.txt").display())
    );
    assert_eq!(lines[3], "2 passed, 1 failed");
    let read = junitparser(
        &junit,
        "for suite in xml:\n  for case in suite:\n    \
         r = case.result[0] if case.result else None\n    \
         print(suite.name, case.classname, case.name, type(r).__name__ if r else 'passed', \
         (r.message if r else ''), sep='|')\n",
    );
    let rows: Vec<&str> = read.lines().collect();
    let f = folder.display();
    assert_eq!(rows.len(), 3, "{read}");
    assert_eq!(rows[0], format!("{f}|suite|a-good.txt|passed|"));
    assert_eq!(
        rows[1],
        format!(
            "{f}|suite|b-bad.txt|Failure|{}:3: < AT\\r\\r\\nERROR\\r\\n; expected: \
             AT\\r\\r\\nERROR\\r\\n; received: AT\\r\\r\\nOK\\r\\n; first difference at byte 5",
            folder.join("b-bad.txt").display()
        )
    );
    assert_eq!(rows[2], format!("{f}|suite|c-good.txt|passed|"));
    // A file that cannot run is an error case, and the folder exits 2.
    write(&folder, "d-broken.txt", "<x\n");
    let out = ubxftp(&["script", path(&folder), "--junit", path(&junit)]);
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).ends_with("2 passed, 2 failed\n"),
        "{}",
        stdout(&out)
    );
    let read = junitparser(&junit, "print(xml.tests, xml.failures, xml.errors)\n");
    assert_eq!(read.trim(), "4 1 1");
}

/// Runs `code` in the test venv's python with `xml` the parsed JUnit file (junitparser,
/// installed by scripts/install-test-deps).
fn junitparser(file: &Path, code: &str) -> String {
    let python = test_servers::install_prefix().join("venv/bin/python3");
    let program = format!(
        "import sys\nfrom junitparser import JUnitXml\nxml = JUnitXml.fromfile(sys.argv[1])\n{code}"
    );
    let out = Command::new(&python)
        .args(["-c", &program, path(file)])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/install-test-deps", python.display()));
    assert!(out.status.success(), "junitparser: {}", stderr(&out));
    stdout(&out)
}

/// `fleet` exits 1 when a module failed, always prints its summary, and its progress line ends
/// at N/N; `report --check` fails such a report; the JUnit file has a case per module and one
/// per step they failed at.
#[test]
fn a_fleet_with_failed_modules_exits_1_and_report_check_fails_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.txt", FLEET_BAD);
    let report = dir.path().join("r.json");
    let junit = dir.path().join("fleet.xml");
    let out = ubxftp(&[
        "fleet",
        "--count",
        "20",
        "--script",
        path(&bad),
        "--report",
        path(&report),
        "--junit",
        path(&junit),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.starts_with("fleet: 20 modules in "), "{summary}");
    assert!(
        summary.contains(&format!("report in {}", report.display())),
        "{summary}"
    );
    assert!(
        summary.contains(
            "  20 module(s) (0, 1, 2, 3, 4, …):\n    line 4: < \\r\\nERROR\\r\\n\n      \
             expected: \\r\\nERROR\\r\\n\n      received: \\r\\nOK\\r\\n\n      \
             first difference at byte 2\n"
        ),
        "{summary}"
    );
    assert!(summary.ends_with("\n0 passed, 20 failed\n"), "{summary}");
    let progress = stderr(&out);
    let last = progress
        .lines()
        .rfind(|l| l.starts_with("fleet: "))
        .unwrap_or("");
    assert!(
        last.starts_with("fleet: 20/20 done, 0 passed, 20 failed, "),
        "{progress}"
    );
    assert!(last.ends_with(" modules/s, 0 s left"), "{progress}");

    // `report` prints it and exits 0; `--check` fails it.
    let out = ubxftp(&["report", path(&report)]);
    assert_eq!(code(&out), 0);
    let table = stdout(&out);
    assert!(
        table.contains("    2  ATE0                         < ATE0\\r\\r\\nOK\\r\\n"),
        "{table}"
    );
    assert!(
        table.contains("+UFTPER at the end (modules by their last FTP error):\n  0,0               20  no error\n"),
        "{table}"
    );
    assert_eq!(code(&ubxftp(&["report", path(&report), "--check"])), 1);
    let merged = dir.path().join("m.json");
    let out = ubxftp(&[
        "report",
        "merge",
        path(&report),
        "--out",
        path(&merged),
        "--check",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    let read = junitparser(
        &junit,
        "print(xml.tests, xml.failures)\nfor suite in xml:\n  print(suite.name, suite.tests)\n  \
         case = next(iter(suite))\n  print(case.name, '|', case.result[0].message)\n",
    );
    let rows: Vec<&str> = read.lines().collect();
    assert_eq!(rows[0], "21 21", "{read}");
    assert_eq!(rows[1], "modules 20");
    assert_eq!(
        rows[2],
        "module 0 | line 4: < \\r\\nERROR\\r\\n; expected: \\r\\nERROR\\r\\n; received: \
         \\r\\nOK\\r\\n; first difference at byte 2"
    );
    assert_eq!(rows[3], "steps that failed 1");
    assert!(
        rows[4].starts_with("line 4: < \\r\\nERROR\\r\\n | 20 module(s) failed here; the first: "),
        "{read}"
    );
}

#[test]
fn a_fleet_that_passes_exits_0_with_its_summary_and_codes_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.txt", FLEET_GOOD);
    let report = dir.path().join("r.json");
    let out = ubxftp(&[
        "fleet",
        "--count",
        "3",
        "--script",
        path(&good),
        "--report",
        path(&report),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.starts_with("fleet: 3 modules in "), "{summary}");
    assert!(summary.ends_with("\n3 passed, 0 failed\n"), "{summary}");
    assert_eq!(code(&ubxftp(&["report", path(&report), "--check"])), 0);
    // Without --report, the table and the summary.
    let out = ubxftp(&["fleet", "--count", "3", "--script", path(&good)]);
    assert_eq!(code(&out), 0);
    let table = stdout(&out);
    assert!(
        table.contains(
            "    6  AT+UFTPER                    < \\r\\n+UFTPER: 0,0\\r\\n\\r\\nOK\\r\\n"
        ),
        "{table}"
    );
    assert!(table.ends_with("\n3 passed, 0 failed\n"), "{table}");
}

/// Every transcript folder the project ships passes under `ubxftp script DIR`, each folder's
/// model picked by its name and each header's servers started as the test suite starts them.
#[test]
fn script_runs_every_shipped_transcript_folder_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ubx-modem/tests/transcripts");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    assert!(folders.len() >= 5, "{folders:?}");
    // The folders side by side: the longest (a module's 10 s RRC timer and more) bounds it.
    let runs: Vec<_> = folders
        .iter()
        .map(|folder| {
            let child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
                .args(["script", path(folder)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (folder, child)
        })
        .collect();
    for (folder, child) in runs {
        let out = child.wait_with_output().unwrap();
        let files = std::fs::read_dir(folder)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "txt")
            })
            .count();
        assert!(
            out.status.success()
                && stdout(&out).ends_with(&format!("\n{files} passed, 0 failed\n")),
            "{}:\n{}\n{}",
            folder.display(),
            stdout(&out),
            stderr(&out)
        );
    }
}

/// `--ftp HOST:PORT,USER,PASS` points `{ftp-ip}` and the rest at a server of one's own; a
/// `# model:` header picks the model, and `--model` overrides it.
#[test]
fn ftp_flag_and_model_header() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(test_servers::start(
            test_servers::Kind::Libunftp,
            test_servers::ServerOptions::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let login = write(
        dir.path(),
        "login.txt",
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+UFTP=0,\"{ftp-ip}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=7,{ftp-port}\n< \\r\\nOK\\r\\n\n> AT+UFTP=2,\"{ftp-user}\"\n< \\r\\nOK\\r\\n\n\
         > AT+UFTP=3,\"{ftp-password}\"\n< \\r\\nOK\\r\\n\n> AT+UFTPC=1\n< \\r\\nOK\\r\\n\n\
         <10000 \\r\\n+UUFTPCR: 1,1\\r\\n\n",
    );
    let ftp = format!("{},{},{}", server.addr, server.user, server.password);
    let out = ubxftp(&["script", path(&login), "--ftp", &ftp]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let model = write(
        dir.path(),
        "model.txt",
        "# model: sara-r5\n> AT+CGMM\n< AT+CGMM\\r\\r\\nSARA-R510S\\r\\n\\r\\nOK\\r\\n\n",
    );
    assert_eq!(code(&ubxftp(&["script", path(&model)])), 0);
    assert_eq!(
        code(&ubxftp(&["script", path(&model), "--model", "lexi-r10"])),
        1
    );
}

/// A server the header names that is not installed is replaced by the in-process libunftp,
/// and the run says so.
#[test]
fn a_missing_ftp_server_falls_back_to_libunftp_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(
        dir.path(),
        "t.txt",
        "# ftp-server: pure-ftpd\n> AT+UFTP=7,{ftp-port}\n< AT+UFTP=7,{ftp-port}\\r\\r\\nOK\\r\\n\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["script", path(&t)])
        .env("UBXFTP_TEST_PREFIX", dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ftp-server: pure-ftpd is not installed (pure-ftpd not found at ")
            && stderr(&out).contains("using the in-process libunftp instead"),
        "{}",
        stderr(&out)
    );
}
