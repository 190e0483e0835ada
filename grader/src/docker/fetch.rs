//! Fetching the crates a submission adds to the course's builder image.
//!
//! The build runs with the network off, so a crate the builder image does not
//! hold must be there before it starts. The grader runs `cargo fetch --locked`
//! on the submission's manifests in a container of the builder image that can
//! reach the registry, and commits the result as a derived builder image, which
//! the build then uses in the builder's place. `cargo fetch` runs none of the
//! submission's code (no build script, no macro): it reads the manifests and
//! the lock file and downloads what they pin, each crate checked against the
//! lock's checksum. What the container reaches is the registry cargo is
//! configured with: the submission's own `.cargo/` settings are not copied in.
//!
//! The derived image holds registry crates only (the submission's files are on
//! a volume, which a commit leaves out), so it is shared: its tag is the hash of
//! the builder's id and the crates fetched, and a regrade or a classmate who
//! adds the same crates finds it.

use super::labels;
use super::sandbox;
use crate::context::BuildContext;
use crate::crates::{BUILDER_CRATES, Locked};
use bollard::Docker;
use bollard::models::{
    ContainerConfig, ContainerCreateBody, HostConfig, Mount, MountType, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, LogsOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::Component;
use std::time::Duration;

/// Where the submission's files are, in the fetch container.
const WORKDIR: &str = "/tmp/grader-fetch";

/// How a fetch ended.
#[derive(Debug)]
pub enum Fetched {
    /// The derived builder's tag.
    Builder(String),
    /// Cargo could not fetch what the lock pins (a version that does not
    /// exist, a checksum that does not match): the submission's fault, in one line.
    Refused(String),
    /// The registry could not be reached: the grading's failure, never the
    /// student's, so the grade stops instead of giving a verdict.
    Unreachable(String),
}

/// What a fetch needs besides the submission.
pub struct Fetch<'a> {
    pub lab: &'a str,
    /// The builder image's id.
    pub builder: &'a str,
    /// The crates the builder does not hold, with their checksums.
    pub missing: &'a [&'a Locked],
    /// The network the fetch container joins; a network of its own, with a
    /// way out, when `None`.
    pub network: Option<&'a str>,
    pub timeout: Duration,
}

/// The derived builder, fetching into it unless it exists.
pub async fn derived_builder(
    docker: &Docker,
    ctx: &BuildContext,
    fetch: &Fetch<'_>,
) -> Result<Fetched, bollard::errors::Error> {
    let tag = derived_tag(fetch.builder, fetch.missing);
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(Fetched::Builder(tag));
    }
    let own_network = match fetch.network {
        Some(_) => None,
        None => {
            let name = labels::unique(&format!("grader-{}-fetch", fetch.lab));
            docker
                .create_network(NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("bridge".into()),
                    labels: Some(labels::for_role("fetch", fetch.lab)),
                    ..Default::default()
                })
                .await?;
            Some(name)
        }
    };
    let network = fetch.network.or(own_network.as_deref()).unwrap_or("none");
    let mut container = None;
    let result = run(docker, ctx, fetch, network, &tag, &mut container).await;
    if let Some(id) = &container {
        super::sweep::remove_container(docker, id).await?;
    }
    if let Some(name) = &own_network {
        docker.remove_network(name).await?;
    }
    result
}

async fn run(
    docker: &Docker,
    ctx: &BuildContext,
    fetch: &Fetch<'_>,
    network: &str,
    tag: &str,
    container: &mut Option<String>,
) -> Result<Fetched, bollard::errors::Error> {
    let builder = docker.inspect_image(fetch.builder).await?;
    let script = format!(
        "cargo fetch --locked --config net.offline=false --manifest-path {WORKDIR}/Cargo.toml \
         && find \"${{CARGO_HOME:-/usr/local/cargo}}/registry/cache\" -name '*.crate' -exec basename {{}} \\; \
         | sort > {BUILDER_CRATES}"
    );
    let body = ContainerCreateBody {
        image: Some(fetch.builder.to_string()),
        // Root, to write the image's CARGO_HOME; with no capability at all.
        user: Some("0:0".into()),
        entrypoint: Some(vec!["bash".into(), "-c".into(), script]),
        cmd: Some(vec![]),
        working_dir: Some("/".into()),
        labels: Some(labels::for_role("fetch", fetch.lab)),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_string()),
            readonly_rootfs: Some(false),
            mounts: Some(vec![Mount {
                target: Some(WORKDIR.into()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            ..sandbox::locked_down(1024, 1.0, 256)
        }),
        ..Default::default()
    };
    let name = labels::unique(&format!("grader-{}-fetch", fetch.lab));
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker.create_container(Some(opts), body).await?.id;
    *container = Some(id.clone());

    let files =
        without_cargo_settings(&ctx.tar).map_err(|err| bollard::errors::Error::IOError { err })?;
    let upload = UploadToContainerOptionsBuilder::default()
        .path(WORKDIR)
        .build();
    docker
        .upload_to_container(&id, Some(upload), bollard::body_full(files.into()))
        .await?;
    docker.start_container(&id, None).await?;
    let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
    if tokio::time::timeout(fetch.timeout, wait.next())
        .await
        .is_err()
    {
        return Ok(Fetched::Refused(format!(
            "fetching the crates Cargo.lock adds did not finish within {} s",
            fetch.timeout.as_secs()
        )));
    }
    drop(wait);
    let state = docker
        .inspect_container(&id, None)
        .await?
        .state
        .unwrap_or_default();
    if state.exit_code != Some(0) {
        let output = output(docker, &id).await;
        let why = crate::checks::clip(&error_line(&output), 300);
        return Ok(if unreachable(&output) {
            Fetched::Unreachable(format!(
                "the crate registry could not be reached to fetch the crates Cargo.lock adds ({why}); check the network the fetch uses (--fetch-network)"
            ))
        } else {
            Fetched::Refused(format!("fetching the crates Cargo.lock adds failed: {why}"))
        });
    }
    let labels = {
        let mut l = labels::for_role("builder", fetch.lab);
        // Shared between grades: no process owns it.
        l.remove(labels::OWNER);
        l
    };
    let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let commit = CommitContainerOptionsBuilder::default()
        .container(&id)
        .repo(repo)
        .tag(version)
        .build();
    let config = ContainerConfig {
        // The builder's own command, not the fetch's.
        cmd: builder.config.as_ref().and_then(|c| c.cmd.clone()),
        entrypoint: builder
            .config
            .as_ref()
            .and_then(|c| c.entrypoint.clone())
            .or(Some(vec![])),
        user: builder.config.as_ref().and_then(|c| c.user.clone()),
        working_dir: builder.config.as_ref().and_then(|c| c.working_dir.clone()),
        labels: Some(labels),
        ..Default::default()
    };
    docker.commit_container(commit, config).await?;
    Ok(Fetched::Builder(tag.to_string()))
}

/// `mlops-grader/builder:<hash>` of the builder and the crates fetched into it.
fn derived_tag(builder: &str, missing: &[&Locked]) -> String {
    let mut h = Sha256::new();
    h.update(builder.as_bytes());
    for c in missing {
        let checksum = c.checksum.as_deref().unwrap_or("");
        h.update(format!("\0{}\0{}\0{checksum}", c.name, c.version).as_bytes());
    }
    let hash = hex::encode(h.finalize());
    format!("{}builder:{}", super::build::REPO_PREFIX, &hash[..20])
}

/// The context's files but any `.cargo/` folder: its settings could send cargo
/// to another registry or through a proxy.
fn without_cargo_settings(tar: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    let mut out = tar::Builder::new(Vec::new());
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path
            .components()
            .any(|c| c == Component::Normal(".cargo".as_ref()))
        {
            continue;
        }
        let mut header = entry.header().clone();
        out.append_data(&mut header, &path, &mut entry)?;
    }
    out.into_inner()
}

/// The last lines of the fetch's output.
async fn output(docker: &Docker, id: &str) -> String {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("40")
        .build();
    let mut logs = docker.logs(id, Some(opts));
    let mut text = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    text
}

/// Cargo's last `error:` line, or the last line.
fn error_line(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("error"))
        .or(lines.last())
        .map_or_else(|| "cargo said nothing".to_string(), |l| l.to_string())
}

/// Whether cargo failed for want of a network (its "Caused by" lines say
/// so, in curl's words), rather than because of what the lock pins.
fn unreachable(output: &str) -> bool {
    const SIGNS: [&str; 7] = [
        "could not resolve host",
        "couldn't resolve host",
        "failed to connect",
        "connection refused",
        "timed out",
        "network is unreachable",
        "spurious network error",
    ];
    let output = output.to_ascii_lowercase();
    SIGNS.iter().any(|s| output.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(name: &str, checksum: &str) -> Locked {
        Locked {
            name: name.into(),
            version: "1.0.0".into(),
            checksum: Some(checksum.into()),
        }
    }

    #[test]
    fn the_derived_tag_follows_the_builder_and_the_crates() {
        let (a, b) = (locked("a", "11"), locked("a", "22"));
        let one = derived_tag("sha256:1", &[&a]);
        assert!(one.starts_with("mlops-grader/builder:"), "{one}");
        assert_eq!(one, derived_tag("sha256:1", &[&a]));
        assert_ne!(one, derived_tag("sha256:2", &[&a]));
        assert_ne!(one, derived_tag("sha256:1", &[&b]));
    }

    #[test]
    fn a_network_failure_is_told_from_a_bad_lock() {
        let offline = "error: failed to get `fetchme` as a dependency of package `x`\n\nCaused by:\n  download of fe/tc/fetchme failed\n\nCaused by:\n  [7] Couldn't connect to server (Failed to connect to registry port 9: Connection refused)\n";
        assert!(unreachable(offline));
        assert_eq!(
            error_line(offline),
            "error: failed to get `fetchme` as a dependency of package `x`"
        );
        let bad = "error: failed to select a version for the requirement `fetchme = \"=0.2.0\"`\ncandidate versions found which didn't match: 0.1.0\n";
        assert!(!unreachable(bad));
    }

    #[test]
    fn cargo_settings_are_left_out_of_the_fetch() {
        let mut builder = tar::Builder::new(Vec::new());
        for path in [
            "Cargo.toml",
            ".cargo/config.toml",
            "src/.cargo/config",
            "src/main.rs",
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, &b"x"[..])
                .expect("append");
        }
        let tar = without_cargo_settings(&builder.into_inner().expect("tar")).expect("filter");
        let mut archive = tar::Archive::new(tar.as_slice());
        let kept: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(kept, ["Cargo.toml", "src/main.rs"]);
    }
}
