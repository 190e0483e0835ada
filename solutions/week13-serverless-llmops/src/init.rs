//! The function's initialisation: everything done once, before the first
//! `GET …/invocation/next`, and what happens when it fails.
//!
//! The model is read, checked against its SHA-256 pin and parsed exactly as
//! week 4's service does (see [`crate::pin`]), so that every warm invocation
//! reuses it and none pays for loading it. A function that cannot start must
//! say so to the platform: it posts the reason to `…/runtime/init/error`
//! and exits, and the platform reports the failed start instead of waiting
//! for a function that will never ask for an event. (`lambda_runtime` 1.5
//! reports init errors only for SnapStart, so the function does it itself.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Model;
use crate::model::ModelError;
use crate::pin::{self, PinError, Sha256Digest};

/// Where the platform says its runtime API is: `host:port`.
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The `errorType` of a failed start, as AWS's own runtimes name it.
pub const INIT_ERROR_TYPE: &str = "Runtime.InitError";

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("cannot load model artifact {path}: {source}")]
    Model { path: PathBuf, source: ModelError },
    #[error("{0}")]
    Environment(String),
}

/// A model that matched its pin, and that pin.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub digest: Sha256Digest,
}

/// Reads the pin, then the artifact's bytes once, checks them against the
/// pin and parses those very bytes: nothing can swap the file between the
/// check and the use.
pub fn load_model(model_path: &Path, pin_path: &Path) -> Result<Loaded, InitError> {
    let digest = pin::read_pin(pin_path)?;
    let bytes = pin::read_pinned(model_path, &digest)?;
    let model = Model::from_bytes(&bytes).map_err(|source| InitError::Model {
        path: model_path.to_owned(),
        source,
    })?;
    Ok(Loaded { model, digest })
}

/// Checks the variables `lambda_runtime` needs, which it would otherwise
/// `expect` (a panic, where a clear refusal is due). `var` looks one up.
pub fn check_environment(var: impl Fn(&str) -> Option<String>) -> Result<(), InitError> {
    for name in [
        RUNTIME_API,
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    ] {
        if var(name).is_none_or(|v| v.is_empty()) {
            return Err(InitError::Environment(format!(
                "{name} is not set: run this under the AWS Lambda runtime API (the platform, an emulator or the grader sets it)"
            )));
        }
    }
    let memory = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(InitError::Environment(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is `{memory}`, not a number of megabytes"
        )));
    }
    Ok(())
}

/// The body posted to `…/init/error`.
pub fn init_error_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": INIT_ERROR_TYPE, "errorMessage": message })
}

/// Tells the runtime API at `api` (`host:port`) that initialisation failed,
/// and why.
// lab:solution
pub async fn report_init_error(api: &str, message: &str) -> Result<(), String> {
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    // The runtime API is local to the sandbox: a proxy from the environment
    // must not carry this call elsewhere.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| crate::error_chain(&e))?;
    let response = client
        .post(&url)
        .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
        .json(&init_error_body(message))
        .send()
        .await
        .map_err(|e| crate::error_chain(&e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "{url} answered HTTP {}",
            response.status().as_u16()
        ))
    }
}
// lab:starter
// pub async fn report_init_error(api: &str, message: &str) -> Result<(), String> {
//     // TODO(week 13): POST `init_error_body(message)` as JSON to
//     // http://{api}/2018-06-01/runtime/init/error, with the header
//     // `Lambda-Runtime-Function-Error-Type: Runtime.InitError` (reqwest, no
//     // proxy, a timeout); an answer that is not 2xx is an error.
//     let _ = (api, message, Duration::from_secs(10));
//     todo!("week 13: report a failed start to the runtime API")
// }
// lab:end

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_runtime_variables_are_checked_not_expected() {
        let full = [
            (RUNTIME_API, "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "wine"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ];
        assert!(check_environment(env(&full)).is_ok());
        let err = check_environment(env(&full[1..])).expect_err("no API");
        assert!(
            err.to_string()
                .starts_with("AWS_LAMBDA_RUNTIME_API is not set")
        );
        let mut bad = full;
        bad[2].1 = "lots";
        let err = check_environment(env(&bad)).expect_err("not a number");
        assert!(err.to_string().contains("`lots`"), "{err}");
    }

    #[test]
    fn a_tampered_model_is_refused_naming_the_sha256() {
        let dir = tempfile::tempdir().expect("dir");
        let model = dir.path().join("model.json");
        let pin = dir.path().join("model.sha256");
        std::fs::write(&model, b"{\"format\": 2}").expect("write");
        std::fs::write(&pin, format!("{}\n", Sha256Digest::of(b"other bytes"))).expect("write");
        let err = load_model(&model, &pin).expect_err("tampered");
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    #[test]
    fn a_missing_or_broken_model_is_refused_naming_the_problem() {
        let dir = tempfile::tempdir().expect("dir");
        let model = dir.path().join("model.json");
        let pin = dir.path().join("model.sha256");
        std::fs::write(&model, b"{\"format\": 2}").expect("write");
        std::fs::write(
            &pin,
            format!("{}  model.json\n", Sha256Digest::of(b"{\"format\": 2}")),
        )
        .expect("write");
        let err = load_model(&model, &pin).expect_err("pinned, but not a model");
        assert!(
            err.to_string().starts_with("cannot load model artifact"),
            "{err}"
        );

        let err = load_model(&dir.path().join("none.json"), &pin).expect_err("missing");
        assert!(matches!(err, InitError::Pin(PinError::ReadArtifact { .. })));
        let err = load_model(&model, &dir.path().join("none.sha256")).expect_err("no pin");
        assert!(matches!(err, InitError::Pin(PinError::ReadPin { .. })));
    }

    #[test]
    fn the_init_error_body_is_the_runtime_api_shape() {
        assert_eq!(
            init_error_body("model tampered").to_string(),
            r#"{"errorMessage":"model tampered","errorType":"Runtime.InitError"}"#
        );
    }
}
