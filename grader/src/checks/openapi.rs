//! The service's OpenAPI document.

use super::http::send;
use super::{Env, Outcome, Problem};
use crate::spec::RequestSpec;

pub async fn check(env: &Env<'_>, paths: &[String]) -> Outcome {
    let answer = send(env, &RequestSpec::get("/openapi.json")).await?;
    if answer.status != 200 {
        return Err(Problem::Fail(format!(
            "GET /openapi.json: expected status 200, got {}",
            answer.status
        )));
    }
    let Some(doc) = answer.json() else {
        return Err(Problem::Fail(
            "GET /openapi.json: the body is not JSON".into(),
        ));
    };
    judge(&doc, paths)
}

fn judge(doc: &serde_json::Value, paths: &[String]) -> Outcome {
    let version = doc.get("openapi").and_then(|v| v.as_str()).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(Problem::Fail(format!(
            "GET /openapi.json: \"openapi\" should be a 3.x version, got \"{version}\""
        )));
    }
    let listed = doc.get("paths").and_then(|p| p.as_object());
    let missing: Vec<&str> = paths
        .iter()
        .filter(|p| !listed.is_some_and(|l| l.contains_key(p.as_str())))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "GET /openapi.json: the document does not describe {}",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn needs_version_3_and_every_path() {
        let paths = vec!["/health".to_string(), "/predict".to_string()];
        let good = json!({"openapi": "3.1.0", "paths": {"/health": {}, "/predict": {}}});
        assert!(judge(&good, &paths).is_ok());
        let old = json!({"swagger": "2.0", "paths": {"/health": {}, "/predict": {}}});
        assert!(judge(&old, &paths).is_err());
        let partial = json!({"openapi": "3.0.3", "paths": {"/health": {}}});
        match judge(&partial, &paths) {
            Err(Problem::Fail(m)) => assert!(m.contains("/predict"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
