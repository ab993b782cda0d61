//! The load runner's report: what every module of a fleet did with the script, shaped like k6's
//! and Locust's summaries, and mergeable exactly across shards.
//!
//! Latencies are kept as HDR histograms (microseconds, 3 significant digits), serialized in the
//! report, so merging shards adds histograms and recomputes percentiles from them — never an
//! average of percentiles. Counts add; per-module outcomes are kept by module index, so a merged
//! report of N shards equals the single-process run of the same fleet.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

mod check;

pub use check::{Checked, merge};

/// What identifies a fleet: reports of different fleets do not merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetId {
    pub count: usize,
    pub seed: u64,
    pub model: String,
    /// MD5 of the script's text.
    pub script_md5: String,
    /// The link of every module, or the mix.
    pub link: String,
    /// MD5 of the `--faults` file's text (empty without one).
    #[serde(default)]
    pub faults_md5: String,
}

/// One step's latencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub line: usize,
    pub text: String,
    /// The send this step answers, as written (`AT+UFTPC=1`); empty before the first send.
    #[serde(default)]
    pub command: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The HDR histogram (V2 serialization, base64), what merges add.
    pub histogram: String,
}

/// A group of modules that failed the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureGroup {
    pub mismatch: String,
    pub modules: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub fleet: FleetId,
    /// The shards this report covers (`[0]` of 1 for a whole fleet).
    pub shards: Vec<usize>,
    pub shard_count: usize,
    pub modules: usize,
    pub passed: usize,
    pub failed: usize,
    /// Each module's outcome: `"pass"` or its first mismatch.
    pub outcomes: BTreeMap<usize, String>,
    pub failures: Vec<FailureGroup>,
    pub steps: Vec<StepReport>,
    /// Bytes the modules' terminals received.
    pub bytes: u64,
    pub elapsed_s: f64,
    pub throughput_mb_s: f64,
    /// Bytes the modules' FTP data connections moved, both ways (file contents, listings).
    #[serde(default)]
    pub ftp_data_bytes: u64,
    #[serde(default)]
    pub ftp_data_mb_s: f64,
    /// Modules by the class of their last `+UFTPER` (0: no error).
    pub uftper_classes: BTreeMap<u32, usize>,
    /// Modules by their last `+UFTPER`, `"class,code"` (`"0,550"`: the server replied 550);
    /// empty in reports written before it was added.
    #[serde(default)]
    pub uftper: BTreeMap<String, usize>,
}

/// Latency histograms per step, as a run collects them.
pub struct Steps {
    by_line: BTreeMap<usize, (String, Histogram<u64>)>,
    /// The send each step answers, by line.
    commands: BTreeMap<usize, String>,
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 3 significant digits: the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

impl Steps {
    /// Steps answering `commands` (the send each answers, by line).
    pub fn new(commands: BTreeMap<usize, String>) -> Steps {
        Steps {
            by_line: BTreeMap::new(),
            commands,
        }
    }

    pub fn record(&mut self, line: usize, text: &str, micros: u64) {
        let entry = self
            .by_line
            .entry(line)
            .or_insert_with(|| (text.to_string(), new_histogram()));
        entry.1.saturating_record(micros.max(1));
    }

    pub fn reports(&self) -> Vec<StepReport> {
        self.by_line
            .iter()
            .map(|(line, (text, h))| {
                let command = self.commands.get(line).map_or("", String::as_str);
                step_report(*line, text, command, h)
            })
            .collect()
    }
}

fn step_report(line: usize, text: &str, command: &str, h: &Histogram<u64>) -> StepReport {
    let ms = |v: u64| v as f64 / 1000.0;
    let mut bytes = Vec::new();
    let _ = V2Serializer::new().serialize(h, &mut bytes);
    StepReport {
        line,
        text: text.to_string(),
        command: command.to_string(),
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// Groups failing modules by their mismatch.
pub fn group_failures(outcomes: &BTreeMap<usize, String>) -> Vec<FailureGroup> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in outcomes {
        if o != "pass" {
            groups.entry(o.as_str()).or_default().push(*i);
        }
    }
    let mut out: Vec<FailureGroup> = groups
        .into_iter()
        .map(|(m, modules)| FailureGroup {
            mismatch: m.to_string(),
            modules,
        })
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.modules.len()));
    out
}

/// MB/s over a run of `elapsed` seconds (0 for an empty run).
pub fn per_second(bytes: u64, elapsed: f64) -> f64 {
    if elapsed > 0.0 {
        bytes as f64 / elapsed / 1e6
    } else {
        0.0
    }
}

/// `ubxftp report FILE`: the report as a table (a closed pipe, `| head`, ends it quietly).
pub fn print(r: &Report) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(table(r).as_bytes());
}

/// `text` in at most `width` characters, `…` where it was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn table(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fleet: {} modules (model {}, seed {}, link {}), shards {:?} of {}",
        r.fleet.count, r.fleet.model, r.fleet.seed, r.fleet.link, r.shards, r.shard_count
    );
    let _ = writeln!(
        out,
        "modules {}  passed {}  failed {}  elapsed {:.2} s\n\
         terminals received {} bytes ({:.2} MB/s)  FTP data moved {} bytes ({:.2} MB/s)",
        r.modules,
        r.passed,
        r.failed,
        r.elapsed_s,
        r.bytes,
        r.throughput_mb_s,
        r.ftp_data_bytes,
        r.ftp_data_mb_s
    );
    let _ = writeln!(
        out,
        "\n{:>5}  {:<28} {:<36} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "line", "answers", "expects", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for s in &r.steps {
        let _ = writeln!(
            out,
            "{:>5}  {:<28} {:<36} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            s.line,
            cut(&s.command, 28),
            cut(&s.text, 36),
            s.count,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.max_ms
        );
    }
    out.push_str(&failures(r));
    out.push_str(&uftper(r));
    out
}

/// The failure groups, biggest first: how many modules, some of them, and the message.
pub fn failures(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if r.failures.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nfailures:");
    for g in &r.failures {
        let some: Vec<String> = g.modules.iter().take(5).map(usize::to_string).collect();
        let more = if g.modules.len() > 5 { ", …" } else { "" };
        let _ = writeln!(
            out,
            "  {} module(s) ({}{more}):",
            g.modules.len(),
            some.join(", ")
        );
        for line in g.mismatch.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The modules by their last `+UFTPER`, class and code, with what they mean.
fn uftper(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\n+UFTPER at the end (modules by their last FTP error):\n");
    if r.uftper.is_empty() {
        // A report from before the codes were kept: the classes only.
        for (class, n) in &r.uftper_classes {
            let what = match class {
                0 => "none, or the server's reply",
                1 => "the module's own cause",
                _ => "",
            };
            let _ = writeln!(out, "  class {class:<6} {n:>7}  {what}");
        }
        return out;
    }
    for (key, n) in &r.uftper {
        let what = key
            .split_once(',')
            .and_then(|(c, k)| Some((c.parse().ok()?, k.parse().ok()?)))
            .map_or_else(String::new, |(c, k)| ubx_modem::ftp::errors::describe(c, k));
        let _ = writeln!(out, "  {key:<12} {n:>7}  {what}");
    }
    out
}

/// The closing lines every load test prints, with or without `--report`: where the report
/// went, the failure groups, and `N passed, M failed`.
pub fn summary(r: &Report, written_to: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    if let Some(path) = written_to {
        out.push_str(&format!(
            "fleet: {} modules in {:.2} s, report in {}\n",
            r.modules,
            r.elapsed_s,
            path.display()
        ));
        out.push_str(&failures(r));
    }
    out.push_str(&format!("{} passed, {} failed\n", r.passed, r.failed));
    out
}
