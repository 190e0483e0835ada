//! Week 5 end to end: a dotfiles repository judged by the real dotdrop in its
//! judge image, with nothing built. The reference solution and each broken copy
//! of it are the cases of `cases/week05.toml` (run by `cases.rs`); here, the
//! starter scores low, a missing judge image is an error, and the chapter's
//! transcript is a real run.

mod support;

use grader::spec::LabSpec;
use support::week05::{Repo, SOLUTION, repository};
use support::{engine, grade, lost};

fn week05() -> LabSpec {
    grader::spec::embedded_lab("week05")
        .expect("week05 is embedded")
        .expect("week05 is valid")
}

#[tokio::test]
async fn the_starter_scores_low_but_not_zero() {
    if engine().await.is_none() {
        return;
    }
    let dir = repository("labs/week05-dotfiles", &[], Repo::Good);
    let Some(docker) = engine().await else { return };
    let report = grade(&docker, week05(), dir.path()).await;
    // The laptop profile works, so a student can try it at once; the rest is
    // the lab's work, and the score stays under a pass.
    assert!(
        report.score.earned > 0 && report.score.earned < 60,
        "{report:#?}"
    );
    let mut lost = lost(&report);
    lost.sort();
    assert_eq!(
        lost,
        [
            "readme.bootstrap",
            "render.identity",
            "render.profiles-differ",
            "server.installs"
        ],
        "{report:#?}"
    );
    let server = support::verdict_of(&report, "server.installs");
    assert!(
        server
            .message
            .as_deref()
            .unwrap_or("")
            .contains("step 1 of 2"),
        "{server:?}"
    );
}

#[tokio::test]
async fn a_missing_judge_image_is_a_grading_error_naming_the_command_that_makes_it() {
    let Some(docker) = engine().await else { return };
    let mut lab = week05();
    lab.judges
        .insert("dotdrop".into(), "mlops-judge/absent:0".into());
    let dir = repository(SOLUTION, &[], Repo::Good);
    let request = grader::GradeRequest {
        lab,
        submission: dir.path().to_path_buf(),
        build_args: Default::default(),
        audience: grader::Audience::Student,
        probe_exe: std::path::PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: Vec::new(),
        progress: std::sync::Arc::new(grader::progress::Quiet),
        fetch_network: None,
        course_key: grader::course_key::CourseKey::practice(),
        build_slots: None,
    };
    let error = match grader::grade(&docker, &request).await {
        Ok(report) => panic!("graded: {report:#?}"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("mlops-judge/absent:0") && error.contains("cargo xtask judge-images"),
        "{error}"
    );
}

/// The chapter's hands-on session, run for real with the judge's dotdrop in
/// the sandbox: a first file imported into a new repository, turned into a
/// template, installed into an empty home, compared, installed again.
const SESSION: &str = r#"
run() { printf '$ %s\n' "$*"; "$@" 2>&1; printf '[exit %s]\n\n' "$?"; }
mkdir -p /work/session/home /work/session/dotfiles-repo
export HOME=/work/session/home
printf '[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n' > ~/.gitconfig
cd /work/session/dotfiles-repo
printf 'config:\n  dotpath: dotfiles\n  create: true\n  banner: false\ndotfiles:\nprofiles:\n' > config.yaml
run dotdrop --version
run cat config.yaml
run dotdrop import -c config.yaml -p laptop ~/.gitconfig
run cat config.yaml
run sed -i 's/ada@example.com/{{@@ git_email @@}}/' dotfiles/gitconfig
printf 'variables:\n  git_email: ada@example.com\n' >> config.yaml
run cat dotfiles/gitconfig
run tail -n 2 config.yaml
run dotdrop compare -c config.yaml -p laptop
rm ~/.gitconfig
run dotdrop install -c config.yaml -p laptop -f
run cat ~/.gitconfig
run dotdrop compare -c config.yaml -p laptop
run dotdrop install -c config.yaml -p laptop -f
"#;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let transcript = support::judge_session(
        &docker,
        &week05(),
        "dotdrop",
        SESSION,
        None,
        &Default::default(),
        Some("session"),
    )
    .await;
    // The session did what the chapter says it does.
    for step in [
        "1 file(s) imported.",
        "1 dotfile(s) installed.",
        "1 dotfile(s) compared.\n[exit 0]",
        "0 dotfile(s) installed.",
        "email = ada@example.com",
    ] {
        assert!(transcript.contains(step), "no {step:?} in:\n{transcript}");
    }
    support::assert_transcript(
        "week05-transcript.txt",
        &transcript,
        "--test week05 transcript",
    );
}
