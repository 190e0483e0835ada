//! A Markdown summary, fit for `$GITHUB_STEP_SUMMARY` or a pull-request comment.
//! The heading and the table's frame are the grader's own; whatever a
//! submission wrote is quoted in a code span (see [`safe`]), where nothing renders.

use super::{container_word, safe, verdict_word};
use crate::checks::clip;
use crate::result::{ContainerVerdict, Report, Verdict};

pub fn markdown(report: &Report) -> String {
    let mut out = format!(
        "### {} (week {}): {}/{}\n\n",
        report.lab.title, report.lab.week, report.score.earned, report.score.max
    );
    if let Some(line) = container(report) {
        out.push_str(&line);
    }
    out.push_str("| check | result | points | what to fix |\n|---|---|---|---|\n");
    for c in &report.checks {
        let mark = match c.verdict {
            Verdict::Passed => "✅",
            Verdict::Errored => "⚠️",
            Verdict::NotRun => "⏭️",
            _ => "❌",
        };
        out.push_str(&format!(
            "| `{}` | {mark} {} | {}/{} | {} |\n",
            c.id,
            verdict_word(c.verdict),
            c.earned,
            c.points,
            safe::markdown_cell(&clip(c.message.as_deref().unwrap_or(""), 500))
        ));
    }
    if let Some(w) = &report.withheld {
        out.push_str(&format!(
            "\n{} hidden check(s) worth {} points are run by your instructor.\n",
            w.checks, w.points
        ));
    }
    out
}

/// "**Container crashed:** `the service exited with code 3`", for any verdict
/// but `ran`: the verdict is the grader's word, the detail quoted.
fn container(report: &Report) -> Option<String> {
    let c = &report.container;
    if c.verdict == ContainerVerdict::Ran {
        return None;
    }
    let word = container_word(c.verdict);
    let detail = safe::markdown_code(&clip(c.detail.as_deref().unwrap_or(""), 500));
    Some(if detail.is_empty() {
        format!("**Container {word}**\n\n")
    } else {
        format!("**Container {word}:** {detail}\n\n")
    })
}
