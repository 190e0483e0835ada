//! The SIGTERM check: does the service shut down gracefully?
//!
//! What a graceful shutdown is for: an orchestrator sends SIGTERM to replace a
//! container, and the requests it is serving at that moment must still get
//! their answers. So the check holds a request in flight (its body half sent),
//! sends SIGTERM, then sends the rest, and judges the behaviour:
//!
//! - the request in flight gets its full answer (a 2xx);
//! - the process exits within the grace period;
//! - with 0, or with 143 (128 + SIGTERM): many servers (uvicorn, gunicorn,
//!   Node) re-raise the signal after their clean shutdown, as the convention
//!   for "ended by SIGTERM" asks.
//!
//! A program with no handler dies at once, and its request in flight gets no
//! answer; one that ignores SIGTERM is killed at the end of the grace period.
//!
//! The request is first sent once as usual. When it gets no full 2xx answer
//! even then (the service's `/predict` is broken, which other checks judge),
//! it cannot show a graceful shutdown; the check then falls back to the exit
//! code alone, 0 within the grace period, and says so, so that one defect is
//! not charged twice.

use super::{Env, Outcome, Problem, http};
use crate::spec::RequestSpec;
use bollard::Docker;
use bollard::query_parameters::KillContainerOptionsBuilder;
use std::time::{Duration, Instant};

/// How long the service gets to start its shutdown before the held request's
/// body is finished: long enough for a handler to see the signal.
const SETTLE: Duration = Duration::from_millis(300);

/// How long the request may take when sent as usual, before SIGTERM.
const BASELINE: Duration = Duration::from_secs(3);

/// What the drain check asks once SIGTERM has been sent, while the request
/// is still held in flight.
pub struct Drain<'a> {
    /// The readiness path, and what it must answer now.
    pub ready_path: &'a str,
    pub status: u16,
    /// Sent afresh: it must still be served.
    pub request: &'a RequestSpec,
}

/// The verdicts of one SIGTERM: the sigterm check's, and the drain check's
/// when one was asked for.
pub struct Stopped {
    pub outcome: Outcome,
    pub drain: Option<Outcome>,
}

/// Sends SIGTERM to the container, with `request` held in flight, and waits
/// up to `grace` for it to stop; with `drain`, asks its questions in between.
/// The outer error is the engine's.
pub async fn check(
    docker: &Docker,
    id: &str,
    env: &Env<'_>,
    (request, grace): (&RequestSpec, Duration),
    drain: Option<&Drain<'_>>,
) -> Result<Stopped, bollard::errors::Error> {
    let what = format!("{} {}", request.method, request.path);
    if !answers_normally(env, request).await {
        return exit_code_alone(docker, id, (&what, grace), env, drain).await;
    }
    let held = Held::start(env, request).await;
    let signalled = Instant::now();
    let term = KillContainerOptionsBuilder::default()
        .signal("SIGTERM")
        .build();
    docker.kill_container(id, Some(term)).await?;
    let drained = match drain {
        Some(d) => Some(draining(env, d).await),
        None => None,
    };
    let answer = match held {
        Ok(held) => held.finish(grace).await,
        Err(why) => Err(why),
    };
    let Some(code) = exit_code_within(docker, id, signalled + grace).await? else {
        docker
            .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
            .await
            .ok();
        return Ok(Stopped {
            outcome: Err(Problem::Fail(format!(
                "the service did not stop within {} s of SIGTERM and was killed; handle SIGTERM: stop accepting, finish the requests in flight, exit",
                grace.as_secs()
            ))),
            drain: drained,
        });
    };
    Ok(Stopped {
        outcome: judge(&what, answer, code),
        drain: drained,
    })
}

/// The drain's questions, a moment after SIGTERM: is the service still
/// answering, and saying it is not ready? Is a new request still served?
async fn draining(env: &Env<'_>, drain: &Drain<'_>) -> Outcome {
    tokio::time::sleep(SETTLE).await;
    let path = drain.ready_path;
    let ready = env
        .http
        .get(format!("{}{path}", env.base))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| http::describe(&e));
    let fresh = &drain.request;
    let served = tokio::time::timeout(Duration::from_secs(2), http::send(env, fresh))
        .await
        .map_err(|_| "no answer within 2 s".to_string())
        .and_then(|answer| answer.map(|a| a.status).map_err(describe_problem));
    let what = format!("{} {}", fresh.method, fresh.path);
    judge_drain(path, drain.status, ready, (&what, served))
}

fn describe_problem(p: Problem) -> String {
    match p {
        Problem::Fail(m) | Problem::Error(m) => m,
    }
}

/// The drain's verdict from the readiness answer and the fresh request's.
fn judge_drain(
    path: &str,
    status: u16,
    ready: Result<u16, String>,
    (what, served): (&str, Result<u16, String>),
) -> Outcome {
    match ready {
        Err(why) => {
            return Err(Problem::Fail(format!(
                "right after SIGTERM, GET {path} got no answer ({why}): the service stopped accepting at once. Traffic keeps coming for a few seconds while the orchestrator takes the pod out of the Service: keep serving, answering {status} to GET {path}, then stop"
            )));
        }
        Ok(200) => {
            return Err(Problem::Fail(format!(
                "after SIGTERM, GET {path} still answered 200: answer {status} as soon as SIGTERM arrives, so that no new traffic is sent to a pod that is leaving"
            )));
        }
        Ok(s) if s != status => {
            return Err(Problem::Fail(format!(
                "after SIGTERM, GET {path} answered {s}, not {status}"
            )));
        }
        Ok(_) => {}
    }
    match served {
        Ok(s) if (200..300).contains(&s) => Ok(()),
        Ok(s) => Err(Problem::Fail(format!(
            "while draining after SIGTERM, a new {what} was answered {s}: keep serving requests until the drain ends"
        ))),
        Err(why) => Err(Problem::Fail(format!(
            "while draining after SIGTERM, a new {what} got no answer ({why}): keep serving requests until the drain ends"
        ))),
    }
}

/// Whether the request, sent as usual, gets a full 2xx answer in time.
async fn answers_normally(env: &Env<'_>, request: &RequestSpec) -> bool {
    matches!(
        tokio::time::timeout(BASELINE, http::send(env, request)).await,
        Ok(Ok(answer)) if (200..300).contains(&answer.status)
    )
}

/// The fallback when the request cannot be held: SIGTERM, then exit 0 within
/// the grace period (143 cannot be told from having no handler without it).
async fn exit_code_alone(
    docker: &Docker,
    id: &str,
    (what, grace): (&str, Duration),
    env: &Env<'_>,
    drain: Option<&Drain<'_>>,
) -> Result<Stopped, bollard::errors::Error> {
    let signalled = Instant::now();
    let term = KillContainerOptionsBuilder::default()
        .signal("SIGTERM")
        .build();
    docker.kill_container(id, Some(term)).await?;
    let drained = match drain {
        Some(d) => Some(draining(env, d).await),
        None => None,
    };
    let code = exit_code_within(docker, id, signalled + grace).await?;
    if code.is_none() {
        docker
            .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
            .await
            .ok();
    }
    Ok(Stopped {
        outcome: judge_without_request(what, code, grace),
        drain: drained,
    })
}

fn judge_without_request(what: &str, code: Option<i64>, grace: Duration) -> Outcome {
    let why = format!(
        "{what} gets no full 2xx answer even without SIGTERM, so no request could be held in flight; judged by the exit code alone"
    );
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(Problem::Fail(format!(
            "{why}: the service exited with code {code} after SIGTERM; exit 0 after a graceful shutdown"
        ))),
        None => Err(Problem::Fail(format!(
            "{why}: the service did not stop within {} s of SIGTERM and was killed",
            grace.as_secs()
        ))),
    }
}

/// The verdict from what happened to the request in flight and the exit code.
fn judge(what: &str, answer: Result<u16, String>, code: i64) -> Outcome {
    let hint = if code == 143 {
        " (143 = 128 + 15: SIGTERM ended the process, so it has no handler for it)"
    } else {
        ""
    };
    match answer {
        Err(why) => Err(Problem::Fail(format!(
            "a request in flight when SIGTERM arrived ({what}) got no full answer ({why}); the service exited with code {code}{hint}; finish the requests in flight before exiting"
        ))),
        Ok(status) if !(200..300).contains(&status) => Err(Problem::Fail(format!(
            "a request in flight when SIGTERM arrived ({what}) was answered {status}, not its usual answer; finish the requests in flight before exiting"
        ))),
        Ok(_) if code == 0 || code == 143 => Ok(()),
        Ok(_) => Err(Problem::Fail(format!(
            "the request in flight was answered, but after SIGTERM the service exited with code {code}; exit 0 after a graceful shutdown (or 143, re-raising SIGTERM)"
        ))),
    }
}

/// A request whose body is half sent, the rest held back until [`Held::finish`].
struct Held {
    release: tokio::sync::oneshot::Sender<()>,
    answer: tokio::task::JoinHandle<Result<u16, String>>,
}

impl Held {
    /// Sends the request's head and the first half of its body, and returns
    /// once the service has had them.
    async fn start(env: &Env<'_>, request: &RequestSpec) -> Result<Held, String> {
        let body = http::body_of(request, env.rows).unwrap_or_default();
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| format!("bad method: {e}"))?;
        let (first, rest) = body.split_at(body.len() / 2);
        let (first, rest) = (first.to_vec(), rest.to_vec());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (sent, first_sent) = tokio::sync::oneshot::channel::<()>();
        let chunks = futures_util::stream::unfold(
            (0u8, Some(sent), Some(released)),
            move |(step, sent, released)| {
                let (first, rest) = (first.clone(), rest.clone());
                async move {
                    match step {
                        0 => {
                            if let Some(sent) = sent {
                                let _ = sent.send(());
                            }
                            Some((Ok::<_, std::io::Error>(first), (1, None, released)))
                        }
                        1 => {
                            if let Some(released) = released {
                                let _ = released.await;
                            }
                            Some((Ok(rest), (2, None, None)))
                        }
                        _ => None,
                    }
                }
            },
        );
        let len = body.len();
        let send = env
            .http
            .request(method, format!("{}{}", env.base, request.path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(chunks))
            .send();
        let answer = tokio::spawn(async move {
            let response = send.await.map_err(|e| http::describe(&e))?;
            let status = response.status().as_u16();
            // The whole answer, or it was cut off.
            response.bytes().await.map_err(|e| http::describe(&e))?;
            Ok(status)
        });
        // The first half has been taken; give the service a moment to read it
        // and start the request's handler.
        if first_sent.await.is_err() {
            return Err("the request could not be sent".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Held { release, answer })
    }

    /// Lets the service start its shutdown, sends the rest of the body and
    /// waits for the whole answer.
    async fn finish(self, grace: Duration) -> Result<u16, String> {
        tokio::time::sleep(SETTLE).await;
        let _ = self.release.send(());
        match tokio::time::timeout(grace, self.answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err("the request was lost".into()),
            Err(_) => Err(format!("no answer within {} s", grace.as_secs())),
        }
    }
}

/// The container's exit code once it has stopped, or `None` if it is still
/// running at `deadline`.
async fn exit_code_within(
    docker: &Docker,
    id: &str,
    deadline: Instant,
) -> Result<Option<i64>, bollard::errors::Error> {
    loop {
        let state = docker
            .inspect_container(id, None)
            .await?
            .state
            .unwrap_or_default();
        if !state.running.unwrap_or(false) {
            return Ok(Some(state.exit_code.unwrap_or(-1)));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(o: Outcome) -> String {
        match o {
            Err(Problem::Fail(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_drain_says_not_ready_and_still_serves() {
        let ok = |ready, served| judge_drain("/health", 503, ready, ("GET /version", served));
        assert!(ok(Ok(503), Ok(200)).is_ok());
        assert!(
            fails(ok(Err("connection refused".into()), Ok(200)))
                .contains("stopped accepting at once")
        );
        assert!(fails(ok(Ok(200), Ok(200))).contains("still answered 200"));
        assert!(fails(ok(Ok(500), Ok(200))).contains("answered 500, not 503"));
        assert!(fails(ok(Ok(503), Ok(503))).contains("a new GET /version was answered 503"));
        assert!(fails(ok(Ok(503), Err("timed out".into()))).contains("got no answer (timed out)"));
    }

    #[test]
    fn a_graceful_shutdown_passes_with_0_or_143() {
        assert!(judge("POST /predict", Ok(200), 0).is_ok());
        // uvicorn's way: a clean shutdown, then the signal re-raised.
        assert!(judge("POST /predict", Ok(200), 143).is_ok());
    }

    #[test]
    fn a_request_cut_off_fails_and_names_the_missing_handler() {
        let m = fails(judge(
            "POST /predict",
            Err("connection closed before message completed".into()),
            143,
        ));
        assert!(m.contains("(POST /predict) got no full answer"), "{m}");
        assert!(m.contains("no handler"), "{m}");
        // Exiting 0 at once is no better: the request in flight was lost.
        let m = fails(judge("POST /predict", Err("reset".into()), 0));
        assert!(!m.contains("no handler"), "{m}");
    }

    #[test]
    fn without_a_usable_request_only_exit_0_in_time_passes() {
        let grace = Duration::from_secs(5);
        assert!(judge_without_request("POST /predict", Some(0), grace).is_ok());
        let m = fails(judge_without_request("POST /predict", Some(143), grace));
        assert!(m.contains("judged by the exit code alone"), "{m}");
        assert!(m.contains("exited with code 143"), "{m}");
        let m = fails(judge_without_request("POST /predict", None, grace));
        assert!(m.contains("did not stop within 5 s"), "{m}");
    }

    #[test]
    fn an_error_answer_or_a_failing_exit_code_fails() {
        assert!(fails(judge("POST /predict", Ok(503), 0)).contains("answered 503"));
        assert!(fails(judge("POST /predict", Ok(200), 1)).contains("exited with code 1"));
    }
}
