//! `harness.toml`: what the harness evaluates, against which model, at what
//! settings and prices.
//!
//! ```toml
//! model = "wine-mini"
//! prompts = "prompts"          # folder: prompts/<name>/v<N>.txt
//! cases = "eval/cases.jsonl"   # the evaluation set
//! cache = "cache"              # response cache folder (created if missing)
//! out = "report.json"          # the report
//! temperature = 0.0
//! max_tokens = 256
//! [prices.wine-mini]           # micro-dollars per million tokens
//! input = 150000
//! output = 600000
//! ```
//!
//! Every key is required and an unknown key is an error: a misspelt
//! `temprature` silently ignored would run the evaluation at a setting
//! nobody chose. Relative paths are relative to the file's folder, so the
//! harness runs the same from anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::AppError;
use crate::ledger::{Price, Prices};

/// The highest temperature OpenAI-compatible APIs accept.
pub const MAX_TEMPERATURE: f64 = 2.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    model: String,
    prompts: PathBuf,
    cases: PathBuf,
    cache: PathBuf,
    out: PathBuf,
    temperature: f64,
    max_tokens: u32,
    prices: BTreeMap<String, Price>,
}

/// The configuration, checked, with its paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct HarnessConfig {
    pub model: String,
    pub prompts: PathBuf,
    pub cases: PathBuf,
    pub cache: PathBuf,
    pub out: PathBuf,
    pub temperature: f64,
    pub max_tokens: u32,
    pub prices: Prices,
    /// The price of `model`, looked up once: a model without one is refused
    /// before any call.
    pub price: Price,
}

/// Line of byte `offset` in `text`, from 1.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// Reads and checks the configuration at `path`.
pub fn load(path: &Path) -> Result<HarnessConfig, AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| AppError::read(path, e))?;
    let raw: Raw = toml::from_str(&text).map_err(|err| {
        // toml's Display draws the line with a caret under it: several
        // lines. The message and the line number say the same in one.
        let message = crate::one_line(err.message());
        match err.span() {
            Some(span) if !message.starts_with("missing field") => AppError::input(
                path,
                format!("line {}: {message}", line_of(&text, span.start)),
            ),
            _ => AppError::input(path, message),
        }
    })?;
    let bad = |reason: String| Err(AppError::input(path, reason));
    if raw.model.trim().is_empty() {
        return bad("`model` is empty".into());
    }
    if !(0.0..=MAX_TEMPERATURE).contains(&raw.temperature) {
        return bad(format!(
            "`temperature` must be from 0 to {MAX_TEMPERATURE}, got {}",
            raw.temperature
        ));
    }
    if raw.max_tokens == 0 {
        return bad("`max_tokens` must be at least 1".into());
    }
    let prices = Prices(raw.prices);
    let price = match prices.of(&raw.model) {
        Ok(price) => price,
        Err(err) => return bad(err.to_string()),
    };
    // `Path::parent` of a bare file name is "", which joins as the current
    // folder: what a relative path in it means.
    let dir = path.parent().unwrap_or(Path::new(""));
    Ok(HarnessConfig {
        model: raw.model,
        prompts: dir.join(raw.prompts),
        cases: dir.join(raw.cases),
        cache: dir.join(raw.cache),
        out: dir.join(raw.out),
        temperature: raw.temperature,
        max_tokens: raw.max_tokens,
        prices,
        price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../harness.toml");

    fn load_text(text: &str) -> Result<HarnessConfig, String> {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("conf/harness.toml");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        load(&path).map_err(|e| {
            let text = e.to_string();
            assert_eq!(e.exit_code(), 2, "{text}");
            assert_eq!(text.lines().count(), 1, "{text}");
            text
        })
    }

    #[test]
    fn the_shipped_configuration_loads_with_paths_beside_it() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness.toml");
        let config = load(&path).expect("the shipped harness.toml");
        assert_eq!(config.model, "wine-mini");
        assert_eq!(config.prompts, path.with_file_name("prompts"));
        assert_eq!(config.cases, path.with_file_name("eval/cases.jsonl"));
        assert_eq!(config.cache, path.with_file_name("cache"));
        assert_eq!(config.out, path.with_file_name("report.json"));
        assert_eq!((config.temperature, config.max_tokens), (0.0, 256));
        assert_eq!(
            config.price,
            Price {
                input: 150_000,
                output: 600_000
            }
        );
    }

    #[test]
    fn every_mistake_is_one_line_naming_the_key() {
        let replace = |from: &str, to: &str| SHIPPED.replace(from, to);
        let cases = [
            (
                replace("max_tokens", "max_tokns"),
                "unknown field `max_tokns`",
            ),
            (
                replace("temperature = 0.0\n", ""),
                "missing field `temperature`",
            ),
            (
                replace("temperature = 0.0", "temperature = 2.5"),
                "`temperature` must be",
            ),
            (
                replace("temperature = 0.0", "temperature = nan"),
                "`temperature` must be",
            ),
            (replace("temperature = 0.0", "temperature = \"0\""), "line "),
            (
                replace("max_tokens = 256", "max_tokens = 0"),
                "`max_tokens`",
            ),
            (replace("max_tokens = 256", "max_tokens = -1"), "line "),
            (
                replace("[prices.wine-mini]", "[prices.wine-max]"),
                "no price is known for model `wine-mini`",
            ),
            (
                replace("output = 600000", "output = 600000\ncached = 1"),
                "unknown field `cached`",
            ),
            (
                replace("model = \"wine-mini\"", "model = \"\""),
                "`model` is empty",
            ),
            ("model = ".to_owned(), "line 1"),
        ];
        for (text, needle) in cases {
            let err = load_text(&text).expect_err(needle);
            assert!(err.contains(needle), "{err} lacks {needle}");
            assert!(err.contains("harness.toml: "), "{err}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load(Path::new("/nonexistent/harness.toml")).expect_err("missing");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("/nonexistent/harness.toml"));
    }
}
