//! Week 7 end to end: the wine-config image built from the submission, and
//! the real check-jsonschema, zizmor, sops and kingfisher in the `workflows`
//! judge image. The reference solution and each broken copy of it are the
//! cases of `cases/week07.toml` (run by `cases.rs`); here, the starter's
//! score, and the chapter's session as a real run.

mod support;

use grader::spec::LabSpec;
use support::week07::{Repo, repository};
use support::{engine, lost};

fn week07() -> LabSpec {
    grader::spec::embedded_lab("week07")
        .expect("week07 is embedded")
        .expect("week07 is valid")
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    let dir = repository("labs/week07-workflows-secrets", &[], Repo::Good);
    let report = support::grade_with(
        &docker,
        week07(),
        dir.path(),
        grader::Audience::Student,
        support::real_build_args(),
    )
    .await;
    // The careless workflow is valid but fails every policy; there are no
    // SOPS files yet; the loader prints settings but takes an encrypted file
    // for a plain one. Its history is clean.
    let mut lost = lost(&report);
    lost.sort();
    assert_eq!(
        lost,
        [
            "app.reads-sops",
            "app.refuses-encrypted",
            "readme",
            "sops.decrypts",
            "sops.rules",
            "workflow.hardening",
            "workflow.jobs",
            "workflow.zizmor",
        ],
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 35, "{report:#?}");
}

/// The chapter's hands-on session, run for real with the judge's sops, zizmor
/// and check-jsonschema in the sandbox: settings encrypted to a key, read
/// back, tampered with, opened with the wrong key; a careless workflow
/// audited. Encrypted values, MACs and dates change at every run, so they
/// are redacted.
const SESSION: &str = r##"
run() { printf '$ %s\n' "$1"; eval "$1" 2>&1; printf '[exit %s]\n\n' "$?"; }
mkdir -p /work/session/secrets /work/session/.github/workflows && cd /work/session
cp /work/key.txt /work/other.txt . && cp /work/careless.yml .github/workflows/ci.yml
printf 'creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    encrypted_regex: ^(db_password|registry_token)$\n    age: age1tqhuak6wcrra2kllp4haa3qw8mxxe58prznyhvvn9scvkkzjmv4s66v7z3\n' > .sops.yaml
printf 'model_registry: https://models.example.org/wine\ndb_password: correct-horse-battery\nregistry_token: tok-0123456789\n' > secrets/service.yaml
{
run "cat .sops.yaml"
run "cat secrets/service.yaml"
run "sops encrypt --in-place secrets/service.yaml"
run "cat secrets/service.yaml"
run "SOPS_AGE_KEY_FILE=key.txt sops decrypt secrets/service.yaml"
run "SOPS_AGE_KEY_FILE=key.txt sops decrypt --extract '[\"db_password\"]' secrets/service.yaml && echo"
cp secrets/service.yaml /tmp/service.yaml
run "sed -i 's/models.example.org/models.attacker.example/' secrets/service.yaml"
run "SOPS_AGE_KEY_FILE=key.txt sops decrypt secrets/service.yaml"
cp /tmp/service.yaml secrets/service.yaml
run "SOPS_AGE_KEY_FILE=other.txt sops decrypt secrets/service.yaml"
run "cat .github/workflows/ci.yml"
run "check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci.yml"
run "zizmor --offline --no-progress --min-severity medium --format plain .github/workflows"
} | sed -E \
  -e 's#ENC\[AES256_GCM,data:[^]]*,type:(str|int)\]#ENC[AES256_GCM,data:<...>,iv:<...>,tag:<...>,type:\1]#g' \
  -e 's#^( *lastmodified: ).*#\1"<date>"#' \
  -e 's#^(MAC mismatch. File has )[0-9A-F]+, computed [0-9A-F]+$#\1<mac>, computed <mac>#' \
  -e '/^ *-----BEGIN AGE ENCRYPTED FILE-----$/,/^ *-----END AGE ENCRYPTED FILE-----$/{/-----/!s#^( *).*#\1<base64>#}' \
  | uniq
"##;

#[tokio::test]
async fn the_chapters_transcript_is_a_real_run() {
    let Some(docker) = engine().await else { return };
    let files = std::collections::BTreeMap::from([
        (
            "key.txt".to_string(),
            "AGE-SECRET-KEY-1DNC8K6T8C7U8ZC4LFJHJ3JE3FWH582Z0UA0PJCMK5PTLR8ZWMX5Q90G943\n"
                .to_string(),
        ),
        (
            "other.txt".to_string(),
            std::fs::read_to_string(support::workspace().join("grader/course-key/practice.txt"))
                .expect("the practice key"),
        ),
        (
            "careless.yml".to_string(),
            std::fs::read_to_string(
                support::workspace()
                    .join("solutions/week07-workflows-secrets/.starter/.github/workflows/ci.yml"),
            )
            .expect("the starter's workflow"),
        ),
    ]);
    let transcript = support::judge_session(
        &docker,
        &week07(),
        "workflows",
        SESSION,
        None,
        &files,
        Some("session"),
    )
    .await;
    support::assert_transcript(
        "week07-session.txt",
        &transcript,
        "--test week07 the_chapters_transcript_is_a_real_run",
    );
}
