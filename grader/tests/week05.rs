//! Week 5 end to end: a dotfiles repository judged by the real dotdrop in its
//! judge image, with nothing built. The reference solution scores full marks,
//! the starter scores low, and each broken copy of the solution (one edit, made
//! here) loses exactly the rubric item it breaks.

mod support;

use std::path::Path;

use grader::result::ContainerVerdict;
use grader::spec::LabSpec;
use support::repo::{commit, copy_tree, init};
use support::{engine, grade, lost, workspace};

fn week05() -> LabSpec {
    grader::spec::embedded_lab("week05")
        .expect("week05 is embedded")
        .expect("week05 is valid")
}

/// An edit of the solution's file `path`: `from` becomes `to`.
struct Edit {
    path: &'static str,
    from: &'static str,
    to: &'static str,
}

/// A copy of `source`, edited, as a repository with one commit (and, for a
/// leak, a key committed and removed again).
fn repository(source: &str, edits: &[Edit], leak: bool, ballast: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&workspace().join(source), dir.path());
    for edit in edits {
        let path = dir.path().join(edit.path);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains(edit.from),
            "{}: no {:?}",
            edit.path,
            edit.from
        );
        std::fs::write(&path, text.replacen(edit.from, edit.to, 1)).expect("write");
    }
    if ballast {
        std::fs::write(dir.path().join("wallpaper.bin"), vec![7u8; 300 * 1024]).expect("ballast");
    }
    init(dir.path());
    commit(dir.path(), &["."], "feat: my dotfiles");
    if leak {
        leak_and_remove(dir.path());
    }
    dir
}

/// A private key committed, then deleted: the tree is clean, the history not.
fn leak_and_remove(dir: &Path) {
    // Split so that this source file holds no key-shaped text itself.
    let key = format!(
        "-----BEGIN {} PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END {} PRIVATE KEY-----\n",
        "OPENSSH", "OPENSSH"
    );
    std::fs::write(dir.join("id_ed25519"), key).expect("key");
    commit(dir, &["id_ed25519"], "chore: my ssh key");
    std::fs::remove_file(dir.join("id_ed25519")).expect("rm");
    commit(dir, &["id_ed25519"], "chore: remove the key");
}

async fn loses_exactly(dir: &Path, items: &[&str]) -> grader::Report {
    let Some(docker) = engine().await else {
        panic!("unreachable: callers check the engine")
    };
    let report = grade(&docker, week05(), dir).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), items, "{report:#?}");
    report
}

const SOLUTION: &str = "solutions/week05-dotfiles";

#[tokio::test]
async fn the_reference_dotfiles_score_full_marks_without_building_anything() {
    if engine().await.is_none() {
        return;
    }
    let dir = repository(SOLUTION, &[], false, false);
    let report = loses_exactly(dir.path(), &[]).await;
    assert_eq!(report.score.earned, 100);
    // No Dockerfile, no image: nothing was built.
    assert_eq!(report.submission.context_sha256, None);
    assert_eq!(report.timings.build_ms, 0);
}

#[tokio::test]
async fn the_starter_scores_low_but_not_zero() {
    if engine().await.is_none() {
        return;
    }
    let dir = repository("labs/week05-dotfiles", &[], false, false);
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

macro_rules! broken {
    ($($name:ident: $edits:expr, $leak:expr, $ballast:expr => $item:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            if engine().await.is_none() {
                return;
            }
            let dir = repository(SOLUTION, $edits, $leak, $ballast);
            loses_exactly(dir.path(), &[$item]).await;
        }
    )*};
}

/// The laptop profile lists a dotfile whose source is not in the dotpath:
/// install still exits 0, compare does not.
const LAPTOP_MISSING_SOURCE: &[Edit] = &[
    Edit {
        path: "config.yaml",
        from: "  f_vimrc:\n",
        to: "  f_tmux:\n    src: tmux.conf\n    dst: ~/.tmux.conf\n  f_vimrc:\n",
    },
    Edit {
        path: "config.yaml",
        from: "  laptop:\n    dotfiles:\n",
        to: "  laptop:\n    dotfiles:\n    - f_tmux\n",
    },
];

const SERVER_MISSING_SOURCE: &[Edit] = &[
    Edit {
        path: "config.yaml",
        from: "  f_vimrc:\n",
        to: "  f_tmux:\n    src: tmux.conf\n    dst: ~/.tmux.conf\n  f_vimrc:\n",
    },
    Edit {
        path: "config.yaml",
        from: "  server:\n    dotfiles:\n",
        to: "  server:\n    dotfiles:\n    - f_tmux\n",
    },
];

/// The laptop's e-mail address has no domain.
const NO_DOMAIN: &[Edit] = &[Edit {
    path: "config.yaml",
    from: "git_email: ada@example.com",
    to: "git_email: ada",
}];

/// The server profile sets the very values the laptop does.
const SAME_VALUES: &[Edit] = &[Edit {
    path: "config.yaml",
    from: "      git_email: ada.lovelace@example.org\n      editor: vi\n      prompt_colour: \"31\"        # red\n      prompt_label: server\n      cargo_target_dir: /scratch/$USER/cargo-target\n      history_size: \"50000\"\n",
    to: "      git_email: ada@example.com\n      prompt_colour: \"32\"\n      prompt_label: laptop\n      cargo_target_dir: $HOME/.cache/cargo-target\n      history_size: \"10000\"\n",
}];

/// Templating switched off for one dotfile: its markers are installed as they are.
const NOT_TEMPLATED: &[Edit] = &[Edit {
    path: "config.yaml",
    from: "    dst: ~/.vimrc\n",
    to: "    dst: ~/.vimrc\n    template: false\n",
}];

/// A profile action that stamps a file on every install.
const STAMPS_EVERY_INSTALL: &[Edit] = &[
    Edit {
        path: "config.yaml",
        from: "  laptop:\n    dotfiles:\n",
        to: "  laptop:\n    actions:\n    - stamp\n    dotfiles:\n",
    },
    Edit {
        path: "config.yaml",
        from: "actions:\n  post:\n",
        to: "actions:\n  pre:\n    stamp: date +%s%N > ~/.dotfiles-installed-at\n  post:\n",
    },
];

/// The README has no Bootstrap section.
const NO_BOOTSTRAP: &[Edit] = &[Edit {
    path: "README.md",
    from: "## Bootstrap",
    to: "## Getting started",
}];

broken! {
    laptop_missing_source: LAPTOP_MISSING_SOURCE, false, false => "laptop.installs";
    server_missing_source: SERVER_MISSING_SOURCE, false, false => "server.installs";
    email_without_domain: NO_DOMAIN, false, false => "render.identity";
    profiles_alike: SAME_VALUES, false, false => "render.profiles-differ";
    templating_off: NOT_TEMPLATED, false, false => "render.no-markers";
    stamps_every_install: STAMPS_EVERY_INSTALL, false, false => "idempotent";
    key_in_history: &[], true, false => "secrets";
    no_bootstrap_section: NO_BOOTSTRAP, false, false => "readme.bootstrap";
    large_file: &[], false, true => "repo.small-files";
}

#[test]
fn every_rubric_item_has_a_broken_submission() {
    let covered = [
        "laptop.installs",
        "server.installs",
        "render.identity",
        "render.profiles-differ",
        "render.no-markers",
        "idempotent",
        "secrets",
        "readme.bootstrap",
        "repo.small-files",
    ];
    let ids: Vec<String> = week05().checks.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, covered);
}

#[tokio::test]
async fn a_missing_judge_image_is_a_grading_error_naming_the_command_that_makes_it() {
    let Some(docker) = engine().await else { return };
    let mut lab = week05();
    lab.judges
        .insert("dotdrop".into(), "mlops-judge/absent:0".into());
    let dir = repository(SOLUTION, &[], false, false);
    let request = grader::GradeRequest {
        lab,
        submission: dir.path().to_path_buf(),
        build_args: Default::default(),
        audience: grader::Audience::Student,
        probe_exe: std::path::PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: Vec::new(),
        progress: std::sync::Arc::new(grader::progress::Quiet),
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
    use grader::docker::command::{self, Argv, Invocation, Step};
    let Some(docker) = engine().await else { return };
    let lab = week05();
    let script = vec!["sh".to_string(), "-c".to_string(), SESSION.to_string()];
    let steps = [Step {
        image: &lab.judges["dotdrop"],
        argv: Argv::Command(&script),
    }];
    let files = Default::default();
    let run = command::run(
        &docker,
        &Invocation {
            steps: &steps,
            lab: "week05",
            container: &lab.container,
            image_volumes: &[],
            env: &Default::default(),
            stdin: None,
            tree: None,
            files: &files,
            output_dir: Some("session"),
            deadline: std::time::Duration::from_secs(60),
            beside: None,
        },
    )
    .await
    .expect("the session runs");
    assert_eq!(
        run.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let transcript = String::from_utf8(run.stdout).expect("text");
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
    let path = workspace().join("book/src/generated/week05-transcript.txt");
    if std::env::var_os("UPDATE_TRANSCRIPTS").is_some() {
        std::fs::write(&path, &transcript).expect("write the transcript");
    }
    let book = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        book,
        transcript,
        "{} is stale: run `UPDATE_TRANSCRIPTS=1 cargo nextest run -p grader --test week05 transcript`",
        path.display()
    );
}
