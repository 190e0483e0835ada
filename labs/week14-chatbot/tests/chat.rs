//! The service end to end, as the grader drives it: a tiny OpenAI-compatible
//! fake in-process, the service on loopback, real HTTP between them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wine_chatbot::Config;

/// What the fake answers, word by word.
const REPLY: &str = "Dotdrop installs dotfiles per profile [week05-dotfiles], and a second install changes nothing.";
/// Between two chunks of the fake's stream.
const CHUNK_DELAY: Duration = Duration::from_millis(25);

/// The requests the fake received, in order.
type Log = Arc<Mutex<Vec<Value>>>;

#[derive(Clone)]
struct Fake {
    log: Log,
    /// Every call answers this status, with OpenAI's error body.
    fail_with: Option<StatusCode>,
}

/// The fake's `POST /v1/chat/completions`: a scripted reply streamed one
/// word a chunk, then `data: [DONE]`; a message containing "cut" gets two
/// words and a stream that ends without `[DONE]`.
async fn completions(State(fake): State<Fake>, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let last = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    fake.log.lock().expect("log").push(request);
    if let Some(status) = fake.fail_with {
        let error = json!({"error": {"message": "the fake is down", "type": "server_error"}});
        return (status, axum::Json(error)).into_response();
    }
    let chunk = |delta: Value| {
        format!(
            "data: {}\n\n",
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        )
    };
    let mut frames = vec![chunk(json!({"role": "assistant", "content": ""}))];
    let words: Vec<&str> = REPLY.split_inclusive(' ').collect();
    if last.contains("cut") {
        frames.extend(words.iter().take(2).map(|w| chunk(json!({ "content": w }))));
    } else {
        frames.extend(words.iter().map(|w| chunk(json!({ "content": w }))));
        frames.push("data: [DONE]\n\n".to_owned());
    }
    let stream = futures_util::stream::iter(frames).then(|frame| async move {
        tokio::time::sleep(CHUNK_DELAY).await;
        Ok::<_, std::convert::Infallible>(frame)
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn spawn(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn start_fake(fail_with: Option<StatusCode>) -> (String, Log) {
    let log = Log::default();
    let fake = Fake {
        log: log.clone(),
        fail_with,
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(fake);
    (format!("http://{}/v1", spawn(app).await), log)
}

/// The service over the shipped notes, calling `base_url`.
async fn start_service(base_url: &str) -> String {
    let config = Config {
        port: 0,
        notes_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/notes").into(),
        base_url: Some(base_url.to_owned()),
        api_key: Some("sk-test".into()),
        model: "wine-mini".into(),
    };
    let app = wine_chatbot::app(&config).expect("the service");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(wine_chatbot::serve(
        listener,
        app,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    format!("http://{addr}")
}

/// One event as a client reads it, with when it arrived.
struct Event {
    name: String,
    data: Value,
    at: Duration,
}

async fn chat(service: &str, session_id: &str, message: &str) -> (reqwest::Response, Instant) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{service}/chat"))
        .json(&json!({ "session_id": session_id, "message": message }))
        .send()
        .await
        .expect("the service answers");
    (response, started)
}

async fn events(response: reqwest::Response, started: Instant) -> Vec<Event> {
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let mut stream = response.bytes_stream().eventsource();
    let mut out = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.expect("a well-framed event");
        let data = serde_json::from_str(&event.data).expect("each data line is JSON");
        out.push(Event {
            name: event.event,
            data,
            at: started.elapsed(),
        });
    }
    out
}

fn names(events: &[Event]) -> Vec<&str> {
    let mut runs: Vec<&str> = Vec::new();
    for event in events {
        if runs.last() != Some(&event.name.as_str()) {
            runs.push(&event.name);
        }
    }
    runs
}

fn joined_tokens(events: &[Event]) -> String {
    events
        .iter()
        .filter(|e| e.name == "token")
        .map(|e| e.data["text"].as_str().expect("token text"))
        .collect()
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[ignore = "TODO(week 14): passes once retrieval, memory and the relay are written"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_streams_grounded_answers_and_remembers_its_turns() {
    let (base_url, log) = start_fake(None).await;
    let service = start_service(&base_url).await;

    // Turn 1: sources, the answer token by token as the fake writes it, done.
    let first = "How do dotdrop profiles install my dotfiles?";
    let (response, started) = chat(&service, "abc-1", first).await;
    let turn1 = events(response, started).await;
    assert_eq!(names(&turn1), ["sources", "token", "done"]);
    let sources = turn1[0].data["sources"].as_array().expect("sources");
    // The top 3 at most: only notes that share a word with the message.
    assert!((1..=3).contains(&sources.len()), "{sources:?}");
    assert_eq!(sources[0], "week05-dotfiles");
    assert_eq!(joined_tokens(&turn1), REPLY);
    let tokens: Vec<&Event> = turn1.iter().filter(|e| e.name == "token").collect();
    assert!(
        tokens.len() >= 5,
        "one event per upstream delta, got {}",
        tokens.len()
    );
    let spread = tokens[tokens.len() - 1].at - tokens[0].at;
    assert!(
        spread >= CHUNK_DELAY * 5,
        "tokens are relayed as they come, not buffered: all within {spread:?}"
    );
    let done = &turn1[turn1.len() - 1].data;
    assert_eq!(*done, json!({"session_id": "abc-1", "turns": 1}));

    // The first request: grounded in the three notes, then the question.
    {
        let calls = log.lock().expect("log");
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call["model"], "wine-mini");
        assert_eq!(call["stream"], true);
        assert_eq!(call["temperature"], 0);
        let messages = call["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["role"], "system");
        let system = messages[0]["content"].as_str().expect("text");
        assert!(system.starts_with(wine_chatbot::chat::SYSTEM_INSTRUCTION));
        assert!(system.contains("[week05-dotfiles]\n# Week 5: Dotfiles and Dotdrop\n"));
        assert_eq!(messages[1], json!({"role": "user", "content": first}));
    }

    // Turn 2: the first turn goes with the new message, in order.
    let second = "And what does compare show?";
    let (response, started) = chat(&service, "abc-1", second).await;
    let turn2 = events(response, started).await;
    assert_eq!(names(&turn2), ["sources", "token", "done"]);
    assert_eq!(turn2[turn2.len() - 1].data["turns"], 2);
    {
        let calls = log.lock().expect("log");
        let messages = calls[1]["messages"].as_array().expect("messages");
        let tail: Vec<Value> = messages[1..].to_vec();
        assert_eq!(
            tail,
            [
                json!({"role": "user", "content": first}),
                json!({"role": "assistant", "content": REPLY}),
                json!({"role": "user", "content": second}),
            ]
        );
    }

    // Another session starts from nothing.
    let (response, started) = chat(&service, "other_2", "What is a cold start?").await;
    let other = events(response, started).await;
    assert_eq!(other[other.len() - 1].data["turns"], 1);
    assert_eq!(
        log.lock().expect("log")[2]["messages"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // The memory, as the service keeps it.
    let (status, body) = get_json(&format!("{service}/sessions/abc-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"session_id": "abc-1", "turns": [
            {"user": first, "assistant": REPLY},
            {"user": second, "assistant": REPLY},
        ]})
    );

    // A stream cut short ends with `error`, and the turn is not kept.
    let (response, started) = chat(&service, "abc-1", "please cut this one").await;
    let cut = events(response, started).await;
    assert_eq!(names(&cut), ["sources", "token", "error"]);
    assert!(cut[cut.len() - 1].data["error"].is_string());
    let (_, body) = get_json(&format!("{service}/sessions/abc-1")).await;
    assert_eq!(body["turns"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_upstream_call() {
    let (base_url, log) = start_fake(None).await;
    let service = start_service(&base_url).await;
    let client = reqwest::Client::new();
    for (body, field) in [
        (
            json!({"session_id": "no spaces", "message": "Hi"}),
            "session_id",
        ),
        (json!({"session_id": "abc-1", "message": "   "}), "message"),
        (
            json!({"session_id": "abc-1", "message": "Hi", "stream": false}),
            "stream",
        ),
    ] {
        let response = client
            .post(format!("{service}/chat"))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["field"], field, "{body}");
        assert!(error["error"].is_string());
    }
    assert!(
        log.lock().expect("log").is_empty(),
        "no call for a bad request"
    );
    let (status, body) = get_json(&format!("{service}/sessions/abc-1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[ignore = "TODO(week 14): passes once retrieval and memory are written"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upstream_is_a_502_and_nothing_is_stored() {
    // An endpoint that answers 500.
    let (base_url, log) = start_fake(Some(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let service = start_service(&base_url).await;
    let (response, _) = chat(&service, "abc-1", "What is DVC?").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.expect("JSON");
    let error = body["error"].as_str().expect("a message");
    assert!(
        error.contains("500") && error.contains("the fake is down"),
        "{error}"
    );
    assert_eq!(log.lock().expect("log").len(), 1);
    let (status, _) = get_json(&format!("{service}/sessions/abc-1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored");

    // An endpoint that is not there at all.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = closed.local_addr().expect("an address");
    drop(closed);
    let service = start_service(&format!("http://{addr}/v1")).await;
    let (response, _) = chat(&service, "abc-1", "What is DVC?").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .expect("a message")
            .contains("cannot reach")
    );
    let (status, _) = get_json(&format!("{service}/sessions/abc-1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored");
}
