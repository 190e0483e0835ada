//! Phase one, source: repository checks and checks of the submission's own
//! files. They need no image, so a broken Dockerfile does not cost them, and a
//! lab of such checks only builds nothing.

use super::scorecard::Scorecard;
use crate::checks::{self, Outcome, Problem};
use crate::spec::{CheckKind, CheckSpec, FileRule, Phase};
use std::path::Path;
use std::time::Instant;

/// Judges this phase's checks, each on a blocking thread under its timeout.
pub async fn judge(submission: &Path, checks: &[&CheckSpec], card: &mut Scorecard) {
    let t = Instant::now();
    for check in checks.iter().filter(|c| c.kind.phase() == Phase::Source) {
        let started = Instant::now();
        let kind = check.kind.clone();
        let dir = submission.to_path_buf();
        let work = tokio::task::spawn_blocking(move || judge_one(&kind, &dir));
        match tokio::time::timeout(check.timeout, work).await {
            Ok(Ok(outcome)) => card.judge(&check.id, outcome, started),
            Ok(Err(e)) => card.judge(
                &check.id,
                Err(Problem::Error(format!("the check stopped: {e}"))),
                started,
            ),
            Err(_) => card.timed_out(&check.id, check.timeout, started),
        }
    }
    card.report.timings.checks_ms += t.elapsed().as_millis() as u64;
}

fn judge_one(kind: &CheckKind, dir: &Path) -> Outcome {
    match kind {
        CheckKind::Repository(rule) => checks::repository::check(rule, dir),
        CheckKind::File(FileRule::SecretScan { history }) => {
            let mut found = checks::secrets::scan_tree(dir)?;
            if *history {
                found.extend(checks::repository::scan_history(dir)?);
            }
            checks::secrets::verdict(found)
        }
        CheckKind::File(rule) if rule.command().is_none() && rule.fake().is_none() => {
            checks::files::judge_one_file(rule, |path| checks::files::read_tree_file(dir, path))
        }
        _ => Err(Problem::Error(
            "not a check of the submission's files".into(),
        )),
    }
}
