//! The images a build stands on, settled before the build starts.
//!
//! The engine's classic builder pulls any image a Dockerfile names that the
//! machine lacks, from wherever its name points, and fetches `ADD <url>`
//! itself, from the host's network, whatever the build's network mode. So the
//! grader reads the Dockerfile first ([`super::dockerfile`]): a remote `ADD`
//! or an image outside the allow-list is refused before the engine sees it.
//! Every image that is allowed is made present here, pulled by the grader by
//! its name if it is missing; the build then finds everything it names on
//! the machine, and the engine has nothing left to fetch.

use super::dockerfile::{self, AllowList, ImageUse};
use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// What stands in the way of a build.
#[derive(Debug)]
pub enum Blocked {
    /// The submission's doing (a refused instruction, an image that does not
    /// exist): a build-failed verdict with this one line.
    Refused(String),
    /// The machine's: an allowed image is missing and could not be pulled.
    /// Not the student's fault, so a grading error (exit 3).
    Unavailable(String),
}

/// Reads `dockerfile` with the build arguments, checks it against `allow`, and
/// makes every image it uses present. Returns `reference@id` for each, for the
/// cache key (a base image rebuilt under the same tag is a new build).
pub async fn settle(
    docker: &Docker,
    dockerfile: &str,
    args: &BTreeMap<String, String>,
    allow: &AllowList,
) -> Result<Vec<String>, Blocked> {
    let uses = dockerfile::check(dockerfile, args, allow)
        .map_err(|refusal| Blocked::Refused(refusal.to_string()))?;
    let mut ids = Vec::new();
    for image in &uses {
        let id = present(docker, image).await?;
        ids.push(format!("{}@{id}", image.reference));
    }
    Ok(ids)
}

/// The image's id once it is on the machine, pulling it by name if need be.
async fn present(docker: &Docker, image: &ImageUse) -> Result<String, Blocked> {
    let found = match docker.inspect_image(&image.reference).await {
        Ok(found) => found,
        Err(_) => {
            pull(docker, image).await?;
            docker.inspect_image(&image.reference).await.map_err(|e| {
                Blocked::Unavailable(format!(
                    "{} was pulled but cannot be read: {e}",
                    image.reference
                ))
            })?
        }
    };
    if let Some(wanted) = &image.platform {
        let have = format!(
            "{}/{}",
            found.os.as_deref().unwrap_or("?"),
            found.architecture.as_deref().unwrap_or("?")
        );
        // The classic builder pulls again when the local image is of another
        // platform; it must never need to.
        if !wanted.eq_ignore_ascii_case(&have) && !wanted.starts_with(&format!("{have}/")) {
            return Err(Blocked::Refused(format!(
                "Dockerfile line {}: {} --platform={wanted}, but {} here is {have}; leave --platform out",
                image.line, image.how, image.reference
            )));
        }
    }
    Ok(found.id.unwrap_or_default())
}

/// Pulls an allowed image by its name: the grader's doing, before the build,
/// never the engine's during it.
async fn pull(docker: &Docker, image: &ImageUse) -> Result<(), Blocked> {
    let options = CreateImageOptionsBuilder::default()
        .from_image(&image.reference)
        .build();
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        let problem = match item {
            Ok(info) => match info.error_detail.and_then(|d| d.message) {
                Some(message) => message,
                None => continue,
            },
            Err(e) => e.to_string(),
        };
        return Err(classify(image, &problem));
    }
    Ok(())
}

/// A registry that answered "no such image" blames the Dockerfile; anything
/// else (no network, no registry, a refused login) blames the machine.
fn classify(image: &ImageUse, problem: &str) -> Blocked {
    let p = problem.to_lowercase();
    let absent = [
        "manifest unknown",
        "not found",
        "does not exist",
        "name unknown",
    ]
    .iter()
    .any(|s| p.contains(s))
        && !p.contains("no such host");
    let problem = crate::checks::clip(problem, 300);
    if absent {
        Blocked::Refused(format!(
            "Dockerfile line {}: the image {} does not exist ({problem})",
            image.line, image.reference
        ))
    } else {
        Blocked::Unavailable(format!(
            "the image {} (Dockerfile line {}) is not on this machine and could not be pulled: {problem}; pull or build it here first (for the course's images: cargo xtask base-images)",
            image.reference, image.line
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn use_of(reference: &str) -> ImageUse {
        ImageUse {
            reference: reference.into(),
            line: 3,
            how: "FROM",
            platform: None,
        }
    }

    #[test]
    fn a_missing_image_blames_the_dockerfile_and_no_registry_blames_the_machine() {
        let image = use_of("docker.io/library/python:9.99");
        match classify(
            &image,
            "manifest for python:9.99 not found: manifest unknown",
        ) {
            Blocked::Refused(m) => assert!(m.starts_with("Dockerfile line 3: the image"), "{m}"),
            other => panic!("{other:?}"),
        }
        let offline = "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host";
        match classify(&image, offline) {
            Blocked::Unavailable(m) => assert!(m.contains("could not be pulled"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
