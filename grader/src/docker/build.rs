//! Building the submission's image from its Dockerfile.
//!
//! The build runs with the network off, memory and CPU limits and a deadline,
//! and its image is tagged with the hash of the context and build arguments, so
//! a regrade of the same submission finds it and does not build again.
//!
//! Docker's layer cache is on, so a regrade after a one-line change re-runs only
//! the instructions from the changed one on. The cache is keyed by content (the
//! parent layer and the instruction, with a `COPY`'s file checksums), so a
//! submission can reuse only a layer that its own inputs would have made. What
//! a build keeps: its final image, tagged, and the last layer of each earlier
//! stage of a multi-stage build, tagged `<tag>-stage<N>` so that it stays a
//! cache for the next build and goes when the cache is cleared. The layers a
//! failed build made are removed.

use super::labels;
use crate::context::BuildContext;
use bollard::Docker;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Build limits, from the lab's specification.
pub struct BuildLimits {
    pub timeout: Duration,
    pub memory_mb: u64,
    pub cpus: f64,
}

/// A built (or cached) image.
pub struct Built {
    pub tag: String,
    pub cached: bool,
}

/// Why the build failed: the submission's fault, shown to the student.
#[derive(Debug)]
pub enum BuildFailure {
    /// The Dockerfile did not build; the last lines of the log say why.
    Failed { message: String, log_tail: String },
    /// The build ran past its deadline.
    TimedOut { after: Duration, log_tail: String },
}

/// Every image the grader tags lives under this repository prefix.
pub const REPO_PREFIX: &str = "mlops-grader/";

/// The image tag for a context, its build arguments and the ids of the base
/// images it builds on (so a base image rebuilt under the same tag is a new build).
pub fn cache_tag(
    lab: &str,
    ctx: &BuildContext,
    args: &BTreeMap<String, String>,
    base_ids: &[String],
) -> String {
    let mut h = Sha256::new();
    h.update(ctx.sha256.as_bytes());
    for (k, v) in args {
        h.update(format!("\0{k}={v}").as_bytes());
    }
    for id in base_ids {
        h.update(format!("\0base={id}").as_bytes());
    }
    format!("{REPO_PREFIX}{lab}:{}", &hex::encode(h.finalize())[..20])
}

/// Builds `ctx` as `tag` unless an image with that tag exists.
/// The outer `Result` is for engine failures; the inner one is the verdict.
pub async fn build(
    docker: &Docker,
    lab: &str,
    ctx: &BuildContext,
    tag: &str,
    args: &BTreeMap<String, String>,
    limits: &BuildLimits,
    on_step: &(dyn Fn(&str) + Sync),
) -> Result<Result<Built, BuildFailure>, bollard::errors::Error> {
    if docker.inspect_image(tag).await.is_ok() {
        return Ok(Ok(Built {
            tag: tag.to_string(),
            cached: true,
        }));
    }
    let mut build_labels = labels::for_role("cache", lab);
    // The cache outlives this process: it has no owner to outlive.
    build_labels.remove(labels::OWNER);
    let buildargs: HashMap<String, String> = args.clone().into_iter().collect();
    let memory = clamp_i32(limits.memory_mb.saturating_mul(1 << 20));
    let period = 100_000;
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .networkmode("none")
        .memory(memory)
        .memswap(memory)
        .cpuperiod(period)
        .cpuquota(clamp_i32((limits.cpus * period as f64) as u64))
        .buildargs(&buildargs)
        .labels(&build_labels)
        .build();

    let result = run(
        docker,
        options,
        ctx.tar.clone(),
        tag,
        limits.timeout,
        on_step,
    )
    .await?;
    Ok(result.map(|_| Built {
        tag: tag.to_string(),
        cached: false,
    }))
}

/// Runs one build to its end or its deadline and tidies up after it: the
/// intermediate images of a multi-stage or failed build are removed, and so is
/// our image when a concurrent build of the same content took the tag first.
/// Returns the final image's id, or why the build failed. Each "Step N/M"
/// line of the log goes to `on_step` as it comes.
pub(crate) async fn run(
    docker: &Docker,
    options: bollard::query_parameters::BuildImageOptions,
    tar: Vec<u8>,
    tag: &str,
    timeout: Duration,
    on_step: &(dyn Fn(&str) + Sync),
) -> Result<Result<String, BuildFailure>, bollard::errors::Error> {
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut log = LogTail::default();
    let mut layers = Layers::default();
    let mut error: Option<String> = None;
    let mut image_id: Option<String> = None;

    let outcome = tokio::time::timeout(timeout, async {
        while let Some(item) = stream.next().await {
            let info = item?;
            if let Some(chunk) = info.stream.as_deref() {
                for line in chunk.lines() {
                    layers.read(line);
                    if line.starts_with("Step ") {
                        on_step(line);
                    }
                }
                log.push(chunk);
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                error = Some(e);
            }
        }
        Ok::<(), bollard::errors::Error>(())
    })
    .await;
    drop(stream); // closing the connection cancels a build that is still running

    let result = match outcome {
        Err(_) => Err(BuildFailure::TimedOut {
            after: timeout,
            log_tail: log.text(),
        }),
        Ok(Err(e)) => match build_error_message(&e) {
            // The engine refused the build itself (a bad Dockerfile): the submission's fault.
            Some(message) => Err(BuildFailure::Failed {
                message,
                log_tail: log.text(),
            }),
            None => return Err(e),
        },
        Ok(Ok(())) => match error {
            Some(message) => Err(BuildFailure::Failed {
                message: message.trim().to_string(),
                log_tail: log.text(),
            }),
            None => match docker.inspect_image(tag).await {
                Ok(tagged) => Ok(tagged.id.unwrap_or_default()),
                Err(e) => return Err(e),
            },
        },
    };
    let mut made = layers.made();
    if let (Ok(kept), Some(ours)) = (&result, &image_id)
        && kept != ours
    {
        made.push(ours.clone());
    }
    if result.is_ok() {
        // Each earlier stage's last layer is no parent of the final image: a tag
        // keeps it (and the layers under it) as the cache of the next build.
        for (n, id) in layers.stage_ends().into_iter().enumerate() {
            let stage_tag = format!("{tag}-stage{}", n + 1);
            let (repo, version) = stage_tag.rsplit_once(':').unwrap_or((&stage_tag, "latest"));
            let options = TagImageOptionsBuilder::default()
                .repo(repo)
                .tag(version)
                .build();
            docker.tag_image(&id, Some(options)).await?;
        }
    }
    // What this build made and nothing keeps: layers of a failed build, or of
    // our image when a concurrent build took the tag. Layers reused from the
    // cache belong to other builds and are left alone.
    remove_layers(docker, &made, result.as_ref().ok().map(String::as_str)).await;
    Ok(result)
}

/// The layers of a classic build, read from its log: the builder announces
/// each as " ---> <id>", after " ---> Using cache" when it reused one, and
/// each stage starts with a `FROM` step.
#[derive(Default)]
struct Layers {
    /// Per stage, its layers in order, each with whether this build made it.
    stages: Vec<Vec<(String, bool)>>,
    reused: bool,
}

impl Layers {
    fn read(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("Step ")
            && line.split_once(" : ").is_some_and(|(_, rest)| {
                rest.get(..5)
                    .is_some_and(|w| w.eq_ignore_ascii_case("FROM "))
            })
        {
            let base = line
                .split_once(" : ")
                .map_or("", |(_, rest)| rest[5..].trim());
            let scratch = base.split_whitespace().next() == Some("scratch");
            // `FROM scratch` announces no layer: stand in for the base it has not.
            self.stages.push(if scratch {
                vec![(String::new(), false)]
            } else {
                Vec::new()
            });
            self.reused = false;
        } else if line == "---> Using cache" {
            self.reused = true;
        } else if let Some(id) = line.strip_prefix("---> ")
            && !id.is_empty()
            && id.chars().all(|c| c.is_ascii_hexdigit())
        {
            // The layer after FROM is the base image: neither made nor a stage's end.
            if let Some(stage) = self.stages.last_mut() {
                stage.push((id.to_string(), !self.reused && !stage.is_empty()));
            }
            self.reused = false;
        }
    }

    /// The layers this build made, in order.
    fn made(&self) -> Vec<String> {
        let all = self.stages.iter().flatten();
        all.filter(|(_, made)| *made)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The last layer of each stage but the final one, when the stage has
    /// instructions of its own after its `FROM`.
    fn stage_ends(&self) -> Vec<String> {
        let earlier = &self.stages[..self.stages.len().saturating_sub(1)];
        earlier
            .iter()
            .filter(|stage| stage.len() > 1)
            .filter_map(|stage| stage.last().map(|(id, _)| id.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Layers;

    fn read(log: &str) -> Layers {
        let mut layers = Layers::default();
        log.lines().for_each(|line| layers.read(line));
        layers
    }

    const TWO_STAGES: &str = "\
Step 1/7 : ARG BUILDER_IMAGE=builder
Step 2/7 : FROM builder AS build
 ---> aaaa0001
Step 3/7 : WORKDIR /src
 ---> Using cache
 ---> aaaa0002
Step 4/7 : COPY src ./src
 ---> aaaa0003
Step 5/7 : RUN cargo build
 ---> Running in cccc0001
Removing intermediate container cccc0001
 ---> aaaa0004
Step 6/7 : from scratch
Step 7/7 : COPY --from=build /out /app
 ---> bbbb0001
Successfully built bbbb0001
";

    #[test]
    fn reused_layers_and_bases_are_not_made_by_the_build() {
        assert_eq!(
            read(TWO_STAGES).made(),
            ["aaaa0003", "aaaa0004", "bbbb0001"]
        );
    }

    #[test]
    fn an_earlier_stage_ends_at_its_last_layer() {
        assert_eq!(read(TWO_STAGES).stage_ends(), ["aaaa0004"]);
    }

    #[test]
    fn a_stage_of_only_its_base_has_no_end_to_keep() {
        let log = "Step 1/3 : FROM base AS a\n ---> aaaa0001\nStep 2/3 : FROM other\n ---> bbbb0001\nStep 3/3 : USER 1\n ---> bbbb0002\n";
        assert!(read(log).stage_ends().is_empty());
        assert_eq!(read(log).made(), ["bbbb0002"]);
    }
}

/// An engine answer that describes a bad Dockerfile rather than a broken engine.
fn build_error_message(e: &bollard::errors::Error) -> Option<String> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } if (400..500).contains(status_code) || message.contains("dockerfile") => {
            Some(message.trim().to_string())
        }
        bollard::errors::Error::DockerStreamError { error } => Some(error.trim().to_string()),
        _ => None,
    }
}

async fn remove_layers(docker: &Docker, layers: &[String], keep_id: Option<&str>) {
    let options = RemoveImageOptionsBuilder::default().noprune(true).build();
    for id in layers.iter().rev() {
        let short = id.trim_start_matches("sha256:");
        if keep_id.is_some_and(|k| k.trim_start_matches("sha256:").starts_with(short)) {
            continue;
        }
        // A tagged image is never a leftover: it is a base image (the "--->" after
        // FROM names it) or someone's kept image.
        match docker.inspect_image(id).await {
            Ok(image) if image.repo_tags.as_ref().is_none_or(|t| t.is_empty()) => {}
            _ => continue,
        }
        // A layer still used by the kept image (or by another image) is refused by
        // the engine: that is the wanted outcome, so the error is ignored.
        let _ = docker.remove_image(id, Some(options.clone()), None).await;
    }
}

fn clamp_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The last lines of the build output, for the student to read.
#[derive(Default)]
struct LogTail {
    lines: std::collections::VecDeque<String>,
}

impl LogTail {
    const KEEP: usize = 30;

    fn push(&mut self, chunk: &str) {
        for line in chunk.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if self.lines.len() == Self::KEEP {
                self.lines.pop_front();
            }
            self.lines.push_back(line.chars().take(400).collect());
        }
    }

    fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}
