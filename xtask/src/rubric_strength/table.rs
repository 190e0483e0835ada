//! `cargo xtask rubric-strength --table`: the last run of every lab, as the
//! Markdown table the README and the instructor guide show.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Deserialize)]
struct Summary {
    lab: String,
    listed: usize,
    tried: usize,
    caught: usize,
    missed: usize,
    outside: usize,
    equivalent: usize,
    unviable: usize,
    strength: Option<f64>,
    contract_strength: Option<f64>,
    goal: f64,
    seed: u64,
    mutants: Vec<Timed>,
}

#[derive(Deserialize)]
struct Timed {
    outcome: String,
    seconds: f64,
}

/// The table of every `<lab>/report.json` under `dir`, by lab.
pub fn render(dir: &Path) -> Result<String> {
    let mut reports = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("no runs to tabulate in {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path().join("report.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let summary: Summary = serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()))?;
            reports.push(summary);
        }
    }
    if reports.is_empty() {
        bail!(
            "no report.json under {}: run `cargo xtask rubric-strength LAB` first",
            dir.display()
        );
    }
    reports.sort_by(|a, b| a.lab.cmp(&b.lab));
    let mut md = String::from(
        "| lab | mutants | tried | caught | missed (outside the contract) | equivalent | unviable | strength | within the contract | s per graded mutant |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &reports {
        if r.listed == 0 {
            let _ = writeln!(md, "| {} | 0 | | | | | | n/a: no Rust code | | |", r.lab);
            continue;
        }
        let graded: Vec<f64> = r
            .mutants
            .iter()
            .filter(|m| m.outcome != "unviable")
            .map(|m| m.seconds)
            .collect();
        let per = if graded.is_empty() {
            String::new()
        } else {
            format!("{:.0}", graded.iter().sum::<f64>() / graded.len() as f64)
        };
        let percent = |share: Option<f64>| {
            share.map_or_else(
                || "n/a".to_owned(),
                |s| {
                    let mark = if s >= r.goal { "" } else { " (below the goal)" };
                    format!("{:.0} %{mark}", s * 100.0)
                },
            )
        };
        let tried = if r.tried < r.listed {
            format!("{} (seed {})", r.tried, r.seed)
        } else {
            format!("{} (all)", r.tried)
        };
        let _ = writeln!(
            md,
            "| {} | {} | {tried} | {} | {} ({}) | {} | {} | {} | {} | {per} |",
            r.lab,
            r.listed,
            r.caught,
            r.missed,
            r.outside,
            r.equivalent,
            r.unviable,
            percent(r.strength),
            percent(r.contract_strength)
        );
    }
    Ok(md)
}
