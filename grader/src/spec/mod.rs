//! The lab specification: one TOML file per lab, read by the grader and by the book.
//!
//! A specification names the lab, the container contract (port, readiness, limits)
//! and the rubric: checks with ids, points, visibility and timeouts. It is parsed
//! strictly (unknown fields are errors) and then validated, so that a typo in a
//! rubric is reported with the file, the field and the problem instead of silently
//! changing a student's score.

mod check;
mod command;
mod compose;
mod embedded;
mod fakes;
mod files;
mod metrics;
mod overlay;
mod request;
mod rows;

pub use check::{
    CheckKind, CheckSpec, ImageRule, Phase, Route, StartupRule, ValueRange, Via, Visibility,
};
pub use command::{
    CommandExpect, CommandSpec, Input, MetricsExpect, PredictionsExpect, SUBMISSION, StepSpec,
    StreamExpect, WORKDIR,
};
pub use compose::ComposeSpec;
pub use embedded::{EmbeddedLab, embedded_lab, embedded_labs};
pub use fakes::{FakeSpec, OPENAI_KEY, Reply};
pub use files::{Best, Covers, DEFAULT_TYPES, FileRule, FileSource, Goal, RepoRule};
pub use metrics::{MetricsSpec, SampleExpect, Traffic};
pub use request::{Case, Expect, RequestSpec, SseExpect, SseJoin, SseSpread};
pub use rows::{Rows, RowsSpec, first as first_rows};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Feeds one named input of a specification to its digest, length-prefixed so
/// that no two sets of inputs feed the same bytes.
fn digest_part(digest: &mut Sha256, name: &str, body: &str) {
    for part in [name, body] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part.as_bytes());
    }
}

/// A whole lab, as written in its `lab.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabSpec {
    pub id: String,
    pub title: String,
    pub week: u8,
    #[serde(default)]
    pub summary: String,
    /// Optional for a lab with no service: its commands still run with these limits.
    #[serde(default)]
    pub container: ContainerSpec,
    #[serde(default)]
    pub build: BuildSpec,
    /// Real tools that judge the submission, by name: their images, built
    /// from recipes in `images/judges/` (`cargo xtask judge-images`).
    #[serde(default)]
    pub judges: BTreeMap<String, String>,
    /// Services the grader plays for the submission, by name (see `fakes`).
    #[serde(default)]
    pub fakes: BTreeMap<String, FakeSpec>,
    /// Checks taken from other labs (see `compose`), before the lab's own.
    #[serde(default)]
    pub compose: Vec<ComposeSpec>,
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// The rows requests are made of, as `[rows]` declares them.
    #[serde(default, rename = "rows")]
    pub rows_spec: Option<RowsSpec>,
    /// Those rows, read from the lab's `data/` folder, never the submission.
    #[serde(skip)]
    pub rows: Option<Rows>,
    /// Expected snapshots, keyed by name; filled from the lab's `snapshots/` folder,
    /// never from the submission.
    #[serde(skip)]
    pub snapshots: BTreeMap<String, String>,
    /// Where the specification came from, for error messages and reports.
    #[serde(skip)]
    pub origin: String,
    /// The SHA-256 of everything the grader read to make this specification
    /// (lab.toml, snapshots, data files, the labs it composes), hex: a batch
    /// journal regrades a class when it changes.
    #[serde(skip)]
    pub digest: String,
}

/// How the submission's container is run and when it counts as ready.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// The service's port; 0 (left out) for a lab with no service, whose checks
    /// are command, file, repository and image checks only.
    #[serde(default)]
    pub port: u16,
    #[serde(default = "defaults::ready_path")]
    pub ready_path: String,
    /// Ready when the function has asked this Lambda fake for its next event,
    /// instead of when the port answers `ready_path` (a function has no port).
    #[serde(default)]
    pub ready_fake: Option<String>,
    #[serde(default = "defaults::ready_timeout")]
    pub ready_timeout_secs: u64,
    /// The whole run, from start to the last check; past it the container is killed.
    #[serde(default = "defaults::run_timeout")]
    pub run_timeout_secs: u64,
    #[serde(default = "defaults::memory_mb")]
    pub memory_mb: u64,
    #[serde(default = "defaults::cpus")]
    pub cpus: f64,
    #[serde(default = "defaults::pids")]
    pub pids: i64,
    /// Bytes of stdout and stderr the grader keeps; more marks "output over its cap".
    #[serde(default = "defaults::log_cap")]
    pub log_cap_bytes: u64,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Limits on building the submission's image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    #[serde(default = "defaults::build_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "defaults::build_memory_mb")]
    pub memory_mb: u64,
    #[serde(default = "defaults::build_cpus")]
    pub cpus: f64,
    #[serde(default = "defaults::context_limit_mb")]
    pub context_limit_mb: u64,
    /// The images a Dockerfile may build on (`FROM`, `COPY --from`, `RUN
    /// --mount=from=`), as patterns where `*` stays within one path segment;
    /// the images the build arguments name and `scratch` are allowed too.
    /// Nothing else is ever pulled: see `docker::dockerfile`.
    #[serde(default = "defaults::images")]
    pub images: Vec<String>,
}

impl Default for ContainerSpec {
    fn default() -> Self {
        Self {
            port: 0,
            ready_path: defaults::ready_path(),
            ready_fake: None,
            ready_timeout_secs: defaults::ready_timeout(),
            run_timeout_secs: defaults::run_timeout(),
            memory_mb: defaults::memory_mb(),
            cpus: defaults::cpus(),
            pids: defaults::pids(),
            log_cap_bytes: defaults::log_cap(),
            env: BTreeMap::new(),
        }
    }
}

impl Default for BuildSpec {
    fn default() -> Self {
        Self {
            timeout_secs: defaults::build_timeout(),
            memory_mb: defaults::build_memory_mb(),
            cpus: defaults::build_cpus(),
            context_limit_mb: defaults::context_limit_mb(),
            images: defaults::images(),
        }
    }
}

mod defaults {
    /// The course's own images: the builder and distroless runtimes it
    /// publishes, and the local stand-ins `cargo xtask base-images` makes.
    pub fn images() -> Vec<String> {
        [
            "ghcr.io/mlops-course/*",
            "gcr.io/distroless/*",
            "mlops-local/*",
        ]
        .map(String::from)
        .to_vec()
    }
    pub fn ready_path() -> String {
        "/health".into()
    }
    pub fn ready_timeout() -> u64 {
        30
    }
    pub fn run_timeout() -> u64 {
        180
    }
    pub fn memory_mb() -> u64 {
        256
    }
    pub fn cpus() -> f64 {
        1.0
    }
    pub fn pids() -> i64 {
        64
    }
    pub fn log_cap() -> u64 {
        1 << 20
    }
    pub fn build_timeout() -> u64 {
        300
    }
    pub fn build_memory_mb() -> u64 {
        2000
    }
    pub fn build_cpus() -> f64 {
        2.0
    }
    pub fn context_limit_mb() -> u64 {
        64
    }
}

/// A specification that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{origin}: cannot read: {source}")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {field}: {problem}")]
    Invalid {
        origin: String,
        field: String,
        problem: String,
    },
}

impl LabSpec {
    /// Parses and validates a specification; `origin` names it in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        snapshots: BTreeMap<String, String>,
    ) -> Result<Self, SpecError> {
        Self::parse_with_data(text, origin, snapshots, &|name| {
            Err(format!("\"{name}\": this lab has no data files"))
        })
    }

    /// Parses and validates a specification; `data` reads a data file it
    /// names (`[rows] file`), by its path relative to the lab's folder.
    pub fn parse_with_data(
        text: &str,
        origin: &str,
        snapshots: BTreeMap<String, String>,
        data: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Self, SpecError> {
        Self::parse_inner(
            text,
            origin,
            snapshots,
            data,
            Some(&embedded::embedded_lab_alone),
        )
    }

    /// Parses and validates; `compose` loads the labs `[[compose]]` names
    /// (none: the blocks stay unexpanded, for a lab being composed).
    pub(super) fn parse_inner(
        text: &str,
        origin: &str,
        snapshots: BTreeMap<String, String>,
        data: &dyn Fn(&str) -> Result<String, String>,
        compose: Option<compose::Loader>,
    ) -> Result<Self, SpecError> {
        let mut spec: LabSpec = toml::from_str(text).map_err(|e| SpecError::Parse {
            origin: origin.to_string(),
            // toml's message spans several lines with a source excerpt; keep it whole
            // but on one line so the error stays a single line in a terminal or log.
            message: one_line(&e.to_string()),
        })?;
        spec.origin = origin.to_string();
        let mut digest = Sha256::new();
        digest_part(&mut digest, "lab.toml", text);
        for (name, body) in &snapshots {
            digest_part(&mut digest, &format!("snapshots/{name}"), body);
        }
        spec.snapshots = snapshots;
        if let Some(rows) = &spec.rows_spec {
            let invalid = |field: &str, problem: String| SpecError::Invalid {
                origin: origin.to_string(),
                field: field.to_string(),
                problem,
            };
            let text = data(&rows.file).map_err(|p| invalid("rows.file", p))?;
            digest_part(&mut digest, &rows.file, &text);
            spec.rows = Some(Rows::parse(rows, &text).map_err(|p| invalid("rows", p))?);
        }
        spec.digest = hex::encode(digest.finalize());
        if let Some(load) = compose
            && !spec.compose.is_empty()
        {
            compose::apply(&mut spec, load).map_err(|(field, problem)| SpecError::Invalid {
                origin: origin.to_string(),
                field,
                problem,
            })?;
        }
        spec.resolve_file_rules();
        spec.validate()?;
        Ok(spec)
    }

    /// A file check of a command's output is judged where that command
    /// runs: before the service, or beside it.
    fn resolve_file_rules(&mut self) {
        let beside: Vec<String> = self
            .checks
            .iter()
            .filter(|c| matches!(&c.kind, CheckKind::Command(cmd) if cmd.service))
            .map(|c| c.id.clone())
            .collect();
        let beside: Vec<&str> = beside.iter().map(String::as_str).collect();
        for check in &mut self.checks {
            if let CheckKind::File(rule) = &mut check.kind {
                rule.resolve_beside(&beside);
            }
        }
    }

    /// Reads `lab.toml`, its `snapshots/*.snap` and the data files it names
    /// from a folder on disk.
    pub fn from_dir(dir: &Path) -> Result<Self, SpecError> {
        let file = dir.join("lab.toml");
        let origin = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|source| SpecError::Read {
            origin: origin.clone(),
            source,
        })?;
        let snapshots = read_snapshots(&dir.join("snapshots"))?;
        // The lab's own files: an instructor's, not a submission's.
        let data = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
        };
        Self::parse_with_data(&text, &origin, snapshots, &data)
    }

    /// Whether the lab has a service to start: a check talks to it. A lab without
    /// one runs only its command, file, repository and image checks.
    pub fn has_service(&self) -> bool {
        self.checks.iter().any(|c| c.kind.needs_container())
    }

    /// Whether any check needs the submission's image: a lab of repository and
    /// tree checks only is judged without building anything.
    pub fn needs_image(&self) -> bool {
        self.checks.iter().any(|c| self.check_needs_image(c))
    }

    /// Whether this check needs the submission's image: a file check on a
    /// command's output needs what that command needs (a judge's command
    /// needs no image of the submission).
    pub fn check_needs_image(&self, check: &CheckSpec) -> bool {
        match &check.kind {
            CheckKind::File(rule) => match rule.command() {
                Some(id) => self
                    .checks
                    .iter()
                    .find(|c| c.id == id)
                    .is_none_or(|c| c.kind.needs_image()),
                None => false,
            },
            kind => kind.needs_image(),
        }
    }

    /// The total of all checks' points.
    pub fn max_points(&self) -> u32 {
        self.checks.iter().map(|c| c.points).sum()
    }

    fn invalid(&self, field: impl Into<String>, problem: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            origin: self.origin.clone(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn validate(&self) -> Result<(), SpecError> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(self.invalid("id", "must be non-empty letters, digits or '-'"));
        }
        if !(1..=15).contains(&self.week) {
            return Err(self.invalid("week", format!("{} is not a week from 1 to 15", self.week)));
        }
        let c = &self.container;
        if c.port == 0 && c.ready_fake.is_none() && self.has_service() {
            return Err(self.invalid(
                "container.port",
                "the lab has checks of a running service, so it needs a port from 1 to 65535 (or ready_fake, for a function)",
            ));
        }
        fakes::validate(&self.fakes, c.port)
            .map_err(|(field, problem)| self.invalid(field, problem))?;
        if let Some(name) = &c.ready_fake
            && !matches!(self.fakes.get(name), Some(FakeSpec::Lambda { .. }))
        {
            return Err(self.invalid(
                "container.ready_fake",
                format!("\"{name}\" is not a fake of kind \"lambda\" declared under [fakes]"),
            ));
        }
        if !c.ready_path.starts_with('/') {
            return Err(self.invalid("container.ready_path", "must start with '/'"));
        }
        if let Err(e) = crate::docker::dockerfile::AllowList::new(&self.build.images) {
            return Err(self.invalid("build.images", e));
        }
        let cpus_ok = |v: f64| v.is_finite() && v > 0.0 && v <= 64.0;
        if !cpus_ok(c.cpus) {
            return Err(self.invalid("container.cpus", "must be above 0 and at most 64"));
        }
        if !cpus_ok(self.build.cpus) {
            return Err(self.invalid("build.cpus", "must be above 0 and at most 64"));
        }
        if c.memory_mb < 16 || self.build.memory_mb < 64 {
            return Err(self.invalid(
                "container.memory_mb",
                "is too small to run anything (16 MB at least; 64 MB for builds)",
            ));
        }
        if self.build.memory_mb > 2047 {
            // The engine API takes the build's memory as 32-bit bytes in bollard.
            return Err(self.invalid("build.memory_mb", "must be at most 2047"));
        }
        if c.pids < 8 {
            return Err(self.invalid("container.pids", "must allow at least 8 processes"));
        }
        // A lab whose checks all come from `[[compose]]`, read unexpanded
        // (to be refused as a composed lab), has none yet.
        if self.checks.is_empty() && self.compose.is_empty() {
            return Err(self.invalid("checks", "a lab needs at least one check"));
        }
        let mut seen = HashSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            let field = format!("checks[{i}] ({})", check.id);
            if !seen.insert(check.id.as_str()) {
                return Err(self.invalid(field, "duplicate check id"));
            }
            check
                .validate(self)
                .map_err(|problem| self.invalid(field, problem))?;
        }
        Ok(())
    }
}

/// The `*.snap` files of a `snapshots/` folder by name, if there is one.
fn read_snapshots(dir: &Path) -> Result<BTreeMap<String, String>, SpecError> {
    let mut snapshots = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(snapshots);
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        if path.extension().is_some_and(|e| e == "snap") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let body = std::fs::read_to_string(&path).map_err(|source| SpecError::Read {
                origin: path.display().to_string(),
                source,
            })?;
            snapshots.insert(name, body);
        }
    }
    Ok(snapshots)
}

/// Folds a multi-line message onto one line.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
