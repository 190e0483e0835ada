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
