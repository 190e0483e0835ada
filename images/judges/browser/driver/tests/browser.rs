//! End to end: serve a tiny chat page from an in-process axum server on
//! 127.0.0.1, run the built `judge-browser` on a scenario against it, and read
//! the result JSON. Needs Chromium and chromedriver (Debian's packages, or
//! the paths in $CHROMIUM and $CHROMEDRIVER).
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Value, json};

const PAGE: &str = r#"<!doctype html>
<html><head><title>chat</title></head><body>
<textarea id="message"></textarea>
<button id="send">Send</button>
<div id="answer"></div>
<div id="sources"></div>
<div id="extra"></div>
<script>
  const INJECT = __INJECT__;
  document.getElementById('send').addEventListener('click', function () {
    const question = document.getElementById('message').value;
    const answer = document.getElementById('answer');
    const parts = ['Dotdrop ', 'installs ', 'dotfiles (you asked: ' + question + ')'];
    let i = 0;
    const timer = setInterval(function () {
      answer.textContent += parts[i];
      i += 1;
      if (i === parts.length) {
        clearInterval(timer);
        document.getElementById('sources').textContent =
          'week05-dotfiles ' + (INJECT ? 'x'.repeat(5000) : '');
        if (INJECT) {
          document.getElementById('extra').innerHTML = '<b id="injected">hi</b>';
        }
        answer.setAttribute('data-state', 'done');
      }
    }, 150);
  });
</script>
</body></html>
"#;

fn page(inject: bool) -> String {
    PAGE.replace("__INJECT__", if inject { "true" } else { "false" })
}

/// Serve the two pages on 127.0.0.1 from a thread of its own; returns the address.
fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = Router::new()
                .route("/", get(|| async { Html(page(false)) }))
                .route("/injected", get(|| async { Html(page(true)) }));
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    addr
}

/// A port that is free now, for chromedriver.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn browser_installed() -> bool {
    let path = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let ok = path("CHROMIUM", "/usr/bin/chromium").exists()
        && path("CHROMEDRIVER", "/usr/bin/chromedriver").exists();
    if !ok {
        eprintln!("SKIPPED: chromium or chromedriver is not installed");
    }
    ok
}

fn scenario(url: &str, timeout_ms: u64) -> Value {
    json!({
        "url": url,
        "timeout_ms": timeout_ms,
        "driver_port": free_port(),
        "steps": [
            {"id": "load", "wait": "#message"},
            {"id": "ask", "type": {"selector": "#message", "text": "What does dotdrop do?"}},
            {"id": "send", "click": "#send"},
            {"id": "answer", "wait_text": {"selector": "#answer", "contains": "you asked: What does dotdrop do?", "partial": true}},
            {"id": "done", "wait_attr": {"selector": "#answer", "name": "data-state", "equals": "done"}},
            {"id": "sources", "text": {"selector": "#sources", "contains": "week05-dotfiles"}},
            {"id": "markup", "absent": "#injected"}
        ]
    })
}

/// Run the binary on `scenario`; returns (exit code, stderr, parsed result).
fn judge(name: &str, scenario: &Value) -> (i32, String, Option<Value>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{name}"));
    std::fs::create_dir_all(&dir).expect("test dir");
    let scenario_path = dir.join("scenario.json");
    let result_path = dir.join("result.json");
    let _ = std::fs::remove_file(&result_path);
    std::fs::write(&scenario_path, scenario.to_string()).expect("write scenario");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_judge-browser"))
        .arg(&scenario_path)
        .arg(&result_path)
        .output()
        .expect("run judge-browser");
    eprintln!("{name}: judge-browser took {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let result = std::fs::read_to_string(&result_path)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("result is JSON"));
    (out.status.code().unwrap_or(-1), stderr, result)
}

fn ok(result: &Value, id: &str) -> bool {
    result
        .pointer(&format!("/results/{id}/ok"))
        .and_then(Value::as_bool)
        .unwrap_or_else(|| panic!("no /results/{id}/ok in {result:#}"))
}

#[test]
fn a_streamed_answer_is_seen_arriving_in_pieces() {
    if !browser_installed() {
        return;
    }
    let addr = serve();
    let (code, stderr, result) = judge("clean", &scenario(&format!("http://{addr}/"), 15000));
    assert_eq!(code, 0, "stderr: {stderr}");
    let r = result.expect("a result file");
    assert_eq!(r["loaded"], json!(true), "{r:#}");
    assert!(
        r["browser"].as_str().unwrap_or("").starts_with("Chromium "),
        "{r:#}"
    );
    for id in ["load", "ask", "send", "answer", "done", "sources", "markup"] {
        assert!(ok(&r, id), "{id} failed: {r:#}");
        assert!(r["results"][id]["ms"].is_u64(), "{r:#}");
    }
    assert_eq!(r["results"]["answer"]["partial_seen"], json!(true), "{r:#}");
    assert_eq!(
        r["results"]["answer"]["text"],
        json!("Dotdrop installs dotfiles (you asked: What does dotdrop do?)")
    );
    assert_eq!(r["console_errors"], json!([]), "{r:#}");
}

#[test]
fn injected_markup_fails_the_absent_step_and_long_text_is_truncated() {
    if !browser_installed() {
        return;
    }
    let addr = serve();
    let (code, stderr, result) = judge(
        "injected",
        &scenario(&format!("http://{addr}/injected"), 15000),
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    let r = result.expect("a result file");
    for id in ["load", "ask", "send", "answer", "done", "sources"] {
        assert!(ok(&r, id), "{id} failed: {r:#}");
    }
    assert!(!ok(&r, "markup"), "{r:#}");
    let detail = r["results"]["markup"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("an element matches #injected"), "{detail}");
    let text = r["results"]["sources"]["text"].as_str().unwrap_or("");
    assert_eq!(text.chars().count(), 2000, "{text}");
}

#[test]
fn a_page_that_never_loads_leaves_the_rest_not_run() {
    if !browser_installed() {
        return;
    }
    // A port with nothing listening on it.
    let url = format!("http://127.0.0.1:{}/", free_port());
    let (code, stderr, result) = judge("down", &scenario(&url, 1500));
    assert_eq!(code, 0, "stderr: {stderr}");
    let r = result.expect("a result file");
    assert_eq!(r["loaded"], json!(false), "{r:#}");
    assert!(!ok(&r, "load"));
    let detail = r["results"]["load"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("did not load"), "{detail}");
    for id in ["ask", "send", "answer", "done", "sources", "markup"] {
        assert!(!ok(&r, id), "{r:#}");
        assert_eq!(
            r["results"][id]["detail"],
            json!("not run: the page did not load")
        );
    }
}

#[test]
fn bad_usage_and_bad_scenarios_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_judge-browser"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("usage:"), "{err}");

    let mut bad = scenario("http://127.0.0.1:1/", 1000);
    bad["steps"][2]["clik"] = json!("#send");
    let (code, stderr, result) = judge("bad", &bad);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown field `clik`"), "{stderr}");
    assert!(result.is_none());
}

#[test]
fn a_missing_chromedriver_exits_3_naming_it() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-nodriver");
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario_path = dir.join("scenario.json");
    std::fs::write(
        &scenario_path,
        scenario("http://127.0.0.1:1/", 1000).to_string(),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_judge-browser"))
        .env("CHROMEDRIVER", dir.join("no-such-chromedriver"))
        .arg(&scenario_path)
        .arg(dir.join("result.json"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("chromedriver could not be started"), "{err}");
}
