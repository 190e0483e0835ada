//! judge-browser: drive a headless Chromium through chromedriver along a
//! scenario, and write what it saw as JSON for the grader's rules.
//!
//! Usage: `judge-browser SCENARIO.json RESULT.json`
//!
//! Exit codes: 0 the browser ran and the result was written (whatever the
//! steps' outcome); 2 bad usage or scenario; 3 chromedriver or Chromium could
//! not be started (or the result could not be written).
#![forbid(unsafe_code)]

mod driver;
mod result;
mod run;
mod scenario;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: judge-browser SCENARIO.json RESULT.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [scenario_path, result_path] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if scenario_path.starts_with('-') || result_path.starts_with('-') {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }

    let scenario = match std::fs::read_to_string(scenario_path) {
        Ok(text) => match scenario::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("judge-browser: bad scenario {scenario_path}: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("judge-browser: cannot read scenario {scenario_path}: {e}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("judge-browser: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(go(&scenario, Path::new(result_path)))
}

/// The longest the whole run may take: startup, loading, every step, shutdown.
fn total_bound(scenario: &scenario::Scenario) -> Duration {
    let timeout = Duration::from_millis(scenario.timeout_ms);
    let steps: Duration = scenario
        .steps
        .iter()
        .map(|s| run::step_bound(&s.action, timeout))
        .sum();
    driver::DRIVER_START + driver::SESSION_START + timeout + steps + Duration::from_secs(20)
}

async fn go(scenario: &scenario::Scenario, result_path: &Path) -> ExitCode {
    let setup = driver::Setup::from_env();
    let browser =
        match driver::Browser::start(&setup, scenario.driver_port, scenario.timeout_ms).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("judge-browser: {e}");
                return ExitCode::from(3);
            }
        };
    let outcome = match &browser.client {
        Some(client) => {
            let bound = total_bound(scenario);
            tokio::time::timeout(bound, run::run(client, scenario, browser.version.clone()))
                .await
                .ok()
        }
        None => None,
    };
    browser.stop().await;
    let Some(outcome) = outcome else {
        eprintln!("judge-browser: the browser did not finish the scenario in time");
        return ExitCode::from(3);
    };
    print!("{}", outcome.summary());
    match std::fs::write(result_path, outcome.to_json()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "judge-browser: cannot write the result to {}: {e}",
                result_path.display()
            );
            ExitCode::from(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_bound_covers_every_step() {
        let s = scenario::parse(
            r##"{"url":"http://h/","timeout_ms":1000,"steps":[{"id":"a","wait":"#x"},{"id":"b","click":"#y"}]}"##,
        )
        .unwrap();
        let b = total_bound(&s);
        assert!(b >= Duration::from_millis(1000) * 2 + run::IMMEDIATE);
        assert!(b < Duration::from_secs(200));
    }
}
