//! The result model: one grade of one submission, which every report writer reads.

use crate::spec::Visibility;
use serde::{Deserialize, Serialize};

/// The version of the JSON report's schema; bump it when a field changes meaning.
/// v3: reports read back (`serde_json::from_str::<Report>`), and say when they
/// started, which specification graded them and, in a batch, whose they are.
pub const SCHEMA: &str = "mlops-grader/report/v3";

/// Who the report is for. Students never see hidden checks: they are not even run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Student,
    Instructor,
}

/// The verdict on one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub build_ms: u64,
    pub start_ms: u64,
    pub ready_ms: u64,
    pub checks_ms: u64,
    pub teardown_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabInfo {
    pub id: String,
    pub title: String,
    pub week: u8,
    /// The SHA-256 of what the grader read of the specification (lab.toml,
    /// snapshots, data, composed labs): two reports with the same hash were
    /// graded by the same rubric.
    #[serde(default)]
    pub spec_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmissionInfo {
    /// Whose submission it is, in a class batch (the roster's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<String>,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    pub earned: u32,
    pub max: u32,
}

/// Hidden checks a student's report leaves out, so the student knows they exist.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Withheld {
    pub checks: usize,
    pub points: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub grader_version: String,
    /// When the grade started (RFC 3339, UTC, seconds).
    #[serde(default)]
    pub started_at: String,
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

/// Now, as RFC 3339 in UTC to the second ("2026-12-07T18:04:05Z").
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// One student's line in a class's results: their report, or why grading it
/// failed. A grading error (the engine unreachable, a judge image missing) is
/// the grader's fault, never the submission's: it earns no verdict, and a
/// rerun grades that submission again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassEntry {
    pub student: String,
    /// The submission's folder, as the roster gave it.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times it was graded in the run that wrote this entry.
    pub attempts: u32,
}
