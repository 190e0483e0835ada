//! The command line: bad input gets one clear line and the right exit code.

use assert_cmd::Command;
use predicates::prelude::*;

fn grader() -> Command {
    Command::cargo_bin("grader").expect("the grader binary")
}

/// One line on stderr, no panic, no backtrace.
fn one_line() -> impl Predicate<str> {
    predicate::function(|s: &str| s.trim_end().lines().count() == 1)
        .and(predicate::str::contains("panicked").not())
}

#[test]
fn an_unknown_lab_is_a_usage_error_naming_the_known_labs() {
    grader()
        .args(["grade", "week99", "."])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown lab \"week99\"")
                .and(predicate::str::contains("week08")),
        )
        .stderr(one_line());
}

#[test]
fn a_missing_submission_is_a_usage_error() {
    grader()
        .args(["grade", "week08", "/no/such/submission"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read the submission /no/such/submission",
        ))
        .stderr(one_line());
}

#[test]
fn a_malformed_spec_names_the_file_the_field_and_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("lab.toml"),
        "id = \"x\"\ntitle = \"t\"\nweek = 3\n[container]\nport = 8080\nready_path = \"/\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 5\nkind = \"http\"\nrequest = { path = \"/\" }\nexpect = { status = 700 }\n",
    )
    .expect("write");
    grader()
        .arg("check")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "lab.toml: checks[0] (a): expect.status 700 is not an HTTP status",
        ))
        .stderr(one_line());
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    grader()
        .args(["grade", "week08", ".", "--build-arg", "NOEQUALS"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not KEY=VALUE"));
}

#[test]
fn labs_and_check_list_the_rubric() {
    grader()
        .arg("labs")
        .assert()
        .success()
        .stdout(predicate::str::contains("week08").and(predicate::str::contains("100 points")));
    grader()
        .args(["check", "week08"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("predict.quality").and(predicate::str::contains("(hidden)")),
        );
}

#[test]
fn the_books_rubric_tables_are_current() {
    let book = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/generated");
    for id in grader::spec::embedded_labs() {
        let lab = grader::spec::embedded_lab(id)
            .expect("known")
            .expect("valid");
        let file = book.join(format!("{id}-rubric.md"));
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(
            current,
            grader::report::rubric_markdown(&lab),
            "{} is stale: run `cargo run -p grader -- rubric {id} > {}`",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn an_unreachable_engine_is_a_grading_failure_not_a_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
    // A socket that does not exist, and a TCP port on loopback where nothing listens.
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:9"] {
        grader()
            .args(["grade", "week08"])
            .arg(dir.path())
            .env("DOCKER_HOST", host)
            .assert()
            .code(3)
            .stderr(predicate::str::contains("cannot reach the Docker engine"))
            .stderr(one_line());
    }
    // `clean` must not fall back to the local engine either.
    grader()
        .arg("clean")
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot reach the Docker engine"));
}

#[test]
fn a_runtime_the_engine_lacks_is_named_with_the_ones_it_has() {
    // Needs the engine (it is asked for its runtimes); with CI=true a missing
    // engine is a failure, as everywhere else.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
    let assert = grader()
        .args(["grade", "week08"])
        .arg(dir.path())
        .args(["--runtime", "no-such-runtime"])
        .assert();
    let out = assert.get_output();
    if out.status.code() == Some(3) && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipped: no Docker engine");
        return;
    }
    assert
        .code(2)
        .stderr(
            predicate::str::contains(
                "the container runtime \"no-such-runtime\" is not installed in this Docker engine",
            )
            .and(predicate::str::contains("runc")),
        )
        .stderr(one_line());
}

#[test]
fn progress_goes_to_stderr_as_phase_lines_and_quiet_silences_it() {
    // A lab of one repository check: the source phase alone runs, nothing is
    // built. The engine is still asked (for leftovers), so this needs Docker.
    let lab = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        lab.path().join("lab.toml"),
        "id = \"w\"\ntitle = \"T\"\nweek = 2\n[[checks]]\nid = \"tag\"\ntitle = \"a version tag\"\npoints = 1\nkind = \"repository\"\nrule = \"version-tag\"\n",
    )
    .expect("write");
    let submission = tempfile::tempdir().expect("tempdir");
    let grade = |quiet: bool| {
        let mut cmd = grader();
        cmd.arg("grade")
            .arg(lab.path())
            .arg(submission.path())
            .arg("--print-json")
            .env("CI", "true");
        if quiet {
            cmd.arg("--quiet");
        }
        cmd.output().expect("runs")
    };
    let out = grade(false);
    if out.status.code() == Some(3) && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipped: no Docker engine");
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let phases: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once("s] ").map(|(_, rest)| rest))
        .collect();
    assert_eq!(phases.len(), 2, "{stderr}");
    assert_eq!(phases[0], "source: started");
    assert!(phases[1].starts_with("source: 1 failed ("), "{stderr}");
    // The report on stdout is untouched by progress.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["checks"][0]["verdict"], "failed");

    let quiet = grade(true);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&quiet.stdout).expect("JSON on stdout");
    assert_eq!(again["score"], report["score"]);
}

#[test]
fn a_new_course_key_is_private_prints_its_recipient_and_is_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("term.txt");
    let made = grader()
        .args(["course-key", "new", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::is_match("^age1[02-9ac-hj-np-z]{58}\n$").expect("regex"));
    let recipient = String::from_utf8_lossy(&made.get_output().stdout).into_owned();
    let mode = std::fs::metadata(&out)
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    grader()
        .args(["course-key", "recipient"])
        .arg(&out)
        .assert()
        .success()
        .stdout(recipient.clone());
    let before = std::fs::read(&out).expect("read");
    grader()
        .args(["course-key", "new", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwritten"))
        .stderr(one_line());
    assert_eq!(
        std::fs::read(&out).expect("read"),
        before,
        "the key is kept"
    );
}

#[test]
fn the_practice_key_is_the_default_and_a_bad_course_key_is_a_usage_error() {
    grader()
        .args(["course-key", "recipient"])
        .assert()
        .success()
        .stdout("age1vndujzkd5arc0sgc37jk62qnmkr2qrk3y8vwpplq9rwpagsneq9q67qryl\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "not a key\n").expect("write");
    grader()
        .args(["grade", "week06", "."])
        .arg("--course-key")
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("junk.txt")
                .and(predicate::str::contains("not an age identity")),
        )
        .stderr(one_line());
    grader()
        .args(["grade", "week06", ".", "--course-key", "/no/such/key.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/key.txt: cannot read"))
        .stderr(one_line());
}

#[test]
fn batch_refuses_a_bad_roster_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "student,path\nkim,a\nkim,b\n").expect("write");
    grader()
        .args(["batch", "week08"])
        .arg(&roster)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "line 3: student \"kim\" is listed twice",
        ))
        .stderr(one_line());
    grader()
        .args(["batch", "week08", "/no/such/class", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read the roster /no/such/class",
        ))
        .stderr(one_line());
    grader()
        .args(["batch", "week08", ".", "--out", "x", "--jobs", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--jobs"));
}

#[test]
fn batch_merge_and_shards_refuse_bad_input_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("kim")).expect("mkdir");
    grader()
        .args(["batch", "merge", "week08"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no journal*.jsonl in"))
        .stderr(one_line());
    grader()
        .args(["batch", "week08"])
        .arg(dir.path())
        .args(["--out", "x", "--shard", "5/4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"5/4\" is not a shard"));
}
