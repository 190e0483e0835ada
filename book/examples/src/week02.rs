//! Week 2: from research code to production code.
//!
//! The pieces a notebook leaves out and a command-line tool needs: a typed
//! configuration that is validated once, at start-up, with errors that name
//! the field at fault; input parsing that reports the line and column of a bad
//! value; one error type for the whole program, mapped to exit codes; and
//! structured logs with `tracing`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing::{debug, info, instrument, warn};

// ANCHOR: config
// ANCHOR: config_struct
/// The training tool's configuration, as read from a TOML file.
///
/// `deny_unknown_fields` turns a misspelt key (`max_dept`) into an error
/// instead of a silently ignored line and a default that nobody chose.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub output: OutputConfig,
}
// ANCHOR_END: config_struct

// ANCHOR: config_sections
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// CSV file of wines to train on.
    pub path: PathBuf,
    /// Share of rows held out for testing.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub seed: u64,
    pub max_depth: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Folder for the model artifact and `metrics.json`.
    pub dir: PathBuf,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("out"),
        }
    }
}

fn default_test_fraction() -> f64 {
    0.2
}
// ANCHOR_END: config_sections
// ANCHOR_END: config

// ANCHOR: config_error
/// Why a configuration was refused. Every variant says where to look: the
/// file and line, the field, or the environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config field `{field}` {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("environment variable {var} {reason}")]
    Env { var: &'static str, reason: String },
}
// ANCHOR_END: config_error

// ANCHOR: config_load
// ANCHOR: config_load_parse
impl Config {
    /// Reads, parses and validates the configuration file at `path`.
    #[instrument(skip_all, fields(path = %path.display()))]
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: origin.to_owned(),
            // toml reports a byte span; people think in lines.
            line: err
                .span()
                .map_or(1, |span| text[..span.start].matches('\n').count() + 1),
            message: err.message().to_owned(),
        })?;
        config.validate()?;
        info!(
            seed = config.train.seed,
            max_depth = config.train.max_depth,
            test_fraction = config.data.test_fraction,
            "config loaded"
        );
        Ok(config)
    }
    // ANCHOR_END: config_load_parse

    // ANCHOR: config_load_validate
    /// Checks what types alone cannot say. Runs once, at start-up, so that a
    /// bad value stops the program before any work is done.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fraction = self.data.test_fraction;
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(ConfigError::Invalid {
                field: "data.test_fraction",
                reason: format!("must be strictly between 0 and 1, got {fraction}"),
            });
        }
        if !(1..=32).contains(&self.train.max_depth) {
            return Err(ConfigError::Invalid {
                field: "train.max_depth",
                reason: format!("must be between 1 and 32, got {}", self.train.max_depth),
            });
        }
        if self.data.path.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                field: "data.path",
                reason: "must not be empty".to_owned(),
            });
        }
        Ok(())
    }
}
// ANCHOR_END: config_load_validate
// ANCHOR_END: config_load

// ANCHOR: config_env
impl Config {
    /// Applies overrides from environment variables on top of the file:
    /// defaults < file < environment. `lookup` is `std::env::var(..).ok()`
    /// in the program and a fixed table in tests.
    pub fn apply_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if let Some(raw) = lookup("WINEQ_SEED") {
            self.train.seed = raw.trim().parse().map_err(|_| ConfigError::Env {
                var: "WINEQ_SEED",
                reason: format!("must be a non-negative integer, got {raw:?}"),
            })?;
            warn!(seed = self.train.seed, "seed overridden by WINEQ_SEED");
        }
        if let Some(raw) = lookup("WINEQ_MAX_DEPTH") {
            self.train.max_depth = raw.trim().parse().map_err(|_| ConfigError::Env {
                var: "WINEQ_MAX_DEPTH",
                reason: format!("must be a positive integer, got {raw:?}"),
            })?;
            warn!(
                max_depth = self.train.max_depth,
                "max_depth overridden by WINEQ_MAX_DEPTH"
            );
        }
        // An override must pass the same checks as the file.
        self.validate()?;
        Ok(self)
    }
}
// ANCHOR_END: config_env

// ANCHOR: csv
// ANCHOR: csv_errors
/// The eleven feature columns, in the order the model expects them.
pub const FEATURE_COLUMNS: [&str; 11] = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "ph",
    "sulphates",
    "alcohol",
];

/// Why an input CSV file was refused. Line numbers count from 1, header
/// included, as an editor shows them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("the file is empty; expected a header line")]
    Empty,
    #[error("line 1: expected the header `{expected}`, found `{found}`")]
    Header { expected: String, found: String },
    #[error("line {line}: expected {expected} values, found {found}")]
    Width {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, column `{column}`: {value:?} is not a finite number")]
    Number {
        line: usize,
        column: &'static str,
        value: String,
    },
    #[error("the file has a header but no rows")]
    NoRows,
}
// ANCHOR_END: csv_errors

// ANCHOR: csv_header
/// Parses a CSV file of wines: a header naming [`FEATURE_COLUMNS`] in order,
/// then one row of eleven numbers per wine. Blank lines are skipped.
#[instrument(skip_all, fields(bytes = text.len()))]
pub fn parse_features_csv(text: &str) -> Result<Vec<[f64; 11]>, DataError> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let (_, header) = lines.next().ok_or(DataError::Empty)?;
    let expected = FEATURE_COLUMNS.join(",");
    if header.trim() != expected {
        return Err(DataError::Header {
            expected,
            found: header.trim().to_owned(),
        });
    }
    // ANCHOR_END: csv_header
    // ANCHOR: csv_rows
    let mut rows = Vec::new();
    for (line, content) in lines.filter(|(_, content)| !content.trim().is_empty()) {
        let values: Vec<&str> = content.split(',').map(str::trim).collect();
        if values.len() != FEATURE_COLUMNS.len() {
            return Err(DataError::Width {
                line,
                expected: FEATURE_COLUMNS.len(),
                found: values.len(),
            });
        }
        let mut row = [0.0; 11];
        for ((slot, raw), column) in row.iter_mut().zip(&values).zip(FEATURE_COLUMNS) {
            *slot = raw
                .parse::<f64>()
                .ok()
                // "NaN" and "inf" parse as f64; they are not measurements.
                .filter(|value| value.is_finite())
                .ok_or_else(|| DataError::Number {
                    line,
                    column,
                    value: (*raw).to_owned(),
                })?;
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(DataError::NoRows);
    }
    debug!(rows = rows.len(), "parsed CSV");
    Ok(rows)
}
// ANCHOR_END: csv_rows
// ANCHOR_END: csv

// ANCHOR: app_error
// ANCHOR: app_error_type
/// Every way the program can fail, in one type. `main` turns it into a
/// message and an exit code, and nothing else in the program exits.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid usage: {0}")]
    Usage(String),
    #[error("bad configuration")]
    Config(#[from] ConfigError),
    #[error("bad input data")]
    Data(#[from] DataError),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("training failed: {0}")]
    Training(String),
}

impl AppError {
    /// 2 when the caller can fix it (flags, config, input data); 1 when the
    /// fault is ours or the machine's. Scripts and graders rely on this.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) | AppError::Config(_) | AppError::Data(_) => 2,
            AppError::Write { .. } | AppError::Training(_) => 1,
        }
    }
}
// ANCHOR_END: app_error_type

// ANCHOR: app_error_report
/// The whole chain of causes, one per line: the top-level error first, then
/// each `source()` under it.
pub fn report(err: &AppError) -> String {
    let mut text = format!("error: {err}");
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        // Writing to a String cannot fail.
        let _ = write!(text, "\n  caused by: {inner}");
        cause = inner.source();
    }
    text
}

/// What `main` does with the outcome of the program: print the report to
/// `stderr` and return the exit code (0 on success).
pub fn finish(result: Result<(), AppError>, stderr: &mut impl Write) -> u8 {
    match result {
        Ok(()) => 0,
        Err(err) => {
            // If stderr itself is gone there is nobody left to tell.
            let _ = writeln!(stderr, "{}", report(&err));
            err.exit_code()
        }
    }
}
// ANCHOR_END: app_error_report
// ANCHOR_END: app_error

// ANCHOR: logging
/// Installs the program's one subscriber, first thing in `main`: events at the
/// level `RUST_LOG` asks for (`default` when it is unset or unreadable) go to
/// stderr, so that stdout carries only the program's results, with colours
/// only when stderr is a terminal: escape codes clutter a file or a CI log.
pub fn init_logging(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
// ANCHOR_END: logging

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    const GOOD: &str = r#"
[data]
path = "data/winequality-red.csv"

[train]
seed = 42
max_depth = 4
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("train.toml"))
    }

    #[test]
    fn a_good_config_loads_with_defaults() {
        let config = parse(GOOD).expect("valid config");
        assert_eq!(config.train.seed, 42);
        assert_eq!(config.data.test_fraction, 0.2);
        assert_eq!(config.output.dir, PathBuf::from("out"));
    }

    // ANCHOR: config_tests
    #[test]
    fn a_misspelt_key_is_an_error_with_its_line() {
        let text = GOOD.replace("max_depth", "max_dept");
        let err = parse(&text).expect_err("unknown key");
        assert!(matches!(err, ConfigError::Parse { line: 7, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.starts_with("train.toml, line 7: unknown field `max_dept`"));
    }

    #[test]
    fn a_wrong_type_is_an_error_with_its_line() {
        let err = parse(&GOOD.replace("seed = 42", "seed = \"42\"")).expect_err("string seed");
        assert!(matches!(err, ConfigError::Parse { line: 6, .. }), "{err:?}");
    }

    #[test]
    fn an_out_of_range_value_names_the_field() {
        let text = GOOD.replace("[train]", "test_fraction = 1.5\n\n[train]");
        let err = parse(&text).expect_err("fraction too big");
        assert_eq!(
            err.to_string(),
            "config field `data.test_fraction` must be strictly between 0 and 1, got 1.5"
        );
        let err = parse(&GOOD.replace("max_depth = 4", "max_depth = 0")).expect_err("depth 0");
        assert!(matches!(
            err,
            ConfigError::Invalid {
                field: "train.max_depth",
                ..
            }
        ));
    }
    // ANCHOR_END: config_tests

    #[test]
    fn a_missing_section_is_an_error() {
        let err = parse("[data]\npath = \"x.csv\"\n").expect_err("no [train]");
        assert!(err.to_string().contains("missing field `train`"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file_and_is_validated() {
        let config = parse(GOOD).expect("valid");
        let env = |var: &str| (var == "WINEQ_SEED").then(|| "7".to_owned());
        assert_eq!(config.clone().apply_env(env).expect("valid").train.seed, 7);

        let bad = |var: &str| (var == "WINEQ_MAX_DEPTH").then(|| "deep".to_owned());
        let err = config.clone().apply_env(bad).expect_err("not a number");
        assert!(
            matches!(
                err,
                ConfigError::Env {
                    var: "WINEQ_MAX_DEPTH",
                    ..
                }
            ),
            "{err:?}"
        );

        let zero = |var: &str| (var == "WINEQ_MAX_DEPTH").then(|| "0".to_owned());
        assert!(matches!(
            config.apply_env(zero),
            Err(ConfigError::Invalid {
                field: "train.max_depth",
                ..
            })
        ));
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_the_path() {
        let path = Path::new("/nonexistent/week02/train.toml");
        let err = Config::load(path).expect_err("no such file");
        assert_eq!(
            err.to_string(),
            "cannot read config file /nonexistent/week02/train.toml"
        );
        let app = AppError::from(err);
        assert_eq!(app.exit_code(), 2);
        let text = report(&app);
        assert!(text.starts_with("error: bad configuration\n  caused by: cannot read config file"));
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    const HEADER: &str = "fixed_acidity,volatile_acidity,citric_acid,residual_sugar,chlorides,\
free_sulfur_dioxide,total_sulfur_dioxide,density,ph,sulphates,alcohol";

    #[test]
    fn a_good_csv_parses() {
        let text = format!(
            "{HEADER}\n7.4,0.7,0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4\n\n7.8,0.88,0,2.6,0.098,25,67,0.9968,3.2,0.68,9.8\n"
        );
        let rows = parse_features_csv(&text).expect("valid CSV");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][10], 9.8);
    }

    // ANCHOR: csv_tests
    #[test]
    fn bad_csv_files_say_where_the_problem_is() {
        let row = "7.4,0.7,0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4";
        let cases = [
            (String::new(), DataError::Empty),
            (format!("{HEADER}\n"), DataError::NoRows),
            (
                format!("{HEADER}\n{row}\n7.4,0.7\n"),
                DataError::Width {
                    line: 3,
                    expected: 11,
                    found: 2,
                },
            ),
            (
                format!("{HEADER}\n{}", row.replace("3.51", "three")),
                DataError::Number {
                    line: 2,
                    column: "ph",
                    value: "three".to_owned(),
                },
            ),
            (
                format!("{HEADER}\n{}", row.replace("9.4", "NaN")),
                DataError::Number {
                    line: 2,
                    column: "alcohol",
                    value: "NaN".to_owned(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_features_csv(&text), Err(expected));
        }
        let err = parse_features_csv("quality\n5\n").expect_err("wrong header");
        assert!(matches!(err, DataError::Header { .. }));
    }
    // ANCHOR_END: csv_tests

    #[test]
    fn logging_defaults_to_the_level_given_when_rust_log_is_unset() {
        // The one test that installs the global subscriber (twice would panic).
        init_logging("warn");
        assert!(tracing::enabled!(tracing::Level::WARN));
        if std::env::var_os("RUST_LOG").is_none() {
            assert!(!tracing::enabled!(tracing::Level::INFO));
        }
    }

    // ANCHOR: exit_code_tests
    #[test]
    fn errors_map_to_exit_codes_and_messages() {
        let mut stderr = Vec::new();
        assert_eq!(finish(Ok(()), &mut stderr), 0);
        assert!(stderr.is_empty());

        let bad_data = AppError::from(DataError::NoRows);
        assert_eq!(finish(Err(bad_data), &mut stderr), 2);
        let text = String::from_utf8(stderr).expect("UTF-8");
        assert_eq!(
            text,
            "error: bad input data\n  caused by: the file has a header but no rows\n"
        );

        assert_eq!(AppError::Usage("no command".into()).exit_code(), 2);
        let disk_full = AppError::Write {
            path: PathBuf::from("out/metrics.json"),
            source: io::Error::other("no space left on device"),
        };
        assert_eq!(disk_full.exit_code(), 1);
        assert_eq!(
            report(&disk_full),
            "error: cannot write out/metrics.json\n  caused by: no space left on device"
        );
    }
    // ANCHOR_END: exit_code_tests

    /// A log destination the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock not poisoned").write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn loading_logs_structured_fields() {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || parse(GOOD)).expect("valid");
        let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("UTF-8");
        assert!(text.contains("INFO"), "{text}");
        assert!(text.contains("config loaded"), "{text}");
        assert!(text.contains("seed=42 max_depth=4"), "{text}");
    }
}
