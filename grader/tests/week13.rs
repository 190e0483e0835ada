//! Week 13 end to end: the reference solution and the starter built with their
//! own Dockerfiles on the local base images and graded in full, the grader
//! playing the Lambda runtime API and the OpenAI-compatible endpoint. Each
//! broken submission is a case of `cases/week13.toml` (run by `cases.rs`, on
//! the fixture tool).

mod support;

use grader::spec::LabSpec;
use support::{engine, lost};

fn week13() -> LabSpec {
    grader::spec::embedded_lab("week13")
        .expect("week13 is embedded")
        .expect("week13 is valid")
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let report = support::grade_copy(&docker, week13(), "solutions/week13-serverless-llmops").await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100, "{report:#?}");
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    support::starter_loses(
        &docker,
        week13(),
        "labs/week13-serverless-llmops",
        STARTER_LOSES,
    )
    .await;
}

/// What the starter loses: every item. The cold-start flag is the first
/// thing the handler asks, so every invocation panics (lambda_runtime
/// answers it through …/error); the tampered start panics in
/// report_init_error; the harness's first cache lookup panics; and the
/// README's two sections are to write. It scores 0.
const STARTER_LOSES: &[&str] = &[
    "function.cold-start",
    "function.predict",
    "function.unknown-field",
    "function.out-of-range",
    "function.warm",
    "function.tampered",
    "harness.runs",
    "report.versions",
    "report.scores",
    "report.tokens",
    "report.cost",
    "report.retries",
    "cache.second-run",
    "llm.calls",
    "llm.backoff",
    "function.init-error",
    "readme.latency",
];

/// The chapter's session: the reference (the fixture tool in its reference
/// mode is week 13's library put together as its command line does) against
/// the grader's own fakes, served here on loopback ports: the function
/// started, three events handed to it, then the lab's evaluation run twice
/// on one cache. Times change from run to run and are shown as `…`; the
/// latencies the README reports are printed by this test (`--nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chapters_session_is_a_real_run() {
    use grader::fakes::Fakes;
    use grader::spec::{CheckKind, FakeSpec};
    use std::time::{Duration, Instant};

    let lab = week13();
    let fakes = Fakes::new(&lab.fakes, &lab.id);
    // Each fake on a loopback port of its own, answered as the grader does.
    let mut ports = std::collections::BTreeMap::new();
    for (name, spec) in &lab.fakes {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        ports.insert(name.clone(), listener.local_addr().expect("addr").port());
        let (fakes, declared) = (fakes.clone(), spec.port());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(fakes.clone().serve(declared, stream));
            }
        });
    }
    let env_of = |name: &str| -> Vec<(String, String)> {
        let spec: &FakeSpec = &lab.fakes[name];
        let declared = format!("127.0.0.1:{}", spec.port());
        let here = format!("127.0.0.1:{}", ports[name]);
        spec.env(&lab.id, 256)
            .into_iter()
            .map(|(k, v)| (k, v.replace(&declared, &here)))
            .collect()
    };

    let work = tempfile::tempdir().expect("tempdir");
    let tool = support::fixture("fixture-week13");
    let run = |args: &[&str], env: &[(String, String)]| {
        let out = std::process::Command::new(&tool)
            .args(["--mode", "reference"])
            .args(args)
            .envs(env.iter().cloned())
            .current_dir(work.path())
            .output()
            .expect("run the tool");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    };
    let mut transcript = String::new();
    let show =
        |transcript: &mut String, line: &str, (stdout, stderr, code): (String, String, i32)| {
            transcript.push_str(&format!("$ {line}\n{stdout}{stderr}[exit {code}]\n\n"));
        };

    // The model and its pin, as the Dockerfile makes them.
    show(
        &mut transcript,
        "wine-serverless train --out model.json",
        run(&["train", "--out", "model.json"], &[]),
    );
    let model = std::fs::read(work.path().join("model.json")).expect("model.json");
    let pin = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(&model);
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(work.path().join("model.sha256"), format!("{pin}\n")).expect("pin");

    // The function, against the Lambda fake.
    let lambda = fakes.lambda("runtime").expect("the runtime fake");
    let mut asked = lambda.asked();
    let started = Instant::now();
    let mut function = tokio::process::Command::new(&tool)
        .args(["--mode", "reference", "lambda"])
        .envs(env_of("runtime"))
        .env("MODEL_PATH", work.path().join("model.json"))
        .env("MODEL_PIN_PATH", work.path().join("model.sha256"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the function");
    tokio::time::timeout(
        Duration::from_secs(20),
        asked.wait_for(|p| p.asked > 0 || p.init_error.is_some()),
    )
    .await
    .expect("the function asks for an event within 20 s")
    .expect("the fake is there");
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    let events: Vec<serde_json::Value> = lab
        .checks
        .iter()
        .filter_map(|c| match &c.kind {
            CheckKind::Invoke { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect();
    transcript.push_str("$ wine-serverless lambda   # AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001\n");
    let mut latencies = Vec::new();
    for (n, event) in events.iter().enumerate() {
        let t = Instant::now();
        let answer = lambda
            .invoke(event.clone(), Duration::from_secs(10))
            .await
            .expect("an answer");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let body: serde_json::Value = serde_json::from_slice(&answer.body).expect("a JSON answer");
        transcript.push_str(&format!(
            "# event {}: {} wine(s) -> …/{}\n{}\n",
            n + 1,
            event["inputs"].as_array().map_or(0, Vec::len),
            answer.route.name(),
            serde_json::to_string(&body).expect("json")
        ));
    }
    // Warm latency: twenty more valid events.
    let warm_event = events.last().expect("a valid event").clone();
    let mut warm = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        lambda
            .invoke(warm_event.clone(), Duration::from_secs(10))
            .await
            .expect("an answer");
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    function.start_kill().expect("stop the function");
    let out = function.wait_with_output().await.expect("its log");
    let log = String::from_utf8_lossy(&out.stdout);
    // The function's own log: the start and each invocation (lambda_runtime's
    // own lines about the errors left out).
    let own = |l: &&str| l.contains("initialised") || l.contains("invocation ");
    for line in log.lines().filter(own).take(5) {
        transcript.push_str(line);
        transcript.push('\n');
    }
    transcript.push('\n');
    warm.sort_by(f64::total_cmp);
    let handled = regex::Regex::new(r"handled_us=([0-9]+)").expect("regex");
    let mut handled_us: Vec<u64> = handled
        .captures_iter(&log)
        .filter_map(|c| c[1].parse().ok())
        .collect();
    handled_us.sort_unstable();
    println!(
        "cold start: ready {ready_ms:.1} ms after the process started, first invocation {:.2} ms; warm: p50 {:.2} ms, p95 {:.2} ms over {} invocations; the handler's own time: median {} µs",
        latencies[0],
        warm[warm.len() / 2],
        warm[warm.len() * 95 / 100],
        warm.len(),
        handled_us
            .get(handled_us.len() / 2)
            .copied()
            .unwrap_or_default()
    );

    // The harness, on the lab's files, against the OpenAI-compatible fake.
    let harness = lab
        .checks
        .iter()
        .find_map(|c| match &c.kind {
            CheckKind::Command(spec) if c.id == "harness.runs" => Some(spec.clone()),
            _ => None,
        })
        .expect("harness.runs");
    for (path, text) in &harness.files {
        let path = work.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, text).expect("write a lab file");
    }
    let llm = env_of("llm");
    for step in &harness.steps {
        let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
        let line = format!("wine-serverless {}", step.args.join(" "));
        let output = tokio::task::block_in_place(|| run(&args, &llm));
        show(&mut transcript, &line, output);
    }
    let first = std::fs::read_to_string(work.path().join("out/first.json")).expect("first.json");
    transcript.push_str(&format!("$ cat out/first.json\n{first}"));

    let times = regex::Regex::new(
        r#"(?m)^\S+Z\s+|init_ms=[0-9.]+|handled_us=[0-9]+|xrayTraceId="[^"]*"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
    )
    .expect("regex");
    let transcript = times.replace_all(&transcript, |c: &regex::Captures| {
        let m = &c[0];
        if let Some(key) = m
            .strip_suffix('"')
            .and_then(|m| m.split_once('='))
            .map(|(k, _)| k)
        {
            format!("{key}=\"…\"")
        } else if let Some((key, _)) = m.split_once('=') {
            format!("{key}=…")
        } else if m.ends_with(char::is_whitespace) {
            String::new()
        } else {
            "…".to_string()
        }
    });
    support::assert_transcript(
        "week13-session.txt",
        &transcript,
        "--test week13 the_chapters_session_is_a_real_run",
    );
}
