//! `cargo xtask bench serve`: the week-8 reference service, its FastAPI +
//! scikit-learn peer and a no-op axum server, each loaded in turn by wrk with
//! the same request (`bench/predict.lua`), on 127.0.0.1 only.
//!
//! On a 2-core machine wrk and the server would fight over both cores: one
//! wrk thread saturates before the no-op server does, two threads take CPU
//! from the server, and the tail latencies follow the scheduler. So by
//! default each gets its own: the server the first core(s), wrk (one thread,
//! one event loop for all connections) the last one, with `taskset`. Every
//! server then runs on the same one core here, the 1-worker peer included;
//! `--no-pin` lets them share instead.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::json;

use super::server::{self, Server};
use super::wrk::{self, Summary};
use super::{Verdict, bench_dir, cargo_target_dir, machine, markdown_table, thousands};
use crate::step::step;
use crate::{apt, cmd, workspace};

#[derive(Args)]
pub struct Options {
    /// Seconds of load per connection count.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of unmeasured load before a server's first run.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Connection counts to load each server with (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    connections: Vec<u32>,
    /// wrk threads (never more than the connections).
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// uvicorn worker processes for the FastAPI peer.
    #[arg(long, default_value_t = 1)]
    peer_workers: u32,
    /// Let the server and wrk share every core instead of pinning each to
    /// its own (then `--threads 2` keeps wrk from being the limit).
    #[arg(long)]
    no_pin: bool,
}

/// Which cores the server and wrk run on (`taskset -c` lists).
struct Pinning {
    server: String,
    wrk: String,
}

/// The cores this process may use, split: the last for wrk, the rest for
/// the server. None when not pinning or with a single core.
fn pinning(options: &Options) -> Result<Option<Pinning>> {
    if options.no_pin {
        return Ok(None);
    }
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| parse_cpu_list(list.trim()))
        .context("no Cpus_allowed_list in /proc/self/status")?;
    let Some((wrk, server)) = cpus.split_last() else {
        return Ok(None);
    };
    if server.is_empty() {
        return Ok(None);
    }
    apt::ensure_program("taskset", "util-linux")?;
    let server: Vec<String> = server.iter().map(u32::to_string).collect();
    Ok(Some(Pinning {
        server: server.join(","),
        wrk: wrk.to_string(),
    }))
}

/// `0-1,4,6-7` as [0, 1, 4, 6, 7].
fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// `program`, under `taskset -c cpus` when pinned (taskset execs it, so the
/// pid stays the program's).
fn pinned(cpus: Option<&str>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// The goals are judged at this many connections.
const GOAL_CONNECTIONS: u32 = 16;
/// The reference must serve at least this many times the peer's requests/s.
const GOAL_OVER_PEER: f64 = 25.0;
/// ...with a p99 latency of at most this many µs...
const GOAL_P99_US: f64 = 2_000.0;
/// ...and at least this share of the no-op server's requests/s.
const GOAL_OVER_NOOP: f64 = 0.8;

/// One server's results.
struct Measured {
    name: &'static str,
    what: &'static str,
    runs: Vec<(u32, Summary)>,
    peak_rss_kib: u64,
    processes: usize,
}

impl Measured {
    fn at(&self, connections: u32) -> Option<&Summary> {
        self.runs
            .iter()
            .find(|(c, _)| *c == connections)
            .map(|(_, s)| s)
    }
}

pub fn run(options: &Options) -> Result<()> {
    ensure!(options.duration > 0, "--duration must be at least 1 second");
    ensure!(options.threads > 0, "--threads must be at least 1");
    ensure!(
        !options.connections.is_empty() && !options.connections.contains(&0),
        "--connections needs counts of at least 1"
    );
    let wrk = apt::ensure_program("wrk", "wrk")?;
    let pins = pinning(options)?;
    let server_cpus = pins.as_ref().map(|p| p.server.as_str());
    if let Some(p) = &pins {
        println!(
            "    the servers run on CPU {}, wrk on CPU {}",
            p.server, p.wrk
        );
    }
    let root = workspace::root();
    let dir = bench_dir()?;
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let script = root.join("bench").join("predict.lua");
    let body = request_body(&script)?;

    step("build wine-service and bench-noop (release)", || {
        cmd::run(workspace::cargo().args([
            "build",
            "-q",
            "--release",
            "-p",
            "wine-service",
            "-p",
            "bench-noop",
        ]))
    })?;
    let release = cargo_target_dir()?.join("release");
    let model = dir.join("model.json");
    step("train the reference's model", || {
        cmd::output(
            Command::new(release.join("wine-service"))
                .args(["train", "--out"])
                .arg(&model),
        )
        .map(drop)
    })?;
    let peer_script = root.join("bench").join("fastapi-peer").join("run.sh");
    let venv = dir.join("fastapi-venv");
    step("set up the FastAPI peer's venv", || {
        cmd::output(Command::new(&peer_script).arg("--setup").env("VENV", &venv)).map(drop)
    })?;

    let mut measured = Vec::new();
    for kind in [Kind::Reference, Kind::Peer, Kind::Noop] {
        let port = server::free_port()?;
        let command = match kind {
            Kind::Reference => {
                let mut c = pinned(server_cpus, release.join("wine-service"));
                c.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
                    .arg("--model")
                    .arg(&model)
                    // No line per request, as the peer runs with
                    // `--no-access-log --log-level warning`.
                    .env("RUST_LOG", "warn");
                c
            }
            Kind::Peer => {
                let mut c = pinned(server_cpus, &peer_script);
                c.env("VENV", &venv)
                    .env("PORT", port.to_string())
                    .env("WORKERS", options.peer_workers.to_string());
                c
            }
            Kind::Noop => {
                let mut c = pinned(server_cpus, release.join("bench-noop"));
                c.arg(format!("127.0.0.1:{port}"));
                c
            }
        };
        let name = kind.name();
        let log = logs.join(format!("{name}.log"));
        // The peer imports scikit-learn and trains before it listens.
        let server = step(&format!("start {name} ({})", kind.what()), || {
            Server::start(name, command, port, &log, Duration::from_secs(60))
        })?;
        let wrk_cpu = pins.as_ref().map(|p| p.wrk.as_str());
        measured.push(load(
            server,
            kind,
            (&wrk, wrk_cpu),
            &script,
            &body,
            options,
        )?);
    }

    let report = report(&measured, options, pins.as_ref());
    println!("\n{report}");
    let json = results_json(&measured, options, &wrk, pins.as_ref())?;
    let out = dir.join("serve.json");
    fs::write(&out, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("results: {}", out.display());
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Reference,
    Peer,
    Noop,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::Peer => "peer",
            Kind::Noop => "noop",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Reference => "week-8 wine-service, Rust + axum + the course's tree",
            Kind::Peer => "FastAPI + scikit-learn on uvicorn",
            Kind::Noop => "axum handler that does no work",
        }
    }
}

/// The JSON body `predict.lua` sends, for the sanity check before loading.
fn request_body(script: &Path) -> Result<String> {
    let text =
        fs::read_to_string(script).with_context(|| format!("reading {}", script.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("wrk.body = '")?.strip_suffix('\''))
        .map(str::to_owned)
        .with_context(|| format!("no `wrk.body = '...'` line in {}", script.display()))
}

/// Checks the server answers the bench's request correctly, warms it up,
/// then loads it at each connection count; always stops it.
fn load(
    mut server: Server,
    kind: Kind,
    (wrk, wrk_cpu): (&Path, Option<&str>),
    script: &Path,
    body: &str,
    options: &Options,
) -> Result<Measured> {
    let name = server.name;
    let (status, answer) = server::http(server.addr, "POST", "/predict", Some(body))?;
    if status != 200 || !answer.contains("\"predictions\"") {
        bail!("{name} answered the bench's request with {status}: {answer:.200}");
    }
    let url = format!("http://{}/predict", server.addr);
    let wrk_run = |connections: u32, seconds: u64| -> Result<Summary> {
        let threads = options.threads.min(connections);
        let mut command = pinned(wrk_cpu, wrk);
        command
            .arg(format!("--threads={threads}"))
            .arg(format!("--connections={connections}"))
            .arg(format!("--duration={seconds}s"))
            .arg("--latency")
            .arg("--script")
            .arg(script)
            .arg(&url);
        let text = cmd::output(&mut command)?;
        wrk::parse(&text)
            .with_context(|| format!("reading the output of `{}`", cmd::describe(&command)))
    };
    if options.warmup > 0 {
        wrk_run(
            GOAL_CONNECTIONS.min(options.connections.iter().copied().max().unwrap_or(1)),
            options.warmup,
        )
        .with_context(|| format!("warming up {name}"))?;
    }
    let mut runs = Vec::new();
    for &connections in &options.connections {
        let s = wrk_run(connections, options.duration)
            .with_context(|| format!("loading {name} with {connections} connections"))?;
        println!(
            "    {name}, {connections} connections: {} requests/s, p50 {}, p99 {}{}",
            thousands(s.requests_per_sec),
            fmt_latency(s.p50_us),
            fmt_latency(s.p99_us),
            match s.failures() {
                0 => String::new(),
                n => format!(", {n} FAILED REQUESTS"),
            }
        );
        runs.push((connections, s));
    }
    let (peak_rss_kib, processes) = server.peak_rss_kib()?;
    server.stop()?;
    Ok(Measured {
        name,
        what: kind.what(),
        runs,
        peak_rss_kib,
        processes,
    })
}

fn fmt_latency(us: f64) -> String {
    let ms = us / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `reference / other` requests per second at `connections`, if both ran
/// without failures.
fn ratio(reference: &Measured, other: &Measured, connections: u32) -> Option<f64> {
    let (a, b) = (reference.at(connections)?, other.at(connections)?);
    (a.failures() == 0 && b.failures() == 0 && b.requests_per_sec > 0.0)
        .then(|| a.requests_per_sec / b.requests_per_sec)
}

fn find<'a>(measured: &'a [Measured], name: &str) -> Option<&'a Measured> {
    measured.iter().find(|m| m.name == name)
}

/// (goal, what was measured, verdict) for the three goals.
fn goals(measured: &[Measured]) -> Vec<(String, Option<f64>, Verdict)> {
    let reference = find(measured, "reference");
    let by_ratio = |other: &str| {
        let other = find(measured, other)?;
        ratio(reference?, other, GOAL_CONNECTIONS)
    };
    let p99 = reference
        .and_then(|r| r.at(GOAL_CONNECTIONS))
        .filter(|s| s.failures() == 0)
        .map(|s| s.p99_us / 1000.0);
    let judge = |value: Option<f64>, met: fn(f64) -> bool| match value {
        Some(v) => Verdict::of(met(v)),
        None => Verdict::NotMeasured,
    };
    let c = GOAL_CONNECTIONS;
    let over_peer = by_ratio("peer");
    let over_noop = by_ratio("noop");
    vec![
        (
            format!("reference ≥ {GOAL_OVER_PEER}× the peer's requests/s at {c} connections"),
            over_peer,
            judge(over_peer, |v| v >= GOAL_OVER_PEER),
        ),
        (
            format!(
                "reference p99 ≤ {} ms at {c} connections",
                GOAL_P99_US / 1000.0
            ),
            p99,
            judge(p99, |v| v <= GOAL_P99_US / 1000.0),
        ),
        (
            format!(
                "reference ≥ {:.0}% of the no-op's requests/s at {c} connections",
                GOAL_OVER_NOOP * 100.0
            ),
            over_noop,
            judge(over_noop, |v| v >= GOAL_OVER_NOOP),
        ),
    ]
}

/// The Markdown report: results, memory, ratios, goals.
fn report(measured: &[Measured], options: &Options, pins: Option<&Pinning>) -> String {
    let mut rows = Vec::new();
    for m in measured {
        for (connections, s) in &m.runs {
            let failures = match s.failures() {
                0 => "0".to_owned(),
                n => format!("**{n}**"),
            };
            rows.push(vec![
                m.name.to_owned(),
                connections.to_string(),
                thousands(s.requests_per_sec),
                fmt_latency(s.p50_us),
                fmt_latency(s.p99_us),
                failures,
            ]);
        }
    }
    let cores = match pins {
        Some(p) => format!("servers on CPU {}, wrk on CPU {}", p.server, p.wrk),
        None => "servers and wrk sharing the cores".to_owned(),
    };
    let mut out = format!(
        "## Serving: {} s per run, wrk {} thread(s), {cores}\n\n",
        options.duration, options.threads
    );
    out.push_str(&markdown_table(
        &[
            "server",
            "connections",
            "requests/s",
            "p50",
            "p99",
            "errors",
        ],
        &[false, true, true, true, true, true],
        &rows,
    ));
    if measured
        .iter()
        .any(|m| m.runs.iter().any(|(_, s)| s.failures() > 0))
    {
        out.push_str(
            "\n**Errors** (error statuses, socket errors, timeouts): those runs are not valid.\n",
        );
    }
    out.push('\n');
    let memory: Vec<Vec<String>> = measured
        .iter()
        .map(|m| {
            vec![
                m.name.to_owned(),
                m.what.to_owned(),
                format!("{:.1} MB", m.peak_rss_kib as f64 * 1024.0 / 1e6),
                m.processes.to_string(),
            ]
        })
        .collect();
    out.push_str(&markdown_table(
        &["server", "what", "peak RSS (VmHWM)", "processes"],
        &[false, false, true, true],
        &memory,
    ));
    out.push('\n');
    if let (Some(reference), Some(peer), Some(noop)) = (
        find(measured, "reference"),
        find(measured, "peer"),
        find(measured, "noop"),
    ) {
        let fmt = |r: Option<f64>, digits: usize| {
            r.map_or_else(|| "n/a (errors)".to_owned(), |r| format!("{r:.digits$}×"))
        };
        let rows: Vec<Vec<String>> = options
            .connections
            .iter()
            .map(|&c| {
                vec![
                    c.to_string(),
                    fmt(ratio(reference, peer, c), 1),
                    fmt(ratio(reference, noop, c), 2),
                ]
            })
            .collect();
        out.push_str(&markdown_table(
            &["connections", "reference / peer", "reference / noop"],
            &[true, true, true],
            &rows,
        ));
        out.push('\n');
    }
    for (goal, value, verdict) in goals(measured) {
        let value = value.map_or_else(String::new, |v| format!(" (measured {v:.2})"));
        out.push_str(&format!("- {goal}: **{}**{value}\n", verdict.as_str()));
    }
    out
}

fn results_json(
    measured: &[Measured],
    options: &Options,
    wrk: &Path,
    pins: Option<&Pinning>,
) -> Result<serde_json::Value> {
    let version = cmd::output_raw(Command::new(wrk).arg("--version"))?;
    // wrk prints its version, then its usage, and exits 1.
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let servers: Vec<serde_json::Value> = measured
        .iter()
        .map(|m| {
            let runs: Vec<serde_json::Value> = m
                .runs
                .iter()
                .map(|(connections, s)| {
                    json!({
                        "connections": connections,
                        "requests": s.requests,
                        "duration_s": s.duration_s,
                        "requests_per_sec": s.requests_per_sec,
                        "latency_us": {
                            "avg": s.latency_avg_us, "max": s.latency_max_us,
                            "p50": s.p50_us, "p75": s.p75_us, "p90": s.p90_us, "p99": s.p99_us,
                        },
                        "non_2xx": s.non_2xx,
                        "socket_errors": {
                            "connect": s.errors.connect, "read": s.errors.read,
                            "write": s.errors.write, "timeout": s.errors.timeout,
                        },
                        "flagged": s.failures() > 0,
                    })
                })
                .collect();
            json!({
                "name": m.name,
                "what": m.what,
                "peak_rss_kib": m.peak_rss_kib,
                "processes": m.processes,
                "runs": runs,
            })
        })
        .collect();
    let ratios: Vec<serde_json::Value> = options
        .connections
        .iter()
        .map(|&c| {
            let r = |other: &str| {
                find(measured, "reference")
                    .zip(find(measured, other))
                    .and_then(|(a, b)| ratio(a, b, c))
            };
            json!({ "connections": c, "reference_over_peer": r("peer"), "reference_over_noop": r("noop") })
        })
        .collect();
    let goals: Vec<serde_json::Value> = goals(measured)
        .into_iter()
        .map(|(goal, value, verdict)| json!({ "goal": goal, "measured": value, "verdict": verdict.as_str() }))
        .collect();
    Ok(json!({
        "schema": "mlops-course/bench-serve/v1",
        "machine": machine(),
        "wrk": {
            "version": version,
            "threads": options.threads,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "script": "bench/predict.lua",
        },
        "peer_workers": options.peer_workers,
        "cpus": pins.map(|p| json!({ "server": p.server, "wrk": p.wrk })),
        "servers": servers,
        "ratios": ratios,
        "goals": goals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(requests_per_sec: f64, p99_us: f64, non_2xx: u64) -> Summary {
        Summary {
            requests: 1000,
            duration_s: 10.0,
            requests_per_sec,
            latency_avg_us: p99_us / 2.0,
            latency_max_us: p99_us * 2.0,
            p50_us: p99_us / 2.0,
            p75_us: p99_us / 2.0,
            p90_us: p99_us,
            p99_us,
            non_2xx,
            errors: wrk::SocketErrors::default(),
        }
    }

    fn server(name: &'static str, rps: f64, p99_us: f64, non_2xx: u64) -> Measured {
        Measured {
            name,
            what: "",
            runs: vec![(16, summary(rps, p99_us, non_2xx))],
            peak_rss_kib: 1,
            processes: 1,
        }
    }

    #[test]
    fn goals_are_judged_at_16_connections() {
        let measured = [
            server("reference", 50_000.0, 1_500.0, 0),
            server("peer", 1_000.0, 20_000.0, 0),
            server("noop", 80_000.0, 900.0, 0),
        ];
        let verdicts: Vec<Verdict> = goals(&measured).into_iter().map(|g| g.2).collect();
        assert_eq!(verdicts, [Verdict::Met, Verdict::Met, Verdict::Missed]);
    }

    #[test]
    fn a_run_with_errors_proves_nothing() {
        let measured = [
            server("reference", 50_000.0, 1_500.0, 3),
            server("peer", 1_000.0, 20_000.0, 0),
            server("noop", 60_000.0, 900.0, 0),
        ];
        assert!(goals(&measured).iter().all(|g| g.2 == Verdict::NotMeasured));
        let options = Options {
            duration: 10,
            warmup: 2,
            connections: vec![16],
            threads: 1,
            peer_workers: 1,
            no_pin: false,
        };
        let report = report(&measured, &options, None);
        assert!(report.contains("**3**"), "{report}");
        assert!(report.contains("not valid"), "{report}");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(parse_cpu_list("3"), Some(vec![3]));
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn the_request_body_comes_from_the_lua_script() {
        let script = workspace::root().join("bench").join("predict.lua");
        let body = request_body(&script).expect("a body");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["inputs"][0].as_object().map(|o| o.len()), Some(11));
    }
}
