//! The wine-quality model as a serverless function, and an LLMOps harness,
//! behind the `wine-serverless` tool:
//!
//! - the function (`wine-serverless lambda`, the default): [`init`] loads the
//!   model pinned by its SHA-256 before the first event and reports a failure
//!   to the runtime API; [`function`] answers each event, a week-8 `/predict`
//!   body, through `lambda_runtime`;
//! - the harness (`wine-serverless eval`): [`config`] reads `harness.toml`,
//!   [`prompts`] the versioned templates, [`cases`] the evaluation set;
//!   [`client`] calls an OpenAI-compatible endpoint and [`stream`] reads its
//!   streamed answer; [`cache`] keeps temperature-0 answers on disk;
//!   [`ledger`] counts tokens and prices them; [`harness`] runs it all in a
//!   fixed order and [`report`] writes the result.
//!
//! [`model`], [`pin`], [`schema`] and [`tree`] are the course's own (weeks 4,
//! 8 and 1): the same tree, artifact, pin and input rules as the service.
//! [`cli`] is the command line; `main` only prints what it returns.

pub mod cache;
pub mod cases;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod function;
pub mod harness;
pub mod init;
pub mod ledger;
pub mod model;
pub mod pin;
pub mod prompts;
pub mod report;
pub mod schema;
pub mod stream;
pub mod tree;

pub use error::AppError;
pub use model::{Model, ModelArtifact, train};

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, as 64 lowercase hexadecimal digits (what
/// `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An error and its causes on one line, `outer: inner: innermost`. HTTP
/// clients hide the useful part (connection refused, a timeout) in the
/// cause, and a user should see it without a debugger.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    one_line(&text)
}

/// Text folded onto one line, with runs of whitespace as single spaces, so
/// that an error message quoting a server's answer stays one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_usual_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_error_chain_is_one_line_without_repeats() {
        #[derive(Debug, thiserror::Error)]
        #[error("request failed")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::other("connection\nrefused"));
        assert_eq!(error_chain(&err), "request failed: connection refused");
        assert_eq!(one_line("  a \n b\t"), "a b");
    }
}
