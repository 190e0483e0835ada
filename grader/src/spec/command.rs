//! Command-line checks: the submission image's program run with given arguments,
//! in a container of its own with no network, and what it must do.
//!
//! ```toml
//! [[checks]]
//! id = "cli.bad-csv"
//! title = "A malformed CSV gets exit code 2 and a message, no panic"
//! points = 5
//! kind = "command"
//! args = ["predict", "--input", "in/bad.csv"]
//! files = { "in/bad.csv" = "fixed_acidity,alcohol\nseven,9.4\n" }
//! expect = { bad_input = true, stderr = { contains = ["bad.csv"] } }
//! ```
//!
//! The program is the image's ENTRYPOINT; `args` replace its CMD. It runs in
//! `/work`, where `files` (text, paths relative to `/work`) are put first, and
//! where `output_dir` (relative to `/work`) is made writable for it; the files
//! it writes there are read back for `file` checks (`from = "<this check's id>"`).
//!
//! A real tool can be the judge instead: `steps` run one after another, each
//! in a fresh container of its image (`"submission"` or `"judge:NAME"`, a
//! judge the lab declares under `[judges]`), sharing `/work`; a judge's `args`
//! are its whole command line. Each step must exit 0 for the next to run;
//! `expect` judges the last. `inputs = ["tree"]` puts the submission's files,
//! read-only, at `/work/tree` (`"git"`: with its `.git`); `"program"` puts its
//! image's program at `/work/bin/<name>`, for a judge that runs it.
//!
//! ```toml
//! [[checks]]
//! id = "dotdrop.laptop"
//! kind = "command"
//! inputs = ["tree"]
//! env = { HOME = "/work/home" }
//! output_dir = "home"
//! steps = [
//!   { image = "judge:dotdrop", args = ["dotdrop", "install", "-c", "tree/config.yaml", "-p", "laptop", "-f"] },
//!   { image = "judge:dotdrop", args = ["dotdrop", "compare", "-c", "tree/config.yaml", "-p", "laptop"] },
//! ]
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;

/// Where the command runs, inside its container.
pub const WORKDIR: &str = "/work";

/// A command to run and what it must do.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    #[serde(default)]
    pub args: Vec<String>,
    /// Text given on standard input; none means an empty, closed stdin.
    pub stdin: Option<String>,
    /// Input files, path (relative to `/work`) to text.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// A folder (relative to `/work`) the program may write; what it writes there
    /// is read back after it exits.
    pub output_dir: Option<String>,
    /// Extra environment, besides the lab's `[container] env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub expect: CommandExpect,
    /// Containers to run in turn instead of the submission's program once.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// What the containers see of the submission besides its image.
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// Run beside the submission's service, each container joined to its
    /// network namespace (the service at `127.0.0.1:PORT`, nothing else), in
    /// the service phase; otherwise with no network, before the service.
    #[serde(default)]
    pub service: bool,
}

/// One step of a command check.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// `"submission"` (the image built from the submission; `args` go to its
    /// ENTRYPOINT) or `"judge:NAME"` (`args` are the whole command line).
    #[serde(default = "submission")]
    pub image: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// How messages name the step (a shell script is long): its command line
    /// by default.
    pub name: Option<String>,
    /// A judge's step that opens files sealed to the course's recipient: the
    /// course identity is mounted read-only at `/course/identity.txt` for it
    /// (and for no other step), with its recipient beside it at
    /// `/course/recipient.txt`. Without a course key the check is not run.
    #[serde(default)]
    pub course_key: bool,
}

fn submission() -> String {
    SUBMISSION.to_string()
}

/// The image of a step that runs the submission's own program.
pub const SUBMISSION: &str = "submission";

/// What of the submission a command's containers see.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    /// Its files, read-only at `/work/tree`.
    Tree,
    /// Its files and its `.git`, read-only at `/work/tree`.
    Git,
    /// Its program, the image's ENTRYPOINT copied out of the image, at
    /// `/work/bin/<name>`, executable: for a judge that runs the student's
    /// program itself (dvc running a pipeline's stages). It must be a
    /// static binary, or one the judge's libraries can run.
    Program,
}

impl StepSpec {
    /// The judge this step runs, if it is a judge's.
    pub fn judge(&self) -> Option<&str> {
        self.image.strip_prefix("judge:")
    }
}

/// What a finished command must show. Every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandExpect {
    /// The exit code; 0 unless given (2 with `bad_input`).
    pub code: Option<i32>,
    #[serde(default)]
    pub stdout: StreamExpect,
    #[serde(default)]
    pub stderr: StreamExpect,
    /// Neither stream shows a Rust panic or a backtrace.
    #[serde(default)]
    pub no_panic: bool,
    /// The course's bad-input policy: exit code 2, a message on stderr, no panic.
    #[serde(default)]
    pub bad_input: bool,
    /// stdout compared with the lab's `snapshots/<name>.snap`.
    pub snapshot: Option<String>,
    /// JSON pointers redacted from stdout before the snapshot comparison, when
    /// stdout is JSON (`*` stands for every element).
    #[serde(default)]
    pub redact: Vec<String>,
    /// `[regex, replacement]` pairs applied to stdout before the comparison.
    #[serde(default)]
    pub filters: Vec<[String; 2]>,
    /// stdout is JSON whose array at `pointer` predicts these labels often
    /// enough: a model that answers the same for every input cannot pass.
    pub predictions: Option<Box<PredictionsExpect>>,
    /// stdout is JSON whose metrics equal those recomputed from another
    /// check's predictions against its labels: hard-coded scores cannot pass.
    pub metrics: Option<Box<MetricsExpect>>,
}

/// The program's predictions, scored against the true labels of its inputs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PredictionsExpect {
    /// JSON pointer to the array of predictions, one per input row.
    pub pointer: String,
    /// The true label of each input row, in order.
    pub labels: Vec<f64>,
    /// The share of predictions equal to their label needed to pass.
    pub min_accuracy: f64,
}

/// Metrics a program reports, held to the values that another check's
/// predictions score against that check's labels.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsExpect {
    /// A command check with `expect.predictions`, run on the same rows.
    pub predictions_from: String,
    /// JSON pointer to the reported accuracy (share of exact predictions).
    pub accuracy: Option<String>,
    /// JSON pointer to the reported mean absolute error.
    pub mae: Option<String>,
}

/// What one output stream must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StreamExpect {
    /// Each of these strings appears.
    #[serde(default)]
    pub contains: Vec<String>,
    /// This regular expression matches somewhere.
    pub matches: Option<String>,
    /// Nothing but whitespace.
    #[serde(default)]
    pub empty: bool,
    /// Something other than whitespace.
    #[serde(default)]
    pub not_empty: bool,
    /// None of these strings appears.
    #[serde(default)]
    pub excludes: Vec<String>,
}

impl CommandExpect {
    /// The exit code expected, with the defaults applied.
    pub fn code(&self) -> i32 {
        self.code.unwrap_or(if self.bad_input { 2 } else { 0 })
    }
}

impl CommandSpec {
    /// Whether a step needs the course identity.
    pub fn needs_course_key(&self) -> bool {
        self.steps.iter().any(|s| s.course_key)
    }

    /// Whether any of its containers runs the submission's image.
    pub fn runs_submission(&self) -> bool {
        self.steps.is_empty() || self.steps.iter().any(|s| s.judge().is_none())
    }

    pub(super) fn validate(
        &self,
        snapshots: &BTreeMap<String, String>,
        judges: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        if !self.steps.is_empty() && !self.args.is_empty() {
            return Err("args go in each step when there are steps".into());
        }
        for (i, step) in self.steps.iter().enumerate() {
            match step.judge() {
                Some(name) if !judges.contains_key(name) => {
                    return Err(format!(
                        "steps[{i}]: no judge \"{name}\" under [judges] (known: {})",
                        if judges.is_empty() {
                            "none".to_string()
                        } else {
                            judges.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
                Some(_) if step.args.is_empty() => {
                    return Err(format!(
                        "steps[{i}]: a judge's step needs its command line in args"
                    ));
                }
                None if step.course_key => {
                    return Err(format!(
                        "steps[{i}]: course_key is for a judge's step; the submission never sees the course identity"
                    ));
                }
                None if step.image != SUBMISSION => {
                    return Err(format!(
                        "steps[{i}]: image \"{}\" is neither \"submission\" nor \"judge:NAME\"",
                        step.image
                    ));
                }
                _ => {}
            }
        }
        for path in self.files.keys() {
            relative_path("files", path)?;
        }
        if let Some(dir) = &self.output_dir {
            relative_path("output_dir", dir)?;
        }
        if let Some(bad) = self.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return Err(format!("env: \"{bad}\" is not a variable name"));
        }
        let e = &self.expect;
        if let Some(code) = e.code {
            if !(0..=255).contains(&code) {
                return Err(format!("expect.code {code} is not an exit code (0 to 255)"));
            }
            if e.bad_input && code != 2 {
                return Err("expect: bad_input means exit code 2; leave code out".into());
            }
        }
        e.stdout.validate("expect.stdout")?;
        e.stderr.validate("expect.stderr")?;
        if e.bad_input && e.stderr.empty {
            return Err("expect: bad_input needs a message on stderr; drop stderr.empty".into());
        }
        if let Some(name) = &e.snapshot
            && !snapshots.contains_key(name)
        {
            return Err(format!(
                "expect.snapshot \"{name}\" has no file snapshots/{name}.snap beside the specification"
            ));
        }
        if e.snapshot.is_none() && (!e.redact.is_empty() || !e.filters.is_empty()) {
            return Err("expect: redact and filters apply to a snapshot; give snapshot".into());
        }
        if let Some(bad) = e.redact.iter().find(|p| !p.starts_with('/')) {
            return Err(format!(
                "expect.redact: \"{bad}\" is not a JSON pointer (starts with '/')"
            ));
        }
        for [pattern, _] in &e.filters {
            regex::Regex::new(pattern)
                .map_err(|err| format!("expect.filters: {}", regex_problem(&err.to_string())))?;
        }
        if let Some(p) = &e.predictions {
            p.validate()?;
        }
        if let Some(m) = &e.metrics {
            m.validate()?;
        }
        Ok(())
    }
}

impl PredictionsExpect {
    fn validate(&self) -> Result<(), String> {
        if !self.pointer.starts_with('/') {
            return Err(format!(
                "expect.predictions.pointer: \"{}\" is not a JSON pointer (starts with '/')",
                self.pointer
            ));
        }
        if self.labels.is_empty() {
            return Err("expect.predictions.labels: give the label of each input row".into());
        }
        if !(self.min_accuracy > 0.0 && self.min_accuracy <= 1.0) {
            return Err(format!(
                "expect.predictions.min_accuracy: {} is not a share above 0 and at most 1",
                self.min_accuracy
            ));
        }
        Ok(())
    }
}

impl MetricsExpect {
    fn validate(&self) -> Result<(), String> {
        if self.accuracy.is_none() && self.mae.is_none() {
            return Err("expect.metrics: give accuracy, mae or both (JSON pointers)".into());
        }
        for (field, p) in [("accuracy", &self.accuracy), ("mae", &self.mae)] {
            if let Some(p) = p
                && !p.starts_with('/')
            {
                return Err(format!(
                    "expect.metrics.{field}: \"{p}\" is not a JSON pointer (starts with '/')"
                ));
            }
        }
        Ok(())
    }
}

impl StreamExpect {
    fn validate(&self, field: &str) -> Result<(), String> {
        if self.empty && (self.not_empty || !self.contains.is_empty() || self.matches.is_some()) {
            return Err(format!(
                "{field}: empty cannot go with not_empty, contains or matches"
            ));
        }
        if self.contains.iter().any(String::is_empty) {
            return Err(format!("{field}.contains: an empty string always matches"));
        }
        if self.excludes.iter().any(String::is_empty) {
            return Err(format!(
                "{field}.excludes: an empty string is in every output"
            ));
        }
        if self.empty && !self.excludes.is_empty() {
            return Err(format!("{field}: empty already excludes everything"));
        }
        if let Some(pattern) = &self.matches {
            regex::Regex::new(pattern)
                .map_err(|err| format!("{field}.matches: {}", regex_problem(&err.to_string())))?;
        }
        Ok(())
    }

    pub fn is_empty_expectation(&self) -> bool {
        *self == StreamExpect::default()
    }
}

/// A path inside the work area: relative, plain folder names, no `..`.
pub(super) fn relative_path(field: &str, path: &str) -> Result<(), String> {
    use std::path::{Component, Path};
    let p = Path::new(path);
    if path.is_empty()
        || path.contains('\\')
        || !p.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "{field}: \"{path}\" must be a relative path of plain names (no '/', '..' or '.' at its start)"
        ));
    }
    Ok(())
}

/// regex's errors draw the pattern over several lines; the last line says what is wrong.
pub(super) fn regex_problem(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}
