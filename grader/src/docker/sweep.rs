//! Removing what the grader made: its own containers after each grade, and at
//! start-up whatever a crashed or killed run left behind.

use super::labels;
use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptions, ListImagesOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptions,
    RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use std::collections::HashMap;

/// Force-removes a container and its anonymous volumes; a missing one is fine.
///
/// A busy engine can refuse a removal for a moment (a conflict while the
/// container is still stopping, a slow answer): it is asked three times,
/// half a second and then a second apart, before the error counts.
pub async fn remove_container(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    let mut pause = std::time::Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(id, Some(opts)).await {
            Err(e) if super::is_not_found(&e) => return Ok(()),
            Err(e) if attempt == 3 => return Err(e),
            Err(e) => tracing::debug!("removing {id} (attempt {attempt}): {e}"),
            Ok(()) => return Ok(()),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        attempt += 1;
    }
}

/// Removes grader containers whose owning process is gone, then the volumes of
/// command runs whose owner is gone; returns how many containers.
pub async fn sweep_orphans(docker: &Docker) -> Result<usize, bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![format!("{}=true", labels::GRADER)])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut removed = 0;
    for c in docker.list_containers(Some(opts)).await? {
        let owner = c
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::OWNER))
            .cloned()
            .unwrap_or_default();
        if labels::owner_is_gone(&owner)
            && let Some(id) = c.id
        {
            // Another grader may be sweeping the same orphan: best effort.
            match remove_container(docker, &id).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::debug!("sweeping {id}: {e}"),
            }
        }
    }
    sweep_orphan_volumes(docker).await?;
    Ok(removed)
}

/// Removes grader volumes (the work folders of command runs) whose owning
/// process is gone.
async fn sweep_orphan_volumes(docker: &Docker) -> Result<(), bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![format!("{}=true", labels::GRADER)])]);
    let opts = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let volumes = docker.list_volumes(Some(opts)).await?.volumes;
    for v in volumes.unwrap_or_default() {
        let owner = v.labels.get(labels::OWNER).cloned().unwrap_or_default();
        if labels::owner_is_gone(&owner) {
            let rm = RemoveVolumeOptionsBuilder::default().force(true).build();
            if let Err(e) = docker.remove_volume(&v.name, Some(rm)).await {
                tracing::debug!("sweeping volume {}: {e}", v.name);
            }
        }
    }
    Ok(())
}

/// Counts the grader's volumes that belong to this process (for tests).
pub async fn own_volumes(docker: &Docker) -> Result<usize, bollard::errors::Error> {
    let filters = HashMap::from([(
        "label",
        vec![format!("{}={}", labels::OWNER, labels::owner())],
    )]);
    let opts = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    Ok(docker
        .list_volumes(Some(opts))
        .await?
        .volumes
        .map_or(0, |v| v.len()))
}

/// Counts the grader's containers that belong to this process (for tests).
pub async fn own_containers(docker: &Docker) -> Result<usize, bollard::errors::Error> {
    let filters = HashMap::from([(
        "label",
        vec![format!("{}={}", labels::OWNER, labels::owner())],
    )]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    Ok(docker.list_containers(Some(opts)).await?.len())
}

/// Removes the grader's cached images (submission builds and probe images).
pub async fn remove_cached_images(docker: &Docker) -> Result<usize, bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![format!("{}=true", labels::GRADER)])]);
    let opts = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let mut removed = remove_stage_tags(docker).await?;
    for image in docker.list_images(Some(opts)).await? {
        let rm = RemoveImageOptionsBuilder::default().force(true).build();
        match docker.remove_image(&image.id, Some(rm), None).await {
            Ok(_) => removed += 1,
            Err(e) if super::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Removes the tags that keep a cached build's earlier stages (see
/// [`super::build`]): `mlops-grader/<lab>:<hash>-stage<N>`. The untagged layers
/// under each go with it, unless another image still builds on them.
pub async fn remove_stage_tags(docker: &Docker) -> Result<usize, bollard::errors::Error> {
    untag_where(docker, is_stage_tag).await
}

/// Removes one cached build: its final image's tag and its stages' tags.
pub async fn remove_build(docker: &Docker, tag: &str) -> Result<usize, bollard::errors::Error> {
    let stage_prefix = format!("{tag}-stage");
    untag_where(docker, |t| t == tag || t.starts_with(&stage_prefix)).await
}

/// Removes every tag `wanted` picks; returns how many went.
async fn untag_where(
    docker: &Docker,
    wanted: impl Fn(&str) -> bool,
) -> Result<usize, bollard::errors::Error> {
    let mut removed = 0;
    for image in docker.list_images(None::<ListImagesOptions>).await? {
        for tag in image.repo_tags.iter().filter(|t| wanted(t)) {
            match docker
                .remove_image(tag, None::<RemoveImageOptions>, None)
                .await
            {
                Ok(_) => removed += 1,
                Err(e) if super::is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

fn is_stage_tag(tag: &str) -> bool {
    tag.strip_prefix(super::build::REPO_PREFIX)
        .and_then(|t| t.rsplit_once(':'))
        .is_some_and(|(_, version)| version.contains("-stage"))
}
