//! Attacks at build time: a build that never ends, a build that tries to
//! download (from a Dockerfile step or a `build.rs`), a huge context, a
//! context of countless files, a link out of the context. Each fails cleanly
//! with a build verdict, or is contained, and leaves nothing behind.

mod support;

use bollard::query_parameters::ListContainersOptionsBuilder;
use grader::result::ContainerVerdict;
use std::time::{Duration, Instant};
use support::{engine, grade, lost, week08};

/// The local builder image (`cargo xtask base-images`), with bash and cargo.
fn builder() -> String {
    support::real_build_args()
        .get("BUILDER_IMAGE")
        .cloned()
        .unwrap_or_else(|| "mlops-local/rust-builder:1.95".to_string())
}

/// The Dockerfile lines of a good final image around the fixture binary.
const GOOD_FINAL: &str = "FROM scratch\nCOPY fixture-week08 /app/fixture-week08\n\
LABEL org.opencontainers.image.title=\"wine-service example\"\nUSER 65532:65532\n\
EXPOSE 8080\nENTRYPOINT [\"/app/fixture-week08\", \"--mode\", \"reference\"]\n";

fn folder_with(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(support::fixture_bin(), dir.path().join("fixture-week08")).expect("copy");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write");
    dir
}

fn detail(report: &grader::Report) -> String {
    report.container.detail.clone().unwrap_or_default()
}

#[tokio::test]
async fn an_endless_build_is_stopped_at_its_deadline_and_its_container_goes() {
    let Some(docker) = engine().await else { return };
    let marker = format!("endless-build-{}", std::process::id());
    let dir = folder_with(&format!(
        "FROM {}\nRUN echo {marker} && while :; do :; done\n",
        builder()
    ));
    let mut lab = week08();
    lab.build.timeout_secs = 15;
    let t = Instant::now();
    let report = grade(&docker, lab, dir.path()).await;
    assert!(
        t.elapsed() < Duration::from_secs(15 + 45),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert!(
        detail(&report).contains("did not finish within 15 s"),
        "{report:#?}"
    );
    assert_eq!(report.score.earned, 0);
    // The engine removes the step's container once the build is cancelled.
    let t = Instant::now();
    loop {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let running: Vec<_> = docker
            .list_containers(Some(opts))
            .await
            .expect("list containers")
            .into_iter()
            .filter(|c| {
                c.command
                    .as_deref()
                    .is_some_and(|cmd| cmd.contains(&marker))
            })
            .collect();
        if running.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the endless step's container is still there: {running:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn downloads_during_the_build_reach_nothing() {
    let Some(docker) = engine().await else { return };
    let canary = std::net::TcpListener::bind(("0.0.0.0", 0)).expect("canary");
    canary.set_nonblocking(true).expect("nonblocking");
    let port = canary.local_addr().expect("addr").port();
    let gateway = support::bridge_gateway(&docker).await;
    // A shell step and a build script both try the host; either one getting
    // through fails the build, so a 100 means neither did.
    let dockerfile = format!(
        "FROM {builder} AS tricks\nWORKDIR /src\nCOPY tricks/ .\n\
RUN for a in {gateway} 127.0.0.1; do if timeout 3 bash -c \"exec 3<>/dev/tcp/$a/{port}\"; then echo REACHED $a; exit 1; fi; done; echo download refused\n\
RUN cargo build --offline --quiet\n{GOOD_FINAL}",
        builder = builder()
    );
    let dir = folder_with(&dockerfile);
    let tricks = dir.path().join("tricks");
    std::fs::create_dir_all(tricks.join("src")).expect("mkdir");
    std::fs::write(
        tricks.join("Cargo.toml"),
        "[package]\nname = \"tricks\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::write(tricks.join("src/main.rs"), "fn main() {}\n").expect("write");
    std::fs::write(
        tricks.join("build.rs"),
        format!(
            "fn main() {{\n    for a in [\"{gateway}:{port}\", \"127.0.0.1:{port}\"] {{\n        \
let addr: std::net::SocketAddr = a.parse().unwrap();\n        \
if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).is_ok() {{\n            \
panic!(\"REACHED {{a}}\");\n        }}\n    }}\n    \
println!(\"cargo:warning=SCORE 100/100\");\n}}\n"
        ),
    )
    .expect("write");
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert!(
        canary.accept().is_err(),
        "the canary on the host received a connection from the build"
    );
    // The tagged image is the final stage; the build stage left no image.
    assert_eq!(report.container.verdict, ContainerVerdict::Ran);
}

#[tokio::test]
async fn a_huge_context_is_refused_before_anything_is_sent() {
    let Some(docker) = engine().await else { return };
    let dir = folder_with(GOOD_FINAL);
    // 10 GB that take no disk: the cap is checked on sizes, before reading.
    let huge = std::fs::File::create(dir.path().join("huge.bin")).expect("create");
    huge.set_len(10 << 30).expect("sparse file");
    let t = Instant::now();
    let report = grade(&docker, week08(), dir.path()).await;
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert!(
        detail(&report).contains("over its 64 MB cap (reached at huge.bin)"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_context_of_countless_files_is_refused() {
    let Some(docker) = engine().await else { return };
    let dir = folder_with(GOOD_FINAL);
    let many = dir.path().join("target");
    std::fs::create_dir(&many).expect("mkdir");
    for i in 0..grader::context::MAX_ENTRIES {
        std::fs::write(many.join(i.to_string()), "").expect("write");
    }
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert!(
        detail(&report).contains("over 10000 files and folders"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_link_out_of_the_context_is_refused() {
    let Some(docker) = engine().await else { return };
    let dir = folder_with(&format!("{GOOD_FINAL}COPY secrets /secrets\n"));
    std::os::unix::fs::symlink("/etc", dir.path().join("secrets")).expect("symlink");
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert!(
        detail(&report).contains("secrets is a link that leads outside the submission (/etc)"),
        "{report:#?}"
    );
}

/// A Cargo.lock with one crate from crates.io the builder holds (serde, at
/// the version week 8 pins) and `extra` after it.
fn folder_with_lock(extra: &str) -> tempfile::TempDir {
    let dir = folder_with(&format!(
        "FROM {} AS build\nRUN cargo --version\n{GOOD_FINAL}",
        builder()
    ));
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"lab\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .expect("manifest");
    // The version the labs pin, so the builder holds it.
    let lock = std::fs::read_to_string(
        support::workspace().join("solutions/week08-model-service/Cargo.lock"),
    )
    .expect("week 8's lock");
    let version = lock
        .split("[[package]]")
        .find_map(|p| p.strip_prefix("\nname = \"serde\"\nversion = \""))
        .and_then(|rest| rest.split('"').next())
        .expect("serde in week 8's lock");
    let serde = format!(
        "[[package]]\nname = \"serde\"\nversion = \"{version}\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
    );
    std::fs::write(
        dir.path().join("Cargo.lock"),
        format!(
            "version = 4\n\n[[package]]\nname = \"lab\"\nversion = \"0.1.0\"\n\n{serde}\n{extra}"
        ),
    )
    .expect("lock");
    dir
}

#[tokio::test]
async fn a_git_dependency_is_refused_before_the_build_in_one_line() {
    let Some(docker) = engine().await else { return };
    let dir = folder_with_lock(
        "[[package]]\nname = \"evil\"\nversion = \"0.1.0\"\nsource = \"git+https://example.invalid/evil#0123\"\n",
    );
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    let d = detail(&report);
    assert!(
        d.starts_with(
            "Cargo.lock: evil 0.1.0 comes from git (git+https://example.invalid/evil#0123)"
        ),
        "{d}"
    );
    assert!(!d.contains('\n'), "{d}");
}

#[tokio::test]
async fn a_crate_the_builder_does_not_hold_is_named_before_the_build() {
    let Some(docker) = engine().await else { return };
    let dir = folder_with_lock(
        "[[package]]\nname = \"not-in-the-builder\"\nversion = \"9.9.9\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
    assert_eq!(
        detail(&report),
        "Cargo.lock needs 1 crate the course's builder image does not hold (not-in-the-builder 9.9.9), and the Dockerfile names its builder image without a build argument, so the grader cannot hand it the crates it fetches: use `FROM ${BUILDER_IMAGE}` as the starter does, or only the crates and versions the starter's Cargo.lock pins"
    );
    // Without it, the same folder passes the check and builds.
    let held = folder_with_lock("");
    let report = grade(&docker, week08(), held.path()).await;
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
}
