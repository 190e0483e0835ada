//! The fakes the grader serves: a Lambda function on the real `lambda_runtime`
//! client and a small OpenAI client, each a static program `FROM scratch`,
//! reach the lab's fakes at 127.0.0.1 inside their own namespace; the grader
//! answers, keeps transcripts, and judges both.

mod support;

use grader::result::Verdict;
use grader::spec::LabSpec;
use support::{engine, fixture, grade, lost, passed, verdict_of};

/// A submission running the static `bin` with `args`, `FROM scratch`.
fn submission(bin: &str, args: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture(bin), dir.path().join(bin)).expect("copy fixture");
    let argv: Vec<String> = std::iter::once(format!("\"/{bin}\""))
        .chain(args.iter().map(|a| format!("\"{a}\"")))
        .collect();
    let df = format!(
        "FROM scratch\nCOPY {bin} /{bin}\nUSER 65532:65532\nENTRYPOINT [{}]\n",
        argv.join(", ")
    );
    std::fs::write(dir.path().join("Dockerfile"), df).expect("Dockerfile");
    dir
}

fn lambda_lab() -> LabSpec {
    let text = r#"
id = "lambda"
title = "A function on the Lambda runtime API"
week = 13

[container]
ready_fake = "runtime"
ready_timeout_secs = 10
run_timeout_secs = 60

[fakes.runtime]
kind = "lambda"
port = 9001

[[checks]]
id = "invoke.sum"
title = "An event of numbers is answered with their sum"
points = 1
kind = "invoke"
fake = "runtime"
event = { inputs = [1, 2, 3.5] }
expect = { at = { "/sum" = 6.5 } }

[[checks]]
id = "invoke.bad"
title = "A bad event is answered through the error route"
points = 1
kind = "invoke"
fake = "runtime"
event = { inputs = "none" }
route = "error"
expect = { mentions = "bad event" }

[[checks]]
id = "transcript.count"
title = "The fake saw two invocations"
points = 1
kind = "file"
rule = "json"
from = "fake:runtime"
path = "transcript.json"
pointer = "/count"
equals = 2

[[checks]]
id = "transcript.route"
title = "The second invocation was answered through the error route"
points = 1
kind = "file"
rule = "json"
from = "fake:runtime"
path = "transcript.json"
pointer = "/invocations/1/route"
equals = "error"
"#;
    LabSpec::parse(text, "lambda.toml", Default::default()).expect("valid lab")
}

#[tokio::test]
async fn a_lambda_runtime_function_is_invoked_through_the_fake() {
    let Some(docker) = engine().await else { return };
    let dir = submission("fixture-lambda", &[]);
    let report = grade(&docker, lambda_lab(), dir.path()).await;
    assert!(lost(&report).is_empty(), "{report:#?}");
    assert_eq!(report.score.earned, report.score.max);
}

#[tokio::test]
async fn a_function_that_never_asks_for_an_event_is_never_ready() {
    let Some(docker) = engine().await else { return };
    let mut lab = lambda_lab();
    lab.container.ready_timeout_secs = 3;
    let dir = submission("fixture-lambda", &["silent"]);
    let report = grade(&docker, lab, dir.path()).await;
    let detail = report.container.detail.clone().unwrap_or_default();
    assert!(detail.contains("invocation/next"), "{detail}");
    for id in ["invoke.sum", "invoke.bad"] {
        assert_eq!(verdict_of(&report, id).verdict, Verdict::NotRun, "{id}");
    }
    // Its transcript is still judged: empty, so the counts fail.
    assert!(!passed(&report, "transcript.count"));
}

fn chat_lab() -> LabSpec {
    let text = r#"
id = "chat"
title = "A client of an OpenAI-compatible endpoint"
week = 13

[container]
port = 8080
ready_timeout_secs = 10
run_timeout_secs = 60

[fakes.llm]
kind = "openai"
port = 8081
rate_limit = [1]
retry_after_secs = 1
replies = [{ contains = "acidity", reply = "Acidity keeps a red wine fresh." }]

[[checks]]
id = "ask"
title = "An answer comes back, after the fake's 429"
points = 1
kind = "http"
request = { method = "POST", path = "/ask", json = { question = "What about acidity?" } }
expect = { status = 200, at = { "/answer" = "Acidity keeps a red wine fresh.", "/tokens" = 13 } }

[[checks]]
id = "ask.stream"
title = "A streamed answer is joined from its chunks"
points = 1
kind = "http"
request = { method = "POST", path = "/ask-stream", json = { question = "And tannin?" } }
expect = { status = 200, at = { "/answer" = "This is the grader's fake model answering.", "/chunks" = 7 } }

[[checks]]
id = "transcript.calls"
title = "Three calls: a 429, its retry, the stream"
points = 1
kind = "file"
rule = "json"
from = "fake:llm"
path = "transcript.json"
pointer = "/count"
equals = 3

[[checks]]
id = "transcript.waited"
title = "The retry came after the 429's Retry-After"
points = 1
kind = "file"
rule = "json"
from = "fake:llm"
path = "transcript.json"
pointer = "/calls/1/gap_ms"
min = 1000

[[checks]]
id = "transcript.prompt"
title = "The retried call asked the student's question"
points = 1
kind = "file"
rule = "json"
from = "fake:llm"
path = "transcript.json"
pointer = "/calls/1/messages/1/content"
equals = "What about acidity?"
"#;
    LabSpec::parse(text, "chat.toml", Default::default()).expect("valid lab")
}

#[tokio::test]
async fn an_openai_client_is_answered_plainly_and_streamed() {
    let Some(docker) = engine().await else { return };
    let dir = submission("fixture-chat", &["good"]);
    let report = grade(&docker, chat_lab(), dir.path()).await;
    assert!(lost(&report).is_empty(), "{report:#?}");
}

#[tokio::test]
async fn a_client_that_does_not_retry_or_wait_or_sends_no_key_loses_what_it_misses() {
    let Some(docker) = engine().await else { return };
    let dir = submission("fixture-chat", &["no-retry"]);
    let report = grade(&docker, chat_lab(), dir.path()).await;
    // (Its second call, the stream, came as soon as the first check ended:
    // whether that counts as waiting is not this case's point.)
    let lost_but_waited: Vec<String> = lost(&report)
        .into_iter()
        .filter(|id| id != "transcript.waited")
        .collect();
    assert_eq!(
        lost_but_waited,
        vec![
            "ask".to_string(),
            "transcript.calls".to_string(),
            "transcript.prompt".to_string()
        ],
        "{report:#?}"
    );
    let dir = submission("fixture-chat", &["impatient"]);
    let report = grade(&docker, chat_lab(), dir.path()).await;
    assert_eq!(
        lost(&report),
        vec!["transcript.waited".to_string()],
        "{report:#?}"
    );
    let dir = submission("fixture-chat", &["no-key"]);
    let report = grade(&docker, chat_lab(), dir.path()).await;
    let lost = lost(&report);
    assert!(
        lost.contains(&"ask".to_string()) && lost.contains(&"ask.stream".to_string()),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_flood_of_hostile_connections_to_a_fake_costs_the_submission_only() {
    let Some(docker) = engine().await else { return };
    let mut lab = chat_lab();
    lab.container.ready_timeout_secs = 40;
    let dir = submission("fixture-chat", &["flood"]);
    let report = grade(&docker, lab, dir.path()).await;
    // The flood's calls took the rate-limited first call; the grade still
    // ends, and the streamed answer after it is judged as usual.
    assert!(passed(&report, "ask.stream"), "{report:#?}");
    assert!(!passed(&report, "transcript.calls"), "{report:#?}");
}
