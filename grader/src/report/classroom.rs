//! GitHub Classroom's autograding result: what a runner step (such as
//! `classroom-resources/autograding-command-grader`) leaves in its `result`
//! output, base64 of a JSON object, and what
//! `classroom-resources/autograding-grading-reporter` reads back from the
//! `<RUNNER>_RESULTS` variable. The reporter adds up the tests' `score`
//! against `max_score` and writes "Points N/M" on the check run, which fills
//! the assignment's grade column.

use super::{safe, verdict_word};
use crate::checks::clip;
use crate::result::{Report, Verdict};
use base64::Engine as _;
use serde::Serialize;

#[derive(Serialize)]
struct RunnerResult {
    version: u32,
    status: &'static str,
    max_score: u32,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    status: &'static str,
    score: u32,
    message: String,
    test_code: String,
    filename: String,
    line_no: u32,
    duration: u64,
}

/// The runner result as JSON, before its base64.
pub fn classroom_json(report: &Report) -> String {
    let tests: Vec<Test> = report
        .checks
        .iter()
        .map(|c| Test {
            name: format!("{}: {}", c.id, c.title),
            status: match c.verdict {
                Verdict::Passed => "pass",
                Verdict::Errored => "error",
                _ => "fail",
            },
            score: c.earned,
            message: match (c.verdict, &c.message) {
                (Verdict::Passed, _) => String::new(),
                (v, Some(m)) => format!("{}: {}", verdict_word(v), safe::terminal(&clip(m, 1000))),
                (v, None) => verdict_word(v).to_string(),
            },
            test_code: format!("grader grade {} .", report.lab.id),
            filename: String::new(),
            line_no: 0,
            duration: c.duration_ms,
        })
        .collect();
    let status = if tests.iter().all(|t| t.status == "pass") {
        "pass"
    } else if tests.iter().any(|t| t.status == "error") {
        "error"
    } else {
        "fail"
    };
    super::json_of(&RunnerResult {
        version: 1,
        status,
        max_score: report.score.max,
        tests,
    })
}

/// The line a runner step appends to `$GITHUB_OUTPUT`: `result=` and the
/// base64 of [`classroom_json`].
pub fn classroom_output(report: &Report) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(classroom_json(report));
    format!("result={encoded}\n")
}
