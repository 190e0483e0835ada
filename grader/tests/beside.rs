//! A judge beside the service: a command check with `service = true` runs in
//! the service phase, its containers joined to the submission's network
//! namespace, so a real tool can call the running service at 127.0.0.1, and
//! still reach nothing else. The same command before the service reaches
//! nothing at all.

mod support;

use grader::spec::LabSpec;
use std::net::TcpListener;
use support::{Image, bridge_gateway, engine, grade, submission, verdict_of};

/// A Python one-liner in the dotdrop judge's image (Debian's python3) that
/// GETs `url` and prints the body; it exits 1 when it cannot connect.
fn fetch(url: &str) -> String {
    format!(
        "args = [\"python3\", \"-c\", \"import urllib.request; print(urllib.request.urlopen('{url}', timeout=3).read().decode())\"]"
    )
}

fn lab(canary: &str) -> LabSpec {
    let health = fetch("http://127.0.0.1:8080/health");
    let host = fetch(canary);
    let text = format!(
        r#"
id = "beside"
title = "A judge beside the service"
week = 9

[container]
port = 8080
ready_path = "/health"
ready_timeout_secs = 10
run_timeout_secs = 60

[judges]
dotdrop = "mlops-judge/dotdrop:1.12.9"

[[checks]]
id = "health"
title = "GET /health answers 200"
points = 1
kind = "http"
request = {{ path = "/health" }}
expect = {{ status = 200 }}

[[checks]]
id = "judge.beside"
title = "a judge beside the service reaches it"
points = 1
kind = "command"
service = true
timeout_secs = 30
steps = [{{ image = "judge:dotdrop", {health} }}]
expect = {{ stdout = {{ contains = ["\"status\":\"ok\""] }} }}

[[checks]]
id = "judge.apart"
title = "the same judge before the service reaches nothing"
points = 1
kind = "command"
timeout_secs = 30
steps = [{{ image = "judge:dotdrop", {health} }}]

[[checks]]
id = "judge.host"
title = "a judge beside the service cannot reach the host"
points = 1
kind = "command"
service = true
timeout_secs = 30
steps = [{{ image = "judge:dotdrop", {host} }}]
"#
    );
    LabSpec::parse(&text, "beside.rs", Default::default()).expect("the test lab is valid")
}

#[tokio::test]
async fn a_judge_beside_the_service_reaches_it_and_nothing_else() {
    let Some(docker) = engine().await else { return };
    // A canary on every host address: a container that could reach the host
    // would reach it at the default bridge's gateway.
    let canary = TcpListener::bind(("0.0.0.0", 0)).expect("canary");
    canary.set_nonblocking(true).expect("nonblocking");
    let port = canary.local_addr().expect("addr").port();
    let gateway = bridge_gateway(&docker).await;
    let lab = lab(&format!("http://{gateway}:{port}/"));
    let dir = submission("reference", Image::Good, &[]);
    let report = grade(&docker, lab, dir.path()).await;

    let beside = verdict_of(&report, "judge.beside");
    assert!(beside.earned == 1, "{beside:?}");
    assert!(verdict_of(&report, "health").earned == 1);
    // Before the service, no network: the same request fails to connect.
    let apart = verdict_of(&report, "judge.apart");
    assert_eq!(apart.earned, 0, "{apart:?}");
    let said = apart.message.as_deref().unwrap_or_default();
    assert!(said.contains("got 1") && said.contains("urllib"), "{said}");
    // Beside the service, only the service's namespace: the host is not there.
    let host = verdict_of(&report, "judge.host");
    assert_eq!(host.earned, 0, "{host:?}");
    assert!(
        canary.accept().is_err(),
        "the canary on the host received a connection from a judge"
    );
}
