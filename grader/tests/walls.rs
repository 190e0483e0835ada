//! Submissions that push on the walls of the sandbox from inside (disk, files,
//! the read-only root, privileges, the engine's socket) or misbehave on the
//! wire (wrong port, trickling, endless, malformed or missing answers, faked
//! scores, an early exit). Each gets the right verdict within its deadline
//! plus a bounded slack, and `support::grade` asserts nothing is left behind.

mod support;

use grader::result::{ContainerVerdict, Report, Verdict};
use std::time::{Duration, Instant};
use support::{Image, engine, grade, log_lines, lost, quick_checks, quick_lab, submission};

/// Slack allowed on top of a deadline for building, starting and tearing down.
const SLACK: Duration = Duration::from_secs(45);

/// The checks that send a request to `/predict`.
const PREDICT_CHECKS: [&str; 11] = [
    "predict.contract",
    "predict.batch",
    "predict.quality",
    "validation.missing-field",
    "validation.unknown-field",
    "validation.wrong-type",
    "validation.out-of-range",
    "validation.batch-size",
    "validation.malformed-json",
    "validation.content-type",
    "validation.body-limit",
];

/// Grades `mode` with the quick lab and checks it was not slowed past `bound`.
async fn grade_mode(mode: &str, lab: grader::spec::LabSpec, bound: Duration) -> Option<Report> {
    let docker = engine().await?;
    let dir = submission(mode, Image::Good, &[]);
    let t = Instant::now();
    let report = grade(&docker, lab, dir.path()).await;
    assert!(t.elapsed() < bound + SLACK, "{mode} took {:?}", t.elapsed());
    Some(report)
}

/// A contained attack costs nothing: every check passes, and the submission's
/// own lines say what the sandbox refused.
async fn contained(mode: &str) -> Option<Report> {
    let report = grade_mode(mode, quick_lab(), Duration::from_secs(60)).await?;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.container.verdict, ContainerVerdict::Ran);
    Some(report)
}

#[tokio::test]
async fn filling_tmp_stops_at_its_size_and_costs_nothing() {
    let Some(report) = contained("fill-tmp").await else {
        return;
    };
    let lines = log_lines(&report, "fill-tmp: ");
    assert_eq!(lines.len(), 1, "{:?}", report.container.log_excerpt);
    assert!(lines[0].contains("No space left on device"), "{lines:?}");
    // /tmp is 64 MiB: the writer got no further.
    let mib: u64 = lines[0]
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a MiB count");
    assert!(mib <= 64, "{lines:?}");
}

#[tokio::test]
async fn millions_of_tiny_files_stop_at_the_inode_cap() {
    let Some(report) = contained("tiny-files").await else {
        return;
    };
    let lines = log_lines(&report, "tiny-files: ");
    assert_eq!(lines.len(), 1, "{:?}", report.container.log_excerpt);
    assert!(lines[0].contains("No space left on device"), "{lines:?}");
    let made: u64 = lines[0]
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a file count");
    assert!(made < 16 * 1024, "{lines:?}");
}

#[tokio::test]
async fn writing_to_the_root_is_refused() {
    let Some(report) = contained("write-root").await else {
        return;
    };
    let lines = log_lines(&report, "write-root: ");
    assert_eq!(lines.len(), 4, "{:?}", report.container.log_excerpt);
    // New files: the root is read-only; the image's own binary: also not
    // writable by the sandbox's user.
    assert!(
        lines[..3]
            .iter()
            .all(|l| l.contains("Read-only file system")),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("Read-only file system") || lines[3].contains("Permission denied"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn becoming_root_is_refused() {
    let Some(report) = contained("setuid").await else {
        return;
    };
    let lines = log_lines(&report, "setuid: ");
    for want in [
        "setuid: setuid(0) refused",
        "setuid: setgid(0) refused",
        "setuid: Uid: 10001 10001 10001 10001",
        "setuid: CapEff: 0000000000000000",
        "setuid: NoNewPrivs: 1",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "no «{want}» in {lines:?}"
        );
    }
}

#[tokio::test]
async fn there_is_no_docker_socket_to_find() {
    let Some(report) = contained("docker-socket").await else {
        return;
    };
    let lines = log_lines(&report, "docker-socket: ");
    assert_eq!(lines.len(), 5, "{:?}", report.container.log_excerpt);
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" absent: ") || l.ends_with("DOCKER_HOST is not set")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn the_wrong_port_is_never_ready_and_the_right_one_is_named() {
    let Some(report) = grade_mode("wrong-port", quick_lab(), Duration::from_secs(6)).await else {
        return;
    };
    assert_eq!(report.container.verdict, ContainerVerdict::NeverReady);
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("nothing listened on port 8080")
            && detail.contains("it listens on port 9090 instead"),
        "{detail}"
    );
    assert_eq!(report.score.earned, 20, "{report:#?}");
}

#[tokio::test]
async fn accepting_and_never_answering_is_never_ready() {
    let Some(report) = grade_mode("silent-accept", quick_lab(), Duration::from_secs(6)).await
    else {
        return;
    };
    assert_eq!(report.container.verdict, ContainerVerdict::NeverReady);
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(detail.contains("got no answer within"), "{detail}");
    assert_eq!(report.score.earned, 20, "{report:#?}");
}

#[tokio::test]
async fn a_trickling_answer_times_out_each_check_it_holds_up() {
    // Eleven checks wait on /predict, each for its own 2 s deadline.
    let Some(report) = grade_mode("slowloris", quick_checks(2), Duration::from_secs(30)).await
    else {
        return;
    };
    let mut lost = lost(&report);
    lost.sort();
    let mut want: Vec<String> = PREDICT_CHECKS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(lost, want, "{report:#?}");
    for id in PREDICT_CHECKS {
        let check = support::verdict_of(&report, id);
        assert_eq!(check.verdict, Verdict::TimedOut, "{check:?}");
    }
    assert_eq!(report.container.verdict, ContainerVerdict::Ran);
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_cap() {
    let Some(report) = grade_mode("endless-body", quick_checks(10), Duration::from_secs(30)).await
    else {
        return;
    };
    let mut lost = lost(&report);
    lost.sort();
    let mut want: Vec<String> = PREDICT_CHECKS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(lost, want, "{report:#?}");
    for id in PREDICT_CHECKS {
        let check = support::verdict_of(&report, id);
        assert_eq!(check.verdict, Verdict::Failed, "{check:?}");
        let message = check.message.as_deref().unwrap_or("");
        assert!(
            message.contains("the answer is over 1048576 bytes"),
            "{check:?}"
        );
    }
}

#[tokio::test]
async fn malformed_http_fails_its_checks_and_nothing_else() {
    let Some(report) = grade_mode("malformed-http", quick_checks(5), Duration::from_secs(60)).await
    else {
        return;
    };
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    // Image hygiene and readiness earned; every other answer was garbage.
    let kept: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.earned == c.points)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        kept,
        [
            "image.non-root",
            "image.size",
            "image.exposes-port",
            "image.labels",
            "health"
        ],
        "{report:#?}"
    );
    for check in report.checks.iter().filter(|c| c.earned < c.points) {
        assert_eq!(check.verdict, Verdict::Failed, "{check:?}");
    }
    // A forged score in the garbage counts for nothing.
    assert_eq!(report.score.earned, 25);
}

#[tokio::test]
async fn a_printed_or_written_fake_score_changes_nothing() {
    let Some(docker) = engine().await else { return };
    let dir = submission("fake-score", Image::Good, &[]);
    // The submission also ships results files claiming full marks.
    let claim = r#"{"version":1,"status":"pass","max_score":100,"score":100,"tests":[]}"#;
    for name in ["results.json", "grade.json", "report.json"] {
        std::fs::write(dir.path().join(name), claim).expect("write");
    }
    let report = grade(&docker, quick_lab(), dir.path()).await;
    assert!(
        !log_lines(&report, "SCORE: 100/100").is_empty(),
        "the claim was made: {:?}",
        report.container.log_excerpt
    );
    assert_eq!(report.container.verdict, ContainerVerdict::NeverReady);
    assert_eq!(report.score.earned, 20, "{report:#?}");
    assert_eq!(report.score.max, 100);
}

#[tokio::test]
async fn exiting_early_with_success_is_not_a_pass() {
    let Some(report) = grade_mode("exit-early", quick_lab(), Duration::from_secs(6)).await else {
        return;
    };
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Crashed,
        "{report:#?}"
    );
    assert_eq!(report.container.exit_code, Some(0));
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(detail.contains("exited with code 0"), "{detail}");
    assert_eq!(report.score.earned, 20, "{report:#?}");
    let sigterm = support::verdict_of(&report, "shutdown.sigterm");
    assert_eq!(sigterm.earned, 0);
}
