//! Phase two, build: pack the submission, read its Dockerfile as Docker will,
//! build the image with no network, and judge the image's configuration.
//! When it does not build, every check that needs it is not run.

use super::scorecard::{Scorecard, ms};
use super::watch::Watch;
use super::{GradeError, GradeRequest};
use crate::checks::{self, ImageFacts};
use crate::context;
use crate::crates;
use crate::docker::bases::{self, Blocked};
use crate::docker::build::{self, BuildFailure, BuildLimits};
use crate::docker::dockerfile::AllowList;
use crate::docker::image_file;
use crate::result::ContainerVerdict;
use crate::spec::{CheckKind, CheckSpec};
use bollard::Docker;
use std::time::{Duration, Instant};

/// The submission's image, once built, and what it says of itself.
pub struct Image {
    pub tag: String,
    pub facts: ImageFacts,
}

/// Builds the image and judges the image checks; `None` when it did not build
/// (the card says why).
pub async fn run(
    docker: &Docker,
    req: &GradeRequest,
    checks: &[&CheckSpec],
    card: &mut Scorecard,
    watch: &Watch<'_>,
) -> Result<Option<Image>, GradeError> {
    let t = Instant::now();
    let built = match context::pack(&req.submission, req.lab.build.context_limit_mb) {
        Err(e) => Err(BuildFailure::Failed {
            message: e.to_string(),
            log_tail: String::new(),
        }),
        Ok(ctx) => {
            card.report.submission.context_sha256 = Some(ctx.sha256.clone());
            build_checked(docker, req, &ctx, watch).await?
        }
    };
    card.report.timings.build_ms = ms(t);
    let built = match built {
        Ok(built) => built,
        Err(failure) => {
            let (detail, tail) = match failure {
                BuildFailure::Failed { message, log_tail } => (message, log_tail),
                BuildFailure::TimedOut { after, log_tail } => (
                    format!("the build did not finish within {} s", after.as_secs()),
                    log_tail,
                ),
            };
            let container = &mut card.report.container;
            container.verdict = ContainerVerdict::BuildFailed;
            container.detail = Some(detail.clone());
            container.log_excerpt = tail.lines().map(str::to_string).collect();
            let needing: Vec<&CheckSpec> = checks
                .iter()
                .copied()
                .filter(|c| req.lab.check_needs_image(c))
                .collect();
            card.not_run(&needing, &format!("the image did not build ({detail})"));
            return Ok(None);
        }
    };
    card.report.container.cached_image = built.cached;
    let facts = ImageFacts::from(&docker.inspect_image(&built.tag).await?);
    for check in checks {
        if let CheckKind::Image(rule) = &check.kind {
            card.judge(&check.id, checks::image_check(rule, &facts), Instant::now());
        }
    }
    Ok(Some(Image {
        tag: built.tag,
        facts,
    }))
}

/// Reads the Dockerfile the engine will read (from the packed context),
/// refuses what would make the engine fetch, makes the allowed images present,
/// then builds, with pull off, from nothing but the context and those images.
async fn build_checked(
    docker: &Docker,
    req: &GradeRequest,
    ctx: &context::BuildContext,
    watch: &Watch<'_>,
) -> Result<Result<build::Built, BuildFailure>, GradeError> {
    let lab = &req.lab;
    let refused = |message: String| {
        Ok(Err(BuildFailure::Failed {
            message,
            log_tail: String::new(),
        }))
    };
    let allow = AllowList::new(lab.build.images.iter().chain(&req.allow_images))
        .map_err(GradeError::Other)?;
    let Ok(dockerfile) = String::from_utf8(ctx.file("Dockerfile").unwrap_or_default()) else {
        return refused("the Dockerfile is not UTF-8 text".into());
    };
    watch.step("reading the Dockerfile");
    let bases = match bases::settle(docker, &dockerfile, &req.build_args, &allow).await {
        Ok(bases) => bases,
        Err(Blocked::Refused(message)) => return refused(message),
        Err(Blocked::Unavailable(message)) => return Err(GradeError::Other(message)),
    };
    if let Err(message) = crates_present(docker, ctx, &bases, &lab.id).await? {
        return refused(message);
    }
    let tag = build::cache_tag(&lab.id, ctx, &req.build_args, &bases);
    let limits = BuildLimits {
        timeout: Duration::from_secs(lab.build.timeout_secs),
        memory_mb: lab.build.memory_mb,
        cpus: lab.build.cpus,
    };
    let on_step = |line: &str| watch.step(line);
    Ok(build::build(
        docker,
        &lab.id,
        ctx,
        &tag,
        &req.build_args,
        &limits,
        &on_step,
    )
    .await?)
}

/// Refuses, in one line, a Rust submission whose `Cargo.lock` names a crate
/// the offline build cannot have: from git, another registry or a path
/// outside it, or absent from the course's builder image (when one of the
/// base images is that builder, which lists what it holds).
async fn crates_present(
    docker: &Docker,
    ctx: &context::BuildContext,
    bases: &[String],
    lab: &str,
) -> Result<Result<(), String>, GradeError> {
    let crates = match crates::locked(ctx) {
        Ok(Some(crates)) => crates,
        Ok(None) => return Ok(Ok(())),
        Err(refusal) => return Ok(Err(refusal)),
    };
    for base in bases {
        // `reference@id`: the id names exactly the image the build will use.
        let id = base.rsplit_once('@').map_or(base.as_str(), |(_, id)| id);
        if let Some(list) = image_file::read(docker, id, crates::BUILDER_CRATES, lab).await? {
            let missing = crates::missing(&crates, &String::from_utf8_lossy(&list));
            if !missing.is_empty() {
                return Ok(Err(crates::missing_message(&missing)));
            }
        }
    }
    Ok(Ok(()))
}
