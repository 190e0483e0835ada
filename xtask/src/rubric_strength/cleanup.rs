//! Removing the images a run's grades built. Each grade runs with a run id of
//! its own (`GRADER_RUN_ID`), which the grader puts on the image it builds; the
//! image's earlier build stages are kept under `<tag>-stage<N>` tags, which go
//! with it.

use anyhow::Result;

use crate::cmd;
use crate::docker::{self, GRADER_LABEL, Kind, RUN_LABEL_KEY};

/// Removes every grader-built image whose run label `wanted` picks, with its
/// stage tags; returns how many tags went.
pub fn remove_builds(wanted: impl Fn(&str) -> bool) -> Result<usize> {
    let ids = docker::ids_with_label(Kind::Image, GRADER_LABEL)?;
    let runs = docker::label_values(Kind::Image, &ids, RUN_LABEL_KEY)?;
    let targets: Vec<&String> = ids
        .iter()
        .filter(|id| runs.get(*id).is_some_and(|run| wanted(run)))
        .collect();
    if targets.is_empty() {
        return Ok(0);
    }
    let listing = cmd::output(docker::docker().args([
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]))?;
    let tags: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, tag)| !tag.contains("<none>"))
        .collect();
    let mut removed = 0;
    for id in targets {
        for (_, tag) in tags.iter().filter(|(i, _)| i == id) {
            let stage = format!("{tag}-stage");
            // The stages first: the final image does not hold them up.
            for (_, t) in tags.iter().filter(|(_, t)| t.starts_with(&stage)) {
                removed += usize::from(docker::remove_image(t).is_ok());
            }
            removed += usize::from(docker::remove_image(tag).is_ok());
        }
    }
    Ok(removed)
}
