//! Submissions nobody should trust: each gets the right verdict inside its
//! deadline, and leaves nothing behind (`support::grade` asserts that no container
//! of this process is left after every grade).

mod support;

use grader::result::{ContainerVerdict, Verdict};
use std::time::{Duration, Instant};
use support::{Image, engine, grade, lost, quick_lab, submission, verdict_of, week08};

/// Slack allowed on top of a deadline for building, starting and tearing down.
const SLACK: Duration = Duration::from_secs(45);

async fn never_ready(mode: &str, detail: &str) {
    let Some(docker) = engine().await else { return };
    let dir = submission(mode, Image::Good, &[]);
    let t = Instant::now();
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert!(
        t.elapsed() < Duration::from_secs(6) + SLACK,
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::NeverReady,
        "{report:#?}"
    );
    let said = report.container.detail.clone().unwrap_or_default();
    assert!(said.contains(detail), "expected «{detail}» in «{said}»");
    // The image checks still count; nothing that needs the service does.
    assert_eq!(report.score.earned, 20, "{report:#?}");
    let check = verdict_of(&report, "health");
    assert_eq!(check.verdict, grader::result::Verdict::NotRun, "{check:?}");
    assert!(
        check
            .message
            .as_deref()
            .unwrap_or("")
            .starts_with("the service never became ready")
    );
}

#[tokio::test]
async fn sleeping_forever_is_never_ready() {
    never_ready("sleep-forever", "nothing listened on port 8080").await;
}

#[tokio::test]
async fn a_busy_loop_is_never_ready() {
    never_ready("busy-loop", "nothing listened on port 8080").await;
}

#[tokio::test]
async fn a_service_that_never_answers_200_is_never_ready() {
    never_ready("never-ready", "answered 503").await;
}

#[tokio::test]
async fn listening_on_loopback_only_is_never_ready() {
    never_ready("localhost-only", "listens on 127.0.0.1 only").await;
}

#[tokio::test]
async fn a_crash_mid_test_keeps_earned_points_and_fails_the_rest_fast() {
    let Some(docker) = engine().await else { return };
    let dir = submission("crash-after", Image::Good, &[]);
    let t = Instant::now();
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert!(t.elapsed() < SLACK, "took {:?}", t.elapsed());
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Crashed,
        "{report:#?}"
    );
    assert_eq!(report.container.exit_code, Some(3));
    assert!(support::passed(&report, "health"), "{report:#?}");
    assert!(
        report.score.earned > 20 && report.score.earned < 100,
        "{report:#?}"
    );
    let last = verdict_of(&report, "shutdown.sigterm");
    assert!(
        last.message
            .as_deref()
            .unwrap_or("")
            .contains("exited with code 3"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_memory_hog_is_out_of_memory() {
    let Some(docker) = engine().await else { return };
    let dir = submission("memory-hog", Image::Good, &[]);
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::OutOfMemory,
        "{report:#?}"
    );
    assert!(report.container.oom_killed);
    assert!(support::passed(&report, "health"));
    assert!(report.score.earned < 100, "{report:#?}");
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_process_limit() {
    let Some(docker) = engine().await else { return };
    let dir = submission("fork-bomb", Image::Good, &[]);
    let t = Instant::now();
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert!(
        t.elapsed() < Duration::from_secs(60) + SLACK,
        "took {:?}",
        t.elapsed()
    );
    // The grader survives and judges; the pids limit keeps the bomb small.
    assert!(
        matches!(
            report.container.verdict,
            ContainerVerdict::Ran | ContainerVerdict::Crashed
        ),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_stdout_flood_is_capped_and_graded() {
    let Some(docker) = engine().await else { return };
    let dir = submission("stdout-flood", Image::Good, &[]);
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert!(report.container.output_over_cap, "{report:#?}");
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    // The first and last 20 lines, and a mark where the rest was left out.
    assert!(
        report.container.log_excerpt.len() <= 42,
        "{}",
        report.container.log_excerpt.len()
    );
    assert!(report.container.log_excerpt.contains(&"[…]".to_string()));
}

#[tokio::test]
async fn ignoring_sigterm_loses_only_the_shutdown_check() {
    let Some(docker) = engine().await else { return };
    let dir = submission("ignore-sigterm", Image::Good, &[]);
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert_eq!(
        lost(&report),
        vec!["shutdown.sigterm".to_string()],
        "{report:#?}"
    );
    let check = verdict_of(&report, "shutdown.sigterm");
    assert_eq!(check.verdict, Verdict::Failed);
    assert!(
        check
            .message
            .as_deref()
            .unwrap_or("")
            .contains("did not stop within 5 s")
    );
}

#[tokio::test]
async fn the_container_cannot_reach_the_host() {
    let Some(docker) = engine().await else { return };
    // Canaries on every host address (0.0.0.0), TCP for HTTP and UDP for DNS:
    // a container on a plain bridge could reach them through the gateway.
    let canary = std::net::TcpListener::bind(("0.0.0.0", 0)).expect("canary");
    canary.set_nonblocking(true).expect("nonblocking");
    let port = canary.local_addr().expect("addr").port();
    let dns = std::net::UdpSocket::bind(("0.0.0.0", 0)).expect("udp canary");
    dns.set_nonblocking(true).expect("nonblocking");
    let udp_port = dns.local_addr().expect("addr").port();
    let gateway = support::bridge_gateway(&docker).await;
    let tcp = format!("{gateway}:{port},127.0.0.1:{port}");
    let udp = format!("{gateway}:{udp_port},127.0.0.1:{udp_port}");
    let dir = submission(
        "canary",
        Image::Good,
        &[("CANARY_ADDRS", &tcp), ("CANARY_UDP", &udp)],
    );
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert!(
        canary.accept().is_err(),
        "the TCP canary on the host received a connection from the submission"
    );
    let mut buf = [0u8; 512];
    assert!(
        dns.recv_from(&mut buf).is_err(),
        "the UDP canary on the host received a packet from the submission"
    );
    // The submission tried everything, saw only a loopback interface, and
    // says it could not connect.
    let log = &report.container.log_excerpt;
    assert!(log.iter().any(|l| l == "canary interfaces: lo"), "{log:?}");
    let tried = support::log_lines(&report, "canary tcp ").len()
        + support::log_lines(&report, "canary udp ").len();
    let connected = log.iter().any(|l| l.contains(" connected"));
    assert!(tried == 4 && !connected, "{log:?}");
}

#[tokio::test]
async fn a_missing_dockerfile_is_a_build_failure_with_a_clear_message() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert!(
        report
            .container
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("no Dockerfile")
    );
    assert_eq!(report.score.earned, 0);
}

#[tokio::test]
async fn a_broken_dockerfile_is_a_build_failure_with_the_build_log() {
    let Some(docker) = engine().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY missing-file /x\n",
    )
    .expect("write");
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::BuildFailed,
        "{report:#?}"
    );
    assert!(
        report
            .container
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("missing-file"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_run_past_its_deadline_is_killed_and_the_rest_fails_fast() {
    let Some(docker) = engine().await else { return };
    let mut lab = week08();
    lab.container.run_timeout_secs = 1;
    // A service that answers /predict a byte at a time outlasts the deadline
    // however fast the grader is; the reference would finish inside it.
    let dir = submission("slowloris", Image::Good, &[]);
    let report = grade(&docker, lab, dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::KilledAtDeadline,
        "{report:#?}"
    );
    let last = verdict_of(&report, "shutdown.sigterm");
    assert!(
        last.message
            .as_deref()
            .unwrap_or("")
            .contains("deadline passed"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_check_past_its_own_deadline_times_out_and_the_others_still_run() {
    let Some(docker) = engine().await else { return };
    let mut lab = week08();
    let quality = lab
        .checks
        .iter_mut()
        .find(|c| c.id == "predict.quality")
        .expect("the quality check");
    quality.timeout = Duration::from_millis(1);
    let dir = submission("reference", Image::Good, &[]);
    let report = grade(&docker, lab, dir.path()).await;
    assert_eq!(
        verdict_of(&report, "predict.quality").verdict,
        Verdict::TimedOut
    );
    assert_eq!(
        lost(&report),
        vec!["predict.quality".to_string()],
        "{report:#?}"
    );
}

#[tokio::test]
async fn containers_left_by_a_dead_grader_are_swept_and_live_ones_kept() {
    let Some(docker) = engine().await else { return };
    use bollard::query_parameters::CreateContainerOptionsBuilder;
    use grader::docker::{labels, probe, sweep};
    let image = probe::image(
        &docker,
        std::path::Path::new(env!("CARGO_BIN_EXE_grader-probe")),
    )
    .await
    .expect("probe image");
    let make = |owner: String| {
        let mut body = probe::container(&image, "week08", 8080, &[]);
        let mut l = body.labels.take().unwrap_or_default();
        l.insert(labels::OWNER.to_string(), owner);
        body.labels = Some(l);
        body.host_config = None;
        body
    };
    // A grader that died (a pid that cannot exist) and this live process.
    let dead = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().build()),
            make(format!("{}/4294967294/1", hostname())),
        )
        .await
        .expect("create")
        .id;
    let live = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().build()),
            make(labels::owner()),
        )
        .await
        .expect("create")
        .id;
    sweep::sweep_orphans(&docker).await.expect("sweep");
    let gone = docker.inspect_container(&dead, None).await.is_err();
    let kept = docker.inspect_container(&live, None).await.is_ok();
    sweep::remove_container(&docker, &live)
        .await
        .expect("remove");
    assert!(gone, "the dead grader's container was not swept");
    assert!(kept, "a live grader's container was swept");
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A submission folder with the fixture binary and this Dockerfile.
fn with_dockerfile(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(support::fixture_bin(), dir.path().join("fixture-week08")).expect("copy");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write");
    dir
}

#[tokio::test]
async fn an_image_with_no_command_is_never_ready_and_keeps_its_image_points() {
    let Some(docker) = engine().await else { return };
    let dir = with_dockerfile(
        "FROM scratch\nCOPY fixture-week08 /app/fixture-week08\nUSER 65532\nEXPOSE 8080\nLABEL org.opencontainers.image.title=x\n",
    );
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::NeverReady,
        "{report:#?}"
    );
    assert!(
        report
            .container
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("could not be created"),
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 20);
}

#[tokio::test]
async fn an_entrypoint_that_does_not_exist_is_named() {
    let Some(docker) = engine().await else { return };
    let dir = with_dockerfile(
        "FROM scratch\nCOPY fixture-week08 /app/fixture-week08\nENTRYPOINT [\"/app/missing\"]\n",
    );
    let report = grade(&docker, week08(), dir.path()).await;
    // With an init as PID 1 the engine starts the container and the init exits 127.
    assert!(
        matches!(
            report.container.verdict,
            ContainerVerdict::Crashed | ContainerVerdict::NeverReady
        ),
        "{report:#?}"
    );
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("entrypoint was not found") || detail.contains("did not start"),
        "{detail}"
    );
}
