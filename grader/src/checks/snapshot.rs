//! Snapshot checks: an answer, with what may vary redacted, compared with the
//! expected snapshot that travels with the grader's lab files.
//!
//! Expected snapshots are insta `.snap` files (a YAML header, `---`, the body),
//! compared with insta's own rules for text snapshots (line endings and trailing
//! whitespace do not count); a mismatch is reported as a unified diff.

use super::http::send;
use super::{Env, Outcome, Problem};
use crate::spec::RequestSpec;
use insta::TextSnapshotKind;
use insta::internals::TextSnapshotContents;
use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

pub async fn check(env: &Env<'_>, req: &RequestSpec, name: &str, redact: &[String]) -> Outcome {
    let expected = env
        .snapshots
        .get(name)
        .ok_or_else(|| Problem::Error(format!("the lab has no snapshot \"{name}\"")))?;
    let answer = send(env, req).await?;
    let actual = render(answer.status, &answer.text(), redact);
    compare(snapshot_body(expected), &actual)
}

/// The text a snapshot holds for an answer: the status, then the body as pretty
/// JSON with the redacted pointers replaced (or the raw body if it is not JSON).
pub fn render(status: u16, body: &str, redact: &[String]) -> String {
    let shown = match serde_json::from_str::<Value>(body) {
        Ok(mut json) => {
            for pointer in redact {
                apply_redaction(&mut json, pointer);
            }
            serde_json::to_string_pretty(&json).unwrap_or_default()
        }
        Err(_) => super::clip(body, 2000),
    };
    format!("status: {status}\n{shown}\n")
}

/// Replaces the value at a JSON pointer; a `*` segment stands for every element
/// of an array or every value of an object.
pub(super) fn apply_redaction(value: &mut Value, pointer: &str) {
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    redact_at(value, &segments);
}

fn redact_at(value: &mut Value, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        *value = Value::String(REDACTED.to_string());
        return;
    };
    match (first.as_str(), value) {
        ("*", Value::Array(items)) => items.iter_mut().for_each(|v| redact_at(v, rest)),
        ("*", Value::Object(map)) => map.values_mut().for_each(|v| redact_at(v, rest)),
        (key, Value::Object(map)) => {
            if let Some(v) = map.get_mut(key) {
                redact_at(v, rest);
            }
        }
        (index, Value::Array(items)) => {
            if let Some(v) = index.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                redact_at(v, rest);
            }
        }
        _ => {}
    }
}

/// The body of an insta `.snap` file: what follows its header.
pub fn snapshot_body(file: &str) -> &str {
    let Some(rest) = file.strip_prefix("---\n") else {
        return file;
    };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => file,
    }
}

fn compare(expected: &str, actual: &str) -> Outcome {
    compare_as(expected, actual, ("the answer", "your service"))
}

/// Compares with insta's rules; a mismatch is a unified diff of `what` (the
/// answer, the output), its sides headed "expected" and `whose`.
pub(super) fn compare_as(expected: &str, actual: &str, (what, whose): (&str, &str)) -> Outcome {
    let want = TextSnapshotContents::new(expected.to_string(), TextSnapshotKind::File);
    let got = TextSnapshotContents::new(actual.to_string(), TextSnapshotKind::File);
    if want.matches_latest(&got) {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(expected.trim_end(), actual.trim_end())
        .unified_diff()
        .context_radius(3)
        .header("expected", whose)
        .to_string();
    Err(Problem::Fail(format!(
        "{what} differs from the expected snapshot (- expected, + yours):\n{}",
        diff.trim_end()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = "---\nsource: x\n---\nstatus: 200\n{\n  \"model_version\": \"[redacted]\",\n  \"predictions\": [\n    \"[redacted]\"\n  ]\n}\n";

    #[test]
    fn redacted_answers_match_whatever_the_varying_values() {
        let redact = vec!["/model_version".to_string(), "/predictions/*".to_string()];
        let a = render(
            200,
            r#"{"predictions":[6],"model_version":"tree-1"}"#,
            &redact,
        );
        assert!(compare(snapshot_body(SNAP), &a).is_ok(), "{a}");
    }

    #[test]
    fn a_different_shape_is_shown_as_a_diff() {
        let redact = vec!["/model_version".to_string(), "/predictions/*".to_string()];
        let a = render(200, r#"{"predictions":[6]}"#, &redact);
        match compare(snapshot_body(SNAP), &a) {
            Err(Problem::Fail(m)) => {
                assert!(m.contains("-  \"model_version\": \"[redacted]\","), "{m}");
            }
            other => panic!("{other:?}"),
        }
        let b = render(500, "oops", &redact);
        assert!(compare(snapshot_body(SNAP), &b).is_err());
    }
}
