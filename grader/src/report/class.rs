//! The class report: one self-contained HTML page (no script, no font or
//! style from elsewhere) with the score histogram, each check's pass rate,
//! the containers' verdicts, the slowest builds and a row per student that
//! links to their reports. minijinja escapes every value; text that came
//! from a submission is also made one safe line first.

use super::{container_word, safe};
use crate::checks::clip;
use crate::result::{ClassEntry, Verdict};
use crate::spec::LabSpec;
use serde::Serialize;

const TEMPLATE: &str = include_str!("templates/class.html");

/// Ten bins, each a tenth of the maximum; the last includes full marks.
const BINS: u32 = 10;

#[derive(Serialize)]
struct Bin {
    label: String,
    count: usize,
    /// Of the tallest bin, in percent.
    height: u32,
}

#[derive(Serialize)]
struct CheckRate {
    id: String,
    title: String,
    points: u32,
    passed: usize,
    of: usize,
    rate: u32,
}

#[derive(Serialize)]
struct Student {
    student: String,
    graded: bool,
    score: u32,
    max: u32,
    full: bool,
    container: &'static str,
    error: String,
}

#[derive(Serialize)]
struct Build {
    student: String,
    build: String,
    total: String,
}

/// The class report of `entries`, graded against `lab`.
pub fn class_html(lab: &LabSpec, entries: &[ClassEntry], made_at: &str) -> String {
    let reports: Vec<_> = entries.iter().filter_map(|e| e.report.as_ref()).collect();
    // What a report is out of: the lab's maximum for an instructor's grade,
    // less the hidden checks' points for a student's.
    let max = reports.first().map_or(lab.max_points(), |r| r.score.max);
    let mut scores: Vec<u32> = reports.iter().map(|r| r.score.earned).collect();
    scores.sort_unstable();

    let mut counts = vec![0usize; BINS as usize];
    for r in &reports {
        let (earned, of) = (r.score.earned, r.score.max);
        let bin = (earned * BINS).checked_div(of).unwrap_or(0).min(BINS - 1);
        counts[bin as usize] += 1;
    }
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1);
    let histogram: Vec<Bin> = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| Bin {
            label: format!("{}–{}%", i as u32 * 100 / BINS, (i as u32 + 1) * 100 / BINS),
            count,
            height: (count * 100 / tallest) as u32,
        })
        .collect();

    // The checks in the lab's order, as the reports hold them.
    let mut checks: Vec<CheckRate> = Vec::new();
    for r in &reports {
        for c in &r.checks {
            let rate = match checks.iter_mut().position(|k| k.id == c.id) {
                Some(i) => &mut checks[i],
                None => {
                    checks.push(CheckRate {
                        id: c.id.clone(),
                        title: c.title.clone(),
                        points: c.points,
                        passed: 0,
                        of: 0,
                        rate: 0,
                    });
                    checks.last_mut().expect("just pushed")
                }
            };
            rate.of += 1;
            rate.passed += usize::from(c.verdict == Verdict::Passed);
        }
    }
    for c in &mut checks {
        c.rate = (c.passed * 100).checked_div(c.of).unwrap_or(0) as u32;
    }

    let mut verdicts: Vec<(&str, usize)> = Vec::new();
    for r in &reports {
        let word = container_word(r.container.verdict);
        match verdicts.iter_mut().find(|(v, _)| *v == word) {
            Some((_, n)) => *n += 1,
            None => verdicts.push((word, 1)),
        }
    }
    let not_graded = entries.len() - reports.len();
    if not_graded > 0 {
        verdicts.push(("not graded (grading failed)", not_graded));
    }

    let mut slowest: Vec<(&ClassEntry, u64, u64)> = entries
        .iter()
        .filter_map(|e| {
            e.report
                .as_ref()
                .map(|r| (e, r.timings.build_ms, r.timings.total_ms))
        })
        .filter(|(_, build, _)| *build > 0)
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    let slowest: Vec<Build> = slowest
        .into_iter()
        .take(5)
        .map(|(e, build, total)| Build {
            student: e.student.clone(),
            build: seconds(build),
            total: seconds(total),
        })
        .collect();

    let students: Vec<Student> = entries
        .iter()
        .map(|e| match &e.report {
            Some(r) => Student {
                student: e.student.clone(),
                graded: true,
                score: r.score.earned,
                max: r.score.max,
                full: r.score.earned == r.score.max,
                container: container_word(r.container.verdict),
                error: String::new(),
            },
            None => Student {
                student: e.student.clone(),
                graded: false,
                score: 0,
                max,
                full: false,
                container: "",
                error: safe::terminal_line(&clip(e.error.as_deref().unwrap_or("not graded"), 300)),
            },
        })
        .collect();

    let mean = if scores.is_empty() {
        "–".to_string()
    } else {
        let sum: f64 = scores.iter().map(|&s| f64::from(s)).sum();
        format!("{:.1}", sum / scores.len() as f64)
    };
    let median = scores
        .get(scores.len() / 2)
        .map_or("–".to_string(), u32::to_string);
    let context = minijinja::context! {
        lab => minijinja::context! { id => lab.id, title => lab.title, week => lab.week },
        made_at,
        grader_version => env!("CARGO_PKG_VERSION"),
        spec_short => lab.digest.get(..12).unwrap_or(&lab.digest),
        graded => reports.len(),
        not_graded,
        max,
        mean,
        median,
        full_marks => reports.iter().filter(|r| r.score.earned == r.score.max).count(),
        histogram,
        checks,
        verdicts,
        slowest,
        students,
    };
    let mut env = minijinja::Environment::new();
    // The name's `.html` turns HTML escaping on for every value.
    let rendered = env
        .add_template("class.html", TEMPLATE)
        .and_then(|()| env.get_template("class.html"))
        .and_then(|t| t.render(context));
    rendered.unwrap_or_else(|e| {
        format!(
            "<!doctype html><title>class report</title><p>The class report could not be made: {}</p>\n",
            safe::terminal_line(&e.to_string()).replace('<', "&lt;")
        )
    })
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}
