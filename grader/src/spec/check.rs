//! One rubric item: what it is worth, who sees it, and what it observes.

use super::LabSpec;
use super::command::CommandSpec;
use super::files::{FileRule, RepoRule};
use super::request::{Case, Expect, RequestSpec};
use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;

/// Who sees a check's details. Hidden checks are run only for instructors, and
/// nothing of their inputs or expected outputs reaches a student's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Visible,
    Hidden,
}

/// A check as written in the specification.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub id: String,
    pub title: String,
    pub points: u32,
    pub visibility: Visibility,
    pub timeout: Duration,
    pub kind: CheckKind,
}

/// What a check observes, with the parameters of that kind.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// A rule on the image's configuration; nothing runs.
    Image(ImageRule),
    /// One or more HTTP requests, each answer held to the same expectation,
    /// then each of `cases`, held to its own.
    Http {
        request: RequestSpec,
        also: Vec<RequestSpec>,
        expect: Expect,
        cases: Vec<Case>,
    },
    /// An HTTP answer compared with an expected snapshot, shown as a diff.
    Snapshot {
        request: RequestSpec,
        snapshot: String,
        redact: Vec<String>,
    },
    /// A request of the lab's rows gets an answer whose array at `answer`
    /// holds one value per row, each within `values`.
    Batch {
        request: RequestSpec,
        answer: String,
        values: ValueRange,
    },
    /// Answers for a seeded sample of the lab's rows, sent `batch` rows at a
    /// time (as HTTP requests or as events for a Lambda fake's function),
    /// equal the rows' labels often enough.
    Accuracy {
        via: Via,
        answer: String,
        values: ValueRange,
        sample: usize,
        seed: u64,
        batch: usize,
        min_accuracy: f64,
    },
    /// `GET /openapi.json` is an OpenAPI 3 document listing these paths.
    OpenApi { paths: Vec<String> },
    /// With `request` held in flight, SIGTERM lets it finish and stops the
    /// container within the grace period, with exit code 0 or 143.
    Sigterm {
        grace_secs: u64,
        request: RequestSpec,
    },
    /// While the sigterm check holds its request in flight after SIGTERM:
    /// the readiness path answers `status`, and `request`, sent afresh, is
    /// still served (a 2xx). Judged from the sigterm check's run.
    Drain { status: u16, request: RequestSpec },
    /// How the service behaved between its port opening and its readiness
    /// path answering 200, as watched while waiting for it to be ready.
    Startup(StartupRule),
    /// The service's Prometheus exposition, read before and after traffic
    /// the grader sends, accounts for it.
    Metrics(super::metrics::MetricsSpec),
    /// An event handed to the function through a Lambda fake; its answer
    /// comes back by `route` ("response" or "error") and meets `expect`.
    Invoke {
        fake: String,
        event: serde_json::Value,
        route: Route,
        expect: Option<Expect>,
    },
    /// The image's program run with arguments in a container of its own.
    Command(CommandSpec),
    /// A rule on files a command wrote or the submission holds.
    File(FileRule),
    /// A rule on the submission's git repository, read without running anything.
    Repository(RepoRule),
}

/// What the service must have shown while it was not yet ready.
#[derive(Debug, Clone, PartialEq)]
pub enum StartupRule {
    /// The readiness path answered `status` for at least `min_secs`, from
    /// when the port opened, before it answered 200: the service listens at
    /// once and says it is loading.
    NotReadyWhileLoading { status: u16, min_secs: u64 },
    /// `path` answered 200 every time it was asked while the readiness path
    /// did not: the process says it is alive while it loads.
    AliveWhileLoading { path: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageRule {
    NonRoot,
    MaxSize { max_mb: u64 },
    Exposes { port: u16 },
    Label { label: String },
}

/// How a function answers an invocation: with a result, or with an error
/// (its handler failed, or it refused the event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Response,
    Error,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Response => "response",
            Route::Error => "error",
        }
    }
}

/// When a check is judged in a grade, in this order. Each kind declares its
/// phase, and the scheduler (`crate::pipeline`) judges a phase's checks together: a phase whose
/// needs did not come about (no image, no ready service) marks its checks
/// "not run" instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The submission's files and history, before anything is built.
    Source,
    /// The image, from its configuration, once it is built.
    Build,
    /// Commands, each in a container of its own (the submission's program or
    /// a judge's steps), and the files they wrote.
    Command,
    /// The running service, through the probe.
    Service,
    /// What ends the service (SIGTERM), last.
    Final,
}

impl Phase {
    /// The phase's name, as progress lines show it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Source => "source",
            Phase::Build => "build",
            Phase::Command => "command",
            Phase::Service => "service",
            Phase::Final => "final",
        }
    }
}

impl CheckKind {
    /// The phase this kind of check is judged in.
    pub fn phase(&self) -> Phase {
        match self {
            CheckKind::Repository(_) => Phase::Source,
            // A fake's transcript is read after the service's last check.
            CheckKind::File(rule) if rule.fake().is_some() => Phase::Final,
            CheckKind::File(rule) if rule.beside() => Phase::Service,
            CheckKind::File(rule) if rule.command().is_none() => Phase::Source,
            CheckKind::Image(_) => Phase::Build,
            CheckKind::Command(spec) if spec.service => Phase::Service,
            CheckKind::Command(_) | CheckKind::File(_) => Phase::Command,
            CheckKind::Http { .. }
            | CheckKind::Snapshot { .. }
            | CheckKind::Batch { .. }
            | CheckKind::Accuracy { .. }
            | CheckKind::OpenApi { .. }
            | CheckKind::Invoke { .. }
            | CheckKind::Startup(_)
            | CheckKind::Metrics(_) => Phase::Service,
            CheckKind::Sigterm { .. } | CheckKind::Drain { .. } => Phase::Final,
        }
    }

    /// Whether the check talks to the running service container.
    pub fn needs_container(&self) -> bool {
        self.phase() >= Phase::Service
    }

    /// Whether the check needs the submission's image built: everything but
    /// repository checks and file checks on the submission's own files.
    pub fn needs_image(&self) -> bool {
        match self {
            CheckKind::Repository(_) => false,
            CheckKind::File(rule) => rule.command().is_some() || rule.fake().is_some(),
            // Beside the service, it needs the service, so the image; a
            // judge given the program copies it out of the image.
            CheckKind::Command(spec) => {
                spec.runs_submission()
                    || spec.service
                    || spec.inputs.contains(&super::command::Input::Program)
            }
            _ => true,
        }
    }
}

/// The raw form: common fields, the kind's name, and the kind's own fields,
/// which are then read strictly into that kind's struct (so an unknown field is
/// still refused, by the kind's own struct: serde cannot combine `flatten` with
/// `deny_unknown_fields`).
#[derive(Deserialize)]
struct RawCheck {
    id: String,
    title: String,
    points: u32,
    #[serde(default)]
    visibility: Visibility,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    kind: String,
    #[serde(flatten)]
    rest: toml::Table,
}

fn default_timeout() -> u64 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFields {
    rule: String,
    max_mb: Option<u64>,
    port: Option<u16>,
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFields {
    request: RequestSpec,
    #[serde(default)]
    also: Vec<RequestSpec>,
    expect: Expect,
    #[serde(default)]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFields {
    request: RequestSpec,
    snapshot: String,
    #[serde(default)]
    redact: Vec<String>,
}

/// What each value of an answer's array must be.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValueRange {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// A whole number (`5`, not `5.5`).
    #[serde(default)]
    pub integer: bool,
}

impl ValueRange {
    /// "an integer from 3 to 8", for messages.
    pub fn describe(&self) -> String {
        let what = if self.integer {
            "an integer"
        } else {
            "a number"
        };
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{what} from {lo} to {hi}"),
            (Some(lo), None) => format!("{what} of at least {lo}"),
            (None, Some(hi)) => format!("{what} of at most {hi}"),
            (None, None) => what.to_string(),
        }
    }

    /// Whether `v` is such a value.
    pub fn holds(&self, v: &serde_json::Value) -> bool {
        let Some(x) = v.as_f64() else {
            return false;
        };
        (!self.integer || (v.is_i64() || v.is_u64()))
            && self.min.is_none_or(|lo| x >= lo)
            && self.max.is_none_or(|hi| x <= hi)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchFields {
    request: RequestSpec,
    answer: String,
    #[serde(default)]
    values: ValueRange,
}

/// How the accuracy check sends its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    /// In the body of this request (which takes no body of its own).
    Http(RequestSpec),
    /// As the event of an invocation through this Lambda fake.
    Invoke(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccuracyFields {
    /// Exactly one of `request` and `fake`.
    request: Option<RequestSpec>,
    fake: Option<String>,
    answer: String,
    #[serde(default)]
    values: ValueRange,
    sample: usize,
    seed: u64,
    #[serde(default = "default_accuracy_batch")]
    batch: usize,
    min_accuracy: f64,
}

/// Rows per request in the accuracy check: small batches, so that a service
/// whose batch handling is broken loses the batch check, not this one too.
fn default_accuracy_batch() -> usize {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenApiFields {
    paths: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvokeFields {
    fake: String,
    /// The event, inline in TOML (a table, an array, a string, a number).
    event: serde_json::Value,
    #[serde(default = "default_route")]
    route: Route,
    expect: Option<Expect>,
}

fn default_route() -> Route {
    Route::Response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigtermFields {
    #[serde(default = "default_grace")]
    grace_secs: u64,
    /// The request held in flight when SIGTERM is sent; it needs a body.
    request: RequestSpec,
}

fn default_grace() -> u64 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrainFields {
    /// What the readiness path answers after SIGTERM.
    #[serde(default = "default_not_ready")]
    status: u16,
    /// A request sent afresh after SIGTERM, which must still be served.
    request: RequestSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartupFields {
    rule: String,
    status: Option<u16>,
    min_secs: Option<u64>,
    path: Option<String>,
}

fn default_not_ready() -> u16 {
    503
}

fn fields<T: serde::de::DeserializeOwned>(kind: &str, rest: toml::Table) -> Result<T, String> {
    rest.try_into()
        .map_err(|e: toml::de::Error| format!("kind \"{kind}\": {}", e.message().trim()))
}

impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawCheck::deserialize(de)?;
        let kind = match raw.kind.as_str() {
            "image" => {
                let f: ImageFields = fields("image", raw.rest).map_err(D::Error::custom)?;
                let rule = match f.rule.as_str() {
                    "non-root" => ImageRule::NonRoot,
                    "max-size" => ImageRule::MaxSize {
                        max_mb: f
                            .max_mb
                            .ok_or_else(|| D::Error::custom("rule \"max-size\" needs max_mb"))?,
                    },
                    "exposes" => ImageRule::Exposes {
                        port: f
                            .port
                            .ok_or_else(|| D::Error::custom("rule \"exposes\" needs port"))?,
                    },
                    "label" => ImageRule::Label {
                        label: f
                            .label
                            .ok_or_else(|| D::Error::custom("rule \"label\" needs label"))?,
                    },
                    other => {
                        return Err(D::Error::custom(format!(
                            "unknown image rule \"{other}\" (expected non-root, max-size, exposes or label)"
                        )));
                    }
                };
                CheckKind::Image(rule)
            }
            "http" => {
                let f: HttpFields = fields("http", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Http {
                    request: f.request,
                    also: f.also,
                    expect: f.expect,
                    cases: f.cases,
                }
            }
            "snapshot" => {
                let f: SnapshotFields = fields("snapshot", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Snapshot {
                    request: f.request,
                    snapshot: f.snapshot,
                    redact: f.redact,
                }
            }
            "batch" => {
                let f: BatchFields = fields("batch", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Batch {
                    request: f.request,
                    answer: f.answer,
                    values: f.values,
                }
            }
            "accuracy" => {
                let f: AccuracyFields = fields("accuracy", raw.rest).map_err(D::Error::custom)?;
                let via = match (f.request, f.fake) {
                    (Some(request), None) => Via::Http(request),
                    (None, Some(fake)) => Via::Invoke(fake),
                    _ => {
                        return Err(D::Error::custom(format!(
                            "check \"{}\": an accuracy check gives `request` (rows sent over HTTP) or `fake` (rows sent as a Lambda event), exactly one",
                            raw.id
                        )));
                    }
                };
                CheckKind::Accuracy {
                    via,
                    answer: f.answer,
                    values: f.values,
                    sample: f.sample,
                    seed: f.seed,
                    batch: f.batch,
                    min_accuracy: f.min_accuracy,
                }
            }
            "openapi" => {
                let f: OpenApiFields = fields("openapi", raw.rest).map_err(D::Error::custom)?;
                CheckKind::OpenApi { paths: f.paths }
            }
            "sigterm" => {
                let f: SigtermFields = fields("sigterm", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Sigterm {
                    grace_secs: f.grace_secs,
                    request: f.request,
                }
            }
            "drain" => {
                let f: DrainFields = fields("drain", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Drain {
                    status: f.status,
                    request: f.request,
                }
            }
            "startup" => {
                let f: StartupFields = fields("startup", raw.rest).map_err(D::Error::custom)?;
                let rule = match (f.rule.as_str(), f.path) {
                    ("not-ready-while-loading", None) => StartupRule::NotReadyWhileLoading {
                        status: f.status.unwrap_or_else(default_not_ready),
                        min_secs: f.min_secs.ok_or_else(|| {
                            D::Error::custom("rule \"not-ready-while-loading\" needs min_secs")
                        })?,
                    },
                    ("alive-while-loading", Some(path))
                        if f.status.is_none() && f.min_secs.is_none() =>
                    {
                        StartupRule::AliveWhileLoading { path }
                    }
                    ("alive-while-loading", _) => {
                        return Err(D::Error::custom(
                            "rule \"alive-while-loading\" takes path only",
                        ));
                    }
                    ("not-ready-while-loading", Some(_)) => {
                        return Err(D::Error::custom(
                            "rule \"not-ready-while-loading\" watches the lab's ready_path: leave path out",
                        ));
                    }
                    (other, _) => {
                        return Err(D::Error::custom(format!(
                            "unknown startup rule \"{other}\" (expected not-ready-while-loading or alive-while-loading)"
                        )));
                    }
                };
                CheckKind::Startup(rule)
            }
            "metrics" => CheckKind::Metrics(fields("metrics", raw.rest).map_err(D::Error::custom)?),
            "invoke" => {
                let f: InvokeFields = fields("invoke", raw.rest).map_err(D::Error::custom)?;
                CheckKind::Invoke {
                    fake: f.fake,
                    event: f.event,
                    route: f.route,
                    expect: f.expect,
                }
            }
            "command" => CheckKind::Command(fields("command", raw.rest).map_err(D::Error::custom)?),
            "file" => CheckKind::File(super::files::file_rule(raw.rest).map_err(D::Error::custom)?),
            "repository" => {
                CheckKind::Repository(super::files::repo_rule(raw.rest).map_err(D::Error::custom)?)
            }
            other => {
                return Err(D::Error::custom(format!(
                    "check \"{}\": unknown kind \"{other}\" (expected image, http, snapshot, batch, accuracy, openapi, sigterm, drain, startup, metrics, invoke, command, file or repository)",
                    raw.id
                )));
            }
        };
        Ok(CheckSpec {
            id: raw.id,
            title: raw.title,
            points: raw.points,
            visibility: raw.visibility,
            timeout: Duration::from_secs(raw.timeout_secs),
            kind,
        })
    }
}

impl CheckSpec {
    /// Rules that serde cannot express; the message names the problem, the caller
    /// adds the file and the field.
    pub(super) fn validate(&self, lab: &LabSpec) -> Result<(), String> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err("id must be non-empty letters, digits, '-', '_' or '.'".into());
        }
        if self.points == 0 {
            return Err("points must be above 0".into());
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(600) {
            return Err("timeout_secs must be from 1 to 600".into());
        }
        match &self.kind {
            CheckKind::Http {
                request,
                also,
                expect,
                cases,
            } => {
                request.validate()?;
                for r in also {
                    r.validate()?;
                }
                expect.validate()?;
                for case in cases {
                    case.request.validate()?;
                    case.expect.validate()?;
                }
            }
            CheckKind::Snapshot {
                request,
                snapshot,
                redact,
            } => {
                request.validate()?;
                if !lab.snapshots.contains_key(snapshot) {
                    return Err(format!(
                        "snapshot \"{snapshot}\" has no file snapshots/{snapshot}.snap beside the specification"
                    ));
                }
                if let Some(bad) = redact.iter().find(|p| !p.starts_with('/')) {
                    return Err(format!(
                        "redact: \"{bad}\" is not a JSON pointer (starts with '/')"
                    ));
                }
            }
            CheckKind::Batch {
                request, answer, ..
            } => {
                request.validate()?;
                if request.rows.is_none() {
                    return Err("a batch check's request needs rows".into());
                }
                pointer("answer", answer)?;
            }
            CheckKind::Accuracy {
                via,
                answer,
                sample,
                batch,
                min_accuracy,
                ..
            } => {
                match via {
                    Via::Http(request) => {
                        request.validate()?;
                        if request.has_body() {
                            return Err(
                                "an accuracy check's request takes no body: the rows are drawn from the sample".into(),
                            );
                        }
                    }
                    Via::Invoke(fake) => lambda_fake(lab, fake)?,
                }
                pointer("answer", answer)?;
                if !(1..=1000).contains(sample) {
                    return Err("sample must be from 1 to 1000".into());
                }
                if !(1..=1000).contains(batch) {
                    return Err("batch must be from 1 to 1000".into());
                }
                if !(0.0..=1.0).contains(min_accuracy) {
                    return Err("min_accuracy must be from 0 to 1".into());
                }
                if lab.rows.is_none() {
                    return Err("an accuracy check needs the lab's [rows]".into());
                }
            }
            CheckKind::OpenApi { paths } if paths.iter().any(|p| !p.starts_with('/')) => {
                return Err("paths must start with '/'".into());
            }
            CheckKind::Sigterm { grace_secs, .. } if !(1..=60).contains(grace_secs) => {
                return Err("grace_secs must be from 1 to 60".into());
            }
            CheckKind::Sigterm { request, .. } => {
                request.validate()?;
                if !request.has_body() {
                    return Err(
                        "the sigterm check's request needs a body (json, raw or rows): the grader holds it in flight by sending half of it"
                            .into(),
                    );
                }
            }
            CheckKind::Drain { status, request } => {
                request.validate()?;
                if *status == 200 || !(100..=599).contains(status) {
                    return Err("status must be an HTTP status other than 200".into());
                }
                let sigterms = lab
                    .checks
                    .iter()
                    .filter(|c| matches!(c.kind, CheckKind::Sigterm { .. }))
                    .count();
                if sigterms != 1 {
                    return Err(
                        "a drain check is judged from the lab's sigterm check: the lab needs exactly one".into(),
                    );
                }
                if lab
                    .checks
                    .iter()
                    .filter(|c| matches!(c.kind, CheckKind::Drain { .. }))
                    .count()
                    > 1
                {
                    return Err("a lab has at most one drain check".into());
                }
            }
            CheckKind::Startup(_) if lab.container.ready_fake.is_some() => {
                return Err(
                    "a startup check watches the readiness path, and this lab's readiness is its function asking a fake (ready_fake)".into(),
                );
            }
            CheckKind::Startup(StartupRule::NotReadyWhileLoading { status, min_secs }) => {
                if *status == 200 || !(100..=599).contains(status) {
                    return Err("status must be an HTTP status other than 200".into());
                }
                if *min_secs >= lab.container.ready_timeout_secs {
                    return Err(format!(
                        "min_secs must be below the lab's ready_timeout_secs ({})",
                        lab.container.ready_timeout_secs
                    ));
                }
            }
            CheckKind::Startup(StartupRule::AliveWhileLoading { path })
                if !path.starts_with('/') =>
            {
                return Err("path must start with '/'".into());
            }
            CheckKind::Metrics(m) => m.validate(lab.rows.is_some())?,
            CheckKind::Invoke { fake, expect, .. } => {
                lambda_fake(lab, fake)?;
                if let Some(expect) = expect {
                    expect.validate()?;
                    if expect.status.is_some() {
                        return Err(
                            "expect.status: an invocation has no status; give route = \"response\" or \"error\"".into(),
                        );
                    }
                }
            }
            // A command beside the service needs a port like every service
            // check: the lab's own validation says so, naming the field.
            CheckKind::Command(command) => {
                command.validate(&lab.snapshots, &lab.judges)?;
                if let Some(m) = &command.expect.metrics {
                    if command.service {
                        return Err(
                            "expect.metrics reads another command's run; it cannot run beside the service".into(),
                        );
                    }
                    let from = &m.predictions_from;
                    let scored = lab.checks.iter().any(|c| {
                        &c.id == from
                            && c.id != self.id
                            && matches!(&c.kind, CheckKind::Command(cmd)
                                if cmd.expect.predictions.is_some() && !cmd.service)
                    });
                    if !scored {
                        return Err(format!(
                            "expect.metrics.predictions_from: \"{from}\" is not another command check with expect.predictions"
                        ));
                    }
                }
            }
            CheckKind::File(rule) => {
                let commands: Vec<(&str, bool)> = lab
                    .checks
                    .iter()
                    .filter_map(|c| match &c.kind {
                        CheckKind::Command(cmd) => Some((c.id.as_str(), cmd.output_dir.is_some())),
                        _ => None,
                    })
                    .collect();
                rule.validate(&commands)?;
                if let Some(name) = rule.fake()
                    && !lab.fakes.contains_key(name)
                {
                    return Err(format!(
                        "from: \"fake:{name}\" names no fake declared under [fakes]"
                    ));
                }
                let beside = |c: &&CheckSpec| {
                    matches!(&c.kind, CheckKind::Command(cmd) if cmd.service)
                        && Some(c.id.as_str()) == rule.command()
                };
                if !rule.beside() && lab.checks.iter().any(|c| beside(&c)) {
                    return Err(format!(
                        "from: \"{}\" runs beside the service, and this rule runs commands again: it reads only a command run before the service",
                        rule.command().unwrap_or_default()
                    ));
                }
            }
            CheckKind::Repository(rule) => rule.validate()?,
            _ => {}
        }
        if lab.rows.is_none() && self.kind.requests().iter().any(|r| r.rows.is_some()) {
            return Err(
                "request.rows needs the lab's [rows] table (a CSV file in its data/ folder)".into(),
            );
        }
        Ok(())
    }
}

impl CheckKind {
    /// The HTTP requests this check sends as written (the accuracy check's
    /// bodies are drawn at run time).
    pub fn requests(&self) -> Vec<&RequestSpec> {
        match self {
            CheckKind::Http {
                request,
                also,
                cases,
                ..
            } => std::iter::once(request)
                .chain(also)
                .chain(cases.iter().map(|c| &c.request))
                .collect(),
            CheckKind::Snapshot { request, .. }
            | CheckKind::Batch { request, .. }
            | CheckKind::Accuracy {
                via: Via::Http(request),
                ..
            }
            | CheckKind::Sigterm { request, .. }
            | CheckKind::Drain { request, .. } => vec![request],
            CheckKind::Metrics(m) => m.traffic.iter().map(|t| &t.request).collect(),
            _ => Vec::new(),
        }
    }
}

/// `fake` names a Lambda fake the lab declares.
fn lambda_fake(lab: &LabSpec, fake: &str) -> Result<(), String> {
    match lab.fakes.get(fake) {
        Some(super::FakeSpec::Lambda { .. }) => Ok(()),
        _ => Err(format!(
            "fake: \"{fake}\" is not a fake of kind \"lambda\" declared under [fakes]"
        )),
    }
}

/// A JSON pointer field: empty (the whole answer) or starting with '/'.
fn pointer(field: &str, p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{field}: \"{p}\" is not a JSON pointer (starts with '/')"
        ))
    }
}
