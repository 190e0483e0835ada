//! The evaluation report: one row per prompt version in run order, then the
//! totals, as pretty JSON with its keys in a fixed order; and the paragraph
//! the harness prints.

use std::path::Path;

use serde::Serialize;

use crate::AppError;
use crate::ledger::Usage;

/// The whole report. Field order is key order: serde writes a struct's
/// fields as they are declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub model: String,
    pub versions: Vec<VersionReport>,
    pub totals: Totals,
}

/// One prompt version's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionReport {
    /// `name@vN`.
    pub id: String,
    pub prompt: String,
    pub version: u32,
    /// SHA-256 of the template file.
    pub hash: String,
    pub cases: u64,
    pub passed: u64,
    /// Ids of the failed cases, in file order.
    pub failed: Vec<String>,
    /// Completed calls (a 429 is not one).
    pub calls: u64,
    pub cache_hits: u64,
    /// Billed tokens: calls only, not cache hits.
    pub usage: Usage,
    /// The cost of `usage`, rounded up once.
    pub cost_micros: u64,
}

/// The whole run's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub cases: u64,
    pub passed: u64,
    pub calls: u64,
    pub cache_hits: u64,
    /// Calls repeated after a 429.
    pub retries: u64,
    pub usage: Usage,
    /// The cost of the summed `usage`, not the sum of the rows' rounded
    /// costs.
    pub cost_micros: u64,
    /// Tokens the cache's answers cost when first asked: printed in the
    /// summary, not part of the report's contract.
    #[serde(skip)]
    pub saved: Usage,
}

impl Report {
    /// The report as the file holds it: pretty JSON and a final newline.
    pub fn to_json(&self) -> String {
        // Strings and integers only: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the report to `path`, making its folder when missing.
    pub fn write(&self, path: &Path) -> Result<(), AppError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| AppError::write(dir, e))?;
        }
        std::fs::write(path, self.to_json()).map_err(|e| AppError::write(path, e))
    }

    /// One paragraph, on one line: what passed, what it cost, where the
    /// report is.
    pub fn summary(&self, out: &Path) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|v| {
                let failed = if v.failed.is_empty() {
                    String::new()
                } else {
                    format!(" (failed: {})", v.failed.join(", "))
                };
                format!("{} passed {} of {}{failed}", v.id, v.passed, v.cases)
            })
            .collect();
        let t = &self.totals;
        format!(
            "Evaluated {} against {} with {}: {}. {}, {}, {} after a 429. Billed {} prompt and {} completion tokens ({} in all) for {} micro-dollars; the cache saved {}. Report: {}\n",
            plural(t.cases, "case", "cases"),
            plural(
                self.versions.len() as u64,
                "prompt version",
                "prompt versions"
            ),
            self.model,
            versions.join("; "),
            plural(t.calls, "call", "calls"),
            plural(t.cache_hits, "cache hit", "cache hits"),
            plural(t.retries, "retry", "retries"),
            t.usage.prompt_tokens,
            t.usage.completion_tokens,
            t.usage.total(),
            t.cost_micros,
            plural(t.saved.total(), "token", "tokens"),
            out.display(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 4,
        };
        Report {
            model: "wine-mini".into(),
            versions: vec![VersionReport {
                id: "explain@v1".into(),
                prompt: "explain".into(),
                version: 1,
                hash: "ab".into(),
                cases: 2,
                passed: 1,
                failed: vec!["c2".into()],
                calls: 2,
                cache_hits: 0,
                usage,
                cost_micros: 4,
            }],
            totals: Totals {
                cases: 2,
                passed: 1,
                calls: 2,
                cache_hits: 0,
                retries: 1,
                usage,
                cost_micros: 4,
                saved: Usage::default(),
            },
        }
    }

    #[test]
    fn keys_come_in_the_contract_order() {
        let json = report().to_json();
        let order = [
            "\"model\"",
            "\"versions\"",
            "\"id\"",
            "\"prompt\"",
            "\"version\"",
            "\"hash\"",
            "\"cases\"",
            "\"passed\"",
            "\"failed\"",
            "\"calls\"",
            "\"cache_hits\"",
            "\"usage\"",
            "\"prompt_tokens\"",
            "\"completion_tokens\"",
            "\"total_tokens\"",
            "\"cost_micros\"",
            "\"totals\"",
            "\"retries\"",
        ];
        let mut from = 0;
        for key in order {
            let at = json[from..]
                .find(key)
                .unwrap_or_else(|| panic!("{key} after {from}"));
            from += at;
        }
        assert!(json.ends_with("}\n"));
        assert!(!json.contains("saved"));
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(value["totals"]["usage"]["total_tokens"], 14);
        assert!(value["versions"][0]["version"].is_u64());
    }

    #[test]
    fn the_summary_is_one_line() {
        let text = report().summary(Path::new("out/report.json"));
        assert_eq!(text.lines().count(), 1);
        assert!(
            text.contains("explain@v1 passed 1 of 2 (failed: c2)"),
            "{text}"
        );
        assert!(text.contains("2 calls, 0 cache hits, 1 retry"), "{text}");
        assert!(text.contains("for 4 micro-dollars"), "{text}");
        assert!(text.ends_with("Report: out/report.json\n"), "{text}");
    }
}
