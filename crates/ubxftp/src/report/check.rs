//! What a report read from a file must satisfy before it is printed or merged, and the merge
//! itself. A report is input: a shard's file may be truncated, edited or crafted, so every
//! invariant the merge relies on is checked, counts add without wrapping, and an error names the
//! file and the field.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use super::{FleetId, Report, group_failures, per_second, step_report};
use crate::fleet::MAX_COUNT;

/// The bounds of every histogram this program writes ([`super::Steps`]): 1 µs to 1 hour, 3
/// significant digits.
const LOWEST: u64 = 1;
const HIGHEST: u64 = 3_600_000_000;
const DIGITS: u32 = 3;

/// The cookie of an uncompressed V2 histogram, and the length of its header.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_HEADER: usize = 40;

/// Most steps a report holds, and merged reports together (distinct lines). A step's histogram
/// takes about 190 KiB decoded, as it did in the fleet that wrote it: the cap bounds the merge's
/// memory at about 190 MiB whatever the files say. A transcript of a thousand steps is already
/// far longer than any load script.
pub const MAX_STEPS: usize = 1000;

/// A report read from a file and checked: every invariant merging relies on holds.
pub struct Checked {
    pub file: String,
    pub report: Report,
}

/// What is wrong with a report: the field, and how.
struct Wrong {
    field: String,
    what: String,
}

fn wrong<T>(field: impl Into<String>, what: impl Into<String>) -> Result<T, Wrong> {
    Err(Wrong {
        field: field.into(),
        what: what.into(),
    })
}

impl Checked {
    /// Checks the report read from `file`.
    pub fn new(file: String, report: Report) -> Result<Checked, String> {
        let checks = check_shards(&report)
            .and_then(|()| check_counts(&report))
            .and_then(|()| check_outcomes(&report))
            .and_then(|()| check_steps(&report));
        match checks {
            Ok(()) => Ok(Checked { file, report }),
            Err(w) => Err(format!("{file}: {}: {}", w.field, w.what)),
        }
    }
}

/// The fleet, the shard count and the shards.
fn check_shards(r: &Report) -> Result<(), Wrong> {
    if r.fleet.count == 0 || r.fleet.count > MAX_COUNT {
        return wrong(
            "fleet.count",
            format!("{}: a fleet has 1 to {MAX_COUNT} modules", r.fleet.count),
        );
    }
    let n = r.shard_count;
    if n == 0 {
        return wrong("shard_count", "0: a fleet runs as 1 shard or more");
    }
    if r.shards.is_empty() {
        return wrong("shards", "none: a report covers at least one shard");
    }
    let mut seen = BTreeSet::new();
    for &s in &r.shards {
        if s >= n {
            return wrong(
                "shards",
                format!(
                    "shard {s} is beyond the shard count {n} (shards go from 0 to {})",
                    n - 1
                ),
            );
        }
        if !seen.insert(s) {
            return wrong("shards", format!("shard {s} is listed twice"));
        }
    }
    Ok(())
}

/// `modules`, `passed`, `failed`, the `+UFTPER` classes and the rates.
fn check_counts(r: &Report) -> Result<(), Wrong> {
    if r.passed > r.modules {
        return wrong(
            "passed",
            format!("{} is more than modules ({})", r.passed, r.modules),
        );
    }
    let Some(sum) = r.passed.checked_add(r.failed) else {
        return wrong(
            "failed",
            format!("passed ({}) + failed ({}) overflows", r.passed, r.failed),
        );
    };
    if sum != r.modules {
        return wrong(
            "failed",
            format!(
                "passed ({}) + failed ({}) is {sum}, not modules ({})",
                r.passed, r.failed, r.modules
            ),
        );
    }
    if r.modules > r.fleet.count {
        return wrong(
            "modules",
            format!(
                "{} is more than the fleet's {} modules",
                r.modules, r.fleet.count
            ),
        );
    }
    let classes = r
        .uftper_classes
        .values()
        .try_fold(0usize, |sum, n| sum.checked_add(*n));
    match classes {
        None => return wrong("uftper_classes", "the counts overflow"),
        Some(c) if c != r.modules => {
            return wrong(
                "uftper_classes",
                format!("the counts add up to {c}, not modules ({})", r.modules),
            );
        }
        Some(_) => {}
    }
    check_codes(r)?;
    for (field, v) in [
        ("elapsed_s", r.elapsed_s),
        ("throughput_mb_s", r.throughput_mb_s),
        ("ftp_data_mb_s", r.ftp_data_mb_s),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return wrong(field, format!("{v} is not a number of 0 or more"));
        }
    }
    Ok(())
}

/// The modules by their last `+UFTPER` code: none (an older report), or `class,code` keys
/// whose counts add up to the modules and to each class's count.
fn check_codes(r: &Report) -> Result<(), Wrong> {
    if r.uftper.is_empty() {
        return Ok(());
    }
    let mut classes: BTreeMap<u32, usize> = BTreeMap::new();
    for (key, n) in &r.uftper {
        let class = key
            .split_once(',')
            .filter(|(_, code)| code.parse::<u32>().is_ok())
            .and_then(|(class, _)| class.parse::<u32>().ok());
        let Some(class) = class else {
            return wrong("uftper", format!("{key:?} is not CLASS,CODE"));
        };
        let Some(sum) = classes.get(&class).unwrap_or(&0).checked_add(*n) else {
            return wrong("uftper", "the counts overflow");
        };
        classes.insert(class, sum);
    }
    if classes != r.uftper_classes {
        return wrong(
            "uftper",
            "the counts by code do not add up to uftper_classes",
        );
    }
    Ok(())
}

/// Each module's outcome: one per module, of the fleet and of the report's shards, as many
/// passes as `passed`, and the failure groups they make.
fn check_outcomes(r: &Report) -> Result<(), Wrong> {
    if r.outcomes.len() != r.modules {
        return wrong(
            "outcomes",
            format!("{} outcomes for {} modules", r.outcomes.len(), r.modules),
        );
    }
    let shards: BTreeSet<usize> = r.shards.iter().copied().collect();
    let mut passes = 0usize;
    for (&i, outcome) in &r.outcomes {
        if i >= r.fleet.count {
            return wrong(
                "outcomes",
                format!("module {i} is not in a fleet of {}", r.fleet.count),
            );
        }
        let shard = i % r.shard_count;
        if !shards.contains(&shard) {
            return wrong(
                "outcomes",
                format!(
                    "module {i} runs in shard {shard}, not in this report's shards {:?}",
                    r.shards
                ),
            );
        }
        passes += usize::from(outcome == "pass");
    }
    if passes != r.passed {
        return wrong(
            "passed",
            format!("{} but {passes} outcomes are \"pass\"", r.passed),
        );
    }
    let groups = |g: &[super::FailureGroup]| {
        let mut v: Vec<(String, Vec<usize>)> = g
            .iter()
            .map(|g| (g.mismatch.clone(), g.modules.clone()))
            .collect();
        v.sort();
        v
    };
    if groups(&r.failures) != groups(&group_failures(&r.outcomes)) {
        return wrong(
            "failures",
            "do not match the outcomes (each mismatch with the modules that had it)",
        );
    }
    Ok(())
}

/// The steps: at most [`MAX_STEPS`], in line order, each once, each histogram one of ours
/// holding `count` samples. The histograms are decoded one at a time and dropped: the merge
/// decodes them again as it adds them.
fn check_steps(r: &Report) -> Result<(), Wrong> {
    if r.steps.len() > MAX_STEPS {
        return wrong(
            "steps",
            format!(
                "{} steps, more than the {MAX_STEPS} a report may hold",
                r.steps.len()
            ),
        );
    }
    let mut last = 0;
    for (n, s) in r.steps.iter().enumerate() {
        let field = |f: &str| format!("steps[{n}].{f}");
        if s.line <= last {
            return wrong(
                field("line"),
                format!(
                    "{}: steps are in line order, each line once, from 1 (after line {last})",
                    s.line
                ),
            );
        }
        last = s.line;
        let h = match decode(&s.histogram) {
            Ok(h) => h,
            Err(e) => return wrong(field("histogram"), format!("line {}: {e}", s.line)),
        };
        if h.len() != s.count {
            return wrong(
                field("count"),
                format!(
                    "line {}: {}, but its histogram holds {} samples",
                    s.line,
                    s.count,
                    h.len()
                ),
            );
        }
    }
    Ok(())
}

/// A step's histogram, from its base64 text. The header is checked before the histogram is
/// built: it sizes the histogram and the buffer its payload is read into, so a crafted one
/// could ask for gigabytes.
fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let u64_at = |i: usize| {
        bytes
            .get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    if bytes.len() < V2_HEADER || u32_at(0) != Some(V2_COOKIE) {
        return Err("not an uncompressed V2 HDR histogram".into());
    }
    let payload = bytes.len() - V2_HEADER;
    if u32_at(4).map(|n| n as usize) != Some(payload) {
        return Err(format!(
            "its header announces {} bytes of counts, {payload} follow",
            u32_at(4).unwrap_or(0)
        ));
    }
    if u32_at(12) != Some(DIGITS) || u64_at(16) != Some(LOWEST) || u64_at(24) != Some(HIGHEST) {
        return Err(format!(
            "not a latency histogram of ubxftp ({LOWEST} µs to {HIGHEST} µs, {DIGITS} \
             significant digits)"
        ));
    }
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{e:?}"))
}

/// Merges shard reports of one fleet, as they are read and checked: one report at a time is
/// held besides the merge.
pub fn merge(reports: impl IntoIterator<Item = Result<Checked, String>>) -> Result<Report, String> {
    let mut it = reports.into_iter();
    let first = it.next().ok_or("nothing to merge")??;
    let mut merged = Merged::new(first)?;
    for r in it {
        merged.add(r?)?;
    }
    Ok(merged.finish())
}

/// Shard reports merged so far.
struct Merged {
    report: Report,
    /// The file each shard came from.
    shard_files: BTreeMap<usize, String>,
    /// Each step by line: its text, its histogram, the file it first came from.
    steps: BTreeMap<usize, (String, Histogram<u64>, String)>,
    /// The send each step answers, by line.
    commands: BTreeMap<usize, String>,
    /// Whether a report had no `+UFTPER` codes (older reports): the merge has none then.
    codes_missing: bool,
}

impl Merged {
    fn new(first: Checked) -> Result<Merged, String> {
        let Checked { file, report } = first;
        let mut merged = Merged {
            shard_files: report.shards.iter().map(|s| (*s, file.clone())).collect(),
            steps: BTreeMap::new(),
            commands: BTreeMap::new(),
            codes_missing: report.uftper.is_empty(),
            report,
        };
        let steps = std::mem::take(&mut merged.report.steps);
        merged
            .add_steps(&steps, &file)
            .map_err(|w| format!("{file}: {}: {}", w.field, w.what))?;
        Ok(merged)
    }

    /// The file of shard `s`.
    fn file_of(&self, s: usize) -> &str {
        self.shard_files.get(&s).map(String::as_str).unwrap_or("")
    }

    /// Adds one more shard report, or says why it does not merge with the others.
    fn add(&mut self, c: Checked) -> Result<(), String> {
        let Checked { file, report: r } = c;
        let at = |field: &str, what: String| format!("{file}: {field}: {what}");
        let m = &self.report;
        let first = m.shards.first().map_or("", |s| self.file_of(*s));
        if let Some((field, ours, theirs)) = fleet_difference(&m.fleet, &r.fleet) {
            return Err(at(
                &format!("fleet.{field}"),
                format!(
                    "{theirs}, but {ours} in {first}: reports of different fleets do not merge"
                ),
            ));
        }
        if r.shard_count != m.shard_count {
            return Err(at(
                "shard_count",
                format!(
                    "{}, but {} in {first}: these reports were sharded differently",
                    r.shard_count, m.shard_count
                ),
            ));
        }
        if let Some(s) = r.shards.iter().find(|s| self.shard_files.contains_key(s)) {
            return Err(at(
                "shards",
                format!("shard {s} is also in {}", self.file_of(*s)),
            ));
        }
        if let Some(i) = r.outcomes.keys().find(|i| m.outcomes.contains_key(i)) {
            return Err(at(
                "outcomes",
                format!("module {i} is also in {}", self.file_of(i % m.shard_count)),
            ));
        }
        self.add_counts(&r).map_err(|w| at(&w.field, w.what))?;
        self.add_steps(&r.steps, &file)
            .map_err(|w| at(&w.field, w.what))?;
        for s in &r.shards {
            self.shard_files.insert(*s, file.clone());
        }
        let m = &mut self.report;
        m.shards.extend(&r.shards);
        m.outcomes.extend(r.outcomes);
        m.elapsed_s = m.elapsed_s.max(r.elapsed_s);
        Ok(())
    }

    /// Adds the counts of `r`, refusing any sum that would overflow.
    fn add_counts(&mut self, r: &Report) -> Result<(), Wrong> {
        let m = &mut self.report;
        for (field, acc, n) in [
            ("modules", &mut m.modules, r.modules),
            ("passed", &mut m.passed, r.passed),
            ("failed", &mut m.failed, r.failed),
        ] {
            *acc = added(field, *acc, n)?;
        }
        if m.modules > m.fleet.count {
            return wrong(
                "modules",
                format!(
                    "the reports hold {} modules together, more than the fleet's {}",
                    m.modules, m.fleet.count
                ),
            );
        }
        m.bytes = added("bytes", m.bytes, r.bytes)?;
        m.ftp_data_bytes = added("ftp_data_bytes", m.ftp_data_bytes, r.ftp_data_bytes)?;
        for (class, n) in &r.uftper_classes {
            let acc = m.uftper_classes.entry(*class).or_default();
            *acc = added(&format!("uftper_classes.{class}"), *acc, *n)?;
        }
        if r.uftper.is_empty() || self.codes_missing {
            // A report without codes: the merged codes would not add up, so there are none.
            self.codes_missing = true;
            m.uftper.clear();
        } else {
            for (key, n) in &r.uftper {
                let acc = m.uftper.entry(key.clone()).or_default();
                *acc = added(&format!("uftper.{key}"), *acc, *n)?;
            }
        }
        Ok(())
    }

    /// Adds the steps of a report read from `file`: a line both have must be the same text,
    /// the sample counts must not overflow, and the lines together stay within [`MAX_STEPS`].
    fn add_steps(&mut self, steps: &[super::StepReport], file: &str) -> Result<(), Wrong> {
        for (n, s) in steps.iter().enumerate() {
            let h = match decode(&s.histogram) {
                Ok(h) => h,
                Err(e) => {
                    return wrong(
                        format!("steps[{n}].histogram"),
                        format!("line {}: {e}", s.line),
                    );
                }
            };
            let full = self.steps.len() >= MAX_STEPS;
            match self.steps.get_mut(&s.line) {
                Some((text, acc, origin)) => {
                    if *text != s.text {
                        return wrong(
                            format!("steps[{n}].text"),
                            format!(
                                "line {} is {:?} here, but {text:?} in {origin}: the steps do \
                                 not match",
                                s.line, s.text
                            ),
                        );
                    }
                    added(&format!("steps[{n}].count"), acc.len(), h.len())?;
                    if let Err(e) = acc.add(&h) {
                        return wrong(
                            format!("steps[{n}].histogram"),
                            format!("line {}: {e:?}", s.line),
                        );
                    }
                }
                None if full => {
                    return wrong(
                        format!("steps[{n}].line"),
                        format!(
                            "line {}: the reports hold more than {MAX_STEPS} steps together",
                            s.line
                        ),
                    );
                }
                None => {
                    self.steps
                        .insert(s.line, (s.text.clone(), h, file.to_string()));
                    self.commands.insert(s.line, s.command.clone());
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Report {
        let mut merged = self.report;
        merged.shards.sort_unstable();
        merged.failures = group_failures(&merged.outcomes);
        merged.steps = self
            .steps
            .iter()
            .map(|(line, (text, h, _))| {
                let command = self.commands.get(line).map_or("", String::as_str);
                step_report(*line, text, command, h)
            })
            .collect();
        merged.throughput_mb_s = per_second(merged.bytes, merged.elapsed_s);
        merged.ftp_data_mb_s = per_second(merged.ftp_data_bytes, merged.elapsed_s);
        merged
    }
}

/// `a + b`, or an error naming `field` when the sum does not fit.
fn added<T: Copy + std::fmt::Display + num_add::CheckedAdd>(
    field: &str,
    a: T,
    b: T,
) -> Result<T, Wrong> {
    match a.checked(b) {
        Some(sum) => Ok(sum),
        None => wrong(field, format!("{a} + {b} overflows")),
    }
}

/// `checked_add` for the two count types of a report.
mod num_add {
    pub trait CheckedAdd: Sized {
        fn checked(self, other: Self) -> Option<Self>;
    }
    impl CheckedAdd for usize {
        fn checked(self, other: usize) -> Option<usize> {
            self.checked_add(other)
        }
    }
    impl CheckedAdd for u64 {
        fn checked(self, other: u64) -> Option<u64> {
            self.checked_add(other)
        }
    }
}

/// The first field in which two fleets differ: its name, and the two values.
fn fleet_difference(a: &FleetId, b: &FleetId) -> Option<(&'static str, String, String)> {
    let fields = [
        ("count", a.count.to_string(), b.count.to_string()),
        ("seed", a.seed.to_string(), b.seed.to_string()),
        ("model", format!("{:?}", a.model), format!("{:?}", b.model)),
        (
            "script_md5",
            format!("{:?}", a.script_md5),
            format!("{:?}", b.script_md5),
        ),
        ("link", format!("{:?}", a.link), format!("{:?}", b.link)),
        (
            "faults_md5",
            format!("{:?}", a.faults_md5),
            format!("{:?}", b.faults_md5),
        ),
    ];
    fields.into_iter().find(|(_, x, y)| x != y)
}
