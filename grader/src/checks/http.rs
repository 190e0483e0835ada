//! Sending a check's request through the relay and holding the answer to an
//! expectation.

use super::{Env, Outcome, Problem, clip};
use crate::spec::{Expect, RequestSpec, Rows, first_rows};
use serde_json::Value;

/// The most of an answer the grader reads; a longer one fails the check.
const ANSWER_CAP: usize = 1 << 20;

/// An HTTP answer, read whole (up to the cap).
pub struct Answer {
    pub status: u16,
    /// What a redirect (3xx) said, as " (a redirect to …)"; empty otherwise.
    pub redirect: String,
    /// The `Content-Type` header, when there was one.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body as it came: each chunk with when it arrived, in ms since
    /// the request was sent (a streamed answer is judged by its timing).
    pub chunks: Vec<(bytes::Bytes, u64)>,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request; a service that does not answer properly fails the check.
pub async fn send(env: &Env<'_>, req: &RequestSpec) -> Result<Answer, Problem> {
    let url = format!("{}{}", env.base, req.path);
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| Problem::Error(format!("bad method: {e}")))?;
    let body = body_of(req, env.rows);
    let content_type = req.content_type.as_deref().unwrap_or("application/json");
    let attempt = |body: Option<Vec<u8>>| {
        let mut builder = env.http.request(method.clone(), &url);
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        builder.send()
    };
    let started = std::time::Instant::now();
    let mut sent = attempt(body.clone()).await;
    // A service that refuses a large body (413) answers before it has read
    // it and closes: the grader's write can then fail (a broken pipe, a
    // reset) before its read gets the answer. The race is the wire's, not
    // the service's; a second try settles it. Small bodies never race.
    if let Err(e) = &sent
        && body.as_ref().is_some_and(|b| b.len() > RACY_BODY)
        && cut_while_writing(e)
    {
        sent = attempt(body).await;
    }
    let response = sent.map_err(|e| {
        Problem::Fail(format!(
            "{} {}: no answer ({})",
            req.method,
            req.path,
            describe(&e)
        ))
    })?;
    let status = response.status().as_u16();
    let redirect = super::redirect_note(status, response.headers());
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut body = Vec::new();
    let mut chunks = Vec::new();
    let mut response = response;
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            Problem::Fail(format!(
                "{} {}: answer cut off ({})",
                req.method,
                req.path,
                describe(&e)
            ))
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > ANSWER_CAP {
            return Err(Problem::Fail(format!(
                "{} {}: the answer is over {} bytes",
                req.method, req.path, ANSWER_CAP
            )));
        }
        body.extend_from_slice(&chunk);
        chunks.push((chunk, started.elapsed().as_millis() as u64));
    }
    Ok(Answer {
        status,
        redirect,
        content_type,
        body,
        chunks,
    })
}

/// The request's body, sent as `application/json` unless the request names
/// another content type: inline JSON, raw text (for
/// malformed JSON), or the first of the lab's rows.
pub fn body_of(req: &RequestSpec, rows: Option<&Rows>) -> Option<Vec<u8>> {
    if let Some(json) = &req.json {
        Some(json.to_string().into_bytes())
    } else if let Some(raw) = &req.raw {
        Some(raw.clone().into_bytes())
    } else {
        let (n, rows) = req.rows.zip(rows)?;
        Some(rows.body(&first_rows(n)).to_string().into_bytes())
    }
}

/// Bodies above this size can race an early answer (see [`send`]).
const RACY_BODY: usize = 64 << 10;

/// Whether the connection was cut while the request was still being written.
fn cut_while_writing(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            )
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// The innermost cause, which says what went wrong on the wire.
pub fn describe(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        source.to_string()
    }
}

/// Sends `req` and holds the answer to `expect`.
pub async fn expect(env: &Env<'_>, req: &RequestSpec, expect: &Expect) -> Outcome {
    let answer = send(env, req).await?;
    judge(req, expect, &answer)
}

/// Holds an answer to an expectation; pure, so it is unit-tested without a service.
pub fn judge(req: &RequestSpec, expect: &Expect, answer: &Answer) -> Outcome {
    judge_as(&format!("{} {}", req.method, req.path), expect, answer)
}

/// Holds an answer to an expectation; `what` names it in messages.
pub fn judge_as(what: &str, expect: &Expect, answer: &Answer) -> Outcome {
    let body_hint = || clip(&answer.text(), 200);
    if let Some(status) = expect.status
        && answer.status != status
    {
        return Err(Problem::Fail(format!(
            "{what}: expected status {status}, got {}{}; body: {}",
            answer.status,
            answer.redirect,
            body_hint()
        )));
    }
    if !expect.status_in.is_empty() && !expect.status_in.contains(&answer.status) {
        let allowed: Vec<String> = expect.status_in.iter().map(u16::to_string).collect();
        return Err(Problem::Fail(format!(
            "{what}: expected status {}, got {}{}; body: {}",
            allowed.join(" or "),
            answer.status,
            answer.redirect,
            body_hint()
        )));
    }
    if let Some(want) = &expect.content_type {
        let got = answer.content_type.as_deref().unwrap_or("");
        let media = got.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(want) {
            return Err(Problem::Fail(format!(
                "{what}: expected Content-Type {want}, got {}",
                if got.is_empty() {
                    "none".to_string()
                } else {
                    clip(got, 80)
                }
            )));
        }
    }
    if let Some(want) = &expect.sse {
        let events = super::sse::events(answer)
            .map_err(|m| Problem::Fail(format!("{what}: {}", clip(&m, 200))))?;
        super::sse::judge(what, want, &events)?;
    }
    let needs_json = expect.json.is_some()
        || expect.json_body
        || !expect.keys.is_empty()
        || expect.mentions.is_some()
        || !expect.at.is_empty();
    if !needs_json {
        return Ok(());
    }
    let Some(json) = answer.json() else {
        return Err(Problem::Fail(format!(
            "{what}: the body is not JSON: {}",
            body_hint()
        )));
    };
    if let Some(want) = &expect.json
        && &json != want
    {
        return Err(Problem::Fail(format!(
            "{what}: expected the body {want}, got {}",
            clip(&json.to_string(), 200)
        )));
    }
    for key in &expect.keys {
        match json.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(other) => {
                return Err(Problem::Fail(format!(
                    "{what}: \"{key}\" should be a non-empty string, got {}",
                    clip(&other.to_string(), 80)
                )));
            }
            None => {
                return Err(Problem::Fail(format!(
                    "{what}: the body has no \"{key}\": {}",
                    clip(&json.to_string(), 200)
                )));
            }
        }
    }
    if let Some(word) = &expect.mentions
        && !json
            .to_string()
            .to_lowercase()
            .contains(&word.to_lowercase())
    {
        return Err(Problem::Fail(format!(
            "{what}: the error should name \"{word}\"; got {}",
            clip(&json.to_string(), 200)
        )));
    }
    for (pointer, want) in &expect.at {
        match json.pointer(pointer) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(Problem::Fail(format!(
                    "{what}: expected {pointer} to be {want}, got {}",
                    clip(&got.to_string(), 120)
                )));
            }
            None => {
                return Err(Problem::Fail(format!(
                    "{what}: expected {pointer} to be {want}, but the body has none: {}",
                    clip(&json.to_string(), 200)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> RequestSpec {
        RequestSpec {
            method: "POST".into(),
            ..RequestSpec::get("/predict")
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            redirect: String::new(),
            content_type: None,
            body: body.as_bytes().to_vec(),
            chunks: Vec::new(),
        }
    }

    fn fails(r: Outcome) -> String {
        match r {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_status_among_those_allowed() {
        let e = Expect {
            status_in: vec![415, 422],
            ..Default::default()
        };
        assert!(judge(&req(), &e, &answer(415, "")).is_ok());
        assert!(judge(&req(), &e, &answer(422, "")).is_ok());
        let m = fails(judge(&req(), &e, &answer(200, "{}")));
        assert!(m.contains("expected status 415 or 422, got 200"), "{m}");
        let both = Expect {
            status: Some(415),
            ..e.clone()
        };
        assert!(both.validate().is_err());
    }

    #[test]
    fn status_and_naming_the_field() {
        let e = Expect {
            status: Some(422),
            mentions: Some("alcohol".into()),
            ..Default::default()
        };
        assert!(
            judge(
                &req(),
                &e,
                &answer(422, r#"{"error":"bad","field":"inputs[0].alcohol"}"#)
            )
            .is_ok()
        );
        let m = fails(judge(&req(), &e, &answer(400, "nope")));
        assert!(m.contains("expected status 422, got 400"), "{m}");
        let m = fails(judge(&req(), &e, &answer(422, "alcohol is wrong")));
        assert!(m.contains("not JSON"), "{m}");
        let m = fails(judge(&req(), &e, &answer(422, r#"{"error":"bad"}"#)));
        assert!(m.contains("should name \"alcohol\""), "{m}");
    }

    #[test]
    fn the_field_is_held_to_the_contract_not_just_mentioned() {
        let e = Expect {
            status: Some(422),
            at: [("/field".to_string(), serde_json::json!("inputs[0].ph"))].into(),
            ..Default::default()
        };
        let ok = r#"{"error":"ph must be a number","field":"inputs[0].ph"}"#;
        assert!(judge(&req(), &e, &answer(422, ok)).is_ok());
        // The wrong solutions that naming the word let through.
        for (body, said) in [
            (
                r#"{"error":"ph","field":null}"#,
                "expected /field to be \"inputs[0].ph\", got null",
            ),
            (r#"{"error":"x","field":"ph"}"#, "got \"ph\""),
            (
                r#"{"error":"x","field":"inputs[0].phosphate"}"#,
                "got \"inputs[0].phosphate\"",
            ),
            (r#"{"error":"ph is wrong"}"#, "but the body has none"),
        ] {
            let m = fails(judge(&req(), &e, &answer(422, body)));
            assert!(m.contains(said), "{m}");
        }
    }

    #[test]
    fn a_redirect_is_an_answer_and_its_location_is_named() {
        let e = Expect {
            status: Some(200),
            ..Default::default()
        };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::LOCATION,
            reqwest::header::HeaderValue::from_static("http://127.0.0.1:9/x"),
        );
        let redirect = super::super::redirect_note(302, &headers);
        let m = fails(judge(
            &req(),
            &e,
            &Answer {
                redirect,
                ..answer(302, "")
            },
        ));
        assert!(
            m.contains(
                "got 302 (a redirect to http://127.0.0.1:9/x, which the grader does not follow)"
            ),
            "{m}"
        );
        assert_eq!(super::super::redirect_note(200, &headers), "");
        assert!(
            super::super::redirect_note(307, &reqwest::header::HeaderMap::new())
                .contains("no Location header")
        );
    }

    #[test]
    fn exact_json_and_keys() {
        let e = Expect {
            json: Some(serde_json::json!({"status": "ok"})),
            ..Default::default()
        };
        assert!(judge(&req(), &e, &answer(200, r#"{ "status" : "ok" }"#)).is_ok());
        assert!(judge(&req(), &e, &answer(200, r#"{"status":"healthy"}"#)).is_err());
        let k = Expect {
            keys: vec!["git_revision".into()],
            ..Default::default()
        };
        assert!(judge(&req(), &k, &answer(200, r#"{"git_revision":"abc"}"#)).is_ok());
        let m = fails(judge(&req(), &k, &answer(200, r#"{"git_revision":""}"#)));
        assert!(m.contains("non-empty string"), "{m}");
        let m = fails(judge(&req(), &k, &answer(200, r#"{}"#)));
        assert!(m.contains("has no \"git_revision\""), "{m}");
    }
}
