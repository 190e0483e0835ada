//! The language model: an OpenAI-compatible `POST {base}/chat/completions`,
//! always streamed, and its answer read as the pieces arrive.
//!
//! [`Upstream::open`] sends the request and returns once the endpoint has
//! answered 2xx with an event stream: anything that fails before that is an
//! [`UpstreamError`], and `/chat` answers 502 without having sent a byte.
//! [`deltas`] then turns the body into the answer's text pieces. The SSE
//! framing (events split across network reads, `\r\n`, comments) is
//! `eventsource-stream`'s job; only a stream that reached `data: [DONE]` is
//! a whole answer.

use std::fmt::Display;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// One chat message, as the endpoint takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Message {
            role: role.to_owned(),
            content: content.into(),
        }
    }
}

/// Why no answer stream could be opened.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no language model is configured: set OPENAI_BASE_URL")]
    NotConfigured,
    #[error("cannot reach the language model at {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("the language model answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the language model did not stream: its answer is `{0}`, not text/event-stream")]
    NotAStream(String),
}

/// Why an answer stream stopped before `data: [DONE]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the answer stream ended without `data: [DONE]`")]
    Truncated,
    #[error("event {event} of the answer stream is not a chat.completion.chunk: {reason}")]
    BadChunk { event: usize, reason: String },
    #[error("the language model reported an error in the answer stream: {0}")]
    Server(String),
    #[error("the answer stream is not valid server-sent events: {0}")]
    Framing(String),
    #[error("the answer stream broke off: {0}")]
    Transport(String),
}

/// The JSON body of a call: streamed, temperature 0 (the same question
/// gets the same answer, which a grader and a cache can rely on).
pub fn request_body(model: &str, messages: &[Message]) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "stream": true,
        "temperature": 0,
        "messages": messages,
    })
}

/// The completions URL under `base_url`: one trailing `/` dropped, then
/// `/chat/completions`. Only `http://`: see Cargo.toml on TLS.
pub fn completions_url(base_url: &str) -> Result<String, AppError> {
    let base = base_url.trim();
    let base = base.strip_suffix('/').unwrap_or(base);
    if base.starts_with("https://") {
        return Err(AppError::Config(format!(
            "OPENAI_BASE_URL {base_url} is https, and this build has no TLS; point it at an http:// endpoint (a local model server or proxy)"
        )));
    }
    match reqwest::Url::parse(base) {
        Ok(parsed) if parsed.scheme() == "http" && parsed.host().is_some() => {
            Ok(format!("{base}/chat/completions"))
        }
        _ => Err(AppError::Config(format!(
            "OPENAI_BASE_URL `{base_url}` is not an http:// URL such as http://127.0.0.1:8000/v1"
        ))),
    }
}

/// The endpoint's own explanation in an error answer: OpenAI's
/// `{"error": {"message": …}}`, or the start of whatever else it sent.
fn api_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Answer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    let text = match serde_json::from_str::<Answer>(body) {
        Ok(answer) => answer.error.message,
        Err(_) => body.chars().take(300).collect(),
    };
    let text = crate::one_line(&text);
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        text
    }
}

/// The client of the endpoint, shared by every request.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    /// `None` when no base URL is configured.
    url: Option<String>,
    key: Option<String>,
    model: String,
}

impl Upstream {
    /// A client of `base_url` (the part before `/chat/completions`). A URL
    /// that can never work is refused now, at start, rather than on every
    /// chat.
    pub fn new(base_url: Option<&str>, key: Option<&str>, model: &str) -> Result<Self, AppError> {
        let url = base_url.map(completions_url).transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Between two reads, not for the whole answer: a long answer
            // streams for as long as it streams, a stalled one fails.
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| AppError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Upstream {
            http,
            url,
            key: key.map(str::to_owned),
            model: model.to_owned(),
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Where calls go, if anywhere.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Sends `messages` and returns the answer once it is known to be a
    /// stream: 2xx and `text/event-stream` (or no content type at all).
    pub async fn open(&self, messages: &[Message]) -> Result<reqwest::Response, UpstreamError> {
        let url = self.url.as_deref().ok_or(UpstreamError::NotConfigured)?;
        let mut request = self
            .http
            .post(url)
            .json(&request_body(&self.model, messages));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| UpstreamError::Transport {
            url: url.to_owned(),
            reason: crate::error_chain(&e.without_url()),
        })?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                message: api_message(&text),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/event-stream");
        if !content_type.starts_with("text/event-stream") {
            return Err(UpstreamError::NotAStream(content_type.to_owned()));
        }
        Ok(response)
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    /// Some servers report a failure inside a stream they already began.
    #[serde(default)]
    error: Option<ServerError>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ServerError {
    #[serde(default)]
    message: String,
}

/// The text pieces of a streamed completion, `choices[0].delta.content`,
/// in order and as they arrive. Chunks without text (the opening role, the
/// closing `finish_reason`, a usage report) give none. The stream ends
/// after `data: [DONE]`; anything else that ends it is an error, the last
/// item.
pub fn deltas<S, B, E>(body: S) -> impl Stream<Item = Result<String, StreamError>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: Display + Send + 'static,
{
    let events = Box::pin(body.eventsource());
    futures_util::stream::unfold(Some((events, 0usize)), |state| async move {
        let (mut events, mut index) = state?;
        loop {
            let event = match events.next().await {
                None => return Some((Err(StreamError::Truncated), None)),
                Some(Err(err)) => {
                    let err = match err {
                        eventsource_stream::EventStreamError::Transport(e) => {
                            StreamError::Transport(crate::one_line(&e.to_string()))
                        }
                        other => StreamError::Framing(crate::one_line(&other.to_string())),
                    };
                    return Some((Err(err), None));
                }
                Some(Ok(event)) => event,
            };
            if event.data == "[DONE]" {
                return None;
            }
            let chunk: Chunk = match serde_json::from_str(&event.data) {
                Ok(chunk) => chunk,
                Err(err) => {
                    let err = StreamError::BadChunk {
                        event: index,
                        reason: err.to_string(),
                    };
                    return Some((Err(err), None));
                }
            };
            index += 1;
            if let Some(error) = chunk.error {
                let err = StreamError::Server(crate::one_line(&error.message));
                return Some((Err(err), None));
            }
            let text = chunk
                .choices
                .into_iter()
                .next()
                .and_then(|choice| choice.delta.content)
                .filter(|text| !text.is_empty());
            if let Some(text) = text {
                return Some((Ok(text), Some((events, index))));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` delivered in pieces of `size` bytes, as a network might.
    fn pieces(
        text: &str,
        size: usize,
    ) -> impl Stream<Item = Result<Vec<u8>, String>> + Send + use<> {
        let chunks: Vec<Result<Vec<u8>, String>> = text
            .as_bytes()
            .chunks(size)
            .map(|c| Ok(c.to_vec()))
            .collect();
        futures_util::stream::iter(chunks)
    }

    fn read(
        body: impl Stream<Item = Result<Vec<u8>, String>> + Send + 'static,
    ) -> Vec<Result<String, StreamError>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(deltas(body).collect())
    }

    const STREAM: &str = concat!(
        ": keep-alive\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Dotdrop "},"finish_reason":null}]}"#,
        "\r\n\r\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"installs."},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn the_pieces_come_out_in_order_however_the_stream_is_cut() {
        for size in [1, 3, 7, 64, STREAM.len()] {
            let got = read(pieces(STREAM, size));
            assert_eq!(
                got,
                [Ok("Dotdrop ".to_owned()), Ok("installs.".to_owned())],
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn a_stream_without_done_ends_with_an_error() {
        let cut = STREAM.replace("data: [DONE]\n\n", "");
        let got = read(pieces(&cut, 5));
        assert_eq!(got.len(), 3);
        assert_eq!(got.last(), Some(&Err(StreamError::Truncated)));
        // `[DONE]` without the blank line that ends an event never arrived.
        let unfinished = STREAM.replace("data: [DONE]\n\n", "data: [DONE]");
        assert_eq!(
            read(pieces(&unfinished, 5)).last(),
            Some(&Err(StreamError::Truncated))
        );
        assert_eq!(read(pieces("", 1)), [Err(StreamError::Truncated)]);
    }

    #[test]
    fn a_bad_chunk_an_error_event_or_a_broken_connection_is_an_error() {
        let bad = "data: {\"choices\": [\n\ndata: [DONE]\n\n";
        assert!(matches!(
            read(pieces(bad, 4)).as_slice(),
            [Err(StreamError::BadChunk { event: 0, .. })]
        ));
        let error = "data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            read(pieces(error, 4)),
            [Err(StreamError::Server("overloaded".into()))]
        );
        let broken = futures_util::stream::iter(vec![
            Ok(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n".to_vec()),
            Err("connection reset".to_owned()),
        ]);
        assert_eq!(
            read(broken),
            [
                Ok("a".to_owned()),
                Err(StreamError::Transport("connection reset".into()))
            ]
        );
    }

    #[test]
    fn the_request_streams_at_temperature_zero() {
        let body = request_body("gpt-4o-mini", &[Message::new("user", "Hi")]);
        assert_eq!(
            body,
            serde_json::json!({
                "model": "gpt-4o-mini",
                "stream": true,
                "temperature": 0,
                "messages": [{"role": "user", "content": "Hi"}],
            })
        );
    }

    #[test]
    fn the_url_drops_one_trailing_slash_and_refuses_what_it_cannot_reach() {
        assert_eq!(
            completions_url("http://127.0.0.1:9100/v1/").expect("ok"),
            "http://127.0.0.1:9100/v1/chat/completions"
        );
        for bad in [
            "https://api.openai.com/v1",
            "127.0.0.1:9100/v1",
            "ftp://x/v1",
            "http://",
        ] {
            assert!(completions_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_answers_are_read_for_their_message() {
        assert_eq!(
            api_message(r#"{"error":{"message":"Incorrect API key\nprovided","type":"x"}}"#),
            "Incorrect API key provided"
        );
        assert_eq!(api_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(api_message(""), "(no message)");
    }
}
