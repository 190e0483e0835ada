//! Labels on every object the grader makes, so a later run can find and sweep
//! what a crashed one left behind.
//!
//! The owner label names the process that made the object (host, pid and the
//! process's start time, so a reused pid is not mistaken for the owner). The sweep
//! removes only objects whose owner is gone, so two graders on one machine (a class
//! batch, parallel tests) never remove each other's containers.

use std::collections::HashMap;

/// Present on everything the grader makes.
pub const GRADER: &str = "dev.mlops-course.grader";
/// Which process made it.
pub const OWNER: &str = "dev.mlops-course.grader.owner";
/// submission, probe, command, cache, probe-image or reader (a container
/// made only to copy a file out of an image).
pub const ROLE: &str = "dev.mlops-course.grader.role";
/// The lab id, on images and containers.
pub const LAB: &str = "dev.mlops-course.grader.lab";
/// The test run or batch that made it, from `GRADER_RUN_ID` when set, so that
/// a test suite's leak check counts its own objects and not those of a grade
/// running beside it.
pub const RUN: &str = "dev.mlops-course.grader.run";
/// The environment variable whose value [`RUN`] carries.
pub const RUN_ENV: &str = "GRADER_RUN_ID";

/// The owner label value of this process.
pub fn owner() -> String {
    format!(
        "{}/{}/{}",
        hostname(),
        std::process::id(),
        start_time(std::process::id()).unwrap_or_default()
    )
}

/// Labels for an object of `role`, owned by this process.
pub fn for_role(role: &str, lab: &str) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (GRADER.to_string(), "true".to_string()),
        (OWNER.to_string(), owner()),
        (ROLE.to_string(), role.to_string()),
        (LAB.to_string(), lab.to_string()),
    ]);
    if let Some(run) = std::env::var(RUN_ENV).ok().filter(|r| !r.is_empty()) {
        labels.insert(RUN.to_string(), run);
    }
    labels
}

/// A container name unique to this process and moment: two graders, or two
/// grades of the same submission, never ask for the same name.
pub fn unique(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{base}-{}-{nanos:x}", std::process::id())
}

/// Whether the process named by an owner label is gone (on this host).
/// Objects owned by another host are never judged dead.
pub fn owner_is_gone(label: &str) -> bool {
    let mut parts = label.split('/');
    let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        // Not a label this grader wrote (forged or old): treat as orphaned.
        return true;
    };
    if host != hostname() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return true;
    };
    match start_time(pid) {
        Some(t) => t.to_string() != start,
        None => true,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat),
/// which with the pid identifies one process for the machine's uptime.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_gone() {
        assert!(!owner_is_gone(&owner()));
        let dead = format!("{}/{}/1", hostname(), u32::MAX - 1);
        assert!(owner_is_gone(&dead));
        assert!(owner_is_gone("forged"));
        assert!(!owner_is_gone("another-host/1/1"));
    }
}
