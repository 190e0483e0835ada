//! One grade, start to end: pack, build, run, wait until ready, check, score,
//! tear down. Every phase is timed; teardown happens whatever went before.

use crate::checks::{self, Env, ImageFacts, Problem};
use crate::context;
use crate::docker::bases::{self, Blocked};
use crate::docker::build::{self, BuildFailure, BuildLimits};
use crate::docker::dockerfile::AllowList;
use crate::docker::output::Capture;
use crate::docker::{probe, relay, sandbox, sweep};
use crate::result::*;
use crate::spec::{CheckKind, CheckSpec, LabSpec, Visibility};
use bollard::Docker;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to grade and how.
pub struct GradeRequest {
    pub lab: LabSpec,
    pub submission: PathBuf,
    pub build_args: BTreeMap<String, String>,
    pub audience: Audience,
    /// The `grader-probe` executable to package into the probe image.
    pub probe_exe: PathBuf,
    /// The OCI runtime for the submission's container (gVisor's `runsc`, say);
    /// the engine's default when `None`.
    pub runtime: Option<String>,
    /// Image patterns an instructor allows beyond the lab's (`--allow-image`).
    pub allow_images: Vec<String>,
}

/// A failure of grading itself (not of the submission): the engine broke, the
/// probe could not be made. The submission gets no verdict from such a run.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error("{0}")]
    Other(String),
}

/// Grades one submission.
pub async fn grade(docker: &Docker, req: &GradeRequest) -> Result<Report, GradeError> {
    let started = Instant::now();
    let lab = &req.lab;
    let checks: Vec<&CheckSpec> = lab
        .checks
        .iter()
        .filter(|c| req.audience == Audience::Instructor || c.visibility == Visibility::Visible)
        .collect();
    let mut report = empty_report(req, &checks);
    sweep::sweep_orphans(docker).await?;
    // Repository checks and checks of the submission's files need no image.
    crate::apart::judge_source(&req.submission, &checks, &mut report).await;
    if !lab.needs_image() {
        // Judges' commands only (a dotfiles repository, say): nothing to build.
        crate::apart::judge_built(docker, lab, &req.submission, None, &checks, &mut report).await?;
        return Ok(finish(report, started));
    }

    // Build.
    let t = Instant::now();
    let built = match context::pack(&req.submission, lab.build.context_limit_mb) {
        Err(e) => Err(BuildFailure::Failed {
            message: e.to_string(),
            log_tail: String::new(),
        }),
        Ok(ctx) => {
            report.submission.context_sha256 = Some(ctx.sha256.clone());
            build_checked(docker, req, &ctx).await?
        }
    };
    report.timings.build_ms = ms(t);
    let built = match built {
        Ok(b) => b,
        Err(failure) => {
            let (detail, tail) = match failure {
                BuildFailure::Failed { message, log_tail } => (message, log_tail),
                BuildFailure::TimedOut { after, log_tail } => (
                    format!("the build did not finish within {} s", after.as_secs()),
                    log_tail,
                ),
            };
            report.container.verdict = ContainerVerdict::BuildFailed;
            report.container.detail = Some(detail.clone());
            report.container.log_excerpt = tail.lines().map(str::to_string).collect();
            fail_all(
                &mut report,
                lab,
                &checks,
                &format!("not run: the image did not build ({detail})"),
            );
            // What runs in judges' images alone is still judged.
            crate::apart::judge_built(docker, lab, &req.submission, None, &checks, &mut report)
                .await?;
            return Ok(finish(report, started));
        }
    };
    report.container.cached_image = built.cached;
    let inspect = docker.inspect_image(&built.tag).await?;
    let facts = ImageFacts::from(&inspect);
    // Command checks, each in a container of its own; no service for a lab without one.
    let image = crate::apart::Built {
        tag: &built.tag,
        facts: &facts,
    };
    crate::apart::judge_built(
        docker,
        lab,
        &req.submission,
        Some(image),
        &checks,
        &mut report,
    )
    .await?;
    if !lab.has_service() {
        return Ok(finish(report, started));
    }

    // Start the submission, then the probe in its network namespace.
    let t = Instant::now();
    let name = format!(
        "grader-{}-{}",
        lab.id,
        &report.submission.context_sha256.as_deref().unwrap_or("x")[..12]
    );
    let opts = CreateContainerOptionsBuilder::default()
        .name(&crate::docker::labels::unique(&name))
        .build();
    let mut body = sandbox::submission(&built.tag, &lab.id, &lab.container, &facts.volumes);
    if let Some(host) = body.host_config.as_mut() {
        host.runtime.clone_from(&req.runtime);
    }
    let id = match docker.create_container(Some(opts), body).await {
        Ok(created) => created.id,
        // The engine refuses to make a container of this image (no command, say).
        Err(e) => match refusal(&e) {
            Some(why) => {
                let what = format!("the container could not be created: {why}");
                not_started(&mut report, &checks, &facts, &what);
                report.timings.start_ms = ms(t);
                return Ok(finish(report, started));
            }
            None => return Err(e.into()),
        },
    };
    let mut probe_id: Option<String> = None;
    let mut capture = None;
    let outcome = async {
        capture = Some(Capture::attach(docker, &id).await?);
        // The probe container is made while the submission starts: it joins
        // the submission's namespace only when it is started itself.
        let probe_made = async {
            let image = probe::image(docker, &req.probe_exe).await?;
            let pid = probe::create(docker, &image, &id, &lab.id, lab.container.port).await?;
            Ok::<_, GradeError>((image, pid))
        };
        let (started, made) = tokio::join!(docker.start_container(&id, None), probe_made);
        let (image, pid) = made?;
        probe_id = Some(pid.clone());
        if let Err(e) = started {
            // Our configuration starts other images, so a refusal here is the
            // image's doing (an entrypoint that does not exist, say).
            match refusal(&e) {
                Some(why) => {
                    not_started(
                        &mut report,
                        &checks,
                        &facts,
                        &format!("the container did not start: {why}"),
                    );
                    return Ok(());
                }
                None => return Err(e.into()),
            }
        }
        if let Err(e) = probe::start(docker, &pid).await {
            // The probe cannot join a container that has already stopped: that is
            // the submission's fate, not a failure of grading.
            match fate(docker, &id).await? {
                (Some(verdict), code, oom) => {
                    stopped_before_ready(&mut report, &checks, &facts, (verdict, code, oom));
                    return Ok(());
                }
                _ => return Err(e.into()),
            }
        }
        report.timings.start_ms = ms(t);
        run_checks(docker, req, &checks, &id, &pid, image, &facts, &mut report).await
    }
    .await;

    // Teardown, whatever happened.
    let t = Instant::now();
    let probe_gone = async {
        match &probe_id {
            Some(pid) => sweep::remove_container(docker, pid).await,
            None => Ok(()),
        }
    };
    let (probe_gone, gone) = tokio::join!(probe_gone, sweep::remove_container(docker, &id));
    probe_gone?;
    gone?;
    if let Some(capture) = capture {
        let out = capture.finish();
        report.container.output_over_cap = out.bytes > lab.container.log_cap_bytes;
        report.container.log_excerpt = out.excerpt();
    }
    report.timings.teardown_ms = ms(t);
    outcome?;
    Ok(finish(report, started))
}

/// Reads the Dockerfile the engine will read (from the packed context),
/// refuses what would make the engine fetch, makes the allowed images present,
/// then builds, with pull off, from nothing but the context and those images.
async fn build_checked(
    docker: &Docker,
    req: &GradeRequest,
    ctx: &context::BuildContext,
) -> Result<Result<build::Built, BuildFailure>, GradeError> {
    let lab = &req.lab;
    let refused = |message: String| {
        Ok(Err(BuildFailure::Failed {
            message,
            log_tail: String::new(),
        }))
    };
    let allow = AllowList::new(lab.build.images.iter().chain(&req.allow_images))
        .map_err(GradeError::Other)?;
    let Ok(dockerfile) = String::from_utf8(ctx.file("Dockerfile").unwrap_or_default()) else {
        return refused("the Dockerfile is not UTF-8 text".into());
    };
    let bases = match bases::settle(docker, &dockerfile, &req.build_args, &allow).await {
        Ok(bases) => bases,
        Err(Blocked::Refused(message)) => return refused(message),
        Err(Blocked::Unavailable(message)) => return Err(GradeError::Other(message)),
    };
    let tag = build::cache_tag(&lab.id, ctx, &req.build_args, &bases);
    let limits = BuildLimits {
        timeout: Duration::from_secs(lab.build.timeout_secs),
        memory_mb: lab.build.memory_mb,
        cpus: lab.build.cpus,
    };
    Ok(build::build(docker, &lab.id, ctx, &tag, &req.build_args, &limits).await?)
}

/// Waits until ready, runs the checks in order, then the SIGTERM check, and
/// records the container's fate.
#[allow(clippy::too_many_arguments)]
async fn run_checks(
    docker: &Docker,
    req: &GradeRequest,
    checks: &[&CheckSpec],
    id: &str,
    probe_id: &str,
    image: probe::ProbeImage,
    facts: &ImageFacts,
    report: &mut Report,
) -> Result<(), GradeError> {
    let lab = &req.lab;
    let deadline = Instant::now() + Duration::from_secs(lab.container.run_timeout_secs);
    let relay = relay::Relay::start(docker, probe_id)
        .await
        .map_err(|e| GradeError::Other(format!("cannot open the relay socket: {e}")))?;
    // Every connection goes through the relay whatever the host, so the URL's
    // host only sets the Host header the service sees.
    let base = format!("http://localhost:{}", lab.container.port);
    let http = relay
        .client()
        .map_err(|e| GradeError::Other(format!("HTTP client: {e}")))?;

    // Ready?
    let t = Instant::now();
    let ready = wait_ready(docker, id, probe_id, &image, &http, &base, lab).await?;
    report.timings.ready_ms = ms(t);

    let env = Env {
        http: &http,
        base: &base,
        image: facts,
        snapshots: &lab.snapshots,
    };
    let t = Instant::now();
    // Why container checks are not run, once that is known.
    let mut stopped: Option<String> = match &ready {
        Ready::Yes => None,
        Ready::No(reason) => Some(format!("not run: {reason}")),
    };
    if let Ready::No(reason) = &ready {
        let (verdict, code, oom) = fate(docker, id).await?;
        report.container.verdict = verdict.unwrap_or(ContainerVerdict::NeverReady);
        report.container.exit_code = code;
        report.container.oom_killed = oom;
        report.container.detail = Some(reason.clone());
    }
    let budget = (deadline, lab.container.run_timeout_secs);
    let (last, first): (Vec<&CheckSpec>, Vec<&CheckSpec>) = checks
        .iter()
        .partition(|c| matches!(c.kind, CheckKind::Sigterm { .. }));
    for check in first {
        if check.kind.runs_apart() {
            continue;
        }
        let i = index_of(report, &check.id);
        if check.kind.needs_container() {
            if stopped.is_none() {
                stopped = interrupted(docker, id, budget, report).await?;
            }
            if let Some(why) = &stopped {
                set(report, i, Verdict::Failed, Some(why.clone()), 0);
                continue;
            }
        }
        let t = Instant::now();
        let limit = check
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let (verdict, message) = match tokio::time::timeout(limit, checks::run(check, &env)).await {
            Ok(Ok(())) => (Verdict::Passed, None),
            Ok(Err(Problem::Fail(m))) => (Verdict::Failed, Some(m)),
            Ok(Err(Problem::Error(m))) => (Verdict::Errored, Some(m)),
            Err(_) => (
                Verdict::TimedOut,
                Some(format!("no result within {}", human(limit))),
            ),
        };
        set(report, i, verdict, message, ms(t));
    }
    if stopped.is_none() {
        stopped = interrupted(docker, id, budget, report).await?;
    }
    for check in last {
        let i = index_of(report, &check.id);
        let CheckKind::Sigterm {
            grace_secs,
            request,
        } = &check.kind
        else {
            continue;
        };
        if let Some(why) = &stopped {
            set(report, i, Verdict::Failed, Some(why.clone()), 0);
            continue;
        }
        let t = Instant::now();
        let grace = Duration::from_secs(*grace_secs);
        let outcome = checks::sigterm::check(docker, id, &env, request, grace).await?;
        stopped = Some("not run: the service was stopped".into());
        let (verdict, message) = match outcome {
            Ok(()) => (Verdict::Passed, None),
            Err(Problem::Fail(m)) => (Verdict::Failed, Some(m)),
            Err(Problem::Error(m)) => (Verdict::Errored, Some(m)),
        };
        set(report, i, verdict, message, ms(t));
    }
    report.timings.checks_ms += ms(t);
    drop(relay);
    Ok(())
}

enum Ready {
    Yes,
    No(String),
}

/// Polls until the service listens on a non-loopback address and answers the
/// readiness path with 200, the container dies, or the deadline passes.
async fn wait_ready(
    docker: &Docker,
    id: &str,
    probe_id: &str,
    image: &probe::ProbeImage,
    http: &reqwest::Client,
    base: &str,
    lab: &LabSpec,
) -> Result<Ready, GradeError> {
    let c = &lab.container;
    let deadline = Instant::now() + Duration::from_secs(c.ready_timeout_secs);
    let mut last = format!(
        "nothing listened on port {} within {} s",
        c.port, c.ready_timeout_secs
    );
    loop {
        let (verdict, code, _) = fate(docker, id).await?;
        if let Some(v) = verdict {
            let what = match v {
                ContainerVerdict::OutOfMemory => "it ran out of memory".to_string(),
                _ => format!("it exited with code {}", code.unwrap_or(-1)),
            };
            return Ok(Ready::No(format!(
                "the service stopped before it was ready: {what}"
            )));
        }
        let (out, _) = probe::run(docker, probe_id, image, &["listeners"], 4096).await?;
        let listening = Listening::parse(&String::from_utf8_lossy(&out), c.port);
        let reachable = listening.reachable();
        if !listening.on_port.is_empty() && !reachable {
            last = format!(
                "it listens on {} only, which nothing outside the container can reach; listen on 0.0.0.0:{}",
                listening.on_port.join(", "),
                c.port
            );
        } else if listening.on_port.is_empty() && !listening.other_ports.is_empty() {
            last = format!(
                "nothing listened on port {} within {} s; it listens on port {} instead (the port comes from $PORT)",
                c.port,
                c.ready_timeout_secs,
                listening.other_ports.join(", ")
            );
        } else if reachable {
            let url = format!("{base}{}", c.ready_path);
            match http.get(&url).timeout(Duration::from_secs(2)).send().await {
                Ok(r) if r.status().as_u16() == 200 => return Ok(Ready::Yes),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let redirect = checks::redirect_note(status, r.headers());
                    last = format!(
                        "GET {} answered {status}{redirect} until the {} s deadline, never 200",
                        c.ready_path, c.ready_timeout_secs
                    )
                }
                Err(_) => {
                    last = format!(
                        "GET {} got no answer within the {} s deadline",
                        c.ready_path, c.ready_timeout_secs
                    )
                }
            }
        }
        if Instant::now() >= deadline {
            return Ok(Ready::No(format!("the service never became ready: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What listens in the submission's network namespace, as the probe reads it.
#[derive(Debug, Default, PartialEq)]
struct Listening {
    /// Addresses listening on the contract's port.
    on_port: Vec<String>,
    /// Other ports something listens on, without duplicates.
    other_ports: Vec<String>,
}

impl Listening {
    /// Parses the probe's "ADDRESS PORT" lines; anything else is ignored.
    fn parse(out: &str, port: u16) -> Self {
        let mut found = Listening::default();
        for (addr, p) in out.lines().filter_map(|l| l.split_once(' ')) {
            match p.trim().parse::<u16>() {
                Ok(p) if p == port => found.on_port.push(addr.to_string()),
                Ok(p) if !found.other_ports.contains(&p.to_string()) => {
                    found.other_ports.push(p.to_string())
                }
                _ => {}
            }
        }
        found
    }

    /// Whether something listens on the port at an address other than loopback.
    fn reachable(&self) -> bool {
        self.on_port.iter().any(|a| a != "127.0.0.1" && a != "::1")
    }
}

/// If the container is no longer running, or the run's deadline has passed,
/// records why and returns the message for the checks that will not run.
async fn interrupted(
    docker: &Docker,
    id: &str,
    (deadline, secs): (Instant, u64),
    report: &mut Report,
) -> Result<Option<String>, GradeError> {
    let (verdict, code, oom) = fate(docker, id).await?;
    if let Some(v) = verdict {
        report.container.verdict = v;
        report.container.exit_code = code;
        report.container.oom_killed = oom;
        let what = if oom {
            "ran out of memory and was killed".to_string()
        } else {
            format!(
                "exited with code {} in the middle of the checks",
                code.unwrap_or(-1)
            )
        };
        report.container.detail = Some(format!("the service {what}"));
        return Ok(Some(format!("not run: the service {what}")));
    }
    if Instant::now() >= deadline {
        docker
            .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
            .await
            .ok();
        report.container.verdict = ContainerVerdict::KilledAtDeadline;
        report.container.detail = Some(format!(
            "the checks did not finish within the run's {secs} s; the container was killed"
        ));
        return Ok(Some(format!("not run: the run's {secs} s deadline passed")));
    }
    Ok(None)
}

/// The container's state: a verdict if it has stopped, its exit code, OOM.
async fn fate(
    docker: &Docker,
    id: &str,
) -> Result<(Option<ContainerVerdict>, Option<i64>, bool), GradeError> {
    let state = docker
        .inspect_container(id, None)
        .await?
        .state
        .unwrap_or_default();
    let oom = state.oom_killed.unwrap_or(false);
    if state.running.unwrap_or(false) {
        return Ok((None, None, oom));
    }
    let verdict = if oom {
        ContainerVerdict::OutOfMemory
    } else {
        ContainerVerdict::Crashed
    };
    Ok((Some(verdict), state.exit_code, oom))
}

/// The engine's one-line reason when it answered with an error status.
fn refusal(e: &bollard::errors::Error) -> Option<String> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } if (400..=500).contains(status_code) => Some(checks::clip(message, 300)),
        _ => None,
    }
}

/// Records a container that never ran: image checks still count, the rest fail.
fn not_started(report: &mut Report, checks: &[&CheckSpec], facts: &ImageFacts, what: &str) {
    report.container.verdict = ContainerVerdict::NeverReady;
    report.container.detail = Some(what.to_string());
    judge_without_service(report, checks, facts, what);
}

/// Image checks are judged from the image; every other check fails with `why`.
fn judge_without_service(
    report: &mut Report,
    checks: &[&CheckSpec],
    facts: &ImageFacts,
    why: &str,
) {
    for check in checks {
        let i = index_of(report, &check.id);
        match &check.kind {
            // Judged before the service started.
            kind if kind.runs_apart() => {}
            CheckKind::Image(rule) => match checks::image_check(rule, facts) {
                Ok(()) => set(report, i, Verdict::Passed, None, 0),
                Err(Problem::Fail(m) | Problem::Error(m)) => {
                    set(report, i, Verdict::Failed, Some(m), 0)
                }
            },
            _ => set(
                report,
                i,
                Verdict::Failed,
                Some(format!("not run: {why}")),
                0,
            ),
        }
    }
}

/// Records a container that stopped before the probe could join it.
fn stopped_before_ready(
    report: &mut Report,
    checks: &[&CheckSpec],
    facts: &ImageFacts,
    (verdict, code, oom): (ContainerVerdict, Option<i64>, bool),
) {
    let what = if oom {
        "it ran out of memory".to_string()
    } else {
        let hint = match code {
            Some(127) => " (the entrypoint was not found in the image)",
            Some(126) => " (the entrypoint is not executable)",
            _ => "",
        };
        format!("it exited with code {}{hint}", code.unwrap_or(-1))
    };
    report.container.verdict = verdict;
    report.container.exit_code = code;
    report.container.oom_killed = oom;
    report.container.detail = Some(format!("the service stopped before it was ready: {what}"));
    let why = format!("the service stopped before it was ready ({what})");
    judge_without_service(report, checks, facts, &why);
}

fn empty_report(req: &GradeRequest, checks: &[&CheckSpec]) -> Report {
    let hidden: Vec<&CheckSpec> = req
        .lab
        .checks
        .iter()
        .filter(|c| c.visibility == Visibility::Hidden)
        .collect();
    Report {
        schema: SCHEMA,
        grader_version: env!("CARGO_PKG_VERSION"),
        audience: req.audience,
        lab: LabInfo {
            id: req.lab.id.clone(),
            title: req.lab.title.clone(),
            week: req.lab.week,
        },
        submission: SubmissionInfo {
            path: req.submission.display().to_string(),
            context_sha256: None,
        },
        score: Score { earned: 0, max: 0 },
        withheld: (req.audience == Audience::Student && !hidden.is_empty()).then(|| Withheld {
            checks: hidden.len(),
            points: hidden.iter().map(|c| c.points).sum(),
        }),
        container: ContainerResult {
            verdict: ContainerVerdict::Ran,
            detail: None,
            exit_code: None,
            oom_killed: false,
            output_over_cap: false,
            cached_image: false,
            log_excerpt: Vec::new(),
        },
        checks: checks
            .iter()
            .map(|c| CheckResult {
                id: c.id.clone(),
                title: c.title.clone(),
                points: c.points,
                earned: 0,
                visibility: c.visibility,
                verdict: Verdict::Failed,
                message: Some("not run".into()),
                duration_ms: 0,
            })
            .collect(),
        timings: Timings::default(),
    }
}

fn index_of(report: &Report, id: &str) -> usize {
    report.checks.iter().position(|c| c.id == id).unwrap_or(0)
}

fn set(report: &mut Report, i: usize, verdict: Verdict, message: Option<String>, duration_ms: u64) {
    let c = &mut report.checks[i];
    c.verdict = verdict;
    c.earned = if verdict == Verdict::Passed {
        c.points
    } else {
        0
    };
    c.message = message;
    c.duration_ms = duration_ms;
}

/// Fails every check that needs the image (the others are judged without it).
fn fail_all(report: &mut Report, lab: &LabSpec, checks: &[&CheckSpec], why: &str) {
    for check in checks.iter().filter(|c| lab.check_needs_image(c)) {
        let i = index_of(report, &check.id);
        set(report, i, Verdict::Failed, Some(why.to_string()), 0);
    }
}

fn finish(mut report: Report, started: Instant) -> Report {
    report.timings.total_ms = ms(started);
    report.tally();
    report
}

/// "3 s", or "250 ms" under a second.
fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::Listening;

    #[test]
    fn listeners_are_sorted_into_the_contract_port_and_the_others() {
        let out = "127.0.0.1 8080\n0.0.0.0 9090\n:: 9090\nnot a line\n0.0.0.0 70000\n";
        let l = Listening::parse(out, 8080);
        assert_eq!(l.on_port, vec!["127.0.0.1"]);
        assert_eq!(l.other_ports, vec!["9090"]);
        assert!(!l.reachable());
        assert!(Listening::parse("0.0.0.0 8080\n", 8080).reachable());
        assert!(Listening::parse(":: 8080\n", 8080).reachable());
    }
}
