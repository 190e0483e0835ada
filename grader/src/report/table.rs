//! The terminal table: colour on a terminal, plain text otherwise. Everything a
//! submission wrote goes through [`safe`], so it cannot drive the terminal.

use super::{safe, verdict_word};
use crate::checks::clip;
use crate::result::{ContainerVerdict, Report, Verdict};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

pub fn table(report: &Report, colour: bool) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110)
        .set_header(vec!["check", "result", "points", "what to fix"]);
    if !colour {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    for c in &report.checks {
        let colour_of = match c.verdict {
            Verdict::Passed => Color::Green,
            Verdict::Failed | Verdict::TimedOut => Color::Red,
            Verdict::Errored => Color::Yellow,
            Verdict::NotRun => Color::DarkGrey,
        };
        let mut result = Cell::new(verdict_word(c.verdict));
        if colour {
            result = result.fg(colour_of);
        }
        let message = c.message.as_deref().unwrap_or("");
        t.add_row(vec![
            Cell::new(&c.id),
            result,
            Cell::new(format!("{}/{}", c.earned, c.points)),
            Cell::new(safe::terminal(&clip(message, 600))),
        ]);
    }
    let mut out = format!(
        "{} (week {}): {}\n{t}\n",
        report.lab.title,
        report.lab.week,
        safe::terminal_line(&report.submission.path)
    );
    if let Some(line) = super::container_line(report) {
        out.push_str(&format!("container: {}\n", safe::terminal_line(&line)));
        if report.container.verdict == ContainerVerdict::BuildFailed
            && !report.container.log_excerpt.is_empty()
        {
            out.push_str("last lines of the build:\n");
            for line in &report.container.log_excerpt {
                out.push_str(&format!("  {}\n", safe::terminal_line(line)));
            }
        }
    }
    if report.container.output_over_cap {
        out.push_str(
            "note: the service wrote more output than the lab allows; only its first and last lines were kept\n",
        );
    }
    if let Some(w) = &report.withheld {
        out.push_str(&format!(
            "{} hidden check(s) worth {} points are run by your instructor, not here\n",
            w.checks, w.points
        ));
    }
    out.push_str(&format!(
        "score: {}/{}\n",
        report.score.earned, report.score.max
    ));
    out
}
