//! Announced, timed steps: `==> what` before, `    what: 12.3s` after.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Runs `f` as a named step: prints it, times it, and names it in any error.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let took = fmt_duration(start.elapsed());
    match &result {
        Ok(_) => println!("    {name}: done in {took}"),
        Err(_) => println!("    {name}: failed after {took}"),
    }
    result.with_context(|| name.to_owned())
}

pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
