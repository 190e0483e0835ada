//! Thin helpers over the `docker` CLI.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

use crate::cmd;

/// Every image xtask makes carries this label.
pub const LOCAL_LABEL: &str = "dev.mlops-course.local=true";
/// What the grader puts on everything it creates.
pub const GRADER_LABEL: &str = "dev.mlops-course.grader=true";
/// The keys of the grader's own label and of its run label (see the grader's
/// `docker::labels`), read from objects by [`label_values`].
const GRADER_LABEL_KEY: &str = "dev.mlops-course.grader";
pub const RUN_LABEL_KEY: &str = "dev.mlops-course.grader.run";
/// The environment variable through which the grader puts the run label on
/// everything it makes.
pub const RUN_ENV: &str = "GRADER_RUN_ID";

pub fn docker() -> Command {
    Command::new("docker")
}

/// Fails with one clear line if the CLI or the daemon is not there.
pub fn check_daemon() -> Result<String> {
    if cmd::find_on_path("docker").is_none() {
        return Err(cmd::missing_tool("docker"));
    }
    cmd::output(docker().args(["version", "--format", "{{.Server.Version}}"]))
        .context("the Docker daemon is not reachable")
}

pub struct Image {
    pub id: String,
    pub size: u64,
    pub labels: serde_json::Map<String, serde_json::Value>,
}

impl Image {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).and_then(serde_json::Value::as_str)
    }
}

/// The image `reference` names, or None if there is none.
pub fn inspect_image(reference: &str) -> Result<Option<Image>> {
    let out = cmd::output_raw(docker().args(["image", "inspect", reference]))?;
    if !out.status.success() {
        let err = cmd::telling_line(&out.stderr);
        if err.to_ascii_lowercase().contains("no such image") {
            return Ok(None);
        }
        bail!("`docker image inspect {reference}` failed: {err}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing `docker image inspect` output")?;
    let first = json
        .get(0)
        .ok_or_else(|| anyhow!("`docker image inspect {reference}` returned nothing"))?;
    Ok(Some(Image {
        id: first["Id"].as_str().unwrap_or_default().to_owned(),
        size: first["Size"].as_u64().unwrap_or_default(),
        labels: first["Config"]["Labels"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }))
}

/// `docker import` of the tar stream that `write_tar` produces, tagged `tag`,
/// with Dockerfile instructions `changes`. Returns the new image id.
pub fn import(
    tag: &str,
    changes: &[String],
    write_tar: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<String> {
    let mut command = docker();
    command.arg("import");
    for change in changes {
        command.arg("--change").arg(change);
    }
    command.args(["-", tag]);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            cmd::missing_tool("docker")
        } else {
            anyhow!("could not start `docker import`: {e}")
        }
    })?;
    let written = match child.stdin.take() {
        Some(stdin) => {
            let mut stdin = BufWriter::with_capacity(1 << 20, stdin);
            write_tar(&mut stdin).and_then(|()| stdin.flush().context("writing to docker import"))
        }
        None => Err(anyhow!("docker import has no stdin")),
    };
    if written.is_err() {
        // A cut-off archive must not become an image: stop the import before
        // it sees the end of its input.
        let _ = child.kill();
    }
    // Stdin is closed here, so docker import sees the end of the archive.
    let out = child
        .wait_with_output()
        .context("waiting for docker import")?;
    if let Err(err) = written {
        if out.status.success() {
            let _ = remove_image(tag);
        }
        return Err(err.context("streaming the root filesystem to docker import"));
    }
    if !out.status.success() {
        bail!(
            "`docker import - {tag}` failed ({}): {}",
            out.status,
            cmd::telling_line(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `docker run --rm --network none <args>` with inherited output.
pub fn run_offline(args: &[&str]) -> Result<()> {
    cmd::run(
        docker()
            .args(["run", "--rm", "--network", "none"])
            .args(args),
    )
}

/// Same, capturing stdout.
pub fn run_offline_output(args: &[&str]) -> Result<String> {
    cmd::output(
        docker()
            .args(["run", "--rm", "--network", "none"])
            .args(args),
    )
}

/// Removes an image by id or tag.
pub fn remove_image(reference: &str) -> Result<()> {
    cmd::output(docker().args(["image", "rm", reference])).map(drop)
}

#[derive(Clone, Copy)]
pub enum Kind {
    Container,
    Network,
    Image,
    Volume,
}

impl Kind {
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Container => "containers",
            Kind::Network => "networks",
            Kind::Image => "images",
            Kind::Volume => "volumes",
        }
    }
}

/// Ids of every object of `kind` that carries `label` (`key=value`).
pub fn ids_with_label(kind: Kind, label: &str) -> Result<Vec<String>> {
    let filter = format!("label={label}");
    let mut command = docker();
    match kind {
        Kind::Container => command.args(["ps", "-a", "-q", "--no-trunc", "--filter", &filter]),
        Kind::Network => command.args(["network", "ls", "-q", "--no-trunc", "--filter", &filter]),
        Kind::Image => command.args(["images", "-a", "-q", "--no-trunc", "--filter", &filter]),
        Kind::Volume => command.args(["volume", "ls", "-q", "--filter", &filter]),
    };
    let out = cmd::output(&mut command)?;
    let mut ids: Vec<String> = out.lines().map(str::to_owned).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The value of label `key` on each of `ids` (objects of `kind`), by id;
/// objects gone in the meantime are left out.
pub fn label_values(kind: Kind, ids: &[String], key: &str) -> Result<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut command = docker();
    match kind {
        Kind::Container => command.args(["container", "inspect"]),
        Kind::Network => command.args(["network", "inspect"]),
        Kind::Image => command.args(["image", "inspect"]),
        Kind::Volume => command.args(["volume", "inspect"]),
    };
    // Some may be gone already (exit 1), the rest are still printed.
    let out = cmd::output_raw(command.args(ids))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut values = HashMap::new();
    for object in json.as_array().into_iter().flatten() {
        let labels = match kind {
            Kind::Network | Kind::Volume => &object["Labels"],
            Kind::Container | Kind::Image => &object["Config"]["Labels"],
        };
        // A volume's id is its name.
        let id = object["Id"].as_str().or(object["Name"].as_str());
        if let (Some(id), Some(value)) = (id, labels[key].as_str()) {
            values.insert(id.to_owned(), value.to_owned());
        }
    }
    Ok(values)
}

/// Every `repository:tag` on this engine.
pub fn image_tags() -> Result<Vec<String>> {
    let out = cmd::output(docker().args(["images", "--format", "{{.Repository}}:{{.Tag}}"]))?;
    Ok(out
        .lines()
        .filter(|l| !l.contains("<none>"))
        .map(str::to_owned)
        .collect())
}

/// Untagged images without children ("dangling") that carry `label`.
pub fn dangling_with_label(label: &str) -> Result<Vec<String>> {
    let filter = format!("label={label}");
    dangling_where(&["--filter", &filter])
}

/// Every dangling image's id, labelled or not.
pub fn dangling() -> Result<Vec<String>> {
    dangling_where(&[])
}

fn dangling_where(filters: &[&str]) -> Result<Vec<String>> {
    let out = cmd::output(
        docker()
            .args(["images", "-q", "--no-trunc", "--filter", "dangling=true"])
            .args(filters),
    )?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Removes one object; Err carries docker's message.
pub fn remove(kind: Kind, id: &str) -> Result<()> {
    let mut command = docker();
    match kind {
        Kind::Container => command.args(["rm", "-f", "-v", id]),
        Kind::Network => command.args(["network", "rm", id]),
        Kind::Image => command.args(["image", "rm", "-f", id]),
        Kind::Volume => command.args(["volume", "rm", "-f", id]),
    };
    cmd::output(&mut command).map(drop)
}

/// Bytes as `123.4 MB` (decimal, as docker prints sizes).
pub fn fmt_size(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 1000.0 {
        format!("{:.2} GB", mb / 1000.0)
    } else {
        format!("{mb:.1} MB")
    }
}

/// Every container, volume and network the engine has, by id: taken before
/// and after the tests, the difference is what they left behind, labelled
/// or not (a build step's container, an anonymous volume).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Objects {
    pub containers: std::collections::BTreeSet<String>,
    pub volumes: std::collections::BTreeSet<String>,
    pub networks: std::collections::BTreeSet<String>,
}

impl Objects {
    pub fn now() -> Result<Objects> {
        let list = |args: &[&str]| -> Result<std::collections::BTreeSet<String>> {
            Ok(cmd::output(docker().args(args))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect())
        };
        Ok(Objects {
            containers: list(&["container", "ls", "-aq", "--no-trunc"])?,
            volumes: list(&["volume", "ls", "-q"])?,
            networks: list(&["network", "ls", "-q", "--no-trunc"])?,
        })
    }

    /// What `self` has that `before` did not.
    pub fn since(&self, before: &Objects) -> Objects {
        Objects {
            containers: self
                .containers
                .difference(&before.containers)
                .cloned()
                .collect(),
            volumes: self.volumes.difference(&before.volumes).cloned().collect(),
            networks: self
                .networks
                .difference(&before.networks)
                .cloned()
                .collect(),
        }
    }

    pub fn count(&self) -> usize {
        self.containers.len() + self.volumes.len() + self.networks.len()
    }

    /// Leaves out the grader's objects made by another run (a grade beside the
    /// tests, another suite): those carry the grader's label and a run label
    /// other than `run`. Everything else new still counts, labelled or not.
    pub fn made_by_run(self, run: &str) -> Result<Objects> {
        let keep = |kind: Kind, ids: std::collections::BTreeSet<String>| -> Result<_> {
            let ids: Vec<String> = ids.into_iter().collect();
            let grader = label_values(kind, &ids, GRADER_LABEL_KEY)?;
            let runs = label_values(kind, &ids, RUN_LABEL_KEY)?;
            Ok(ids
                .into_iter()
                .filter(|id| {
                    !grader.contains_key(id) || runs.get(id).map(String::as_str) == Some(run)
                })
                .collect())
        };
        Ok(Objects {
            containers: keep(Kind::Container, self.containers)?,
            volumes: keep(Kind::Volume, self.volumes)?,
            networks: keep(Kind::Network, self.networks)?,
        })
    }
}
