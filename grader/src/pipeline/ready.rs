//! Readiness: the service is ready when it listens on the contract's port at an
//! address the outside can reach and answers the readiness path with 200.
//! Each miss is kept so a student who never gets there is told the last one.

use super::GradeError;
use super::service::fate;
use crate::checks;
use crate::checks::startup::{Poll, Trace};
use crate::docker::probe;
use crate::fakes::Lambda;
use crate::result::ContainerVerdict;
use crate::spec::LabSpec;
use bollard::Docker;
use std::time::{Duration, Instant};

pub enum Ready {
    Yes,
    No(String),
}

/// Polls until the service listens on a non-loopback address and answers the
/// readiness path with 200, the container dies, or the deadline passes. Each
/// answer goes into `trace`, with those of the `watched` paths (liveness),
/// asked while the readiness path says no, for the startup checks.
pub async fn wait_ready(
    docker: &Docker,
    id: &str,
    (probe_id, image): (&str, &probe::ProbeImage),
    (http, base): (&reqwest::Client, &str),
    lab: &LabSpec,
    (watched, trace): (&[String], &mut Trace),
) -> Result<Ready, GradeError> {
    let c = &lab.container;
    let deadline = Instant::now() + Duration::from_secs(c.ready_timeout_secs);
    trace.ready_path.clone_from(&c.ready_path);
    let mut first_answer: Option<Instant> = None;
    let mut last = format!(
        "nothing listened on port {} within {} s",
        c.port, c.ready_timeout_secs
    );
    loop {
        if let Some(stopped) = stopped(docker, id).await? {
            return Ok(stopped);
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
            let answer = http.get(&url).timeout(Duration::from_secs(2)).send().await;
            let at = *first_answer.get_or_insert_with(Instant::now);
            let mut poll = Poll {
                at: at.elapsed(),
                ready: answer
                    .as_ref()
                    .map(|r| r.status().as_u16())
                    .map_err(checks::http_error),
                others: Vec::new(),
            };
            for path in watched {
                let asked = http
                    .get(format!("{base}{path}"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                let status = asked.map(|r| r.status().as_u16());
                poll.others
                    .push((path.clone(), status.map_err(|e| checks::http_error(&e))));
            }
            trace.polls.push(poll);
            match answer {
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

/// Waits until the function has asked the Lambda fake for its next event,
/// the container dies, it reports an init error, or the deadline passes.
pub async fn wait_asked(
    docker: &Docker,
    id: &str,
    lambda: &Lambda,
    lab: &LabSpec,
) -> Result<Ready, GradeError> {
    let secs = lab.container.ready_timeout_secs;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut progress = lambda.asked();
    loop {
        let now = progress.borrow_and_update().clone();
        if let Some(error) = now.init_error {
            return Ok(Ready::No(format!(
                "the function reported an init error: {}",
                checks::clip(&error, 200)
            )));
        }
        if now.asked > 0 {
            return Ok(Ready::Yes);
        }
        if let Some(stopped) = stopped(docker, id).await? {
            return Ok(stopped);
        }
        if Instant::now() >= deadline {
            return Ok(Ready::No(format!(
                "the function never became ready: it did not ask the runtime API for an event (GET /2018-06-01/runtime/invocation/next at $AWS_LAMBDA_RUNTIME_API) within {secs} s"
            )));
        }
        // Woken by its call, or every 200 ms to see whether it died.
        let _ = tokio::time::timeout(Duration::from_millis(200), progress.changed()).await;
    }
}

/// `Ready::No` with the reason if the container has stopped.
async fn stopped(docker: &Docker, id: &str) -> Result<Option<Ready>, GradeError> {
    let (verdict, code, _) = fate(docker, id).await?;
    let Some(v) = verdict else {
        return Ok(None);
    };
    let what = match (v, code) {
        (ContainerVerdict::OutOfMemory, _) => "it ran out of memory".to_string(),
        (_, Some(127)) => {
            "it exited with code 127 (the entrypoint was not found in the image)".into()
        }
        (_, Some(126)) => "it exited with code 126 (the entrypoint is not executable)".into(),
        (_, code) => format!("it exited with code {}", code.unwrap_or(-1)),
    };
    Ok(Some(Ready::No(format!(
        "the service stopped before it was ready: {what}"
    ))))
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
