//! One trial: a submission (the solution, or one of its mutants) compiled,
//! then graded by the real `grader` CLI as an instructor grades it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::cleanup;
use crate::cmd;
use crate::docker;

/// What became of a mutant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Scored below full marks: the rubric caught it.
    Caught,
    /// Scored full marks.
    Missed,
    /// Full marks, and marked equivalent in the lab's mutants.toml.
    Equivalent,
    /// Does not compile: no student would submit it.
    Unviable,
}

/// A finished trial, as the journal and the report keep it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Trial {
    pub mutant: String,
    pub outcome: Outcome,
    /// The checks that did not earn their points (for a caught mutant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// The compiler's first error line (for an unviable mutant), or what
    /// became of the submission's container when it did not run to the end
    /// (`build-failed: ...`, `crashed: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct Score {
    pub earned: u32,
    pub max: u32,
}

/// The grade of one submission, read from the grader's JSON report.
pub struct Graded {
    pub score: Score,
    pub lost: Vec<String>,
    /// `verdict: detail` when the container did not run to the end.
    pub container: Option<String>,
}

/// How every trial of a run is compiled and graded.
pub struct Grading {
    /// The `grader` executable (with its `grader-probe` beside it).
    pub grader: PathBuf,
    /// The lab's folder (its lab.toml, snapshots, mutants.toml).
    pub lab_dir: PathBuf,
    /// `KEY=VALUE` build arguments naming the local base images.
    pub build_args: Vec<String>,
    /// The folder under which each worker keeps its `cargo check` target.
    pub check_targets: PathBuf,
}

impl Grading {
    /// Whether the crate in `dir` compiles; `Err(first error line)` if not.
    /// A mutant that does not is unviable, and is not built into an image.
    ///
    /// Each worker has a target folder of its own: cargo names a crate's
    /// artifacts by its path relative to its workspace root, the same for
    /// every copy, so a copy checked beside another in one target folder
    /// could be taken for fresh and not checked at all.
    pub fn compiles(&self, dir: &Path, worker: usize) -> Result<Result<(), String>> {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args([
                "check",
                "--locked",
                "--offline",
                "--quiet",
                "--message-format=short",
            ])
            .arg("--manifest-path")
            .arg(dir.join("Cargo.toml"))
            .env(
                "CARGO_TARGET_DIR",
                self.check_targets.join(format!("worker{worker}")),
            )
            .env_remove("RUSTFLAGS");
        let out = cmd::output_raw(&mut command)?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        Ok(Err(cmd::telling_line(&out.stderr)))
    }

    /// Grades the submission in `dir` as an instructor, with the grader's
    /// objects labelled `run`; the image it builds is removed afterwards
    /// unless `keep_image`.
    pub fn grade(&self, dir: &Path, run: &str, keep_image: bool) -> Result<Graded> {
        let json = dir.with_extension("grade.json");
        let mut command = Command::new(&self.grader);
        command
            .arg("grade")
            .arg(&self.lab_dir)
            .arg(dir)
            .args(["--audience", "instructor", "--quiet", "--json"])
            .arg(&json)
            .env(docker::RUN_ENV, run);
        for arg in &self.build_args {
            command.args(["--build-arg", arg]);
        }
        let out = cmd::output_raw(&mut command)?;
        let removed = if keep_image {
            Ok(0)
        } else {
            cleanup::remove_builds(|r| r == run)
        };
        if !out.status.success() {
            bail!(
                "the grader could not grade it ({}): {}",
                out.status,
                cmd::telling_line(&out.stderr)
            );
        }
        removed?;
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("reading the grader's report {}", json.display()))?;
        let _ = std::fs::remove_file(&json);
        read_report(&text)
    }
}

/// The score and the lost checks of a grader JSON report.
fn read_report(text: &str) -> Result<Graded> {
    #[derive(Deserialize)]
    struct Report {
        score: Score,
        checks: Vec<Check>,
        container: Container,
    }
    #[derive(Deserialize)]
    struct Container {
        verdict: String,
        detail: Option<String>,
    }
    #[derive(Deserialize)]
    struct Check {
        id: String,
        points: u32,
        earned: u32,
    }
    let report: Report = serde_json::from_str(text).context("reading the grader's JSON report")?;
    let Container { verdict, detail } = report.container;
    Ok(Graded {
        container: (verdict != "ran").then(|| match detail {
            Some(detail) => format!("{verdict}: {detail}"),
            None => verdict,
        }),
        score: report.score,
        lost: report
            .checks
            .into_iter()
            .filter(|c| c.earned < c.points)
            .map(|c| c.id)
            .collect(),
    })
}

/// Seconds since `start`, to a tenth.
pub fn seconds(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_its_score_and_the_checks_that_lost_points() {
        let graded = read_report(
            r#"{"schema":"x","score":{"earned":80,"max":100},"checks":[
                {"id":"a","points":20,"earned":20},{"id":"b","points":20,"earned":0},
                {"id":"c","points":10,"earned":5}],
                "container":{"verdict":"build-failed","detail":"step 9 failed"}}"#,
        )
        .expect("reads");
        assert_eq!((graded.score.earned, graded.score.max), (80, 100));
        assert_eq!(graded.lost, ["b", "c"]);
        assert_eq!(
            graded.container.as_deref(),
            Some("build-failed: step 9 failed")
        );
    }
}
