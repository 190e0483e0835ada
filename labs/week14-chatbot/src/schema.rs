//! The request bodies and their validation, and the error body.
//!
//! Bodies are read as a JSON object first and checked field by field, so
//! that every refusal names the field at fault: an unknown one, a missing
//! one, or one of the wrong type or size. Nothing here calls the model:
//! `/chat` is validated completely before any upstream request.

use serde::Serialize;
use serde_json::{Map, Value};

/// Largest request body read, in bytes; a larger one is refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest query or message, in characters (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 4000;
/// Notes returned by `/retrieve` without a `k`, and given to the model.
pub const DEFAULT_K: usize = 3;
/// The largest `k`.
pub const MAX_K: usize = 10;
/// The longest session id.
pub const MAX_SESSION_ID: usize = 64;

/// Every error answer: `{"error": "…", "field": "query"}`, `field` only
/// when one field is at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Why a request is refused (422), and which field, if one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
    pub field: Option<String>,
}

impl Invalid {
    fn field(field: &str, message: impl Into<String>) -> Self {
        Invalid {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    fn body(message: impl Into<String>) -> Self {
        Invalid {
            message: message.into(),
            field: None,
        }
    }
}

/// A valid `POST /retrieve` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveRequest {
    pub query: String,
    pub k: usize,
}

/// A valid `POST /chat` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub session_id: String,
    pub message: String,
}

/// `{"query": "…", "k": 3}`: `query` required, `k` optional.
pub fn parse_retrieve(bytes: &[u8]) -> Result<RetrieveRequest, Invalid> {
    let object = object(bytes, &["query", "k"])?;
    let query = text(&object, "query")?;
    let k = match object.get("k") {
        None => DEFAULT_K,
        Some(value) => match value.as_u64() {
            Some(k) if (1..=MAX_K as u64).contains(&k) => k as usize,
            _ => {
                return Err(Invalid::field(
                    "k",
                    format!("`k` must be a whole number from 1 to {MAX_K}, not {value}"),
                ));
            }
        },
    };
    Ok(RetrieveRequest { query, k })
}

/// `{"session_id": "…", "message": "…"}`, both required.
pub fn parse_chat(bytes: &[u8]) -> Result<ChatRequest, Invalid> {
    let object = object(bytes, &["session_id", "message"])?;
    let session_id = match object.get("session_id") {
        None => return Err(Invalid::field("session_id", "`session_id` is required")),
        Some(Value::String(id)) => id.clone(),
        Some(_) => {
            return Err(Invalid::field(
                "session_id",
                "`session_id` must be a string",
            ));
        }
    };
    check_session_id(&session_id)?;
    let message = text(&object, "message")?;
    Ok(ChatRequest {
        session_id,
        message,
    })
}

/// A session id is 1 to 64 ASCII letters, digits, `_` or `-`: safe in a
/// URL path, a log line and a map key.
pub fn check_session_id(id: &str) -> Result<(), Invalid> {
    let valid = (1..=MAX_SESSION_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Invalid::field(
            "session_id",
            format!(
                "`session_id` must be 1 to {MAX_SESSION_ID} letters, digits, `_` or `-` (^[A-Za-z0-9_-]{{1,{MAX_SESSION_ID}}}$)"
            ),
        ))
    }
}

/// The body as a JSON object with no field outside `allowed`.
fn object(bytes: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Invalid> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Invalid::body(format!("the body is malformed JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(Invalid::body("the body must be a JSON object"));
    };
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(Invalid::field(
            unknown,
            format!(
                "unknown field `{unknown}`; expected {}",
                allowed
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ));
    }
    Ok(object)
}

/// A required text field: a string, not blank, at most
/// [`MAX_TEXT_CHARS`] characters. Returned as sent (untrimmed).
fn text(object: &Map<String, Value>, name: &str) -> Result<String, Invalid> {
    match object.get(name) {
        None => Err(Invalid::field(name, format!("`{name}` is required"))),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(Invalid::field(name, format!("`{name}` must not be blank")))
        }
        Some(Value::String(text)) if text.chars().count() > MAX_TEXT_CHARS => Err(Invalid::field(
            name,
            format!("`{name}` is longer than {MAX_TEXT_CHARS} characters"),
        )),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(Invalid::field(name, format!("`{name}` must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, Invalid>) -> Option<String> {
        result.expect_err("refused").field
    }

    #[test]
    fn a_retrieve_body_takes_a_query_and_an_optional_k() {
        assert_eq!(
            parse_retrieve(br#"{"query":"dotdrop"}"#),
            Ok(RetrieveRequest {
                query: "dotdrop".into(),
                k: DEFAULT_K
            })
        );
        assert_eq!(
            parse_retrieve(br#"{"query":" dvc ","k":10}"#).map(|r| r.k),
            Ok(10)
        );
        assert_eq!(
            parse_retrieve(br#"{"query":"x","k":1}"#).map(|r| r.k),
            Ok(1)
        );
        let long = format!(r#"{{"query":"{}"}}"#, "é".repeat(MAX_TEXT_CHARS));
        assert!(
            parse_retrieve(long.as_bytes()).is_ok(),
            "4000 characters, 8000 bytes"
        );
    }

    #[test]
    fn a_bad_retrieve_body_names_its_field() {
        for (body, field) in [
            (r#"{}"#, "query"),
            (r#"{"query":"  \n"}"#, "query"),
            (r#"{"query":7}"#, "query"),
            (r#"{"query":null}"#, "query"),
            (r#"{"query":"x","k":0}"#, "k"),
            (r#"{"query":"x","k":11}"#, "k"),
            (r#"{"query":"x","k":2.5}"#, "k"),
            (r#"{"query":"x","k":-1}"#, "k"),
            (r#"{"query":"x","k":"3"}"#, "k"),
            (r#"{"query":"x","top_k":3}"#, "top_k"),
        ] {
            assert_eq!(
                field_of(parse_retrieve(body.as_bytes())).as_deref(),
                Some(field),
                "{body}"
            );
        }
        let long = format!(r#"{{"query":"{}"}}"#, "a".repeat(MAX_TEXT_CHARS + 1));
        assert_eq!(
            field_of(parse_retrieve(long.as_bytes())).as_deref(),
            Some("query")
        );
    }

    #[test]
    fn malformed_json_or_a_non_object_is_refused_without_a_field() {
        for body in ["", "{", r#"["query"]"#, "null", r#""query""#] {
            let err = parse_retrieve(body.as_bytes()).expect_err(body);
            assert_eq!(err.field, None, "{body}");
        }
        assert!(
            parse_chat(b"{")
                .expect_err("bad")
                .message
                .contains("malformed")
        );
    }

    #[test]
    fn a_chat_body_checks_the_session_id_and_the_message() {
        let ok = parse_chat(br#"{"session_id":"abc-1_X","message":"Hi"}"#).expect("valid");
        assert_eq!(ok.session_id, "abc-1_X");
        assert_eq!(ok.message, "Hi");
        let id64 = "a".repeat(64);
        let body = format!(r#"{{"session_id":"{id64}","message":"Hi"}}"#);
        assert!(parse_chat(body.as_bytes()).is_ok());
        for (body, field) in [
            (r#"{"message":"Hi"}"#.to_owned(), "session_id"),
            (
                r#"{"session_id":"","message":"Hi"}"#.to_owned(),
                "session_id",
            ),
            (
                r#"{"session_id":"a b","message":"Hi"}"#.to_owned(),
                "session_id",
            ),
            (
                r#"{"session_id":"a/../b","message":"Hi"}"#.to_owned(),
                "session_id",
            ),
            (
                r#"{"session_id":"ü","message":"Hi"}"#.to_owned(),
                "session_id",
            ),
            (
                r#"{"session_id":1,"message":"Hi"}"#.to_owned(),
                "session_id",
            ),
            (
                format!(r#"{{"session_id":"{id64}a","message":"Hi"}}"#),
                "session_id",
            ),
            (r#"{"session_id":"a"}"#.to_owned(), "message"),
            (r#"{"session_id":"a","message":" "}"#.to_owned(), "message"),
            (
                r#"{"session_id":"a","message":["Hi"]}"#.to_owned(),
                "message",
            ),
            (
                r#"{"session_id":"a","message":"Hi","model":"gpt-5"}"#.to_owned(),
                "model",
            ),
        ] {
            assert_eq!(
                field_of(parse_chat(body.as_bytes())).as_deref(),
                Some(field),
                "{body}"
            );
        }
    }

    #[test]
    fn the_error_body_leaves_out_a_missing_field() {
        let body = ErrorBody {
            error: "upstream down".into(),
            field: None,
        };
        assert_eq!(
            serde_json::to_string(&body).expect("json"),
            r#"{"error":"upstream down"}"#
        );
    }
}
