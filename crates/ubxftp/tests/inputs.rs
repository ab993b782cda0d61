//! The files the command line reads are input, checked as such (issue 20, items 3 and 5): shard
//! reports, model files, fault files and scripts. Each refusal runs the real binary and names
//! the file and the field, or the flag, the file and the cap.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

fn ubxftp(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ubxftp ARGS`, which must fail: its error text.
fn fails(args: &[&str]) -> String {
    let out = ubxftp(args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A two-step script every module passes, with no server.
fn at_script(dir: &Path) -> PathBuf {
    let s = dir.join("s.txt");
    std::fs::write(
        &s,
        "> AT\n< AT\\r\\r\\nOK\\r\\n\n> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n",
    )
    .unwrap();
    s
}

/// The two shard reports of a fleet of 4 run as shards 0/2 and 1/2, as JSON.
fn shard_reports(dir: &Path) -> (Value, Value) {
    let script = at_script(dir);
    let mut reports = Vec::new();
    for shard in ["0/2", "1/2"] {
        let report = dir.join(format!("shard{}.json", &shard[..1]));
        let out = ubxftp(&[
            "fleet",
            "--count",
            "4",
            "--shard",
            shard,
            "--script",
            path(&script),
            "--report",
            path(&report),
            "--fs-dir",
            path(&dir.join("fs")),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        reports.push(serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap());
    }
    let b = reports.pop().unwrap();
    (reports.pop().unwrap(), b)
}

/// Writes `a` and `b` as a.json and b.json and merges them: the error text, or the merged
/// report.
fn merge(dir: &Path, a: &Value, b: &Value) -> Result<Value, String> {
    let (fa, fb) = (dir.join("a.json"), dir.join("b.json"));
    std::fs::write(&fa, a.to_string()).unwrap();
    std::fs::write(&fb, b.to_string()).unwrap();
    let out = ubxftp(&["report", "merge", path(&fa), path(&fb)]);
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Merges `a` and `b` after `edit`, which must be refused with an error naming `file` and
/// containing every one of `needles`.
fn refused_merge(
    dir: &Path,
    (a, b): &(Value, Value),
    edit: impl FnOnce(&mut Value, &mut Value),
    file: &str,
    needles: &[&str],
) {
    let (mut a, mut b) = (a.clone(), b.clone());
    edit(&mut a, &mut b);
    let e = merge(dir, &a, &b).expect_err("merged");
    assert!(e.contains(&format!("{file}: ")), "{e}");
    for needle in needles {
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
}

#[test]
fn report_merge_checks_every_invariant_and_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pair = shard_reports(d);
    let merged = merge(d, &pair.0, &pair.1).unwrap();
    assert_eq!(merged["modules"], 4);
    assert_eq!(merged["passed"], 4);
    assert_eq!(merged["shards"], json!([0, 1]));
    // Counts that would wrap.
    refused_merge(
        d,
        &pair,
        |a, b| {
            a["bytes"] = json!(u64::MAX);
            b["bytes"] = json!(1);
        },
        "b.json",
        &["bytes: ", "overflows"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| {
            a["modules"] = json!(u64::MAX);
            a["passed"] = json!(1);
            a["failed"] = json!(u64::MAX);
        },
        "a.json",
        &["failed: ", "overflows"],
    );
    // More passed than modules, and counts that disagree.
    refused_merge(
        d,
        &pair,
        |a, _| a["passed"] = json!(3),
        "a.json",
        &["passed: 3 is more than modules (2)"],
    );
    refused_merge(
        d,
        &pair,
        |_, b| b["failed"] = json!(1),
        "b.json",
        &["failed: passed (2) + failed (1) is 3, not modules (2)"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| a["uftper_classes"] = json!({"0": 1}),
        "a.json",
        &["uftper_classes: the counts add up to 1, not modules (2)"],
    );
    // The `+UFTPER` codes add up to the classes, and read as CLASS,CODE.
    assert_eq!(merged["uftper"], json!({"0,0": 4}));
    refused_merge(
        d,
        &pair,
        |a, _| a["uftper"] = json!({"0,0": 1, "1,7": 1}),
        "a.json",
        &["uftper: the counts by code do not add up to uftper_classes"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| a["uftper"] = json!({"zero": 2}),
        "a.json",
        &["uftper: \"zero\" is not CLASS,CODE"],
    );
    // Shards: beyond the count, listed twice, in two reports.
    refused_merge(
        d,
        &pair,
        |_, b| b["shards"] = json!([5]),
        "b.json",
        &["shards: shard 5 is beyond the shard count 2"],
    );
    refused_merge(
        d,
        &pair,
        |_, b| b["shards"] = json!([1, 1]),
        "b.json",
        &["shards: shard 1 is listed twice"],
    );
    refused_merge(
        d,
        &pair,
        |_, b| b["shard_count"] = json!(0),
        "b.json",
        &["shard_count: 0"],
    );
    refused_merge(
        d,
        &pair,
        |a, b| *b = a.clone(),
        "b.json",
        &["shards: shard 0 is also in ", "a.json"],
    );
    // Outcomes: of another shard, outside the fleet, fewer than the modules.
    refused_merge(
        d,
        &pair,
        |_, b| {
            b["outcomes"] = json!({"0": "pass", "1": "pass"});
        },
        "b.json",
        &["outcomes: module 0 runs in shard 0, not in this report's shards [1]"],
    );
    refused_merge(
        d,
        &pair,
        |_, b| {
            b["outcomes"] = json!({"1": "pass", "9": "pass"});
        },
        "b.json",
        &["outcomes: module 9 is not in a fleet of 4"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| {
            a["outcomes"] = json!({"0": "pass"});
        },
        "a.json",
        &["outcomes: 1 outcomes for 2 modules"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| {
            a["outcomes"]["0"] = json!("line 3: mismatch");
        },
        "a.json",
        &["passed: 2 but 1 outcomes are \"pass\""],
    );
    refused_merge(
        d,
        &pair,
        |a, _| {
            a["failures"] = json!([{"mismatch": "x", "modules": [0]}]);
        },
        "a.json",
        &["failures: do not match the outcomes"],
    );
    // Steps that do not match, and histograms that are not ours.
    refused_merge(
        d,
        &pair,
        |_, b| b["steps"][0]["text"] = json!("> AT+CGMM"),
        "b.json",
        &["steps[0].text: line 2 is \"> AT+CGMM\" here", "a.json"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| a["steps"][1]["line"] = json!(2),
        "a.json",
        &["steps[1].line: 2: steps are in line order"],
    );
    refused_merge(
        d,
        &pair,
        |_, b| b["steps"][1]["histogram"] = json!("!!not base64"),
        "b.json",
        &["steps[1].histogram: line 4: not base64"],
    );
    // A header announcing 4 GiB of counts is refused before anything is allocated.
    let mut huge = vec![0x1c, 0x84, 0x93, 0x13, 0xff, 0xff, 0xff, 0xff];
    huge.resize(40, 0);
    let huge = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&huge)
    };
    refused_merge(
        d,
        &pair,
        |a, _| a["steps"][0]["histogram"] = json!(huge),
        "a.json",
        &["steps[0].histogram: line 2: its header announces 4294967295 bytes"],
    );
    refused_merge(
        d,
        &pair,
        |a, _| a["steps"][0]["count"] = json!(7),
        "a.json",
        &["steps[0].count: line 2: 7, but its histogram holds 2 samples"],
    );
    // At most 1000 steps, in a report and in the merge: each costs a histogram of ~190 KiB.
    let steps = |lines: std::ops::RangeInclusive<usize>, step: &Value| -> Value {
        lines
            .map(|line| {
                let mut s = step.clone();
                s["line"] = json!(line);
                s
            })
            .collect()
    };
    refused_merge(
        d,
        &pair,
        |a, _| a["steps"] = steps(1..=1001, &a["steps"][0]),
        "a.json",
        &["steps: 1001 steps, more than the 1000 a report may hold"],
    );
    refused_merge(
        d,
        &pair,
        |a, b| {
            a["steps"] = steps(1..=1000, &a["steps"][0]);
            b["steps"] = steps(1001..=1001, &b["steps"][0]);
        },
        "b.json",
        &["steps[0].line: line 1001: the reports hold more than 1000 steps together"],
    );
    // Reports of different fleets.
    refused_merge(
        d,
        &pair,
        |_, b| b["fleet"]["seed"] = json!(9),
        "b.json",
        &["fleet.seed: 9, but 0 in ", "different fleets"],
    );
    // `report FILE` checks a report before printing it.
    let mut bad = pair.0.clone();
    bad["passed"] = json!(5);
    let file = d.join("bad.json");
    std::fs::write(&file, bad.to_string()).unwrap();
    let e = fails(&["report", path(&file)]);
    assert!(
        e.contains("bad.json: passed: 5 is more than modules"),
        "{e}"
    );
}

/// A built-in model file with one edit, written to `dir`.
fn model_file(dir: &Path, from: &str, to: &str) -> PathBuf {
    let builtin = include_str!("../../ubx-modem/models/lexi-r10.toml");
    assert!(builtin.contains(from), "{from}");
    let file = dir.join("bad-model.toml");
    std::fs::write(&file, builtin.replacen(from, to, 1)).unwrap();
    file
}

#[test]
fn model_files_refuse_control_characters_empty_ids_duplicates_and_codes_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, needle) in [
        (
            "model = \"LEXI-R10401D\"",
            r#"model = "A\r\nOK\r\n""#,
            "identity.model: control character 0x0d at byte 1",
        ),
        (
            "manufacturer = \"u-blox\"",
            r#"manufacturer = "u-blox\u007f""#,
            "identity.manufacturer: control character 0x7f",
        ),
        (
            "revision = \"01.04\"",
            r#"revision = "01.04\u0000""#,
            "identity.revision: control character 0x00",
        ),
        (
            "uftpc_test = \"",
            r#"uftpc_test = "\r\nOK\r\n"#,
            "ftp.uftpc_test: control character 0x0d",
        ),
        ("id = \"lexi-r10\"", "id = \"\"", "id: empty"),
        (
            "\"+CGMI\", \"+CGMM\",",
            "\"+CGMI\", \"+CGMM\", \"+CGMM\",",
            "commands: \"+CGMM\" is listed twice",
        ),
        (
            "uftpc_ops = [0,",
            "uftpc_ops = [-1, 0,",
            "ftp.uftpc_ops: -1 is out of range (0 to 255)",
        ),
        (
            "uftpc_ops = [0,",
            "uftpc_ops = [65536, 0,",
            "ftp.uftpc_ops: 65536 is out of range (0 to 255)",
        ),
    ] {
        let file = model_file(dir.path(), from, to);
        let e = support::refused(
            "serve",
            &["--tcp", "127.0.0.1:0", "--model-file", path(&file)],
        );
        assert!(
            e.contains("--model-file ") && e.contains("bad-model.toml"),
            "{e}"
        );
        assert!(e.contains(needle), "{to}: {e}");
    }
    // The five shipped models pass, read as files.
    let t = at_script(dir.path());
    for (name, text) in [
        (
            "lexi-r10",
            include_str!("../../ubx-modem/models/lexi-r10.toml"),
        ),
        (
            "sara-r5",
            include_str!("../../ubx-modem/models/sara-r5.toml"),
        ),
        (
            "sara-r4",
            include_str!("../../ubx-modem/models/sara-r4.toml"),
        ),
        (
            "sara-u201",
            include_str!("../../ubx-modem/models/sara-u201.toml"),
        ),
        (
            "lara-r6",
            include_str!("../../ubx-modem/models/lara-r6.toml"),
        ),
    ] {
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = ubxftp(&["script", path(&t), "--model-file", path(&file)]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `ubxftp ARGS`, which must fail within `within`: its error text.
fn fails_within(within: Duration, args: &[&str]) -> String {
    let started = Instant::now();
    let e = fails(args);
    assert!(
        started.elapsed() < within,
        "{args:?} took {:?}",
        started.elapsed()
    );
    e
}

#[test]
fn files_past_their_cap_are_refused_fast_naming_flag_file_and_cap() {
    let dir = tempfile::tempdir().unwrap();
    let t = at_script(dir.path());
    let quick = Duration::from_secs(10);
    let e = fails_within(
        quick,
        &["serve", "--tcp", "127.0.0.1:0", "--faults", "/dev/zero"],
    );
    assert!(e.contains("--faults /dev/zero: larger than 16 MiB"), "{e}");
    let e = fails_within(
        quick,
        &["serve", "--tcp", "127.0.0.1:0", "--model-file", "/dev/zero"],
    );
    assert!(
        e.contains("--model-file /dev/zero: larger than 256 KiB"),
        "{e}"
    );
    let e = fails_within(quick, &["script", "/dev/zero"]);
    assert!(e.contains("script /dev/zero: larger than 1 MiB"), "{e}");
    let e = fails_within(quick, &["fleet", "--count", "2", "--script", "/dev/zero"]);
    assert!(e.contains("--script /dev/zero: larger than 1 MiB"), "{e}");
    let e = fails_within(quick, &["report", "/dev/zero"]);
    assert!(e.contains("report /dev/zero: larger than 256 MiB"), "{e}");
    // A regular file past the cap is refused by its size, before it is read: 1 GiB, sparse.
    let big = dir.path().join("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let e = fails_within(quick, &["script", path(&t), "--faults", path(&big)]);
    assert!(
        e.contains("big.toml: larger than 16 MiB, the most --faults reads"),
        "{e}"
    );
    let e = fails_within(quick, &["report", "merge", path(&big), path(&big)]);
    assert!(e.contains("big.toml: larger than 256 MiB"), "{e}");
}

/// `n` `[[fault]]` tables, each with `extra` lines.
fn fault_file(dir: &Path, name: &str, n: usize, extra: impl Fn(usize) -> String) -> PathBuf {
    let mut text = String::new();
    for i in 0..n {
        text.push_str("[[fault]]\ntarget = \"dns\"\naction = \"fail\"\n");
        text.push_str(&extra(i));
        text.push('\n');
    }
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_fault_file_of_100000_tables_loads_in_linear_time_or_is_refused_by_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = at_script(d);
    // Quadratic loading took minutes for this; linear takes a second or two.
    let bound = Duration::from_secs(30);
    let many = fault_file(d, "many.toml", 100_000, |_| String::new());
    let e = fails_within(bound, &["script", path(&t), "--faults", path(&many)]);
    assert!(
        e.contains("many.toml: 100000 faults; a module holds at most 256"),
        "{e}"
    );
    // A module's 256 are loaded.
    let full = fault_file(d, "full.toml", 256, |_| String::new());
    let out = ubxftp(&["script", path(&t), "--faults", path(&full)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fleet's 100 000, 100 for each of 1000 modules, load and run.
    let fleet = fault_file(d, "fleet.toml", 100_000, |i| {
        format!("modems = [{}]\n", i % 1000)
    });
    let report = d.join("report.json");
    let started = Instant::now();
    let out = ubxftp(&[
        "fleet",
        "--count",
        "1000",
        "--script",
        path(&t),
        "--faults",
        path(&fleet),
        "--report",
        path(&report),
        "--fs-dir",
        path(&d.join("fs")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["modules"], 1000);
    // Past a module's cap in a fleet: the module is named.
    let over = fault_file(d, "over.toml", 257, |_| "modems = [0, 1]\n".into());
    let e = fails_within(
        bound,
        &[
            "fleet",
            "--count",
            "2",
            "--script",
            path(&t),
            "--faults",
            path(&over),
        ],
    );
    assert!(
        e.contains("module 0 would hold more than 256 faults"),
        "{e}"
    );
    // Past the process's cap: 101 faults for each of 1000 modules.
    let all = fault_file(d, "all.toml", 101, |_| String::new());
    let e = fails_within(
        bound,
        &[
            "fleet",
            "--count",
            "1000",
            "--script",
            path(&t),
            "--faults",
            path(&all),
        ],
    );
    assert!(
        e.contains("the modules of this process would hold more than 100000 faults"),
        "{e}"
    );
    // A shard holds only its own modules' faults: module 0 is not in shard 1/2.
    let other = fault_file(d, "other.toml", 300, |_| "modems = [0]\n".into());
    let out = ubxftp(&[
        "fleet",
        "--count",
        "2",
        "--shard",
        "1/2",
        "--script",
        path(&t),
        "--faults",
        path(&other),
        "--report",
        path(&d.join("shard.json")),
        "--fs-dir",
        path(&d.join("fs")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
