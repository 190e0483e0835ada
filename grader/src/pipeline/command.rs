//! Phase three, command: command checks, each in fresh containers with no
//! network (`docker::command`), and the file checks on what the commands
//! wrote. With no image (a lab with no Dockerfile, or one that did not build)
//! it judges the commands that run only judges' images, and what they wrote.
//!
//! A command check's run is kept for the file checks that read it; a file check
//! whose command was not run (a hidden command in a student's grade) runs it.

use super::build::Image;
use super::scorecard::Scorecard;
use super::watch::Watch;
use super::{GradeError, GradeRequest};
use crate::checks::{self, Outcome, Problem};
use crate::course_key::CourseKey;
use crate::crates::{self, BUILDER_CRATES};
use crate::docker::command::{self, Argv, Finished, Invocation, RunError, Step};
use crate::docker::fetch::{self, Fetch, Fetched};
use crate::docker::image_file;
use crate::spec::{CheckKind, CheckSpec, CommandSpec, FileRule, Input, LabSpec, Phase, StepSpec};
use bollard::Docker;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Judges command checks and the file checks on their output. Without an
/// image, only the commands that run judges' images alone.
pub async fn judge(
    docker: &Docker,
    req: &GradeRequest,
    image: Option<&Image>,
    checks: &[&CheckSpec],
    card: &mut Scorecard,
    watch: &Watch<'_>,
) -> Result<(), GradeError> {
    let lab = &req.lab;
    let judged_here = |c: &&&CheckSpec| {
        let runnable = image.is_some() || !lab.check_needs_image(c);
        runnable && c.kind.phase() == Phase::Command
    };
    if !checks.iter().any(|c| judged_here(&c)) {
        return Ok(());
    }
    let t = Instant::now();
    let mut runner = Runner::new(docker, lab, &req.submission, image, None)
        .fetching(req.fetch_network.as_deref())
        .with_course_key(&req.course_key);
    for check in checks.iter().filter(|c| judged_here(c)) {
        if req.course_key.identity().is_none() && needs_course_key(lab, check) {
            card.not_run([check], NO_COURSE_KEY);
            continue;
        }
        watch.step(&check.title);
        let started = Instant::now();
        let outcome = runner.judge(check, check.timeout).await?;
        card.judge(&check.id, outcome, started);
    }
    card.report.timings.checks_ms += t.elapsed().as_millis() as u64;
    Ok(())
}

/// Why a check that opens files sealed to the course's recipient was not run.
pub(super) const NO_COURSE_KEY: &str = "it opens files sealed to the course's recipient, and this grade has no course key (--course-key none): the instructors' grading runs it";

/// Whether a check's command (or the command whose output it reads) opens
/// files with the course identity.
pub(super) fn needs_course_key(lab: &LabSpec, check: &CheckSpec) -> bool {
    let command = match &check.kind {
        CheckKind::Command(spec) => Some(spec),
        CheckKind::File(rule) => rule.command().and_then(|id| {
            lab.checks.iter().find_map(|c| match &c.kind {
                CheckKind::Command(spec) if c.id == id => Some(spec),
                _ => None,
            })
        }),
        _ => None,
    };
    command.is_some_and(CommandSpec::needs_course_key)
}

/// The largest program `inputs = ["program"]` copies out of an image.
const PROGRAM_CAP: usize = 128 << 20;

/// Runs commands and keeps each check's first run.
pub(super) struct Runner<'a> {
    docker: &'a Docker,
    lab: &'a LabSpec,
    submission: &'a Path,
    /// The submission's image; `None` when there is none to run.
    image: Option<&'a str>,
    image_volumes: &'a [String],
    program: String,
    /// The image's ENTRYPOINT, whose program `inputs = ["program"]` copies.
    entrypoint: &'a [String],
    /// That program's bytes, once copied out of the image.
    program_bytes: Option<Result<Vec<u8>, String>>,
    runs: HashMap<String, Result<Finished, String>>,
    /// The submission's files packed for `/work/tree`, without and with `.git`.
    trees: HashMap<bool, Result<Vec<u8>, String>>,
    /// Each judge's image to run, once found on the engine (and given the
    /// crates the submission adds, for a judge made on the builder image).
    judges_present: HashMap<String, String>,
    /// The running service whose network namespace the commands join.
    beside: Option<&'a str>,
    /// The network a fetch of the crates the submission adds joins.
    fetch_network: Option<&'a str>,
    /// The course key's files, for the judge steps that ask for them.
    course_key: Option<Vec<(&'static str, String)>>,
}

impl<'a> Runner<'a> {
    /// A runner of the submission's `image` (none: judges' commands only),
    /// its commands `beside` the running service or with no network.
    pub(super) fn new(
        docker: &'a Docker,
        lab: &'a LabSpec,
        submission: &'a Path,
        image: Option<&'a Image>,
        beside: Option<&'a str>,
    ) -> Self {
        Runner {
            docker,
            lab,
            submission,
            image: image.map(|i| i.tag.as_str()),
            image_volumes: image.map_or(&[][..], |i| &i.facts.volumes),
            program: program_name(image.map_or(&[][..], |i| &i.facts.entrypoint)),
            entrypoint: image.map_or(&[][..], |i| &i.facts.entrypoint),
            program_bytes: None,
            runs: HashMap::new(),
            trees: HashMap::new(),
            judges_present: HashMap::new(),
            beside,
            fetch_network: None,
            course_key: None,
        }
    }

    /// The course key given to the judge steps that ask for it.
    pub(super) fn with_course_key(mut self, key: &CourseKey) -> Self {
        self.course_key = key.mounted_files();
        self
    }

    /// The network through which crates the submission adds are fetched
    /// into a judge made on the builder image (`None`: one of its own).
    pub(super) fn fetching(mut self, network: Option<&'a str>) -> Self {
        self.fetch_network = network;
        self
    }

    /// Judges a command check, or a file check on a command's output, with
    /// the command's run limited to `deadline`.
    pub(super) async fn judge(
        &mut self,
        check: &CheckSpec,
        deadline: Duration,
    ) -> Result<Outcome, GradeError> {
        Ok(match &check.kind {
            CheckKind::Command(spec) => self.command_check(&check.id, spec, deadline).await?,
            CheckKind::File(rule) => self.file_check(rule).await?,
            _ => Err(Problem::Error("not a command or file check".into())),
        })
    }

    fn spec(&self, id: &str) -> Option<(&CheckSpec, &CommandSpec)> {
        self.lab.checks.iter().find_map(|c| match &c.kind {
            CheckKind::Command(spec) if c.id == id => Some((c, spec)),
            _ => None,
        })
    }

    /// The command as a student would type it: the last step's, for a
    /// command of steps.
    fn shown(&self, spec: &CommandSpec) -> String {
        match spec.steps.last() {
            Some(step) => self.shown_step(step),
            None => self.shown_args(&spec.args),
        }
    }

    fn shown_step(&self, step: &StepSpec) -> String {
        if let Some(name) = &step.name {
            return name.clone();
        }
        match step.judge() {
            Some(_) => step
                .args
                .iter()
                .map(|a| quoted(a))
                .collect::<Vec<_>>()
                .join(" "),
            None => self.shown_args(&step.args),
        }
    }

    fn shown_args(&self, args: &[String]) -> String {
        std::iter::once(self.program.clone())
            .chain(args.iter().map(|a| quoted(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The submission's files for `/work/tree`, packed once per grade.
    fn tree(&mut self, with_git: bool) -> Result<Vec<u8>, String> {
        let (dir, limit) = (self.submission, self.lab.build.context_limit_mb);
        self.trees
            .entry(with_git)
            .or_insert_with(|| {
                crate::context::pack_tree(dir, limit, with_git)
                    .map(|c| c.tar)
                    .map_err(|e| {
                        format!("the submission's files could not be given to the judge: {e}")
                    })
            })
            .clone()
    }

    /// The submission's program, copied out of its image once: the file its
    /// ENTRYPOINT names, which must be an absolute path to a regular file.
    async fn program_bytes(&mut self) -> Result<Result<Vec<u8>, String>, GradeError> {
        if let Some(bytes) = &self.program_bytes {
            return Ok(bytes.clone());
        }
        let Some(image) = self.image else {
            return Ok(Err(
                "the submission's image did not build, so it has no program".into(),
            ));
        };
        let bytes = match self.entrypoint.first() {
            Some(path) if path.starts_with('/') => {
                image_file::read_up_to(self.docker, image, path, &self.lab.id, PROGRAM_CAP)
                    .await?
                    .ok_or_else(|| {
                        format!(
                            "the image's ENTRYPOINT names {}, which is not a regular file of at most {} MiB in the image (a link, a folder, or missing)",
                            quoted(path),
                            PROGRAM_CAP >> 20
                        )
                    })
            }
            Some(other) => Err(format!(
                "the image's ENTRYPOINT names its program as {}; give the absolute path (as [\"/app/{}\", ...]) so the grader can copy it out",
                quoted(other),
                program_name(self.entrypoint)
            )),
            None => Err("the image has no ENTRYPOINT naming its program".into()),
        };
        self.program_bytes = Some(bytes.clone());
        Ok(bytes)
    }

    /// A judge's image, which must be on the engine: a missing one is the
    /// grading's failure, never the student's.
    async fn judge_image(&mut self, name: &str) -> Result<String, GradeError> {
        if let Some(image) = self.judges_present.get(name) {
            return Ok(image.clone());
        }
        let tag = self
            .lab
            .judges
            .get(name)
            .cloned()
            .ok_or_else(|| GradeError::Other(format!("the lab names no judge \"{name}\"")))?;
        if self.docker.inspect_image(&tag).await.is_err() {
            return Err(GradeError::Other(format!(
                "the judge image {tag} is not on this machine; make it with `cargo xtask judge-images`"
            )));
        }
        let image = self.with_added_crates(tag).await?;
        self.judges_present.insert(name.to_string(), image.clone());
        Ok(image)
    }

    /// A judge made on the builder image (it lists the crates it holds, as
    /// the builder does) lacks the crates.io crates the submission adds, as
    /// the builder did: they are fetched into a copy of it, as for the build,
    /// so that a tool that reads the crate graph (cargo-deny) sees them.
    async fn with_added_crates(&self, tag: String) -> Result<String, GradeError> {
        let lab = &self.lab.id;
        let Some(list) = image_file::read(self.docker, &tag, BUILDER_CRATES, lab).await? else {
            return Ok(tag);
        };
        let Ok(ctx) = crate::context::pack(self.submission, self.lab.build.context_limit_mb) else {
            return Ok(tag);
        };
        // A lock the build refused, or none: the judge says what it lacks.
        let Ok(Some(crates)) = crates::locked(&ctx) else {
            return Ok(tag);
        };
        let missing = crates::missing(&crates, &String::from_utf8_lossy(&list));
        if missing.is_empty() {
            return Ok(tag);
        }
        let fetch = Fetch {
            lab,
            builder: &tag,
            missing: &missing,
            network: self.fetch_network,
            timeout: Duration::from_secs(self.lab.build.timeout_secs),
        };
        match fetch::derived_builder(self.docker, &ctx, &fetch).await? {
            Fetched::Builder(derived) => Ok(derived),
            // The build said why, when there is one; the judge then runs without.
            Fetched::Refused(_) => Ok(tag),
            Fetched::Unreachable(message) => Err(GradeError::Other(message)),
        }
    }

    async fn run(
        &mut self,
        spec: &CommandSpec,
        deadline: Duration,
    ) -> Result<Result<Finished, String>, GradeError> {
        let no_image = || "the submission's image did not build, so it cannot run".to_string();
        // Each step's image, then the steps themselves (borrowing those names).
        let mut images = Vec::new();
        if spec.steps.is_empty() {
            match self.image {
                Some(image) => images.push(image.to_string()),
                None => return Ok(Err(no_image())),
            }
        }
        for step in &spec.steps {
            match (step.judge(), self.image) {
                (Some(name), _) => images.push(self.judge_image(name).await?),
                (None, Some(image)) => images.push(image.to_string()),
                (None, None) => return Ok(Err(no_image())),
            }
        }
        let steps: Vec<Step<'_>> = if spec.steps.is_empty() {
            vec![Step {
                image: &images[0],
                argv: Argv::Args(&spec.args),
                course_key: false,
            }]
        } else {
            spec.steps
                .iter()
                .zip(&images)
                .map(|(step, image)| Step {
                    image,
                    argv: match step.judge() {
                        Some(_) => Argv::Command(&step.args),
                        None => Argv::Args(&step.args),
                    },
                    // The spec refuses it on the submission's steps; this
                    // keeps it so whatever the spec says.
                    course_key: step.course_key && step.judge().is_some(),
                })
                .collect()
        };
        let program = if spec.inputs.contains(&Input::Program) {
            match self.program_bytes().await? {
                Ok(bytes) => Some(bytes),
                Err(why) => return Ok(Err(why)),
            }
        } else {
            None
        };
        let files_of_tree = spec
            .inputs
            .iter()
            .filter(|i| matches!(i, Input::Tree | Input::Git));
        let tree = match files_of_tree.max_by_key(|i| **i == Input::Git) {
            Some(input) => match self.tree(*input == Input::Git) {
                Ok(tar) => Some(tar),
                Err(why) => return Ok(Err(why)),
            },
            None => None,
        };
        // Beside the service, a command finds the lab's fakes as the service
        // does (OPENAI_BASE_URL, AWS_LAMBDA_RUNTIME_API, ...): the same
        // namespace, the same variables. The check's own env comes last.
        let mut env: std::collections::BTreeMap<String, String> = match self.beside {
            Some(_) => self
                .lab
                .fakes
                .values()
                .flat_map(|f| f.env(&self.lab.id, self.lab.container.memory_mb))
                .collect(),
            None => Default::default(),
        };
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let invocation = Invocation {
            steps: &steps,
            lab: &self.lab.id,
            container: &self.lab.container,
            image_volumes: self.image_volumes,
            env: &env,
            stdin: spec.stdin.as_deref().map(str::as_bytes),
            tree: tree.as_deref(),
            course_key: self.course_key.as_deref(),
            files: &spec.files,
            program: program
                .as_deref()
                .map(|bytes| (self.program.as_str(), bytes)),
            output_dir: spec.output_dir.as_deref(),
            deadline,
            beside: self.beside,
        };
        match command::run(self.docker, &invocation).await {
            Ok(finished) => Ok(match finished.stopped_at {
                Some(n) => Err(self.stopped(spec, n, &finished, deadline)),
                None => Ok(finished),
            }),
            Err(RunError::Refused(why)) => Ok(Err(format!(
                "`{}` could not be started: {why}",
                self.shown(spec)
            ))),
            Err(RunError::Docker(e)) => Err(e.into()),
        }
    }

    /// Why a sequence of steps stopped before its last one.
    fn stopped(&self, spec: &CommandSpec, n: usize, run: &Finished, deadline: Duration) -> String {
        let shown = spec
            .steps
            .get(n - 1)
            .map(|s| self.shown_step(s))
            .unwrap_or_default();
        let how = if run.timed_out {
            format!("did not finish within the check's {} s", deadline.as_secs())
        } else if run.oom_killed {
            "ran out of memory".to_string()
        } else {
            format!("exited with code {}", run.code.unwrap_or(-1))
        };
        let said = String::from_utf8_lossy(if run.stderr.is_empty() {
            &run.stdout
        } else {
            &run.stderr
        })
        .trim()
        .to_string();
        let said = if said.is_empty() {
            String::new()
        } else {
            format!("; it said: {}", checks::clip(&said, 300))
        };
        format!("step {n} of {}, `{shown}`, {how}{said}", spec.steps.len())
    }

    /// The first run of the command check `id`, made now if it was not yet.
    async fn first_run(&mut self, id: &str) -> Result<&Result<Finished, String>, GradeError> {
        if !self.runs.contains_key(id) {
            let (check, spec) = self
                .spec(id)
                .ok_or_else(|| GradeError::Other(format!("no command check \"{id}\"")))?;
            let (spec, timeout) = (spec.clone(), check.timeout);
            let run = self.run(&spec, timeout).await?;
            self.runs.insert(id.to_string(), run);
        }
        Ok(&self.runs[id])
    }

    async fn command_check(
        &mut self,
        id: &str,
        spec: &CommandSpec,
        deadline: Duration,
    ) -> Result<Outcome, GradeError> {
        let shown = self.shown(spec);
        // The rows' predictions that the reported metrics must agree with,
        // from the other check's run (made first, so it is kept).
        let recomputed = match &spec.expect.metrics {
            Some(m) => Some(self.predictions_of(&m.predictions_from).await?),
            None => None,
        };
        let snapshots = &self.lab.snapshots;
        let finished = match self.first_run(id).await? {
            Ok(finished) => finished,
            Err(why) => return Ok(Err(Problem::Fail(why.clone()))),
        };
        let assessed = checks::command::assess(&spec.expect, &shown, finished, deadline, snapshots);
        let (Some(m), Some(recomputed), Ok(())) = (&spec.expect.metrics, recomputed, &assessed)
        else {
            return Ok(assessed);
        };
        let fail = |m: String| Problem::Fail(format!("`{shown}`: {m}"));
        Ok(recomputed.map_err(fail).and_then(|(predicted, labels)| {
            checks::scores::metrics_agree(m, &finished.stdout, &predicted, &labels).map_err(fail)
        }))
    }

    /// The predictions that the command check `id` printed, with its labels.
    async fn predictions_of(
        &mut self,
        id: &str,
    ) -> Result<Result<(Vec<f64>, Vec<f64>), String>, GradeError> {
        let Some(expect) = self
            .spec(id)
            .and_then(|(_, s)| s.expect.predictions.clone())
        else {
            return Err(GradeError::Other(format!(
                "no command check \"{id}\" with predictions"
            )));
        };
        let shown = self
            .spec(id)
            .map(|(_, s)| self.shown(s))
            .unwrap_or_default();
        Ok(match self.first_run(id).await? {
            Ok(run) if run.code == Some(0) => checks::scores::predictions(&expect, &run.stdout)
                .map(|p| (p, expect.labels.clone()))
                .map_err(|m| format!("its predictions could not be read from `{shown}`: {m}")),
            Ok(_) => Err(format!(
                "its predictions could not be read: `{shown}` failed"
            )),
            Err(why) => Err(format!("its predictions could not be read: {why}")),
        })
    }

    async fn file_check(&mut self, rule: &FileRule) -> Result<Outcome, GradeError> {
        let Some(id) = rule.command() else {
            return Ok(Err(Problem::Error(
                "not a check of a command's output".into(),
            )));
        };
        let Some((check, spec)) = self.spec(id) else {
            return Ok(Err(Problem::Error(format!("no command check \"{id}\""))));
        };
        let (deadline, spec) = (check.timeout, spec.clone());
        let shown = self.shown(&spec);
        let out_dir = spec.output_dir.clone().unwrap_or_default();
        let first = match self.first_run(id).await? {
            Ok(f) => f.clone(),
            Err(why) => {
                return Ok(Err(Problem::Fail(format!(
                    "its command could not run: {why}"
                ))));
            }
        };
        if let Some(problem) = unusable(&first, &shown, deadline) {
            return Ok(Err(problem));
        }
        let file = |files: &std::collections::BTreeMap<String, Vec<u8>>, path: &str| {
            files.get(path).cloned().ok_or_else(|| {
                Problem::Fail(format!(
                    "`{shown}` did not write {out_dir}/{path} (it wrote: {})",
                    if files.is_empty() {
                        "nothing".to_string()
                    } else {
                        checks::clip(&files.keys().cloned().collect::<Vec<_>>().join(", "), 100)
                    }
                ))
            })
        };
        Ok(match rule {
            FileRule::Deterministic { paths, .. } => {
                for path in paths {
                    if let Err(p) = file(&first.files, path) {
                        return Ok(Err(p));
                    }
                }
                let second = match self.run(&spec, deadline).await? {
                    Ok(f) => f,
                    Err(why) => return Ok(Err(Problem::Fail(format!("the second run: {why}")))),
                };
                if let Some(problem) = unusable(&second, &shown, deadline) {
                    return Ok(Err(Problem::Fail(format!(
                        "the second run: {}",
                        match problem {
                            Problem::Fail(m) | Problem::Error(m) => m,
                        }
                    ))));
                }
                checks::files::deterministic(&first.files, &second.files, paths)
            }
            FileRule::Differs { args, paths, .. } => {
                if !spec.steps.is_empty() {
                    return Ok(Err(Problem::Error(
                        "differs re-runs a command of the submission's program, not of steps"
                            .into(),
                    )));
                }
                let mut other = spec.clone();
                other.args = args.clone();
                let other_shown = self.shown(&other);
                let theirs = match self.run(&other, deadline).await? {
                    Ok(f) => f,
                    Err(why) => return Ok(Err(Problem::Fail(format!("`{other_shown}`: {why}")))),
                };
                if let Some(problem) = unusable(&theirs, &other_shown, deadline) {
                    return Ok(Err(problem));
                }
                checks::files::differs(&theirs.files, &first.files, paths, (&other_shown, &shown))
            }
            FileRule::SecretScan { .. } => {
                Err(Problem::Error("a secret scan reads no command".into()))
            }
            _ => checks::files::judge_one_file(rule, |path| file(&first.files, path)),
        })
    }
}

/// Why a run's files cannot be judged: it did not finish, or its files could not
/// be read back.
fn unusable(run: &Finished, shown: &str, deadline: Duration) -> Option<Problem> {
    if run.timed_out {
        return Some(Problem::Fail(format!(
            "`{shown}` did not finish within {} s, so its files were not judged",
            deadline.as_secs()
        )));
    }
    if run.oom_killed {
        return Some(Problem::Fail(format!(
            "`{shown}` ran out of memory and was killed"
        )));
    }
    run.files_problem
        .as_ref()
        .map(|p| Problem::Fail(format!("`{shown}`: {p}")))
}

/// The program's name as a student knows it: the ENTRYPOINT's file name.
fn program_name(entrypoint: &[String]) -> String {
    entrypoint
        .first()
        .map(|p| {
            PathBuf::from(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.clone())
        })
        .unwrap_or_else(|| "(the image's command)".into())
}

/// An argument as a shell would need it.
fn quoted(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_as_a_student_would_type_them() {
        assert_eq!(
            program_name(&["/usr/local/bin/winequality".into()]),
            "winequality"
        );
        assert_eq!(program_name(&[]), "(the image's command)");
        assert_eq!(quoted("--input"), "--input");
        assert_eq!(quoted("in/bad.csv"), "in/bad.csv");
        assert_eq!(quoted("two words"), "'two words'");
        assert_eq!(quoted(""), "''");
        assert_eq!(quoted("it's"), r"'it'\''s'");
    }
}
