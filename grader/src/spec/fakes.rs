//! Fakes: services the grader plays for the submission, declared by name.
//!
//! ```toml
//! [fakes.llm]
//! kind = "openai"              # POST /v1/chat/completions, plain and SSE
//! port = 8081                  # where the submission finds it, on 127.0.0.1
//! reply = "A fine red."        # the answer when no `replies` entry matches
//! replies = [{ contains = "acid", reply = "Acidity balances sweetness." }]
//! rate_limit = [2]             # the 2nd call is answered 429 (Retry-After)
//!
//! [fakes.runtime]
//! kind = "lambda"              # the AWS Lambda Runtime API
//! port = 9001
//! ```
//!
//! Each fake listens inside the submission's network namespace (the probe holds
//! its port) and is answered by the grader itself; what it was asked is kept as
//! a transcript that file checks read with `from = "fake:NAME"`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One fake, as `[fakes.NAME]` declares it: what it plays, where it listens
/// (127.0.0.1:`port` in the submission's namespace) and that kind's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum FakeSpec {
    /// An OpenAI-compatible chat completions endpoint.
    #[serde(rename = "openai")]
    OpenAi {
        port: u16,
        /// The answer when no entry of `replies` matches the last user message.
        #[serde(default = "default_reply")]
        reply: String,
        /// Scripted answers, the first whose `contains` the last user message
        /// holds (case-insensitively).
        #[serde(default)]
        replies: Vec<Reply>,
        /// Calls (counted from 1) answered `429 Too Many Requests`.
        #[serde(default)]
        rate_limit: Vec<u32>,
        /// The `Retry-After` of those answers.
        #[serde(default = "default_retry_after")]
        retry_after_secs: u64,
        /// The pause between two chunks of a streamed answer, so that a
        /// client that waits for the whole answer can be told apart.
        #[serde(default = "default_chunk_delay")]
        chunk_delay_ms: u64,
    },
    /// The AWS Lambda Runtime API: the function polls it for events and
    /// posts each answer back.
    Lambda {
        port: u16,
        /// The time a function has for each event (its deadline header).
        #[serde(default = "default_lambda_timeout")]
        timeout_ms: u64,
    },
}

/// A scripted answer of the OpenAI fake.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub contains: String,
    pub reply: String,
}

fn default_reply() -> String {
    "This is the grader's fake model answering.".into()
}
fn default_retry_after() -> u64 {
    1
}
fn default_chunk_delay() -> u64 {
    20
}
fn default_lambda_timeout() -> u64 {
    3000
}

/// The key the OpenAI fake expects as `Authorization: Bearer …`; it is given
/// to the submission as `OPENAI_API_KEY`, so a client that reads its key from
/// the environment (as it should) is let in.
pub const OPENAI_KEY: &str = "sk-grader-fake-not-a-secret";

impl FakeSpec {
    /// The kind's name, as the specification writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            FakeSpec::OpenAi { .. } => "openai",
            FakeSpec::Lambda { .. } => "lambda",
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            FakeSpec::OpenAi { port, .. } | FakeSpec::Lambda { port, .. } => *port,
        }
    }

    /// The environment the submission's service is given to find the fake, as
    /// the real client libraries read it.
    pub fn env(&self, lab: &str, memory_mb: u64) -> Vec<(String, String)> {
        let port = self.port();
        let pairs: Vec<(&str, String)> = match self {
            FakeSpec::OpenAi { .. } => vec![
                ("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1")),
                ("OPENAI_API_KEY", OPENAI_KEY.to_string()),
            ],
            FakeSpec::Lambda { .. } => vec![
                ("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}")),
                ("AWS_LAMBDA_FUNCTION_NAME", lab.to_string()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
                ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{lab}")),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "grader".to_string()),
                ("AWS_REGION", "us-east-1".to_string()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Rules on the lab's fakes that serde cannot express: names, distinct ports
/// apart from the service's, sane settings.
pub(super) fn validate(
    fakes: &BTreeMap<String, FakeSpec>,
    service_port: u16,
) -> Result<(), (String, String)> {
    let mut ports = BTreeMap::new();
    for (name, fake) in fakes {
        let field = |f: &str| format!("fakes.{name}.{f}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err((
                format!("fakes.{name}"),
                "a fake's name is lowercase letters, digits or '-'".into(),
            ));
        }
        if fake.port() == 0 || fake.port() == service_port {
            return Err((
                field("port"),
                "must be a port from 1 to 65535 other than the service's".into(),
            ));
        }
        if let Some(other) = ports.insert(fake.port(), name) {
            return Err((
                field("port"),
                format!("{} is fake \"{other}\"'s port too", fake.port()),
            ));
        }
        match fake {
            FakeSpec::OpenAi {
                replies,
                rate_limit,
                retry_after_secs,
                chunk_delay_ms,
                ..
            } => {
                if replies.iter().any(|r| r.contains.trim().is_empty()) {
                    return Err((
                        field("replies"),
                        "each reply needs a non-empty `contains`".into(),
                    ));
                }
                if rate_limit.contains(&0) {
                    return Err((field("rate_limit"), "calls are counted from 1".into()));
                }
                if *retry_after_secs > 60 || *chunk_delay_ms > 1000 {
                    return Err((
                        field("kind"),
                        "retry_after_secs is at most 60 and chunk_delay_ms at most 1000".into(),
                    ));
                }
            }
            FakeSpec::Lambda { timeout_ms, .. } => {
                if !(100..=600_000).contains(timeout_ms) {
                    return Err((field("timeout_ms"), "must be from 100 to 600000".into()));
                }
            }
        }
    }
    Ok(())
}
