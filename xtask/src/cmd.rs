//! Running external programs: spawning with a clear message when a tool is
//! missing, and turning a failed exit into one readable error line.

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Output};

use anyhow::{Result, anyhow, bail};

/// How to get a program that is not on PATH.
fn install_hint(program: &str) -> String {
    let apt = |pkg: &str| format!("install the Debian package `{pkg}` (apt-get install {pkg})");
    match program {
        "docker" => apt("docker.io"),
        "debootstrap" => apt("debootstrap"),
        "apt-get" => "this task needs a Debian-based machine with apt-get".to_owned(),
        "cargo" | "rustc" => "install a Rust toolchain with rustup".to_owned(),
        other => apt(other),
    }
}

/// The error for a program that could not be started.
pub fn missing_tool(program: &str) -> anyhow::Error {
    anyhow!("`{program}` not found on PATH: {}", install_hint(program))
}

/// `program arg1 arg2 ...`, for messages.
pub fn describe(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy();
    let program = program.rsplit('/').next().unwrap_or(&program).to_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_error(cmd: &Command, err: io::Error) -> anyhow::Error {
    if err.kind() == io::ErrorKind::NotFound {
        let program = cmd.get_program().to_string_lossy().into_owned();
        missing_tool(program.rsplit('/').next().unwrap_or(&program))
    } else {
        anyhow!("could not start `{}`: {err}", describe(cmd))
    }
}

/// Runs with inherited stdio and returns the exit status, whatever it is.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status().map_err(|e| spawn_error(cmd, e))
}

/// Runs with inherited stdio; a non-zero exit is an error.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs with captured output, whatever the exit status.
pub fn output_raw(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| spawn_error(cmd, e))
}

/// Runs with captured output; returns trimmed stdout, or an error carrying
/// the most telling line of stderr.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = output_raw(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            telling_line(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The first stderr line that says "error", else the last non-empty one.
pub fn telling_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or(lines.last())
        .map_or_else(|| "(no message)".to_owned(), |l| (*l).to_owned())
}

/// Where `program` is on PATH (plus the sbin directories root has).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The exit code to hand on for a child's exit status.
pub fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}
