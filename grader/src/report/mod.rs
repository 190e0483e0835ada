//! Writers of one result model: a terminal table, the project's JSON, and a
//! Markdown summary for `$GITHUB_STEP_SUMMARY`.

mod markdown;
mod rubric;
mod table;

pub use markdown::markdown;
pub use rubric::rubric_markdown;
pub use table::table;

use crate::result::{ContainerVerdict, Report, Verdict};

/// The project's JSON report (schema `mlops-grader/report/v1`).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::TimedOut => "timed out",
        Verdict::Errored => "errored",
    }
}

pub(crate) fn container_word(v: ContainerVerdict) -> &'static str {
    match v {
        ContainerVerdict::Ran => "ran",
        ContainerVerdict::BuildFailed => "build failed",
        ContainerVerdict::NeverReady => "never ready",
        ContainerVerdict::Crashed => "crashed",
        ContainerVerdict::OutOfMemory => "out of memory",
        ContainerVerdict::KilledAtDeadline => "killed at deadline",
    }
}
