//! The end of a load test: the report written (or printed as a table), the summary that is
//! always printed, the JUnit XML, and the verdict the exit code tells.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::junit::{self, Case, Outcome};
use crate::report::Report;
use crate::{Verdict, anyhow_like};

/// What a load test knows of each module besides the report: how long it ran, and the line
/// it failed at.
#[derive(Default)]
pub struct Runs {
    pub time: BTreeMap<usize, Duration>,
    pub failed_at: BTreeMap<usize, usize>,
}

/// The files of a load test: `--report`, `--junit` and `--script`.
pub struct Paths<'a> {
    pub report: Option<&'a Path>,
    pub junit: Option<&'a Path>,
    pub script: Option<&'a Path>,
}

/// Writes or prints the report, prints the summary, writes `--junit`; the verdict is `Failed`
/// when any module failed.
pub fn finish(args: &Paths, report: &Report, runs: &Runs) -> anyhow_like::Result<Verdict> {
    match &args.report {
        Some(path) => std::fs::write(
            path,
            serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("--report {}: {e}", path.display()))?,
        None => crate::report::print(report),
    }
    {
        use std::io::Write as _;
        let text = crate::report::summary(report, args.report);
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    if let Some(path) = &args.junit {
        write_junit(path, args.script, report, runs)?;
    }
    Ok(Verdict::of(report.failed == 0))
}

/// `--junit`: a suite of modules (a case each), and on failure a suite of the steps they
/// failed at (a case per step, naming its modules).
fn write_junit(
    path: &Path,
    script: Option<&Path>,
    report: &Report,
    runs: &Runs,
) -> Result<(), String> {
    let script = script.map_or_else(String::new, |p| p.display().to_string());
    let classname = format!("fleet {script}");
    let modules = report
        .outcomes
        .iter()
        .map(|(index, outcome)| Case {
            name: format!("module {index}"),
            classname: classname.clone(),
            time: runs.time.get(index).copied().unwrap_or_default(),
            outcome: if outcome == "pass" {
                Outcome::Passed
            } else {
                failure(outcome, &script)
            },
        })
        .collect();
    let mut suites = vec![("modules".to_string(), modules)];
    let steps = failed_steps(report, runs, &classname, &script);
    if !steps.is_empty() {
        suites.push(("steps that failed".to_string(), steps));
    }
    let name = format!("ubxftp fleet {script}");
    junit::write(
        path,
        &name,
        suites,
        Duration::from_secs_f64(report.elapsed_s),
    )
}

/// A module's failure (`line 7: < ...` and the bytes) as a JUnit failure.
fn failure(outcome: &str, script: &str) -> Outcome {
    Outcome::Failed {
        message: one_line(outcome),
        text: format!("{script}: {outcome}"),
        kind: "mismatch".to_string(),
    }
}

/// A message of several lines as one.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join("; ")
}

/// One case per step some module failed at: the modules, and the first one's message.
fn failed_steps(report: &Report, runs: &Runs, classname: &str, script: &str) -> Vec<Case> {
    let mut by_line: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, line) in &runs.failed_at {
        by_line.entry(*line).or_default().push(*index);
    }
    by_line
        .into_iter()
        .map(|(line, modules)| {
            let first = modules
                .first()
                .and_then(|i| report.outcomes.get(i))
                .map_or("", String::as_str);
            let headline = first.lines().next().unwrap_or_default().to_string();
            let list: Vec<String> = modules.iter().map(usize::to_string).collect();
            Case {
                name: if headline.is_empty() {
                    format!("line {line}")
                } else {
                    headline
                },
                classname: classname.to_string(),
                time: Duration::ZERO,
                outcome: Outcome::Failed {
                    message: format!(
                        "{} module(s) failed here; the first: {}",
                        modules.len(),
                        one_line(first)
                    ),
                    text: format!("modules {}\n{script}: {first}", list.join(", ")),
                    kind: "mismatch".to_string(),
                },
            }
        })
        .collect()
}
