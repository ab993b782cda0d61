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
}

/// Latency histograms per step, as a run collects them.
pub struct Steps {
    by_line: BTreeMap<usize, (String, Histogram<u64>)>,
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 3 significant digits: the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

impl Steps {
    pub fn new() -> Steps {
        Steps {
            by_line: BTreeMap::new(),
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
            .map(|(line, (text, h))| step_report(*line, text, h))
            .collect()
    }
}

fn step_report(line: usize, text: &str, h: &Histogram<u64>) -> StepReport {
    let ms = |v: u64| v as f64 / 1000.0;
    let mut bytes = Vec::new();
    let _ = V2Serializer::new().serialize(h, &mut bytes);
    StepReport {
        line,
        text: text.to_string(),
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
        "\n{:>5}  {:<40} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "line", "step", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for s in &r.steps {
        let text: String = s.text.chars().take(40).collect();
        let _ = writeln!(
            out,
            "{:>5}  {:<40} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
            s.line, text, s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
        );
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for g in &r.failures {
            let _ = writeln!(
                out,
                "  {} module(s), e.g. {:?}: {}",
                g.modules.len(),
                &g.modules[..g.modules.len().min(5)],
                g.mismatch
            );
        }
    }
    let _ = writeln!(out, "\n+UFTPER classes: {:?}", r.uftper_classes);
    out
}
