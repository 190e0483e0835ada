//! The result file: what the browser saw, for the grader's rules to read.
//!
//! Everything that comes from the page is hostile input: it is truncated
//! before it goes in, and `detail` lines hold no line breaks.

use serde::Serialize;
use serde::ser::SerializeMap;

/// Longest text taken from the page (characters).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest piece of page text quoted inside a `detail` (characters).
pub const MAX_QUOTE_CHARS: usize = 200;
/// Longest `detail` (characters).
pub const MAX_DETAIL_CHARS: usize = 2000;
/// Most console errors kept.
pub const MAX_CONSOLE_ERRORS: usize = 50;

/// Cut `s` to at most `max` characters, marking a cut with a trailing `…`.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            let mut out = s[..end].to_string();
            out.push('…');
            out
        }
    }
}

/// Text from the page, truncated for the result.
pub fn page_text(s: &str) -> String {
    truncate(s, MAX_TEXT_CHARS)
}

/// A short quotation of page text for a `detail`: one line, truncated, in quotes.
pub fn quote(s: &str) -> String {
    format!(
        "{:?}",
        truncate(&crate::scenario::one_line(s), MAX_QUOTE_CHARS)
    )
}

/// What happened in one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepResult {
    pub ok: bool,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_seen: Option<bool>,
}

impl StepResult {
    pub fn ok(ms: u64) -> Self {
        StepResult {
            ok: true,
            ms,
            ..Self::default()
        }
    }

    pub fn failed(ms: u64, detail: impl AsRef<str>) -> Self {
        StepResult {
            ok: false,
            ms,
            ..Self::default()
        }
        .with_detail(detail)
    }

    /// Set the detail, made one line and truncated.
    pub fn with_detail(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = Some(truncate(
            &crate::scenario::one_line(detail.as_ref()),
            MAX_DETAIL_CHARS,
        ));
        self
    }

    /// Set the text seen on the page, truncated.
    pub fn with_text(mut self, text: &str) -> Self {
        self.text = Some(page_text(text));
        self
    }
}

/// Step results in the scenario's order, written as a JSON object keyed by step id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results(pub Vec<(String, StepResult)>);

#[cfg(test)]
impl Results {
    pub fn get(&self, id: &str) -> Option<&StepResult> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }
}

impl Serialize for Results {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, r) in &self.0 {
            map.serialize_entry(id, r)?;
        }
        map.end()
    }
}

/// The whole result file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    pub url: String,
    pub browser: String,
    pub loaded: bool,
    pub results: Results,
    pub console_errors: Vec<String>,
}

impl Outcome {
    /// Add a console error (truncated), keeping at most [`MAX_CONSOLE_ERRORS`].
    pub fn push_console_error(&mut self, message: &str) {
        if self.console_errors.len() < MAX_CONSOLE_ERRORS {
            self.console_errors.push(truncate(
                &crate::scenario::one_line(message),
                MAX_TEXT_CHARS,
            ));
        }
    }

    /// One line per step, `ok ID (N ms)` or `FAIL ID: why`, for a log
    /// (and for a rule that reads the judge's output).
    pub fn summary(&self) -> String {
        self.results
            .0
            .iter()
            .map(|(id, r)| match (r.ok, &r.detail) {
                (true, _) => format!("ok {id} ({} ms)\n", r.ms),
                (false, Some(why)) => format!("FAIL {id}: {why}\n"),
                (false, None) => format!("FAIL {id}\n"),
            })
            .collect()
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail; fall back to a minimal
        // document rather than panic if it ever did.
        serde_json::to_string_pretty(self)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}\n", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn the_summary_is_one_line_per_step() {
        let outcome = Outcome {
            results: Results(vec![
                ("load".into(), StepResult::ok(12)),
                (
                    "markup".into(),
                    StepResult::failed(3, "an element\nmatches"),
                ),
            ]),
            ..Outcome::default()
        };
        assert_eq!(
            outcome.summary(),
            "ok load (12 ms)\nFAIL markup: an element matches\n"
        );
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("", 3), "");
        let s = "é".repeat(5000);
        let t = page_text(&s);
        assert_eq!(t.chars().count(), MAX_TEXT_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(page_text(&"x".repeat(MAX_TEXT_CHARS)).len(), MAX_TEXT_CHARS);
    }

    #[test]
    fn quote_is_one_short_line() {
        let q = quote(&format!("a\nb\r\tc{}", "z".repeat(1000)));
        assert!(!q.contains('\n'));
        assert!(q.starts_with("\"a b  c"));
        assert!(q.chars().count() <= MAX_QUOTE_CHARS + 2);
    }

    #[test]
    fn step_result_shape() {
        let r = StepResult::ok(12);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"ok": true, "ms": 12})
        );
        let r = StepResult::failed(5, "no element\nmatches #x");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"ok": false, "ms": 5, "detail": "no element matches #x"})
        );
        let mut r = StepResult::ok(7).with_text(&"y".repeat(3000));
        r.partial_seen = Some(true);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["partial_seen"], json!(true));
        assert_eq!(v["text"].as_str().unwrap().chars().count(), MAX_TEXT_CHARS);
        let long = StepResult::failed(0, "d".repeat(10_000));
        assert_eq!(long.detail.unwrap().chars().count(), MAX_DETAIL_CHARS);
    }

    #[test]
    fn outcome_is_keyed_by_step_id_in_order() {
        let mut o = Outcome {
            url: "http://127.0.0.1:8080/".into(),
            browser: "Chromium 120".into(),
            loaded: true,
            ..Outcome::default()
        };
        o.results.0.push(("load".into(), StepResult::ok(812)));
        o.results.0.push((
            "markup".into(),
            StepResult::failed(3, "an element matches #injected"),
        ));
        o.push_console_error("Uncaught\nError: boom");
        let text = o.to_json();
        assert!(text.find("\"load\"").unwrap() < text.find("\"markup\"").unwrap());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.pointer("/results/load/ok"), Some(&json!(true)));
        assert_eq!(v.pointer("/results/markup/ok"), Some(&json!(false)));
        assert_eq!(v["console_errors"], json!(["Uncaught Error: boom"]));
        assert_eq!(v["loaded"], json!(true));
        assert_eq!(o.results.get("load").map(|r| r.ms), Some(812));
        for _ in 0..100 {
            o.push_console_error("again");
        }
        assert_eq!(o.console_errors.len(), MAX_CONSOLE_ERRORS);
    }
}
