//! An OpenAI-compatible `POST /v1/chat/completions`, plain and streamed as
//! server-sent events, with scripted answers, scripted rate limits and usage
//! counted in words (one token a whitespace-separated word, so that a lab can
//! check a student's token accounting against the fake's `usage`).

use super::{Body, KEPT_CALLS, json, kept, read_body};
use crate::spec::{OPENAI_KEY, Reply};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub struct OpenAi {
    reply: String,
    replies: Vec<Reply>,
    rate_limit: Vec<u32>,
    retry_after_secs: u64,
    chunk_delay: Duration,
    started: Instant,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    /// Every call to the completions route, kept or not.
    count: u32,
    calls: Vec<Value>,
    by_status: std::collections::BTreeMap<u16, u32>,
    /// When the previous call was recorded, in ms since the fake started.
    last_ms: Option<u64>,
}

impl OpenAi {
    /// The fake a lab's `kind = "openai"` declares (see `FakeSpec::OpenAi`).
    pub fn new(
        reply: &str,
        replies: &[Reply],
        rate_limit: &[u32],
        retry_after_secs: u64,
        chunk_delay_ms: u64,
    ) -> Self {
        OpenAi {
            reply: reply.to_string(),
            replies: replies.to_vec(),
            rate_limit: rate_limit.to_vec(),
            retry_after_secs,
            chunk_delay: Duration::from_millis(chunk_delay_ms),
            started: Instant::now(),
            log: Mutex::new(Log::default()),
        }
    }

    /// `{"kind": "openai", "count": N, "by_status": {"200": n, …}, "calls": […]}`;
    /// each call holds its number, time (`at_ms` since the fake started,
    /// `gap_ms` since the previous call), status, model, whether it streamed,
    /// the messages, the reply and the usage.
    pub fn transcript(&self) -> Value {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let by_status: serde_json::Map<String, Value> = log
            .by_status
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        json!({
            "kind": "openai",
            "count": log.count,
            "by_status": by_status,
            "calls": log.calls,
        })
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() != "/v1/chat/completions" {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "this fake serves POST /v1/chat/completions only",
            );
        }
        if req.method() != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "use POST",
            );
        }
        let n = {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.count += 1;
            log.count
        };
        let authorized = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {OPENAI_KEY}"));
        let Some(body) = read_body(req).await else {
            return self.record(
                n,
                json!({}),
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "the request body is over 256 KiB",
                ),
            );
        };
        let request: Option<Value> = serde_json::from_slice(&body).ok();
        let seen = request
            .as_ref()
            .map(summary)
            .unwrap_or_else(|| json!({ "body": kept(&String::from_utf8_lossy(&body)) }));
        if !authorized {
            let answer = error(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "send the key from OPENAI_API_KEY as `Authorization: Bearer …`",
            );
            return self.record(n, seen, answer);
        }
        if self.rate_limit.contains(&n) {
            let mut answer = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "rate limit reached; retry after the Retry-After header's seconds",
            );
            if let Ok(v) = self.retry_after_secs.to_string().parse() {
                answer.headers_mut().insert("retry-after", v);
            }
            return self.record(n, seen, answer);
        }
        let Some((model, messages, stream)) = request.as_ref().and_then(parse) else {
            let answer = error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "expected a JSON object with a string `model` and a non-empty `messages` array of {role, content}",
            );
            return self.record(n, seen, answer);
        };
        let last_user = messages
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map(|(_, text)| text.to_lowercase())
            .unwrap_or_default();
        let reply = self
            .replies
            .iter()
            .find(|r| last_user.contains(&r.contains.to_lowercase()))
            .map_or(self.reply.as_str(), |r| r.reply.as_str())
            .to_string();
        let prompt_tokens: usize = messages.iter().map(|(_, t)| words(t)).sum();
        let completion_tokens = words(&reply);
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        });
        let id = format!("chatcmpl-grader-{n}");
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut seen = seen;
        seen["reply"] = json!(kept(&reply));
        seen["usage"] = usage.clone();
        let answer = if stream {
            let include_usage = request
                .as_ref()
                .and_then(|r| r.pointer("/stream_options/include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let chunk = |delta: Value, finish: Value| {
                json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                })
            };
            let mut events = vec![chunk(
                json!({ "role": "assistant", "content": "" }),
                Value::Null,
            )];
            let pieces: Vec<String> = reply.split_inclusive(' ').map(String::from).collect();
            events.extend(
                pieces
                    .into_iter()
                    .map(|p| chunk(json!({ "content": p }), Value::Null)),
            );
            events.push(chunk(json!({}), json!("stop")));
            if include_usage {
                events.push(json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [], "usage": usage,
                }));
            }
            let mut frames: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
            frames.push("data: [DONE]\n\n".to_string());
            sse(frames, self.chunk_delay)
        } else {
            json(
                StatusCode::OK,
                &json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{
                        "index": 0,
                        "message": { "role": "assistant", "content": reply },
                        "finish_reason": "stop",
                    }],
                    "usage": usage,
                }),
            )
        };
        self.record(n, seen, answer)
    }

    /// Keeps a call in the transcript (up to the cap) and returns its answer.
    fn record(&self, n: u32, mut seen: Value, answer: Response<Body>) -> Response<Body> {
        let status = answer.status().as_u16();
        let at_ms = self.started.elapsed().as_millis() as u64;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        *log.by_status.entry(status).or_default() += 1;
        // The pause since the previous call: how long a client waited before
        // retrying a 429 (its Retry-After honoured, or not).
        let gap_ms = log.last_ms.map(|last| at_ms.saturating_sub(last));
        log.last_ms = Some(at_ms);
        if log.calls.len() < KEPT_CALLS {
            if let Value::Object(map) = &mut seen {
                map.insert("n".into(), json!(n));
                map.insert("status".into(), json!(status));
                map.insert("at_ms".into(), json!(at_ms));
                map.insert("gap_ms".into(), json!(gap_ms));
            }
            log.calls.push(seen);
        }
        answer
    }
}

/// What the transcript keeps of a request: model, stream, messages (clipped).
fn summary(request: &Value) -> Value {
    let messages: Vec<Value> = request
        .get("messages")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .take(100)
                .map(|m| {
                    json!({
                        "role": m.get("role").and_then(Value::as_str).map(kept),
                        "content": content_text(m.get("content")).map(|t| kept(&t)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "model": request.get("model").and_then(Value::as_str).map(kept),
        "stream": request.get("stream").and_then(Value::as_bool).unwrap_or(false),
        "messages": messages,
    })
}

/// A message as (role, text).
type Message = (String, String);

/// The model, the messages and whether to stream, from a well-formed request.
fn parse(request: &Value) -> Option<(String, Vec<Message>, bool)> {
    let model = request.get("model")?.as_str()?.to_string();
    let messages = request
        .get("messages")?
        .as_array()?
        .iter()
        .map(|m| {
            Some((
                m.get("role")?.as_str()?.to_string(),
                content_text(m.get("content"))?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    if messages.is_empty() {
        return None;
    }
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(v) => v.as_bool()?,
    };
    Some((model, messages, stream))
}

/// A message's text: a string, or the text parts of an array of parts.
fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// The fake's tokens: whitespace-separated words.
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// OpenAI's error shape.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        &json!({ "error": { "message": message, "type": code, "param": null, "code": code } }),
    )
}

/// A `text/event-stream` answer whose frames come `delay` apart.
fn sse(frames: Vec<String>, delay: Duration) -> Response<Body> {
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), true),
        move |(mut rest, first)| async move {
            let frame = rest.next()?;
            if !first {
                tokio::time::sleep(delay).await;
            }
            Some((Ok(Frame::data(Bytes::from(frame))), (rest, false)))
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(http_body_util::StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|_| Response::new(super::full(String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_as_the_api_defines_it() {
        let good = json!({"model": "m", "messages": [{"role": "user", "content": "Hi there"}]});
        let (model, messages, stream) = parse(&good).expect("well formed");
        assert_eq!((model.as_str(), stream), ("m", false));
        assert_eq!(messages, vec![("user".to_string(), "Hi there".to_string())]);
        let parts = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": [{"type": "text", "text": "a b"}]}]});
        assert_eq!(parse(&parts).expect("parts").1[0].1, "a b");
        for bad in [
            json!({"messages": [{"role": "user", "content": "x"}]}),
            json!({"model": "m", "messages": []}),
            json!({"model": "m", "messages": [{"content": "x"}]}),
            json!({"model": "m", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
        assert_eq!(words("  one two\nthree "), 3);
    }
}
