//! The evaluation set: JSON Lines, one case a line.
//!
//! ```json
//! {"id": "sour", "prompt": "explain", "vars": {"question": "..."}, "expect": ["acid"]}
//! ```
//!
//! A case passes when the answer contains every `expect` string, compared
//! case-insensitively. Rules this plain are deterministic and free, and
//! they catch what matters most in an evaluation set: the answer names the
//! thing it must name. Every problem in the file is an error naming its
//! line, found before any call is made.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::AppError;

/// One case of the evaluation set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    /// The prompt's name; the case runs against each of its versions.
    pub prompt: String,
    /// The template's values. Strings only: the rendered prompt is text,
    /// and a number would have more than one way to be written.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// What a passing answer contains, compared case-insensitively.
    pub expect: Vec<String>,
    /// The line of the file the case is on, from 1.
    #[serde(skip)]
    pub line: usize,
}

impl Case {
    /// Whether `answer` contains every expected string, whatever the case.
    pub fn passes(&self, answer: &str) -> bool {
        let answer = answer.to_lowercase();
        self.expect
            .iter()
            .all(|want| answer.contains(&want.to_lowercase()))
    }
}

/// A JSON error without serde's `at line 1 column N`: the line is the
/// file's, given apart, and on a one-line document only the column helps.
fn json_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} (column {})", err.column()),
        None => text,
    }
}

/// Parses the evaluation set at `path` (its text is `text`); `prompts` are
/// the known prompt names. Blank lines are skipped.
pub fn parse(path: &Path, text: &str, prompts: &[&str]) -> Result<Vec<Case>, AppError> {
    let mut cases: Vec<Case> = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let at = |reason: String| AppError::input(path, format!("line {line}: {reason}"));
        let mut case: Case = serde_json::from_str(raw).map_err(|err| at(json_error(&err)))?;
        case.line = line;
        if case.id.trim().is_empty() {
            return Err(at("the case id is empty".into()));
        }
        if let Some(first) = first_line.get(&case.id) {
            return Err(at(format!(
                "the case id `{}` is used already, on line {first}",
                case.id
            )));
        }
        if !prompts.contains(&case.prompt.as_str()) {
            return Err(at(format!(
                "unknown prompt `{}` (the prompts are: {})",
                case.prompt,
                prompts.join(", ")
            )));
        }
        // An empty list, or an empty string in it, passes every answer: a
        // case that cannot fail tests nothing.
        if case.expect.is_empty() || case.expect.iter().any(|e| e.trim().is_empty()) {
            return Err(at(format!(
                "case `{}`: `expect` must list at least one non-empty string",
                case.id
            )));
        }
        first_line.insert(case.id.clone(), line);
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(AppError::input(path, "the evaluation set has no cases"));
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<Case>, String> {
        parse(Path::new("cases.jsonl"), text, &["explain", "label"]).map_err(|e| e.to_string())
    }

    const GOOD: &str =
        r#"{"id":"a","prompt":"explain","vars":{"question":"Why sour?"},"expect":["acid"]}"#;

    #[test]
    fn cases_are_read_in_order_with_their_lines() {
        let text = format!(
            "{GOOD}\n\n{}\n",
            r#"{"id":"b","prompt":"label","vars":{},"expect":["x","Y"]}"#
        );
        let cases = parsed(&text).expect("valid");
        assert_eq!(cases.len(), 2);
        assert_eq!((cases[0].id.as_str(), cases[0].line), ("a", 1));
        assert_eq!((cases[1].id.as_str(), cases[1].line), ("b", 3));
        assert_eq!(cases[0].vars["question"], "Why sour?");
    }

    #[test]
    fn a_case_passes_when_every_expected_string_is_there_in_any_case() {
        let cases =
            parsed(r#"{"id":"b","prompt":"label","expect":["Tartaric","acid"]}"#).expect("valid");
        assert!(cases[0].passes("TARTARIC ACID dominates"));
        assert!(!cases[0].passes("tartaric, mostly"));
        assert!(!cases[0].passes(""));
    }

    #[test]
    fn every_bad_line_is_named() {
        let cases = [
            ("{\"id\":\"a\"", "line 2:"),
            (
                r#"{"id":"a","prompt":"explain","expect":["x"],"extra":1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"id":"z","prompt":"explian","expect":["x"]}"#,
                "unknown prompt `explian` (the prompts are: explain, label)",
            ),
            (
                r#"{"id":"a","prompt":"explain","expect":["x"]}"#,
                "line 2: the case id `a` is used already, on line 1",
            ),
            (r#"{"id":"z","prompt":"explain","expect":[]}"#, "`expect`"),
            (r#"{"id":"z","prompt":"explain","expect":[""]}"#, "`expect`"),
            (
                r#"{"id":"z","prompt":"explain","vars":{"q":5},"expect":["x"]}"#,
                "expected a string",
            ),
            (
                r#"{"id":" ","prompt":"explain","expect":["x"]}"#,
                "id is empty",
            ),
        ];
        for (line, needle) in cases {
            let err = parsed(&format!("{GOOD}\n{line}\n")).expect_err(line);
            assert!(err.starts_with("cases.jsonl: line 2: "), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle}");
            assert_eq!(err.lines().count(), 1);
        }
        assert!(parsed("\n\n").expect_err("empty").contains("no cases"));
    }
}
