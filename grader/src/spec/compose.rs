//! A lab made of other labs' checks: `[[compose]]` takes checks from labs the
//! grader carries, so a final project is graded by the very checks of the
//! weeks it combines, never by copies that could drift from them.
//!
//! ```toml
//! [[compose]]
//! lab = "week08"                  # a lab the grader carries
//! except = ["shutdown.sigterm"]   # or `checks = [...]`: only these
//! points = 25                     # the block's total, rescaled
//! ```
//!
//! A composed check keeps its kind, title, visibility and timeout; its id
//! becomes `week08.health`, and so do the ids its file rules read. The
//! checks come first, block by block in the order written, then the lab's
//! own `[[checks]]`, and run in that order within each phase. What the
//! checks need comes with them: their lab's snapshots, rows, judges, fakes
//! and environment. Two labs that disagree on one of them (a judge's image,
//! a variable's value) are refused in one line, unless the composing lab's
//! own `[container] env` settles the variable. The container's port and
//! readiness must be the composed labs', and its limits at least theirs.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use serde::Deserialize;

use super::{CheckKind, CheckSpec, LabSpec, SpecError};

/// One `[[compose]]` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeSpec {
    /// The id of a lab the grader carries (`week08`).
    pub lab: String,
    /// Only these checks, by their ids in that lab; every check when empty.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Every check but these.
    #[serde(default)]
    pub except: Vec<String>,
    /// The block's total: the checks' points rescaled to it, in proportion
    /// (largest remainders); the checks' own points when left out.
    pub points: Option<u32>,
}

/// A problem with a block: the field it is in, and what is wrong.
type Problem = (String, String);

/// Loads a lab by id, without composing it (`None` when the grader does not
/// know it).
pub(super) type Loader<'a> = &'a dyn Fn(&str) -> Option<Result<LabSpec, SpecError>>;

/// Expands every `[[compose]]` block of `spec` into checks, with what they need.
pub(super) fn apply(spec: &mut LabSpec, load: Loader) -> Result<(), Problem> {
    let mut composed = Vec::new();
    // A variable each composed lab sets, with the first lab that set it.
    let mut env: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (i, block) in spec.compose.clone().iter().enumerate() {
        let field = |name: &str| format!("compose[{i}] ({}).{name}", block.lab);
        let lab = match load(&block.lab) {
            None if block.lab == spec.id => {
                return Err((field("lab"), "a lab cannot compose itself".into()));
            }
            None => return Err((field("lab"), "is not a lab this grader carries".into())),
            Some(Err(e)) => return Err((field("lab"), format!("cannot be read: {e}"))),
            Some(Ok(lab)) => lab,
        };
        // The composed lab's inputs are this lab's inputs too.
        let mut digest = Sha256::new();
        super::digest_part(&mut digest, &spec.digest, &lab.digest);
        spec.digest = hex::encode(digest.finalize());
        if !lab.compose.is_empty() {
            return Err((
                field("lab"),
                "composes other labs itself: compose those labs instead".into(),
            ));
        }
        let mut checks = select(&lab, block).map_err(|p| (field("checks"), p))?;
        if let Some(total) = block.points {
            rescale(&mut checks, total).map_err(|p| (field("points"), p))?;
        }
        needs(spec, &lab, &checks).map_err(|(f, p)| (field(&f), p))?;
        for (key, value) in &lab.container.env {
            if spec.container.env.contains_key(key) {
                continue;
            }
            match env.get(key) {
                Some((first, other)) if other != value => {
                    return Err((
                        format!("container.env.{key}"),
                        format!(
                            "{first} sets \"{other}\" and {} sets \"{value}\": set it under [container] env",
                            lab.id
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    env.insert(key.clone(), (lab.id.clone(), value.clone()));
                }
            }
        }
        for check in &mut checks {
            rename(check, &lab.id);
        }
        composed.extend(checks);
    }
    for (key, (_, value)) in env {
        spec.container.env.insert(key, value);
    }
    composed.append(&mut spec.checks);
    spec.checks = composed;
    Ok(())
}

/// The checks a block takes, in their lab's order.
fn select(lab: &LabSpec, block: &ComposeSpec) -> Result<Vec<CheckSpec>, String> {
    if !block.checks.is_empty() && !block.except.is_empty() {
        return Err("give checks or except, not both".into());
    }
    let names = if block.checks.is_empty() {
        &block.except
    } else {
        &block.checks
    };
    if let Some(unknown) = names
        .iter()
        .find(|id| !lab.checks.iter().any(|c| &c.id == *id))
    {
        let known: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
        return Err(format!(
            "\"{unknown}\" is not a check of {} (it has: {})",
            lab.id,
            known.join(", ")
        ));
    }
    let taken: Vec<CheckSpec> = lab
        .checks
        .iter()
        .filter(|c| {
            if block.checks.is_empty() {
                !block.except.contains(&c.id)
            } else {
                block.checks.contains(&c.id)
            }
        })
        .cloned()
        .collect();
    if taken.is_empty() {
        return Err(format!("leaves none of {}'s checks", lab.id));
    }
    // A file rule reads a command's output: that command must come along.
    for check in &taken {
        let needed = match &check.kind {
            CheckKind::File(rule) => rule.command(),
            CheckKind::Command(cmd) => cmd
                .expect
                .metrics
                .as_ref()
                .map(|m| m.predictions_from.as_str()),
            _ => None,
        };
        if let Some(needed) = needed
            && !taken.iter().any(|c| c.id == needed)
        {
            return Err(format!(
                "\"{}\" reads what \"{needed}\" makes: take \"{needed}\" too",
                check.id
            ));
        }
    }
    Ok(taken)
}

/// Shares `total` among the checks in proportion to their points: each gets
/// the whole part of its share, and the points left over go to the largest
/// remainders (the earlier check on a tie). Every check keeps at least one.
fn rescale(checks: &mut [CheckSpec], total: u32) -> Result<(), String> {
    let sum: u64 = checks.iter().map(|c| u64::from(c.points)).sum();
    let total = u64::from(total);
    let mut shares: Vec<(usize, u64, u64)> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let exact = u64::from(c.points) * total;
            (i, exact / sum, exact % sum)
        })
        .collect();
    let given: u64 = shares.iter().map(|s| s.1).sum();
    let mut by_remainder = shares.clone();
    by_remainder.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    for (i, _, _) in by_remainder.iter().take((total - given) as usize) {
        shares[*i].1 += 1;
    }
    if let Some((i, _, _)) = shares.iter().find(|s| s.1 == 0) {
        return Err(format!(
            "{total} is too few for {} checks: \"{}\" would be worth nothing",
            checks.len(),
            checks[*i].id
        ));
    }
    for (i, points, _) in shares {
        // At most `total`, which came from a u32.
        checks[i].points = u32::try_from(points).unwrap_or(u32::MAX);
    }
    Ok(())
}

/// Brings into `spec` what the checks of `lab` need (snapshots, rows,
/// judges, fakes), and checks the container agrees with theirs.
fn needs(spec: &mut LabSpec, lab: &LabSpec, checks: &[CheckSpec]) -> Result<(), Problem> {
    let service = checks.iter().any(|c| c.kind.needs_container());
    let (mine, theirs) = (&spec.container, &lab.container);
    if service {
        let same = [
            ("port", mine.port == theirs.port),
            ("ready_path", mine.ready_path == theirs.ready_path),
            ("ready_fake", mine.ready_fake == theirs.ready_fake),
        ];
        if let Some((name, _)) = same.iter().find(|(_, same)| !same) {
            return Err((
                "lab".into(),
                format!(
                    "its checks talk to a service whose container.{name} differs from this lab's"
                ),
            ));
        }
    }
    let limits = [
        ("memory_mb", mine.memory_mb, theirs.memory_mb),
        ("pids", mine.pids as u64, theirs.pids as u64),
        (
            "run_timeout_secs",
            mine.run_timeout_secs,
            theirs.run_timeout_secs,
        ),
        (
            "ready_timeout_secs",
            mine.ready_timeout_secs,
            theirs.ready_timeout_secs,
        ),
    ];
    if let Some((name, mine, theirs)) = limits.iter().find(|(_, m, t)| m < t) {
        return Err((
            "lab".into(),
            format!(
                "its checks were written for container.{name} = {theirs}; this lab gives {mine}"
            ),
        ));
    }
    for (name, text) in &lab.snapshots {
        merge(&mut spec.snapshots, name, text, "snapshot")?;
    }
    for (name, image) in &lab.judges {
        merge(&mut spec.judges, name, image, "judge")?;
    }
    for (name, fake) in &lab.fakes {
        merge(&mut spec.fakes, name, fake, "fake")?;
    }
    if let Some(rows) = &lab.rows {
        match &spec.rows {
            None => {
                spec.rows = Some(rows.clone());
                spec.rows_spec = lab.rows_spec.clone();
            }
            Some(own) if own != rows => {
                return Err(("lab".into(), "its [rows] differ from this lab's".into()));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Adds `name` to `into`; the same name with something else there is refused.
fn merge<T: Clone + PartialEq>(
    into: &mut BTreeMap<String, T>,
    name: &str,
    value: &T,
    what: &str,
) -> Result<(), Problem> {
    match into.get(name) {
        Some(own) if own != value => Err((
            "lab".into(),
            format!("its {what} \"{name}\" differs from one of the same name already here"),
        )),
        Some(_) => Ok(()),
        None => {
            into.insert(name.to_string(), value.clone());
            Ok(())
        }
    }
}

/// `health` of week08 becomes `week08.health`, with the ids it reads.
fn rename(check: &mut CheckSpec, lab: &str) {
    let prefixed = |id: &str| format!("{lab}.{id}");
    check.id = prefixed(&check.id);
    match &mut check.kind {
        CheckKind::File(rule) => rule.rename_command(&prefixed),
        CheckKind::Command(cmd) => {
            if let Some(m) = &mut cmd.expect.metrics {
                m.predictions_from = prefixed(&m.predictions_from);
            }
        }
        _ => {}
    }
}
