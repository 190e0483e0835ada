//! A Markdown summary, fit for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use super::verdict_word;
use crate::result::{Report, Verdict};

pub fn markdown(report: &Report) -> String {
    let mut out = format!(
        "### {} (week {}): {}/{}\n\n",
        report.lab.title, report.lab.week, report.score.earned, report.score.max
    );
    if let Some(line) = super::container_line(report) {
        out.push_str(&format!("**Container {}**\n\n", escape(&line)));
    }
    out.push_str("| check | result | points | what to fix |\n|---|---|---|---|\n");
    for c in &report.checks {
        let mark = match c.verdict {
            Verdict::Passed => "✅",
            Verdict::Errored => "⚠️",
            _ => "❌",
        };
        out.push_str(&format!(
            "| `{}` | {mark} {} | {}/{} | {} |\n",
            c.id,
            verdict_word(c.verdict),
            c.earned,
            c.points,
            escape(c.message.as_deref().unwrap_or(""))
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

/// Keeps a message inside one table cell: no pipes, no line breaks.
fn escape(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', "<br>");
    super::super::checks::clip(&s, 500)
}
