//! Removing what the grader leaves (`dev.mlops-course.grader=true`) and,
//! for `cargo xtask clean-images`, the local base images and the judge
//! images too.

use std::collections::HashSet;

use anyhow::Result;

use crate::base_images::{BUILDER_TAG, STATIC_TAG};
use crate::docker::{self, GRADER_LABEL, Kind, LOCAL_LABEL};

/// The grader's label naming the process that made an object:
/// `host/pid/start-time` (see grader/src/docker/labels.rs).
const OWNER_LABEL: &str = "dev.mlops-course.grader.owner";

/// How many grader-labelled objects were removed.
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
    pub images: usize,
    /// Untagged build-stage images left on top of the local base images.
    pub build_stages: usize,
}

/// Removes every grader-labelled container, then network, then image, then
/// the build cache on top of the local base images. Objects whose owner
/// process is still running belong to a concurrent run and are kept.
pub fn grader_leftovers() -> Result<Removed> {
    let (containers, live_c) = remove_all(Kind::Container)?;
    let (networks, live_n) = remove_all(Kind::Network)?;
    let (images, live_i) = remove_all(Kind::Image)?;
    let build_stages = stage_tags()? + dangling_on_local_bases()?;
    let kept_live = live_c + live_n + live_i;
    if kept_live > 0 {
        println!(
            "    kept {kept_live} grader objects whose owner process still runs (a concurrent run)"
        );
    }
    Ok(Removed {
        containers,
        networks,
        images,
        build_stages,
    })
}

/// Removes every object of `kind` with the grader label and no live owner;
/// returns (how many are gone, how many were kept for a live owner). Images
/// are retried: a parent can go only after its children.
fn remove_all(kind: Kind) -> Result<(usize, usize)> {
    let ids = docker::ids_with_label(kind, GRADER_LABEL)?;
    let owners = docker::label_values(kind, &ids, OWNER_LABEL)?;
    let (live, targets): (Vec<String>, Vec<String>) = ids
        .into_iter()
        .partition(|id| owners.get(id).is_some_and(|o| owner_is_alive(o)));
    let mut left = targets.clone();
    let mut last_error = None;
    for _ in 0..3 {
        for id in &left {
            if let Err(err) = docker::remove(kind, id) {
                last_error = Some(err);
            }
        }
        let present: HashSet<String> = docker::ids_with_label(kind, GRADER_LABEL)?
            .into_iter()
            .collect();
        let still: Vec<String> = left
            .iter()
            .filter(|id| present.contains(*id))
            .cloned()
            .collect();
        let progress = still.len() < left.len();
        left = still;
        if left.is_empty() || !progress {
            break;
        }
    }
    if !left.is_empty() {
        println!(
            "    warning: {} grader {} could not be removed{}",
            left.len(),
            kind.plural(),
            last_error.map_or_else(String::new, |e| format!(": {e:#}"))
        );
    }
    Ok((targets.len() - left.len(), live.len()))
}

/// Whether the process an owner label names (`host/pid/start-time`) is
/// running on this machine: same pid, same start time.
fn owner_is_alive(owner: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if host != hostname.trim() {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Field 22 (start time); the command name may hold spaces and ')'.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().nth(19))
        .is_some_and(|t| t == start)
}

/// The grader keeps each earlier stage of a cached build under a tag of its
/// own, `mlops-grader/<lab>:<hash>-stage<N>`; untagging it removes the stage's
/// layers, unless another image still builds on them.
fn stage_tags() -> Result<usize> {
    let mut removed = 0;
    for tag in docker::image_tags()? {
        let is_stage = tag
            .strip_prefix("mlops-grader/")
            .and_then(|t| t.rsplit_once(':'))
            .is_some_and(|(_, version)| version.contains("-stage"));
        if is_stage && docker::remove_image(&tag).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The classic builder keeps the images of a multi-stage build's earlier
/// stages (`FROM mlops-local/rust-builder ... AS build`) as untagged cache;
/// they carry no grader label but inherit the base images' labels. Removing
/// such a dangling leaf removes its untagged parents with it.
fn dangling_on_local_bases() -> Result<usize> {
    let mut removed = 0;
    for _ in 0..5 {
        let leaves = docker::dangling_with_label(LOCAL_LABEL)?;
        let before = removed;
        for id in &leaves {
            if docker::remove_image(id).is_ok() {
                removed += 1;
            }
        }
        if leaves.is_empty() || removed == before {
            break;
        }
    }
    Ok(removed)
}

/// `cargo xtask clean-images`.
pub fn clean_images() -> Result<()> {
    docker::check_daemon()?;
    let removed = grader_leftovers()?;
    println!(
        "removed {} grader images, {} build-stage images ({} containers, {} networks)",
        removed.images, removed.build_stages, removed.containers, removed.networks
    );
    for tag in [STATIC_TAG, BUILDER_TAG] {
        match docker::inspect_image(tag)? {
            Some(_) => match docker::remove_image(tag) {
                Ok(()) => println!("removed {tag}"),
                Err(err) => println!("warning: could not remove {tag}: {err:#}"),
            },
            None => println!("{tag}: not there"),
        }
    }
    crate::judge_images::remove_images()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_others_are_not() {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let start = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(19))
            .unwrap_or_default()
            .to_owned();
        let me = format!("{}/{}/{start}", hostname.trim(), std::process::id());
        assert!(owner_is_alive(&me));
        assert!(!owner_is_alive(&format!(
            "{}/{}/1",
            hostname.trim(),
            u32::MAX - 1
        )));
        assert!(!owner_is_alive("forged/1/1"));
        assert!(!owner_is_alive("forged"));
    }
}
