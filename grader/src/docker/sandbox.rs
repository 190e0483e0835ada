//! The sandbox a submission runs in.
//!
//! Whatever the image says, the container runs as an unprivileged user with no
//! capabilities, no new privileges, a read-only root with a small noexec /tmp,
//! memory without swap, a CPU and process cap, file-size and open-file limits, an
//! init that reaps zombies, capped logs, and no network at all. The probe owns
//! the network namespace (it starts first, with no network, see `probe.rs`) and
//! the submission joins it: the grader reaches the service only through the
//! probe, nothing is published on the host, no bridge joins the container to the
//! host or to another submission.

use super::labels;
use crate::spec::ContainerSpec;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, ResourcesUlimits,
};
use std::collections::{BTreeMap, HashMap};

/// The user every submission runs as.
pub const USER: &str = "10001:10001";

/// The container configuration for a submission's image, in the network
/// namespace of the probe container `probe_id` (loopback only, no route out).
///
/// `image_volumes` are the VOLUMEs the image declares: each gets a small tmpfs so
/// the engine makes no anonymous volume (which would be writable, unbounded and
/// left behind).
pub fn submission(
    image: &str,
    lab: &str,
    spec: &ContainerSpec,
    image_volumes: &[String],
    probe_id: &str,
) -> ContainerCreateBody {
    let mut env: Vec<String> = vec![format!("PORT={}", spec.port)];
    env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));

    // Sizes and inode counts both capped: without `nr_inodes`, millions of
    // empty files would each cost kernel memory while `size` stayed unused.
    let mut tmpfs = HashMap::from([(
        "/tmp".to_string(),
        "rw,noexec,nosuid,nodev,size=64m,nr_inodes=16k".to_string(),
    )]);
    for v in image_volumes {
        tmpfs
            .entry(v.clone())
            .or_insert_with(|| "rw,noexec,nosuid,nodev,size=16m,nr_inodes=4k".to_string());
    }

    ContainerCreateBody {
        image: Some(image.to_string()),
        user: Some(USER.to_string()),
        env: Some(env),
        labels: Some(labels::for_role("submission", lab)),
        // The image may declare another stop signal; the contract is SIGTERM.
        stop_signal: Some("SIGTERM".to_string()),
        // The image's HEALTHCHECK is ignored: the grader probes readiness itself.
        healthcheck: Some(bollard::models::HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }),
        network_disabled: Some(false),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{probe_id}")),
            tmpfs: Some(tmpfs),
            ..locked_down(spec.memory_mb, spec.cpus, spec.pids)
        }),
        ..Default::default()
    }
}

/// The container configuration for one run of a command-line check: the same
/// locks as the service (no network at all, read-only root, small noexec /tmp,
/// no capabilities, memory, CPU and process caps), the image's ENTRYPOINT with
/// `args` in place of its CMD, and the run's own volume at `workdir`, the only
/// place it may write besides /tmp.
pub struct CommandContainer<'a> {
    pub image: &'a str,
    pub lab: &'a str,
    pub spec: &'a ContainerSpec,
    pub image_volumes: &'a [String],
    pub args: &'a [String],
    /// Replaces the image's ENTRYPOINT (a judge's command line); `args` are
    /// then empty.
    pub entrypoint: Option<&'a [String]>,
    pub env: &'a BTreeMap<String, String>,
    pub volume: &'a str,
    /// A volume holding the submission's files, mounted read-only at
    /// `<workdir>/tree`.
    pub tree: Option<&'a str>,
    /// A volume holding the course identity, mounted read-only at
    /// [`crate::course_key::MOUNT`].
    pub course_key: Option<&'a str>,
    pub workdir: &'a str,
    pub stdin: bool,
    /// A running container whose network namespace this one joins (the
    /// submission's service, for a judge beside it); no network when `None`.
    pub beside: Option<&'a str>,
}

/// A named volume at `target`.
pub fn volume_mount(target: &str, volume: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(target.to_string()),
        source: Some(volume.to_string()),
        typ: Some(MountType::VOLUME),
        read_only: Some(read_only),
        ..Default::default()
    }
}

pub fn command(c: &CommandContainer<'_>) -> ContainerCreateBody {
    let mut env: Vec<String> = c.spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.extend(c.env.iter().map(|(k, v)| format!("{k}={v}")));
    let mut tmpfs = HashMap::from([(
        "/tmp".to_string(),
        "rw,noexec,nosuid,nodev,size=64m,nr_inodes=16k".to_string(),
    )]);
    for v in c.image_volumes.iter().filter(|v| v.as_str() != c.workdir) {
        tmpfs
            .entry(v.clone())
            .or_insert_with(|| "rw,noexec,nosuid,nodev,size=16m,nr_inodes=4k".to_string());
    }
    ContainerCreateBody {
        image: Some(c.image.to_string()),
        user: Some(USER.to_string()),
        env: Some(env),
        cmd: Some(c.args.to_vec()),
        entrypoint: c.entrypoint.map(<[String]>::to_vec),
        working_dir: Some(c.workdir.to_string()),
        labels: Some(labels::for_role("command", c.lab)),
        healthcheck: Some(bollard::models::HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }),
        open_stdin: Some(c.stdin),
        stdin_once: Some(c.stdin),
        attach_stdin: Some(c.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        network_disabled: Some(false),
        host_config: Some(HostConfig {
            network_mode: Some(match c.beside {
                Some(id) => format!("container:{id}"),
                None => "none".to_string(),
            }),
            tmpfs: Some(tmpfs),
            mounts: Some(
                std::iter::once(volume_mount(c.workdir, c.volume, false))
                    .chain(
                        c.tree
                            .map(|t| volume_mount(&format!("{}/tree", c.workdir), t, true)),
                    )
                    .chain(
                        c.course_key
                            .map(|k| volume_mount(crate::course_key::MOUNT, k, true)),
                    )
                    .collect(),
            ),
            ..locked_down(c.spec.memory_mb, c.spec.cpus, c.spec.pids)
        }),
        ..Default::default()
    }
}

/// The host configuration shared by the submission and the probe.
pub fn locked_down(memory_mb: u64, cpus: f64, pids: i64) -> HostConfig {
    let memory = (memory_mb as i64).saturating_mul(1 << 20);
    HostConfig {
        memory: Some(memory),
        // Equal to memory: no swap, so a memory hog meets the OOM killer at once.
        memory_swap: Some(memory),
        nano_cpus: Some((cpus * 1e9) as i64),
        pids_limit: Some(pids),
        ulimits: Some(vec![
            ulimit("nofile", 1024),
            ulimit("fsize", 64 << 20),
            ulimit("core", 0),
        ]),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges:true".to_string()]),
        privileged: Some(false),
        readonly_rootfs: Some(true),
        init: Some(true),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_string()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "1m".to_string()),
                ("max-file".to_string(), "1".to_string()),
            ])),
        }),
        ..Default::default()
    }
}

fn ulimit(name: &str, value: i64) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(value),
        hard: Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_overrides_what_the_image_asks_for() {
        let spec = crate::spec::embedded_lab("week08")
            .expect("known")
            .expect("valid")
            .container;
        let body = submission("img", "week08", &spec, &["/data".to_string()], "probe1");
        assert_eq!(body.user.as_deref(), Some(USER));
        assert_eq!(body.stop_signal.as_deref(), Some("SIGTERM"));
        let host = body.host_config.expect("host config");
        // The probe's namespace, which has no network but loopback.
        assert_eq!(host.network_mode.as_deref(), Some("container:probe1"));
        assert_eq!(host.memory, host.memory_swap);
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert!(host.port_bindings.is_none() && host.binds.is_none());
        let tmpfs = host.tmpfs.expect("tmpfs");
        assert!(tmpfs["/tmp"].contains("noexec"));
        assert!(tmpfs.contains_key("/data"), "declared volumes become tmpfs");
    }

    #[test]
    fn a_command_runs_as_locked_down_as_the_service() {
        let spec = crate::spec::ContainerSpec::default();
        let args = vec!["predict".to_string()];
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let body = command(&CommandContainer {
            image: "img",
            lab: "week02",
            spec: &spec,
            image_volumes: &["/work".to_string()],
            args: &args,
            entrypoint: None,
            env: &env,
            volume: "vol",
            tree: None,
            course_key: None,
            workdir: "/work",
            stdin: false,
            beside: None,
        });
        assert_eq!(body.user.as_deref(), Some(USER));
        assert_eq!(body.cmd, Some(args));
        assert_eq!(body.entrypoint, None, "the image's program runs");
        assert_eq!(body.env, Some(vec!["A=1".to_string()]));
        let host = body.host_config.expect("host config");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.memory, host.memory_swap);
        assert!(host.port_bindings.is_none() && host.binds.is_none());
        let tmpfs = host.tmpfs.expect("tmpfs");
        assert!(tmpfs["/tmp"].contains("noexec"));
        assert!(
            !tmpfs.contains_key("/work"),
            "the work volume is not hidden"
        );
        let mounts = host.mounts.expect("mounts");
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].source.as_deref(), Some("vol"));
    }

    #[test]
    fn a_judge_step_replaces_the_entrypoint_and_sees_the_tree_read_only() {
        let spec = crate::spec::ContainerSpec::default();
        let command_line = vec!["dotdrop".to_string(), "install".to_string()];
        let env = BTreeMap::new();
        let judge = CommandContainer {
            image: "mlops-judge/dotdrop:1.12.9",
            lab: "week05",
            spec: &spec,
            image_volumes: &[],
            args: &[],
            entrypoint: Some(&command_line),
            env: &env,
            volume: "vol",
            tree: Some("vol-tree"),
            course_key: None,
            workdir: "/work",
            stdin: false,
            beside: None,
        };
        let body = command(&judge);
        let key = command(&CommandContainer {
            course_key: Some("vol-key"),
            ..judge
        });
        let mounts = key.host_config.and_then(|h| h.mounts).expect("mounts");
        let at_course = mounts
            .iter()
            .find(|m| m.target.as_deref() == Some(crate::course_key::MOUNT))
            .expect("the course key's volume is mounted for a step that asks");
        assert_eq!(at_course.read_only, Some(true));
        assert!(
            body.host_config
                .as_ref()
                .and_then(|h| h.mounts.as_ref())
                .is_some_and(|m| m
                    .iter()
                    .all(|m| m.target.as_deref() != Some(crate::course_key::MOUNT))),
            "and for no other"
        );
        assert_eq!(body.entrypoint.as_ref(), Some(&command_line));
        assert_eq!(body.cmd, Some(vec![]));
        let host = body.host_config.expect("host config");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        let beside = command(&CommandContainer {
            beside: Some("abc123"),
            ..judge
        });
        let beside_host = beside.host_config.expect("host config");
        // Beside the service: its namespace, and nothing of the locks lost.
        assert_eq!(
            beside_host.network_mode.as_deref(),
            Some("container:abc123")
        );
        assert_eq!(beside_host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(beside_host.readonly_rootfs, Some(true));
        let mounts = host.mounts.expect("mounts");
        let tree = mounts
            .iter()
            .find(|m| m.target.as_deref() == Some("/work/tree"))
            .expect("the tree is mounted");
        assert_eq!(tree.source.as_deref(), Some("vol-tree"));
        assert_eq!(tree.read_only, Some(true));
    }
}
