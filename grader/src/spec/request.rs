//! The HTTP request a check sends and what it expects back.

use serde::Deserialize;

/// A request: method and path, with at most one body source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    /// A JSON body, written inline in TOML.
    pub json: Option<serde_json::Value>,
    /// A body sent as is, with `Content-Type: application/json` (for malformed JSON).
    pub raw: Option<String>,
    /// This many of the lab's rows (`[rows]`), from the first, as
    /// `{"<list>": [...]}`.
    pub rows: Option<usize>,
    /// The body's `Content-Type`, instead of `application/json` (JSON
    /// labelled as something else, which the service must refuse).
    pub content_type: Option<String>,
}

fn default_method() -> String {
    "GET".into()
}

impl RequestSpec {
    /// `GET path`, no body.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            json: None,
            raw: None,
            rows: None,
            content_type: None,
        }
    }

    /// `POST path` with a JSON body.
    pub fn post_json(path: &str, body: serde_json::Value) -> Self {
        Self {
            method: "POST".into(),
            json: Some(body),
            ..Self::get(path)
        }
    }

    /// Whether the request sends a body.
    pub fn has_body(&self) -> bool {
        self.json.is_some() || self.raw.is_some() || self.rows.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !matches!(
            self.method.as_str(),
            "GET" | "POST" | "PUT" | "DELETE" | "HEAD"
        ) {
            return Err(format!(
                "request.method \"{}\" is not supported",
                self.method
            ));
        }
        if !self.path.starts_with('/') {
            return Err(format!(
                "request.path \"{}\" must start with '/'",
                self.path
            ));
        }
        let bodies = [self.json.is_some(), self.raw.is_some(), self.rows.is_some()];
        if bodies.iter().filter(|b| **b).count() > 1 {
            return Err("request: give at most one of json, raw and rows".into());
        }
        if self.rows.is_some_and(|n| n > 100_000) {
            return Err("request.rows: at most 100000".into());
        }
        Ok(())
    }
}

/// One more request of an `http` check, with an expectation of its own (a
/// 422 naming another field, say).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case tries, as a failure message names it ("a pH above its
    /// range"); the request's method and path alone otherwise.
    pub name: Option<String>,
    pub request: RequestSpec,
    pub expect: Expect,
}

/// What an answer must look like. Every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    /// The status is one of these (where the contract allows a choice).
    #[serde(default)]
    pub status_in: Vec<u16>,
    /// The body is JSON equal to this value.
    pub json: Option<serde_json::Value>,
    /// The body is JSON (any value).
    #[serde(default)]
    pub json_body: bool,
    /// The body is a JSON object with these keys, each a non-empty string.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The body is JSON and names this word (an error naming the field, say).
    pub mentions: Option<String>,
    /// The body is JSON, and the value at each JSON pointer equals the one
    /// given (`"/field" = "inputs[0].ph"`).
    #[serde(default)]
    pub at: std::collections::BTreeMap<String, serde_json::Value>,
    /// The answer's media type (its `Content-Type` before any `;`), compared
    /// without regard to case: `text/event-stream`, `text/html`.
    pub content_type: Option<String>,
    /// The body is a stream of server-sent events, held to this.
    pub sse: Option<SseExpect>,
}

/// What a server-sent-events answer must hold (see `checks::sse`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SseExpect {
    /// The events' names in order, each run of one name counted once:
    /// `["sources", "token", "done"]` is one `sources`, any number of
    /// `token`, one `done`.
    #[serde(default)]
    pub events: Vec<String>,
    /// At least this many events of each name.
    #[serde(default)]
    pub min_count: std::collections::BTreeMap<String, usize>,
    /// `"NAME/pointer"`: the JSON pointer into the data of the first event
    /// of that name equals the value (`"done/turns" = 2`).
    #[serde(default)]
    pub at: std::collections::BTreeMap<String, serde_json::Value>,
    /// The texts the events of one name carry, joined.
    pub join: Option<SseJoin>,
    /// The events of one name came over a span of time.
    pub spread: Option<SseSpread>,
}

/// The text at `pointer` of every `event` event, joined, equals `equals`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SseJoin {
    pub event: String,
    pub pointer: String,
    pub equals: String,
}

/// The first and the last `event` event arrived at least `min_ms` apart:
/// relayed as they were made, not held back and sent at once.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SseSpread {
    pub event: String,
    pub min_ms: u64,
}

impl Expect {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.status.is_none()
            && self.status_in.is_empty()
            && self.json.is_none()
            && !self.json_body
            && self.keys.is_empty()
            && self.mentions.is_none()
            && self.at.is_empty()
            && self.content_type.is_none()
            && self.sse.is_none()
        {
            return Err(
                "expect: give at least one of status, status_in, json, json_body, keys, mentions, at, content_type, sse"
                    .into(),
            );
        }
        if let Some(sse) = &self.sse {
            if let Some(bad) = sse.at.keys().find(|k| {
                let (name, pointer) = crate::checks::sse::split_at_key(k);
                name.is_empty() || pointer.is_empty()
            }) {
                return Err(format!(
                    "expect.sse.at: \"{bad}\" should be an event's name and a JSON pointer (\"done/turns\")"
                ));
            }
            if let Some(join) = &sse.join
                && !join.pointer.starts_with('/')
            {
                return Err(format!(
                    "expect.sse.join.pointer: \"{}\" is not a JSON pointer (starts with '/')",
                    join.pointer
                ));
            }
        }
        if let Some(bad) = self.at.keys().find(|p| !p.starts_with('/')) {
            return Err(format!(
                "expect.at: \"{bad}\" is not a JSON pointer (starts with '/')"
            ));
        }
        if self.status.is_some() && !self.status_in.is_empty() {
            return Err("expect: give status or status_in, not both".into());
        }
        if let Some(s) = self
            .status
            .iter()
            .chain(&self.status_in)
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(format!("expect.status {s} is not an HTTP status"));
        }
        Ok(())
    }
}
