//! The result model: one grade of one submission, which every report writer reads.

use crate::spec::Visibility;
use serde::Serialize;

/// The version of the JSON report's schema; bump it when a field changes meaning.
pub const SCHEMA: &str = "mlops-grader/report/v2";

/// Who the report is for. Students never see hidden checks: they are not even run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Student,
    Instructor,
}

/// The verdict on one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    Failed,
    TimedOut,
    /// The grader itself could not run the check (not the submission's fault).
    Errored,
    /// The check was never run: what it needs did not happen (the image did
    /// not build, the service never became ready or stopped). It earns
    /// nothing; its message says why.
    NotRun,
}

/// The verdict on the submission's container as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerVerdict {
    /// It ran to the end of the checks.
    Ran,
    BuildFailed,
    NeverReady,
    Crashed,
    OutOfMemory,
    KilledAtDeadline,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub points: u32,
    pub earned: u32,
    pub visibility: Visibility,
    pub verdict: Verdict,
    /// What a student can act on; a diff for snapshots. None when passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerResult {
    pub verdict: ContainerVerdict,
    /// One line on what happened, for anything but `ran`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The service wrote more to stdout and stderr than the lab's cap.
    pub output_over_cap: bool,
    /// The image was found in the cache, not built.
    pub cached_image: bool,
    /// The first and last lines the service wrote (or the build printed, when it
    /// failed), with `[…]` where lines were left out.
    pub log_excerpt: Vec<String>,
}

/// Milliseconds spent in each phase of the grade.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub build_ms: u64,
    pub start_ms: u64,
    pub ready_ms: u64,
    pub checks_ms: u64,
    pub teardown_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabInfo {
    pub id: String,
    pub title: String,
    pub week: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubmissionInfo {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub earned: u32,
    pub max: u32,
}

/// Hidden checks a student's report leaves out, so the student knows they exist.
#[derive(Debug, Clone, Serialize)]
pub struct Withheld {
    pub checks: usize,
    pub points: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub grader_version: &'static str,
    pub audience: Audience,
    pub lab: LabInfo,
    pub submission: SubmissionInfo,
    pub score: Score,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
    pub container: ContainerResult,
    pub checks: Vec<CheckResult>,
    pub timings: Timings,
}

impl Report {
    /// Recomputes the score from the checks: the only place points are added up.
    pub fn tally(&mut self) {
        self.score = Score {
            earned: self.checks.iter().map(|c| c.earned).sum(),
            max: self.checks.iter().map(|c| c.points).sum(),
        };
    }
}
