//! The run's report, `report.json` and `report.md`: how many mutants the
//! rubric caught, and every one it missed, with its diff.

use std::fmt::Write as _;

use serde::Serialize;

use super::mutants::Mutant;
use super::recipe::Recipe;
use super::trial::{Outcome, Score, Trial};

/// The share of the viable, non-equivalent mutants a rubric should catch.
pub const GOAL: f64 = 0.9;

#[derive(Serialize)]
pub struct Report {
    pub lab: String,
    pub solution: String,
    pub cargo_mutants: String,
    /// How many mutants cargo-mutants makes of the solution.
    pub listed: usize,
    pub sample: Option<usize>,
    pub seed: u64,
    pub tried: usize,
    pub caught: usize,
    pub missed: usize,
    /// Of the missed, those marked outside the contract.
    pub outside: usize,
    pub equivalent: usize,
    pub unviable: usize,
    /// caught / (caught + missed); `None` when there is nothing to divide.
    pub strength: Option<f64>,
    /// caught / (caught + missed - outside): the strength on what the
    /// contract promises.
    pub contract_strength: Option<f64>,
    pub goal: f64,
    /// Marks in mutants.toml that name no mutant of the solution.
    pub stale_marks: Vec<String>,
    /// Marks on mutants the rubric caught.
    pub wrong_marks: Vec<String>,
    pub mutants: Vec<Entry>,
}

#[derive(Serialize)]
pub struct Entry {
    pub name: String,
    pub file: String,
    pub function: String,
    pub genre: String,
    pub outcome: Outcome,
    /// A missed mutant marked outside the contract.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it is equivalent or outside the contract, for one marked so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub diff: String,
    pub seconds: f64,
}

pub struct Inputs<'a> {
    pub lab: &'a str,
    pub solution: &'a str,
    pub cargo_mutants: &'a str,
    pub listed: &'a [Mutant],
    pub sample: Option<usize>,
    pub seed: u64,
    pub recipe: &'a Recipe,
}

impl Report {
    /// The report of the `tried` mutants (in order) and their trials.
    pub fn new(inputs: &Inputs<'_>, tried: &[(Mutant, Trial)]) -> Report {
        let mut mutants = Vec::new();
        let mut wrong_marks = Vec::new();
        for (mutant, trial) in tried {
            let recipe = inputs.recipe;
            let equivalent = recipe.equivalent(&mutant.name);
            let outside = recipe.outside(&mutant.name);
            let reason = equivalent.or(outside).map(str::to_owned);
            let outcome = match trial.outcome {
                Outcome::Missed if equivalent.is_some() => Outcome::Equivalent,
                Outcome::Caught if reason.is_some() => {
                    wrong_marks.push(mutant.name.clone());
                    Outcome::Caught
                }
                outcome => outcome,
            };
            let marked = matches!(outcome, Outcome::Equivalent | Outcome::Missed);
            mutants.push(Entry {
                name: mutant.name.clone(),
                file: mutant.file.clone(),
                function: mutant.function_name().to_owned(),
                genre: mutant.genre.clone(),
                outcome,
                outside: outcome == Outcome::Missed && outside.is_some(),
                lost: trial.lost.clone(),
                score: trial.score,
                error: trial.error.clone(),
                reason: reason.filter(|_| marked),
                diff: mutant.diff.clone(),
                seconds: trial.seconds,
            });
        }
        let count = |o: Outcome| mutants.iter().filter(|m| m.outcome == o).count();
        let (caught, missed) = (count(Outcome::Caught), count(Outcome::Missed));
        let outside = mutants.iter().filter(|m| m.outside).count();
        let ratio = |of: usize| (of > 0).then(|| caught as f64 / of as f64);
        let stale_marks = inputs
            .recipe
            .marks()
            .filter(|e| !inputs.listed.iter().any(|m| m.name == e.mutant))
            .map(|e| e.mutant.clone())
            .collect();
        Report {
            lab: inputs.lab.to_owned(),
            solution: inputs.solution.to_owned(),
            cargo_mutants: inputs.cargo_mutants.to_owned(),
            listed: inputs.listed.len(),
            sample: inputs.sample,
            seed: inputs.seed,
            tried: mutants.len(),
            caught,
            missed,
            outside,
            equivalent: count(Outcome::Equivalent),
            unviable: count(Outcome::Unviable),
            strength: ratio(caught + missed),
            contract_strength: ratio(caught + missed - outside),
            goal: GOAL,
            stale_marks,
            wrong_marks,
            mutants,
        }
    }

    /// `92.6 %`, or `n/a`.
    pub fn strength_text(&self) -> String {
        percent(self.strength)
    }

    /// One line for the terminal and the README's table.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} tried of {} listed: {} caught, {} missed ({} outside the contract), {} equivalent, {} unviable; strength {}, {} within the contract",
            self.lab,
            self.tried,
            self.listed,
            self.caught,
            self.missed,
            self.outside,
            self.equivalent,
            self.unviable,
            self.strength_text(),
            percent(self.contract_strength)
        )
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Rubric strength: {}\n", self.lab);
        if self.listed == 0 {
            let _ = writeln!(
                md,
                "The reference solution `{}` has no Rust code for cargo-mutants to mutate, \
                 so this measure does not apply to the lab.",
                self.solution
            );
            return md;
        }
        let picked = match self.sample {
            Some(n) if n < self.listed => {
                format!("a sample of {} (seed {})", self.tried, self.seed)
            }
            _ => format!("all {}", self.tried),
        };
        let _ = writeln!(
            md,
            "cargo-mutants {} makes {} mutants of the reference solution `{}`; {picked} \
             were graded with the lab's own rubric, as an instructor grades.\n",
            self.cargo_mutants, self.listed, self.solution
        );
        md.push_str("| tried | caught | missed | of them outside the contract | equivalent | unviable | strength | within the contract |\n");
        md.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            self.tried,
            self.caught,
            self.missed,
            self.outside,
            self.equivalent,
            self.unviable,
            self.strength_text(),
            percent(self.contract_strength)
        );
        let _ = writeln!(
            md,
            "Strength is caught / (caught + missed): the share of the mutants that compile \
             and are not marked equivalent that scored below full marks. The goal is {:.0} %. \
             Within the contract, the missed mutants marked as changing only what the lab's \
             contract leaves free are left out too.\n",
            self.goal * 100.0
        );
        for (marks, what) in [
            (&self.stale_marks, "name no mutant of the solution any more"),
            (
                &self.wrong_marks,
                "are marked equivalent, but the rubric caught them",
            ),
        ] {
            if !marks.is_empty() {
                let _ = writeln!(md, "**Check mutants.toml**: these marks {what}:\n");
                for m in marks {
                    let _ = writeln!(md, "- `{m}`");
                }
                md.push('\n');
            }
        }
        self.section(
            &mut md,
            Outcome::Missed,
            "Missed: mistakes the rubric lets through",
        );
        self.section(
            &mut md,
            Outcome::Equivalent,
            "Equivalent: no rubric can catch these",
        );
        self.section(&mut md, Outcome::Caught, "Caught");
        self.section(&mut md, Outcome::Unviable, "Unviable: they do not compile");
        md
    }

    fn section(&self, md: &mut String, outcome: Outcome, title: &str) {
        let entries: Vec<&Entry> = self
            .mutants
            .iter()
            .filter(|m| m.outcome == outcome)
            .collect();
        if entries.is_empty() {
            return;
        }
        let _ = writeln!(md, "## {title}\n");
        match outcome {
            Outcome::Missed | Outcome::Equivalent => {
                for m in entries {
                    let _ = writeln!(md, "### `{}`\n", m.name);
                    let _ = writeln!(md, "In `{}` ({}).", m.function, m.file);
                    if let Some(reason) = &m.reason {
                        let kind = if m.outside {
                            "Outside the contract"
                        } else {
                            "Equivalent"
                        };
                        let _ = writeln!(md, "{kind}: {reason}");
                    }
                    let fence = fence_for(&m.diff);
                    let _ = writeln!(md, "\n{fence}diff\n{}{fence}\n", m.diff);
                }
            }
            Outcome::Caught => {
                md.push_str("| mutant | score | checks that caught it |\n|---|---:|---|\n");
                for m in entries {
                    let score = m
                        .score
                        .map_or_else(String::new, |s| format!("{}/{}", s.earned, s.max));
                    let _ = writeln!(md, "| `{}` | {score} | {} |", m.name, m.lost.join(", "));
                }
                md.push('\n');
            }
            Outcome::Unviable => {
                md.push_str("| mutant | compiler |\n|---|---|\n");
                for m in entries {
                    let error = table_cell(m.error.as_deref().unwrap_or_default());
                    let _ = writeln!(md, "| `{}` | {error} |", m.name);
                }
                md.push('\n');
            }
        }
    }
}

/// `92.6 %`, or `n/a`.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), |s| format!("{:.1} %", s * 100.0))
}

/// `text`'s first line, at most 160 characters, fit for a table cell.
fn table_cell(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut cell: String = line.chars().take(160).collect();
    if cell.len() < line.len() {
        cell.push_str("...");
    }
    cell.replace('|', "\\|")
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(name: &str) -> Mutant {
        Mutant {
            name: name.into(),
            file: "src/lib.rs".into(),
            function: None,
            genre: "FnValue".into(),
            diff: "--- src/lib.rs\n+++ x\n".into(),
        }
    }

    fn trial(name: &str, outcome: Outcome) -> Trial {
        Trial {
            mutant: name.into(),
            outcome,
            lost: if outcome == Outcome::Caught {
                vec!["predict".into()]
            } else {
                vec![]
            },
            score: None,
            error: None,
            seconds: 2.0,
        }
    }

    #[test]
    fn strength_counts_caught_over_caught_and_missed_less_the_equivalent() {
        let recipe: Recipe = toml::from_str(
            "[[equivalent]]\nmutant = \"b\"\nreason = \"same\"\n\
             [[equivalent]]\nmutant = \"gone\"\nreason = \"old\"\n\
             [[equivalent]]\nmutant = \"a\"\nreason = \"wrong\"\n\
             [[outside]]\nmutant = \"f\"\nreason = \"wording\"\n",
        )
        .expect("recipe");
        let listed: Vec<Mutant> = ["a", "b", "c", "d", "e", "f"].map(mutant).into();
        let tried = vec![
            (mutant("a"), trial("a", Outcome::Caught)),
            (mutant("b"), trial("b", Outcome::Missed)),
            (mutant("c"), trial("c", Outcome::Missed)),
            (mutant("d"), trial("d", Outcome::Unviable)),
            (mutant("e"), trial("e", Outcome::Caught)),
            (mutant("f"), trial("f", Outcome::Missed)),
        ];
        let inputs = Inputs {
            lab: "week99",
            solution: "solutions/week99",
            cargo_mutants: "27.1.0",
            listed: &listed,
            sample: None,
            seed: 1,
            recipe: &recipe,
        };
        let report = Report::new(&inputs, &tried);
        assert_eq!(
            (
                report.caught,
                report.missed,
                report.outside,
                report.equivalent,
                report.unviable
            ),
            (2, 2, 1, 1, 1)
        );
        assert_eq!(report.strength_text(), "50.0 %");
        assert_eq!(percent(report.contract_strength), "66.7 %");
        assert_eq!(report.stale_marks, ["gone"]);
        assert_eq!(report.wrong_marks, ["a"]);
        let md = report.markdown();
        assert!(
            md.contains("## Missed: mistakes the rubric lets through\n\n### `c`"),
            "{md}"
        );
        assert!(md.contains("Equivalent: same"), "{md}");
        assert!(md.contains("Outside the contract: wording"), "{md}");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
