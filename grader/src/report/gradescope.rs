//! Gradescope's `results.json`, the file an autograder's `run_autograder`
//! leaves in `/autograder/results/`: a score, and a test per check with its
//! own score, maximum, status and output.
//!
//! Gradescope runs the grader on its own servers, so an instructor's grade
//! (hidden checks included) fits it: a hidden check's test is shown to the
//! student only once the instructor publishes the grades (`after_published`).

use super::{container_line, safe, verdict_word};
use crate::checks::clip;
use crate::result::{Report, Verdict};
use crate::spec::Visibility;
use serde::Serialize;

#[derive(Serialize)]
struct Results {
    score: u32,
    /// Seconds, as Gradescope counts them.
    execution_time: u64,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: u32,
    max_score: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    output: String,
    output_format: &'static str,
    visibility: &'static str,
}

/// The `results.json` of one grade.
pub fn gradescope(report: &Report) -> String {
    let mut output = format!(
        "{} (week {}): {}/{}",
        report.lab.title, report.lab.week, report.score.earned, report.score.max
    );
    if let Some(line) = container_line(report) {
        output.push_str(&format!("\n{}", safe::terminal(&clip(&line, 2000))));
    }
    if let Some(w) = &report.withheld {
        output.push_str(&format!(
            "\n{} hidden check(s) worth {} points are graded by your instructor.",
            w.checks, w.points
        ));
    }
    let tests = report
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| Test {
            name: format!("{}: {}", c.id, c.title),
            number: (i + 1).to_string(),
            score: c.earned,
            max_score: c.points,
            status: if c.verdict == Verdict::Passed {
                "passed"
            } else {
                "failed"
            },
            output: match (c.verdict, &c.message) {
                (Verdict::Passed, _) => String::new(),
                (v, Some(m)) => format!("{}: {}", verdict_word(v), safe::terminal(&clip(m, 4000))),
                (v, None) => verdict_word(v).to_string(),
            },
            output_format: "text",
            visibility: match c.visibility {
                Visibility::Visible => "visible",
                Visibility::Hidden => "after_published",
            },
        })
        .collect();
    let results = Results {
        score: report.score.earned,
        execution_time: report.timings.total_ms.div_ceil(1000),
        output,
        output_format: "text",
        visibility: "visible",
        // The grader's progress lines: nothing of the submission's but ids.
        stdout_visibility: "hidden",
        tests,
    };
    super::json_of(&results)
}
