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
use crate::docker::fetch::{self, Fetch, Fetched};
use crate::docker::image_file;
use crate::result::ContainerVerdict;
use crate::spec::{CheckKind, CheckSpec};
use bollard::Docker;
use std::collections::BTreeMap;
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
    let (args, bases) = match crates_present(docker, req, ctx, &dockerfile, bases, watch).await? {
        Ok(settled) => settled,
        Err(message) => return refused(message),
    };
    let tag = build::cache_tag(&lab.id, ctx, &args, &bases);
    let limits = BuildLimits {
        timeout: Duration::from_secs(lab.build.timeout_secs),
        memory_mb: lab.build.memory_mb,
        cpus: lab.build.cpus,
    };
    let _slot = match &req.build_slots {
        Some(slots) => {
            watch.step("waiting for a build slot");
            // Closed only if the batch is gone; then build anyway.
            slots.clone().acquire_owned().await.ok()
        }
        None => None,
    };
    let on_step = |line: &str| watch.step(line);
    Ok(build::build(docker, &lab.id, ctx, &tag, &args, &limits, &on_step).await?)
}

/// The build arguments and base images to build with. A Rust submission
/// whose `Cargo.lock` names a crate the offline build cannot have (from git,
/// another registry or a path outside it) is refused in one line. When the
/// course's builder image (which lists what it holds) lacks some of its
/// crates.io crates, they are fetched into a derived builder image, and the
/// build arguments that name the builder name that one instead.
async fn crates_present(
    docker: &Docker,
    req: &GradeRequest,
    ctx: &context::BuildContext,
    dockerfile: &str,
    bases: Vec<String>,
    watch: &Watch<'_>,
) -> Result<Result<(BTreeMap<String, String>, Vec<String>), String>, GradeError> {
    let lab = &req.lab.id;
    let unchanged = |bases| Ok(Ok((req.build_args.clone(), bases)));
    let crates = match crates::locked(ctx) {
        Ok(Some(crates)) => crates,
        Ok(None) => return unchanged(bases),
        Err(refusal) => return Ok(Err(refusal)),
    };
    for base in &bases {
        // `reference@id`: the id names exactly the image the build will use.
        let (reference, id) = base
            .rsplit_once('@')
            .unwrap_or((base.as_str(), base.as_str()));
        let Some(list) = image_file::read(docker, id, crates::BUILDER_CRATES, lab).await? else {
            continue;
        };
        let missing = crates::missing(&crates, &String::from_utf8_lossy(&list));
        if missing.is_empty() {
            continue;
        }
        let names = builder_args(dockerfile, &req.build_args, reference);
        if names.is_empty() {
            return Ok(Err(crates::missing_message(&missing)));
        }
        watch.step(&format!(
            "fetching {} crate{} Cargo.lock adds",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" }
        ));
        let fetch = Fetch {
            lab,
            builder: id,
            missing: &missing,
            network: req.fetch_network.as_deref(),
            timeout: Duration::from_secs(req.lab.build.timeout_secs),
        };
        let derived = match fetch::derived_builder(docker, ctx, &fetch).await? {
            Fetched::Builder(derived) => derived,
            Fetched::Refused(message) => return Ok(Err(message)),
            Fetched::Unreachable(message) => return Err(GradeError::Other(message)),
        };
        let mut args = req.build_args.clone();
        for name in names {
            args.insert(name, derived.clone());
        }
        let allowed = req.lab.build.images.iter().chain(&req.allow_images);
        let allow = AllowList::new(allowed.chain([&derived])).map_err(GradeError::Other)?;
        return match bases::settle(docker, dockerfile, &args, &allow).await {
            Ok(bases) => Ok(Ok((args, bases))),
            Err(Blocked::Refused(message)) => Ok(Err(message)),
            Err(Blocked::Unavailable(message)) => Err(GradeError::Other(message)),
        };
    }
    unchanged(bases)
}

/// The names of the build arguments that name `image`: given so, or declared
/// with it as their default (`ARG BUILDER_IMAGE=...`).
fn builder_args(dockerfile: &str, args: &BTreeMap<String, String>, image: &str) -> Vec<String> {
    let same = |value: &str| {
        let plain = |s: &str| {
            s.trim_matches('"')
                .trim_start_matches("docker.io/")
                .to_string()
        };
        plain(value) == plain(image)
    };
    let mut names: Vec<String> = args
        .iter()
        .filter(|(_, v)| same(v))
        .map(|(k, _)| k.clone())
        .collect();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("ARG")) {
            continue;
        }
        for word in words {
            if let Some((name, default)) = word.split_once('=')
                && same(default)
                && !args.contains_key(name)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::builder_args;
    use std::collections::BTreeMap;

    const DOCKERFILE: &str = "ARG BUILDER_IMAGE=ghcr.io/mlops-course/rust-builder:1.95\n\
        ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot\n\
        FROM ${BUILDER_IMAGE} AS build\n";

    #[test]
    fn the_builder_is_found_by_its_default_or_by_a_given_argument() {
        let none = BTreeMap::new();
        let image = "ghcr.io/mlops-course/rust-builder:1.95";
        assert_eq!(builder_args(DOCKERFILE, &none, image), ["BUILDER_IMAGE"]);
        let given = BTreeMap::from([(
            "BUILDER_IMAGE".to_string(),
            "mlops-local/rust-builder:1.95".to_string(),
        )]);
        let local = "docker.io/mlops-local/rust-builder:1.95";
        assert_eq!(builder_args(DOCKERFILE, &given, local), ["BUILDER_IMAGE"]);
        // Given another value, the default no longer names the builder.
        assert!(builder_args(DOCKERFILE, &given, image).is_empty());
        assert!(builder_args("FROM rust-builder:1.95\n", &none, "rust-builder:1.95").is_empty());
    }
}
