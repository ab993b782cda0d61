//! JUnit XML (`--junit FILE`) for the CI systems that read it, written with nextest's
//! `quick-junit`: test suites of test cases, each passed, failed (a check that did not hold) or
//! in error (it could not run), the failure's first line as its message and the whole of it as
//! its text.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// How a test case ended.
pub enum Outcome {
    Passed,
    /// A check did not hold: a one-line message (`line 7: < \r\nOK\r\n`), the whole story
    /// (expected and received bytes), and a type (`mismatch`, `timeout`...).
    Failed {
        message: String,
        text: String,
        kind: String,
    },
    /// It could not run.
    Error(String),
}

/// One test case.
pub struct Case {
    pub name: String,
    pub classname: String,
    pub time: Duration,
    pub outcome: Outcome,
}

/// Writes `suites` (each a name and its cases) to `path` as one JUnit report named `name`.
pub fn write(
    path: &Path,
    name: &str,
    suites: Vec<(String, Vec<Case>)>,
    time: Duration,
) -> Result<(), String> {
    let mut report = Report::new(name);
    report.set_time(time);
    for (suite_name, cases) in suites {
        let mut suite = TestSuite::new(suite_name);
        let mut total = Duration::ZERO;
        for case in cases {
            total += case.time;
            suite.add_test_case(test_case(case));
        }
        suite.set_time(total);
        report.add_test_suite(suite);
    }
    let file =
        std::fs::File::create(path).map_err(|e| format!("--junit {}: {e}", path.display()))?;
    report
        .serialize(std::io::BufWriter::new(file))
        .map_err(|e| format!("--junit {}: {e}", path.display()))
}

fn test_case(case: Case) -> TestCase {
    let status = match case.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Failed {
            message,
            text,
            kind,
        } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(message)
                .set_type(kind)
                .set_description(text);
            status
        }
        Outcome::Error(message) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(message.lines().next().unwrap_or_default())
                .set_description(message);
            status
        }
    };
    let mut test_case = TestCase::new(case.name, status);
    test_case.set_classname(case.classname).set_time(case.time);
    test_case
}

/// The kind of a transcript failure, for a failure's `type`.
pub fn kind(miss: &ubx_transcript::Miss) -> &'static str {
    use ubx_transcript::Miss;
    match miss {
        Miss::Differs { .. } | Miss::WrongDigest { .. } => "mismatch",
        Miss::TooFew { .. } | Miss::NoMatch { .. } | Miss::ShortDigest { .. } => "timeout",
        Miss::NotQuiet { .. } => "not-quiet",
        Miss::Io(_) => "connection",
    }
}
