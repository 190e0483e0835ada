//! Reading a streamed chat completion: Server-Sent Events whose `data:`
//! fields are JSON chunks, ending with `data: [DONE]`.
//!
//! The SSE framing (events split across network reads, comments, `\r\n`
//! line ends) is `eventsource-stream`'s job; this module reads the chunks:
//! the text is the `choices[0].delta.content` pieces joined, the usage comes
//! from the chunk that carries one (with `stream_options.include_usage` it
//! is the last, with empty `choices`). Only a stream that reached `[DONE]` is
//! an answer: anything else was cut short, and is never cached or scored.

use std::fmt::Display;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use crate::ledger::Usage;

/// A streamed answer, put back together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub text: String,
    /// `stop`, or `length` when the answer hit `max_tokens`.
    pub finish_reason: Option<String>,
    /// Present when the request asked for `stream_options.include_usage`.
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the answer stream ended without `data: [DONE]`: the answer may be cut short")]
    Truncated,
    #[error("event {event} of the answer stream is not a chat.completion.chunk: {reason}")]
    BadChunk { event: usize, reason: String },
    #[error("the endpoint reported an error in the answer stream: {0}")]
    Server(String),
    #[error("the answer stream is not valid server-sent events: {0}")]
    Framing(String),
    #[error("the answer stream broke off: {0}")]
    Transport(String),
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    /// `null` in every chunk but the last when usage is asked for.
    #[serde(default)]
    usage: Option<Usage>,
    /// Some servers report a failure inside a stream they already began.
    #[serde(default)]
    error: Option<ServerError>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
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

/// Reads a streamed completion from its body, as the bytes arrive.
pub async fn read_reply<S, B, E>(body: S) -> Result<Reply, StreamError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    let mut events = std::pin::pin!(body.eventsource());
    let mut reply = Reply::default();
    let mut index = 0;
    while let Some(event) = events.next().await {
        let event = event.map_err(|err| match err {
            eventsource_stream::EventStreamError::Transport(e) => {
                StreamError::Transport(crate::one_line(&e.to_string()))
            }
            other => StreamError::Framing(crate::one_line(&other.to_string())),
        })?;
        if event.data == "[DONE]" {
            return Ok(reply);
        }
        let chunk: Chunk =
            serde_json::from_str(&event.data).map_err(|err| StreamError::BadChunk {
                event: index,
                reason: err.to_string(),
            })?;
        index += 1;
        if let Some(error) = chunk.error {
            return Err(StreamError::Server(crate::one_line(&error.message)));
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(piece) = choice.delta.content {
                reply.text.push_str(&piece);
            }
            if choice.finish_reason.is_some() {
                reply.finish_reason = choice.finish_reason;
            }
        }
        if chunk.usage.is_some() {
            reply.usage = chunk.usage;
        }
    }
    Err(StreamError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` delivered in pieces of `size` bytes, as a network might.
    fn pieces(text: &str, size: usize) -> impl Stream<Item = Result<Vec<u8>, String>> {
        let chunks: Vec<Result<Vec<u8>, String>> = text
            .as_bytes()
            .chunks(size)
            .map(|c| Ok(c.to_vec()))
            .collect();
        futures_util::stream::iter(chunks)
    }

    fn read(text: &str, size: usize) -> Result<Reply, StreamError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(read_reply(pieces(text, size)))
    }

    const STREAM: &str = concat!(
        ": keep-alive\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Tartaric "},"finish_reason":null}],"usage":null}"#,
        "\r\n\r\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"acid, mostly."},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":3,"total_tokens":24}}"#,
        "\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn a_stream_is_reassembled_with_its_usage_however_it_is_cut() {
        for size in [1, 3, 7, 64, STREAM.len()] {
            let reply = read(STREAM, size).expect("a whole stream");
            assert_eq!(reply.text, "Tartaric acid, mostly.", "pieces of {size}");
            assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
            assert_eq!(
                reply.usage,
                Some(Usage {
                    prompt_tokens: 21,
                    completion_tokens: 3
                })
            );
        }
    }

    #[test]
    fn a_stream_without_done_is_truncated() {
        let cut = STREAM.replace("data: [DONE]\n\n", "");
        assert_eq!(read(&cut, 5), Err(StreamError::Truncated));
        // `[DONE]` without the blank line that ends an event never arrived.
        let unfinished = STREAM.replace("data: [DONE]\n\n", "data: [DONE]");
        assert_eq!(read(&unfinished, 5), Err(StreamError::Truncated));
        assert_eq!(read("", 1), Err(StreamError::Truncated));
    }

    #[test]
    fn a_bad_chunk_or_an_error_event_is_an_error() {
        let bad = "data: {\"choices\": [\n\ndata: [DONE]\n\n";
        assert!(matches!(
            read(bad, 4),
            Err(StreamError::BadChunk { event: 0, .. })
        ));
        let error = "data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            read(error, 4),
            Err(StreamError::Server("overloaded".into()))
        );
    }

    #[test]
    fn a_broken_connection_is_a_transport_error() {
        let body = futures_util::stream::iter(vec![
            Ok(b"data: {\"choices\":[]}\n\n".to_vec()),
            Err("connection reset".to_owned()),
        ]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(
            runtime.block_on(read_reply(body)),
            Err(StreamError::Transport("connection reset".into()))
        );
    }
}
