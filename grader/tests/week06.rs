//! Week 6 end to end: the agebox image built from the submission, and the real
//! ssh-keygen, ssh, GnuPG and age in the `keys` judge image. The reference
//! solution and each broken copy of it are the cases of `cases/week06.toml`
//! (run by `cases.rs`); here, the starter earns only what it cannot get wrong,
//! and the course key decides who can grade the sealed file.

mod support;

use grader::course_key::CourseKey;
use grader::result::Verdict;
use grader::spec::LabSpec;
use support::week06::{Repo, repository};
use support::{engine, lost, verdict_of};

fn week06() -> LabSpec {
    grader::spec::embedded_lab("week06")
        .expect("week06 is embedded")
        .expect("week06 is valid")
}

async fn grade_with_key(
    docker: &bollard::Docker,
    dir: &std::path::Path,
    course_key: CourseKey,
) -> grader::Report {
    let request = grader::GradeRequest {
        lab: week06(),
        submission: dir.to_path_buf(),
        build_args: support::real_build_args(),
        audience: grader::Audience::Student,
        probe_exe: std::path::PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: Vec::new(),
        progress: std::sync::Arc::new(grader::progress::Quiet),
        fetch_network: None,
        course_key,
        build_slots: None,
    };
    grader::grade(docker, &request).await.expect("graded")
}

#[tokio::test]
async fn the_starter_earns_only_the_clean_history() {
    let Some(docker) = engine().await else { return };
    let dir = support::week06::starter_repository();
    let report = support::grade_with(
        &docker,
        week06(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    // Nothing to sign, seal or configure yet, and seal and unseal say they
    // are not written: a stub that refuses everything does not earn the
    // refusals either.
    assert_eq!(report.score.earned, 10, "{report:#?}");
    assert!(!lost(&report).contains(&"secrets".to_string()));
    let unseal = verdict_of(&report, "agebox.wrong-key");
    assert!(
        unseal
            .message
            .as_deref()
            .unwrap_or("")
            .contains("not implemented"),
        "{unseal:?}"
    );
}

#[tokio::test]
async fn without_a_course_key_the_sealed_file_is_not_run_and_says_who_grades_it() {
    let Some(docker) = engine().await else { return };
    let dir = repository(&[], Repo::Good);
    let report = grade_with_key(&docker, dir.path(), CourseKey::Absent).await;
    let course = verdict_of(&report, "age.course");
    assert_eq!(course.verdict, Verdict::NotRun, "{course:?}");
    assert!(
        course
            .message
            .as_deref()
            .unwrap_or("")
            .contains("instructors' grading runs it"),
        "{course:?}"
    );
    assert_eq!(report.score.earned, 100 - course.points, "{report:#?}");
}

#[tokio::test]
async fn a_terms_own_key_does_not_open_a_file_sealed_to_the_practice_key() {
    let Some(docker) = engine().await else { return };
    let dir = repository(&[], Repo::Good);
    let keys = tempfile::tempdir().expect("tempdir");
    let (text, recipient) = grader::course_key::generate();
    let path = keys.path().join("term.txt");
    std::fs::write(&path, text).expect("write the term's key");
    let term = CourseKey::from_file(&path).expect("the term's key reads back");
    let report = grade_with_key(&docker, dir.path(), term).await;
    assert_eq!(lost(&report), ["age.course"], "{report:#?}");
    let course = verdict_of(&report, "age.course");
    let message = course.message.as_deref().unwrap_or("");
    // It names the recipient the student should have used, never the identity.
    assert!(message.contains(&recipient), "{message}");
    assert!(!message.contains("AGE-SECRET-KEY"), "{message}");
}

/// The chapter's hands-on session, run for real with the judge's tools in the
/// sandbox: an SSH key and alias, a GnuPG key signing a release tag that is
/// then verified, an age key pair sealing and opening a note. Keys are new at
/// every run, so their fingerprints, dates and random text are redacted.
const SESSION: &str = r#"
run() { printf '$ %s\n' "$1"; eval "$1" 2>&1; printf '[exit %s]\n\n' "$?"; }
export HOME=/work/session/home GNUPGHOME=/work/session/gnupg
mkdir -p "$HOME" && mkdir -m 700 "$HOME/.ssh" "$GNUPGHOME" && cd /work/session
{
run "ssh-keygen -q -t ed25519 -C ada@laptop -N '' -f ~/.ssh/id_ed25519"
run "ls ~/.ssh"
run "ssh-keygen -l -f ~/.ssh/id_ed25519.pub"
printf 'Host mlops-lab\n    HostName lab.mlops-course.example\n    User ada\n    Port 2222\n    IdentityFile ~/.ssh/id_ed25519\n    IdentitiesOnly yes\n' > ssh_config
run "cat ssh_config"
run "ssh -F ssh_config -G mlops-lab 2>/dev/null | grep -E '^(hostname|user|port|identityfile|identitiesonly) '"
run "gpg --batch --passphrase '' --quick-gen-key 'Ada Lovelace <ada@example.org>' ed25519 sign never"
run "gpg --list-keys --keyid-format long ada@example.org 2>/dev/null"
git init -q release && cd release
git config user.name 'Ada Lovelace' && git config user.email ada@example.org
echo 'agebox' > README.md && git add README.md && git commit -q -m 'feat: agebox'
run "gpg --with-colons --list-keys ada@example.org | awk -F: '\$1 == \"fpr\" { print \$10; exit }'"
run "git config user.signingkey \"\$(gpg --with-colons --list-keys ada@example.org | awk -F: '\$1 == \"fpr\" { print \$10; exit }')\""
run "git tag -s v0.1.0 -m 'agebox 0.1.0'"
run "git cat-file -p v0.1.0"
run "git verify-tag v0.1.0"
run "git verify-tag --raw v0.1.0 2>&1 | grep -E 'GOODSIG|VALIDSIG'"
run "gpg --armor --export ada@example.org > ../signing-key.asc && head -n 1 ../signing-key.asc"
cd ..
run "age-keygen -o key.txt"
run "age-keygen -y key.txt"
run "ssh-keygen -l -f ~/.ssh/id_ed25519.pub | cut -d ' ' -f 2 | age -e -a -r \"\$(age-keygen -y key.txt)\" > note.age"
run "cat note.age"
run "age -d -i key.txt note.age"
age-keygen -o other.txt 2>/dev/null
run "age -d -i other.txt note.age"
} | sed -E \
  -e 's#SHA256:[A-Za-z0-9+/]{43}#SHA256:<fingerprint>#g' \
  -e 's#age1[02-9ac-hj-np-z]{58}#age1<recipient>#g' \
  -e 's#[0-9A-F]{40}#<fingerprint>#g' \
  -e 's#[0-9A-F]{16}#<key id>#g' \
  -e 's#^object [0-9a-f]{40}$#object <commit>#' \
  -e 's#^(tagger .*) [0-9]{10} [+-][0-9]{4}$#\1 <time>#' \
  -e 's#(VALIDSIG <fingerprint>) [0-9-]+ [0-9]+ .* (<fingerprint>)$#\1 <date> <time> ... \2#' \
  -e 's#(Signature made) .*#\1 <date>#' \
  -e 's#(created): .*#\1: <date>#' \
  -e 's#[0-9]{4}-[0-9]{2}-[0-9]{2}#<date>#g' \
  -e '/^-----BEGIN AGE ENCRYPTED FILE-----$/,/^-----END AGE ENCRYPTED FILE-----$/{/^-----/!s#.*#<base64>#}' \
  -e '/^-----BEGIN PGP SIGNATURE-----$/,/^-----END PGP SIGNATURE-----$/{/^-----/!s#.*#<base64>#}' \
  | uniq
"#;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let transcript = support::judge_session(
        &docker,
        &week06(),
        "keys",
        SESSION,
        None,
        &Default::default(),
        Some("session"),
    )
    .await;
    support::assert_transcript(
        "week06-session.txt",
        &transcript,
        "--test week06 the_chapters_transcript_is_a_real_run",
    );
}
