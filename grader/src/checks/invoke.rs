//! The `invoke` check: an event handed to the function through a Lambda fake,
//! its answer taken back by the route the check expects and held to the
//! check's expectation, as an HTTP answer's body is.

use super::http::{Answer, judge_as};
use super::{Env, Outcome, Problem, clip};
use crate::spec::{Expect, Route};
use std::time::Duration;

pub async fn check(
    env: &Env<'_>,
    fake: &str,
    event: &serde_json::Value,
    route: Route,
    expect: Option<&Expect>,
    limit: Duration,
) -> Outcome {
    let lambda = env
        .fakes
        .and_then(|f| f.lambda(fake))
        .ok_or_else(|| Problem::Error(format!("no Lambda fake \"{fake}\" in this grade")))?;
    let answer = lambda
        .invoke(event.clone(), limit)
        .await
        .map_err(Problem::Fail)?;
    let body_hint = || clip(&String::from_utf8_lossy(&answer.body), 200);
    if answer.route != route {
        let kind = answer
            .error_type
            .as_deref()
            .map(|t| format!(" ({})", clip(t, 80)))
            .unwrap_or_default();
        return Err(Problem::Fail(format!(
            "the event {} was answered by …/{}{kind}, expected …/{}; body: {}",
            clip(&event.to_string(), 80),
            answer.route.name(),
            route.name(),
            body_hint()
        )));
    }
    let Some(expect) = expect else {
        return Ok(());
    };
    let what = format!("the {} to {}", route.name(), clip(&event.to_string(), 60));
    let as_http = Answer {
        status: 0,
        redirect: String::new(),
        content_type: None,
        body: answer.body,
        chunks: Vec::new(),
    };
    judge_as(&what, expect, &as_http)
}
