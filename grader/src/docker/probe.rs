//! The probe: how the grader reaches a submission that has no network.
//!
//! The submission runs with `network_mode: none`, so it has a loopback interface
//! and nothing else: it cannot reach the outside, the host or another submission.
//! The probe is a second container, of the grader's own tiny `grader-probe`
//! program, that joins the submission's network namespace
//! (`network_mode: container:<id>`) and is as locked down as the submission.
//!
//! The grader never trusts the probe's word for a result: the probe only
//! carries bytes. Its main process, `grader-probe mux PORT`, carries a yamux
//! connection on its stdin and stdout, to which the grader attaches; each
//! connection that the grader's HTTP client opens to the relay's socket
//! becomes one yamux stream, which the probe connects to the service (see
//! [`super::relay`]). So the checks use an ordinary reqwest client, and the
//! judge stays outside.
//!
//! The probe image is made from the probe executable and, if it is dynamically
//! linked, the shared libraries this process has loaded (a superset of what a
//! standard-library-only program needs), run through the dynamic loader.

use super::labels;
use super::sandbox;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateContainerOptionsBuilder};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A probe image ready to run.
#[derive(Clone)]
pub struct ProbeImage {
    pub tag: String,
    /// How to start the probe program inside the image (loader and program).
    pub argv: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "the grader's probe program is missing at {0} (reinstall the grader, or set GRADER_PROBE)"
    )]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("building the probe image failed: {0}")]
    Build(String),
    #[error("{0}")]
    Fakes(String),
    #[error(transparent)]
    Docker(#[from] bollard::errors::Error),
}

/// Where the probe program is: `GRADER_PROBE`, else beside the running executable.
pub fn locate() -> PathBuf {
    if let Some(p) = std::env::var_os("GRADER_PROBE") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("grader-probe")))
        .unwrap_or_else(|| PathBuf::from("grader-probe"))
}

/// Builds (once per probe binary) the probe image.
pub async fn image(docker: &Docker, exe: &Path) -> Result<ProbeImage, ProbeError> {
    let program = std::fs::read(exe).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ProbeError::Missing(exe.to_path_buf())
        } else {
            ProbeError::Read {
                path: exe.display().to_string(),
                source,
            }
        }
    })?;
    let libs = if is_dynamic(&program) {
        loaded_libraries()
    } else {
        Vec::new()
    };
    let loader = libs
        .iter()
        .find(|p| file_name(p).starts_with("ld-linux") || file_name(p).starts_with("ld-musl"))
        .cloned();

    let mut files: Vec<(String, Vec<u8>, u32)> = vec![("grader-probe".into(), program, 0o755)];
    for lib in &libs {
        let data = std::fs::read(lib).map_err(|source| ProbeError::Read {
            path: lib.display().to_string(),
            source,
        })?;
        files.push((format!("lib/{}", file_name(lib)), data, 0o755));
    }
    let argv: Vec<String> = match &loader {
        Some(l) => vec![
            format!("/lib/{}", file_name(l)),
            "--library-path".into(),
            "/lib".into(),
            "/grader-probe".into(),
        ],
        None => vec!["/grader-probe".into()],
    };
    let dockerfile = "FROM scratch\nCOPY . /\n";
    files.push(("Dockerfile".into(), dockerfile.as_bytes().to_vec(), 0o644));

    let mut h = Sha256::new();
    for (name, data, _) in &files {
        h.update(name.as_bytes());
        h.update(Sha256::digest(data));
    }
    let tag = format!(
        "{}probe:{}",
        super::build::REPO_PREFIX,
        &hex::encode(h.finalize())[..20]
    );
    let probe = ProbeImage { tag, argv };
    if docker.inspect_image(&probe.tag).await.is_ok() {
        return Ok(probe);
    }

    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        builder
            .append_data(&mut header, name, data.as_slice())
            .map_err(|source| ProbeError::Read {
                path: name.clone(),
                source,
            })?;
    }
    let tar = builder.into_inner().map_err(|source| ProbeError::Read {
        path: "<tar>".into(),
        source,
    })?;
    let mut image_labels = labels::for_role("probe-image", "-");
    image_labels.remove(labels::OWNER);
    let options = BuildImageOptionsBuilder::default()
        .t(&probe.tag)
        .rm(true)
        .forcerm(true)
        .nocache(true)
        .networkmode("none")
        .labels(&image_labels)
        .build();
    let built = super::build::run(
        docker,
        options,
        tar,
        &probe.tag,
        Duration::from_secs(120),
        &|_| {},
    )
    .await?;
    if let Err(failure) = built {
        return Err(ProbeError::Build(format!("{failure:?}")));
    }
    Ok(probe)
}

/// The probe container's configuration: a network namespace of its own with
/// loopback only, which the submission then joins; its main process the mux
/// for the service's `port` and the fakes' ports, fed on stdin (see
/// [`super::relay::Relay`]).
pub fn container(probe: &ProbeImage, lab: &str, port: u16, fakes: &[u16]) -> ContainerCreateBody {
    let mut cmd = probe.argv.clone();
    cmd.extend(["mux".to_string(), port.to_string()]);
    cmd.extend(fakes.iter().map(u16::to_string));
    ContainerCreateBody {
        image: Some(probe.tag.clone()),
        entrypoint: Some(cmd),
        user: Some(sandbox::USER.to_string()),
        labels: Some(labels::for_role("probe", lab)),
        open_stdin: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some("none".to_string()),
            ..sandbox::locked_down(64, 0.5, 32)
        }),
        ..Default::default()
    }
}

/// Creates the probe container without starting it; returns its id.
pub async fn create(
    docker: &Docker,
    probe: &ProbeImage,
    lab: &str,
    port: u16,
    fakes: &[u16],
) -> Result<String, bollard::errors::Error> {
    let name = labels::unique(&format!("grader-probe-{lab}"));
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker
        .create_container(Some(opts), container(probe, lab, port, fakes))
        .await?;
    Ok(created.id)
}

/// Starts a created probe container.
pub async fn start(docker: &Docker, probe_id: &str) -> Result<(), bollard::errors::Error> {
    docker.start_container(probe_id, None).await
}

/// Waits (a few seconds at most) until the probe listens on every fake's
/// port, so that the submission, started next, finds them answering.
pub async fn wait_listening(
    docker: &Docker,
    probe_id: &str,
    probe: &ProbeImage,
    ports: &[u16],
) -> Result<(), ProbeError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (out, _) = run(docker, probe_id, probe, &["listeners"], 8192).await?;
        let out = String::from_utf8_lossy(&out);
        let open: Vec<u16> = out
            .lines()
            .filter_map(|l| l.split_once(' ')?.1.trim().parse().ok())
            .collect();
        if ports.iter().all(|p| open.contains(p)) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(ProbeError::Fakes(format!(
                "the probe did not listen on the fakes' ports {ports:?} within 5 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a probe command and returns its stdout (at most `cap` bytes) and exit code.
pub async fn run(
    docker: &Docker,
    probe_id: &str,
    probe: &ProbeImage,
    args: &[&str],
    cap: usize,
) -> Result<(Vec<u8>, Option<i64>), bollard::errors::Error> {
    let mut cmd = probe.argv.clone();
    cmd.extend(args.iter().map(|a| a.to_string()));
    let exec = docker
        .create_exec(
            probe_id,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut out = Vec::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await?
    {
        while let Some(frame) = output.next().await {
            if let bollard::container::LogOutput::StdOut { message } = frame? {
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(&message[..message.len().min(room)]);
            }
        }
    }
    let code = docker.inspect_exec(&exec.id).await?.exit_code;
    Ok((out, code))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether an executable asks for a dynamic loader (has a PT_INTERP header).
fn is_dynamic(data: &[u8]) -> bool {
    use object::read::elf::{FileHeader, ProgramHeader};
    let Ok(header) = object::elf::FileHeader64::<object::Endianness>::parse(data) else {
        return false;
    };
    let Ok(endian) = header.endian() else {
        return false;
    };
    header
        .program_headers(endian, data)
        .map(|phs| {
            phs.iter()
                .any(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
        })
        .unwrap_or(false)
}

/// The shared objects mapped into this process, from /proc/self/maps.
fn loaded_libraries() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut libs: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && p.contains(".so"))
        .map(PathBuf::from)
        .collect();
    libs.sort();
    libs.dedup();
    libs
}
