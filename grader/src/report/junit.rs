//! JUnit XML: one test suite per grade, a test case per check, a failure
//! (with the check's message) for anything but passed. CI systems, GitLab's
//! test reports and most LMS plug-ins read it.

use super::{container_line, safe, verdict_word};
use crate::checks::clip;
use crate::result::{Report, Verdict};
use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The JUnit XML of one grade.
pub fn junit(report: &Report) -> String {
    let mut suite = TestSuite::new(format!("{}: {}", report.lab.id, report.lab.title));
    suite.set_time(Duration::from_millis(report.timings.total_ms));
    if let Some(line) = container_line(report) {
        suite.set_system_err(safe::terminal(&clip(&line, 2000)));
    }
    for c in &report.checks {
        let status = match c.verdict {
            Verdict::Passed => TestCaseStatus::success(),
            Verdict::NotRun => {
                let mut s = TestCaseStatus::skipped();
                if let Some(m) = &c.message {
                    s.set_message(safe::terminal_line(&clip(m, 500)));
                }
                s
            }
            v => {
                let kind = if v == Verdict::Errored {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_type(verdict_word(v));
                if let Some(m) = &c.message {
                    s.set_message(safe::terminal_line(&clip(m, 500)));
                    s.set_description(safe::terminal(&clip(m, 4000)));
                }
                s
            }
        };
        let mut case = TestCase::new(c.id.clone(), status);
        case.set_classname(format!("{}.{}", report.lab.id, c.id))
            .set_time(Duration::from_millis(c.duration_ms))
            .add_property(("points", c.points.to_string().as_str()))
            .add_property(("earned", c.earned.to_string().as_str()));
        suite.add_test_case(case);
    }
    let mut junit = Junit::new("mlops-grader");
    junit.add_test_suite(suite);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}
