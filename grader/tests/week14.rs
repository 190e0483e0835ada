//! Week 14 end to end: the reference solution and the starter built with their
//! own Dockerfiles on the local base images and graded in full, the grader
//! playing the language model and driving a real Chromium. Each broken
//! submission is a case of `cases/week14.toml` (run by `cases.rs`, on the
//! fixture tool).

mod support;

use grader::spec::LabSpec;
use support::{engine, lost};

fn week14() -> LabSpec {
    grader::spec::embedded_lab("week14")
        .expect("week14 is embedded")
        .expect("week14 is valid")
}

#[tokio::test]
async fn the_reference_solution_scores_full_marks() {
    let Some(docker) = engine().await else { return };
    let report = support::grade_copy(&docker, week14(), "solutions/week14-chatbot").await;
    assert_eq!(lost(&report), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.score.earned, 100, "{report:#?}");
}

#[tokio::test]
async fn the_starter_earns_what_it_already_does_right() {
    let Some(docker) = engine().await else { return };
    support::starter_loses(&docker, week14(), "labs/week14-chatbot", STARTER_LOSES).await;
}

/// What the starter loses: everything that needs a search, the memory or
/// the relay. Its search is the first thing both /retrieve and /chat do
/// after validating, so every answer but a refusal ends in its todo!(); it
/// keeps the image's USER, the two validations and the page, which loads
/// with its labelled message box: 20 points.
const STARTER_LOSES: &[&str] = &[
    "retrieve.snapshot",
    "retrieve.ranking",
    "chat.stream",
    "chat.turns",
    "chat.relayed",
    "chat.sources",
    "chat.upstream-error",
    "sessions.memory",
    "browser.answer",
    "browser.streams",
    "browser.sources",
    "browser.inert",
    "prompt.grounded",
    "prompt.memory",
];

/// The chapter's session: the reference (the fixture tool in its reference
/// mode is week 14's library behind the same routes) against the grader's
/// own OpenAI-compatible fake, served here on a loopback port: a search, two
/// turns of one conversation with their events and when each arrived, the
/// session as the service keeps it, and what the model was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chapters_session_is_a_real_run() {
    use grader::fakes::Fakes;
    use std::time::{Duration, Instant};

    let lab = week14();
    let fakes = Fakes::new(&lab.fakes, &lab.id);
    let spec = &lab.fakes["llm"];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let fake_port = listener.local_addr().expect("addr").port();
    let (serving, declared) = (fakes.clone(), spec.port());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serving.clone().serve(declared, stream));
        }
    });
    let env: Vec<(String, String)> = spec
        .env(&lab.id, 256)
        .into_iter()
        .map(|(k, v)| {
            let here = format!("127.0.0.1:{fake_port}");
            (k, v.replace(&format!("127.0.0.1:{declared}"), &here))
        })
        .collect();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("addr").port()
    };
    let notes = support::workspace().join("solutions/week14-chatbot/notes");
    let mut service = tokio::process::Command::new(support::fixture("fixture-week14"))
        .args(["--mode", "reference"])
        .envs(env)
        .env("PORT", port.to_string())
        .env("NOTES_DIR", &notes)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the service");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the service answers /health within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut transcript = String::new();
    let query = r#"{"query":"How does dotdrop install dotfiles for each profile?","k":3}"#;
    let answer = http
        .post(format!("{base}/retrieve"))
        .header("content-type", "application/json")
        .body(query)
        .send()
        .await
        .expect("/retrieve answers");
    let body: serde_json::Value = answer.json().await.expect("JSON");
    // Scores are rounded for the page: BM25's are f32, and only their
    // order matters here.
    let results: Vec<String> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "  {} {:.2}",
                r["id"].as_str().unwrap_or("?"),
                r["score"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    transcript.push_str(&format!(
        "$ curl -s localhost:8080/retrieve -d '{query}'\n{}\n\n",
        results.join("\n")
    ));

    for message in [
        "What does dotdrop do?",
        "And how are its templates rendered?",
    ] {
        let body = serde_json::json!({ "session_id": "demo", "message": message }).to_string();
        transcript.push_str(&format!("$ curl -sN localhost:8080/chat -d '{body}'\n"));
        let sent = Instant::now();
        let mut answer = http
            .post(format!("{base}/chat"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("/chat answers");
        // Each event when it came, in seconds since the request (the fake
        // writes a word every 100 ms); the times are printed, and shown as
        // `…` on the page, where they would change from run to run.
        let mut buffer = String::new();
        let mut arrivals = Vec::new();
        while let Some(chunk) = answer.chunk().await.expect("the stream") {
            let at = sent.elapsed().as_secs_f64();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                arrivals.push(at);
                transcript.push_str(&format!(
                    "[… s] {}\n",
                    event.trim_end().replace('\n', " | ")
                ));
            }
        }
        println!(
            "{message:?}: {} events, at {:?} s",
            arrivals.len(),
            arrivals
                .iter()
                .map(|t| (t * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
        transcript.push('\n');
    }

    let session: serde_json::Value = http
        .get(format!("{base}/sessions/demo"))
        .send()
        .await
        .expect("/sessions answers")
        .json()
        .await
        .expect("JSON");
    transcript.push_str(&format!(
        "$ curl -s localhost:8080/sessions/demo\n{}\n\n",
        serde_json::to_string_pretty(&session).expect("json")
    ));
    service.start_kill().expect("stop the service");
    let _ = service.wait().await;

    // What the model was sent on the second turn: roles and the first words.
    let calls: serde_json::Value =
        serde_json::from_slice(&fakes.transcript("llm").expect("the fake's transcript"))
            .expect("the transcript is JSON");
    transcript.push_str("# what the model was sent on the second turn\n");
    for m in calls["calls"][1]["messages"].as_array().expect("messages") {
        let text = m["content"].as_str().unwrap_or_default();
        let first: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect();
        let more = text.len() > first.len();
        transcript.push_str(&format!(
            "{:<9} {}{}\n",
            m["role"].as_str().unwrap_or("?"),
            first,
            if more { " …" } else { "" }
        ));
    }

    support::assert_transcript(
        "week14-session.txt",
        &transcript,
        "--test week14 the_chapters_session_is_a_real_run",
    );
}
