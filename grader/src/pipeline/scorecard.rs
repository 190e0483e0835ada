//! The scorecard: one verdict per check id, the only place a phase writes one.
//! Every check starts "not run" (the grade ended before it); each phase turns
//! its own checks into passed, failed, timed out or errored, or says why they
//! were not run.

use super::GradeRequest;
use crate::checks::{Outcome, Problem};
use crate::report::verdict_word;
use crate::result::*;
use crate::spec::{CheckSpec, Phase, Visibility};
use std::time::{Duration, Instant};

/// The report being filled in, with the writes a phase may make.
pub struct Scorecard {
    pub report: Report,
}

impl Scorecard {
    /// A card for `checks` (what this audience sees), all of them not run yet.
    pub fn new(req: &GradeRequest, checks: &[&CheckSpec]) -> Self {
        let hidden: Vec<&CheckSpec> = req
            .lab
            .checks
            .iter()
            .filter(|c| c.visibility == Visibility::Hidden)
            .collect();
        let report = Report {
            schema: SCHEMA.into(),
            grader_version: env!("CARGO_PKG_VERSION").into(),
            started_at: crate::result::now_rfc3339(),
            audience: req.audience,
            lab: LabInfo {
                id: req.lab.id.clone(),
                title: req.lab.title.clone(),
                week: req.lab.week,
                spec_sha256: req.lab.digest.clone(),
            },
            submission: SubmissionInfo {
                student: None,
                path: req.submission.display().to_string(),
                context_sha256: None,
            },
            score: Score { earned: 0, max: 0 },
            withheld: (req.audience == Audience::Student && !hidden.is_empty()).then(|| Withheld {
                checks: hidden.len(),
                points: hidden.iter().map(|c| c.points).sum(),
            }),
            container: ContainerResult {
                verdict: ContainerVerdict::Ran,
                detail: None,
                exit_code: None,
                oom_killed: false,
                output_over_cap: false,
                cached_image: false,
                log_excerpt: Vec::new(),
            },
            checks: checks
                .iter()
                .map(|c| CheckResult {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    points: c.points,
                    earned: 0,
                    visibility: c.visibility,
                    verdict: Verdict::NotRun,
                    message: Some("the grade ended before this check".into()),
                    duration_ms: 0,
                })
                .collect(),
            timings: Timings::default(),
        };
        Scorecard { report }
    }

    /// Records a verdict; a check earns its points only when it passed.
    pub fn set(&mut self, id: &str, verdict: Verdict, message: Option<String>, duration_ms: u64) {
        if let Some(c) = self.report.checks.iter_mut().find(|c| c.id == id) {
            c.verdict = verdict;
            c.earned = if verdict == Verdict::Passed {
                c.points
            } else {
                0
            };
            c.message = message;
            c.duration_ms = duration_ms;
        }
    }

    /// Records what a check found, timed from `started`.
    pub fn judge(&mut self, id: &str, outcome: Outcome, started: Instant) {
        let (verdict, message) = match outcome {
            Ok(()) => (Verdict::Passed, None),
            Err(Problem::Fail(m)) => (Verdict::Failed, Some(m)),
            Err(Problem::Error(m)) => (Verdict::Errored, Some(m)),
        };
        self.set(id, verdict, message, ms(started));
    }

    /// Records a check that gave no result within `limit`.
    pub fn timed_out(&mut self, id: &str, limit: Duration, started: Instant) {
        let message = format!("no result within {}", human(limit));
        self.set(id, Verdict::TimedOut, Some(message), ms(started));
    }

    /// Marks `checks` not run, for `why`.
    pub fn not_run<'a>(&mut self, checks: impl IntoIterator<Item = &'a &'a CheckSpec>, why: &str) {
        for check in checks {
            self.set(&check.id, Verdict::NotRun, Some(why.to_string()), 0);
        }
    }

    /// "2 passed, 1 failed" for the checks of `phase`; empty when it has none.
    pub fn summary(&self, checks: &[&CheckSpec], phase: Phase) -> String {
        let mut counts: Vec<(Verdict, usize)> = Vec::new();
        let of_phase = checks.iter().filter(|c| c.kind.phase() == phase);
        for result in of_phase.filter_map(|c| self.report.checks.iter().find(|r| r.id == c.id)) {
            match counts.iter_mut().find(|(v, _)| *v == result.verdict) {
                Some((_, n)) => *n += 1,
                None => counts.push((result.verdict, 1)),
            }
        }
        let counted: Vec<String> = counts
            .iter()
            .map(|(v, n)| format!("{n} {}", verdict_word(*v)))
            .collect();
        counted.join(", ")
    }

    /// The finished report: total time and score.
    pub fn finish(mut self, started: Instant) -> Report {
        self.report.timings.total_ms = ms(started);
        self.report.tally();
        self.report
    }
}

/// "3 s", or "250 ms" under a second.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}
