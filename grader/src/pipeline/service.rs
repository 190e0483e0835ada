//! Phases four and five, service and final: start the submission in its
//! sandbox with the probe in its network namespace, wait until it is ready,
//! run the service's checks in order through the relay, then the final checks
//! (SIGTERM), which stop it. Teardown happens whatever went before.

use super::build::Image;
use super::command::Runner;
use super::ready::{Ready, wait_asked, wait_ready};
use super::scorecard::{Scorecard, ms};
use super::watch::Watch;
use super::{GradeError, GradeRequest};
use crate::checks::startup::Trace;
use crate::checks::{self, Env};
use crate::docker::output::Capture;
use crate::docker::{labels, probe, relay, sandbox, sweep};
use crate::fakes::Fakes;
use crate::result::ContainerVerdict;
use crate::spec::{CheckKind, CheckSpec, Phase, StartupRule};
use bollard::Docker;
use bollard::query_parameters::{CreateContainerOptionsBuilder, KillContainerOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the probe, then the service in the probe's network namespace,
/// judges the service and final phases, tears down.
pub async fn run(
    docker: &Docker,
    req: &GradeRequest,
    checks: &[&CheckSpec],
    image: &Image,
    card: &mut Scorecard,
    watch: &mut Watch<'_>,
) -> Result<(), GradeError> {
    let lab = &req.lab;
    let t = Instant::now();
    watch.step("starting the service");
    let fakes = (!lab.fakes.is_empty()).then(|| Fakes::new(&lab.fakes, &lab.id));
    let fake_ports = fakes.as_ref().map(|f| f.ports()).unwrap_or_default();

    // The probe owns the namespace: it starts first, holding the fakes' ports,
    // so that they answer before the submission's first call and nothing of
    // the submission's can take them.
    let probe_image = probe::image(docker, &req.probe_exe).await?;
    let pid = probe::create(
        docker,
        &probe_image,
        &lab.id,
        lab.container.port,
        &fake_ports,
    )
    .await?;
    let mut sub_id: Option<String> = None;
    let mut capture = None;
    let outcome = async {
        // Attached before anything runs: a frame the probe writes before the
        // grader listens (a fake's connection opened at once) would be lost.
        let relay = relay::Relay::start(docker, &pid, fakes.clone())
            .await
            .map_err(|e| GradeError::Other(format!("cannot open the relay socket: {e}")))?;
        probe::start(docker, &pid).await?;
        if !fake_ports.is_empty() {
            probe::wait_listening(docker, &pid, &probe_image, &fake_ports).await?;
        }
        let sha = card.report.submission.context_sha256.as_deref();
        let name = format!("grader-{}-{}", lab.id, &sha.unwrap_or("x")[..12]);
        let opts = CreateContainerOptionsBuilder::default()
            .name(&labels::unique(&name))
            .build();
        let mut body = sandbox::submission(
            &image.tag,
            &lab.id,
            &lab.container,
            &image.facts.volumes,
            &pid,
        );
        if let Some(host) = body.host_config.as_mut() {
            host.runtime.clone_from(&req.runtime);
        }
        if let Some(env) = body.env.as_mut() {
            // The lab's own env comes last, so an instructor may override.
            let given: Vec<String> = lab
                .fakes
                .values()
                .flat_map(|f| f.env(&lab.id, lab.container.memory_mb))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            env.splice(1..1, given);
        }
        let id = match docker.create_container(Some(opts), body).await {
            Ok(created) => created.id,
            // The engine refuses to make a container of this image (no command, say).
            Err(e) => match refusal(&e) {
                Some(why) => {
                    let what = format!("the container could not be created: {why}");
                    not_started(card, checks, &what);
                    return Ok(());
                }
                None => return Err(e.into()),
            },
        };
        sub_id = Some(id.clone());
        capture = Some(Capture::attach(docker, &id).await?);
        if let Err(e) = docker.start_container(&id, None).await {
            // Our configuration starts other images, so a refusal here is the
            // image's doing (an entrypoint that does not exist, say).
            return match refusal(&e) {
                Some(why) => {
                    let what = format!("the container did not start: {why}");
                    not_started(card, checks, &what);
                    Ok(())
                }
                None => Err(e.into()),
            };
        }
        card.report.timings.start_ms = ms(t);
        let service = Service {
            docker,
            id: &id,
            probe_id: &pid,
            probe_image: probe_image.clone(),
            fakes: fakes.clone(),
            relay,
        };
        judge(&service, req, checks, image, card, watch).await
    }
    .await;
    if card.report.timings.start_ms == 0 {
        card.report.timings.start_ms = ms(t);
    }

    // Teardown, whatever happened: the submission first, then the namespace.
    let t = Instant::now();
    let gone = match &sub_id {
        Some(id) => sweep::remove_container(docker, id).await,
        None => Ok(()),
    };
    let probe_gone = sweep::remove_container(docker, &pid).await;
    gone?;
    probe_gone?;
    if let Some(capture) = capture {
        let out = capture.finish();
        card.report.container.output_over_cap = out.bytes > lab.container.log_cap_bytes;
        card.report.container.log_excerpt = out.excerpt();
    }
    card.report.timings.teardown_ms = ms(t);
    outcome
}

/// The running submission and the probe in its namespace.
struct Service<'a> {
    docker: &'a Docker,
    id: &'a str,
    probe_id: &'a str,
    probe_image: probe::ProbeImage,
    fakes: Option<Arc<Fakes>>,
    relay: relay::Relay,
}

/// Waits until ready, runs the service's checks in order, then the final
/// ones, and records the container's fate.
async fn judge(
    service: &Service<'_>,
    req: &GradeRequest,
    checks: &[&CheckSpec],
    image: &Image,
    card: &mut Scorecard,
    watch: &mut Watch<'_>,
) -> Result<(), GradeError> {
    let (docker, id) = (service.docker, service.id);
    let lab = &req.lab;
    let deadline = Instant::now() + Duration::from_secs(lab.container.run_timeout_secs);
    let relay = &service.relay;
    // Every connection goes through the relay whatever the host, so the URL's
    // host only sets the Host header the service sees.
    let base = format!("http://localhost:{}", lab.container.port);
    let http = relay
        .client()
        .map_err(|e| GradeError::Other(format!("HTTP client: {e}")))?;

    let t = Instant::now();
    // The startup checks judge what was seen while waiting; the paths they
    // watch besides readiness are asked at each round.
    let watched: Vec<String> = checks
        .iter()
        .filter_map(|c| match &c.kind {
            CheckKind::Startup(StartupRule::AliveWhileLoading { path }) => Some(path.clone()),
            _ => None,
        })
        .collect();
    let mut trace = Trace::default();
    let function = lab
        .container
        .ready_fake
        .as_ref()
        .and_then(|name| Some((name, service.fakes.as_ref()?.lambda(name)?)));
    let ready = match function {
        Some((name, lambda)) => {
            watch.step(&format!(
                "waiting until the function asks fake \"{name}\" for an event"
            ));
            wait_asked(docker, id, &lambda, lab).await?
        }
        None => {
            watch.step(&format!(
                "waiting until GET {} answers 200",
                lab.container.ready_path
            ));
            let probe = (service.probe_id, &service.probe_image);
            wait_ready(
                docker,
                id,
                probe,
                (&http, &base),
                lab,
                (&watched, &mut trace),
            )
            .await?
        }
    };
    card.report.timings.ready_ms = ms(t);

    let env = Env {
        http: &http,
        base: &base,
        image: &image.facts,
        snapshots: &lab.snapshots,
        rows: lab.rows.as_ref(),
        fakes: service.fakes.as_deref(),
    };
    let t = Instant::now();
    // Why the remaining checks are not run, once that is known.
    let mut stopped: Option<String> = None;
    if let Ready::No(reason) = ready {
        let (verdict, code, oom) = fate(docker, id).await?;
        let container = &mut card.report.container;
        container.verdict = verdict.unwrap_or(ContainerVerdict::NeverReady);
        container.exit_code = code;
        container.oom_killed = oom;
        container.detail = Some(reason.clone());
        stopped = Some(reason);
    }
    let budget = (deadline, lab.container.run_timeout_secs);
    // Beside the service is in the probe's namespace, which outlives the
    // service (a command may still run after it has stopped).
    let mut beside = Runner::new(
        docker,
        lab,
        &req.submission,
        Some(image),
        Some(service.probe_id),
    )
    .fetching(req.fetch_network.as_deref())
    .with_course_key(&req.course_key);
    for check in checks.iter().filter(|c| c.kind.phase() == Phase::Service) {
        if stopped.is_none() {
            stopped = interrupted(docker, id, budget, card).await?;
        }
        if let Some(why) = &stopped {
            card.not_run([check], why);
            continue;
        }
        if req.course_key.identity().is_none() && super::command::needs_course_key(lab, check) {
            card.not_run([check], super::command::NO_COURSE_KEY);
            continue;
        }
        watch.step(&check.title);
        let started = Instant::now();
        let limit = check
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        if let CheckKind::Startup(rule) = &check.kind {
            card.judge(&check.id, checks::startup::judge(rule, &trace), started);
            continue;
        }
        if let CheckKind::Command(_) | CheckKind::File(_) = &check.kind {
            // A command beside the service: its containers join the service's
            // network namespace, bounded by its own deadline and the run's.
            // (A file check here reads such a command's output.)
            let outcome = beside.judge(check, limit).await?;
            card.judge(&check.id, outcome, started);
            continue;
        }
        match tokio::time::timeout(limit, checks::run(check, &env)).await {
            Ok(outcome) => card.judge(&check.id, outcome, started),
            Err(_) => card.timed_out(&check.id, limit, started),
        }
    }
    if stopped.is_none() {
        stopped = interrupted(docker, id, budget, card).await?;
    }
    let last: Vec<&CheckSpec> = checks
        .iter()
        .copied()
        .filter(|c| c.kind.phase() == Phase::Final)
        .collect();
    if !last.is_empty() {
        watch.enter(Phase::Final, card, checks);
    }
    // One SIGTERM (the spec allows a drain check only beside one sigterm
    // check), judged by the sigterm check and, from the same run, the drain's.
    let drain = last.iter().find_map(|c| match &c.kind {
        CheckKind::Drain { status, request } => Some((*c, *status, request)),
        _ => None,
    });
    for check in last.iter().copied() {
        let CheckKind::Sigterm {
            grace_secs,
            request,
        } = &check.kind
        else {
            continue;
        };
        if let Some(why) = &stopped {
            let drained: Vec<&CheckSpec> = drain.map(|(c, ..)| c).into_iter().collect();
            card.not_run(std::iter::once(&check).chain(&drained), why);
            continue;
        }
        watch.step(&check.title);
        let started = Instant::now();
        let grace = Duration::from_secs(*grace_secs);
        let asked = drain.map(|(_, status, request)| checks::sigterm::Drain {
            ready_path: &lab.container.ready_path,
            status,
            request,
        });
        let seen =
            checks::sigterm::check(docker, id, &env, (request, grace), asked.as_ref()).await?;
        stopped = Some("the service was stopped by the SIGTERM check before it".into());
        card.judge(&check.id, seen.outcome, started);
        if let (Some((c, ..)), Some(outcome)) = (drain, seen.drain) {
            card.judge(&c.id, outcome, started);
        }
    }
    // Last, the fakes' transcripts: what the submission asked them, whatever
    // became of it since.
    for check in checks.iter().filter(|c| c.kind.phase() == Phase::Final) {
        let CheckKind::File(rule) = &check.kind else {
            continue;
        };
        let Some(name) = rule.fake() else { continue };
        watch.step(&check.title);
        let started = Instant::now();
        let transcript = service.fakes.as_ref().and_then(|f| f.transcript(name));
        let outcome = checks::files::judge_one_file(rule, |path| match (path, &transcript) {
            ("transcript.json", Some(bytes)) => Ok(bytes.clone()),
            ("transcript.json", None) => Err(checks::Problem::Error(format!(
                "no fake \"{name}\" in this grade"
            ))),
            (other, _) => Err(checks::Problem::Fail(format!(
                "fake \"{name}\" keeps transcript.json only, not {other}"
            ))),
        });
        card.judge(&check.id, outcome, started);
    }
    card.report.timings.checks_ms += ms(t);
    Ok(())
}

/// If the container is no longer running, or the run's deadline has passed,
/// records why and returns the message for the checks that will not run.
async fn interrupted(
    docker: &Docker,
    id: &str,
    (deadline, secs): (Instant, u64),
    card: &mut Scorecard,
) -> Result<Option<String>, GradeError> {
    let container = &mut card.report.container;
    let (verdict, code, oom) = fate(docker, id).await?;
    if let Some(v) = verdict {
        container.verdict = v;
        container.exit_code = code;
        container.oom_killed = oom;
        let what = if oom {
            "ran out of memory and was killed".to_string()
        } else {
            format!(
                "exited with code {} in the middle of the checks",
                code.unwrap_or(-1)
            )
        };
        container.detail = Some(format!("the service {what}"));
        return Ok(Some(format!("the service {what}")));
    }
    if Instant::now() >= deadline {
        docker
            .kill_container(id, None::<KillContainerOptions>)
            .await
            .ok();
        container.verdict = ContainerVerdict::KilledAtDeadline;
        container.detail = Some(format!(
            "the checks did not finish within the run's {secs} s; the container was killed"
        ));
        return Ok(Some(format!("the run's {secs} s deadline passed")));
    }
    Ok(None)
}

/// The container's state: a verdict if it has stopped, its exit code, OOM.
pub(super) async fn fate(
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

/// Records a container that never ran: the checks of the service's phases are
/// not run; the earlier phases were judged already.
fn not_started(card: &mut Scorecard, checks: &[&CheckSpec], what: &str) {
    card.report.container.verdict = ContainerVerdict::NeverReady;
    card.report.container.detail = Some(what.to_string());
    not_run_from_service(card, checks, what);
}

fn not_run_from_service(card: &mut Scorecard, checks: &[&CheckSpec], why: &str) {
    let later = checks.iter().filter(|c| c.kind.phase() >= Phase::Service);
    card.not_run(later, why);
}
