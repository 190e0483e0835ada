//! One grade, start to end, as a scheduler of five phases. Each check kind
//! declares its phase ([`Phase`]); the phases run in this order, each judging
//! only its own checks and writing their verdicts on one [`Scorecard`]:
//!
//! 1. [`source`]: repository checks and checks of the submission's files;
//! 2. [`build`]: pack, read the Dockerfile, build with no network, judge the
//!    image (skipped when no check needs an image);
//! 3. [`command`]: command checks in fresh containers or judges' images, and
//!    the file checks on what they wrote;
//! 4. [`service`]: start the service with the probe beside it, wait until
//!    [`ready`], run the HTTP checks through the relay;
//! 5. final (in [`service`]): the SIGTERM check, which stops the service.
//!
//! A phase that cannot run marks the checks that depend on it "not run", with
//! the reason; a lab runs only the phases its checks need.

pub mod build;
pub mod command;
pub mod ready;
pub mod scorecard;
pub mod service;
pub mod source;
mod watch;

use crate::course_key::CourseKey;
use crate::docker::{probe, sweep};
use crate::progress::Progress;
use crate::result::{Audience, Report};
use crate::spec::{CheckSpec, LabSpec, Visibility};
use bollard::Docker;
use scorecard::Scorecard;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use watch::Watch;

pub use crate::spec::Phase;

/// What to grade and how.
pub struct GradeRequest {
    pub lab: LabSpec,
    pub submission: PathBuf,
    pub build_args: BTreeMap<String, String>,
    pub audience: Audience,
    /// The `grader-probe` executable to package into the probe image.
    pub probe_exe: PathBuf,
    /// The OCI runtime for the submission's container (gVisor's `runsc`, say);
    /// the engine's default when `None`.
    pub runtime: Option<String>,
    /// Image patterns an instructor allows beyond the lab's (`--allow-image`).
    pub allow_images: Vec<String>,
    /// Where the grade shows its phases as they run (`progress::Quiet` for none).
    pub progress: Arc<dyn Progress>,
    /// The Docker network the container that fetches the crates a submission
    /// adds joins (`--fetch-network`); a network of its own when `None`.
    pub fetch_network: Option<String>,
    /// The identity with which judges open files sealed to the course's
    /// recipient (`--course-key`); the practice key unless told otherwise.
    pub course_key: CourseKey,
    /// Builds this grade waits its turn for, shared by the grades of a batch
    /// (`grader batch --builds`); `None` builds at once.
    pub build_slots: Option<Arc<tokio::sync::Semaphore>>,
}

/// A failure of grading itself (not of the submission): the engine broke, the
/// probe could not be made, a judge image is missing. The submission gets no
/// verdict from such a run.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error("{0}")]
    Other(String),
}

/// Grades one submission.
pub async fn grade(docker: &Docker, req: &GradeRequest) -> Result<Report, GradeError> {
    let started = Instant::now();
    let lab = &req.lab;
    // Students' grades do not even run the hidden checks.
    let checks: Vec<&CheckSpec> = lab
        .checks
        .iter()
        .filter(|c| req.audience == Audience::Instructor || c.visibility == Visibility::Visible)
        .collect();
    let mut card = Scorecard::new(req, &checks);
    sweep::sweep_orphans(docker).await?;

    let mut watch = Watch::new(req.progress.as_ref());
    let has = |phase| checks.iter().any(|c| c.kind.phase() == phase);

    if has(Phase::Source) {
        watch.enter(Phase::Source, &card, &checks);
        source::judge(&req.submission, &checks, &mut card).await;
    }
    let mut image = None;
    if lab.needs_image() {
        watch.enter(Phase::Build, &card, &checks);
        image = build::run(docker, req, &checks, &mut card, &watch).await?;
    }
    if has(Phase::Command) {
        watch.enter(Phase::Command, &card, &checks);
        let image = image.as_ref();
        command::judge(docker, req, image, &checks, &mut card, &watch).await?;
    }
    if let Some(image) = &image
        && lab.has_service()
    {
        watch.enter(Phase::Service, &card, &checks);
        service::run(docker, req, &checks, image, &mut card, &mut watch).await?;
    }
    watch.close(&card, &checks);
    Ok(card.finish(started))
}
