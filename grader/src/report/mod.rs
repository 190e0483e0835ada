//! Writers of one result model: a terminal table, the project's JSON, a
//! Markdown summary for `$GITHUB_STEP_SUMMARY`, and the formats the teaching
//! platforms read (Gradescope, GitHub Classroom, JUnit XML); for a class, a
//! gradebook. Each writer passes whatever a submission wrote through [`safe`].

mod class;
mod classroom;
mod gradebook;
mod gradescope;
#[cfg(test)]
mod hostile;
mod junit;
mod markdown;
#[cfg(test)]
mod platforms;
mod rubric;
pub mod safe;
mod table;

pub use class::class_html;
pub use classroom::{classroom_json, classroom_output};
pub use gradebook::gradebook;
pub use gradescope::gradescope;
pub use junit::junit;
pub use markdown::markdown;
pub use rubric::rubric_markdown;
pub use table::table;

use crate::result::{ContainerVerdict, Report, Verdict};

/// The project's JSON report (schema `mlops-grader/report/v3`), with the
/// characters serde_json leaves raw but a terminal acts on escaped.
pub fn json(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(text) => safe::json_text(&text),
        Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
    }
}

/// Pretty JSON of one of the platforms' formats, made safe as [`json`] is.
fn json_of(value: &impl serde::Serialize) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(text) => safe::json_text(&text) + "\n",
        Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
    }
}

/// "crashed: the service exited with code 3", for any verdict but `ran`.
pub fn container_line(report: &Report) -> Option<String> {
    let c = &report.container;
    (c.verdict != ContainerVerdict::Ran).then(|| match &c.detail {
        Some(d) => format!("{}: {d}", container_word(c.verdict)),
        None => container_word(c.verdict).to_string(),
    })
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::TimedOut => "timed out",
        Verdict::Errored => "errored",
        Verdict::NotRun => "not run",
    }
}

pub fn container_word(v: ContainerVerdict) -> &'static str {
    match v {
        ContainerVerdict::Ran => "ran",
        ContainerVerdict::BuildFailed => "build failed",
        ContainerVerdict::NeverReady => "never ready",
        ContainerVerdict::Crashed => "crashed",
        ContainerVerdict::OutOfMemory => "out of memory",
        ContainerVerdict::KilledAtDeadline => "killed at deadline",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::*;
    use crate::spec::Visibility;

    fn report() -> Report {
        Report {
            schema: SCHEMA.into(),
            grader_version: "0".into(),
            started_at: "2026-12-07T18:00:00Z".into(),
            audience: Audience::Student,
            lab: LabInfo {
                id: "week08".into(),
                title: "Lab".into(),
                week: 8,
                spec_sha256: "0".repeat(64),
            },
            submission: SubmissionInfo {
                student: None,
                path: "sub".into(),
                context_sha256: None,
            },
            score: Score { earned: 5, max: 10 },
            withheld: Some(Withheld {
                checks: 1,
                points: 10,
            }),
            container: ContainerResult {
                verdict: ContainerVerdict::Crashed,
                detail: Some("the service exited with code 3".into()),
                exit_code: Some(3),
                oom_killed: false,
                output_over_cap: false,
                cached_image: false,
                log_excerpt: vec![],
            },
            checks: vec![
                CheckResult {
                    id: "health".into(),
                    title: "t".into(),
                    points: 5,
                    earned: 5,
                    visibility: Visibility::Visible,
                    verdict: Verdict::Passed,
                    message: None,
                    duration_ms: 1,
                },
                CheckResult {
                    id: "version".into(),
                    title: "t".into(),
                    points: 5,
                    earned: 0,
                    visibility: Visibility::Visible,
                    verdict: Verdict::Failed,
                    message: Some("a | b\nc".into()),
                    duration_ms: 1,
                },
            ],
            timings: Timings::default(),
        }
    }

    #[test]
    fn the_table_is_plain_without_colour_and_says_what_matters() {
        let t = table(&report(), false);
        assert!(!t.contains('\u{1b}'), "no escape codes off a terminal");
        assert!(t.contains("container: crashed: the service exited with code 3"));
        assert!(t.contains("1 hidden check(s) worth 10 points"));
        assert!(t.ends_with("score: 5/10\n"));
        assert!(
            table(&report(), true).contains('\u{1b}'),
            "colour on a terminal"
        );
    }

    #[test]
    fn markdown_keeps_each_message_in_its_cell() {
        let m = markdown(&report());
        assert!(m.starts_with("### Lab (week 8): 5/10"));
        assert!(m.contains("| `a \\| b ⏎ c` |"), "{m}");
        assert!(m.contains("**Container crashed:** `the service exited with code 3`"));
    }

    #[test]
    fn the_json_report_names_its_schema() {
        let v: serde_json::Value = serde_json::from_str(&json(&report())).expect("json");
        assert_eq!(v["schema"], "mlops-grader/report/v3");
        assert_eq!(v["container"]["verdict"], "crashed");
        assert_eq!(v["checks"][1]["verdict"], "failed");
    }
}
