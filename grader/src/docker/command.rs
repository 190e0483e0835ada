//! One run of a command-line check: the submission image's program, or a
//! sequence of steps in judge images (a real tool: dotdrop, ssh-keygen, dvc),
//! each in a fresh container with no network and the service's locks, within
//! one deadline.
//!
//! The run gets a volume of its own at the work folder (the root is read-only,
//! and a tmpfs would vanish with the container before its files are read back),
//! which its steps share: the input files are put into it before the first
//! step, and after the last one the output folder is read back with the
//! engine's archive API, under a byte cap. When asked, the submission's own
//! files are put into a second volume, mounted read-only at `/work/tree`.
//! stdout and stderr are read, each under its own cap, from the attached
//! container. Containers and volumes are removed whatever happened.

use super::{labels, sandbox, sweep};
use crate::course_key;
use crate::spec::{ContainerSpec, WORKDIR};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder, KillContainerOptions, RemoveVolumeOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The uid and gid the command runs as (see `sandbox::USER`).
const UID: u64 = 10001;

/// Where the submission's files are, for a judge: read-only.
pub const TREE: &str = "/work/tree";

/// One container of a run.
pub struct Step<'a> {
    pub image: &'a str,
    pub argv: Argv<'a>,
    /// The course identity is mounted for this step (a judge's only).
    pub course_key: bool,
}

/// What a step runs.
pub enum Argv<'a> {
    /// Arguments to the image's own ENTRYPOINT (the submission's program).
    Args(&'a [String]),
    /// A whole command line (a judge's tool), replacing the ENTRYPOINT.
    Command(&'a [String]),
}

/// What to run.
pub struct Invocation<'a> {
    /// At least one; each runs only if the one before it exited 0.
    pub steps: &'a [Step<'a>],
    pub lab: &'a str,
    pub container: &'a ContainerSpec,
    pub image_volumes: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    /// Given to the first step.
    pub stdin: Option<&'a [u8]>,
    /// The submission's files as a tar, for [`TREE`].
    pub tree: Option<&'a [u8]>,
    /// The course key's files (identity and recipient, by name), for the
    /// steps that ask for them.
    pub course_key: Option<&'a [(&'static str, String)]>,
    /// Input files, path relative to the work folder to content.
    pub files: &'a BTreeMap<String, String>,
    /// The submission's program (its name and bytes), put at
    /// `bin/<name>` in the work folder, executable.
    pub program: Option<(&'a str, &'a [u8])>,
    /// The folder, relative to the work folder, whose files are read back.
    pub output_dir: Option<&'a str>,
    pub deadline: Duration,
    /// The running service whose network namespace every step joins; none
    /// (no network) when `None`.
    pub beside: Option<&'a str>,
}

/// Bytes kept of stdout and of stderr, each.
pub const STREAM_CAP: usize = 1 << 20;
/// Bytes of output files read back, in all.
pub const FILES_CAP: u64 = 16 << 20;

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// The exit code; `None` when it was killed at the deadline.
    pub code: Option<i64>,
    pub timed_out: bool,
    pub oom_killed: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout or stderr was longer than its cap and was cut.
    pub output_cut: bool,
    /// Regular files found under the output folder, by path relative to it.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Why the output files could not all be read back (over the cap, say).
    pub files_problem: Option<String>,
    /// The step (from 1) that did not exit 0 before the last one: the run
    /// stopped there, and this is that step's end.
    pub stopped_at: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The engine would not create or start a container of this image: the
    /// submission's fault (an ENTRYPOINT that does not exist, say).
    #[error("{0}")]
    Refused(String),
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// Runs the steps once; the containers and volumes are gone on return.
pub async fn run(docker: &Docker, inv: &Invocation<'_>) -> Result<Finished, RunError> {
    let name = super::labels::unique(&format!("grader-{}-command", inv.lab));
    let tree = inv.tree.map(|_| format!("{name}-tree"));
    let key = inv
        .course_key
        .filter(|_| inv.steps.iter().any(|s| s.course_key))
        .map(|_| format!("{name}-key"));
    let mut volumes = Vec::new();
    let mut ids = Vec::new();
    let mut result = Ok(Finished::default());
    for volume in std::iter::once(&name).chain(&tree).chain(&key) {
        let made = docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.clone()),
                labels: Some(labels::for_role("command", inv.lab)),
                ..Default::default()
            })
            .await;
        match made {
            Ok(_) => volumes.push(volume.clone()),
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    if result.is_ok() {
        let mounts = Mounts {
            work: &name,
            tree: tree.as_deref(),
            key: key.as_deref(),
        };
        result = run_steps(docker, inv, &mounts, &mut ids).await;
    }
    // Every container is removed, then every volume, even when one removal
    // fails: the first error is reported once all were tried.
    let mut failed = None;
    for id in &ids {
        if let Err(e) = sweep::remove_container(docker, id).await {
            failed.get_or_insert(e);
        }
    }
    let rm = RemoveVolumeOptionsBuilder::default().force(true).build();
    for volume in &volumes {
        match docker.remove_volume(volume, Some(rm.clone())).await {
            Err(e) if !super::is_not_found(&e) => {
                failed.get_or_insert(e);
            }
            _ => {}
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    result
}

/// The volumes of a run.
struct Mounts<'a> {
    /// Shared by every step at the work folder.
    work: &'a str,
    /// The submission's files, read-only at [`TREE`].
    tree: Option<&'a str>,
    /// The course identity, read-only at [`course_key::MOUNT`] for the steps
    /// that ask for it.
    key: Option<&'a str>,
}

/// Runs each step in turn, within the one deadline, until one before the last
/// fails; `ids` collects every container made, for removal.
async fn run_steps(
    docker: &Docker,
    inv: &Invocation<'_>,
    mounts: &Mounts<'_>,
    ids: &mut Vec<String>,
) -> Result<Finished, RunError> {
    let (Some(first), Some(last)) = (inv.steps.first(), inv.steps.len().checked_sub(1)) else {
        return Err(RunError::Refused("a command with no step to run".into()));
    };
    if let (Some(tar), Some(tree)) = (inv.tree, mounts.tree) {
        load_volume(docker, inv, first.image, (TREE, tree), tar.to_vec(), ids).await?;
    }
    if let (Some(files), Some(key)) = (inv.course_key, mounts.key) {
        let tar = key_tar(files)
            .map_err(|e| RunError::Docker(bollard::errors::Error::IOError { err: e }))?;
        load_volume(docker, inv, first.image, (course_key::MOUNT, key), tar, ids).await?;
    }
    let started = std::time::Instant::now();
    let mut finished = Finished::default();
    for (i, step) in inv.steps.iter().enumerate() {
        let run = StepRun {
            step,
            first: i == 0,
            last: i == last,
            volume: mounts.work,
            tree: mounts.tree,
            key: mounts.key.filter(|_| step.course_key),
            deadline: inv.deadline.saturating_sub(started.elapsed()),
        };
        finished = run_step(docker, inv, &run, ids).await?;
        let failed = finished.timed_out || finished.oom_killed || finished.code != Some(0);
        if i < last && failed {
            finished.stopped_at = Some(i + 1);
            break;
        }
    }
    Ok(finished)
}

/// Puts files into a volume that steps mount read-only, through a container
/// that is never started (a read-only mount cannot be written to).
async fn load_volume(
    docker: &Docker,
    inv: &Invocation<'_>,
    image: &str,
    (target, volume): (&str, &str),
    tar: Vec<u8>,
    ids: &mut Vec<String>,
) -> Result<(), RunError> {
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        user: Some(sandbox::USER.to_string()),
        labels: Some(labels::for_role("command", inv.lab)),
        network_disabled: Some(true),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some("none".to_string()),
            mounts: Some(vec![sandbox::volume_mount(target, volume, false)]),
            ..sandbox::locked_down(inv.container.memory_mb, inv.container.cpus, 8)
        }),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name(&format!("{volume}-load"))
        .build();
    let id = docker
        .create_container(Some(opts), body)
        .await
        .map_err(refused)?
        .id;
    ids.push(id.clone());
    let upload = UploadToContainerOptionsBuilder::default()
        .path(target)
        .build();
    docker
        .upload_to_container(&id, Some(upload), bollard::body_full(tar.into()))
        .await?;
    Ok(())
}

/// The course key's files as a tar, readable by the judge only.
fn key_tar(files: &[(&str, String)]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = header(tar::EntryType::Regular, 0o400, text.len() as u64);
        builder.append_data(&mut h, name, text.as_bytes())?;
    }
    builder.into_inner()
}

/// One step of a run, and where it stands in the sequence.
struct StepRun<'a> {
    step: &'a Step<'a>,
    first: bool,
    last: bool,
    volume: &'a str,
    tree: Option<&'a str>,
    /// The course identity's volume, for a step that asks for it.
    key: Option<&'a str>,
    deadline: Duration,
}

async fn run_step(
    docker: &Docker,
    inv: &Invocation<'_>,
    run: &StepRun<'_>,
    ids: &mut Vec<String>,
) -> Result<Finished, RunError> {
    let (args, entrypoint) = match run.step.argv {
        Argv::Args(args) => (args, None),
        Argv::Command(command) => (&[][..], Some(command)),
    };
    let stdin = inv.stdin.filter(|_| run.first);
    let body = sandbox::command(&sandbox::CommandContainer {
        image: run.step.image,
        lab: inv.lab,
        spec: inv.container,
        image_volumes: inv.image_volumes,
        args,
        entrypoint,
        env: inv.env,
        volume: run.volume,
        tree: run.tree,
        course_key: run.key,
        workdir: WORKDIR,
        stdin: stdin.is_some(),
        beside: inv.beside,
    });
    let name = labels::unique(&format!("{}-step", run.volume));
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker
        .create_container(Some(opts), body)
        .await
        .map_err(refused)?
        .id;
    ids.push(id.clone());

    if run.first {
        let tar = work_tar(inv.files, inv.program, inv.output_dir)
            .map_err(|e| RunError::Docker(bollard::errors::Error::IOError { err: e }))?;
        let upload = UploadToContainerOptionsBuilder::default()
            .path(WORKDIR)
            .build();
        docker
            .upload_to_container(&id, Some(upload), bollard::body_full(tar.into()))
            .await?;
    }

    // Attached before the start, so the stream carries every byte; asking for
    // the logs as well made Docker replay some output a second time.
    let attach = AttachContainerOptionsBuilder::default()
        .stdin(stdin.is_some())
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let attached = docker.attach_container(&id, Some(attach)).await?;
    let mut output = attached.output;
    let mut input = attached.input;
    let reader = tokio::spawn(async move {
        let mut out = Streams::default();
        while let Some(Ok(frame)) = output.next().await {
            out.push(frame);
        }
        out
    });
    docker.start_container(&id, None).await.map_err(refused)?;
    if let Some(bytes) = stdin {
        // A program that does not read its stdin may close it early: not a fault.
        let _ = input.write_all(bytes).await;
        let _ = input.shutdown().await;
    }
    drop(input);

    let mut finished = Finished::default();
    let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
    if tokio::time::timeout(run.deadline, wait.next())
        .await
        .is_err()
    {
        finished.timed_out = true;
        docker
            .kill_container(&id, None::<KillContainerOptions>)
            .await
            .ok();
    }
    drop(wait);
    // The output stream ends when the container stops; a grandchild that kept
    // the pipe open is not waited on for long.
    let streams = match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(s)) => s,
        _ => Streams::default(),
    };
    finished.stdout = streams.stdout;
    finished.stderr = streams.stderr;
    finished.output_cut = streams.cut;

    let state = docker
        .inspect_container(&id, None)
        .await?
        .state
        .unwrap_or_default();
    finished.oom_killed = state.oom_killed.unwrap_or(false);
    if !finished.timed_out {
        finished.code = state.exit_code;
    }

    if let (true, Some(dir)) = (run.last, inv.output_dir) {
        match download(docker, &id, &format!("{WORKDIR}/{dir}")).await? {
            Ok(files) => finished.files = files,
            Err(problem) => finished.files_problem = Some(problem),
        }
    }
    Ok(finished)
}

/// stdout and stderr, each kept up to its cap.
#[derive(Default)]
struct Streams {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    cut: bool,
}

impl Streams {
    fn push(&mut self, frame: LogOutput) {
        let (buf, bytes) = match frame {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (&mut self.stdout, message)
            }
            LogOutput::StdErr { message } => (&mut self.stderr, message),
            LogOutput::StdIn { .. } => return,
        };
        let room = STREAM_CAP.saturating_sub(buf.len());
        if bytes.len() > room {
            self.cut = true;
        }
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// The tar put into the work folder: the input files and the output folder,
/// owned by the user the command runs as.
fn work_tar(
    files: &BTreeMap<String, String>,
    program: Option<(&str, &[u8])>,
    output_dir: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: std::collections::BTreeSet<String> = Default::default();
    let parents = |path: &str| -> Vec<String> {
        let parts: Vec<&str> = path.split('/').collect();
        (1..parts.len()).map(|n| parts[..n].join("/")).collect()
    };
    for path in files.keys() {
        dirs.extend(parents(path));
    }
    if let Some(dir) = output_dir {
        dirs.extend(parents(dir));
        dirs.insert(dir.to_string());
    }
    if program.is_some() {
        dirs.insert("bin".to_string());
    }
    for dir in &dirs {
        let mut header = header(tar::EntryType::Directory, 0o755, 0);
        builder.append_data(&mut header, dir, std::io::empty())?;
    }
    for (path, text) in files {
        let mut header = header(tar::EntryType::Regular, 0o644, text.len() as u64);
        builder.append_data(&mut header, path, text.as_bytes())?;
    }
    if let Some((name, bytes)) = program {
        let mut header = header(tar::EntryType::Regular, 0o755, bytes.len() as u64);
        builder.append_data(&mut header, format!("bin/{name}"), bytes)?;
    }
    builder.into_inner()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(UID);
    header.set_gid(UID);
    header.set_mtime(0);
    header
}

/// Reads back the regular files under `path` in the stopped container; the
/// inner error is the submission's (a missing folder, output over the cap).
async fn download(
    docker: &Docker,
    id: &str,
    path: &str,
) -> Result<Result<BTreeMap<String, Vec<u8>>, String>, bollard::errors::Error> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(opts));
    let mut tar = Vec::new();
    // The tar's headers and padding come on top of the files' own bytes.
    let cap = FILES_CAP + (1 << 20);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if tar.len() as u64 + bytes.len() as u64 > cap {
                    return Ok(Err(format!(
                        "the files written under {path} are over the grader's {} MiB cap",
                        FILES_CAP >> 20
                    )));
                }
                tar.extend_from_slice(&bytes);
            }
            Err(e) if super::is_not_found(&e) => {
                return Ok(Err(format!("{path} is not there any more")));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(files_of(&tar))
}

/// The regular files of a downloaded tar, by path below its top folder; links
/// and anything else are left out.
pub fn files_of(tar: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    use std::io::Read;
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(tar);
    let entries = archive
        .entries()
        .map_err(|e| format!("the output could not be read back: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the output could not be read back: {e}"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| format!("the output could not be read back: {e}"))?
            .components()
            .skip(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("the output could not be read back: {e}"))?;
        files.insert(path, data);
    }
    Ok(files)
}

/// An engine refusal (4xx) is the image's doing; anything else is the engine's.
fn refused(e: bollard::errors::Error) -> RunError {
    match &e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } if (400..500).contains(status_code) || message.contains("executable file not found") => {
            RunError::Refused(crate::checks::clip(message, 300))
        }
        _ => RunError::Docker(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_tar_holds_the_inputs_and_a_writable_output_folder() {
        let files = BTreeMap::from([("in/data/a.csv".to_string(), "x,y\n".to_string())]);
        let tar = work_tar(&files, Some(("tool", &b"\x7fELF"[..])), Some("out/run")).expect("tar");
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let h = entry.header();
            assert_eq!(h.uid().expect("uid"), UID);
            seen.push((
                entry.path().expect("path").display().to_string(),
                h.entry_type() == tar::EntryType::Directory,
            ));
        }
        for dir in ["in", "in/data", "out", "out/run", "bin"] {
            assert!(seen.contains(&(dir.to_string(), true)), "{dir} in {seen:?}");
        }
        assert!(seen.contains(&("in/data/a.csv".to_string(), false)));
        assert!(seen.contains(&("bin/tool".to_string(), false)));
        let mut archive = tar::Archive::new(tar.as_slice());
        let program = archive
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry"))
            .find(|e| e.path().expect("path").ends_with("bin/tool"))
            .expect("the program");
        assert_eq!(program.header().mode().expect("mode"), 0o755);
    }

    #[test]
    fn files_are_read_back_below_their_folder_and_links_left_out() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        builder
            .append_data(&mut h, "out", std::io::empty())
            .expect("dir");
        let mut h = header(tar::EntryType::Regular, 0o644, 2);
        builder
            .append_data(&mut h, "out/sub/m.json", &b"{}"[..])
            .expect("file");
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        builder
            .append_link(&mut h, "out/link", "/etc/passwd")
            .expect("link");
        let tar = builder.into_inner().expect("tar");
        let files = files_of(&tar).expect("files");
        assert_eq!(
            files,
            BTreeMap::from([("sub/m.json".to_string(), b"{}".to_vec())])
        );
    }

    #[test]
    fn each_stream_is_kept_up_to_its_cap() {
        let mut s = Streams::default();
        s.push(LogOutput::StdOut {
            message: vec![b'a'; STREAM_CAP - 1].into(),
        });
        s.push(LogOutput::StdOut {
            message: b"bc".to_vec().into(),
        });
        s.push(LogOutput::StdErr {
            message: b"oops".to_vec().into(),
        });
        assert_eq!(s.stdout.len(), STREAM_CAP);
        assert!(s.cut);
        assert_eq!(s.stderr, b"oops");
    }
}
