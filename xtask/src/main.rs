//! `cargo xtask`: the project's task runner (see `.cargo/config.toml`).
//!
//! Every task prints what it does and how long each step took; every failure
//! ends in one `error: ...` line and a non-zero exit code.

mod apt;
mod base_images;
mod bench;
mod book_diagrams;
mod checks;
mod clean;
mod cmd;
mod debootstrap;
mod demo;
mod docker;
mod fixtures;
mod judge_crates;
mod judge_images;
mod labs;
mod rootfs_tar;
mod rubric_strength;
mod step;
mod test;
mod translation;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project tasks for the MLOps course workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the local base images (mlops-local/static:nonroot and
    /// mlops-local/rust-builder:1.95) so the labs' Dockerfiles build offline.
    BaseImages {
        /// Rebuild both images even if their inputs are unchanged (the
        /// debootstrap directory in target/xtask/ is still reused).
        #[arg(long)]
        rebuild: bool,
    },
    /// Make the judge images (images/judges/<name>/recipe.toml, e.g.
    /// mlops-judge/dotdrop:1.12.9) in which the grader runs a lab's real tools.
    ///
    /// Each is made locally with debootstrap and `docker import`; an image
    /// whose inputs are unchanged is kept.
    JudgeImages {
        /// Rebuild the images even if their inputs are unchanged (the
        /// debootstrap directories in target/xtask/judges/ are still reused).
        #[arg(long)]
        rebuild: bool,
        /// Only these judges (folder names under images/judges/); all if none.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Build the static test-fixture binaries (every `fixture-*` package).
    Fixtures,
    /// Regenerate every lab starter (labs/<x>/) from its reference solution
    /// (solutions/<x>/, its lab markers, .starter/ and .lab.toml).
    Labs {
        /// Change nothing; print one line per stale file and fail if any.
        #[arg(long)]
        check: bool,
    },
    /// The project's one test command: fmt and clippy, labs --check, fixtures, base images,
    /// judge images, nextest, clean-up, then the book (mdbook build and test,
    /// its diagrams drawn in headless Chromium, its links).
    Test {
        /// Extra arguments for `cargo nextest run` (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        nextest_args: Vec<String>,
    },
    /// The book alone: mdbook build and test of the English book and of each
    /// translation, the translations in step with the English (none
    /// untranslated or fuzzy), the language switch, every diagram drawn in
    /// headless Chromium at 1280 px (rendered, text at least 11.5 px, nothing
    /// wider than its box), and the links.
    Book {
        /// Only build the editions into book/build/ (the Pages workflow):
        /// no tests, no checks.
        #[arg(long)]
        build_only: bool,
    },
    /// The translations: extract the English book's messages into
    /// po/messages.pot again and merge them into each catalogue (po/ko.po),
    /// new messages untranslated and changed ones fuzzy, for a translator to
    /// finish (po/README.md).
    Po,
    /// Base images, then grade the week08 reference solution with the grader.
    Demo,
    /// Remove the local base images, the judge images and the grader's cache
    /// images.
    CleanImages,
    /// Measure a lab's rubric against the mutants cargo-mutants makes of its
    /// reference solution: caught, missed, unviable; reports in
    /// target/rubric-strength/<lab>/.
    RubricStrength(rubric_strength::Options),
    /// Benchmarks: serving (wrk) and grading (hyperfine); results in target/bench/.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::BaseImages { rebuild } => base_images::run(rebuild).map(|_| ExitCode::SUCCESS),
        Command::JudgeImages { rebuild, names } => {
            judge_images::run(rebuild, &names).map(|()| ExitCode::SUCCESS)
        }
        Command::Fixtures => fixtures::run().map(|_| ExitCode::SUCCESS),
        Command::Labs { check } => labs::run(check),
        Command::Test { nextest_args } => test::run(&nextest_args),
        Command::Book { build_only } => checks::book(build_only).map(|()| ExitCode::SUCCESS),
        Command::Po => translation::update().map(|()| ExitCode::SUCCESS),
        Command::Demo => demo::run(),
        Command::CleanImages => clean::clean_images().map(|_| ExitCode::SUCCESS),
        Command::RubricStrength(opts) => rubric_strength::run(opts).map(|()| ExitCode::SUCCESS),
        Command::Bench { what } => bench::run(what).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` puts the whole context chain on one line.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
